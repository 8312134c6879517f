//! Reading a log directory back: every segment, record by record, checking what can be
//! checked without a key (frames, sequence, chain), and the stored checkpoints.

use std::fs;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use super::record::{CHAIN_START, Frame, Record, chain_next, read_frame};
use super::state::{Position, TreeState};
use crate::merkle::{CompactRange, Hash};

/// The name of a segment holding records from `first_seq` on.
pub(crate) fn segment_name(first_seq: u64) -> String {
    format!("segment-{first_seq:020}.log")
}

/// The file of stored checkpoints.
pub(crate) const CHECKPOINTS: &str = "checkpoints.log";

/// Why a log does not read back as an intact log. Each names the first place that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
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
    /// The records under the tree state stored with a checkpoint end with another chain hash
    /// or another tree than the state holds: history was rewritten beneath it.
    #[error(
        "the first {size} records do not end with the tree state of the last checkpoint: history was rewritten"
    )]
    TreeState {
        /// The state's tree size.
        size: u64,
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
#[derive(Debug)]
pub(crate) struct Scanned {
    /// The records' chain and tree, with the roots the stored checkpoints need (and every
    /// leaf hash, when asked for).
    pub(crate) check: ChainCheck,
    /// The last segment, its first sequence number and its valid length, if any.
    pub(crate) last_segment: Option<(PathBuf, u64, u64)>,
    /// Where the last record lies, if there is one.
    pub(crate) last_record: Option<Position>,
    /// A torn tail found (and left alone) in the last segment: its offset.
    pub(crate) torn_tail: Option<VerifyError>,
    /// Where an unfinished last frame of `checkpoints.log` starts (left alone), if it has one.
    pub(crate) unfinished_checkpoint: Option<u64>,
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

/// What a [`scan`] keeps besides the chain check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reading {
    /// The events' JSON.
    pub(crate) events: bool,
    /// Every leaf hash (for proofs).
    pub(crate) leaves: bool,
    /// Which stored checkpoints to read, and take roots for.
    pub(crate) checkpoints: Checkpoints,
}

/// Which stored checkpoints a [`scan`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checkpoints {
    /// None (proofs and reports: a checkpoint being written meanwhile is no concern of theirs).
    None,
    /// All, with the root of each one's size (verification).
    All,
    /// All, with the root of the last one's size only (opening the log).
    Last,
}

/// Reads every record of `dir` and the checkpoints asked for, keeping the events and the leaf
/// hashes only when asked (otherwise the tree's right edge and the roots the checkpoints need:
/// memory that does not grow with the log). A torn tail in the last segment is reported in
/// [`Scanned::torn_tail`]; anything else wrong is an error — the first bad record before a
/// damaged checkpoint file.
pub(crate) fn scan(dir: &Path, reading: Reading) -> Result<Scanned, VerifyError> {
    scan_from(dir, reading, None, None)
}

/// [`scan`], starting after the records a stored tree state covers when `from` is given (the
/// state is taken as it is: its records are not read), and stopping after `until` records when
/// that is given. Without leaves: a resumed scan has only the tree's edge of what it skipped.
pub(crate) fn scan_from(
    dir: &Path,
    reading: Reading,
    from: Option<&TreeState>,
    until: Option<u64>,
) -> Result<Scanned, VerifyError> {
    // The checkpoints first: their sizes are the roots to take on the way. A damaged
    // checkpoint file is reported after the records, so that it does not hide a bad one.
    let StoredCheckpoints {
        notes: checkpoints,
        damaged: damaged_checkpoints,
        unfinished: unfinished_checkpoint,
    } = match reading.checkpoints {
        Checkpoints::None => StoredCheckpoints::default(),
        Checkpoints::All | Checkpoints::Last => read_checkpoints(dir)?,
    };
    let sizes = checkpoint_sizes(&checkpoints);
    let sizes = match reading.checkpoints {
        Checkpoints::Last => sizes.last().copied().into_iter().collect(),
        Checkpoints::All | Checkpoints::None => sizes,
    };
    let keep_events = reading.events;
    let mut check = match from {
        Some(state) => ChainCheck::resume(state, sizes),
        None => ChainCheck::new(reading.leaves, sizes),
    };
    let mut scanned_events = Vec::new();
    let mut last_segment = None;
    let mut last_record = from.map(|state| state.last);
    let mut torn_tail = None;
    let mut files = segments(dir)?;
    if let Some(state) = from {
        // The segments before the one the state's last record is in hold only records it
        // covers.
        let first = segment_name(state.last.segment);
        files.retain(|path| path.file_name().and_then(|n| n.to_str()) >= Some(first.as_str()));
        if files.is_empty() {
            return Err(VerifyError::SegmentName {
                segment: first,
                expected: state.last.segment,
            });
        }
    }
    let count = files.len();
    'segments: for (i, path) in files.into_iter().enumerate() {
        if until == Some(check.len()) {
            break;
        }
        let is_last = i + 1 == count;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        // Where this segment's records start: after the state's last record in its segment,
        // else at the top of a segment named by its first record.
        let (first_seq, start) = match from {
            Some(state) if i == 0 => (state.last.segment, state.last.end),
            _ => (check.len(), 0),
        };
        if name != segment_name(first_seq) {
            return Err(VerifyError::SegmentName {
                segment: name,
                expected: first_seq,
            });
        }
        // The bytes from `start` on (a resumed segment is not read from its top).
        let base = usize::try_from(start).unwrap_or(usize::MAX);
        let Some(bytes) = read_from(&path, start).map_err(|e| io(&path, e))? else {
            // The state's last record ends beyond the file: the file is not the one it saw.
            return Err(VerifyError::Frame {
                seq: check.len(),
                segment: name,
                offset: base,
            });
        };
        let end = base.saturating_add(bytes.len());
        let mut offset = base;
        while offset < end {
            let seq = check.len();
            if until == Some(seq) {
                break 'segments;
            }
            let rest = bytes.get(offset - base..).unwrap_or(&[]);
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
                    torn_tail = Some(VerifyError::TornTail {
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
                scanned_events.push((record.seq, record.event));
            }
            last_record = Some(Position {
                segment: first_seq,
                start: offset as u64,
                end: (offset + used) as u64,
            });
            offset += used;
        }
        if is_last {
            last_segment = Some((path, first_seq, offset as u64));
        }
    }
    if let Some(damaged) = damaged_checkpoints {
        return Err(damaged);
    }
    Ok(Scanned {
        check,
        last_segment,
        last_record,
        torn_tail,
        unfinished_checkpoint,
        checkpoints,
        events: scanned_events,
    })
}

/// The bytes of the file at `path` from byte `start` on; `None` if it is shorter.
fn read_from(path: &Path, start: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = fs::File::open(path)?;
    let length = file.metadata()?.len();
    if start > length {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity(usize::try_from(length - start).unwrap_or(0));
    file.read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Checks records in log order: each has the next sequence number and its chain hash. Keeps
/// the tree's right edge, the roots at the sizes asked for (the stored checkpoints'), and every
/// leaf hash only when asked.
#[derive(Debug)]
pub(crate) struct ChainCheck {
    range: CompactRange,
    chain: Hash,
    leaves: Option<Vec<Hash>>,
    roots: BTreeMap<u64, Hash>,
    wanted: Vec<u64>,
}

impl ChainCheck {
    /// A check before the first record, keeping every leaf hash if `keep_leaves`, and the
    /// roots of the trees of the `sizes` given.
    pub(crate) fn new(keep_leaves: bool, sizes: impl IntoIterator<Item = u64>) -> Self {
        let mut wanted: Vec<u64> = sizes.into_iter().collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut roots = BTreeMap::new();
        if wanted.first() == Some(&0) {
            roots.insert(0, crate::merkle::empty_root());
        }
        Self {
            range: CompactRange::new(),
            chain: CHAIN_START,
            leaves: keep_leaves.then(Vec::new),
            roots,
            wanted,
        }
    }

    /// A check that goes on after the records a stored tree state covers, taking the roots
    /// of the `sizes` given from there on (and the state's own, if asked for).
    pub(crate) fn resume(state: &TreeState, sizes: impl IntoIterator<Item = u64>) -> Self {
        let mut check = Self::new(false, sizes);
        check.range = state.range.clone();
        check.chain = state.chain;
        let size = check.len();
        if check.wanted.binary_search(&size).is_ok() {
            check.roots.insert(size, check.range.root());
        }
        check
    }

    /// The records accepted so far.
    pub(crate) const fn len(&self) -> u64 {
        self.range.size()
    }

    /// The chain hash after the last record.
    pub(crate) const fn chain(&self) -> Hash {
        self.chain
    }

    /// The tree so far.
    pub(crate) const fn range(&self) -> &CompactRange {
        &self.range
    }

    /// The root of the tree of `size` records: the current one, or one of the sizes asked
    /// for that the check has passed.
    pub(crate) fn root_at(&self, size: u64) -> Option<Hash> {
        if size == self.len() {
            Some(self.range.root())
        } else {
            self.roots.get(&size).copied()
        }
    }

    /// Every leaf hash, if the check was asked to keep them (else none).
    pub(crate) fn into_leaves(self) -> Vec<Hash> {
        self.leaves.unwrap_or_default()
    }

    /// Accepts the next record, or names what is wrong with it.
    pub(crate) fn push(&mut self, record: &Record) -> Result<(), VerifyError> {
        let seq = self.len();
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
        self.range.push(leaf);
        if let Some(leaves) = &mut self.leaves {
            leaves.push(leaf);
        }
        let size = self.len();
        if self.wanted.binary_search(&size).is_ok() {
            self.roots.insert(size, self.range.root());
        }
        Ok(())
    }
}

/// The tree sizes of the stored checkpoints whose bodies read (a damaged one is reported by
/// [`check_checkpoints`]).
pub(crate) fn checkpoint_sizes(notes: &[String]) -> Vec<u64> {
    notes
        .iter()
        .filter_map(|note| crate::checkpoint::Checkpoint::of_note(note).ok())
        .map(|c| c.size)
        .collect()
}

/// Checks every signed checkpoint against the records: its signature, that it does not cover
/// more records than there are, and that its root is the root of that many leaves (`check`
/// was made with the checkpoints' sizes, see [`checkpoint_sizes`]). Returns how many were
/// checked.
///
/// Without a `verifier` the signatures are not checked; each checkpoint's size and root still
/// are, against the records.
pub(crate) fn check_checkpoints(
    check: &ChainCheck,
    notes: &[String],
    verifier: Option<&crate::checkpoint::CheckpointVerifier>,
) -> Result<usize, VerifyError> {
    for (index, note) in notes.iter().enumerate() {
        let checkpoint = match verifier {
            Some(verifier) => verifier.verify(note),
            None => crate::checkpoint::Checkpoint::of_note(note),
        }
        .map_err(|e| VerifyError::Checkpoint {
            index,
            detail: e.to_string(),
        })?;
        if checkpoint.size > check.len() {
            return Err(VerifyError::CheckpointBeyondLog {
                index,
                size: checkpoint.size,
                records: check.len(),
            });
        }
        if check.root_at(checkpoint.size) != Some(checkpoint.root) {
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

/// What `checkpoints.log` holds.
#[derive(Debug, Default)]
struct StoredCheckpoints {
    /// The notes up to the first damaged or unfinished one.
    notes: Vec<String>,
    /// What is wrong with the first damaged one.
    damaged: Option<VerifyError>,
    /// Where an unfinished last frame starts: a checkpoint whose write a crash cut off (never
    /// returned to its caller, which [`FileLog::checkpoint`](super::FileLog::checkpoint) does
    /// only after the sync).
    unfinished: Option<u64>,
}

/// The longest frame a checkpoint note is written in; what follows a frame cut short is an
/// unfinished write only if it is no longer than this.
const LONGEST_NOTE_FRAME: usize = 16 * 1024;

/// Whether `rest` (after a frame that does not read) is too long to be one unfinished note, or
/// holds a whole frame further on: then the frame that does not read is damage (a damaged
/// length field, say), not a write a crash cut off, and nothing after it may be cut.
fn holds_a_frame(rest: &[u8]) -> bool {
    if rest.len() > LONGEST_NOTE_FRAME {
        return true;
    }
    (1..rest.len()).any(|at| {
        // (Zeros read as an empty frame: only a frame with a payload counts.)
        matches!(read_frame(rest.get(at..).unwrap_or(&[])), Frame::Good(payload, _) if !payload.is_empty())
    })
}

/// The stored checkpoint notes up to the first damaged one, and what is wrong with that one.
fn read_checkpoints(dir: &Path) -> Result<StoredCheckpoints, VerifyError> {
    let path = dir.join(CHECKPOINTS);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(StoredCheckpoints::default());
        }
        Err(e) => return Err(io(&path, e)),
    };
    let mut stored = StoredCheckpoints::default();
    let mut offset = 0;
    while offset < bytes.len() {
        let rest = bytes.get(offset..).unwrap_or(&[]);
        // Space the file system allocated but never filled (zeros read as an empty frame).
        let zeros = rest.iter().all(|&b| b == 0);
        let frame = if zeros {
            Frame::Incomplete
        } else {
            read_frame(rest)
        };
        let Frame::Good(payload, used) = frame else {
            // Cut short or never filled: a write that did not finish. A whole frame that does
            // not check is damage.
            if frame == Frame::Incomplete && !holds_a_frame(rest) {
                stored.unfinished = Some(offset as u64);
            } else {
                stored.damaged = Some(VerifyError::Checkpoint {
                    index: stored.notes.len(),
                    detail: format!("damaged frame at byte {offset}"),
                });
            }
            return Ok(stored);
        };
        let Ok(note) = String::from_utf8(payload.to_vec()) else {
            stored.damaged = Some(VerifyError::Checkpoint {
                index: stored.notes.len(),
                detail: "not UTF-8".to_owned(),
            });
            return Ok(stored);
        };
        stored.notes.push(note);
        offset += used;
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::record::leaf_of;
    use crate::merkle::{empty_root, root};

    /// `n` records chained from the start, as a writer makes them.
    fn records(n: u64) -> Vec<Record> {
        let mut chain = CHAIN_START;
        (0..n)
            .map(|seq| {
                let salt = [seq as u8; 16];
                let event = format!("{{\"n\":{seq}}}").into_bytes();
                chain = chain_next(&chain, &leaf_of(&salt, &event));
                Record {
                    seq,
                    salt,
                    chain,
                    event,
                    pruned: None,
                }
            })
            .collect()
    }

    #[test]
    fn a_check_keeps_the_roots_it_was_asked_for_and_no_more() {
        let all = records(300);
        let leaves: Vec<Hash> = all.iter().map(Record::leaf_hash).collect();
        let mut check = ChainCheck::new(false, [0, 1, 77, 256, 77, 1000]);
        for record in &all {
            check.push(record).unwrap();
        }
        assert_eq!(check.len(), 300);
        assert_eq!(check.chain(), all[299].chain);
        assert_eq!(check.root_at(0), Some(empty_root()));
        for size in [1usize, 77, 256, 300] {
            assert_eq!(
                check.root_at(size as u64),
                Some(root(&leaves[..size])),
                "{size}"
            );
        }
        // Sizes not asked for (and beyond the log) have no root; no leaves were kept.
        assert_eq!(check.root_at(78), None);
        assert_eq!(check.root_at(1000), None);
        assert!(check.into_leaves().is_empty());

        let mut keeping = ChainCheck::new(true, []);
        for record in &all[..10] {
            keeping.push(record).unwrap();
        }
        assert_eq!(keeping.into_leaves(), leaves[..10]);
    }

    #[test]
    fn a_check_names_the_first_record_out_of_place() {
        let all = records(5);
        let mut check = ChainCheck::new(false, []);
        check.push(&all[0]).unwrap();
        assert_eq!(
            check.push(&all[2]),
            Err(VerifyError::Sequence {
                expected: 1,
                found: 2
            })
        );
        let mut changed = all[1].clone();
        changed.event.push(b' ');
        assert_eq!(check.push(&changed), Err(VerifyError::Chain { seq: 1 }));
        assert_eq!(check.len(), 1);
    }
}
