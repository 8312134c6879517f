//! The store in PostgreSQL (feature `postgres`), shared by several portal instances.
//!
//! Every operation is one statement. The lease is a row that an `INSERT … ON CONFLICT DO
//! UPDATE … WHERE` takes only when it is free, run out or the taker's own; recording checks
//! the lease (`FOR UPDATE`), inserts the events (`ON CONFLICT (key) DO NOTHING`) and moves
//! the last poll, in one statement, so an instance whose lease ran out records nothing and a
//! key is never recorded twice. Times are the callers' (`now` is a parameter), not the
//! database's.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row};
use zvp_core::UziNumber;

use super::{Coverage, NotifyStore, StoreError};
use crate::event::{Event, EventKey, EventKind, Recorded, Seen};
use crate::mail::{DigestState, MailPreferences, NewMail, OutMail, OutboxState, Queued};

/// The schema, one migration per entry; `zvp_notify_version` counts those applied.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE notify_lease (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        until TIMESTAMPTZ NOT NULL);
    CREATE TABLE notify_polls (
        name TEXT PRIMARY KEY,
        last_poll TIMESTAMPTZ NOT NULL);
    CREATE TABLE notify_events (
        seq BIGSERIAL PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        patient TEXT NOT NULL,
        gp TEXT NOT NULL,
        at TIMESTAMPTZ NOT NULL,
        recorded_at TIMESTAMPTZ NOT NULL);
    CREATE INDEX notify_events_by_gp ON notify_events (gp, at);
    CREATE TABLE notify_read (
        reader TEXT NOT NULL,
        seq BIGINT NOT NULL REFERENCES notify_events (seq),
        at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (reader, seq));
",
    "
    CREATE TABLE notify_preferences (
        account TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        kinds TEXT NOT NULL);
    CREATE TABLE notify_digests (
        account TEXT PRIMARY KEY,
        upto BIGINT NOT NULL,
        last TIMESTAMPTZ);
    CREATE TABLE notify_outbox (
        id BIGSERIAL PRIMARY KEY,
        account TEXT NOT NULL,
        address TEXT NOT NULL,
        counts TEXT NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        due_at TIMESTAMPTZ NOT NULL,
        last_error TEXT,
        done_at TIMESTAMPTZ,
        sent BOOLEAN);
    CREATE INDEX notify_outbox_waiting ON notify_outbox (due_at) WHERE done_at IS NULL;
",
];

/// The name of the one lease (and poll row): the poller's.
const POLLER: &str = "poller";

pub(super) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A [`NotifyStore`] in a PostgreSQL schema.
#[derive(Debug, Clone)]
pub struct PgNotifyStore {
    schema: Arc<str>,
    config: Arc<str>,
    live: Arc<zvp_pg::Reconnecting<Client, String>>,
}

pub(super) fn backend(e: impl std::error::Error) -> StoreError {
    StoreError::Backend(format!("postgresql: {}", zvp_core::error::with_sources(&e)))
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

impl PgNotifyStore {
    /// Connects to `config` (a libpq connection string), creates `schema` if it is missing,
    /// and brings it up to date.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database cannot be reached, the schema name is
    /// unusable, or the schema was migrated by a newer zvp.
    pub async fn connect(config: &str, schema: &str) -> Result<Self, StoreError> {
        check_schema(schema)?;
        let mut client = zvp_pg::connect(config)
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        migrate(&mut client, schema).await?;
        Ok(Self {
            schema: schema.into(),
            config: config.into(),
            live: Arc::new(zvp_pg::Reconnecting::new(client)),
        })
    }

    async fn client(&self) -> Result<Arc<Client>, StoreError> {
        self.live
            .get(|| async {
                zvp_pg::connect(&self.config)
                    .await
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(StoreError::Backend)
    }

    pub(super) async fn query(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> Result<Vec<Row>, StoreError> {
        let sql = sql.replace("{s}", &self.schema);
        self.client()
            .await?
            .query(&sql, params)
            .await
            .map_err(backend)
    }
}

/// Applies the missing migrations in one transaction, under the advisory lock every zvp store
/// takes before it creates tables in a schema.
async fn migrate(client: &mut Client, schema: &str) -> Result<(), StoreError> {
    zvp_pg::migrate(client, schema, "notify", MIGRATIONS)
        .await
        .map_err(|e| StoreError::Backend(format!("the notification store: {e}")))
}

pub(super) fn corrupt(key: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        key: key.to_owned(),
        detail: detail.to_string(),
    }
}

/// An event row (`seq, key, kind, patient, gp, at, recorded_at`), read through the types.
fn recorded(row: &Row) -> Result<Recorded, StoreError> {
    let key: String = row.try_get("key").map_err(backend)?;
    let seq: i64 = row.try_get("seq").map_err(|e| corrupt(&key, e))?;
    let kind: String = row.try_get("kind").map_err(|e| corrupt(&key, e))?;
    let patient: String = row.try_get("patient").map_err(|e| corrupt(&key, e))?;
    let gp: String = row.try_get("gp").map_err(|e| corrupt(&key, e))?;
    Ok(Recorded {
        seq: u64::try_from(seq).map_err(|e| corrupt(&key, e))?,
        event: Event {
            kind: kind.parse::<EventKind>().map_err(|e| corrupt(&key, e))?,
            patient: patient.parse().map_err(|e| corrupt(&key, e))?,
            gp: gp.parse().map_err(|e| corrupt(&key, e))?,
            at: row.try_get("at").map_err(|e| corrupt(&key, e))?,
            key: EventKey::stored(key.clone()),
        },
        recorded_at: row.try_get("recorded_at").map_err(|e| corrupt(&key, e))?,
    })
}

/// The count `n` of a statement's one row (none: 0).
fn count(rows: &[Row]) -> Result<u64, StoreError> {
    let n: i64 = rows
        .first()
        .map(|r| r.try_get("n").map_err(backend))
        .transpose()?
        .unwrap_or(0);
    u64::try_from(n).map_err(backend)
}

fn seq_param(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::NoSuchEvent(seq))
}

pub(super) fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The coverage as three arrays for `unnest`.
type CoverageArrays = (
    Vec<String>,
    Vec<Option<DateTime<Utc>>>,
    Vec<Option<DateTime<Utc>>>,
);

fn coverage_arrays(coverage: &[Coverage]) -> CoverageArrays {
    (
        coverage.iter().map(|c| c.gp.to_string()).collect(),
        coverage.iter().map(|c| c.from).collect(),
        coverage.iter().map(|c| c.until).collect(),
    )
}

/// The condition that an event `e` is covered by the arrays `$2`, `$3`, `$4`.
const COVERED: &str = "EXISTS (SELECT 1 FROM unnest($2::text[], $3::timestamptz[],
        $4::timestamptz[]) AS c(gp, f, u)
    WHERE c.gp = e.gp AND (c.f IS NULL OR e.at >= c.f) AND (c.u IS NULL OR e.at < c.u))";

#[async_trait]
impl NotifyStore for PgNotifyStore {
    async fn acquire(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let rows = self
            .query(
                "INSERT INTO {s}.notify_lease (name, holder, until) VALUES ($1, $2, $4)
                 ON CONFLICT (name) DO UPDATE SET holder = $2, until = $4
                 WHERE {s}.notify_lease.holder = $2 OR {s}.notify_lease.until <= $3
                 RETURNING holder",
                &[&POLLER, &holder, &now, &until],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn release(&self, holder: &str) -> Result<(), StoreError> {
        self.query(
            "DELETE FROM {s}.notify_lease WHERE name = $1 AND holder = $2",
            &[&POLLER, &holder],
        )
        .await?;
        Ok(())
    }

    async fn last_poll(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let rows = self
            .query(
                "SELECT last_poll FROM {s}.notify_polls WHERE name = $1",
                &[&POLLER],
            )
            .await?;
        rows.first()
            .map(|r| r.try_get("last_poll").map_err(backend))
            .transpose()
    }

    async fn record(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        events: &[Event],
        polled_at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let keys: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.code()).collect();
        let patients: Vec<&str> = events.iter().map(|e| e.patient.as_str()).collect();
        let gps: Vec<String> = events.iter().map(|e| e.gp.to_string()).collect();
        let ats: Vec<DateTime<Utc>> = events.iter().map(|e| e.at).collect();
        let rows = self
            .query(
                "WITH lease AS (
                     SELECT 1 FROM {s}.notify_lease
                     WHERE name = $1 AND holder = $2 AND until > $3 FOR UPDATE),
                 new AS (
                     INSERT INTO {s}.notify_events (key, kind, patient, gp, at, recorded_at)
                     SELECT k, ki, p, g, a, $3
                     FROM unnest($4::text[], $5::text[], $6::text[], $7::text[],
                                 $8::timestamptz[]) WITH ORDINALITY AS u(k, ki, p, g, a, n)
                     WHERE EXISTS (SELECT 1 FROM lease)
                     ORDER BY n
                     ON CONFLICT (key) DO NOTHING
                     RETURNING 1),
                 polled AS (
                     INSERT INTO {s}.notify_polls (name, last_poll)
                     SELECT $1, $9 WHERE EXISTS (SELECT 1 FROM lease)
                     ON CONFLICT (name) DO UPDATE
                     SET last_poll = GREATEST({s}.notify_polls.last_poll, EXCLUDED.last_poll)
                     RETURNING 1)
                 SELECT (SELECT count(*) FROM lease) AS held,
                        (SELECT count(*) FROM new) AS new,
                        (SELECT count(*) FROM polled) AS polled",
                &[
                    &POLLER, &holder, &now, &keys, &kinds, &patients, &gps, &ats, &polled_at,
                ],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Backend("record returned no row".to_owned()))?;
        let held: i64 = row.try_get("held").map_err(backend)?;
        if held == 0 {
            return Err(StoreError::LeaseLost);
        }
        let new: i64 = row.try_get("new").map_err(backend)?;
        usize::try_from(new).map_err(backend)
    }

    async fn prune(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let rows = self
            .query(
                "WITH old AS (SELECT seq FROM {s}.notify_events WHERE at < $1),
                 read AS (DELETE FROM {s}.notify_read WHERE seq IN (SELECT seq FROM old)),
                 gone AS (DELETE FROM {s}.notify_events WHERE seq IN (SELECT seq FROM old)
                          RETURNING 1)
                 SELECT count(*) AS n FROM gone",
                &[&before],
            )
            .await?;
        count(&rows)
    }

    async fn events(
        &self,
        coverage: &[Coverage],
        reader: UziNumber,
        limit: usize,
    ) -> Result<Vec<Seen>, StoreError> {
        let (gps, froms, untils) = coverage_arrays(coverage);
        let rows = self
            .query(
                &format!(
                    "SELECT e.seq, e.key, e.kind, e.patient, e.gp, e.at, e.recorded_at,
                            r.at AS read_at
                     FROM {{s}}.notify_events e
                     LEFT JOIN {{s}}.notify_read r ON r.reader = $1 AND r.seq = e.seq
                     WHERE {COVERED}
                     ORDER BY e.at DESC, e.seq DESC LIMIT $5"
                ),
                &[
                    &reader.to_string(),
                    &gps,
                    &froms,
                    &untils,
                    &limit_param(limit),
                ],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Seen {
                    recorded: recorded(row)?,
                    read_at: row.try_get("read_at").map_err(backend)?,
                })
            })
            .collect()
    }

    async fn unread(&self, coverage: &[Coverage], reader: UziNumber) -> Result<u64, StoreError> {
        let (gps, froms, untils) = coverage_arrays(coverage);
        let rows = self
            .query(
                &format!(
                    "SELECT count(*) AS n FROM {{s}}.notify_events e
                     WHERE {COVERED} AND NOT EXISTS (
                         SELECT 1 FROM {{s}}.notify_read r WHERE r.reader = $1 AND r.seq = e.seq)"
                ),
                &[&reader.to_string(), &gps, &froms, &untils],
            )
            .await?;
        count(&rows)
    }

    async fn event(&self, seq: u64) -> Result<Option<Recorded>, StoreError> {
        let rows = self
            .query(
                "SELECT seq, key, kind, patient, gp, at, recorded_at
                 FROM {s}.notify_events WHERE seq = $1",
                &[&seq_param(seq)?],
            )
            .await?;
        rows.first().map(recorded).transpose()
    }

    async fn mark_read(
        &self,
        reader: UziNumber,
        seq: u64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let rows = self
            .query(
                "WITH e AS (SELECT seq FROM {s}.notify_events WHERE seq = $2),
                 ins AS (
                     INSERT INTO {s}.notify_read (reader, seq, at)
                     SELECT $1, seq, $3 FROM e
                     ON CONFLICT (reader, seq) DO NOTHING)
                 SELECT count(*) AS n FROM e",
                &[&reader.to_string(), &seq_param(seq)?, &at],
            )
            .await?;
        let n = count(&rows)?;
        if n == 0 {
            return Err(StoreError::NoSuchEvent(seq));
        }
        Ok(())
    }

    async fn after(&self, seq: u64, limit: usize) -> Result<Vec<Recorded>, StoreError> {
        let rows = self
            .query(
                "SELECT seq, key, kind, patient, gp, at, recorded_at
                 FROM {s}.notify_events WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&seq_param(seq)?, &limit_param(limit)],
            )
            .await?;
        rows.iter().map(recorded).collect()
    }

    async fn preferences(&self, account: UziNumber) -> Result<Option<MailPreferences>, StoreError> {
        self.mail_preferences(account).await
    }

    async fn set_preferences(
        &self,
        account: UziNumber,
        preferences: Option<&MailPreferences>,
    ) -> Result<(), StoreError> {
        self.set_mail_preferences(account, preferences).await
    }

    async fn digest_state(&self, account: UziNumber) -> Result<DigestState, StoreError> {
        self.mail_digest_state(account).await
    }

    async fn digest(
        &self,
        account: UziNumber,
        upto: u64,
        at: DateTime<Utc>,
        mail: Option<&NewMail>,
        max_pending: usize,
    ) -> Result<Queued, StoreError> {
        self.mail_digest(account, upto, at, mail, max_pending).await
    }

    async fn due_mails(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutMail>, StoreError> {
        self.mail_due(now, limit).await
    }

    async fn mail_done(&self, id: u64, at: DateTime<Utc>, sent: bool) -> Result<(), StoreError> {
        self.mail_finished(id, at, sent).await
    }

    async fn mail_failed(
        &self,
        id: u64,
        attempts: u32,
        due_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.mail_retry(id, attempts, due_at, error).await
    }

    async fn outbox(&self) -> Result<OutboxState, StoreError> {
        self.mail_outbox().await
    }
}
