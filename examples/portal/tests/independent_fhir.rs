//! The portal against a FHIR server and an authorization server this project did not write:
//! Medplum's FHIR router (in memory) over HTTPS with a required client certificate, behind
//! panva's oidc-provider (`peers/fhir-server.mjs`, installed by the test command). The
//! portal reaches it with `https`, a CA file, a client certificate and SMART Backend
//! Services, as `[epd]` configures it; tokens are cached, renewed on expiry and after a 401,
//! and every failure is a clear page without patient data.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{TestPortal, Who};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use serde_json::{Value, json};
use zvp_epd::auth::TokenClock;
use zvp_epd::client::FhirEpd;
use zvp_portal::config::{EpdAuthKind, EpdConfig, EpdKind};

const SMART_CLIENT: &str = "zvp-portal-smart";
const SECRET_CLIENT: &str = "zvp-portal-secret";
const SECRET: &str = "correct horse battery staple";
const KID: &str = "zvp-test-2026";
const SCOPE: &str = "system/*.rs";

/// The files of one run: a CA for the servers and the portal's client certificate, a second
/// CA that signed neither, and the SMART key with its JWKS.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn make(name: &str) -> Self {
        let dir = common::scratch(name);
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "zvp test EPD CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::from_params(&ca, &ca_key);
        let leaf = |names: Vec<String>, cn: &str, eku: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.distinguished_name.push(DnType::CommonName, cn);
            params.extended_key_usages = vec![eku];
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server, server_key) = leaf(
            vec!["127.0.0.1".to_owned()],
            "127.0.0.1",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client, client_key) = leaf(
            Vec::new(),
            "zvp-portal",
            ExtendedKeyUsagePurpose::ClientAuth,
        );
        let other_key = KeyPair::generate().unwrap();
        let mut other = CertificateParams::new(Vec::<String>::new()).unwrap();
        other.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        other
            .distinguished_name
            .push(DnType::CommonName, "another CA");
        let smart = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let stranger = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        write("ca.pem", &ca_cert.pem());
        write(
            "other-ca.pem",
            &other.self_signed(&other_key).unwrap().pem(),
        );
        write("server.pem", &server);
        write("server.key.pem", &server_key);
        write("portal.pem", &client);
        write("portal.key.pem", &client_key);
        write("smart.key.pem", &smart.serialize_pem());
        write("stranger.key.pem", &stranger.serialize_pem());
        write("secret", SECRET);
        write("jwks.json", &jwks(&smart).to_string());
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The public JWK set of a P-384 key: the uncompressed point split into x and y.
fn jwks(key: &KeyPair) -> Value {
    let point = key.public_key_raw();
    assert_eq!(point.len(), 97, "an uncompressed P-384 point");
    let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    json!({"keys": [{
        "kty": "EC", "crv": "P-384", "alg": "ES384", "use": "sig", "kid": KID,
        "x": b64(&point[1..49]), "y": b64(&point[49..]),
    }]})
}

/// The running peers; stopped however the test ends.
struct Peers {
    child: Child,
    fhir: String,
    issuer: String,
    admin: String,
}

impl Drop for Peers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

impl Peers {
    fn start(files: &Files, token_seconds: u64) -> Self {
        let settings = json!({
            "certificate": files.path("server.pem"),
            "key": files.path("server.key.pem"),
            "client_ca": files.path("ca.pem"),
            "smart_client": {"client_id": SMART_CLIENT, "jwks": files.path("jwks.json")},
            "secret_client": {"client_id": SECRET_CLIENT, "secret": SECRET},
            "scope": SCOPE,
            "token_seconds": token_seconds,
        });
        let settings_file = files.path("peers.json");
        std::fs::write(&settings_file, settings.to_string()).unwrap();
        let peers = repository().join("peers");
        assert!(
            peers.join("node_modules").is_dir(),
            "peers/node_modules is missing: the test command installs it (npm ci in peers/)"
        );
        let mut child = Command::new("node")
            .arg(peers.join("fhir-server.mjs"))
            .arg(&settings_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node (Debian's nodejs) runs the peers");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the peers print their addresses");
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line:?}"));
        Self {
            fhir: v["fhir"].as_str().unwrap().to_owned(),
            issuer: v["issuer"].as_str().unwrap().to_owned(),
            admin: v["admin"].as_str().unwrap().to_owned(),
            child,
        }
    }

    /// One plain HTTP request to the admin listener: status and JSON body.
    fn admin(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let host = self.admin.strip_prefix("http://").unwrap();
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        let body = body.map(Value::to_string).unwrap_or_default();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status = answer[9..12].parse().unwrap();
        let json = answer.split("\r\n\r\n").nth(1).unwrap_or("null");
        (status, serde_json::from_str(json).unwrap_or(Value::Null))
    }

    fn stats(&self) -> Value {
        self.admin("GET", "/stats", None).1
    }

    fn tokens_issued(&self) -> u64 {
        self.stats()["token_requests"].as_u64().unwrap()
    }

    /// Stores `resource` through Medplum's REST API (an update that creates).
    fn put(&self, resource: &Value) {
        let path = format!(
            "/fhir/{}/{}",
            resource["resourceType"].as_str().unwrap(),
            resource["id"].as_str().unwrap()
        );
        let (status, answer) = self.admin("PUT", &path, Some(resource));
        assert!(status == 200 || status == 201, "{path}: {status} {answer}");
    }
}

/// `[epd]` for the peers: https, the CA file, the client certificate, SMART Backend Services.
fn smart_config(files: &Files, peers: &Peers) -> EpdConfig {
    EpdConfig {
        kind: EpdKind::Fhir,
        base_url: peers.fhir.clone(),
        timeout_seconds: 10,
        ca_file: Some(files.path("ca.pem")),
        client_certificate: Some(files.path("portal.pem")),
        client_key: Some(files.path("portal.key.pem")),
        auth: EpdAuthKind::Smart,
        client_id: Some(SMART_CLIENT.to_owned()),
        signing_key: Some(files.path("smart.key.pem")),
        key_id: Some(KID.to_owned()),
        scope: Some(SCOPE.to_owned()),
        ..EpdConfig::default()
    }
}

/// A clock for the token cache that the test moves on.
fn movable_clock() -> (TokenClock, Arc<AtomicU64>) {
    let start = Instant::now();
    let offset = Arc::new(AtomicU64::new(0));
    let o = offset.clone();
    (
        TokenClock(Arc::new(move || {
            start + Duration::from_secs(o.load(Ordering::SeqCst))
        })),
        offset,
    )
}

/// A portal over the peers with `epd`, the own patient loaded into the FHIR server.
async fn portal(
    peers: &Peers,
    epd: &EpdConfig,
    clock: Option<TokenClock>,
) -> (TestPortal, String, String) {
    let hospital = TestPortal::new().await;
    let (id, patient) = hospital.own_patient().await;
    peers.put(&zvp_epd::fhir::patient_to_fhir(&patient));
    let mut fhir = zvp_portal::epd_connection::fhir_config(epd).unwrap();
    if let Some(clock) = clock {
        fhir.token_clock = clock;
    }
    let fhir = Arc::new(FhirEpd::new(fhir).unwrap());
    let t = TestPortal::with(None, Some(fhir)).await;
    (t, format!("/patient/{id}"), patient.name.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smart_backend_services_over_mutual_tls_reach_the_independent_server() {
    let files = Files::make("independent-smart");
    let peers = Peers::start(&files, 3600);
    let (clock, offset) = movable_clock();
    let (t, page, name) = portal(&peers, &smart_config(&files, &peers), Some(clock)).await;

    // Twenty GPs at once with no token yet: one token request, shared by all.
    let mut pages = tokio::task::JoinSet::new();
    let t = Arc::new(t);
    for _ in 0..20 {
        let (t, page) = (t.clone(), page.clone());
        pages.spawn(async move { t.get(Some(Who::Own), &page).await });
    }
    while let Some(reply) = pages.join_next().await {
        let reply = reply.unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(reply.body.contains(&name));
    }
    let stats = peers.stats();
    assert_eq!(stats["token_requests"], 1, "{stats}");
    assert_eq!(stats["unauthorized"], 0, "{stats}");
    assert!(
        stats["protocols"]["2.0"].as_u64().unwrap() >= 20,
        "HTTP/2 by ALPN: {stats}"
    );

    // The cached token serves later pages; past its expiry a new one is fetched.
    assert_eq!(t.get(Some(Who::Own), &page).await.status, 200);
    assert_eq!(peers.tokens_issued(), 1);
    offset.store(3600, Ordering::SeqCst);
    assert_eq!(t.get(Some(Who::Own), &page).await.status, 200);
    assert_eq!(peers.tokens_issued(), 2);

    // A token the server no longer accepts: the page's requests (some in parallel) are
    // refused once each, one new token serves them all, and the page comes all the same.
    peers.admin("POST", "/revoke", None);
    let reply = t.get(Some(Who::Own), &page).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains(&name));
    let stats = peers.stats();
    assert_eq!(stats["token_requests"], 3, "{stats}");
    let refused = stats["unauthorized"].as_u64().unwrap();
    assert!(refused >= 1, "{stats}");

    // A server that refuses every token: each request renews once and tries once more, then
    // a clear page. The patient page asks for the patient and its Consents in parallel, so
    // one or two renewals (the second when one request started with the first renewal's
    // token), never more.
    peers.admin("POST", "/refuse-all", None);
    let reply = t.get(Some(Who::Own), &page).await;
    assert_eq!(reply.status, 503);
    assert!(reply.body.contains("epd-authentication"), "{}", reply.body);
    assert!(!reply.body.contains(&name));
    let stats = peers.stats();
    let tokens = stats["token_requests"].as_u64().unwrap();
    assert!((4..=5).contains(&tokens), "{stats}");
    assert!(stats["unauthorized"].as_u64().unwrap() > refused, "{stats}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_secret_and_the_token_endpoint_from_the_smart_configuration() {
    let files = Files::make("independent-secret");
    let peers = Peers::start(&files, 3600);
    let epd = EpdConfig {
        auth: EpdAuthKind::ClientSecret,
        client_id: Some(SECRET_CLIENT.to_owned()),
        client_secret_file: Some(files.path("secret")),
        signing_key: None,
        key_id: None,
        // No token_url: read from .well-known/smart-configuration.
        token_url: None,
        ..smart_config(&files, &peers)
    };
    let (t, page, name) = portal(&peers, &epd, None).await;
    let reply = t.get(Some(Who::Own), &page).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains(&name));
    assert_eq!(peers.tokens_issued(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_is_a_clear_page_without_patient_data() {
    let files = Files::make("independent-failures");
    let peers = Peers::start(&files, 3600);
    let smart = smart_config(&files, &peers);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    std::fs::write(files.path("wrong-secret"), "not the secret").unwrap();
    let cases = [
        (
            "the token endpoint down",
            EpdConfig {
                token_url: Some(format!("https://{closed}/token")),
                ..smart.clone()
            },
            "epd-authentication",
        ),
        (
            "a wrong client secret",
            EpdConfig {
                auth: EpdAuthKind::ClientSecret,
                client_id: Some(SECRET_CLIENT.to_owned()),
                client_secret_file: Some(files.path("wrong-secret")),
                ..smart.clone()
            },
            "epd-authentication",
        ),
        (
            "a key the authorization server does not know",
            EpdConfig {
                signing_key: Some(files.path("stranger.key.pem")),
                ..smart.clone()
            },
            "epd-authentication",
        ),
        (
            "a server certificate from another CA",
            EpdConfig {
                ca_file: Some(files.path("other-ca.pem")),
                ..smart.clone()
            },
            "epd-tls",
        ),
        (
            "a bearer token file that is not there",
            EpdConfig {
                auth: EpdAuthKind::Bearer,
                token_file: Some(files.path("no-such-token")),
                ..smart.clone()
            },
            "epd-authentication",
        ),
        (
            "a bearer token the server does not accept",
            EpdConfig {
                auth: EpdAuthKind::Bearer,
                token_file: Some(files.path("wrong-secret")),
                ..smart.clone()
            },
            "epd-authentication",
        ),
        (
            // The authorization server asks for no client certificate, the FHIR server
            // closes the connection: under TLS 1.3 the refusal comes after the handshake, so
            // the portal sees a connection that ends, not a certificate error.
            "no client certificate",
            EpdConfig {
                client_certificate: None,
                client_key: None,
                token_url: Some(format!("{}/token", peers.issuer)),
                ..smart.clone()
            },
            "epd-unavailable",
        ),
    ];
    for (what, epd, code) in cases {
        let (t, page, name) = portal(&peers, &epd, None).await;
        let reply = t.get(Some(Who::Own), &page).await;
        assert_eq!(reply.status, 503, "{what}: {}", reply.body);
        assert!(reply.body.contains(code), "{what}: {}", reply.body);
        assert!(!reply.body.contains(&name), "{what}: patient data");
    }
}

/// Stores `resources` through Medplum's REST API, as batch Bundles of updates that create.
fn load(peers: &Peers, resources: &[Value]) {
    for chunk in resources.chunks(500) {
        let entries: Vec<Value> = chunk
            .iter()
            .map(|r| {
                json!({
                    "resource": r,
                    "request": {
                        "method": "PUT",
                        "url": format!("{}/{}", r["resourceType"].as_str().unwrap(), r["id"].as_str().unwrap()),
                    },
                })
            })
            .collect();
        let bundle = json!({"resourceType": "Bundle", "type": "batch", "entry": entries});
        let (status, answer) = peers.admin("POST", "/fhir", Some(&bundle));
        assert_eq!(status, 200, "{answer}");
        for entry in answer["entry"].as_array().unwrap() {
            let status = entry["response"]["status"].as_str().unwrap_or("");
            assert!(status.starts_with("20"), "{entry}");
        }
    }
}

/// What a GP reads on a page: the text of `<main>`, tags dropped, white space collapsed.
fn visible(html: &str) -> String {
    let main = html
        .split_once("<main")
        .and_then(|(_, rest)| rest.split_once("</main>"))
        .map_or(html, |(main, _)| main);
    let mut text = String::new();
    let mut in_tag = false;
    for c in main.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.split_whitespace()
        .map(without_trailing_zeros)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A decimal without its trailing zeros (`8.0` → `8`, `0.40` → `0.4`): Medplum keeps
/// decimals as JavaScript numbers, which do not keep them (docs/fhir.md names this).
fn without_trailing_zeros(word: &str) -> String {
    let is_decimal = word.split_once('.').is_some_and(|(int, frac)| {
        !int.is_empty()
            && !frac.is_empty()
            && int.bytes().all(|b| b.is_ascii_digit())
            && frac.bytes().all(|b| b.is_ascii_digit())
    });
    if is_decimal {
        word.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        word.to_owned()
    }
}

/// The patient pages a page links to.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| {
            rest.split_once('"')
                .map(|(href, _)| href.replace("&amp;", "&"))
        })
        .filter(|href| href.starts_with("/patient/") && !href.ends_with("/noodprocedure"))
        .collect()
}

/// The patients of the start page's links.
fn listed_patients(html: &str) -> Vec<String> {
    links(html)
        .into_iter()
        .filter_map(|l| l.strip_prefix("/patient/").map(str::to_owned))
        .filter(|id| !id.contains('/'))
        .collect()
}

/// Crawls the start page and every page the GP reaches from it for the patients `within`,
/// over both portals, and returns the pages seen and the differences.
async fn crawl(expected: &TestPortal, got: &TestPortal, within: &[String]) -> (usize, Vec<String>) {
    let mut queue = vec!["/".to_owned()];
    let mut seen = std::collections::HashSet::new();
    let mut differences = Vec::new();
    while let Some(path) = queue.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let want = expected.get(Some(Who::Own), &path).await;
        let have = got.get(Some(Who::Own), &path).await;
        assert_eq!(want.status, 200, "{path} over the mock: {}", want.body);
        if have.status != want.status || visible(&have.body) != visible(&want.body) {
            differences.push(format!(
                "{path}: {} vs {}\n  mock:    {}\n  medplum: {}",
                want.status,
                have.status,
                visible(&want.body),
                visible(&have.body)
            ));
        }
        queue.extend(links(&want.body).into_iter().filter(|l| {
            within.iter().any(|id| {
                l.strip_prefix("/patient/")
                    .is_some_and(|r| r.split('/').next() == Some(id))
            })
        }));
    }
    (seen.len(), differences)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_a_gp_reaches_reads_the_same_as_over_the_mock() {
    let files = Files::make("independent-pages");
    let peers = Peers::start(&files, 3600);
    let hospital = TestPortal::new().await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let mock = Arc::new(zvp_mock_epd::MockEpd::new(
        hospital.epd.clone(),
        base.clone(),
        zvp_mock_epd::Faults::default(),
    ));
    tokio::spawn(zvp_mock_epd::serve(listener, mock, std::future::pending()));
    let over_mock = TestPortal::with(
        None,
        Some(Arc::new(
            FhirEpd::new(zvp_epd::client::FhirEpdConfig::new(base)).unwrap(),
        )),
    )
    .await;

    // Medplum's in-memory search reads every stored resource, so the store holds what the
    // pages need: the GPs, for every patient of the hospital the Patient, Consents and
    // admission (the start page's search runs over all of them, other GPs' patients
    // included), and for five
    // listed patients (admitted and discharged) their whole record.
    let start = over_mock.get(Some(Who::Own), "/").await;
    let listed = listed_patients(&start.body);
    assert!(listed.len() >= 5, "{}", start.body);
    let crawled: Vec<String> = listed
        .iter()
        .take(3)
        .chain(listed.iter().rev().take(2))
        .cloned()
        .collect();
    // The GPs as literal references to Practitioner resources, as most EPDs write them.
    let resources: Vec<Value> = zvp_mock_epd::export::resources_with(
        &hospital.epd,
        zvp_mock_epd::export::GpReference::Literal,
    )
    .await
    .unwrap()
    .into_iter()
    .filter(|r| {
        let kind = r["resourceType"].as_str().unwrap();
        let id = r["id"].as_str().unwrap();
        matches!(kind, "Patient" | "Practitioner" | "Consent" | "Encounter")
            || crawled.iter().any(|p| {
                id.starts_with(p.as_str()) || r.to_string().contains(&format!("Patient/{p}\""))
            })
    })
    .collect();
    load(&peers, &resources);

    let fhir = zvp_portal::epd_connection::fhir_config(&smart_config(&files, &peers)).unwrap();
    let over_medplum = TestPortal::with(None, Some(Arc::new(FhirEpd::new(fhir).unwrap()))).await;
    // This server ignores the chained `patient.general-practitioner:identifier` (it answers
    // with nothing), so the start page is searched through the Practitioners.
    let (pages, differences) = crawl(&over_mock, &over_medplum, &crawled).await;
    assert!(pages > 20, "the GP reaches {pages} pages");
    assert!(differences.is_empty(), "{}", differences.join("\n"));

    // `epd check` against the same server: every query answers, the lists through the
    // Practitioners.
    let fhir = zvp_portal::epd_connection::fhir_config(&smart_config(&files, &peers)).unwrap();
    let epd = FhirEpd::new(fhir).unwrap();
    let report =
        zvp_portal::epd_check::run(&epd, Some(common::demo_agb(0)), None, common::now()).await;
    let table = report.table(&peers.fhir);
    assert!(report.ok(), "{table}");
    assert!(
        table.starts_with("EPD Medplum FHIR router (in-memory), for zvp tests at https://"),
        "{table}"
    );
    let admitted = report
        .rows
        .iter()
        .find(|r| r.query == "admitted patients of the GP")
        .unwrap();
    assert_eq!(
        admitted.outcome,
        Ok(listed_admitted(&start.body)),
        "{table}"
    );
    assert!(
        admitted.strategy.contains("Practitioner?identifier"),
        "{table}"
    );
    assert!(report.rows.len() >= 15, "{table}");
}

/// How many patients the start page lists as admitted (before the discharged).
fn listed_admitted(html: &str) -> usize {
    let admitted = html
        .split("Ontslagen in de afgelopen")
        .next()
        .unwrap_or(html);
    listed_patients(admitted).len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_mock_serves_passes_medplums_validator_invariants_included() {
    let files = Files::make("independent-valid");
    let peers = Peers::start(&files, 3600);
    let hospital = zvp_epd::synthetic::SyntheticEpd::generate(2026, common::now(), 60).unwrap();
    let mut resources = zvp_mock_epd::export::resources(&hospital).await.unwrap();
    resources.extend(
        zvp_mock_epd::export::resources_with(&hospital, zvp_mock_epd::export::GpReference::Literal)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| matches!(r["resourceType"].as_str(), Some("Patient" | "Practitioner"))),
    );
    // And the other forms it writes: report categories by LOINC and narrow v2-0074 codes,
    // letters as HTML and as PDF by URL with their Binaries, privacy Consents.
    use zvp_mock_epd::shapes::{CategoryCodes, LetterContent, Letters};
    let objecting: Vec<_> = hospital.patient_ids().take(5).cloned().collect();
    for (categories, content, by_url) in [
        (CategoryCodes::Loinc, LetterContent::Pdf, true),
        (CategoryCodes::Narrow, LetterContent::Html, false),
    ] {
        let shapes = zvp_mock_epd::Shapes {
            categories,
            letters: Letters { content, by_url },
            ..zvp_mock_epd::Shapes::default()
        };
        resources.extend(
            zvp_mock_epd::export::resources_shaped(
                &hospital,
                zvp_mock_epd::export::GpReference::Logical,
                shapes,
                &objecting,
            )
            .await
            .unwrap()
            .into_iter()
            .filter(|r| {
                matches!(
                    r["resourceType"].as_str(),
                    Some("Consent" | "DocumentReference" | "Binary" | "DiagnosticReport")
                )
            }),
        );
    }
    let kinds: std::collections::BTreeSet<&str> = resources
        .iter()
        .filter_map(|r| r["resourceType"].as_str())
        .collect();
    assert!(kinds.len() >= 14, "{kinds:?}");
    let mut invalid = Vec::new();
    for chunk in resources.chunks(500) {
        let (status, answer) = peers.admin("POST", "/validate", Some(&Value::from(chunk.to_vec())));
        assert_eq!(status, 200, "{answer}");
        invalid.extend(answer["invalid"].as_array().unwrap().iter().cloned());
    }
    let what: std::collections::BTreeSet<String> = invalid
        .iter()
        .flat_map(|i| i["issues"].as_array().cloned().unwrap_or_default())
        .map(|issue| format!("{} {}", issue["details"]["text"], issue["expression"]))
        .collect();
    assert!(invalid.is_empty(), "{} invalid: {what:#?}", invalid.len());
}
