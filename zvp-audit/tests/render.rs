//! The FHIR AuditEvent and CSV renderings carry every NEN 7513 field.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use chrono::{TimeZone, Utc};
use zvp_audit::event::{
    AccessPoint, ActionCode, AuditEvent, Basis, Checks, EventType, Outcome, Part, PatientRef,
    PurposeOfUse, Responsible, Source, Subtype, User,
};
use zvp_audit::render::{CSV_HEADER, to_csv_row, to_fhir};
use zvp_core::{DossierSection, RecordSection, RoleCode};

fn delegated_read() -> AuditEvent {
    AuditEvent {
        event_type: EventType::PatientRecord,
        action: ActionCode::R,
        recorded: Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap(),
        outcome: Outcome::Success,
        subtype: Subtype::Regular,
        checks: Checks {
            authorisation: true,
            treatment_relation: true,
            consent: false,
            emergency: false,
        },
        basis: Some(Basis::Delegation {
            grantor: "01000002".parse().unwrap(),
            delegation: 7,
        }),
        purpose: PurposeOfUse::Treat,
        user: Some(User {
            uzi: "900000001".parse().unwrap(),
            agb: Some("01000001".parse().unwrap()),
            name: "Vries, J. \"Jan\" de".to_owned(),
            role: RoleCode::GENERAL_PRACTITIONER,
        }),
        on_behalf_of: Some(Responsible {
            agb: "01000002".parse().unwrap(),
            name: Some("P. Bakker".to_owned()),
        }),
        access_point: AccessPoint {
            ip: Some("192.0.2.10".parse().unwrap()),
            certificate_sha256: Some("ab".repeat(32)),
            dezi: None,
        },
        patient: Some(PatientRef {
            id: "p-1".parse().unwrap(),
            bsn: Some("111222333".parse().unwrap()),
        }),
        part: Some(Part {
            section: RecordSection::Dossier(DossierSection::Letters),
            item: Some("doc-9".to_owned()),
        }),
        source: Source {
            instance: "portal-1".to_owned(),
            hospital: "ASz".to_owned(),
        },
        request_id: "req-42".to_owned(),
        reason: None,
        query: None,
        card: None,
        change: None,
    }
}

#[test]
fn fhir_audit_event_has_every_field() {
    let fhir = to_fhir(&delegated_read());
    assert_eq!(fhir["resourceType"], "AuditEvent");
    assert_eq!(fhir["type"]["code"], "110110");
    assert_eq!(fhir["action"], "R");
    assert_eq!(fhir["recorded"], "2026-11-25T10:00:00.000Z");
    assert_eq!(fhir["outcome"], "0");
    assert_eq!(fhir["purposeOfEvent"][0]["coding"][0]["code"], "TREAT");
    let user = &fhir["agent"][0];
    assert_eq!(user["who"]["identifier"]["value"], "900000001");
    assert_eq!(user["altId"], "01000001");
    assert_eq!(user["role"][0]["coding"][0]["code"], "01.015");
    assert_eq!(user["policy"][0], "delegation/7");
    assert_eq!(user["network"]["address"], "192.0.2.10");
    assert_eq!(user["requestor"], true);
    let responsible = &fhir["agent"][1];
    assert_eq!(responsible["who"]["identifier"]["value"], "01000002");
    assert_eq!(responsible["requestor"], false);
    assert_eq!(
        fhir["entity"][0]["what"]["identifier"]["value"],
        "111222333"
    );
    assert_eq!(fhir["entity"][0]["what"]["reference"], "Patient/p-1");
    assert_eq!(
        fhir["entity"][1]["what"]["display"],
        "dossier/letters/doc-9"
    );
    assert_eq!(fhir["entity"][1]["detail"][0]["valueString"], "req-42");
    assert_eq!(fhir["source"]["site"], "ASz");
    let checks = &fhir["extension"][0]["extension"];
    assert_eq!(checks[0]["valueBoolean"], true);
    assert_eq!(checks[3]["valueBoolean"], false);
    assert!(fhir.get("subtype").is_none());
}

#[test]
fn emergency_and_denied_events_say_so() {
    let mut event = delegated_read();
    event.subtype = Subtype::EmergencyStarted;
    event.outcome = Outcome::Denied;
    event.reason = Some("reason-too-short".to_owned());
    event.purpose = PurposeOfUse::BreakTheGlass;
    let fhir = to_fhir(&event);
    assert_eq!(fhir["subtype"][0]["code"], "110127");
    assert_eq!(fhir["outcome"], "4");
    assert_eq!(fhir["outcomeDesc"], "reason-too-short");
    assert_eq!(
        fhir["agent"][0]["purposeOfUse"][0]["coding"][0]["code"],
        "BTG"
    );
}

#[test]
fn csv_rows_match_the_header_and_quote_what_needs_it() {
    let row = to_csv_row(&delegated_read());
    assert!(row.starts_with("2026-11-25T10:00:00.000Z,110110,R,success,regular,delegation/7,TREAT,900000001,01000001,\"Vries, J. \"\"Jan\"\" de\",01.015,01000002,p-1,111222333,dossier/letters/doc-9,192.0.2.10,"), "{row}");
    assert!(
        row.ends_with(",portal-1,ASz,req-42,,true,true,false,false,"),
        "{row}"
    );
    // 26 columns: count the commas outside quotes.
    let mut quoted = false;
    let commas = row
        .chars()
        .filter(|&c| {
            if c == '"' {
                quoted = !quoted;
            }
            c == ',' && !quoted
        })
        .count();
    assert_eq!(commas + 1, CSV_HEADER.split(',').count());
}

#[test]
fn a_dezi_login_is_named_by_its_verklaring_in_both_renderings() {
    let mut event = delegated_read();
    event.access_point.certificate_sha256 = None;
    event.access_point.dezi = Some(zvp_audit::event::DeziMeans {
        verklaring_id: "vk-1".to_owned(),
        dezi_number: "900000111".to_owned(),
    });
    assert!(to_csv_row(&event).ends_with(",false,false,vk-1"));
    let fhir = to_fhir(&event);
    let details = fhir["entity"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["detail"].as_array().cloned().unwrap_or_default())
        .map(|d| {
            (
                d["type"].as_str().unwrap().to_owned(),
                d["valueString"].clone(),
            )
        })
        .collect::<Vec<_>>();
    assert!(
        details.contains(&("dezi-verklaring-id".to_owned(), "vk-1".into())),
        "{details:?}"
    );
    assert!(
        details.contains(&("dezi-number".to_owned(), "900000111".into())),
        "{details:?}"
    );
    assert!(!details.iter().any(|(t, _)| t == "certificate-sha256"));
}
