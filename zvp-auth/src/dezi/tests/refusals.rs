//! Each refusal of a token of the login, with its exact error.

use super::*;

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
    // The same error as a key transport that does not open (RFC 7516 §11.5): which of the
    // two failed is no oracle.
    assert_eq!(
        login(&parts.join("."), &s),
        Err(DeziError::NotForThisPortal)
    );
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
fn a_role_outside_the_eligible_ones_is_refused_by_the_login() {
    let mut claims = verklaring_claims();
    claims["rol_code"] = json!("01.000");
    assert_eq!(
        login(
            &encrypt(
                &envelope_with(&envelope_claims(&verklaring(&claims))),
                &PORTAL,
            ),
            &settings(),
        ),
        Err(DeziError::RoleNotEligible {
            role: "01.000".parse().unwrap()
        })
    );
}

#[test]
fn the_verklaring_is_checked_with_the_keys_of_its_own_jku() {
    // Another allowed jku's keys, even ones that verify the signature, are not its keys.
    let mut s = settings();
    let other = "https://dezi.example/other-eseal/jwks.json";
    s.jku_allow_list.push(other.to_owned());
    let id = IdToken {
        subject: "pairwise-abc".to_owned(),
    };
    let envelope = validate_envelope(
        &envelope_with(&envelope_claims(&verklaring(&verklaring_claims()))),
        &platform_keys(),
        &s,
        now(),
    )
    .unwrap();
    assert_eq!(
        validate_verklaring(
            &envelope,
            (other, &eseal_keys()),
            &id,
            &zvp_core::RoleCode::PRIMARY_CARE_PHYSICIANS,
            &s,
            now()
        ),
        Err(DeziError::JkuKeysMismatch {
            jku: JKU.to_owned(),
            keys_from: other.to_owned()
        })
    );
}
