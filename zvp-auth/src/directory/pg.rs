//! The directory in PostgreSQL (feature `postgres`), shared by several portal instances.
//!
//! Every operation is one statement, so concurrent instances need no locks of their own:
//! an account is created with `INSERT … ON CONFLICT DO NOTHING` (a second one for the same
//! UZI number is refused), ids come from sequences, a revocation keeps the earliest time
//! (`LEAST`). The schema is migrated at [`PgDirectory::connect`] under an advisory lock, so two
//! instances starting at once migrate once; a database migrated by a newer zvp is refused.
//!
//! A small pool of connections (each one pipelines the queries given to it) serves the
//! requests; values read back are parsed through the domain types, and a row that does not
//! parse is [`StoreError::Corrupt`] naming table, key and field.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};
use zvp_core::{AgbCode, PatientId, RoleCode, UziNumber};

use super::store::{DirectoryStore, NewDelegation, StoreError};
use super::{
    Account, AccountStatus, Contact, Delegation, DelegationId, EmergencyGrant, GrantId,
    ReasonCategory, ReviewVerdict,
};
use crate::dezi::DeziNumber;
use crate::policy::NewGrant;

/// The schema, one migration per entry; `zvp_directory_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE accounts (
        uzi TEXT PRIMARY KEY,
        agb TEXT,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        practice_agb TEXT,
        status TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        last_login TIMESTAMPTZ,
        accepted_terms INTEGER,
        admin BOOLEAN NOT NULL,
        practice_name TEXT,
        email TEXT,
        phone TEXT);
    CREATE TABLE delegations (
        id BIGSERIAL PRIMARY KEY,
        grantor TEXT NOT NULL,
        grantee TEXT NOT NULL,
        valid_from TIMESTAMPTZ NOT NULL,
        valid_until TIMESTAMPTZ,
        created_by TEXT,
        revoked_at TIMESTAMPTZ);
    CREATE INDEX delegations_by_grantee ON delegations (grantee);
    CREATE INDEX delegations_by_grantor ON delegations (grantor);
    CREATE TABLE emergency_grants (
        id BIGSERIAL PRIMARY KEY,
        practitioner TEXT NOT NULL,
        patient TEXT NOT NULL,
        reason_category TEXT NOT NULL,
        reason TEXT NOT NULL,
        granted_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL,
        verdict TEXT);
    CREATE INDEX grants_by_practitioner_patient ON emergency_grants (practitioner, patient);
    CREATE INDEX grants_by_time ON emergency_grants (granted_at);
",
    "ALTER TABLE accounts ADD COLUMN previous_login TIMESTAMPTZ;",
    "
    CREATE TABLE dezi_links (
        uzi TEXT PRIMARY KEY REFERENCES accounts (uzi),
        dezi TEXT NOT NULL UNIQUE,
        linked_at TIMESTAMPTZ NOT NULL);
",
];

/// The number of connections in the pool.
const POOL: usize = 4;

/// A [`DirectoryStore`] in a PostgreSQL schema.
#[derive(Debug, Clone)]
pub struct PgDirectory {
    schema: Arc<str>,
    clients: Arc<Vec<Pooled>>,
    next: Arc<AtomicUsize>,
}

/// A connection of the pool, with the statements it has prepared: each query is parsed once
/// per connection and then costs one round trip instead of two. A connection that has ended
/// (PostgreSQL restarted, the backend terminated, a failover) is made again by its next use,
/// with its statements prepared anew, so the directory comes back without a restart.
#[derive(Debug)]
struct Pooled {
    config: Arc<str>,
    live: zvp_pg::Reconnecting<Live, String>,
}

/// One connection of a [`Pooled`] and what it has prepared.
#[derive(Debug)]
struct Live {
    client: Client,
    prepared: std::sync::Mutex<std::collections::HashMap<String, Statement>>,
}

impl Live {
    fn new(client: Client) -> Self {
        Self {
            client,
            prepared: std::sync::Mutex::default(),
        }
    }
}

impl zvp_pg::HoldsClient for Live {
    fn client(&self) -> &Client {
        &self.client
    }
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Pooled {
    fn new(config: Arc<str>, client: Client) -> Self {
        Self {
            config,
            live: zvp_pg::Reconnecting::new(Live::new(client)),
        }
    }

    /// The connection, made again if it has ended.
    async fn live(&self) -> Result<Arc<Live>, StoreError> {
        self.live
            .get(|| async {
                let client = zvp_pg::connect(&self.config)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Live::new(client))
            })
            .await
            .map_err(StoreError::Backend)
    }

    /// The connection and `sql` prepared on it.
    async fn statement(&self, sql: &str) -> Result<(Arc<Live>, Statement), StoreError> {
        let live = self.live().await?;
        let cached = live
            .prepared
            .lock()
            .ok()
            .and_then(|prepared| prepared.get(sql).cloned());
        if let Some(statement) = cached {
            return Ok((live, statement));
        }
        let statement = live.client.prepare(sql).await.map_err(backend)?;
        if let Ok(mut prepared) = live.prepared.lock() {
            prepared.insert(sql.to_owned(), statement.clone());
        }
        Ok((live, statement))
    }

    async fn query(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let (live, statement) = self.statement(sql).await?;
        live.client.query(&statement, params).await.map_err(backend)
    }

    async fn query_one(&self, sql: &str, params: Params<'_>) -> Result<Row, StoreError> {
        let (live, statement) = self.statement(sql).await?;
        live.client
            .query_one(&statement, params)
            .await
            .map_err(backend)
    }

    async fn execute(&self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        let (live, statement) = self.statement(sql).await?;
        live.client
            .execute(&statement, params)
            .await
            .map_err(backend)
    }
}

fn backend(e: impl std::error::Error) -> StoreError {
    StoreError::Backend(format!("postgresql: {}", zvp_core::error::with_sources(&e)))
}

/// Opens a connection the way every zvp store does (`zvp_pg::connect`: bounded, within the
/// connect timeout) and drives it on the current tokio runtime.
async fn connect_one(config: &str) -> Result<Client, StoreError> {
    zvp_pg::connect(config)
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))
}

/// Refuses schema names that are not plain identifiers (they are spliced into SQL).
fn check_schema(schema: &str) -> Result<(), StoreError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(StoreError::Backend(format!(
            "schema name {schema:?}: use lower-case letters, digits and _"
        )))
    }
}

impl PgDirectory {
    /// Connects to `config` (a libpq connection string), creates `schema` if it is missing,
    /// and brings it up to date.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database cannot be reached, the schema name is
    /// unusable, or the schema was migrated by a newer zvp.
    pub async fn connect(config: &str, schema: &str) -> Result<Self, StoreError> {
        check_schema(schema)?;
        let mut admin = connect_one(config).await?;
        migrate(&mut admin, schema).await?;
        let config: Arc<str> = config.into();
        let mut clients = Vec::with_capacity(POOL);
        clients.push(Pooled::new(Arc::clone(&config), admin));
        for _ in 1..POOL {
            clients.push(Pooled::new(
                Arc::clone(&config),
                connect_one(&config).await?,
            ));
        }
        Ok(Self {
            schema: schema.into(),
            clients: Arc::new(clients),
            next: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The schema version a database would have after [`PgDirectory::connect`].
    pub const fn schema_version() -> usize {
        MIGRATIONS.len()
    }

    fn client(&self) -> Result<&Pooled, StoreError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len().max(1);
        self.clients
            .get(n)
            .ok_or_else(|| StoreError::Backend("no connection".to_owned()))
    }

    fn sql(&self, statement: &str) -> String {
        statement.replace("{s}", &self.schema)
    }
}

/// Applies the missing migrations in one transaction, under an advisory lock so that
/// instances starting together migrate once. The lock is the one every zvp store takes before
/// it creates tables in a schema (`hashtext('zvp-schema:' || schema)`: the audit log and the
/// portal's sessions may share the schema), so no two race in `CREATE SCHEMA IF NOT EXISTS`.
async fn migrate(client: &mut Client, schema: &str) -> Result<(), StoreError> {
    zvp_pg::migrate(client, schema, "directory", MIGRATIONS)
        .await
        .map_err(|e| StoreError::Backend(format!("the directory: {e}")))
}

/// Reads a row's fields through the domain types.
struct Fields<'r> {
    row: &'r Row,
    table: &'static str,
    key: String,
}

impl Fields<'_> {
    fn corrupt(&self, detail: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            table: self.table,
            key: self.key.clone(),
            detail: detail.into(),
        }
    }

    fn text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.row
            .try_get::<_, Option<String>>(column)
            .map_err(|e| self.corrupt(format!("{column}: {e}")))
    }

    fn parsed<T: FromStr>(&self, column: &str) -> Result<Option<T>, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        self.text(column)?
            .map(|t| {
                t.parse::<T>()
                    .map_err(|e| self.corrupt(format!("{column}: {e}")))
            })
            .transpose()
    }

    fn required<T: FromStr>(&self, column: &str) -> Result<T, StoreError>
    where
        T::Err: std::fmt::Display,
    {
        self.parsed(column)?
            .ok_or_else(|| self.corrupt(format!("{column}: missing")))
    }

    fn time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.row
            .try_get::<_, Option<DateTime<Utc>>>(column)
            .map_err(|e| self.corrupt(format!("{column}: {e}")))
    }

    fn required_time(&self, column: &str) -> Result<DateTime<Utc>, StoreError> {
        self.time(column)?
            .ok_or_else(|| self.corrupt(format!("{column}: missing")))
    }

    fn code<T: Copy>(&self, column: &str, codes: &[(&str, T)]) -> Result<Option<T>, StoreError> {
        self.text(column)?
            .map(|c| {
                codes
                    .iter()
                    .find(|(code, _)| *code == c)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| self.corrupt(format!("{column}: unknown code {c:?}")))
            })
            .transpose()
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

fn code_of<T: PartialEq>(value: T, codes: &[(&'static str, T)]) -> &'static str {
    codes
        .iter()
        .find(|(_, v)| *v == value)
        .map_or("", |(c, _)| c)
}

/// An account's columns as the statements write them ($1 … $14, in table order).
struct AccountRow {
    uzi: String,
    agb: Option<String>,
    name: String,
    role: String,
    practice_agb: Option<String>,
    status: &'static str,
    created_at: DateTime<Utc>,
    last_login: Option<DateTime<Utc>>,
    accepted_terms: Option<i32>,
    admin: bool,
    practice_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    previous_login: Option<DateTime<Utc>>,
}

impl AccountRow {
    fn of(a: &Account) -> Result<Self, StoreError> {
        Ok(Self {
            uzi: a.uzi.to_string(),
            agb: a.agb.map(|x| x.to_string()),
            name: a.name.clone(),
            role: a.role.to_string(),
            practice_agb: a.practice_agb.map(|x| x.to_string()),
            status: code_of(a.status, &STATUSES),
            created_at: a.created_at,
            last_login: a.last_login,
            accepted_terms: a
                .accepted_terms
                .map(i32::try_from)
                .transpose()
                .map_err(backend)?,
            admin: a.admin,
            practice_name: a.contact.practice_name.clone(),
            email: a.contact.email.clone(),
            phone: a.contact.phone.clone(),
            previous_login: a.previous_login,
        })
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 14] {
        [
            &self.uzi,
            &self.agb,
            &self.name,
            &self.role,
            &self.practice_agb,
            &self.status,
            &self.created_at,
            &self.last_login,
            &self.accepted_terms,
            &self.admin,
            &self.practice_name,
            &self.email,
            &self.phone,
            &self.previous_login,
        ]
    }
}

fn account_from(row: &Row) -> Result<Account, StoreError> {
    let f = Fields {
        row,
        table: "accounts",
        key: row.try_get::<_, String>("uzi").unwrap_or_default(),
    };
    Ok(Account {
        uzi: f.required::<UziNumber>("uzi")?,
        agb: f.parsed::<AgbCode>("agb")?,
        name: f.text("name")?.unwrap_or_default(),
        role: f.required::<RoleCode>("role")?,
        practice_agb: f.parsed::<AgbCode>("practice_agb")?,
        status: f
            .code("status", &STATUSES)?
            .ok_or_else(|| f.corrupt("status: missing"))?,
        created_at: f.required_time("created_at")?,
        last_login: f.time("last_login")?,
        previous_login: f.time("previous_login")?,
        accepted_terms: row
            .try_get::<_, Option<i32>>("accepted_terms")
            .map_err(|e| f.corrupt(format!("accepted_terms: {e}")))?
            .map(|v| u32::try_from(v).map_err(|e| f.corrupt(format!("accepted_terms: {e}"))))
            .transpose()?,
        admin: row
            .try_get::<_, bool>("admin")
            .map_err(|e| f.corrupt(format!("admin: {e}")))?,
        contact: Contact {
            practice_name: f.text("practice_name")?,
            email: f.text("email")?,
            phone: f.text("phone")?,
        },
    })
}

fn delegation_from(row: &Row) -> Result<Delegation, StoreError> {
    let id: i64 = row.try_get("id").unwrap_or_default();
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
        created_by: f.parsed::<UziNumber>("created_by")?,
        revoked_at: f.time("revoked_at")?,
    })
}

fn grant_from(row: &Row) -> Result<EmergencyGrant, StoreError> {
    let id: i64 = row.try_get("id").unwrap_or_default();
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

fn all<T>(rows: &[Row], parse: fn(&Row) -> Result<T, StoreError>) -> Result<Vec<T>, StoreError> {
    rows.iter().map(parse).collect()
}

fn id_of(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(backend)
}

#[async_trait]
impl DirectoryStore for PgDirectory {
    async fn account(&self, uzi: UziNumber) -> Result<Option<Account>, StoreError> {
        let rows = self
            .client()?
            .query(
                &self.sql("SELECT * FROM {s}.accounts WHERE uzi = $1"),
                &[&uzi.to_string()],
            )
            .await?;
        rows.first().map(account_from).transpose()
    }

    async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows = self
            .client()?
            .query(&self.sql("SELECT * FROM {s}.accounts ORDER BY uzi"), &[])
            .await?;
        all(&rows, account_from)
    }

    async fn create_account(&self, a: &Account) -> Result<(), StoreError> {
        let inserted = self
            .client()?
            .execute(
                &self.sql(
                    "INSERT INTO {s}.accounts (uzi, agb, name, role, practice_agb, status,
                        created_at, last_login, accepted_terms, admin, practice_name, email, phone,
                        previous_login)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
                     ON CONFLICT (uzi) DO NOTHING",
                ),
                &AccountRow::of(a)?.params(),
            )
            .await?;
        if inserted == 0 {
            return Err(StoreError::AccountExists(a.uzi));
        }
        Ok(())
    }

    async fn update_account(&self, a: &Account) -> Result<(), StoreError> {
        let changed = self
            .client()?
            .execute(
                &self.sql(
                    "UPDATE {s}.accounts SET agb = $2, name = $3, role = $4, practice_agb = $5,
                        status = $6, created_at = $7, last_login = $8, accepted_terms = $9,
                        admin = $10, practice_name = $11, email = $12, phone = $13,
                        previous_login = $14
                     WHERE uzi = $1",
                ),
                &AccountRow::of(a)?.params(),
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NoSuchAccount(a.uzi));
        }
        Ok(())
    }

    async fn set_status(&self, uzi: UziNumber, status: AccountStatus) -> Result<(), StoreError> {
        let changed = self
            .client()?
            .execute(
                &self.sql("UPDATE {s}.accounts SET status = $2 WHERE uzi = $1"),
                &[&uzi.to_string(), &code_of(status, &STATUSES)],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NoSuchAccount(uzi));
        }
        Ok(())
    }

    async fn record_login(&self, uzi: UziNumber, at: DateTime<Utc>) -> Result<(), StoreError> {
        let changed = self
            .client()?
            .execute(
                &self.sql("UPDATE {s}.accounts SET previous_login = last_login, last_login = $2 WHERE uzi = $1"),
                &[&uzi.to_string(), &at],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NoSuchAccount(uzi));
        }
        Ok(())
    }

    async fn dezi_account(&self, dezi: &DeziNumber) -> Result<Option<UziNumber>, StoreError> {
        let rows = self
            .client()?
            .query(
                &self.sql("SELECT uzi FROM {s}.dezi_links WHERE dezi = $1"),
                &[&dezi.as_str()],
            )
            .await?;
        rows.first()
            .map(|row| {
                let uzi: String = row.get(0);
                uzi.parse().map_err(|e| StoreError::Corrupt {
                    table: "dezi_links",
                    key: dezi.to_string(),
                    detail: format!("uzi: {uzi:?}: {e}"),
                })
            })
            .transpose()
    }

    async fn dezi_of(&self, uzi: UziNumber) -> Result<Option<DeziNumber>, StoreError> {
        let rows = self
            .client()?
            .query(
                &self.sql("SELECT dezi FROM {s}.dezi_links WHERE uzi = $1"),
                &[&uzi.to_string()],
            )
            .await?;
        rows.first()
            .map(|row| {
                let dezi: String = row.get(0);
                dezi.parse().map_err(|e| StoreError::Corrupt {
                    table: "dezi_links",
                    key: uzi.to_string(),
                    detail: format!("dezi: {dezi:?}: {e}"),
                })
            })
            .transpose()
    }

    async fn link_dezi(
        &self,
        uzi: UziNumber,
        dezi: &DeziNumber,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // The unique keys make the link once, whoever else links at the same moment.
        let inserted = self
            .client()?
            .execute(
                &self.sql(
                    "INSERT INTO {s}.dezi_links (uzi, dezi, linked_at)
                     SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM {s}.accounts WHERE uzi = $1)
                     ON CONFLICT DO NOTHING",
                ),
                &[&uzi.to_string(), &dezi.as_str(), &at],
            )
            .await?;
        if inserted == 1 {
            return Ok(());
        }
        if self.account(uzi).await?.is_none() {
            return Err(StoreError::NoSuchAccount(uzi));
        }
        Err(StoreError::DeziLinked {
            uzi,
            dezi: dezi.clone(),
        })
    }

    async fn add_delegation(&self, d: NewDelegation) -> Result<Delegation, StoreError> {
        let new = d.with_id(DelegationId(0));
        let row = self
            .client()?
            .query_one(
                &self.sql(
                    "INSERT INTO {s}.delegations (grantor, grantee, valid_from, valid_until, created_by)
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                ),
                &[
                    &new.grantor.to_string(),
                    &new.grantee.to_string(),
                    &new.from,
                    &new.until,
                    &new.created_by.map(|u| u.to_string()),
                ],
            )
            .await?;
        let id: i64 = row.get(0);
        Ok(Delegation {
            id: DelegationId(u64::try_from(id).map_err(backend)?),
            ..new
        })
    }

    async fn revoke_delegation(
        &self,
        id: DelegationId,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let changed = self
            .client()?
            .execute(
                &self.sql(
                    "UPDATE {s}.delegations SET revoked_at = LEAST(COALESCE(revoked_at, $2), $2)
                     WHERE id = $1",
                ),
                &[&id_of(id.0)?, &at],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NoSuchDelegation(id));
        }
        Ok(())
    }

    async fn delegations_to(&self, grantee: UziNumber) -> Result<Vec<Delegation>, StoreError> {
        let rows = self
            .client()?
            .query(
                &self.sql("SELECT * FROM {s}.delegations WHERE grantee = $1 ORDER BY id"),
                &[&grantee.to_string()],
            )
            .await?;
        all(&rows, delegation_from)
    }

    async fn delegations_from(&self, grantor: AgbCode) -> Result<Vec<Delegation>, StoreError> {
        let rows = self
            .client()?
            .query(
                &self.sql("SELECT * FROM {s}.delegations WHERE grantor = $1 ORDER BY id"),
                &[&grantor.to_string()],
            )
            .await?;
        all(&rows, delegation_from)
    }

    async fn add_grant(&self, g: NewGrant) -> Result<EmergencyGrant, StoreError> {
        let row = self
            .client()?
            .query_one(
                &self.sql(
                    "INSERT INTO {s}.emergency_grants (practitioner, patient, reason_category,
                        reason, granted_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                ),
                &[
                    &g.practitioner.to_string(),
                    &g.patient.as_str(),
                    &g.reason_category.code(),
                    &g.reason,
                    &g.granted_at,
                    &g.expires_at,
                ],
            )
            .await?;
        let id: i64 = row.get(0);
        Ok(EmergencyGrant {
            id: GrantId(u64::try_from(id).map_err(backend)?),
            practitioner: g.practitioner,
            patient: g.patient,
            reason_category: g.reason_category,
            reason: g.reason,
            granted_at: g.granted_at,
            expires_at: g.expires_at,
            verdict: None,
        })
    }

    async fn grants(
        &self,
        practitioner: UziNumber,
        patient: &PatientId,
    ) -> Result<Vec<EmergencyGrant>, StoreError> {
        let rows = self
            .client()?
            .query(
                &self.sql(
                    "SELECT * FROM {s}.emergency_grants WHERE practitioner = $1 AND patient = $2
                     ORDER BY id",
                ),
                &[&practitioner.to_string(), &patient.as_str()],
            )
            .await?;
        all(&rows, grant_from)
    }

    async fn grants_since(&self, since: DateTime<Utc>) -> Result<Vec<EmergencyGrant>, StoreError> {
        let rows = self
            .client()?
            .query(
                &self.sql("SELECT * FROM {s}.emergency_grants WHERE granted_at >= $1 ORDER BY id"),
                &[&since],
            )
            .await?;
        all(&rows, grant_from)
    }

    async fn unreviewed_grants(&self) -> Result<Vec<EmergencyGrant>, StoreError> {
        let rows = self
            .client()?
            .query(
                &self.sql("SELECT * FROM {s}.emergency_grants WHERE verdict IS NULL ORDER BY id"),
                &[],
            )
            .await?;
        all(&rows, grant_from)
    }

    async fn review_grant(&self, id: GrantId, verdict: ReviewVerdict) -> Result<(), StoreError> {
        let changed = self
            .client()?
            .execute(
                &self.sql("UPDATE {s}.emergency_grants SET verdict = $2 WHERE id = $1"),
                &[&id_of(id.0)?, &code_of(verdict, &VERDICTS)],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::NoSuchGrant(id));
        }
        Ok(())
    }
}
