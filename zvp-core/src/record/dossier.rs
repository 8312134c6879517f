//! The dossier: allergies, conclusion and plan, letters, diagnoses, medication.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{Coding, Period};
use crate::id::DocumentId;

/// An allergy or intolerance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allergy {
    /// The substance (`Penicilline`, `Pinda`).
    pub substance: String,
    /// The reaction seen, if recorded (`Urticaria`).
    pub reaction: Option<String>,
    /// How severe the reaction was, if recorded.
    pub severity: Option<AllergySeverity>,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// The severity of an allergic reaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllergySeverity {
    /// Mild.
    Mild,
    /// Moderate.
    Moderate,
    /// Severe.
    Severe,
}

/// A specialist's conclusion and plan (conclusie en beleid).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConclusionAndPlan {
    /// When it was written.
    pub at: DateTime<Utc>,
    /// Who wrote it, as the EPD names them.
    pub author: String,
    /// The author's specialism.
    pub specialism: String,
    /// The conclusion.
    pub conclusion: String,
    /// The plan.
    pub plan: String,
}

/// A letter in the correspondence. Its text is a [`Document`](super::Document) with the same id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Letter {
    /// The id under which the letter's text can be fetched.
    pub id: DocumentId,
    /// The date of the letter; letters before the hospital's cut-off date are not shown.
    pub date: NaiveDate,
    /// The subject (`Ontslagbrief cardiologie`).
    pub title: String,
    /// Who wrote it.
    pub author: String,
    /// The author's specialism.
    pub specialism: String,
    /// Whether it is a discharge letter (ontslagbrief).
    #[serde(default)]
    pub discharge: bool,
    /// The admission the letter belongs to, by its period (for a discharge letter: the
    /// admission it concludes), when the EPD says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admission: Option<Period>,
}

impl Letter {
    /// Whether this is the discharge letter of the admission that started at `admitted_at`.
    pub fn concludes(&self, admitted_at: DateTime<Utc>) -> bool {
        self.discharge && self.admission.is_some_and(|p| p.start() == admitted_at)
    }
}

/// A diagnosis (problem).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Diagnosis {
    /// The diagnosis in words.
    pub description: String,
    /// Its code (ICD-10, SNOMED CT or the hospital's thesaurus), if coded.
    pub code: Option<Coding>,
    /// When it began, if known.
    pub onset: Option<NaiveDate>,
    /// Whether it is current.
    pub status: DiagnosisStatus,
    /// The specialism that recorded it.
    pub specialism: String,
}

/// Whether a diagnosis is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosisStatus {
    /// Current.
    Active,
    /// No longer current.
    Resolved,
}

/// A medication the hospital prescribed or recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Medication {
    /// The medicine (`Metoprolol tablet 50mg`).
    pub name: String,
    /// The dosage instruction (`2x per dag 1 tablet`).
    pub dosage: String,
    /// How it is taken (`oraal`), if recorded.
    pub route: Option<String>,
    /// From its start to its stop (open while in use).
    pub period: Period,
    /// Who prescribed it, if recorded.
    pub prescriber: Option<String>,
}

impl Medication {
    /// Whether the medication is in use at `at`.
    pub fn in_use_at(&self, at: DateTime<Utc>) -> bool {
        self.period.contains(at)
    }
}
