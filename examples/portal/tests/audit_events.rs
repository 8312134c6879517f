//! Every class of audit event of docs/audit.md ("What the reference portal writes"), driven
//! through the portal over HTTP, found in the log with the fields the table names: searches,
//! refused requests, logins, session ends and refused cards, administrative changes and
//! look-ups in the log; and the reports that show them for their subject.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, header};
use chrono::NaiveDate;
use common::{TestPortal, Who, now, uzi};
use zvp_audit::event::{
    ActionCode, AuditEvent, Card, Change, EventType, Outcome, PatientRef, Query, QueryOutcome,
    Subtype, Target,
};
use zvp_audit::log::AuditLog as _;
use zvp_audit::report::{Period, ReportQuery, Subject};
use zvp_auth::testpki::CardSpec;
use zvp_auth::uzi::UziCertificate;
use zvp_core::{Bsn, CardType, DossierSection, RecordSection, ResultCategory, RoleCode};
use zvp_portal::ClientCertificate;

async fn events(t: &TestPortal) -> Vec<AuditEvent> {
    t.audit
        .events()
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

/// The one record of the request whose response carried `x-request-id` `id`.
fn by_request<'a>(events: &'a [AuditEvent], reply: &common::Reply) -> Vec<&'a AuditEvent> {
    let id = reply.headers["x-request-id"].to_str().unwrap();
    events.iter().filter(|e| e.request_id == id).collect()
}

fn uzi_of(e: &AuditEvent) -> Option<String> {
    e.user.as_ref().map(|u| u.uzi.to_string())
}

async fn report(t: &TestPortal, subject: Subject) -> Vec<AuditEvent> {
    let query = ReportQuery {
        subject,
        period: Period::default(),
        limit: 10_000,
        after: None,
    };
    t.audit
        .report(&query)
        .await
        .unwrap()
        .events
        .into_iter()
        .map(|(_, e)| e)
        .collect()
}

#[tokio::test]
async fn a_search_is_recorded_with_its_criteria_and_outcome() {
    let t = TestPortal::new().await;
    let (id, patient) = t.own_patient().await;
    let bsn = patient.bsn.unwrap();
    let birth = patient.birth_date;
    let fields = [
        ("bsn", bsn.to_string()),
        ("geboortedatum", birth.to_string()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // Another GP's patient: the emergency form, and a record of the search that led to it.
    let reply = t.post_form(Who::Other, "/zoeken", &fields).await;
    assert_eq!(reply.status, 403);
    assert!(reply.body.contains("Noodprocedure"));
    let all = events(&t).await;
    let records = by_request(&all, &reply);
    assert_eq!(records.len(), 1, "{records:#?}");
    let e = records[0];
    assert_eq!(e.event_type, EventType::Query);
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(uzi_of(e).as_deref(), Some("900000104"));
    assert_eq!(
        e.query,
        Some(Query {
            bsn: Some(bsn),
            birth_date: Some(birth),
            outcome: Some(QueryOutcome::EmergencyOffered),
            ..Query::default()
        })
    );
    assert_eq!(
        e.patient,
        Some(PatientRef {
            id: id.clone(),
            bsn: Some(bsn)
        })
    );
    assert_eq!(e.reason, None);

    // Their own GP finds them.
    let reply = t.post_form(Who::Own, "/zoeken", &fields).await;
    assert_eq!(reply.status, 303);
    let all = events(&t).await;
    let e = by_request(&all, &reply)[0];
    assert_eq!(
        (e.event_type, e.query.as_ref().unwrap().outcome),
        (EventType::Query, Some(QueryOutcome::Found))
    );

    // A BSN the hospital does not know: no patient, the BSN in the record.
    let unknown: Bsn = "999999990".parse().unwrap();
    let reply = t
        .post_form(
            Who::Own,
            "/zoeken",
            &[("bsn", "999999990"), ("geboortedatum", "1950-01-02")],
        )
        .await;
    assert_eq!(reply.status, 200);
    let all = events(&t).await;
    let e = by_request(&all, &reply)[0];
    assert_eq!(
        e.query,
        Some(Query {
            bsn: Some(unknown),
            birth_date: NaiveDate::from_ymd_opt(1950, 1, 2),
            outcome: Some(QueryOutcome::NotFound),
            ..Query::default()
        })
    );
    assert_eq!(e.patient, None);

    // The patient's report shows who searched for them, the unknown BSN's its search.
    let theirs = report(&t, Subject::Patient(bsn)).await;
    assert!(
        theirs
            .iter()
            .any(|e| e.event_type == EventType::Query && uzi_of(e).as_deref() == Some("900000104"))
    );
    let unknowns = report(&t, Subject::Patient(unknown)).await;
    assert_eq!(unknowns.len(), 1);
}

#[tokio::test]
async fn every_refused_request_is_recorded_with_its_code() {
    let t = TestPortal::new().await;
    let (id, patient) = t.own_patient().await;
    // Six looks at another GP's patient: six records, each naming the patient.
    for _ in 0..6 {
        let reply = t.get(Some(Who::Other), &format!("/patient/{id}")).await;
        assert_eq!(reply.status, 403);
        let all = events(&t).await;
        let records = by_request(&all, &reply);
        let refused: Vec<_> = records
            .iter()
            .filter(|e| e.event_type == EventType::SecurityAlert)
            .collect();
        assert_eq!(refused.len(), 1, "{records:#?}");
        let e = refused[0];
        assert_eq!(e.outcome, Outcome::Denied);
        assert_eq!(e.reason.as_deref(), Some("emergency-procedure-required"));
        assert_eq!(
            e.patient,
            Some(PatientRef {
                id: id.clone(),
                bsn: patient.bsn
            })
        );
        assert_eq!(uzi_of(e).as_deref(), Some("900000104"));
    }
    let alerts = events(&t)
        .await
        .into_iter()
        .filter(|e| e.event_type == EventType::SecurityAlert)
        .count();
    assert_eq!(alerts, 6);

    // A GP on an administrator's page: refused, with the refusal's code.
    let reply = t.get(Some(Who::Own), "/beheer").await;
    assert_eq!(reply.status, 403);
    let all = events(&t).await;
    let e = by_request(&all, &reply)
        .into_iter()
        .find(|e| e.event_type == EventType::SecurityAlert)
        .expect("the refusal's record");
    assert_eq!(
        (e.outcome, e.reason.as_deref(), uzi_of(e).as_deref()),
        (Outcome::Denied, Some("not-permitted"), Some("900000101"))
    );
}

#[tokio::test]
async fn logins_session_ends_and_refused_accounts_are_recorded() {
    let t = TestPortal::new().await;
    let card = UziCertificate::from_der(&Who::Own.card().der).unwrap();
    // A first request without a session: a login.
    let reply = t.get(Some(Who::Own), "/").await;
    assert_eq!(reply.status, 200);
    let all = events(&t).await;
    let records = by_request(&all, &reply);
    let login = records
        .iter()
        .find(|e| e.event_type == EventType::Login)
        .expect("a login record");
    assert_eq!(login.outcome, Outcome::Success);
    assert_eq!(login.reason, None);
    let user = login.user.as_ref().unwrap();
    assert_eq!(
        (user.uzi.to_string(), user.name.as_str(), user.role),
        (
            "900000101".to_owned(),
            "Own Test",
            RoleCode::GENERAL_PRACTITIONER
        )
    );
    assert_eq!(
        login.card,
        Some(Card {
            serial: Some(card.serial.clone()),
            issuer: card.issuer_common_name.clone(),
            uzi: None,
            verified: true,
        })
    );
    assert!(login.access_point.certificate_sha256.is_some());

    // A session the portal does not know (a restart): the end is recorded.
    let stale = "ab".repeat(32);
    let mut request = Request::get("/")
        .header(header::COOKIE, format!("__Host-zvp={stale}"))
        .body(Body::empty())
        .unwrap();
    request
        .extensions_mut()
        .insert(ClientCertificate(Arc::new(Who::Own.card().chain())));
    let reply = t.send(None, request).await;
    assert!(reply.body.contains("U bent afgemeld"), "{}", reply.body);
    let all = events(&t).await;
    let ended: Vec<_> = all
        .iter()
        .filter(|e| e.event_type == EventType::Logout)
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].reason.as_deref(), Some("session-unknown"));
    assert_eq!(uzi_of(ended[0]).as_deref(), Some("900000101"));
    assert_eq!(ended[0].card.as_ref().map(|c| c.verified), Some(true));

    // A blocked account and a card whose role may not enter: refused logins, with the code.
    for (who, code, number) in [
        (Who::Blocked, "account-blocked", "900000107"),
        (Who::Ineligible, "role-not-eligible", "900000108"),
    ] {
        let reply = t.get(Some(who), "/").await;
        assert_eq!(reply.status, 403);
        let all = events(&t).await;
        let e = by_request(&all, &reply)
            .into_iter()
            .find(|e| e.event_type == EventType::Login)
            .expect("a refused login's record");
        assert_eq!(
            (e.outcome, e.reason.as_deref(), uzi_of(e).as_deref()),
            (Outcome::Denied, Some(code), Some(number))
        );
        assert_eq!(e.card.as_ref().map(|c| c.verified), Some(true));
    }
}

#[tokio::test]
async fn a_refused_card_is_recorded_with_what_it_claims() {
    let t = TestPortal::new().await;
    // An expired card: its serial, issuer and UZI number, none of them verified.
    let mut spec = CardSpec::care_provider(uzi(900_000_222), RoleCode::GENERAL_PRACTITIONER, now());
    spec.not_before = now() - chrono::Duration::days(400);
    spec.not_after = now() - chrono::Duration::days(1);
    let expired = common::pki().issue_card(&spec).unwrap().authentication;
    let claimed = UziCertificate::from_der(&expired.der).unwrap();
    let mut request = Request::get("/").body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(ClientCertificate(Arc::new(expired.chain())));
    let reply = t.send(None, request).await;
    assert_eq!(reply.status, 403);
    assert!(reply.body.contains("expired"));
    let all = events(&t).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    let e = &all[0];
    assert_eq!(
        (e.event_type, e.outcome, e.reason.as_deref()),
        (EventType::Login, Outcome::Denied, Some("expired"))
    );
    assert_eq!(e.user, None);
    assert_eq!(
        e.card,
        Some(Card {
            serial: Some(claimed.serial.clone()),
            issuer: claimed.issuer_common_name.clone(),
            uzi: Some(uzi(900_000_222)),
            verified: false,
        })
    );
    // The practitioner's report shows the card that claimed their number.
    let theirs = report(&t, Subject::Practitioner(uzi(900_000_222))).await;
    assert_eq!(theirs, vec![e.clone()]);

    // Bytes that are no certificate: nothing to read but their fingerprint.
    let junk = b"not a certificate".to_vec();
    let mut request = Request::get("/").body(Body::empty()).unwrap();
    request
        .extensions_mut()
        .insert(ClientCertificate(Arc::new(vec![
            rustls_pki_types::CertificateDer::from(junk.clone()),
        ])));
    let reply = t.send(None, request).await;
    assert_eq!(reply.status, 403);
    let all = events(&t).await;
    let e = all.last().unwrap();
    assert_eq!(e.reason.as_deref(), Some("malformed-certificate"));
    assert_eq!(e.user, None);
    assert_eq!(
        e.card,
        Some(Card {
            verified: false,
            ..Card::default()
        })
    );
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &junk);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        e.access_point.certificate_sha256.as_deref(),
        Some(hex.as_str())
    );

    // A request without any certificate presents no card: nothing to record.
    let reply = t.get(None, "/").await;
    assert_eq!(reply.status, 403);
    assert_eq!(events(&t).await.len(), 2);
    let _ = CardType::CareProvider;
}

#[tokio::test]
async fn administrative_changes_and_look_ups_name_their_target() {
    let t = TestPortal::new().await;
    let reply = t
        .post_form(
            Who::Administrator,
            "/beheer/account/900000102/praktijk",
            &[("praktijk_agb", "01000099")],
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    let all = events(&t).await;
    let e = by_request(&all, &reply)
        .into_iter()
        .find(|e| e.event_type == EventType::SecurityRolesChanged)
        .expect("the change's record");
    assert_eq!(e.action, ActionCode::U);
    assert_eq!(uzi_of(e).as_deref(), Some("900000106"));
    assert_eq!(
        e.change,
        Some(Change {
            target: Target::Account {
                uzi: uzi(900_000_102)
            },
            field: "practice_agb".to_owned(),
            old: Some(common::demo_agb(0).to_string()),
            new: Some("01000099".to_owned()),
        })
    );
    assert_eq!(e.reason, None);

    let reply = t
        .post_form(
            Who::Administrator,
            "/beheer/account/900000104/blokkeren",
            &[],
        )
        .await;
    assert_eq!(reply.status, 303);
    let all = events(&t).await;
    let e = by_request(&all, &reply)
        .into_iter()
        .find(|e| e.event_type == EventType::SecurityRolesChanged)
        .unwrap();
    assert_eq!(
        e.change
            .as_ref()
            .map(|c| (c.field.as_str(), c.old.as_deref(), c.new.as_deref())),
        Some(("status", Some("active"), Some("blocked")))
    );
    // The practitioner's report shows the change to their account.
    let theirs = report(&t, Subject::Practitioner(uzi(900_000_102))).await;
    assert!(
        theirs
            .iter()
            .any(|e| e.event_type == EventType::SecurityRolesChanged)
    );

    // A look-up in the log: whose report, over which period.
    let reply = t
        .get(
            Some(Who::Administrator),
            "/beheer/audit?uzi=900000102&van=2026-11-01&tot=2026-11-25",
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("practice_agb"), "{}", reply.body);
    let all = events(&t).await;
    let e = by_request(&all, &reply)
        .into_iter()
        .find(|e| e.event_type == EventType::AuditLogUsed)
        .expect("the look-up's record");
    assert_eq!(e.subtype, Subtype::LogAccess);
    assert_eq!(
        e.query,
        Some(Query {
            uzi: Some(uzi(900_000_102)),
            from: NaiveDate::from_ymd_opt(2026, 11, 1),
            to: NaiveDate::from_ymd_opt(2026, 11, 25),
            ..Query::default()
        })
    );
}

/// A page with the patient banner shows the admission it names, and so records the care
/// moments besides its own section; an item (a lab test) is a part of the page's own section
/// only. (A PDF download, which has no banner, records its document alone: tests/shapes.rs.)
#[tokio::test]
async fn a_page_with_the_banner_records_the_admission_it_names() {
    let t = TestPortal::new().await;
    let (id, _) = t.own_patient().await;
    let parts =
        |all: &[AuditEvent], reply: &common::Reply| -> Vec<(RecordSection, Option<String>)> {
            by_request(all, reply)
                .into_iter()
                .filter_map(|e| e.part.clone())
                .map(|p| (p.section, p.item))
                .collect()
        };
    let allergies = t
        .get(Some(Who::Own), &format!("/patient/{id}/dossier/allergieen"))
        .await;
    assert_eq!(allergies.status, 200);
    assert!(
        allergies
            .body
            .contains("<p class=\"admission-line\"><strong>Opgenomen</strong> sinds "),
        "{}",
        allergies.body
    );
    let lab = t
        .get(Some(Who::Own), &format!("/patient/{id}/lab/HB"))
        .await;
    assert_eq!(lab.status, 200);
    let all = events(&t).await;
    assert_eq!(
        parts(&all, &allergies),
        [
            (RecordSection::Dossier(DossierSection::Allergies), None),
            (RecordSection::CareMoments, None),
        ]
    );
    assert_eq!(
        parts(&all, &lab),
        [
            (
                RecordSection::Results(ResultCategory::ClinicalChemistry),
                Some("lab:HB".to_owned())
            ),
            (RecordSection::CareMoments, None),
        ]
    );
}
