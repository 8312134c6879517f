//! A GP without a UZI-pas requests an account with a Dezi login, against the Dezi stand-in
//! (`peers/dezi-provider.mjs`): the form filled in from the verklaring, the personal AGB code
//! it asks, the Dezi number linked to the requested account, and the login once approved.

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
use common::dezi_rig::{Rig, set_cookie};
use zvp_auth::directory::DirectoryStore as _;

#[tokio::test]
async fn a_gp_without_a_card_requests_an_account_with_dezi() {
    let rig = Rig::new("dezi-portal-request").await;
    let (unlinked, _) = rig.login("huisarts-2", None).await;
    assert_eq!(unlinked.status, 403);
    assert!(
        unlinked.body.contains("Account aanvragen met Dezi"),
        "{}",
        unlinked.body
    );
    let sealed = set_cookie(&unlinked, "__Host-zvp-dezi-aanvraag").expect("the request's cookie");
    let cookie = format!("__Host-zvp-dezi-aanvraag={sealed}");
    // Without the login's cookie there is no form.
    assert_eq!(rig.t.get(None, "/dezi/account").await.status, 404);
    let form = rig
        .t
        .send(
            None,
            Request::get("/dezi/account")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("900000222") && form.body.contains("name=\"agb\""));
    let csrf = form.csrf().unwrap();
    let post = |fields: String| {
        Request::post("/dezi/account")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, &cookie)
            .body(Body::from(format!("csrf={csrf}&{fields}")))
            .unwrap()
    };
    let contact = "praktijk=Praktijk%20Oost&email=gp%40oost.example&telefoon=010%201234567";
    // A personal AGB code is required (a verklaring carries none); the form keeps the rest.
    let wrong = rig.t.send(None, post(format!("agb=123&{contact}"))).await;
    assert_eq!(wrong.status, 200);
    assert!(
        wrong
            .body
            .contains("Uw persoonlijke AGB-code heeft 8 cijfers.")
    );
    assert!(
        wrong.body.contains("value=\"Praktijk Oost\""),
        "{}",
        wrong.body
    );
    let filed = rig
        .t
        .send(None, post(format!("agb=01040999&{contact}")))
        .await;
    assert!(filed.body.contains("Aanvraag ontvangen"), "{}", filed.body);
    let uzi: zvp_core::UziNumber = "900000222".parse().unwrap();
    let account = rig.t.directory.account(uzi).await.unwrap().unwrap();
    assert_eq!(
        account.status,
        zvp_auth::directory::AccountStatus::Requested
    );
    assert_eq!(account.agb, zvp_core::AgbCode::new(1_040_999));
    assert_eq!(account.role, zvp_core::RoleCode::GENERAL_PRACTITIONER);
    assert_eq!(
        rig.t
            .directory
            .dezi_account(&"900000222".parse().unwrap())
            .await
            .unwrap(),
        Some(uzi)
    );
    // Until an administrator approves it, the login says so; then it enters (terms first).
    let (pending, jar) = rig.login("huisarts-2", None).await;
    assert_eq!(pending.status, 403);
    assert!(pending.body.contains("account-pending"), "{}", pending.body);
    assert!(jar.session.is_none());
    rig.t
        .directory
        .set_status(uzi, zvp_auth::directory::AccountStatus::Active)
        .await
        .unwrap();
    let (entered, jar) = rig.login("huisarts-2", None).await;
    assert_eq!(entered.status, 200, "{}", entered.body);
    let start = rig.get(None, &jar, "/").await;
    assert_eq!(start.status, 303);
    assert_eq!(start.location(), Some("/voorwaarden"));
}
