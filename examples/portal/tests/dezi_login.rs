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

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use zvp_auth::dezi::{DeziError, DeziSettings, LoginRequest, Token};
use zvp_core::RoleCode;
use zvp_portal::dezi::{Connection, DeziClient};

use common::dezi::{ACCEPTANCE_CLIENT, CLIENT, Dezi, ELIGIBLE, Files, REDIRECT, setup};

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
