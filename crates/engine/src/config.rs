//! `jicha.toml` in the data dir: per theme on/off, severity and parameters, validated before any
//! theme runs so that a typo never silently falls back to a default.
//!
//! ```toml
//! [themes.VOL-ZERO]
//! enabled = true          # 启用 / run it
//! severity = "high"       # high | medium | low (高 | 中 | 低)
//! min_known_share = 0.9   # any parameter the theme declares
//!
//! [themes.SVC-HOURS.weekly_budget]   # a keyed parameter: one number per key
//! S01 = 120.0
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::finding::Severity;
use crate::theme::{Params, Theme};

/// Top-level sections of `jicha.toml` validated by the parts that read them (`jicha-notify`
/// for `channels`, the web server for `briefing` and `schedule`).
pub const OTHER_SECTIONS: &[&str] = &["channels", "briefing", "schedule", "warnings"];

/// The file name in the data dir.
pub const CONFIG_FILE: &str = "jicha.toml";

/// What `jicha.toml` says about one theme.
#[derive(Debug, Clone)]
pub struct ThemeSettings {
    /// Run it (default true).
    pub enabled: bool,
    /// Severity instead of the theme's own.
    pub severity: Option<Severity>,
    /// Parameter values (defaults overridden by the file).
    pub params: Params,
}

/// The validated configuration: settings for every theme of the catalogue.
#[derive(Debug, Clone, Default)]
pub struct Config {
    themes: BTreeMap<String, ThemeSettings>,
}

/// One problem of the file, already worded for the user (file and line first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem(pub String);

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Config {
    /// The settings of a theme (its defaults when the file says nothing about it).
    pub fn settings(&self, theme: &dyn Theme) -> ThemeSettings {
        self.themes.get(theme.code()).cloned().unwrap_or_else(|| ThemeSettings {
            enabled: true,
            severity: None,
            params: Params::defaults(theme),
        })
    }

    /// Reads `jicha.toml` from `root` (absent file: every default) against `catalogue`.
    pub fn load(root: &Path, catalogue: &[&dyn Theme]) -> Result<Config, Vec<ConfigProblem>> {
        let path = root.join(CONFIG_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&path, &text, catalogue),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(vec![ConfigProblem(format!("{}：无法读取 / cannot read: {e}", path.display()))]),
        }
    }

    /// Parses and validates the text of a config file; every problem is reported at once.
    pub fn parse(path: &Path, text: &str, catalogue: &[&dyn Theme]) -> Result<Config, Vec<ConfigProblem>> {
        let file = Located { path: path.to_path_buf(), text };
        let table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                let line = e.span().map(|s| line_at(text, s.start));
                let msg = e.message().trim().to_string();
                return Err(vec![file.problem(line, &format!("不是有效的 TOML / not valid TOML: {msg}"))]);
            }
        };
        let mut problems = Vec::new();
        let mut config = Config::default();
        for (key, value) in &table {
            // Sections read by others: notification channels, the briefing, the scheduler.
            if OTHER_SECTIONS.contains(&key.as_str()) {
                continue;
            }
            if key != "themes" {
                problems.push(file.problem(
                    file.line_of_key(None, key),
                    &format!("未知的配置项 “{key}”，应为 [themes.代码] / unknown key “{key}”, expected [themes.CODE]"),
                ));
                continue;
            }
            let Some(themes) = value.as_table() else {
                problems.push(
                    file.problem(file.line_of_key(None, key), "themes 应为表 / themes must be a table"),
                );
                continue;
            };
            for (code, body) in themes {
                let Some(theme) = catalogue.iter().find(|t| t.code() == code) else {
                    let known: Vec<&str> = catalogue.iter().map(|t| t.code()).collect();
                    problems.push(file.problem(
                        file.line_of_header(code),
                        &format!(
                            "未知的稽查主题 “{code}” / unknown theme “{code}”; 可用 known: {}",
                            known.join(", ")
                        ),
                    ));
                    continue;
                };
                match theme_settings(&file, *theme, body) {
                    Ok(s) => {
                        config.themes.insert(code.clone(), s);
                    }
                    Err(mut p) => problems.append(&mut p),
                }
            }
        }
        if problems.is_empty() { Ok(config) } else { Err(problems) }
    }
}

fn theme_settings(
    file: &Located,
    theme: &dyn Theme,
    body: &toml::Value,
) -> Result<ThemeSettings, Vec<ConfigProblem>> {
    let code = theme.code();
    let mut s = ThemeSettings { enabled: true, severity: None, params: Params::defaults(theme) };
    let mut problems = Vec::new();
    let Some(body) = body.as_table() else {
        return Err(vec![
            file.problem(file.line_of_header(code), &format!("[themes.{code}] 应为表 / must be a table")),
        ]);
    };
    for (key, value) in body {
        let line = file.line_of_key(Some(code), key);
        let mut bad =
            |what: &str| problems.push(file.problem(line, &format!("[themes.{code}] {key}: {what}")));
        match key.as_str() {
            "enabled" => match value.as_bool() {
                Some(b) => s.enabled = b,
                None => bad("应为 true 或 false / must be true or false"),
            },
            "severity" => match value.as_str().and_then(parse_severity) {
                Some(sev) => s.severity = Some(sev),
                None => bad("应为 high、medium 或 low（高、中、低）/ must be high, medium or low"),
            },
            name => {
                if let Some(p) = theme.params().iter().find(|p| p.name == name) {
                    match number(value) {
                        Some(x) => s.params.set(p.name, x),
                        None => bad("应为有限的数 / must be a finite number"),
                    }
                } else if let Some(k) = theme.keyed_params().iter().find(|k| k.name == name) {
                    match value.as_table() {
                        Some(t) => {
                            let mut map = BTreeMap::new();
                            for (k2, v2) in t {
                                match number(v2) {
                                    Some(x) if x >= 0.0 => {
                                        map.insert(k2.clone(), x);
                                    }
                                    _ => problems.push(file.problem(
                                        file.line_of_key(Some(code), k2),
                                        &format!(
                                            "[themes.{code}.{name}] {k2}: 应为非负数 / must be a number >= 0"
                                        ),
                                    )),
                                }
                            }
                            s.params.set_keyed(k.name, map);
                        }
                        None => bad(&format!(
                            "应为表 [themes.{code}.{name}]，每个{} = 数值 / must be a table of {} = number",
                            k.key, k.key
                        )),
                    }
                } else {
                    let mut known: Vec<&str> = vec!["enabled", "severity"];
                    known.extend(theme.params().iter().map(|p| p.name));
                    known.extend(theme.keyed_params().iter().map(|k| k.name));
                    bad(&format!("未知参数 / unknown parameter; 可用 known: {}", known.join(", ")));
                }
            }
        }
    }
    if problems.is_empty() { Ok(s) } else { Err(problems) }
}

/// A severity in English or Chinese.
pub fn parse_severity(s: &str) -> Option<Severity> {
    match s.trim() {
        "high" | "高" => Some(Severity::High),
        "medium" | "中" => Some(Severity::Medium),
        "low" | "低" => Some(Severity::Low),
        _ => None,
    }
}

fn number(v: &toml::Value) -> Option<f64> {
    let x = match v {
        toml::Value::Float(f) => *f,
        toml::Value::Integer(i) => *i as f64,
        _ => return None,
    };
    x.is_finite().then_some(x)
}

/// The config text with its path, to word problems with a line number.
struct Located<'a> {
    path: PathBuf,
    text: &'a str,
}

impl Located<'_> {
    fn problem(&self, line: Option<usize>, what: &str) -> ConfigProblem {
        match line {
            Some(l) => ConfigProblem(format!("{} 第 {l} 行 / line {l}: {what}", self.path.display())),
            None => ConfigProblem(format!("{}: {what}", self.path.display())),
        }
    }

    /// The line of `[themes.CODE]` (or `[themes.CODE.x]`), 1-based.
    fn line_of_header(&self, code: &str) -> Option<usize> {
        let header = format!("themes.{code}");
        self.text
            .lines()
            .position(|l| {
                let l = l.trim();
                l.starts_with('[') && l.trim_matches(|c| c == '[' || c == ']').trim().starts_with(&header)
            })
            .map(|i| i + 1)
            .or_else(|| self.text.lines().position(|l| l.contains(code)).map(|i| i + 1))
    }

    /// The line where `key = ` is written, after the theme's header when given.
    fn line_of_key(&self, code: Option<&str>, key: &str) -> Option<usize> {
        let start = code.and_then(|c| self.line_of_header(c)).unwrap_or(1);
        self.text
            .lines()
            .enumerate()
            .skip(start - 1)
            .find(|(_, l)| {
                let l = l.trim_start();
                l.strip_prefix(key)
                    .or_else(|| l.strip_prefix(&format!("\"{key}\"")))
                    .is_some_and(|rest| rest.trim_start().starts_with('=') || rest.starts_with(']'))
                    || l.trim_matches(|c| c == '[' || c == ']').ends_with(&format!(".{key}"))
            })
            .map(|(i, _)| i + 1)
    }
}

/// The 1-based line of a byte offset.
fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::themes::registry;

    fn parse(text: &str) -> Result<Config, Vec<ConfigProblem>> {
        Config::parse(Path::new("jicha.toml"), text, registry())
    }

    fn theme(code: &str) -> &'static dyn Theme {
        registry().iter().copied().find(|t| t.code() == code).unwrap()
    }

    #[test]
    fn values_override_defaults() {
        let c = parse(
            "[themes.VOL-ZERO]\nenabled = false\nseverity = \"高\"\nmin_known_share = 0.9\n\n\
             [themes.SVC-HOURS.weekly_budget]\nS01 = 120\n",
        )
        .unwrap();
        let z = c.settings(theme("VOL-ZERO"));
        assert!(!z.enabled);
        assert_eq!(z.severity, Some(Severity::High));
        assert_eq!(z.params.get("min_known_share"), 0.9);
        let h = c.settings(theme("SVC-HOURS"));
        assert_eq!(h.params.keyed("weekly_budget").get("S01"), Some(&120.0));
        // Not mentioned: the defaults.
        let d = c.settings(theme("VOL-DROP"));
        assert!(d.enabled);
        assert_eq!(d.params.get("baseline_days"), 90.0);
    }

    #[test]
    fn every_problem_is_named_with_its_line() {
        let e = parse(
            "[themes.VOL-ZERO]\nmin_known_shar = 0.9\nseverity = \"urgent\"\n\n[themes.NOPE]\nx = 1\n\
             [themes.VOL-DROP]\nbaseline_days = \"ninety\"\n",
        )
        .unwrap_err();
        let text: Vec<String> = e.iter().map(|p| p.0.clone()).collect();
        assert_eq!(e.len(), 4, "{text:?}");
        assert!(text.iter().any(|t| t.contains("第 2 行") && t.contains("min_known_shar")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("第 3 行") && t.contains("high, medium or low")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("第 5 行") && t.contains("NOPE")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("第 8 行") && t.contains("baseline_days")), "{text:?}");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let e = parse("[themes.VOL-ZERO]\nmin_known_share = = 0.9\n").unwrap_err();
        assert!(e[0].0.contains("第 2 行"), "{}", e[0].0);
    }
}
