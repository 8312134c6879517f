//! The same behaviour from every backend, through the `AuditLog` trait the portal uses: the
//! file log and the PostgreSQL log (against 127.0.0.1:5432).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use common::event;
use zvp_audit::checkpoint::CheckpointSigner;
use zvp_audit::event::AuditEvent;
use zvp_audit::log::pg::PgLog;
use zvp_audit::log::{AuditLog, FileLog, FileLogOptions, LogError};
use zvp_audit::merkle;

/// What every backend must do.
async fn behaves(log: Arc<dyn AuditLog>) {
    let (signer, _) = CheckpointSigner::generate("zvp.test/backends").unwrap();
    // Concurrent appends get every sequence number once.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let log = Arc::clone(&log);
        tasks.push(tokio::spawn(
            async move { log.append(&event(i)).await.unwrap() },
        ));
    }
    let mut receipts = Vec::new();
    for task in tasks {
        receipts.push(task.await.unwrap());
    }
    receipts.sort_by_key(|r| r.seq());
    assert_eq!(
        receipts.iter().map(|r| r.seq()).collect::<Vec<_>>(),
        (0..50).collect::<Vec<_>>()
    );
    assert_eq!(log.size().await.unwrap(), 50);

    let first = signer
        .verifier()
        .verify(&log.checkpoint(&signer, "zvp.test/backends").await.unwrap())
        .unwrap();
    for i in 50..60 {
        log.append(&event(i)).await.unwrap();
    }
    let second = signer
        .verifier()
        .verify(&log.checkpoint(&signer, "zvp.test/backends").await.unwrap())
        .unwrap();
    assert_eq!((first.size, second.size), (50, 60));
    // An origin that cannot be an origin line is refused before anything is stored (a note
    // whose body does not read back would break every later open, checkpoint and verify).
    for origin in ["", "zvp.test\nsecond", "tab\there"] {
        assert!(
            matches!(
                log.checkpoint(&signer, origin).await,
                Err(LogError::Checkpoint(_))
            ),
            "{origin:?}"
        );
    }
    // The next checkpoint reads the last stored one: it is still a good one.
    let again = signer
        .verifier()
        .verify(&log.checkpoint(&signer, "zvp.test/backends").await.unwrap())
        .unwrap();
    assert_eq!(again, second);

    // Proofs from the log verify against the signed checkpoints.
    let r = receipts[17];
    let proof = log.inclusion_proof(r.seq(), second.size).await.unwrap();
    assert!(merkle::verify_inclusion(
        &r.leaf(),
        17,
        60,
        &proof,
        &second.root
    ));
    let consistency = log
        .consistency_proof(first.size, second.size)
        .await
        .unwrap();
    assert!(merkle::verify_consistency(
        50,
        60,
        &first.root,
        &second.root,
        &consistency
    ));
    assert!(matches!(
        log.inclusion_proof(60, 60).await,
        Err(LogError::Proof(_))
    ));

    // The events read back in order, each the one appended under its number.
    let events = log.events().await.unwrap();
    assert_eq!(
        events.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
        (0..60).collect::<Vec<_>>()
    );
    // The concurrent ones in some order, the sequential ones exactly.
    let mut first_fifty: Vec<AuditEvent> = events[..50].iter().map(|(_, e)| e.clone()).collect();
    first_fifty.sort_by_key(|e| e.recorded);
    assert_eq!(first_fifty, (0..50).map(event).collect::<Vec<_>>());
    assert_eq!(events[55].1, event(55));
    assert_eq!(events[59].1, event(59));

    // Several events at once: numbered in the order given, each read back under its number.
    let list: Vec<AuditEvent> = (60..75).map(event).collect();
    let receipts = log.append_all(&list).await.unwrap();
    assert_eq!(
        receipts.iter().map(|r| r.seq()).collect::<Vec<_>>(),
        (60..75).collect::<Vec<_>>()
    );
    assert_eq!(log.size().await.unwrap(), 75);
    let events = log.events().await.unwrap();
    assert_eq!(
        events[60..]
            .iter()
            .map(|(_, e)| e.clone())
            .collect::<Vec<_>>(),
        list
    );
    assert_eq!(log.append_all(&[]).await.unwrap(), Vec::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_file_log_behaves() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("backends-file");
    let _ = std::fs::remove_dir_all(&dir);
    behaves(Arc::new(
        FileLog::open(&dir, FileLogOptions::default()).unwrap(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgresql_log_behaves() {
    let config = std::env::var("ZVP_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned());
    let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("DROP SCHEMA IF EXISTS zvp_backends CASCADE")
        .await
        .unwrap();
    behaves(Arc::new(
        PgLog::connect(&config, "zvp_backends").await.unwrap(),
    ))
    .await;
}
