//! Users, passwords (argon2id), lockout after repeated failures, and sessions that expire.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{Duration, Local, NaiveDateTime};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::json;

use crate::{Actor, FlowError, FlowResult, Role, now_text, random_hex, sha256_hex, trail};

/// Failed logins in a row that lock an account.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a locked account stays locked.
pub const LOCKOUT_MINUTES: i64 = 15;
/// A session ends after this long without a request.
pub const SESSION_IDLE_MINUTES: i64 = 120;
/// A session ends this long after login whatever happens.
pub const SESSION_MAX_HOURS: i64 = 12;
/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// A user as listed (never the hash).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct User {
    /// Internal id.
    pub user_id: i64,
    /// Login name.
    pub username: String,
    /// Name shown.
    pub display_name: String,
    /// Role.
    pub role: Role,
    /// Station of a station role.
    pub station_id: Option<String>,
    /// Locked until, if locked.
    pub locked_until: Option<String>,
    /// Created.
    pub created_at: String,
}

fn parse_time(text: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()
}

fn fmt_time(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn hash_password(password: &str) -> FlowResult<String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(FlowError::Invalid(format!(
            "密码至少 {MIN_PASSWORD_CHARS} 个字符 / a password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    let salt = SaltString::encode_b64(random_hex(16).as_bytes())
        .map_err(|e| FlowError::Invalid(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| FlowError::Invalid(format!("argon2: {e}")))
}

fn check_station(role: Role, station_id: Option<&str>) -> FlowResult<()> {
    if role.is_station() && station_id.is_none_or(str::is_empty) {
        return Err(FlowError::Invalid(format!(
            "{}必须指定供电所 / a {} needs a station",
            role.name_zh(),
            role.name_en()
        )));
    }
    Ok(())
}

fn require_admin(actor: &Actor) -> FlowResult<()> {
    if actor.role != Role::Admin {
        return Err(FlowError::Forbidden(
            "只有系统管理员可以管理用户 / only administrators manage users".into(),
        ));
    }
    Ok(())
}

/// Creates a user (administrators only); returns its id.
pub fn add(
    conn: &mut Connection,
    actor: &Actor,
    username: &str,
    display_name: &str,
    role: Role,
    station_id: Option<&str>,
    password: &str,
) -> FlowResult<i64> {
    require_admin(actor)?;
    let username = username.trim();
    if username.is_empty()
        || username.len() > 64
        || username.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(FlowError::Invalid(
            "用户名不能为空或含空白 / a user name must be non-empty without spaces".into(),
        ));
    }
    check_station(role, station_id)?;
    let station_id = if role.is_station() { station_id } else { None };
    let hash = hash_password(password)?;
    let tx = conn.transaction()?;
    let exists: Option<i64> =
        tx.query_row("SELECT user_id FROM users WHERE username = ?1", [username], |r| r.get(0)).optional()?;
    if exists.is_some() {
        return Err(FlowError::Invalid(format!(
            "用户名已存在：{username} / the user name is taken: {username}"
        )));
    }
    let display_name = if display_name.trim().is_empty() { username } else { display_name.trim() };
    tx.execute(
        "INSERT INTO users (username, display_name, role, station_id, password_hash, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![username, display_name, role.code(), station_id, hash, now_text()],
    )?;
    let id = tx.last_insert_rowid();
    trail::append(
        &tx,
        &actor.username,
        "user.add",
        &format!("user:{username}"),
        None,
        Some(&json!({"display_name": display_name, "role": role.code(), "station_id": station_id})),
    )?;
    tx.commit()?;
    Ok(id)
}

/// Sets a user's password (administrators, or the user for themself); unlocks the account and
/// ends its sessions.
pub fn set_password(conn: &mut Connection, actor: &Actor, username: &str, password: &str) -> FlowResult<()> {
    if actor.username != username {
        require_admin(actor)?;
    }
    let hash = hash_password(password)?;
    let tx = conn.transaction()?;
    let id: i64 = tx
        .query_row("SELECT user_id FROM users WHERE username = ?1", [username], |r| r.get(0))
        .optional()?
        .ok_or_else(|| FlowError::NotFound(format!("用户 {username} / user {username}")))?;
    tx.execute(
        "UPDATE users SET password_hash = ?1, failed_logins = 0, locked_until = NULL WHERE user_id = ?2",
        params![hash, id],
    )?;
    tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?;
    trail::append(&tx, &actor.username, "user.password", &format!("user:{username}"), None, None)?;
    tx.commit()?;
    Ok(())
}

/// Changes a user's role and station (administrators only).
pub fn assign(
    conn: &mut Connection,
    actor: &Actor,
    username: &str,
    role: Role,
    station_id: Option<&str>,
) -> FlowResult<()> {
    require_admin(actor)?;
    check_station(role, station_id)?;
    let station_id = if role.is_station() { station_id } else { None };
    let tx = conn.transaction()?;
    let before = find(&tx, username)?
        .ok_or_else(|| FlowError::NotFound(format!("用户 {username} / user {username}")))?;
    tx.execute(
        "UPDATE users SET role = ?1, station_id = ?2 WHERE user_id = ?3",
        params![role.code(), station_id, before.user_id],
    )?;
    tx.execute("DELETE FROM sessions WHERE user_id = ?1", [before.user_id])?;
    trail::append(
        &tx,
        &actor.username,
        "user.assign",
        &format!("user:{username}"),
        Some(&json!({"role": before.role.code(), "station_id": before.station_id})),
        Some(&json!({"role": role.code(), "station_id": station_id})),
    )?;
    tx.commit()?;
    Ok(())
}

fn user_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(3)?;
    Ok(User {
        user_id: r.get(0)?,
        username: r.get(1)?,
        display_name: r.get(2)?,
        role: Role::parse(&role).unwrap_or(Role::Manager),
        station_id: r.get(4)?,
        locked_until: r.get(5)?,
        created_at: r.get(6)?,
    })
}

const USER_COLUMNS: &str = "user_id, username, display_name, role, station_id, locked_until, created_at";

/// Every user.
pub fn list(conn: &Connection) -> FlowResult<Vec<User>> {
    let mut stmt = conn.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY user_id"))?;
    let rows = stmt.query_map([], user_of)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One user by login name.
pub fn find(conn: &Connection, username: &str) -> FlowResult<Option<User>> {
    Ok(conn
        .query_row(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = ?1"), [username], user_of)
        .optional()?)
}

/// The users of a role (and station), e.g. the station heads an escalation goes to.
pub fn with_role(conn: &Connection, role: Role, station_id: Option<&str>) -> FlowResult<Vec<User>> {
    Ok(list(conn)?
        .into_iter()
        .filter(|u| u.role == role && (station_id.is_none() || u.station_id.as_deref() == station_id))
        .collect())
}

fn actor_of(u: User) -> Actor {
    Actor {
        user_id: u.user_id,
        username: u.username,
        display_name: u.display_name,
        role: u.role,
        station_id: u.station_id,
    }
}

/// A new session: the cookie's token and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Goes into the session cookie; only its hash is stored.
    pub token: String,
    /// To send back with every change.
    pub csrf: String,
    /// Who.
    pub actor: Actor,
}

/// Checks a password; on success opens a session. Five failures in a row lock the account for
/// 15 minutes; the message never says whether the name exists.
pub fn login(conn: &mut Connection, username: &str, password: &str) -> FlowResult<NewSession> {
    let now = Local::now().naive_local();
    let bad = || FlowError::Login("用户名或密码错误 / wrong user name or password".into());
    let tx = conn.transaction()?;
    let row: Option<(i64, String, i64, Option<String>, i64)> = tx
        .query_row(
            "SELECT user_id, password_hash, failed_logins, locked_until, disabled FROM users WHERE username = ?1",
            [username],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((id, hash, failed, locked_until, disabled)) = row else {
        // Same work as a real check, so that timing does not tell which names exist.
        let _ = hash_password("not a real password");
        return Err(bad());
    };
    if disabled != 0 {
        return Err(bad());
    }
    if let Some(until) = locked_until.as_deref().and_then(parse_time)
        && until > now
    {
        return Err(FlowError::Login(format!(
            "连续 {MAX_FAILED_LOGINS} 次密码错误，账号锁定至 {} / locked after {MAX_FAILED_LOGINS} failed logins until {}",
            fmt_time(until),
            fmt_time(until)
        )));
    }
    let ok = PasswordHash::new(&hash)
        .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false);
    if !ok {
        let failed = failed + 1;
        let lock = (failed >= MAX_FAILED_LOGINS).then(|| fmt_time(now + Duration::minutes(LOCKOUT_MINUTES)));
        tx.execute(
            "UPDATE users SET failed_logins = ?1, locked_until = ?2 WHERE user_id = ?3",
            params![if lock.is_some() { 0 } else { failed }, lock, id],
        )?;
        if lock.is_some() {
            trail::append(&tx, username, "user.locked", &format!("user:{username}"), None, None)?;
        }
        tx.commit()?;
        return Err(bad());
    }
    tx.execute("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE user_id = ?1", [id])?;
    let token = random_hex(32);
    let csrf = random_hex(32);
    tx.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf, created_at, last_seen, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
        params![
            sha256_hex(token.as_bytes()),
            id,
            csrf,
            fmt_time(now),
            fmt_time(now + Duration::hours(SESSION_MAX_HOURS))
        ],
    )?;
    tx.execute("DELETE FROM sessions WHERE expires_at < ?1", [fmt_time(now)])?;
    let user =
        tx.query_row(&format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = ?1"), [id], user_of)?;
    tx.commit()?;
    Ok(NewSession { token, csrf, actor: actor_of(user) })
}

/// The user and CSRF token of a live session; touches it (at most once a minute, to spare writes).
pub fn session(conn: &Connection, token: &str) -> FlowResult<Option<(Actor, String)>> {
    let now = Local::now().naive_local();
    let row: Option<(i64, String, String, String)> = conn
        .query_row(
            "SELECT user_id, csrf, last_seen, expires_at FROM sessions WHERE token_hash = ?1",
            [sha256_hex(token.as_bytes())],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((id, csrf, last_seen, expires)) = row else { return Ok(None) };
    let (Some(last_seen), Some(expires)) = (parse_time(&last_seen), parse_time(&expires)) else {
        return Ok(None);
    };
    if expires <= now || last_seen + Duration::minutes(SESSION_IDLE_MINUTES) <= now {
        conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [sha256_hex(token.as_bytes())])?;
        return Ok(None);
    }
    if now - last_seen > Duration::minutes(1) {
        conn.execute(
            "UPDATE sessions SET last_seen = ?1 WHERE token_hash = ?2",
            params![fmt_time(now), sha256_hex(token.as_bytes())],
        )?;
    }
    let user: Option<User> = conn
        .query_row(
            &format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = ?1 AND disabled = 0"),
            [id],
            user_of,
        )
        .optional()?;
    Ok(user.map(|u| (actor_of(u), csrf)))
}

/// Ends a session.
pub fn logout(conn: &Connection, token: &str) -> FlowResult<()> {
    conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [sha256_hex(token.as_bytes())])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Flow;

    #[test]
    fn five_wrong_passwords_lock_the_account() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Flow::new(dir.path()).open().unwrap();
        add(&mut conn, &Actor::system(), "li", "李四", Role::Auditor, None, "correct horse").unwrap();
        let s = login(&mut conn, "li", "correct horse").unwrap();
        assert_eq!(session(&conn, &s.token).unwrap().unwrap().0.username, "li");
        for _ in 0..MAX_FAILED_LOGINS {
            assert!(login(&mut conn, "li", "wrong password").is_err());
        }
        let err = login(&mut conn, "li", "correct horse").unwrap_err().to_string();
        assert!(err.contains("锁定"), "{err}");
        set_password(&mut conn, &Actor::system(), "li", "battery staple").unwrap();
        // A new password ends old sessions and unlocks.
        assert!(session(&conn, &s.token).unwrap().is_none());
        assert!(login(&mut conn, "li", "battery staple").is_ok());
        assert!(matches!(trail::verify(&conn).unwrap(), trail::Verdict::Intact { entries: 3 }));
    }

    #[test]
    fn station_roles_need_a_station_and_only_admins_add() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Flow::new(dir.path()).open().unwrap();
        assert!(add(&mut conn, &Actor::system(), "zh", "", Role::StationStaff, None, "password1").is_err());
        add(&mut conn, &Actor::system(), "zh", "", Role::StationStaff, Some("S01"), "password1").unwrap();
        let s = login(&mut conn, "zh", "password1").unwrap();
        assert!(matches!(
            add(&mut conn, &s.actor, "x", "", Role::Admin, None, "password1"),
            Err(FlowError::Forbidden(_))
        ));
        assert!(add(&mut conn, &Actor::system(), "short", "", Role::Auditor, None, "123").is_err());
    }
}
