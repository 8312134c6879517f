//! The mail part of the PostgreSQL store: preferences, digests and the queue, each one
//! statement (queueing a digest and moving the account past its events together).

use chrono::{DateTime, Utc};
use zvp_core::UziNumber;

use super::StoreError;
use super::pg::{PgNotifyStore, backend, corrupt, limit_param};
use crate::event::EventKind;
use crate::mail::{
    DigestState, EmailAddress, MailPreferences, NewMail, OutMail, OutboxState, Queued, counts_text,
    parse_counts,
};

impl PgNotifyStore {
    pub(super) async fn mail_preferences(
        &self,
        account: UziNumber,
    ) -> Result<Option<MailPreferences>, StoreError> {
        let key = account.to_string();
        let rows = self
            .query(
                "SELECT address, kinds FROM {s}.notify_preferences WHERE account = $1",
                &[&key],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let address: String = row.try_get("address").map_err(backend)?;
        let kinds: String = row.try_get("kinds").map_err(backend)?;
        Ok(Some(MailPreferences {
            address: address
                .parse::<EmailAddress>()
                .map_err(|e| corrupt(&key, e))?,
            kinds: kinds
                .split(',')
                .filter(|k| !k.is_empty())
                .map(|k| k.parse::<EventKind>().map_err(|e| corrupt(&key, e)))
                .collect::<Result<_, _>>()?,
        }))
    }

    pub(super) async fn set_mail_preferences(
        &self,
        account: UziNumber,
        preferences: Option<&MailPreferences>,
    ) -> Result<(), StoreError> {
        let key = account.to_string();
        self.query(
            "INSERT INTO {s}.notify_digests (account, upto, last)
             SELECT $1, COALESCE((SELECT max(seq) FROM {s}.notify_events), 0), NULL
             ON CONFLICT (account) DO NOTHING",
            &[&key],
        )
        .await?;
        match preferences {
            Some(p) => {
                let kinds: Vec<&str> = p.kinds.iter().map(|k| k.code()).collect();
                self.query(
                    "INSERT INTO {s}.notify_preferences (account, address, kinds)
                     VALUES ($1, $2, $3)
                     ON CONFLICT (account) DO UPDATE SET address = $2, kinds = $3",
                    &[&key, &p.address.to_string(), &kinds.join(",")],
                )
                .await?;
            }
            None => {
                self.query(
                    "DELETE FROM {s}.notify_preferences WHERE account = $1",
                    &[&key],
                )
                .await?;
            }
        }
        Ok(())
    }

    pub(super) async fn mail_digest_state(
        &self,
        account: UziNumber,
    ) -> Result<DigestState, StoreError> {
        let rows = self
            .query(
                "SELECT upto, last FROM {s}.notify_digests WHERE account = $1",
                &[&account.to_string()],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(DigestState::default());
        };
        let upto: i64 = row.try_get("upto").map_err(backend)?;
        Ok(DigestState {
            upto: u64::try_from(upto).map_err(backend)?,
            last: row.try_get("last").map_err(backend)?,
        })
    }

    pub(super) async fn mail_digest(
        &self,
        account: UziNumber,
        upto: u64,
        at: DateTime<Utc>,
        mail: Option<&NewMail>,
        max_pending: usize,
    ) -> Result<Queued, StoreError> {
        let address = mail.map(|m| m.address.to_string());
        let counts = mail.map(|m| counts_text(&m.counts));
        let rows = self
            .query(
                "WITH pending AS (
                     SELECT count(*) AS n FROM {s}.notify_outbox WHERE done_at IS NULL),
                 ok AS (SELECT ($4::text IS NULL OR (SELECT n FROM pending) < $6) AS go),
                 moved AS (
                     INSERT INTO {s}.notify_digests (account, upto, last)
                     SELECT $1, $2, CASE WHEN $4::text IS NULL THEN NULL ELSE $3::timestamptz END
                     FROM ok WHERE go
                     ON CONFLICT (account) DO UPDATE
                     SET upto = GREATEST({s}.notify_digests.upto, EXCLUDED.upto),
                         last = COALESCE(EXCLUDED.last, {s}.notify_digests.last)
                     RETURNING 1),
                 queued AS (
                     INSERT INTO {s}.notify_outbox (account, address, counts, created_at, due_at)
                     SELECT $1, $4, $5, $3::timestamptz, $3::timestamptz FROM ok WHERE go AND $4::text IS NOT NULL
                     RETURNING id)
                 SELECT (SELECT go FROM ok) AS go, (SELECT id FROM queued) AS id",
                &[
                    &account.to_string(),
                    &i64::try_from(upto).map_err(backend)?,
                    &at,
                    &address,
                    &counts,
                    &limit_param(max_pending),
                ],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Backend("digest returned no row".to_owned()))?;
        let go: bool = row.try_get("go").map_err(backend)?;
        let id: Option<i64> = row.try_get("id").map_err(backend)?;
        Ok(match (go, id) {
            (false, _) => Queued::Full,
            (true, Some(id)) => Queued::Mail(u64::try_from(id).map_err(backend)?),
            (true, None) => Queued::Nothing,
        })
    }

    pub(super) async fn mail_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutMail>, StoreError> {
        let rows = self
            .query(
                "SELECT id, account, address, counts, created_at, attempts, due_at, last_error
                 FROM {s}.notify_outbox WHERE done_at IS NULL AND due_at <= $1
                 ORDER BY id LIMIT $2",
                &[&now, &limit_param(limit)],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let id: i64 = row.try_get("id").map_err(backend)?;
                let key = format!("mail {id}");
                let account: String = row.try_get("account").map_err(backend)?;
                let address: String = row.try_get("address").map_err(backend)?;
                let counts: String = row.try_get("counts").map_err(backend)?;
                let attempts: i32 = row.try_get("attempts").map_err(backend)?;
                Ok(OutMail {
                    id: u64::try_from(id).map_err(|e| corrupt(&key, e))?,
                    mail: NewMail {
                        account: account.parse().map_err(|e| corrupt(&key, e))?,
                        address: address.parse().map_err(|e| corrupt(&key, e))?,
                        counts: parse_counts(&counts).map_err(|e| corrupt(&key, e))?,
                    },
                    created_at: row.try_get("created_at").map_err(backend)?,
                    attempts: u32::try_from(attempts).map_err(|e| corrupt(&key, e))?,
                    due_at: row.try_get("due_at").map_err(backend)?,
                    last_error: row.try_get("last_error").map_err(backend)?,
                })
            })
            .collect()
    }

    pub(super) async fn mail_finished(
        &self,
        id: u64,
        at: DateTime<Utc>,
        sent: bool,
    ) -> Result<(), StoreError> {
        self.query(
            "UPDATE {s}.notify_outbox SET done_at = $2, sent = $3
             WHERE id = $1 AND done_at IS NULL",
            &[&i64::try_from(id).map_err(backend)?, &at, &sent],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn mail_retry(
        &self,
        id: u64,
        attempts: u32,
        due_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.query(
            "UPDATE {s}.notify_outbox SET attempts = $2, due_at = $3, last_error = $4
             WHERE id = $1 AND done_at IS NULL",
            &[
                &i64::try_from(id).map_err(backend)?,
                &i32::try_from(attempts).unwrap_or(i32::MAX),
                &due_at,
                &error,
            ],
        )
        .await?;
        Ok(())
    }

    pub(super) async fn mail_outbox(&self) -> Result<OutboxState, StoreError> {
        let rows = self
            .query(
                "SELECT count(*) FILTER (WHERE done_at IS NULL) AS pending,
                        count(*) FILTER (WHERE done_at IS NULL AND attempts > 0) AS failing,
                        min(created_at) FILTER (WHERE done_at IS NULL) AS oldest,
                        count(*) FILTER (WHERE sent) AS sent,
                        (SELECT last_error FROM {s}.notify_outbox
                         WHERE done_at IS NULL AND last_error IS NOT NULL
                         ORDER BY id DESC LIMIT 1) AS last_error
                 FROM {s}.notify_outbox",
                &[],
            )
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Backend("outbox returned no row".to_owned()))?;
        let count = |column: &str| -> Result<u64, StoreError> {
            let n: i64 = row.try_get(column).map_err(backend)?;
            u64::try_from(n).map_err(backend)
        };
        Ok(OutboxState {
            pending: count("pending")?,
            failing: count("failing")?,
            oldest: row.try_get("oldest").map_err(backend)?,
            last_error: row.try_get("last_error").map_err(backend)?,
            sent: count("sent")?,
        })
    }
}
