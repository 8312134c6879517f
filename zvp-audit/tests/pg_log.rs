//! The PostgreSQL backend against the PostgreSQL server on the machine (127.0.0.1:5432, trust
//! auth; `ZVP_TEST_PG` overrides the connection string): the same guarantees as the file log,
//! and one consistent log when two instances write at once. Each test has its own schema.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::sync::Arc;

use common::event;
use tokio_postgres::NoTls;
use zvp_audit::checkpoint::CheckpointSigner;
use zvp_audit::log::VerifyError;
use zvp_audit::log::pg::{PgLog, verify};
use zvp_audit::merkle;

fn config() -> String {
    std::env::var("ZVP_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

/// A raw connection for setting up and tampering.
async fn sql() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&config(), NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

async fn fresh(schema: &str) -> PgLog {
    sql()
        .await
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
    PgLog::connect(&config(), schema).await.unwrap()
}

/// A log with `n` records and a checkpoint over them.
async fn log_with(schema: &str, n: u64, signer: &CheckpointSigner) -> PgLog {
    let log = fresh(schema).await;
    for i in 0..n {
        assert_eq!(log.append(&event(i)).await.unwrap().seq(), i);
    }
    log.checkpoint(signer, "zvp.test/audit").await.unwrap();
    log
}

fn signer() -> CheckpointSigner {
    CheckpointSigner::generate("zvp.test/audit").unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_are_durable_and_prove_inclusion() {
    let signer = signer();
    let log = log_with("zvp_pg_durable", 12, &signer).await;
    let receipt = log.append(&event(12)).await.unwrap();
    drop(log);
    let again = PgLog::connect(&config(), "zvp_pg_durable").await.unwrap();
    assert_eq!(again.size().await.unwrap(), 13);
    let note = again.checkpoint(&signer, "zvp.test/audit").await.unwrap();
    let checkpoint = signer.verifier().verify(&note).unwrap();
    let proof = again
        .inclusion_proof(receipt.seq(), checkpoint.size)
        .await
        .unwrap();
    assert!(merkle::verify_inclusion(
        &receipt.leaf(),
        12,
        13,
        &proof,
        &checkpoint.root
    ));
    let report = verify(&config(), "zvp_pg_durable", signer.verifier())
        .await
        .unwrap();
    assert_eq!((report.records, report.checkpoints), (13, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_share_transactions() {
    let log = Arc::new(fresh("zvp_pg_group").await);
    let mut tasks = Vec::new();
    for i in 0..200 {
        let log = Arc::clone(&log);
        tasks.push(tokio::spawn(async move {
            log.append(&event(i)).await.unwrap().seq()
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..200).collect::<Vec<_>>());
    // xmin is the inserting transaction: fewer transactions than appends.
    let transactions: i64 = sql()
        .await
        .query_one(
            "SELECT count(DISTINCT xmin::text) FROM zvp_pg_group.audit_records",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        transactions < 200,
        "{transactions} transactions for 200 appends"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_write_one_consistent_log() {
    let signer = signer();
    let first = Arc::new(fresh("zvp_pg_two").await);
    let second = Arc::new(PgLog::connect(&config(), "zvp_pg_two").await.unwrap());
    let mut tasks = Vec::new();
    for i in 0..120 {
        let log = if i % 2 == 0 {
            Arc::clone(&first)
        } else {
            Arc::clone(&second)
        };
        tasks.push(tokio::spawn(async move {
            log.append(&event(i)).await.unwrap().seq()
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (0..120).collect::<Vec<_>>(),
        "no gaps, no duplicates across instances"
    );
    second.checkpoint(&signer, "zvp.test/audit").await.unwrap();
    first.append(&event(999)).await.unwrap();
    first.checkpoint(&signer, "zvp.test/audit").await.unwrap();
    let report = verify(&config(), "zvp_pg_two", signer.verifier())
        .await
        .unwrap();
    assert_eq!((report.records, report.checkpoints), (121, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_in_the_database_is_found() {
    let signer = signer();
    let _log = log_with("zvp_pg_tamper", 10, &signer).await;
    let db = sql().await;
    let config = config();
    let check = || verify(&config, "zvp_pg_tamper", signer.verifier());
    assert_eq!(check().await.unwrap().records, 10);

    // A changed event.
    db.batch_execute(
        "UPDATE zvp_pg_tamper.audit_records SET event = convert_to(replace(convert_from(event, 'UTF8'), 'user 3', 'user 4'), 'UTF8') WHERE seq = 3",
    )
    .await
    .unwrap();
    assert_eq!(check().await, Err(VerifyError::Chain { seq: 3 }));
    db.batch_execute(
        "UPDATE zvp_pg_tamper.audit_records SET event = convert_to(replace(convert_from(event, 'UTF8'), 'user 4', 'user 3'), 'UTF8') WHERE seq = 3",
    )
    .await
    .unwrap();
    assert_eq!(check().await.unwrap().records, 10);

    // A deleted record.
    db.batch_execute("DELETE FROM zvp_pg_tamper.audit_records WHERE seq = 4")
        .await
        .unwrap();
    assert_eq!(
        check().await,
        Err(VerifyError::Sequence {
            expected: 4,
            found: 5
        })
    );

    // Records removed from the end.
    db.batch_execute("DELETE FROM zvp_pg_tamper.audit_records WHERE seq >= 4")
        .await
        .unwrap();
    assert_eq!(
        check().await,
        Err(VerifyError::CheckpointBeyondLog {
            index: 0,
            size: 10,
            records: 4
        })
    );

    // A forged checkpoint.
    db.batch_execute(
        "UPDATE zvp_pg_tamper.audit_checkpoints SET note = replace(note, E'\\n10\\n', E'\\n4\\n')",
    )
    .await
    .unwrap();
    assert!(matches!(
        check().await,
        Err(VerifyError::Checkpoint { index: 0, .. })
    ));
}

#[tokio::test]
async fn a_bad_schema_name_is_refused() {
    assert!(
        PgLog::connect(&config(), "audit; DROP TABLE x")
            .await
            .is_err()
    );
}
