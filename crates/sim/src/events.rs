//! Counter business work orders (业务工单), outages (停电事件), field checks (现场检查) and
//! satisfaction surveys (满意度测评) of the window. Normal ones stay well inside every limit:
//! connections within their time limits, archiving within 4 days, at most one unplanned outage
//! per area and per feeder a month, every seal intact.

use chrono::{Duration, NaiveDateTime, NaiveTime};
use jicha_core::calendar::from_epoch_days;
use jicha_core::codes::{Category, CheckKind, CustomerStatus, PointType, WorkOrderKind, WorkOrderStatus};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::plants::{OrderPlant, Plan, PlantKind};
use crate::world::{NONE, Voltage, World};

/// 业务工单.
#[derive(Debug, Clone)]
pub struct WorkOrder {
    /// 工单编号.
    pub id: String,
    /// 业务类型.
    pub kind: WorkOrderKind,
    /// Customer index or `NONE`.
    pub customer: u32,
    /// Station index.
    pub station: u32,
    /// 电压等级.
    pub voltage: Voltage,
    /// 受理时间.
    pub accepted: NaiveDateTime,
    /// 现场勘查时间.
    pub surveyed: Option<NaiveDateTime>,
    /// 答复供电方案时间.
    pub scheme: Option<NaiveDateTime>,
    /// 装表接电时间.
    pub connected: Option<NaiveDateTime>,
    /// 归档时间.
    pub archived: Option<NaiveDateTime>,
    /// 工单状态.
    pub status: WorkOrderStatus,
    /// Handler (staff index).
    pub handler: u32,
    /// 收取业务费用, yuan hundredths; `None` when empty.
    pub fees: Option<i64>,
}

/// 停电事件.
#[derive(Debug, Clone)]
pub struct Outage {
    /// 停电编号.
    pub id: String,
    /// Area or feeder.
    pub scope: PointType,
    /// Area or feeder index.
    pub index: u32,
    /// 停电开始时间.
    pub start: NaiveDateTime,
    /// 复电时间.
    pub end: NaiveDateTime,
    /// 计划停电.
    pub planned: bool,
    /// 停电户数.
    pub affected: u32,
}

/// 现场检查.
#[derive(Debug, Clone)]
pub struct FieldCheck {
    /// 检查编号.
    pub id: String,
    /// Customer index.
    pub customer: u32,
    /// 检查日期.
    pub day: i32,
    /// Inspector (staff index).
    pub inspector: u32,
    /// 检查类型.
    pub kind: CheckKind,
    /// 封印完好.
    pub seal_intact: bool,
    /// 检查情况.
    pub finding: &'static str,
}

/// Everything that happened in the window besides consumption and billing.
#[derive(Debug, Default)]
pub struct Events {
    /// Work orders, in id order.
    pub orders: Vec<WorkOrder>,
    /// Outages, in id order.
    pub outages: Vec<Outage>,
    /// Field checks, in id order.
    pub checks: Vec<FieldCheck>,
}

fn at(day: i32, minutes: i64) -> NaiveDateTime {
    NaiveDateTime::new(from_epoch_days(day), NaiveTime::MIN) + Duration::minutes(minutes)
}

/// Draws the window's events and the planted ones.
pub fn build(w: &World, plan: &mut Plan, rng: &mut ChaCha8Rng) -> Events {
    let mut ev = Events::default();
    orders(w, plan, rng, &mut ev);
    outages(w, plan, rng, &mut ev);
    checks(w, rng, &mut ev);
    ev
}

fn handler(w: &World, station: u32, rng: &mut ChaCha8Rng) -> u32 {
    let s = &w.station_staff[station as usize];
    s.readers[rng.random_range(0..s.readers.len())]
}

fn orders(w: &World, plan: &mut Plan, rng: &mut ChaCha8Rng, ev: &mut Events) {
    let extract = w.cal.extract;
    let extract_at = at(extract, 0);
    let mut list: Vec<WorkOrder> = Vec::new();
    let planted: std::collections::BTreeSet<u32> = plan
        .orders
        .iter()
        .filter_map(|o| match *o {
            OrderPlant::OvertimeResident { customer, .. }
            | OrderPlant::ArchiveLate { customer, .. }
            | OrderPlant::ArchiveNever { customer, .. }
            | OrderPlant::Fee { customer, .. } => Some(customer),
            _ => None,
        })
        .collect();
    let new_order = |c: u32,
                     kind: WorkOrderKind,
                     accepted: NaiveDateTime,
                     connected: Option<NaiveDateTime>,
                     archive_after: Option<Duration>,
                     h: u32| {
        let cu = &w.customers[c as usize];
        let archived = match (connected, archive_after) {
            (Some(t), Some(a)) if t + a <= extract_at => Some(t + a),
            _ => None,
        };
        let status = match (connected, archived) {
            (_, Some(_)) => WorkOrderStatus::Archived,
            (Some(_), None) => WorkOrderStatus::Done,
            (None, None) => WorkOrderStatus::Open,
        };
        let span = connected.map(|t| t - accepted);
        WorkOrder {
            id: String::new(),
            kind,
            customer: c,
            station: cu.station,
            voltage: cu.voltage,
            accepted,
            surveyed: span.map(|s| accepted + s / 4),
            scheme: span.map(|s| accepted + s / 2),
            connected,
            archived,
            status,
            handler: h,
            fees: if kind == WorkOrderKind::NewConnection && cu.voltage.is_low() { Some(0) } else { None },
        }
    };
    // Every new connection of the window has its order; the connection time limits (5 days for
    // residents, 15 for other low voltage, 60 for 10 kV) are never approached.
    for (ci, c) in w.customers.iter().enumerate() {
        let ci = ci as u32;
        if c.opened >= w.cal.start && !planted.contains(&ci) {
            let connected = at(c.opened, rng.random_range(9 * 60..16 * 60));
            let minutes = if c.category == Category::Resident {
                rng.random_range(24 * 60..3 * 24 * 60)
            } else {
                rng.random_range(3 * 24 * 60..10 * 24 * 60)
            };
            let accepted = connected - Duration::minutes(minutes);
            let archive = Duration::minutes(rng.random_range(24 * 60..4 * 24 * 60));
            let h = handler(w, c.station, rng);
            list.push(new_order(
                ci,
                WorkOrderKind::NewConnection,
                accepted,
                Some(connected),
                Some(archive),
                h,
            ));
        }
        // Meter replacements (换表) of the window.
        for mi in w.meters_of(ci) {
            let m = &w.meters[mi];
            if mi > c.meter0 as usize && m.installed >= w.cal.start {
                let connected = at(m.installed, rng.random_range(9 * 60..15 * 60));
                let accepted = connected - Duration::minutes(rng.random_range(24 * 60..3 * 24 * 60));
                let archive = Duration::minutes(rng.random_range(12 * 60..3 * 24 * 60));
                let h = handler(w, c.station, rng);
                list.push(new_order(
                    ci,
                    WorkOrderKind::MeterReplacement,
                    accepted,
                    Some(connected),
                    Some(archive),
                    h,
                ));
            }
        }
        if c.status == CustomerStatus::Active && c.plant == NONE && c.opened < w.cal.start - 200 {
            let r: f64 = rng.random();
            let months = w.cal.months.len() as f64;
            if r < 0.002 * months && c.category != Category::Resident {
                // 增容: 10 kV within 20-45 days, low voltage within 3-10.
                let day = rng.random_range(w.cal.start + 2..w.cal.end);
                let connected = at(day, rng.random_range(9 * 60..16 * 60));
                let days = if c.voltage == Voltage::Kv10 {
                    rng.random_range(20..45)
                } else {
                    rng.random_range(3..10)
                };
                let accepted = connected - Duration::minutes(days * 24 * 60 + rng.random_range(0..600));
                let archive = Duration::minutes(rng.random_range(24 * 60..4 * 24 * 60));
                let h = handler(w, c.station, rng);
                list.push(new_order(
                    ci,
                    WorkOrderKind::CapacityIncrease,
                    accepted,
                    Some(connected),
                    Some(archive),
                    h,
                ));
            } else if r < 0.004 * months {
                // 更名、改类 and other counter business without a connection: archived within days.
                let day = rng.random_range(w.cal.start..w.cal.end);
                let accepted = at(day, rng.random_range(8 * 60..17 * 60));
                let kind =
                    if rng.random_bool(0.7) { WorkOrderKind::Other } else { WorkOrderKind::CategoryChange };
                let h = handler(w, c.station, rng);
                let mut o = new_order(ci, kind, accepted, None, None, h);
                let archived = accepted + Duration::minutes(rng.random_range(6 * 60..5 * 24 * 60));
                if archived <= extract_at {
                    o.archived = Some(archived);
                    o.status = WorkOrderStatus::Archived;
                } else if archived - accepted > Duration::days(10) {
                    o.status = WorkOrderStatus::Done;
                }
                list.push(o);
            }
        }
    }
    // Orders without a customer yet: a few cancelled, a few still in progress at the extract date
    // (accepted at most 4 days before it at low voltage, 20 at 10 kV: under every limit).
    for s in 0..w.stations.len() as u32 {
        for _ in 0..(1 + w.cal.months.len() / 3) {
            let day = rng.random_range(w.cal.start..w.cal.end);
            let h = handler(w, s, rng);
            list.push(WorkOrder {
                id: String::new(),
                kind: WorkOrderKind::NewConnection,
                customer: NONE,
                station: s,
                voltage: Voltage::V220,
                accepted: at(day, rng.random_range(8 * 60..17 * 60)),
                surveyed: None,
                scheme: None,
                connected: None,
                archived: None,
                status: WorkOrderStatus::Cancelled,
                handler: h,
                fees: Some(0),
            });
        }
        let hv = rng.random_bool(0.5);
        let back = if hv { rng.random_range(60..20 * 24 * 60) } else { rng.random_range(60..4 * 24 * 60) };
        let h = handler(w, s, rng);
        list.push(WorkOrder {
            id: String::new(),
            kind: WorkOrderKind::NewConnection,
            customer: NONE,
            station: s,
            voltage: if hv { Voltage::Kv10 } else { Voltage::V380 },
            accepted: extract_at - Duration::minutes(back),
            surveyed: None,
            scheme: None,
            connected: None,
            archived: None,
            status: WorkOrderStatus::Open,
            handler: h,
            fees: if hv { None } else { Some(0) },
        });
    }
    // Planted orders.
    let a0 = at(w.cal.months[0].as_of(), 0);
    let mut expect: Vec<(usize, &'static str, Option<&'static str>)> = Vec::new();
    for o in plan.orders.clone() {
        let idx = list.len();
        match o {
            OrderPlant::OvertimeResident { customer, day } => {
                let connected = at(day, 10 * 60);
                let h = handler(w, w.customers[customer as usize].station, rng);
                list.push(new_order(
                    customer,
                    WorkOrderKind::NewConnection,
                    connected - Duration::days(10),
                    Some(connected),
                    Some(Duration::days(2)),
                    h,
                ));
                expect.push((idx, "BIZ-OVERTIME", None));
            }
            OrderPlant::OvertimeCapacity { customer, day } => {
                let connected = at(day, 10 * 60);
                let h = handler(w, w.customers[customer as usize].station, rng);
                list.push(new_order(
                    customer,
                    WorkOrderKind::CapacityIncrease,
                    connected - Duration::days(75),
                    Some(connected),
                    Some(Duration::days(2)),
                    h,
                ));
                expect.push((idx, "BIZ-OVERTIME", None));
            }
            OrderPlant::OvertimeOpen => {
                let h = handler(w, 0, rng);
                list.push(WorkOrder {
                    id: String::new(),
                    kind: WorkOrderKind::NewConnection,
                    customer: NONE,
                    station: 0,
                    voltage: Voltage::V380,
                    accepted: a0 - Duration::days(20) + Duration::hours(9),
                    surveyed: Some(a0 - Duration::days(18) + Duration::hours(15)),
                    scheme: None,
                    connected: None,
                    archived: None,
                    status: WorkOrderStatus::Open,
                    handler: h,
                    fees: Some(0),
                });
                expect.push((idx, "BIZ-OVERTIME", Some("BIZ-BACKLOG")));
            }
            OrderPlant::Backlog { customer } => {
                let h = handler(w, w.customers[customer as usize].station, rng);
                let mut wo = new_order(
                    customer,
                    WorkOrderKind::Other,
                    a0 - Duration::days(45) + Duration::hours(10),
                    None,
                    None,
                    h,
                );
                wo.status = WorkOrderStatus::Open;
                list.push(wo);
                expect.push((idx, "BIZ-BACKLOG", None));
            }
            OrderPlant::ArchiveLate { customer, day } => {
                let connected = at(day, 10 * 60);
                let h = handler(w, w.customers[customer as usize].station, rng);
                list.push(new_order(
                    customer,
                    WorkOrderKind::NewConnection,
                    connected - Duration::days(2),
                    Some(connected),
                    Some(Duration::days(15)),
                    h,
                ));
                expect.push((idx, "BIZ-ARCHIVE", None));
            }
            OrderPlant::ArchiveNever { customer, day } => {
                let connected = at(day, 10 * 60);
                let h = handler(w, w.customers[customer as usize].station, rng);
                list.push(new_order(
                    customer,
                    WorkOrderKind::NewConnection,
                    connected - Duration::days(2),
                    Some(connected),
                    None,
                    h,
                ));
                expect.push((idx, "BIZ-ARCHIVE", None));
            }
            OrderPlant::Fee { customer, day } => {
                let connected = at(day, 10 * 60);
                let h = handler(w, w.customers[customer as usize].station, rng);
                let mut wo = new_order(
                    customer,
                    WorkOrderKind::NewConnection,
                    connected - Duration::days(2),
                    Some(connected),
                    Some(Duration::days(2)),
                    h,
                );
                wo.fees = Some(30_000);
                list.push(wo);
                expect.push((idx, "BIZ-FEE", None));
            }
        }
    }
    // Ids in acceptance order, as a counter system numbers them.
    let mut order: Vec<usize> = (0..list.len()).collect();
    order.sort_by_key(|&i| (list[i].accepted, i));
    let mut ids = vec![String::new(); list.len()];
    for (seq, &i) in order.iter().enumerate() {
        let d = list[i].accepted.date();
        ids[i] = format!("{}{:07}", d.format("%y%m"), seq + 1);
    }
    for (i, o) in list.iter_mut().enumerate() {
        o.id = std::mem::take(&mut ids[i]);
    }
    for (idx, theme, also) in expect {
        plan.expect_finding(theme, list[idx].id.clone());
        if let Some(t) = also {
            plan.allow(t, list[idx].id.clone());
        }
    }
    let mut sorted: Vec<WorkOrder> = Vec::with_capacity(list.len());
    for &i in &order {
        sorted.push(list[i].clone());
    }
    ev.orders = sorted;
}

fn outages(w: &World, plan: &Plan, rng: &mut ChaCha8Rng, ev: &mut Events) {
    let mut list = Vec::new();
    let feeder_customers: Vec<u32> = {
        let mut v = vec![0u32; w.feeders.len()];
        for c in &w.customers {
            if c.status != CustomerStatus::Closed {
                v[c.feeder as usize] += 1;
            }
        }
        v
    };
    let area_customers = |a: u32| {
        let ar = &w.areas[a as usize];
        (ar.customers.0..ar.customers.1)
            .filter(|&c| w.customers[c as usize].status != CustomerStatus::Closed)
            .count() as u32
    };
    for (k, m) in w.cal.months.iter().enumerate() {
        let mut event = |scope: PointType,
                         index: u32,
                         planned: bool,
                         hours: (i64, i64),
                         affected: u32,
                         rng: &mut ChaCha8Rng| {
            let day = m.first + rng.random_range(0..m.days);
            let start = at(day, rng.random_range(7 * 60..18 * 60));
            let end = start + Duration::minutes(rng.random_range(hours.0 * 60..hours.1 * 60));
            list.push(Outage { id: String::new(), scope, index, start, end, planned, affected });
        };
        // At most one unplanned outage per feeder and per area a month: an area sees at most two
        // with its feeder's, under SVC-REPEAT's three.
        for f in 0..w.feeders.len() as u32 {
            if rng.random_bool(0.3) {
                event(PointType::Feeder, f, false, (1, 5), feeder_customers[f as usize], rng);
            }
            if rng.random_bool(0.2) {
                event(PointType::Feeder, f, true, (3, 8), feeder_customers[f as usize], rng);
            }
        }
        for a in 0..w.areas.len() as u32 {
            if rng.random_bool(0.05) {
                event(PointType::Tq, a, false, (1, 4), area_customers(a), rng);
            }
            if rng.random_bool(0.03) {
                event(PointType::Tq, a, true, (2, 6), area_customers(a), rng);
            }
        }
        for &(a, month) in &plan.outages {
            if month == k {
                for _ in 0..4 {
                    event(PointType::Tq, a, false, (1, 4), area_customers(a), rng);
                }
            }
        }
    }
    list.sort_by_key(|o| o.start);
    for (i, o) in list.iter_mut().enumerate() {
        o.id = format!("TD{}{:06}", o.start.date().format("%y%m"), i + 1);
    }
    ev.outages = list;
}

fn checks(w: &World, rng: &mut ChaCha8Rng, ev: &mut Events) {
    let mut list = Vec::new();
    let s = w.cal.start;
    let ndays = w.cal.end - s + 1;
    for (ci, c) in w.customers.iter().enumerate() {
        let ci = ci as u32;
        if c.status == CustomerStatus::Closed {
            continue;
        }
        let staff = &w.station_staff[c.station as usize];
        let inspector = staff.inspectors[rng.random_range(0..staff.inspectors.len())];
        let broken = c.plant != NONE && w.plants[c.plant as usize].kind == PlantKind::MtrSealBroken;
        if broken {
            // Found before the window and not put right since: it stays the customer's latest check.
            list.push(FieldCheck {
                id: String::new(),
                customer: ci,
                day: s - 20,
                inspector,
                kind: CheckKind::Routine,
                seal_intact: false,
                finding: "计量箱封印缺失,已告知客户",
            });
            continue;
        }
        // The census (营业普查) covers every non-resident customer over the window; residents
        // are spot-checked at random.
        let census = c.category != Category::Resident && rng.random_bool(0.6);
        let spot = c.category == Category::Resident && rng.random_bool(0.01 * w.cal.months.len() as f64);
        if census || spot {
            let from = c.opened.max(s) - s;
            if from >= ndays {
                continue;
            }
            let day = s + rng.random_range(from..ndays);
            let kind = if census { CheckKind::Census } else { CheckKind::Spot };
            let finding =
                ["正常", "计量装置运行正常", "未发现异常", "用电正常,已宣传安全用电"][rng.random_range(0..4)];
            list.push(FieldCheck {
                id: String::new(),
                customer: ci,
                day,
                inspector,
                kind,
                seal_intact: true,
                finding,
            });
        }
    }
    list.sort_by_key(|c| (c.day, c.customer));
    for (i, c) in list.iter_mut().enumerate() {
        c.id = format!("JC{}{:07}", from_epoch_days(c.day).format("%y%m"), i + 1);
    }
    ev.checks = list;
}
