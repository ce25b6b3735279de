//! Indicators (营销指标, `indicators.md`): every indicator per station and for the company, over a
//! day, month, quarter or year, beside the previous period and the same period a year earlier.
//!
//! Each indicator is a ratio or a sum of *components* tallied per station (supply, billed kWh,
//! amounts due and paid, meter-days, customer-hours, ...). The company's figure is computed from
//! the sum of the stations' components, never as a mean of their ratios, so that a company figure
//! always equals what its stations add up to. The components are kept in the result: every value
//! can be explained as "numerator / denominator".

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use jicha_core::calendar::to_epoch_days;
use jicha_core::codes::is_low_voltage;
use serde::Serialize;

use crate::columns::{bools, days, floats, seconds, text, texts};
use crate::error::{EngineError, EngineResult};
use crate::session::{Session, date_lit};
use crate::themes::common::{areas, customers, feeders};

const DAY: i64 = 86_400;

pub use jicha_core::calendar::Span;

/// One indicator of the catalogue.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Indicator {
    /// Stable code, e.g. `loss_rate`.
    pub code: &'static str,
    /// 中文名.
    pub zh: &'static str,
    /// English name.
    pub en: &'static str,
    /// Unit as shown (`kWh`, `%`, `元`, ...).
    pub unit: &'static str,
    /// Whether a higher value is better (drives the arrows and the assessment).
    pub higher_is_better: bool,
    /// Whether it is computed for a single day.
    pub daily: bool,
}

const fn ind(
    code: &'static str,
    zh: &'static str,
    en: &'static str,
    unit: &'static str,
    higher_is_better: bool,
    daily: bool,
) -> Indicator {
    Indicator { code, zh, en, unit, higher_is_better, daily }
}

/// Every indicator, in the order of `indicators.md`.
pub const INDICATORS: &[Indicator] = &[
    ind("supply_kwh", "供电量", "Supply", "kWh", true, true),
    ind("sales_kwh", "售电量", "Sales", "kWh", true, false),
    ind("loss_rate", "线损率", "Line loss rate", "%", false, true),
    ind("avg_price", "售电均价", "Average price", "元/kWh", true, false),
    ind("recovery_rate", "电费回收率", "Bill recovery rate", "%", true, false),
    ind("arrears", "欠费余额", "Arrears", "元", false, true),
    ind("collection_rate", "采集成功率", "Meter reading success rate", "%", true, true),
    ind("expansion_days", "业扩平均接电时长", "Mean connection time", "天", false, true),
    ind("on_time_expansion", "业扩时限达标率", "Connections within the limit", "%", true, true),
    ind(
        "expansion_days_resident",
        "业扩平均接电时长（低压居民）",
        "Mean connection time, low-voltage residents",
        "天",
        false,
        true,
    ),
    ind(
        "expansion_days_low",
        "业扩平均接电时长（低压非居民）",
        "Mean connection time, other low voltage",
        "天",
        false,
        true,
    ),
    ind(
        "expansion_days_high",
        "业扩平均接电时长（高压）",
        "Mean connection time, high voltage",
        "天",
        false,
        true,
    ),
    ind("outage_customer_hours", "停电时户数", "Outage customer-hours", "时户", false, true),
    ind("avg_outage_hours", "户均停电时间", "Outage hours per customer (SAIDI)", "小时/户", false, true),
    ind("reliability", "供电可靠率", "Reliability (RS-1)", "%", true, true),
    ind("satisfaction", "第三方满意度", "Satisfaction", "分", true, false),
    ind("audit_on_time", "稽查整改按期率", "Audit orders closed on time", "%", true, true),
    ind("recovered_amount", "追补电费", "Money recovered", "元", true, true),
    ind("error_count", "电量差错", "Billing errors", "件", false, false),
];

/// The indicator of a code.
pub fn indicator(code: &str) -> Option<&'static Indicator> {
    INDICATORS.iter().find(|i| i.code == code)
}

/// What the closed loop knows of a station's audit orders over a span (from `flow.sqlite`,
/// supplied by the caller: the engine does not read the closed loop).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct OrderTally {
    /// Orders whose deadline falls in the span.
    pub due: u64,
    /// Of those, submitted by the station on or before the deadline.
    pub on_time: u64,
    /// Money recovered on orders accepted in the span, yuan.
    pub recovered: f64,
}

/// The components of every indicator for one station (or, summed, the company) over a span.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Supply of the station's areas and of its feeders without areas, kWh.
    pub supply: f64,
    /// Supply of the points whose customers' consumption is known on that day, kWh.
    pub loss_supply: f64,
    /// Metered consumption under those points on those days, kWh.
    pub loss_consumption: f64,
    /// Billed kWh of the span's bills.
    pub billed_kwh: f64,
    /// Amount of the span's bills, yuan.
    pub billed_amount: f64,
    /// Bills of the span.
    pub bills: u64,
    /// Amount of bills due in the span, yuan.
    pub due_amount: f64,
    /// Paid on those bills by the as-of date, yuan.
    pub paid_amount: f64,
    /// Unpaid amount of bills past due at the as-of date, yuan.
    pub arrears: f64,
    /// Meter-days with a register.
    pub register_days: f64,
    /// Meter-days in service.
    pub service_days: f64,
    /// Sum of connection times of connections made in the span, days.
    pub expansion_days: f64,
    /// Connections made in the span (新装、增容).
    pub expansions: u64,
    /// Of those, within the BIZ-OVERTIME limits.
    pub expansions_on_time: u64,
    /// By voltage class (low-voltage residents, other low voltage, high voltage): days and
    /// connections.
    pub expansion_by_class: [(f64, u64); 3],
    /// Customer-hours of outages within the span (up to the as-of time).
    pub customer_hours: f64,
    /// Customers served at the span's end.
    pub customers: u64,
    /// Hours of the span up to the as-of time.
    pub hours: f64,
    /// Sum of survey scores and their count.
    pub survey_sum: f64,
    /// Survey scores.
    pub surveys: u64,
    /// Audit orders due in the span and closed on time.
    pub orders: OrderTally,
    /// Money recovered by field checks in the span, yuan.
    pub field_recovered: f64,
    /// PRC-KWH and PRC-BILL findings of the span's months.
    pub errors: u64,
    /// Whether any data is stored for the span (daily series or bills); without it every value
    /// is unknown rather than zero.
    pub covered: bool,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.supply += o.supply;
        self.loss_supply += o.loss_supply;
        self.loss_consumption += o.loss_consumption;
        self.billed_kwh += o.billed_kwh;
        self.billed_amount += o.billed_amount;
        self.bills += o.bills;
        self.due_amount += o.due_amount;
        self.paid_amount += o.paid_amount;
        self.arrears += o.arrears;
        self.register_days += o.register_days;
        self.service_days += o.service_days;
        self.expansion_days += o.expansion_days;
        self.expansions += o.expansions;
        self.expansions_on_time += o.expansions_on_time;
        for (k, (d, n)) in o.expansion_by_class.iter().enumerate() {
            self.expansion_by_class[k].0 += d;
            self.expansion_by_class[k].1 += n;
        }
        self.customer_hours += o.customer_hours;
        self.customers += o.customers;
        self.hours = self.hours.max(o.hours);
        self.survey_sum += o.survey_sum;
        self.surveys += o.surveys;
        self.orders.due += o.orders.due;
        self.orders.on_time += o.orders.on_time;
        self.orders.recovered += o.orders.recovered;
        self.field_recovered += o.field_recovered;
        self.errors += o.errors;
        self.covered |= o.covered;
    }

    /// An indicator's value with what it was computed from (numerator, denominator), or `None`
    /// where it has no meaning (no supply, no bill due, a single day for a monthly figure...).
    pub fn value(&self, code: &str, monthly: bool) -> Option<Value> {
        let ratio = |num: f64, den: f64| (den > 0.0).then(|| Value { value: num / den, num, den: Some(den) });
        let sum = |v: f64| Some(Value { value: v, num: v, den: None });
        if !self.covered {
            return None;
        }
        match code {
            "supply_kwh" => (self.supply > 0.0).then(|| sum(self.supply)).flatten(),
            "sales_kwh" if monthly => (self.bills > 0).then(|| sum(self.billed_kwh)).flatten(),
            "loss_rate" => ratio(self.loss_supply - self.loss_consumption, self.loss_supply),
            "avg_price" if monthly => ratio(self.billed_amount, self.billed_kwh),
            "recovery_rate" if monthly => ratio(self.paid_amount, self.due_amount),
            "arrears" => sum(self.arrears),
            "collection_rate" => ratio(self.register_days, self.service_days),
            "expansion_days" => ratio(self.expansion_days, self.expansions as f64),
            "on_time_expansion" => ratio(self.expansions_on_time as f64, self.expansions as f64),
            "expansion_days_resident" => {
                ratio(self.expansion_by_class[0].0, self.expansion_by_class[0].1 as f64)
            }
            "expansion_days_low" => ratio(self.expansion_by_class[1].0, self.expansion_by_class[1].1 as f64),
            "expansion_days_high" => ratio(self.expansion_by_class[2].0, self.expansion_by_class[2].1 as f64),
            "outage_customer_hours" => sum(self.customer_hours),
            "avg_outage_hours" => ratio(self.customer_hours, self.customers as f64),
            "reliability" => (self.customers > 0 && self.hours > 0.0).then(|| {
                let avg = self.customer_hours / self.customers as f64;
                Value { value: 1.0 - avg / self.hours, num: avg, den: Some(self.hours) }
            }),
            "satisfaction" if monthly => ratio(self.survey_sum, self.surveys as f64),
            "audit_on_time" => ratio(self.orders.on_time as f64, self.orders.due as f64),
            "recovered_amount" => sum(self.orders.recovered + self.field_recovered),
            "error_count" if monthly => sum(self.errors as f64),
            _ => None,
        }
    }
}

/// A value and what it was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Value {
    /// The indicator's value (ratios as fractions: 0.035 is 3.5%).
    pub value: f64,
    /// Numerator (or the sum itself).
    pub num: f64,
    /// Denominator, for a ratio.
    pub den: Option<f64>,
}

/// A billing error attributed to a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attributed {
    /// Staff id (the customer's reader), empty when the customer has none.
    pub staff_id: String,
    /// Station of the customer.
    pub station_id: String,
    /// Finding id.
    pub finding_id: String,
    /// PRC-KWH or PRC-BILL.
    pub theme: String,
    /// The bill.
    pub bill_id: String,
    /// The customer.
    pub customer_id: String,
}

/// The components of one span: per station, plus the company's sum.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SpanTally {
    /// The span.
    pub label: String,
    /// Per station id.
    pub stations: BTreeMap<String, Tally>,
    /// The company: the sum of the stations.
    pub company: Tally,
    /// Billing errors attributed to people.
    pub errors: Vec<Attributed>,
    /// Each area's (or station-less feeder's) loss components: (point type, id) -> (station,
    /// supply, consumption).
    pub points: BTreeMap<(String, String), (String, f64, f64)>,
}

/// Indicators of a span beside the previous span and the same span a year earlier.
#[derive(Debug, Clone, Serialize)]
pub struct Indicators {
    /// The span.
    pub span: Span,
    /// As-of date (payments, arrears and open outages are counted up to its 00:00).
    pub as_of: NaiveDate,
    /// This span.
    pub current: SpanTally,
    /// The span before.
    pub previous: SpanTally,
    /// The same span a year earlier.
    pub last_year: SpanTally,
    /// Station id -> name.
    pub station_names: BTreeMap<String, String>,
}

/// One row of the indicator table: a scope (company or station) and an indicator, now, before
/// and a year earlier.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Station id, or empty for the company.
    pub station_id: String,
    /// Station name, or 公司 for the company.
    pub station: String,
    /// Indicator code.
    pub code: &'static str,
    /// 指标.
    pub name: &'static str,
    /// Unit.
    pub unit: &'static str,
    /// This span.
    pub value: Option<Value>,
    /// The previous span.
    pub previous: Option<Value>,
    /// The same span a year earlier.
    pub last_year: Option<Value>,
}

impl Indicators {
    /// Every row: the company first, then each station, each with every indicator.
    pub fn rows(&self) -> Vec<Row> {
        let monthly = self.span.monthly();
        let mut scopes: Vec<(String, String)> = vec![(String::new(), "公司".to_string())];
        scopes.extend(self.station_names.iter().map(|(id, n)| (id.clone(), n.clone())));
        let pick = |t: &SpanTally, id: &str| -> Tally {
            if id.is_empty() { t.company.clone() } else { t.stations.get(id).cloned().unwrap_or_default() }
        };
        let mut out = Vec::new();
        for (id, name) in scopes {
            let (now, before, year) =
                (pick(&self.current, &id), pick(&self.previous, &id), pick(&self.last_year, &id));
            for ind in INDICATORS {
                if !monthly && !ind.daily {
                    continue;
                }
                out.push(Row {
                    station_id: id.clone(),
                    station: name.clone(),
                    code: ind.code,
                    name: ind.zh,
                    unit: ind.unit,
                    value: now.value(ind.code, monthly),
                    previous: before.value(ind.code, monthly),
                    last_year: year.value(ind.code, monthly),
                });
            }
        }
        out
    }
}

/// The relational tables the indicators read (loaded into a session by `compute`).
pub const TABLES: &[&str] = &[
    "stations",
    "feeders",
    "transformer_areas",
    "customers",
    "meters",
    "bills",
    "payments",
    "work_orders",
    "outages",
    "surveys",
    "field_checks",
];

/// Options of the computation.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// BIZ-OVERTIME limits in days: low-voltage residents, other low voltage, high voltage.
    pub limits: [f64; 3],
}

impl Default for Options {
    fn default() -> Options {
        Options { limits: [5.0, 15.0, 60.0] }
    }
}

/// The as-of date a span is computed at on `today`: the day after it, or today while it runs
/// (payments, arrears, open outages and meter-days are counted up to then, never into the
/// future).
pub fn as_of_on(span: Span, today: NaiveDate) -> NaiveDate {
    (span.last() + chrono::Days::new(1)).min(today).max(span.first())
}

/// Computes every indicator for `span`, the span before and the span a year earlier. `as_of`
/// (default: the day after the span) bounds payments, arrears and open outages; `orders` gives
/// the closed loop's figures per station for a span's first and last day.
pub fn compute(
    session: &mut Session,
    span: Span,
    as_of: Option<NaiveDate>,
    options: &Options,
    orders: &dyn Fn(NaiveDate, NaiveDate) -> BTreeMap<String, OrderTally>,
) -> EngineResult<Indicators> {
    session.require(TABLES)?;
    let as_of = as_of.unwrap_or(span.last() + chrono::Days::new(1));
    let mut station_names = BTreeMap::new();
    for b in session.run("SELECT station_id, name FROM stations", "供电所 / stations")? {
        let (id, name) = (text(&b, "station_id")?, text(&b, "name")?);
        station_names.extend(id.into_iter().zip(name));
    }
    let current = tally(session, span, as_of, options, orders)?;
    let previous =
        tally(session, span.previous(), span.previous().last().succ_opt().unwrap_or(as_of), options, orders)?;
    let ly = span.last_year();
    let last_year = tally(session, ly, ly.last().succ_opt().unwrap_or(as_of), options, orders)?;
    Ok(Indicators { span, as_of, current, previous, last_year, station_names })
}

/// The components of one span (`as_of` at most the day after its end).
pub fn tally(
    session: &Session,
    span: Span,
    as_of: NaiveDate,
    options: &Options,
    orders: &dyn Fn(NaiveDate, NaiveDate) -> BTreeMap<String, OrderTally>,
) -> EngineResult<SpanTally> {
    let first = to_epoch_days(span.first());
    let last = to_epoch_days(span.last());
    // The span as it stands at the as-of date: [first, end).
    let end = (last + 1).min(to_epoch_days(as_of)).max(first);
    let mut out = SpanTally { label: span.label(), ..SpanTally::default() };
    if !covered(session, span)? {
        return Ok(out);
    }
    let st = &mut out.stations;

    supply_and_loss(session, first, end, st, &mut out.points)?;
    if span.monthly() {
        billing(session, span, st)?;
        surveys(session, span, st)?;
        out.errors = errors(session, span)?;
        for e in &out.errors {
            st.entry(e.station_id.clone()).or_default().errors += 1;
        }
    }
    payments(session, first, last, as_of, st)?;
    collection(session, first, end, st)?;
    expansion(session, first, end, options, st)?;
    outages(session, first, end, st)?;
    field_checks(session, first, end, st)?;
    for (station, o) in orders(span.first(), span.last()) {
        st.entry(station).or_default().orders = o;
    }
    let hours = f64::from(end - first) * 24.0;
    for (id, t) in st.iter_mut() {
        t.hours = hours;
        t.covered = !id.is_empty();
    }
    let mut company = Tally { hours, covered: true, ..Tally::default() };
    for t in st.values() {
        company.add(t);
    }
    out.company = company;
    Ok(out)
}

/// Whether the store holds daily series or bills for any day of the span.
fn covered(session: &Session, span: Span) -> EngineResult<bool> {
    let (f, l) = (date_lit(to_epoch_days(span.first())), date_lit(to_epoch_days(span.last())));
    for (series, col) in [("daily_consumption", "date"), ("supply", "date")] {
        if session.has_rows(series) {
            let sql = format!("SELECT COUNT(*) AS n FROM {series} WHERE {col} >= {f} AND {col} <= {l}");
            if count(session, &sql, series)? > 0.0 {
                return Ok(true);
            }
        }
    }
    if span.monthly() && session.has_rows("bills") {
        let sql = format!("SELECT COUNT(*) AS n FROM bills WHERE period IN ({})", months_list(span));
        return Ok(count(session, &sql, "bills")? > 0.0);
    }
    Ok(false)
}

fn date_range(col: &str, first: i32, end: i32) -> String {
    format!("{col} >= {} AND {col} < {}", date_lit(first), date_lit(end))
}

/// One metering point's day: its supply, and the consumption of the customers connected that
/// day when every one of them is known (`None` otherwise).
#[derive(Debug, Clone, PartialEq)]
pub struct PointDay {
    /// Station of the point.
    pub station: String,
    /// (`tq` or `feeder`, id).
    pub point: (String, String),
    /// Days since 1970-01-01.
    pub day: i32,
    /// Supply, kWh.
    pub supply: f64,
    /// Consumption of its customers, when every one is known.
    pub consumption: Option<f64>,
}

impl PointDay {
    /// The day's loss rate, when the consumption is known and there was supply.
    pub fn loss_rate(&self) -> Option<f64> {
        self.consumption.filter(|_| self.supply > 0.0).map(|c| (self.supply - c) / self.supply)
    }
}

/// Every point-day of [first, end) (days since 1970) of the stations' areas and of their feeders
/// without areas. Areas come from the loss themes' one-pass area-day matrix
/// (`kernels::area_days`, shared through the session); the few feeders that carry customers
/// directly are joined in SQL.
pub fn point_days(session: &Session, first: i32, end: i32) -> EngineResult<Vec<PointDay>> {
    if first >= end {
        return Ok(Vec::new());
    }
    let all_areas = areas(session)?;
    let mut out = Vec::new();
    let ad = crate::kernels::area_days(session, first, end - 1)?;
    for (a, id) in ad.areas.names.iter().enumerate() {
        let Some((_, station)) = all_areas.get(id) else { continue };
        for (k, cell) in ad.area(a).iter().enumerate() {
            let Some(supply) = cell.supply else { continue };
            out.push(PointDay {
                station: station.clone(),
                point: ("tq".to_string(), id.clone()),
                day: ad.first + k as i32,
                supply: supply as f64 / 100.0,
                consumption: cell.valid.then_some(cell.consumption as f64 / 100.0),
            });
        }
    }
    let with_areas: std::collections::HashSet<&str> =
        all_areas.values().map(|(f, _)| f.as_str()).filter(|f| !f.is_empty()).collect();
    let feeder_station = feeders(session)?;
    let own: Vec<(&String, &String)> =
        feeder_station.iter().filter(|(f, _)| !with_areas.contains(f.as_str())).collect();
    if own.is_empty() {
        return Ok(out);
    }
    let range = date_range("date", first, end);
    let list: Vec<String> = own.iter().map(|(f, _)| format!("'{}'", f.replace('\'', "''"))).collect();
    let sql = format!(
        "WITH s AS (SELECT point_id, date, kwh FROM supply
                    WHERE point_type = 'feeder' AND point_id IN ({ids}) AND {range} AND kwh IS NOT NULL),
              c AS (SELECT customer_id, opened_on, closed_on, feeder_id FROM customers
                    WHERE tq_id IS NULL AND feeder_id IN ({ids})),
              d AS (SELECT customer_id, date, kwh FROM daily_consumption WHERE {range})
         SELECT s.point_id, s.date, MAX(s.kwh) AS supply,
                SUM(CASE WHEN c.customer_id IS NOT NULL THEN d.kwh END) AS consumption,
                COUNT(c.customer_id) = COUNT(d.kwh) AS valid
         FROM s
         LEFT JOIN c ON c.feeder_id = s.point_id
                    AND c.opened_on <= s.date AND (c.closed_on IS NULL OR s.date < c.closed_on)
         LEFT JOIN d ON d.customer_id = c.customer_id AND d.date = s.date
         GROUP BY s.point_id, s.date",
        ids = list.join(", ")
    );
    for b in session.run(&sql, "线路供电量与线损 / feeders' supply and loss")? {
        let (id, day) = (text(&b, "point_id")?, days(&b, "date")?);
        let (s, c, valid) = (floats(&b, "supply")?, floats(&b, "consumption")?, bools(&b, "valid")?);
        for i in 0..b.num_rows() {
            let (Some(station), Some(day), Some(supply)) = (feeder_station.get(&id[i]), day[i], s[i]) else {
                continue;
            };
            let consumption = (valid[i] == Some(true)).then(|| c[i].unwrap_or(0.0));
            out.push(PointDay {
                station: station.clone(),
                point: ("feeder".to_string(), id[i].clone()),
                day,
                supply,
                consumption,
            });
        }
    }
    Ok(out)
}

/// Supply per station, and the loss components per point and station.
fn supply_and_loss(
    session: &Session,
    first: i32,
    end: i32,
    st: &mut BTreeMap<String, Tally>,
    points: &mut BTreeMap<(String, String), (String, f64, f64)>,
) -> EngineResult<()> {
    for pd in point_days(session, first, end)? {
        let t = st.entry(pd.station.clone()).or_default();
        t.supply += pd.supply;
        if let Some(c) = pd.consumption {
            t.loss_supply += pd.supply;
            t.loss_consumption += c;
            let e = points.entry(pd.point).or_insert_with(|| (pd.station, 0.0, 0.0));
            e.1 += pd.supply;
            e.2 += c;
        }
    }
    Ok(())
}

fn months_list(span: Span) -> String {
    span.months().iter().map(|p| format!("'{p}'")).collect::<Vec<_>>().join(", ")
}

/// Billed kWh and amounts of the span's bills.
fn billing(session: &Session, span: Span, st: &mut BTreeMap<String, Tally>) -> EngineResult<()> {
    let sql = format!(
        "SELECT c.station_id, SUM(b.kwh) AS kwh, SUM(b.amount) AS amount, COUNT(*) AS n
         FROM bills b JOIN customers c ON c.customer_id = b.customer_id
         WHERE b.period IN ({}) GROUP BY c.station_id",
        months_list(span)
    );
    for b in session.run(&sql, "电费发行 / bills")? {
        let (id, kwh, amount, n) =
            (text(&b, "station_id")?, floats(&b, "kwh")?, floats(&b, "amount")?, floats(&b, "n")?);
        for i in 0..b.num_rows() {
            let t = st.entry(id[i].clone()).or_default();
            t.billed_kwh += kwh[i].unwrap_or(0.0);
            t.billed_amount += amount[i].unwrap_or(0.0);
            t.bills += n[i].unwrap_or(0.0) as u64;
        }
    }
    Ok(())
}

/// Recovery (bills due in [first, last], paid before the as-of date) and arrears (bills past
/// due at the as-of date, what is unpaid of each).
fn payments(
    session: &Session,
    first: i32,
    last: i32,
    as_of: NaiveDate,
    st: &mut BTreeMap<String, Tally>,
) -> EngineResult<()> {
    let as_of = date_lit(to_epoch_days(as_of));
    let sql = format!(
        "WITH p AS (SELECT bill_id, SUM(amount) AS paid FROM payments WHERE paid_on < {as_of} GROUP BY bill_id),
              b AS (SELECT c.station_id, b.amount, COALESCE(p.paid, 0) AS paid, b.due_on
                    FROM bills b JOIN customers c ON c.customer_id = b.customer_id
                    LEFT JOIN p ON p.bill_id = b.bill_id WHERE b.due_on IS NOT NULL)
         SELECT station_id,
                SUM(CASE WHEN due_on >= {f} AND due_on <= {l} THEN amount ELSE 0 END) AS due,
                SUM(CASE WHEN due_on >= {f} AND due_on <= {l} THEN paid ELSE 0 END) AS paid,
                SUM(CASE WHEN due_on < {as_of} AND amount > paid THEN amount - paid ELSE 0 END) AS arrears
         FROM b GROUP BY station_id",
        f = date_lit(first),
        l = date_lit(last),
    );
    for b in session.run(&sql, "实收 / payments")? {
        let (id, due, paid, arr) =
            (text(&b, "station_id")?, floats(&b, "due")?, floats(&b, "paid")?, floats(&b, "arrears")?);
        for i in 0..b.num_rows() {
            let t = st.entry(id[i].clone()).or_default();
            t.due_amount += due[i].unwrap_or(0.0);
            t.paid_amount += paid[i].unwrap_or(0.0);
            t.arrears += arr[i].unwrap_or(0.0);
        }
    }
    Ok(())
}

/// Meter-days with a register over meter-days in service (installed_on <= d < removed_on).
fn collection(session: &Session, first: i32, end: i32, st: &mut BTreeMap<String, Tally>) -> EngineResult<()> {
    if !session.has_rows("readings") || first >= end {
        return Ok(());
    }
    let sql = format!(
        "SELECT m.meter_id, c.station_id, m.installed_on, m.removed_on
         FROM meters m JOIN customers c ON c.customer_id = m.customer_id
         WHERE m.installed_on < {e} AND (m.removed_on IS NULL OR m.removed_on > {f})",
        f = date_lit(first),
        e = date_lit(end)
    );
    let mut station_of: HashMap<String, (String, i32, i32)> = HashMap::new();
    for b in session.run(&sql, "电能表 / meters")? {
        let (id, s, inst, rem) = (
            text(&b, "meter_id")?,
            text(&b, "station_id")?,
            days(&b, "installed_on")?,
            days(&b, "removed_on")?,
        );
        for i in 0..b.num_rows() {
            let from = inst[i].unwrap_or(first).max(first);
            let to = rem[i].unwrap_or(end).min(end);
            if to > from {
                st.entry(s[i].clone()).or_default().service_days += f64::from(to - from);
                station_of.insert(id[i].clone(), (s[i].clone(), from, to));
            }
        }
    }
    // Registers per meter-day from the themes' registers (shared through the session).
    let regs = crate::kernels::registers(session, first, end - 1)?;
    let mut buf = Vec::new();
    for (id, (station, from, to)) in &station_of {
        let Some(m) = regs.meters.get(id) else { continue };
        let days = regs.meter(m as usize, &mut buf);
        let n = (*from..*to).filter(|&d| days.get(d).is_some()).count();
        st.entry(station.clone()).or_default().register_days += n as f64;
    }
    Ok(())
}

/// The single number `n` a counting query returns.
fn count(session: &Session, sql: &str, context: &str) -> EngineResult<f64> {
    let batches = session.run(sql, context)?;
    match batches.iter().find(|b| b.num_rows() > 0) {
        Some(b) => Ok(floats(b, "n")?.first().copied().flatten().unwrap_or(0.0)),
        None => Ok(0.0),
    }
}

/// Connections (新装、增容) made in [first, end): time from acceptance, and within the limit.
fn expansion(
    session: &Session,
    first: i32,
    end: i32,
    options: &Options,
    st: &mut BTreeMap<String, Tally>,
) -> EngineResult<()> {
    let sql = "SELECT o.station_id, COALESCE(o.voltage, c.voltage) AS voltage, c.category, o.accepted_at, o.connected_at
               FROM work_orders o LEFT JOIN customers c ON c.customer_id = o.customer_id
               WHERE o.status <> 'cancelled' AND o.kind IN ('new_connection', 'capacity_increase')
                 AND o.connected_at IS NOT NULL AND o.accepted_at IS NOT NULL";
    let (from, to) = (i64::from(first) * DAY, i64::from(end) * DAY);
    for b in session.run(sql, "业务工单 / work orders")? {
        let (id, volt, cat) = (text(&b, "station_id")?, texts(&b, "voltage")?, texts(&b, "category")?);
        let (acc, con) = (seconds(&b, "accepted_at")?, seconds(&b, "connected_at")?);
        for i in 0..b.num_rows() {
            let (Some(a), Some(c)) = (acc[i], con[i]) else { continue };
            if c < from || c >= to {
                continue;
            }
            // The voltage classes of the BIZ-OVERTIME limits.
            let class = if !is_low_voltage(volt[i].as_deref()) {
                2
            } else if cat[i].as_deref() == Some("resident") {
                0
            } else {
                1
            };
            let limit = options.limits[class];
            let span = (c - a) as f64 / DAY as f64;
            let t = st.entry(id[i].clone()).or_default();
            t.expansions += 1;
            t.expansion_days += span;
            t.expansion_by_class[class].0 += span;
            t.expansion_by_class[class].1 += 1;
            if span <= limit {
                t.expansions_on_time += 1;
            }
        }
    }
    Ok(())
}

/// One outage as the indicators count it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutageSpan {
    /// Station of its area or feeder.
    pub station_id: String,
    /// Start, seconds since 1970 (local time as stored).
    pub start: i64,
    /// End, or `None` while it lasts.
    pub end: Option<i64>,
    /// Customers affected (given, or the scope's customers connected at its start).
    pub customers: f64,
}

/// Every outage with its station and customers affected.
pub fn outage_spans(session: &Session) -> EngineResult<Vec<OutageSpan>> {
    if !session.has_rows("outages") {
        return Ok(Vec::new());
    }
    let area_station = areas(session)?;
    let feeder_station = feeders(session)?;
    let all = customers(session)?;
    let outages = session.run(
        "SELECT scope_type, scope_id, start_at, end_at, customers_affected FROM outages",
        "停电事件 / outages",
    )?;
    let needs_count =
        outages.iter().any(|b| b.column_by_name("customers_affected").is_some_and(|c| c.null_count() > 0));
    let mut by_scope: HashMap<(bool, &str), Vec<&crate::themes::common::Customer>> = HashMap::new();
    if needs_count {
        for c in all.values() {
            if let Some(t) = &c.tq_id {
                by_scope.entry((true, t)).or_default().push(c);
            }
            let feeder = c
                .feeder_id
                .as_deref()
                .or_else(|| c.tq_id.as_ref().and_then(|t| area_station.get(&**t)).map(|a| a.0.as_str()));
            if let Some(f) = feeder {
                by_scope.entry((false, f)).or_default().push(c);
            }
        }
    }
    let mut out = Vec::new();
    for b in &outages {
        let (ty, id) = (text(b, "scope_type")?, text(b, "scope_id")?);
        let (start, end, affected) =
            (seconds(b, "start_at")?, seconds(b, "end_at")?, floats(b, "customers_affected")?);
        for i in 0..b.num_rows() {
            let Some(s) = start[i] else { continue };
            let is_tq = ty[i] == "tq";
            let station = if is_tq {
                area_station.get(&id[i]).map(|a| a.1.clone())
            } else {
                feeder_station.get(&id[i]).cloned()
            };
            let Some(station_id) = station else { continue };
            let day = s.div_euclid(DAY) as i32;
            let customers = affected[i].unwrap_or_else(|| {
                by_scope
                    .get(&(is_tq, id[i].as_str()))
                    .map_or(0.0, |v| v.iter().filter(|c| c.active_on(day)).count() as f64)
            });
            out.push(OutageSpan { station_id, start: s, end: end[i], customers });
        }
    }
    Ok(out)
}

impl OutageSpan {
    /// Customer-hours inside [from, to) seconds (an open outage runs to `to`).
    pub fn customer_hours(&self, from: i64, to: i64) -> f64 {
        let s = self.start.max(from);
        let e = self.end.unwrap_or(to).min(to);
        self.customers * (e - s).max(0) as f64 / 3600.0
    }
}

/// Customer-hours of outages in [first, end) and the customers served at the end.
fn outages(session: &Session, first: i32, end: i32, st: &mut BTreeMap<String, Tally>) -> EngineResult<()> {
    let (from, to) = (i64::from(first) * DAY, i64::from(end) * DAY);
    for o in outage_spans(session)? {
        let h = o.customer_hours(from, to);
        if h > 0.0 {
            st.entry(o.station_id.clone()).or_default().customer_hours += h;
        }
    }
    let last = end - 1;
    for c in customers(session)?.values() {
        if c.active_on(last.max(first)) {
            st.entry(c.station_id.to_string()).or_default().customers += 1;
        }
    }
    Ok(())
}

/// Survey scores of the span's months.
fn surveys(session: &Session, span: Span, st: &mut BTreeMap<String, Tally>) -> EngineResult<()> {
    if !session.has_rows("surveys") {
        return Ok(());
    }
    let sql = format!(
        "SELECT station_id, SUM(score) AS s, COUNT(score) AS n FROM surveys WHERE period IN ({}) GROUP BY station_id",
        months_list(span)
    );
    for b in session.run(&sql, "满意度测评 / surveys")? {
        let (id, s, n) = (text(&b, "station_id")?, floats(&b, "s")?, floats(&b, "n")?);
        for i in 0..b.num_rows() {
            let t = st.entry(id[i].clone()).or_default();
            t.survey_sum += s[i].unwrap_or(0.0);
            t.surveys += n[i].unwrap_or(0.0) as u64;
        }
    }
    Ok(())
}

/// Money recovered by field checks in [first, end).
fn field_checks(
    session: &Session,
    first: i32,
    end: i32,
    st: &mut BTreeMap<String, Tally>,
) -> EngineResult<()> {
    if !session.has_rows("field_checks") || first >= end {
        return Ok(());
    }
    let sql = format!(
        "SELECT c.station_id, SUM(f.recovered_amount) AS r FROM field_checks f
         JOIN customers c ON c.customer_id = f.customer_id
         WHERE {} AND f.recovered_amount IS NOT NULL GROUP BY c.station_id",
        date_range("f.checked_on", first, end)
    );
    for b in session.run(&sql, "现场检查 / field checks")? {
        let (id, r) = (text(&b, "station_id")?, floats(&b, "r")?);
        for i in 0..b.num_rows() {
            st.entry(id[i].clone()).or_default().field_recovered += r[i].unwrap_or(0.0);
        }
    }
    Ok(())
}

/// PRC-KWH and PRC-BILL findings of the span's months, each attributed to the reader of the
/// bill's customer.
fn errors(session: &Session, span: Span) -> EngineResult<Vec<Attributed>> {
    let mut found = Vec::new();
    for p in span.months() {
        let rows = jicha_store::findings::load(session.dir(), &p.to_string())
            .map_err(|e| EngineError::Internal(format!("稽查结果 / findings: {e}")))?;
        found.extend(rows.into_iter().filter(|f| f.theme == "PRC-KWH" || f.theme == "PRC-BILL"));
    }
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = found.iter().map(|f| format!("'{}'", f.entity_id.replace('\'', "''"))).collect();
    let sql = format!(
        "SELECT b.bill_id, b.customer_id, c.station_id, c.reader_id FROM bills b
         JOIN customers c ON c.customer_id = b.customer_id WHERE b.bill_id IN ({})",
        ids.join(", ")
    );
    let mut bill: HashMap<String, (String, String, String)> = HashMap::new();
    for b in session.run(&sql, "电费发行 / bills")? {
        let (id, cu, s, r) =
            (text(&b, "bill_id")?, text(&b, "customer_id")?, text(&b, "station_id")?, text(&b, "reader_id")?);
        for i in 0..b.num_rows() {
            bill.insert(id[i].clone(), (cu[i].clone(), s[i].clone(), r[i].clone()));
        }
    }
    Ok(found
        .into_iter()
        .map(|f| {
            let (customer_id, station, reader) = bill.get(&f.entity_id).cloned().unwrap_or_default();
            Attributed {
                staff_id: reader,
                station_id: if station.is_empty() {
                    f.station_id.clone().unwrap_or_default()
                } else {
                    station
                },
                finding_id: f.finding_id,
                theme: f.theme,
                bill_id: f.entity_id,
                customer_id,
            }
        })
        .collect())
}

/// One day of a station (or the company, `None`): supply, and the loss components of the points
/// whose customers' consumption is known that day.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DayFigure {
    /// The day, `YYYY-MM-DD` as days since 1970.
    pub day: i32,
    /// Supply, kWh.
    pub supply: f64,
    /// Supply of the points with a known consumption, kWh.
    pub loss_supply: f64,
    /// Consumption under those points, kWh.
    pub consumption: f64,
}

/// The days behind a supply or loss figure: each day of [first, last] per station (and, under
/// the empty id, for the company).
pub fn days_by_station(
    session: &Session,
    first: NaiveDate,
    last: NaiveDate,
) -> EngineResult<BTreeMap<String, Vec<DayFigure>>> {
    let (f, l) = (to_epoch_days(first), to_epoch_days(last));
    let blank = || -> Vec<DayFigure> {
        (f..=l).map(|day| DayFigure { day, supply: 0.0, loss_supply: 0.0, consumption: 0.0 }).collect()
    };
    let mut out: BTreeMap<String, Vec<DayFigure>> = BTreeMap::new();
    out.insert(String::new(), blank());
    for pd in point_days(session, f, l + 1)? {
        let i = (pd.day - f) as usize;
        for key in [pd.station.as_str(), ""] {
            let fig = &mut out.entry(key.to_string()).or_insert_with(blank)[i];
            fig.supply += pd.supply;
            if let Some(c) = pd.consumption {
                fig.loss_supply += pd.supply;
                fig.consumption += c;
            }
        }
    }
    Ok(out)
}

impl DayFigure {
    /// The day's loss rate, when any point's consumption is known.
    pub fn loss_rate(&self) -> Option<f64> {
        (self.loss_supply > 0.0).then(|| (self.loss_supply - self.consumption) / self.loss_supply)
    }
}

impl Options {
    /// The limits BIZ-OVERTIME runs with under the data dir's `jicha.toml`.
    pub fn from_catalogue(cat: &crate::audit::Catalogue) -> Options {
        let mut o = Options::default();
        if let Some(t) = cat.get("BIZ-OVERTIME") {
            let p = cat.config.settings(t).params;
            o.limits = [p.get("resident_days"), p.get("low_voltage_days"), p.get("high_voltage_days")];
        }
        o
    }
}

impl Indicator {
    /// Whether the value is a ratio shown as a percentage.
    pub fn percent(&self) -> bool {
        self.unit == "%"
    }

    /// The value as a user reads it: percentages with 2 decimals, kWh and money with thousands
    /// separators.
    pub fn format(&self, v: f64) -> String {
        match self.unit {
            "%" => format!("{:.2}%", v * 100.0),
            "kWh" | "时户" => thousands(v, 0),
            "元" => thousands(v, 2),
            "元/kWh" => format!("{v:.4}"),
            "件" => format!("{v:.0}"),
            _ => format!("{v:.2}"),
        }
    }

    /// The change from `before` to `now` as shown: percentage points for a percentage, else
    /// relative.
    pub fn change(&self, now: Option<f64>, before: Option<f64>) -> Option<String> {
        let (n, b) = (now?, before?);
        if self.percent() {
            return Some(format!("{:+.2} 个百分点", (n - b) * 100.0));
        }
        (b != 0.0).then(|| format!("{:+.1}%", (n - b) / b.abs() * 100.0))
    }
}

/// A number with thousands separators and `decimals` decimals.
pub fn thousands(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
    let mut out = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if v < 0.0 && s.chars().any(|c| c != '0' && c != '.') { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_and_move() {
        let q = Span::parse("2026-Q1").unwrap();
        assert_eq!((q.first().to_string(), q.last().to_string()), ("2026-01-01".into(), "2026-03-31".into()));
        assert_eq!(q.previous(), Span::Quarter(2025, 4));
        assert_eq!(q.last_year(), Span::Quarter(2025, 1));
        assert_eq!(
            Span::parse("2024-02-29").unwrap().last_year(),
            Span::Day(NaiveDate::from_ymd_opt(2023, 2, 28).unwrap())
        );
        assert_eq!(Span::parse("2026").unwrap().months().len(), 12);
        assert_eq!(Span::parse("2026-03").unwrap().previous().label(), "2026-02");
        assert!(Span::parse("2026-Q5").is_none());
        assert!(Span::parse("2026-13").is_none());
    }

    #[test]
    fn numbers_read_as_written() {
        assert_eq!(thousands(1234567.891, 2), "1,234,567.89");
        assert_eq!(thousands(-1234.0, 0), "-1,234");
        assert_eq!(thousands(999.0, 0), "999");
        assert_eq!(indicator("loss_rate").unwrap().format(0.0345), "3.45%");
        assert_eq!(
            indicator("loss_rate").unwrap().change(Some(0.05), Some(0.04)).as_deref(),
            Some("+1.00 个百分点")
        );
    }
}
