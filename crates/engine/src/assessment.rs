//! Assessment (考核): a scheme gives each indicator a weight, a target and a scoring rule, and
//! deductions per finding type and per audit order closed late; stations and people are scored
//! for a month, quarter or year, ranked, and every score is explained down to the figures and
//! findings behind it. The scheme is data (JSON), kept and versioned by `jicha-flow`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::indicators::{Indicators, indicator};

/// How an indicator scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Rule {
    /// Full weight at the target or better, nothing at the floor or worse, linear between.
    Linear {
        /// The value that scores nothing.
        floor: f64,
    },
    /// Full weight at the target or better; `points` off per `per` the value falls short, down to 0.
    Deduct {
        /// The unit of shortfall (0.01 is one percentage point for a ratio).
        per: f64,
        /// Points off per unit.
        points: f64,
    },
}

/// One scored indicator of a scheme (its keys are checked by `Scheme::parse`: serde cannot
/// refuse unknown keys beside a flattened rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Indicator code.
    pub code: String,
    /// Points it is worth.
    pub weight: f64,
    /// The target (ratios as fractions: 0.98).
    pub target: f64,
    /// The rule.
    #[serde(flatten)]
    pub rule: Rule,
}

/// A deduction: per finding of a theme (attributed to a person when `person`), or per audit
/// order of the station closed late (`theme` = `LATE-ORDER`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deduction {
    /// Theme code, or `LATE-ORDER`.
    pub theme: String,
    /// Points per occurrence.
    pub points: f64,
    /// Whether it counts against the person the finding is attributed to (else the station).
    #[serde(default)]
    pub person: bool,
}

/// A scheme.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scheme {
    /// Scored indicators.
    pub items: Vec<Item>,
    /// Deductions.
    #[serde(default)]
    pub deductions: Vec<Deduction>,
    /// Day of the month after the period from which results may be published (data cut-off).
    #[serde(default = "default_cutoff")]
    pub cutoff_day: u32,
    /// A person's score before deductions.
    #[serde(default = "default_person_base")]
    pub person_base: f64,
}

fn default_cutoff() -> u32 {
    5
}
fn default_person_base() -> f64 {
    100.0
}

impl Scheme {
    /// Parses and checks a scheme; every problem is named (JSON line and column, the item).
    pub fn parse(text: &str) -> Result<Scheme, Vec<String>> {
        let s: Scheme = serde_json::from_str(text).map_err(|e| {
            vec![format!(
                "第 {} 行第 {} 列：{e} / line {}, column {}: {e}",
                e.line(),
                e.column(),
                e.line(),
                e.column()
            )]
        })?;
        let mut problems = Vec::new();
        let raw: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        for (i, item) in raw["items"].as_array().map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
            for key in item.as_object().map(|o| o.keys().collect::<Vec<_>>()).unwrap_or_default() {
                if !["code", "weight", "target", "rule", "floor", "per", "points"].contains(&key.as_str()) {
                    problems.push(format!("items[{i}]：未知的键 “{key}” / unknown key"));
                }
            }
        }
        for (i, it) in s.items.iter().enumerate() {
            if indicator(&it.code).is_none() {
                problems.push(format!("items[{i}]：未知指标 “{}” / unknown indicator", it.code));
            }
            if !(it.weight.is_finite() && it.weight >= 0.0) {
                problems.push(format!("items[{i}]：权重应为非负数 / weight must be non-negative"));
            }
            if let Rule::Deduct { per, .. } = it.rule
                && per <= 0.0
            {
                problems.push(format!("items[{i}]：per 应大于 0 / per must be positive"));
            }
        }
        if !(1..=28).contains(&s.cutoff_day) {
            problems.push("cutoff_day 应在 1 到 28 之间 / must be 1 to 28".into());
        }
        if problems.is_empty() { Ok(s) } else { Err(problems) }
    }

    /// The example scheme offered to an administrator: weights summing to 100.
    pub fn example() -> &'static str {
        r#"{
  "items": [
    {"code": "loss_rate", "weight": 25, "target": 0.06, "rule": "linear", "floor": 0.12},
    {"code": "recovery_rate", "weight": 25, "target": 1.0, "rule": "deduct", "per": 0.01, "points": 5},
    {"code": "collection_rate", "weight": 15, "target": 0.99, "rule": "linear", "floor": 0.95},
    {"code": "on_time_expansion", "weight": 10, "target": 1.0, "rule": "linear", "floor": 0.8},
    {"code": "reliability", "weight": 10, "target": 0.9995, "rule": "linear", "floor": 0.999},
    {"code": "audit_on_time", "weight": 15, "target": 1.0, "rule": "deduct", "per": 0.1, "points": 5}
  ],
  "deductions": [
    {"theme": "PRC-KWH", "points": 0.5, "person": true},
    {"theme": "PRC-BILL", "points": 0.5, "person": true},
    {"theme": "LATE-ORDER", "points": 2}
  ],
  "cutoff_day": 5
}"#
    }
}

/// One line of a score's explanation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// What: an indicator's name or a deduction.
    pub what: String,
    /// The figure behind it (the indicator's value, or the count).
    pub figure: Option<f64>,
    /// The target or points per occurrence.
    pub against: f64,
    /// Points earned (or, negative, deducted).
    pub points: f64,
    /// How: the rule in words, with numerator and denominator.
    pub how: String,
    /// Findings behind a deduction.
    #[serde(default)]
    pub findings: Vec<String>,
}

/// A scored station or person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Station id or staff id.
    pub id: String,
    /// Name shown.
    pub name: String,
    /// The station (for a person).
    pub station_id: String,
    /// Total.
    pub score: f64,
    /// 1 for the best.
    pub rank: u32,
    /// Every line behind the total.
    pub lines: Vec<Line>,
}

/// An assessment: every station and person of a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assessment {
    /// The period (`2026-03`, `2026-Q1`, `2026`).
    pub period: String,
    /// Stations, best first.
    pub stations: Vec<Score>,
    /// People with attributed findings, best first.
    pub people: Vec<Score>,
}

fn points_of(item: &Item, higher_better: bool, v: f64) -> f64 {
    // Shortfall measured in the direction that is worse.
    let short = if higher_better { item.target - v } else { v - item.target };
    if short <= 0.0 {
        return item.weight;
    }
    match item.rule {
        Rule::Linear { floor } => {
            let span = if higher_better { item.target - floor } else { floor - item.target };
            if span <= 0.0 { 0.0 } else { (item.weight * (1.0 - short / span)).clamp(0.0, item.weight) }
        }
        Rule::Deduct { per, points } => (item.weight - points * short / per).clamp(0.0, item.weight),
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Scores every station and person of the period from its indicators. `staff` maps each staff id
/// to (name, station, scored): every scored person appears (full marks without errors), others
/// only when an error is attributed to them.
pub fn score(
    scheme: &Scheme,
    ind: &Indicators,
    staff: &BTreeMap<String, (String, String, bool)>,
) -> Assessment {
    let monthly = ind.span.monthly();
    let mut stations = Vec::new();
    for (id, name) in &ind.station_names {
        let t = ind.current.stations.get(id).cloned().unwrap_or_default();
        let mut lines = Vec::new();
        for item in &scheme.items {
            let Some(def) = indicator(&item.code) else { continue };
            let v = t.value(&item.code, monthly);
            let (points, how) = match v {
                Some(v) => {
                    let p = points_of(item, def.higher_is_better, v.value);
                    let ratio = v.den.map_or(String::new(), |d| format!("（{:.2} / {:.2}）", v.num, d));
                    (
                        p,
                        format!(
                            "{} {}{ratio}，目标 {}",
                            def.zh,
                            def.format(v.value),
                            def.format(item.target)
                        ),
                    )
                }
                None => (0.0, format!("{}：本期无数据，不得分 / no data, no points", def.zh)),
            };
            lines.push(Line {
                what: def.zh.to_string(),
                figure: v.map(|v| v.value),
                against: item.target,
                points: round2(points),
                how,
                findings: Vec::new(),
            });
        }
        for d in scheme.deductions.iter().filter(|d| !d.person) {
            let (count, findings) = if d.theme == "LATE-ORDER" {
                (t.orders.due.saturating_sub(t.orders.on_time), Vec::new())
            } else {
                let f: Vec<String> = ind
                    .current
                    .errors
                    .iter()
                    .filter(|e| e.theme == d.theme && e.station_id == *id)
                    .map(|e| e.finding_id.clone())
                    .collect();
                (f.len() as u64, f)
            };
            if count > 0 {
                lines.push(Line {
                    what: if d.theme == "LATE-ORDER" { "稽查工单逾期".into() } else { d.theme.clone() },
                    figure: Some(count as f64),
                    against: d.points,
                    points: round2(-(count as f64) * d.points),
                    how: format!("{count} × {} 分", d.points),
                    findings,
                });
            }
        }
        let score = round2(lines.iter().map(|l| l.points).sum::<f64>());
        stations.push(Score {
            id: id.clone(),
            name: name.clone(),
            station_id: id.clone(),
            score,
            rank: 0,
            lines,
        });
    }

    // People: the findings attributed to them.
    let mut by_person: BTreeMap<String, Vec<&crate::indicators::Attributed>> =
        staff.iter().filter(|(_, s)| s.2).map(|(id, _)| (id.clone(), Vec::new())).collect();
    for e in &ind.current.errors {
        if !e.staff_id.is_empty() {
            by_person.entry(e.staff_id.clone()).or_default().push(e);
        }
    }
    let mut people = Vec::new();
    for (person, errs) in by_person {
        let mut lines = Vec::new();
        for d in scheme.deductions.iter().filter(|d| d.person) {
            let f: Vec<String> =
                errs.iter().filter(|e| e.theme == d.theme).map(|e| e.finding_id.clone()).collect();
            if !f.is_empty() {
                lines.push(Line {
                    what: d.theme.clone(),
                    figure: Some(f.len() as f64),
                    against: d.points,
                    points: round2(-(f.len() as f64) * d.points),
                    how: format!("{} × {} 分", f.len(), d.points),
                    findings: f,
                });
            }
        }
        let (name, station, _) =
            staff.get(&person).cloned().unwrap_or_else(|| (person.clone(), String::new(), false));
        let station = match errs.first() {
            Some(e) if station.is_empty() => e.station_id.clone(),
            _ => station,
        };
        let score = round2(scheme.person_base + lines.iter().map(|l| l.points).sum::<f64>());
        people.push(Score { id: person, name, station_id: station, score, rank: 0, lines });
    }
    rank(&mut stations);
    rank(&mut people);
    Assessment { period: ind.span.label(), stations, people }
}

/// Sorts best first and ranks; equal scores share a rank.
fn rank(list: &mut [Score]) {
    list.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    let mut prev: Option<(f64, u32)> = None;
    for (i, s) in list.iter_mut().enumerate() {
        s.rank = match prev {
            Some((score, r)) if score == s.score => r,
            _ => i as u32 + 1,
        };
        prev = Some((s.score, s.rank));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(rule: Rule) -> Item {
        Item { code: "loss_rate".into(), weight: 20.0, target: 0.06, rule }
    }

    #[test]
    fn rules_score_as_written() {
        let lin = item(Rule::Linear { floor: 0.12 });
        assert_eq!(points_of(&lin, false, 0.05), 20.0);
        assert!((points_of(&lin, false, 0.09) - 10.0).abs() < 1e-9);
        assert_eq!(points_of(&lin, false, 0.2), 0.0);
        let ded = Item {
            code: "recovery_rate".into(),
            weight: 25.0,
            target: 1.0,
            rule: Rule::Deduct { per: 0.01, points: 5.0 },
        };
        assert!((points_of(&ded, true, 0.98) - 15.0).abs() < 1e-9);
        assert_eq!(points_of(&ded, true, 0.5), 0.0);
    }

    #[test]
    fn the_example_parses_and_mistakes_are_named() {
        let s = Scheme::parse(Scheme::example()).unwrap();
        assert_eq!(s.items.iter().map(|i| i.weight).sum::<f64>(), 100.0);
        let bad = Scheme::parse(
            r#"{"items": [{"code": "nope", "weight": -1, "target": 1, "rule": "linear", "floor": 0, "wieght": 2}], "cutoff_day": 40}"#,
        )
        .unwrap_err();
        assert_eq!(bad.len(), 4, "{bad:?}");
        let broken = Scheme::parse("{\n  \"items\": [,]\n}").unwrap_err();
        assert!(broken[0].contains("第 2 行"), "{broken:?}");
    }

    #[test]
    fn equal_scores_share_a_rank() {
        let s = |id: &str, score| Score {
            id: id.into(),
            name: id.into(),
            station_id: String::new(),
            score,
            rank: 0,
            lines: vec![],
        };
        let mut l = vec![s("a", 80.0), s("b", 90.0), s("c", 80.0)];
        rank(&mut l);
        assert_eq!(
            l.iter().map(|x| (x.id.as_str(), x.rank)).collect::<Vec<_>>(),
            [("b", 1), ("a", 2), ("c", 2)]
        );
    }
}
