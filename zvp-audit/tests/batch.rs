//! A page's records as one request (`FileLog::append_all`, docs/audit.md, "Group commit"): the
//! writer keeps them together in one write and one sync, draws their salts at once, and they
//! read back, verify and prove inclusion like records appended one by one. A power cut while
//! pages are written never leaves an acknowledged page without all of its records.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::collections::HashSet;

use common::event;
use zvp_audit::event::AuditEvent;
use zvp_audit::log::storage::fault::PowerCut;
use zvp_audit::log::{FileLog, FileLogOptions, Receipt, read_events, verify_structure};
use zvp_audit::merkle;

/// A start page's records: `n` patients, one request id.
fn page(request: &str, n: u64) -> Vec<AuditEvent> {
    (0..n)
        .map(|i| {
            let mut event = event(i);
            event.request_id = request.to_owned();
            event
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pages_records_go_out_in_one_sync() {
    let log = FileLog::open(
        &common::fresh_dir("batch", "one-sync"),
        FileLogOptions::default(),
    )
    .unwrap();
    let mut next = 0;
    for round in 0..20 {
        let before = log.sync_count();
        let receipts = log
            .append_all(&page(&format!("r{round}"), 36))
            .await
            .unwrap();
        // Handed over one by one, the writer would take the first record as soon as it woke
        // and the rest in later syncs.
        assert_eq!(log.sync_count(), before + 1, "round {round}");
        let seqs: Vec<u64> = receipts.iter().map(Receipt::seq).collect();
        assert_eq!(seqs, (next..next + 36).collect::<Vec<_>>(), "round {round}");
        next += 36;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_larger_than_a_batch_goes_in_full_batches() {
    let options = FileLogOptions {
        max_batch: 8,
        ..FileLogOptions::default()
    };
    let log = FileLog::open(&common::fresh_dir("batch", "full-batches"), options).unwrap();
    for round in 0..20 {
        let before = log.sync_count();
        let receipts = log.append_all(&page("big", 20)).await.unwrap();
        assert_eq!(receipts.len(), 20);
        // 8 + 8 + 4: never more than a batch in one sync, and no batch split smaller.
        assert_eq!(log.sync_count(), before + 3, "round {round}");
    }
    assert_eq!(log.size().unwrap(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_of_a_batch_read_back_verify_and_prove_like_single_ones() {
    let dir = common::fresh_dir("batch", "verify");
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    let mut written = Vec::new();
    let mut receipts = Vec::new();
    let single = event(100);
    receipts.push(log.append(&single).await.unwrap());
    written.push(single);
    // The same event 36 times: only the salts tell the leaves apart.
    let same = vec![event(7); 36];
    receipts.extend(log.append_all(&same).await.unwrap());
    written.extend(same);
    let other = page("second", 5);
    receipts.extend(log.append_all(&other).await.unwrap());
    written.extend(other);
    let last = event(200);
    receipts.push(log.append(&last).await.unwrap());
    written.push(last);
    assert_eq!(log.append_all(&[]).await.unwrap(), Vec::new());

    let size = log.size().unwrap();
    assert_eq!(size, 43);
    let leaves: HashSet<_> = receipts.iter().map(Receipt::leaf).collect();
    assert_eq!(
        leaves.len(),
        receipts.len(),
        "two records share a salted leaf"
    );
    let root = log.root(size).unwrap();
    for (i, receipt) in receipts.iter().enumerate() {
        assert_eq!(receipt.seq(), i as u64);
        let proof = log.inclusion_proof(receipt.seq(), size).unwrap();
        assert!(
            merkle::verify_inclusion(&receipt.leaf(), i, size as usize, &proof, &root),
            "record {i}"
        );
    }
    drop(log);
    let report = verify_structure(&dir).unwrap();
    assert_eq!((report.records, report.root), (size, root));
    let read: Vec<AuditEvent> = read_events(&dir)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    assert_eq!(read, written);
    // The chain goes on across the batches after reopening.
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    assert_eq!(
        log.append_all(&page("after", 3)).await.unwrap()[0].seq(),
        size
    );
}

#[test]
fn a_power_cut_never_leaves_an_acknowledged_page_without_its_records() {
    let options = FileLogOptions {
        segment_bytes: 8192,
        max_batch: 64,
    };
    let mut pages_acknowledged = 0;
    let mut cut_while_appending = 0;
    for at in 0..40 {
        let dir = common::fresh_dir("batch", &format!("cut-{at}"));
        // Every page of the life so far that was acknowledged: its request id and receipts.
        let mut acknowledged: Vec<(String, Vec<Receipt>)> = Vec::new();
        for life in 0..3 {
            let storage = PowerCut::failing_after(at + life);
            if let Ok(log) = FileLog::open_with_storage(&dir, options, storage.clone()) {
                for p in 0..12 {
                    let request = format!("{at}-{life}-{p}");
                    let events = page(&request, 6);
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    match runtime.block_on(log.append_all(&events)) {
                        Ok(receipts) => acknowledged.push((request, receipts)),
                        Err(_) => break,
                    }
                }
                cut_while_appending += u64::from(storage.is_off());
            }
            storage.apply(at * 7 + life).unwrap();
            let events = read_events(&dir).unwrap();
            for (request, receipts) in &acknowledged {
                for receipt in receipts {
                    let found = events
                        .get(receipt.seq() as usize)
                        .map(|(_, e)| &e.request_id);
                    assert_eq!(
                        found,
                        Some(request),
                        "cut {at}, life {life}: record {} of an acknowledged page is lost",
                        receipt.seq()
                    );
                }
            }
        }
        pages_acknowledged += acknowledged.len();
        let log = FileLog::open(&dir, options).unwrap();
        log.checked().unwrap();
        drop(log);
        verify_structure(&dir).unwrap();
    }
    // The cuts fell while pages were written, and pages were acknowledged before them.
    assert!(cut_while_appending > 40, "{cut_while_appending}");
    assert!(pages_acknowledged > 40, "{pages_acknowledged}");
}
