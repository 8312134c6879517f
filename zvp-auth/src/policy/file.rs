//! The JSON formats of worlds and requests (scenario files, `zvp-portal policy decide`).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use zvp_core::{AgbCode, PatientId, RoleCode, UziNumber};

use super::{Action, Request, Section, World};
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
    /// An unknown section name.
    #[error("unknown section {0:?}")]
    UnknownSection(String),
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
    /// The section, for `view-patient`.
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
    /// [`FileError::UnknownAction`], [`FileError::UnknownSection`] or
    /// [`FileError::MissingField`].
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
            "view-patient" => Action::ViewPatient {
                patient: patient("view-patient")?,
                section: parse_section(self.section.as_deref().ok_or(
                    FileError::MissingField {
                        action: "view-patient",
                        field: "section",
                    },
                )?)?,
            },
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

/// Every section name `view-patient` may give.
pub const SECTION_NAMES: [&str; 9] = [
    "details",
    "care-moments",
    "allergies",
    "conclusion",
    "letters",
    "diagnoses",
    "medication",
    "results",
    "document",
];

/// A section name.
fn parse_section(name: &str) -> Result<Section, FileError> {
    Ok(match name {
        "details" => Section::Details,
        "care-moments" => Section::CareMoments,
        "allergies" => Section::Allergies,
        "conclusion" => Section::Conclusion,
        "letters" => Section::Letters,
        "diagnoses" => Section::Diagnoses,
        "medication" => Section::Medication,
        "results" => Section::Results,
        "document" => Section::Document,
        other => return Err(FileError::UnknownSection(other.to_owned())),
    })
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
                request(action, Some("details")).to_request().is_ok(),
                "{action}"
            );
        }
        for section in SECTION_NAMES {
            assert!(
                request("view-patient", Some(section)).to_request().is_ok(),
                "{section}"
            );
        }
        assert!(matches!(
            request("view", None).to_request(),
            Err(FileError::UnknownAction(a)) if a == "view"
        ));
        assert!(matches!(
            request("view-patient", Some("lab")).to_request(),
            Err(FileError::UnknownSection(s)) if s == "lab"
        ));
    }
}
