//! Load on the whole portal over mutual TLS: many distinct generated UZI-pas cards, each on its
//! own keep-alive connection, asking for the start page and a patient's results page — with
//! the UZI validation, the policy, the EPD (the synthetic hospital in process) and the durable
//! audit log (file log, group commit) in the path of every request. Side by side, in the same
//! run and over the same TLS setup (the same server certificate, the same UZI client-certificate
//! verifier), a plain hyper "hello" service: the floor.
//!
//! Measured: requests per second at saturation (closed loop), p50/p99 latency at half of that
//! rate (open loop, latency counted from the scheduled send time), full-handshake logins per
//! second, and the peak resident memory of the process (portal and load generator together,
//! so an upper bound for the portal) with what the floor phase alone (load generator and hello
//! service) added to it, which bounds the load generator's part. For each saturation phase also
//! the process's CPU time per request and the machine's idle share (from `/proc`), and for the
//! results page the audit log's records per sync: where a page's time goes besides the CPU.
//! The saturation phases take turns in one-second stretches, and so do the logins, so that
//! the ratios among them are of the same minutes; the memory is read in a stage of its own
//! before them. The deployment path and the synthetic EPD measured apart run after them.
//!
//! Beside the portal with the synthetic hospital in process, the real deployment path: the same
//! portal with the FHIR adapter (`FhirEpd`) against zvp-mock-epd over loopback HTTP, the mock
//! on a runtime of its own (one worker thread) in this process, serving the same hospital.
//!
//! Each page and the login has a bound beside it, served over the floor's TLS setup: what no
//! portal can leave out of it (the results page: one durable audit record and its bytes; the
//! start page: one durable record per patient listed and its bytes; the login: the card's
//! UZI validation and a durable login record). The services and the load generator run on
//! runtimes of their own (threads `portal` and `load`), so that the CPU time of each is read
//! apart; the synthetic EPD's own CPU time per page is measured on a portal of its own
//! (`load/timed_epd.rs`).
//!
//! Run: `cargo bench -p zvp-benches --bench portal_load` (ZVP_LOAD_SECONDS per phase, default
//! 5; ZVP_LOAD_CONNECTIONS, default 32; ZVP_LOAD_WORKERS, the runtime's worker threads,
//! default 2 — one per core of the project's machine; ZVP_LOAD_LOGIN_ROUNDS, default 4: the
//! login phases take turns in that many stretches, so that their ratios are of the same
//! minutes).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs,
    reason = "benchmark code"
)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use chrono::Utc;
use rustls_pki_types::PrivateKeyDer;
use zvp_audit::log::{FileLog, FileLogOptions};
use zvp_auth::directory::{Account, AccountStatus, DirectoryStore, MemoryDirectory};
use zvp_auth::testpki::{CardSpec, IssuedCertificate, KeyAlgorithm, TestPki};
use zvp_auth::uzi::Environment;
use zvp_core::{AgbCode, RoleCode, UziNumber};
use zvp_epd::synthetic::{DEMO_GPS, SyntheticEpd};
use zvp_epd::{Epd, RequestContext};
use zvp_portal::{Portal, serve};

use generator::{
    BODY_BYTES, Clients, Slice, login_slice, logins, paced, saturate, saturate_expecting, summarize,
};
use measure::{Ticks, audit_line, cpu_line, dir_bytes, ratio, row, ticks};

#[path = "load/bounds.rs"]
mod bounds;
#[path = "load/generator.rs"]
mod generator;
#[path = "load/measure.rs"]
mod measure;
#[path = "load/refusals.rs"]
mod refusals;
#[path = "load/stores.rs"]
mod stores;
#[path = "load/threads.rs"]
mod threads;
#[path = "load/timed_epd.rs"]
mod timed_epd;

/// The runtime the services run on (threads named `portal`), apart from the load generator's
/// (threads named `load`): so that the CPU time of each is counted apart, as two processes
/// would be.
static SERVICES: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();

struct Setup {
    pki: TestPki,
    cards: Vec<IssuedCertificate>,
    patients: Vec<String>,
}

// The allocator the zvp-portal binary runs with (see its main.rs), so that the portal is
// measured as it is deployed; the floor runs in the same process with the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Serves `router` over the portal's TLS setup on a free port.
async fn start(setup: &Setup, router: Router) -> u16 {
    let server = setup
        .pki
        .issue_tls_server(&["localhost"], Utc::now())
        .unwrap();
    let validator = setup.pki.validator().unwrap().without_revocation_checking();
    let tls = serve::tls_config(
        &validator,
        vec![server.der.clone()],
        PrivateKeyDer::Pkcs8(server.private_key()),
        serve::TlsOptions::default(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    std::mem::forget(_stop);
    let services = SERVICES.get().expect("the services' runtime");
    let listener = {
        let _entered = services.enter();
        tokio::net::TcpListener::from_std(listener.into_std().unwrap()).unwrap()
    };
    services.spawn(serve::serve_tls(
        listener,
        tls,
        router,
        serve::Limits::default(),
        stopped,
    ));
    port
}

/// The EPD of a deployment: the FHIR adapter against zvp-mock-epd serving `epd` on a loopback
/// port, the mock on its own runtime with one worker thread.
fn over_fhir(epd: Arc<SyntheticEpd>) -> Arc<dyn Epd> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let state = Arc::new(zvp_mock_epd::MockEpd::new(
        epd,
        base.clone(),
        zvp_mock_epd::Faults::default(),
    ));
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mock-epd")
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            zvp_mock_epd::serve(listener, state, std::future::pending())
                .await
                .unwrap();
        });
    });
    Arc::new(zvp_epd::client::FhirEpd::new(zvp_epd::client::FhirEpdConfig::new(base)).unwrap())
}

fn main() {
    let seconds = env("ZVP_LOAD_SECONDS", 5);
    let connections = env("ZVP_LOAD_CONNECTIONS", 32) as usize;
    // The services (the portal, the floor, the bounds) on one runtime, the load generator on
    // another: two workers each, as two processes on the 2-core machine would have.
    let services = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env("ZVP_LOAD_WORKERS", 2) as usize)
        .thread_name("portal")
        .enable_all()
        .build()
        .unwrap();
    SERVICES.set(services.handle().clone()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(env("ZVP_LOAD_GENERATOR_WORKERS", 2) as usize)
        .thread_name("load")
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let now = Utc::now();
        let pki = TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, now).unwrap();
        // The synthetic hospital is the benchmark's, not the portal's: in a deployment the
        // EPD's records are on the hospital's servers. Its resident size is counted apart.
        let before_epd = zvp_benches::rss_mib();
        let epd = Arc::new(SyntheticEpd::generate(2026, now, 5_000).unwrap());
        let epd_mib = zvp_benches::rss_mib() - before_epd;
        let directory = Arc::new(MemoryDirectory::new());
        let mut cards = Vec::new();
        let mut accounts = Vec::new();
        for n in 0..connections {
            let uzi = UziNumber::new(900_001_000 + n as u32).unwrap();
            let agb = AgbCode::new(DEMO_GPS[n % DEMO_GPS.len()].agb);
            let mut spec = CardSpec::care_provider(uzi, RoleCode::GENERAL_PRACTITIONER, now);
            spec.agb = agb;
            cards.push(pki.issue_card(&spec).unwrap().authentication);
            let account = Account {
                uzi,
                agb,
                name: format!("Huisarts {n}"),
                role: RoleCode::GENERAL_PRACTITIONER,
                practice_agb: None,
                status: AccountStatus::Active,
                created_at: now,
                last_login: Some(now),
                previous_login: None,
                accepted_terms: Some(1),
                admin: false,
                contact: Default::default(),
            };
            directory.create_account(&account).await.unwrap();
            accounts.push(account);
        }
        // Each card's own patients (admitted ones), for its results pages.
        let ctx = RequestContext { request_id: "load".to_owned() };
        let mut own: Vec<Vec<String>> = vec![Vec::new(); DEMO_GPS.len()];
        for (i, gp) in DEMO_GPS.iter().enumerate() {
            let listed = epd.admitted(&[AgbCode::new(gp.agb).unwrap()], &ctx).await.unwrap();
            own[i] = listed.iter().map(|l| l.patient.id.to_string()).collect();
        }
        let patients: Vec<String> = own.iter().flatten().cloned().collect();
        let setup = Setup { pki, cards, patients };
        let audit_dir = std::env::temp_dir().join(format!("zvp-load-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&audit_dir);
        let log = Arc::new(FileLog::open(&audit_dir, FileLogOptions::default()).unwrap());
        // A portal of the cards' directory on `epd`, writing to `log`, served on a free port.
        let serve_portal = async |epd: Arc<dyn Epd>, log: Arc<FileLog>| {
            let portal = Portal::builder()
                .epd(epd)
                .directory(directory.clone())
                .audit(log)
                .validator(Arc::new(setup.pki.validator().unwrap().without_revocation_checking()))
                .build()
                .unwrap();
            start(&setup, portal.router()).await
        };
        let own_log = |name: &str| {
            let dir = std::env::temp_dir().join(format!("zvp-load-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            (Arc::new(FileLog::open(&dir, FileLogOptions::default()).unwrap()), dir)
        };
        let portal_port = serve_portal(epd.clone(), log.clone()).await;
        // The deployment path: the same portal reading the same hospital over FHIR.
        let (fhir_log, fhir_dir) = own_log("fhir");
        let fhir_port = serve_portal(over_fhir(epd.clone()), fhir_log).await;
        // The same portal with the synthetic EPD's CPU time counted, to measure apart what the
        // hospital's stand-in costs each page (its own log, so the portal's is measured alone).
        let timed = Arc::new(timed_epd::TimedEpd::new(epd.clone()));
        let (timed_log, timed_dir) = own_log("timed");
        let timed_port = serve_portal(timed.clone(), timed_log).await;
        let hello = Router::new().route("/", axum::routing::get(|| async { "hello" }));
        let hello_port = start(&setup, hello).await;
        // What no portal can leave out of a results page: its durable audit record before
        // the page, and the page's bytes over the same TLS — nothing else (no session, policy,
        // EPD or HTML). Its own file log, so that the portal's log is measured alone.
        let (bound_log, bound_dir) = own_log("bound");
        let bound_validator = Arc::new(setup.pki.validator().unwrap().without_revocation_checking());
        let bound_port = start(&setup, bounds::router(Arc::clone(&bound_log), bound_validator)).await;

        let start_page: Arc<dyn Fn(usize, usize) -> String + Send + Sync> = Arc::new(|_, _| "/".to_owned());
        let own_for_results = own.clone();
        let results: Arc<dyn Fn(usize, usize) -> String + Send + Sync> = Arc::new(move |n, i| {
            let list = &own_for_results[n % own_for_results.len()];
            format!("/patient/{}/uitslagen/klinische-chemie", list[i % list.len()])
        });
        let hello_path: Arc<dyn Fn(usize, usize) -> String + Send + Sync> = Arc::new(|_, _| "/".to_owned());
        println!(
            "{} connections, each with its own card; {} s per phase; {} admitted patients of the cards' GPs",
            connections,
            seconds,
            setup.patients.len()
        );
        // Warm up both (sessions made, caches of the allocator and the kernel).
        let _ = saturate(&setup, &[portal_port], Arc::clone(&start_page), 1).await;
        let _ = saturate(&setup, &[hello_port], Arc::clone(&hello_path), 1).await;

        if std::env::var("ZVP_LOAD_ONLY").as_deref() == Ok("refusals") {
            refusals::refusals(&setup, portal_port, &log, &own, seconds).await;
            return;
        }
        // ZVP_LOAD_ONLY=logins: the portal's full-handshake logins alone, for profiling.
        if std::env::var("ZVP_LOAD_ONLY").as_deref() == Ok("logins") {
            let path = if std::env::var("ZVP_LOAD_LOGIN_PATH").as_deref() == Ok("/zoeken") { "/zoeken" } else { "/" };
            let run = logins(&setup, portal_port, path, seconds, env("ZVP_LOAD_LOGIN_CLIENTS", 8) as usize).await;
            row("portal start page, full-handshake logins", &run);
            return;
        }
        // ZVP_LOAD_ONLY=results (or =start): the floor and that page alone, at saturation and
        // at half of its peak, for profiling.
        if let Ok(only) = std::env::var("ZVP_LOAD_ONLY") {
            let paths = if only == "start" { Arc::clone(&start_page) } else { Arc::clone(&results) };
            let t0 = ticks();
            let floor = saturate(&setup, &[hello_port], Arc::clone(&hello_path), seconds).await;
            let t1 = ticks();
            row("TLS hello (floor)", &floor);
            let before = BODY_BYTES.load(std::sync::atomic::Ordering::Relaxed);
            let (syncs, records) = (log.sync_count(), log.size().unwrap());
            let run = saturate(&setup, &[portal_port], Arc::clone(&paths), seconds).await;
            let t2 = ticks();
            audit_line(&log, syncs, records, seconds);
            row(&format!("portal {only} page"), &run);
            cpu_line("floor", t0, t1, floor.per_second * seconds as f64);
            cpu_line("page", t1, t2, run.per_second * seconds as f64);
            let bytes = BODY_BYTES.load(std::sync::atomic::Ordering::Relaxed) - before;
            bounds::RESULT_BYTES.store((bytes as f64 / (run.per_second * seconds as f64).max(1.0)) as usize, std::sync::atomic::Ordering::Relaxed);
            println!(
                "average page: {:.0} bytes; page / floor: {:.1}%",
                bytes as f64 / (run.per_second * seconds as f64),
                100.0 * run.per_second / floor.per_second
            );
            let (syncs, records) = (bound_log.sync_count(), bound_log.size().unwrap());
            let t3 = ticks();
            let least = saturate(&setup, &[bound_port], Arc::clone(&hello_path), seconds).await;
            let t4 = ticks();
            row(bounds::BOUND, &least);
            audit_line(&bound_log, syncs, records, seconds);
            cpu_line("bound", t3, t4, least.per_second * seconds as f64);
            println!("bound / floor: {:.1}%", 100.0 * least.per_second / floor.per_second);
            let half = paced(&setup, portal_port, paths, run.per_second / 2.0, seconds).await;
            row("at half of peak", &half);
            let hello = paced(&setup, hello_port, Arc::clone(&hello_path), run.per_second / 2.0, seconds).await;
            row("TLS hello at the same rate", &hello);
            return;
        }
        println!("\n| saturation (closed loop) | requests/s | p50 | p99 | errors |\n|---|---|---|---|---|");
        // The portal's memory is read in a stage of its own, before the phases in turns (which
        // hold a connection per card for each of five kinds at once): the floor alone (the
        // load generator and the hello service: what it adds to the resident memory bounds the
        // generator's part), then the start page, the results page and logins.
        let before_floor = (zvp_benches::reset_peak_rss(), zvp_benches::rss_mib());
        let _ = saturate(&setup, &[hello_port], Arc::clone(&hello_path), 2).await;
        let floor_growth = zvp_benches::peak_rss_mib() - before_floor.1;
        let _ = saturate(&setup, &[portal_port], Arc::clone(&start_page), 2).await;
        let _ = saturate(&setup, &[portal_port], Arc::clone(&results), 2).await;
        // Logins onto the start page, each a session the portal keeps.
        let _ = logins(&setup, portal_port, "/", 2, env("ZVP_LOAD_LOGIN_CLIENTS", 8) as usize).await;
        let peak = zvp_benches::peak_rss_mib();
        // The five phases take turns in stretches of a second, each kind keeping its
        // connections and sessions between its stretches, so that a change in the machine's
        // speed falls on all five alike: the ratios among them are of the same minutes. The
        // bounds' sizes are measured in the first round's page stretches, which come before
        // the bounds' (the order below).
        let list_path: Arc<dyn Fn(usize, usize) -> String + Send + Sync> = Arc::new(|_, _| "/lijst".to_owned());
        let mut kinds = [
            Clients::connect(&setup, &[hello_port], Arc::clone(&hello_path)).await,
            Clients::connect(&setup, &[portal_port], Arc::clone(&start_page)).await,
            Clients::connect(&setup, &[portal_port], Arc::clone(&results)).await,
            Clients::connect(&setup, &[bound_port], Arc::clone(&hello_path)).await,
            Clients::connect(&setup, &[bound_port], list_path).await,
        ];
        const FLOOR: usize = 0;
        const START: usize = 1;
        const RESULTS: usize = 2;
        const BOUND: usize = 3;
        const LIST_BOUND: usize = 4;
        let mut slices: [Slice; 5] = Default::default();
        let mut spent = [Ticks::default(); 5];
        // Per kind: audit records and syncs (the portal's log for the pages, the bounds' log
        // for the bounds), page bytes, and the logs' growth on disk.
        let (mut records, mut syncs, mut bytes, mut disk) = ([0u64; 5], [0u64; 5], [0u64; 5], [0u64; 5]);
        for round in 0..seconds {
            for (n, clients) in kinds.iter_mut().enumerate() {
                let (kind_log, kind_dir) = if n == START || n == RESULTS { (&log, &audit_dir) } else { (&bound_log, &bound_dir) };
                let before = (ticks(), kind_log.size().unwrap(), kind_log.sync_count(), BODY_BYTES.load(std::sync::atomic::Ordering::Relaxed), dir_bytes(kind_dir));
                let slice = clients.stretch(Duration::from_secs(1)).await;
                spent[n] = spent[n].plus(before.0, ticks());
                records[n] += kind_log.size().unwrap() - before.1;
                syncs[n] += kind_log.sync_count() - before.2;
                bytes[n] += BODY_BYTES.load(std::sync::atomic::Ordering::Relaxed) - before.3;
                disk[n] += dir_bytes(kind_dir) - before.4;
                let pages = (slice.latencies.len() as f64).max(1.0);
                if round == 0 && n == START {
                    bounds::LIST_RECORDS.store((records[n] as f64 / pages).round() as usize, std::sync::atomic::Ordering::Relaxed);
                    bounds::LIST_BYTES.store((bytes[n] as f64 / pages).round() as usize, std::sync::atomic::Ordering::Relaxed);
                }
                if round == 0 && n == RESULTS {
                    bounds::RESULT_BYTES.store((bytes[n] as f64 / pages).round() as usize, std::sync::atomic::Ordering::Relaxed);
                }
                slices[n].add(slice);
            }
        }
        // Closed now: the phases after hold connections of their own.
        drop(kinds);
        let counts: Vec<f64> = slices.iter().map(|s| (s.latencies.len() as f64).max(1.0)).collect();
        let elapsed: Vec<f64> = slices.iter().map(|s| s.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)).collect();
        let [floor, start_run, results_run, least, list_bound] = slices.map(|s| summarize(s.latencies, s.elapsed, s.errors));
        let records_per_page = records[START] as f64 / counts[START];
        let bytes_per_page = bytes[START] as f64 / counts[START];
        let results_bytes = bytes[RESULTS] as f64 / counts[RESULTS];
        row("TLS hello (floor)", &floor);
        row("portal start page", &start_run);
        row("portal results page", &results_run);
        row(bounds::BOUND, &least);
        row(
            &format!(
                "TLS hello + {} durable audit records + {:.1} kB body (the start page's bound)",
                bounds::LIST_RECORDS.load(std::sync::atomic::Ordering::Relaxed),
                bytes_per_page / 1e3
            ),
            &list_bound,
        );
        println!();
        let zero = Ticks::default();
        let floor_us = cpu_line("TLS hello (floor)", zero, spent[FLOOR], counts[FLOOR]);
        let start_us = cpu_line("portal start page", zero, spent[START], counts[START]);
        let results_us = cpu_line("portal results page", zero, spent[RESULTS], counts[RESULTS]);
        let bound_us = cpu_line("the results page's bound", zero, spent[BOUND], counts[BOUND]);
        let list_bound_us = cpu_line("the start page's bound", zero, spent[LIST_BOUND], counts[LIST_BOUND]);
        for (name, n) in [("results page", RESULTS), ("results page's bound", BOUND)] {
            println!(
                "audit log, {name}: {} records in {} syncs ({:.1} per sync, {:.0} syncs/s)",
                records[n],
                syncs[n],
                records[n] as f64 / syncs[n].max(1) as f64,
                syncs[n] as f64 / elapsed[n]
            );
        }
        println!(
            "start page: {records_per_page:.1} audit records and {bytes_per_page:.0} bytes a page; results page: {results_bytes:.0} bytes"
        );
        let on_disk = |kinds: &[usize]| {
            kinds.iter().map(|&n| disk[n]).sum::<u64>() as f64 / kinds.iter().map(|&n| records[n]).sum::<u64>().max(1) as f64
        };
        println!(
            "an audit record on disk: the portal's {:.0} bytes, the bounds' {:.0} bytes",
            on_disk(&[START, RESULTS]),
            on_disk(&[BOUND, LIST_BOUND])
        );
        println!("\n| at half of peak (open loop) | rate | p50 | p99 | errors |\n|---|---|---|---|---|");
        for (name, peak, paths) in [
            ("portal start page", &start_run, Arc::clone(&start_page)),
            ("portal results page", &results_run, Arc::clone(&results)),
        ] {
            let rate = peak.per_second / 2.0;
            let run = paced(&setup, portal_port, paths, rate, seconds).await;
            println!(
                "| {name} | {:.0}/s | {:.2} ms | {:.2} ms | {} |",
                rate,
                run.p50.as_secs_f64() * 1e3,
                run.p99.as_secs_f64() * 1e3,
                run.errors
            );
        }

        let clients = env("ZVP_LOAD_LOGIN_CLIENTS", 8) as usize;
        println!("\n| full-handshake logins ({clients} clients, no resumption) | per second | p50 | p99 | errors |\n|---|---|---|---|---|");
        // The four kinds of login take turns, in stretches of a second or so, so that a
        // change in the machine's speed (a neighbour, the clock) falls on all four alike
        // rather than on whichever ran at that moment: the ratios below are of the same
        // minutes. The login alone's page size is measured in its first stretch, before the
        // bound sends it.
        let rounds = env("ZVP_LOAD_LOGIN_ROUNDS", 4).max(1);
        let stretch = Duration::from_millis(seconds * 1000 / rounds);
        let kinds: [(u16, &'static str); 4] =
            [(hello_port, "/"), (portal_port, "/"), (portal_port, "/zoeken"), (bound_port, "/aanmelden")];
        let mut slices: [Slice; 4] = Default::default();
        let mut spent = [Ticks::default(); 4];
        for round in 0..rounds {
            for (n, &(port, path)) in kinds.iter().enumerate() {
                let before = (ticks(), BODY_BYTES.load(std::sync::atomic::Ordering::Relaxed));
                let slice = login_slice(&setup, port, path, stretch, clients).await;
                spent[n] = spent[n].plus(before.0, ticks());
                if round == 0 && path == "/zoeken" {
                    let bytes = BODY_BYTES.load(std::sync::atomic::Ordering::Relaxed) - before.1;
                    let size = bytes as f64 / (slice.latencies.len() as f64).max(1.0);
                    bounds::LOGIN_BYTES.store(size.round() as usize, std::sync::atomic::Ordering::Relaxed);
                }
                slices[n].add(slice);
            }
        }
        let login_bytes = bounds::LOGIN_BYTES.load(std::sync::atomic::Ordering::Relaxed) as f64;
        // CPU per login by the logins counted, as for the pages: the time a stretch takes
        // includes its last logins, finished after its deadline.
        let login_counts: Vec<f64> = slices.iter().map(|s| (s.latencies.len() as f64).max(1.0)).collect();
        let [hello_logins, portal_logins, search_logins, login_bound] =
            slices.map(|s| summarize(s.latencies, s.elapsed, s.errors));
        row("TLS hello (floor)", &hello_logins);
        row("portal, landing on the start page", &portal_logins);
        row("portal, landing on the search form (the login alone)", &search_logins);
        row(&format!("TLS hello + UZI validation + durable login record + {:.1} kB (the login's bound)", login_bytes / 1e3), &login_bound);
        let zero = Ticks::default();
        let floor_login_us = cpu_line("login, TLS hello (floor)", zero, spent[0], login_counts[0]);
        let start_login_us = cpu_line("login, start page", zero, spent[1], login_counts[1]);
        let search_login_us = cpu_line("login, search form", zero, spent[2], login_counts[2]);
        let bound_login_us = cpu_line("login, the login's bound", zero, spent[3], login_counts[3]);
        println!(
            "logins / floor: landing on the start page {:.0}% by rate, {:.0}% by CPU; the login alone {:.0}% by rate, {:.0}% by CPU; \
             the login's bound {:.0}% by rate, {:.0}% by CPU; the login alone / its bound {:.0}% by rate",
            ratio(portal_logins.per_second, hello_logins.per_second),
            ratio(floor_login_us, start_login_us),
            ratio(search_logins.per_second, hello_logins.per_second),
            ratio(floor_login_us, search_login_us),
            ratio(login_bound.per_second, hello_logins.per_second),
            ratio(floor_login_us, bound_login_us),
            ratio(search_logins.per_second, login_bound.per_second),
        );
        println!(
            "\npeak resident memory of the process in the memory stage (portal + load generator + synthetic hospital): {peak:.0} MiB; \
             before the floor phase {:.0} MiB, which the floor phase (load generator + hello) \
             raised by {floor_growth:.0} MiB{}; the synthetic hospital {epd_mib:.0} MiB: \
             the portal alone between {:.0} and {:.0} MiB",
            before_floor.1,
            if before_floor.0 { "" } else { " (peak not reset: since the start)" },
            peak - floor_growth - epd_mib,
            peak - epd_mib
        );
        // The deployment path and the synthetic EPD measured apart come after the portal's own
        // phases, so that the peak above is the portal's, not the FHIR mock's or its client's.
        println!("\n| saturation, the deployment path | requests/s | p50 | p99 | errors |\n|---|---|---|---|---|");
        let _ = saturate(&setup, &[fhir_port], Arc::clone(&start_page), 1).await;
        let t5 = ticks();
        let fhir_start = saturate(&setup, &[fhir_port], Arc::clone(&start_page), seconds).await;
        let t6 = ticks();
        row("portal start page, FhirEpd → zvp-mock-epd (loopback)", &fhir_start);
        let fhir_results = saturate(&setup, &[fhir_port], Arc::clone(&results), seconds).await;
        let t7 = ticks();
        row("portal results page, FhirEpd → zvp-mock-epd (loopback)", &fhir_results);
        // The mock runs in this process: its share is in these.
        cpu_line("start page over FHIR", t5, t6, fhir_start.per_second * seconds as f64);
        cpu_line("results page over FHIR", t6, t7, fhir_results.per_second * seconds as f64);
        // What the synthetic EPD's answers cost a page, measured apart on a portal of its own.
        let (start_epd_us, results_epd_us) = {
            let mut per_page = Vec::new();
            for paths in [Arc::clone(&start_page), Arc::clone(&results)] {
                let _ = saturate(&setup, &[timed_port], Arc::clone(&paths), 1).await;
                let before = timed.nanos();
                let run = saturate(&setup, &[timed_port], paths, 2).await;
                per_page.push((timed.nanos() - before) as f64 / 1e3 / (run.per_second * 2.0).max(1.0));
            }
            (per_page[0], per_page[1])
        };
        println!(
            "the synthetic EPD's answers, measured apart: {start_epd_us:.1} µs of CPU per start page, \
             {results_epd_us:.1} µs per results page"
        );
        println!(
            "\nresults page / floor: {:.0}%; start page / floor: {:.0}%; the results page's bound / floor: {:.0}%",
            100.0 * results_run.per_second / floor.per_second,
            100.0 * start_run.per_second / floor.per_second,
            100.0 * least.per_second / floor.per_second
        );
        println!(
            "over FHIR / in process: start page {:.0}%, results page {:.0}%",
            100.0 * fhir_start.per_second / start_run.per_second,
            100.0 * fhir_results.per_second / results_run.per_second
        );
        println!(
            "start page / results page: {:.0}% by rate, {:.0}% by the portal's CPU, {:.0}% by the portal's CPU without the synthetic EPD's; \
             the start page's bound / results page: {:.0}% by rate, {:.0}% by CPU",
            ratio(start_run.per_second, results_run.per_second),
            ratio(results_us, start_us),
            ratio(results_us - results_epd_us, start_us - start_epd_us),
            ratio(list_bound.per_second, results_run.per_second),
            ratio(results_us, list_bound_us),
        );
        println!(
            "results page / bound: {:.0}% by rate, {:.0}% by CPU, {:.0}% by CPU without the synthetic EPD's; \
             start page / its bound: {:.0}% by rate, {:.0}% by CPU, {:.0}% without the EPD's; floor {floor_us:.1} µs",
            ratio(results_run.per_second, least.per_second),
            ratio(bound_us, results_us),
            ratio(bound_us, results_us - results_epd_us),
            ratio(start_run.per_second, list_bound.per_second),
            ratio(list_bound_us, start_us),
            ratio(list_bound_us, start_us - start_epd_us),
        );

        let _ = std::fs::remove_dir_all(&audit_dir);
        let _ = std::fs::remove_dir_all(&bound_dir);
        let _ = std::fs::remove_dir_all(&timed_dir);
        let _ = std::fs::remove_dir_all(&fhir_dir);
        if env("ZVP_LOAD_STORES", 1) == 1 {
            stores::stores(&setup, &accounts, epd, Arc::clone(&results), seconds).await;
        }
    });
}
