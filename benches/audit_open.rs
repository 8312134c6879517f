//! Opening a file audit log of many records — a portal's restart — from the tree state stored
//! with its last checkpoint (reading only the records written since before it takes appends)
//! against reading every record back first (what opening did before the tree state, and does
//! still without one). Same log, same run; the page cache is warm for both (the log was just
//! written), so the full read is its fastest case. Also timed: the read-back of the records
//! under the state that follows an opening from it, on a thread of its own while the log
//! works (`FileLog::checked` waits for it; it ends before the next opening starts).
//!
//! Run: `cargo bench -p zvp-benches --bench audit_open` (`ZVP_OPEN_RECORDS`, default 500,000,
//! records under the checkpoint; 1,000 more are written after it).

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    reason = "a benchmark binary: a failure should stop it, and it reports on stdout"
)]

use std::path::Path;
use std::time::{Duration, Instant};

use zvp_audit::checkpoint::CheckpointSigner;
use zvp_audit::event::AuditEvent;
use zvp_audit::log::{FileLog, FileLogOptions, Opened};

/// The median times of `runs` openings of `dir` and of their read-backs, and how the last
/// opening went.
fn open(dir: &Path, runs: usize) -> (Duration, Duration, Opened) {
    let mut times = Vec::with_capacity(runs);
    let mut checks = Vec::with_capacity(runs);
    let mut opened = None;
    for _ in 0..runs {
        let start = Instant::now();
        let log = FileLog::open(dir, FileLogOptions::default()).unwrap();
        times.push(start.elapsed());
        log.checked().unwrap();
        checks.push(start.elapsed());
        opened = Some(log.opened());
    }
    times.sort();
    checks.sort();
    (times[runs / 2], checks[runs / 2], opened.unwrap())
}

fn main() {
    let records: u64 = std::env::var("ZVP_OPEN_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000);
    let dir = std::env::temp_dir().join(format!("zvp-open-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (signer, _) = CheckpointSigner::generate("zvp.bench/open").unwrap();
    {
        let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
        let events: Vec<AuditEvent> = (0..1000).map(AuditEvent::example).collect();
        runtime.block_on(async {
            for _ in 0..records / 1000 {
                log.append_all(&events).await.unwrap();
            }
            log.checkpoint(&signer, "zvp.bench/open").unwrap();
            log.append_all(&events).await.unwrap();
        });
    }
    let (state, read_back, from_state) = open(&dir, 5);
    assert!(from_state.from_state);
    std::fs::remove_file(dir.join("tree-state")).unwrap();
    let (full, _, everything) = open(&dir, 3);
    assert!(!everything.from_state);
    println!("| opening | records read | median time |\n|---|---|---|");
    println!(
        "| from the tree state | {} of {} | {:.1} ms |",
        from_state.read,
        from_state.records,
        state.as_secs_f64() * 1e3
    );
    println!(
        "| reading every record | {} of {} | {:.1} ms |",
        everything.read,
        everything.records,
        full.as_secs_f64() * 1e3
    );
    println!(
        "\nfull read / from the state: {:.0}×; the read-back after an opening from the state \
         ends {:.1} ms after the opening began",
        full.as_secs_f64() / state.as_secs_f64(),
        read_back.as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}
