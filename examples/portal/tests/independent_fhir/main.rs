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

#[path = "../common/mod.rs"]
mod common;
mod pages;

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
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

/// The running peers; stopped with their `Peer` however the test ends.
struct Peers {
    _peer: common::peer::Peer,
    fhir: String,
    issuer: String,
    admin: String,
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
        let peer = common::peer::start("fhir-server.mjs", &settings_file);
        Self {
            fhir: peer.address("fhir"),
            issuer: peer.address("issuer"),
            admin: peer.address("admin"),
            _peer: peer,
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
