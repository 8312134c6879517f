//! The JSON formats of worlds and requests (scenario files, `zvp-portal policy decide`).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use zvp_core::{AgbCode, PatientId, RecordSection, RoleCode, UziNumber};

use super::{Action, NotPatientRecord, Request, World};
use crate::directory::{
    Account, AccountStatus, Delegation, DelegationId, EmergencyGrant, GrantId, ReasonCategory,
};

/// Why a world or request file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// Not valid JSON of the expected shape (the message names the field).
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The action needs a field that is missing.
    #[error("action {action} needs the field {field:?}")]
    MissingField {
        /// The action.
        action: &'static str,
        /// The missing field.
        field: &'static str,
    },
    /// An unknown action name.
    #[error("unknown action {0:?}")]
    UnknownAction(String),
    /// A section name that is no [`RecordSection`] code.
    #[error("unknown section {0:?}")]
    UnknownSection(String),
    /// A `view-patient` of a section that is no part of one patient's record (a list, the
    /// search).
    #[error(transparent)]
    NotPatientRecord(#[from] NotPatientRecord),
    /// Two entries with the same key (two accounts for one UZI number, two patients with one
    /// id, two delegations or grants with one id): which one holds would be a guess.
    #[error("duplicate {kind} {key}")]
    Duplicate {
        /// `account`, `patient`, `delegation` or `emergency grant`.
        kind: &'static str,
        /// The repeated key.
        key: String,
    },
}

/// A world as JSON: the time, accounts, delegations, emergency grants and patients.
#[derive(Debug, Clone, Deserialize)]
pub struct WorldFile {
    /// The time the decision is made at.
    pub now: DateTime<Utc>,
    /// Accounts.
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
    /// Delegations.
    #[serde(default)]
    pub delegations: Vec<DelegationEntry>,
    /// Emergency grants.
    #[serde(default)]
    pub emergency_grants: Vec<GrantEntry>,
    /// Patients.
    #[serde(default)]
    pub patients: Vec<PatientEntry>,
}

/// An account in a world file.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountEntry {
    /// UZI number.
    pub uzi: UziNumber,
    /// Personal AGB code.
    #[serde(default)]
    pub agb: Option<AgbCode>,
    /// Practice AGB code.
    #[serde(default)]
    pub practice_agb: Option<AgbCode>,
    /// Verified role.
    pub role: RoleCode,
    /// Status.
    pub status: AccountStatus,
    /// Administrator flag.
    #[serde(default)]
    pub admin: bool,
    /// Name.
    #[serde(default)]
    pub name: String,
}

/// A delegation in a world file.
#[derive(Debug, Clone, Deserialize)]
pub struct DelegationEntry {
    /// Id (default: position in the list).
    #[serde(default)]
    pub id: Option<u64>,
    /// The delegating GP's AGB code.
    pub grantor_agb: AgbCode,
    /// The delegate's UZI number.
    pub grantee_uzi: UziNumber,
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive); `null` for open-ended.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// Revocation time.
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An emergency grant in a world file.
#[derive(Debug, Clone, Deserialize)]
pub struct GrantEntry {
    /// Id (default: position in the list).
    #[serde(default)]
    pub id: Option<u64>,
    /// The practitioner's UZI number.
    pub uzi: UziNumber,
    /// The patient.
    pub patient: PatientId,
    /// The coded reason.
    pub reason_category: ReasonCategory,
    /// The reason.
    #[serde(default)]
    pub reason: String,
    /// Start (inclusive).
    pub granted_at: DateTime<Utc>,
    /// End (exclusive).
    pub expires_at: DateTime<Utc>,
}

/// A patient in a world file.
#[derive(Debug, Clone, Deserialize)]
pub struct PatientEntry {
    /// The EPD's id.
    pub id: PatientId,
    /// The registered GP's AGB code; `null` for none.
    #[serde(default)]
    pub registered_gp_agb: Option<AgbCode>,
    /// Whether the patient objects to their record being shared.
    #[serde(default)]
    pub objection: bool,
}

/// A request as JSON.
#[derive(Debug, Clone, Deserialize)]
pub struct RequestFile {
    /// UZI number from the card.
    pub uzi: UziNumber,
    /// AGB code on the card; absent, `null` or `00000000` for none.
    #[serde(default, deserialize_with = "optional_card_agb")]
    pub card_agb: Option<AgbCode>,
    /// Role code on the card.
    pub card_role: RoleCode,
    /// The action name.
    pub action: String,
    /// The section, for `view-patient`: a [`RecordSection`] code.
    #[serde(default)]
    pub section: Option<String>,
    /// The patient, for patient actions.
    #[serde(default)]
    pub patient: Option<PatientId>,
}

impl WorldFile {
    /// Parses a world from JSON.
    ///
    /// # Errors
    ///
    /// [`FileError::Json`], naming the field at fault.
    pub fn from_json(json: &str) -> Result<Self, FileError> {
        Ok(serde_json::from_str(json)?)
    }

    /// The indexed world.
    ///
    /// # Errors
    ///
    /// [`FileError::Duplicate`] when a key occurs twice.
    pub fn to_world(&self) -> Result<World, FileError> {
        check_unique("account", self.accounts.iter().map(|a| a.uzi.to_string()))?;
        check_unique("patient", self.patients.iter().map(|p| p.id.to_string()))?;
        check_unique(
            "delegation",
            (0u64..)
                .zip(&self.delegations)
                .map(|(i, d)| d.id.unwrap_or(i).to_string()),
        )?;
        check_unique(
            "emergency grant",
            (0u64..)
                .zip(&self.emergency_grants)
                .map(|(i, g)| g.id.unwrap_or(i).to_string()),
        )?;
        let mut world = World::new();
        for a in &self.accounts {
            world.add_account(Account {
                uzi: a.uzi,
                agb: a.agb,
                name: a.name.clone(),
                role: a.role,
                practice_agb: a.practice_agb,
                status: a.status,
                created_at: self.now,
                last_login: None,
                previous_login: None,
                accepted_terms: None,
                admin: a.admin,
                contact: Default::default(),
            });
        }
        for p in &self.patients {
            world.add_patient(p.id.clone(), p.registered_gp_agb);
            if p.objection {
                world.add_objection(p.id.clone());
            }
        }
        for (index, d) in (0u64..).zip(&self.delegations) {
            world.add_delegation(Delegation {
                id: DelegationId(d.id.unwrap_or(index)),
                grantor: d.grantor_agb,
                grantee: d.grantee_uzi,
                from: d.from,
                until: d.until,
                created_by: None,
                revoked_at: d.revoked_at,
            });
        }
        for (index, g) in (0u64..).zip(&self.emergency_grants) {
            world.add_grant(EmergencyGrant {
                id: GrantId(g.id.unwrap_or(index)),
                practitioner: g.uzi,
                patient: g.patient.clone(),
                reason_category: g.reason_category,
                reason: g.reason.clone(),
                granted_at: g.granted_at,
                expires_at: g.expires_at,
                verdict: None,
            });
        }
        Ok(world)
    }
}

/// Refuses the first key that occurs twice.
fn check_unique(kind: &'static str, keys: impl Iterator<Item = String>) -> Result<(), FileError> {
    let mut seen = std::collections::HashSet::new();
    for key in keys {
        if !seen.insert(key.clone()) {
            return Err(FileError::Duplicate { kind, key });
        }
    }
    Ok(())
}

impl RequestFile {
    /// Parses a request from JSON.
    ///
    /// # Errors
    ///
    /// [`FileError::Json`], naming the field at fault.
    pub fn from_json(json: &str) -> Result<Self, FileError> {
        Ok(serde_json::from_str(json)?)
    }

    /// The typed request.
    ///
    /// # Errors
    ///
    /// [`FileError::UnknownAction`], [`FileError::UnknownSection`],
    /// [`FileError::NotPatientRecord`] or [`FileError::MissingField`].
    pub fn to_request(&self) -> Result<Request, FileError> {
        let patient = |action: &'static str| {
            self.patient.clone().ok_or(FileError::MissingField {
                action,
                field: "patient",
            })
        };
        let action = match self.action.as_str() {
            "list-admitted" => Action::ListAdmitted,
            "list-discharged" => Action::ListDischarged,
            "search-patient" => Action::SearchPatient {
                patient: patient("search-patient")?,
            },
            "view-patient" => Action::view_patient(
                patient("view-patient")?,
                parse_section(self.section.as_deref().ok_or(FileError::MissingField {
                    action: "view-patient",
                    field: "section",
                })?)?,
            )?,
            "request-emergency" => Action::RequestEmergency {
                patient: patient("request-emergency")?,
            },
            "approve-account" => Action::ApproveAccount,
            "reject-account" => Action::RejectAccount,
            "block-account" => Action::BlockAccount,
            "manage-delegations" => Action::ManageDelegations,
            "read-audit" => Action::ReadAudit,
            "review-emergency" => Action::ReviewEmergency,
            other => return Err(FileError::UnknownAction(other.to_owned())),
        };
        Ok(Request {
            uzi: self.uzi,
            card_agb: self.card_agb,
            card_role: self.card_role,
            action,
        })
    }
}

/// Every action name a request file may give, in the order `to_request` knows them.
pub const ACTION_NAMES: [&str; 11] = [
    "list-admitted",
    "list-discharged",
    "search-patient",
    "view-patient",
    "request-emergency",
    "approve-account",
    "reject-account",
    "block-account",
    "manage-delegations",
    "read-audit",
    "review-emergency",
];

/// Every section name `view-patient` may give: the codes of
/// [`RecordSection::PATIENT_RECORD`], in its order, as the audit log writes them.
pub const SECTION_NAMES: [&str; 14] = [
    "patient-details",
    "care-moments",
    "dossier/allergies",
    "dossier/conclusion-and-plan",
    "dossier/letters",
    "dossier/diagnoses",
    "dossier/medication",
    "results/clinical-chemistry",
    "results/microbiology",
    "results/nuclear-lab",
    "results/pathology",
    "results/radiology",
    "results/other",
    "document",
];

/// A section code; whether a view may read it is [`Action::view_patient`]'s to say.
fn parse_section(code: &str) -> Result<RecordSection, FileError> {
    code.parse()
        .map_err(|_| FileError::UnknownSection(code.to_owned()))
}

/// `card_agb`: absent, `null` and `00000000` all mean "no AGB code on the card".
fn optional_card_agb<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<AgbCode>, D::Error> {
    let text: Option<String> = Option::deserialize(d)?;
    match text {
        None => Ok(None),
        Some(text) => AgbCode::parse_optional(&text).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    fn request(action: &str, section: Option<&str>) -> RequestFile {
        RequestFile {
            uzi: UziNumber::new(900_000_001).unwrap(),
            card_agb: None,
            card_role: RoleCode::GENERAL_PRACTITIONER,
            action: action.to_owned(),
            section: section.map(str::to_owned),
            patient: Some("p1".parse().unwrap()),
        }
    }

    #[test]
    fn every_listed_name_is_accepted_and_others_are_not() {
        for action in ACTION_NAMES {
            assert!(
                request(action, Some("patient-details"))
                    .to_request()
                    .is_ok(),
                "{action}"
            );
        }
        assert!(matches!(
            request("view", None).to_request(),
            Err(FileError::UnknownAction(a)) if a == "view"
        ));
    }

    #[test]
    fn the_section_names_are_the_codes_of_the_patient_record() {
        let codes: Vec<String> = RecordSection::PATIENT_RECORD
            .iter()
            .map(|s| s.code().into_owned())
            .collect();
        assert_eq!(codes, SECTION_NAMES);
    }

    #[test]
    fn a_view_reads_the_section_its_code_names() {
        for section in RecordSection::PATIENT_RECORD {
            let request = request("view-patient", Some(&section.code()))
                .to_request()
                .unwrap();
            assert_eq!(
                request.action,
                Action::ViewPatient {
                    patient: "p1".parse().unwrap(),
                    section
                },
                "{section}"
            );
        }
    }

    #[test]
    fn an_unknown_section_code_is_refused() {
        // The names before the sections were `RecordSection` codes are unknown now, so an old
        // file fails loudly rather than reading some other section.
        for name in [
            "lab",
            "details",
            "conclusion",
            "results",
            "results/images",
            "",
        ] {
            assert!(
                matches!(
                    request("view-patient", Some(name)).to_request(),
                    Err(FileError::UnknownSection(s)) if s == name
                ),
                "{name}"
            );
        }
    }

    #[test]
    fn a_view_of_a_list_or_the_search_is_refused() {
        for section in [
            RecordSection::AdmittedList,
            RecordSection::DischargedList,
            RecordSection::PatientSearch,
        ] {
            assert!(
                matches!(
                    request("view-patient", Some(&section.code())).to_request(),
                    Err(FileError::NotPatientRecord(NotPatientRecord(s))) if s == section
                ),
                "{section}"
            );
        }
    }

    #[test]
    fn a_view_without_a_section_is_refused() {
        assert!(matches!(
            request("view-patient", None).to_request(),
            Err(FileError::MissingField {
                action: "view-patient",
                field: "section"
            })
        ));
    }
}
