//! Code columns of the exchange format: each code has an English spelling (stored) and a Chinese
//! name (accepted on import, shown to people).

use serde::{Deserialize, Serialize};

/// Declares a code enum with its English code and Chinese names (the first Chinese name is the
/// display name; later ones are accepted aliases).
macro_rules! code_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $code:literal, [$($zh:literal),+];)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant,)+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The English code, as stored.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// The Chinese name shown to people.
            pub fn name_zh(self) -> &'static str {
                match self { $($name::$variant => [$($zh),+][0],)+ }
            }

            /// Parses the English code or a Chinese name, ignoring case and surrounding spaces.
            pub fn parse(text: &str) -> Option<Self> {
                let t = text.trim();
                $(
                    if t.eq_ignore_ascii_case($code) $(|| t == $zh)+ {
                        return Some($name::$variant);
                    }
                )+
                None
            }

            /// The accepted spellings, for error messages.
            pub fn accepted() -> String {
                let parts: Vec<String> = vec![$(format!("{} {}", $code, [$($zh),+][0]),)+];
                parts.join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

code_enum! {
    /// 用电类别: customer category.
    Category {
        Resident => "resident", ["居民生活", "居民", "城乡居民生活用电"];
        Agriculture => "agriculture", ["农业生产", "农业", "农业生产用电"];
        Commercial => "commercial", ["一般工商业", "工商业(单一制)", "工商业（单一制）", "商业"];
        Industrial => "industrial", ["大工业", "工商业(两部制)", "工商业（两部制）", "工业"];
        Other => "other", ["其他"];
    }
}

code_enum! {
    /// 用户状态: customer status.
    CustomerStatus {
        Active => "active", ["正常", "正常用电"];
        Suspended => "suspended", ["暂停"];
        Closed => "closed", ["销户", "已销户"];
    }
}

code_enum! {
    /// 公专变: transformer ownership.
    Ownership {
        Public => "public", ["公变"];
        Dedicated => "dedicated", ["专变"];
    }
}

code_enum! {
    /// 计量点类型 (supply) and 停电范围类型 (outages): a transformer area or a feeder.
    PointType {
        Tq => "tq", ["台区", "台区总表"];
        Feeder => "feeder", ["线路", "线路关口"];
    }
}

code_enum! {
    /// 阶梯周期: whether tariff steps apply per month or to the year's accumulated kWh.
    StepBasis {
        Month => "month", ["月", "按月"];
        Year => "year", ["年", "按年"];
    }
}

code_enum! {
    /// 业务类型: kind of counter business work order.
    WorkOrderKind {
        NewConnection => "new_connection", ["新装"];
        CapacityIncrease => "capacity_increase", ["增容"];
        MeterReplacement => "meter_replacement", ["换表"];
        Temporary => "temporary", ["临时用电"];
        Closure => "closure", ["销户"];
        CategoryChange => "category_change", ["改类"];
        Other => "other", ["其他"];
    }
}

code_enum! {
    /// 工单状态: status of a counter business work order.
    WorkOrderStatus {
        Open => "open", ["在途"];
        Done => "done", ["已完成"];
        Archived => "archived", ["已归档"];
        Cancelled => "cancelled", ["已作废"];
    }
}

code_enum! {
    /// 检查类型: kind of field check.
    CheckKind {
        Census => "census", ["营业普查"];
        Routine => "routine", ["用电检查"];
        Spot => "spot", ["抽查"];
        Audit => "audit", ["稽查"];
    }
}

code_enum! {
    /// 岗位: staff role.
    StaffRole {
        Reader => "reader", ["抄表员"];
        Inspector => "inspector", ["用电检查员"];
        Auditor => "auditor", ["稽查员"];
        Manager => "manager", ["所长", "管理", "所长/管理"];
        Other => "other", ["其他"];
    }
}

/// 电压等级 classes of the conventions: low = 220V or 380V, high = anything else (an empty
/// voltage is high).
pub fn is_low_voltage(voltage: Option<&str>) -> bool {
    matches!(
        voltage.map(|v| v.trim().to_ascii_uppercase()),
        Some(ref v) if v == "220V" || v == "380V"
    )
}

/// Parses a boolean cell: `1/0`, `true/false`, `是/否`, `y/n`, `yes/no`.
pub fn parse_bool(text: &str) -> Option<bool> {
    let t = text.trim();
    match t.to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "y" | "yes" => Some(true),
        "0" | "false" | "f" | "n" | "no" => Some(false),
        _ => match t {
            "是" | "真" => Some(true),
            "否" | "假" => Some(false),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse_in_english_and_chinese() {
        assert_eq!(Category::parse(" Resident "), Some(Category::Resident));
        assert_eq!(Category::parse("居民生活"), Some(Category::Resident));
        assert_eq!(Category::parse("大工业"), Some(Category::Industrial));
        assert_eq!(Category::parse("factory"), None);
        assert_eq!(WorkOrderStatus::parse("已归档"), Some(WorkOrderStatus::Archived));
        assert_eq!(Category::Commercial.name_zh(), "一般工商业");
        assert!(Category::accepted().contains("resident 居民生活"));
    }

    #[test]
    fn voltage_classes() {
        assert!(is_low_voltage(Some("220V")));
        assert!(is_low_voltage(Some(" 380v ")));
        assert!(!is_low_voltage(Some("10kV")));
        assert!(!is_low_voltage(None));
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("是"), Some(true));
        assert_eq!(parse_bool("FALSE"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }
}
