//! Every route through the authorization matrix: route × own / practice / delegated / other /
//! emergency / administrator / blocked / ineligible, asserting the status and that the
//! patient's name and BSN appear only where they may; the administration and the login in
//! `administration.rs`, the review report in `review.rs`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod administration;
#[path = "../common/mod.rs"]
mod common;
mod review;

use common::{TestPortal, Who};
use zvp_audit::event::{Basis, EventType, Subtype};
use zvp_audit::log::AuditLog as _;
use zvp_epd::synthetic::seed_letters_cutoff;
use zvp_epd::{Epd, RequestContext};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_for_every_kind_of_caller() {
    use Who::*;
    let t = TestPortal::new().await;
    let (id, patient) = t.own_patient().await;
    let name = patient.name.to_string();
    let bsn = patient.bsn.unwrap().to_string();
    let ctx = RequestContext {
        request_id: "t".to_owned(),
    };
    let letter = t
        .epd
        .letters(&id, &ctx)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.date >= seed_letters_cutoff())
        .unwrap();

    // The emergency caller first opens the record through the emergency procedure.
    let before = t.get(Some(Emergency), &format!("/patient/{id}")).await;
    assert_eq!(before.status, 403);
    assert!(before.body.contains("Noodprocedure") && !before.body.contains(&name));
    let started = t
        .post_form(
            Emergency,
            &format!("/patient/{id}/noodprocedure"),
            &[
                ("reden", "out-of-hours"),
                (
                    "toelichting",
                    "Patiënt op de huisartsenpost met pijn op de borst",
                ),
            ],
        )
        .await;
    assert_eq!(
        (started.status, started.location()),
        (303, Some(format!("/patient/{id}").as_str()))
    );

    let patient_page = [200, 200, 200, 403, 200, 403, 403, 403];
    let routes: Vec<(String, [u16; 8])> = vec![
        ("/".to_owned(), [200, 200, 200, 200, 200, 303, 403, 403]),
        (format!("/patient/{id}"), patient_page),
        (format!("/patient/{id}/dossier/medicatie"), patient_page),
        (format!("/patient/{id}/dossier/brieven"), patient_page),
        (format!("/patient/{id}/dossier/allergieen"), patient_page),
        (format!("/patient/{id}/dossier/diagnoses"), patient_page),
        (format!("/patient/{id}/dossier/conclusies"), patient_page),
        (
            format!("/patient/{id}/uitslagen/klinische-chemie"),
            patient_page,
        ),
        (
            format!("/patient/{id}/uitslagen/microbiologie"),
            patient_page,
        ),
        (format!("/patient/{id}/uitslagen/radiologie"), patient_page),
        (format!("/patient/{id}/lab/2160-0"), patient_page),
        (
            format!("/patient/{id}/document/{}", letter.id),
            patient_page,
        ),
        (
            "/machtigingen".to_owned(),
            [200, 200, 200, 200, 200, 200, 403, 403],
        ),
        (
            "/beheer".to_owned(),
            [403, 403, 403, 403, 403, 200, 403, 403],
        ),
        (
            format!("/beheer/audit?bsn={bsn}"),
            [403, 403, 403, 403, 403, 200, 403, 403],
        ),
    ];
    let mut checked = 0;
    for (path, expected) in &routes {
        for (who, &status) in Who::ALL.iter().zip(expected) {
            let reply = t.get(Some(*who), path).await;
            assert_eq!(
                reply.status,
                status,
                "{who:?} GET {path}: {}",
                &reply.body[..reply.body.len().min(400)]
            );
            let may_show = status == 200
                && (path.starts_with("/patient/")
                    || (path == "/" && matches!(who, Own | Practice | Delegated)));
            if !may_show {
                assert!(
                    !reply.body.contains(&name),
                    "{who:?} GET {path} shows the patient's name"
                );
                assert!(
                    !reply.body.contains(&bsn) || path.starts_with("/beheer/audit"),
                    "{who:?} GET {path} shows the BSN"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, routes.len() * 8);

    // The own GP's list names the patient, with the basis.
    let start = t.get(Some(Own), "/").await;
    assert!(start.body.contains(&name) && start.body.contains("Eigen patiënt"));
    let delegated = t.get(Some(Delegated), "/").await;
    assert!(delegated.body.contains(&name) && delegated.body.contains("Gemachtigd door Own Test"));
    let practice = t.get(Some(Practice), "/").await;
    assert!(practice.body.contains(&name) && practice.body.contains("Patiënt van uw praktijk"));

    // The patient's own GP is told, without the free-text reason.
    let notice = t.get(Some(Own), "/").await;
    assert!(
        notice.body.contains("Noodprocedure bij uw patiënten"),
        "{}",
        notice.body
    );
    assert!(
        notice.body.contains("Emergency Test (UZI 900000105)")
            && notice.body.contains("reden: huisartsenpost")
    );
    assert!(!notice.body.contains("pijn op de borst"));
    let other = t.get(Some(Other), "/").await;
    assert!(!other.body.contains("Noodprocedure bij uw patiënten"));

    // The emergency grant shows with its expiry on every page of the patient.
    let page = t
        .get(Some(Emergency), &format!("/patient/{id}/dossier/medicatie"))
        .await;
    assert!(
        page.body
            .contains("via de noodprocedure, tot 26-11-2026 09:00"),
        "{}",
        page.body
    );

    // Every disclosure is in the audit log with its basis.
    let events = t.audit.events().await.unwrap();
    let id_ref = &id;
    let name_of = |e: &zvp_audit::event::AuditEvent| e.user.as_ref().map(|u| u.name.clone());
    // What each saw: the records of reads (refused attempts are recorded too, as security
    // alerts, and show nothing).
    let about = |who: Who| {
        events.iter().filter(move |(_, e)| {
            name_of(e) == Some(format!("{who:?} Test"))
                && e.event_type == EventType::PatientRecord
                && e.patient.as_ref().is_some_and(|p| &p.id == id_ref)
        })
    };
    assert!(about(Own).any(|(_, e)| e.basis == Some(Basis::Own)));
    assert!(about(Practice).any(|(_, e)| e.basis == Some(Basis::Practice)));
    assert!(about(Delegated).any(|(_, e)| {
        matches!(e.basis, Some(Basis::Delegation { grantor, .. }) if grantor == common::demo_agb(0))
            && e.on_behalf_of
                .as_ref()
                .is_some_and(|r| r.agb == common::demo_agb(0))
    }));
    assert!(
        about(Emergency).any(|(_, e)| e.subtype == Subtype::EmergencyStarted
            && e.reason.as_deref()
                == Some("out-of-hours: Patiënt op de huisartsenpost met pijn op de borst"))
    );
    assert!(
        about(Emergency).any(|(_, e)| e.subtype == Subtype::Emergency
            && matches!(e.basis, Some(Basis::Emergency { .. })))
    );
    for who in [Other, Administrator, Blocked, Ineligible] {
        assert_eq!(
            about(who).count(),
            0,
            "{who:?} saw nothing, so nothing is recorded as seen"
        );
    }
    // Reading the log is itself logged.
    assert!(
        events
            .iter()
            .any(|(_, e)| e.event_type == EventType::AuditLogUsed
                && name_of(e).as_deref() == Some("Administrator Test"))
    );
}

#[tokio::test]
async fn a_new_crl_takes_effect_without_a_restart() {
    let t = TestPortal::new().await;
    assert_eq!(t.get(Some(Who::Own), "/").await.status, 200);
    let card = Who::Own.card();
    let crl = common::pki()
        .crl(
            zvp_core::CardType::CareProvider,
            &[&card],
            common::now() - chrono::Duration::hours(1),
            common::now() + chrono::Duration::hours(47),
        )
        .unwrap();
    let validator = common::pki()
        .validator()
        .unwrap()
        .with_crls([crl])
        .unwrap()
        .with_accepted_card_types(&[
            zvp_core::CardType::CareProvider,
            zvp_core::CardType::NamedEmployee,
        ]);
    t.portal.replace_validator(std::sync::Arc::new(validator));
    let refused = t.get(Some(Who::Own), "/").await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("revoked"), "{}", refused.body);
}

#[tokio::test]
async fn without_a_valid_card_nothing_is_served() {
    let t = TestPortal::new().await;
    let none = t.get(None, "/").await;
    assert_eq!(none.status, 403);
    assert!(none.body.contains("no-certificate") && none.body.contains("Referentienummer"));
    assert!(none.body.contains("Bureau Huisartsencontacten"));
}

#[tokio::test]
async fn no_audit_record_no_data() {
    // An audit log that cannot write: the page fails closed without patient data.
    struct Broken;
    #[async_trait::async_trait]
    impl zvp_audit::log::AuditLog for Broken {
        async fn append(
            &self,
            _: &zvp_audit::event::AuditEvent,
        ) -> Result<zvp_audit::log::Receipt, zvp_audit::log::LogError> {
            Err(zvp_audit::log::LogError::Io("disk full".to_owned()))
        }
        async fn size(&self) -> Result<u64, zvp_audit::log::LogError> {
            Err(zvp_audit::log::LogError::Io("disk full".to_owned()))
        }
        async fn inclusion_proof(
            &self,
            _: u64,
            _: u64,
        ) -> Result<Vec<zvp_audit::merkle::Hash>, zvp_audit::log::LogError> {
            Err(zvp_audit::log::LogError::Io("disk full".to_owned()))
        }
        async fn consistency_proof(
            &self,
            _: u64,
            _: u64,
        ) -> Result<Vec<zvp_audit::merkle::Hash>, zvp_audit::log::LogError> {
            Err(zvp_audit::log::LogError::Io("disk full".to_owned()))
        }
        async fn checkpoint(
            &self,
            _: &zvp_audit::checkpoint::CheckpointSigner,
            _: &str,
        ) -> Result<String, zvp_audit::log::LogError> {
            Err(zvp_audit::log::LogError::Io("disk full".to_owned()))
        }
        async fn events(
            &self,
        ) -> Result<Vec<(u64, zvp_audit::event::AuditEvent)>, zvp_audit::log::LogError> {
            Err(zvp_audit::log::LogError::Io("disk full".to_owned()))
        }
    }
    let t = TestPortal::with_audit(Some(std::sync::Arc::new(Broken))).await;
    let (id, patient) = t.own_patient().await;
    for path in [
        format!("/patient/{id}"),
        format!("/patient/{id}/uitslagen/klinische-chemie"),
        "/".to_owned(),
    ] {
        let reply = t.get(Some(Who::Own), &path).await;
        assert_eq!(reply.status, 503, "{path}");
        assert!(!reply.body.contains(&patient.name.to_string()), "{path}");
        assert!(reply.body.contains("tijdelijk niet beschikbaar"));
        // A login the log could not take starts no session: no cookie is handed out.
        assert_eq!(reply.cookie, None, "{path}");
    }
}

#[tokio::test]
async fn pages_carry_the_security_headers() {
    let t = TestPortal::new().await;
    let (id, _) = t.own_patient().await;
    for path in [
        "/".to_owned(),
        format!("/patient/{id}"),
        "/nergens".to_owned(),
    ] {
        let reply = t.get(Some(Who::Own), &path).await;
        let h = |name: &str| {
            reply
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        assert!(
            h("content-security-policy").contains("default-src 'none'"),
            "{path}"
        );
        assert!(!h("content-security-policy").contains("unsafe-inline"));
        assert_eq!(h("x-frame-options"), "DENY");
        assert_eq!(h("referrer-policy"), "same-origin");
        assert_eq!(h("cache-control"), "no-store", "{path}");
        assert!(h("strict-transport-security").starts_with("max-age="));
    }
    let cookie = t.get(Some(Who::Own), "/").await;
    let set = cookie.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        set.contains("Secure") && set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
}

#[tokio::test]
async fn forms_need_the_session_csrf_token() {
    let t = TestPortal::new().await;
    let first = t.get(Some(Who::Own), "/zoeken").await;
    let cookie = first.cookie.unwrap();
    let request = axum::http::Request::post("/zoeken")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", format!("__Host-zvp={cookie}"))
        .body(axum::body::Body::from(
            "csrf=forged&bsn=111222333&geboortedatum=1950-01-01",
        ))
        .unwrap();
    let reply = t.send(Some(Who::Own), request).await;
    assert_eq!(reply.status, 403);
    assert!(reply.body.contains("Formulier verlopen"));
}

#[tokio::test]
async fn a_session_belongs_to_its_certificate() {
    let t = TestPortal::new().await;
    let own = t.get(Some(Who::Own), "/").await;
    let cookie = own.cookie.unwrap();
    let request = axum::http::Request::get("/")
        .header("cookie", format!("__Host-zvp={cookie}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let other = t.send(Some(Who::Other), request).await;
    assert_eq!(other.status, 200);
    assert!(other.body.contains("andere UZI-pas"), "{}", other.body);
    assert!(other.cookie.is_some_and(|c| c != cookie));
}

#[tokio::test]
async fn search_opens_own_patients_and_offers_the_emergency_procedure_for_others() {
    let t = TestPortal::new().await;
    let (id, patient) = t.own_patient().await;
    let birth = patient.birth_date.to_string();
    let bsn = patient.bsn.unwrap().to_string();
    let own = t
        .post_form(
            Who::Own,
            "/zoeken",
            &[("bsn", &bsn), ("geboortedatum", &birth)],
        )
        .await;
    assert_eq!(
        (own.status, own.location()),
        (303, Some(format!("/patient/{id}").as_str()))
    );
    let other = t
        .post_form(
            Who::Other,
            "/zoeken",
            &[("bsn", &bsn), ("geboortedatum", &birth)],
        )
        .await;
    assert_eq!(other.status, 403);
    assert!(
        other.body.contains("Noodprocedure") && !other.body.contains(&patient.name.to_string())
    );
    let wrong = t
        .post_form(
            Who::Own,
            "/zoeken",
            &[("bsn", "111222334"), ("geboortedatum", &birth)],
        )
        .await;
    assert!(wrong.body.contains("elfproef"));
    let unknown = t
        .post_form(
            Who::Own,
            "/zoeken",
            &[("bsn", &bsn), ("geboortedatum", "1900-01-01")],
        )
        .await;
    assert!(unknown.body.contains("kent geen patiënt"));
    let short = t
        .post_form(
            Who::Other,
            &format!("/patient/{id}/noodprocedure"),
            &[("reden", "acute-care"), ("toelichting", "even kijken")],
        )
        .await;
    assert_eq!(short.status, 403);
    assert!(short.body.contains("minstens 20 tekens"), "{}", short.body);
}

#[tokio::test]
async fn letters_before_the_cut_off_stay_hidden() {
    let t = TestPortal::new().await;
    let ctx = RequestContext {
        request_id: "t".to_owned(),
    };
    // A demo GP 0 patient with a letter from before the cut-off.
    for id in t.epd.patient_ids().cloned().collect::<Vec<_>>() {
        let p = t.epd.patient(&id, &ctx).await.unwrap();
        if p.registered_gp.as_ref().map(|g| g.agb) != Some(common::demo_agb(0)) {
            continue;
        }
        let letters = t.epd.letters(&id, &ctx).await.unwrap();
        let Some(old) = letters.iter().find(|l| l.date < seed_letters_cutoff()) else {
            continue;
        };
        let page = t
            .get(Some(Who::Own), &format!("/patient/{id}/dossier/brieven"))
            .await;
        assert!(!page.body.contains(&format!("/document/{}\"", old.id)));
        assert!(page.body.contains("worden hier niet getoond"));
        let direct = t
            .get(
                Some(Who::Own),
                &format!("/patient/{id}/document/{}", old.id),
            )
            .await;
        assert_eq!(direct.status, 404);
        return;
    }
    panic!("no patient with an old letter");
}
