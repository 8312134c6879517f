//! Unit and property tests of the Dezi checks: tokens made here with `jsonwebtoken` and a
//! test-only JWE encryptor, and one userinfo JWE made by panva's `jose` (`fixtures/dezi/`).

use std::sync::LazyLock;

use aws_lc_rs::cipher::{AES_256, PaddedBlockEncryptingKey, UnboundCipherKey};
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize, OAEP_SHA1_MGF1SHA1, OaepPublicEncryptingKey};
use aws_lc_rs::signature::KeyPair as _;
use aws_lc_rs::{hmac, rand as lc_rand};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, TimeZone as _, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

const ISSUER: &str = "https://dezi.example";
const CLIENT: &str = "zvp-portal";
const JKU: &str = "https://dezi.example/eseal/jwks.json";
const ABONNEE: &str = "https://abonnee.dezi.nl";

struct Signer {
    pem: Vec<u8>,
    pkcs8: Vec<u8>,
    n: String,
    e: String,
}

fn signer() -> Signer {
    let key = KeyPair::generate(KeySize::Rsa2048).unwrap();
    let pkcs8 = key.as_der().unwrap().as_ref().to_vec();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(&pkcs8)
    );
    let public = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(key.public_key());
    Signer {
        pem: pem.into_bytes(),
        pkcs8,
        n: URL_SAFE_NO_PAD.encode(&public.n),
        e: URL_SAFE_NO_PAD.encode(&public.e),
    }
}

static PLATFORM: LazyLock<Signer> = LazyLock::new(signer);
static ESEAL: LazyLock<Signer> = LazyLock::new(signer);
static STRANGER: LazyLock<Signer> = LazyLock::new(signer);
static PORTAL: LazyLock<Signer> = LazyLock::new(signer);

fn jwks(entries: &[(&Signer, &str)]) -> JwkSet {
    let keys: Vec<Value> = entries
        .iter()
        .map(|(s, kid)| json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": s.n, "e": s.e}))
        .collect();
    serde_json::from_value(json!({ "keys": keys })).unwrap()
}

fn platform_keys() -> JwkSet {
    jwks(&[(&PLATFORM, "platform-1")])
}

fn eseal_keys() -> JwkSet {
    jwks(&[(&ESEAL, "eseal-1")])
}

fn sign(s: &Signer, kid: &str, jku: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    header.jku = jku.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(&s.pem).unwrap()).unwrap()
}

/// A test-only JWE encryptor (RSA-OAEP, A256CBC-HS512), to make tokens to refuse.
fn encrypt_with(plaintext: &str, to: &Signer, header: &Value) -> String {
    let public = aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(&to.pkcs8)
        .unwrap()
        .public_key();
    let oaep = OaepPublicEncryptingKey::new(public).unwrap();
    let mut cek = [0u8; 64];
    lc_rand::fill(&mut cek).unwrap();
    let mut ek = vec![0u8; oaep.ciphertext_size()];
    let ek = oaep
        .encrypt(&OAEP_SHA1_MGF1SHA1, &cek, &mut ek, None)
        .unwrap()
        .to_vec();
    let protected = URL_SAFE_NO_PAD.encode(header.to_string());
    let cipher =
        PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_256, &cek[32..]).unwrap())
            .unwrap();
    let mut data = plaintext.as_bytes().to_vec();
    let context = cipher.encrypt(&mut data).unwrap();
    let iv: &[u8] = (&context).try_into().unwrap();
    let mut mac = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA512, &cek[..32]));
    mac.update(protected.as_bytes());
    mac.update(iv);
    mac.update(&data);
    mac.update(&((protected.len() as u64) * 8).to_be_bytes());
    let tag = &mac.sign().as_ref()[..32].to_vec();
    [
        protected,
        URL_SAFE_NO_PAD.encode(ek),
        URL_SAFE_NO_PAD.encode(iv),
        URL_SAFE_NO_PAD.encode(&data),
        URL_SAFE_NO_PAD.encode(tag),
    ]
    .join(".")
}

fn encrypt(plaintext: &str, to: &Signer) -> String {
    encrypt_with(
        plaintext,
        to,
        &json!({"alg": "RSA-OAEP", "enc": "A256CBC-HS512", "cty": "JWT"}),
    )
}

fn portal_key() -> DecryptionKey {
    DecryptionKey::from_pkcs8_der(&PORTAL.pkcs8).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn ts(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn settings() -> DeziSettings {
    let mut s = DeziSettings::new(ISSUER, CLIENT);
    s.verklaring_issuers = vec![ABONNEE.to_owned()];
    s.jku_allow_list = vec![JKU.to_owned()];
    s
}

fn id_claims() -> Value {
    json!({"iss": ISSUER, "aud": CLIENT, "sub": "pairwise-abc", "nonce": "n-1",
           "exp": ts(now() + Duration::minutes(5)), "iat": ts(now())})
}

fn verklaring_claims() -> Value {
    json!({"iss": ABONNEE, "verklaring_id": "vk-1", "dezi_nummer": "900000001",
           "voorletters": "J.", "voorvoegsel": "de", "achternaam": "Vries",
           "abonnee_nummer": "90000123", "abonnee_naam": "Huisartsenpraktijk De Vries",
           "rol_code": "01.015", "rol_naam": "Huisarts", "rol_code_bron": "BIG",
           "revocatie_controle_uri": "https://dezi.example/status/v1/verklaring/vk-1",
           "nbf": ts(now() - Duration::days(1)), "exp": ts(now() + Duration::days(91))})
}

fn envelope_claims(verklaring: &str) -> Value {
    json!({"iss": ISSUER, "aud": CLIENT, "exp": ts(now() + Duration::minutes(5)),
           "loa_authn": "http://eidas.europa.eu/LoA/high", "json_schema": "https://dezi.example/schema.json",
           "verklaring_id": "vk-1", "verklaring": verklaring})
}

fn verklaring(claims: &Value) -> String {
    sign(&ESEAL, "eseal-1", Some(JKU), claims)
}

fn envelope_with(claims: &Value) -> String {
    sign(&PLATFORM, "platform-1", None, claims)
}

/// The whole chain from the userinfo body to the identity.
fn login(userinfo: &str, s: &DeziSettings) -> Result<VerifiedDeziIdentity, DeziError> {
    let id = validate_id_token(
        &sign(&PLATFORM, "platform-1", None, &id_claims()),
        &platform_keys(),
        s,
        Some("n-1"),
        now(),
    )?;
    let key = portal_key();
    let envelope_jws = open_userinfo(userinfo, Some(&key), s)?;
    let envelope = validate_envelope(&envelope_jws, &platform_keys(), s, now())?;
    verklaring_key_url(&envelope.verklaring, s)?;
    validate_verklaring(
        &envelope,
        (JKU, &eseal_keys()),
        &id,
        &zvp_core::RoleCode::PRIMARY_CARE_PHYSICIANS,
        s,
        now(),
    )
}

fn good_userinfo() -> String {
    encrypt(
        &envelope_with(&envelope_claims(&verklaring(&verklaring_claims()))),
        &PORTAL,
    )
}

#[test]
fn a_complete_login_gives_the_identity() {
    let who = login(&good_userinfo(), &settings()).unwrap();
    assert_eq!(who.dezi_number().as_str(), "900000001");
    assert_eq!(who.display_name(), "J. de Vries");
    assert_eq!(who.subscriber().to_string(), "90000123");
    assert_eq!(who.role().to_string(), "01.015");
    assert_eq!(who.verklaring_id(), "vk-1");
    assert_eq!(who.loa(), Loa::High);
    assert_eq!(who.pairwise_subject(), "pairwise-abc");
    assert!(
        who.require_role(&zvp_core::RoleCode::PRIMARY_CARE_PHYSICIANS)
            .is_ok()
    );
}

#[test]
fn a_userinfo_made_by_panvas_jose_opens() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/dezi");
    let pem = std::fs::read(format!("{dir}/portal-key.pk8.pem")).unwrap();
    let key = DecryptionKey::from_pkcs8_pem(&pem).unwrap();
    let jwe = std::fs::read_to_string(format!("{dir}/userinfo.jwe")).unwrap();
    let keys: JwkSet = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}/platform-jwks.json")).unwrap(),
    )
    .unwrap();
    let s = DeziSettings::new(ISSUER, CLIENT);
    let envelope_jws = open_userinfo(&jwe, Some(&key), &s).unwrap();
    assert_eq!(
        envelope_jws,
        std::fs::read_to_string(format!("{dir}/envelope.jws"))
            .unwrap()
            .trim()
    );
    let envelope = validate_envelope(&envelope_jws, &keys, &s, now()).unwrap();
    assert_eq!(envelope.verklaring_id, "v-1");
    // The same JWE for another portal's key does not open.
    assert_eq!(
        open_userinfo(&jwe, Some(&portal_key()), &s),
        Err(DeziError::NotForThisPortal)
    );
}

mod flows;
mod hardening;
mod refusals;
