//! What several themes share: the customers' archive, tariff prices, hundredths of a kWh.

use std::collections::HashMap;
use std::sync::Arc;

use jicha_core::calendar::from_epoch_days;
use jicha_core::codes::{Category, StepBasis};
use jicha_core::tariff::{Tariff, version_on};
use rust_decimal::Decimal;
use rust_decimal::prelude::{FromPrimitive, ToPrimitive};

use crate::columns::{days, floats, strings, text, text_at, text_opt, texts};
use crate::error::EngineResult;
use crate::id_table::IdTable;
use crate::session::Session;
use crate::theme::Window;

/// kWh (or yuan) to exact hundredths: the exchange format carries at most 2 decimals, so integer
/// hundredths compare exactly where `f64` sums could drift across a threshold.
pub fn hundredths(x: f64) -> i64 {
    round_to_i64(x * 100.0)
}

/// `y.round() as i64` (halves away from zero, NaN 0, saturating) without the maths library's
/// `round`, which the baseline x86-64 target calls out of line (millions of days an audit): below
/// 2^52 the fraction left by truncation is exact, and from there on every float is whole.
pub fn round_to_i64(y: f64) -> i64 {
    if y.is_nan() || y.abs() >= 4_503_599_627_370_496.0 {
        return y as i64;
    }
    let t = y as i64;
    let fraction = y - t as f64;
    if fraction >= 0.5 {
        t + 1
    } else if fraction <= -0.5 {
        t - 1
    } else {
        t
    }
}

#[cfg(test)]
mod rounding_tests {
    use super::*;

    #[test]
    fn hundredths_round_as_the_standard_library_rounds() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut cases = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            -1.5,
            2.5,
            0.49999999999999994,
            -0.49999999999999994,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            12.345,
            0.015,
            1.005,
        ];
        for _ in 0..200_000 {
            let bits = next();
            cases.push(f64::from_bits(bits));
            // Amounts as the stores hold them: up to 2 decimals, and their neighbours.
            let cents = (bits % 10_000_000_000) as f64 / 100.0;
            cases.extend([
                cents,
                -cents,
                f64::from_bits(cents.to_bits() + 1),
                f64::from_bits(cents.to_bits().wrapping_sub(1)),
            ]);
        }
        for y in cases {
            assert_eq!(round_to_i64(y), y.round() as i64, "{y:e}");
            assert_eq!(hundredths(y), (y * 100.0).round() as i64, "{y:e}");
        }
    }
}

/// A parameter in thousandths, so that thresholds like 0.4 or 0.8 compare exactly in integers.
pub fn milli(x: f64) -> i128 {
    (x * 1000.0).round() as i128
}

/// SQL for a kWh column in exact hundredths.
pub fn sql_hundredths(col: &str) -> String {
    sql_round(&format!("({col}) * 100"))
}

/// SQL rounding half away from zero to an integer. Written with CASE and a truncating cast so the
/// engine needs no math function library (a smaller DataFusion build).
pub fn sql_round(expr: &str) -> String {
    format!("CAST(({expr}) + CASE WHEN ({expr}) < 0 THEN -0.5 ELSE 0.5 END AS BIGINT)")
}

/// SQL absolute value, as `sql_round` without the math library.
pub fn sql_abs(expr: &str) -> String {
    format!("CASE WHEN ({expr}) < 0 THEN -({expr}) ELSE ({expr}) END")
}

/// A customer's archive as the themes use it.
#[derive(Debug, Clone)]
pub struct Customer {
    /// 供电单位编码.
    pub station_id: Arc<str>,
    /// 用户状态.
    pub status: Arc<str>,
    /// 立户日期.
    pub opened_on: Option<i32>,
    /// 销户日期.
    pub closed_on: Option<i32>,
    /// 电价码.
    pub tariff_code: Arc<str>,
    /// 台区编号.
    pub tq_id: Option<Arc<str>>,
    /// 线路编号.
    pub feeder_id: Option<Arc<str>>,
    /// 合同容量.
    pub contract_kva: Option<f64>,
    /// 用电类别.
    pub category: Arc<str>,
    /// 电压等级.
    pub voltage: Option<Arc<str>>,
}

impl Customer {
    /// The customer's station as a join would give it (none for one without a station; an
    /// unknown customer has none either: `archive.get(id).and_then(Customer::station)`).
    pub fn station(&self) -> Option<String> {
        self.station_text().map(|s| s.to_string())
    }

    /// [`Customer::station`] as the archive's own shared text.
    pub fn station_text(&self) -> Option<Arc<str>> {
        Some(self.station_id.clone()).filter(|s| !s.is_empty())
    }

    /// Active through the period: status active, opened on or before its first day, and not
    /// closed on or before its last day.
    pub fn active_through(&self, w: &Window) -> bool {
        &*self.status == "active"
            && self.opened_on.is_some_and(|o| o <= w.first())
            && self.closed_on.is_none_or(|c| c > w.last())
    }

    /// Active on day d (loss themes, customers affected by an outage): opened_on <= d and not yet
    /// closed, whatever the status.
    pub fn active_on(&self, d: i32) -> bool {
        self.opened_on.is_some_and(|o| o <= d) && self.closed_on.is_none_or(|c| d < c)
    }
}

/// Records by text id, in the order they were read, found through an [`IdTable`] of their
/// places (an id of up to 16 bytes held in its slot), with the ids in the order read in one text: the
/// archive of a million customers or meters without a string per id or a map's empty buckets
/// of whole records.
pub struct Archive<T> {
    records: Vec<T>,
    places: IdTable<u32>,
    ids: String,
    /// Where each record's id ends in `ids` (the first starts at 0).
    ends: Vec<u32>,
}

impl<T> Archive<T> {
    /// Room for `n` records.
    pub fn with_capacity(n: usize) -> Archive<T> {
        Archive {
            records: Vec::with_capacity(n),
            places: IdTable::with_capacity(n),
            ids: String::with_capacity(n * 10),
            ends: Vec::with_capacity(n),
        }
    }

    /// Puts `record` under `id`, in place of the one there before.
    pub fn insert(&mut self, id: &str, record: T) {
        let next = self.records.len() as u32;
        let at = self.places.get_or_insert(id, || next);
        if at == next {
            self.records.push(record);
            self.ids.push_str(id);
            self.ends.push(self.ids.len() as u32);
        } else {
            self.records[at as usize] = record;
        }
    }

    /// The record of `id`.
    pub fn get(&self, id: &str) -> Option<&T> {
        self.places.get(id).map(|at| &self.records[at as usize])
    }

    /// Whether `id` has a record.
    pub fn contains_key(&self, id: &str) -> bool {
        self.places.get(id).is_some()
    }

    /// Records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// No record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records, in the order read.
    pub fn values(&self) -> std::slice::Iter<'_, T> {
        self.records.iter()
    }

    /// The ids with their records, in the order read.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &T)> {
        self.records.iter().enumerate().map(|(k, r)| {
            let from = if k == 0 { 0 } else { self.ends[k - 1] as usize };
            (&self.ids[from..self.ends[k] as usize], r)
        })
    }
}

/// A map by text id with a fast hasher (the archive's maps are asked a million times a run; ids
/// come from the user's own files, so no outsider chooses them).
pub type ById<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// Every customer by id (shared by the themes of a session).
pub fn customers(session: &Session) -> EngineResult<Arc<Archive<Customer>>> {
    session.memo("customers", || read_customers(session))
}

fn read_customers(session: &Session) -> EngineResult<Archive<Customer>> {
    let sql = "SELECT customer_id, station_id, status, opened_on, closed_on, tariff_code, tq_id, feeder_id, contract_kva, category, voltage FROM customers";
    let mut out = Archive::with_capacity(session.row_count("customers") as usize);
    // The archive's codes repeat customer after customer (stations, statuses, tariffs, areas,
    // feeders): each distinct text is held once, not a million times.
    let mut held: std::collections::HashSet<Arc<str>> = std::collections::HashSet::new();
    let mut code = |v: &str| -> Arc<str> {
        if let Some(a) = held.get(v) {
            return a.clone();
        }
        let a: Arc<str> = v.into();
        held.insert(a.clone());
        a
    };
    for b in session.run(sql, "customers")? {
        let (id, st, status) =
            (strings(&b, "customer_id")?, strings(&b, "station_id")?, strings(&b, "status")?);
        let (opened, closed) = (days(&b, "opened_on")?, days(&b, "closed_on")?);
        let (tariff, kva, cat) =
            (strings(&b, "tariff_code")?, floats(&b, "contract_kva")?, strings(&b, "category")?);
        let (tq, fd, volt) = (strings(&b, "tq_id")?, strings(&b, "feeder_id")?, strings(&b, "voltage")?);
        for i in 0..b.num_rows() {
            out.insert(
                text_at(&id, i),
                Customer {
                    station_id: code(text_at(&st, i)),
                    status: code(text_at(&status, i)),
                    opened_on: opened[i],
                    closed_on: closed[i],
                    tariff_code: code(text_at(&tariff, i)),
                    tq_id: text_opt(&tq, i).map(&mut code),
                    feeder_id: text_opt(&fd, i).map(&mut code),
                    contract_kva: kva[i],
                    category: code(text_at(&cat, i)),
                    voltage: text_opt(&volt, i).map(&mut code),
                },
            );
        }
    }
    Ok(out)
}

/// Every tariff version, as the core's bill arithmetic takes them. Prices are read to 6 decimals
/// and money to the cent, undoing the binary floating point of the relational store.
pub fn tariffs(session: &Session) -> EngineResult<Arc<Vec<Tariff>>> {
    session.memo("tariffs", || read_tariffs(session))
}

fn read_tariffs(session: &Session) -> EngineResult<Vec<Tariff>> {
    let sql = "SELECT tariff_code, name, category, price, price_peak, price_valley, step_basis, step1_kwh, \
               step2_kwh, step2_price, step3_price, basic_per_kva, valid_from, valid_to FROM tariffs";
    let dec = |x: Option<f64>| x.and_then(Decimal::from_f64).map(|d| d.round_dp(6).normalize());
    let mut out = Vec::new();
    for b in session.run(sql, "tariffs")? {
        let code = text(&b, "tariff_code")?;
        let name = text(&b, "name")?;
        let cat = text(&b, "category")?;
        let basis = texts(&b, "step_basis")?;
        let f = |c: &str| floats(&b, c);
        let (price, peak, valley) = (f("price")?, f("price_peak")?, f("price_valley")?);
        let (s1, s2, p2, p3, basic) =
            (f("step1_kwh")?, f("step2_kwh")?, f("step2_price")?, f("step3_price")?, f("basic_per_kva")?);
        let (from, to) = (days(&b, "valid_from")?, days(&b, "valid_to")?);
        for i in 0..b.num_rows() {
            let (Some(category), Some(price), Some(valid_from)) =
                (Category::parse(&cat[i]), dec(price[i]), from[i])
            else {
                continue;
            };
            out.push(Tariff {
                tariff_code: code[i].clone(),
                name: name[i].clone(),
                category,
                price,
                price_peak: dec(peak[i]),
                price_valley: dec(valley[i]),
                step_basis: basis[i].as_deref().and_then(StepBasis::parse).unwrap_or(StepBasis::Month),
                step1_kwh: dec(s1[i]),
                step2_kwh: dec(s2[i]),
                step2_price: dec(p2[i]),
                step3_price: dec(p3[i]),
                basic_per_kva: dec(basic[i]),
                valid_from: from_epoch_days(valid_from),
                valid_to: to[i].map(from_epoch_days),
            });
        }
    }
    Ok(out)
}

/// The energy price (first step) of a tariff code on the last day of the period, yuan/kWh: what
/// lost kWh are worth.
pub fn price_on(tariffs: &[Tariff], code: &str, w: &Window) -> Option<f64> {
    version_on(tariffs, code, w.period.last_day()).and_then(|t| t.price.to_f64())
}

/// A meter with its customer's station (its id is the [`Archive`]'s).
#[derive(Debug, Clone)]
pub struct Meter {
    /// 供电单位编码 of its customer (the archive's own text, shared).
    pub station_id: Option<Arc<str>>,
    /// 装表日期.
    pub installed_on: Option<i32>,
    /// 拆表日期.
    pub removed_on: Option<i32>,
}

impl Meter {
    /// In service on day d: installed_on <= d < removed_on.
    pub fn in_service(&self, d: i32) -> bool {
        self.installed_on.is_some_and(|i| i <= d) && self.removed_on.is_none_or(|r| d < r)
    }
}

/// Every meter by id (shared by the themes of a session).
pub fn meters(session: &Session) -> EngineResult<Arc<Archive<Meter>>> {
    session.memo("meters", || read_meters(session))
}

fn read_meters(session: &Session) -> EngineResult<Archive<Meter>> {
    // The customer's station from the archive the themes share, not from a join.
    let cust = customers(session)?;
    let sql = "SELECT meter_id, customer_id, installed_on, removed_on FROM meters";
    let mut out = Archive::with_capacity(session.row_count("meters") as usize);
    for b in session.run(sql, "meters")? {
        let (id, customer) = (strings(&b, "meter_id")?, strings(&b, "customer_id")?);
        let (inst, rem) = (days(&b, "installed_on")?, days(&b, "removed_on")?);
        for i in 0..b.num_rows() {
            let id = text_at(&id, i);
            out.insert(
                id,
                Meter {
                    station_id: text_opt(&customer, i)
                        .and_then(|c| cust.get(c))
                        .and_then(Customer::station_text),
                    installed_on: inst[i],
                    removed_on: rem[i],
                },
            );
        }
    }
    Ok(out)
}

/// Every transformer area by id: its feeder (empty when not given) and station, shared by the
/// themes of a session.
pub fn areas(session: &Session) -> EngineResult<Arc<HashMap<String, (String, String)>>> {
    session.memo("areas", || {
        let mut out = HashMap::new();
        for b in session.run("SELECT tq_id, feeder_id, station_id FROM transformer_areas", "台区 / areas")?
        {
            let (id, f, st) = (text(&b, "tq_id")?, text(&b, "feeder_id")?, text(&b, "station_id")?);
            for i in 0..b.num_rows() {
                out.insert(id[i].clone(), (f[i].clone(), st[i].clone()));
            }
        }
        Ok(out)
    })
}

/// Every feeder's station by feeder id, shared by the themes of a session.
pub fn feeders(session: &Session) -> EngineResult<Arc<HashMap<String, String>>> {
    session.memo("feeders", || {
        let mut out = HashMap::new();
        for b in session.run("SELECT feeder_id, station_id FROM feeders", "线路 / feeders")? {
            let (id, st) = (text(&b, "feeder_id")?, text(&b, "station_id")?);
            out.extend(id.into_iter().zip(st));
        }
        Ok(out)
    })
}
