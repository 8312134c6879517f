//! An audit report on a large file log: one patient's last 90 days, a page of at most 500
//! records, as the administrator's report page asks it (`AuditLog::report`: only the segments
//! the period can be in, a record parsed only when it holds the BSN, only the page kept),
//! beside the page's former way, which every report took: every event of the log read and
//! parsed (`AuditLog::events`), then filtered (`report::patient_view`). Same log, same run,
//! warm page cache for both.
//!
//! Run: `cargo bench -p zvp-benches --bench audit_report` (`ZVP_REPORT_RECORDS`, default
//! 1,000,000 records: five years of a portal's reads, one every 158 seconds, about 10,000
//! patients).

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::cast_precision_loss,
    reason = "a benchmark binary: a failure should stop it, and it reports on stdout"
)]

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use zvp_audit::event::{AuditEvent, PatientRef};
use zvp_audit::log::{AuditLog, FileLog, FileLogOptions};
use zvp_audit::report::{self, Period, ReportQuery, Subject};
use zvp_core::Bsn;

const PATIENTS: u64 = 10_007;

/// A valid BSN for patient `n`: eight digits from `n`, and the ninth that makes the
/// eleven-test hold (the first of three prefixes whose check digit is a digit).
fn bsn(n: u64) -> Bsn {
    (0..3)
        .find_map(|k| {
            let prefix = 10_000_000 + n * 3 + k;
            let digits: Vec<u64> = prefix
                .to_string()
                .bytes()
                .map(|b| u64::from(b - b'0'))
                .collect();
            let sum: u64 = digits.iter().zip((2..=9).rev()).map(|(d, w)| d * w).sum();
            let check = sum % 11;
            (check < 10)
                .then(|| format!("{prefix}{check}").parse::<Bsn>().ok())
                .flatten()
        })
        .unwrap()
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let records: u64 = std::env::var("ZVP_REPORT_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("zvp-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let start = Utc.with_ymd_and_hms(2021, 12, 1, 0, 0, 0).unwrap();
    let step = chrono::Duration::seconds(158);
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    let built = Instant::now();
    runtime.block_on(async {
        let mut batch = Vec::with_capacity(2_000);
        for n in 0..records {
            let mut e = AuditEvent::example(n);
            e.recorded = start + step * i32::try_from(n).unwrap();
            let patient = (n * 7_919) % PATIENTS;
            e.patient = Some(PatientRef {
                id: format!("pat-{patient}").parse().unwrap(),
                bsn: Some(bsn(patient)),
            });
            batch.push(e);
            if batch.len() == 2_000 {
                log.append_all(&batch).await.unwrap();
                batch.clear();
            }
        }
        log.append_all(&batch).await.unwrap();
    });
    let end = start + step * i32::try_from(records).unwrap();
    let bytes: u64 = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!(
        "{records} records ({:.0} MiB in {:?}), written in {:.1} s",
        bytes as f64 / f64::from(1 << 20),
        dir,
        built.elapsed().as_secs_f64()
    );
    // A patient with reads in the last 90 days.
    let patient = bsn((records - 10) * 7_919 % PATIENTS);
    let period = Period {
        from: Some(end - chrono::Duration::days(90)),
        to: Some(end),
    };
    let query = ReportQuery {
        subject: Subject::Patient(patient),
        period,
        limit: 500,
        after: None,
    };
    let rss_before = zvp_benches::peak_rss_mib();
    let mut bounded = Vec::new();
    let mut page = None;
    for _ in 0..9 {
        let t = Instant::now();
        page = Some(runtime.block_on(log.report(&query)).unwrap());
        bounded.push(t.elapsed());
    }
    let page = page.unwrap();
    let rss_bounded = zvp_benches::peak_rss_mib();
    let mut full = Vec::new();
    let mut rows = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let events = runtime.block_on(AuditLog::events(&log)).unwrap();
        rows = report::patient_view(&events, patient, period).len();
        full.push(t.elapsed());
    }
    let rss_full = zvp_benches::peak_rss_mib();
    assert_eq!(rows, page.events.len(), "both ways find the same records");
    let (bounded, full) = (median(bounded), median(full));
    println!(
        "\n| one patient's last 90 days (page of at most 500) | median | peak RSS after |\n|---|---|---|"
    );
    println!(
        "| `report` (the segments of the period, the page kept) | {:.1} ms | {:.0} MiB |",
        bounded.as_secs_f64() * 1e3,
        rss_bounded
    );
    println!(
        "| `events` + `patient_view` (every record read and parsed) | {:.1} ms | {:.0} MiB |",
        full.as_secs_f64() * 1e3,
        rss_full
    );
    println!(
        "\n{} records found; bounded / full: {:.2}% of the time; peak RSS before the reports {:.0} MiB",
        page.events.len(),
        100.0 * bounded.as_secs_f64() / full.as_secs_f64(),
        rss_before
    );
    drop(log);
    let _ = std::fs::remove_dir_all(&dir);
}
