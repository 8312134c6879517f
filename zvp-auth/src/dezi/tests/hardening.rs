//! The refusals and limits added after the security review: the revocation list's size, key
//! and issuer, time arithmetic at the ends of the calendar, key entries meant for something
//! else, repeated revocations, and the checks that had no test yet.

use super::*;

fn list_claims(entries: &Value) -> Value {
    json!({"iss": ISSUER, "revocaties": entries,
           "ververs_tijdstip": (now() + Duration::hours(1)).to_rfc3339()})
}

fn platform_list(claims: &Value) -> String {
    sign(&PLATFORM, "platform-1", None, claims)
}

#[test]
fn a_revocation_list_larger_than_a_token_is_read() {
    // Finding 3: thousands of entries, well over the 64 KiB a login token may have.
    let entries: Vec<Value> = (0..3000)
        .map(|i| json!({"verklaringId": format!("vk-{i:08}"), "revocatieTijdstip": "2026-02-01T00:00:00Z"}))
        .collect();
    let list = platform_list(&list_claims(&json!(entries)));
    assert!(list.len() > jws::MAX_TOKEN_BYTES);
    let read = verify_revocation_list(&list, &platform_keys(), &settings()).unwrap();
    assert_eq!(read.len(), 3000);
}

#[test]
fn a_revocation_list_must_name_the_platform_as_issuer() {
    // Finding 4: `iss` is required, not checked only when present.
    let mut claims = list_claims(&json!([]));
    claims.as_object_mut().unwrap().remove("iss");
    assert_eq!(
        verify_revocation_list(&platform_list(&claims), &platform_keys(), &settings()),
        Err(DeziError::MissingClaim {
            token: Token::RevocationList,
            claim: "iss"
        })
    );
    claims["iss"] = json!(ABONNEE);
    assert_eq!(
        verify_revocation_list(&platform_list(&claims), &platform_keys(), &settings()),
        Err(DeziError::IssuerMismatch {
            token: Token::RevocationList,
            found: ABONNEE.to_owned()
        })
    );
}

#[test]
fn a_revocation_list_signed_with_an_eseal_key_is_refused() {
    // Finding 4: an allow-listed jku does not make the eSeal keys sign the list; only the
    // platform's keys are used, and they do not know the eSeal's kid.
    let list = sign(&ESEAL, "eseal-1", Some(JKU), &list_claims(&json!([])));
    assert_eq!(
        verify_revocation_list(&list, &platform_keys(), &settings()),
        Err(DeziError::UnknownKey {
            token: Token::RevocationList,
            kid: Some("eseal-1".to_owned())
        })
    );
}

#[test]
fn times_at_the_ends_of_the_calendar_are_errors_not_panics() {
    // Finding 5: `exp + skew` and `nbf - skew` overflow chrono's range.
    let mut far = id_claims();
    far["exp"] = json!(DateTime::<Utc>::MAX_UTC.timestamp());
    assert_eq!(
        validate_id_token(
            &sign(&PLATFORM, "platform-1", None, &far),
            &platform_keys(),
            &settings(),
            Some("n-1"),
            now()
        ),
        Err(DeziError::InvalidClaim {
            token: Token::IdToken,
            claim: "exp",
            detail: "out of the range of dates".to_owned()
        })
    );
    let mut early = id_claims();
    early["nbf"] = json!(DateTime::<Utc>::MIN_UTC.timestamp());
    assert_eq!(
        validate_id_token(
            &sign(&PLATFORM, "platform-1", None, &early),
            &platform_keys(),
            &settings(),
            Some("n-1"),
            now()
        ),
        Err(DeziError::InvalidClaim {
            token: Token::IdToken,
            claim: "nbf",
            detail: "out of the range of dates".to_owned()
        })
    );
    // `ververs_tijdstip + grace` likewise.
    let list = verify_revocation_list(
        &platform_list(&list_claims(&json!([]))),
        &platform_keys(),
        &settings(),
    )
    .unwrap();
    assert_eq!(
        list.check("vk-1", now(), Duration::days(1_000_000_000)),
        Err(DeziError::InvalidClaim {
            token: Token::RevocationList,
            claim: "ververs_tijdstip",
            detail: "out of the range of dates".to_owned()
        })
    );
}

fn keys_with(extra: &Value) -> JwkSet {
    let mut key = json!({"kty": "RSA", "kid": "platform-1", "n": PLATFORM.n, "e": PLATFORM.e});
    for (k, v) in extra.as_object().unwrap() {
        key[k] = v.clone();
    }
    serde_json::from_value(json!({"keys": [key]})).unwrap()
}

#[test]
fn a_key_meant_for_another_algorithm_or_operation_does_not_verify() {
    // Finding 7: the key's `alg` and `key_ops` count, not only `use`.
    let token = sign(&PLATFORM, "platform-1", None, &id_claims());
    let unknown = Err(DeziError::UnknownKey {
        token: Token::IdToken,
        kid: Some("platform-1".to_owned()),
    });
    for extra in [
        json!({"alg": "RSA-OAEP"}),
        json!({"alg": "PS256"}),
        json!({"key_ops": ["encrypt", "wrapKey"]}),
    ] {
        let keys = keys_with(&extra);
        assert_eq!(
            validate_id_token(&token, &keys, &settings(), Some("n-1"), now()).map(|_| ()),
            unknown,
            "{extra}"
        );
    }
    for extra in [json!({}), json!({"alg": "RS256", "key_ops": ["verify"]})] {
        let keys = keys_with(&extra);
        assert!(validate_id_token(&token, &keys, &settings(), Some("n-1"), now()).is_ok());
    }
}

#[test]
fn a_repeated_revocation_keeps_the_earliest_time() {
    // Finding 8: a later duplicate with a future time must not postpone a revocation.
    let list = platform_list(&list_claims(&json!([
        {"verklaringId": "vk-9", "revocatieTijdstip": "2026-02-01T00:00:00Z"},
        {"verklaringId": "vk-9", "revocatieTijdstip": "2027-02-01T00:00:00Z"},
    ])));
    let read = verify_revocation_list(&list, &platform_keys(), &settings()).unwrap();
    assert_eq!(
        read.check("vk-9", now(), Duration::zero()),
        Err(DeziError::Revoked {
            verklaring_id: "vk-9".to_owned()
        })
    );
}

fn id_token(claims: &Value, nonce: Option<&str>) -> Result<IdToken, DeziError> {
    validate_id_token(
        &sign(&PLATFORM, "platform-1", None, claims),
        &platform_keys(),
        &settings(),
        nonce,
        now(),
    )
}

#[test]
fn the_id_tokens_audience_azp_and_nonce() {
    let mut azp = id_claims();
    azp["azp"] = json!("another-client");
    assert_eq!(
        id_token(&azp, Some("n-1")),
        Err(DeziError::AudienceMismatch {
            token: Token::IdToken,
            found: "another-client".to_owned()
        })
    );
    let mut no_nonce = id_claims();
    no_nonce.as_object_mut().unwrap().remove("nonce");
    assert_eq!(
        id_token(&no_nonce, Some("n-1")),
        Err(DeziError::NonceMismatch)
    );
    let mut array = id_claims();
    array["aud"] = json!([CLIENT]);
    assert!(id_token(&array, Some("n-1")).is_ok());
    array["aud"] = json!(["other", CLIENT]);
    array["azp"] = json!(CLIENT);
    assert!(id_token(&array, Some("n-1")).is_ok());
}

#[test]
fn the_envelopes_issuer_and_expiry_and_the_verklarings_issuer() {
    let s = settings();
    let vk = verklaring(&verklaring_claims());
    let mut iss = envelope_claims(&vk);
    iss["iss"] = json!(ABONNEE);
    assert_eq!(
        validate_envelope(&envelope_with(&iss), &platform_keys(), &s, now()),
        Err(DeziError::IssuerMismatch {
            token: Token::Envelope,
            found: ABONNEE.to_owned()
        })
    );
    let mut exp = envelope_claims(&vk);
    let at = now() - Duration::minutes(5);
    exp["exp"] = json!(ts(at));
    assert_eq!(
        validate_envelope(&envelope_with(&exp), &platform_keys(), &s, now()),
        Err(DeziError::Expired {
            token: Token::Envelope,
            exp: at
        })
    );
    let mut claims = verklaring_claims();
    claims["iss"] = json!(ISSUER);
    let userinfo = encrypt(
        &envelope_with(&envelope_claims(&verklaring(&claims))),
        &PORTAL,
    );
    assert_eq!(
        login(&userinfo, &s),
        Err(DeziError::IssuerMismatch {
            token: Token::Verklaring,
            found: ISSUER.to_owned()
        })
    );
}

#[test]
fn other_key_transports_are_refused() {
    let envelope = envelope_with(&envelope_claims(&verklaring(&verklaring_claims())));
    for alg in ["RSA1_5", "RSA-OAEP-256", "dir"] {
        let jwe = encrypt_with(
            &envelope,
            &PORTAL,
            &json!({"alg": alg, "enc": "A256CBC-HS512", "cty": "JWT"}),
        );
        assert_eq!(
            open_userinfo(&jwe, Some(&portal_key()), &settings()),
            Err(DeziError::AlgorithmNotAccepted {
                token: Token::Userinfo,
                alg: alg.to_owned()
            })
        );
    }
}

#[test]
fn a_jku_must_equal_an_allowed_one_exactly() {
    for jku in [
        format!("{JKU}/"),
        format!("{JKU}?x"),
        JKU.to_uppercase(),
        JKU.replace("dezi.example", "DEZI.example"),
    ] {
        let token = sign(&ESEAL, "eseal-1", Some(&jku), &verklaring_claims());
        assert_eq!(
            verklaring_key_url(&token, &settings()),
            Err(DeziError::JkuNotAllowed { jku })
        );
    }
}

#[test]
fn a_status_answer_without_its_verklaring_id_is_refused() {
    assert_eq!(
        status_answer(200, br#"{"status":"actief"}"#, "vk-1"),
        Err(DeziError::PlatformAnswer {
            detail: "the status answer is about another verklaring".to_owned()
        })
    );
}
