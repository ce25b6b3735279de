//! Tariffs (电价) and bill arithmetic: the PRC-BILL reference semantics of audit-themes.md, shared
//! by the generator (which issues bills with it) and the audit engine (which recomputes them).
//!
//! Money is [`Decimal`], never `f64`: the exchange format carries yuan with at most 2 decimals and
//! prices with at most 4, so decimal arithmetic reproduces a utility's bill to the cent, and two
//! implementations of PRC-BILL cannot disagree through binary rounding. Charges are rounded to the
//! cent half away from zero (四舍五入), as bills are printed.

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};

use crate::codes::{Category, StepBasis};

/// One version of a tariff (电价), a row of the `tariffs` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tariff {
    /// 电价码; with `valid_from` the key of the row.
    pub tariff_code: String,
    /// 电价名称.
    pub name: String,
    /// 用电类别 the tariff is meant for (PRC-CATEGORY compares it with the customer's).
    pub category: Category,
    /// 电度电价, yuan/kWh: the flat price, or the first step's.
    pub price: Decimal,
    /// 峰段电价 (informative: the reference recomputation does not use time-of-use prices).
    pub price_peak: Option<Decimal>,
    /// 谷段电价 (informative, as `price_peak`).
    pub price_valley: Option<Decimal>,
    /// 阶梯周期: steps per month's kWh or per the year's accumulated kWh.
    pub step_basis: StepBasis,
    /// 第一档上限, kWh per month or per year as `step_basis` says.
    pub step1_kwh: Option<Decimal>,
    /// 第二档上限.
    pub step2_kwh: Option<Decimal>,
    /// 第二档电价.
    pub step2_price: Option<Decimal>,
    /// 第三档电价.
    pub step3_price: Option<Decimal>,
    /// 基本电费单价, yuan per kVA per month (two-part tariff).
    pub basic_per_kva: Option<Decimal>,
    /// 执行日期: first day the version applies.
    pub valid_from: NaiveDate,
    /// 截止日期: last day the version applies, open-ended when empty.
    pub valid_to: Option<NaiveDate>,
}

/// The charges of one bill as the reference semantics compute them, each rounded to the cent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charges {
    /// 电度电费.
    pub energy: Decimal,
    /// 基本电费, `None` when the tariff has no `basic_per_kva`.
    pub basic: Option<Decimal>,
    /// 力调电费 as the bill carries it (0 when the bill has none).
    pub pf_adjustment: Decimal,
    /// 应收电费 = energy + basic + pf_adjustment.
    pub amount: Decimal,
}

impl Tariff {
    /// Whether this version applies on `date`: valid_from <= date and (valid_to empty or
    /// date <= valid_to).
    pub fn is_valid_on(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && self.valid_to.is_none_or(|to| date <= to)
    }

    /// Whether the energy charge is stepped (阶梯电价): the tariff has a first step limit.
    pub fn is_stepped(&self) -> bool {
        self.step1_kwh.is_some()
    }

    /// Whether the tariff is two-part (两部制): it has a basic charge per kVA.
    pub fn is_two_part(&self) -> bool {
        self.basic_per_kva.is_some_and(|b| b > Decimal::ZERO)
    }

    /// The energy charge of `kwh`, unrounded.
    ///
    /// Stepped with `step_basis` month: the steps apply to `kwh` alone. With `year`: they apply to
    /// the kWh accumulated since 1 January, so `earlier_kwh_of_year` (the kWh of the customer's
    /// earlier bills of the same year) shifts where this month's kWh fall, and only this month's
    /// increment is charged. Not stepped: `kwh x price`, and `earlier_kwh_of_year` is ignored.
    pub fn energy_charge(&self, kwh: Decimal, earlier_kwh_of_year: Decimal) -> Decimal {
        if !self.is_stepped() {
            return kwh * self.price;
        }
        match self.step_basis {
            StepBasis::Month => self.stepped_cumulative(kwh),
            StepBasis::Year => {
                let before = earlier_kwh_of_year;
                self.stepped_cumulative(before + kwh) - self.stepped_cumulative(before)
            }
        }
    }

    /// The stepped charge of `total` kWh counted from zero: up to step1 at `price`, up to step2
    /// at `step2_price`, above at `step3_price`. A missing step2 limit means the second step is
    /// open-ended; a missing step price falls back to the step below, so a partly filled row still
    /// charges something sensible rather than nothing.
    fn stepped_cumulative(&self, total: Decimal) -> Decimal {
        let p1 = self.price;
        let p2 = self.step2_price.unwrap_or(p1);
        let p3 = self.step3_price.unwrap_or(p2);
        let Some(s1) = self.step1_kwh else {
            return total * p1;
        };
        // Negative kWh (a correction) is charged linearly at the first step's price.
        if total <= s1 {
            return total * p1;
        }
        let first = s1 * p1;
        match self.step2_kwh.filter(|s2| *s2 > s1) {
            None => first + (total - s1) * p2,
            Some(s2) if total <= s2 => first + (total - s1) * p2,
            Some(s2) => first + (s2 - s1) * p2 + (total - s2) * p3,
        }
    }

    /// The basic charge: `basic_per_kva x contract_kva` when the tariff has a `basic_per_kva`,
    /// `None` when it has none or the contract capacity is unknown.
    pub fn basic_charge(&self, contract_kva: Option<Decimal>) -> Option<Decimal> {
        Some(self.basic_per_kva? * contract_kva?)
    }

    /// The reference recomputation of a bill (PRC-BILL): energy charge + basic charge + the bill's
    /// own power-factor adjustment, each rounded to the cent. `None` for a two-part bill without
    /// a contract capacity, which the reference semantics do not check.
    pub fn charges(
        &self,
        kwh: Decimal,
        earlier_kwh_of_year: Decimal,
        contract_kva: Option<Decimal>,
        pf_adjustment: Option<Decimal>,
    ) -> Option<Charges> {
        let energy = to_cents(self.energy_charge(kwh, earlier_kwh_of_year));
        let basic = match self.basic_per_kva {
            Some(_) => Some(to_cents(self.basic_charge(contract_kva)?)),
            None => None,
        };
        let pf_adjustment = pf_adjustment.unwrap_or(Decimal::ZERO);
        let amount = energy + basic.unwrap_or(Decimal::ZERO) + pf_adjustment;
        Some(Charges { energy, basic, pf_adjustment, amount })
    }
}

/// The version of a tariff code valid on `date` among `versions` (rows of any codes): the one with
/// this code whose validity covers the date; when several do, the latest `valid_from` wins.
pub fn version_on<'a>(
    versions: impl IntoIterator<Item = &'a Tariff>,
    tariff_code: &str,
    date: NaiveDate,
) -> Option<&'a Tariff> {
    versions
        .into_iter()
        .filter(|t| t.tariff_code == tariff_code && t.is_valid_on(date))
        .max_by_key(|t| t.valid_from)
}

/// Rounds yuan to the cent, half away from zero (四舍五入), as bills are printed.
pub fn to_cents(yuan: Decimal) -> Decimal {
    yuan.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// The absolute part of the PRC-BILL tolerance, yuan.
pub const BILL_TOLERANCE_YUAN: Decimal = Decimal::ONE;

/// The relative part of the PRC-BILL tolerance: 0.5% of the recomputed amount.
pub const BILL_TOLERANCE_SHARE: Decimal = Decimal::from_parts(5, 0, 0, false, 3);

/// The PRC-BILL test: whether a bill's `amount` differs from the `recomputed` amount by more than
/// max(1 yuan, 0.5% of the recomputed amount).
pub fn bill_differs(amount: Decimal, recomputed: Decimal) -> bool {
    let tolerance = BILL_TOLERANCE_YUAN.max(BILL_TOLERANCE_SHARE * recomputed.abs());
    (amount - recomputed).abs() > tolerance
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    /// A decimal literal.
    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Hubei's residential stepped tariff: 0.558 / 0.608 / 0.858 yuan at 180 / 400 kWh a month.
    fn resident(basis: StepBasis) -> Tariff {
        let (s1, s2) = match basis {
            StepBasis::Month => (dec("180"), dec("400")),
            StepBasis::Year => (dec("2160"), dec("4800")),
        };
        Tariff {
            tariff_code: "R101".into(),
            name: "居民生活用电".into(),
            category: Category::Resident,
            price: dec("0.558"),
            price_peak: None,
            price_valley: None,
            step_basis: basis,
            step1_kwh: Some(s1),
            step2_kwh: Some(s2),
            step2_price: Some(dec("0.608")),
            step3_price: Some(dec("0.858")),
            basic_per_kva: None,
            valid_from: date(2024, 1, 1),
            valid_to: None,
        }
    }

    fn industrial() -> Tariff {
        Tariff {
            tariff_code: "I301".into(),
            name: "大工业用电".into(),
            category: Category::Industrial,
            price: dec("0.601"),
            price_peak: None,
            price_valley: None,
            step_basis: StepBasis::Month,
            step1_kwh: None,
            step2_kwh: None,
            step2_price: None,
            step3_price: None,
            basic_per_kva: Some(dec("25")),
            valid_from: date(2024, 1, 1),
            valid_to: None,
        }
    }

    #[test]
    fn month_steps_at_their_edges() {
        let t = resident(StepBasis::Month);
        let e = |kwh| t.energy_charge(kwh, dec("99999"));
        assert_eq!(e(dec("0")), dec("0"));
        assert_eq!(e(dec("180")), dec("100.440"));
        assert_eq!(e(dec("181")), dec("100.440") + dec("0.608"));
        assert_eq!(e(dec("400")), dec("100.440") + dec("133.760"));
        assert_eq!(e(dec("401")), dec("234.200") + dec("0.858"));
        assert_eq!(e(dec("500")), dec("234.200") + dec("85.800"));
    }

    #[test]
    fn year_steps_charge_only_this_months_increment() {
        let t = resident(StepBasis::Year);
        // Earlier bills 2100 kWh, this month 100: 60 kWh left in step 1, 40 in step 2.
        assert_eq!(
            t.energy_charge(dec("100"), dec("2100")),
            dec("60") * dec("0.558") + dec("40") * dec("0.608")
        );
        // Crossing both steps in one month.
        assert_eq!(
            t.energy_charge(dec("3000"), dec("2000")),
            dec("160") * dec("0.558") + dec("2640") * dec("0.608") + dec("200") * dec("0.858")
        );
        // Already in step 3.
        assert_eq!(t.energy_charge(dec("10"), dec("5000")), dec("8.58"));
        // January: nothing earlier.
        assert_eq!(t.energy_charge(dec("300"), dec("0")), dec("300") * dec("0.558"));
    }

    #[test]
    fn flat_tariffs_ignore_the_year() {
        let t = industrial();
        assert_eq!(t.energy_charge(dec("1000"), dec("50000")), dec("601.000"));
    }

    #[test]
    fn basic_charge_is_per_kva_and_needs_the_capacity() {
        let t = industrial();
        assert!(t.is_two_part());
        assert_eq!(t.basic_charge(Some(dec("630"))), Some(dec("15750")));
        let c = t.charges(dec("10000"), dec("0"), Some(dec("630")), Some(dec("-12.34"))).unwrap();
        assert_eq!(c.energy, dec("6010.00"));
        assert_eq!(c.basic, Some(dec("15750.00")));
        assert_eq!(c.amount, dec("21747.66"));
        // A two-part bill without contract capacity is not checked.
        assert_eq!(t.charges(dec("10000"), dec("0"), None, None), None);
        // A one-part tariff has no basic charge at all.
        let r = resident(StepBasis::Month).charges(dec("100"), dec("0"), Some(dec("8")), None);
        assert_eq!(r.unwrap().basic, None);
        assert_eq!(r.unwrap().amount, dec("55.80"));
    }

    #[test]
    fn charges_round_half_away_from_zero() {
        let t = resident(StepBasis::Month);
        // 0.5 kWh x 0.558 = 0.279 -> 0.28; 12.25 x 0.558 = 6.8355 -> 6.84.
        assert_eq!(t.charges(dec("0.5"), dec("0"), None, None).unwrap().amount, dec("0.28"));
        assert_eq!(t.charges(dec("12.25"), dec("0"), None, None).unwrap().amount, dec("6.84"));
    }

    #[test]
    fn tolerance_is_one_yuan_or_half_a_percent() {
        // Small bills: 1 yuan.
        assert!(!bill_differs(dec("51.00"), dec("50.00")));
        assert!(bill_differs(dec("51.01"), dec("50.00")));
        assert!(bill_differs(dec("48.99"), dec("50.00")));
        // Large bills: 0.5% of the recomputed amount (1000 -> 5 yuan).
        assert!(!bill_differs(dec("1005.00"), dec("1000.00")));
        assert!(bill_differs(dec("1005.01"), dec("1000.00")));
        assert!(!bill_differs(dec("995.00"), dec("1000.00")));
        assert!(bill_differs(dec("994.99"), dec("1000.00")));
    }

    #[test]
    fn the_version_valid_on_a_date_wins() {
        let mut old = industrial();
        old.price = dec("0.62");
        old.valid_from = date(2024, 7, 1);
        old.valid_to = Some(date(2025, 12, 31));
        let mut new = industrial();
        new.valid_from = date(2026, 1, 1);
        let mut other = resident(StepBasis::Month);
        other.valid_from = date(2026, 2, 1);
        let all = [old.clone(), new.clone(), other];
        assert_eq!(version_on(&all, "I301", date(2025, 12, 31)), Some(&old));
        assert_eq!(version_on(&all, "I301", date(2026, 1, 1)), Some(&new));
        assert_eq!(version_on(&all, "I301", date(2024, 6, 30)), None);
        assert_eq!(version_on(&all, "X", date(2026, 1, 1)), None);
        // Overlapping versions: the latest valid_from wins.
        let mut overlap = industrial();
        overlap.valid_from = date(2025, 6, 1);
        overlap.valid_to = None;
        let all = [old, overlap.clone()];
        assert_eq!(version_on(&all, "I301", date(2025, 7, 1)), Some(&overlap));
    }
}
