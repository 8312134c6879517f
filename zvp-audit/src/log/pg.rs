//! The audit log in PostgreSQL (feature `postgres`), for several portal instances sharing one
//! log.
//!
//! # Layout: one row per batch
//!
//! The appends that wait at the same moment go out together (group commit), and each such
//! batch is stored as **one row** of `audit_batches (first_seq, count, records)`: `records` holds
//! the batch's records one after the other, each as
//! `seq (8 bytes LE) · salt (16) · chain hash (32) · event length (4 bytes LE) · event JSON`.
//! One tuple, its index entries (the key; for reports, its time range and one per distinct
//! subject of its events) and one compressed value (lz4 where the server has it) per batch
//! instead of per record: a commit of 64 audit records writes a few kilobytes of WAL rather than
//! some forty, which is what a durable commit costs (see `benches/README.md`). Verification
//! reads the rows in `first_seq` order and checks every record as the file log's are checked;
//! a row whose bytes do not split into exactly `count` records numbered from `first_seq` is
//! reported as a damaged frame.
//!
//! Each row also keeps `chain`, the chain hash after its last record (a copy that verification
//! checks), so that the next batch can be chained on it without reading the records.
//!
//! # How the sequence and the chain stay consistent with several writers
//!
//! Every append batch is one statement, and so one transaction committed with
//! `synchronous_commit = on`: `INSERT … SELECT … WHERE EXISTS (<the batch this instance last
//! saw, ending exactly where this one starts, with the chain this one was chained on>)`. Two
//! rules keep the log one unbroken chain, whichever instance writes:
//!
//! - a batch lands only directly after a committed batch whose `(first_seq, count, chain)`
//!   the writer saw (or at 0 in an empty log), so it never leaves a gap and is chained on what
//!   is stored;
//! - `first_seq` is the primary key, so of two instances that saw the same last batch only one
//!   lands: the other's insert waits for that commit and then inserts nothing (`ON CONFLICT DO
//!   NOTHING`; or, if the first rolled back, lands itself).
//!
//! A batch that did not land is chained again on the newest batch and retried; its appenders
//! hear nothing until it has committed. Since a batch can only commit after the one before it,
//! every snapshot of the table is a gap-free prefix of the log. There is no head row that every
//! append must update and lock: a batch costs one index probe, one tuple and its index entry.
//!
//! # Connections that end
//!
//! When PostgreSQL restarts or ends a backend, the writer and the reader connect again at
//! their next use. The batch that met the lost connection is answered with an error (its
//! commit may or may not have happened: an audit record too many is harmless, an
//! acknowledged one missing is not), and the writer reads the newest batch before it chains
//! the next one, as after any failed batch.
//!
//! # Reports
//!
//! Each row also carries the keys of the patients and practitioners of its events and the
//! range of times they were recorded, indexed, so that a report reads only the rows of its
//! subject and period; see `report.rs`.
//!
//! Checkpoints are signed one at a time (a transaction-scoped advisory lock per schema),
//! over the records committed when the checkpoint's transaction reads them, after checking that
//! the tree extends the last stored checkpoint.

mod report;

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Client;

use super::record::{CHAIN_START, Record, chain_next, leaf_of};
use super::scan::{ChainCheck, check_checkpoints, checkpoint_sizes};
use super::{LogError, MAX_EVENT_LEN, Receipt, VerifyError, VerifyReport};
use crate::checkpoint::{Checkpoint, CheckpointSigner, CheckpointVerifier};
use crate::event::AuditEvent;
use crate::merkle::{self, Hash};
use crate::report::{ReportPage, ReportQuery};
use report::{Marks, RowIndex};

/// A database error with what the server said (tokio-postgres's own text is only "db error").
fn db(e: impl std::error::Error) -> LogError {
    LogError::Io(format!("postgresql: {}", zvp_core::error::with_sources(&e)))
}

/// The most appends in one transaction.
const MAX_BATCH: usize = 1024;

/// A waiting append, its salt and leaf hash made by the appender (on whichever worker it
/// runs, while the writer waits for the batch before) so that the writer's turn between two
/// commits is only chaining and framing.
struct Request {
    event: Vec<u8>,
    salt: [u8; 16],
    leaf: Hash,
    /// What the row's index columns take of the event.
    marks: Marks,
    reply: oneshot::Sender<Result<Receipt, LogError>>,
}

/// The audit log in a PostgreSQL schema.
#[derive(Debug)]
pub struct PgLog {
    config: String,
    schema: String,
    /// The reading connection, made again at its next use when it has ended.
    reader: zvp_pg::Reconnecting<Client, LogError>,
    sender: mpsc::UnboundedSender<Request>,
}

/// Opens a connection the way every zvp store does (`zvp_pg::connect`: bounded, within the
/// connect timeout) and drives it on the current tokio runtime.
async fn connect(config: &str) -> Result<Client, LogError> {
    zvp_pg::connect(config)
        .await
        .map_err(|e| LogError::Io(e.to_string()))
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

/// Fills `salts` with fresh random bytes in one draw: a page's records need a salt each, and
/// a call into the generator per record cost more than the record's leaf hash.
fn random_salts(salts: &mut [[u8; 16]]) -> Result<(), LogError> {
    use aws_lc_rs::rand::SecureRandom;
    aws_lc_rs::rand::SystemRandom::new()
        .fill(salts.as_flattened_mut())
        .map_err(|e| LogError::Io(format!("no random salt: {e}")))
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
        let mut reader = connect(config).await?;
        create_tables(&mut reader, schema).await?;
        report::index_earlier_rows(&reader, schema).await?;
        let writer = writer_connection(config, schema).await?;
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_loop(
            config.to_owned(),
            writer,
            schema.to_owned(),
            receiver,
        ));
        Ok(Self {
            config: config.to_owned(),
            schema: schema.to_owned(),
            reader: zvp_pg::Reconnecting::new(reader),
            sender,
        })
    }

    /// Appends an event; returns when its transaction has committed.
    ///
    /// # Errors
    ///
    /// [`LogError::Event`], [`LogError::Io`], [`LogError::Stopped`].
    pub async fn append(&self, event: &AuditEvent) -> Result<Receipt, LogError> {
        let mut salt = [[0u8; 16]];
        random_salts(&mut salt)?;
        let receiver = self.submit(event, salt[0])?;
        receiver.await.map_err(|_| LogError::Stopped)?
    }

    /// Appends several events, handed to the writer together (one transaction as long as
    /// the batch has room); returns when all have committed, with their receipts in order.
    ///
    /// # Errors
    ///
    /// As [`append`](Self::append), the first that occurred.
    pub async fn append_all(&self, events: &[AuditEvent]) -> Result<Vec<Receipt>, LogError> {
        let mut salts = vec![[0u8; 16]; events.len()];
        random_salts(&mut salts)?;
        let receivers = events
            .iter()
            .zip(salts)
            .map(|(event, salt)| self.submit(event, salt))
            .collect::<Result<Vec<_>, _>>()?;
        super::receive_all(receivers).await
    }

    /// Hands an event to the writer with its salt.
    fn submit(
        &self,
        event: &AuditEvent,
        salt: [u8; 16],
    ) -> Result<oneshot::Receiver<Result<Receipt, LogError>>, LogError> {
        let marks = Marks::of(event);
        let event = super::encode(event)?;
        let leaf = leaf_of(&salt, &event);
        let (reply, receiver) = oneshot::channel();
        self.sender
            .send(Request {
                event,
                salt,
                leaf,
                marks,
                reply,
            })
            .map_err(|_| LogError::Stopped)?;
        Ok(receiver)
    }

    /// The reading connection, made again if it has ended.
    async fn reader(&self) -> Result<Arc<Client>, LogError> {
        self.reader.get(|| connect(&self.config)).await
    }

    /// The number of committed records (by every instance).
    ///
    /// # Errors
    ///
    /// [`LogError::Io`].
    pub async fn size(&self) -> Result<u64, LogError> {
        Ok(read_head(&*self.reader().await?, &self.schema).await?.end)
    }

    /// Every committed record's leaf hash, in order, checked as [`verify`] would check them.
    async fn leaves(&self) -> Result<Vec<Hash>, LogError> {
        let (check, _) = read_records(&*self.reader().await?, &self.schema, false, true)
            .await
            .map_err(LogError::Damaged)?;
        Ok(check.into_leaves())
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
    /// checkpoint; [`LogError::Checkpoint`] for an origin that cannot be an origin line;
    /// [`LogError::Damaged`]; [`LogError::Io`].
    pub async fn checkpoint(
        &self,
        signer: &CheckpointSigner,
        origin: &str,
    ) -> Result<String, LogError> {
        crate::checkpoint::check_origin(origin)?;
        // A connection of its own: the transaction must not take in other tasks' reads.
        let client = &connect(&self.config).await?;
        client.batch_execute("BEGIN").await.map_err(db)?;
        let result = async {
            // One checkpoint at a time, by a transaction-scoped advisory lock of this schema's
            // log (no privilege beyond SELECT and INSERT needed). Appends go on: what this
            // transaction reads of them is a gap-free prefix of the log, see the module
            // documentation.
            // A checkpoint held up by another session fails after a while rather than
            // keeping a stopping portal waiting.
            client
                .batch_execute("SET LOCAL lock_timeout = '30s'")
                .await
                .map_err(db)?;
            client
                .execute(
                    "SELECT pg_advisory_xact_lock($1)",
                    &[&checkpoint_lock(&self.schema)],
                )
                .await
                .map_err(db)?;
            let (check, notes) = read_records(client, &self.schema, true, false)
                .await
                .map_err(LogError::Damaged)?;
            let size = check.len();
            if let Some(last) = notes.last() {
                let previous = Checkpoint::of_note(last)?;
                if check.root_at(previous.size) != Some(previous.root) {
                    return Err(LogError::ShorterThanCheckpoint {
                        records: size,
                        size: previous.size,
                    });
                }
            }
            let note = signer.sign(&Checkpoint {
                origin: origin.to_owned(),
                size,
                root: check.range().root(),
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

/// Creates the log's tables in `schema` when they are missing, and refuses a schema holding a
/// log of an earlier layout. Instances starting together on an empty database take turns:
/// the work is one transaction under the advisory lock every zvp store takes before it creates
/// tables in a schema (`hashtext('zvp-schema:' || schema)`; the directory and the sessions
/// take it too, and may share the schema), so no two of them race in `CREATE … IF NOT EXISTS`.
async fn create_tables(client: &mut Client, schema: &str) -> Result<(), LogError> {
    let mut tx = client.transaction().await.map_err(db)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext($1))",
        &[&format!("zvp-schema:{schema}")],
    )
    .await
    .map_err(db)?;
    // A schema written by an earlier layout is not read by this one; refuse it rather than
    // start a second log beside it.
    for (table, layout) in [
        ("audit_records", "one-row-per-record layout"),
        ("audit_head", "head-row layout"),
    ] {
        if exists(&tx, schema, table).await? {
            return Err(LogError::Io(format!(
                "schema {schema} holds an audit log in the {layout} of an earlier \
                 version ({schema}.{table}), which this version does not read"
            )));
        }
    }
    let new = !exists(&tx, schema, "audit_batches").await?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.audit_batches (
             first_seq BIGINT PRIMARY KEY,
             count INTEGER NOT NULL,
             chain BYTEA NOT NULL,
             records BYTEA NOT NULL);
         CREATE TABLE IF NOT EXISTS {schema}.audit_checkpoints (
             id BIGSERIAL PRIMARY KEY,
             note TEXT NOT NULL);"
    ))
    .await
    .map_err(db)?;
    report::add_index(&tx, schema).await?;
    if new {
        // lz4 compresses a batch's JSON faster than the default pglz; a server built without
        // it keeps pglz, which is correct too (the savepoint keeps the refusal from undoing
        // the rest).
        let savepoint = tx.transaction().await.map_err(db)?;
        let lz4 = savepoint
            .batch_execute(&format!(
                "ALTER TABLE {schema}.audit_batches ALTER COLUMN records SET COMPRESSION lz4"
            ))
            .await;
        if lz4.is_ok() {
            savepoint.commit().await.map_err(db)?;
        } else {
            savepoint.rollback().await.map_err(db)?;
        }
    }
    tx.commit().await.map_err(db)
}

/// Whether `schema.table` exists.
async fn exists(
    tx: &tokio_postgres::Transaction<'_>,
    schema: &str,
    table: &str,
) -> Result<bool, LogError> {
    Ok(tx
        .query_one(
            &format!("SELECT to_regclass('{schema}.{table}') IS NOT NULL"),
            &[],
        )
        .await
        .map_err(db)?
        .get(0))
}

/// The advisory lock key that makes one checkpoint of the log in `schema` at a time: the first
/// eight bytes of a SHA-256 over the schema's name, so that logs in other schemas of the same
/// database do not wait for each other.
fn checkpoint_lock(schema: &str) -> i64 {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("zvp-audit checkpoint {schema}").as_bytes(),
    );
    let mut key = [0u8; 8];
    key.copy_from_slice(digest.as_ref().get(..8).unwrap_or(&[0; 8]));
    i64::from_le_bytes(key)
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
    verify_with(config, schema, Some(verifier)).await
}

/// [`verify`] without a verifier key, as [`super::verify_structure`] does for a file log: the
/// records, the chain and each checkpoint's size and root, no signature.
///
/// # Errors
///
/// The first [`VerifyError`]; a database error as [`VerifyError::Io`].
pub async fn verify_structure(config: &str, schema: &str) -> Result<VerifyReport, VerifyError> {
    verify_with(config, schema, None).await
}

async fn verify_with(
    config: &str,
    schema: &str,
    verifier: Option<&CheckpointVerifier>,
) -> Result<VerifyReport, VerifyError> {
    let io = |e: LogError| VerifyError::Io {
        path: schema.to_owned(),
        detail: e.to_string(),
    };
    check_schema(schema).map_err(io)?;
    let client = connect(config).await.map_err(io)?;
    let (check, notes) = read_records(&client, schema, true, false).await?;
    let checkpoints = check_checkpoints(&check, &notes, verifier)?;
    Ok(VerifyReport {
        records: check.len(),
        checkpoints,
        root: check.range().root(),
        signatures_checked: verifier.is_some(),
    })
}

/// Reads every record in order through the chain check (keeping every leaf hash only if
/// `keep_leaves`), and (if asked) the checkpoints, whose roots the check then takes on the way.
async fn read_records(
    client: &Client,
    schema: &str,
    with_checkpoints: bool,
    keep_leaves: bool,
) -> Result<(ChainCheck, Vec<String>), VerifyError> {
    let io = |e: tokio_postgres::Error| VerifyError::Io {
        path: schema.to_owned(),
        detail: match db(e) {
            LogError::Io(text) => text,
            other => other.to_string(),
        },
    };
    // The checkpoints first: one stored after they are read cannot cover records the read
    // of the batches below misses (batches only grow, and a checkpoint covers only what was
    // committed before it).
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
    let rows = client
        .query(
            &format!(
                "SELECT first_seq, count, chain, records FROM {schema}.audit_batches ORDER BY first_seq"
            ),
            &[],
        )
        .await
        .map_err(io)?;
    let mut check = ChainCheck::new(keep_leaves, checkpoint_sizes(&notes));
    for row in rows {
        let first = u64::try_from(row.get::<_, i64>(0)).unwrap_or(u64::MAX);
        let count = u64::try_from(row.get::<_, i32>(1)).unwrap_or(u64::MAX);
        for record in BatchRecords::new(row.get(3)) {
            let expected = check.len();
            let record = record.map_err(|offset| VerifyError::Frame {
                seq: expected,
                segment: format!("{schema}.audit_batches"),
                offset,
            })?;
            check.push(&record)?;
        }
        // A row's records must be the ones its key, count and chain name.
        let end = first.checked_add(count);
        if end != Some(check.len()) || row.get::<_, &[u8]>(2) != check.chain().as_slice() {
            return Err(VerifyError::Frame {
                seq: first,
                segment: format!("{schema}.audit_batches"),
                offset: 0,
            });
        }
    }
    Ok((check, notes))
}

/// The fixed part of a record in a batch row: seq, salt, chain hash, event length.
const RECORD_HEADER: usize = 8 + 16 + 32 + 4;

/// Appends one record to a batch row's bytes (the layout in the module documentation).
fn put_record(out: &mut Vec<u8>, seq: u64, salt: &[u8; 16], chain: &Hash, event: &[u8]) {
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(salt);
    out.extend_from_slice(chain);
    // Events are at most MAX_EVENT_LEN bytes (checked in `append`), so the length fits.
    out.extend_from_slice(&u32::try_from(event.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(event);
}

/// The records of one batch row, in order; a record that does not fit gives the byte offset
/// where it starts, and ends the iteration.
struct BatchRecords {
    bytes: Vec<u8>,
    offset: usize,
    failed: bool,
}

impl BatchRecords {
    fn new(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            offset: 0,
            failed: false,
        }
    }

    fn read(&self) -> Option<(Record, usize)> {
        let rest = self.bytes.get(self.offset..)?;
        let (seq, rest) = rest.split_first_chunk::<8>()?;
        let (salt, rest) = rest.split_first_chunk::<16>()?;
        let (chain, rest) = rest.split_first_chunk::<32>()?;
        let (length, rest) = rest.split_first_chunk::<4>()?;
        let length = u32::from_le_bytes(*length) as usize;
        if length > MAX_EVENT_LEN {
            return None;
        }
        let event = rest.get(..length)?;
        let record = Record {
            seq: u64::from_le_bytes(*seq),
            salt: *salt,
            chain: *chain,
            event: event.to_vec(),
            pruned: None,
        };
        Some((record, RECORD_HEADER + length))
    }
}

impl Iterator for BatchRecords {
    type Item = Result<Record, usize>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.bytes.len() {
            return None;
        }
        match self.read() {
            Some((record, used)) => {
                self.offset += used;
                Some(Ok(record))
            }
            None => {
                self.failed = true;
                Some(Err(self.offset))
            }
        }
    }
}

/// The writer's connection (`synchronous_commit = on`) and its append statement, prepared
/// once: one round trip per batch instead of two.
async fn writer_connection(
    config: &str,
    schema: &str,
) -> Result<(Client, tokio_postgres::Statement), LogError> {
    let io = |e: zvp_pg::ConnectError| LogError::Io(e.to_string());
    let limit = zvp_pg::connect_limit(&zvp_pg::bounded(config).map_err(io)?);
    zvp_pg::within(limit, ready_writer(config, schema))
        .await
        .ok_or_else(|| io(zvp_pg::ConnectError::TimedOut))?
}

/// [`writer_connection`]'s work.
async fn ready_writer(
    config: &str,
    schema: &str,
) -> Result<(Client, tokio_postgres::Statement), LogError> {
    let client = connect(config).await?;
    client
        .batch_execute("SET synchronous_commit = on")
        .await
        .map_err(db)?;
    let statement = client
        .prepare(&append_statement(schema))
        .await
        .map_err(db)?;
    Ok((client, statement))
}

/// The writer task: batches of appends, one statement (and so one transaction) each.
async fn write_loop(
    config: String,
    writer: (Client, tokio_postgres::Statement),
    schema: String,
    mut receiver: mpsc::UnboundedReceiver<Request>,
) {
    let mut head: Option<Head> = None;
    let mut connection = Some(writer);
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        // Take in what is waiting; then let the tasks that are ready to run (appenders just
        // answered by the last batch) go first, and take in what they sent — until a turn
        // brings nothing new. Without this, batches alternate between one append and all the
        // others, and every other commit carries a single record.
        let mut before = 0;
        while batch.len() > before && batch.len() < MAX_BATCH {
            before = batch.len();
            tokio::task::yield_now().await;
            while batch.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
        }
        // A connection that has ended (PostgreSQL restarted, the backend terminated) is made
        // again for the next batch; a batch that finds no connection fails, the next tries again.
        let ready = match connection.take() {
            Some(open) if !open.0.is_closed() => Ok(open),
            _ => {
                let made = writer_connection(&config, &schema).await;
                if let Err(e) = &made {
                    // The appends that arrived while the attempt ran fail with it, rather than
                    // waiting out another attempt (an unreachable server: one connect timeout
                    // each); the next append tries again.
                    while let Ok(request) = receiver.try_recv() {
                        let _ = request.reply.send(Err(e.clone()));
                    }
                }
                made
            }
        };
        let result = match &ready {
            Ok((client, statement)) => {
                write_batch(client, statement, &schema, &batch, &mut head).await
            }
            Err(e) => Err(e.clone()),
        };
        connection = ready.ok();
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

/// The statement that appends a batch: `$1` first_seq, `$2` count, `$3` chain after it,
/// `$4` records, `$5` first_seq of the batch it is chained on (-1 in an empty log), `$6` that
/// batch's chain, `$7` to `$9` the row's index columns (see `report.rs`). See the module
/// documentation.
fn append_statement(schema: &str) -> String {
    format!(
        "INSERT INTO {schema}.audit_batches (first_seq, count, chain, records, subjects, recorded)
         SELECT $1::bigint, $2::integer, $3::bytea, $4::bytea, $7::text[], {}
         WHERE ($5::bigint = -1 AND $1 = 0)
            OR EXISTS (SELECT 1 FROM {schema}.audit_batches
                       WHERE first_seq = $5 AND first_seq + count = $1 AND chain = $6)
         ON CONFLICT (first_seq) DO NOTHING",
        report::range_sql(8, 9)
    )
}

/// The newest batch of the log, as a writer chains the next one on it.
#[derive(Clone, Copy, Debug)]
struct Head {
    /// Its first sequence number; -1 for an empty log.
    first: i64,
    /// The sequence number after it: the log's size.
    end: u64,
    /// The chain hash after its last record.
    chain: Hash,
}

/// Reads the newest batch.
async fn read_head(client: &Client, schema: &str) -> Result<Head, LogError> {
    let row = client
        .query_opt(
            &format!(
                "SELECT first_seq, count, chain FROM {schema}.audit_batches
                 ORDER BY first_seq DESC LIMIT 1"
            ),
            &[],
        )
        .await
        .map_err(db)?;
    let Some(row) = row else {
        return Ok(Head {
            first: -1,
            end: 0,
            chain: CHAIN_START,
        });
    };
    let first: i64 = row.get(0);
    let count: i32 = row.get(1);
    let damaged = || {
        LogError::Io(format!(
            "the newest row of {schema}.audit_batches is damaged"
        ))
    };
    let end = u64::try_from(first)
        .ok()
        .zip(u64::try_from(count).ok())
        .and_then(|(first, count)| first.checked_add(count))
        .ok_or_else(damaged)?;
    let chain: Hash = row.get::<_, Vec<u8>>(2).try_into().map_err(|_| damaged())?;
    Ok(Head { first, end, chain })
}

/// How often a batch is retried when other instances keep moving the head.
const MAX_ATTEMPTS: usize = 64;

/// Writes one batch in a single statement, chained on the newest batch this instance saw.
/// When another instance appended meanwhile, the statement inserts nothing; the batch is then
/// chained again on the newest batch and retried.
async fn write_batch(
    client: &Client,
    statement: &tokio_postgres::Statement,
    schema: &str,
    batch: &[Request],
    head: &mut Option<Head>,
) -> Result<Vec<Receipt>, LogError> {
    let index = RowIndex::of(batch.iter().map(|r| &r.marks));
    for _ in 0..MAX_ATTEMPTS {
        let seen = match *head {
            Some(known) => known,
            None => read_head(client, schema).await?,
        };
        let start = seen.end;
        let mut chain = seen.chain;
        let size: usize = batch.iter().map(|r| RECORD_HEADER + r.event.len()).sum();
        let mut records = Vec::with_capacity(size);
        let mut receipts = Vec::with_capacity(batch.len());
        for (offset, request) in batch.iter().enumerate() {
            let seq = start + offset as u64;
            chain = chain_next(&chain, &request.leaf);
            receipts.push(Receipt {
                seq,
                leaf: request.leaf,
                chain,
            });
            put_record(&mut records, seq, &request.salt, &chain, &request.event);
        }
        let count = i32::try_from(batch.len()).map_err(db)?;
        let from = i64::try_from(start).map_err(db)?;
        let inserted = client
            .execute(
                statement,
                &[
                    &from,
                    &count,
                    &chain.as_slice(),
                    &records,
                    &seen.first,
                    &seen.chain.as_slice(),
                    &index.subjects,
                    &index.first,
                    &index.last,
                ],
            )
            .await;
        match inserted {
            Ok(1) => {
                *head = Some(Head {
                    first: from,
                    end: start + batch.len() as u64,
                    chain,
                });
                return Ok(receipts);
            }
            // Not directly after the batch this instance saw, or on the key of another
            // instance's batch (the insert waited for its commit and then did nothing): chain
            // it on the newest batch.
            Ok(_) => {}
            Err(e) => return Err(db(e)),
        }
        *head = None;
    }
    Err(LogError::Io(format!(
        "the log's head kept moving; {MAX_ATTEMPTS} attempts failed"
    )))
}

#[async_trait::async_trait]
impl super::AuditLog for PgLog {
    async fn append(&self, event: &AuditEvent) -> Result<Receipt, LogError> {
        PgLog::append(self, event).await
    }

    async fn append_all(&self, events: &[AuditEvent]) -> Result<Vec<Receipt>, LogError> {
        PgLog::append_all(self, events).await
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

    async fn report(&self, query: &ReportQuery) -> Result<ReportPage, LogError> {
        report::report(&*self.reader().await?, &self.schema, query).await
    }

    async fn events(&self) -> Result<Vec<(u64, AuditEvent)>, LogError> {
        let rows = self
            .reader()
            .await?
            .query(
                &format!(
                    "SELECT records FROM {}.audit_batches ORDER BY first_seq",
                    self.schema
                ),
                &[],
            )
            .await
            .map_err(db)?;
        let mut events = Vec::new();
        for row in rows {
            for record in BatchRecords::new(row.get(0)) {
                let record = record.map_err(|offset| {
                    LogError::Io(format!("a damaged batch row (at byte {offset})"))
                })?;
                let event = serde_json::from_slice(&record.event)
                    .map_err(|e| LogError::Io(format!("record {}: {e}", record.seq)))?;
                events.push((record.seq, event));
            }
        }
        Ok(events)
    }
}
