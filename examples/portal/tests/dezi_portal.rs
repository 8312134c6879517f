//! Dezi login in the portal, against the Dezi stand-in (panva's oidc-provider and jose,
//! `peers/dezi-provider.mjs`): the browser's way from `/dezi/inloggen` through the platform to
//! the callback and the start page, the one link of a Dezi number to a UZI-pas account, the
//! same patients by either means, the refusals' pages and records, revocation during a
//! session, and the logout.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use axum::body::Body;
use axum::http::{Request, header};
use common::dezi_rig::{Jar, Rig, callback, patients, set_cookie};
use common::{TestPortal, Who};
use serde_json::json;
use zvp_audit::event::{EventType, Outcome};
use zvp_auth::directory::DirectoryStore as _;

#[tokio::test]
async fn a_gp_links_dezi_once_with_the_card_and_then_sees_the_same_patients_without_it() {
    let rig = Rig::new("dezi-portal-link").await;
    let by_card = rig.t.get(Some(Who::Own), "/").await;
    assert_eq!(by_card.status, 200);
    let own = patients(&by_card.body);
    assert!(!own.is_empty());

    // Mijn account says how to link.
    let account = rig.t.get(Some(Who::Own), "/account").await;
    assert_eq!(account.status, 200, "{}", account.body);
    assert!(
        account.body.contains("href=\"/dezi/inloggen\""),
        "{}",
        account.body
    );

    // Not linked yet, and no card: refused, with the way to link.
    let (unlinked, jar) = rig.login("huisarts", None).await;
    assert_eq!(unlinked.status, 403);
    assert!(
        unlinked.body.contains("dezi-not-linked"),
        "{}",
        unlinked.body
    );
    assert!(jar.session.is_none() && jar.login.is_none());

    // A colleague's Dezi login with this GP's card in the reader links nothing.
    let (colleague, _) = rig.login("collega", Some(Who::Own)).await;
    assert_eq!(colleague.status, 403);
    assert!(
        colleague.body.contains("dezi-name-differs"),
        "{}",
        colleague.body
    );
    assert_eq!(rig.t.directory.dezi_of(Who::Own.uzi()).await.unwrap(), None);

    // With the card in the reader: linked, logged in, and the link recorded.
    let (linked, jar) = rig.login("huisarts", Some(Who::Own)).await;
    assert_eq!(linked.status, 200, "{}", linked.body);
    assert!(linked.body.contains("U bent ingelogd met Dezi"));
    assert!(jar.session.is_some() && jar.login.is_some());
    let dezi_number = "900000111".parse().unwrap();
    assert_eq!(
        rig.t.directory.dezi_account(&dezi_number).await.unwrap(),
        Some(Who::Own.uzi())
    );

    let account = rig.t.get(Some(Who::Own), "/account").await;
    assert!(
        account.body.contains("<strong>900000111</strong>"),
        "{}",
        account.body
    );
    assert!(!account.body.contains("href=\"/dezi/inloggen\""));
    // The card still in the reader: the Dezi session goes on as one.
    let with_card = rig.get(Some(Who::Own), &jar, "/").await;
    assert_eq!(with_card.status, 200, "{}", with_card.body);
    assert_eq!(patients(&with_card.body), own);
    // Without the card, the same patients.
    let by_dezi = rig.get(None, &jar, "/").await;
    assert_eq!(by_dezi.status, 200, "{}", by_dezi.body);
    assert_eq!(patients(&by_dezi.body), own);

    // Linked now: a later Dezi login needs no card.
    let (again, jar_again) = rig.login("huisarts", None).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(patients(&rig.get(None, &jar_again, "/").await.body), own);

    // The account takes no second Dezi number.
    let (second, _) = rig.login("huisarts-2", Some(Who::Own)).await;
    assert_eq!(second.status, 403);
    assert!(
        second.body.contains("dezi-linked-elsewhere"),
        "{}",
        second.body
    );

    let events = rig.events().await;
    let link: Vec<_> = events
        .iter()
        .filter(|e| e.change.as_ref().is_some_and(|c| c.field == "dezi_number"))
        .collect();
    assert_eq!(link.len(), 1);
    assert_eq!(link[0].user_uzi(), Some(Who::Own.uzi()));
    assert_eq!(
        link[0].change.as_ref().unwrap().new.as_deref(),
        Some("900000111")
    );
    // The logins name the means: the Dezi number and verklaring, no certificate.
    let logins: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == EventType::Login && e.outcome == Outcome::Success)
        .filter_map(|e| e.access_point.dezi.as_ref().map(|d| (e, d)))
        .collect();
    assert_eq!(logins.len(), 2);
    for (event, dezi) in &logins {
        assert_eq!(dezi.dezi_number, "900000111");
        assert!(dezi.verklaring_id.starts_with("vk-"));
        assert_eq!(event.access_point.certificate_sha256, None);
        assert_eq!(event.user_uzi(), Some(Who::Own.uzi()));
    }
    // What the start page disclosed under Dezi is recorded with it.
    assert!(events.iter().any(|e| {
        e.event_type == EventType::PatientRecord
            && e.access_point.dezi.is_some()
            && e.access_point.certificate_sha256.is_none()
    }));
    let refused = rig.denied_logins().await;
    assert_eq!(
        refused,
        [
            "dezi-not-linked",
            "dezi-name-differs",
            "dezi-linked-elsewhere"
        ]
    );
}

#[tokio::test]
async fn refusals_at_the_callback_get_their_page_code_and_record() {
    let rig = Rig::new("dezi-portal-refusals").await;
    // A role the policy does not admit.
    let (aios, jar) = rig.login("aios", None).await;
    assert_eq!(aios.status, 403);
    assert!(aios.body.contains("Inloggen met Dezi is niet gelukt"));
    assert!(aios.body.contains("role-not-eligible"), "{}", aios.body);
    assert!(jar.session.is_none());
    // A callback this browser did not start.
    let foreign = rig.t.get(None, "/dezi/callback?state=abc&code=def").await;
    assert_eq!(foreign.status, 403);
    assert!(foreign.body.contains("state-mismatch"), "{}", foreign.body);
    // The platform sent back an error instead of a code.
    let (pending, _) = rig.start().await;
    let denied = callback(&rig.t, None, &pending, "error=access_denied&state=abc").await;
    assert_eq!(denied.status, 403);
    assert!(
        denied.body.contains("authorization-denied"),
        "{}",
        denied.body
    );
    let reasons = rig.denied_logins().await;
    assert_eq!(
        reasons,
        ["role-not-eligible", "authorization-denied"],
        "the callback this browser did not start is not recorded: anyone can ask that URL"
    );
}

#[tokio::test]
async fn a_verklaring_revoked_during_the_session_ends_it() {
    let rig = Rig::new("dezi-portal-revoked").await;
    let (linked, jar) = rig.login("huisarts", Some(Who::Own)).await;
    assert_eq!(linked.status, 200, "{}", linked.body);
    assert_eq!(rig.get(None, &jar, "/").await.status, 200);
    let verklaring = rig.dezi.last_verklaring();
    rig.dezi.revoke(&verklaring);
    // Until the portal has the new list, the session goes on; with it, it ends.
    assert_eq!(rig.get(None, &jar, "/").await.status, 200);
    rig.service.refresh_round(&rig.t.portal).await;
    let ended = rig.get(None, &jar, "/").await;
    assert_eq!(ended.status, 403, "{}", ended.body);
    assert!(ended.body.contains("Inloggen met Dezi is niet gelukt"));
    assert!(patients(&ended.body).is_empty());
    assert_eq!(set_cookie(&ended, "__Host-zvp").as_deref(), Some(""));
    assert_eq!(set_cookie(&ended, "__Host-zvp-dezi").as_deref(), Some(""));
    let end = rig
        .events()
        .await
        .into_iter()
        .find(|e| e.reason.as_deref() == Some("session-dezi-revoked"))
        .expect("the session's end is recorded");
    assert_eq!(end.event_type, EventType::Logout);
    assert_eq!(end.access_point.dezi.unwrap().verklaring_id, verklaring);
    // The session is gone: the same cookies open nothing.
    let after = rig.get(None, &jar, "/").await;
    assert_eq!(after.status, 403);
    assert!(patients(&after.body).is_empty());
}

#[tokio::test]
async fn the_logout_ends_the_dezi_session_and_a_login_opens_only_its_own_session() {
    let rig = Rig::new("dezi-portal-logout").await;
    // Without a card the way in offers Dezi.
    let none = rig.t.get(None, "/").await;
    assert_eq!(none.status, 403);
    assert!(none.body.contains("Plaats uw UZI-pas") && none.body.contains("/dezi/inloggen"));

    let (_, jar) = rig.login("huisarts", Some(Who::Own)).await;
    let start = rig.get(None, &jar, "/").await;
    assert_eq!(start.status, 200);
    // The login is good in its own session only: with another session's cookie (the card's
    // session of the same GP) it opens nothing.
    let card = rig.t.get(Some(Who::Own), "/").await;
    let mixed = Jar {
        session: card.cookie.clone(),
        login: jar.login.clone(),
    };
    let refused = rig.get(None, &mixed, "/").await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("Plaats uw UZI-pas"));
    assert!(patients(&refused.body).is_empty());

    let csrf = start.csrf().unwrap();
    let logout = Request::post("/afmelden")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, jar.header())
        .body(Body::from(format!("csrf={csrf}")))
        .unwrap();
    let out = rig.t.send(None, logout).await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(out.body.contains("U heeft zich afgemeld"));
    assert_eq!(set_cookie(&out, "__Host-zvp-dezi").as_deref(), Some(""));
    let after = rig.get(None, &jar, "/").await;
    assert!(patients(&after.body).is_empty());
    assert!(!after.body.contains("Mijn patiënten"), "{}", after.body);
}

#[tokio::test]
async fn a_portal_without_dezi_offers_and_answers_none_of_it() {
    let t = TestPortal::new().await;
    let none = t.get(None, "/").await;
    assert_eq!(none.status, 403);
    assert!(none.body.contains("Plaats uw UZI-pas"));
    assert!(!none.body.contains("/dezi/inloggen"));
    assert_eq!(t.get(None, "/dezi/inloggen").await.status, 404);
    assert_eq!(
        t.get(None, "/dezi/callback?state=a&code=b").await.status,
        404
    );
}

#[tokio::test]
async fn every_refusal_of_a_login_gets_its_page_and_record() {
    let rig = Rig::new("dezi-portal-faults").await;
    rig.dezi.revoke("vk-revoked");
    let cases = [
        (
            json!({"id_token": {"aud": "someone-else"}}),
            "id-token-audience-mismatch",
        ),
        (
            json!({"id_token": {"exp_offset": -600}}),
            "id-token-expired",
        ),
        (
            json!({"id_token": {"kid": "rotated-away"}}),
            "id-token-unknown-key",
        ),
        (
            json!({"id_token": {"alg": "none"}}),
            "id-token-algorithm-not-accepted",
        ),
        (
            json!({"id_token": {"alg": "HS256"}}),
            "id-token-algorithm-not-accepted",
        ),
        (
            json!({"userinfo": {"to_stranger": true}}),
            "jwe-not-for-this-portal",
        ),
        (
            json!({"userinfo": {"aud": "another-application"}}),
            "envelope-audience-mismatch",
        ),
        (
            json!({"envelope_verklaring_id": "vk-elsewhere", "verklaring": {"verklaring_id": "vk-here"}}),
            "verklaring-id-mismatch",
        ),
        (
            json!({"verklaring": {"jku": "https://127.0.0.1:9/jwks.json"}}),
            "jku-not-allowed",
        ),
        (
            json!({"verklaring": {"exp_offset": -3600, "nbf_offset": -7200}}),
            "verklaring-expired",
        ),
        (
            json!({"verklaring": {"nbf_offset": 3600}}),
            "verklaring-not-yet-valid",
        ),
        (
            json!({"envelope_verklaring_id": "vk-revoked", "verklaring": {"verklaring_id": "vk-revoked"}}),
            "verklaring-revoked",
        ),
    ];
    for (fault, code) in &cases {
        rig.dezi.fault(fault);
        let (reply, jar) = rig.login("huisarts", Some(Who::Own)).await;
        assert_eq!(reply.status, 403, "{code}: {}", reply.body);
        assert!(
            reply.body.contains("Inloggen met Dezi is niet gelukt"),
            "{code}"
        );
        assert!(
            reply.body.contains(&format!("<dd>{code}</dd>")),
            "{code}: {}",
            reply.body
        );
        assert!(jar.session.is_none() && jar.login.is_none(), "{code}");
    }
    // The revoked verklaring's page says what to do about it.
    rig.dezi.fault(&cases[cases.len() - 1].0);
    let (revoked, _) = rig.login("huisarts", None).await;
    let advice = zvp_auth::dezi::DeziError::Revoked {
        verklaring_id: "vk-revoked".to_owned(),
    }
    .advice_nl();
    assert!(revoked.body.contains(advice), "{}", revoked.body);
    // None of them linked the card's account, and each is a denied login in the audit log.
    assert_eq!(rig.t.directory.dezi_of(Who::Own.uzi()).await.unwrap(), None);
    let denied = rig.denied_logins().await;
    let mut expected: Vec<String> = cases.iter().map(|(_, c)| (*c).to_owned()).collect();
    expected.push("verklaring-revoked".to_owned());
    assert_eq!(denied, expected);

    // The platform gone between the browser's visit and the callback: an outage, 503.
    rig.dezi.fault(&json!({}));
    let (pending, location) = rig.start().await;
    let (state, code) = rig.dezi.browser(&location, "huisarts");
    let Rig { t, dezi, .. } = rig;
    drop(dezi);
    let query = format!(
        "state={}&code={}",
        common::encode(&state),
        common::encode(&code)
    );
    let gone = callback(&t, None, &pending, &query).await;
    assert_eq!(gone.status, 503, "{}", gone.body);
    assert!(
        gone.body.contains("<dd>platform-unreachable</dd>"),
        "{}",
        gone.body
    );
}
