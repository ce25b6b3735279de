//! Findings (疑似问题): one hit of a theme on one entity and period.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::theme::Window;

/// 严重程度: how urgent a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// 高.
    High,
    /// 中.
    Medium,
    /// 低.
    Low,
}

impl Severity {
    /// The stored spelling.
    pub fn code(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        }
    }

    /// The Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            Severity::High => "高",
            Severity::Medium => "中",
            Severity::Low => "低",
        }
    }
}

/// The kind of entity a finding is about, spelled as audit-themes.md spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    /// 用户.
    Customer,
    /// 电能表.
    Meter,
    /// 电费账单.
    Bill,
    /// 台区.
    TransformerArea,
    /// 线路.
    Feeder,
    /// 工单.
    WorkOrder,
    /// 供电所.
    Station,
}

impl EntityType {
    /// Every entity type.
    pub const ALL: [EntityType; 7] = [
        EntityType::Customer,
        EntityType::Meter,
        EntityType::Bill,
        EntityType::TransformerArea,
        EntityType::Feeder,
        EntityType::WorkOrder,
        EntityType::Station,
    ];

    /// The spelling of findings and ground truth.
    pub fn code(self) -> &'static str {
        match self {
            EntityType::Customer => "customer",
            EntityType::Meter => "meter",
            EntityType::Bill => "bill",
            EntityType::TransformerArea => "transformer_area",
            EntityType::Feeder => "feeder",
            EntityType::WorkOrder => "work_order",
            EntityType::Station => "station",
        }
    }

    /// The Chinese name.
    pub fn name_zh(self) -> &'static str {
        match self {
            EntityType::Customer => "用户",
            EntityType::Meter => "电能表",
            EntityType::Bill => "电费账单",
            EntityType::TransformerArea => "台区",
            EntityType::Feeder => "线路",
            EntityType::WorkOrder => "工单",
            EntityType::Station => "供电所",
        }
    }
}

/// One finding, with exactly the keys of the `jsonl` output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Theme code.
    pub theme: &'static str,
    /// Entity type.
    pub entity_type: EntityType,
    /// Entity id.
    pub entity_id: String,
    /// 供电所 of the entity, when known.
    pub station_id: Option<String>,
    /// The audited month.
    pub period: String,
    /// Severity.
    pub severity: Severity,
    /// The numbers that made the theme fire.
    pub evidence: serde_json::Map<String, serde_json::Value>,
    /// 涉及电费, yuan, where computable.
    pub amount_at_risk: Option<f64>,
    /// Stable id: the same theme, entity and period give the same id in every run.
    pub finding_id: String,
}

impl Finding {
    /// A finding with its stable id; `evidence` are named numbers.
    pub fn new(
        theme: &'static str,
        entity_type: EntityType,
        entity_id: impl Into<String>,
        station_id: Option<String>,
        window: &Window,
        severity: Severity,
        evidence: &[(&str, serde_json::Value)],
    ) -> Finding {
        let entity_id = entity_id.into();
        let period = window.label();
        let finding_id = finding_id(theme, entity_type, &entity_id, &period);
        Finding {
            theme,
            entity_type,
            entity_id,
            station_id,
            period,
            severity,
            evidence: evidence.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect(),
            amount_at_risk: None,
            finding_id,
        }
    }

    /// Sets the money at risk, rounded to the cent (ignored when not finite).
    pub fn with_amount(mut self, yuan: Option<f64>) -> Finding {
        self.amount_at_risk = yuan.filter(|y| y.is_finite()).map(|y| (y * 100.0).round() / 100.0);
        self
    }
}

/// The stable finding id: the first 16 hex digits of SHA-256 over theme, entity type, entity id
/// and period, separated by a byte that cannot occur in any of them.
pub fn finding_id(theme: &str, entity_type: EntityType, entity_id: &str, period: &str) -> String {
    let mut h = Sha256::new();
    for part in [theme, entity_type.code(), entity_id, period] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A number for the evidence, rounded so that it reads well (4 decimals).
pub fn num(x: f64) -> serde_json::Value {
    let r = (x * 10_000.0).round() / 10_000.0;
    serde_json::Number::from_f64(r).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// An integer for the evidence.
pub fn int(x: i64) -> serde_json::Value {
    serde_json::Value::from(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = finding_id("VOL-ZERO", EntityType::Customer, "001", "2026-01");
        assert_eq!(a.len(), 16);
        assert_eq!(a, finding_id("VOL-ZERO", EntityType::Customer, "001", "2026-01"));
        assert_ne!(a, finding_id("VOL-ZERO", EntityType::Customer, "001", "2026-02"));
        assert_ne!(a, finding_id("VOL-DROP", EntityType::Customer, "001", "2026-01"));
    }
}
