//! A hostile EPD that answers every search with page after large page: `FhirEpd` stops
//! reading at the call's answer budget with [`EpdError::TooLarge`], and the test server counts
//! what the client actually asked for and what it could send before the client closed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use zvp_core::PatientId;
use zvp_epd::client::{FhirEpd, FhirEpdConfig};
use zvp_epd::{Epd, EpdError, RequestContext};

const MIB: usize = 1 << 20;

/// What the server saw: searches asked for, and body bytes the client took off its socket
/// (written successfully; at most the socket buffers more than the client read).
#[derive(Default)]
struct Counts {
    searches: AtomicUsize,
    sent: AtomicUsize,
    /// Told when a request is held without an answer.
    stall: tokio::sync::Notify,
    /// Told when the client closed a connection the server was still writing to: from then
    /// on `sent` is final.
    cut: tokio::sync::Notify,
}

/// How the server answers a search.
#[derive(Clone, Copy)]
enum Pages {
    /// A Bundle of about this many bytes with a `next` link, for ever, with a Content-Length.
    Endless(usize),
    /// One chunked body of this many bytes, no Content-Length.
    OneChunked(usize),
    /// As `Endless`, but the second page of patient `stall` never comes.
    Stalling(usize),
}

fn ctx() -> RequestContext {
    RequestContext {
        request_id: "budget".to_owned(),
    }
}

const CAPABILITIES: &str = r#"{"resourceType":"CapabilityStatement","rest":[{"mode":"server","resource":[{"type":"AllergyIntolerance","searchParam":[{"name":"patient"}]}]}]}"#;

/// A Bundle of `size` bytes (give or take a few): one AllergyIntolerance of the asked patient
/// with a long note, and a link to another page like it.
fn page(base: &str, patient: &str, n: usize, size: usize) -> Vec<u8> {
    let head = format!(
        r#"{{"resourceType":"Bundle","type":"searchset","link":[{{"relation":"next","url":"{base}/AllergyIntolerance?patient=Patient/{patient}&page={n}"}}],"entry":[{{"resource":{{"resourceType":"AllergyIntolerance","id":"a{n}","patient":{{"reference":"Patient/{patient}"}},"note":[{{"text":""#
    );
    let tail = r#""}]}}]}"#;
    let mut body = head.into_bytes();
    body.resize(size.saturating_sub(tail.len()).max(body.len()), b'x');
    body.extend_from_slice(tail.as_bytes());
    body
}

/// Serves one connection: HTTP/1.1 keep-alive, the CapabilityStatement and the pages.
async fn serve(mut stream: TcpStream, base: String, pages: Pages, counts: Arc<Counts>) {
    let mut buffer = Vec::new();
    loop {
        // The request head (GETs only: no body).
        let head_end = loop {
            if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        buffer.drain(..head_end);
        let path = head.split(' ').nth(1).unwrap_or("").to_owned();
        if path.ends_with("/metadata") {
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\n\r\n{CAPABILITIES}",
                CAPABILITIES.len()
            );
            if stream.write_all(answer.as_bytes()).await.is_err() {
                return;
            }
            continue;
        }
        let n = counts.searches.fetch_add(1, Ordering::SeqCst) + 1;
        let patient = if path.contains("Patient%2Fstall") || path.contains("Patient/stall") {
            "stall"
        } else {
            "p1"
        };
        let (header, body) = match pages {
            Pages::Stalling(_) if patient == "stall" && path.contains("page=") => {
                counts.stall.notify_one();
                std::future::pending::<()>().await;
                return;
            }
            Pages::Endless(size) | Pages::Stalling(size) => {
                let body = page(&base, patient, n, size);
                (
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\n\r\n",
                        body.len()
                    ),
                    body,
                )
            }
            Pages::OneChunked(size) => (
                "HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ntransfer-encoding: chunked\r\n\r\n"
                    .to_owned(),
                page(&base, patient, n, size),
            ),
        };
        if stream.write_all(header.as_bytes()).await.is_err() {
            return;
        }
        for piece in body.chunks(64 * 1024) {
            let written = match pages {
                Pages::Endless(_) | Pages::Stalling(_) => stream.write_all(piece).await,
                Pages::OneChunked(_) => {
                    let framed =
                        [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat();
                    stream.write_all(&framed).await
                }
            };
            if written.is_err() {
                counts.cut.notify_one();
                return;
            }
            counts.sent.fetch_add(piece.len(), Ordering::SeqCst);
        }
        if matches!(pages, Pages::OneChunked(_)) && stream.write_all(b"0\r\n\r\n").await.is_err() {
            return;
        }
    }
}

/// A server on loopback; its FHIR base URL and what it counted.
async fn hostile(pages: Pages) -> (String, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let counts = Arc::new(Counts::default());
    let (b, c) = (base.clone(), counts.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, b.clone(), pages, c.clone()));
        }
    });
    (base, counts)
}

fn too_large(result: Result<impl std::fmt::Debug, EpdError>) -> String {
    match result {
        Err(EpdError::TooLarge(what)) => what,
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

/// With the defaults (32 MiB per call, 16 MiB per page, 50 pages), pages of 4 MiB: the call
/// stops during the ninth page, having asked for 9, not the 50 the page bound allows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_large_pages_stop_at_the_call_budget() {
    let page_size = 4 * MIB - 1024;
    let (base, counts) = hostile(Pages::Endless(page_size)).await;
    let mut config = FhirEpdConfig::new(&base);
    config.timeout = std::time::Duration::from_secs(60);
    let epd = FhirEpd::new(config).unwrap();
    let patient: PatientId = "p1".parse().unwrap();
    let what = too_large(epd.allergies(&patient, &ctx()).await);
    assert!(what.contains("33554432 bytes"), "{what}");
    let searches = counts.searches.load(Ordering::SeqCst);
    assert_eq!(searches, 9, "pages asked for");
    // Every byte the server could hand over belongs to the 9 pages asked for.
    assert!(counts.sent.load(Ordering::SeqCst) <= 9 * page_size);
}

/// One body with no declared length, 64 MiB against a budget of 1 MiB: the read stops at the
/// budget instead of taking the page's 16 MiB, and the server could hand over only what the
/// client read plus the loopback socket buffers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_without_length_is_cut_off_at_the_budget() {
    let (base, counts) = hostile(Pages::OneChunked(64 * MIB)).await;
    let mut config = FhirEpdConfig::new(&base);
    config.max_answer_bytes = MIB;
    config.timeout = std::time::Duration::from_secs(60);
    let epd = FhirEpd::new(config).unwrap();
    let patient: PatientId = "p1".parse().unwrap();
    let what = too_large(epd.allergies(&patient, &ctx()).await);
    assert!(what.contains("1048576 bytes"), "{what}");
    assert_eq!(counts.searches.load(Ordering::SeqCst), 1);
    // Once the server's next write fails, it has sent all it ever will.
    tokio::time::timeout(std::time::Duration::from_secs(30), counts.cut.notified())
        .await
        .expect("the server finds the connection closed");
    let sent = counts.sent.load(Ordering::SeqCst);
    // 1 MiB read, and what the socket buffers took (about 0.2 MiB when written).
    assert!(sent < 16 * MIB, "sent {sent}");
}

/// Calls at once share `max_answers_in_flight_bytes`: one call holds a 4 MiB page while it
/// waits for its next; another may then read only the 6 MiB left of 10, not its own 8.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_at_once_share_the_bytes_in_flight() {
    let page_size = 4 * MIB - 1024;
    let (base, counts) = hostile(Pages::Stalling(page_size)).await;
    let mut config = FhirEpdConfig::new(&base);
    config.max_answer_bytes = 8 * MIB;
    config.max_answers_in_flight_bytes = 10 * MIB;
    config.timeout = std::time::Duration::from_secs(60);
    let epd = FhirEpd::new(config).unwrap();
    let holding = {
        let epd = epd.clone();
        tokio::spawn(async move {
            let patient: PatientId = "stall".parse().unwrap();
            epd.allergies(&patient, &ctx()).await
        })
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), counts.stall.notified())
        .await
        .expect("the first call's second page is held");
    let patient: PatientId = "p1".parse().unwrap();
    let what = too_large(epd.allergies(&patient, &ctx()).await);
    assert!(what.contains("at once"), "{what}");
    assert!(what.contains("10485760 bytes"), "{what}");
    // The held call's bytes go back when it ends: a new call has its full budget again.
    holding.abort();
    let _ = holding.await;
    let what = too_large(epd.allergies(&patient, &ctx()).await);
    assert!(what.contains("8388608 bytes"), "{what}");
}
