//! A portal for the tests: a generated UZI PKI with a card per kind of caller, the synthetic
//! hospital in process, an in-memory directory, a file audit log in a temporary directory,
//! and a fixed clock. Requests go through the router with `oneshot`, carrying the card's
//! chain as the TLS layer would.

#![allow(dead_code, unreachable_pub, reason = "each test file uses a part")]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{Request, Response, header};
use chrono::{DateTime, Duration, Utc};
use http_body_util::BodyExt as _;
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tower::ServiceExt as _;
use zvp_audit::log::{AuditLog, FileLog, FileLogOptions};
use zvp_auth::directory::{Account, AccountStatus, DirectoryStore, MemoryDirectory, NewDelegation};
use zvp_auth::testpki::{CardSpec, IssuedCertificate, KeyAlgorithm, TestPki};
use zvp_auth::uzi::Environment;
use zvp_core::{AgbCode, CardType, PatientId, RoleCode, UziNumber};
use zvp_epd::synthetic::{DEMO_GPS, SyntheticEpd, test_now};
use zvp_epd::{Epd, RequestContext};
use zvp_portal::{ClientCertificate, Portal};

pub mod dezi;
pub mod dezi_rig;
pub mod listener;
pub mod peer;

/// The PostgreSQL server of the machine (127.0.0.1:5432, trust auth), or `ZVP_TEST_PG`.
pub fn pg_config() -> String {
    std::env::var("ZVP_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

pub fn now() -> DateTime<Utc> {
    test_now()
}

pub fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, now()).unwrap()
    })
}

pub fn uzi(n: u32) -> UziNumber {
    UziNumber::new(n).unwrap()
}

pub fn demo_agb(i: usize) -> AgbCode {
    AgbCode::new(DEMO_GPS[i].agb).unwrap()
}

/// The kinds of caller of the authorization matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Who {
    /// The registered GP of the "own" patient (demo GP 0).
    Own,
    /// A colleague in the practice whose AGB is demo GP 0's.
    Practice,
    /// A colleague demo GP 0 delegated to.
    Delegated,
    /// A GP with no relation to demo GP 0's patients (demo GP 1).
    Other,
    /// demo GP 1 holding an emergency grant for the patient (made by the test).
    Emergency,
    /// An administrator (N card).
    Administrator,
    /// A GP whose account is blocked.
    Blocked,
    /// A physician in training (01.000) with an active account.
    Ineligible,
}

impl Who {
    pub const ALL: [Who; 8] = [
        Who::Own,
        Who::Practice,
        Who::Delegated,
        Who::Other,
        Who::Emergency,
        Who::Administrator,
        Who::Blocked,
        Who::Ineligible,
    ];

    pub fn uzi(self) -> UziNumber {
        uzi(match self {
            Who::Own => 900_000_101,
            Who::Practice => 900_000_102,
            Who::Delegated => 900_000_103,
            Who::Other => 900_000_104,
            Who::Emergency => 900_000_105,
            Who::Administrator => 900_000_106,
            Who::Blocked => 900_000_107,
            Who::Ineligible => 900_000_108,
        })
    }

    fn agb(self) -> Option<AgbCode> {
        match self {
            Who::Own => Some(demo_agb(0)),
            Who::Other | Who::Emergency => Some(demo_agb(1)),
            Who::Administrator => None,
            Who::Practice => AgbCode::new(1_040_102),
            Who::Delegated => AgbCode::new(1_040_103),
            Who::Blocked => AgbCode::new(1_040_107),
            Who::Ineligible => AgbCode::new(1_040_108),
        }
    }

    fn role(self) -> RoleCode {
        match self {
            Who::Administrator => RoleCode::NONE,
            Who::Ineligible => RoleCode::PHYSICIAN,
            _ => RoleCode::GENERAL_PRACTITIONER,
        }
    }

    pub fn card(self) -> IssuedCertificate {
        static CARDS: OnceLock<Vec<(Who, IssuedCertificate)>> = OnceLock::new();
        CARDS
            .get_or_init(|| {
                Who::ALL
                    .iter()
                    .map(|&who| {
                        let mut spec = if who == Who::Administrator {
                            CardSpec::employee(CardType::NamedEmployee, who.uzi(), now())
                        } else {
                            CardSpec::care_provider(who.uzi(), who.role(), now())
                        };
                        spec.agb = who.agb();
                        spec.given_name = format!("{who:?}");
                        spec.surname = "Test".to_owned();
                        (who, pki().issue_card(&spec).unwrap().authentication)
                    })
                    .collect()
            })
            .iter()
            .find(|(w, _)| *w == self)
            .map(|(_, c)| c.clone())
            .unwrap()
    }

    fn account(self) -> Account {
        Account {
            uzi: self.uzi(),
            agb: self.agb(),
            name: format!("{self:?} Test"),
            role: self.role(),
            practice_agb: (self == Who::Practice).then(|| demo_agb(0)),
            status: if self == Who::Blocked {
                AccountStatus::Blocked
            } else {
                AccountStatus::Active
            },
            created_at: now() - Duration::days(10),
            last_login: Some(now() - Duration::days(1)),
            previous_login: None,
            accepted_terms: Some(1),
            admin: self == Who::Administrator,
            contact: Default::default(),
        }
    }
}

/// The validator of the tests: the test PKI, Z and N cards, no CRLs.
pub fn validator() -> zvp_auth::uzi::UziValidator {
    pki()
        .validator()
        .unwrap()
        .without_revocation_checking()
        .with_accepted_card_types(&[CardType::CareProvider, CardType::NamedEmployee])
}

/// A portal under test and what it is made of.
pub struct TestPortal {
    pub portal: Portal,
    pub epd: Arc<SyntheticEpd>,
    pub directory: Arc<MemoryDirectory>,
    pub audit: Arc<FileLog>,
    pub audit_dir: PathBuf,
}

/// A fresh temporary directory under the target dir.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        zvp_portal_test_counter()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn zvp_portal_test_counter() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A portal reading the EPD over FHIR (with this request timeout) from zvp-mock-epd, whose
/// faults and shapes the test changes.
pub async fn over_fhir(timeout: std::time::Duration) -> (TestPortal, Arc<zvp_mock_epd::MockEpd>) {
    let synthetic = Arc::new(SyntheticEpd::generate(2026, now(), 400).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let mock = Arc::new(zvp_mock_epd::MockEpd::new(
        synthetic,
        base.clone(),
        zvp_mock_epd::Faults::default(),
    ));
    tokio::spawn(zvp_mock_epd::serve(
        listener,
        mock.clone(),
        std::future::pending(),
    ));
    let mut config = zvp_epd::client::FhirEpdConfig::new(base);
    config.timeout = timeout;
    config.retries = 1;
    let fhir = Arc::new(zvp_epd::client::FhirEpd::new(config).unwrap());
    (TestPortal::with(None, Some(fhir)).await, mock)
}

impl TestPortal {
    pub async fn new() -> Self {
        Self::with_audit(None).await
    }

    /// A portal whose audit log is `audit` (a failing one, to see pages fail closed) instead of the file log.
    pub async fn with_audit(audit: Option<Arc<dyn AuditLog>>) -> Self {
        Self::with(audit, None).await
    }

    /// A portal reading the EPD through `epd` (e.g. FHIR against zvp-mock-epd over the same
    /// synthetic hospital) instead of in process.
    pub async fn with(
        audit: Option<Arc<dyn AuditLog>>,
        epd_for_portal: Option<Arc<dyn Epd>>,
    ) -> Self {
        let epd = Arc::new(SyntheticEpd::generate(2026, now(), 400).unwrap());
        let directory = Arc::new(MemoryDirectory::new());
        for who in Who::ALL {
            directory.create_account(&who.account()).await.unwrap();
        }
        directory
            .add_delegation(
                NewDelegation::new(
                    demo_agb(0),
                    Who::Delegated.uzi(),
                    now() - Duration::days(3),
                    Some(now() + Duration::days(3)),
                    None,
                )
                .unwrap(),
            )
            .await
            .unwrap();
        let audit_dir = scratch("audit");
        let file_log = Arc::new(FileLog::open(&audit_dir, FileLogOptions::default()).unwrap());
        let validator = validator();
        let fixed = now();
        let portal = Portal::builder()
            .epd(epd_for_portal.unwrap_or_else(|| epd.clone()))
            .directory(directory.clone())
            .audit(audit.unwrap_or_else(|| file_log.clone()))
            .validator(Arc::new(validator))
            .clock(Arc::new(move || fixed))
            .build()
            .unwrap();
        Self {
            portal,
            epd,
            directory,
            audit: file_log,
            audit_dir,
        }
    }

    /// The same portal (same EPD, directory and log) trusting these reverse proxies.
    pub fn portal_with_proxy(&self, trusted: Vec<std::net::IpAddr>) -> Portal {
        let fixed = now();
        Portal::builder()
            .epd(self.epd.clone())
            .directory(self.directory.clone())
            .audit(self.audit.clone())
            .validator(Arc::new(validator()))
            .clock(Arc::new(move || fixed))
            .proxy(zvp_portal::ProxyTrust {
                trusted,
                certificate_header: "x-ssl-client-cert".to_owned(),
            })
            .build()
            .unwrap()
    }

    /// The same EPD, directory and log, with a per-card request limit.
    pub fn with_card_rate(&self, rate: zvp_portal::CardRate) -> TestPortal {
        self.rebuilt(now(), Some(rate))
    }

    /// The same EPD, directory and log, `by` later: for what a page says once time has
    /// passed since the requests before (this portal's clock stands still).
    pub fn later(&self, by: Duration) -> TestPortal {
        self.rebuilt(now() + by, None)
    }

    /// The same EPD, directory and log, with Dezi login, on the system's clock: the Dezi
    /// stand-in's tokens carry the real time.
    pub fn with_dezi(&self, dezi: zvp_portal::DeziLogin) -> TestPortal {
        TestPortal {
            portal: Portal::builder()
                .epd(self.epd.clone())
                .directory(self.directory.clone())
                .audit(self.audit.clone())
                .validator(Arc::new(validator()))
                .dezi(dezi)
                .build()
                .unwrap(),
            epd: self.epd.clone(),
            directory: self.directory.clone(),
            audit: self.audit.clone(),
            audit_dir: self.audit_dir.clone(),
        }
    }

    /// A portal over the same EPD, directory and log, its clock standing at `fixed`.
    fn rebuilt(&self, fixed: DateTime<Utc>, rate: Option<zvp_portal::CardRate>) -> TestPortal {
        let mut builder = Portal::builder()
            .epd(self.epd.clone())
            .directory(self.directory.clone())
            .audit(self.audit.clone())
            .validator(Arc::new(validator()))
            .clock(Arc::new(move || fixed));
        if let Some(rate) = rate {
            builder = builder.card_rate(rate);
        }
        TestPortal {
            portal: builder.build().unwrap(),
            epd: self.epd.clone(),
            directory: self.directory.clone(),
            audit: self.audit.clone(),
            audit_dir: self.audit_dir.clone(),
        }
    }

    /// A patient of demo GP 0 (the "own" patient of the matrix), with a letter after the
    /// cut-off.
    pub async fn own_patient(&self) -> (PatientId, zvp_core::Patient) {
        let ctx = RequestContext {
            request_id: "t".to_owned(),
        };
        for id in self.epd.patient_ids() {
            let p = self.epd.patient(id, &ctx).await.unwrap();
            let letters = self.epd.letters(id, &ctx).await.unwrap();
            let admitted = self
                .epd
                .admission(id)
                .unwrap()
                .is_some_and(|a| a.discharged_at().is_none());
            if p.registered_gp.as_ref().map(|g| g.agb) == Some(demo_agb(0))
                && admitted
                && letters
                    .iter()
                    .any(|l| l.date >= zvp_epd::synthetic::seed_letters_cutoff())
            {
                return (id.clone(), p);
            }
        }
        panic!("no own patient");
    }

    /// Sends a request as `who` (None: without a certificate).
    pub async fn send(&self, who: Option<Who>, request: Request<Body>) -> Reply {
        let mut request = request;
        if let Some(who) = who {
            request
                .extensions_mut()
                .insert(ClientCertificate(Arc::new(who.card().chain())));
        }
        let response = self.portal.router().oneshot(request).await.unwrap();
        Reply::read(response).await
    }

    /// The admin listener's answer to `path` (`/healthz`, `/metrics`): status and body.
    pub async fn admin(&self, path: &str) -> (u16, String) {
        let reply = tower::ServiceExt::oneshot(
            self.portal.admin_router(),
            Request::get(path).body(Body::empty()).unwrap(),
        )
        .await
        .unwrap();
        let status = reply.status().as_u16();
        let body = http_body_util::BodyExt::collect(reply.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    pub async fn get(&self, who: Option<Who>, path: &str) -> Reply {
        self.send(who, Request::get(path).body(Body::empty()).unwrap())
            .await
    }

    /// A POST of a form, with the session cookie and the CSRF token of a GET before it.
    pub async fn post_form(&self, who: Who, path: &str, fields: &[(&str, &str)]) -> Reply {
        let first = self.get(Some(who), "/zoeken").await;
        let cookie = first.cookie.clone().expect("a session cookie");
        let csrf = first.csrf().expect("a csrf token on the search form");
        let mut body = format!("csrf={csrf}");
        for (k, v) in fields {
            body.push_str(&format!("&{k}={}", encode(v)));
        }
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("__Host-zvp={cookie}"))
            .body(Body::from(body))
            .unwrap();
        self.send(Some(who), request).await
    }
}

/// A form value or path segment, percent-encoded (everything but letters and digits: more than
/// needed, which every decoder takes).
pub fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A response, read.
pub struct Reply {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    /// The body as text (a binary body's invalid UTF-8 replaced).
    pub body: String,
    /// The body's bytes.
    pub bytes: Vec<u8>,
    pub cookie: Option<String>,
}

impl Reply {
    async fn read(response: Response<Body>) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let cookie = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix("__Host-zvp="))
            .and_then(|v| v.split(';').next())
            .map(str::to_owned);
        Self {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            bytes: body.to_vec(),
            cookie,
        }
    }

    pub fn csrf(&self) -> Option<String> {
        let at = self.body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
        Some(self.body[at..].split('"').next()?.to_owned())
    }

    /// The body with the session's CSRF token (in every page's logout button) as `CSRF`: the
    /// page as two sessions compare.
    pub fn body_without_csrf(&self) -> String {
        match self.csrf() {
            Some(csrf) if !csrf.is_empty() => self.body.replace(&csrf, "CSRF"),
            _ => self.body.clone(),
        }
    }

    pub fn location(&self) -> Option<&str> {
        self.headers.get(header::LOCATION)?.to_str().ok()
    }
}

/// `zvp-portal demo` running as a child process on free ports.
pub struct Demo {
    pub child: std::process::Child,
    pub port: u16,
    /// Standard output, line by line, after the ready line.
    pub lines: std::sync::mpsc::Receiver<String>,
    /// Standard output up to the ready line.
    pub out: String,
    /// Standard error, whole, once the process ends.
    pub stderr: std::thread::JoinHandle<String>,
}

impl Demo {
    /// Starts the demo with its files in `dir`; returns once it prints that it is ready.
    pub fn start(dir: &std::path::Path) -> Self {
        use std::io::{BufRead as _, BufReader, Read as _};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
            .args(["demo", "--dir"])
            .arg(dir)
            .env("ZVP_SERVER_LISTEN", "127.0.0.1:0")
            .env("ZVP_SERVER_ADMIN_LISTEN", "127.0.0.1:0")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut out = String::new();
        let mut port = None;
        loop {
            let line = lines
                .recv_timeout(std::time::Duration::from_secs(120))
                .expect("the demo prints its address within two minutes");
            if let Some(rest) = line.trim().strip_prefix("portal      https://localhost:") {
                port = rest.trim_end_matches('/').parse::<u16>().ok();
            }
            out.push_str(&line);
            out.push('\n');
            if line.contains("Stop with Ctrl-C.") {
                break;
            }
        }
        Self {
            child,
            port: port.expect("the portal's port"),
            lines,
            out,
            stderr,
        }
    }
}

/// GET over mTLS as the demo card `card`.
pub async fn tls_get(dir: &std::path::Path, port: u16, card: &str, path: &str) -> (u16, String) {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(dir.join("pki/tls-root.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let cards = dir.join("pki/cards").join(card);
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cards.join("authenticatie.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(cards.join("authenticatie.key.pem")).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(zvp_portal::serve::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender
        .send_request(
            Request::get(path)
                .header("host", "localhost")
                .body(Empty::<Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}
