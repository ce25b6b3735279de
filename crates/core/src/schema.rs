//! The tables of the exchange format (data-format.md): their columns, types, keys, references and
//! ranges. The importer validates against this, the store creates its tables from it, and the
//! generator writes it, so the contract with users is written down once.

use crate::codes::{
    Category, CheckKind, CustomerStatus, Ownership, PointType, StaffRole, StepBasis, WorkOrderKind,
    WorkOrderStatus,
};

/// Which code list a code column takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeList {
    /// 用电类别.
    Category,
    /// 用户状态.
    CustomerStatus,
    /// 公专变.
    Ownership,
    /// 计量点类型 / 停电范围类型.
    PointType,
    /// 阶梯周期.
    StepBasis,
    /// 业务类型.
    WorkOrderKind,
    /// 工单状态.
    WorkOrderStatus,
    /// 检查类型.
    CheckKind,
    /// 岗位.
    StaffRole,
}

impl CodeList {
    /// Parses a cell into the stored English code.
    pub fn parse(self, text: &str) -> Option<&'static str> {
        match self {
            CodeList::Category => Category::parse(text).map(Category::code),
            CodeList::CustomerStatus => CustomerStatus::parse(text).map(CustomerStatus::code),
            CodeList::Ownership => Ownership::parse(text).map(Ownership::code),
            CodeList::PointType => PointType::parse(text).map(PointType::code),
            CodeList::StepBasis => StepBasis::parse(text).map(StepBasis::code),
            CodeList::WorkOrderKind => WorkOrderKind::parse(text).map(WorkOrderKind::code),
            CodeList::WorkOrderStatus => WorkOrderStatus::parse(text).map(WorkOrderStatus::code),
            CodeList::CheckKind => CheckKind::parse(text).map(CheckKind::code),
            CodeList::StaffRole => StaffRole::parse(text).map(StaffRole::code),
        }
    }

    /// The accepted spellings, for error messages.
    pub fn accepted(self) -> String {
        match self {
            CodeList::Category => Category::accepted(),
            CodeList::CustomerStatus => CustomerStatus::accepted(),
            CodeList::Ownership => Ownership::accepted(),
            CodeList::PointType => PointType::accepted(),
            CodeList::StepBasis => StepBasis::accepted(),
            CodeList::WorkOrderKind => WorkOrderKind::accepted(),
            CodeList::WorkOrderStatus => WorkOrderStatus::accepted(),
            CodeList::CheckKind => CheckKind::accepted(),
            CodeList::StaffRole => StaffRole::accepted(),
        }
    }
}

/// The type of a column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Free text; ids are text too, never numbers.
    Text,
    /// A decimal number.
    Number,
    /// A calendar date.
    Date,
    /// A local date and time.
    DateTime,
    /// `1/0`, `true/false`, `是/否`.
    Bool,
    /// One of a code list, stored as its English code.
    Code(CodeList),
    /// A month `YYYY-MM`, stored as `YYYY-MM`.
    Period,
}

/// Which numbers a number column accepts (besides every magnitude being below 1e12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// Any value.
    Any,
    /// Zero or more: registers, kWh, supply, capacities, fees.
    NonNegative,
    /// More than zero: multipliers.
    Positive,
    /// 0 to 100: survey scores.
    Percent,
}

/// What a reference column points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// The key (or first key column) of a table.
    Table(&'static str),
    /// A transformer area or a feeder, as the named code column of the same row says.
    PointBy(&'static str),
}

/// One column of a table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// English name, as stored.
    pub name: &'static str,
    /// Chinese header.
    pub name_zh: &'static str,
    /// Further accepted headers (for example `CONS_NO`).
    pub aliases: &'static [&'static str],
    /// Value type.
    pub ty: ColumnType,
    /// Required column (must be present, value never empty).
    pub required: bool,
    /// Range of a number column.
    pub range: Range,
    /// The table the value must exist in.
    pub reference: Option<Reference>,
}

/// Where a table is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// A relational table (SQLite, later PostgreSQL).
    Relational,
    /// A daily series kept columnar, partitioned by month of its `date` column.
    Series,
}

/// One table of the exchange format.
#[derive(Debug, Clone, Copy)]
pub struct Table {
    /// English name: file, sheet and stored table name.
    pub name: &'static str,
    /// Chinese name, accepted as a file or sheet name.
    pub name_zh: &'static str,
    /// The columns in the documented order.
    pub columns: &'static [Column],
    /// The key columns: a key appears once in a data set and is upserted on import.
    pub key: &'static [&'static str],
    /// Where the table is kept.
    pub storage: Storage,
}

impl Table {
    /// The column of this name.
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Index of the column of this name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Finds the column a header names: English or Chinese name or alias, case and surrounding
    /// spaces ignored.
    pub fn column_for_header(&self, header: &str) -> Option<usize> {
        let h = header.trim().trim_start_matches('\u{feff}').trim();
        self.columns.iter().position(|c| {
            c.name.eq_ignore_ascii_case(h)
                || c.name_zh == h
                || c.aliases.iter().any(|a| a.eq_ignore_ascii_case(h))
        })
    }
}

const fn col(name: &'static str, name_zh: &'static str, ty: ColumnType) -> Column {
    Column { name, name_zh, aliases: &[], ty, required: false, range: Range::Any, reference: None }
}

const fn req(mut c: Column) -> Column {
    c.required = true;
    c
}

const fn nonneg(mut c: Column) -> Column {
    c.range = Range::NonNegative;
    c
}

const fn refs(mut c: Column, table: &'static str) -> Column {
    c.reference = Some(Reference::Table(table));
    c
}

use ColumnType::{Bool, Date, DateTime, Number, Text};

const fn code(name: &'static str, name_zh: &'static str, list: CodeList) -> Column {
    col(name, name_zh, ColumnType::Code(list))
}

/// 供电所.
pub const STATIONS: Table = Table {
    name: "stations",
    name_zh: "供电所",
    columns: &[
        req(col("station_id", "供电单位编码", Text)),
        req(col("name", "供电单位名称", Text)),
        col("company", "所属公司", Text),
    ],
    key: &["station_id"],
    storage: Storage::Relational,
};

/// 线路.
pub const FEEDERS: Table = Table {
    name: "feeders",
    name_zh: "线路",
    columns: &[
        req(col("feeder_id", "线路编号", Text)),
        req(col("name", "线路名称", Text)),
        req(refs(col("station_id", "供电单位编码", Text), "stations")),
        nonneg(col("voltage_kv", "电压等级", Number)),
    ],
    key: &["feeder_id"],
    storage: Storage::Relational,
};

/// 台区.
pub const TRANSFORMER_AREAS: Table = Table {
    name: "transformer_areas",
    name_zh: "台区",
    columns: &[
        req(col("tq_id", "台区编号", Text)),
        req(col("name", "台区名称", Text)),
        req(refs(col("feeder_id", "线路编号", Text), "feeders")),
        req(refs(col("station_id", "供电单位编码", Text), "stations")),
        nonneg(col("capacity_kva", "变压器容量", Number)),
        code("ownership", "公专变", CodeList::Ownership),
    ],
    key: &["tq_id"],
    storage: Storage::Relational,
};

/// 用户档案.
pub const CUSTOMERS: Table = Table {
    name: "customers",
    name_zh: "用户档案",
    columns: &[
        req(col("customer_id", "户号", Text)),
        req(col("name", "户名", Text)),
        col("address", "用电地址", Text),
        req(code("category", "用电类别", CodeList::Category)),
        req(refs(col("tariff_code", "电价码", Text), "tariffs")),
        col("voltage", "电压等级", Text),
        nonneg(col("contract_kva", "合同容量", Number)),
        req(refs(col("station_id", "供电单位编码", Text), "stations")),
        refs(col("feeder_id", "线路编号", Text), "feeders"),
        refs(col("tq_id", "台区编号", Text), "transformer_areas"),
        req(code("status", "用户状态", CodeList::CustomerStatus)),
        req(col("opened_on", "立户日期", Date)),
        col("closed_on", "销户日期", Date),
        col("phone", "联系电话", Text),
        col("read_segment", "抄表段", Text),
        refs(col("reader_id", "抄表员", Text), "staff"),
        col("temporary", "临时用电标志", Bool),
        col("temp_expires_on", "临时用电到期日期", Date),
    ],
    key: &["customer_id"],
    storage: Storage::Relational,
};

/// 电能表.
pub const METERS: Table = Table {
    name: "meters",
    name_zh: "电能表",
    columns: &[
        req(col("meter_id", "电能表资产编号", Text)),
        req(refs(col("customer_id", "户号", Text), "customers")),
        Column { range: Range::Positive, ..req(col("multiplier", "综合倍率", Number)) },
        col("ct_ratio", "电流互感器变比", Text),
        col("pt_ratio", "电压互感器变比", Text),
        req(col("installed_on", "装表日期", Date)),
        col("removed_on", "拆表日期", Date),
        col("verified_on", "检定日期", Date),
        col("seal_ids", "封印编号", Text),
        col("meter_type", "表计类型", Text),
    ],
    key: &["meter_id"],
    storage: Storage::Relational,
};

/// 日冻结示数.
pub const READINGS: Table = Table {
    name: "readings",
    name_zh: "日冻结示数",
    columns: &[
        req(refs(col("meter_id", "电能表资产编号", Text), "meters")),
        req(col("date", "数据日期", Date)),
        nonneg(col("total", "正向有功总示数", Number)),
        nonneg(col("peak", "峰示数", Number)),
        nonneg(col("flat", "平示数", Number)),
        nonneg(col("valley", "谷示数", Number)),
    ],
    key: &["meter_id", "date"],
    storage: Storage::Series,
};

/// 日用电量 (long form; the wide form is turned into this).
pub const DAILY_USAGE: Table = Table {
    name: "daily_usage",
    name_zh: "日用电量",
    columns: &[
        Column { aliases: &["CONS_NO"], ..req(refs(col("customer_id", "户号", Text), "customers")) },
        req(col("date", "日期", Date)),
        nonneg(col("kwh", "日用电量", Number)),
    ],
    key: &["customer_id", "date"],
    storage: Storage::Series,
};

/// 供电量.
pub const SUPPLY: Table = Table {
    name: "supply",
    name_zh: "供电量",
    columns: &[
        req(code("point_type", "计量点类型", CodeList::PointType)),
        Column {
            reference: Some(Reference::PointBy("point_type")),
            ..req(col("point_id", "台区或线路编号", Text))
        },
        req(col("date", "日期", Date)),
        req(nonneg(col("kwh", "供电量", Number))),
    ],
    key: &["point_type", "point_id", "date"],
    storage: Storage::Series,
};

/// 电价.
pub const TARIFFS: Table = Table {
    name: "tariffs",
    name_zh: "电价",
    columns: &[
        req(col("tariff_code", "电价码", Text)),
        req(col("name", "电价名称", Text)),
        req(code("category", "用电类别", CodeList::Category)),
        req(nonneg(col("price", "电度电价", Number))),
        nonneg(col("price_peak", "峰段电价", Number)),
        nonneg(col("price_valley", "谷段电价", Number)),
        code("step_basis", "阶梯周期", CodeList::StepBasis),
        nonneg(col("step1_kwh", "第一档上限", Number)),
        nonneg(col("step2_kwh", "第二档上限", Number)),
        nonneg(col("step2_price", "第二档电价", Number)),
        nonneg(col("step3_price", "第三档电价", Number)),
        nonneg(col("basic_per_kva", "基本电费单价", Number)),
        req(col("valid_from", "执行日期", Date)),
        col("valid_to", "截止日期", Date),
    ],
    key: &["tariff_code", "valid_from"],
    storage: Storage::Relational,
};

/// 电费发行.
pub const BILLS: Table = Table {
    name: "bills",
    name_zh: "电费发行",
    columns: &[
        req(col("bill_id", "电费账单号", Text)),
        req(refs(col("customer_id", "户号", Text), "customers")),
        req(col("period", "电费年月", ColumnType::Period)),
        req(nonneg(col("kwh", "结算电量", Number))),
        req(col("amount", "应收电费", Number)),
        refs(col("tariff_code", "执行电价码", Text), "tariffs"),
        col("energy_charge", "电度电费", Number),
        col("basic_charge", "基本电费", Number),
        col("pf_adjustment", "力调电费", Number),
        col("issued_on", "发行日期", Date),
        col("due_on", "缴费截止日期", Date),
    ],
    key: &["bill_id"],
    storage: Storage::Relational,
};

/// 实收.
pub const PAYMENTS: Table = Table {
    name: "payments",
    name_zh: "实收",
    columns: &[
        req(col("payment_id", "收费流水号", Text)),
        req(refs(col("bill_id", "电费账单号", Text), "bills")),
        req(col("paid_on", "收费日期", Date)),
        req(col("amount", "实收金额", Number)),
        col("channel", "缴费渠道", Text),
    ],
    key: &["payment_id"],
    storage: Storage::Relational,
};

/// 业务工单.
pub const WORK_ORDERS: Table = Table {
    name: "work_orders",
    name_zh: "业务工单",
    columns: &[
        req(col("order_id", "工单编号", Text)),
        req(code("kind", "业务类型", CodeList::WorkOrderKind)),
        refs(col("customer_id", "户号", Text), "customers"),
        req(refs(col("station_id", "供电单位编码", Text), "stations")),
        col("voltage", "电压等级", Text),
        req(col("accepted_at", "受理时间", DateTime)),
        col("surveyed_at", "现场勘查时间", DateTime),
        col("scheme_replied_at", "答复供电方案时间", DateTime),
        col("connected_at", "装表接电时间", DateTime),
        col("archived_at", "归档时间", DateTime),
        req(code("status", "工单状态", CodeList::WorkOrderStatus)),
        refs(col("handler_id", "处理人", Text), "staff"),
        nonneg(col("fees_charged", "收取业务费用", Number)),
    ],
    key: &["order_id"],
    storage: Storage::Relational,
};

/// 停电事件.
pub const OUTAGES: Table = Table {
    name: "outages",
    name_zh: "停电事件",
    columns: &[
        req(col("outage_id", "停电编号", Text)),
        req(code("scope_type", "停电范围类型", CodeList::PointType)),
        Column {
            reference: Some(Reference::PointBy("scope_type")),
            ..req(col("scope_id", "台区或线路编号", Text))
        },
        req(col("start_at", "停电开始时间", DateTime)),
        col("end_at", "复电时间", DateTime),
        col("planned", "计划停电", Bool),
        nonneg(col("customers_affected", "停电户数", Number)),
    ],
    key: &["outage_id"],
    storage: Storage::Relational,
};

/// 现场检查 / 普查登记.
pub const FIELD_CHECKS: Table = Table {
    name: "field_checks",
    name_zh: "现场检查",
    columns: &[
        req(col("check_id", "检查编号", Text)),
        req(refs(col("customer_id", "户号", Text), "customers")),
        req(col("checked_on", "检查日期", Date)),
        refs(col("inspector_id", "检查人", Text), "staff"),
        code("kind", "检查类型", CodeList::CheckKind),
        col("seal_intact", "封印完好", Bool),
        col("meter_ok", "计量装置正常", Bool),
        col("theft_confirmed", "确认窃电", Bool),
        nonneg(col("recovered_kwh", "追补电量", Number)),
        nonneg(col("recovered_amount", "追补电费", Number)),
        col("finding", "检查情况", Text),
    ],
    key: &["check_id"],
    storage: Storage::Relational,
};

/// 人员.
pub const STAFF: Table = Table {
    name: "staff",
    name_zh: "人员",
    columns: &[
        req(col("staff_id", "工号", Text)),
        req(col("name", "姓名", Text)),
        refs(col("station_id", "供电单位编码", Text), "stations"),
        code("role", "岗位", CodeList::StaffRole),
        col("phone", "手机号码", Text),
    ],
    key: &["staff_id"],
    storage: Storage::Relational,
};

/// 满意度测评.
pub const SURVEYS: Table = Table {
    name: "surveys",
    name_zh: "满意度测评",
    columns: &[
        req(refs(col("station_id", "供电单位编码", Text), "stations")),
        req(col("period", "年月", ColumnType::Period)),
        Column { range: Range::Percent, ..req(col("score", "满意度得分", Number)) },
        col("source", "测评来源", Text),
    ],
    key: &["station_id", "period"],
    storage: Storage::Relational,
};

/// Every table, in an order where each table comes after the tables it refers to (staff refers to
/// stations; customers refer to staff and tariffs).
pub const TABLES: &[Table] = &[
    STATIONS,
    FEEDERS,
    TRANSFORMER_AREAS,
    STAFF,
    TARIFFS,
    CUSTOMERS,
    METERS,
    BILLS,
    PAYMENTS,
    WORK_ORDERS,
    OUTAGES,
    FIELD_CHECKS,
    SURVEYS,
    READINGS,
    DAILY_USAGE,
    SUPPLY,
];

/// The table of this English or Chinese name (case ignored).
pub fn table(name: &str) -> Option<&'static Table> {
    let n = name.trim();
    TABLES.iter().find(|t| t.name.eq_ignore_ascii_case(n) || t.name_zh == n)
}

/// The largest magnitude any number may have.
pub const MAX_MAGNITUDE: f64 = 1e12;

/// Whether a number column holds money (yuan), which may be negative in bills and payments.
pub fn is_money(table: &str, column: &str) -> bool {
    matches!(
        (table, column),
        ("bills", "amount" | "energy_charge" | "basic_charge" | "pf_adjustment") | ("payments", "amount")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_names_a_known_table_listed_earlier() {
        for (i, t) in TABLES.iter().enumerate() {
            for c in t.columns {
                if let Some(Reference::Table(target)) = c.reference {
                    let pos = TABLES.iter().position(|x| x.name == target);
                    assert!(pos.is_some(), "{}.{} refers to unknown {target}", t.name, c.name);
                    if t.name != "customers" || target != "staff" {
                        assert!(pos < Some(i) || target == t.name, "{} before {target}", t.name);
                    }
                }
            }
            for k in t.key {
                assert!(t.column(k).is_some_and(|c| c.required), "{}.{k} key", t.name);
            }
        }
    }

    #[test]
    fn headers_match_in_both_languages() {
        assert_eq!(CUSTOMERS.column_for_header(" Customer_ID "), Some(0));
        assert_eq!(CUSTOMERS.column_for_header("户号"), Some(0));
        assert_eq!(DAILY_USAGE.column_for_header("CONS_NO"), Some(0));
        assert_eq!(CUSTOMERS.column_for_header("\u{feff}户号"), Some(0));
        assert_eq!(CUSTOMERS.column_for_header("shoe size"), None);
        assert_eq!(table("用户档案").map(|t| t.name), Some("customers"));
        assert_eq!(table("Readings").map(|t| t.name), Some("readings"));
    }
}
