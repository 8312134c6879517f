//! The Dezi stand-in for the tests: panva's oidc-provider and jose playing the Dezi platform
//! (`peers/dezi-provider.mjs`), with its own CA, the portal's decryption key, and a browser
//! done by its admin listener.

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
use zvp_auth::dezi::{DecryptionKey, DeziError, DeziSettings, VerifiedDeziIdentity};
use zvp_core::RoleCode;
use zvp_portal::dezi::{Connection, DeziClient};

pub const CLIENT: &str = "zvp-portal";
pub const ACCEPTANCE_CLIENT: &str = "zvp-acceptatie";
pub const REDIRECT: &str = "https://portaal.test/dezi/callback";
pub const ELIGIBLE: &[RoleCode] = &RoleCode::PRIMARY_CARE_PHYSICIANS;

/// The files of one run: a CA and the stand-in's server certificate, the portal's
/// decryption key and its public JWKS.
pub struct Files {
    pub dir: PathBuf,
    pub key_der: Vec<u8>,
}

impl Files {
    pub fn make(name: &str) -> Self {
        let dir = super::scratch(name);
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

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

pub fn person(role: &str, name: &str) -> Value {
    json!({"dezi_nummer": "900000001", "voorletters": "J.", "voorvoegsel": "de",
           "achternaam": name, "abonnee_nummer": "90000123", "abonnee_naam": "Praktijk De Vries",
           "rol_code": role, "rol_naam": "arts"})
}

/// The running stand-in; stopped with its `Peer` however the test ends.
pub struct Dezi {
    _peer: super::peer::Peer,
    pub issuer: String,
    pub admin: String,
    pub jku: String,
}

impl Dezi {
    pub fn start(files: &Files) -> Self {
        let mut persons = serde_json::Map::new();
        for (i, role) in RoleCode::PRIMARY_CARE_PHYSICIANS.iter().enumerate() {
            persons.insert(format!("arts-{i}"), person(&role.to_string(), "Vries"));
        }
        persons.insert("aios".to_owned(), person("01.000", "Smit"));
        // For the portal's tests: a GP with a Dezi number of their own (the `Own` card's
        // holder, once linked), another GP, and a physician whose role the policy refuses.
        for (login, number, role) in [
            ("huisarts", "900000111", "01.015"),
            ("huisarts-2", "900000222", "01.015"),
        ] {
            // The test cards' holders are "<Who> Test" (surname Test), as the `Own` card's.
            let mut p = person(role, "Test");
            p["dezi_nummer"] = json!(number);
            p["voorvoegsel"] = json!(null);
            persons.insert(login.to_owned(), p);
        }
        let mut colleague = person("01.015", "Bakker");
        colleague["dezi_nummer"] = json!("900000444");
        persons.insert("collega".to_owned(), colleague);
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
        let peer = super::peer::start("dezi-provider.mjs", &settings_file);
        Self {
            issuer: peer.address("issuer"),
            admin: peer.address("admin"),
            jku: peer.address("jku"),
            _peer: peer,
        }
    }

    /// One request to the admin listener: its JSON answer.
    pub fn admin(&self, path: &str, body: &Value) -> Value {
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

    pub fn fault(&self, fault: &Value) {
        self.admin("/fault", fault);
    }

    pub fn settings(&self, client_id: &str) -> DeziSettings {
        let mut s = DeziSettings::new(&self.issuer, client_id);
        s.verklaring_issuers = vec!["https://abonnee.dezi.nl".to_owned()];
        s.jku_allow_list = vec![self.jku.clone()];
        s
    }

    pub async fn client(
        &self,
        files: &Files,
        settings: DeziSettings,
    ) -> Result<DeziClient, DeziError> {
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

    /// The stand-in's answer to `POST /revoke`: the verklaring `id` is revoked from now on.
    pub fn revoke(&self, id: &str) {
        self.admin("/revoke", &json!({ "verklaring_id": id }));
    }

    /// The last verklaring the stand-in issued.
    pub fn last_verklaring(&self) -> String {
        let host = self.admin.strip_prefix("http://").unwrap();
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        write!(
            stream,
            "GET /last HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let json: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        json["verklaring_id"].as_str().unwrap().to_owned()
    }

    /// What the browser does: the authorize URL to the redirect back, as `person`. Returns
    /// the callback's state and code.
    pub fn browser(&self, url: &str, person: &str) -> (String, String) {
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
    pub async fn login(
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

pub async fn setup(name: &str) -> (Files, Dezi, DeziClient) {
    let files = Files::make(name);
    let dezi = Dezi::start(&files);
    let client = dezi.client(&files, dezi.settings(CLIENT)).await.unwrap();
    (files, dezi, client)
}
