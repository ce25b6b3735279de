//! A census: customers selected (every non-resident, a seeded sample of residents), forms per
//! station, filled forms taken back (visited rows only; a bad cell refuses everything, named by
//! workbook and row), findings and orders made from what was found.

mod common;

use calamine::{Data, Reader, open_workbook_auto};
use jicha_store::DataDir;

/// Copies a form, filling rows `fill` (0-based data rows) with (date, seal, theft, amount).
fn fill(form: &std::path::Path, to: &std::path::Path, fill: &[(usize, &str, &str, &str, &str)]) {
    let mut wb = open_workbook_auto(form).unwrap();
    let range = wb.worksheet_range("现场检查").unwrap();
    let mut out = rust_xlsxwriter::Workbook::new();
    let ws = out.add_worksheet().set_name("现场检查").unwrap();
    for (r, row) in range.rows().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let text = match v {
                Data::Empty => continue,
                other => other.to_string(),
            };
            ws.write_string(r as u32, c as u16, text).unwrap();
        }
        if r > 0
            && let Some((_, date, seal, theft, amount)) = fill.iter().find(|f| f.0 + 1 == r)
        {
            ws.write_string(r as u32, 2, *date).unwrap();
            ws.write_string(r as u32, 5, *seal).unwrap();
            ws.write_string(r as u32, 7, *theft).unwrap();
            if !amount.is_empty() {
                ws.write_string(r as u32, 9, *amount).unwrap();
            }
        }
    }
    out.save(to).unwrap();
}

#[test]
fn a_census_selects_prints_takes_back_and_opens_orders() {
    let tmp = tempfile::tempdir().unwrap();
    let root = common::small_county(tmp.path(), 400, 11);
    let dir = DataDir::new(&root);
    let _app = jicha_web::App::new(&root).unwrap();
    let system = jicha_flow::Actor::system();

    // Every non-resident in service, and about a tenth of the residents, the same for the same seed.
    let conn = rusqlite::Connection::open(dir.database()).unwrap();
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    let non_res = count("SELECT COUNT(*) FROM customers WHERE status <> 'closed' AND category <> 'resident'");
    let res = count("SELECT COUNT(*) FROM customers WHERE status <> 'closed' AND category = 'resident'");
    let picked = jicha_web::census::select(&root, 0.1, 7).unwrap();
    assert_eq!(picked, jicha_web::census::select(&root, 0.1, 7).unwrap(), "seeded");
    let sampled = picked.len() as i64 - non_res;
    assert!(sampled > res / 20 && sampled < res / 5, "{sampled} of {res} residents");
    let c = jicha_web::census::start(&root, &system, "2026年营业普查", "census", 0.1, 7).unwrap();
    assert_eq!(c.customers, picked.len() as i64);

    let forms = jicha_web::census::forms(&root, c.campaign_id, &tmp.path().join("forms")).unwrap();
    assert_eq!(forms.len(), 2, "one workbook per station");

    // A bad date refuses everything, named by workbook and row.
    let bad = tmp.path().join("bad.xlsx");
    fill(&forms[0], &bad, &[(0, "2026-02-10", "是", "否", ""), (1, "2026-13-01", "是", "否", "")]);
    let e = jicha_web::census::intake(&root, &system, c.campaign_id, &[bad], "2099-01-31").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("bad.xlsx 第 3 行") && msg.contains("2026-13-01"), "{msg}");
    assert_eq!(count("SELECT COUNT(*) FROM field_checks WHERE check_id LIKE 'C001-%'"), 0, "nothing stored");

    // Two visited rows: one with a broken seal and theft confirmed, one clean; the rest not visited.
    let good = tmp.path().join("good.xlsx");
    fill(&forms[0], &good, &[(0, "2026-02-10", "否", "是", "1234.5"), (1, "2026-02-11", "是", "否", "")]);
    let r = jicha_web::census::intake(&root, &system, c.campaign_id, &[good], "2099-01-31").unwrap();
    assert_eq!(r.imported, 2);
    assert!(r.not_visited > 0);
    assert_eq!(r.findings, 1);
    assert_eq!(r.orders, 1);
    let conn = rusqlite::Connection::open(dir.database()).unwrap();
    let (theme, amount): (String, f64) = conn
        .query_row("SELECT theme, amount_at_risk FROM findings WHERE theme = 'CENSUS'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((theme.as_str(), amount), ("CENSUS", 1234.5));
    // Taking the same forms back again makes nothing twice.
    let again = tmp.path().join("again.xlsx");
    fill(&forms[0], &again, &[(0, "2026-02-10", "否", "是", "1234.5"), (1, "2026-02-11", "是", "否", "")]);
    let r = jicha_web::census::intake(&root, &system, c.campaign_id, &[again], "2099-01-31").unwrap();
    assert_eq!((r.findings, r.orders), (1, 0));
}
