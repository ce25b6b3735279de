//! The census registration forms (用电营业普查登记表): one workbook per station, prefilled with
//! the customers to check, whose first sheet imports back as the `field_checks` table once the
//! field workers have filled it in.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{
    DataValidation, DataValidationErrorStyle, DataValidationRule, ExcelDateTime, Format, FormatAlign,
    FormatBorder, IgnoreError, Workbook, Worksheet, XlsxError,
};

use crate::model::CensusForm;
use crate::problems::{cell_text, print_setup, row_height};
use crate::{ReportError, write};

/// Name of the sheet the importer reads (the Chinese name of `field_checks`).
pub const CENSUS_SHEET: &str = "现场检查";

/// Name of the instructions sheet.
pub const INSTRUCTIONS_SHEET: &str = "填写说明";

/// The header row of [`CENSUS_SHEET`]: the `field_checks` columns by their Chinese names, then
/// information columns for the field worker that the importer ignores.
pub const CENSUS_HEADERS: [&str; 18] = [
    "检查编号",
    "户号",
    "检查日期",
    "检查人",
    "检查类型",
    "封印完好",
    "计量装置正常",
    "确认窃电",
    "追补电量",
    "追补电费",
    "检查情况",
    "户名",
    "用电地址",
    "用电类别",
    "台区",
    "电能表",
    "合同容量",
    "联系电话",
];

const CHECK_ID: u16 = 0;
const CUSTOMER_ID: u16 = 1;
const CHECKED_ON: u16 = 2;
const INSPECTOR: u16 = 3;
const KIND: u16 = 4;
/// 封印完好, 计量装置正常, 确认窃电.
const YES_NO: [u16; 3] = [5, 6, 7];
/// 追补电量, 追补电费.
const AMOUNTS: [u16; 2] = [8, 9];
const FINDING: u16 = 10;
const CONTRACT_KVA: u16 = 16;

/// Column widths in character units.
const WIDTHS: [f64; 18] =
    [12.0, 11.0, 10.5, 8.0, 7.0, 5.5, 6.5, 5.5, 7.0, 7.0, 20.0, 14.0, 20.0, 10.0, 11.0, 11.0, 6.0, 12.0];

/// The columns the field worker fills in; the others are prefilled.
fn to_fill(col: u16) -> bool {
    matches!(col, CHECKED_ON | INSPECTOR | FINDING) || YES_NO.contains(&col) || AMOUNTS.contains(&col)
}

/// The check kind as the importer's code (`census`, `routine`, `spot`, `audit`), also when the
/// caller gave its Chinese name.
fn kind_code(kind: &str) -> String {
    match kind.trim() {
        "营业普查" | "普查" => "census".to_string(),
        "用电检查" => "routine".to_string(),
        "抽查" => "spot".to_string(),
        "稽查" => "audit".to_string(),
        other => other.to_ascii_lowercase(),
    }
}

/// A file name made safe on Windows and Linux: no path separators, reserved or control
/// characters, no leading or trailing dots and spaces, not too long.
pub(crate) fn safe_file_part(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_control() || r#"\/:*?"<>|"#.contains(c) { '_' } else { c })
        .take(60)
        .collect();
    let trimmed = cleaned.trim_matches(|c: char| c == '.' || c.is_whitespace());
    if trimmed.is_empty() { "_".to_string() } else { trimmed.to_string() }
}

/// Writes one registration workbook per form into `dir` (created if missing), named
/// `{station_id}-{station}-普查登记表.xlsx` (`-2`, `-3` appended if two forms would share a name),
/// and returns their paths in the order of `forms`.
pub fn write_census_forms(forms: &[CensusForm], dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir { path: dir.to_path_buf(), source })?;
    let mut used = HashSet::new();
    let mut paths = Vec::with_capacity(forms.len());
    for form in forms {
        let stem =
            format!("{}-{}-普查登记表", safe_file_part(&form.station_id), safe_file_part(&form.station));
        let mut name = format!("{stem}.xlsx");
        let mut n = 1;
        while !used.insert(name.to_lowercase()) {
            n += 1;
            name = format!("{stem}-{n}.xlsx");
        }
        let path = dir.join(name);
        let bytes = build(form).map_err(|source| ReportError::Xlsx { path: path.clone(), source })?;
        write::write_atomically(&path, &bytes)?;
        paths.push(path);
    }
    Ok(paths)
}

fn build(form: &CensusForm) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let title =
        format!("{}　{}（{}）登记表", form.campaign.trim(), form.station.trim(), form.station_id.trim());
    wb.set_properties(
        &rust_xlsxwriter::DocProperties::new()
            .set_title(cell_text(&title))
            .set_company(cell_text(&form.station)),
    );
    let ws = wb.add_worksheet();
    ws.set_name(CENSUS_SHEET)?;
    form_sheet(ws, form, &title)?;
    let ws = wb.add_worksheet();
    ws.set_name(INSTRUCTIONS_SHEET)?;
    instructions_sheet(ws, form)?;
    wb.save_to_buffer()
}

fn form_sheet(ws: &mut Worksheet, form: &CensusForm, title: &str) -> Result<(), XlsxError> {
    let base = Format::new()
        .set_font_name("宋体")
        .set_font_size(10)
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::VerticalCenter);
    let header = base.clone().set_font_name("黑体").set_align(FormatAlign::Center).set_text_wrap();
    let header_prefilled = header.clone().set_background_color(0xD9D9D9);
    let header_to_fill = header.set_background_color(0xFFF2CC);
    let prefilled = base.clone().set_background_color(0xF2F2F2).set_num_format("@");
    let prefilled_wrap = prefilled.clone().set_text_wrap();
    let prefilled_number = base.clone().set_background_color(0xF2F2F2);
    let date = base.clone().set_align(FormatAlign::Center).set_num_format("yyyy-mm-dd");
    let text = base.clone().set_num_format("@").set_text_wrap();
    let choice = base.clone().set_align(FormatAlign::Center);
    let number = base.set_num_format("0.00");

    for (c, (h, w)) in CENSUS_HEADERS.iter().zip(WIDTHS).enumerate() {
        let c = c as u16;
        ws.write_string_with_format(0, c, *h, if to_fill(c) { &header_to_fill } else { &header_prefilled })?;
        ws.set_column_width(c, w)?;
    }
    ws.set_row_height(0, 30)?;
    let kind = kind_code(&form.kind);
    for (i, r) in form.rows.iter().enumerate() {
        let row = i as u32 + 1;
        let wrapped = [(11, &r.name), (12, &r.address), (13, &r.category), (14, &r.tq), (15, &r.meters)]
            .map(|(c, text)| (text.as_str(), WIDTHS[c]));
        // Room to write by hand on the printout.
        ws.set_row_height(row, row_height(wrapped, 24.0))?;
        ws.write_string_with_format(row, CHECK_ID, cell_text(&r.check_id), &prefilled)?;
        ws.write_string_with_format(row, CUSTOMER_ID, cell_text(&r.customer_id), &prefilled)?;
        ws.write_blank(row, CHECKED_ON, &date)?;
        ws.write_blank(row, INSPECTOR, &text)?;
        ws.write_string_with_format(row, KIND, cell_text(&kind), &prefilled)?;
        for c in YES_NO {
            ws.write_blank(row, c, &choice)?;
        }
        for c in AMOUNTS {
            ws.write_blank(row, c, &number)?;
        }
        ws.write_blank(row, FINDING, &text)?;
        let info = [(11, &r.name), (12, &r.address), (13, &r.category), (14, &r.tq), (15, &r.meters)];
        for (c, value) in info {
            ws.write_string_with_format(row, c, cell_text(value), &prefilled_wrap)?;
        }
        match r.contract_kva.filter(|k| k.is_finite()) {
            Some(k) => ws.write_number_with_format(row, CONTRACT_KVA, k, &prefilled_number)?,
            None => ws.write_blank(row, CONTRACT_KVA, &prefilled_number)?,
        };
        ws.write_string_with_format(row, 17, cell_text(&r.phone), &prefilled)?;
    }
    let last = form.rows.len() as u32;
    if last > 0 {
        validations(ws, last)?;
        // Ids and phone numbers are text on purpose: no "number stored as text" triangles.
        ws.ignore_error_range(1, 0, last, CENSUS_HEADERS.len() as u16 - 1, IgnoreError::NumberStoredAsText)?;
    }
    ws.set_freeze_panes(1, 2)?;
    print_setup(ws, 0, title)?;
    Ok(())
}

/// Drop-down lists and checks on the columns to fill, rows `1..=last`.
fn validations(ws: &mut Worksheet, last: u32) -> Result<(), XlsxError> {
    let yes_no = DataValidation::new()
        .allow_list_strings(&["是", "否"])?
        .set_input_title("请选择")?
        .set_input_message("从下拉列表选择“是”或“否”。")?
        .set_error_title("只能填“是”或“否”")?
        .set_error_message("请从下拉列表选择“是”或“否”。")?;
    for c in YES_NO {
        ws.add_data_validation(1, c, last, c, &yes_no)?;
    }
    let date = DataValidation::new()
        .allow_date(DataValidationRule::Between(
            ExcelDateTime::from_ymd(2000, 1, 1)?,
            ExcelDateTime::from_ymd(2099, 12, 31)?,
        ))
        .set_input_title("检查日期")?
        .set_input_message("到户检查的日期，如 2026-03-05；未到现场检查的留空。")?
        .set_error_title("不是有效日期")?
        .set_error_message("请输入日期，格式如 2026-03-05。")?;
    ws.add_data_validation(1, CHECKED_ON, last, CHECKED_ON, &date)?;
    let amount = DataValidation::new()
        .allow_decimal_number(DataValidationRule::GreaterThanOrEqualTo(0.0))
        .set_error_title("应为数字")?
        .set_error_message("请填写不小于 0 的数字，不带单位；无追补的留空。")?;
    for c in AMOUNTS {
        ws.add_data_validation(1, c, last, c, &amount)?;
    }
    let kind = DataValidation::new()
        .allow_list_strings(&["census", "routine", "spot", "audit"])?
        .set_error_style(DataValidationErrorStyle::Warning)
        .set_error_title("检查类型")?
        .set_error_message(
            "检查类型已预先填好：census 营业普查，routine 用电检查，spot 抽查，audit 稽查。",
        )?;
    ws.add_data_validation(1, KIND, last, KIND, &kind)?;
    Ok(())
}

/// Each column of the form: who fills it and how.
const COLUMN_NOTES: [(&str, &str, &str); 18] = [
    ("检查编号", "预填", "系统编号，勿改。"),
    ("户号", "预填", "勿改。"),
    ("检查日期", "现场填写", "到户检查日期，如 2026-03-05；未检查的留空。"),
    ("检查人", "现场填写", "检查人的工号（不是姓名），多人时填主检查人。"),
    ("检查类型", "预填", "census 营业普查，audit 稽查，routine 用电检查，spot 抽查。"),
    ("封印完好", "现场填写", "计量装置封印是否完好：是/否。"),
    ("计量装置正常", "现场填写", "电能表、互感器及接线是否正常：是/否。"),
    ("确认窃电", "现场填写", "是否确认窃电：是/否。"),
    ("追补电量", "现场填写", "应追补的电量，千瓦时，只填数字；无追补的留空。"),
    ("追补电费", "现场填写", "应追补的电费，元，只填数字；无追补的留空。"),
    ("检查情况", "现场填写", "现场情况的文字说明：用电性质是否相符、容量是否相符、有无违约用电等。"),
    ("户名", "预填", "供核对，导入时不使用。"),
    ("用电地址", "预填", "供核对，导入时不使用。"),
    ("用电类别", "预填", "档案中的用电类别，与现场不符的在“检查情况”中说明。"),
    ("台区", "预填", "供核对，导入时不使用。"),
    ("电能表", "预填", "档案中的表号，与现场不符的在“检查情况”中说明。"),
    ("合同容量", "预填", "千伏安，与现场不符的在“检查情况”中说明。"),
    ("联系电话", "预填", "供联系用户，导入时不使用。"),
];

fn instructions_sheet(ws: &mut Worksheet, form: &CensusForm) -> Result<(), XlsxError> {
    let title = Format::new().set_font_name("黑体").set_font_size(14).set_align(FormatAlign::VerticalCenter);
    let text =
        Format::new().set_font_name("宋体").set_font_size(10.5).set_text_wrap().set_align(FormatAlign::Top);
    let cell = text.clone().set_border(FormatBorder::Thin);
    let head = Format::new()
        .set_font_name("黑体")
        .set_font_size(10.5)
        .set_border(FormatBorder::Thin)
        .set_background_color(0xD9D9D9);
    ws.set_column_width(0, 14)?;
    ws.set_column_width(1, 12)?;
    ws.set_column_width(2, 70)?;
    ws.merge_range(0, 0, 0, 2, &cell_text(&format!("{}登记表填写说明", form.campaign.trim())), &title)?;
    ws.set_row_height(0, 28)?;
    let general = [
        format!(
            "本表由稽查系统生成：{}（{}），共 {} 户，一户一行。请在“现场检查”工作表中逐户填写，黄色表头的列在现场填写，灰色表头的列已预先填好。",
            form.station.trim(),
            form.station_id.trim(),
            form.rows.len()
        ),
        "请勿修改第一行表头，勿删除、插入或调整列；检查编号、户号、检查类型三列是导入系统的依据，不要改动。".to_string(),
        "是/否：封印完好、计量装置正常、确认窃电三列从下拉列表选“是”或“否”。".to_string(),
        "日期：检查日期填到户检查当天的日期，格式如 2026-03-05（也可输入 2026/3/5）。".to_string(),
        "未到现场检查的用户，检查日期及其后各项一律留空。系统导入时检查日期为必填项：导入前请删除未检查用户的行，或待检查后补填。".to_string(),
        "发现窃电或违约用电的，应在“检查情况”中写明现场事实，按规定留存照片等证据，并填写追补电量、追补电费。".to_string(),
        "填写完成后保存为 .xlsx 格式（不要另存为 .xls 或 .et），交稽查员导入系统。打印已设为 A4 横向、按宽度缩放到一页，表头每页重复。".to_string(),
    ];
    for (i, line) in general.iter().enumerate() {
        let row = i as u32 + 1;
        let line = cell_text(&format!("{}. {line}", i + 1));
        ws.merge_range(row, 0, row, 2, &line, &text)?;
        // Merged cells never grow by themselves.
        ws.set_row_height(row, row_height([(line.as_str(), 14.0 + 12.0 + 70.0)], 20.0))?;
    }
    let start = general.len() as u32 + 2;
    for (c, h) in ["列名", "填写方", "填写要求"].iter().enumerate() {
        ws.write_string_with_format(start, c as u16, *h, &head)?;
    }
    for (i, (name, who, what)) in COLUMN_NOTES.iter().enumerate() {
        let row = start + 1 + i as u32;
        ws.write_string_with_format(row, 0, *name, &cell)?;
        ws.write_string_with_format(row, 1, *who, &cell)?;
        ws.write_string_with_format(row, 2, *what, &cell)?;
        ws.set_row_height(row, row_height([(*what, 70.0)], 18.0))?;
    }
    ws.set_paper_size(9);
    ws.set_print_fit_to_pages(1, 0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe() {
        assert_eq!(safe_file_part("大畈/供电所"), "大畈_供电所");
        assert_eq!(safe_file_part(" ..a:b*c?. "), "a_b_c_");
        assert_eq!(safe_file_part("..."), "_");
        assert_eq!(safe_file_part("a\u{0}b"), "a_b");
    }

    #[test]
    fn kinds_are_codes() {
        assert_eq!(kind_code("census"), "census");
        assert_eq!(kind_code("营业普查"), "census");
        assert_eq!(kind_code(" AUDIT "), "audit");
    }

    #[test]
    fn instructions_cover_every_column_in_order() {
        let names: Vec<&str> = COLUMN_NOTES.iter().map(|(name, _, _)| *name).collect();
        assert_eq!(names, CENSUS_HEADERS);
        for (c, (_, who, _)) in COLUMN_NOTES.iter().enumerate() {
            assert_eq!(*who == "现场填写", to_fill(c as u16), "{}", CENSUS_HEADERS[c]);
        }
    }
}
