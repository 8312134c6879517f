//! Sessions in PostgreSQL, so that several portal instances behind one load balancer share
//! them: a session opened on one instance continues on the next.
//!
//! The table keeps the SHA-256 of the session id (the cookie), never the id itself, so a copy
//! of the database opens no session. Sessions past their idle or absolute timeout are deleted
//! when a new one starts.
//!
//! The sessions' connection commits asynchronously (`synchronous_commit = off`): a request
//! moves its session on without waiting for a WAL flush. What a crash of the database can
//! lose is the last fraction of a second of that: a session that started (the card logs in
//! again, without a question), a `last_seen` (the session ends that much earlier), or the
//! deletion of a session that had ended (it is found ended again). Nothing it could lose lets
//! a session continue that should not; the audit log, which must not lose a record, commits
//! synchronously on its own connection.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use crate::{Ended, Session, SessionError, SessionStore, Timeouts};
use zvp_web::{ended, new_session};

/// [`zvp_web::MAX_SESSIONS_PER_CERTIFICATE`] as PostgreSQL's `OFFSET` takes it.
const PER_CERTIFICATE: i64 = zvp_web::MAX_SESSIONS_PER_CERTIFICATE as i64;

/// A [`SessionStore`] in a PostgreSQL schema.
#[derive(Debug, Clone)]
pub struct PgSessions {
    config: Arc<str>,
    live: Arc<zvp_pg::Reconnecting<Live, SessionError>>,
    schema: Arc<str>,
    timeouts: Timeouts,
}

/// The sessions' connection and its prepared statement. A connection that has ended
/// (PostgreSQL restarted, the backend terminated, a failover) is made again by the next
/// request, so sessions come back without restarting the portal.
#[derive(Debug)]
struct Live {
    client: Client,
    /// Moves a session that continues on, and hands its CSRF token back: the one statement of
    /// an ordinary request (prepared once, so one round trip).
    touch: tokio_postgres::Statement,
}

impl Live {
    /// Readies a connection to the sessions of `schema` (whose table exists).
    async fn new(client: Client, schema: &str) -> Result<Self, SessionError> {
        client
            .batch_execute("SET synchronous_commit = off")
            .await
            .map_err(db)?;
        // The conditions are those of `ended`: the same certificate, within both timeouts.
        let touch = client
            .prepare(&format!(
                "UPDATE {schema}.sessions SET last_seen = GREATEST(last_seen, $2)
                 WHERE id_sha256 = $1 AND certificate = $3 AND started > $4 AND last_seen > $5
                 RETURNING csrf"
            ))
            .await
            .map_err(db)?;
        Ok(Self { client, touch })
    }
}

impl zvp_pg::HoldsClient for Live {
    fn client(&self) -> &Client {
        &self.client
    }
}

/// Opens a connection the way every zvp store does (`zvp_pg::connect`: bounded, within the
/// connect timeout) and drives it on the current tokio runtime.
async fn connect(config: &str) -> Result<Client, SessionError> {
    zvp_pg::connect(config)
        .await
        .map_err(|e| SessionError(e.to_string()))
}

fn db(e: impl std::error::Error) -> SessionError {
    SessionError(format!("postgresql: {}", zvp_core::error::with_sources(&e)))
}

fn hash(id: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, id.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl PgSessions {
    /// Connects, and creates the sessions table in `schema` if it is missing. `timeouts` are
    /// the portal's, for deleting sessions that have ended.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the database cannot be reached or the schema name is unusable.
    pub async fn connect(
        config: &str,
        schema: &str,
        timeouts: Timeouts,
    ) -> Result<Self, SessionError> {
        let plain = !schema.is_empty()
            && schema.len() <= 63
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !schema.starts_with(|c: char| c.is_ascii_digit());
        if !plain {
            return Err(SessionError(format!(
                "schema name {schema:?}: use lower-case letters, digits and _"
            )));
        }
        let mut client = connect(config).await?;
        let tx = client.transaction().await.map_err(db)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1))",
            &[&format!("zvp-schema:{schema}")],
        )
        .await
        .map_err(db)?;
        tx.batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {schema}.sessions (
                 id_sha256 TEXT PRIMARY KEY,
                 certificate TEXT NOT NULL,
                 csrf TEXT NOT NULL,
                 started TIMESTAMPTZ NOT NULL,
                 last_seen TIMESTAMPTZ NOT NULL);
             CREATE INDEX IF NOT EXISTS sessions_by_last_seen ON {schema}.sessions (last_seen);
             CREATE INDEX IF NOT EXISTS sessions_by_certificate
                 ON {schema}.sessions (certificate, last_seen);"
        ))
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Self {
            config: config.into(),
            live: Arc::new(zvp_pg::Reconnecting::new(Live::new(client, schema).await?)),
            schema: schema.into(),
            timeouts,
        })
    }

    /// The connection, made again if it has ended.
    async fn live(&self) -> Result<Arc<Live>, SessionError> {
        self.live
            .get(|| async {
                // The connection and its first statements, together within the limit.
                let lost = |e: zvp_pg::ConnectError| SessionError(e.to_string());
                let limit = zvp_pg::connect_limit(&zvp_pg::bounded(&self.config).map_err(lost)?);
                zvp_pg::within(limit, async {
                    Live::new(connect(&self.config).await?, &self.schema).await
                })
                .await
                .unwrap_or_else(|| Err(lost(zvp_pg::ConnectError::TimedOut)))
            })
            .await
    }
}

#[async_trait]
impl SessionStore for PgSessions {
    async fn resume(
        &self,
        cookie: Option<&str>,
        certificate: &str,
        now: DateTime<Utc>,
        timeouts: Timeouts,
    ) -> Result<Result<(Session, Option<String>), Ended>, SessionError> {
        let Some(id) = cookie else {
            let (session, cookie) = self.start(certificate, now).await?;
            return Ok(Ok((session, Some(cookie))));
        };
        let schema = &self.schema;
        let key = hash(id);
        let live = self.live().await?;
        // An ordinary request: the session continues; one statement moves it on.
        let touched = live
            .client
            .query_opt(
                &live.touch,
                &[
                    &key,
                    &now,
                    &certificate,
                    &(now - timeouts.absolute),
                    &(now - timeouts.idle),
                ],
            )
            .await
            .map_err(db)?;
        if let Some(row) = touched {
            let csrf: String = row.get(0);
            return Ok(Ok((Session::new(csrf.into(), false), None)));
        }
        // Otherwise find out why it does not continue (or, if another instance moved it on in
        // between, continue after all).
        let row = live
            .client
            .query_opt(
                &format!("SELECT certificate, csrf, started, last_seen FROM {schema}.sessions WHERE id_sha256 = $1"),
                &[&key],
            )
            .await
            .map_err(db)?;
        let Some(row) = row else {
            return Ok(Err(Ended::Unknown));
        };
        let stored_certificate: String = row.get(0);
        let csrf: String = row.get(1);
        let started: DateTime<Utc> = row.get(2);
        let last_seen: DateTime<Utc> = row.get(3);
        if let Some(end) = ended(
            stored_certificate == certificate,
            started,
            last_seen,
            now,
            timeouts,
        ) {
            live.client
                .execute(
                    &format!("DELETE FROM {schema}.sessions WHERE id_sha256 = $1"),
                    &[&key],
                )
                .await
                .map_err(db)?;
            return Ok(Err(end));
        }
        live.client
            .execute(
                &format!("UPDATE {schema}.sessions SET last_seen = GREATEST(last_seen, $2) WHERE id_sha256 = $1"),
                &[&key, &now],
            )
            .await
            .map_err(db)?;
        Ok(Ok((Session::new(csrf.into(), false), None)))
    }

    async fn start(
        &self,
        certificate: &str,
        now: DateTime<Utc>,
    ) -> Result<(Session, String), SessionError> {
        let schema = &self.schema;
        let (id, csrf) = new_session()?;
        let live = self.live().await?;
        // Sessions that have ended go when new ones start.
        live.client
            .execute(
                &format!("DELETE FROM {schema}.sessions WHERE last_seen < $1 OR started < $2"),
                &[&(now - self.timeouts.idle), &(now - self.timeouts.absolute)],
            )
            .await
            .map_err(db)?;
        live.client
            .execute(
                &format!(
                    "INSERT INTO {schema}.sessions (id_sha256, certificate, csrf, started, last_seen)
                     VALUES ($1, $2, $3, $4, $4)"
                ),
                &[&hash(&id), &certificate, &csrf.as_ref(), &now],
            )
            .await
            .map_err(db)?;
        // At most MAX_SESSIONS_PER_CERTIFICATE per card: its least recently used go.
        live.client
            .execute(
                &format!(
                    "DELETE FROM {schema}.sessions WHERE id_sha256 IN (
                         SELECT id_sha256 FROM {schema}.sessions WHERE certificate = $1
                         ORDER BY last_seen DESC OFFSET $2)"
                ),
                &[&certificate, &PER_CERTIFICATE],
            )
            .await
            .map_err(db)?;
        Ok((Session::new(csrf, true), id))
    }

    async fn end(&self, cookie: &str) -> Result<(), SessionError> {
        let live = self.live().await?;
        live.client
            .execute(
                &format!("DELETE FROM {}.sessions WHERE id_sha256 = $1", self.schema),
                &[&hash(cookie)],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn count(&self) -> Result<u64, SessionError> {
        let row = self
            .live()
            .await?
            .client
            .query_one(
                &format!("SELECT count(*) FROM {}.sessions", self.schema),
                &[],
            )
            .await
            .map_err(db)?;
        u64::try_from(row.get::<_, i64>(0)).map_err(db)
    }
}
