//! The UZI client-certificate verifier in a real rustls handshake (in memory, both TLS 1.2
//! and 1.3): the card's key must sign the handshake; everything else is left to `validate`,
//! which then runs on the peer chain the server saw.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use rustls_pki_types::{PrivateKeyDer, ServerName};
use zvp_auth::testpki::{CardSpec, IssuedCertificate, KeyAlgorithm, TestPki};
use zvp_auth::uzi::{Environment, UziClientCertVerifier, UziError};
use zvp_core::{RoleCode, UziNumber};

fn now() -> DateTime<Utc> {
    // rustls checks the server certificate against the real clock, so the PKI is made now.
    DateTime::from(SystemTime::now())
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

struct Setup {
    pki: TestPki,
    server: ServerConfig,
    verifier: Arc<UziClientCertVerifier>,
}

fn setup() -> Setup {
    let pki = TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, now()).unwrap();
    let validator = pki.validator().unwrap();
    let verifier = Arc::new(UziClientCertVerifier::new(&validator, provider()));
    let server_cert = pki.issue_tls_server(&["localhost"], now()).unwrap();
    let server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier.clone())
        .with_single_cert(
            vec![server_cert.der.clone()],
            PrivateKeyDer::Pkcs8(server_cert.private_key()),
        )
        .unwrap();
    Setup {
        pki,
        server,
        verifier,
    }
}

fn client(
    setup: &Setup,
    chain: &IssuedCertificate,
    key: &IssuedCertificate,
    tls13: bool,
) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.add(setup.pki.tls_root()).unwrap();
    let versions: &[&rustls::SupportedProtocolVersion] = if tls13 {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS12]
    };
    ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_client_cert_resolver(Arc::new(Presents(Arc::new(CertifiedKey::new(
            chain.chain(),
            provider()
                .key_provider
                .load_private_key(PrivateKeyDer::Pkcs8(key.private_key()))
                .unwrap(),
        )))))
}

/// Presents a fixed certificate and key, without rustls's check that they belong together
/// (so that a test can present a stolen certificate with the wrong key).
#[derive(Debug)]
struct Presents(Arc<CertifiedKey>);

impl ResolvesClientCert for Presents {
    fn resolve(
        &self,
        _hints: &[&[u8]],
        _schemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Runs the handshake by passing records between the two ends until both are done.
fn handshake(
    client: ClientConfig,
    server: ServerConfig,
) -> Result<ServerConnection, rustls::Error> {
    let mut client =
        ClientConnection::new(Arc::new(client), ServerName::try_from("localhost").unwrap())?;
    let mut server = ServerConnection::new(Arc::new(server))?;
    for _ in 0..16 {
        let mut buf = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut buf).unwrap();
        }
        server.read_tls(&mut buf.as_slice()).unwrap();
        server.process_new_packets()?;
        let mut buf = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut buf).unwrap();
        }
        client.read_tls(&mut buf.as_slice()).unwrap();
        client.process_new_packets()?;
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(server);
        }
    }
    panic!("handshake did not finish")
}

fn card(setup: &Setup, n: u32) -> IssuedCertificate {
    let spec = CardSpec::care_provider(
        UziNumber::new(n).unwrap(),
        RoleCode::GENERAL_PRACTITIONER,
        now(),
    );
    setup.pki.issue_card(&spec).unwrap().authentication
}

#[test]
fn card_logs_in_over_tls13_and_tls12_and_validates_at_the_http_layer() {
    let setup = setup();
    let card = card(&setup, 900_000_101);
    for tls13 in [true, false] {
        let server = handshake(client(&setup, &card, &card, tls13), setup.server.clone()).unwrap();
        let peer = server.peer_certificates().unwrap().to_vec();
        assert_eq!(peer.len(), 3, "leaf, issuing CA, domain CA");
        let validator = setup.pki.validator().unwrap().without_revocation_checking();
        let id = validator.validate(&peer, now()).unwrap();
        assert_eq!(id.uzi_number().to_string(), "900000101");
    }
}

#[test]
fn a_certificate_without_its_key_fails_the_handshake() {
    let setup = setup();
    let victim = card(&setup, 900_000_102);
    let thief = card(&setup, 900_000_103);
    for tls13 in [true, false] {
        let err = handshake(client(&setup, &victim, &thief, tls13), setup.server.clone())
            .expect_err("a stolen certificate without its key must not complete the handshake");
        assert!(
            matches!(
                err,
                rustls::Error::InvalidCertificate(_) | rustls::Error::PeerMisbehaved(_)
            ),
            "{err:?}"
        );
    }
}

#[test]
fn untrusted_card_completes_the_handshake_and_is_refused_readably() {
    // The handshake only proves possession of the key; the refusal comes from validate, so
    // the portal can show a page instead of a browser TLS error.
    let setup = setup();
    let stranger =
        TestPki::generate(Environment::Production, KeyAlgorithm::EcdsaP256, now()).unwrap();
    let spec = CardSpec::care_provider(
        UziNumber::new(900_000_104).unwrap(),
        RoleCode::GENERAL_PRACTITIONER,
        now(),
    );
    let card = stranger.issue_card(&spec).unwrap().authentication;
    let server = handshake(client(&setup, &card, &card, true), setup.server.clone()).unwrap();
    let peer = server.peer_certificates().unwrap().to_vec();
    let validator = setup.pki.validator().unwrap().without_revocation_checking();
    assert_eq!(
        validator.validate(&peer, now()).unwrap_err(),
        UziError::UntrustedIssuer
    );
}

#[test]
fn acceptable_issuers_are_the_configured_uzi_cas() {
    let setup = setup();
    // The root, the domain CA and the four issuing CAs.
    assert_eq!(setup.verifier.root_hint_subjects().len(), 6);
    assert!(setup.verifier.client_auth_mandatory());
}
