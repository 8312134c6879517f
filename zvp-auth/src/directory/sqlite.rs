//! The directory in an embedded SQLite database (feature `sqlite`).
//!
//! WAL journal with `synchronous=FULL`: a write returns after it is on disk, and a crash or
//! power loss loses nothing that was acknowledged. Versioned migrations run at open
//! (`PRAGMA user_version`). Every value read back is parsed through the domain types, so a
//! damaged or hand-edited row is refused with [`StoreError::Corrupt`], never guessed at.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use zvp_core::{AgbCode, PatientId, RoleCode, UziNumber};

use super::store::{DirectoryStore, NewDelegation, StoreError};
use super::{
    Account, AccountStatus, Contact, Delegation, DelegationId, EmergencyGrant, GrantId,
    ReasonCategory, ReviewVerdict,
};
use crate::dezi::DeziNumber;
use crate::policy::NewGrant;

/// The schema, one migration per entry; `PRAGMA user_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    r"
    CREATE TABLE accounts (
        uzi TEXT PRIMARY KEY NOT NULL,
        agb TEXT,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        practice_agb TEXT,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_login TEXT,
        accepted_terms INTEGER,
        admin INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE delegations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        grantor TEXT NOT NULL,
        grantee TEXT NOT NULL,
        valid_from TEXT NOT NULL,
        valid_until TEXT,
        created_by TEXT,
        revoked_at TEXT
    ) STRICT;
    CREATE INDEX delegations_by_grantee ON delegations (grantee);
    CREATE INDEX delegations_by_grantor ON delegations (grantor);
    CREATE TABLE emergency_grants (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        practitioner TEXT NOT NULL,
        patient TEXT NOT NULL,
        reason_category TEXT NOT NULL,
        reason TEXT NOT NULL,
        granted_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        verdict TEXT
    ) STRICT;
    CREATE INDEX grants_by_practitioner_patient ON emergency_grants (practitioner, patient);
",
    r"
    ALTER TABLE accounts ADD COLUMN practice_name TEXT;
    ALTER TABLE accounts ADD COLUMN email TEXT;
    ALTER TABLE accounts ADD COLUMN phone TEXT;
",
    "ALTER TABLE accounts ADD COLUMN previous_login TEXT;",
    r"
    CREATE TABLE dezi_links (
        uzi TEXT PRIMARY KEY NOT NULL REFERENCES accounts (uzi),
        dezi TEXT NOT NULL UNIQUE,
        linked_at TEXT NOT NULL
    ) STRICT;
",
];

/// A [`DirectoryStore`] in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteDirectory {
    connection: Arc<Mutex<Connection>>,
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl SqliteDirectory {
    /// Opens (creating if needed) the directory at `path` and brings its schema up to date.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the file cannot be opened, is not a SQLite database, or was
    /// written by a newer zvp.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut connection = Connection::open(path).map_err(backend)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA busy_timeout = 5000;",
            )
            .map_err(backend)?;
        migrate(&mut connection)?;
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `f` on the connection, on tokio's blocking pool when inside a runtime.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let connection = Arc::clone(&self.connection);
        let task = move || {
            let mut guard = connection
                .lock()
                .map_err(|_| backend("a thread panicked while holding the directory"))?;
            f(&mut guard)
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle.spawn_blocking(task).await.map_err(backend)?,
            Err(_) => task(),
        }
    }
}

/// Applies the migrations not yet applied, each in its own transaction.
fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let applied: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(backend)?;
    let applied = usize::try_from(applied).map_err(backend)?;
    if applied > MIGRATIONS.len() {
        return Err(backend(format!(
            "the directory has schema version {applied}; this zvp knows {}",
            MIGRATIONS.len()
        )));
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let transaction = connection.transaction().map_err(backend)?;
        transaction.execute_batch(sql).map_err(backend)?;
        transaction
            .execute_batch(&format!("PRAGMA user_version = {}", version + 1))
            .map_err(backend)?;
        transaction.commit().map_err(backend)?;
    }
    Ok(())
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn opt_time(t: Option<DateTime<Utc>>) -> Option<String> {
    t.map(time)
}

fn status_code(s: AccountStatus) -> &'static str {
    match s {
        AccountStatus::Requested => "requested",
        AccountStatus::Active => "active",
        AccountStatus::Blocked => "blocked",
        AccountStatus::Rejected => "rejected",
    }
}

fn verdict_code(v: ReviewVerdict) -> &'static str {
    match v {
        ReviewVerdict::Justified => "justified",
        ReviewVerdict::NotJustified => "not-justified",
        ReviewVerdict::NeedsFollowUp => "needs-follow-up",
    }
}

/// Reads and parses the columns of one row, naming the row in every error.
struct Fields<'r, 's> {
    row: &'r Row<'s>,
    table: &'static str,
    key: String,
}

impl Fields<'_, '_> {
    fn corrupt(&self, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            key: self.key.clone(),
            detail: detail.to_string(),
        }
    }

    fn text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.row
            .get::<_, Option<String>>(column)
            .map_err(|e| self.corrupt(format!("{column}: {e}")))
    }

    fn required<T: std::str::FromStr>(&self, column: &str) -> Result<T, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        self.optional(column)?
            .ok_or_else(|| self.corrupt(format!("{column}: missing")))
    }

    fn optional<T: std::str::FromStr>(&self, column: &str) -> Result<Option<T>, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        self.text(column)?
            .map(|text| {
                text.parse()
                    .map_err(|e| self.corrupt(format!("{column}: {text:?}: {e}")))
            })
            .transpose()
    }

    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.text(column)?
            .map(|text| {
                DateTime::parse_from_rfc3339(&text)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| self.corrupt(format!("{column}: {text:?}: {e}")))
            })
            .transpose()
    }

    fn required_time(&self, column: &str) -> Result<DateTime<Utc>, StoreError> {
        self.time(column)?
            .ok_or_else(|| self.corrupt(format!("{column}: missing")))
    }

    fn int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.row
            .get::<_, Option<i64>>(column)
            .map_err(|e| self.corrupt(format!("{column}: {e}")))
    }

    fn code<T: Copy>(&self, column: &str, values: &[(&str, T)]) -> Result<Option<T>, StoreError> {
        let Some(text) = self.text(column)? else {
            return Ok(None);
        };
        values
            .iter()
            .find(|(code, _)| *code == text)
            .map(|(_, value)| Some(*value))
            .ok_or_else(|| self.corrupt(format!("{column}: unknown value {text:?}")))
    }
}

const STATUSES: [(&str, AccountStatus); 4] = [
    ("requested", AccountStatus::Requested),
    ("active", AccountStatus::Active),
    ("blocked", AccountStatus::Blocked),
    ("rejected", AccountStatus::Rejected),
];

const VERDICTS: [(&str, ReviewVerdict); 3] = [
    ("justified", ReviewVerdict::Justified),
    ("not-justified", ReviewVerdict::NotJustified),
    ("needs-follow-up", ReviewVerdict::NeedsFollowUp),
];

fn account_from(row: &Row<'_>) -> Result<Account, StoreError> {
    let key = row.get::<_, String>("uzi").unwrap_or_default();
    let f = Fields {
        row,
        table: "accounts",
        key,
    };
    Ok(Account {
        uzi: f.required::<UziNumber>("uzi")?,
        agb: f.optional::<AgbCode>("agb")?,
        name: f.text("name")?.unwrap_or_default(),
        role: f.required::<RoleCode>("role")?,
        practice_agb: f.optional::<AgbCode>("practice_agb")?,
        status: f
            .code("status", &STATUSES)?
            .ok_or_else(|| f.corrupt("status: missing"))?,
        created_at: f.required_time("created_at")?,
        last_login: f.time("last_login")?,
        previous_login: f.time("previous_login")?,
        accepted_terms: f
            .int("accepted_terms")?
            .map(|v| u32::try_from(v).map_err(|e| f.corrupt(format!("accepted_terms: {e}"))))
            .transpose()?,
        admin: f.int("admin")?.is_some_and(|v| v != 0),
        contact: Contact {
            practice_name: f.text("practice_name")?,
            email: f.text("email")?,
            phone: f.text("phone")?,
        },
    })
}

fn delegation_from(row: &Row<'_>) -> Result<Delegation, StoreError> {
    let id = row.get::<_, i64>("id").unwrap_or_default();
    let f = Fields {
        row,
        table: "delegations",
        key: id.to_string(),
    };
    Ok(Delegation {
        id: DelegationId(u64::try_from(id).map_err(|e| f.corrupt(format!("id: {e}")))?),
        grantor: f.required::<AgbCode>("grantor")?,
        grantee: f.required::<UziNumber>("grantee")?,
        from: f.required_time("valid_from")?,
        until: f.time("valid_until")?,
        created_by: f.optional::<UziNumber>("created_by")?,
        revoked_at: f.time("revoked_at")?,
    })
}

fn grant_from(row: &Row<'_>) -> Result<EmergencyGrant, StoreError> {
    let id = row.get::<_, i64>("id").unwrap_or_default();
    let f = Fields {
        row,
        table: "emergency_grants",
        key: id.to_string(),
    };
    let categories: Vec<(&str, ReasonCategory)> =
        ReasonCategory::ALL.iter().map(|c| (c.code(), *c)).collect();
    Ok(EmergencyGrant {
        id: GrantId(u64::try_from(id).map_err(|e| f.corrupt(format!("id: {e}")))?),
        practitioner: f.required::<UziNumber>("practitioner")?,
        patient: f.required::<PatientId>("patient")?,
        reason_category: f
            .code("reason_category", &categories)?
            .ok_or_else(|| f.corrupt("reason_category: missing"))?,
        reason: f.text("reason")?.unwrap_or_default(),
        granted_at: f.required_time("granted_at")?,
        expires_at: f.required_time("expires_at")?,
        verdict: f.code("verdict", &VERDICTS)?,
    })
}

/// Runs a query and parses every row.
fn query<T>(
    connection: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    parse: fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut statement = connection.prepare_cached(sql).map_err(backend)?;
    let mut rows = statement.query(params).map_err(backend)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        out.push(parse(row)?);
    }
    Ok(out)
}

fn account_params(a: &Account) -> [Option<String>; 14] {
    [
        Some(a.uzi.to_string()),
        a.agb.map(|x| x.to_string()),
        Some(a.name.clone()),
        Some(a.role.to_string()),
        a.practice_agb.map(|x| x.to_string()),
        Some(status_code(a.status).to_owned()),
        Some(time(a.created_at)),
        opt_time(a.last_login),
        a.accepted_terms.map(|v| v.to_string()),
        Some(if a.admin { "1" } else { "0" }.to_owned()),
        a.contact.practice_name.clone(),
        a.contact.email.clone(),
        a.contact.phone.clone(),
        opt_time(a.previous_login),
    ]
}

#[async_trait]
impl DirectoryStore for SqliteDirectory {
    async fn account(&self, uzi: UziNumber) -> Result<Option<Account>, StoreError> {
        self.run(move |c| {
            Ok(query(
                c,
                "SELECT * FROM accounts WHERE uzi = ?1",
                [uzi.to_string()],
                account_from,
            )?
            .into_iter()
            .next())
        })
        .await
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.run(|c| query(c, "SELECT * FROM accounts ORDER BY uzi", [], account_from))
            .await
    }

    async fn create_account(&self, account: &Account) -> Result<(), StoreError> {
        let account = account.clone();
        self.run(move |c| {
            let exists: Option<i64> = c
                .query_row("SELECT 1 FROM accounts WHERE uzi = ?1", [account.uzi.to_string()], |r| r.get(0))
                .optional()
                .map_err(backend)?;
            if exists.is_some() {
                return Err(StoreError::AccountExists(account.uzi));
            }
            let p = account_params(&account);
            c.execute(
                "INSERT INTO accounts (uzi, agb, name, role, practice_agb, status, created_at, \
                 last_login, accepted_terms, admin, practice_name, email, phone, previous_login) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, CAST(?9 AS INTEGER), CAST(?10 AS INTEGER), \
                 ?11, ?12, ?13, ?14)",
                rusqlite::params_from_iter(p.iter()),
            )
            .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn update_account(&self, account: &Account) -> Result<(), StoreError> {
        let account = account.clone();
        self.run(move |c| {
            let p = account_params(&account);
            let changed = c
                .execute(
                    "UPDATE accounts SET agb = ?2, name = ?3, role = ?4, practice_agb = ?5, \
                     status = ?6, created_at = ?7, last_login = ?8, \
                     accepted_terms = CAST(?9 AS INTEGER), admin = CAST(?10 AS INTEGER), \
                     practice_name = ?11, email = ?12, phone = ?13, previous_login = ?14 \
                     WHERE uzi = ?1",
                    rusqlite::params_from_iter(p.iter()),
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StoreError::NoSuchAccount(account.uzi));
            }
            Ok(())
        })
        .await
    }

    async fn set_status(&self, uzi: UziNumber, status: AccountStatus) -> Result<(), StoreError> {
        self.run(move |c| {
            let changed = c
                .execute(
                    "UPDATE accounts SET status = ?2 WHERE uzi = ?1",
                    params![uzi.to_string(), status_code(status)],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StoreError::NoSuchAccount(uzi));
            }
            Ok(())
        })
        .await
    }

    async fn record_login(&self, uzi: UziNumber, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.run(move |c| {
            let changed = c
                .execute(
                    "UPDATE accounts SET previous_login = last_login, last_login = ?2 WHERE uzi = ?1",
                    params![uzi.to_string(), time(at)],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StoreError::NoSuchAccount(uzi));
            }
            Ok(())
        })
        .await
    }

    async fn dezi_account(&self, dezi: &DeziNumber) -> Result<Option<UziNumber>, StoreError> {
        let dezi = dezi.clone();
        self.run(move |c| {
            let uzi: Option<String> = c
                .query_row(
                    "SELECT uzi FROM dezi_links WHERE dezi = ?1",
                    [dezi.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            uzi.map(|u| {
                u.parse().map_err(|e| StoreError::Corrupt {
                    table: "dezi_links",
                    key: dezi.to_string(),
                    detail: format!("uzi: {u:?}: {e}"),
                })
            })
            .transpose()
        })
        .await
    }

    async fn dezi_of(&self, uzi: UziNumber) -> Result<Option<DeziNumber>, StoreError> {
        self.run(move |c| {
            let dezi: Option<String> = c
                .query_row(
                    "SELECT dezi FROM dezi_links WHERE uzi = ?1",
                    [uzi.to_string()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            dezi.map(|d| {
                d.parse().map_err(|e| StoreError::Corrupt {
                    table: "dezi_links",
                    key: uzi.to_string(),
                    detail: format!("dezi: {d:?}: {e}"),
                })
            })
            .transpose()
        })
        .await
    }

    async fn link_dezi(
        &self,
        uzi: UziNumber,
        dezi: &DeziNumber,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let dezi = dezi.clone();
        self.run(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let account: Option<i64> = tx
                .query_row(
                    "SELECT 1 FROM accounts WHERE uzi = ?1",
                    [uzi.to_string()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend)?;
            if account.is_none() {
                return Err(StoreError::NoSuchAccount(uzi));
            }
            let inserted = tx
                .execute(
                    "INSERT INTO dezi_links (uzi, dezi, linked_at) VALUES (?1, ?2, ?3) \
                     ON CONFLICT DO NOTHING",
                    params![uzi.to_string(), dezi.as_str(), time(at)],
                )
                .map_err(backend)?;
            if inserted == 0 {
                return Err(StoreError::DeziLinked { uzi, dezi });
            }
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn add_delegation(&self, delegation: NewDelegation) -> Result<Delegation, StoreError> {
        self.run(move |c| {
            let d = delegation.with_id(DelegationId(0));
            c.execute(
                "INSERT INTO delegations (grantor, grantee, valid_from, valid_until, created_by) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    d.grantor.to_string(),
                    d.grantee.to_string(),
                    time(d.from),
                    opt_time(d.until),
                    d.created_by.map(|u| u.to_string()),
                ],
            )
            .map_err(backend)?;
            let id = u64::try_from(c.last_insert_rowid()).map_err(backend)?;
            Ok(Delegation {
                id: DelegationId(id),
                ..d
            })
        })
        .await
    }

    async fn revoke_delegation(
        &self,
        id: DelegationId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.run(move |c| {
            let key = i64::try_from(id.0).map_err(backend)?;
            let changed = c
                .execute(
                    "UPDATE delegations SET revoked_at = MIN(COALESCE(revoked_at, ?2), ?2) WHERE id = ?1",
                    params![key, time(at)],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StoreError::NoSuchDelegation(id));
            }
            Ok(())
        })
        .await
    }

    async fn delegations_to(&self, grantee: UziNumber) -> Result<Vec<Delegation>, StoreError> {
        self.run(move |c| {
            query(
                c,
                "SELECT * FROM delegations WHERE grantee = ?1 ORDER BY id",
                [grantee.to_string()],
                delegation_from,
            )
        })
        .await
    }

    async fn delegations_from(&self, grantor: AgbCode) -> Result<Vec<Delegation>, StoreError> {
        self.run(move |c| {
            query(
                c,
                "SELECT * FROM delegations WHERE grantor = ?1 ORDER BY id",
                [grantor.to_string()],
                delegation_from,
            )
        })
        .await
    }

    async fn add_grant(&self, grant: NewGrant) -> Result<EmergencyGrant, StoreError> {
        self.run(move |c| {
            c.execute(
                "INSERT INTO emergency_grants (practitioner, patient, reason_category, reason, \
                 granted_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    grant.practitioner.to_string(),
                    grant.patient.as_str(),
                    grant.reason_category.code(),
                    grant.reason,
                    time(grant.granted_at),
                    time(grant.expires_at),
                ],
            )
            .map_err(backend)?;
            let id = u64::try_from(c.last_insert_rowid()).map_err(backend)?;
            Ok(EmergencyGrant {
                id: GrantId(id),
                practitioner: grant.practitioner,
                patient: grant.patient,
                reason_category: grant.reason_category,
                reason: grant.reason,
                granted_at: grant.granted_at,
                expires_at: grant.expires_at,
                verdict: None,
            })
        })
        .await
    }

    async fn grants(
        &self,
        practitioner: UziNumber,
        patient: &PatientId,
    ) -> Result<Vec<EmergencyGrant>, StoreError> {
        let patient = patient.to_string();
        self.run(move |c| {
            query(
                c,
                "SELECT * FROM emergency_grants WHERE practitioner = ?1 AND patient = ?2 ORDER BY id",
                [practitioner.to_string(), patient],
                grant_from,
            )
        })
        .await
    }

    async fn grants_since(&self, since: DateTime<Utc>) -> Result<Vec<EmergencyGrant>, StoreError> {
        // Times are stored as fixed-width RFC 3339 in UTC, so text order is time order.
        let since = time(since);
        self.run(move |c| {
            query(
                c,
                "SELECT * FROM emergency_grants WHERE granted_at >= ?1 ORDER BY id",
                params![since],
                grant_from,
            )
        })
        .await
    }

    async fn unreviewed_grants(&self) -> Result<Vec<EmergencyGrant>, StoreError> {
        self.run(|c| {
            query(
                c,
                "SELECT * FROM emergency_grants WHERE verdict IS NULL ORDER BY id",
                [],
                grant_from,
            )
        })
        .await
    }

    async fn review_grant(&self, id: GrantId, verdict: ReviewVerdict) -> Result<(), StoreError> {
        self.run(move |c| {
            let key = i64::try_from(id.0).map_err(backend)?;
            let changed = c
                .execute(
                    "UPDATE emergency_grants SET verdict = ?2 WHERE id = ?1",
                    params![key, verdict_code(verdict)],
                )
                .map_err(backend)?;
            if changed == 0 {
                return Err(StoreError::NoSuchGrant(id));
            }
            Ok(())
        })
        .await
    }
}
