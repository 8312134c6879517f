//! The event as FHIR R4 AuditEvent JSON and as CSV, for exports and reports, and the review
//! report as CSV ([`review`]).

pub mod review;

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::event::{AuditEvent, Basis, EventType, Outcome, Subtype};

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const ACT_REASON: &str = "http://terminology.hl7.org/CodeSystem/v3-ActReason";
const UZI_PERSON: &str = "http://fhir.nl/fhir/NamingSystem/uzi-nr-pers";
const AGB: &str = "http://fhir.nl/fhir/NamingSystem/agb-z";
const BSN: &str = "http://fhir.nl/fhir/NamingSystem/bsn";
/// UZI role codes (rolcodes), as the Dutch profiles identify them.
const UZI_ROLE: &str = "urn:oid:2.16.840.1.113883.2.4.15.111";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const OBJECT_ROLE: &str = "http://terminology.hl7.org/CodeSystem/object-role";
/// The extension that carries NEN 7513's four checks.
pub const CHECKS_EXTENSION: &str = "https://zvp.dev/fhir/StructureDefinition/nen7513-checks";

fn display(event_type: EventType) -> &'static str {
    match event_type {
        EventType::PatientRecord => "Patient Record",
        EventType::Query => "Query",
        EventType::Login => "Login",
        EventType::Logout => "Logout",
        EventType::SecurityAlert => "Security Alert",
        EventType::SecurityRolesChanged => "Security Roles Changed",
        EventType::AuditLogUsed => "Audit Log Used",
        EventType::Notification => "Export",
    }
}

/// The basis as a policy string: `own`, `practice`, `delegation/<id>`, `emergency/<id>`,
/// `administrator`.
pub fn basis_code(basis: &Basis) -> String {
    match basis {
        Basis::Own => "own".to_owned(),
        Basis::Practice => "practice".to_owned(),
        Basis::Delegation { delegation, .. } => format!("delegation/{delegation}"),
        Basis::Emergency { grant, .. } => format!("emergency/{grant}"),
        Basis::Administrator => "administrator".to_owned(),
    }
}

/// The event as a FHIR R4 AuditEvent resource.
pub fn to_fhir(event: &AuditEvent) -> Value {
    let subtype = match event.subtype {
        Subtype::EmergencyStarted => Some(("110127", "Emergency Override Started")),
        Subtype::EmergencyStopped => Some(("110138", "Emergency Override Stopped")),
        Subtype::Emergency => Some(("110127", "Emergency Override Started")),
        Subtype::Regular | Subtype::LogAccess => None,
    };
    let outcome = match event.outcome {
        Outcome::Success => "0",
        Outcome::Denied => "4",
        Outcome::Error => "8",
    };
    let purpose = json!([{ "coding": [{ "system": ACT_REASON, "code": event.purpose.code() }] }]);
    let mut user = match &event.user {
        Some(user) => json!({
            "type": { "coding": [{ "system": DCM, "code": "110153", "display": "Source Role ID" }] },
            "who": {
                "identifier": { "system": UZI_PERSON, "value": user.uzi.to_string() },
                "display": user.name,
            },
            "name": user.name,
            "requestor": true,
            "role": [{ "coding": [{ "system": UZI_ROLE, "code": user.role.to_string() }] }],
            "purposeOfUse": purpose,
        }),
        // A refused card verifies no one: the agent is who the card claims to be, said so.
        None => {
            let claimed = event.card.as_ref().and_then(|c| c.uzi);
            json!({
                "type": { "coding": [{ "system": DCM, "code": "110153", "display": "Source Role ID" }] },
                "who": {
                    "identifier": claimed.map(|uzi| json!({ "system": UZI_PERSON, "value": uzi.to_string() })),
                    "display": "unverified card",
                },
                "requestor": true,
                "purposeOfUse": purpose,
            })
        }
    };
    if let Some(object) = user.as_object_mut() {
        if let Some(agb) = event.user.as_ref().and_then(|u| u.agb) {
            object.insert("altId".to_owned(), agb.to_string().into());
        }
        if let Some(ip) = event.access_point.ip {
            object.insert(
                "network".to_owned(),
                json!({ "address": ip.to_string(), "type": "2" }),
            );
        }
        if let Some(basis) = &event.basis {
            object.insert("policy".to_owned(), json!([basis_code(basis)]));
        }
    }
    let mut agents = vec![user];
    if let Some(responsible) = &event.on_behalf_of {
        agents.push(json!({
            "who": {
                "identifier": { "system": AGB, "value": responsible.agb.to_string() },
                "display": responsible.name,
            },
            "requestor": false,
        }));
    }
    let mut entities = Vec::new();
    if let Some(patient) = &event.patient {
        let mut what = json!({ "reference": format!("Patient/{}", patient.id) });
        if let (Some(bsn), Some(object)) = (patient.bsn, what.as_object_mut()) {
            object.insert(
                "identifier".to_owned(),
                json!({ "system": BSN, "value": bsn.to_string() }),
            );
        }
        entities.push(json!({
            "what": what,
            "type": { "system": ENTITY_TYPE, "code": "1", "display": "Person" },
            "role": { "system": OBJECT_ROLE, "code": "1", "display": "Patient" },
        }));
    }
    let mut details = vec![json!({ "type": "request-id", "valueString": event.request_id })];
    if let Some(certificate) = &event.access_point.certificate_sha256 {
        details.push(json!({ "type": "certificate-sha256", "valueString": certificate }));
    }
    if let Some(dezi) = &event.access_point.dezi {
        details.push(json!({ "type": "dezi-verklaring-id", "valueString": dezi.verklaring_id }));
        details.push(json!({ "type": "dezi-number", "valueString": dezi.dezi_number }));
    }
    // The details of searches, cards and changes, as the log holds them.
    let extra = [
        (
            "query",
            event
                .query
                .as_ref()
                .and_then(|q| serde_json::to_string(q).ok()),
        ),
        (
            "card",
            event
                .card
                .as_ref()
                .and_then(|c| serde_json::to_string(c).ok()),
        ),
        (
            "change",
            event
                .change
                .as_ref()
                .and_then(|c| serde_json::to_string(c).ok()),
        ),
    ];
    for (kind, value) in extra {
        if let Some(value) = value {
            details.push(json!({ "type": kind, "valueString": value }));
        }
    }
    let part = event.part.as_ref().map_or_else(
        || "none".to_owned(),
        |p| match &p.item {
            Some(item) => format!("{}/{item}", p.section),
            None => p.section.to_string(),
        },
    );
    entities.push(json!({
        "what": { "display": part },
        "type": { "system": ENTITY_TYPE, "code": "2", "display": "System Object" },
        "detail": details,
    }));
    let mut resource = json!({
        "resourceType": "AuditEvent",
        "extension": [{
            "url": CHECKS_EXTENSION,
            "extension": [
                { "url": "authorisation", "valueBoolean": event.checks.authorisation },
                { "url": "treatment-relation", "valueBoolean": event.checks.treatment_relation },
                { "url": "consent", "valueBoolean": event.checks.consent },
                { "url": "emergency", "valueBoolean": event.checks.emergency },
            ],
        }],
        "type": { "system": DCM, "code": event.event_type.dicom_code(), "display": display(event.event_type) },
        "action": format!("{:?}", event.action),
        "recorded": event.recorded.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "outcome": outcome,
        "purposeOfEvent": purpose,
        "agent": agents,
        "source": {
            "site": event.source.hospital,
            "observer": { "display": event.source.instance },
        },
        "entity": entities,
    });
    if let Some(object) = resource.as_object_mut() {
        if let Some((code, text)) = subtype {
            object.insert(
                "subtype".to_owned(),
                json!([{ "system": DCM, "code": code, "display": text }]),
            );
        }
        if let Some(reason) = &event.reason {
            object.insert("outcomeDesc".to_owned(), reason.clone().into());
        }
    }
    resource
}

/// The CSV header of [`to_csv_row`].
pub const CSV_HEADER: &str = "recorded,event_type,action,outcome,subtype,basis,purpose,\
user_uzi,user_agb,user_name,user_role,on_behalf_of_agb,patient_id,patient_bsn,part,ip,\
certificate_sha256,instance,hospital,request_id,reason,checked_authorisation,\
checked_treatment_relation,checked_consent,emergency,dezi_verklaring_id";

/// The event as one CSV row (RFC 4180 quoting), in the columns of [`CSV_HEADER`].
pub fn to_csv_row(event: &AuditEvent) -> String {
    let part = event.part.as_ref().map(|p| match &p.item {
        Some(item) => format!("{}/{item}", p.section),
        None => p.section.to_string(),
    });
    let fields: [Option<String>; 26] = [
        Some(
            event
                .recorded
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        ),
        Some(event.event_type.dicom_code().to_owned()),
        Some(format!("{:?}", event.action)),
        Some(format!("{:?}", event.outcome).to_lowercase()),
        Some(format!("{:?}", event.subtype).to_lowercase()),
        event.basis.as_ref().map(basis_code),
        Some(event.purpose.code().to_owned()),
        event.user.as_ref().map(|u| u.uzi.to_string()),
        event
            .user
            .as_ref()
            .and_then(|u| u.agb)
            .map(|a| a.to_string()),
        event.user.as_ref().map(|u| u.name.clone()),
        event.user.as_ref().map(|u| u.role.to_string()),
        event.on_behalf_of.as_ref().map(|r| r.agb.to_string()),
        event.patient.as_ref().map(|p| p.id.to_string()),
        event
            .patient
            .as_ref()
            .and_then(|p| p.bsn)
            .map(|b| b.to_string()),
        part,
        event.access_point.ip.map(|ip| ip.to_string()),
        event.access_point.certificate_sha256.clone(),
        Some(event.source.instance.clone()),
        Some(event.source.hospital.clone()),
        Some(event.request_id.clone()),
        event.reason.clone(),
        Some(event.checks.authorisation.to_string()),
        Some(event.checks.treatment_relation.to_string()),
        Some(event.checks.consent.to_string()),
        Some(event.checks.emergency.to_string()),
        event
            .access_point
            .dezi
            .as_ref()
            .map(|d| d.verklaring_id.clone()),
    ];
    csv_row(&fields)
}

/// One CSV row of `fields` (RFC 4180 quoting; an absent field is empty).
pub(crate) fn csv_row(fields: &[Option<String>]) -> String {
    let mut row = String::new();
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            row.push(',');
        }
        let field = field.as_deref().unwrap_or("");
        if field.contains([',', '"', '\n', '\r']) {
            let _ = write!(row, "\"{}\"", field.replace('"', "\"\""));
        } else {
            row.push_str(field);
        }
    }
    row
}
