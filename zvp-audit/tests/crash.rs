//! Crash consistency (docs/audit.md, "Durable" and "Crash-consistent"): a writer process appends from eight threads, signing a
//! checkpoint now and then, and is killed with SIGKILL at varying moments, 20 times; after
//! each kill the log reopens (cutting any torn tail; from the tree state of the last
//! checkpoint when there is one) and every append the writer acknowledged before the kill is
//! in it. At the end the whole log and its checkpoints verify. Set `ZVP_CRASH_ROUNDS` for a
//! longer run. A killed process leaves its writes in the page cache, so this shows recovery
//! from torn tails, not the syncs: `power_loss.rs` cuts the power.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use zvp_audit::checkpoint::CheckpointSigner;
use zvp_audit::log::{FileLog, FileLogOptions, verify};

#[test]
fn acknowledged_appends_survive_sigkill() {
    let rounds: u64 = std::env::var("ZVP_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("crash");
    let _ = std::fs::remove_dir_all(&dir);
    let (signer, key) = CheckpointSigner::generate("zvp.test/crash").unwrap();
    let key_file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("crash.key");
    std::fs::write(&key_file, key).unwrap();
    let mut acknowledged_total = 0u64;
    let mut from_state = 0;
    let mut state = 0x2026_1125_u64;
    for round in 0..rounds {
        // How many acknowledgements to wait for before the kill: varies from round to round,
        // so the kill lands in different phases of the writer (between batches, mid-write,
        // mid-fsync).
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let wait_for = 1 + state % 300;
        let mut child = Command::new(env!("CARGO_BIN_EXE_zvp-audit-crash-writer"))
            .arg(&dir)
            .arg(&key_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut max_acked: Option<u64> = None;
        let mut seen = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            let seq: u64 = line.strip_prefix("ack ").unwrap().parse().unwrap();
            max_acked = Some(max_acked.map_or(seq, |m| m.max(seq)));
            seen += 1;
            if seen == wait_for {
                child.kill().unwrap(); // SIGKILL on Unix
                break;
            }
        }
        child.wait().unwrap();
        acknowledged_total += seen;
        let log = FileLog::open(&dir, FileLogOptions::default()).unwrap_or_else(|e| {
            panic!("round {round}: the log does not reopen after SIGKILL: {e}")
        });
        let size = log.size().unwrap();
        if log.opened().from_state {
            from_state += 1;
        }
        log.checked()
            .unwrap_or_else(|e| panic!("round {round}: the records under the state: {e}"));
        let max = max_acked.unwrap();
        assert!(
            max < size,
            "round {round}: record {max} was acknowledged but the log has only {size} records"
        );
    }
    assert!(acknowledged_total >= rounds);
    // The writer checkpoints after every 5 appends of its first thread (about 40 in all):
    // most reopenings take up a tree state.
    assert!(from_state > 0, "no reopening took up a tree state");
    {
        let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
        log.checkpoint(&signer, "zvp.test/crash").unwrap();
    }
    let report = verify(&dir, signer.verifier()).unwrap();
    assert!(report.records >= acknowledged_total);
    assert!(report.checkpoints > 1);
    println!(
        "{rounds} kills, {acknowledged_total} acknowledged appends, {} records and {} \
         checkpoints verified, {from_state} reopenings from a tree state",
        report.records, report.checkpoints
    );
}
