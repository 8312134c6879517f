//! The pages over the forms real EPDs write the record in (docs/fhir.md, "Shapes"), served
//! by zvp-mock-epd: a PDF letter is a download with its own audit record, an HTML letter
//! shows its text and never its markup, and a report under a code the portal does not know
//! shows under "Overig".

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::time::Duration;

use common::{TestPortal, Who};
use zvp_audit::event::{AuditEvent, EventType};
use zvp_audit::log::AuditLog as _;
use zvp_core::{PatientId, RecordSection, ResultCategory};
use zvp_epd::{Epd, RequestContext};
use zvp_mock_epd::shapes::{CategoryCodes, LetterContent, Letters};
use zvp_mock_epd::{MockEpd, Shapes};

fn ctx() -> RequestContext {
    RequestContext {
        request_id: "t".to_owned(),
    }
}

/// The own patient and the path of their newest letter's page.
async fn letter_page(t: &TestPortal) -> (PatientId, String, String) {
    let (id, _) = t.own_patient().await;
    let letter = t
        .epd
        .letters(&id, &ctx())
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.date >= zvp_epd::synthetic::seed_letters_cutoff())
        .unwrap();
    let path = format!("/patient/{id}/document/{}", letter.id);
    (id, path, letter.id.to_string())
}

fn letters(mock: &MockEpd, content: LetterContent, by_url: bool) {
    mock.set_shapes(Shapes {
        letters: Letters { content, by_url },
        ..Shapes::default()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdf_letter_is_a_download_audited_as_its_own_disclosure() {
    let (t, mock) = common::over_fhir(Duration::from_secs(10)).await;
    let (id, path, document) = letter_page(&t).await;

    // As text, the letter has no download.
    let text = t.get(Some(Who::Own), &path).await;
    assert_eq!(text.status, 200);
    assert!(text.body.contains("Geachte collega"), "{}", text.body);
    assert!(!text.body.contains("PDF downloaden"));
    assert_eq!(
        t.get(Some(Who::Own), &format!("{path}/pdf")).await.status,
        404
    );

    for by_url in [false, true] {
        letters(&mock, LetterContent::Pdf, by_url);
        let page = t.get(Some(Who::Own), &path).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("PDF downloaden ("), "{}", page.body);
        assert!(
            page.body.contains(&format!("href=\"{path}/pdf\"")),
            "{}",
            page.body
        );
        assert!(!page.body.contains("Geachte collega"));

        let before = disclosures(&t).await.len();
        let pdf = t.get(Some(Who::Own), &format!("{path}/pdf")).await;
        assert_eq!(pdf.status, 200);
        assert_eq!(pdf.headers["content-type"], "application/pdf");
        assert_eq!(
            pdf.headers["content-disposition"],
            format!("attachment; filename=\"brief-{document}.pdf\"")
        );
        assert_eq!(pdf.headers["cache-control"], "no-store");
        // The browser takes the type as given: a PDF is never sniffed into a page.
        assert_eq!(pdf.headers["x-content-type-options"], "nosniff");
        assert!(pdf.bytes.starts_with(b"%PDF-"));
        let events = disclosures(&t).await;
        assert_eq!(events.len(), before + 1, "one record for the download");
        let (_, event) = events.last().unwrap();
        assert_eq!(event.patient.as_ref().unwrap().id, id);
        let part = event.part.as_ref().unwrap();
        assert_eq!(part.section, RecordSection::Document);
        assert_eq!(part.item.as_deref(), Some(document.as_str()));
    }

    // Someone who may not see the patient gets no PDF, and no record of a disclosure.
    let before = disclosures(&t).await.len();
    let other = t.get(Some(Who::Other), &format!("{path}/pdf")).await;
    assert_ne!(other.status, 200);
    assert!(!other.bytes.starts_with(b"%PDF-"));
    let events = disclosures(&t).await;
    assert!(
        events[before..].iter().all(|(_, e)| e
            .part
            .as_ref()
            .is_none_or(|p| p.section != RecordSection::Document)
            || e.outcome != zvp_audit::event::Outcome::Success),
        "{:?}",
        &events[before..]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_letter_shows_its_text_and_never_its_markup() {
    let (t, mock) = common::over_fhir(Duration::from_secs(10)).await;
    let (_, path, _) = letter_page(&t).await;
    let plain = t.get(Some(Who::Own), &path).await;
    assert_eq!(plain.status, 200);
    for by_url in [false, true] {
        letters(&mock, LetterContent::Html, by_url);
        let page = t.get(Some(Who::Own), &path).await;
        assert_eq!(page.status, 200);
        // The same page as from the plain-text letter: the text, paragraphs kept.
        assert_eq!(page.body_without_csrf(), plain.body_without_csrf());
        let letter = page
            .body
            .split_once("<pre class=\"letter\">")
            .and_then(|(_, rest)| rest.split_once("</pre>"))
            .unwrap()
            .0;
        assert!(letter.starts_with("Geachte collega,\n\n"), "{letter}");
        for markup in ["<", "&lt;", "document.title", "uitgevoerd", "margin"] {
            assert!(!letter.contains(markup), "{markup} in {letter}");
        }
        assert!(!page.body.contains("<script"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_under_other_codes_show_in_their_section_and_unknown_ones_under_overig() {
    let (t, mock) = common::over_fhir(Duration::from_secs(10)).await;
    // An own patient with chemistry, radiology and an ECG.
    let mut found = None;
    for id in t.epd.patient_ids() {
        let p = t.epd.patient(id, &ctx()).await.unwrap();
        if p.registered_gp.as_ref().map(|g| g.agb) != Some(common::demo_agb(0)) {
            continue;
        }
        let has = |c| {
            let epd = t.epd.clone();
            let id = id.clone();
            async move { !epd.results(&id, c, &ctx()).await.unwrap().is_empty() }
        };
        if has(ResultCategory::Other).await && has(ResultCategory::Radiology).await {
            found = Some(id.clone());
            break;
        }
    }
    let id = found.expect("an own patient with an ECG and a radiology report");
    // Clinical chemistry per report, where each report shows its title.
    let sections = [
        (
            "klinische-chemie?weergave=verslagen",
            "Klinisch-chemisch onderzoek",
        ),
        ("radiologie", "X-thorax"),
        ("overig", "ECG"),
    ];
    let mut expected = Vec::new();
    for (slug, title) in sections {
        let page = t
            .get(Some(Who::Own), &format!("/patient/{id}/uitslagen/{slug}"))
            .await;
        assert_eq!(page.status, 200, "{slug}");
        assert!(page.body.contains(title), "{slug}: {}", page.body);
        expected.push(page.body_without_csrf());
    }
    for codes in [CategoryCodes::Narrow, CategoryCodes::Loinc] {
        mock.set_shapes(Shapes {
            categories: codes,
            ..Shapes::default()
        });
        for ((slug, _), expected) in sections.iter().zip(&expected) {
            let page = t
                .get(Some(Who::Own), &format!("/patient/{id}/uitslagen/{slug}"))
                .await;
            assert_eq!(&page.body_without_csrf(), expected, "{codes:?} {slug}");
        }
    }
}

/// A privacy Consent without `provision.code` (an opt-out of everything): the patient is shown
/// to nobody, not through the emergency procedure either, and listed for nobody; nothing of
/// theirs is disclosed, so nothing is recorded as disclosed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_who_objects_to_sharing_is_shown_and_listed_to_nobody() {
    let (t, mock) = common::over_fhir(Duration::from_secs(10)).await;
    let (id, patient) = t.own_patient().await;
    let name = patient.name.to_string();
    let start = t.get(Some(Who::Own), "/").await;
    assert!(
        start.body.contains(&format!("/patient/{id}\"")),
        "listed before"
    );
    let page = t.get(Some(Who::Own), &format!("/patient/{id}")).await;
    assert_eq!(page.status, 200);

    mock.set_objections(vec![id.clone()]);
    let before = disclosures(&t).await.len();
    for (who, path) in [
        (Who::Own, format!("/patient/{id}")),
        (Who::Own, format!("/patient/{id}/dossier/brieven")),
        (
            Who::Own,
            format!("/patient/{id}/uitslagen/klinische-chemie"),
        ),
        (Who::Practice, format!("/patient/{id}")),
        (Who::Delegated, format!("/patient/{id}/dossier/medicatie")),
        (Who::Other, format!("/patient/{id}")),
    ] {
        let page = t.get(Some(who), &path).await;
        assert_eq!(page.status, 403, "{who:?} {path}");
        assert!(
            page.body
                .contains("De patiënt heeft bezwaar gemaakt tegen het delen van gegevens"),
            "{who:?} {path}: {}",
            page.body
        );
        assert!(!page.body.contains(&name), "{who:?} {path}");
    }
    let start = t.get(Some(Who::Own), "/").await;
    assert_eq!(start.status, 200);
    assert!(
        !start.body.contains(&format!("/patient/{id}\"")),
        "not listed"
    );
    assert!(!start.body.contains(&name));
    let events = disclosures(&t).await;
    assert!(
        events[before..]
            .iter()
            .all(|(_, e)| e.patient.as_ref().is_none_or(|p| p.id != id)),
        "nothing of the patient was recorded as disclosed"
    );

    // The objection withdrawn (the Consent gone): the patient is back.
    mock.set_objections(Vec::new());
    let page = t.get(Some(Who::Own), &format!("/patient/{id}")).await;
    assert_eq!(page.status, 200);
}

/// The log's records of disclosures (reads of a record), in order: the pages also record
/// logins and refusals, which disclose nothing.
async fn disclosures(t: &TestPortal) -> Vec<(u64, AuditEvent)> {
    let mut events = t.audit.events().await.unwrap();
    events.retain(|(_, e)| e.event_type == EventType::PatientRecord);
    events
}
