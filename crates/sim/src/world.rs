//! The generated county (the "world"): stations, feeders, transformer areas, customers, meters,
//! tariffs and staff, drawn once from the seed with ChaCha. Everything the month passes write is a
//! function of this and of the counter-based noise in `hash`, so output is byte-identical per seed.

use anyhow::{Result, bail};
use chrono::{Datelike, Days, Months, NaiveDate};
use jicha_core::calendar::{Period, from_epoch_days, to_epoch_days};
use jicha_core::codes::{Category, CustomerStatus, StaffRole, StepBasis};
use jicha_core::tariff::Tariff;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use crate::GenerateOptions;
use crate::hash::{h3, salt};
use crate::names;

/// "No such index" in compact u32 references.
pub const NONE: u32 = u32::MAX;
/// "No date" in compact day fields (days since 1970-01-01).
pub const NO_DAY: i32 = i32::MAX;

/// One generated month (电费年月) and its days.
#[derive(Debug, Clone, Copy)]
pub struct Month {
    /// The period.
    pub period: Period,
    /// Its first day, days since 1970-01-01.
    pub first: i32,
    /// Number of days.
    pub days: i32,
}

impl Month {
    /// Its last day.
    pub fn last(&self) -> i32 {
        self.first + self.days - 1
    }

    /// The default as-of date of an audit of this month: the first day of the next.
    pub fn as_of(&self) -> i32 {
        self.first + self.days
    }
}

/// The generated window.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// First day (first day of the first month).
    pub start: i32,
    /// Last consumption day (last day of the last month).
    pub end: i32,
    /// The extract date: the day after `end`, whose register closes the last month, and the
    /// as-of date of the last month's audit.
    pub extract: i32,
    /// The months, in order.
    pub months: Vec<Month>,
}

impl Calendar {
    fn new(start: NaiveDate, months: u32) -> Calendar {
        let mut p = Period::of(start);
        let mut list = Vec::new();
        for _ in 0..months {
            list.push(Month { period: p, first: to_epoch_days(p.first_day()), days: p.days() as i32 });
            p = p.next();
        }
        let start = list[0].first;
        let end = list[list.len() - 1].last();
        Calendar { start, end, extract: end + 1, months: list }
    }

    /// The index of the month of a day of the window.
    pub fn month_of(&self, day: i32) -> usize {
        self.months.iter().rposition(|m| m.first <= day).unwrap_or(0)
    }
}

/// 电压等级 of a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Voltage {
    /// 220V single phase.
    V220,
    /// 380V three phase.
    V380,
    /// 10kV.
    Kv10,
}

impl Voltage {
    /// As written in the exchange format.
    pub fn text(self) -> &'static str {
        match self {
            Voltage::V220 => "220V",
            Voltage::V380 => "380V",
            Voltage::Kv10 => "10kV",
        }
    }

    /// Low voltage in the sense of the conventions (220V or 380V).
    pub fn is_low(self) -> bool {
        self != Voltage::Kv10
    }
}

/// 供电所.
#[derive(Debug, Clone)]
pub struct Station {
    /// 供电单位编码.
    pub id: String,
    /// 横沟桥供电所.
    pub name: String,
    /// County (区/县) for addresses.
    pub county: String,
    /// Town (镇) for addresses.
    pub town: String,
    /// DAY-SUPPLY plant: the day the whole station's load surges.
    pub surge_day: i32,
    /// FEE-RECOVERY plant: the month whose due bills are paid late.
    pub late_month: usize,
}

/// 线路.
#[derive(Debug, Clone)]
pub struct Feeder {
    /// 线路编号.
    pub id: String,
    /// 10kV 桂花线.
    pub name: String,
    /// Station index.
    pub station: u32,
    /// Technical loss of the 10 kV line (share of its supply).
    pub line_loss: f64,
    /// Customers without an area (fed at 10 kV), as a range of customer indices.
    pub direct: (u32, u32),
}

/// 台区.
#[derive(Debug, Clone)]
pub struct Area {
    /// 台区编号.
    pub id: String,
    /// 桂花村3组台区.
    pub name: String,
    /// Feeder index.
    pub feeder: u32,
    /// Station index.
    pub station: u32,
    /// Village name, for addresses.
    pub village: String,
    /// 组 number.
    pub group: u32,
    /// Transformer capacity, kVA.
    pub capacity_kva: u32,
    /// Loss of the area: supply = true consumption / (1 - loss).
    pub loss: f64,
    /// No collection failures (planted loss areas need every day valid).
    pub clean: bool,
    /// Its customers, as a range of customer indices.
    pub customers: (u32, u32),
}

/// 用户 in compact form: names, phone and address are derived from the index when written.
#[derive(Debug, Clone)]
pub struct Customer {
    /// Station index.
    pub station: u32,
    /// Feeder index.
    pub feeder: u32,
    /// Area index, `NONE` for 10 kV customers fed from the feeder.
    pub area: u32,
    /// 用电类别.
    pub category: Category,
    /// 电压等级.
    pub voltage: Voltage,
    /// 合同容量, kVA.
    pub contract_kva: u32,
    /// Index into [`TARIFF_CODES`].
    pub tariff: u8,
    /// 用户状态.
    pub status: CustomerStatus,
    /// 立户日期.
    pub opened: i32,
    /// 销户日期 or `NO_DAY`.
    pub closed: i32,
    /// Mean daily consumption, kWh.
    pub base: f32,
    /// Needs a power-factor adjustment on its bills (PRC-PF).
    pub needs_pf: bool,
    /// 临时用电.
    pub temporary: bool,
    /// 临时用电到期日期 or `NO_DAY`.
    pub temp_expires: i32,
    /// First meter index; its meters are consecutive.
    pub meter0: u32,
    /// Number of meters (2 after a replacement).
    pub meters: u8,
    /// Index into the plants, or `NONE`.
    pub plant: u32,
    /// No collection failures.
    pub clean: bool,
    /// Reader (staff index).
    pub reader: u32,
    /// Read segment number within the station.
    pub segment: u32,
}

impl Customer {
    /// Active on day d for the loss themes: opened_on <= d < closed_on.
    pub fn active_on(&self, day: i32) -> bool {
        self.opened <= day && day < self.closed
    }

    /// Active through a month (status active, opened by its first day, not closed by its last).
    pub fn active_through(&self, m: &Month) -> bool {
        self.status == CustomerStatus::Active
            && self.opened <= m.first
            && (self.closed == NO_DAY || self.closed > m.last())
    }

    /// Large user for DAY-LARGE-DROP: contract >= 315 kVA or industrial.
    pub fn is_large(&self) -> bool {
        self.contract_kva >= 315 || self.category == Category::Industrial
    }
}

/// 电能表.
#[derive(Debug, Clone)]
pub struct Meter {
    /// 电能表资产编号, ASCII digits.
    pub id: [u8; 14],
    /// Customer index.
    pub customer: u32,
    /// 综合倍率.
    pub multiplier: u32,
    /// CT ratio primary/secondary, if metered through a CT.
    pub ct: Option<(u32, u32)>,
    /// Written CT ratio when the archive is wrong (MTR-MULTIPLIER plant).
    pub ct_written: Option<(u32, u32)>,
    /// PT 10000/100 (10 kV metering).
    pub pt: bool,
    /// 装表日期.
    pub installed: i32,
    /// 拆表日期 or `NO_DAY`.
    pub removed: i32,
    /// 检定日期.
    pub verified: i32,
    /// Seal ids present.
    pub sealed: bool,
    /// Has time-of-use registers.
    pub tou: bool,
    /// Register on the first day of the window (or at installation), hundredths of a kWh.
    pub start_register: i64,
}

impl Meter {
    /// In service on day d: installed_on <= d < removed_on.
    pub fn in_service(&self, day: i32) -> bool {
        self.installed <= day && day < self.removed
    }

    /// The meter id as text.
    pub fn id_str(&self) -> &str {
        std::str::from_utf8(&self.id).unwrap_or("")
    }
}

/// 人员.
#[derive(Debug, Clone)]
pub struct Staff {
    /// 工号.
    pub id: String,
    /// 姓名.
    pub name: String,
    /// Station index.
    pub station: u32,
    /// 岗位.
    pub role: StaffRole,
    /// 手机号码.
    pub phone: String,
}

/// The tariff codes every customer refers to, by index.
pub const TARIFF_CODES: &[&str] = &["R101", "R102", "C201", "C202", "I301", "A401", "A402", "O501"];
/// Resident, monthly steps.
pub const T_RES_MONTH: u8 = 0;
/// Resident, yearly steps.
pub const T_RES_YEAR: u8 = 1;
/// Commercial below 1 kV.
pub const T_COM_LV: u8 = 2;
/// Commercial 1-10 kV.
pub const T_COM_HV: u8 = 3;
/// Two-part industrial.
pub const T_IND: u8 = 4;
/// Agriculture below 1 kV.
pub const T_AGR_LV: u8 = 5;
/// Other.
pub const T_OTHER: u8 = 7;

/// The whole generated county.
pub struct World {
    /// The run's seed.
    pub seed: u64,
    /// The window.
    pub cal: Calendar,
    /// 供电所.
    pub stations: Vec<Station>,
    /// 线路.
    pub feeders: Vec<Feeder>,
    /// 台区.
    pub areas: Vec<Area>,
    /// 用户, ordered by station, feeder, area (10 kV customers after their feeder's areas).
    pub customers: Vec<Customer>,
    /// 电能表, ordered by customer.
    pub meters: Vec<Meter>,
    /// Every tariff version.
    pub tariffs: Vec<Tariff>,
    /// 人员.
    pub staff: Vec<Staff>,
    /// First staff index of each station, and its readers and inspectors.
    pub station_staff: Vec<StationStaff>,
    /// Planted customers, indexed by `Customer::plant`.
    pub plants: Vec<crate::plants::Plant>,
}

/// Staff of one station by role.
#[derive(Debug, Clone, Default)]
pub struct StationStaff {
    /// 抄表员.
    pub readers: Vec<u32>,
    /// 用电检查员.
    pub inspectors: Vec<u32>,
    /// 稽查员.
    pub auditors: Vec<u32>,
    /// 所长.
    pub manager: u32,
}

/// Customers per station below which loss rates of small areas get too noisy to stay far from the
/// thresholds.
pub const MIN_CUSTOMERS_PER_STATION: usize = 40;

impl World {
    /// Draws the county for these options.
    pub fn build(opts: &GenerateOptions, rng: &mut ChaCha8Rng) -> Result<World> {
        if opts.months == 0 || opts.months > 120 {
            bail!("--months must be between 1 and 120, got {}", opts.months);
        }
        if opts.stations == 0 {
            bail!("--stations must be at least 1");
        }
        if opts.customers < opts.stations * MIN_CUSTOMERS_PER_STATION {
            bail!(
                "{} customers are too few for {} stations: give at least {} customers per station",
                opts.customers,
                opts.stations,
                MIN_CUSTOMERS_PER_STATION
            );
        }
        if opts.customers > 50_000_000 {
            bail!("--customers is limited to 50,000,000");
        }
        let cal = Calendar::new(opts.start, opts.months);
        let mut w = World {
            seed: opts.seed,
            cal,
            stations: Vec::new(),
            feeders: Vec::new(),
            areas: Vec::new(),
            customers: Vec::with_capacity(opts.customers),
            meters: Vec::with_capacity(opts.customers + opts.customers / 20),
            tariffs: tariffs(opts.start, opts.months),
            staff: Vec::new(),
            station_staff: Vec::new(),
            plants: Vec::new(),
        };
        w.build_topology(opts, rng);
        w.build_meters(rng);
        Ok(w)
    }

    /// The 10-digit 户号 of customer `i`: a bijection of the index modulo 10^10, so ids look
    /// scattered, keep their leading zeros (`0012345678`) and never collide.
    pub fn customer_id(&self, i: u32) -> String {
        format!("{:010}", (u64::from(i) * 7_919 + 12_345_678) % 10_000_000_000)
    }

    /// Customer `i`'s name: a person for residents, a business or body for the others.
    pub fn customer_name(&self, i: u32) -> String {
        let c = &self.customers[i as usize];
        let h = h3(self.seed, salt::NAME, u64::from(i), 1);
        let town = &self.stations[c.station as usize].town;
        let village = self.customer_village(i);
        match c.category {
            Category::Resident => names::person(h),
            Category::Industrial => names::company(h),
            Category::Commercial if c.voltage == Voltage::Kv10 => names::company(h),
            Category::Commercial => names::shop(town, h),
            Category::Agriculture => names::farm(town, &village, h),
            Category::Other => names::other_user(town, &village, h),
        }
    }

    fn customer_village(&self, i: u32) -> String {
        let c = &self.customers[i as usize];
        if c.area != NONE {
            return self.areas[c.area as usize].village.clone();
        }
        // 10 kV customers sit in an industrial park or on a road of the town.
        "工业园".to_string()
    }

    /// 用电地址: 咸宁市咸安区横沟桥镇桂花村3组12号.
    pub fn customer_address(&self, i: u32) -> String {
        let c = &self.customers[i as usize];
        let st = &self.stations[c.station as usize];
        let h = h3(self.seed, salt::NAME, u64::from(i), 2);
        let house = 1 + h % 98;
        if c.area != NONE {
            let a = &self.areas[c.area as usize];
            format!("{}{}{}{}{}组{}号", names::CITY, st.county, st.town, a.village, a.group, house)
        } else {
            format!("{}{}{}工业园{}号", names::CITY, st.county, st.town, house)
        }
    }

    /// 联系电话.
    pub fn customer_phone(&self, i: u32) -> String {
        names::phone(h3(self.seed, salt::NAME, u64::from(i), 3))
    }

    fn build_topology(&mut self, opts: &GenerateOptions, rng: &mut ChaCha8Rng) {
        let n = opts.customers;
        let s = opts.stations;
        // Station sizes vary +-30% around the mean; largest remainder keeps the total exact.
        let weights: Vec<f64> = (0..s).map(|_| rng.random_range(0.85..1.15)).collect();
        let total_w: f64 = weights.iter().sum();
        let mut sizes: Vec<usize> =
            weights.iter().map(|w| ((w / total_w) * n as f64).floor() as usize).collect();
        let mut rest = n - sizes.iter().sum::<usize>();
        let mut i = 0;
        while rest > 0 {
            sizes[i % s] += 1;
            rest -= 1;
            i += 1;
        }
        // With at least MIN_CUSTOMERS_PER_STATION a station and weights within +-15%, every
        // station gets at least 29 customers, enough for one transformer area.
        for (si, &size) in sizes.iter().enumerate() {
            self.build_station(si, size, rng);
        }
    }

    fn build_station(&mut self, si: usize, size: usize, rng: &mut ChaCha8Rng) {
        let (county, town, name) = names::station(si);
        let station_id = format!("4212{:04}", si + 1);
        self.stations.push(Station {
            id: station_id.clone(),
            name,
            county,
            town,
            surge_day: NO_DAY,
            late_month: usize::MAX,
        });
        let staff = self.build_staff(si as u32, size, rng);
        // 10 kV customers: about 1.5%, two thirds industrial.
        let hv = ((size as f64 * 0.015).round() as usize).max(1);
        let lv = size - hv;
        let mut area_sizes = Vec::new();
        let mut left = lv;
        while left > 0 {
            let a = rng.random_range(35..=110).min(left);
            area_sizes.push(a);
            left -= a;
        }
        // A very small last area would make its loss rate noisy: fold it into the previous one.
        if area_sizes.len() > 1 && area_sizes[area_sizes.len() - 1] < 25 {
            let last = area_sizes.pop().unwrap_or(0);
            if let Some(prev) = area_sizes.last_mut() {
                *prev += last;
            }
        }
        let n_areas = area_sizes.len();
        // At least two feeders where there are two areas: a station is rarely fed by one line.
        let n_feeders = n_areas.div_ceil(8).max(2).min(n_areas);
        let mut area_local = 0usize;
        for f in 0..n_feeders {
            let fi = self.feeders.len() as u32;
            let feeder_id = format!("{station_id}{:03}", f + 1);
            self.feeders.push(Feeder {
                id: feeder_id.clone(),
                name: names::feeder(si * 7 + f),
                station: si as u32,
                line_loss: rng.random_range(0.015..0.035),
                direct: (0, 0),
            });
            // Areas split evenly over the feeders, each feeder at least one.
            let from = n_areas * f / n_feeders;
            let to = n_areas * (f + 1) / n_feeders;
            for (k, &asize) in area_sizes[from..to].iter().enumerate() {
                let ai = self.areas.len() as u32;
                let village_no = si * 37 + area_local / 3;
                let village = names::village(village_no);
                let group = (area_local % 3) as u32 + 1;
                let first = self.customers.len() as u32;
                let reader = staff.readers[area_local % staff.readers.len()];
                self.areas.push(Area {
                    id: format!("{feeder_id}{:03}", k + 1),
                    name: format!("{village}{group}组台区"),
                    feeder: fi,
                    station: si as u32,
                    village,
                    group,
                    capacity_kva: capacity_for(asize),
                    loss: rng.random_range(0.035..0.065),
                    clean: false,
                    customers: (first, first),
                });
                for _ in 0..asize {
                    let c =
                        self.low_voltage_customer(si as u32, fi, ai, reader, (area_local / 5) as u32, rng);
                    self.customers.push(c);
                }
                self.areas[ai as usize].customers.1 = self.customers.len() as u32;
                area_local += 1;
            }
            let first = self.customers.len() as u32;
            let hv_here = hv * (f + 1) / n_feeders - hv * f / n_feeders;
            for k in 0..hv_here {
                let reader = staff.readers[k % staff.readers.len()];
                let c = self.high_voltage_customer(si as u32, fi, reader, rng);
                self.customers.push(c);
            }
            self.feeders[fi as usize].direct = (first, self.customers.len() as u32);
        }
    }

    fn build_staff(&mut self, station: u32, size: usize, rng: &mut ChaCha8Rng) -> StationStaff {
        let mut out = StationStaff::default();
        let sid = self.stations[station as usize].id.clone();
        let add = |w: &mut World, role: StaffRole, seq: usize, rng: &mut ChaCha8Rng| -> u32 {
            let idx = w.staff.len() as u32;
            let h: u64 = rng.random();
            w.staff.push(Staff {
                id: format!("{sid}{seq:03}"),
                name: names::person(h),
                station,
                role,
                phone: names::phone(h >> 7),
            });
            idx
        };
        let mut seq = 1;
        out.manager = add(self, StaffRole::Manager, seq, rng);
        seq += 1;
        out.auditors.push(add(self, StaffRole::Auditor, seq, rng));
        seq += 1;
        for _ in 0..(2 + size / 3000) {
            out.inspectors.push(add(self, StaffRole::Inspector, seq, rng));
            seq += 1;
        }
        for _ in 0..(2 + size / 800) {
            out.readers.push(add(self, StaffRole::Reader, seq, rng));
            seq += 1;
        }
        self.station_staff.push(out.clone());
        out
    }

    fn low_voltage_customer(
        &self,
        station: u32,
        feeder: u32,
        area: u32,
        reader: u32,
        segment: u32,
        rng: &mut ChaCha8Rng,
    ) -> Customer {
        let s = self.cal.start;
        let e = self.cal.extract;
        let r: f64 = rng.random();
        let mut c = Customer {
            station,
            feeder,
            area,
            category: Category::Resident,
            voltage: Voltage::V220,
            contract_kva: 0,
            tariff: T_RES_MONTH,
            status: CustomerStatus::Active,
            opened: s - rng.random_range(120..7300),
            closed: NO_DAY,
            base: 0.0,
            needs_pf: false,
            temporary: false,
            temp_expires: NO_DAY,
            meter0: 0,
            meters: 1,
            plant: NONE,
            clean: false,
            reader,
            segment,
        };
        if r < 0.86 {
            c.contract_kva = *[4u32, 6, 8, 8, 10].get(rng.random_range(0..5)).unwrap_or(&8);
            // Lognormal-ish: most homes 3-10 kWh a day, a few up to 14.
            c.base = (rng.random_range(2.5f64..7.0) * rng.random_range(0.8f64..1.6)) as f32;
            c.tariff = if rng.random_bool(0.2) { T_RES_YEAR } else { T_RES_MONTH };
        } else if r < 0.93 {
            c.category = Category::Commercial;
            c.voltage = if rng.random_bool(0.7) { Voltage::V380 } else { Voltage::V220 };
            c.contract_kva =
                if c.voltage == Voltage::V220 { rng.random_range(5..=20) } else { rng.random_range(10..=80) };
            c.base = (f64::from(c.contract_kva) * 24.0 * rng.random_range(0.05..0.2)) as f32;
            c.tariff = T_COM_LV;
        } else if r < 0.965 {
            c.category = Category::Agriculture;
            c.voltage = Voltage::V380;
            c.contract_kva =
                if rng.random_bool(0.15) { rng.random_range(100..=160) } else { rng.random_range(10..=60) };
            c.base = (f64::from(c.contract_kva) * 24.0 * rng.random_range(0.05..0.18)) as f32;
            c.tariff = T_AGR_LV;
        } else {
            c.category = Category::Other;
            c.voltage = if rng.random_bool(0.5) { Voltage::V220 } else { Voltage::V380 };
            c.contract_kva = rng.random_range(5..=30);
            c.base = (f64::from(c.contract_kva) * 24.0 * rng.random_range(0.03..0.12)) as f32;
            c.tariff = T_OTHER;
        }
        c.needs_pf = needs_pf(c.category, c.contract_kva);
        let fate: f64 = rng.random();
        if fate < 0.01 {
            // Closed before the window: no readings, no bills, meter removed.
            c.status = CustomerStatus::Closed;
            c.closed = s - rng.random_range(10..700);
            c.opened = c.closed - rng.random_range(200..5000);
        } else if fate < 0.014 && c.category == Category::Commercial && c.contract_kva < 100 {
            c.status = CustomerStatus::Suspended;
            c.base = 0.0;
        } else if fate < 0.02 && c.category != Category::Resident {
            c.category = Category::Commercial;
            c.tariff = T_COM_LV;
            c.temporary = true;
            c.opened = s - rng.random_range(30..150);
            c.temp_expires = e + rng.random_range(30..300);
            c.needs_pf = needs_pf(c.category, c.contract_kva);
        } else if fate < 0.02 + 0.0025 * self.cal.months.len() as f64
            && matches!(c.category, Category::Resident | Category::Commercial)
            && self.cal.end - s > 6
        {
            // A new connection during the window (业扩报装): opened on the day it was connected.
            c.opened = rng.random_range(s + 2..self.cal.end - 2);
        }
        c
    }

    fn high_voltage_customer(
        &self,
        station: u32,
        feeder: u32,
        reader: u32,
        rng: &mut ChaCha8Rng,
    ) -> Customer {
        let industrial = rng.random_bool(0.67);
        let (category, contract, lf, tariff) = if industrial {
            let kva = *[315u32, 400, 500, 630, 800, 1000, 1250, 1600, 2000]
                .get(rng.random_range(0..9))
                .unwrap_or(&630);
            (Category::Industrial, kva, rng.random_range(0.15..0.35), T_IND)
        } else {
            let kva = *[200u32, 250, 315, 400, 500, 630].get(rng.random_range(0..6)).unwrap_or(&315);
            (Category::Commercial, kva, rng.random_range(0.08..0.25), T_COM_HV)
        };
        Customer {
            station,
            feeder,
            area: NONE,
            category,
            voltage: Voltage::Kv10,
            contract_kva: contract,
            tariff,
            status: CustomerStatus::Active,
            opened: self.cal.start - rng.random_range(400..6000),
            closed: NO_DAY,
            base: (f64::from(contract) * 24.0 * lf) as f32,
            needs_pf: needs_pf(category, contract),
            temporary: false,
            temp_expires: NO_DAY,
            meter0: 0,
            meters: 1,
            plant: NONE,
            clean: false,
            reader,
            segment: 999,
        }
    }

    fn build_meters(&mut self, rng: &mut ChaCha8Rng) {
        let s = self.cal.start;
        let e = self.cal.extract;
        let end = self.cal.end;
        for ci in 0..self.customers.len() {
            let c = self.customers[ci].clone();
            let low = c.voltage.is_low();
            let (ct, pt) = transformers(&c);
            let multiplier = ct.map_or(1, |(a, b)| a / b) * if pt { 100 } else { 1 };
            let tou = c.category != Category::Resident || rng.random_bool(0.3);
            // Meters stay within their verification period at every as-of date of the window:
            // installed within 6.5 (low voltage) or 4.5 (high) years of the extract date.
            let max_age = if low { 2370 } else { 1640 };
            let earliest = c.opened.max(e - max_age);
            let latest = (s - 20).min(c.closed - 1);
            let installed = if c.opened >= s {
                c.opened
            } else if earliest < latest {
                rng.random_range(earliest..latest)
            } else {
                c.opened.max(earliest.min(latest))
            };
            let years = f64::from((s - installed).max(0)) / 365.0;
            let start_register = ((f64::from(c.base) * 365.0 * years * rng.random_range(0.7..1.2)
                + rng.random_range(0.0..500.0))
                * 100.0
                / f64::from(multiplier)) as i64;
            let replaced = c.status == CustomerStatus::Active
                && c.opened < s - 30
                && end - s > 8
                && rng.random_bool(0.015);
            let meter0 = self.meters.len() as u32;
            let mut m = Meter {
                id: [b'0'; 14],
                customer: ci as u32,
                multiplier,
                ct,
                ct_written: None,
                pt,
                installed,
                removed: if c.status == CustomerStatus::Closed { c.closed } else { NO_DAY },
                verified: verified_before(installed, rng),
                sealed: true,
                tou,
                start_register: if c.opened >= s { rng.random_range(0..300) } else { start_register },
            };
            m.id = meter_id(meter0);
            if replaced {
                let r = rng.random_range(s + 2..end - 2);
                m.removed = r;
                self.meters.push(m.clone());
                let mut new = m;
                new.id = meter_id(meter0 + 1);
                new.installed = r;
                new.removed = NO_DAY;
                new.verified = verified_before(r, rng);
                new.start_register = rng.random_range(0..200);
                self.meters.push(new);
            } else {
                self.meters.push(m);
            }
            let cm = &mut self.customers[ci];
            cm.meter0 = meter0;
            cm.meters = (self.meters.len() as u32 - meter0) as u8;
        }
    }

    /// The meters of customer `i`.
    pub fn meters_of(&self, i: u32) -> std::ops::Range<usize> {
        let c = &self.customers[i as usize];
        c.meter0 as usize..c.meter0 as usize + c.meters as usize
    }
}

/// PRC-PF applies to commercial, industrial and agricultural customers of 100 kVA and more.
pub fn needs_pf(category: Category, contract_kva: u32) -> bool {
    matches!(category, Category::Commercial | Category::Industrial | Category::Agriculture)
        && contract_kva >= 100
}

fn capacity_for(customers: usize) -> u32 {
    match customers {
        0..=40 => 100,
        41..=70 => 200,
        71..=100 => 315,
        _ => 400,
    }
}

/// CT ratio and PT for a customer's metering: direct meters up to 50 kVA at low voltage.
fn transformers(c: &Customer) -> (Option<(u32, u32)>, bool) {
    if c.voltage == Voltage::Kv10 {
        let ct = match c.contract_kva {
            0..=630 => (50, 5),
            631..=1000 => (75, 5),
            _ => (100, 5),
        };
        (Some(ct), true)
    } else if c.contract_kva >= 50 {
        let ct = match c.contract_kva {
            0..=60 => (100, 5),
            61..=100 => (150, 5),
            101..=150 => (200, 5),
            _ => (300, 5),
        };
        (Some(ct), false)
    } else {
        (None, false)
    }
}

/// A verification date 10-120 days before installation, on a day-of-month <= 28 so that "N years
/// later" is the same calendar day in every year.
fn verified_before(installed: i32, rng: &mut ChaCha8Rng) -> i32 {
    let d = from_epoch_days(installed - rng.random_range(10..120));
    let d = if d.day() > 28 { d.with_day(28).unwrap_or(d) } else { d };
    to_epoch_days(d)
}

/// 电能表资产编号: `3330` and 10 digits, a bijection of the index.
pub fn meter_id(i: u32) -> [u8; 14] {
    let n = (u64::from(i) * 104_729 + 1_000_000_007) % 10_000_000_000;
    let mut id = *b"33300000000000";
    let mut v = n;
    for k in (4..14).rev() {
        id[k] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    id
}

/// The tariff versions: Hubei-like prices. Commercial and industrial prices changed on the first
/// day of the window (the older version still prices bills from before it); agriculture changes
/// half way through the window when there is more than one month, so version choice is exercised.
fn tariffs(start: NaiveDate, months: u32) -> Vec<Tariff> {
    let d = |text: &str| text.parse::<Decimal>().unwrap_or(Decimal::ZERO);
    let first = Period::of(start).first_day();
    let old_from = first.checked_sub_months(Months::new(30)).unwrap_or(first);
    let day_before = first.checked_sub_days(Days::new(1)).unwrap_or(first);
    let flat =
        |code: &str, name: &str, cat: Category, price: &str, from: NaiveDate, to: Option<NaiveDate>| Tariff {
            tariff_code: code.into(),
            name: name.into(),
            category: cat,
            price: d(price),
            price_peak: None,
            price_valley: None,
            step_basis: StepBasis::Month,
            step1_kwh: None,
            step2_kwh: None,
            step2_price: None,
            step3_price: None,
            basic_per_kva: None,
            valid_from: from,
            valid_to: to,
        };
    let mut res_month = flat("R101", "居民生活用电(月阶梯)", Category::Resident, "0.558", old_from, None);
    res_month.step1_kwh = Some(d("180"));
    res_month.step2_kwh = Some(d("400"));
    res_month.step2_price = Some(d("0.608"));
    res_month.step3_price = Some(d("0.858"));
    let mut res_year = res_month.clone();
    res_year.tariff_code = "R102".into();
    res_year.name = "居民生活用电(年阶梯)".into();
    res_year.step_basis = StepBasis::Year;
    res_year.step1_kwh = Some(d("2160"));
    res_year.step2_kwh = Some(d("4800"));
    let mut ind_old =
        flat("I301", "大工业用电(1-10千伏)", Category::Industrial, "0.6150", old_from, Some(day_before));
    ind_old.basic_per_kva = Some(d("25"));
    let mut ind = ind_old.clone();
    ind.price = d("0.6010");
    ind.valid_from = first;
    ind.valid_to = None;
    let mut out = vec![
        res_month,
        res_year,
        flat("C201", "一般工商业用电(不满1千伏)", Category::Commercial, "0.6680", old_from, Some(day_before)),
        flat("C201", "一般工商业用电(不满1千伏)", Category::Commercial, "0.6515", first, None),
        flat("C202", "一般工商业用电(1-10千伏)", Category::Commercial, "0.6480", old_from, Some(day_before)),
        flat("C202", "一般工商业用电(1-10千伏)", Category::Commercial, "0.6315", first, None),
        ind_old,
        ind,
        flat("A402", "农业生产用电(1-10千伏)", Category::Agriculture, "0.4925", old_from, None),
        flat("O501", "其他用电", Category::Other, "0.6200", old_from, None),
    ];
    if months > 1 {
        let mid = Period::of(first);
        let mut p = mid;
        for _ in 0..months / 2 {
            p = p.next();
        }
        let change = p.first_day();
        let before = change.checked_sub_days(Days::new(1)).unwrap_or(change);
        out.push(flat(
            "A401",
            "农业生产用电(不满1千伏)",
            Category::Agriculture,
            "0.5025",
            old_from,
            Some(before),
        ));
        out.push(flat("A401", "农业生产用电(不满1千伏)", Category::Agriculture, "0.5100", change, None));
    } else {
        out.push(flat("A401", "农业生产用电(不满1千伏)", Category::Agriculture, "0.5025", old_from, None));
    }
    out
}

/// A fresh ChaCha generator for the world.
pub fn world_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}
