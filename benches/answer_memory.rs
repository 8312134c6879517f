//! Peak memory of the portal's EPD client against a hostile EPD: six calls at once (six start
//! pages) against a server that answers every search with 15 MiB pages, ten of them in a row.
//! Reported in `README.md`; memory is never asserted in a test (it is noisy), the budgets'
//! effect is asserted deterministically in `zvp-epd/tests/answer_budget.rs`.
//!
//! Run: `cargo bench -p zvp-benches --bench answer_memory` (one scenario per process, so the
//! peak is this scenario's). `ZVP_CALLS` (default 6) calls at once, `ZVP_PAGE_MIB` (15) and
//! `ZVP_PAGES` (10) per search.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark code"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zvp_benches::peak_rss_mib;
use zvp_core::PatientId;
use zvp_epd::client::{FhirEpd, FhirEpdConfig};
use zvp_epd::{Epd, RequestContext};

// The allocator the zvp-portal binary runs with (see its main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

/// Page `n` of a search: one AllergyIntolerance with a note of `size` bytes, and a `next`
/// link while `n < pages`.
fn page(base: &str, patient: &str, n: usize, pages: usize, size: usize) -> Vec<u8> {
    let link = if n < pages {
        format!(
            r#"{{"relation":"next","url":"{base}/AllergyIntolerance?patient=Patient/{patient}&page={}"}}"#,
            n + 1
        )
    } else {
        String::new()
    };
    let mut body = format!(
        r#"{{"resourceType":"Bundle","type":"searchset","link":[{link}],"entry":[{{"resource":{{"resourceType":"AllergyIntolerance","id":"a{n}","patient":{{"reference":"Patient/{patient}"}},"note":[{{"text":""#
    )
    .into_bytes();
    body.resize(body.len() + size, b'x');
    body.extend_from_slice(br#""}]}}]}"#);
    body
}

async fn serve(
    mut stream: TcpStream,
    base: String,
    pages: usize,
    size: usize,
    sent: Arc<AtomicUsize>,
) {
    let mut buffer = Vec::new();
    loop {
        let end = loop {
            if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
        buffer.drain(..end);
        let path = head.split(' ').nth(1).unwrap_or("");
        let n = path
            .split("page=")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        let patient = path
            .split("Patient%2F")
            .nth(1)
            .or_else(|| path.split("Patient/").nth(1))
            .and_then(|p| p.split('&').next())
            .unwrap_or("p1")
            .to_owned();
        let body = page(&base, &patient, n, pages, size);
        let header = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        if stream.write_all(header.as_bytes()).await.is_err() {
            return;
        }
        for piece in body.chunks(64 * 1024) {
            if stream.write_all(piece).await.is_err() {
                return;
            }
            sent.fetch_add(piece.len(), Ordering::Relaxed);
        }
    }
}

fn main() {
    let calls = env("ZVP_CALLS", 6);
    let size = env("ZVP_PAGE_MIB", 15) << 20;
    let pages = env("ZVP_PAGES", 10);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let before = peak_rss_mib();
    let (outcomes, elapsed, sent) = runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/fhir", listener.local_addr().unwrap());
        let sent = Arc::new(AtomicUsize::new(0));
        {
            let (base, sent) = (base.clone(), sent.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    tokio::spawn(serve(stream, base.clone(), pages, size, sent.clone()));
                }
            });
        }
        let mut config = FhirEpdConfig::new(&base);
        config.timeout = Duration::from_secs(120);
        let epd = FhirEpd::new(config).unwrap();
        let start = Instant::now();
        let tasks: Vec<_> = (0..calls)
            .map(|i| {
                let epd = epd.clone();
                tokio::spawn(async move {
                    let patient: PatientId = format!("p{i}").parse().unwrap();
                    let ctx = RequestContext {
                        request_id: format!("memory-{i}"),
                    };
                    epd.allergies(&patient, &ctx).await.map(|a| a.len())
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        (outcomes, start.elapsed(), sent.load(Ordering::Relaxed))
    });
    let ok = outcomes.iter().filter(|o| o.is_ok()).count();
    println!(
        "{calls} calls at once, {pages} pages of {} MiB each: {ok} answered, {} refused, in {:.1} s",
        size >> 20,
        calls - ok,
        elapsed.as_secs_f64()
    );
    for o in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        println!("  {o}");
    }
    println!(
        "server sent {:.0} MiB; peak RSS {:.0} MiB (before {:.0} MiB), RSS after {:.0} MiB",
        sent as f64 / f64::from(1 << 20),
        peak_rss_mib(),
        before,
        rss_mib()
    );
}
