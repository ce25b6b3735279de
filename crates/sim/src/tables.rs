//! The archive tables (stations, feeders, areas, customers, meters, tariffs, staff) and the event
//! tables (work orders, outages, field checks, surveys), written from the world.

use std::path::Path;

use anyhow::Result;
use jicha_core::codes::{Ownership, PointType};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::events::Events;
use crate::sink::{FileStat, TableFile};
use crate::truth::{written_address, written_phone, written_topology};
use crate::world::{NO_DAY, NONE, TARIFF_CODES, World};

fn open(dir: &Path, table: &str, gbk: bool) -> Result<TableFile> {
    TableFile::create(dir, &format!("{table}.csv"), table, gbk)
}

/// Writes the archive tables.
pub fn archives(w: &World, dir: &Path, gbk: bool) -> Result<Vec<FileStat>> {
    let mut stats = Vec::new();
    let mut t = open(dir, "stations", gbk)?;
    for s in &w.stations {
        t.text(&s.id).text(&s.name).text(crate::names::COMPANY).end()?;
    }
    stats.push(t.finish()?);

    let mut t = open(dir, "feeders", gbk)?;
    for f in &w.feeders {
        t.text(&f.id).text(&f.name).text(&w.stations[f.station as usize].id).int(10).end()?;
    }
    stats.push(t.finish()?);

    let mut t = open(dir, "transformer_areas", gbk)?;
    for a in &w.areas {
        t.text(&a.id)
            .text(&a.name)
            .text(&w.feeders[a.feeder as usize].id)
            .text(&w.stations[a.station as usize].id);
        t.int(u64::from(a.capacity_kva)).text(Ownership::Public.code()).end()?;
    }
    stats.push(t.finish()?);

    let mut t = open(dir, "customers", gbk)?;
    for (ci, c) in w.customers.iter().enumerate() {
        let ci = ci as u32;
        let (feeder, station) = written_topology(w, ci);
        t.text(&w.customer_id(ci))
            .text(&w.customer_name(ci))
            .text(&written_address(w, ci))
            .text(c.category.code());
        t.text(TARIFF_CODES[c.tariff as usize]).text(c.voltage.text()).int(u64::from(c.contract_kva));
        t.text(&w.stations[station as usize].id).text(&w.feeders[feeder as usize].id);
        if c.area != NONE {
            t.text(&w.areas[c.area as usize].id);
        } else {
            t.empty();
        }
        t.text(c.status.code()).day(c.opened).day(c.closed).text(&written_phone(w, ci));
        t.text(&format!("{:04}{:03}", c.station + 1, c.segment))
            .text(&w.staff[c.reader as usize].id)
            .flag(c.temporary);
        t.day(if c.temporary { c.temp_expires } else { NO_DAY }).end()?;
    }
    stats.push(t.finish()?);

    let mut t = open(dir, "meters", gbk)?;
    for m in &w.meters {
        let c = &w.customers[m.customer as usize];
        t.text(m.id_str()).text(&w.customer_id(m.customer)).int(u64::from(m.multiplier));
        match m.ct_written.or(m.ct) {
            Some((a, b)) => t.text(&format!("{a}/{b}")),
            None => t.empty(),
        };
        if m.pt {
            t.text("10000/100");
        } else {
            t.empty();
        }
        t.day(m.installed).day(m.removed).day(m.verified);
        if m.sealed {
            let n: u64 = std::str::from_utf8(&m.id[4..]).unwrap_or("0").parse().unwrap_or(0);
            t.text(&format!("HB{:010};HB{:010}", n, (n * 7 + 13) % 10_000_000_000));
        } else {
            t.empty();
        }
        let kind = if m.pt {
            "三相三线智能电能表(高压)"
        } else if m.ct.is_some() {
            "三相四线智能电能表(经互感器)"
        } else if c.voltage == crate::world::Voltage::V380 {
            "三相四线智能电能表"
        } else {
            "单相智能电能表"
        };
        t.text(kind).end()?;
    }
    stats.push(t.finish()?);

    let mut t = open(dir, "tariffs", gbk)?;
    for r in &w.tariffs {
        t.text(&r.tariff_code).text(&r.name).text(r.category.code()).decimal(r.price);
        for v in [r.price_peak, r.price_valley] {
            match v {
                Some(v) => t.decimal(v),
                None => t.empty(),
            };
        }
        t.text(r.step_basis.code());
        for v in [r.step1_kwh, r.step2_kwh, r.step2_price, r.step3_price, r.basic_per_kva] {
            match v {
                Some(v) => t.decimal(v),
                None => t.empty(),
            };
        }
        t.day(jicha_core::calendar::to_epoch_days(r.valid_from));
        t.day(r.valid_to.map_or(NO_DAY, jicha_core::calendar::to_epoch_days)).end()?;
    }
    stats.push(t.finish()?);

    let mut t = open(dir, "staff", gbk)?;
    for s in &w.staff {
        t.text(&s.id)
            .text(&s.name)
            .text(&w.stations[s.station as usize].id)
            .text(s.role.code())
            .text(&s.phone)
            .end()?;
    }
    stats.push(t.finish()?);
    Ok(stats)
}

/// Writes the event tables.
pub fn events(w: &World, ev: &Events, dir: &Path, gbk: bool, rng: &mut ChaCha8Rng) -> Result<Vec<FileStat>> {
    let mut stats = Vec::new();
    let mut t = open(dir, "work_orders", gbk)?;
    for o in &ev.orders {
        t.text(&o.id).text(o.kind.code());
        if o.customer != NONE {
            t.text(&w.customer_id(o.customer));
        } else {
            t.empty();
        }
        t.text(&w.stations[o.station as usize].id).text(o.voltage.text());
        t.datetime(Some(o.accepted))
            .datetime(o.surveyed)
            .datetime(o.scheme)
            .datetime(o.connected)
            .datetime(o.archived);
        t.text(o.status.code()).text(&w.staff[o.handler as usize].id);
        match o.fees {
            Some(f) => t.hundredths(f),
            None => t.empty(),
        };
        t.end()?;
    }
    stats.push(t.finish()?);

    let mut t = open(dir, "outages", gbk)?;
    for o in &ev.outages {
        let scope = match o.scope {
            PointType::Tq => &w.areas[o.index as usize].id,
            PointType::Feeder => &w.feeders[o.index as usize].id,
        };
        t.text(&o.id).text(o.scope.code()).text(scope).datetime(Some(o.start)).datetime(Some(o.end));
        t.flag(o.planned).int(u64::from(o.affected)).end()?;
    }
    stats.push(t.finish()?);

    let mut t = open(dir, "field_checks", gbk)?;
    for ch in &ev.checks {
        t.text(&ch.id).text(&w.customer_id(ch.customer)).day(ch.day).text(&w.staff[ch.inspector as usize].id);
        t.text(ch.kind.code())
            .flag(ch.seal_intact)
            .flag(true)
            .flag(false)
            .empty()
            .empty()
            .text(ch.finding)
            .end()?;
    }
    stats.push(t.finish()?);

    let mut t = open(dir, "surveys", gbk)?;
    for m in &w.cal.months {
        for s in &w.stations {
            let score = rng.random_range(9_500..9_950);
            t.text(&s.id).text(&m.period.to_string()).hundredths(score).text("第三方测评").end()?;
        }
    }
    stats.push(t.finish()?);
    Ok(stats)
}
