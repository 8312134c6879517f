//! Dezi login against a real OpenID provider playing the Dezi platform: panva's oidc-provider
//! and jose configured as Dezi (`peers/dezi-provider.mjs`, installed by the test command), over
//! HTTPS with TLS 1.3. Every refusal of the "Done when" list of issue 25 gets its exact error.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use serde_json::{Value, json};
use zvp_auth::dezi::{
    DecryptionKey, DeziError, DeziSettings, LoginRequest, Token, VerifiedDeziIdentity,
};
use zvp_core::RoleCode;
use zvp_portal::dezi::{Connection, DeziClient};

const CLIENT: &str = "zvp-portal";
const ACCEPTANCE_CLIENT: &str = "zvp-acceptatie";
const REDIRECT: &str = "https://portaal.test/dezi/callback";
const ELIGIBLE: &[RoleCode] = &RoleCode::PRIMARY_CARE_PHYSICIANS;

/// The files of one run: a CA and the stand-in's server certificate, the portal's
/// decryption key and its public JWKS.
struct Files {
    dir: PathBuf,
    key_der: Vec<u8>,
}

impl Files {
    fn make(name: &str) -> Self {
        let dir = common::scratch(name);
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "zvp test Dezi CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::from_params(&ca, &ca_key);
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        let server = params.signed_by(&key, &issuer).unwrap();
        let portal = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
        let public = PublicKeyComponents::<Vec<u8>>::from(portal.public_key());
        let jwks = json!({"keys": [{"kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "kid": "portal-1",
            "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e)}]});
        let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        write("ca.pem", &ca_cert.pem());
        write("server.pem", &server.pem());
        write("server.key.pem", &key.serialize_pem());
        write("portal-jwks.json", &jwks.to_string());
        Self {
            key_der: portal.as_der().unwrap().as_ref().to_vec(),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn person(role: &str, name: &str) -> Value {
    json!({"dezi_nummer": "900000001", "voorletters": "J.", "voorvoegsel": "de",
           "achternaam": name, "abonnee_nummer": "90000123", "abonnee_naam": "Praktijk De Vries",
           "rol_code": role, "rol_naam": "arts"})
}

/// The running stand-in; stopped with its `Peer` however the test ends.
struct Dezi {
    _peer: common::peer::Peer,
    issuer: String,
    admin: String,
    jku: String,
}

impl Dezi {
    fn start(files: &Files) -> Self {
        let mut persons = serde_json::Map::new();
        for (i, role) in RoleCode::PRIMARY_CARE_PHYSICIANS.iter().enumerate() {
            persons.insert(format!("arts-{i}"), person(&role.to_string(), "Vries"));
        }
        persons.insert("aios".to_owned(), person("01.000", "Smit"));
        let settings = json!({
            "certificate": files.path("server.pem"),
            "key": files.path("server.key.pem"),
            "ca": files.path("ca.pem"),
            "client_id": CLIENT,
            "acceptance_client_id": ACCEPTANCE_CLIENT,
            "redirect_uris": [REDIRECT],
            "portal_jwks": files.path("portal-jwks.json"),
            "persons": persons,
        });
        let settings_file = files.path("dezi.json");
        std::fs::write(&settings_file, settings.to_string()).unwrap();
        let peer = common::peer::start("dezi-provider.mjs", &settings_file);
        Self {
            issuer: peer.address("issuer"),
            admin: peer.address("admin"),
            jku: peer.address("jku"),
            _peer: peer,
        }
    }

    /// One request to the admin listener: its JSON answer.
    fn admin(&self, path: &str, body: &Value) -> Value {
        let host = self.admin.strip_prefix("http://").unwrap();
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        let body = body.to_string();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let json = answer.split("\r\n\r\n").nth(1).unwrap_or("null");
        serde_json::from_str(json).unwrap_or(Value::Null)
    }

    fn fault(&self, fault: &Value) {
        self.admin("/fault", fault);
    }

    fn settings(&self, client_id: &str) -> DeziSettings {
        let mut s = DeziSettings::new(&self.issuer, client_id);
        s.verklaring_issuers = vec!["https://abonnee.dezi.nl".to_owned()];
        s.jku_allow_list = vec![self.jku.clone()];
        s
    }

    async fn client(&self, files: &Files, settings: DeziSettings) -> Result<DeziClient, DeziError> {
        DeziClient::connect(
            settings,
            Connection {
                redirect_uri: REDIRECT.to_owned(),
                decryption_key: Some(DecryptionKey::from_pkcs8_der(&files.key_der).unwrap()),
                revocation_list_url: None,
                anchors_pem: Some(std::fs::read(files.path("ca.pem")).unwrap()),
                timeout: Duration::from_secs(10),
            },
        )
        .await
    }

    /// What the browser does: the authorize URL to the redirect back, as `person`. Returns
    /// the callback's state and code.
    fn browser(&self, url: &str, person: &str) -> (String, String) {
        let answer = self.admin("/login", &json!({"url": url, "person": person}));
        let location = answer["location"]
            .as_str()
            .unwrap_or_else(|| panic!("{answer}"));
        let query = location.split_once('?').unwrap().1;
        let get = |name: &str| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_else(|| panic!("{location}"))
        };
        (get("state"), get("code"))
    }

    /// A whole login as `person`.
    async fn login(
        &self,
        client: &DeziClient,
        person: &str,
    ) -> Result<VerifiedDeziIdentity, DeziError> {
        let (pending, url) = client.start().unwrap();
        let (state, code) = self.browser(&url, person);
        client
            .complete(&pending, &state, &code, ELIGIBLE, Utc::now())
            .await
    }
}

async fn setup(name: &str) -> (Files, Dezi, DeziClient) {
    let files = Files::make(name);
    let dezi = Dezi::start(&files);
    let client = dezi.client(&files, dezi.settings(CLIENT)).await.unwrap();
    (files, dezi, client)
}

#[tokio::test]
async fn each_eligible_role_logs_in_and_a_refused_role_is_refused() {
    let (_files, dezi, client) = setup("dezi-roles").await;
    for (i, role) in RoleCode::PRIMARY_CARE_PHYSICIANS.iter().enumerate() {
        let who = dezi.login(&client, &format!("arts-{i}")).await.unwrap();
        assert_eq!(who.role(), *role);
        assert_eq!(who.dezi_number().as_str(), "900000001");
        assert_eq!(who.display_name(), "J. de Vries");
        assert!(who.verklaring_id().starts_with("vk-"));
        who.require_role(&RoleCode::PRIMARY_CARE_PHYSICIANS)
            .unwrap();
    }
    // The login itself refuses the GP in training: no identity to forget to check.
    assert_eq!(
        dezi.login(&client, "aios").await,
        Err(DeziError::RoleNotEligible {
            role: "01.000".parse().unwrap()
        })
    );
}

#[tokio::test]
async fn state_code_reuse_and_nonce() {
    let (_files, dezi, client) = setup("dezi-flow").await;
    let (pending, url) = client.start().unwrap();
    let (_, code) = dezi.browser(&url, "arts-0");
    assert_eq!(
        client
            .complete(&pending, "another-state", &code, ELIGIBLE, Utc::now())
            .await,
        Err(DeziError::StateMismatch)
    );
    let (pending, url) = client.start().unwrap();
    let (state, code) = dezi.browser(&url, "arts-0");
    client
        .complete(&pending, &state, &code, ELIGIBLE, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        client
            .complete(&pending, &state, &code, ELIGIBLE, Utc::now())
            .await,
        Err(DeziError::CodeRefused {
            error: "invalid_grant".to_owned()
        })
    );
    let (pending, url) = client.start().unwrap();
    let (state, code) = dezi.browser(&url, "arts-0");
    let other = LoginRequest {
        nonce: "another-nonce".to_owned(),
        ..pending
    };
    assert_eq!(
        client
            .complete(&other, &state, &code, ELIGIBLE, Utc::now())
            .await,
        Err(DeziError::NonceMismatch)
    );
}

#[tokio::test]
async fn id_token_refusals() {
    let (_files, dezi, client) = setup("dezi-id-token").await;
    dezi.fault(&json!({"id_token": {"aud": "someone-else"}}));
    assert_eq!(
        dezi.login(&client, "arts-0").await,
        Err(DeziError::AudienceMismatch {
            token: Token::IdToken,
            found: "someone-else".to_owned()
        })
    );
    dezi.fault(&json!({"id_token": {"exp_offset": -600}}));
    assert!(matches!(
        dezi.login(&client, "arts-0").await,
        Err(DeziError::Expired {
            token: Token::IdToken,
            ..
        })
    ));
    dezi.fault(&json!({"id_token": {"kid": "rotated-away"}}));
    assert_eq!(
        dezi.login(&client, "arts-0").await,
        Err(DeziError::UnknownKey {
            token: Token::IdToken,
            kid: Some("rotated-away".to_owned())
        })
    );
    for alg in ["none", "HS256"] {
        dezi.fault(&json!({"id_token": {"alg": alg}}));
        assert_eq!(
            dezi.login(&client, "arts-0").await,
            Err(DeziError::AlgorithmNotAccepted {
                token: Token::IdToken,
                alg: alg.to_owned()
            })
        );
    }
}

#[tokio::test]
async fn rotated_keys_are_fetched_once_more() {
    let files = Files::make("dezi-rotation");
    let dezi = Dezi::start(&files);
    // The client starts with an empty key set: the first token's kid is unknown to it.
    dezi.fault(&json!({"hide_keys": true}));
    let client = dezi.client(&files, dezi.settings(CLIENT)).await.unwrap();
    dezi.fault(&json!({}));
    dezi.login(&client, "arts-0").await.unwrap();
}

#[tokio::test]
async fn userinfo_envelope_and_verklaring_refusals() {
    let (_files, dezi, client) = setup("dezi-userinfo").await;
    dezi.fault(&json!({"userinfo": {"to_stranger": true}}));
    assert_eq!(
        dezi.login(&client, "arts-0").await,
        Err(DeziError::NotForThisPortal)
    );
    dezi.fault(&json!({"userinfo": {"aud": "another-application"}}));
    assert_eq!(
        dezi.login(&client, "arts-0").await,
        Err(DeziError::AudienceMismatch {
            token: Token::Envelope,
            found: "another-application".to_owned()
        })
    );
    dezi.fault(&json!({"envelope_verklaring_id": "vk-elsewhere", "verklaring": {"verklaring_id": "vk-here"}}));
    assert_eq!(
        dezi.login(&client, "arts-0").await,
        Err(DeziError::VerklaringIdMismatch {
            envelope: "vk-elsewhere".to_owned(),
            verklaring: "vk-here".to_owned()
        })
    );
    dezi.fault(&json!({"verklaring": {"jku": "https://127.0.0.1:9/jwks.json"}}));
    assert_eq!(
        dezi.login(&client, "arts-0").await,
        Err(DeziError::JkuNotAllowed {
            jku: "https://127.0.0.1:9/jwks.json".to_owned()
        })
    );
    dezi.fault(&json!({"verklaring": {"exp_offset": -3600, "nbf_offset": -7200}}));
    assert!(matches!(
        dezi.login(&client, "arts-0").await,
        Err(DeziError::Expired {
            token: Token::Verklaring,
            ..
        })
    ));
    dezi.fault(&json!({"verklaring": {"nbf_offset": 3600}}));
    assert!(matches!(
        dezi.login(&client, "arts-0").await,
        Err(DeziError::NotYetValid {
            token: Token::Verklaring,
            ..
        })
    ));
}

#[tokio::test]
async fn revoked_at_login_and_during_a_session() {
    let (_files, dezi, client) = setup("dezi-revocation").await;
    dezi.admin("/revoke", &json!({"verklaring_id": "vk-revoked"}));
    dezi.fault(&json!({"envelope_verklaring_id": "vk-revoked", "verklaring": {"verklaring_id": "vk-revoked"}}));
    assert_eq!(
        dezi.login(&client, "arts-0").await,
        Err(DeziError::Revoked {
            verklaring_id: "vk-revoked".to_owned()
        })
    );
    dezi.fault(&json!({}));
    let who = dezi.login(&client, "arts-0").await.unwrap();
    client.check_status(&who).await.unwrap();
    let list = client.revocation_list().await.unwrap();
    assert_eq!(
        list.check(who.verklaring_id(), Utc::now(), chrono::Duration::zero()),
        Ok(())
    );
    dezi.admin("/revoke", &json!({"verklaring_id": who.verklaring_id()}));
    let revoked = Err(DeziError::Revoked {
        verklaring_id: who.verklaring_id().to_owned(),
    });
    assert_eq!(client.check_status(&who).await, revoked);
    let list = client.revocation_list().await.unwrap();
    assert_eq!(
        list.check(who.verklaring_id(), Utc::now(), chrono::Duration::zero()),
        revoked
    );
}

#[tokio::test]
async fn the_status_is_asked_of_the_platform_not_of_the_url_in_the_verklaring() {
    let (_files, dezi, client) = setup("dezi-status-url").await;
    dezi.admin("/revoke", &json!({"verklaring_id": "vk-elders"}));
    // A revoked verklaring whose revocation URL points to a host that calls anything active.
    let elsewhere = format!("{}/elders/status/vk-elders", dezi.issuer);
    dezi.fault(&json!({"envelope_verklaring_id": "vk-elders",
        "verklaring": {"verklaring_id": "vk-elders", "revocation_uri": elsewhere}}));
    assert_eq!(
        dezi.login(&client, "arts-0").await,
        Err(DeziError::Revoked {
            verklaring_id: "vk-elders".to_owned()
        })
    );
}

#[tokio::test]
async fn the_revocation_list_is_the_platforms_and_may_be_large() {
    let (_files, dezi, client) = setup("dezi-revocation-list").await;
    // Some 10 000 entries: over the 512 KiB of any other answer and the 64 KiB of a token.
    dezi.fault(&json!({"list_padding": 10_000}));
    assert_eq!(client.revocation_list().await.unwrap().len(), 10_000);
    // Signed by the eSeal key at an allowed jku: not the platform's key, so refused.
    dezi.fault(&json!({"list_by_eseal": true}));
    assert_eq!(
        client.revocation_list().await,
        Err(DeziError::UnknownKey {
            token: Token::RevocationList,
            kid: Some("eseal-1".to_owned())
        })
    );
}

#[tokio::test]
async fn the_platform_unreachable() {
    let files = Files::make("dezi-unreachable");
    let dezi = Dezi::start(&files);
    let client = dezi.client(&files, dezi.settings(CLIENT)).await.unwrap();
    let (pending, url) = client.start().unwrap();
    let (state, code) = dezi.browser(&url, "arts-0");
    let issuer = dezi.issuer.clone();
    drop(dezi);
    assert!(matches!(
        client
            .complete(&pending, &state, &code, ELIGIBLE, Utc::now())
            .await,
        Err(DeziError::PlatformUnreachable { .. })
    ));
    let mut settings = DeziSettings::new(&issuer, CLIENT);
    settings.jku_allow_list = Vec::new();
    let closed = DeziClient::connect(
        settings,
        Connection {
            redirect_uri: REDIRECT.to_owned(),
            decryption_key: None,
            revocation_list_url: None,
            anchors_pem: Some(std::fs::read(files.path("ca.pem")).unwrap()),
            timeout: Duration::from_secs(5),
        },
    )
    .await;
    assert!(matches!(closed, Err(DeziError::PlatformUnreachable { .. })));
}

#[tokio::test]
async fn both_acceptance_deviations() {
    let (files, dezi, client) = setup("dezi-acceptance").await;
    // A plain signed userinfo: refused in production mode, accepted with the switch.
    let strict = dezi
        .client(&files, dezi.settings(ACCEPTANCE_CLIENT))
        .await
        .unwrap();
    assert_eq!(
        dezi.login(&strict, "arts-0").await,
        Err(DeziError::UserinfoNotEncrypted)
    );
    let mut acceptance = dezi.settings(ACCEPTANCE_CLIENT);
    acceptance.accept_signed_userinfo = true;
    let lenient = dezi.client(&files, acceptance).await.unwrap();
    dezi.login(&lenient, "arts-0").await.unwrap();
    // The revocation URL named status_uri.
    dezi.fault(&json!({"verklaring": {"status_uri": true}}));
    assert_eq!(
        dezi.login(&client, "arts-0").await,
        Err(DeziError::StatusUriNotAccepted)
    );
    let mut accepting = dezi.settings(CLIENT);
    accepting.accept_status_uri = true;
    let accepting = dezi.client(&files, accepting).await.unwrap();
    let who = dezi.login(&accepting, "arts-0").await.unwrap();
    assert!(
        who.revocation_uri()
            .unwrap()
            .contains("/status/v1/verklaring/")
    );
}
