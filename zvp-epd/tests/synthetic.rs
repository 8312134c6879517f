//! The synthetic hospital through the `Epd` trait: every method on every patient, and the
//! shapes the portal relies on.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::collections::HashSet;

use chrono::Duration;
use zvp_core::{AgbCode, ReportContent, ResultCategory};
use zvp_epd::synthetic::{DEMO_GPS, SyntheticEpd, seed_letters_cutoff, test_now};
use zvp_epd::{Epd, EpdError, RequestContext};

fn ctx() -> RequestContext {
    RequestContext {
        request_id: "test".to_owned(),
    }
}

fn demo_agbs() -> Vec<AgbCode> {
    DEMO_GPS
        .iter()
        .map(|gp| AgbCode::new(gp.agb).unwrap())
        .collect()
}

#[tokio::test]
async fn every_method_answers_for_every_patient() {
    let epd = SyntheticEpd::generate(2026, test_now(), 400).unwrap();
    let mut bsns = HashSet::new();
    let (mut before_cutoff, mut after_cutoff, mut restricted) = (0, 0, 0);
    for id in epd.patient_ids().cloned().collect::<Vec<_>>() {
        let patient = epd.patient(&id, &ctx()).await.unwrap();
        assert!(bsns.insert(patient.bsn.unwrap()), "BSNs are unique");
        assert!(patient.registered_gp.is_some());
        restricted += usize::from(!patient.treatment_restrictions.is_empty());
        let moments = epd.care_moments(&id, &ctx()).await.unwrap();
        assert!(
            moments.windows(2).all(|w| w[0].at <= w[1].at),
            "care moments in order"
        );
        epd.allergies(&id, &ctx()).await.unwrap();
        assert!(!epd.conclusions(&id, &ctx()).await.unwrap().is_empty());
        assert!(!epd.diagnoses(&id, &ctx()).await.unwrap().is_empty());
        assert!(!epd.medication(&id, &ctx()).await.unwrap().is_empty());
        for letter in epd.letters(&id, &ctx()).await.unwrap() {
            if letter.date < seed_letters_cutoff() {
                before_cutoff += 1;
            } else {
                after_cutoff += 1;
            }
            let document = epd.document(&id, &letter.id, &ctx()).await.unwrap();
            assert!(
                document
                    .content
                    .text()
                    .unwrap()
                    .contains(&patient.name.to_string())
            );
        }
        for category in ResultCategory::ALL {
            for report in epd.results(&id, category, &ctx()).await.unwrap() {
                assert_eq!(report.category, category);
                let expected = match category {
                    ResultCategory::ClinicalChemistry | ResultCategory::NuclearLab => {
                        matches!(report.content, ReportContent::Observations(_))
                    }
                    ResultCategory::Microbiology => {
                        matches!(report.content, ReportContent::Culture(_))
                    }
                    ResultCategory::Pathology
                    | ResultCategory::Radiology
                    | ResultCategory::Other => {
                        matches!(report.content, ReportContent::Text(_))
                    }
                };
                assert!(expected, "{category:?}");
            }
        }
        let history = epd.lab_history(&id, "2160-0", &ctx()).await.unwrap();
        assert!(
            history.windows(2).all(|w| w[0].effective < w[1].effective),
            "history oldest first"
        );
        assert!(history.iter().all(|o| o.code.code == "2160-0"));
    }
    assert!(
        before_cutoff > 0 && after_cutoff > 0,
        "letters on both sides of the cut-off"
    );
    assert!(restricted > 0, "some patients have treatment restrictions");
}

#[tokio::test]
async fn the_demo_gps_have_a_full_start_page() {
    let epd = SyntheticEpd::generate(2026, test_now(), 5_000).unwrap();
    for gp in demo_agbs() {
        let admitted = epd.admitted(&[gp], &ctx()).await.unwrap();
        assert!(admitted.len() >= 3, "{gp}: {} admitted", admitted.len());
        assert!(
            admitted
                .iter()
                .all(|l| l.admission.discharged_at().is_none()
                    && l.patient.registered_gp.as_ref().unwrap().agb == gp)
        );
        let since = test_now() - Duration::days(14);
        let discharged = epd.discharged_since(&[gp], since, &ctx()).await.unwrap();
        assert!(!discharged.is_empty(), "{gp}: none discharged");
        assert!(
            discharged
                .iter()
                .all(|l| l.admission.discharged_at().unwrap() >= since)
        );
    }
    // Other GPs have admitted patients too.
    let everyone: Vec<AgbCode> = (0..200)
        .filter_map(|n| AgbCode::new(1_020_000 + n))
        .collect();
    assert!(!epd.admitted(&everyone, &ctx()).await.unwrap().is_empty());
}

#[tokio::test]
async fn search_by_bsn_needs_the_right_birth_date() {
    let epd = SyntheticEpd::generate(2026, test_now(), 100).unwrap();
    let id = epd.patient_ids().nth(17).unwrap().clone();
    let patient = epd.patient(&id, &ctx()).await.unwrap();
    let bsn = patient.bsn.unwrap();
    assert_eq!(
        epd.find_by_bsn(bsn, None, &ctx()).await.unwrap(),
        Some(id.clone())
    );
    assert_eq!(
        epd.find_by_bsn(bsn, Some(patient.birth_date), &ctx())
            .await
            .unwrap(),
        Some(id)
    );
    let other_day = patient.birth_date - Duration::days(1);
    assert_eq!(
        epd.find_by_bsn(bsn, Some(other_day), &ctx()).await.unwrap(),
        None
    );
    assert_eq!(
        epd.find_by_bsn("111222333".parse().unwrap(), None, &ctx())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn unknown_things_are_not_found() {
    let epd = SyntheticEpd::generate(2026, test_now(), 50).unwrap();
    let nobody = "pat-999999".parse().unwrap();
    assert!(matches!(
        epd.patient(&nobody, &ctx()).await,
        Err(EpdError::NotFound(_))
    ));
    assert_eq!(epd.allergies(&nobody, &ctx()).await, Ok(Vec::new()));
    assert_eq!(epd.care_moments(&nobody, &ctx()).await, Ok(Vec::new()));
    let id = epd.patient_ids().next().unwrap().clone();
    let no_document = "doc-0-99".parse().unwrap();
    assert!(matches!(
        epd.document(&id, &no_document, &ctx()).await,
        Err(EpdError::NotFound(_))
    ));
    assert_eq!(epd.lab_history(&id, "0000-0", &ctx()).await, Ok(Vec::new()));
}

#[tokio::test]
async fn the_hospital_is_current_for_its_now() {
    let later = test_now() + Duration::days(400);
    let epd = SyntheticEpd::generate(2026, later, 300).unwrap();
    let admitted = epd.admitted(&demo_agbs(), &ctx()).await.unwrap();
    assert!(!admitted.is_empty());
    assert!(admitted.iter().all(|l| l.admission.admitted_at() <= later
        && l.admission.admitted_at() > later - Duration::days(11)));
}

/// The lists are read by the hospital's GP index: they hold exactly the patients a reading of
/// every patient finds, in the same order, each once, for one GP, several, and the same GP
/// asked twice.
#[tokio::test]
async fn the_lists_hold_what_a_reading_of_every_patient_finds() {
    let epd = SyntheticEpd::generate(2026, test_now(), 1_500).unwrap();
    let since = test_now() - Duration::days(14);
    let mut every = Vec::new();
    for id in epd.patient_ids().cloned().collect::<Vec<_>>() {
        let patient = epd.patient(&id, &ctx()).await.unwrap();
        let admission = epd.admission(&id).unwrap().cloned();
        every.push((patient, admission));
    }
    let agbs = demo_agbs();
    let asked: Vec<Vec<AgbCode>> =
        vec![vec![agbs[0]], agbs.clone(), vec![agbs[1], agbs[0], agbs[1]]];
    for gps in asked {
        let of_gps = |p: &zvp_core::Patient| {
            p.registered_gp
                .as_ref()
                .is_some_and(|g| gps.contains(&g.agb))
        };
        let admitted: Vec<_> = every
            .iter()
            .filter(|(p, a)| of_gps(p) && a.as_ref().is_some_and(|a| a.discharged_at().is_none()))
            .map(|(p, _)| p.id.clone())
            .collect();
        let discharged: Vec<_> = every
            .iter()
            .filter(|(p, a)| {
                of_gps(p)
                    && a.as_ref()
                        .and_then(|a| a.discharged_at())
                        .is_some_and(|d| d >= since)
            })
            .map(|(p, _)| p.id.clone())
            .collect();
        let listed = |l: Vec<zvp_epd::ListedPatient>| {
            l.into_iter().map(|l| l.patient.id).collect::<Vec<_>>()
        };
        assert!(!admitted.is_empty());
        assert_eq!(listed(epd.admitted(&gps, &ctx()).await.unwrap()), admitted);
        assert_eq!(
            listed(epd.discharged_since(&gps, since, &ctx()).await.unwrap()),
            discharged
        );
    }
    // A patient's letters are the same however often they are asked for.
    let id = epd.patient_ids().next().cloned().unwrap();
    let first = epd.letters(&id, &ctx()).await.unwrap();
    assert!(!first.is_empty());
    assert_eq!(epd.letters(&id, &ctx()).await.unwrap(), first);
}
