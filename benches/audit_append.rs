//! Durable audit appends: zvp's file log (group commit) against SQLite (WAL,
//! synchronous=FULL, one transaction per record) with 1, 16 and 64 concurrent appenders, and
//! the cost of one `write` + `fdatasync` as the yardstick for a single appender's latency.
//!
//! A bench binary rather than criterion: it measures throughput and latency percentiles of
//! concurrent appenders, which criterion's per-iteration timing does not. Every append
//! returns only when durable on both sides. Run: `cargo bench -p zvp-benches --bench
//! audit_append` (ZVP_BENCH_APPENDS sets appends per configuration, default 3000 for the
//! file rows and 30,000 for the PostgreSQL rows, whose 64-appender pair runs three times;
//! ZVP_BENCH_ONLY=postgres runs only the PostgreSQL rows).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs,
    reason = "benchmark code"
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use zvp_audit::event::AuditEvent;
use zvp_audit::log::{FileLog, FileLogOptions};

/// Event `i`: a GP reading a patient's record, as the portal writes it, with the parts that
/// differ per request as random as they are in the portal (request id, certificate
/// fingerprint, client address), so that compression in a backend gets no easier case than
/// real events give it.
/// The events appended, made before any timing starts (see `main`): the benchmark times the
/// appends, not the making of random test data.
static EVENTS: std::sync::OnceLock<Vec<AuditEvent>> = std::sync::OnceLock::new();

/// The `i`th event to append.
fn event(i: usize) -> &'static AuditEvent {
    let events = EVENTS.get().expect("made in main before the runs");
    &events[i % events.len()]
}

/// A portal-like event numbered `i`, with its random parts.
fn make_event(i: usize) -> AuditEvent {
    let mut event = AuditEvent::example(i as u64);
    let mut state = i as u64;
    let mut hex = |bytes: usize| {
        let mut out = String::with_capacity(2 * bytes);
        for _ in 0..bytes / 8 {
            // splitmix64: fixed per i, uniform over the bits.
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            out.push_str(&format!("{:016x}", z ^ (z >> 31)));
        }
        out
    };
    event.request_id = hex(16);
    event.access_point.certificate_sha256 = Some(hex(32));
    let ip = hex(8);
    event.access_point.ip = Some(std::net::IpAddr::from([
        10,
        u8::from_str_radix(&ip[..2], 16).unwrap_or(0),
        u8::from_str_radix(&ip[2..4], 16).unwrap_or(0),
        u8::from_str_radix(&ip[4..6], 16).unwrap_or(0),
    ]));
    event
}

struct Result_ {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

/// Runs `appenders` threads that together make `total` appends with `append`, each timed.
fn run(appenders: usize, total: usize, append: Arc<dyn Fn(usize) + Send + Sync>) -> Result_ {
    let barrier = Arc::new(Barrier::new(appenders + 1));
    let per_thread = total / appenders;
    let threads: Vec<_> = (0..appenders)
        .map(|t| {
            let append = Arc::clone(&append);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let mut latencies = Vec::with_capacity(per_thread);
                for i in 0..per_thread {
                    let start = Instant::now();
                    append(t * per_thread + i);
                    latencies.push(start.elapsed());
                }
                latencies
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let elapsed = start.elapsed();
    latencies.sort();
    Result_ {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: latencies[latencies.len() / 2],
        p99: latencies[latencies.len() * 99 / 100],
    }
}

fn fresh(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("audit-bench")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn file_log(dir: &Path) -> Arc<dyn Fn(usize) + Send + Sync> {
    let log = Arc::new(FileLog::open(dir, FileLogOptions::default()).unwrap());
    Arc::new(move |i| {
        log.append_blocking(event(i)).unwrap();
    })
}

fn sqlite(dir: &Path) -> Arc<dyn Fn(usize) + Send + Sync> {
    let path = dir.join("audit.sqlite");
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL);",
        )
        .unwrap();
    }
    thread_local! {
        static CONNECTION: std::cell::RefCell<Option<(PathBuf, rusqlite::Connection)>> = const { std::cell::RefCell::new(None) };
    }
    Arc::new(move |i| {
        let json = serde_json::to_string(event(i)).unwrap();
        CONNECTION.with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.as_ref().is_none_or(|(p, _)| *p != path) {
                let c = rusqlite::Connection::open(&path).unwrap();
                c.execute_batch("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 60000;")
                    .unwrap();
                *cell = Some((path.clone(), c));
            }
            let (_, c) = cell.as_mut().unwrap();
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .unwrap();
            tx.execute("INSERT INTO audit (event) VALUES (?1)", [json])
                .unwrap();
            tx.commit().unwrap();
        });
    })
}

/// The median time of one small `write` + `fdatasync` in the same file system.
fn fsync_yardstick(dir: &Path) -> Duration {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("yardstick"))
        .unwrap();
    let mut times: Vec<Duration> = (0..200)
        .map(|_| {
            let start = Instant::now();
            file.write_all(&[0u8; 600]).unwrap();
            file.sync_data().unwrap();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// Runs `appenders` tokio tasks that together make `total` appends with `append`, each timed.
fn run_async<F, Fut>(
    runtime: &tokio::runtime::Runtime,
    appenders: usize,
    total: usize,
    append: F,
) -> Result_
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = ()> + Send,
{
    let per_task = total / appenders;
    runtime.block_on(async move {
        let start = Instant::now();
        let tasks: Vec<_> = (0..appenders)
            .map(|t| {
                let append = append.clone();
                tokio::spawn(async move {
                    let mut latencies = Vec::with_capacity(per_task);
                    for i in 0..per_task {
                        let begin = Instant::now();
                        append(t * per_task + i).await;
                        latencies.push(begin.elapsed());
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.unwrap());
        }
        let elapsed = start.elapsed();
        latencies.sort();
        Result_ {
            per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
            p50: latencies[latencies.len() / 2],
            p99: latencies[latencies.len() * 99 / 100],
        }
    })
}

/// The numbers of concurrent appenders measured: 1, 16 and 64, or those listed in
/// `ZVP_BENCH_APPENDERS` (e.g. `64` alone, for profiling).
fn appender_counts() -> Vec<usize> {
    std::env::var("ZVP_BENCH_APPENDERS")
        .ok()
        .map(|list| {
            list.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![1, 16, 64])
}

const PG: &str = "host=127.0.0.1 port=5432 user=postgres dbname=test";

/// zvp's PostgreSQL log and the plain one-insert-per-transaction table, side by side.
fn postgres_rows(total: usize) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let reachable = runtime.block_on(async {
        tokio_postgres::connect(PG, tokio_postgres::NoTls)
            .await
            .is_ok()
    });
    if !reachable {
        println!("PostgreSQL at 127.0.0.1:5432 not reachable: its rows are skipped");
        return;
    }
    println!(
        "| appenders | zvp PostgreSQL log appends/s | p50 | p99 | PostgreSQL insert-per-transaction appends/s | p50 | p99 | zvp / PostgreSQL |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    // The 64-appender row three times, each pair back to back: on a shared two-core machine a
    // single short pair moves by ±30% from one run to the next.
    let rounds = |appenders: usize| if appenders == 64 { 3 } else { 1 };
    for appenders in appender_counts()
        .into_iter()
        .flat_map(|a| std::iter::repeat_n(a, rounds(a)))
    {
        let n = if appenders == 1 { total / 3 } else { total };
        let schema = format!("zvp_bench_{appenders}");
        let log = runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(PG, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
                .batch_execute(&format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE; DROP TABLE IF EXISTS zvp_bench_plain;
                CREATE TABLE zvp_bench_plain (seq BIGSERIAL PRIMARY KEY, event BYTEA NOT NULL);"
                ))
                .await
                .unwrap();
            Arc::new(
                zvp_audit::log::pg::PgLog::connect(PG, &schema)
                    .await
                    .unwrap(),
            )
        });
        let ours = run_async(&runtime, appenders, n, move |i| {
            let log = Arc::clone(&log);
            async move {
                log.append(event(i)).await.unwrap();
            }
        });
        if std::env::var("SKIPPEER").is_ok() {
            println!("ours {:.0}", ours.per_second);
            continue;
        }
        // The peer: one connection per appender, one INSERT per transaction.
        // Each with its statement prepared once, so the peer pays one round trip per insert.
        let clients: Arc<Vec<(tokio_postgres::Client, tokio_postgres::Statement)>> =
            Arc::new(runtime.block_on(async {
                let mut clients = Vec::new();
                for _ in 0..appenders {
                    let (client, connection) = tokio_postgres::connect(PG, tokio_postgres::NoTls)
                        .await
                        .unwrap();
                    tokio::spawn(connection);
                    client
                        .batch_execute("SET synchronous_commit = on")
                        .await
                        .unwrap();
                    let insert = client
                        .prepare("INSERT INTO zvp_bench_plain (event) VALUES ($1)")
                        .await
                        .unwrap();
                    clients.push((client, insert));
                }
                clients
            }));
        let per_task = n / appenders;
        let peer = run_async(&runtime, appenders, n, move |i| {
            let clients = Arc::clone(&clients);
            async move {
                let json = serde_json::to_vec(event(i)).unwrap();
                let (client, insert) = &clients[i / per_task];
                client.execute(insert, &[&json]).await.unwrap();
            }
        });
        println!(
            "| {appenders} | {:.0} | {:.2} ms | {:.2} ms | {:.0} | {:.2} ms | {:.2} ms | {:.1}× |",
            ours.per_second,
            ours.p50.as_secs_f64() * 1e3,
            ours.p99.as_secs_f64() * 1e3,
            peer.per_second,
            peer.p50.as_secs_f64() * 1e3,
            peer.p99.as_secs_f64() * 1e3,
            ours.per_second / peer.per_second,
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let total: usize = std::env::var("ZVP_BENCH_APPENDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    // ZVP_BENCH_ONLY=postgres runs the PostgreSQL rows alone (e.g. with more appends).
    // The PostgreSQL rows take 30,000 appends unless ZVP_BENCH_APPENDS says otherwise (about half a second for zvp's log at
    // 64 appenders, a few seconds for the peer): 3,000 last ~40 ms, too short to be a figure.
    let pg_total = if std::env::var("ZVP_BENCH_APPENDS").is_ok() {
        total
    } else {
        30_000
    };
    EVENTS.get_or_init(|| (0..total.max(pg_total)).map(make_event).collect());
    if std::env::var("ZVP_BENCH_ONLY").as_deref() == Ok("postgres") {
        postgres_rows(pg_total);
        return;
    }
    let fsync = fsync_yardstick(&fresh("yardstick"));
    println!(
        "one write + fdatasync: {:.0} µs (median)",
        fsync.as_secs_f64() * 1e6
    );
    println!(
        "| appenders | zvp file log appends/s | p50 | p99 | SQLite appends/s | p50 | p99 | zvp / SQLite |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for appenders in [1usize, 16, 64] {
        let n = if appenders == 1 { total / 3 } else { total };
        let ours = run(appenders, n, file_log(&fresh(&format!("file-{appenders}"))));
        let peer = run(appenders, n, sqlite(&fresh(&format!("sqlite-{appenders}"))));
        println!(
            "| {appenders} | {:.0} | {:.2} ms | {:.2} ms | {:.0} | {:.2} ms | {:.2} ms | {:.1}× |",
            ours.per_second,
            ours.p50.as_secs_f64() * 1e3,
            ours.p99.as_secs_f64() * 1e3,
            peer.per_second,
            peer.p50.as_secs_f64() * 1e3,
            peer.p99.as_secs_f64() * 1e3,
            ours.per_second / peer.per_second,
        );
        if appenders == 1 {
            println!(
                "single appender p50 = {:.2} fsyncs",
                ours.p50.as_secs_f64() / fsync.as_secs_f64()
            );
        }
    }
    postgres_rows(pg_total);
}
