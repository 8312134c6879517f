//! The synthetic EPD in memory and the FHIR adapter against zvp-mock-epd return the same data
//! for every `Epd` method, so the portal can use either.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use chrono::Duration;
use common::{Server, ctx};
use zvp_core::{AgbCode, ObservationValue, PatientId, ReportContent, ResultCategory};
use zvp_epd::synthetic::{DEMO_GPS, test_now};
use zvp_epd::{Epd, EpdError};
use zvp_mock_epd::{Faults, Shapes};

fn demo_agbs() -> Vec<AgbCode> {
    DEMO_GPS
        .iter()
        .map(|g| AgbCode::new(g.agb).unwrap())
        .collect()
}

/// Every method for one patient, through both.
async fn compare_patient(memory: &dyn Epd, fhir: &dyn Epd, id: &PatientId) -> usize {
    let ctx = ctx();
    let mut compared = 0;
    // `same!(method, args…)` asserts both give the same; `keep` also returns the answer.
    macro_rules! same {
        (keep $call:ident $(, $arg:expr)*) => {{
            let expected = memory.$call($($arg,)* &ctx).await;
            let got = fhir.$call($($arg,)* &ctx).await;
            assert_eq!(got, expected, "{} of {id}", stringify!($call));
            compared += 1;
            expected
        }};
        ($call:ident $(, $arg:expr)*) => {{
            let _ = same!(keep $call $(, $arg)*);
        }};
    }
    let patient = same!(keep patient, id);
    same!(care_moments, id);
    same!(allergies, id);
    same!(conclusions, id);
    same!(diagnoses, id);
    same!(medication, id);
    let letters = same!(keep letters, id).unwrap();
    for letter in &letters {
        same!(document, id, &letter.id);
    }
    for category in ResultCategory::ALL {
        same!(results, id, category);
    }
    for code in ["2160-0", "718-7", "3016-3", "0000-0"] {
        same!(lab_history, id, code);
    }
    if let Ok(p) = patient
        && let Some(bsn) = p.bsn
    {
        same!(find_by_bsn, bsn, None);
        same!(find_by_bsn, bsn, Some(p.birth_date));
        same!(find_by_bsn, bsn, Some(p.birth_date + Duration::days(1)));
    }
    compared
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_and_the_synthetic_epd_agree_on_every_method() {
    agree_on_every_method(true).await;
}

/// Against a server that declares and does no `_include` or `_revinclude`, the adapter's
/// separate searches give the same answers (docs/fhir.md, "Strategies").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_includes_the_fallbacks_give_the_same_answers() {
    agree_on_every_method(false).await;
}

/// The record in the other forms real EPDs write it in (docs/fhir.md, "Shapes"): report
/// categories under v2-0074's narrow codes and under LOINC's, absolute and versioned
/// references, letters as HTML and by URL, the other status codes and copies recorded in
/// error. The adapter gives the same answers from each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shape_gives_the_same_answers() {
    use zvp_mock_epd::shapes::{CategoryCodes, LetterContent, Letters, References};
    let shapes = [
        Shapes {
            categories: CategoryCodes::Narrow,
            references: References::Versioned,
            statuses: zvp_mock_epd::shapes::Statuses::Other,
            letters: Letters {
                content: LetterContent::Html,
                by_url: false,
            },
            ..Shapes::default()
        },
        Shapes {
            categories: CategoryCodes::Loinc,
            references: References::Absolute,
            letters: Letters {
                content: LetterContent::Text,
                by_url: true,
            },
            ..Shapes::default()
        },
    ];
    for shape in shapes {
        let server = Server::start(120, Faults::default()).await;
        server.state.set_shapes(shape);
        let fhir = server.adapter();
        let memory = server.epd.clone();
        let mut compared = 0;
        let mut lists = 0;
        for gp in demo_agbs() {
            let admitted = memory.admitted(&[gp], &ctx()).await;
            assert_eq!(fhir.admitted(&[gp], &ctx()).await, admitted, "{shape:?}");
            lists += admitted.unwrap().len();
        }
        assert!(lists > 0);
        for id in memory.patient_ids().step_by(5) {
            compared += compare_patient(memory.as_ref(), &fhir, id).await;
        }
        assert!(compared > 300, "{compared}");
    }
}

/// Decimals as a server sends them: from one that keeps numbers as floating point, `5.40`
/// arrives as `5.4` and is shown so, not padded back or rounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decimals_are_taken_as_the_server_sends_them() {
    let server = Server::start(60, Faults::default()).await;
    server.state.set_shapes(Shapes {
        decimals: zvp_mock_epd::shapes::Decimals::Trimmed,
        ..Shapes::default()
    });
    let fhir = server.adapter();
    let mut trimmed = 0;
    for id in server.epd.patient_ids().take(20) {
        let sent = server
            .epd
            .results(id, ResultCategory::ClinicalChemistry, &ctx())
            .await
            .unwrap();
        let got = fhir
            .results(id, ResultCategory::ClinicalChemistry, &ctx())
            .await
            .unwrap();
        assert_eq!(got.len(), sent.len());
        for (got, sent) in got.iter().zip(&sent) {
            let (ReportContent::Observations(got), ReportContent::Observations(sent)) =
                (&got.content, &sent.content)
            else {
                panic!("chemistry reports hold values");
            };
            for (got, sent) in got.iter().zip(sent) {
                if let (
                    ObservationValue::Quantity { value: got, .. },
                    ObservationValue::Quantity { value: sent, .. },
                ) = (&got.value, &sent.value)
                {
                    let float: f64 = sent.as_str().parse().unwrap();
                    let as_javascript = if float.fract() == 0.0 {
                        format!("{float:.0}")
                    } else {
                        float.to_string()
                    };
                    assert_eq!(got.as_str(), as_javascript);
                    trimmed += usize::from(got.as_str() != sent.as_str());
                }
            }
        }
    }
    assert!(trimmed > 10, "{trimmed} values arrived trimmed");
}

/// The changes in one order (the searches may list them in another).
fn sorted(mut changes: zvp_epd::Changes) -> zvp_epd::Changes {
    changes
        .admissions
        .sort_by(|a, b| a.patient.id.cmp(&b.patient.id));
    changes
        .letters
        .sort_by(|a, b| (&a.patient.id, &a.letter.id).cmp(&(&b.patient.id, &b.letter.id)));
    changes
}

async fn agree_on_every_method(includes: bool) {
    let server = Server::start(400, Faults::default()).await;
    server.state.set_includes(includes);
    let fhir = server.adapter();
    let strategies = fhir.strategies(&ctx()).await.unwrap().clone();
    let expected = if includes {
        zvp_epd::client::Strategy::Included
    } else {
        zvp_epd::client::Strategy::Separate
    };
    assert_eq!(
        [
            strategies.patient_consents,
            strategies.list_patients,
            strategies.list_consents,
            strategies.report_results
        ],
        [expected; 4]
    );
    let memory = server.epd.clone();
    let ctx = ctx();

    // The lists, for the demo GPs together and each alone, and for nobody.
    let gps = demo_agbs();
    let mut sets: Vec<Vec<AgbCode>> = vec![gps.clone(), Vec::new()];
    sets.extend(gps.iter().map(|g| vec![*g]));
    let mut listed = 0;
    let mut changes = 0;
    for set in &sets {
        let admitted = memory.admitted(set, &ctx).await;
        assert_eq!(fhir.admitted(set, &ctx).await, admitted);
        listed += admitted.unwrap().len();
        for days in [1, 7, 30] {
            let since = test_now() - Duration::days(days);
            let discharged = memory.discharged_since(set, since, &ctx).await;
            assert_eq!(fhir.discharged_since(set, since, &ctx).await, discharged);
            listed += discharged.unwrap().len();
            let changed = sorted(memory.changed_since(set, since, &ctx).await.unwrap());
            assert_eq!(
                sorted(fhir.changed_since(set, since, &ctx).await.unwrap()),
                changed
            );
            changes += changed.admissions.len() + changed.letters.len();
        }
    }
    assert!(listed > 50, "{listed}");
    assert!(changes > 50, "{changes}");

    // Every method for a spread of patients, and for one the hospital does not have.
    let mut compared = 0;
    let ids: Vec<PatientId> = memory.patient_ids().step_by(7).cloned().collect();
    for id in &ids {
        compared += compare_patient(memory.as_ref(), &fhir, id).await;
    }
    let nobody: PatientId = "pat-999999".parse().unwrap();
    compared += compare_patient(memory.as_ref(), &fhir, &nobody).await;
    assert!(compared > 1000, "{compared}");

    // A document asked for under another patient is not there.
    let first = &ids[0];
    let letter = memory.letters(first, &ctx).await.unwrap().remove(0);
    assert!(matches!(
        fhir.document(&ids[1], &letter.id, &ctx).await,
        Err(EpdError::NotFound(_))
    ));
    assert!(matches!(
        fhir.document(first, &"doc-999999-0".parse().unwrap(), &ctx)
            .await,
        Err(EpdError::NotFound(_))
    ));
}
