//! The append-only, tamper-evident audit log in files.
//!
//! # Guarantees (`docs/audit.md`, "What is guaranteed")
//!
//! - **Durable**: [`FileLog::append`] returns a [`Receipt`] only after the record's
//!   bytes are written and `fdatasync`ed; a new segment file is followed by an fsync of the
//!   directory.
//! - **Group commit**: one writer thread takes every append waiting at that moment, writes
//!   them with one `write` and one `fdatasync`, then answers each caller.
//! - **Tamper-evident**: records are hash-chained and are the leaves of an RFC 6962 Merkle
//!   tree; [`FileLog::checkpoint`] signs the tree head (C2SP checkpoint, Ed25519) and never
//!   signs one inconsistent with the last; [`verify`] re-reads everything and names the first
//!   record that is wrong.
//! - **Crash-consistent**: every record carries a CRC-32C; opening the log cuts a torn
//!   tail (an append interrupted by a crash, never acknowledged) and keeps everything before it.
//!   Damage anywhere else is refused, never repaired.
//! - **Private proofs**: leaves commit to a random 16-byte salt with the event.
//! - **One writer**: an exclusive lock on `LOCK` keeps a second process from writing the log.
//!
//! A running log keeps only the right edge of its tree in memory (a
//! [`CompactRange`](crate::merkle::CompactRange), `O(log n)` hashes), so its memory does not
//! grow with its records and a checkpoint costs `O(log n)`. Each checkpoint also stores that
//! edge with the chain hash and the place of the last record (`tree-state`), so that opening
//! reads only the records written since the last checkpoint before the log takes appends: it
//! takes the state up when the record it names is in place with its chain hash and the tree it
//! describes has the last checkpoint's signed root, and reads every record otherwise (see
//! [`FileLog::open`]). The records under the state are then read back on a thread of their own
//! ([`FileLog::checked`]); if they do not end with the state, the log refuses appends.
//! [`verify`] always reads every record, keeping likewise only the tree's edge and the roots
//! the stored checkpoints need; proofs and roots of earlier sizes read the segment files.
//!
//! The segments are written and synced through [`storage`], a seam that a test fills with
//! storage that loses, at a power cut, what was not synced.
//!
//! The layout of a log directory: `LOCK`, `segment-<first record, 20 digits>.log` files of
//! framed records (see `record.rs`), `checkpoints.log` with the signed checkpoints, and
//! `tree-state` (see `state.rs`).

mod check;
mod encoded;
#[cfg(feature = "postgres")]
pub mod pg;
mod query;
mod record;
mod scan;
mod state;
pub mod storage;
mod writer;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use aws_lc_rs::rand::SystemRandom;
use chrono::{DateTime, Utc};

pub use check::OpeningCheck;
pub use record::MAX_EVENT_LEN;
pub use scan::VerifyError;

use crate::checkpoint::{Checkpoint, CheckpointSigner, CheckpointVerifier};
use crate::event::AuditEvent;
use crate::merkle::{self, Hash};
use crate::report::{Period, ReportPage, ReportQuery};
use check::Check;
use encoded::Encoded;
#[cfg(feature = "postgres")]
pub(crate) use encoded::encode;
use record::{Record, frame};
use scan::{CHECKPOINTS, Checkpoints, Reading, Scanned, scan, scan_from, segment_name};
use state::{Position, TreeState};
use storage::{Fs, Segment, Storage};
use writer::Writer;

/// What the portal needs of an audit log, whichever backend keeps it: [`FileLog`] embedded,
/// `pg::PgLog` (feature `postgres`) shared by several instances.
#[async_trait::async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends an event; returns when it is durable. Patient data may be disclosed only with
    /// the receipt in hand.
    async fn append(&self, event: &AuditEvent) -> Result<Receipt, LogError>;

    /// Appends several events at once (the patients of one list); returns when all are
    /// durable, with their receipts in the order given. The backends hand them to their
    /// writer together, so they share one group commit. The first error is returned; events
    /// before it may be durable.
    async fn append_all(&self, events: &[AuditEvent]) -> Result<Vec<Receipt>, LogError> {
        let mut receipts = Vec::with_capacity(events.len());
        for event in events {
            receipts.push(self.append(event).await?);
        }
        Ok(receipts)
    }

    /// The number of durable records.
    async fn size(&self) -> Result<u64, LogError>;

    /// The inclusion proof of record `seq` in the tree of `size` records.
    async fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, LogError>;

    /// The consistency proof between the trees of `first` and `second` records.
    async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LogError>;

    /// Signs and stores a checkpoint of the durable records; never one inconsistent with the
    /// last.
    async fn checkpoint(&self, signer: &CheckpointSigner, origin: &str)
    -> Result<String, LogError>;

    /// Every durable event with its sequence number, in order (for the reports; pruned
    /// records are left out).
    async fn events(&self) -> Result<Vec<(u64, AuditEvent)>, LogError>;

    /// One page of a report: what [`ReportQuery::page`] gives over [`events`](Self::events),
    /// which is what this default does. A backend that can read less overrides it; the file
    /// log reads only the segments the period can be in, and keeps only the page.
    async fn report(&self, query: &ReportQuery) -> Result<ReportPage, LogError> {
        Ok(query.page(&self.events().await?))
    }

    /// Every durable event recorded in `period`, in log order (for the review report, which
    /// needs all of them, not one subject's). This default filters [`events`](Self::events);
    /// the file log reads only the segments the period can be in.
    async fn period_events(&self, period: Period) -> Result<Vec<(u64, AuditEvent)>, LogError> {
        let mut events = self.events().await?;
        events.retain(|(_, e)| period.contains(e.recorded));
        Ok(events)
    }

    /// Why the log refuses every append now, if it does — found damaged after opening, or its
    /// writer stopped by a failed write — for health checks: an instance whose log refuses
    /// can show no patient data. `None` by default (a backend that cannot tell).
    fn refusing(&self) -> Option<LogError> {
        None
    }
}

#[async_trait::async_trait]
impl AuditLog for FileLog {
    fn refusing(&self) -> Option<LogError> {
        FileLog::refusing(self)
    }

    async fn append(&self, event: &AuditEvent) -> Result<Receipt, LogError> {
        FileLog::append(self, event).await
    }

    async fn append_all(&self, events: &[AuditEvent]) -> Result<Vec<Receipt>, LogError> {
        FileLog::append_all(self, events).await
    }

    async fn size(&self) -> Result<u64, LogError> {
        FileLog::size(self)
    }

    async fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        let leaves = self.leaves_off_the_runtime(size.min(self.size()?)).await?;
        Ok(merkle::inclusion_proof(
            &leaves,
            seq as usize,
            size as usize,
        )?)
    }

    async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LogError> {
        let leaves = self
            .leaves_off_the_runtime(second.min(self.size()?))
            .await?;
        Ok(merkle::consistency_proof(
            &leaves,
            first as usize,
            second as usize,
        )?)
    }

    async fn checkpoint(
        &self,
        signer: &CheckpointSigner,
        origin: &str,
    ) -> Result<String, LogError> {
        FileLog::checkpoint(self, signer, origin)
    }

    async fn report(&self, query: &ReportQuery) -> Result<ReportPage, LogError> {
        let (dir, query) = (self.dir.clone(), *query);
        off_the_runtime(move || query::report(&dir, &query)).await
    }

    async fn period_events(&self, period: Period) -> Result<Vec<(u64, AuditEvent)>, LogError> {
        let dir = self.dir.clone();
        off_the_runtime(move || query::period_events(&dir, period)).await
    }

    async fn events(&self) -> Result<Vec<(u64, AuditEvent)>, LogError> {
        // The files are read on a blocking thread, not on the runtime's workers, which go on
        // serving pages meanwhile.
        let dir = self.dir.clone();
        off_the_runtime(move || read_events(&dir).map_err(|e| LogError::Io(e.to_string()))).await
    }
}

/// `work` (file reads) on tokio's blocking threads.
async fn off_the_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, LogError> + Send + 'static,
) -> Result<T, LogError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| LogError::Io(format!("the reading task failed: {e}")))?
}

/// Proof that an event is durably in the log: a disclosure takes one, so patient data cannot
/// leave the server without its audit record. Only a log makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    seq: u64,
    leaf: Hash,
    chain: Hash,
}

impl Receipt {
    /// The record's sequence number (its leaf index).
    pub const fn seq(&self) -> u64 {
        self.seq
    }

    /// Its Merkle leaf hash.
    pub const fn leaf(&self) -> Hash {
        self.leaf
    }

    /// The chain hash after it.
    pub const fn chain(&self) -> Hash {
        self.chain
    }
}

/// Why the log could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// Another process holds the log.
    #[error("the audit log is in use by another process")]
    Locked,
    /// Reading, writing or syncing failed. After a failed write the log refuses further
    /// appends until it is reopened (which cuts any partial record).
    #[error("audit log io: {0}")]
    Io(String),
    /// The log on disk is damaged (not merely a torn tail).
    #[error("the audit log is damaged: {0}")]
    Damaged(VerifyError),
    /// The log is shorter than its last signed checkpoint: acknowledged records are missing.
    #[error("the audit log has {records} records but its last checkpoint covers {size}")]
    ShorterThanCheckpoint {
        /// Records found.
        records: u64,
        /// The checkpoint's size.
        size: u64,
    },
    /// An event could not be serialised, or is larger than [`MAX_EVENT_LEN`].
    #[error("the event cannot be recorded: {0}")]
    Event(String),
    /// A proof was asked for sizes the log does not have.
    #[error("proof: {0}")]
    Proof(#[from] merkle::ProofError),
    /// Pruning would remove events younger than the legal minimum retention.
    #[error("events recorded after {cutoff} are younger than the minimum retention of five years")]
    Retention {
        /// The cutoff asked for.
        cutoff: DateTime<Utc>,
    },
    /// The writer has stopped (after an IO failure, or when the log was dropped).
    #[error("the audit log writer has stopped; reopen the log")]
    Stopped,
    /// A checkpoint was asked for with an origin line that cannot be one; nothing was stored.
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
}

/// The minimum time audit events are kept, in days: five years (Staatscourant 2019, 38007),
/// counting leap days generously.
pub const MIN_RETENTION_DAYS: i64 = 5 * 365 + 2;

/// What [`FileLog::prune`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Records whose events were pruned.
    pub records: u64,
    /// Segment files rewritten.
    pub segments: u64,
}

/// Settings of a [`FileLog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileLogOptions {
    /// Start a new segment file once the current one is this large.
    pub segment_bytes: u64,
    /// The most records written with one fsync. The events of one
    /// [`append_all`](FileLog::append_all) are kept together up to this many.
    pub max_batch: usize,
}

impl Default for FileLogOptions {
    fn default() -> Self {
        Self {
            segment_bytes: 64 * 1024 * 1024,
            max_batch: 4096,
        }
    }
}

/// The tree as the writer has made it durable: its right edge only (`O(log n)` hashes), so
/// that a running log's memory does not grow with its records. Proofs and roots of earlier
/// sizes are computed from the segment files when asked for.
#[derive(Debug)]
struct Tree {
    range: merkle::CompactRange,
    /// The chain hash after the last durable record, and where that record lies.
    chain: Hash,
    last: Option<Position>,
    last_checkpoint: Option<(u64, Hash)>,
}

/// How [`FileLog::open`] found the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    /// The records the log holds.
    pub records: u64,
    /// The records read back while opening: those written since the last checkpoint when its
    /// tree state was taken up, else all of them.
    pub read: u64,
    /// Whether the tree state stored with the last checkpoint was taken up.
    pub from_state: bool,
}

/// The appends of one call waiting for the writer: one event, or the events of a page, which
/// the writer keeps together in one write and one sync and answers with one reply.
struct Request {
    events: Encoded,
    reply: tokio::sync::oneshot::Sender<Result<Vec<Receipt>, LogError>>,
}

/// The audit log in a directory. See the [module docs](self).
#[derive(Debug)]
pub struct FileLog {
    dir: PathBuf,
    checkpointing: Mutex<()>,
    sender: Mutex<Option<Sender<Request>>>,
    tree: Arc<Mutex<Tree>>,
    syncs: Arc<AtomicU64>,
    cut_tail: Option<VerifyError>,
    opened: Opened,
    check: Arc<Check>,
    cut_checkpoint: Option<u64>,
    writer: Option<JoinHandle<()>>,
    /// The most events of one request (see [`FileLogOptions::max_batch`]).
    max_batch: usize,
    _lock: File,
}

fn io(e: impl std::fmt::Display) -> LogError {
    LogError::Io(e.to_string())
}

impl FileLog {
    /// Opens (creating if needed) the log in `dir`: takes the lock, reads the records back
    /// (checking frames, sequence and chain), cuts a torn tail, and starts the writer.
    ///
    /// The records read before the log takes appends are those written since the last
    /// checkpoint, when the tree state stored with it holds: the record it ends with is in
    /// place with its chain hash, and its tree has the checkpoint's signed root. The records
    /// under the state are then read back on a thread of their own while the log works on the
    /// signed tree; if they do not end with the state's chain hash and tree, the log refuses
    /// appends and checkpoints from then on ([`checked`](Self::checked)). Without a state
    /// that holds — none, a damaged one, anything in it that does not fit — every record is
    /// read first, and the log opens only if the records the last checkpoint covers have its
    /// root. Either way new records are chained and checkpointed on top of the signed tree;
    /// [`verify`] is what also checks every checkpoint and its signature.
    ///
    /// # Errors
    ///
    /// [`LogError::Locked`], [`LogError::Damaged`], [`LogError::ShorterThanCheckpoint`],
    /// [`LogError::Io`].
    pub fn open(dir: &Path, options: FileLogOptions) -> Result<Self, LogError> {
        Self::open_with_storage(dir, options, Fs)
    }

    /// [`open`](Self::open) with the segments written and synced through `storage` (see
    /// [`storage`]): for tests that model what a power cut leaves of the files.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    pub fn open_with_storage<S: Storage>(
        dir: &Path,
        options: FileLogOptions,
        storage: S,
    ) -> Result<Self, LogError> {
        std::fs::create_dir_all(dir).map_err(io)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))
            .map_err(io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(LogError::Locked),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let OpenScan {
            scanned,
            last_checkpoint,
            opened,
            trusted,
        } = open_scan(dir)?;
        let records = scanned.check.len();
        let cut_tail = scanned.torn_tail.clone();
        // The segment to append to: the last one, cut to its valid length, or a first one.
        let (path, segment_first, length) = match scanned.last_segment {
            Some(last) => last,
            None => (dir.join(segment_name(0)), 0, 0),
        };
        let mut segment = storage.open_segment(&path).map_err(io)?;
        if segment.length().map_err(io)? != length {
            // A torn tail: never acknowledged, so cutting it loses nothing acknowledged.
            segment.truncate(length).map_err(io)?;
        }
        let scanned_unfinished = scanned.unfinished_checkpoint;
        if let Some(offset) = scanned.unfinished_checkpoint {
            // A checkpoint a crash cut off: never returned, so cutting it loses nothing signed
            // that anyone has; the next one is written after the last whole one.
            let file = OpenOptions::new()
                .write(true)
                .open(dir.join(CHECKPOINTS))
                .map_err(io)?;
            file.set_len(offset).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        storage.sync_dir(dir).map_err(io)?;
        let tree = Arc::new(Mutex::new(Tree {
            range: scanned.check.range().clone(),
            chain: scanned.check.chain(),
            last: scanned.last_record,
            last_checkpoint,
        }));
        let (sender, receiver) = mpsc::channel();
        let syncs = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            syncs: Arc::clone(&syncs),
            storage,
            dir: dir.to_path_buf(),
            segment,
            segment_first,
            segment_length: length,
            next_seq: records,
            chain: scanned.check.chain(),
            tree: Arc::clone(&tree),
            options,
            random: SystemRandom::new(),
            bytes: Vec::new(),
        };
        let check = match trusted {
            Some(state) => Check::start(dir, state)?,
            None => Arc::new(Check::passed()),
        };
        let handle = std::thread::Builder::new()
            .name("zvp-audit-writer".to_owned())
            .spawn(move || writer.run(&receiver))
            .map_err(io)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            checkpointing: Mutex::new(()),
            sender: Mutex::new(Some(sender)),
            tree,
            syncs,
            cut_tail,
            opened,
            check,
            cut_checkpoint: scanned_unfinished,
            writer: Some(handle),
            max_batch: options.max_batch,
            _lock: lock,
        })
    }

    /// How opening found the log: how many records it read back, and whether it took up the
    /// tree state of the last checkpoint (for the operator's log at start).
    pub fn opened(&self) -> Opened {
        self.opened
    }

    /// Waits until the records an opening from a tree state did not read have been read back
    /// on a thread of their own (frames, sequence, chain) and found to end with that state's
    /// chain hash and tree; at once when opening read every record. The log works meanwhile.
    ///
    /// # Errors
    ///
    /// [`LogError::Damaged`] naming the first record that is wrong (or
    /// [`VerifyError::TreeState`]): the log then refuses every append and checkpoint with
    /// the same error, as an opening that had read everything would have refused to open.
    pub fn checked(&self) -> Result<(), LogError> {
        self.check.wait()
    }

    /// Why the log refuses every append now, if it does: the read-back after opening found
    /// damage, or a failed write stopped the writer (until the log is opened again).
    pub fn refusing(&self) -> Option<LogError> {
        if let Err(e) = self.check.failed() {
            return Some(e);
        }
        self.writer
            .as_ref()
            .is_some_and(JoinHandle::is_finished)
            .then_some(LogError::Stopped)
    }

    /// A handle on the same read-back as [`checked`](Self::checked) that does not keep the log
    /// open: for a thread that reports the verdict.
    pub fn opening_check(&self) -> OpeningCheck {
        OpeningCheck(Arc::clone(&self.check))
    }

    /// Where opening cut an unfinished last checkpoint from `checkpoints.log` (a checkpoint
    /// write a crash interrupted, never returned to its caller), if it did — for the
    /// operator's log.
    pub fn cut_checkpoint(&self) -> Option<u64> {
        self.cut_checkpoint
    }

    /// Appends an event; returns when it is durable.
    ///
    /// # Errors
    ///
    /// [`LogError::Event`] for an event that cannot be recorded, [`LogError::Io`] when the
    /// write or sync fails, [`LogError::Stopped`] after an earlier failure.
    pub async fn append(&self, event: &AuditEvent) -> Result<Receipt, LogError> {
        let receiver = self.submit(std::slice::from_ref(event))?;
        only(receiver.await.map_err(|_| LogError::Stopped)?)
    }

    /// Appends several events (the patients of a page) as one request: the writer writes
    /// them together, in one write and one sync, with one random draw for their salts, and
    /// answers once. Up to [`FileLogOptions::max_batch`] events stay together; more go as
    /// several requests. Returns when all are durable, with their receipts in order.
    ///
    /// # Errors
    ///
    /// As [`append`](Self::append), the first that occurred.
    pub async fn append_all(&self, events: &[AuditEvent]) -> Result<Vec<Receipt>, LogError> {
        let receivers = events
            .chunks(self.max_batch.max(1))
            .map(|chunk| self.submit(chunk))
            .collect::<Result<Vec<_>, _>>()?;
        let mut receipts = Vec::with_capacity(events.len());
        for receiver in receivers {
            receipts.extend(receiver.await.map_err(|_| LogError::Stopped)??);
        }
        Ok(receipts)
    }

    /// [`append`](Self::append) for callers outside an async runtime.
    ///
    /// # Errors
    ///
    /// As [`append`](Self::append).
    pub fn append_blocking(&self, event: &AuditEvent) -> Result<Receipt, LogError> {
        let receiver = self.submit(std::slice::from_ref(event))?;
        only(receiver.blocking_recv().map_err(|_| LogError::Stopped)?)
    }

    /// Hands events to the writer as one request.
    fn submit(
        &self,
        events: &[AuditEvent],
    ) -> Result<tokio::sync::oneshot::Receiver<Result<Vec<Receipt>, LogError>>, LogError> {
        self.check.failed()?;
        let events = Encoded::of(events)?;
        let (reply, receiver) = tokio::sync::oneshot::channel();
        let sender = self.sender.lock().map_err(|_| LogError::Stopped)?;
        sender
            .as_ref()
            .ok_or(LogError::Stopped)?
            .send(Request { events, reply })
            .map_err(|_| LogError::Stopped)?;
        Ok(receiver)
    }

    /// The number of durable records.
    ///
    /// # Errors
    ///
    /// [`LogError::Stopped`] if the writer panicked.
    pub fn size(&self) -> Result<u64, LogError> {
        Ok(self.tree()?.range.size())
    }

    /// The leaf hashes of the first `n` durable records, read back from the segment files
    /// (the running log keeps only the tree's right edge in memory).
    fn leaves(&self, n: u64) -> Result<Vec<Hash>, LogError> {
        leaves_of(&self.dir, n, self.size()?)
    }

    /// [`Self::leaves`], the files read on a blocking thread.
    async fn leaves_off_the_runtime(&self, n: u64) -> Result<Vec<Hash>, LogError> {
        let (dir, durable) = (self.dir.clone(), self.size()?);
        off_the_runtime(move || leaves_of(&dir, n, durable)).await
    }
}

/// The first `n` leaf hashes of the log in `dir`, of which `durable` records are durable.
fn leaves_of(dir: &Path, n: u64, durable: u64) -> Result<Vec<Hash>, LogError> {
    if n > durable {
        return Err(merkle::ProofError::SizeOutOfRange {
            first: 0,
            second: usize::try_from(n).unwrap_or(usize::MAX),
            available: usize::try_from(durable).unwrap_or(usize::MAX),
        }
        .into());
    }
    // A batch being written after them may show as a torn tail; the first `n` records
    // are durable and whole.
    let reading = Reading {
        events: false,
        leaves: true,
        checkpoints: Checkpoints::None,
    };
    let mut leaves = scan(dir, reading)
        .map_err(LogError::Damaged)?
        .check
        .into_leaves();
    leaves.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    Ok(leaves)
}

impl FileLog {
    /// The Merkle root of the first `size` records: at once for the whole log; for an earlier
    /// size, computed from the segment files (a read of the log).
    ///
    /// # Errors
    ///
    /// [`LogError::Proof`] when the log has fewer records; [`LogError::Damaged`] when the
    /// files no longer read back.
    pub fn root(&self, size: u64) -> Result<Hash, LogError> {
        {
            let tree = self.tree()?;
            if tree.range.size() == size {
                return Ok(tree.range.root());
            }
        }
        Ok(merkle::root(&self.leaves(size)?))
    }

    /// The inclusion proof of record `seq` in the tree of `size` records, computed from the
    /// segment files (a read of the log: proofs are for auditors, not for every request).
    ///
    /// # Errors
    ///
    /// [`LogError::Proof`]; [`LogError::Damaged`] when the files no longer read back.
    pub fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        // Only the tree of `size` leaves is needed (the proof checks the size against them).
        let leaves = self.leaves(size.min(self.size()?))?;
        Ok(merkle::inclusion_proof(
            &leaves,
            seq as usize,
            size as usize,
        )?)
    }

    /// The consistency proof between the trees of `first` and `second` records, computed from
    /// the segment files like [`inclusion_proof`](Self::inclusion_proof).
    ///
    /// # Errors
    ///
    /// [`LogError::Proof`]; [`LogError::Damaged`] when the files no longer read back.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LogError> {
        let leaves = self.leaves(second.min(self.size()?))?;
        Ok(merkle::consistency_proof(
            &leaves,
            first as usize,
            second as usize,
        )?)
    }

    /// Signs a checkpoint of the log as it is durable now, stores it (fsynced) and returns the
    /// signed note. Never signs a tree that does not extend the last signed one.
    ///
    /// # Errors
    ///
    /// [`LogError::Io`]; [`LogError::ShorterThanCheckpoint`] if the tree does not extend the
    /// last checkpoint (which would mean records vanished); [`LogError::Checkpoint`] for an
    /// origin that cannot be an origin line.
    pub fn checkpoint(&self, signer: &CheckpointSigner, origin: &str) -> Result<String, LogError> {
        // One checkpoint at a time. The tree only grows by appends on top of what `open`
        // checked against the last stored checkpoint, so it extends every checkpoint signed
        // since; the size check guards that reasoning.
        crate::checkpoint::check_origin(origin)?;
        // Never sign on top of records not yet read back: wait for the verdict (rare, short).
        self.check.wait()?;
        let _one = self.checkpointing.lock().map_err(|_| LogError::Stopped)?;
        let (size, root, last, state) = {
            let tree = self.tree()?;
            let state = tree.last.map(|last| TreeState {
                range: tree.range.clone(),
                chain: tree.chain,
                last,
            });
            (
                tree.range.size(),
                tree.range.root(),
                tree.last_checkpoint,
                state,
            )
        };
        if let Some((last_size, last_root)) = last
            && (last_size > size || (last_size == size && last_root != root))
        {
            return Err(LogError::ShorterThanCheckpoint {
                records: size,
                size: last_size,
            });
        }
        let note = signer.sign(&Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        });
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(CHECKPOINTS))
            .map_err(io)?;
        let before = file.metadata().map_err(io)?.len();
        if let Err(e) = file
            .write_all(&frame(note.as_bytes()))
            .and_then(|()| file.sync_data())
        {
            // Leave no part of this note for a later one to be written after.
            let _ = file.set_len(before);
            return Err(io(e));
        }
        sync_dir(&self.dir)?;
        self.tree()?.last_checkpoint = Some((size, root));
        if let Some(state) = state {
            // The tree state of this checkpoint, for the next opening. The checkpoint stands
            // without it: if it cannot be stored, the one before it stays, which opening takes
            // up as well (it reads on from there).
            let _ = state::write(&self.dir, &state);
        }
        Ok(note)
    }

    /// Prunes the events recorded before `cutoff`: in every segment but the one being
    /// written, each such record keeps only its sequence number, chain hash and leaf hash, so
    /// the chain, the tree, every proof and every checkpoint still verify, while the event
    /// itself — who read which patient's record — is gone. A segment is rewritten to a new
    /// file, synced and renamed over the old one.
    ///
    /// # Errors
    ///
    /// [`LogError::Retention`] when `cutoff` is less than [`MIN_RETENTION_DAYS`] before `now`
    /// (the law's minimum of five years); [`LogError::Damaged`] or [`LogError::Io`].
    pub fn prune(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<PruneReport, LogError> {
        if cutoff > now - chrono::Duration::days(MIN_RETENTION_DAYS) {
            return Err(LogError::Retention { cutoff });
        }
        let mut report = PruneReport::default();
        // Pruned frames are shorter: the tree state's place of its last record no longer
        // holds once a segment is rewritten. The state goes before the first rewrite (no
        // checkpoint stores a new one meanwhile); the next checkpoint stores one again.
        self.check.wait()?;
        let _one = self.checkpointing.lock().map_err(|_| LogError::Stopped)?;
        let segments = scan::segments(&self.dir).map_err(LogError::Damaged)?;
        // The last segment is the writer's; it is left alone.
        for path in segments.iter().take(segments.len().saturating_sub(1)) {
            let bytes = std::fs::read(path).map_err(io)?;
            let mut out = Vec::with_capacity(bytes.len());
            let mut pruned_here = 0;
            let mut offset = 0;
            while offset < bytes.len() {
                let rest = bytes.get(offset..).unwrap_or(&[]);
                let damaged = || {
                    LogError::Damaged(VerifyError::Frame {
                        seq: 0,
                        segment: path.display().to_string(),
                        offset,
                    })
                };
                let record::Frame::Good(payload, used) = record::read_frame(rest) else {
                    return Err(damaged());
                };
                let record = Record::from_payload(payload).ok_or_else(damaged)?;
                let old = record.pruned.is_none()
                    && serde_json::from_slice::<AuditEvent>(&record.event)
                        .is_ok_and(|event| event.recorded < cutoff);
                if old {
                    out.extend(record.pruned().frame());
                    pruned_here += 1;
                } else {
                    out.extend_from_slice(rest.get(..used).unwrap_or(&[]));
                }
                offset += used;
            }
            if pruned_here > 0 {
                if report.segments == 0 {
                    state::remove(&self.dir)?;
                }
                let temporary = path.with_extension("pruning");
                let mut file = File::create(&temporary).map_err(io)?;
                file.write_all(&out).map_err(io)?;
                file.sync_all().map_err(io)?;
                std::fs::rename(&temporary, path).map_err(io)?;
                sync_dir(&self.dir)?;
                report.records += pruned_here;
                report.segments += 1;
            }
        }
        Ok(report)
    }

    /// The unfinished record that opening cut from the end of the log, if any — for the
    /// operator's log. It was never acknowledged if it was torn by a crash; a damaged last
    /// record that no signed checkpoint covers looks the same, which is one reason to sign
    /// checkpoints often (a covered record is never cut: opening refuses instead).
    pub fn cut_tail(&self) -> Option<&VerifyError> {
        self.cut_tail.as_ref()
    }

    /// How many times the writer has synced records to disk since the log was opened: with
    /// group commit, fewer than the appends when appends overlap.
    pub fn sync_count(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    fn tree(&self) -> Result<MutexGuard<'_, Tree>, LogError> {
        self.tree.lock().map_err(|_| LogError::Stopped)
    }
}

impl Drop for FileLog {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish what it has and stop.
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The one receipt of a single append.
fn only(receipts: Result<Vec<Receipt>, LogError>) -> Result<Receipt, LogError> {
    receipts?.pop().ok_or(LogError::Stopped)
}

/// The writer's answers to appends handed to it together, in order; the first error.
#[cfg(feature = "postgres")]
pub(crate) async fn receive_all(
    receivers: Vec<tokio::sync::oneshot::Receiver<Result<Receipt, LogError>>>,
) -> Result<Vec<Receipt>, LogError> {
    let mut receipts = Vec::with_capacity(receivers.len());
    for receiver in receivers {
        receipts.push(receiver.await.map_err(|_| LogError::Stopped)??);
    }
    Ok(receipts)
}

/// Reads a log back for opening: from the tree state of the last checkpoint if it holds,
/// else every record (see [`FileLog::open`]); checks it against the last checkpoint.
fn open_scan(dir: &Path) -> Result<OpenScan, LogError> {
    let reading = Reading {
        events: false,
        leaves: false,
        checkpoints: Checkpoints::Last,
    };
    if let Some(state) = state::read(dir).filter(|s| s.is_anchored_in(dir)) {
        // Anything that does not fit sends the opening to the full read, whose verdict
        // stands.
        if let Ok(scanned) = scan_from(dir, reading, Some(&state), None)
            && let Ok(last_checkpoint) = against_last_checkpoint(&scanned)
            && last_checkpoint.is_some()
        {
            let records = scanned.check.len();
            let opened = Opened {
                records,
                read: records - state.range.size(),
                from_state: true,
            };
            return Ok(OpenScan {
                scanned,
                last_checkpoint,
                opened,
                trusted: Some(state),
            });
        }
    }
    let scanned = scan(dir, reading).map_err(LogError::Damaged)?;
    let last_checkpoint = against_last_checkpoint(&scanned)?;
    let records = scanned.check.len();
    let opened = Opened {
        records,
        read: records,
        from_state: false,
    };
    Ok(OpenScan {
        scanned,
        last_checkpoint,
        opened,
        trusted: None,
    })
}

/// What opening read: the records' check, the last checkpoint's size and root, how, and the
/// tree state whose records it did not read.
struct OpenScan {
    scanned: Scanned,
    last_checkpoint: Option<(u64, Hash)>,
    opened: Opened,
    trusted: Option<TreeState>,
}

/// The last stored checkpoint's size and root, after checking that the log covers it with the
/// same root: every later checkpoint is made on top of the tree it signed (see
/// [`FileLog::checkpoint`]).
fn against_last_checkpoint(scanned: &Scanned) -> Result<Option<(u64, Hash)>, LogError> {
    let Some(note) = scanned.checkpoints.last() else {
        return Ok(None);
    };
    let index = scanned.checkpoints.len() - 1;
    let checkpoint = Checkpoint::of_note(note).map_err(|e| {
        LogError::Damaged(VerifyError::Checkpoint {
            index,
            detail: e.to_string(),
        })
    })?;
    let (size, root) = (checkpoint.size, checkpoint.root);
    let records = scanned.check.len();
    if size > records {
        return Err(LogError::ShorterThanCheckpoint { records, size });
    }
    if scanned.check.root_at(size) != Some(root) {
        return Err(LogError::Damaged(VerifyError::CheckpointRoot {
            index,
            size,
        }));
    }
    Ok(Some((size, root)))
}

/// fsyncs a directory, so that a new file in it survives a crash.
fn sync_dir(dir: &Path) -> Result<(), LogError> {
    Fs.sync_dir(dir).map_err(io)
}

/// What [`verify`] established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records read and checked.
    pub records: u64,
    /// Signed checkpoints checked.
    pub checkpoints: usize,
    /// The root over all records.
    pub root: Hash,
    /// Whether the checkpoints' signatures were checked ([`verify`]), or only their sizes and
    /// roots against the records ([`verify_structure`]).
    pub signatures_checked: bool,
}

/// Re-reads the whole log in `dir` and checks everything: every frame, the sequence, the
/// chain, and every stored checkpoint's signature (by `verifier`) and root. Read-only; it
/// also reports a torn tail, which opening the log would cut.
///
/// # Errors
///
/// The first [`VerifyError`] found.
pub fn verify(dir: &Path, verifier: &CheckpointVerifier) -> Result<VerifyReport, VerifyError> {
    verify_with(dir, Some(verifier))
}

/// [`verify`] without a verifier key: every frame, the sequence, the chain, and each stored
/// checkpoint's size and root against the records, but no signature. It shows a log whole as
/// far as it goes; only the signatures show it is the log whose checkpoints were handed out.
///
/// # Errors
///
/// The first [`VerifyError`] found.
pub fn verify_structure(dir: &Path) -> Result<VerifyReport, VerifyError> {
    verify_with(dir, None)
}

fn verify_with(
    dir: &Path,
    verifier: Option<&CheckpointVerifier>,
) -> Result<VerifyReport, VerifyError> {
    let scanned = scan(
        dir,
        Reading {
            events: false,
            leaves: false,
            checkpoints: Checkpoints::All,
        },
    )?;
    if let Some(torn) = scanned.torn_tail {
        return Err(torn);
    }
    scan::check_checkpoints(&scanned.check, &scanned.checkpoints, verifier)?;
    if let Some(offset) = scanned.unfinished_checkpoint {
        // Reported, like a torn record tail: opening the log cuts it.
        return Err(VerifyError::Checkpoint {
            index: scanned.checkpoints.len(),
            detail: format!("unfinished write at byte {offset}"),
        });
    }
    Ok(VerifyReport {
        records: scanned.check.len(),
        checkpoints: scanned.checkpoints.len(),
        root: scanned.check.range().root(),
        signatures_checked: verifier.is_some(),
    })
}

/// Every event in the log in `dir`, with its sequence number, after the same checks as
/// [`verify`] makes without a key (frames, sequence, chain). A torn tail is left out.
///
/// # Errors
///
/// The first [`VerifyError`]; an event that does not parse is reported as a damaged frame.
pub fn read_events(dir: &Path) -> Result<Vec<(u64, AuditEvent)>, VerifyError> {
    let scanned = scan(
        dir,
        Reading {
            events: true,
            leaves: false,
            checkpoints: Checkpoints::None,
        },
    )?;
    scanned
        .events
        .iter()
        .map(|(seq, json)| {
            serde_json::from_slice(json)
                .map(|event| (*seq, event))
                .map_err(|e| VerifyError::Io {
                    path: dir.display().to_string(),
                    detail: format!("record {seq}: the event does not parse: {e}"),
                })
        })
        .collect()
}
