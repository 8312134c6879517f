//! The tree state stored with each checkpoint, so that opening a log need not read the records
//! that checkpoint covers.
//!
//! `tree-state` holds one frame (as `record.rs` frames records: length, CRC-32C, payload)
//! whose payload is `MAGIC ‖ size ‖ chain (32 bytes) ‖ segment ‖ start ‖ end ‖ peaks`: the
//! number of records, the chain hash after the last one, where that last record lies (the
//! first sequence number of its segment, and its frame's first and end byte), and the tree's
//! right edge (one 32-byte peak per set bit of the size). Integers are u64 little-endian.
//!
//! The state is a cache, never the truth: opening takes it up only when the record it names
//! is there with its chain hash and the tree it describes has the last signed checkpoint's
//! root, reads every record otherwise, and reads the records under it back afterwards (the
//! log refuses appends if they do not end with the state). It is replaced atomically (a
//! temporary file, synced, renamed) and removed before a prune rewrites segments.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::record::{FRAMED, Frame, MAX_EVENT_LEN, Record, frame, read_frame};
use super::scan::segment_name;
use super::{LogError, io, sync_dir};
use crate::merkle::{CompactRange, Hash};

/// The file's name in a log directory.
pub(crate) const STATE: &str = "tree-state";

/// What the payload starts with: the format and its version.
const MAGIC: &[u8] = b"zvp-tree-state 1";

/// Where a record's frame lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    /// The first sequence number of its segment (which names the file).
    pub(crate) segment: u64,
    /// Its frame's first byte in the segment.
    pub(crate) start: u64,
    /// The byte after its frame.
    pub(crate) end: u64,
}

/// A log's tree after its last record, and where that record lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TreeState {
    /// The tree's right edge; its size is the number of records.
    pub(crate) range: CompactRange,
    /// The chain hash after the last record.
    pub(crate) chain: Hash,
    /// Where the last record lies.
    pub(crate) last: Position,
}

impl TreeState {
    /// The state as the file holds it.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::with_capacity(MAGIC.len() + 4 * 8 + 32 * (1 + 64));
        payload.extend_from_slice(MAGIC);
        payload.extend_from_slice(&self.range.size().to_le_bytes());
        payload.extend_from_slice(&self.chain);
        for n in [self.last.segment, self.last.start, self.last.end] {
            payload.extend_from_slice(&n.to_le_bytes());
        }
        for peak in self.range.peaks() {
            payload.extend_from_slice(peak);
        }
        frame(&payload)
    }

    /// The state in a file's bytes, if they hold exactly one intact state of a log with at
    /// least one record.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let Frame::Good(payload, used) = read_frame(bytes) else {
            return None;
        };
        if used != bytes.len() {
            return None;
        }
        let rest = payload.strip_prefix(MAGIC)?;
        let (size, rest) = split_u64(rest)?;
        let (chain, rest) = rest.split_first_chunk::<32>()?;
        let (segment, rest) = split_u64(rest)?;
        let (start, rest) = split_u64(rest)?;
        let (end, rest) = split_u64(rest)?;
        let (peaks, tail) = rest.as_chunks::<32>();
        // The last record's frame is one record's: no larger than the largest event makes it.
        let record_bytes = end.checked_sub(start)?;
        if !tail.is_empty() || size == 0 || record_bytes == 0 || record_bytes > LARGEST_FRAME {
            return None;
        }
        Some(Self {
            range: CompactRange::from_peaks(size, peaks.to_vec())?,
            chain: *chain,
            last: Position {
                segment,
                start,
                end,
            },
        })
    }

    /// Whether the log in `dir` holds the record this state ends with, where the state says,
    /// with the state's chain hash: the check that ties the state to the files before they
    /// are read back (a history rewritten with its chain changes the last chain hash too).
    pub(crate) fn is_anchored_in(&self, dir: &Path) -> bool {
        let Some(length) = self
            .last
            .end
            .checked_sub(self.last.start)
            .and_then(|n| usize::try_from(n).ok())
        else {
            return false;
        };
        let mut bytes = vec![0; length];
        let read =
            std::fs::File::open(dir.join(segment_name(self.last.segment))).and_then(|mut f| {
                f.seek(SeekFrom::Start(self.last.start))?;
                f.read_exact(&mut bytes)
            });
        if read.is_err() {
            return false;
        }
        let Frame::Good(payload, used) = read_frame(&bytes) else {
            return false;
        };
        used == length
            && Record::from_payload(payload).is_some_and(|record| {
                record.seq + 1 == self.range.size() && record.chain == self.chain
            })
    }
}

/// The largest frame a record can have.
const LARGEST_FRAME: u64 = (FRAMED + MAX_EVENT_LEN) as u64;

/// The most bytes a state file can hold: 64 peaks and the rest.
const LARGEST_STATE: u64 = 4096;

fn split_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (n, rest) = bytes.split_first_chunk::<8>()?;
    Some((u64::from_le_bytes(*n), rest))
}

/// The state stored in `dir`, if there is an intact one.
pub(crate) fn read(dir: &Path) -> Option<TreeState> {
    let mut bytes = Vec::new();
    std::fs::File::open(dir.join(STATE))
        .ok()?
        .take(LARGEST_STATE + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    TreeState::decode(&bytes)
}

/// Replaces the state stored in `dir`: a temporary file, synced, renamed over the old one, and
/// the directory synced — a crash leaves the old state or the new one, never half of one.
pub(crate) fn write(dir: &Path, state: &TreeState) -> Result<(), LogError> {
    let temporary = dir.join(format!("{STATE}.new"));
    let mut file = std::fs::File::create(&temporary).map_err(io)?;
    std::io::Write::write_all(&mut file, &state.encode()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&temporary, dir.join(STATE)).map_err(io)?;
    sync_dir(dir)
}

/// Removes the state stored in `dir`, durably, if there is one.
pub(crate) fn remove(dir: &Path) -> Result<(), LogError> {
    match std::fs::remove_file(dir.join(STATE)) {
        Ok(()) => sync_dir(dir),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(size: u64) -> TreeState {
        let leaves: Vec<Hash> = (0..size).map(|i| [i as u8; 32]).collect();
        TreeState {
            range: CompactRange::of(&leaves),
            chain: [9; 32],
            last: Position {
                segment: 40,
                start: 1000,
                end: 1700,
            },
        }
    }

    #[test]
    fn a_state_reads_back_as_written() {
        for size in [1, 2, 3, 7, 64, 1000] {
            let s = state(size);
            assert_eq!(TreeState::decode(&s.encode()), Some(s));
        }
    }

    #[test]
    fn damaged_or_foreign_bytes_are_no_state() {
        let bytes = state(13).encode();
        for i in 0..bytes.len() {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0x20;
            assert_eq!(TreeState::decode(&flipped), None, "byte {i}");
        }
        assert_eq!(TreeState::decode(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(TreeState::decode(&longer), None);
        assert_eq!(TreeState::decode(b""), None);
    }

    #[test]
    fn impossible_states_are_refused() {
        // Peaks that do not fit the size, an empty log, a frame that ends before it starts.
        let mut wrong_peaks = state(13);
        wrong_peaks.range = CompactRange::of(&[[1; 32]; 12]);
        let mut payload = wrong_peaks.encode();
        // Say 13 records over 12's peaks: re-frame the changed payload.
        payload.drain(..8);
        let size_at = MAGIC.len();
        payload[size_at..size_at + 8].copy_from_slice(&13u64.to_le_bytes());
        assert_eq!(TreeState::decode(&frame(&payload)), None);
        let mut backwards = state(5);
        backwards.last.end = backwards.last.start;
        assert_eq!(TreeState::decode(&backwards.encode()), None);
        // A last "record" larger than any record can be.
        let mut huge = state(5);
        huge.last.end = huge.last.start + LARGEST_FRAME + 1;
        assert_eq!(TreeState::decode(&huge.encode()), None);
        huge.last.end -= 1;
        assert!(TreeState::decode(&huge.encode()).is_some());
    }
}
