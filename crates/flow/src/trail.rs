//! The audit trail (审计日志): every change to an order, a finding's status, a user or a parameter,
//! appended with who, when, what before and after. Each entry's hash covers its content and the
//! previous entry's hash, so editing, deleting or inserting an entry breaks the chain from there on.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::{FlowResult, now_text, sha256_hex};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Entry {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When.
    pub at: String,
    /// Who (login name).
    pub actor: String,
    /// What was done, e.g. `order.transition`.
    pub action: String,
    /// What it was done to, e.g. `order:12`, `user:wang`, `finding:ab12...`.
    pub object: String,
    /// The state before (JSON), if any.
    pub before: Option<String>,
    /// The state after (JSON), if any.
    pub after: Option<String>,
    /// The previous entry's hash.
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

#[allow(clippy::too_many_arguments)]
fn entry_hash(
    prev: &str,
    seq: i64,
    at: &str,
    actor: &str,
    action: &str,
    object: &str,
    before: Option<&str>,
    after: Option<&str>,
) -> String {
    // Lengths before each field, so that no two different entries hash the same text.
    let mut text = String::new();
    for field in [
        prev,
        &seq.to_string(),
        at,
        actor,
        action,
        object,
        before.unwrap_or("\u{0}"),
        after.unwrap_or("\u{0}"),
    ] {
        text.push_str(&field.len().to_string());
        text.push(':');
        text.push_str(field);
        text.push('\n');
    }
    sha256_hex(text.as_bytes())
}

/// Appends an entry inside the caller's transaction; returns its sequence number.
pub fn append(
    conn: &Connection,
    actor: &str,
    action: &str,
    object: &str,
    before: Option<&Value>,
    after: Option<&Value>,
) -> FlowResult<i64> {
    let last: Option<(i64, String)> = conn
        .query_row("SELECT seq, hash FROM trail ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let (seq, prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (1, GENESIS.to_string()),
    };
    let at = now_text();
    let before = before.map(|v| v.to_string());
    let after = after.map(|v| v.to_string());
    let hash = entry_hash(&prev, seq, &at, actor, action, object, before.as_deref(), after.as_deref());
    conn.execute(
        "INSERT INTO trail (seq, at, actor, action, object, before, after, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![seq, at, actor, action, object, before, after, prev, hash],
    )?;
    Ok(seq)
}

/// The entries about one object (or every entry when `object` is None), oldest first.
pub fn entries(conn: &Connection, object: Option<&str>) -> FlowResult<Vec<Entry>> {
    let mut stmt = conn.prepare(
        "SELECT seq, at, actor, action, object, before, after, prev_hash, hash FROM trail
         WHERE ?1 IS NULL OR object = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([object], |r| {
        Ok(Entry {
            seq: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            object: r.get(4)?,
            before: r.get(5)?,
            after: r.get(6)?,
            prev_hash: r.get(7)?,
            hash: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// What a check of the chain found.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Every link holds.
    Intact {
        /// Entries checked.
        entries: u64,
    },
    /// The first broken link.
    Broken {
        /// The first entry that does not hold.
        seq: i64,
        /// Why, for people.
        reason: String,
    },
}

/// Checks the whole chain and names the first broken link.
pub fn verify(conn: &Connection) -> FlowResult<Verdict> {
    let mut prev = GENESIS.to_string();
    let mut n = 0;
    for (expected_seq, e) in (1..).zip(entries(conn, None)?) {
        if e.seq != expected_seq {
            return Ok(Verdict::Broken {
                seq: e.seq,
                reason: format!(
                    "第 {expected_seq} 条缺失（序号跳到 {}）/ entry {expected_seq} is missing (the sequence jumps to {})",
                    e.seq, e.seq
                ),
            });
        }
        if e.prev_hash != prev {
            return Ok(Verdict::Broken {
                seq: e.seq,
                reason: "前一条的哈希不符（前一条被改动或删除）/ the previous entry's hash does not match (it was changed or removed)".into(),
            });
        }
        let h = entry_hash(
            &prev,
            e.seq,
            &e.at,
            &e.actor,
            &e.action,
            &e.object,
            e.before.as_deref(),
            e.after.as_deref(),
        );
        if h != e.hash {
            return Ok(Verdict::Broken {
                seq: e.seq,
                reason: "内容与哈希不符（本条被改动）/ the content does not match its hash (this entry was changed)".into(),
            });
        }
        prev = e.hash;
        n += 1;
    }
    Ok(Verdict::Intact { entries: n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Flow;

    #[test]
    fn an_edited_entry_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Flow::new(dir.path()).open().unwrap();
        for i in 0..5 {
            append(
                &conn,
                "wang",
                "order.comment",
                &format!("order:{i}"),
                None,
                Some(&serde_json::json!({"i": i})),
            )
            .unwrap();
        }
        assert_eq!(verify(&conn).unwrap(), Verdict::Intact { entries: 5 });
        conn.execute("UPDATE trail SET after = '{\"i\":9}' WHERE seq = 3", []).unwrap();
        match verify(&conn).unwrap() {
            Verdict::Broken { seq, .. } => assert_eq!(seq, 3),
            v => panic!("{v:?}"),
        }
        conn.execute("UPDATE trail SET after = '{\"i\":2}' WHERE seq = 3", []).unwrap();
        assert_eq!(verify(&conn).unwrap(), Verdict::Intact { entries: 5 });
        conn.execute("DELETE FROM trail WHERE seq = 2", []).unwrap();
        match verify(&conn).unwrap() {
            Verdict::Broken { seq, .. } => assert_eq!(seq, 3),
            v => panic!("{v:?}"),
        }
    }
}
