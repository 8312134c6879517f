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
    validate_verklaring(&envelope, &eseal_keys(), &id, s, now())
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

fn id_token_error(claims: &Value, kid: &str, nonce: Option<&str>) -> DeziError {
    validate_id_token(
        &sign(&PLATFORM, kid, None, claims),
        &platform_keys(),
        &settings(),
        nonce,
        now(),
    )
    .unwrap_err()
}

#[test]
fn id_token_refusals() {
    let mut wrong_aud = id_claims();
    wrong_aud["aud"] = json!("another-client");
    assert_eq!(
        id_token_error(&wrong_aud, "platform-1", Some("n-1")),
        DeziError::AudienceMismatch {
            token: Token::IdToken,
            found: "another-client".to_owned()
        }
    );
    let mut expired = id_claims();
    let exp = now() - Duration::minutes(2);
    expired["exp"] = json!(ts(exp));
    assert_eq!(
        id_token_error(&expired, "platform-1", Some("n-1")),
        DeziError::Expired {
            token: Token::IdToken,
            exp
        }
    );
    assert_eq!(
        id_token_error(&id_claims(), "rotated-away", Some("n-1")),
        DeziError::UnknownKey {
            token: Token::IdToken,
            kid: Some("rotated-away".to_owned())
        }
    );
    assert_eq!(
        id_token_error(&id_claims(), "platform-1", Some("n-2")),
        DeziError::NonceMismatch
    );
    let mut other_iss = id_claims();
    other_iss["iss"] = json!("https://evil.example");
    assert_eq!(
        id_token_error(&other_iss, "platform-1", Some("n-1")),
        DeziError::IssuerMismatch {
            token: Token::IdToken,
            found: "https://evil.example".to_owned()
        }
    );
    let mut two_aud = id_claims();
    two_aud["aud"] = json!([CLIENT, "other"]);
    assert_eq!(
        id_token_error(&two_aud, "platform-1", Some("n-1")),
        DeziError::AudienceMismatch {
            token: Token::IdToken,
            found: String::new()
        }
    );
}

#[test]
fn a_token_signed_by_another_key_with_a_known_kid_is_refused() {
    let forged = sign(&STRANGER, "platform-1", None, &id_claims());
    assert_eq!(
        validate_id_token(&forged, &platform_keys(), &settings(), Some("n-1"), now()),
        Err(DeziError::BadSignature {
            token: Token::IdToken
        })
    );
}

#[test]
fn algorithm_downgrades_are_refused() {
    let payload = URL_SAFE_NO_PAD.encode(id_claims().to_string());
    let none = format!(
        "{}.{payload}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"platform-1"}"#)
    );
    assert_eq!(
        validate_id_token(&none, &platform_keys(), &settings(), Some("n-1"), now()),
        Err(DeziError::AlgorithmNotAccepted {
            token: Token::IdToken,
            alg: "none".to_owned()
        })
    );
    // HS256 keyed with the platform's public key, as a confused verifier would check it.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("platform-1".to_owned());
    let public_pem = format!("{}{}", PLATFORM.n, PLATFORM.e);
    let hs = jsonwebtoken::encode(
        &header,
        &id_claims(),
        &EncodingKey::from_secret(public_pem.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        validate_id_token(&hs, &platform_keys(), &settings(), Some("n-1"), now()),
        Err(DeziError::AlgorithmNotAccepted {
            token: Token::IdToken,
            alg: "HS256".to_owned()
        })
    );
}

#[test]
fn userinfo_refusals() {
    let s = settings();
    let envelope = envelope_with(&envelope_claims(&verklaring(&verklaring_claims())));
    assert_eq!(
        login(&encrypt(&envelope, &STRANGER), &s),
        Err(DeziError::NotForThisPortal)
    );
    assert_eq!(login(&envelope, &s), Err(DeziError::UserinfoNotEncrypted));
    let gcm = encrypt_with(
        &envelope,
        &PORTAL,
        &json!({"alg": "RSA-OAEP", "enc": "A256GCM", "cty": "JWT"}),
    );
    assert_eq!(
        login(&gcm, &s),
        Err(DeziError::AlgorithmNotAccepted {
            token: Token::Userinfo,
            alg: "A256GCM".to_owned()
        })
    );
    let no_cty = encrypt_with(
        &envelope,
        &PORTAL,
        &json!({"alg": "RSA-OAEP", "enc": "A256CBC-HS512"}),
    );
    assert_eq!(
        login(&no_cty, &s),
        Err(DeziError::JweContentType { cty: None })
    );
    // A flipped bit in the ciphertext fails the tag, before any decryption.
    let good = good_userinfo();
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    let mut ct = URL_SAFE_NO_PAD.decode(&parts[3]).unwrap();
    ct[0] ^= 1;
    parts[3] = URL_SAFE_NO_PAD.encode(ct);
    assert_eq!(login(&parts.join("."), &s), Err(DeziError::JweIntegrity));
}

#[test]
fn acceptance_accepts_a_signed_userinfo() {
    let mut s = settings();
    s.accept_signed_userinfo = true;
    let envelope = envelope_with(&envelope_claims(&verklaring(&verklaring_claims())));
    assert_eq!(login(&envelope, &s).unwrap().verklaring_id(), "vk-1");
    // And still a JWE.
    assert!(login(&good_userinfo(), &s).is_ok());
}

fn envelope_error(envelope: &Value, s: &DeziSettings) -> DeziError {
    login(&encrypt(&envelope_with(envelope), &PORTAL), s).unwrap_err()
}

#[test]
fn envelope_refusals() {
    let s = settings();
    let v = verklaring(&verklaring_claims());
    let mut aud = envelope_claims(&v);
    aud["aud"] = json!("another-application");
    assert_eq!(
        envelope_error(&aud, &s),
        DeziError::AudienceMismatch {
            token: Token::Envelope,
            found: "another-application".to_owned()
        }
    );
    let mut id = envelope_claims(&v);
    id["verklaring_id"] = json!("vk-2");
    assert_eq!(
        envelope_error(&id, &s),
        DeziError::VerklaringIdMismatch {
            envelope: "vk-2".to_owned(),
            verklaring: "vk-1".to_owned()
        }
    );
    let mut loa = envelope_claims(&v);
    loa["loa_authn"] = json!("http://eidas.europa.eu/LoA/substantial");
    assert_eq!(
        envelope_error(&loa, &s),
        DeziError::LoaTooLow {
            found: "http://eidas.europa.eu/LoA/substantial".to_owned()
        }
    );
    let mut floor = settings();
    floor.loa_floor = Loa::Substantial;
    assert!(login(&encrypt(&envelope_with(&loa), &PORTAL), &floor).is_ok());
}

fn verklaring_error(token: &str, s: &DeziSettings) -> DeziError {
    envelope_error(&envelope_claims(token), s)
}

#[test]
fn verklaring_refusals() {
    let s = settings();
    let outside = sign(
        &ESEAL,
        "eseal-1",
        Some("https://evil.example/jwks.json"),
        &verklaring_claims(),
    );
    assert_eq!(
        verklaring_error(&outside, &s),
        DeziError::JkuNotAllowed {
            jku: "https://evil.example/jwks.json".to_owned()
        }
    );
    let without = sign(&ESEAL, "eseal-1", None, &verklaring_claims());
    assert_eq!(verklaring_error(&without, &s), DeziError::JkuMissing);

    let mut expired = verklaring_claims();
    let exp = now() - Duration::days(1);
    expired["exp"] = json!(ts(exp));
    assert_eq!(
        verklaring_error(&verklaring(&expired), &s),
        DeziError::Expired {
            token: Token::Verklaring,
            exp
        }
    );
    let mut early = verklaring_claims();
    let nbf = now() + Duration::days(1);
    early["nbf"] = json!(ts(nbf));
    assert_eq!(
        verklaring_error(&verklaring(&early), &s),
        DeziError::NotYetValid {
            token: Token::Verklaring,
            nbf
        }
    );
    // Signed by the platform's key while claiming the eSeal's kid: not the jku's key.
    let forged = sign(&PLATFORM, "eseal-1", Some(JKU), &verklaring_claims());
    assert_eq!(
        verklaring_error(&forged, &s),
        DeziError::BadSignature {
            token: Token::Verklaring
        }
    );
    let mut role = verklaring_claims();
    role["rol_code"] = json!("1.15");
    assert!(matches!(
        verklaring_error(&verklaring(&role), &s),
        DeziError::InvalidClaim {
            token: Token::Verklaring,
            claim: "rol_code",
            ..
        }
    ));
}

#[test]
fn the_revocation_url_named_status_uri_is_an_acceptance_switch() {
    let mut claims = verklaring_claims();
    let uri = claims["revocatie_controle_uri"].take();
    claims
        .as_object_mut()
        .unwrap()
        .remove("revocatie_controle_uri");
    claims["status_uri"] = uri;
    let userinfo = encrypt(
        &envelope_with(&envelope_claims(&verklaring(&claims))),
        &PORTAL,
    );
    assert_eq!(
        login(&userinfo, &settings()),
        Err(DeziError::StatusUriNotAccepted)
    );
    let mut s = settings();
    s.accept_status_uri = true;
    let who = login(&userinfo, &s).unwrap();
    assert_eq!(
        who.revocation_uri(),
        Some("https://dezi.example/status/v1/verklaring/vk-1")
    );
}

#[test]
fn a_role_outside_the_eligible_ones_is_refused() {
    let mut claims = verklaring_claims();
    claims["rol_code"] = json!("01.000");
    let who = login(
        &encrypt(
            &envelope_with(&envelope_claims(&verklaring(&claims))),
            &PORTAL,
        ),
        &settings(),
    )
    .unwrap();
    assert_eq!(
        who.require_role(&zvp_core::RoleCode::PRIMARY_CARE_PHYSICIANS),
        Err(DeziError::RoleNotEligible {
            role: "01.000".parse().unwrap()
        })
    );
}

#[test]
fn the_status_endpoint_answers() {
    assert_eq!(
        status_answer(200, br#"{"verklaringId":"vk-1","status":"actief"}"#, "vk-1"),
        Ok(())
    );
    let revoked = Err(DeziError::Revoked {
        verklaring_id: "vk-1".to_owned(),
    });
    assert_eq!(
        status_answer(
            200,
            br#"{"verklaringId":"vk-1","status":"ingetrokken"}"#,
            "vk-1"
        ),
        revoked
    );
    assert_eq!(
        status_answer(404, br#"{"type":"about:blank","status":404}"#, "vk-1"),
        revoked
    );
    assert!(matches!(
        status_answer(200, br#"{"verklaringId":"vk-2","status":"actief"}"#, "vk-1"),
        Err(DeziError::PlatformAnswer { .. })
    ));
    assert!(matches!(
        status_answer(503, b"", "vk-1"),
        Err(DeziError::PlatformAnswer { .. })
    ));
}

#[test]
fn the_signed_revocation_list_is_verified_and_read() {
    let s = settings();
    let refresh = now() + Duration::hours(1);
    let list = sign(
        &PLATFORM,
        "platform-1",
        None,
        &json!({"revocaties": [{"verklaringId": "vk-9", "revocatieTijdstip": "2026-02-01T00:00:00Z"}],
                "ververs_tijdstip": refresh.to_rfc3339()}),
    );
    assert_eq!(revocation_list_key(&list, &s), Ok(KeySource::Platform));
    let read = verify_revocation_list(&list, &platform_keys(), &s).unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read.check("vk-1", now(), Duration::zero()), Ok(()));
    assert_eq!(
        read.check("vk-9", now(), Duration::zero()),
        Err(DeziError::Revoked {
            verklaring_id: "vk-9".to_owned()
        })
    );
    assert_eq!(
        read.check("vk-1", refresh + Duration::seconds(1), Duration::zero()),
        Err(DeziError::RevocationListStale {
            refresh_at: refresh
        })
    );
    let forged = sign(
        &STRANGER,
        "platform-1",
        None,
        &json!({"revocaties": [], "ververs_tijdstip": 0}),
    );
    assert_eq!(
        verify_revocation_list(&forged, &platform_keys(), &s),
        Err(DeziError::BadSignature {
            token: Token::RevocationList
        })
    );
}

#[test]
fn pkce_and_the_authorize_url() {
    // RFC 7636, appendix B.
    assert_eq!(
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    let login = LoginRequest::new().unwrap();
    assert_ne!(login.state, login.nonce);
    let url = login.authorize_url(
        "https://dezi.example/auth",
        CLIENT,
        "https://portaal.example/dezi/callback",
    );
    assert!(url.starts_with("https://dezi.example/auth?response_type=code&scope=openid&client_id=zvp-portal&redirect_uri=https%3A%2F%2Fportaal.example%2Fdezi%2Fcallback&state="));
    assert!(url.ends_with(&format!(
        "&code_challenge={}&code_challenge_method=S256",
        pkce_challenge(&login.code_verifier)
    )));
}

#[test]
fn a_decryption_key_that_is_not_rsa_pkcs8_is_refused() {
    assert_eq!(
        DecryptionKey::from_pkcs8_der(b"not a key").unwrap_err(),
        DecryptionKeyError::NotRsaPkcs8
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the platform sends as userinfo, the answer is an error or the envelope,
    /// never a panic.
    #[test]
    fn any_userinfo_is_an_error_not_a_panic(body in "[A-Za-z0-9_.\\-]{0,600}") {
        let mut s = settings();
        s.accept_signed_userinfo = true;
        let key = portal_key();
        if let Ok(envelope) = open_userinfo(&body, Some(&key), &s) {
            prop_assert!(validate_envelope(&envelope, &platform_keys(), &s, now()).is_err());
        }
    }

    /// Any single changed character of a valid userinfo JWE is refused.
    #[test]
    fn a_changed_character_of_the_jwe_is_refused(index in 0usize..2000, replacement in "[A-Za-z0-9_\\-.]") {
        let good = good_userinfo();
        let index = index % good.len();
        let mut changed = good.clone();
        changed.replace_range(index..=index, &replacement);
        prop_assume!(changed != good);
        let key = portal_key();
        // Base64url's last character may carry unused bits; such a change still decodes to
        // the same bytes and is the same token.
        if let Ok(envelope) = open_userinfo(&changed, Some(&key), &settings()) {
            let original = open_userinfo(&good, Some(&key), &settings()).unwrap();
            prop_assert_eq!(envelope, original);
        }
    }

    /// Any single changed character of a signed id_token is refused.
    #[test]
    fn a_changed_character_of_the_id_token_is_refused(index in 0usize..2000, replacement in "[A-Za-z0-9_\\-]") {
        let good = sign(&PLATFORM, "platform-1", None, &id_claims());
        let index = index % good.len();
        prop_assume!(good.as_bytes()[index] != b'.');
        let mut changed = good.clone();
        changed.replace_range(index..=index, &replacement);
        prop_assume!(changed != good);
        let result = validate_id_token(&changed, &platform_keys(), &settings(), Some("n-1"), now());
        if let Ok(id) = result {
            // Only a change in unused trailing bits of base64url can leave it valid.
            prop_assert_eq!(id.subject, "pairwise-abc");
        }
    }
}
