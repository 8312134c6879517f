//! Revocation, PKCE, the decryption key, and the property tests.

use super::*;

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
        &json!({"iss": ISSUER, "revocaties": [{"verklaringId": "vk-9", "revocatieTijdstip": "2026-02-01T00:00:00Z"}],
                "ververs_tijdstip": refresh.to_rfc3339()}),
    );
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
        &json!({"iss": ISSUER, "revocaties": [], "ververs_tijdstip": 0}),
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

#[test]
fn a_key_set_with_a_key_of_an_unknown_kind_still_gives_its_rsa_keys() {
    let mut set = serde_json::to_value(platform_keys()).unwrap();
    set["keys"].as_array_mut().unwrap().insert(
        0,
        json!({"kty": "PQC", "kid": "future-1", "alg": "ML-DSA-65", "pub": "AAAA"}),
    );
    let keys = jws::parse_jwks(set.to_string().as_bytes()).unwrap();
    assert_eq!(keys.keys.len(), 1);
    let token = sign(&PLATFORM, "platform-1", None, &id_claims());
    assert!(validate_id_token(&token, &keys, &settings(), Some("n-1"), now()).is_ok());
    assert!(jws::parse_jwks(b"{\"sleutels\": []}").is_err());
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
        // Even a change in the unused trailing bits of a base64url part is refused: the
        // decoder accepts only the canonical encoding.
        prop_assert!(open_userinfo(&changed, Some(&key), &settings()).is_err());
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
        // Unused trailing bits of base64url included: only the canonical encoding decodes.
        prop_assert!(
            validate_id_token(&changed, &platform_keys(), &settings(), Some("n-1"), now()).is_err()
        );
    }
}
