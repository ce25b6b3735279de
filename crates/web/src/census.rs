//! Census and special-audit campaigns (用电营业普查、专项稽查): the selection (every commercial,
//! agricultural and other non-resident customer in service plus a seeded random sample of
//! residents), the registration forms per station, and the results taken back: the visited rows
//! of the filled forms imported as field checks (all or nothing, problems named by workbook, row
//! and column), what they found turned into findings (theme CENSUS) and audit orders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jicha_core::codes::Category;
use jicha_engine::EntityType;
use jicha_engine::finding::finding_id;
use jicha_flow::{Actor, Flow, campaigns};
use jicha_report::{CENSUS_HEADERS, CENSUS_SHEET, CensusForm, CensusRow};
use jicha_store::DataDir;
use jicha_store::findings::{FindingRow, RunRecord, ThemeRecord};
use sha2::Digest;

/// The theme code of what a campaign's checks found.
pub const CENSUS_THEME: &str = "CENSUS";

/// Whether a resident falls in the seeded sample of `share`: a hash of (seed, customer) below
/// the share, so the same seed always draws the same customers.
pub fn sampled(seed: i64, customer: &str, share: f64) -> bool {
    let h = sha2::Sha256::digest(format!("{seed}:{customer}").as_bytes());
    let x = u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) as f64 / u64::MAX as f64;
    x < share
}

/// Selects the campaign's customers from the stored archive: (customer, station).
pub fn select(root: &Path, share: f64, seed: i64) -> anyhow::Result<Vec<(String, String)>> {
    let dir = DataDir::new(root);
    let conn = jicha_store::relational::open_read_only(&dir.database())?;
    let mut stmt = conn.prepare(
        "SELECT customer_id, station_id, category FROM customers WHERE status <> 'closed' ORDER BY station_id, customer_id",
    )?;
    let rows =
        stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
    let mut out = Vec::new();
    for r in rows {
        let (c, s, cat) = r?;
        if cat != "resident" || sampled(seed, &c, share) {
            out.push((c, s));
        }
    }
    Ok(out)
}

/// Starts a campaign: selects and keeps its customers.
pub fn start(
    root: &Path,
    actor: &Actor,
    name: &str,
    kind: &str,
    share: f64,
    seed: i64,
) -> anyhow::Result<campaigns::Campaign> {
    if !(0.0..=1.0).contains(&share) {
        anyhow::bail!("居民抽样比例应在 0 与 1 之间：{share} / the residents' share must be between 0 and 1");
    }
    let selected = select(root, share, seed)?;
    let mut conn = Flow::new(root).open()?;
    Ok(campaigns::create(&mut conn, actor, name, kind, share, seed, &selected)?)
}

/// Writes the registration forms, one workbook per station, into `out`.
pub fn forms(root: &Path, campaign_id: i64, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    forms_of(root, campaign_id, None, out)
}

/// Writes the registration forms of every station, or only of `station`.
pub fn forms_of(
    root: &Path,
    campaign_id: i64,
    station: Option<&str>,
    out: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let conn = Flow::new(root).connect()?;
    let c = campaigns::get(&conn, campaign_id)?;
    let list = campaigns::customers(&conn, campaign_id)?;
    let dir = DataDir::new(root);
    let data = jicha_store::relational::open_read_only(&dir.database())?;
    let names: BTreeMap<String, String> = {
        let mut stmt = data.prepare("SELECT station_id, name FROM stations")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut customer = data.prepare_cached(
        "SELECT name, COALESCE(address, ''), category, COALESCE(tq_id, ''), contract_kva, COALESCE(phone, ''),
                (SELECT COALESCE(group_concat(meter_id, ';'), '') FROM meters m
                 WHERE m.customer_id = c.customer_id AND m.removed_on IS NULL)
         FROM customers c WHERE customer_id = ?1",
    )?;
    let mut by_station: BTreeMap<String, Vec<CensusRow>> = BTreeMap::new();
    for (id, station, check) in list.into_iter().filter(|(_, s, _)| station.is_none_or(|x| x == s)) {
        let (name, address, cat, tq, kva, phone, meters) = customer.query_row([&id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<f64>>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
            ))
        })?;
        by_station.entry(station).or_default().push(CensusRow {
            check_id: check,
            customer_id: id,
            name,
            address,
            category: Category::parse(&cat).map_or(cat.clone(), |c| c.name_zh().to_string()),
            tq,
            meters,
            contract_kva: kva,
            phone,
        });
    }
    let forms: Vec<CensusForm> = by_station
        .into_iter()
        .map(|(station_id, rows)| CensusForm {
            campaign: c.name.clone(),
            station: names.get(&station_id).cloned().unwrap_or_default(),
            station_id,
            kind: c.kind.clone(),
            rows,
        })
        .collect();
    Ok(jicha_report::write_census_forms(&forms, out)?)
}

/// What taking results back did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Intake {
    /// Rows imported as field checks.
    pub imported: usize,
    /// Rows not visited (no check date), left for later.
    pub not_visited: usize,
    /// CENSUS findings of the months concerned.
    pub findings: usize,
    /// Audit orders made for findings not yet in one.
    pub orders: usize,
}

/// Why results were refused: every problem, by workbook, row and column. Nothing was stored.
#[derive(Debug)]
pub struct Refused(pub Vec<String>);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} 个问题，未导入任何结果 / {} problems, nothing imported:\n  {}",
            self.0.len(),
            self.0.len(),
            self.0.join("\n  ")
        )
    }
}

impl std::error::Error for Refused {}

fn cell(row: &[calamine::Data], i: Option<usize>) -> String {
    i.and_then(|i| row.get(i)).map_or(String::new(), |c| match c {
        calamine::Data::DateTime(d) => {
            d.as_datetime().map_or_else(|| c.to_string(), |t| t.date().to_string())
        }
        calamine::Data::Float(f) if f.fract() == 0.0 => format!("{f:.0}"),
        _ => c.to_string().trim().to_string(),
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// Takes filled forms back: imports their visited rows as field checks, then turns what they
/// found into findings and orders (deadline `YYYY-MM-DD`).
pub fn intake(
    root: &Path,
    actor: &Actor,
    campaign_id: i64,
    files: &[PathBuf],
    deadline: &str,
) -> anyhow::Result<Intake> {
    use calamine::Reader;
    let flow = Flow::new(root);
    let members: BTreeMap<String, String> = {
        let conn = flow.connect()?;
        campaigns::get(&conn, campaign_id)?;
        campaigns::customers(&conn, campaign_id)?.into_iter().map(|(c, _, check)| (check, c)).collect()
    };
    // The field_checks columns of the form (the information columns after them are not read).
    let columns = &CENSUS_HEADERS[..11];
    let mut csv = String::from(
        "check_id,customer_id,checked_on,inspector_id,kind,seal_intact,meter_ok,theft_confirmed,recovered_kwh,recovered_amount,finding\n",
    );
    // CSV line -> (workbook, row).
    let mut origin: Vec<(String, usize)> = Vec::new();
    let mut problems = Vec::new();
    let mut result = Intake::default();
    for file in files {
        let shown = file.display().to_string();
        let mut wb = calamine::open_workbook_auto(file)
            .map_err(|e| anyhow::anyhow!("{shown}：无法打开 / cannot open: {e}"))?;
        let range = wb
            .worksheet_range(CENSUS_SHEET)
            .map_err(|e| anyhow::anyhow!("{shown}：没有“{CENSUS_SHEET}”表 / no sheet {CENSUS_SHEET}: {e}"))?;
        let mut rows = range.rows();
        let header: Vec<String> = rows
            .next()
            .map(|r| r.iter().map(|c| c.to_string().trim().to_string()).collect())
            .unwrap_or_default();
        let at: Vec<Option<usize>> = columns.iter().map(|c| header.iter().position(|h| h == c)).collect();
        if at.iter().take(3).any(Option::is_none) {
            problems.push(format!(
                "{shown}：表头应含 {} / the header must hold them",
                CENSUS_HEADERS[..3].join("、")
            ));
            continue;
        }
        for (i, row) in rows.enumerate() {
            let line = i + 2;
            let values: Vec<String> = at.iter().map(|&a| cell(row, a)).collect();
            if values.iter().all(String::is_empty) {
                continue;
            }
            if values[2].is_empty() {
                result.not_visited += 1;
                continue;
            }
            match members.get(&values[0]) {
                Some(c) if *c == values[1] => {}
                _ => {
                    problems.push(format!(
                        "{shown} 第 {line} 行：检查编号 {} 与户号 {} 不属于本次普查 / row {line}: check id and customer are not of this campaign",
                        values[0], values[1]
                    ));
                    continue;
                }
            }
            csv += &values.iter().map(|v| csv_field(v)).collect::<Vec<_>>().join(",");
            csv.push('\n');
            origin.push((shown.clone(), line));
        }
    }
    if !problems.is_empty() {
        return Err(Refused(problems).into());
    }
    if origin.is_empty() {
        return Ok(result);
    }
    let staging = tempfile::Builder::new().prefix("jicha-census-").tempdir()?;
    std::fs::write(staging.path().join("field_checks.csv"), &csv)?;
    let dir = DataDir::new(root);
    match jicha_ingest::import(&dir, staging.path(), &jicha_ingest::pipeline::NoProgress)? {
        jicha_ingest::ImportOutcome::Committed { .. } => {}
        jicha_ingest::ImportOutcome::Rejected { rejection, .. } => {
            let located = rejection
                .problems
                .iter()
                .map(|p| {
                    let (file, row) = p
                        .line
                        .and_then(|l| origin.get((l as usize).saturating_sub(2)))
                        .map_or((p.file.clone(), None), |(f, r)| (f.clone(), Some(*r)));
                    format!(
                        "{file}{} {}{}：{} / {}",
                        row.map_or(String::new(), |r| format!(" 第 {r} 行")),
                        p.field.as_deref().map(|f| format!("[{f}]")).unwrap_or_default(),
                        p.value.as_deref().map(|v| format!(" “{v}”")).unwrap_or_default(),
                        p.reason_zh,
                        p.reason_en
                    )
                })
                .collect();
            return Err(Refused(located).into());
        }
    }
    result.imported = origin.len();

    // Findings: every census or audit check of the months concerned that found a problem.
    let months: Vec<String> = {
        let mut m: Vec<String> = csv
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').nth(2))
            // The dates as the importer reads them (2026/3/5 and 20260305 are 2026-03).
            .filter_map(|d| jicha_core::calendar::parse_date(d.trim_matches('"')))
            .map(|d| jicha_core::calendar::Period::of(d).to_string())
            .collect();
        m.sort();
        m.dedup();
        m
    };
    let data = jicha_store::relational::open_read_only(&dir.database())?;
    let mut made = Vec::new();
    for month in &months {
        let mut stmt = data.prepare(
            "SELECT f.check_id, f.customer_id, c.station_id, f.checked_on, f.seal_intact, f.meter_ok, f.theft_confirmed,
                    f.recovered_kwh, f.recovered_amount, COALESCE(f.finding, '')
             FROM field_checks f JOIN customers c ON c.customer_id = f.customer_id
             WHERE substr(f.checked_on, 1, 7) = ?1 AND f.kind IN ('census', 'audit')
               AND (f.theft_confirmed = 1 OR f.seal_intact = 0 OR f.meter_ok = 0 OR f.recovered_amount > 0)",
        )?;
        let rows = stmt.query_map([month], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<bool>>(4)?,
                r.get::<_, Option<bool>>(5)?,
                r.get::<_, Option<bool>>(6)?,
                r.get::<_, Option<f64>>(7)?,
                r.get::<_, Option<f64>>(8)?,
                r.get::<_, String>(9)?,
            ))
        })?;
        let mut found = Vec::new();
        for r in rows {
            let (check, customer, station, on, seal, meter, theft, kwh, amount, text) = r?;
            let evidence = serde_json::json!({
                "check_id": check, "checked_on": on, "seal_intact": seal, "meter_ok": meter,
                "theft_confirmed": theft, "recovered_kwh": kwh, "recovered_amount": amount, "finding": text,
            });
            found.push(FindingRow {
                finding_id: finding_id(CENSUS_THEME, EntityType::Customer, &customer, month),
                theme: CENSUS_THEME.into(),
                entity_type: EntityType::Customer.code().into(),
                entity_id: customer,
                station_id: Some(station),
                period: month.clone(),
                severity: if theft == Some(true) { "high" } else { "medium" }.into(),
                evidence: evidence.to_string(),
                amount_at_risk: amount,
            });
        }
        let run = RunRecord {
            period: month.clone(),
            as_of: month.clone(),
            started_at: jicha_flow::now_text(),
            themes: vec![ThemeRecord {
                theme: CENSUS_THEME.into(),
                parameters: "{}".into(),
                outcome: "ran".into(),
                findings: found.len() as u64,
                seconds: 0.0,
            }],
        };
        jicha_store::findings::save(&dir, &run, &found)?;
        result.findings += found.len();
        made.extend(found);
    }
    // Orders for the findings not yet in one.
    let mut conn = flow.open()?;
    let ids: Vec<String> = made.iter().map(|f| f.finding_id.clone()).collect();
    let taken = jicha_flow::orders::status_of_findings(&conn, &ids)?;
    let new: Vec<FindingRow> = made.into_iter().filter(|f| !taken.contains_key(&f.finding_id)).collect();
    if !new.is_empty() {
        let created = jicha_flow::orders::create(
            &mut conn,
            actor,
            &new,
            deadline,
            "普查/专项稽查发现 / found by the campaign",
        )?;
        result.orders = created.orders.len();
    }
    Ok(result)
}

mod pages {
    //! `/census`: campaigns, their forms per station, and the filled forms taken back.

    use axum::body::Bytes;
    use axum::extract::{Extension, Multipart, Path, Query, State};
    use axum::response::{IntoResponse, Response};
    use jicha_flow::{Role, campaigns};
    use maud::html;

    use crate::auth::Current;
    use crate::pages::{Notice, back, field, form_pairs, layout, render, url_encode};
    use crate::{AppError, Shared, blocking};

    fn audit_centre(cur: &Current) -> Result<(), AppError> {
        if matches!(cur.actor.role, Role::Admin | Role::Auditor) {
            Ok(())
        } else {
            Err(AppError::new(axum::http::StatusCode::FORBIDDEN, "只有稽查中心 / the audit centre only"))
        }
    }

    /// The campaigns; the audit centre starts one and takes filled forms back; every station
    /// downloads its own form.
    pub async fn census_page(
        State(app): State<Shared>,
        Extension(cur): Extension<Current>,
        Query(q): Query<Notice>,
    ) -> Response {
        render(cur, move |c| {
            let l = c.lang;
            let list = app.with_flow(|conn| Ok(campaigns::list(conn)?))?;
            let centre = matches!(c.actor.role, Role::Admin | Role::Auditor);
            let stations: Vec<(String, String)> = app.with_data(|conn| {
                let mut stmt = conn.prepare("SELECT station_id, name FROM stations ORDER BY station_id")?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })?;
            let mine: Vec<&(String, String)> =
                stations.iter().filter(|(id, _)| c.actor.station_scope().is_none_or(|s| s == id)).collect();
            let body = html! {
                p.small { (l.t("普查选户：全部工商业、农业和其他非居民用户，加按种子随机抽取的居民用户（同一种子抽到同一批）。各所下载本所登记表，走访后填写；未走访的行留空“检查日期”。稽查中心上传填好的登记表：只导入已走访的行，任何一格有误则全部不导入并指出文件和行；发现的问题生成疑似问题和整改工单。",
                    "Every non-resident customer plus a seeded sample of residents. Each station downloads its form; the audit centre uploads filled forms: visited rows only, all or nothing; what was found becomes findings and orders.")) }
                @for camp in &list {
                    section.card {
                        h2 { (camp.name) " · " (if camp.kind == "census" { l.t("营业普查", "census") } else { l.t("专项稽查", "special audit") }) }
                        p { (camp.customers) " " (l.t("户", "customers")) " · " (l.t("居民抽样", "residents sampled")) " " (format!("{:.0}%", camp.share * 100.0)) " · "
                            (l.t("种子", "seed")) " " (camp.seed) " · " (camp.created_by) " " (camp.created_at) }
                        p { (l.t("登记表：", "Forms: "))
                            @for (id, name) in &mine { a href=(format!("/census/{}/forms/{}", camp.campaign_id, url_encode(id))) { (name) } " " } }
                        @if centre {
                            form method="post" action=(format!("/census/{}/results", camp.campaign_id)) enctype="multipart/form-data" {
                                input type="hidden" name="csrf" value=(c.csrf);
                                input type="file" name="file" required accept=".xlsx";
                                button type="submit" { (l.t("上传填好的登记表", "Upload a filled form")) }
                            }
                        }
                    }
                }
                @if centre {
                    h2 { (l.t("发起普查或专项稽查", "Start a campaign")) }
                    form.grid-form method="post" action="/census" {
                        input type="hidden" name="csrf" value=(c.csrf);
                        label { (l.t("名称", "Name")) input name="name" required placeholder="2026年营业普查"; }
                        label { (l.t("类型", "Kind")) select name="kind" { option value="census" { (l.t("营业普查", "Census")) } option value="audit" { (l.t("专项稽查", "Special audit")) } } }
                        label { (l.t("居民抽样比例（0–1）", "Residents' share (0–1)")) input name="share" value="0.1"; }
                        label { (l.t("种子", "Seed")) input name="seed" value="1"; }
                        button type="submit" { (l.t("选户并发起", "Select and start")) }
                    }
                }
            };
            Ok(layout(c, l.t("普查与专项稽查", "Census and special audits"), "census", &q, body))
        })
        .await
    }

    /// Starts a campaign (audit centre).
    pub async fn post_census(
        State(app): State<Shared>,
        Extension(cur): Extension<Current>,
        body: Bytes,
    ) -> Response {
        let pairs = form_pairs(&body);
        let (name, kind) = (field(&pairs, "name").to_string(), field(&pairs, "kind").to_string());
        let (share, seed) =
            (field(&pairs, "share").trim().parse::<f64>(), field(&pairs, "seed").trim().parse::<i64>());
        let l = cur.lang;
        let r = blocking(move || {
            audit_centre(&cur)?;
            let (Ok(share), Ok(seed)) = (share, seed) else {
                return Err(AppError::bad("抽样比例和种子应为数字 / the share and the seed must be numbers"));
            };
            let c = super::start(app.root(), &cur.actor, &name, &kind, share, seed)
                .map_err(|e| AppError::bad(format!("{e:#}")))?;
            Ok(format!("{} {} {}", l.t("已发起，选中", "Started; customers:"), c.customers, l.t("户", "")))
        })
        .await;
        back("/census", r)
    }

    /// A station's registration form.
    pub async fn form_download(
        State(app): State<Shared>,
        Extension(cur): Extension<Current>,
        Path((id, station)): Path<(i64, String)>,
    ) -> Response {
        let r = blocking(move || {
            if cur.actor.station_scope().is_some_and(|s| s != station) {
                return Err(AppError::not_found("登记表 / form"));
            }
            let dir = crate::notices::scratch()?;
            // Only this station's form is made: no other station's customers pass through.
            let files = super::forms_of(app.root(), id, Some(&station), dir.path())
                .map_err(|e| AppError::bad(format!("{e:#}")));
            let found = files.map(|fs| fs.into_iter().next());
            match found {
                Ok(Some(p)) => std::fs::read(&p)
                    .map(|b| (b, p.file_name().and_then(|n| n.to_str()).unwrap_or("form.xlsx").to_string()))
                    .map_err(|e| AppError::internal(&e.to_string())),
                Ok(None) => {
                    Err(AppError::not_found("本所没有选中的用户 / no customer of this station was selected"))
                }
                Err(e) => Err(e),
            }
        })
        .await;
        match r {
            Ok((bytes, name)) => crate::notices::attachment(bytes, crate::notices::XLSX, &name),
            Err(e) => (e.status, e.message).into_response(),
        }
    }

    /// Takes a filled form back (audit centre).
    pub async fn post_results(
        State(app): State<Shared>,
        Extension(cur): Extension<Current>,
        Path(id): Path<i64>,
        form: Multipart,
    ) -> Response {
        let l = cur.lang;
        let r = match crate::api::first_file(form).await {
            Ok((name, bytes)) => {
                blocking(move || {
                    audit_centre(&cur)?;
                    let dir = crate::notices::scratch()?;
                    let safe: String = name.chars().filter(|c| !matches!(c, '/' | '\\' | '\0')).collect();
                    let path = dir.path().join(if safe.is_empty() { "form.xlsx".to_string() } else { safe });
                    std::fs::write(&path, &bytes).map_err(|e| AppError::internal(&e.to_string()))?;
                    let deadline = (crate::schedule::today() + chrono::Days::new(30)).to_string();
                    let r = super::intake(app.root(), &cur.actor, id, std::slice::from_ref(&path), &deadline)
                        .map_err(|e| AppError::bad(format!("{e:#}")))?;
                    Ok(format!(
                        "{} {}，{} {}，{} {}，{} {}",
                        l.t("已导入", "imported"),
                        r.imported,
                        l.t("未走访", "not visited"),
                        r.not_visited,
                        l.t("疑似问题", "findings"),
                        r.findings,
                        l.t("新工单", "new orders"),
                        r.orders
                    ))
                })
                .await
            }
            Err(e) => Err(e),
        };
        back("/census", r)
    }
}

pub use pages::{census_page, form_download, post_census, post_results};
