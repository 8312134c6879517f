//! Reading a log directory back: every segment, record by record, checking what can be
//! checked without a key (frames, sequence, chain), and the stored checkpoints.

use std::fs;
use std::path::{Path, PathBuf};

use super::record::{CHAIN_START, Frame, Record, chain_next, read_frame};
use crate::merkle::Hash;

/// The name of a segment holding records from `first_seq` on.
pub(crate) fn segment_name(first_seq: u64) -> String {
    format!("segment-{first_seq:020}.log")
}

/// The file of stored checkpoints.
pub(crate) const CHECKPOINTS: &str = "checkpoints.log";

/// Why a log does not read back as an intact log. Each names the first place that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A file could not be read.
    #[error("cannot read {path}: {detail}")]
    Io {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// A record's frame is damaged (bad checksum or impossible length) where the log goes on.
    #[error("record {seq}: damaged frame in {segment} at byte {offset}")]
    Frame {
        /// The sequence number the record should have had.
        seq: u64,
        /// The segment file.
        segment: String,
        /// Its byte offset.
        offset: usize,
    },
    /// An unfinished write at the end of the log (a crash mid-append); opening the log for
    /// writing removes it, since it was never acknowledged.
    #[error("unfinished record {seq} at the end of {segment} (byte {offset})")]
    TornTail {
        /// The sequence number it would have had.
        seq: u64,
        /// The segment file.
        segment: String,
        /// Its byte offset.
        offset: usize,
    },
    /// A record is not the one expected next: one was dropped, duplicated or moved.
    #[error("record {expected} expected, record {found} found")]
    Sequence {
        /// The sequence number expected.
        expected: u64,
        /// The one found.
        found: u64,
    },
    /// A record's content does not match its chain hash: it was changed.
    #[error("record {seq} was changed: its chain hash does not match")]
    Chain {
        /// The record.
        seq: u64,
    },
    /// A segment's name does not match the first record in it.
    #[error("segment {segment} does not start with record {expected}")]
    SegmentName {
        /// The segment file.
        segment: String,
        /// The record it should start with.
        expected: u64,
    },
    /// A stored checkpoint is damaged or not validly signed.
    #[error("checkpoint {index}: {detail}")]
    Checkpoint {
        /// Its position in the checkpoint file.
        index: usize,
        /// What is wrong.
        detail: String,
    },
    /// A signed checkpoint covers more records than the log has: records were removed.
    #[error(
        "checkpoint {index} covers {size} records, the log has {records}: records were removed"
    )]
    CheckpointBeyondLog {
        /// Its position.
        index: usize,
        /// Its tree size.
        size: u64,
        /// The records found.
        records: u64,
    },
    /// A signed checkpoint's root is not the root of the log's first records: history was
    /// rewritten.
    #[error("checkpoint {index} (size {size}) does not match the log: history was rewritten")]
    CheckpointRoot {
        /// Its position.
        index: usize,
        /// Its tree size.
        size: u64,
    },
}

/// What a scan found.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    /// Every record's leaf hash, in order.
    pub(crate) leaves: Vec<Hash>,
    /// The chain hash after the last record.
    pub(crate) chain: Hash,
    /// The last segment and its valid length, if any.
    pub(crate) last_segment: Option<(PathBuf, u64)>,
    /// A torn tail found (and left alone) in the last segment: its offset.
    pub(crate) torn_tail: Option<VerifyError>,
    /// The stored checkpoint notes, in order.
    pub(crate) checkpoints: Vec<String>,
    /// The events' JSON with their sequence numbers, in order, when asked for (pruned
    /// records have none).
    pub(crate) events: Vec<(u64, Vec<u8>)>,
}

fn io(path: &Path, e: impl std::fmt::Display) -> VerifyError {
    VerifyError::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// The segment files of `dir`, in order.
pub(crate) fn segments(dir: &Path) -> Result<Vec<PathBuf>, VerifyError> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("segment-") && n.ends_with(".log"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Reads every record and checkpoint of `dir`. A torn tail in the last segment is reported in
/// [`Scanned::torn_tail`]; anything else wrong is an error.
pub(crate) fn scan(dir: &Path, keep_events: bool) -> Result<Scanned, VerifyError> {
    let mut scanned = Scanned::default();
    let files = segments(dir)?;
    let count = files.len();
    let mut check = ChainCheck::new();
    for (i, path) in files.into_iter().enumerate() {
        let is_last = i + 1 == count;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        let expected_first = check.leaves.len() as u64;
        if name != segment_name(expected_first) {
            return Err(VerifyError::SegmentName {
                segment: name,
                expected: expected_first,
            });
        }
        let bytes = fs::read(&path).map_err(|e| io(&path, e))?;
        let mut offset = 0usize;
        while offset < bytes.len() {
            let seq = check.leaves.len() as u64;
            let rest = bytes.get(offset..).unwrap_or(&[]);
            // In the last segment, what an interrupted write leaves behind is the tail: a
            // frame cut short, one whose stated length runs to the end of the file, or bytes
            // that are all zero (space the file system allocated but never filled).
            let torn = is_last && (rest.iter().all(|&b| b == 0) || frame_reaches_end(rest));
            let record = match read_frame(rest) {
                Frame::Good(payload, used) => Record::from_payload(payload).map(|r| (r, used)),
                Frame::Incomplete | Frame::Bad => None,
            };
            let Some((record, used)) = record else {
                if torn {
                    scanned.torn_tail = Some(VerifyError::TornTail {
                        seq,
                        segment: name.clone(),
                        offset,
                    });
                    break;
                }
                return Err(VerifyError::Frame {
                    seq,
                    segment: name,
                    offset,
                });
            };
            check.push(&record)?;
            if keep_events && record.pruned.is_none() {
                scanned.events.push((record.seq, record.event));
            }
            offset += used;
        }
        if is_last {
            scanned.last_segment = Some((path, offset as u64));
        }
    }
    scanned.leaves = check.leaves;
    scanned.chain = check.chain;
    scanned.checkpoints = read_checkpoints(dir)?;
    Ok(scanned)
}

/// Checks records in log order: each has the next sequence number and its chain hash.
#[derive(Debug)]
pub(crate) struct ChainCheck {
    pub(crate) leaves: Vec<Hash>,
    pub(crate) chain: Hash,
}

impl ChainCheck {
    pub(crate) fn new() -> Self {
        Self {
            leaves: Vec::new(),
            chain: CHAIN_START,
        }
    }

    /// Accepts the next record, or names what is wrong with it.
    pub(crate) fn push(&mut self, record: &Record) -> Result<(), VerifyError> {
        let seq = self.leaves.len() as u64;
        if record.seq != seq {
            return Err(VerifyError::Sequence {
                expected: seq,
                found: record.seq,
            });
        }
        let leaf = record.leaf_hash();
        let chain = chain_next(&self.chain, &leaf);
        if chain != record.chain {
            return Err(VerifyError::Chain { seq });
        }
        self.chain = chain;
        self.leaves.push(leaf);
        Ok(())
    }
}

/// Checks every signed checkpoint against the leaves: its signature, that it does not cover
/// more records than there are, and that its root is the root of that many leaves. Returns
/// how many were checked.
pub(crate) fn check_checkpoints(
    leaves: &[Hash],
    notes: &[String],
    verifier: &crate::checkpoint::CheckpointVerifier,
) -> Result<usize, VerifyError> {
    for (index, note) in notes.iter().enumerate() {
        let checkpoint = verifier.verify(note).map_err(|e| VerifyError::Checkpoint {
            index,
            detail: e.to_string(),
        })?;
        let Some(prefix) = leaves.get(..checkpoint.size as usize) else {
            return Err(VerifyError::CheckpointBeyondLog {
                index,
                size: checkpoint.size,
                records: leaves.len() as u64,
            });
        };
        if crate::merkle::root(prefix) != checkpoint.root {
            return Err(VerifyError::CheckpointRoot {
                index,
                size: checkpoint.size,
            });
        }
    }
    Ok(notes.len())
}

/// Whether a bad frame is the last thing in the file (its stated length reaches the end): the
/// shape of a write cut off by a crash, as opposed to damage in the middle of a log.
fn frame_reaches_end(rest: &[u8]) -> bool {
    let Some((length, _)) = rest.split_first_chunk::<4>() else {
        return true;
    };
    let end = super::record::FRAME_HEADER.saturating_add(u32::from_le_bytes(*length) as usize);
    end >= rest.len()
}

/// The stored checkpoint notes.
pub(crate) fn read_checkpoints(dir: &Path) -> Result<Vec<String>, VerifyError> {
    let path = dir.join(CHECKPOINTS);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(&path, e)),
    };
    let mut notes = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let rest = bytes.get(offset..).unwrap_or(&[]);
        let Frame::Good(payload, used) = read_frame(rest) else {
            return Err(VerifyError::Checkpoint {
                index: notes.len(),
                detail: format!("damaged frame at byte {offset}"),
            });
        };
        let note = String::from_utf8(payload.to_vec()).map_err(|_| VerifyError::Checkpoint {
            index: notes.len(),
            detail: "not UTF-8".to_owned(),
        })?;
        notes.push(note);
        offset += used;
    }
    Ok(notes)
}
