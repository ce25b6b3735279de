//! The data the documents are rendered from. The caller (the store / flow side) fills these;
//! the renderers only format them. Text fields are free text: anything, including markup
//! characters and control characters, is rendered safely.

use serde::{Deserialize, Serialize};

/// One month of on-site audit (现场营销稽查) for one company: the content of the monthly report
/// and of the problem/rectification list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MonthlyReport {
    /// The month, `2026-03` (also accepted: `202603`); shown as `2026年3月`.
    pub period: String,
    /// The company, `通山县供电公司`.
    pub company: String,
    /// The day the report is issued, `2026-04-01`.
    pub generated_on: String,
    /// 月度责任人: the rotating monthly lead who compiles the report.
    pub lead: Option<String>,
    /// The month's figures in one place.
    pub summary: Summary,
    /// Key indicators of the month (主要指标), in the order they are shown.
    pub indicators: Vec<IndicatorLine>,
    /// Problems per specialty (专业), in the order they are shown.
    pub by_specialty: Vec<CountLine>,
    /// The stations (供电所) with their rank; shown sorted by rank, unranked last.
    pub stations: Vec<StationLine>,
    /// One line per problem (theme findings turned into orders and on-site problems), in the order
    /// they are listed.
    pub problems: Vec<Problem>,
}

/// The month's figures (本月概况).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// 疑似问题: findings of the audit themes.
    pub findings: u64,
    /// Yuan at stake in those findings (涉及金额).
    pub amount_at_risk: f64,
    /// Audit work orders (稽查工单) dispatched in the month.
    pub orders_dispatched: u64,
    /// Audit work orders closed (办结) in the month.
    pub orders_closed: u64,
    /// Audit work orders past their deadline and not closed (超期).
    pub orders_overdue: u64,
    /// 整改按期率 as a share between 0 and 1 (`0.925` is shown as `92.5%`); `None` when no order
    /// was due.
    pub on_time_rate: Option<f64>,
    /// Yuan recovered (追补电费).
    pub recovered_amount: f64,
    /// Problems recorded on site (现场稽查发现问题).
    pub onsite_problems: u64,
    /// Findings confirmed by the stations' verification (确认问题).
    pub confirmed: u64,
    /// Findings found not to be problems (误报).
    pub false_positive: u64,
}

/// One key indicator (指标) with the same figure for the previous month and a year before.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IndicatorLine {
    /// 指标名称, `售电量`.
    pub name: String,
    /// The unit the values are in, `万千瓦时`, `元`, `%`. With `%` the values are already
    /// percentages (`3.25` is 3.25%) and the changes are shown in percentage points (百分点).
    pub unit: String,
    /// This month.
    pub value: Option<f64>,
    /// The previous month (上月), for 环比.
    pub previous: Option<f64>,
    /// The same month a year before (去年同期), for 同比.
    pub last_year: Option<f64>,
}

/// A count of problems and the yuan they involve, for one specialty (or any other category).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CountLine {
    /// The specialty, `电费抄核收`.
    pub name: String,
    /// Problems found.
    pub count: u64,
    /// Yuan involved.
    pub amount: f64,
}

/// One station's (供电所) line of the month.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StationLine {
    /// The station's name, `大畈供电所`.
    pub station: String,
    /// Problems found at the station (findings and on-site problems).
    pub findings: u64,
    /// Yuan involved.
    pub amount: f64,
    /// Audit work orders not yet closed (未办结).
    pub orders_open: u64,
    /// Audit work orders past their deadline (超期).
    pub orders_overdue: u64,
    /// Problems rectified (已整改).
    pub rectified: u64,
    /// Assessment score (考核得分) of the month.
    pub score: Option<f64>,
    /// Rank among the stations, 1 the best.
    pub rank: Option<u32>,
}

/// One problem of the list (发现问题及整改措施).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// The responsible station.
    pub station: String,
    /// The specialty, `计量`.
    pub specialty: String,
    /// Where it was found: `主题稽查` or `现场稽查`.
    pub source: String,
    /// What was found.
    pub problem: String,
    /// The customer concerned (户号 and/or 户名), if one.
    pub customer: Option<String>,
    /// The rectification measure (整改措施).
    pub measure: String,
    /// Who is responsible (责任人).
    pub responsible: String,
    /// The rectification deadline, `2026-04-15`.
    pub deadline: Option<String>,
    /// The rectification status (整改状态), `整改中`, as the caller names it.
    pub status: String,
    /// Yuan involved.
    pub amount: Option<f64>,
}

/// The registration form of one station for a census or special audit campaign.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CensusForm {
    /// The campaign, `2026年营业普查`.
    pub campaign: String,
    /// 供电单位编码 of the station.
    pub station_id: String,
    /// The station's name.
    pub station: String,
    /// The check kind written into every row: `census` (营业普查) or `audit` (稽查).
    pub kind: String,
    /// One row per customer to check.
    pub rows: Vec<CensusRow>,
}

/// One customer to check, with what the field worker needs to find them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CensusRow {
    /// 检查编号: the key the filled-in row is imported under.
    pub check_id: String,
    /// 户号.
    pub customer_id: String,
    /// 户名.
    pub name: String,
    /// 用电地址.
    pub address: String,
    /// 用电类别, in Chinese, `商业用电`.
    pub category: String,
    /// 台区.
    pub tq: String,
    /// 电能表: the meter number(s).
    pub meters: String,
    /// 合同容量 in kVA.
    pub contract_kva: Option<f64>,
    /// 联系电话.
    pub phone: String,
}
