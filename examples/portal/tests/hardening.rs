//! The findings of the security test (issue 21), each as an attack on the portal: a card
//! without an account flooding the sessions, an emergency reason of 15,000 characters,
//! patient ids probed for existence, a POST from a foreign origin, and the logout.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, header};
use common::{Reply, TestPortal, Who};
use zvp_audit::log::AuditLog as _;
use zvp_auth::directory::DirectoryStore as _;
use zvp_auth::testpki::CardSpec;
use zvp_core::RoleCode;
use zvp_portal::ClientCertificate;

/// A GET with a session cookie.
fn get_with_cookie(path: &str, cookie: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, format!("__Host-zvp={cookie}"))
        .body(Body::empty())
        .unwrap()
}

/// A form POST with a session cookie (if any) and extra headers.
fn post(path: &str, cookie: Option<&str>, body: String, extra: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::HOST, "portaal.ziekenhuis.example");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, format!("__Host-zvp={cookie}"));
    }
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.body(Body::from(body)).unwrap()
}

/// A logged-in session of `who`: its cookie and CSRF token.
async fn login(t: &TestPortal, who: Who) -> (String, String) {
    let first = t.get(Some(who), "/zoeken").await;
    assert_eq!(first.status, 200);
    (first.cookie.clone().unwrap(), first.csrf().unwrap())
}

/// A card whose UZI number has no account.
fn card_without_account() -> ClientCertificate {
    let spec = CardSpec::care_provider(
        common::uzi(900_000_199),
        RoleCode::GENERAL_PRACTITIONER,
        common::now(),
    );
    let card = common::pki().issue_card(&spec).unwrap().authentication;
    ClientCertificate(Arc::new(card.chain()))
}

async fn as_card(t: &TestPortal, card: &ClientCertificate, mut request: Request<Body>) -> Reply {
    request.extensions_mut().insert(card.clone());
    t.send(None, request).await
}

/// The account request form, as `card` gets it.
async fn request_form(t: &TestPortal, card: &ClientCertificate) -> Reply {
    let request = Request::get("/account/aanvragen")
        .body(Body::empty())
        .unwrap();
    as_card(t, card, request).await
}

/// The number of open sessions, from `/metrics`.
async fn sessions(t: &TestPortal) -> u64 {
    let (_, metrics) = t.admin("/metrics").await;
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("zvp_sessions "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_card_without_account_stores_no_session_and_other_gps_stay_logged_in() {
    let t = TestPortal::new().await;
    let (own, _) = login(&t, Who::Own).await;
    let (other, _) = login(&t, Who::Other).await;
    assert_eq!(sessions(&t).await, 2);
    let card = card_without_account();
    for _ in 0..300 {
        let reply = as_card(&t, &card, Request::get("/").body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, 403);
        assert!(reply.body.contains("U heeft nog geen account"));
        assert_eq!(reply.cookie, None);
    }
    // The same GP without a cookie, over and over: at most a few sessions of theirs are kept.
    for _ in 0..300 {
        let reply = t.get(Some(Who::Delegated), "/").await;
        assert_eq!(reply.status, 200);
    }
    assert!(sessions(&t).await <= 2 + 8, "{}", sessions(&t).await);
    for (who, cookie) in [(Who::Own, &own), (Who::Other, &other)] {
        let again = t.send(Some(who), get_with_cookie("/", cookie)).await;
        assert_eq!(again.status, 200);
        assert_eq!(again.cookie, None, "{who:?} was logged out");
        assert!(!again.body.contains("U bent afgemeld"));
    }
}

#[tokio::test]
async fn the_account_request_works_without_a_stored_session() {
    let t = TestPortal::new().await;
    let card = card_without_account();
    let form = request_form(&t, &card).await;
    assert_eq!(form.status, 200);
    assert_eq!(form.cookie, None);
    assert_eq!(sessions(&t).await, 0);
    let csrf = form.csrf().unwrap();
    let fields = "praktijk=Praktijk%20Test&email=a%40b.nl&telefoon=010%201234567";
    // Another card's token, or none, files nothing.
    let forged = format!("csrf={}&{fields}", "0".repeat(csrf.len()));
    let refused = as_card(&t, &card, post("/account/aanvragen", None, forged, &[])).await;
    assert_eq!(refused.status, 404);
    let body = format!("csrf={csrf}&{fields}");
    let filed = as_card(&t, &card, post("/account/aanvragen", None, body, &[])).await;
    assert_eq!(filed.status, 200);
    assert!(filed.body.contains("Aanvraag ontvangen"), "{}", filed.body);
    assert_eq!(filed.cookie, None);
    assert!(
        t.directory
            .account(common::uzi(900_000_199))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn form_fields_beyond_their_limits_are_refused_and_nothing_stored() {
    let t = TestPortal::new().await;
    let card = card_without_account();
    let form = request_form(&t, &card).await;
    let csrf = form.csrf().unwrap();
    let fields = |practice: &str| {
        format!("csrf={csrf}&praktijk={practice}&email=a%40b.nl&telefoon=010%201234567")
    };
    // Within the 16 KiB body, beyond the field's 100 characters: the form again, with why.
    let long = as_card(
        &t,
        &card,
        post("/account/aanvragen", None, fields(&"p".repeat(101)), &[]),
    )
    .await;
    assert_eq!(long.status, 200);
    assert!(
        long.body.contains(
            "Vul de naam van de praktijk, een geldig e-mailadres en een telefoonnummer in."
        ),
        "{}",
        long.body
    );
    // Beyond the body limit: refused before any field is read.
    let huge = as_card(
        &t,
        &card,
        post(
            "/account/aanvragen",
            None,
            fields(&"p".repeat(17 * 1024)),
            &[],
        ),
    )
    .await;
    assert_eq!(huge.status, 413);
    assert!(
        t.directory
            .account(common::uzi(900_000_199))
            .await
            .unwrap()
            .is_none()
    );
    // The same for a GP's form: a search with a 17 KiB BSN records nothing and finds nothing.
    let (cookie, csrf) = login(&t, Who::Own).await;
    let events = t.audit.size().unwrap();
    let bsn = "1".repeat(17 * 1024);
    let body = format!("csrf={csrf}&bsn={bsn}&geboortedatum=1950-01-01");
    let reply = t
        .send(Some(Who::Own), post("/zoeken", Some(&cookie), body, &[]))
        .await;
    assert_eq!(reply.status, 413);
    assert_eq!(t.audit.size().unwrap(), events);
}

#[tokio::test]
async fn a_card_beyond_its_rate_gets_429_and_one_record_a_minute() {
    // The portal's clock stands still: no request comes back within the test.
    let t = TestPortal::new()
        .await
        .with_card_rate(zvp_portal::CardRate {
            per_minute: std::num::NonZeroU32::new(60).unwrap(),
            burst: std::num::NonZeroU32::new(10).unwrap(),
        });
    let (own, _) = login(&t, Who::Own).await;
    let before = t.audit.size().unwrap();
    let card = card_without_account();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for _ in 0..2_000 {
        let reply = as_card(&t, &card, Request::get("/").body(Body::empty()).unwrap()).await;
        *statuses.entry(reply.status).or_default() += 1;
        if reply.status == 429 {
            assert_eq!(reply.headers["retry-after"], "60");
            assert!(reply.body.contains("Te veel verzoeken in korte tijd"));
        }
    }
    assert_eq!(statuses, [(403, 10), (429, 1_990)].into());
    // The ten refusals of the missing account, and one of the 1,990 throttled requests.
    assert_eq!(t.audit.size().unwrap(), before + 11);
    let events = t.audit.events().await.unwrap();
    let last = &events.last().unwrap().1;
    assert_eq!(last.reason.as_deref(), Some("too-many-requests"));
    // Other cards have their own rate: the GP's session goes on.
    let again = t.send(Some(Who::Own), get_with_cookie("/", &own)).await;
    assert_eq!(again.status, 200);
    let (_, metrics) = t.admin("/metrics").await;
    assert!(
        metrics.contains("\nzvp_card_requests_throttled_total 1990\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn after_logout_the_old_cookie_no_longer_works() {
    let t = TestPortal::new().await;
    let (cookie, csrf) = login(&t, Who::Own).await;
    let start = t.send(Some(Who::Own), get_with_cookie("/", &cookie)).await;
    assert!(start.body.contains("action=\"/afmelden\""));
    assert!(start.body.contains("Afmelden"));
    // Without the token: nothing ends.
    let forged = format!("csrf={}", "0".repeat(64));
    let refused = t
        .send(
            Some(Who::Own),
            post("/afmelden", Some(&cookie), forged, &[]),
        )
        .await;
    assert_eq!(refused.status, 403);
    let still = t.send(Some(Who::Own), get_with_cookie("/", &cookie)).await;
    assert_eq!(still.status, 200);
    assert!(!still.body.contains("U bent afgemeld"));

    let out = t
        .send(
            Some(Who::Own),
            post("/afmelden", Some(&cookie), format!("csrf={csrf}"), &[]),
        )
        .await;
    assert_eq!(out.status, 200);
    assert!(out.body.contains("U bent afgemeld"), "{}", out.body);
    assert_eq!(sessions(&t).await, 0);
    let after = t.send(Some(Who::Own), get_with_cookie("/", &cookie)).await;
    assert_eq!(after.status, 200);
    assert!(after.body.contains("U bent afgemeld"));
    assert!(!after.body.contains("Mijn patiënten"));
    // And a fresh visit logs in again.
    let fresh = t.get(Some(Who::Own), "/").await;
    assert_eq!(fresh.status, 200);
    assert!(fresh.cookie.is_some_and(|c| c != cookie));
}

#[tokio::test]
async fn an_emergency_reason_of_15000_characters_is_refused_and_nothing_stored() {
    let t = TestPortal::new().await;
    let (id, _) = t.own_patient().await;
    let long = "x".repeat(15_000);
    let reply = t
        .post_form(
            Who::Other,
            &format!("/patient/{id}/noodprocedure"),
            &[("reden", "acute-care"), ("toelichting", &long)],
        )
        .await;
    assert_eq!(reply.status, 403);
    assert!(
        reply
            .body
            .contains("Geef een toelichting van hoogstens 1000 tekens (u gaf er 15000)."),
        "{}",
        reply.body
    );
    assert!(t.directory.unreviewed_grants().await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unknown_patient_id_answers_as_a_foreign_one() {
    let t = TestPortal::new().await;
    let (known, _) = t.own_patient().await;
    let known = known.to_string();
    let unknown = "pat-999999".to_owned();
    assert_eq!(unknown.len(), known.len());
    let of_known = t.get(Some(Who::Other), &format!("/patient/{known}")).await;
    let of_unknown = t
        .get(Some(Who::Other), &format!("/patient/{unknown}"))
        .await;
    assert_eq!(of_known.status, 403);
    assert_eq!(of_unknown.status, 403);
    assert!(of_known.body.contains("Noodprocedure"));
    // Each request logged in afresh: the CSRF tokens differ, nothing else.
    let strip = |r: &Reply, id: &str| r.body_without_csrf().replace(id, "ID");
    assert_eq!(strip(&of_unknown, &unknown), strip(&of_known, &known));
    // A reason too short: the same answer for both.
    let fields = [("reden", "acute-care"), ("toelichting", "kort")];
    let post_known = t
        .post_form(
            Who::Other,
            &format!("/patient/{known}/noodprocedure"),
            &fields,
        )
        .await;
    let post_unknown = t
        .post_form(
            Who::Other,
            &format!("/patient/{unknown}/noodprocedure"),
            &fields,
        )
        .await;
    assert_eq!(post_known.status, 403);
    assert_eq!(post_unknown.status, 403);
    assert_eq!(strip(&post_unknown, &unknown), strip(&post_known, &known));
    // The documents and dossier pages too.
    let dossier = t
        .get(
            Some(Who::Other),
            &format!("/patient/{unknown}/dossier/medicatie"),
        )
        .await;
    assert_eq!(dossier.status, 403);
}

#[tokio::test]
async fn a_post_from_a_foreign_origin_is_refused() {
    let t = TestPortal::new().await;
    let (cookie, csrf) = login(&t, Who::Own).await;
    let body = || format!("csrf={csrf}&bsn=123&geboortedatum=2000-01-01");
    for (name, value) in [
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("origin", "http://portaal.ziekenhuis.example"),
        ("referer", "https://evil.example/form"),
    ] {
        let reply = t
            .send(
                Some(Who::Own),
                post("/zoeken", Some(&cookie), body(), &[(name, value)]),
            )
            .await;
        assert_eq!(reply.status, 403, "{name}: {value}");
        assert!(reply.body.contains("Verzoek geweigerd"), "{name}: {value}");
    }
    // The portal's own origin, or a browser that sends neither header: the form is handled.
    for extra in [
        &[("origin", "https://portaal.ziekenhuis.example")][..],
        &[("referer", "https://portaal.ziekenhuis.example/zoeken")][..],
        &[][..],
    ] {
        let reply = t
            .send(
                Some(Who::Own),
                post("/zoeken", Some(&cookie), body(), extra),
            )
            .await;
        assert_eq!(reply.status, 200, "{extra:?}");
        assert!(reply.body.contains("Dit is geen geldig BSN"), "{extra:?}");
    }
}
