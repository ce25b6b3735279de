//! A problem found in a data set: where it is (file, line, column, field), the value, and why it
//! was refused, in Chinese and English.

use serde::Serialize;

/// One rejected value or row, or a warning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// The file (or `workbook.xlsx#sheet`), as the user named it.
    pub file: String,
    /// 1-based physical line (or spreadsheet row); `None` for the file as a whole.
    pub line: Option<u64>,
    /// 1-based column number.
    pub column: Option<usize>,
    /// The column's header or field name.
    pub field: Option<String>,
    /// The offending value, as read.
    pub value: Option<String>,
    /// Why, in Chinese.
    pub reason_zh: String,
    /// Why, in English.
    pub reason_en: String,
}

impl Problem {
    /// A problem with a file as a whole.
    pub fn file(file: impl Into<String>, zh: impl Into<String>, en: impl Into<String>) -> Problem {
        Problem {
            file: file.into(),
            line: None,
            column: None,
            field: None,
            value: None,
            reason_zh: zh.into(),
            reason_en: en.into(),
        }
    }

    /// Sets the line.
    pub fn at_line(mut self, line: u64) -> Problem {
        self.line = Some(line);
        self
    }

    /// Sets the column number and field name.
    pub fn at_column(mut self, column: usize, field: impl Into<String>) -> Problem {
        self.column = Some(column);
        self.field = Some(field.into());
        self
    }

    /// Sets the value.
    pub fn with_value(mut self, value: impl Into<String>) -> Problem {
        self.value = Some(value.into());
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, " 第{line}行")?;
        }
        if let Some(col) = self.column {
            write!(f, " 第{col}列")?;
        }
        if let Some(field) = &self.field {
            write!(f, " [{field}]")?;
        }
        if let Some(value) = &self.value {
            let shown: String = value.chars().take(60).collect();
            write!(f, " 值 “{shown}”")?;
        }
        write!(f, "：{} / {}", self.reason_zh, self.reason_en)?;
        if let Some(line) = self.line {
            write!(f, " (line {line}")?;
            if let Some(col) = self.column {
                write!(f, ", column {col}")?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_where_the_problem_is_in_both_languages() {
        let p = Problem::file("customers.csv", "未知的用电类别", "unknown category")
            .at_line(12)
            .at_column(4, "category")
            .with_value("factory");
        let s = p.to_string();
        assert!(s.starts_with("customers.csv 第12行 第4列 [category] 值 “factory”：未知的用电类别"));
        assert!(s.ends_with("unknown category (line 12, column 4)"));
    }
}
