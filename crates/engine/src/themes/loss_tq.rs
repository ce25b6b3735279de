//! LOSS-TQ-HIGH 台区高损 and LOSS-TQ-NEG 台区负损: a transformer area's loss rate over the
//! period's valid days (a supply figure and every customer active that day known).

use foldhash::HashMap;

use crate::error::EngineResult;
use crate::finding::{Finding, int, num};
use crate::kernels::area_days;
use crate::session::Session;
use crate::theme::{Param, Params, Theme, Window, finding_of, need};
use crate::themes::common::areas;
use crate::themes::common::{customers, milli, price_on, tariffs};

/// One area's valid days summed, kWh in hundredths.
struct AreaMonth {
    tq_id: String,
    station_id: Option<String>,
    valid_days: i64,
    supply: i64,
    consumption: i64,
}

fn area_months(session: &Session, w: &Window) -> EngineResult<Vec<AreaMonth>> {
    let days = area_days(session, w.first() - AREA_LOOKBACK_DAYS, w.last())?;
    let station = areas(session)?;
    let offset = (w.first() - days.first) as usize;
    let mut out = Vec::new();
    for (a, tq_id) in days.areas.names.iter().enumerate() {
        let period = &days.area(a)[offset..];
        if period.iter().all(|d| d.supply.is_none()) {
            continue;
        }
        let valid = period.iter().filter(|d| d.valid);
        let (mut valid_days, mut supply, mut consumption) = (0, 0, 0);
        for d in valid {
            valid_days += 1;
            supply += d.supply.unwrap_or(0);
            consumption += d.consumption;
        }
        out.push(AreaMonth {
            tq_id: tq_id.clone(),
            station_id: station.get(tq_id).map(|a| a.1.clone()),
            valid_days,
            supply,
            consumption,
        });
    }
    Ok(out)
}

/// Days before the period the area matrix covers, so that LOSS-THEFT's "before" shares it.
pub const AREA_LOOKBACK_DAYS: i32 = 30;

/// The mean first-step price of an area's customers' tariffs: what its lost kWh are worth.
fn area_prices(session: &Session, w: &Window) -> EngineResult<HashMap<String, f64>> {
    let tariffs = tariffs(session)?;
    let cust = customers(session)?;
    let mut sums: HashMap<&str, (f64, f64)> = HashMap::default();
    for c in cust.values() {
        if let (Some(tq), Some(p)) = (&c.tq_id, price_on(&tariffs, &c.tariff_code, w)) {
            let e = sums.entry(tq).or_default();
            e.0 += p;
            e.1 += 1.0;
        }
    }
    Ok(sums.into_iter().map(|(k, (s, n))| (k.to_string(), s / n)).collect())
}

const NEEDS: &[crate::theme::Need] = &[
    need("supply", &["point_type", "point_id", "date", "kwh"]),
    need("daily_consumption", &["customer_id", "date"]),
    need("customers", &["customer_id", "tq_id", "opened_on"]),
    need("transformer_areas", &["tq_id", "station_id"]),
    need("tariffs", &["tariff_code", "price"]),
    need("tq_daily", &["tq_id"]),
];

const PARAMS_HIGH: &[Param] = &[
    Param { name: "max_loss_rate", default: 0.10, doc: "线损率上限 / loss rate above this fires" },
    Param {
        name: "min_valid_share", default: 0.5, doc: "有效天数占比下限 / share of valid days, at least"
    },
];

const PARAMS_NEG: &[Param] = &[
    Param { name: "min_loss_rate", default: -0.01, doc: "线损率下限 / loss rate below this fires" },
    Param {
        name: "min_valid_share", default: 0.5, doc: "有效天数占比下限 / share of valid days, at least"
    },
];

fn run_loss(
    theme: &dyn Theme,
    session: &Session,
    w: &Window,
    p: &Params,
    high: bool,
) -> EngineResult<Vec<Finding>> {
    let valid_share = milli(p.get("min_valid_share"));
    let prices = if high { area_prices(session, w)? } else { HashMap::default() };
    let mut out = Vec::new();
    for a in area_months(session, w)? {
        if 1000 * i128::from(a.valid_days) < valid_share * i128::from(w.days()) || a.supply <= 0 {
            continue;
        }
        let lost = i128::from(a.supply - a.consumption);
        // (s - c) / s compared with the threshold in thousandths, exactly.
        let fires = if high {
            1000 * lost > milli(p.get("max_loss_rate")) * i128::from(a.supply)
        } else {
            1000 * lost < milli(p.get("min_loss_rate")) * i128::from(a.supply)
        };
        if !fires {
            continue;
        }
        let lost_kwh = (a.supply - a.consumption) as f64 / 100.0;
        let f = finding_of(
            theme,
            w,
            &a.tq_id,
            a.station_id.clone(),
            &[
                ("loss_rate", num(lost_kwh / (a.supply as f64 / 100.0))),
                ("supply_kwh", num(a.supply as f64 / 100.0)),
                ("consumption_kwh", num(a.consumption as f64 / 100.0)),
                ("valid_days", int(a.valid_days)),
                ("days", int(w.days())),
            ],
        );
        // The energy lost beyond the threshold, at the area's mean price.
        let excess = lost_kwh - p.get("max_loss_rate") * a.supply as f64 / 100.0;
        out.push(f.with_amount(if high { prices.get(&a.tq_id).map(|pr| excess * pr) } else { None }));
    }
    Ok(out)
}

/// 台区高损.
pub struct LossTqHigh;

impl Theme for LossTqHigh {
    describe! {
        code: "LOSS-TQ-HIGH", zh: "台区高损", en: "High loss in a transformer area", specialty: Loss,
        entity: TransformerArea, severity: High, params: PARAMS_HIGH, needs: NEEDS,
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        run_loss(self, session, w, p, true)
    }
}

/// 台区负损.
pub struct LossTqNeg;

impl Theme for LossTqNeg {
    describe! {
        code: "LOSS-TQ-NEG", zh: "台区负损", en: "Negative loss in a transformer area", specialty: Loss,
        entity: TransformerArea, severity: Medium, params: PARAMS_NEG, needs: NEEDS,
    }

    fn run(&self, session: &Session, w: &Window, p: &Params) -> EngineResult<Vec<Finding>> {
        run_loss(self, session, w, p, false)
    }
}
