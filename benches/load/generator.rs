//! The load generator: clients presenting their cards over mutual TLS, keeping their session
//! cookie like a browser, in a closed loop (saturation), an open loop (a paced rate) or a new
//! connection per request (full-handshake logins). Its tasks run on the `load` runtime.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::{PrivateKeyDer, ServerName};
use zvp_auth::testpki::{IssuedCertificate, TestPki};
use zvp_portal::serve;

use super::Setup;

/// A client TLS configuration presenting `card`, trusting the portal's TLS root.
pub(crate) fn client(
    pki: &TestPki,
    card: &IssuedCertificate,
    resume: bool,
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.tls_root()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(serve::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(card.chain(), PrivateKeyDer::Pkcs8(card.private_key()))
        .unwrap();
    if !resume {
        config.resumption = rustls::client::Resumption::disabled();
    }
    Arc::new(config)
}

pub(crate) type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

pub(crate) async fn connect(port: u16, config: Arc<rustls::ClientConfig>) -> Sender {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tcp.set_nodelay(true).unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

/// A GET on the connection, with the session cookie like a browser (kept from the first
/// answer).
pub(crate) async fn get(sender: &mut Sender, cookie: &mut Option<String>, path: &str) -> u16 {
    sender.ready().await.unwrap();
    let mut request = hyper::Request::get(path).header("host", "localhost");
    if let Some(c) = cookie.as_deref() {
        request = request.header("cookie", c);
    }
    let response = sender
        .send_request(request.body(Empty::new()).unwrap())
        .await
        .unwrap();
    if let Some(set) = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
    {
        *cookie = set.split(';').next().map(str::to_owned);
    }
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    BODY_BYTES.fetch_add(body.len() as u64, std::sync::atomic::Ordering::Relaxed);
    status
}

/// Response body bytes received, over all requests (for the average page size).
pub(crate) static BODY_BYTES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) struct Run {
    pub(crate) per_second: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) errors: usize,
}

pub(crate) fn summarize(mut latencies: Vec<Duration>, elapsed: Duration, errors: usize) -> Run {
    latencies.sort();
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64) * q) as usize)
            .copied()
            .unwrap_or_default()
    };
    Run {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.5),
        p99: pick(0.99),
        errors,
    }
}

/// Closed loop: every connection sends its next request when the last is answered.
pub(crate) async fn saturate(
    setup: &Setup,
    ports: &[u16],
    paths: Arc<dyn Fn(usize, usize) -> String + Send + Sync>,
    seconds: u64,
) -> Run {
    saturate_expecting(setup, ports, paths, seconds, 200).await
}

/// [`saturate`], counting every answer with another status than `expected` as an error.
pub(crate) async fn saturate_expecting(
    setup: &Setup,
    ports: &[u16],
    paths: Arc<dyn Fn(usize, usize) -> String + Send + Sync>,
    seconds: u64,
    expected: u16,
) -> Run {
    let mut clients = Clients::connect(setup, ports, paths).await;
    clients.expected = expected;
    let slice = clients.stretch(Duration::from_secs(seconds)).await;
    summarize(slice.latencies, slice.elapsed, slice.errors)
}

/// Closed-loop clients kept between stretches: every card's connection with its session
/// cookie and the count of its requests, so that a phase taken in turns with others logs in
/// once, at its start, as a phase run in one piece does.
pub(crate) struct Clients {
    paths: Arc<dyn Fn(usize, usize) -> String + Send + Sync>,
    /// The status a good answer has; any other counts as an error.
    expected: u16,
    /// (card, connection, cookie, requests sent)
    idle: Vec<(usize, Sender, Option<String>, usize)>,
}

impl Clients {
    /// A connection for every card, to `ports` in turn, asking for `paths(card, request)`
    /// and expecting 200.
    pub(crate) async fn connect(
        setup: &Setup,
        ports: &[u16],
        paths: Arc<dyn Fn(usize, usize) -> String + Send + Sync>,
    ) -> Self {
        let mut idle = Vec::new();
        for (n, card) in setup.cards.iter().enumerate() {
            let port = ports[n % ports.len()];
            idle.push((
                n,
                connect(port, client(&setup.pki, card, true)).await,
                None,
                0,
            ));
        }
        Self {
            paths,
            expected: 200,
            idle,
        }
    }

    /// Every client in a closed loop for `length`.
    pub(crate) async fn stretch(&mut self, length: Duration) -> Slice {
        let deadline = Instant::now() + length;
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let expected = self.expected;
        for (n, mut sender, mut cookie, mut i) in self.idle.drain(..) {
            let paths = Arc::clone(&self.paths);
            tasks.spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0);
                while Instant::now() < deadline {
                    let begin = Instant::now();
                    if get(&mut sender, &mut cookie, &paths(n, i)).await != expected {
                        errors += 1;
                    }
                    latencies.push(begin.elapsed());
                    i += 1;
                }
                (latencies, errors, (n, sender, cookie, i))
            });
        }
        let mut slice = Slice::default();
        while let Some(done) = tasks.join_next().await {
            let (latencies, errors, client) = done.unwrap();
            slice.latencies.extend(latencies);
            slice.errors += errors;
            self.idle.push(client);
        }
        slice.elapsed = start.elapsed();
        slice
    }
}

/// Open loop at `rate` requests per second over all connections; a request's latency counts
/// from when it was due, so a stalled server is not hidden.
pub(crate) async fn paced(
    setup: &Setup,
    port: u16,
    paths: Arc<dyn Fn(usize, usize) -> String + Send + Sync>,
    rate: f64,
    seconds: u64,
) -> Run {
    let connections = setup.cards.len();
    let interval = Duration::from_secs_f64(connections as f64 / rate);
    let start = Instant::now() + Duration::from_millis(200);
    let count = (rate * seconds as f64 / connections as f64) as usize;
    let mut tasks = tokio::task::JoinSet::new();
    for (n, card) in setup.cards.iter().enumerate() {
        let config = client(&setup.pki, card, true);
        let paths = Arc::clone(&paths);
        let offset = interval.mul_f64(n as f64 / connections as f64);
        tasks.spawn(async move {
            let mut sender = connect(port, config).await;
            let mut cookie = None;
            let (mut latencies, mut errors) = (Vec::new(), 0);
            for i in 0..count {
                let due = start + offset + interval * i as u32;
                tokio::time::sleep_until(due.into()).await;
                if get(&mut sender, &mut cookie, &paths(n, i)).await != 200 {
                    errors += 1;
                }
                latencies.push(due.elapsed());
            }
            (latencies, errors)
        });
    }
    let (all, errors) = collect(tasks).await;
    summarize(all, Duration::from_secs(seconds), errors)
}

/// Every client's latencies and error count, together.
pub(crate) async fn collect(
    mut tasks: tokio::task::JoinSet<(Vec<Duration>, usize)>,
) -> (Vec<Duration>, usize) {
    let (mut all, mut errors) = (Vec::new(), 0);
    while let Some(r) = tasks.join_next().await {
        let (l, e) = r.unwrap();
        all.extend(l);
        errors += e;
    }
    (all, errors)
}

/// Full handshakes: a new connection (no resumption) per request.
pub(crate) async fn logins(
    setup: &Setup,
    port: u16,
    path: &'static str,
    seconds: u64,
    clients: usize,
) -> Run {
    let slice = login_slice(setup, port, path, Duration::from_secs(seconds), clients).await;
    summarize(slice.latencies, slice.elapsed, slice.errors)
}

/// What a stretch of logins gave: each login's latency, the failed ones, the time it took.
/// Stretches of one kind, interleaved with the others', add up to a phase.
#[derive(Default)]
pub(crate) struct Slice {
    pub(crate) latencies: Vec<Duration>,
    pub(crate) errors: usize,
    pub(crate) elapsed: Duration,
}

impl Slice {
    /// This stretch and `more`, as one.
    pub(crate) fn add(&mut self, more: Slice) {
        self.latencies.extend(more.latencies);
        self.errors += more.errors;
        self.elapsed += more.elapsed;
    }
}

/// [`logins`] for `length`, unsummarized.
pub(crate) async fn login_slice(
    setup: &Setup,
    port: u16,
    path: &'static str,
    length: Duration,
    clients: usize,
) -> Slice {
    let deadline = Instant::now() + length;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for card in setup.cards.iter().take(clients) {
        let config = client(&setup.pki, card, false);
        tasks.spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0);
            while Instant::now() < deadline {
                let begin = Instant::now();
                let mut sender = connect(port, Arc::clone(&config)).await;
                // A login: a new connection, a new session.
                if get(&mut sender, &mut None, path).await != 200 {
                    errors += 1;
                }
                latencies.push(begin.elapsed());
            }
            (latencies, errors)
        });
    }
    let (latencies, errors) = collect(tasks).await;
    Slice {
        latencies,
        errors,
        elapsed: start.elapsed(),
    }
}
