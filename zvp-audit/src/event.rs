//! The audit event: every field NEN 7513 asks for (`docs/audit.md`, "What is recorded"), typed.
//!
//! The event records the fact, never the content: which part of which patient's record was
//! read, by whom, on whose behalf, on what basis, with what outcome — not the data itself.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zvp_core::{AgbCode, Bsn, PatientId, RecordSection, RoleCode, UziNumber};

mod detail;

pub use detail::{Card, Change, Query, QueryOutcome, Target};

/// What happened (the DICOM audit event ids that FHIR AuditEvent `type` uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventType {
    /// 110110 Patient Record: a read of patient data, a list, a print or export.
    PatientRecord,
    /// 110112 Query: a search for a patient.
    Query,
    /// 110122 Login.
    Login,
    /// 110123 Logout.
    Logout,
    /// 110113 Security Alert: a refused attempt, a blocked card.
    SecurityAlert,
    /// 110136 Security Roles Changed: accounts and delegations created, changed or revoked.
    SecurityRolesChanged,
    /// 110101 Audit Log Used: any access to this log.
    AuditLogUsed,
    /// 110106 Export: a notification mail sent to a practitioner (recipient account, kind
    /// and count; never a patient).
    Notification,
}

impl EventType {
    /// The DICOM code (`DCM` code system).
    pub const fn dicom_code(self) -> &'static str {
        match self {
            Self::PatientRecord => "110110",
            Self::Query => "110112",
            Self::Login => "110122",
            Self::Logout => "110123",
            Self::SecurityAlert => "110113",
            Self::SecurityRolesChanged => "110136",
            Self::AuditLogUsed => "110101",
            Self::Notification => "110106",
        }
    }
}

/// The kind of action (FHIR AuditEvent `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActionCode {
    /// Create.
    C,
    /// Read (view, print, list, search).
    R,
    /// Update.
    U,
    /// Delete.
    D,
    /// Execute: the start or end of a process, such as the emergency procedure.
    E,
}

/// How the event ended (FHIR AuditEvent `outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was refused (the policy said no, or login failed).
    Denied,
    /// It failed (the EPD was down, say).
    Error,
}

/// Regular access, the emergency procedure, or access to the log itself (FHIR `subtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Subtype {
    /// Regular access.
    Regular,
    /// 110127 Emergency Override Started.
    EmergencyStarted,
    /// Access under an emergency grant.
    Emergency,
    /// 110138 Emergency Override Stopped.
    EmergencyStopped,
    /// Access to the audit log.
    LogAccess,
}

/// The four checks NEN 7513 asks to record, each done or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Checks {
    /// The user's authorisation was checked.
    pub authorisation: bool,
    /// The treatment relation was checked.
    pub treatment_relation: bool,
    /// The patient's consent was checked.
    pub consent: bool,
    /// The emergency button was used.
    pub emergency: bool,
}

/// The basis on which access was given (the policy's decision).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "basis")]
pub enum Basis {
    /// The patient's registered GP is the user.
    Own,
    /// The patient's registered GP is the user's practice.
    Practice,
    /// The patient's registered GP delegated to the user.
    Delegation {
        /// The delegating GP.
        grantor: AgbCode,
        /// The delegation's id.
        delegation: u64,
    },
    /// An emergency grant.
    Emergency {
        /// The grant's id.
        grant: u64,
        /// The coded reason.
        reason_category: String,
    },
    /// An administrator's action.
    Administrator,
}

/// Why the user acted (HL7 v3 ActReason, FHIR `agent.purposeOfUse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PurposeOfUse {
    /// `TREAT`: treatment.
    #[serde(rename = "TREAT")]
    Treat,
    /// `ETREAT`: emergency treatment.
    #[serde(rename = "ETREAT")]
    EmergencyTreat,
    /// `BTG`: break the glass.
    #[serde(rename = "BTG")]
    BreakTheGlass,
    /// `HOPERAT`: healthcare operations (administration, audit).
    #[serde(rename = "HOPERAT")]
    Operations,
}

impl PurposeOfUse {
    /// The ActReason code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Treat => "TREAT",
            Self::EmergencyTreat => "ETREAT",
            Self::BreakTheGlass => "BTG",
            Self::Operations => "HOPERAT",
        }
    }
}

/// Who acted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct User {
    /// The user's UZI number (a Dezi number will get its own variant when Dezi arrives).
    pub uzi: UziNumber,
    /// The user's personal AGB code, if known.
    pub agb: Option<AgbCode>,
    /// The user's name.
    pub name: String,
    /// The role code on the card.
    pub role: RoleCode,
}

/// The practitioner on whose behalf the user acted (for a delegation: the delegating GP).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Responsible {
    /// Their AGB code.
    pub agb: AgbCode,
    /// Their name, if known.
    pub name: Option<String>,
}

/// Where the user acted from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccessPoint {
    /// The client's IP address.
    pub ip: Option<IpAddr>,
    /// The SHA-256 fingerprint of the user's certificate (hex): the UZI-pas the user is
    /// logged in with.
    pub certificate_sha256: Option<String>,
    /// The Dezi login the user is logged in with, instead of a UZI-pas. Absent from records
    /// of a UZI-pas, and from every record written before Dezi login existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dezi: Option<DeziMeans>,
}

/// A Dezi login as the audit log names it: the verklaring it was made with (the platform
/// finds it, and its revocation, by this id) and the practitioner's Dezi number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeziMeans {
    /// The verklaring's `verklaring_id`.
    pub verklaring_id: String,
    /// The practitioner's Dezi number.
    pub dezi_number: String,
}

/// The patient concerned.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PatientRef {
    /// The EPD's id.
    pub id: PatientId,
    /// The BSN, if the EPD has one.
    pub bsn: Option<Bsn>,
}

/// The part of the record read: a section and, where it names one, the item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Part {
    /// The section.
    pub section: RecordSection,
    /// The document or report id, or the code of a lab test's history.
    pub item: Option<String>,
}

/// The system that wrote the event.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Source {
    /// The portal instance.
    pub instance: String,
    /// The hospital.
    pub hospital: String,
}

/// One audit event with every field NEN 7513 asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// What happened.
    pub event_type: EventType,
    /// The kind of action.
    pub action: ActionCode,
    /// When it started (UTC, milliseconds).
    #[serde(serialize_with = "rfc3339")]
    pub recorded: DateTime<Utc>,
    /// How it ended.
    pub outcome: Outcome,
    /// Regular, emergency, or log access.
    pub subtype: Subtype,
    /// The checks made.
    pub checks: Checks,
    /// The basis of access, if access was given.
    pub basis: Option<Basis>,
    /// Why.
    pub purpose: PurposeOfUse,
    /// Who: always, but for a card the validation refused, which verifies no one (its claims
    /// are in `card`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<User>,
    /// On whose behalf, if not their own.
    pub on_behalf_of: Option<Responsible>,
    /// From where.
    pub access_point: AccessPoint,
    /// Which patient, if one.
    pub patient: Option<PatientRef>,
    /// Which part of the record, if any.
    pub part: Option<Part>,
    /// Which system.
    pub source: Source,
    /// The request id, also sent to the EPD.
    pub request_id: String,
    /// A refusal's reason code, or an error's, if any (`account-blocked`, `epd-timeout`).
    pub reason: Option<String>,
    // The fields below came after the first records were written: absent when empty, so that
    // a record without them reads, and serializes, as it was written.
    /// What a search or a look-up in the log asked for, and what a search came to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<Query>,
    /// The card of a login, a logout or a refused card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    /// What an administrative change changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

/// `recorded` as chrono writes it (RFC 3339, fraction as needed, `Z`), written whole and then
/// handed to the serializer: chrono's own `Serialize` goes through `fmt` a character at a time
/// into serde_json's escaping, and every record of a page writes one.
fn rfc3339<S: serde::Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

impl AuditEvent {
    /// The user's UZI number, if the event has a verified user.
    pub fn user_uzi(&self) -> Option<UziNumber> {
        self.user.as_ref().map(|u| u.uzi)
    }
}

impl AuditEvent {
    /// An example event, numbered `n`: user "user n" (UZI 900000001, AGB 01000001, huisarts)
    /// reads patient `p<n>`'s details as their own patient, from 127.0.0.1, at 2026-11-25
    /// 10:00 UTC plus `n` milliseconds. For documentation, tests and benchmarks.
    ///
    /// ```
    /// let event = zvp_audit::event::AuditEvent::example(3);
    /// assert_eq!(event.request_id, "req-3");
    /// ```
    pub fn example(n: u64) -> Self {
        use chrono::TimeZone;
        let start = Utc
            .with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
            .single()
            .unwrap_or_default();
        Self {
            event_type: EventType::PatientRecord,
            action: ActionCode::R,
            recorded: start + chrono::Duration::milliseconds(i64::try_from(n).unwrap_or(0)),
            outcome: Outcome::Success,
            subtype: Subtype::Regular,
            checks: Checks {
                authorisation: true,
                treatment_relation: true,
                consent: false,
                emergency: false,
            },
            basis: Some(Basis::Own),
            purpose: PurposeOfUse::Treat,
            user: Some(User {
                uzi: UziNumber::new(900_000_001).unwrap_or_else(|| unreachable!("nine digits")),
                agb: AgbCode::new(1_000_001),
                name: format!("user {n}"),
                role: RoleCode::GENERAL_PRACTITIONER,
            }),
            on_behalf_of: None,
            access_point: AccessPoint {
                ip: Some([127, 0, 0, 1].into()),
                certificate_sha256: None,
                dezi: None,
            },
            patient: format!("p{n}")
                .parse()
                .ok()
                .map(|id| PatientRef { id, bsn: None }),
            part: Some(Part {
                section: RecordSection::PatientDetails,
                item: None,
            }),
            source: Source {
                instance: "example".to_owned(),
                hospital: "ASz".to_owned(),
            },
            request_id: format!("req-{n}"),
            reason: None,
            query: None,
            card: None,
            change: None,
        }
    }
}
