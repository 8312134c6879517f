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
#[path = "../../testsupport/pg.rs"]
mod pg_support;

use std::sync::Arc;

use common::event;
use tokio_postgres::NoTls;
use zvp_audit::checkpoint::CheckpointSigner;
use zvp_audit::log::pg::{PgLog, verify};
use zvp_audit::log::{AuditLog, LogError, VerifyError};
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
    // One row per batch, one batch per transaction: fewer transactions than appends.
    let transactions: i64 = sql()
        .await
        .query_one("SELECT count(*) FROM zvp_pg_group.audit_batches", &[])
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

    // A changed event (here each append was its own batch, so its own row).
    let swap = |from: &str, to: &str| {
        format!(
            "UPDATE zvp_pg_tamper.audit_batches SET records = decode(replace(encode(records, 'hex'), \
             encode('{from}', 'hex'), encode('{to}', 'hex')), 'hex') WHERE first_seq = 3"
        )
    };
    db.batch_execute(&swap("user 3", "user 4")).await.unwrap();
    assert_eq!(check().await, Err(VerifyError::Chain { seq: 3 }));
    db.batch_execute(&swap("user 4", "user 3")).await.unwrap();
    assert_eq!(check().await.unwrap().records, 10);

    // A deleted record.
    db.batch_execute("DELETE FROM zvp_pg_tamper.audit_batches WHERE first_seq = 4")
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
    db.batch_execute("DELETE FROM zvp_pg_tamper.audit_batches WHERE first_seq >= 4")
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

/// Splits a batch row's bytes into its records (the layout documented in `zvp_audit::log::pg`:
/// seq 8, salt 16, chain 32, event length 4 little-endian, event).
fn split_records(mut bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut records = Vec::new();
    while !bytes.is_empty() {
        let length = u32::from_le_bytes(bytes[56..60].try_into().unwrap()) as usize;
        let (record, rest) = bytes.split_at(60 + length);
        records.push(record.to_vec());
        bytes = rest;
    }
    records
}

/// Tampering inside a row that holds a batch of several records: every change is found and
/// named by the record it hits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampering_inside_a_batch_is_found() {
    let signer = signer();
    let log = Arc::new(fresh("zvp_pg_batch_tamper").await);
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let log = Arc::clone(&log);
            tokio::spawn(async move { log.append(&event(i)).await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    log.checkpoint(&signer, "zvp.test/audit").await.unwrap();
    let db = sql().await;
    let config = config();
    let check = || verify(&config, "zvp_pg_batch_tamper", signer.verifier());
    assert_eq!(check().await.unwrap().records, 100);

    // The row with the most records (concurrent appends share batches; the group-commit
    // test asserts that they do).
    let row = db
        .query_one(
            "SELECT first_seq, count, records FROM zvp_pg_batch_tamper.audit_batches \
             ORDER BY count DESC, first_seq LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let (first, count, original): (i64, i32, Vec<u8>) = (row.get(0), row.get(1), row.get(2));
    let first = u64::try_from(first).unwrap();
    assert!(count >= 3, "the largest batch has {count} records");
    let records = split_records(&original);
    assert_eq!(records.len(), usize::try_from(count).unwrap());
    let write = |bytes: Vec<u8>, count: i32| {
        let db = &db;
        async move {
            db.execute(
                "UPDATE zvp_pg_batch_tamper.audit_batches SET records = $1, count = $2 \
                 WHERE first_seq = $3",
                &[&bytes, &count, &i64::try_from(first).unwrap()],
            )
            .await
            .unwrap();
        }
    };
    let segment = "zvp_pg_batch_tamper.audit_batches".to_owned();

    // One byte of the second record's event flipped.
    let mut flipped = original.clone();
    let at = records[0].len() + 60 + 5;
    flipped[at] ^= 0x01;
    write(flipped, count).await;
    assert_eq!(check().await, Err(VerifyError::Chain { seq: first + 1 }));

    // The second record dropped from the row (and the count made to match).
    let dropped: Vec<u8> = [&records[..1], &records[2..]].concat().concat();
    write(dropped, count - 1).await;
    assert_eq!(
        check().await,
        Err(VerifyError::Sequence {
            expected: first + 1,
            found: first + 2
        })
    );

    // The first record duplicated.
    let duplicated: Vec<u8> = [&records[..1], &records[..]].concat().concat();
    write(duplicated, count + 1).await;
    assert_eq!(
        check().await,
        Err(VerifyError::Sequence {
            expected: first + 1,
            found: first
        })
    );

    // The first two records swapped.
    let swapped: Vec<u8> = [&records[1..2], &records[..1], &records[2..]]
        .concat()
        .concat();
    write(swapped, count).await;
    assert_eq!(
        check().await,
        Err(VerifyError::Sequence {
            expected: first,
            found: first + 1
        })
    );

    // The row cut short in the middle of its last record.
    let cut = original[..original.len() - 7].to_vec();
    let last_offset = original.len() - records.last().unwrap().len();
    write(cut, count).await;
    assert_eq!(
        check().await,
        Err(VerifyError::Frame {
            seq: first + u64::try_from(count).unwrap() - 1,
            segment: segment.clone(),
            offset: last_offset,
        })
    );

    // The row's stored chain (what the next batch is chained on) not its last record's.
    write(original.clone(), count).await;
    db.execute(
        "UPDATE zvp_pg_batch_tamper.audit_batches SET chain = $1 WHERE first_seq = $2",
        &[&vec![0u8; 32], &i64::try_from(first).unwrap()],
    )
    .await
    .unwrap();
    assert_eq!(
        check().await,
        Err(VerifyError::Frame {
            seq: first,
            segment: segment.clone(),
            offset: 0,
        })
    );
    let last_chain = records.last().unwrap()[24..56].to_vec();
    db.execute(
        "UPDATE zvp_pg_batch_tamper.audit_batches SET chain = $1 WHERE first_seq = $2",
        &[&last_chain, &i64::try_from(first).unwrap()],
    )
    .await
    .unwrap();

    // The count raised over the records the row holds.
    write(original.clone(), count + 1).await;
    assert_eq!(
        check().await,
        Err(VerifyError::Frame {
            seq: first,
            segment,
            offset: 0,
        })
    );

    // Put back as it was, the log verifies again.
    write(original, count).await;
    assert_eq!(check().await.unwrap().records, 100);
}

/// A schema written in a layout of earlier versions (one row per record; batches behind a
/// head row) is refused, not joined by a second, empty log, and left as it was.
#[tokio::test]
async fn a_schema_in_an_old_layout_is_refused() {
    for (table, layout) in [
        (
            "audit_records (seq BIGINT PRIMARY KEY, event BYTEA)",
            "one-row-per-record layout",
        ),
        (
            "audit_head (id INTEGER PRIMARY KEY, next_seq BIGINT, chain BYTEA)",
            "head-row layout",
        ),
    ] {
        let db = sql().await;
        db.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS zvp_pg_old CASCADE; CREATE SCHEMA zvp_pg_old; \
             CREATE TABLE zvp_pg_old.{table};"
        ))
        .await
        .unwrap();
        let error = PgLog::connect(&config(), "zvp_pg_old").await.unwrap_err();
        assert!(matches!(error, LogError::Io(_)), "{error:?}");
        assert!(error.to_string().contains(layout), "{error}");
        let tables: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'zvp_pg_old'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(tables, 1, "nothing created beside the old log");
    }
}

/// An instance that appends after another one did (so the newest batch it knows of is not the
/// newest any more) chains its batch on the other's and goes on, without a gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_behind_another_chains_on_its_batches() {
    let signer = signer();
    let first = fresh("zvp_pg_behind").await;
    let second = PgLog::connect(&config(), "zvp_pg_behind").await.unwrap();
    assert_eq!(first.append(&event(0)).await.unwrap().seq(), 0);
    // `second` knows of nothing yet and finds the batch `first` wrote.
    assert_eq!(second.append(&event(1)).await.unwrap().seq(), 1);
    // `first` last saw the log end at 1; its batch lands at 2, after `second`'s.
    assert_eq!(first.append(&event(2)).await.unwrap().seq(), 2);
    assert_eq!(second.append(&event(3)).await.unwrap().seq(), 3);
    assert_eq!(first.size().await.unwrap(), 4);
    first.checkpoint(&signer, "zvp.test/audit").await.unwrap();
    let report = verify(&config(), "zvp_pg_behind", signer.verifier())
        .await
        .unwrap();
    assert_eq!((report.records, report.checkpoints), (4, 1));
    let events: Vec<u64> = second
        .events()
        .await
        .unwrap()
        .into_iter()
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(events, vec![0, 1, 2, 3]);
}

#[tokio::test]
async fn a_bad_schema_name_is_refused() {
    assert!(
        PgLog::connect(&config(), "audit; DROP TABLE x")
            .await
            .is_err()
    );
}

/// Two instances append while both sign checkpoints and `verify` runs: every checkpoint is
/// signed (one at a time, each at least as large as the one before), no verify raises a false
/// alarm over a checkpoint stored after it read the records, and the log verifies at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_and_verify_while_two_instances_append() {
    let signer = Arc::new(signer());
    let first = Arc::new(fresh("zvp_pg_live").await);
    let second = Arc::new(PgLog::connect(&config(), "zvp_pg_live").await.unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for a in 0..4u64 {
        let log = if a % 2 == 0 {
            Arc::clone(&first)
        } else {
            Arc::clone(&second)
        };
        tasks.spawn(async move {
            for i in 0..40 {
                log.append(&event(a * 1000 + i)).await.unwrap();
            }
        });
    }
    for log in [Arc::clone(&first), Arc::clone(&second)] {
        let signer = Arc::clone(&signer);
        tasks.spawn(async move {
            for _ in 0..8 {
                log.checkpoint(&signer, "zvp.test/audit").await.unwrap();
            }
        });
    }
    let verifier = signer.verifier().clone();
    tasks.spawn(async move {
        for _ in 0..8 {
            verify(&config(), "zvp_pg_live", &verifier).await.unwrap();
        }
    });
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let report = verify(&config(), "zvp_pg_live", signer.verifier())
        .await
        .unwrap();
    assert_eq!((report.records, report.checkpoints), (160, 16));
    let sizes: Vec<i64> = sql()
        .await
        .query(
            "SELECT split_part(note, E'\\n', 2)::bigint FROM zvp_pg_live.audit_checkpoints ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(sizes.windows(2).all(|w| w[0] <= w[1]), "{sizes:?}");
}

/// Instances starting together on an empty database take turns creating the tables (under an
/// advisory lock) instead of racing in `CREATE SCHEMA IF NOT EXISTS`: every one connects, and
/// they write one log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_on_an_empty_schema_all_connect() {
    for round in 0..5 {
        let schema = format!("zvp_test_start_together_{round}");
        sql()
            .await
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await
            .unwrap();
        let mut starting = tokio::task::JoinSet::new();
        for _ in 0..6 {
            let schema = schema.clone();
            starting.spawn(async move { PgLog::connect(&config(), &schema).await });
        }
        let mut seqs = Vec::new();
        while let Some(started) = starting.join_next().await {
            let log = started
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: {e}"));
            seqs.push(log.append(&event(0)).await.unwrap().seq());
        }
        seqs.sort_unstable();
        assert_eq!(seqs, (0..6).collect::<Vec<u64>>(), "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_connects_again_after_its_connections_are_ended() {
    // PostgreSQL restarted, or an administrator ended the portal's backends: the log must
    // not fail every append until the portal is restarted.
    let name = "zvp_pg_reconnect";
    let config = format!("{} application_name={name}", config());
    sql()
        .await
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
        .await
        .unwrap();
    let log = PgLog::connect(&config, name).await.unwrap();
    for i in 0..3 {
        log.append(&event(i)).await.unwrap();
    }
    let mut expected = 3;
    for round in 0..2u64 {
        // The reader and the writer (checkpoints make their own connection).
        assert_eq!(pg_support::terminate(name).await, 2, "round {round}");
        // An append that finds its connection gone may fail, and then says so; none is
        // acknowledged without being stored, and the next one is.
        let first = log.append(&event(10 + round)).await;
        assert!(
            matches!(first, Ok(_) | Err(LogError::Io(_))),
            "round {round}: {first:?}"
        );
        let next = log.append(&event(20 + round)).await.unwrap();
        // So may the reader's first use (the same rule as for appends).
        let size = match log.size().await {
            Ok(size) => size,
            Err(LogError::Io(_)) => log.size().await.unwrap(),
            Err(e) => panic!("round {round}: {e:?}"),
        };
        assert_eq!(next.seq() + 1, size, "round {round}");
        expected += u64::from(first.is_ok()) + 1;
        assert_eq!(size, expected, "round {round}");
    }
    let signer = signer();
    log.checkpoint(&signer, "zvp.test/audit").await.unwrap();
    let report = verify(&config, name, signer.verifier()).await.unwrap();
    assert_eq!((report.records, report.checkpoints), (expected, 1));
}

/// The database cannot be reached and connection attempts hang: appends that arrive while
/// the writer's attempt to reconnect runs fail with it, rather than each batch waiting out an
/// attempt of its own; when the database is back, appends are stored again and the log is
/// one chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_waiting_for_an_unreachable_database_fail_with_the_attempt() {
    use pg_support::{Mode, Proxy};
    let name = "zvp_pg_unreachable";
    let proxy = Proxy::start().await;
    sql()
        .await
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
        .await
        .unwrap();
    let log = Arc::new(PgLog::connect(&proxy.config(name), name).await.unwrap());
    log.append(&event(0)).await.unwrap();

    // The database goes away: the next append fails (the connection cut, or the attempt to
    // make it again refused).
    proxy.mode.send_replace(Mode::Down);
    assert!(matches!(log.append(&event(1)).await, Err(LogError::Io(_))));
    // Attempts now hang. One append starts an attempt, which is held...
    proxy.mode.send_replace(Mode::Hold);
    let before = proxy.made();
    let first = tokio::spawn({
        let log = Arc::clone(&log);
        async move { log.append(&event(2)).await }
    });
    proxy.made_more_than(before).await;
    assert_eq!(proxy.made(), before + 1);
    // ...sixteen more arrive meanwhile (an append hands its event to the writer in its first
    // step, before it waits)...
    let (submitted, mut arrived) = tokio::sync::mpsc::unbounded_channel();
    let mut waiting = tokio::task::JoinSet::new();
    for n in 0..16 {
        let (log, submitted) = (Arc::clone(&log), submitted.clone());
        waiting.spawn(async move {
            let event = event(10 + n);
            let append = log.append(&event);
            let mut append = std::pin::pin!(append);
            let first_step = futures_poll(&mut append).await;
            submitted.send(()).unwrap();
            match first_step {
                Some(done) => done,
                None => append.await,
            }
        });
    }
    for _ in 0..16 {
        arrived.recv().await.unwrap();
    }
    // ...and all fail with the attempt when it fails: no second attempt.
    proxy.mode.send_replace(Mode::Down);
    assert!(matches!(first.await.unwrap(), Err(LogError::Io(_))));
    while let Some(append) = waiting.join_next().await {
        assert!(matches!(append.unwrap(), Err(LogError::Io(_))));
    }
    assert_eq!(proxy.made(), before + 1, "attempts to reconnect");

    // Back: stored again, one chain.
    proxy.mode.send_replace(Mode::Up);
    let receipt = log.append(&event(30)).await.unwrap();
    assert_eq!(receipt.seq(), 1);
    let signer = signer();
    log.checkpoint(&signer, "zvp.test/audit").await.unwrap();
    let report = verify(&config(), name, signer.verifier()).await.unwrap();
    assert_eq!(report.records, 2);
}

/// Polls `future` once: its output if it finished in that step.
async fn futures_poll<F: Future + Unpin>(future: &mut F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut *future).poll(cx) {
            std::task::Poll::Ready(output) => Some(output),
            std::task::Poll::Pending => None,
        })
    })
    .await
}
