//! The running portal signs its audit log's checkpoints itself (`[audit] signing_key`): a round
//! signs only when records were added, the task signs a last one when the portal stops, a
//! bad key or a missing key name stops the start, and `audit verify --config` checks the
//! checkpoints with the configured key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use zvp_audit::checkpoint::CheckpointSigner;
use zvp_audit::event::AuditEvent;
use zvp_audit::log::{AuditLog, FileLog, FileLogOptions, verify};
use zvp_portal::assemble::{
    AssembleError, CheckpointRound, checkpoint_round, checkpoint_signing, final_checkpoint,
    spawn_checkpoints,
};
use zvp_portal::config::Config;

/// A fresh directory holding a configuration whose `[audit]` section is `audit`, an audit
/// log directory and (if `key`) a checkpoint key named `zvp.test`.
fn setup(name: &str, audit: &str, key: bool) -> (PathBuf, Config) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("checkpoints")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    if key {
        let (_, pkcs8) = CheckpointSigner::generate("zvp.test").unwrap();
        std::fs::write(dir.join("audit.key"), pkcs8).unwrap();
    }
    let path = dir.join("zvp.toml");
    std::fs::write(&path, format!("[audit]\ndir = \"audit\"\n{audit}")).unwrap();
    let config = Config::load(&path, Vec::<(String, String)>::new()).unwrap();
    (dir, config)
}

/// The admin listener's `/metrics` text.
async fn metrics(t: &common::TestPortal) -> String {
    t.admin("/metrics").await.1
}

async fn append(log: &FileLog, n: u64) {
    for i in 0..n {
        log.append(&AuditEvent::example(i)).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_signs_only_when_records_were_added() {
    let (dir, config) = setup(
        "rounds",
        "signing_key = \"audit.key\"\nkey_name = \"zvp.test\"\norigin = \"zvp.test/audit\"\n",
        true,
    );
    let signing = Arc::new(checkpoint_signing(&config).unwrap().unwrap());
    assert_eq!(signing.origin, "zvp.test/audit");
    assert_eq!(signing.every, std::time::Duration::from_secs(3600));
    let log = Arc::new(FileLog::open(&dir.join("audit"), FileLogOptions::default()).unwrap());
    append(&log, 3).await;
    let audit: Arc<dyn AuditLog> = log.clone();

    let round = |last| checkpoint_round(Arc::clone(&audit), Arc::clone(&signing), last);
    assert_eq!(round(None).await.unwrap(), CheckpointRound::Signed(3));
    assert_eq!(round(Some(3)).await.unwrap(), CheckpointRound::Unchanged);
    append(&log, 2).await;
    assert_eq!(round(Some(3)).await.unwrap(), CheckpointRound::Signed(5));

    let report = verify(&dir.join("audit"), signing.signer.verifier()).unwrap();
    assert_eq!((report.records, report.checkpoints), (5, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_signs_a_last_checkpoint_when_it_stops() {
    let (dir, config) = setup(
        "stop",
        "signing_key = \"audit.key\"\nkey_name = \"zvp.test\"\n",
        true,
    );
    let signing = Arc::new(checkpoint_signing(&config).unwrap().unwrap());
    // The origin defaults to the key's name.
    assert_eq!(signing.origin, "zvp.test");
    let verifier = signing.signer.verifier().clone();
    let log = Arc::new(FileLog::open(&dir.join("audit"), FileLogOptions::default()).unwrap());
    append(&log, 4).await;
    let t = common::TestPortal::with_audit(Some(log.clone())).await;
    assert!(!metrics(&t).await.contains("zvp_audit_checkpoint"));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    // An hour between rounds: the periodic task signs nothing before the stop, and the stop
    // only ends it (the listeners may still be finishing requests) ...
    let task = spawn_checkpoints(t.portal.clone(), Arc::clone(&signing), stopped);
    stop.send(true).unwrap();
    let last = task.await.unwrap();
    assert_eq!(last, None);
    append(&log, 1).await;
    // ... the last checkpoint comes once they have stopped, and covers what they wrote.
    final_checkpoint(&t.portal, Arc::clone(&signing), last).await;
    // Stopping twice signs nothing new.
    final_checkpoint(&t.portal, signing, Some(5)).await;
    // The operators' metrics show it (the test portal's clock stands still at `now`).
    let text = metrics(&t).await;
    assert!(text.contains("zvp_audit_checkpoint_records 5\n"), "{text}");
    assert!(
        text.contains(&format!(
            "zvp_audit_checkpoint_timestamp_seconds {}\n",
            common::now().timestamp()
        )),
        "{text}"
    );
    drop(t);
    drop(log);
    let report = verify(&dir.join("audit"), &verifier).unwrap();
    assert_eq!((report.records, report.checkpoints), (5, 1));

    // `audit verify --config` checks it with the configured key, no --verifier-key needed.
    let out = Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
        .args(["audit", "verify", "--config"])
        .arg(dir.join("zvp.toml"))
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && printed.starts_with("ok: 5 records, 1 signed checkpoints"),
        "{printed}"
    );
}

#[test]
fn without_a_key_nothing_is_signed() {
    let (_, config) = setup("none", "", false);
    assert!(checkpoint_signing(&config).unwrap().is_none());
}

#[test]
fn a_key_without_its_name_stops_the_start() {
    let (_, config) = setup("no-name", "signing_key = \"audit.key\"\n", true);
    let error = checkpoint_signing(&config).unwrap_err();
    assert!(
        matches!(&error, AssembleError::Config(text) if text.contains("key_name")),
        "{error:?}"
    );
}

#[test]
fn a_key_that_is_not_one_stops_the_start() {
    let (dir, config) = setup(
        "bad-key",
        "signing_key = \"audit.key\"\nkey_name = \"zvp.test\"\n",
        false,
    );
    // Missing.
    let error = checkpoint_signing(&config).unwrap_err();
    assert!(
        matches!(&error, AssembleError::File { path, .. } if path.ends_with("audit.key")),
        "{error:?}"
    );
    // Not a PKCS#8 Ed25519 key.
    std::fs::write(dir.join("audit.key"), b"-----BEGIN NOTHING-----").unwrap();
    let error = checkpoint_signing(&config).unwrap_err();
    assert!(
        matches!(&error, AssembleError::File { path, .. } if path.ends_with("audit.key")),
        "{error:?}"
    );
}

#[test]
fn an_origin_that_cannot_be_an_origin_line_stops_the_start() {
    for origin in ["\"\"", "\"zvp.test\\nsecond line\"", "\"tab\\there\""] {
        let (_, config) = setup(
            "bad-origin",
            &format!("signing_key = \"audit.key\"\nkey_name = \"zvp.test\"\norigin = {origin}\n"),
            true,
        );
        let error = checkpoint_signing(&config).unwrap_err();
        assert!(
            matches!(&error, AssembleError::Config(text) if text.contains("origin")),
            "{origin}: {error:?}"
        );
    }
}
