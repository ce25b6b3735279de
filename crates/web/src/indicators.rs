//! Indicators in the web app and for the command line: the closed loop's figures fed to the
//! engine's indicator computation, within the acting user's scope.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use jicha_engine::indicators::OrderTally;
use jicha_flow::{Actor, Flow};

/// The audit orders' figures per station over a span, read from `flow.sqlite` (nothing when the
/// closed loop has not begun), limited to the actor's station.
pub fn order_source<'a>(
    flow: &'a Flow,
    actor: &'a Actor,
) -> impl Fn(NaiveDate, NaiveDate) -> BTreeMap<String, OrderTally> + 'a {
    move |first, last| {
        if !flow.database().exists() {
            return BTreeMap::new();
        }
        let read = || -> Result<_, jicha_flow::FlowError> {
            let conn = flow.connect()?;
            jicha_flow::orders::station_tallies(&conn, actor, &first.to_string(), &last.to_string())
        };
        match read() {
            Ok(t) => t
                .into_iter()
                .map(|(s, t)| (s, OrderTally { due: t.due, on_time: t.on_time, recovered: t.recovered }))
                .collect(),
            Err(e) => {
                tracing::warn!("稽查工单指标读取失败 / audit order figures unreadable: {e}");
                BTreeMap::new()
            }
        }
    }
}
