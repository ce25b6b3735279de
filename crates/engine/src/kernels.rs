//! Hand-written kernels where they beat the SQL: dense matrices over the days of a window that
//! several themes share (through [`Session::memo`]), built in one pass over the dense day and
//! register blocks of the stored series ([`day_blocks`]); the [`Interner`] maps text ids to
//! dense indices (a dictionary-encoded column once per distinct value instead of once per row).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;

use crate::columns::{date_array, float_array};
use crate::day_blocks;
use crate::error::{EngineError, EngineResult};
use crate::id_table::IdTable;
use crate::session::{Session, date_lit};
use crate::themes::common::{customers, hundredths};

/// A dictionary value not mapped yet.
const UNMAPPED: u32 = u32::MAX;
/// A dictionary value that is no known id (looked up without adding).
const UNKNOWN: u32 = u32::MAX - 1;

/// Text ids interned to dense indices.
#[derive(Debug, Clone)]
pub struct Interner {
    index: IdTable<u32>,
    /// The ids, by index.
    pub names: Vec<String>,
    /// The last dictionary mapped, held, with its mode and mapping.
    last: Option<(ArrayRef, bool, Vec<u32>)>,
    /// The index [`Interner::rows`] mapped last (`u32::MAX` before the first).
    cursor: u32,
}

impl Default for Interner {
    fn default() -> Interner {
        Interner { index: Default::default(), names: Vec::new(), last: None, cursor: u32::MAX }
    }
}

impl Interner {
    /// The index of `id`, added when new.
    pub fn intern(&mut self, id: &str) -> u32 {
        let next = self.names.len() as u32;
        let i = self.index.get_or_insert(id, || next);
        if i == next {
            self.names.push(id.to_string());
        }
        i
    }

    /// Room for `n` ids before the index grows.
    pub fn with_capacity(n: usize) -> Interner {
        Interner {
            index: IdTable::with_capacity(n),
            names: Vec::with_capacity(n),
            last: None,
            cursor: u32::MAX,
        }
    }

    /// The index of `id`, when known.
    pub fn get(&self, id: &str) -> Option<u32> {
        self.index.get(id)
    }

    /// How many ids.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// No id yet.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Each row's id as an index (None for null); with `add` false only ids already known map.
    /// A dictionary column maps each distinct value it uses once, and the batches of one Parquet
    /// row group (which share one dictionary) once between them.
    pub fn rows(&mut self, col: &ArrayRef, add: bool) -> EngineResult<Vec<Option<u32>>> {
        let err = |e| EngineError::Internal(format!("id column: {e}"));
        if let Some(dict) = col.as_any_dictionary_opt() {
            let values = cast(dict.values(), &DataType::Utf8).map_err(err)?;
            let values = values.as_string::<i32>();
            let keys = dict.normalized_keys();
            let cached =
                self.last.take().filter(|(held, mode, _)| *mode == add && Arc::ptr_eq(held, dict.values()));
            // The rows' nulls read once from the buffer.
            let nulls = col.nulls();
            let is_null = |i: usize| nulls.is_some_and(|n| n.is_null(i));
            if cached.is_none() && dict.values().len() > 8 * col.len() {
                // A new dictionary much larger than the batch: map the rows, not the dictionary.
                return Ok(keys
                    .iter()
                    .enumerate()
                    .map(|(i, &k)| {
                        if is_null(i) || !values.is_valid(k) {
                            return None;
                        }
                        self.map_one(values.value(k), add)
                    })
                    .collect());
            }
            // Else each dictionary value is mapped when a row first uses it, once for all the
            // batches that share the dictionary (those of one Parquet row group).
            let mut mapped = match cached {
                Some((_, _, mapped)) => mapped,
                None => vec![UNMAPPED; dict.values().len()],
            };
            // A null value maps to UNKNOWN.
            let rows = keys
                .iter()
                .enumerate()
                .map(|(i, &k)| {
                    if is_null(i) {
                        return None;
                    }
                    if mapped[k] == UNMAPPED {
                        mapped[k] = if values.is_valid(k) {
                            self.map_one(values.value(k), add).unwrap_or(UNKNOWN)
                        } else {
                            UNKNOWN
                        };
                    }
                    (mapped[k] != UNKNOWN).then_some(mapped[k])
                })
                .collect();
            // Held, so its buffer cannot be freed and its address taken by the next dictionary.
            self.last = Some((dict.values().clone(), add, mapped));
            return Ok(rows);
        }
        let strings = cast(col, &DataType::Utf8).map_err(err)?;
        let strings = strings.as_string::<i32>();
        Ok((0..strings.len())
            .map(|i| if strings.is_valid(i) { self.map_one(strings.value(i), add) } else { None })
            .collect())
    }

    /// The index of `id`, added when new, trying the last id mapped and the one after it first
    /// (for ids met in the order they were first added).
    pub fn intern_next(&mut self, id: &str) -> u32 {
        self.map_one(id, true).expect("an id is added when new")
    }

    fn map_one(&mut self, id: &str, add: bool) -> Option<u32> {
        // Scans meet an id's rows together, and ids in the same order file after file (derived
        // consumption is stored in customer order, month by month): the last id mapped and the
        // one after it are tried first, string comparisons instead of a hash lookup in a map of
        // a million ids.
        for at in [self.cursor, self.cursor.wrapping_add(1)] {
            if self.names.get(at as usize).is_some_and(|n| n == id) {
                self.cursor = at;
                return Some(at);
            }
        }
        let found = if add { Some(self.intern(id)) } else { self.get(id) };
        if let Some(i) = found {
            self.cursor = i;
        }
        found
    }
}

/// A column of a result by name.
pub fn column<'a>(b: &'a RecordBatch, name: &str) -> EngineResult<&'a ArrayRef> {
    b.column_by_name(name).ok_or_else(|| EngineError::Internal(format!("result lacks column {name}")))
}

/// Every meter's total register on each day of a window, in hundredths, and how far its
/// time-of-use registers are from it: read in place from the register blocks.
pub struct Registers {
    /// Meter ids.
    pub meters: Interner,
    cells: day_blocks::RegisterDays,
}

impl std::fmt::Debug for Registers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Registers({} meters x {} days from {})",
            self.meters.len(),
            self.cells.days,
            self.cells.first
        )
    }
}

impl Registers {
    /// Meter `m`'s days of the window, put together in `buf` (room kept from one meter to the
    /// next).
    pub fn meter<'a>(&self, m: usize, buf: &'a mut Vec<(Option<i64>, Option<i64>)>) -> MeterDays<'a> {
        self.cells.fill(m, buf);
        MeterDays { first: self.cells.first, days: buf }
    }
}

/// One meter's registers over the window of its [`Registers`].
pub struct MeterDays<'a> {
    first: i32,
    /// Each day's total and time-of-use gap.
    days: &'a [(Option<i64>, Option<i64>)],
}

impl MeterDays<'_> {
    fn day(&self, d: i32) -> (Option<i64>, Option<i64>) {
        usize::try_from(d - self.first).ok().and_then(|k| self.days.get(k)).copied().unwrap_or((None, None))
    }

    /// The register on day `d` (None outside the window or not collected).
    pub fn get(&self, d: i32) -> Option<i64> {
        self.day(d).0
    }

    /// The gap between the time-of-use registers and the total on day `d`
    /// (|peak + flat + valley - total|, each register rounded to hundredths first; None outside
    /// the window or unless all four were collected).
    pub fn tou_gap(&self, d: i32) -> Option<i64> {
        self.day(d).1
    }

    /// The days of `first..=last` on which the register is below the day before's (both
    /// collected), with the two registers: a register running backwards.
    pub fn reversals(&self, first: i32, last: i32) -> impl Iterator<Item = (i32, i64, i64)> + '_ {
        (first..=last).filter_map(move |d| match (self.get(d - 1), self.get(d)) {
            (Some(before), Some(now)) if now < before => Some((d, before, now)),
            _ => None,
        })
    }
}

/// The registers of `first..=last`, shared by the themes of a session (VOL-REVERSE, VOL-MISSING
/// and VOL-TOU read them in place from the register blocks).
pub fn registers(session: &Session, first: i32, last: i32) -> EngineResult<Arc<Registers>> {
    session.memo(&format!("registers/{first}/{last}"), || {
        let (meters, cells) = day_blocks::RegisterDays::open(session, first, last)?;
        Ok(Registers { meters, cells })
    })
}

/// One transformer area's day, as the `tq_daily` view defines it, kWh in hundredths.
#[derive(Debug, Clone, Copy, Default)]
pub struct AreaDay {
    /// The supply figure, when there is one.
    pub supply: Option<i64>,
    /// Consumption of the area's customers active that day (known ones).
    pub consumption: i64,
    /// A supply figure and every active customer's consumption known.
    pub valid: bool,
}

/// Every transformer area with a supply point, day by day over a window.
#[derive(Debug)]
pub struct AreaDays {
    /// First day.
    pub first: i32,
    /// Days.
    pub days: usize,
    /// Area ids.
    pub areas: Interner,
    /// areas x days.
    pub cells: Vec<AreaDay>,
}

impl AreaDays {
    /// The days of area `a`.
    pub fn area(&self, a: usize) -> &[AreaDay] {
        &self.cells[a * self.days..(a + 1) * self.days]
    }
}

/// A customer's transformer area (its index) and the days it is open: opened on, closed on.
type InArea = (u32, Option<i32>, Option<i32>);

/// The `tq_daily` view computed in one pass (same semantics: customers active on day d are
/// opened_on <= d < closed_on whatever their status), shared by the loss themes of a session.
pub fn area_days(session: &Session, first: i32, last: i32) -> EngineResult<Arc<AreaDays>> {
    session.memo(&format!("area_days/{first}/{last}"), || {
        let n = day_blocks::days_of(first, last);
        let mut areas = Interner::default();
        // Supply points of type tq define the areas.
        let sql = format!(
            "SELECT point_id, date, kwh FROM supply WHERE point_type = 'tq' AND date BETWEEN {} AND {}",
            date_lit(first),
            date_lit(last)
        );
        let mut supply: Vec<Option<i64>> = Vec::new();
        for b in session.run(&sql, "台区供电量 / areas' supply")? {
            let ids = areas.rows(column(&b, "point_id")?, true)?;
            let (ds, kwh) = (date_array(&b, "date")?, float_array(&b, "kwh")?);
            supply.resize(areas.len() * n, None);
            for (i, (d, k)) in ds.iter().zip(kwh.iter()).enumerate() {
                if let (Some(a), Some(d), Some(k)) = (ids[i], d, k) {
                    supply[a as usize * n + (d - first) as usize] = Some(hundredths(k));
                }
            }
        }
        supply.resize(areas.len() * n, None);
        // How many customers of each area are active each day.
        let all = customers(session)?;
        // Each customer adds one from the day it is open in the window to the day before it
        // closes (`active_on`: opened_on <= d < closed_on): +1 where that starts and -1 where it
        // ends, each area's days then summed in order.
        let mut active = vec![0i64; areas.len() * n];
        let mut any = false;
        for c in all.values() {
            let Some(a) = c.tq_id.as_deref().and_then(|t| areas.get(t)) else { continue };
            any = true;
            let Some(opened) = c.opened_on else { continue };
            let from = (i64::from(opened) - i64::from(first)).max(0);
            let to = c.closed_on.map_or(n as i64, |x| (i64::from(x) - i64::from(first)).min(n as i64));
            if from < to {
                let row = &mut active[a as usize * n..(a as usize + 1) * n];
                row[from as usize] += 1;
                if let Some(end) = row.get_mut(to as usize) {
                    *end -= 1;
                }
            }
        }
        for row in active.chunks_exact_mut(n.max(1)) {
            let mut open = 0;
            for day in row {
                open += *day;
                *day = open;
            }
        }
        let mut consumption = vec![0i64; areas.len() * n];
        let mut known = vec![0u32; areas.len() * n];
        if any {
            // Each customer's area and dates, by its index in the order the blocks meet the
            // customers (the same in every file, so the next id is found by one comparison);
            // None for a customer in no area with supply or not in the archive.
            let mut cust = Interner::with_capacity(all.len());
            let mut cust_area: Vec<Option<InArea>> = Vec::with_capacity(all.len());
            day_blocks::for_each_row(session, first, last, |id, from, cells| {
                let c = cust.intern_next(id) as usize;
                if c == cust_area.len() {
                    cust_area.push(
                        all.get(id)
                            .and_then(|x| Some((areas.get(x.tq_id.as_deref()?)?, x.opened_on, x.closed_on))),
                    );
                }
                let Some((a, opened, closed)) = cust_area[c] else { return };
                for (d, k) in (from..).zip(cells) {
                    if !k.is_nan() && opened.is_some_and(|o| o <= d) && closed.is_none_or(|x| d < x) {
                        let j = a as usize * n + (d - first) as usize;
                        consumption[j] += hundredths(*k);
                        known[j] += 1;
                    }
                }
            })?;
        }
        let cells = (0..areas.len() * n)
            .map(|j| AreaDay {
                supply: supply[j],
                consumption: consumption[j],
                valid: supply[j].is_some() && i64::from(known[j]) == active[j],
            })
            .collect();
        Ok(AreaDays { first, days: n, areas, cells })
    })
}
