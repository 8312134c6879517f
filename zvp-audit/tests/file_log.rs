//! The file log's guarantees (docs/audit.md, "What is guaranteed"), each with a test that can fail: durability
//! across reopen, group commit, tamper evidence with the exact error for a flipped
//! byte, a dropped, reordered, duplicated or truncated record and rewritten history,
//! torn-tail recovery, salted leaves, and the single-writer lock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use common::event;
use zvp_audit::checkpoint::{CheckpointSigner, CheckpointVerifier};
use zvp_audit::log::{FileLog, FileLogOptions, LogError, Opened, VerifyError, verify};
use zvp_audit::merkle;

fn dir(name: &str) -> PathBuf {
    common::fresh_dir("file-log", name)
}

fn signer() -> CheckpointSigner {
    CheckpointSigner::generate("zvp.test/audit").unwrap().0
}

/// A log with `n` records and a checkpoint over them.
fn log_with(name: &str, n: u64, signer: &CheckpointSigner) -> PathBuf {
    let dir = dir(name);
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    for i in 0..n {
        assert_eq!(log.append_blocking(&event(i)).unwrap().seq(), i);
    }
    log.checkpoint(signer, "zvp.test/audit").unwrap();
    dir
}

fn segment(dir: &Path) -> PathBuf {
    dir.join("segment-00000000000000000000.log")
}

/// The frames of a segment, split by their length fields.
fn frames(dir: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(segment(dir)).unwrap();
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let length = u32::from_le_bytes(bytes[offset..offset + 4].try_into().unwrap()) as usize;
        out.push(bytes[offset..offset + 8 + length].to_vec());
        offset += 8 + length;
    }
    out
}

fn write_frames(dir: &Path, frames: &[Vec<u8>]) {
    std::fs::write(segment(dir), frames.concat()).unwrap();
}

/// CRC-32C, written again here so the tests do not trust the log's own.
fn crc32c(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A frame whose payload was changed, with its checksum made to fit (what an attacker who
/// knows the format would do).
fn refit(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn the_test_crc_is_crc32c() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
}

#[test]
fn appends_are_durable_across_reopen_and_verify() {
    let signer = signer();
    let dir = log_with("durable", 25, &signer);
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    assert_eq!(log.size().unwrap(), 25);
    assert_eq!(log.append_blocking(&event(25)).unwrap().seq(), 25);
    drop(log);
    let report = verify(&dir, signer.verifier()).unwrap();
    assert_eq!((report.records, report.checkpoints), (26, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_share_fsyncs() {
    let dir = dir("group-commit");
    let log = Arc::new(FileLog::open(&dir, FileLogOptions::default()).unwrap());
    let mut tasks = Vec::new();
    for i in 0..200u64 {
        let log = Arc::clone(&log);
        tasks.push(tokio::spawn(async move {
            log.append(&event(i)).await.unwrap().seq()
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..200).collect::<Vec<_>>());
    assert!(
        log.sync_count() < 200,
        "{} syncs for 200 appends",
        log.sync_count()
    );
    assert!(log.sync_count() >= 1);
}

#[test]
fn receipts_prove_inclusion_and_checkpoints_consistency() {
    let signer = signer();
    let dir = dir("proofs");
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    let receipts: Vec<_> = (0..10)
        .map(|i| log.append_blocking(&event(i)).unwrap())
        .collect();
    let first = signer
        .verifier()
        .verify(&log.checkpoint(&signer, "zvp.test/audit").unwrap())
        .unwrap();
    for i in 10..17 {
        log.append_blocking(&event(i)).unwrap();
    }
    let second = signer
        .verifier()
        .verify(&log.checkpoint(&signer, "zvp.test/audit").unwrap())
        .unwrap();
    let receipt = receipts[3];
    let proof = log.inclusion_proof(receipt.seq(), second.size).unwrap();
    assert!(merkle::verify_inclusion(
        &receipt.leaf(),
        3,
        17,
        &proof,
        &second.root
    ));
    let consistency = log.consistency_proof(first.size, second.size).unwrap();
    assert!(merkle::verify_consistency(
        10,
        17,
        &first.root,
        &second.root,
        &consistency
    ));
}

/// The running log keeps only its tree's right edge; proofs are read from the segment files,
/// also while appends go on (the batch being written shows as a torn tail to the reader) and
/// across segments.
#[test]
fn proofs_read_from_the_files_while_appends_go_on() {
    let signer = signer();
    let dir = dir("proofs-while-appending");
    let options = FileLogOptions {
        segment_bytes: 8_000,
        max_batch: 16,
    };
    let log = Arc::new(FileLog::open(&dir, options).unwrap());
    let receipts: Vec<_> = (0..40)
        .map(|i| log.append_blocking(&event(i)).unwrap())
        .collect();
    let checkpoint = signer
        .verifier()
        .verify(&log.checkpoint(&signer, "zvp.test/audit").unwrap())
        .unwrap();
    assert_eq!(log.root(40).unwrap(), checkpoint.root);
    let writer = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for i in 40..400 {
                log.append_blocking(&event(i)).unwrap();
            }
        })
    };
    for (round, receipt) in receipts.iter().cycle().take(120).enumerate() {
        let proof = log.inclusion_proof(receipt.seq(), 40).unwrap();
        assert!(
            merkle::verify_inclusion(
                &receipt.leaf(),
                receipt.seq() as usize,
                40,
                &proof,
                &checkpoint.root
            ),
            "round {round}"
        );
        let now = log.size().unwrap();
        assert_eq!(log.root(40).unwrap(), checkpoint.root, "round {round}");
        let consistency = log.consistency_proof(40, now).unwrap();
        assert!(merkle::verify_consistency(
            40,
            now as usize,
            &checkpoint.root,
            &log.root(now).unwrap(),
            &consistency
        ));
    }
    writer.join().unwrap();
    let last = signer
        .verifier()
        .verify(&log.checkpoint(&signer, "zvp.test/audit").unwrap())
        .unwrap();
    assert_eq!(last.size, 400);
    assert_eq!(log.root(400).unwrap(), last.root);
    assert!(
        std::fs::read_dir(&dir).unwrap().count() > 4,
        "the records span several segments"
    );
    assert!(matches!(
        log.inclusion_proof(0, 401),
        Err(LogError::Proof(merkle::ProofError::SizeOutOfRange {
            available: 400,
            ..
        }))
    ));
    assert!(matches!(
        log.root(401),
        Err(LogError::Proof(merkle::ProofError::SizeOutOfRange {
            second: 401,
            available: 400,
            ..
        }))
    ));
    drop(log);
    let report = verify(&dir, signer.verifier()).unwrap();
    assert_eq!((report.records, report.checkpoints), (400, 2));
}

#[test]
fn the_same_event_twice_gives_different_leaves() {
    let dir = dir("salt");
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    let a = log.append_blocking(&event(1)).unwrap();
    let b = log.append_blocking(&event(1)).unwrap();
    assert_ne!(a.leaf(), b.leaf());
}

#[test]
fn a_second_writer_is_locked_out() {
    let dir = dir("lock");
    let _first = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    assert!(matches!(
        FileLog::open(&dir, FileLogOptions::default()),
        Err(LogError::Locked)
    ));
}

#[test]
fn a_torn_tail_is_cut_and_nothing_before_it_is_lost() {
    let signer = signer();
    let dir = log_with("torn", 10, &signer);
    let mut bytes = std::fs::read(segment(&dir)).unwrap();
    let whole = frames(&dir)[9].clone();
    // Half of a record, as a crash mid-write leaves it.
    bytes.extend_from_slice(&whole[..whole.len() / 2]);
    std::fs::write(segment(&dir), &bytes).unwrap();
    assert!(matches!(
        verify(&dir, signer.verifier()),
        Err(VerifyError::TornTail { seq: 10, .. })
    ));
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    // From the checkpoint's tree state: the tail is cut at its place in the file all the same.
    assert!(log.opened().from_state);
    assert_eq!(log.size().unwrap(), 10);
    assert_eq!(log.append_blocking(&event(10)).unwrap().seq(), 10);
    log.checked().unwrap();
    drop(log);
    assert_eq!(verify(&dir, signer.verifier()).unwrap().records, 11);
}

#[test]
fn a_zero_filled_tail_is_cut_like_a_torn_write() {
    let signer = signer();
    let dir = log_with("zeros", 6, &signer);
    let mut bytes = std::fs::read(segment(&dir)).unwrap();
    // Power loss after the file grew but before its data reached the disk.
    bytes.extend_from_slice(&[0u8; 300]);
    std::fs::write(segment(&dir), &bytes).unwrap();
    assert!(matches!(
        verify(&dir, signer.verifier()),
        Err(VerifyError::TornTail { seq: 6, .. })
    ));
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    assert!(log.opened().from_state);
    assert!(matches!(
        log.cut_tail(),
        Some(VerifyError::TornTail { seq: 6, .. })
    ));
    assert_eq!(log.size().unwrap(), 6);
    assert_eq!(log.append_blocking(&event(6)).unwrap().seq(), 6);
    drop(log);
    assert_eq!(verify(&dir, signer.verifier()).unwrap().records, 7);
}

#[test]
fn a_damaged_last_record_under_a_checkpoint_is_refused_not_cut() {
    let signer = signer();
    let dir = log_with("damaged-last", 6, &signer);
    let mut bytes = std::fs::read(segment(&dir)).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x20;
    std::fs::write(segment(&dir), &bytes).unwrap();
    assert_eq!(
        FileLog::open(&dir, FileLogOptions::default()).unwrap_err(),
        LogError::ShorterThanCheckpoint {
            records: 5,
            size: 6
        }
    );
}

#[test]
fn a_flipped_byte_is_found_at_its_record() {
    let signer = signer();
    let dir = log_with("flip", 10, &signer);
    let mut f = frames(&dir);
    let last = f[3].len() - 2;
    f[3][last] ^= 0x01;
    write_frames(&dir, &f);
    assert!(matches!(
        verify(&dir, signer.verifier()),
        Err(VerifyError::Frame { seq: 3, .. })
    ));
    // Opening takes up the tree state of the checkpoint over all ten records and reads none
    // of them before it takes appends; reading them back afterwards finds the damage, and
    // from then on the log refuses appends and checkpoints.
    {
        let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
        assert_eq!(
            log.opened(),
            Opened {
                records: 10,
                read: 0,
                from_state: true
            }
        );
        let damaged = log.checked().unwrap_err();
        assert!(
            matches!(
                damaged,
                LogError::Damaged(VerifyError::Frame { seq: 3, .. })
            ),
            "{damaged:?}"
        );
        assert_eq!(log.append_blocking(&event(10)).unwrap_err(), damaged);
        assert_eq!(
            log.checkpoint(&signer, "zvp.test/audit").unwrap_err(),
            damaged
        );
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap();
        assert_eq!(
            log.prune(now - chrono::Duration::days(7 * 365), now)
                .unwrap_err(),
            damaged
        );
    }
    // Without the state, opening reads every record and refuses the damaged one.
    std::fs::remove_file(dir.join("tree-state")).unwrap();
    assert!(matches!(
        FileLog::open(&dir, FileLogOptions::default()),
        Err(LogError::Damaged(VerifyError::Frame { seq: 3, .. }))
    ));
}

/// A damaged checkpoint file is found, but never hides a bad record: the record comes first.
#[test]
fn a_damaged_checkpoint_file_does_not_hide_a_bad_record() {
    let signer = signer();
    let dir = log_with("damaged-checkpoints", 10, &signer);
    let checkpoints = dir.join("checkpoints.log");
    let mut bytes = std::fs::read(&checkpoints).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&checkpoints, &bytes).unwrap();
    // Alone, the checkpoint file's damage is what verify and open report.
    assert!(matches!(
        verify(&dir, signer.verifier()),
        Err(VerifyError::Checkpoint { index: 0, .. })
    ));
    assert!(matches!(
        FileLog::open(&dir, FileLogOptions::default()),
        Err(LogError::Damaged(VerifyError::Checkpoint { index: 0, .. }))
    ));
    // With a record damaged too, the record is named first.
    let mut f = frames(&dir);
    let last = f[6].len() - 2;
    f[6][last] ^= 0x01;
    write_frames(&dir, &f);
    assert!(matches!(
        verify(&dir, signer.verifier()),
        Err(VerifyError::Frame { seq: 6, .. })
    ));
    assert!(matches!(
        FileLog::open(&dir, FileLogOptions::default()),
        Err(LogError::Damaged(VerifyError::Frame { seq: 6, .. }))
    ));
}

#[test]
fn a_changed_record_with_a_fitting_checksum_breaks_the_chain() {
    let signer = signer();
    let dir = log_with("chain", 10, &signer);
    let mut f = frames(&dir);
    let mut payload = f[3][8..].to_vec();
    let text = String::from_utf8_lossy(&payload[56..]).replace("\"R\"", "\"D\"");
    payload.truncate(56);
    payload.extend_from_slice(text.as_bytes());
    f[3] = refit(&payload);
    write_frames(&dir, &f);
    assert_eq!(
        verify(&dir, signer.verifier()),
        Err(VerifyError::Chain { seq: 3 })
    );
}

#[test]
fn a_dropped_record_is_found() {
    let signer = signer();
    let dir = log_with("drop", 10, &signer);
    let mut f = frames(&dir);
    f.remove(4);
    write_frames(&dir, &f);
    assert_eq!(
        verify(&dir, signer.verifier()),
        Err(VerifyError::Sequence {
            expected: 4,
            found: 5
        })
    );
}

#[test]
fn reordered_records_are_found() {
    let signer = signer();
    let dir = log_with("reorder", 10, &signer);
    let mut f = frames(&dir);
    f.swap(4, 5);
    write_frames(&dir, &f);
    assert_eq!(
        verify(&dir, signer.verifier()),
        Err(VerifyError::Sequence {
            expected: 4,
            found: 5
        })
    );
}

#[test]
fn a_duplicated_record_is_found() {
    let signer = signer();
    let dir = log_with("duplicate", 10, &signer);
    let mut f = frames(&dir);
    let copy = f[4].clone();
    f.insert(5, copy);
    write_frames(&dir, &f);
    assert_eq!(
        verify(&dir, signer.verifier()),
        Err(VerifyError::Sequence {
            expected: 5,
            found: 4
        })
    );
}

#[test]
fn truncation_below_the_checkpoint_is_found_and_refused() {
    let signer = signer();
    let dir = log_with("truncate", 10, &signer);
    let f = frames(&dir);
    write_frames(&dir, &f[..8]);
    assert_eq!(
        verify(&dir, signer.verifier()),
        Err(VerifyError::CheckpointBeyondLog {
            index: 0,
            size: 10,
            records: 8
        })
    );
    assert_eq!(
        FileLog::open(&dir, FileLogOptions::default()).unwrap_err(),
        LogError::ShorterThanCheckpoint {
            records: 8,
            size: 10
        }
    );
}

#[test]
fn rewritten_history_is_found_by_the_signed_checkpoint() {
    let signer = signer();
    let dir = log_with("rewrite", 6, &signer);
    // Build a different log of the same length (its chain and checksums all fit), and put
    // the old signed checkpoints next to it.
    let other = log_with("rewrite-other", 6, &signer);
    std::fs::copy(segment(&other), segment(&dir)).unwrap();
    assert_eq!(
        verify(&dir, signer.verifier()),
        Err(VerifyError::CheckpointRoot { index: 0, size: 6 })
    );
    // Nor is such a log opened for writing: its next checkpoint would sign the rewrite.
    assert_eq!(
        FileLog::open(&dir, FileLogOptions::default()).unwrap_err(),
        LogError::Damaged(VerifyError::CheckpointRoot { index: 0, size: 6 })
    );
}

#[test]
fn a_forged_checkpoint_is_found() {
    let signer = signer();
    let dir = log_with("forged", 5, &signer);
    let impostor = CheckpointSigner::generate("zvp.test/audit").unwrap().0;
    {
        let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
        log.checkpoint(&impostor, "zvp.test/audit").unwrap();
    }
    assert!(matches!(
        verify(&dir, signer.verifier()),
        Err(VerifyError::Checkpoint { index: 1, .. })
    ));
    let vkey = signer.verifier().to_vkey();
    assert_eq!(
        CheckpointVerifier::parse(&vkey).unwrap(),
        *signer.verifier()
    );
}

#[test]
fn segments_rotate_and_verify() {
    let signer = signer();
    let dir = dir("segments");
    let options = FileLogOptions {
        segment_bytes: 2_000,
        max_batch: 16,
    };
    {
        let log = FileLog::open(&dir, options).unwrap();
        for i in 0..40 {
            log.append_blocking(&event(i)).unwrap();
        }
        log.checkpoint(&signer, "zvp.test/audit").unwrap();
    }
    let segments = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("segment-")
        })
        .count();
    assert!(segments > 3, "{segments} segments");
    assert_eq!(verify(&dir, signer.verifier()).unwrap().records, 40);
    let log = FileLog::open(&dir, options).unwrap();
    assert_eq!(log.size().unwrap(), 40);
}

#[test]
fn events_past_retention_are_pruned_and_everything_still_verifies() {
    use zvp_audit::log::{PruneReport, read_events};
    let signer = signer();
    let dir = dir("prune");
    let options = FileLogOptions {
        segment_bytes: 1_500,
        max_batch: 8,
    };
    let old = Utc.with_ymd_and_hms(2016, 3, 1, 9, 0, 0).unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
    let log = FileLog::open(&dir, options).unwrap();
    let mut receipts = Vec::new();
    for i in 0..30 {
        let mut e = event(i);
        if i < 20 {
            e.recorded = old;
        }
        receipts.push(log.append_blocking(&e).unwrap());
    }
    let note = log.checkpoint(&signer, "zvp.test/audit").unwrap();
    let checkpoint = signer.verifier().verify(&note).unwrap();

    let cutoff = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
    let too_recent = Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(
        log.prune(too_recent, now),
        Err(LogError::Retention { cutoff: too_recent })
    );
    let report = log.prune(cutoff, now).unwrap();
    assert_eq!(
        report,
        PruneReport {
            records: 20,
            segments: report.segments
        }
    );
    assert!(report.segments >= 2);
    // Pruning twice changes nothing.
    assert_eq!(log.prune(cutoff, now).unwrap(), PruneReport::default());

    // The tree is unchanged: old proofs still verify against the old checkpoint.
    let proof = log
        .inclusion_proof(receipts[3].seq(), checkpoint.size)
        .unwrap();
    assert!(merkle::verify_inclusion(
        &receipts[3].leaf(),
        3,
        checkpoint.size as usize,
        &proof,
        &checkpoint.root
    ));
    drop(log);
    assert_eq!(verify(&dir, signer.verifier()).unwrap().records, 30);
    let events = read_events(&dir).unwrap();
    assert_eq!(events.len(), 10);
    assert!(
        events
            .iter()
            .all(|(seq, e)| *seq >= 20 && e.recorded >= cutoff)
    );
    // The log reopens and goes on. Pruning dropped the tree state (the frames it places
    // moved), so this opening read every record; the next checkpoint stores one again.
    let log = FileLog::open(&dir, options).unwrap();
    assert_eq!(
        log.opened(),
        Opened {
            records: 30,
            read: 30,
            from_state: false
        }
    );
    assert_eq!(log.append_blocking(&event(30)).unwrap().seq(), 30);
    log.checkpoint(&signer, "zvp.test/audit").unwrap();
    drop(log);
    let log = FileLog::open(&dir, options).unwrap();
    assert_eq!(
        log.opened(),
        Opened {
            records: 31,
            read: 0,
            from_state: true
        }
    );
}

/// Opening reads only what was written since the last checkpoint (taking up its tree state),
/// across segments, and the log goes on as if it had read everything: its next checkpoint is
/// consistent with the last and the whole log verifies.
#[test]
fn opening_reads_only_the_records_since_the_last_checkpoint() {
    let signer = signer();
    let dir = dir("state");
    let options = FileLogOptions {
        segment_bytes: 2_000,
        max_batch: 16,
    };
    {
        let log = FileLog::open(&dir, options).unwrap();
        assert_eq!(
            log.opened(),
            Opened {
                records: 0,
                read: 0,
                from_state: false
            }
        );
        for i in 0..25 {
            log.append_blocking(&event(i)).unwrap();
        }
        log.checkpoint(&signer, "zvp.test/audit").unwrap();
        // About three records to a segment: these go on in later segments.
        for i in 25..40 {
            log.append_blocking(&event(i)).unwrap();
        }
    }
    let log = FileLog::open(&dir, options).unwrap();
    assert_eq!(
        log.opened(),
        Opened {
            records: 40,
            read: 15,
            from_state: true
        }
    );
    assert_eq!(log.append_blocking(&event(40)).unwrap().seq(), 40);
    log.checked().unwrap();
    assert_eq!(log.refusing(), None);
    log.checkpoint(&signer, "zvp.test/audit").unwrap();
    drop(log);
    let report = verify(&dir, signer.verifier()).unwrap();
    assert_eq!((report.records, report.checkpoints), (41, 2));
    let log = FileLog::open(&dir, options).unwrap();
    assert_eq!(
        log.opened(),
        Opened {
            records: 41,
            read: 0,
            from_state: true
        }
    );
}

/// A tree state that does not fit the files — damaged, another log's, or of a checkpoint the
/// checkpoint file no longer holds — is not taken up: opening reads every record.
#[test]
fn a_tree_state_that_does_not_fit_is_not_taken_up() {
    let signer = signer();
    let dir = log_with("state-unfit", 12, &signer);
    let other = log_with("state-unfit-other", 12, &signer);
    let state = dir.join("tree-state");
    let own = std::fs::read(&state).unwrap();
    let opened = || {
        FileLog::open(&dir, FileLogOptions::default())
            .unwrap()
            .opened()
    };
    let everything = |records| Opened {
        records,
        read: records,
        from_state: false,
    };
    let mut damaged = own.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    std::fs::write(&state, &damaged).unwrap();
    assert_eq!(opened(), everything(12));
    // The other log has as many records of the same sizes, but other salts: its last
    // record's chain hash is not this log's.
    std::fs::copy(other.join("tree-state"), &state).unwrap();
    assert_eq!(opened(), everything(12));
    std::fs::write(&state, &own).unwrap();
    assert_eq!(
        opened(),
        Opened {
            records: 12,
            read: 0,
            from_state: true
        }
    );
    // The right tree with another chain hash (its frame's checksum made to fit): the record
    // it names does not have that chain hash.
    let mut payload = own[8..].to_vec();
    payload[16 + 8] ^= 1; // the first byte of the chain hash, after the magic and the size
    std::fs::write(&state, refit(&payload)).unwrap();
    assert_eq!(opened(), everything(12));
    // The right tree and chain hash, the last record placed one byte off.
    let mut payload = own[8..].to_vec();
    let start_at = 16 + 8 + 32 + 8;
    let start = u64::from_le_bytes(payload[start_at..start_at + 8].try_into().unwrap());
    payload[start_at..start_at + 8].copy_from_slice(&(start + 1).to_le_bytes());
    std::fs::write(&state, refit(&payload)).unwrap();
    assert_eq!(opened(), everything(12));
    std::fs::write(&state, &own).unwrap();
    // A checkpoint (and its state) over more records, whose note is then lost: the state is
    // newer than the last checkpoint there is.
    let checkpoints = std::fs::read(dir.join("checkpoints.log")).unwrap();
    {
        let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
        log.append_blocking(&event(12)).unwrap();
        log.checkpoint(&signer, "zvp.test/audit").unwrap();
    }
    std::fs::write(dir.join("checkpoints.log"), &checkpoints).unwrap();
    assert_eq!(opened(), everything(13));
}

/// A tree state older than the last checkpoint (the checkpoint was stored, the crash came
/// before its state was): opening takes it up, reads on from it past the checkpoint, and checks
/// the checkpoint's root on the way.
#[test]
fn a_tree_state_older_than_the_last_checkpoint_is_taken_up() {
    let signer = signer();
    let dir = log_with("state-older", 8, &signer);
    let older = std::fs::read(dir.join("tree-state")).unwrap();
    {
        let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
        for i in 8..13 {
            log.append_blocking(&event(i)).unwrap();
        }
        log.checkpoint(&signer, "zvp.test/audit").unwrap();
        log.append_blocking(&event(13)).unwrap();
    }
    std::fs::write(dir.join("tree-state"), &older).unwrap();
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    assert_eq!(
        log.opened(),
        Opened {
            records: 14,
            read: 6,
            from_state: true
        }
    );
    log.checked().unwrap();
    assert_eq!(log.append_blocking(&event(14)).unwrap().seq(), 14);
    log.checkpoint(&signer, "zvp.test/audit").unwrap();
    drop(log);
    let report = verify(&dir, signer.verifier()).unwrap();
    assert_eq!((report.records, report.checkpoints), (15, 3));
}

/// A checkpoint whose write a crash cut off (never returned to its caller) is reported by
/// `verify` and cut when the log opens, like a torn record; the log goes on from the last whole
/// checkpoint. Cut short or zero-filled: both are unfinished writes.
#[test]
fn an_unfinished_checkpoint_is_cut_when_the_log_opens() {
    let signer = signer();
    let dir = log_with("checkpoint-unfinished", 6, &signer);
    let checkpoints = dir.join("checkpoints.log");
    let whole = std::fs::read(&checkpoints).unwrap();
    {
        let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
        log.append_blocking(&event(6)).unwrap();
        log.checkpoint(&signer, "zvp.test/audit").unwrap();
    }
    let two = std::fs::read(&checkpoints).unwrap();
    for (name, bytes) in [
        (
            "cut short",
            two[..whole.len() + (two.len() - whole.len()) / 2].to_vec(),
        ),
        ("zero-filled", [whole.as_slice(), &[0u8; 200]].concat()),
    ] {
        std::fs::write(&checkpoints, &bytes).unwrap();
        let reported = verify(&dir, signer.verifier()).unwrap_err();
        assert_eq!(
            reported,
            VerifyError::Checkpoint {
                index: 1,
                detail: format!("unfinished write at byte {}", whole.len())
            },
            "{name}"
        );
        let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
        assert_eq!(log.size().unwrap(), 7, "{name}");
        drop(log);
        assert_eq!(std::fs::read(&checkpoints).unwrap(), whole, "{name}");
        assert_eq!(
            verify(&dir, signer.verifier()).unwrap().checkpoints,
            1,
            "{name}"
        );
    }
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    log.checkpoint(&signer, "zvp.test/audit").unwrap();
    drop(log);
    let report = verify(&dir, signer.verifier()).unwrap();
    assert_eq!((report.records, report.checkpoints), (7, 2));
}

/// History rewritten beneath a tree state with its chain recomputed, and the state's chain hash
/// made to fit the rewrite: opening takes the state up (the last record has that chain hash,
/// the tree is the signed one), and the read-back finds that the records no longer make that
/// tree.
#[test]
fn records_rewritten_beneath_a_tree_state_are_found_after_opening() {
    use aws_lc_rs::digest::{SHA256, digest};
    let signer = signer();
    let dir = log_with("state-rewritten", 10, &signer);
    let mut f = frames(&dir);
    // Record 3's event changed, and every chain hash from it on recomputed (seq ‖ salt ‖ chain
    // ‖ event after the frame's 8-byte header).
    let mut chain: [u8; 32] = f[2][8 + 8 + 16..8 + 8 + 16 + 32].try_into().unwrap();
    for (i, frame) in f.iter_mut().enumerate().skip(3) {
        let mut payload = frame[8..].to_vec();
        if i == 3 {
            let at = payload.len() - 2;
            payload[at] ^= 0x01;
        }
        let leaf = merkle::leaf_hash(&[&payload[8..24], &payload[56..]].concat());
        chain = digest(&SHA256, &[chain.as_slice(), &leaf].concat())
            .as_ref()
            .try_into()
            .unwrap();
        payload[24..56].copy_from_slice(&chain);
        *frame = refit(&payload);
    }
    write_frames(&dir, &f);
    let state = dir.join("tree-state");
    let mut payload = std::fs::read(&state).unwrap()[8..].to_vec();
    payload[24..56].copy_from_slice(&chain); // after the magic and the size
    std::fs::write(&state, refit(&payload)).unwrap();
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    assert!(log.opened().from_state);
    let damaged = LogError::Damaged(VerifyError::TreeState { size: 10 });
    assert_eq!(log.checked(), Err(damaged.clone()));
    assert_eq!(log.opening_check().wait(), Err(damaged.clone()));
    assert_eq!(log.refusing(), Some(damaged.clone()));
    assert_eq!(log.append_blocking(&event(10)).unwrap_err(), damaged);
    drop(log);
    assert_eq!(
        verify(&dir, signer.verifier()),
        Err(VerifyError::CheckpointRoot { index: 0, size: 10 })
    );
}

/// A checkpoint frame with a damaged length field is damage, not an unfinished write, when
/// whole checkpoints follow it: opening refuses and cuts nothing.
#[test]
fn a_damaged_checkpoint_length_before_other_checkpoints_is_not_cut() {
    let signer = signer();
    let dir = log_with("checkpoint-length", 4, &signer);
    {
        let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
        for i in 4..6 {
            log.append_blocking(&event(i)).unwrap();
            log.checkpoint(&signer, "zvp.test/audit").unwrap();
        }
    }
    let checkpoints = dir.join("checkpoints.log");
    let mut bytes = std::fs::read(&checkpoints).unwrap();
    let first = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    // The second frame's length, made to run past the end of the file.
    let second = 8 + first;
    bytes[second..second + 4].copy_from_slice(&60_000u32.to_le_bytes());
    std::fs::write(&checkpoints, &bytes).unwrap();
    assert!(matches!(
        FileLog::open(&dir, FileLogOptions::default()),
        Err(LogError::Damaged(VerifyError::Checkpoint { index: 1, .. }))
    ));
    assert_eq!(std::fs::read(&checkpoints).unwrap(), bytes);
}
