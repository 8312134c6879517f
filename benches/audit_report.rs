//! An audit report on a large file log: one patient's last 90 days, a page of at most 500
//! records, as the administrator's report page asks it (`AuditLog::report`: only the segments
//! the period can be in, a record parsed only when it holds the BSN, only the page kept),
//! beside the page's former way, which every report took: every event of the log read and
//! parsed (`AuditLog::events`), then filtered (`report::patient_view`). Same log, same run,
//! warm page cache for both.
//!
//! Then the same on the PostgreSQL log (`log::pg`, PostgreSQL at 127.0.0.1:5432; skipped when
//! it is not reachable): `report` (the batch rows of the patient and period, found by their
//! indexes) beside `events` + `patient_view` (every row read).
//!
//! Run: `cargo bench -p zvp-benches --bench audit_report` (`ZVP_REPORT_RECORDS`, default
//! 1,000,000 records: five years of a portal's reads, one every 158 seconds, about 10,000
//! patients; `ZVP_REPORT_ONLY=postgres` or `=files` runs one log alone).

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

/// Record `n` of the log: a read one 158 s after the last, of patient `n × 7919 mod 10,007`.
fn event(n: u64) -> AuditEvent {
    let mut e = AuditEvent::example(n);
    e.recorded = start() + step() * i32::try_from(n).unwrap();
    let patient = (n * 7_919) % PATIENTS;
    e.patient = Some(PatientRef {
        id: format!("pat-{patient}").parse().unwrap(),
        bsn: Some(bsn(patient)),
    });
    e
}

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2021, 12, 1, 0, 0, 0).unwrap()
}

fn step() -> chrono::Duration {
    chrono::Duration::seconds(158)
}

/// The query of the bench: the patient of one of the last records, the last 90 days, a page
/// of at most 500.
fn query(records: u64) -> ReportQuery {
    let end = start() + step() * i32::try_from(records).unwrap();
    ReportQuery {
        subject: Subject::Patient(bsn((records - 10) * 7_919 % PATIENTS)),
        period: Period {
            from: Some(end - chrono::Duration::days(90)),
            to: Some(end),
        },
        limit: 500,
        after: None,
    }
}

/// The median times (and the peak RSS after each way) of `report` nine times and of `events` +
/// `patient_view` three times on `log`; checks that both find the same records.
fn measure(runtime: &tokio::runtime::Runtime, log: &dyn AuditLog, records: u64) -> Figures {
    let query = query(records);
    let Subject::Patient(patient) = query.subject else {
        unreachable!("a patient's report")
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
        let events = runtime.block_on(log.events()).unwrap();
        rows = report::patient_view(&events, patient, query.period).len();
        full.push(t.elapsed());
    }
    let rss_full = zvp_benches::peak_rss_mib();
    assert_eq!(rows, page.events.len(), "both ways find the same records");
    Figures {
        found: page.events.len(),
        bounded: median(bounded),
        full: median(full),
        rss_before,
        rss_bounded,
        rss_full,
    }
}

struct Figures {
    found: usize,
    bounded: Duration,
    full: Duration,
    rss_before: f64,
    rss_bounded: f64,
    rss_full: f64,
}

impl Figures {
    fn print(&self, log: &str, bounded: &str, full: &str) {
        println!(
            "\n| {log}: one patient's last 90 days (page of at most 500) | median | peak RSS after |\n|---|---|---|"
        );
        println!(
            "| `report` ({bounded}) | {:.1} ms | {:.0} MiB |",
            self.bounded.as_secs_f64() * 1e3,
            self.rss_bounded
        );
        println!(
            "| `events` + `patient_view` ({full}) | {:.1} ms | {:.0} MiB |",
            self.full.as_secs_f64() * 1e3,
            self.rss_full
        );
        println!(
            "\n{} records found; bounded / full: {:.2}% of the time; peak RSS before the reports {:.0} MiB",
            self.found,
            100.0 * self.bounded.as_secs_f64() / self.full.as_secs_f64(),
            self.rss_before
        );
    }
}

fn main() {
    let records: u64 = std::env::var("ZVP_REPORT_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let only = std::env::var("ZVP_REPORT_ONLY").ok();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if only.as_deref() != Some("postgres") {
        files(&runtime, records);
    }
    if only.as_deref() != Some("files") {
        postgres(&runtime, records);
    }
}

/// The file log's figures.
fn files(runtime: &tokio::runtime::Runtime, records: u64) {
    let dir = std::env::temp_dir().join(format!("zvp-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    let built = Instant::now();
    runtime.block_on(async {
        let mut batch = Vec::with_capacity(2_000);
        for n in 0..records {
            batch.push(event(n));
            if batch.len() == 2_000 {
                log.append_all(&batch).await.unwrap();
                batch.clear();
            }
        }
        log.append_all(&batch).await.unwrap();
    });
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
    measure(runtime, &log, records).print(
        "file log",
        "the segments of the period, the page kept",
        "every record read and parsed",
    );
    drop(log);
    let _ = std::fs::remove_dir_all(&dir);
}

const PG: &str = "host=127.0.0.1 port=5432 user=postgres dbname=test";

/// The PostgreSQL log's figures, in schema `zvp_bench_report` (dropped before and after).
fn postgres(runtime: &tokio::runtime::Runtime, records: u64) {
    let schema = "zvp_bench_report";
    let client = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(PG, tokio_postgres::NoTls)
            .await
            .ok()?;
        tokio::spawn(connection);
        Some(client)
    });
    let Some(client) = client else {
        println!("PostgreSQL at 127.0.0.1:5432 not reachable: its rows are skipped");
        return;
    };
    let drop_schema = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
    runtime
        .block_on(client.batch_execute(&drop_schema))
        .unwrap();
    let log = runtime
        .block_on(zvp_audit::log::pg::PgLog::connect(PG, schema))
        .unwrap();
    let built = Instant::now();
    runtime.block_on(async {
        // A full batch of the writer per append_all: one row each.
        let mut batch = Vec::with_capacity(1_024);
        for n in 0..records {
            batch.push(event(n));
            if batch.len() == 1_024 {
                log.append_all(&batch).await.unwrap();
                batch.clear();
            }
        }
        log.append_all(&batch).await.unwrap();
    });
    let written = built.elapsed();
    // The statistics autovacuum would have gathered on a log this old.
    runtime
        .block_on(client.batch_execute(&format!("ANALYZE {schema}.audit_batches")))
        .unwrap();
    let size: i64 = runtime
        .block_on(client.query_one(
            &format!("SELECT pg_total_relation_size('{schema}.audit_batches')"),
            &[],
        ))
        .unwrap()
        .get(0);
    println!(
        "\n{records} records in PostgreSQL ({:.0} MiB with indexes and TOAST), written in {:.1} s",
        size as f64 / f64::from(1 << 20),
        written.as_secs_f64()
    );
    measure(runtime, &log, records).print(
        "PostgreSQL log",
        "the rows of the patient and period, by their indexes",
        "every row read and parsed",
    );
    drop(log);
    runtime
        .block_on(client.batch_execute(&drop_schema))
        .unwrap();
}
