//! The periodic review report: what a refusal, an emergency access and a search without a
//! view leave in it, as a page and as CSV, for administrators only.

use chrono::Duration;
use zvp_audit::event::EventType;
use zvp_audit::log::AuditLog as _;

use super::common::{TestPortal, Who};

#[tokio::test]
async fn the_review_report_shows_refusals_emergencies_and_searches_without_a_view() {
    let t = TestPortal::new().await;
    let (id, patient) = t.own_patient().await;
    let bsn = patient.bsn.unwrap().to_string();
    let birth = patient.birth_date.to_string();
    // A GP is refused the report: a refusal of their own (`not-permitted`).
    assert_eq!(t.get(Some(Who::Own), "/beheer/review").await.status, 403);
    assert_eq!(
        t.get(Some(Who::Own), "/beheer/review.csv").await.status,
        403
    );
    // The own GP finds the patient and does not open the record.
    let found = t
        .post_form(
            Who::Own,
            "/zoeken",
            &[("bsn", &bsn), ("geboortedatum", &birth)],
        )
        .await;
    assert_eq!(found.status, 303);
    // Another GP is offered the emergency procedure, and uses it: that search is followed.
    let offered = t
        .post_form(
            Who::Other,
            "/zoeken",
            &[("bsn", &bsn), ("geboortedatum", &birth)],
        )
        .await;
    assert_eq!(offered.status, 403);
    let started = t
        .post_form(
            Who::Other,
            &format!("/patient/{id}/noodprocedure"),
            &[
                ("reden", "acute-care"),
                ("toelichting", "bewusteloos binnengebracht op de SEH"),
            ],
        )
        .await;
    assert_eq!(started.status, 303, "{}", started.body);

    // An hour later, when the searches' half hour has passed.
    let later = t.later(Duration::hours(1));
    let before = t.audit.size().unwrap();
    let page = later.get(Some(Who::Administrator), "/beheer/review").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    for heading in [
        "Controlerapport auditlog",
        "Noodprocedures",
        "Weigeringen per zorgverlener",
        "Zoekacties zonder inzage",
        "Ongebruikelijke aantallen",
        "Controle van het auditlog",
    ] {
        assert!(body.contains(heading), "{heading}: {body}");
    }
    // The emergency access: who, the patient's BSN, the reason, not yet reviewed.
    assert!(body.contains("(UZI 900000104)"), "{body}");
    assert!(body.contains(&bsn));
    assert!(body.contains("bewusteloos binnengebracht op de SEH"));
    assert!(body.contains("nog niet beoordeeld"));
    // The refusals of the own GP, two (the page and the CSV).
    assert!(body.contains("<td>not-permitted</td><td>2</td>"), "{body}");
    // The search without a view is the own GP's only.
    let searches = section(
        body,
        "Zoekacties zonder inzage",
        "Ongebruikelijke aantallen",
    );
    assert!(searches.contains("(UZI 900000101)"), "{searches}");
    assert!(!searches.contains("(UZI 900000104)"), "{searches}");
    assert!(body.contains("In orde"), "{body}");
    // Making the report was recorded before it was shown: a look-up naming no one.
    let events = t.audit.events().await.unwrap();
    let (_, made) = events
        .iter()
        .skip(usize::try_from(before).unwrap())
        .find(|(_, e)| e.event_type == EventType::AuditLogUsed)
        .unwrap();
    let look_up = made.query.as_ref().unwrap();
    assert!(look_up.bsn.is_none() && look_up.uzi.is_none() && look_up.from.is_some());

    let csv = later
        .get(Some(Who::Administrator), "/beheer/review.csv")
        .await;
    assert_eq!(csv.status, 200);
    let disposition = csv.headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    let rows = |section: &str| {
        csv.body
            .lines()
            .filter(|l| l.starts_with(&format!("{section},")))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let emergencies = rows("emergency");
    assert_eq!(emergencies.len(), 1, "{}", csv.body);
    assert!(emergencies[0].contains(",900000104,") && emergencies[0].contains(&bsn));
    assert!(
        rows("refusals")
            .iter()
            .any(|r| r.contains("900000101") && r.contains(",not-permitted,") && r.ends_with(",2"))
    );
    let unfollowed = rows("search-without-view");
    assert_eq!(unfollowed.len(), 1, "{}", csv.body);
    assert!(unfollowed[0].contains("900000101") && unfollowed[0].contains(",found,"));
    assert_eq!(rows("log-check").len(), 1);
}

fn section<'a>(body: &'a str, from: &str, to: &str) -> &'a str {
    let start = body.find(from).unwrap();
    let end = body[start..].find(to).map_or(body.len(), |e| start + e);
    &body[start..end]
}
