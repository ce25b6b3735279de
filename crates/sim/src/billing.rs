//! Bills (电费发行) and payments (实收): one bill per customer and month, its kWh the metered
//! consumption of the month, its amount computed by `jicha_core::tariff` exactly as PRC-BILL
//! recomputes it. Most bills are paid before their due date, a few after it but within the month
//! it falls in, so every station recovers 100% of what falls due, except where planted.

use std::collections::BTreeSet;

use anyhow::Result;
use chrono::{Datelike, NaiveDate};
use jicha_core::calendar::{Period, from_epoch_days, to_epoch_days};
use jicha_core::codes::Category;
use jicha_core::tariff::{Tariff, bill_differs, to_cents, version_on};
use rust_decimal::Decimal;

use crate::hash::{between, h3, salt, unit};
use crate::months::MonthUsage;
use crate::plants::{Plan, PlantKind, bill_id};
use crate::sink::TableFile;
use crate::truth::{Margins, Truth, written_topology};
use crate::world::{NONE, TARIFF_CODES, Voltage, World};

/// Channels customers pay through.
const CHANNELS: &[&str] = &["网上国网", "微信", "支付宝", "银行代扣", "营业厅", "农村信用社"];

/// Writes bills and payments month by month and keeps what FEE-RECOVERY needs.
pub struct Billing<'a> {
    w: &'a World,
    /// kWh billed earlier in the same year, per customer: (year, hundredths).
    ytd: Vec<(i32, i64)>,
    /// Per station and month: (amount due in the month, paid by its as-of date, capped per bill).
    recovery: Vec<Vec<(Decimal, Decimal)>>,
    pay_seq: u64,
    /// Closeness to thresholds.
    pub margins: Margins,
}

/// One payment: day and amount.
type Payment = (i32, Decimal);

impl<'a> Billing<'a> {
    /// Starts billing.
    pub fn new(w: &'a World) -> Billing<'a> {
        Billing {
            w,
            ytd: vec![(0, 0); w.customers.len()],
            recovery: vec![vec![(Decimal::ZERO, Decimal::ZERO); w.cal.months.len()]; w.stations.len()],
            pay_seq: 0,
            margins: Margins::default(),
        }
    }

    fn tariff(&self, ci: u32, period: Period) -> Option<&'a Tariff> {
        let code = TARIFF_CODES[self.w.customers[ci as usize].tariff as usize];
        version_on(&self.w.tariffs, code, period.last_day())
    }

    fn earlier(&self, ci: u32, period: Period) -> i64 {
        let (year, kwh) = self.ytd[ci as usize];
        if year == period.year() { kwh } else { 0 }
    }

    /// The unpaid bills from before the window (FEE-ARREARS plants).
    pub fn old_bills(
        &mut self,
        plan: &Plan,
        bills: &mut TableFile,
        pays: &mut TableFile,
        truth: &mut BTreeSet<Truth>,
    ) -> Result<()> {
        let w = self.w;
        let mut list = plan.old_bills.clone();
        // Oldest first, as a billing system lists them.
        list.sort_by_key(|b| (std::cmp::Reverse(b.months_before), b.customer));
        for ob in list {
            let mut period = w.cal.months[0].period;
            for _ in 0..ob.months_before {
                period = period.prev();
            }
            let c = &w.customers[ob.customer as usize];
            let Some(t) = self.tariff(ob.customer, period) else { continue };
            let kwh = (f64::from(c.base) * f64::from(period.days()) * 100.0).round() as i64;
            let kva = (c.contract_kva > 0).then(|| Decimal::from(c.contract_kva));
            let pf = c.needs_pf.then_some(Decimal::ZERO);
            let Some(ch) = t.charges(Decimal::new(kwh, 2), Decimal::ZERO, kva, pf) else { continue };
            let issued = to_epoch_days(period.next().first_day());
            let due = due_day(period);
            let paid = to_cents(ch.amount * Decimal::try_from(ob.paid_share).unwrap_or(Decimal::ZERO));
            let payments: Vec<Payment> =
                if paid > Decimal::ZERO { vec![(issued + 5, paid)] } else { Vec::new() };
            let id = bill_id(w, ob.customer, period);
            write_bill(
                bills,
                &id,
                &w.customer_id(ob.customer),
                period,
                kwh,
                ch.amount,
                t,
                Some(ch.energy),
                ch.basic,
                pf,
                issued,
                due,
            )?;
            self.write_payments(pays, &id, &payments, ob.customer)?;
            self.arrears(&id, ch.amount, due, &payments, truth);
            if self.ytd[ob.customer as usize].0 == period.year() {
                self.ytd[ob.customer as usize].1 += kwh;
            } else {
                self.ytd[ob.customer as usize] = (period.year(), kwh);
            }
        }
        Ok(())
    }

    /// Bills and payments of month `k`, and the bill themes on them.
    pub fn month(
        &mut self,
        k: usize,
        usage: &MonthUsage,
        bills: &mut TableFile,
        pays: &mut TableFile,
        truth: &mut BTreeSet<Truth>,
    ) -> Result<()> {
        let w = self.w;
        let m = w.cal.months[k];
        let period = m.period;
        let issued = m.as_of();
        let due = due_day(period);
        for (ci, c) in w.customers.iter().enumerate() {
            let ci = ci as u32;
            if !usage.billed[ci as usize] {
                continue;
            }
            let Some(t) = self.tariff(ci, period) else { continue };
            let plant = if c.plant != NONE { Some(w.plants[c.plant as usize].kind) } else { None };
            let metered = usage.kwh[ci as usize];
            let kwh = match plant {
                // 漏记: a third of the month left off the bill.
                Some(PlantKind::PrcKwh { month }) if month == k => metered * 7 / 10,
                _ => metered,
            };
            let earlier = Decimal::new(self.earlier(ci, period), 2);
            let kva = (c.contract_kva > 0).then(|| Decimal::from(c.contract_kva));
            let kwh_d = Decimal::new(kwh, 2);
            let pf = if c.needs_pf {
                let base = t.charges(kwh_d, earlier, kva, None).map_or(Decimal::ZERO, |ch| ch.amount);
                let h = h3(w.seed, salt::PF, u64::from(ci), k as u64);
                // Power-factor adjustment: a reward or penalty of up to ~1.5%, often nil.
                let share = if unit(h) < 0.3 { 0.0 } else { between(h >> 1, -0.0075, 0.015) };
                Some(to_cents(base * Decimal::try_from(share).unwrap_or(Decimal::ZERO)))
            } else {
                None
            };
            let Some(ch) = t.charges(kwh_d, earlier, kva, pf) else { continue };
            let (mut energy, mut basic, mut pf_col, mut amount) = (ch.energy, ch.basic, pf, ch.amount);
            match plant {
                Some(PlantKind::PrcBill { month }) if month == k => {
                    // Keyed wrong: at least 50 yuan or 30% too much.
                    let delta = to_cents((amount * Decimal::new(3, 1)).max(Decimal::from(50)));
                    energy += delta;
                    amount += delta;
                }
                Some(PlantKind::PrcBasic { month }) if month == k => {
                    amount -= basic.unwrap_or(Decimal::ZERO);
                    basic = None;
                }
                Some(PlantKind::PrcPf { month }) if month == k => {
                    amount -= pf_col.unwrap_or(Decimal::ZERO);
                    pf_col = None;
                }
                _ => {}
            }
            let id = bill_id(w, ci, period);
            write_bill(
                bills,
                &id,
                &w.customer_id(ci),
                period,
                kwh,
                amount,
                t,
                Some(energy),
                basic,
                pf_col,
                issued,
                due,
            )?;
            // The bill themes, recomputed from what was written.
            if let Some(re) = t.charges(kwh_d, earlier, kva, pf_col)
                && bill_differs(amount, re.amount)
            {
                truth.insert(Truth::new("PRC-BILL", "bill", id.clone(), period));
            }
            if usage.all_known[ci as usize] {
                let diff = (kwh - metered).abs();
                if diff > 100 && diff * 100 > metered.abs() {
                    truth.insert(Truth::new("PRC-KWH", "bill", id.clone(), period));
                }
            }
            if t.is_two_part() && c.contract_kva > 0 && basic.is_none_or(|b| b.is_zero()) {
                truth.insert(Truth::new("PRC-BASIC", "bill", id.clone(), period));
            }
            if matches!(c.category, Category::Commercial | Category::Industrial | Category::Agriculture)
                && c.contract_kva >= 100
                && pf_col.is_none()
            {
                truth.insert(Truth::new("PRC-PF", "bill", id.clone(), period));
            }
            let ytd = &mut self.ytd[ci as usize];
            if ytd.0 == period.year() {
                ytd.1 += kwh;
            } else {
                *ytd = (period.year(), kwh);
            }
            // Payments.
            let payments =
                if amount > Decimal::ZERO { self.payments(ci, k, issued, due, amount) } else { Vec::new() };
            self.write_payments(pays, &id, &payments, ci)?;
            self.arrears(&id, amount, due, &payments, truth);
            if amount > Decimal::ZERO
                && let Some(j) = (0..w.cal.months.len())
                    .find(|&j| w.cal.months[j].first <= due && due <= w.cal.months[j].last())
            {
                let as_of = w.cal.months[j].as_of();
                let paid: Decimal = payments.iter().filter(|p| p.0 <= as_of).map(|p| p.1).sum();
                let (_, station) = written_topology(w, ci);
                let r = &mut self.recovery[station as usize][j];
                r.0 += amount;
                r.1 += paid.min(amount);
            }
        }
        Ok(())
    }

    /// When and how a bill is paid. Payments after the extract date are not in the data.
    fn payments(&self, ci: u32, k: usize, issued: i32, due: i32, amount: Decimal) -> Vec<Payment> {
        let w = self.w;
        let c = &w.customers[ci as usize];
        let h = h3(w.seed, salt::PAY, u64::from(ci), k as u64);
        let due_month_end = to_epoch_days(Period::of(from_epoch_days(due)).last_day());
        // FEE-RECOVERY goes by the station the archive names, so the late payers are chosen by it.
        let (_, station) = written_topology(w, ci);
        let late_station = w.stations[station as usize].late_month == k + 1;
        let mut out = Vec::new();
        if late_station && (h.is_multiple_of(3) || c.voltage == Voltage::Kv10) {
            // FEE-RECOVERY plant: paid a few days after the as-of date of the month it fell due.
            out.push((due_month_end + 2 + ((h >> 20) % 8) as i32, amount));
        } else {
            let u = unit(h);
            if u < 0.9 {
                out.push((issued + ((h >> 20) % (due - issued) as u64) as i32, amount));
            } else if u < 0.97 {
                // Late, but within the month it fell due in: the station still recovers it all.
                let span = (due_month_end - due).max(1) as u64;
                out.push((due + 1 + ((h >> 20) % span) as i32, amount));
            } else {
                let first = to_cents(amount / Decimal::from(2));
                out.push((issued + 3, first));
                out.push((due - 2, amount - first));
            }
        }
        out.retain(|p| p.0 <= w.cal.extract);
        out
    }

    fn write_payments(
        &mut self,
        pays: &mut TableFile,
        bill: &str,
        payments: &[Payment],
        ci: u32,
    ) -> Result<()> {
        for &(day, amount) in payments {
            self.pay_seq += 1;
            let d = from_epoch_days(day);
            let id = format!("{:04}{:02}{:010}", d.year(), d.month(), self.pay_seq);
            let ch =
                CHANNELS[(h3(self.w.seed, salt::PAY, u64::from(ci), 99) % CHANNELS.len() as u64) as usize];
            pays.text(&id).text(bill).day(day).money(amount).text(ch).end()?;
        }
        Ok(())
    }

    /// FEE-ARREARS of one bill in every generated month.
    fn arrears(
        &self,
        id: &str,
        amount: Decimal,
        due: i32,
        payments: &[Payment],
        truth: &mut BTreeSet<Truth>,
    ) {
        if amount <= Decimal::ZERO {
            return;
        }
        for m in &self.w.cal.months {
            let as_of = m.as_of();
            let paid: Decimal = payments.iter().filter(|p| p.0 <= as_of).map(|p| p.1).sum();
            if as_of - due > 30 && paid < amount - Decimal::new(1, 2) {
                truth.insert(Truth::new("FEE-ARREARS", "bill", id.to_string(), m.period));
            }
        }
    }

    /// FEE-RECOVERY of every station and month.
    pub fn finish(&mut self, truth: &mut BTreeSet<Truth>) {
        for (si, months) in self.recovery.iter().enumerate() {
            for (j, &(due, paid)) in months.iter().enumerate() {
                if due <= Decimal::ZERO {
                    continue;
                }
                let rate = paid / due;
                let r = f64::try_from(rate).unwrap_or(1.0);
                self.margins.check(&format!("FEE-RECOVERY {si}"), 1.0 - r, 0.005);
                if rate < Decimal::new(995, 3) {
                    truth.insert(Truth::new(
                        "FEE-RECOVERY",
                        "station",
                        self.w.stations[si].id.clone(),
                        self.w.cal.months[j].period,
                    ));
                }
            }
        }
    }
}

/// 缴费截止日期: the 25th of the month after the period.
fn due_day(period: Period) -> i32 {
    let n = period.next();
    to_epoch_days(NaiveDate::from_ymd_opt(n.year(), n.month(), 25).unwrap_or(n.first_day()))
}

#[allow(clippy::too_many_arguments)]
fn write_bill(
    out: &mut TableFile,
    id: &str,
    customer: &str,
    period: Period,
    kwh: i64,
    amount: Decimal,
    t: &Tariff,
    energy: Option<Decimal>,
    basic: Option<Decimal>,
    pf: Option<Decimal>,
    issued: i32,
    due: i32,
) -> Result<()> {
    out.text(id).text(customer).text(&period.to_string()).hundredths(kwh).money(amount).text(&t.tariff_code);
    for v in [energy, basic, pf] {
        match v {
            Some(v) => out.money(v),
            None => out.empty(),
        };
    }
    out.day(issued).day(due).end()
}
