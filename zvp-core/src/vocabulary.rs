//! The names of the parts of a patient record.
//!
//! The policy engine decides per [`RecordSection`], and the audit log records which section
//! was read. Each name has a stable machine code (`dossier/allergies`) that is what storage,
//! URLs and exports use; Dutch labels for the screen belong to the portal.

use std::fmt;
use std::str::FromStr;

use crate::id::serde_via_str;

/// Why a string is not one of the vocabulary's codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VocabularyError {
    /// The code names no section or category.
    #[error("unknown {kind} code {code:?}")]
    Unknown {
        /// What was being parsed: `record section`, `dossier section` or `result category`.
        kind: &'static str,
        /// The code that was given.
        code: String,
    },
}

/// A section of the dossier (in the users' words, "Informatie uit het dossier").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DossierSection {
    /// Allergies and intolerances.
    Allergies,
    /// A specialist's conclusion and plan (conclusie en beleid).
    ConclusionAndPlan,
    /// Correspondence: letters, shown from the hospital's cut-off date on.
    Letters,
    /// Diagnoses (problems).
    Diagnoses,
    /// Medication.
    Medication,
}

/// A category of results (uitslagen). Reports and values only, never images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResultCategory {
    /// Clinical chemistry (klinische chemie): coded lab values.
    ClinicalChemistry,
    /// Microbiology: cultures and susceptibilities.
    Microbiology,
    /// Nuclear lab (nucleair lab).
    NuclearLab,
    /// Pathology: text reports.
    Pathology,
    /// Radiology: text reports, no images.
    Radiology,
    /// Every report whose category the portal does not know (an ECG, a lung function test,
    /// a code a hospital made up), shown together rather than dropped.
    Other,
}

/// The part of the record a request touches: the unit of authorization and of audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordSection {
    /// The list of currently admitted patients.
    AdmittedList,
    /// The list of recently discharged patients.
    DischargedList,
    /// A search for a patient by BSN (and date of birth).
    PatientSearch,
    /// Name, address, date of birth, BSN, registered GP and treatment restrictions.
    PatientDetails,
    /// Appointments, operations, admissions and GP referrals.
    CareMoments,
    /// One section of the dossier.
    Dossier(DossierSection),
    /// One category of results.
    Results(ResultCategory),
    /// One document, such as the text of a letter.
    Document,
}

impl DossierSection {
    /// Every dossier section, in the order the portal shows them.
    pub const ALL: [Self; 5] = [
        Self::Allergies,
        Self::ConclusionAndPlan,
        Self::Letters,
        Self::Diagnoses,
        Self::Medication,
    ];

    /// The stable code of the section.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Allergies => "allergies",
            Self::ConclusionAndPlan => "conclusion-and-plan",
            Self::Letters => "letters",
            Self::Diagnoses => "diagnoses",
            Self::Medication => "medication",
        }
    }
}

impl ResultCategory {
    /// Every result category, in the order the portal shows them.
    pub const ALL: [Self; 6] = [
        Self::ClinicalChemistry,
        Self::Microbiology,
        Self::NuclearLab,
        Self::Pathology,
        Self::Radiology,
        Self::Other,
    ];

    /// The stable code of the category.
    pub const fn code(self) -> &'static str {
        match self {
            Self::ClinicalChemistry => "clinical-chemistry",
            Self::Microbiology => "microbiology",
            Self::NuclearLab => "nuclear-lab",
            Self::Pathology => "pathology",
            Self::Radiology => "radiology",
            Self::Other => "other",
        }
    }
}

impl RecordSection {
    /// Every section.
    pub const ALL: [Self; 17] = [
        Self::AdmittedList,
        Self::DischargedList,
        Self::PatientSearch,
        Self::PatientDetails,
        Self::CareMoments,
        Self::Dossier(DossierSection::Allergies),
        Self::Dossier(DossierSection::ConclusionAndPlan),
        Self::Dossier(DossierSection::Letters),
        Self::Dossier(DossierSection::Diagnoses),
        Self::Dossier(DossierSection::Medication),
        Self::Results(ResultCategory::ClinicalChemistry),
        Self::Results(ResultCategory::Microbiology),
        Self::Results(ResultCategory::NuclearLab),
        Self::Results(ResultCategory::Pathology),
        Self::Results(ResultCategory::Radiology),
        Self::Results(ResultCategory::Other),
        Self::Document,
    ];

    /// The sections of one patient's record: every section but the lists and the search, in
    /// the order of [`ALL`](Self::ALL). These are what a view of a patient may read; the lists
    /// and the search concern many patients, or none yet, and are authorized as such.
    pub const PATIENT_RECORD: [Self; 14] = [
        Self::PatientDetails,
        Self::CareMoments,
        Self::Dossier(DossierSection::Allergies),
        Self::Dossier(DossierSection::ConclusionAndPlan),
        Self::Dossier(DossierSection::Letters),
        Self::Dossier(DossierSection::Diagnoses),
        Self::Dossier(DossierSection::Medication),
        Self::Results(ResultCategory::ClinicalChemistry),
        Self::Results(ResultCategory::Microbiology),
        Self::Results(ResultCategory::NuclearLab),
        Self::Results(ResultCategory::Pathology),
        Self::Results(ResultCategory::Radiology),
        Self::Results(ResultCategory::Other),
        Self::Document,
    ];

    /// Whether the section lists several patients rather than reading one patient's record.
    pub const fn is_list(self) -> bool {
        matches!(self, Self::AdmittedList | Self::DischargedList)
    }

    /// Whether the section is part of one patient's record (one of
    /// [`PATIENT_RECORD`](Self::PATIENT_RECORD)): not a list, and not the search.
    pub const fn is_patient_record(self) -> bool {
        !matches!(
            self,
            Self::AdmittedList | Self::DischargedList | Self::PatientSearch
        )
    }

    /// The stable code, e.g. `patient-details`, `dossier/letters`, `results/radiology`.
    pub fn code(self) -> std::borrow::Cow<'static, str> {
        match self {
            Self::AdmittedList => "admitted-list".into(),
            Self::DischargedList => "discharged-list".into(),
            Self::PatientSearch => "patient-search".into(),
            Self::PatientDetails => "patient-details".into(),
            Self::CareMoments => "care-moments".into(),
            Self::Dossier(s) => format!("dossier/{}", s.code()).into(),
            Self::Results(c) => format!("results/{}", c.code()).into(),
            Self::Document => "document".into(),
        }
    }
}

/// Finds the value among `all` whose code is `code`.
fn by_code<T: Copy, C: AsRef<str>>(
    all: &[T],
    code_of: impl Fn(T) -> C,
    kind: &'static str,
    code: &str,
) -> Result<T, VocabularyError> {
    all.iter()
        .copied()
        .find(|&v| code_of(v).as_ref() == code)
        .ok_or_else(|| VocabularyError::Unknown {
            kind,
            code: code.to_owned(),
        })
}

impl FromStr for DossierSection {
    type Err = VocabularyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_code(&Self::ALL, Self::code, "dossier section", s)
    }
}

impl FromStr for ResultCategory {
    type Err = VocabularyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_code(&Self::ALL, Self::code, "result category", s)
    }
}

impl FromStr for RecordSection {
    type Err = VocabularyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        by_code(&Self::ALL, Self::code, "record section", s)
    }
}

impl fmt::Display for DossierSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for ResultCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for RecordSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code())
    }
}

serde_via_str!(DossierSection);
serde_via_str!(ResultCategory);
serde_via_str!(RecordSection);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_round_trips_through_its_code() {
        for s in RecordSection::ALL {
            assert_eq!(s.code().parse::<RecordSection>(), Ok(s));
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<RecordSection>(&json).unwrap(), s);
        }
        for s in DossierSection::ALL {
            assert_eq!(s.code().parse::<DossierSection>(), Ok(s));
        }
        for c in ResultCategory::ALL {
            assert_eq!(c.code().parse::<ResultCategory>(), Ok(c));
        }
    }

    #[test]
    fn codes_are_distinct() {
        let mut codes: Vec<_> = RecordSection::ALL.iter().map(|s| s.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), RecordSection::ALL.len());
    }

    #[test]
    fn all_lists_every_dossier_section_and_result_category() {
        for d in DossierSection::ALL {
            assert!(RecordSection::ALL.contains(&RecordSection::Dossier(d)));
        }
        for c in ResultCategory::ALL {
            assert!(RecordSection::ALL.contains(&RecordSection::Results(c)));
        }
    }

    #[test]
    fn unknown_code_is_refused() {
        assert_eq!(
            "results/images".parse::<RecordSection>(),
            Err(VocabularyError::Unknown {
                kind: "record section",
                code: "results/images".to_owned()
            })
        );
    }

    #[test]
    fn the_patient_record_is_every_section_but_the_lists_and_the_search() {
        let record: Vec<_> = RecordSection::ALL
            .into_iter()
            .filter(|s| s.is_patient_record())
            .collect();
        assert_eq!(record, RecordSection::PATIENT_RECORD);
        let rest: Vec<_> = RecordSection::ALL
            .into_iter()
            .filter(|s| !s.is_patient_record())
            .collect();
        assert_eq!(
            rest,
            [
                RecordSection::AdmittedList,
                RecordSection::DischargedList,
                RecordSection::PatientSearch
            ]
        );
    }

    #[test]
    fn lists_are_lists() {
        let lists: Vec<_> = RecordSection::ALL
            .into_iter()
            .filter(|s| s.is_list())
            .collect();
        assert_eq!(
            lists,
            [RecordSection::AdmittedList, RecordSection::DischargedList]
        );
    }
}
