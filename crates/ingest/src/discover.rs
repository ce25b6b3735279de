//! Which file (or sheet) holds which table.

use jicha_core::problem::Problem;
use jicha_core::schema::{self, TABLES, Table};
use std::path::{Path, PathBuf};

/// Where a table's rows are.
#[derive(Debug, Clone)]
pub enum Location {
    /// A CSV file.
    Csv(PathBuf),
    /// A sheet of a workbook.
    Sheet(PathBuf, String),
}

/// One file or sheet of a data set and the table it holds.
#[derive(Debug, Clone)]
pub struct Source {
    /// What the user sees in messages: `readings-2026-01.csv` or `county.xlsx#customers`.
    pub display: String,
    /// The table.
    pub table: &'static Table,
    /// Where it is.
    pub location: Location,
    /// Size in bytes (for progress), 0 for sheets.
    pub bytes: u64,
}

/// The table a file stem names: the table's English or Chinese name, alone or followed by a
/// separator and a suffix (`readings-2026-01`, `用户档案_1`).
pub fn table_of_stem(stem: &str) -> Option<&'static Table> {
    let lower = stem.trim().to_lowercase();
    let mut best: Option<&'static Table> = None;
    for t in TABLES {
        for name in [t.name, t.name_zh] {
            let name_l = name.to_lowercase();
            let matches = lower == name_l
                || lower.strip_prefix(&name_l).is_some_and(|rest| {
                    rest.starts_with(['-', '_', '.', ' ', '(', '（'])
                        || rest.starts_with(|c: char| c.is_ascii_digit())
                });
            if matches && best.is_none_or(|b| b.name.len() < t.name.len()) {
                best = Some(t);
            }
        }
    }
    best
}

fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Lists the sources of a data set; files it cannot place are warnings.
pub fn discover(path: &Path) -> Result<(Vec<Source>, Vec<Problem>), Box<Problem>> {
    let mut sources = Vec::new();
    let mut warnings = Vec::new();
    let shown = path.display().to_string();
    if !path.exists() {
        return Err(Box::new(Problem::file(shown, "路径不存在", "no such file or folder")));
    }
    let files: Vec<PathBuf> = if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|e| {
            Box::new(Problem::file(&shown, format!("无法读取目录：{e}"), format!("cannot read folder: {e}")))
        })?;
        let mut v: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
        v.sort();
        v
    } else {
        vec![path.to_owned()]
    };
    for file in files {
        let name = display_name(&file);
        let ext = file.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default();
        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        match ext.as_str() {
            "csv" | "txt" if ext == "csv" || table_of_stem(&stem).is_some() => match table_of_stem(&stem) {
                Some(table) => {
                    let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
                    sources.push(Source { display: name, table, location: Location::Csv(file), bytes });
                }
                None => warnings.push(Problem::file(
                    name,
                    "文件名不是任何表名，已忽略",
                    "file name names no table; ignored",
                )),
            },
            "xlsx" | "xlsm" | "xls" => {
                let sheets = sheet_names(&file).map_err(|e| {
                    Box::new(Problem::file(
                        &name,
                        format!("无法打开工作簿：{e}"),
                        format!("cannot open workbook: {e}"),
                    ))
                })?;
                let file_table = table_of_stem(&stem);
                let mut placed = false;
                for sheet in &sheets {
                    let table = schema::table(sheet)
                        .or_else(|| table_of_stem(sheet))
                        .or(if sheets.len() == 1 { file_table } else { None });
                    match table {
                        Some(table) => {
                            placed = true;
                            sources.push(Source {
                                display: format!("{name}#{sheet}"),
                                table,
                                location: Location::Sheet(file.clone(), sheet.clone()),
                                bytes: 0,
                            });
                        }
                        None => warnings.push(Problem::file(
                            format!("{name}#{sheet}"),
                            "工作表名不是任何表名，已忽略",
                            "sheet name names no table; ignored",
                        )),
                    }
                }
                if !placed
                    && sheets.len() > 1
                    && let (Some(table), Some(first)) = (file_table, sheets.first())
                {
                    sources.push(Source {
                        display: format!("{name}#{first}"),
                        table,
                        location: Location::Sheet(file.clone(), first.clone()),
                        bytes: 0,
                    });
                }
            }
            _ => {
                if path.is_dir() {
                    warnings.push(Problem::file(
                        name,
                        "不是 CSV 或 Excel 文件，已忽略",
                        "not a CSV or Excel file; ignored",
                    ));
                } else {
                    return Err(Box::new(Problem::file(
                        name,
                        "只能导入文件夹、.csv 或 .xlsx 文件",
                        "import takes a folder, a .csv or an .xlsx file",
                    )));
                }
            }
        }
    }
    if sources.is_empty() {
        return Err(Box::new(Problem::file(
            shown,
            "没有找到任何可导入的表（文件名或工作表名应为表名，如 customers.csv）",
            "no table found (files or sheets must be named after tables, e.g. customers.csv)",
        )));
    }
    // Tables in dependency order, files of one table in name order.
    sources.sort_by_key(|s| (TABLES.iter().position(|t| t.name == s.table.name), s.display.clone()));
    Ok((sources, warnings))
}

fn sheet_names(path: &Path) -> Result<Vec<String>, calamine::Error> {
    use calamine::Reader;
    let wb = calamine::open_workbook_auto(path)?;
    Ok(wb.sheet_names().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_name_tables() {
        assert_eq!(table_of_stem("readings-2026-01").map(|t| t.name), Some("readings"));
        assert_eq!(table_of_stem("customers").map(|t| t.name), Some("customers"));
        assert_eq!(table_of_stem("用户档案_2").map(|t| t.name), Some("customers"));
        assert_eq!(table_of_stem("transformer_areas").map(|t| t.name), Some("transformer_areas"));
        assert_eq!(table_of_stem("daily_usage_wide").map(|t| t.name), Some("daily_usage"));
        assert!(table_of_stem("ground-truth").is_none());
        assert!(table_of_stem("customersx").is_none());
    }
}
