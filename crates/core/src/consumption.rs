//! Daily consumption of a customer derived from meter registers (audit-themes.md, "Reference
//! semantics": days, meter replacements, multipliers, unknown days).
//!
//! Registers are frozen at 00:00, so the consumption of day d is the register of d+1 minus the
//! register of d, times the multiplier. A meter serves on day d when installed_on <= d < removed_on;
//! its register is valid on both of those dates, so a replacement leaves no gap.

/// One meter of a customer, with dates as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeterSpan {
    /// The meter's position in whatever register source the caller uses.
    pub index: usize,
    /// 综合倍率: CT x PT ratio applied to register deltas.
    pub multiplier: f64,
    /// 装表日期.
    pub installed_on: i32,
    /// 拆表日期, if removed.
    pub removed_on: Option<i32>,
}

impl MeterSpan {
    /// Whether the meter is in service on day d: installed_on <= d < removed_on.
    pub fn in_service(&self, day: i32) -> bool {
        self.installed_on <= day && self.removed_on.is_none_or(|r| day < r)
    }
}

/// The consumption of day `day` summed over the meters in service that day, or `None` when it is
/// unknown: no meter in service, or one of them lacks a register on d or d+1.
///
/// `register(index, day)` gives a meter's total register on a day, `None` when collection failed.
/// A register that goes backwards gives a negative consumption: that is what VOL-REVERSE looks for,
/// so it is kept rather than hidden.
pub fn day_consumption(
    meters: &[MeterSpan],
    day: i32,
    mut register: impl FnMut(usize, i32) -> Option<f64>,
) -> Option<f64> {
    let mut sum = 0.0;
    let mut any = false;
    for m in meters.iter().filter(|m| m.in_service(day)) {
        let start = register(m.index, day)?;
        let end = register(m.index, day + 1)?;
        sum += (end - start) * m.multiplier;
        any = true;
    }
    any.then_some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Registers keyed by (meter, day).
    fn regs(rows: &[(usize, i32, f64)]) -> HashMap<(usize, i32), f64> {
        rows.iter().map(|&(m, d, v)| ((m, d), v)).collect()
    }

    #[test]
    fn multiplier_applies_to_the_register_delta() {
        let meters = [MeterSpan { index: 0, multiplier: 40.0, installed_on: 0, removed_on: None }];
        let r = regs(&[(0, 10, 100.0), (0, 11, 102.5)]);
        let got = day_consumption(&meters, 10, |m, d| r.get(&(m, d)).copied());
        assert_eq!(got, Some(100.0));
    }

    #[test]
    fn meter_replacement_mid_month_leaves_no_gap() {
        // Old meter removed on day 15 with final register 530; new meter installed on day 15
        // starting at 0.
        let meters = [
            MeterSpan { index: 0, multiplier: 1.0, installed_on: 0, removed_on: Some(15) },
            MeterSpan { index: 1, multiplier: 1.0, installed_on: 15, removed_on: None },
        ];
        let r = regs(&[(0, 14, 520.0), (0, 15, 530.0), (1, 15, 0.0), (1, 16, 12.0)]);
        let f = |m, d| r.get(&(m, d)).copied();
        assert_eq!(day_consumption(&meters, 14, f), Some(10.0));
        assert_eq!(day_consumption(&meters, 15, f), Some(12.0));
    }

    #[test]
    fn a_missing_register_makes_both_adjacent_days_unknown() {
        let meters = [MeterSpan { index: 0, multiplier: 1.0, installed_on: 0, removed_on: None }];
        let r = regs(&[(0, 1, 10.0), (0, 3, 30.0), (0, 4, 41.0)]);
        let f = |m, d| r.get(&(m, d)).copied();
        assert_eq!(day_consumption(&meters, 1, f), None);
        assert_eq!(day_consumption(&meters, 2, f), None);
        assert_eq!(day_consumption(&meters, 3, f), Some(11.0));
    }

    #[test]
    fn a_meter_installed_today_has_no_consumption_yet() {
        let meters = [MeterSpan { index: 0, multiplier: 1.0, installed_on: 20, removed_on: None }];
        let r = regs(&[(0, 20, 0.0)]);
        let f = |m, d| r.get(&(m, d)).copied();
        assert_eq!(day_consumption(&meters, 19, f), None, "before installation: no meter");
        assert_eq!(day_consumption(&meters, 20, f), None, "tomorrow's register not yet read");
    }

    #[test]
    fn a_register_going_backwards_is_kept_negative() {
        let meters = [MeterSpan { index: 0, multiplier: 1.0, installed_on: 0, removed_on: None }];
        let r = regs(&[(0, 5, 100.0), (0, 6, 90.0)]);
        assert_eq!(day_consumption(&meters, 5, |m, d| r.get(&(m, d)).copied()), Some(-10.0));
    }
}
