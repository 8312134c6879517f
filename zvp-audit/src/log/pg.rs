//! The audit log in PostgreSQL (feature `postgres`), for several portal instances sharing one
//! log.
//!
//! # How the sequence and the chain stay consistent with several writers
//!
//! One row, `audit_head (next_seq, chain)`, holds the log's head. Every append batch is one
//! statement, and so one transaction committed with `synchronous_commit = on`: it moves the
//! head from the `(next_seq, chain)` this instance last saw *and* inserts the batch's records
//! numbered and chained from there — both or neither (`WITH moved AS (UPDATE … WHERE
//! next_seq = <seen>) INSERT … WHERE EXISTS (SELECT 1 FROM moved)`). If another instance moved
//! the head first, the row lock makes this statement wait for that commit and then match
//! nothing; the instance reads the new head and chains its batch again. So records are
//! numbered without gaps and chained in commit order, whichever instance wrote them, with one
//! round trip per batch. Within an instance, appends waiting at the same moment share one
//! batch (group commit).
//!
//! Checkpoints are signed inside the same lock, over the records committed so far, after
//! checking that the tree extends the last stored checkpoint.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, NoTls};

use super::record::{CHAIN_START, Record, chain_next, leaf_of};
use super::scan::{ChainCheck, check_checkpoints};
use super::{LogError, MAX_EVENT_LEN, Receipt, VerifyError, VerifyReport};
use crate::checkpoint::{Checkpoint, CheckpointSigner, CheckpointVerifier};
use crate::event::AuditEvent;
use crate::merkle::{self, Hash};

fn db(e: impl std::fmt::Display) -> LogError {
    LogError::Io(format!("postgresql: {e}"))
}

/// The most appends in one transaction.
const MAX_BATCH: usize = 1024;

/// A waiting append.
struct Request {
    event: Vec<u8>,
    reply: oneshot::Sender<Result<Receipt, LogError>>,
}

/// The audit log in a PostgreSQL schema.
#[derive(Debug)]
pub struct PgLog {
    config: String,
    schema: String,
    reader: Arc<Client>,
    sender: mpsc::UnboundedSender<Request>,
}

/// Opens a connection and drives it on the current tokio runtime.
async fn connect(config: &str) -> Result<Client, LogError> {
    let (client, connection) = tokio_postgres::connect(config, NoTls).await.map_err(db)?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped; an error then is of no use.
        let _ = connection.await;
    });
    Ok(client)
}

/// Refuses schema names that are not plain identifiers (they are spliced into SQL).
fn check_schema(schema: &str) -> Result<(), LogError> {
    let ok = !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(LogError::Io(format!(
            "schema name {schema:?}: use lower-case letters, digits and _"
        )))
    }
}

impl PgLog {
    /// Connects to the database `config` (a libpq connection string), creates the log's
    /// tables in `schema` if they are missing, and starts this instance's writer.
    ///
    /// # Errors
    ///
    /// [`LogError::Io`] when the database cannot be reached or the schema name is unusable.
    pub async fn connect(config: &str, schema: &str) -> Result<Self, LogError> {
        check_schema(schema)?;
        let reader = connect(config).await?;
        reader
            .batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS {schema};
                 CREATE TABLE IF NOT EXISTS {schema}.audit_head (
                     id INTEGER PRIMARY KEY CHECK (id = 1),
                     next_seq BIGINT NOT NULL,
                     chain BYTEA NOT NULL);
                 INSERT INTO {schema}.audit_head VALUES (1, 0, '\\x{start}') ON CONFLICT DO NOTHING;
                 CREATE TABLE IF NOT EXISTS {schema}.audit_records (
                     seq BIGINT PRIMARY KEY,
                     salt BYTEA NOT NULL,
                     chain BYTEA NOT NULL,
                     event BYTEA NOT NULL);
                 CREATE TABLE IF NOT EXISTS {schema}.audit_checkpoints (
                     id BIGSERIAL PRIMARY KEY,
                     note TEXT NOT NULL);",
                start = hex(&CHAIN_START),
            ))
            .await
            .map_err(db)?;
        let writer = connect(config).await?;
        writer
            .batch_execute("SET synchronous_commit = on")
            .await
            .map_err(db)?;
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(writer, schema.to_owned(), receiver));
        Ok(Self {
            config: config.to_owned(),
            schema: schema.to_owned(),
            reader: Arc::new(reader),
            sender,
        })
    }

    /// Appends an event; returns when its transaction has committed.
    ///
    /// # Errors
    ///
    /// [`LogError::Event`], [`LogError::Io`], [`LogError::Stopped`].
    pub async fn append(&self, event: &AuditEvent) -> Result<Receipt, LogError> {
        let event = serde_json::to_vec(event).map_err(|e| LogError::Event(e.to_string()))?;
        if event.len() > MAX_EVENT_LEN {
            return Err(LogError::Event(format!(
                "{} bytes, at most {MAX_EVENT_LEN}",
                event.len()
            )));
        }
        let (reply, receiver) = oneshot::channel();
        self.sender
            .send(Request { event, reply })
            .map_err(|_| LogError::Stopped)?;
        receiver.await.map_err(|_| LogError::Stopped)?
    }

    /// The number of committed records (by every instance).
    ///
    /// # Errors
    ///
    /// [`LogError::Io`].
    pub async fn size(&self) -> Result<u64, LogError> {
        let row = self
            .reader
            .query_one(
                &format!("SELECT next_seq FROM {}.audit_head", self.schema),
                &[],
            )
            .await
            .map_err(db)?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    /// Every committed record's leaf hash, in order, checked as [`verify`] would check them.
    async fn leaves(&self) -> Result<Vec<Hash>, LogError> {
        let (check, _) = read_records(&self.reader, &self.schema, false)
            .await
            .map_err(LogError::Damaged)?;
        Ok(check.leaves)
    }

    /// The inclusion proof of record `seq` in the tree of `size` records.
    ///
    /// # Errors
    ///
    /// [`LogError::Proof`], [`LogError::Damaged`], [`LogError::Io`].
    pub async fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        Ok(merkle::inclusion_proof(
            &self.leaves().await?,
            seq as usize,
            size as usize,
        )?)
    }

    /// The consistency proof between the trees of `first` and `second` records.
    ///
    /// # Errors
    ///
    /// [`LogError::Proof`], [`LogError::Damaged`], [`LogError::Io`].
    pub async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LogError> {
        Ok(merkle::consistency_proof(
            &self.leaves().await?,
            first as usize,
            second as usize,
        )?)
    }

    /// Signs and stores a checkpoint of the records committed so far.
    ///
    /// # Errors
    ///
    /// [`LogError::ShorterThanCheckpoint`] when the records do not extend the last stored
    /// checkpoint; [`LogError::Damaged`]; [`LogError::Io`].
    pub async fn checkpoint(
        &self,
        signer: &CheckpointSigner,
        origin: &str,
    ) -> Result<String, LogError> {
        // A connection of its own: the transaction must not take in other tasks' reads.
        let client = &connect(&self.config).await?;
        client.batch_execute("BEGIN").await.map_err(db)?;
        let result = async {
            // The head lock keeps writers out while the tree is read and signed.
            client
                .query_one(
                    &format!("SELECT next_seq FROM {}.audit_head FOR UPDATE", self.schema),
                    &[],
                )
                .await
                .map_err(db)?;
            let (check, notes) = read_records(client, &self.schema, true)
                .await
                .map_err(LogError::Damaged)?;
            let size = check.leaves.len() as u64;
            if let Some(last) = notes.last() {
                let body = last
                    .split_once("\n\n")
                    .map(|(b, _)| format!("{b}\n"))
                    .unwrap_or_default();
                let previous =
                    Checkpoint::parse_body(&body).map_err(|e| LogError::Io(e.to_string()))?;
                let prefix = check.leaves.get(..previous.size as usize);
                if prefix.map(merkle::root) != Some(previous.root) {
                    return Err(LogError::ShorterThanCheckpoint {
                        records: size,
                        size: previous.size,
                    });
                }
            }
            let note = signer.sign(&Checkpoint {
                origin: origin.to_owned(),
                size,
                root: merkle::root(&check.leaves),
            });
            client
                .execute(
                    &format!(
                        "INSERT INTO {}.audit_checkpoints (note) VALUES ($1)",
                        self.schema
                    ),
                    &[&note],
                )
                .await
                .map_err(db)?;
            Ok(note)
        }
        .await;
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        client.batch_execute(end).await.map_err(db)?;
        result
    }
}

/// Re-reads the whole log in `schema` and checks every record and checkpoint, as
/// [`super::verify`] does for a file log.
///
/// # Errors
///
/// The first [`VerifyError`]; a database error as [`VerifyError::Io`].
pub async fn verify(
    config: &str,
    schema: &str,
    verifier: &CheckpointVerifier,
) -> Result<VerifyReport, VerifyError> {
    let io = |e: LogError| VerifyError::Io {
        path: schema.to_owned(),
        detail: e.to_string(),
    };
    check_schema(schema).map_err(io)?;
    let client = connect(config).await.map_err(io)?;
    let (check, notes) = read_records(&client, schema, true).await?;
    let checkpoints = check_checkpoints(&check.leaves, &notes, verifier)?;
    Ok(VerifyReport {
        records: check.leaves.len() as u64,
        checkpoints,
        root: merkle::root(&check.leaves),
    })
}

/// Reads every record in order through the chain check, and (if asked) the checkpoints.
async fn read_records(
    client: &Client,
    schema: &str,
    with_checkpoints: bool,
) -> Result<(ChainCheck, Vec<String>), VerifyError> {
    let io = |e: tokio_postgres::Error| VerifyError::Io {
        path: schema.to_owned(),
        detail: e.to_string(),
    };
    let rows = client
        .query(
            &format!("SELECT seq, salt, chain, event FROM {schema}.audit_records ORDER BY seq"),
            &[],
        )
        .await
        .map_err(io)?;
    let mut check = ChainCheck::new();
    for row in rows {
        let seq = u64::try_from(row.get::<_, i64>(0)).unwrap_or(u64::MAX);
        let expected = check.leaves.len() as u64;
        let damaged = || VerifyError::Frame {
            seq: expected,
            segment: format!("{schema}.audit_records"),
            offset: 0,
        };
        let salt: [u8; 16] = row.get::<_, Vec<u8>>(1).try_into().map_err(|_| damaged())?;
        let chain: Hash = row.get::<_, Vec<u8>>(2).try_into().map_err(|_| damaged())?;
        check.push(&Record {
            seq,
            salt,
            chain,
            event: row.get(3),
            pruned: None,
        })?;
    }
    let notes = if with_checkpoints {
        client
            .query(
                &format!("SELECT note FROM {schema}.audit_checkpoints ORDER BY id"),
                &[],
            )
            .await
            .map_err(io)?
            .iter()
            .map(|row| row.get(0))
            .collect()
    } else {
        Vec::new()
    };
    Ok((check, notes))
}

/// The writer task: batches of appends, one statement (and so one transaction) each.
async fn write_loop(
    client: Client,
    schema: String,
    mut receiver: mpsc::UnboundedReceiver<Request>,
) {
    let random = aws_lc_rs::rand::SystemRandom::new();
    let mut head: Option<(u64, Hash)> = None;
    // Prepared once: one round trip per batch instead of two.
    let statement = client.prepare(&append_statement(&schema)).await.map_err(db);
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let result = match &statement {
            Ok(statement) => {
                write_batch(&client, statement, &schema, &random, &batch, &mut head).await
            }
            Err(e) => Err(e.clone()),
        };
        match result {
            Ok(receipts) => {
                for (request, receipt) in batch.into_iter().zip(receipts) {
                    let _ = request.reply.send(Ok(receipt));
                }
            }
            Err(e) => {
                head = None;
                for request in batch {
                    let _ = request.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

/// The statement that appends a batch; see [`write_batch`].
fn append_statement(schema: &str) -> String {
    format!(
        "WITH moved AS (
             UPDATE {schema}.audit_head SET next_seq = $5, chain = $6
             WHERE next_seq = $7 RETURNING 1)
         INSERT INTO {schema}.audit_records (seq, salt, chain, event)
         SELECT * FROM UNNEST($1::BIGINT[], $2::BYTEA[], $3::BYTEA[], $4::BYTEA[])
         WHERE EXISTS (SELECT 1 FROM moved)"
    )
}

/// How often a batch is retried when other instances keep moving the head.
const MAX_ATTEMPTS: usize = 64;

/// Writes one batch in a single statement: it moves the head from the `(next_seq, chain)`
/// this instance last saw and inserts the records, both or neither. When another instance
/// moved the head meanwhile, the statement changes nothing (the row lock makes the second
/// writer wait and then see the new head), and the batch is chained again on the new head.
async fn write_batch(
    client: &Client,
    statement: &tokio_postgres::Statement,
    schema: &str,
    random: &aws_lc_rs::rand::SystemRandom,
    batch: &[Request],
    head: &mut Option<(u64, Hash)>,
) -> Result<Vec<Receipt>, LogError> {
    use aws_lc_rs::rand::SecureRandom;
    let mut salts = Vec::with_capacity(batch.len());
    for _ in batch {
        let mut salt = [0u8; 16];
        random
            .fill(&mut salt)
            .map_err(|e| LogError::Io(e.to_string()))?;
        salts.push(salt);
    }
    for _ in 0..MAX_ATTEMPTS {
        let (start, mut chain) = match *head {
            Some(known) => known,
            None => {
                let row = client
                    .query_one(
                        &format!("SELECT next_seq, chain FROM {schema}.audit_head"),
                        &[],
                    )
                    .await
                    .map_err(db)?;
                let chain: Hash = row.get::<_, Vec<u8>>(1).try_into().map_err(|_| {
                    LogError::Io("the head's chain hash is not 32 bytes".to_owned())
                })?;
                (u64::try_from(row.get::<_, i64>(0)).map_err(db)?, chain)
            }
        };
        let (mut seqs, mut salt_column, mut chains, mut events) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut receipts = Vec::with_capacity(batch.len());
        for (offset, (request, salt)) in batch.iter().zip(&salts).enumerate() {
            let seq = start + offset as u64;
            let leaf = leaf_of(salt, &request.event);
            chain = chain_next(&chain, &leaf);
            receipts.push(Receipt { seq, leaf, chain });
            seqs.push(i64::try_from(seq).map_err(db)?);
            salt_column.push(salt.to_vec());
            chains.push(chain.to_vec());
            events.push(request.event.clone());
        }
        let next = i64::try_from(start + batch.len() as u64).map_err(db)?;
        let from = i64::try_from(start).map_err(db)?;
        let inserted = client
            .execute(
                statement,
                &[
                    &seqs,
                    &salt_column,
                    &chains,
                    &events,
                    &next,
                    &chain.to_vec(),
                    &from,
                ],
            )
            .await
            .map_err(db)?;
        if inserted == batch.len() as u64 {
            *head = Some((start + batch.len() as u64, chain));
            return Ok(receipts);
        }
        // Another instance appended: read the head again and chain the batch onto it.
        *head = None;
    }
    Err(LogError::Io(format!(
        "the log's head kept moving; {MAX_ATTEMPTS} attempts failed"
    )))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[async_trait::async_trait]
impl super::AuditLog for PgLog {
    async fn append(&self, event: &AuditEvent) -> Result<Receipt, LogError> {
        PgLog::append(self, event).await
    }

    async fn size(&self) -> Result<u64, LogError> {
        PgLog::size(self).await
    }

    async fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        PgLog::inclusion_proof(self, seq, size).await
    }

    async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LogError> {
        PgLog::consistency_proof(self, first, second).await
    }

    async fn checkpoint(
        &self,
        signer: &CheckpointSigner,
        origin: &str,
    ) -> Result<String, LogError> {
        PgLog::checkpoint(self, signer, origin).await
    }

    async fn events(&self) -> Result<Vec<(u64, AuditEvent)>, LogError> {
        let rows = self
            .reader
            .query(
                &format!(
                    "SELECT seq, event FROM {}.audit_records ORDER BY seq",
                    self.schema
                ),
                &[],
            )
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                let seq = u64::try_from(row.get::<_, i64>(0)).map_err(db)?;
                let event = serde_json::from_slice(row.get::<_, &[u8]>(1))
                    .map_err(|e| LogError::Io(format!("record {seq}: {e}")))?;
                Ok((seq, event))
            })
            .collect()
    }
}
