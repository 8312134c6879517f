//! One stored record and its frame on disk.
//!
//! A frame is `length (u32 LE) ‖ CRC-32C of the payload (u32 LE) ‖ payload`, and the payload
//! `sequence number (u64 LE) ‖ salt (16 bytes) ‖ chain hash (32 bytes) ‖ event (JSON)`. The
//! CRC finds torn and damaged writes; the chain hash — `SHA-256(previous chain ‖ leaf hash)` —
//! and the Merkle tree over the leaves find every change a CRC would let through.

use aws_lc_rs::digest::{Context, SHA256};

use crate::merkle::Hash;

/// The largest event accepted, in bytes of JSON. An audit event is well under 2 KB; the bound
/// keeps a damaged length field from making a reader allocate gigabytes.
pub const MAX_EVENT_LEN: usize = 64 * 1024;

/// Bytes before the event in a payload.
const PAYLOAD_HEADER: usize = 8 + 16 + 32;

/// Bytes before the payload in a frame.
pub(crate) const FRAME_HEADER: usize = 8;

/// Bytes of a record's frame besides its event.
pub(crate) const FRAMED: usize = FRAME_HEADER + PAYLOAD_HEADER;

/// The chain hash before the first record.
pub(crate) const CHAIN_START: Hash = [0; 32];

/// Marks a pruned record in the sequence-number field of its payload (sequence numbers never
/// reach 2^63).
const PRUNED: u64 = 1 << 63;

/// A record: an event with its place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) seq: u64,
    pub(crate) salt: [u8; 16],
    pub(crate) chain: Hash,
    pub(crate) event: Vec<u8>,
    /// For a record whose event was pruned after its retention: the leaf hash it had. Salt and
    /// event are then empty; the chain and the tree stay as they were (docs/audit.md, "Retention").
    pub(crate) pruned: Option<Hash>,
}

impl Record {
    /// The Merkle leaf's hash: over the salt and the event, so that a proof reveals nothing
    /// that would let anyone confirm a guess about a low-entropy event (docs/audit.md, "Private proofs").
    pub(crate) fn leaf_hash(&self) -> Hash {
        self.pruned
            .unwrap_or_else(|| leaf_of(&self.salt, &self.event))
    }

    /// The same record with its event pruned: only its leaf hash and chain hash remain.
    pub(crate) fn pruned(&self) -> Self {
        Self {
            seq: self.seq,
            salt: [0; 16],
            chain: self.chain,
            event: Vec::new(),
            pruned: Some(self.leaf_hash()),
        }
    }

    /// The record as a frame.
    pub(crate) fn frame(&self) -> Vec<u8> {
        if let Some(leaf) = self.pruned {
            let mut payload = (self.seq | PRUNED).to_le_bytes().to_vec();
            payload.extend_from_slice(&self.chain);
            payload.extend_from_slice(&leaf);
            return frame(&payload);
        }
        let mut payload = Vec::with_capacity(PAYLOAD_HEADER + self.event.len());
        payload.extend_from_slice(&self.seq.to_le_bytes());
        payload.extend_from_slice(&self.salt);
        payload.extend_from_slice(&self.chain);
        payload.extend_from_slice(&self.event);
        frame(&payload)
    }

    /// The record in a payload, if it has the shape of one.
    pub(crate) fn from_payload(payload: &[u8]) -> Option<Self> {
        let (seq, rest) = payload.split_first_chunk::<8>()?;
        let seq = u64::from_le_bytes(*seq);
        if seq & PRUNED != 0 {
            let (chain, rest) = rest.split_first_chunk::<32>()?;
            let (leaf, rest) = rest.split_first_chunk::<32>()?;
            return rest.is_empty().then_some(Self {
                seq: seq & !PRUNED,
                salt: [0; 16],
                chain: *chain,
                event: Vec::new(),
                pruned: Some(*leaf),
            });
        }
        let (salt, rest) = rest.split_first_chunk::<16>()?;
        let (chain, event) = rest.split_first_chunk::<32>()?;
        Some(Self {
            seq,
            salt: *salt,
            chain: *chain,
            event: event.to_vec(),
            pruned: None,
        })
    }
}

/// The leaf hash of a salted event: [`crate::merkle::leaf_hash`] of `salt ‖ event`, hashed
/// in place.
pub(crate) fn leaf_of(salt: &[u8; 16], event: &[u8]) -> Hash {
    let mut context = Context::new(&SHA256);
    context.update(&[0x00]);
    context.update(salt);
    context.update(event);
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// Appends the frame of a record (as [`Record::frame`] makes it) to `out`, without building
/// the record or its payload apart: the writer frames a whole batch into one buffer.
pub(crate) fn put_frame(out: &mut Vec<u8>, seq: u64, salt: &[u8; 16], chain: &Hash, event: &[u8]) {
    let length = PAYLOAD_HEADER + event.len();
    out.reserve(FRAME_HEADER + length);
    // Events are at most MAX_EVENT_LEN bytes (checked when appended), so the length fits.
    out.extend_from_slice(&u32::try_from(length).unwrap_or(u32::MAX).to_le_bytes());
    let crc_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let payload_at = out.len();
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(salt);
    out.extend_from_slice(chain);
    out.extend_from_slice(event);
    let crc = crc32c(out.get(payload_at..).unwrap_or_default());
    if let Some(slot) = out.get_mut(crc_at..payload_at) {
        slot.copy_from_slice(&crc.to_le_bytes());
    }
}

/// The next chain hash.
pub(crate) fn chain_next(previous: &Hash, leaf: &Hash) -> Hash {
    let mut context = Context::new(&SHA256);
    context.update(previous);
    context.update(leaf);
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// A frame around `payload`.
pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER + payload.len());
    // Payloads are bounded by MAX_EVENT_LEN (+ header) or the checkpoint bound: they fit.
    out.extend_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    out.extend_from_slice(&crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// What the bytes at an offset hold.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// A whole frame with a good checksum: its payload and total length.
    Good(&'a [u8], usize),
    /// Too few bytes for the header or the length it states: a write that did not finish.
    Incomplete,
    /// A whole frame whose checksum does not match, or an impossible length.
    Bad,
}

/// Reads the frame at the start of `bytes`.
pub(crate) fn read_frame(bytes: &[u8]) -> Frame<'_> {
    let Some((length, rest)) = bytes.split_first_chunk::<4>() else {
        return Frame::Incomplete;
    };
    let Some((crc, rest)) = rest.split_first_chunk::<4>() else {
        return Frame::Incomplete;
    };
    let length = u32::from_le_bytes(*length) as usize;
    if length > MAX_EVENT_LEN + PAYLOAD_HEADER {
        return Frame::Bad;
    }
    let Some(payload) = rest.get(..length) else {
        return Frame::Incomplete;
    };
    if crc32c(payload) != u32::from_le_bytes(*crc) {
        return Frame::Bad;
    }
    Frame::Good(payload, FRAME_HEADER + length)
}

/// Reads the next frame from `reader` into `buffer` and gives its payload: `None` at the end,
/// or where the frame does not read (cut short, an impossible length, a checksum that does not
/// match) — what [`read_frame`] calls incomplete or bad, for a reader that streams a segment
/// rather than holding it.
///
/// # Errors
///
/// The reader's I/O error.
pub(crate) fn next_frame<'b>(
    reader: &mut impl std::io::Read,
    buffer: &'b mut Vec<u8>,
) -> std::io::Result<Option<&'b [u8]>> {
    let mut header = [0u8; FRAME_HEADER];
    match reader.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let (length, crc) = header.split_at(4);
    let length = u32::from_le_bytes(length.try_into().unwrap_or_default()) as usize;
    let crc = u32::from_le_bytes(crc.try_into().unwrap_or_default());
    if length > MAX_EVENT_LEN + PAYLOAD_HEADER {
        return Ok(None);
    }
    buffer.resize(length, 0);
    match reader.read_exact(buffer) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    Ok((crc32c(buffer) == crc).then_some(buffer.as_slice()))
}

/// CRC-32C (Castagnoli), the checksum of iSCSI and ext4, with the CPU's CRC instruction
/// (SSE 4.2, ARMv8) where there is one: reading the log back (opening it, `verify`, reports)
/// checks every frame, and a table costs several times the read.
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    ::crc32c::crc32c(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    /// CRC-32C bit by bit through a table: the oracle the library is checked against.
    fn table_crc32c(bytes: &[u8]) -> u32 {
        const TABLE: [u32; 256] = {
            let mut table = [0u32; 256];
            let mut i = 0;
            while i < 256 {
                let mut crc = i as u32;
                let mut bit = 0;
                while bit < 8 {
                    crc = if crc & 1 == 1 {
                        (crc >> 1) ^ 0x82F6_3B78
                    } else {
                        crc >> 1
                    };
                    bit += 1;
                }
                table[i] = crc;
                i += 1;
            }
            table
        };
        let mut crc = !0u32;
        for &b in bytes {
            let index = ((crc ^ u32::from(b)) & 0xff) as usize;
            crc = (crc >> 8) ^ TABLE.get(index).copied().unwrap_or(0);
        }
        !crc
    }

    #[test]
    fn the_crc_is_crc32c() {
        // The check value of CRC-32C (RFC 3720, and every CRC catalogue).
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(table_crc32c(b"123456789"), 0xE306_9283);
        let mut bytes = Vec::new();
        for n in 0u32..2_000 {
            bytes.push((n.wrapping_mul(2_654_435_761) >> 24) as u8);
            assert_eq!(crc32c(&bytes), table_crc32c(&bytes), "{n}");
        }
    }

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        // RFC 3720 / the CRC catalogue: CRC-32C("123456789") = 0xE3069283.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn the_writers_frames_and_leaves_are_the_records() {
        let mut out = b"before".to_vec();
        for (seq, event) in [
            (0u64, &b""[..]),
            (7, b"{\"x\":1}"),
            (1 << 40, &[b'a'; 3000][..]),
        ] {
            let salt = [seq as u8 ^ 0x5a; 16];
            let chain = [seq as u8; 32];
            let start = out.len();
            put_frame(&mut out, seq, &salt, &chain, event);
            let record = Record {
                seq,
                salt,
                chain,
                event: event.to_vec(),
                pruned: None,
            };
            assert_eq!(out[start..], record.frame()[..], "{seq}");
            let mut entry = salt.to_vec();
            entry.extend_from_slice(event);
            assert_eq!(leaf_of(&salt, event), leaf_hash(&entry));
        }
        assert!(out.starts_with(b"before"));
    }

    #[test]
    fn a_record_survives_its_frame() {
        let record = Record {
            seq: 7,
            salt: [3; 16],
            chain: [9; 32],
            event: b"{\"x\":1}".to_vec(),
            pruned: None,
        };
        let frame = record.frame();
        let Frame::Good(payload, used) = read_frame(&frame) else {
            panic!("not good")
        };
        assert_eq!(used, frame.len());
        assert_eq!(Record::from_payload(payload), Some(record));
    }

    #[test]
    fn short_and_damaged_frames_are_told_apart() {
        let frame = Record {
            seq: 1,
            salt: [0; 16],
            chain: [0; 32],
            event: b"{}".to_vec(),
            pruned: None,
        }
        .frame();
        assert_eq!(read_frame(&frame[..5]), Frame::Incomplete);
        assert_eq!(read_frame(&frame[..frame.len() - 1]), Frame::Incomplete);
        let mut damaged = frame.clone();
        damaged[20] ^= 0x40;
        assert_eq!(read_frame(&damaged), Frame::Bad);
        let mut huge = frame;
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(read_frame(&huge), Frame::Bad);
    }

    #[test]
    fn a_pruned_record_keeps_its_leaf_and_chain() {
        let record = Record {
            seq: 5,
            salt: [3; 16],
            chain: [9; 32],
            event: b"{}".to_vec(),
            pruned: None,
        };
        let pruned = record.pruned();
        assert_eq!(pruned.leaf_hash(), record.leaf_hash());
        let frame = pruned.frame();
        let Frame::Good(payload, _) = read_frame(&frame) else {
            panic!("not good")
        };
        assert_eq!(Record::from_payload(payload), Some(pruned));
    }

    #[test]
    fn the_salt_changes_the_leaf() {
        assert_ne!(leaf_of(&[0; 16], b"same"), leaf_of(&[1; 16], b"same"));
    }
}
