//! The month pass: daily registers of every meter streamed to `readings-YYYY-MM.csv`, computed
//! in parallel over chunks of customers (each chunk writes its own buffer; buffers are written in
//! chunk order, so output does not depend on scheduling), while the same loop derives each
//! customer's daily consumption, the areas' and feeders' daily sums, and evaluates the register
//! and consumption themes. Supply follows from the consumption plus the loss of each area and
//! line, and the loss themes and DAY-SUPPLY are evaluated on it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender};

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::Progress;
use crate::hash::{h3, salt};
use crate::model::{DayUse, MonthShape, day_use, loss_on, missing_days};
use crate::plants::PlantKind;
use crate::sink::{FileStat, TableFile, date_bytes, push_hundredths};
use crate::truth::{Margins, Truth};
use crate::world::{Month, NONE, World};

/// Days kept per customer: the 90-day baseline before a month plus the month itself.
const RING: usize = 128;
/// Unknown consumption in the ring.
const UNKNOWN: i32 = i32::MIN;
/// Customers per chunk of parallel work.
const CHUNK: usize = 2048;
/// Chunks generated before their buffers are handed to the writer: bounds memory.
const WINDOW: usize = 16;

/// Register state of a meter between days (hundredths of a kWh, register units).
#[derive(Debug, Clone, Copy)]
struct RegState {
    total: i64,
    peak: i64,
    flat: i64,
    valley: i64,
    /// The last register date written, its value and whether it was collected.
    prev_day: i32,
    prev_total: i64,
    prev_known: bool,
    /// VOL-TOU plant: the peak register's offset once the fault started.
    tou_offset: i64,
}

/// A transformer area's month, summed over its customers.
#[derive(Clone)]
pub struct AreaDays {
    /// Metered consumption of the customers, known days (hundredths of a kWh).
    pub cons: [i64; 31],
    /// Energy drawn (metered + stolen), every day.
    pub drawn: [i64; 31],
    /// Every customer active that day has a known consumption.
    pub valid: [bool; 31],
}

impl Default for AreaDays {
    fn default() -> Self {
        AreaDays { cons: [0; 31], drawn: [0; 31], valid: [true; 31] }
    }
}

/// Messages to the thread writing the readings files.
pub enum ReadingsMsg {
    /// Start a new file.
    Open(PathBuf, String),
    /// Rows to append.
    Data(Vec<u8>, u64),
}

/// Buffers handed back by the writer for the next chunks: reusing them spares the kernel from
/// zeroing fresh pages for every chunk (a seventh of the run time otherwise).
pub type BufferPool = std::sync::Mutex<Vec<Vec<u8>>>;

/// Messages queued to the writer at most: two windows, so generation never waits for the disk
/// unless the disk is really behind.
pub const QUEUE: usize = 2 * WINDOW;

/// The thread writing readings files, so that formatting and disk writes overlap.
pub fn readings_writer(rx: Receiver<ReadingsMsg>, pool: &BufferPool) -> Result<Vec<FileStat>> {
    use std::io::Write;
    let mut stats = Vec::new();
    let mut cur: Option<(std::io::BufWriter<std::fs::File>, FileStat)> = None;
    let close = |cur: &mut Option<(std::io::BufWriter<std::fs::File>, FileStat)>,
                 stats: &mut Vec<FileStat>|
     -> Result<()> {
        if let Some((mut f, st)) = cur.take() {
            f.flush().with_context(|| format!("cannot write {}", st.name))?;
            stats.push(st);
        }
        Ok(())
    };
    for msg in rx {
        match msg {
            ReadingsMsg::Open(path, name) => {
                close(&mut cur, &mut stats)?;
                let f = std::fs::File::create(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                let mut f = std::io::BufWriter::with_capacity(4 << 20, f);
                let header = b"meter_id,date,total,peak,flat,valley\n";
                f.write_all(header).with_context(|| format!("cannot write {name}"))?;
                cur = Some((f, FileStat { name, rows: 0, bytes: header.len() as u64 }));
            }
            ReadingsMsg::Data(buf, rows) => {
                if let Some((f, st)) = cur.as_mut() {
                    f.write_all(&buf).with_context(|| format!("cannot write {}", st.name))?;
                    st.rows += rows;
                    st.bytes += buf.len() as u64;
                }
                let mut buf = buf;
                buf.clear();
                if let Ok(mut p) = pool.lock()
                    && p.len() < QUEUE + WINDOW
                {
                    p.push(buf);
                }
            }
        }
    }
    close(&mut cur, &mut stats)?;
    Ok(stats)
}

/// What a month leaves for billing.
pub struct MonthUsage {
    /// Metered kWh of each customer in the month (hundredths), over the days a meter served.
    pub kwh: Vec<i64>,
    /// Every day of the month known (PRC-KWH checks only those bills).
    pub all_known: Vec<bool>,
    /// Some meter served the customer in the month: it gets a bill.
    pub billed: Vec<bool>,
}

/// State carried from month to month.
pub struct Pass<'a> {
    w: &'a World,
    states: Vec<RegState>,
    hist: Vec<i32>,
    usage: MonthUsage,
    /// Daily supply of each station: sum of its areas' supply (the reading of "its transformer
    /// areas and feeders without areas", every feeder having areas).
    station_tq: Vec<Vec<i64>>,
    /// Daily supply of each station as the sum of its feeders' supply, to check that the other
    /// reading of DAY-SUPPLY would find the same days.
    station_feeder: Vec<Vec<i64>>,
    chunks: Vec<(u32, u32, usize, usize)>,
    /// Closeness to thresholds.
    pub margins: Margins,
    /// Days where the two readings of DAY-SUPPLY disagree.
    pub day_supply_disagreements: usize,
}

struct Shared<'a> {
    w: &'a World,
    pool: &'a BufferPool,
    m: Month,
    k: usize,
    shape: MonthShape,
    dates: Vec<[u8; 10]>,
    reg_end: i32,
}

struct ChunkCtx<'a> {
    first: u32,
    last: u32,
    meter0: usize,
    states: &'a mut [RegState],
    hist: &'a mut [i32],
    kwh: &'a mut [i64],
    all_known: &'a mut [bool],
    billed: &'a mut [bool],
}

#[derive(Default)]
struct ChunkOut {
    buf: Vec<u8>,
    rows: u64,
    areas: Vec<(u32, AreaDays)>,
    direct: Vec<(u32, AreaDays)>,
    truth: Vec<Truth>,
    margins: Margins,
}

impl<'a> Pass<'a> {
    /// Prepares the pass: every meter at its starting register.
    pub fn new(w: &'a World) -> Pass<'a> {
        let states = w
            .meters
            .iter()
            .map(|m| {
                let t = m.start_register;
                let peak = t * 35 / 100;
                let valley = t * 25 / 100;
                RegState {
                    total: t,
                    peak,
                    flat: t - peak - valley,
                    valley,
                    prev_day: i32::MIN,
                    prev_total: 0,
                    prev_known: false,
                    tou_offset: 0,
                }
            })
            .collect();
        let n = w.customers.len();
        let days = (w.cal.end - w.cal.start + 1) as usize;
        let mut chunks = Vec::new();
        let mut c = 0usize;
        while c < n {
            let e = (c + CHUNK).min(n);
            let m0 = w.customers[c].meter0 as usize;
            let m1 = if e < n { w.customers[e].meter0 as usize } else { w.meters.len() };
            chunks.push((c as u32, e as u32, m0, m1));
            c = e;
        }
        Pass {
            w,
            states,
            hist: vec![UNKNOWN; n * RING],
            usage: MonthUsage { kwh: vec![0; n], all_known: vec![false; n], billed: vec![false; n] },
            station_tq: vec![vec![0; days]; w.stations.len()],
            station_feeder: vec![vec![0; days]; w.stations.len()],
            chunks,
            margins: Margins::default(),
            day_supply_disagreements: 0,
        }
    }

    /// Generates month `k`: streams its readings to `tx`, appends its supply rows, adds its
    /// findings to `truth`, and returns the customers' usage for billing.
    #[allow(clippy::too_many_arguments)]
    pub fn month(
        &mut self,
        k: usize,
        pool: &BufferPool,
        dir: &std::path::Path,
        tx: &SyncSender<ReadingsMsg>,
        supply: &mut TableFile,
        truth: &mut BTreeSet<Truth>,
        progress: &dyn Progress,
    ) -> Result<&MonthUsage> {
        let w = self.w;
        let m = w.cal.months[k];
        let last = k + 1 == w.cal.months.len();
        let reg_end = if last { m.last() + 1 } else { m.last() };
        let dates = (m.first..=reg_end).map(date_bytes).collect();
        let shared = Shared { w, pool, m, k, shape: MonthShape::new(&m), dates, reg_end };
        let name = format!("readings-{}.csv", m.period);
        tx.send(ReadingsMsg::Open(dir.join(&name), name.clone())).ok();
        let mut areas = vec![AreaDays::default(); w.areas.len()];
        let mut direct = vec![AreaDays::default(); w.feeders.len()];
        // Split the per-meter and per-customer state into disjoint slices, one per chunk.
        let mut ctxs: Vec<ChunkCtx> = Vec::with_capacity(self.chunks.len());
        {
            let mut states: &mut [RegState] = &mut self.states;
            let mut hist: &mut [i32] = &mut self.hist;
            let mut kwh: &mut [i64] = &mut self.usage.kwh;
            let mut known: &mut [bool] = &mut self.usage.all_known;
            let mut billed: &mut [bool] = &mut self.usage.billed;
            for &(c0, c1, m0, m1) in &self.chunks {
                let nc = (c1 - c0) as usize;
                let (s, rest) = std::mem::take(&mut states).split_at_mut(m1 - m0);
                states = rest;
                let (h, rest) = std::mem::take(&mut hist).split_at_mut(nc * RING);
                hist = rest;
                let (kw, rest) = std::mem::take(&mut kwh).split_at_mut(nc);
                kwh = rest;
                let (kn, rest) = std::mem::take(&mut known).split_at_mut(nc);
                known = rest;
                let (bl, rest) = std::mem::take(&mut billed).split_at_mut(nc);
                billed = rest;
                ctxs.push(ChunkCtx {
                    first: c0,
                    last: c1,
                    meter0: m0,
                    states: s,
                    hist: h,
                    kwh: kw,
                    all_known: kn,
                    billed: bl,
                });
            }
        }
        for window in ctxs.chunks_mut(WINDOW) {
            let outs: Vec<ChunkOut> = window.par_iter_mut().map(|cx| process(&shared, cx)).collect();
            for (cx, out) in window.iter().zip(outs) {
                progress.inc(u64::from(cx.last - cx.first));
                tx.send(ReadingsMsg::Data(out.buf, out.rows)).ok();
                for (a, d) in out.areas {
                    merge(&mut areas[a as usize], &d);
                }
                for (f, d) in out.direct {
                    merge(&mut direct[f as usize], &d);
                }
                truth.extend(out.truth);
                self.margins.merge(out.margins);
            }
        }
        self.supply(&m, &areas, &direct, supply, truth)?;
        Ok(&self.usage)
    }

    /// Supply of every area and feeder for the month, their loss themes, and DAY-SUPPLY.
    fn supply(
        &mut self,
        m: &Month,
        areas: &[AreaDays],
        direct: &[AreaDays],
        out: &mut TableFile,
        truth: &mut BTreeSet<Truth>,
    ) -> Result<()> {
        let w = self.w;
        let start = w.cal.start;
        let mut feeder_tq = vec![[0i64; 31]; w.feeders.len()];
        for (ai, a) in w.areas.iter().enumerate() {
            let d = &areas[ai];
            let (mut s_sum, mut c_sum, mut valid) = (0i64, 0i64, 0i32);
            for i in 0..m.days {
                let day = m.first + i;
                let loss = loss_on(w.seed, ai as u64, a.loss, day);
                let supply = (d.drawn[i as usize] as f64 / (1.0 - loss)).round() as i64;
                out.text("tq").text(&a.id).day(day).hundredths(supply).end()?;
                feeder_tq[a.feeder as usize][i as usize] += supply;
                self.station_tq[a.station as usize][(day - start) as usize] += supply;
                if d.valid[i as usize] {
                    s_sum += supply;
                    c_sum += d.cons[i as usize];
                    valid += 1;
                }
            }
            if valid * 2 >= m.days && s_sum > 0 {
                let rate = (s_sum - c_sum) as f64 / s_sum as f64;
                self.margins.check(&format!("LOSS-TQ {}", a.id), rate, 0.10);
                self.margins.check(&format!("LOSS-TQ-NEG {}", a.id), rate, -0.01);
                if (s_sum - c_sum) * 10 > s_sum {
                    truth.insert(Truth::new("LOSS-TQ-HIGH", "transformer_area", a.id.clone(), m.period));
                }
                if (s_sum - c_sum) * 100 < -s_sum {
                    truth.insert(Truth::new("LOSS-TQ-NEG", "transformer_area", a.id.clone(), m.period));
                }
            }
        }
        for (fi, f) in w.feeders.iter().enumerate() {
            let d = &direct[fi];
            let (mut f_sum, mut rest_sum, mut known) = (0i64, 0i64, 0i32);
            for i in 0..m.days {
                let day = m.first + i;
                let loss = loss_on(w.seed, (1 << 40) | fi as u64, f.line_loss, day);
                let tq = feeder_tq[fi][i as usize];
                let supply = ((tq + d.drawn[i as usize]) as f64 / (1.0 - loss)).round() as i64;
                out.text("feeder").text(&f.id).day(day).hundredths(supply).end()?;
                self.station_feeder[f.station as usize][(day - start) as usize] += supply;
                if d.valid[i as usize] {
                    f_sum += supply;
                    rest_sum += tq + d.cons[i as usize];
                    known += 1;
                }
            }
            if known * 2 >= m.days && f_sum > 0 {
                let rate = (f_sum - rest_sum) as f64 / f_sum as f64;
                self.margins.check(&format!("LOSS-FEEDER {}", f.id), rate, 0.06);
                if (f_sum - rest_sum) * 100 > 6 * f_sum {
                    truth.insert(Truth::new("LOSS-FEEDER-HIGH", "feeder", f.id.clone(), m.period));
                }
            }
        }
        for (si, st) in w.stations.iter().enumerate() {
            for i in 0..m.days {
                let day = m.first + i;
                let j = (day - start) as usize;
                if j < 7 {
                    continue;
                }
                let fires = |v: &[i64]| {
                    let (now, before) = (v[j], v[j - 7]);
                    before > 0 && (now - before).abs() * 5 > before
                };
                let a = fires(&self.station_tq[si]);
                let b = fires(&self.station_feeder[si]);
                if a != b {
                    self.day_supply_disagreements += 1;
                }
                let (now, before) = (self.station_tq[si][j], self.station_tq[si][j - 7]);
                if before > 0 {
                    self.margins.check(
                        &format!("DAY-SUPPLY {} {day}", st.id),
                        (now - before).abs() as f64 / before as f64,
                        0.2,
                    );
                }
                if a {
                    truth.insert(Truth::daily("DAY-SUPPLY", "station", st.id.clone(), day));
                }
            }
        }
        Ok(())
    }
}

fn merge(into: &mut AreaDays, from: &AreaDays) {
    for i in 0..31 {
        into.cons[i] += from.cons[i];
        into.drawn[i] += from.drawn[i];
        into.valid[i] &= from.valid[i];
    }
}

/// Generates one chunk of customers for the month.
fn process(sh: &Shared, cx: &mut ChunkCtx) -> ChunkOut {
    let w = sh.w;
    let m = sh.m;
    let start = w.cal.start;
    let days = m.days as usize;
    let buf = sh.pool.lock().ok().and_then(|mut p| p.pop()).unwrap_or_default();
    let mut out = ChunkOut { buf, ..Default::default() };
    out.buf.reserve((cx.last - cx.first) as usize * (days + 1) * 48);
    let mut miss: Vec<i32> = Vec::new();
    for ci in cx.first..cx.last {
        let c = &w.customers[ci as usize];
        let local = (ci - cx.first) as usize;
        let meters = w.meters_of(ci);
        if meters.clone().all(|mi| w.meters[mi].removed < m.first) {
            cx.kwh[local] = 0;
            cx.all_known[local] = false;
            cx.billed[local] = false;
            continue;
        }
        missing_days(w, &m, sh.k, ci, c, &mut miss);
        let plant = if c.plant != NONE { Some(w.plants[c.plant as usize].kind) } else { None };
        let mut cons = [0i64; 31];
        let mut drawn = [0i64; 31];
        let mut served = [false; 31];
        let mut known = [true; 31];
        for mi in meters {
            let mt = &w.meters[mi];
            if mt.installed > sh.reg_end || mt.removed < m.first {
                continue;
            }
            let st = &mut cx.states[mi - cx.meter0];
            let mult = i64::from(mt.multiplier);
            let d0 = mt.installed.max(m.first);
            let d1 = sh.reg_end.min(mt.removed);
            let through = mt.installed <= m.first && mt.removed > m.last();
            let (mut run, mut max_run) = (0, 0);
            let mut reverse = false;
            let mut tou_bad = false;
            let tou_h = h3(w.seed, salt::TOU, mi as u64, sh.k as u64);
            let (p_share, v_share) = (30 + (tou_h % 10) as i64, 20 + ((tou_h >> 8) % 10) as i64);
            let mut prev_normal = 0i64;
            for d in d0..=d1 {
                let i = (d - m.first) as usize;
                let in_period = i < days;
                let missing = in_period && miss.contains(&d);
                // The row.
                out.buf.extend_from_slice(&mt.id);
                out.buf.push(b',');
                out.buf.extend_from_slice(&sh.dates[i]);
                out.buf.push(b',');
                if missing {
                    out.buf.extend_from_slice(b",,,\n");
                } else {
                    push_hundredths(&mut out.buf, st.total);
                    if mt.tou {
                        if let Some(PlantKind::VolTou { from }) = plant
                            && d >= from
                            && st.tou_offset == 0
                        {
                            st.tou_offset = (st.total / 20).max(50_000);
                        }
                        let peak = st.peak + st.tou_offset;
                        out.buf.push(b',');
                        push_hundredths(&mut out.buf, peak);
                        out.buf.push(b',');
                        push_hundredths(&mut out.buf, st.flat);
                        out.buf.push(b',');
                        push_hundredths(&mut out.buf, st.valley);
                        out.buf.push(b'\n');
                        let diff = (peak + st.flat + st.valley - st.total).abs();
                        if in_period && diff * 1000 > st.total.abs() && diff > 100 {
                            tou_bad = true;
                        }
                    } else {
                        out.buf.extend_from_slice(b",,,\n");
                    }
                }
                out.rows += 1;
                if in_period {
                    if missing {
                        run += 1;
                        max_run = max_run.max(run);
                    } else {
                        run = 0;
                        if st.prev_known
                            && st.prev_day == d - 1
                            && mt.in_service(d - 1)
                            && mt.in_service(d)
                            && st.total < st.prev_total
                        {
                            reverse = true;
                        }
                    }
                }
                st.prev_day = d;
                st.prev_total = st.total;
                st.prev_known = !missing;
                // The day's consumption moves the register to the next date.
                if in_period && mt.in_service(d) {
                    let u: DayUse = day_use(w, &sh.shape, &m, ci, c, i as i32);
                    let mut delta = (u.metered / mult as f64).round() as i64;
                    if u.metered > 0.0 && delta < 1 {
                        delta = 1;
                    }
                    let normal = delta;
                    if let Some(PlantKind::VolReverse { day, amount }) = plant {
                        if d == day - 1 {
                            delta = -amount;
                        } else if d == day {
                            delta += prev_normal + amount;
                        }
                    }
                    prev_normal = normal;
                    st.total += delta;
                    if mt.tou && delta > 0 {
                        let p = delta * p_share / 100;
                        let v = delta * v_share / 100;
                        st.peak += p;
                        st.valley += v;
                        st.flat += delta - p - v;
                    } else {
                        st.flat += delta;
                    }
                    cons[i] += delta * mult;
                    drawn[i] += normal * mult + u.stolen.round() as i64;
                    served[i] = true;
                    let next_missing = i + 1 < days && miss.contains(&(d + 1));
                    if missing || next_missing {
                        known[i] = false;
                    }
                }
            }
            let id = || mt.id_str().to_string();
            if through && max_run >= 3 {
                out.truth.push(Truth::new("VOL-MISSING", "meter", id(), m.period));
            }
            if reverse {
                out.truth.push(Truth::new("VOL-REVERSE", "meter", id(), m.period));
            }
            if tou_bad {
                out.truth.push(Truth::new("VOL-TOU", "meter", id(), m.period));
            }
        }
        // Customer level.
        let hist = &mut cx.hist[local * RING..(local + 1) * RING];
        let (mut kwh, mut all_known, mut any) = (0i64, true, false);
        let (mut n_known, mut sum_known, mut over) = (0i64, 0i64, false);
        let cap = i64::from(c.contract_kva) * 2400;
        for i in 0..days {
            let d = m.first + i as i32;
            let k = served[i] && known[i];
            if served[i] {
                kwh += cons[i];
                any = true;
            }
            all_known &= k;
            hist[(d - start) as usize % RING] =
                if k { cons[i].clamp(i64::from(i32::MIN) + 1, i64::from(i32::MAX)) as i32 } else { UNKNOWN };
            if k {
                n_known += 1;
                sum_known += cons[i];
                if cap > 0 && cons[i] > cap {
                    over = true;
                }
            }
        }
        cx.kwh[local] = kwh;
        cx.all_known[local] = all_known;
        cx.billed[local] = any;
        // Areas and feeders.
        let (list, key) = if c.area != NONE { (&mut out.areas, c.area) } else { (&mut out.direct, c.feeder) };
        if list.last().is_none_or(|(a, _)| *a != key) {
            list.push((key, AreaDays::default()));
        }
        if let Some((_, agg)) = list.last_mut() {
            for i in 0..days {
                if c.active_on(m.first + i as i32) {
                    let k = served[i] && known[i];
                    agg.drawn[i] += drawn[i];
                    if k {
                        agg.cons[i] += cons[i];
                    } else {
                        agg.valid[i] = false;
                    }
                }
            }
        }
        customer_themes(sh, ci, hist, n_known, sum_known, over, &mut out);
    }
    out
}

/// VOL-ZERO, VOL-DROP, VOL-SURGE, VOL-OVERCAP and DAY-LARGE-DROP of one customer and month.
fn customer_themes(
    sh: &Shared,
    ci: u32,
    hist: &[i32],
    n_known: i64,
    sum_known: i64,
    over: bool,
    out: &mut ChunkOut,
) {
    let w = sh.w;
    let m = sh.m;
    let c = &w.customers[ci as usize];
    let start = w.cal.start;
    let days = i64::from(m.days);
    let get =
        |d: i32| if d < start || m.first + m.days <= d { UNKNOWN } else { hist[(d - start) as usize % RING] };
    let id = || w.customer_id(ci);
    if over {
        out.truth.push(Truth::new("VOL-OVERCAP", "customer", id(), m.period));
    }
    if c.active_through(&m) {
        if n_known * 5 >= days * 4 && sum_known == 0 {
            out.truth.push(Truth::new("VOL-ZERO", "customer", id(), m.period));
        }
        let (mut nb, mut sb) = (0i64, 0i64);
        for d in m.first - 90..m.first {
            let v = get(d);
            if v != UNKNOWN {
                nb += 1;
                sb += i64::from(v);
            }
        }
        if nb >= 30 && sb >= 200 * nb && n_known * 2 >= days && n_known > 0 {
            let ratio = (sum_known as f64 / n_known as f64) / (sb as f64 / nb as f64);
            // Exact comparisons in integers: mean_p < 0.4 mean_b, mean_p > 3 mean_b.
            let (sp, np, sb, nb) =
                (i128::from(sum_known), i128::from(n_known), i128::from(sb), i128::from(nb));
            out.margins.check(&format!("VOL-DROP {}", id()), ratio, 0.4);
            if 10 * sp * nb < 4 * sb * np {
                out.truth.push(Truth::new("VOL-DROP", "customer", id(), m.period));
            }
            if sum_known >= 30_000 {
                out.margins.check(&format!("VOL-SURGE {}", id()), ratio, 3.0);
            }
            if sp * nb > 3 * sb * np && sum_known >= 30_000 {
                out.truth.push(Truth::new("VOL-SURGE", "customer", id(), m.period));
            }
        }
    }
    if c.is_large() {
        for d in m.first..=m.last() {
            if d - 7 < start {
                continue;
            }
            let y = get(d);
            if y == UNKNOWN {
                continue;
            }
            let mut sum7 = 0i64;
            let mut ok = true;
            for b in d - 7..d {
                let v = get(b);
                if v == UNKNOWN {
                    ok = false;
                    break;
                }
                sum7 += i64::from(v);
            }
            if ok && sum7 >= 70_000 {
                out.margins.check(&format!("DAY-LARGE-DROP {}", id()), 7.0 * f64::from(y) / sum7 as f64, 0.5);
                if 14 * i64::from(y) < sum7 {
                    out.truth.push(Truth::daily("DAY-LARGE-DROP", "customer", id(), d));
                }
            }
        }
    }
}
