//! Power loss (docs/audit.md, "Durable"): what SIGKILL (`crash.rs`) cannot show, since the
//! page cache outlives the process. The log writes through a storage that keeps apart what
//! was synced and what was only written (`log::storage::fault::PowerCut`); its power fails at
//! a seeded operation — a segment opened or created, a write, an `fdatasync`, a truncation, a
//! directory fsync — while four threads append, so group commits of one to eight records are
//! cut at every step, across segment rollovers (segments of 4 KiB) and during the opening
//! after the previous cut. The files are then rewritten to what a power cut leaves: the synced
//! bytes, a random prefix of those written after, and a new file only if its name was synced
//! (or, by chance, anyway). After each cut every append acknowledged so far must read back
//! unchanged, the log must open (cutting a torn tail), and at the end of each of 30 lives of
//! 10 cuts the whole log must verify.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::collections::BTreeMap;
use std::path::Path;

use zvp_audit::checkpoint::CheckpointSigner;
use zvp_audit::event::AuditEvent;
use zvp_audit::log::storage::fault::PowerCut;
use zvp_audit::log::{FileLog, FileLogOptions, Receipt, read_events, verify};
use zvp_audit::merkle;

const LIVES: u64 = 30;
const CUTS: u64 = 10;
const THREADS: u64 = 4;
const APPENDS: u64 = 8;
/// The cut falls among the first this many storage operations of a round: a round of 32
/// appends takes 8 to 70 (opening, one write and one sync per batch, a creation and a directory
/// sync per new segment), so most cuts land while appending and a few after the last append.
const OPERATIONS: u64 = 60;
const OPTIONS: FileLogOptions = FileLogOptions {
    segment_bytes: 4096,
    max_batch: 8,
};

/// What the whole run saw, to show the cuts hit what they were meant to.
#[derive(Debug, Default)]
struct Seen {
    acknowledged: u64,
    syncs: u64,
    cut_while_opening: u64,
    cut_while_appending: u64,
    torn_tails_cut: u64,
    files_lost: u64,
    bytes_lost: u64,
    bytes_kept: u64,
    segments: u64,
}

#[test]
fn acknowledged_appends_survive_power_loss() {
    let started = std::time::Instant::now();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("power-loss");
    let (signer, _) = CheckpointSigner::generate("zvp.test/power-loss").unwrap();
    let mut seen = Seen::default();
    let mut random = 0x2026_0522_u64;
    for life in 0..LIVES {
        let dir = root.join(life.to_string());
        let _ = std::fs::remove_dir_all(&dir);
        // Every acknowledged append of this life: its receipt, by sequence number.
        let mut acknowledged: BTreeMap<u64, (Receipt, String)> = BTreeMap::new();
        for cut in 0..CUTS {
            let at = next(&mut random) % OPERATIONS;
            let storage = PowerCut::failing_after(at);
            match FileLog::open_with_storage(&dir, OPTIONS, storage.clone()) {
                Ok(log) => {
                    check_open(&log, &acknowledged, &mut random, (life, cut));
                    seen.torn_tails_cut += u64::from(log.cut_tail().is_some());
                    append(&log, &mut acknowledged, &format!("{life}-{cut}"));
                    seen.syncs += log.sync_count();
                    seen.cut_while_appending += u64::from(storage.is_off());
                }
                Err(e) => {
                    assert!(storage.is_off(), "life {life}, cut {cut}: opening: {e}");
                    seen.cut_while_opening += 1;
                }
            }
            let survived = storage.apply(next(&mut random)).unwrap();
            seen.files_lost += survived.files_lost;
            seen.bytes_lost += survived.bytes_lost;
            seen.bytes_kept += survived.bytes_kept;
            check_events(&dir, &acknowledged, (life, cut));
        }
        // What the last cut left opens on the real files and verifies as a whole, checkpoint
        // included.
        {
            let log = FileLog::open(&dir, OPTIONS).unwrap();
            check_open(&log, &acknowledged, &mut random, (life, CUTS));
            log.checkpoint(&signer, "zvp.test/power-loss").unwrap();
        }
        let report = verify(&dir, signer.verifier()).unwrap();
        assert!(acknowledged.keys().all(|&seq| seq < report.records));
        seen.acknowledged += acknowledged.len() as u64;
        seen.segments += std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                let name = e.as_ref().unwrap().file_name();
                name.to_string_lossy().starts_with("segment-")
            })
            .count() as u64;
    }
    println!(
        "{} cuts in {:.1?}: {seen:?}",
        LIVES * CUTS,
        started.elapsed()
    );
    // The cuts hit what they were meant to: group commits of more than one record, the
    // opening, the appending, torn tails, unsynced new segments, rollovers.
    assert!(seen.acknowledged > seen.syncs, "{seen:?}");
    assert!(seen.cut_while_opening > 0, "{seen:?}");
    assert!(seen.cut_while_appending > LIVES * CUTS / 2, "{seen:?}");
    assert!(seen.torn_tails_cut > 0, "{seen:?}");
    assert!(seen.files_lost > 0, "{seen:?}");
    assert!(seen.bytes_kept > 0 && seen.bytes_lost > 0, "{seen:?}");
    assert!(seen.segments > 10 * LIVES, "{seen:?}");
}

/// Appends from [`THREADS`] threads until the power fails or each has made [`APPENDS`];
/// records the acknowledged ones.
fn append(log: &FileLog, acknowledged: &mut BTreeMap<u64, (Receipt, String)>, round: &str) {
    let receipts: Vec<Vec<(Receipt, String)>> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                scope.spawn(move || {
                    let mut receipts = Vec::new();
                    for i in 0..APPENDS {
                        let mut event = AuditEvent::example(i);
                        event.request_id = format!("{round}-{t}-{i}");
                        match log.append_blocking(&event) {
                            Ok(receipt) => receipts.push((receipt, event.request_id)),
                            Err(_) => break,
                        }
                    }
                    receipts
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for (receipt, request_id) in receipts.into_iter().flatten() {
        let earlier = acknowledged.insert(receipt.seq(), (receipt, request_id));
        assert!(
            earlier.is_none(),
            "record {} acknowledged twice",
            receipt.seq()
        );
    }
}

/// The log opened on what a cut left holds every acknowledged record: the newest and a random
/// one by an inclusion proof of its receipt's leaf, against the log's own root.
fn check_open(
    log: &FileLog,
    acknowledged: &BTreeMap<u64, (Receipt, String)>,
    random: &mut u64,
    (life, cut): (u64, u64),
) {
    log.checked().unwrap();
    let size = log.size().unwrap();
    let Some((&newest, _)) = acknowledged.last_key_value() else {
        return;
    };
    assert!(
        newest < size,
        "life {life}, cut {cut}: record {newest} was acknowledged, the log has {size} records"
    );
    let any = *acknowledged
        .keys()
        .nth((next(random) % acknowledged.len() as u64) as usize)
        .unwrap();
    let root = log.root(size).unwrap();
    for seq in [newest, any] {
        let receipt = acknowledged[&seq].0;
        let proof = log.inclusion_proof(seq, size).unwrap();
        assert!(
            merkle::verify_inclusion(&receipt.leaf(), seq as usize, size as usize, &proof, &root),
            "life {life}, cut {cut}: record {seq} is not the one acknowledged"
        );
    }
}

/// What a cut left reads back (frames, sequence, chain; a torn tail left out) with every
/// acknowledged event in its place.
fn check_events(dir: &Path, acknowledged: &BTreeMap<u64, (Receipt, String)>, at: (u64, u64)) {
    let (life, cut) = at;
    let events = read_events(dir)
        .unwrap_or_else(|e| panic!("life {life}, cut {cut}: the log does not read back: {e}"));
    for (&seq, (_, request_id)) in acknowledged {
        let found = events.get(seq as usize).map(|(_, event)| &event.request_id);
        assert_eq!(
            found,
            Some(request_id),
            "life {life}, cut {cut}: acknowledged record {seq} is lost ({} records survive)",
            events.len()
        );
    }
}

/// xorshift64: the seeded choices of the run.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
