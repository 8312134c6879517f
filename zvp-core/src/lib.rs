//! The zvp domain model: the contract that hospital developers program against.
//!
//! `zvp-core` is pure: no IO, no clock, no async. It holds
//!
//! - [`id`]: validated Dutch care identifiers — [`Bsn`] (elfproef), [`AgbCode`],
//!   [`UziNumber`], [`Ura`] (the UZI subscriber number), [`RoleCode`] with the names of the
//!   UZI-register's professions and specialisms, [`CardType`], and the EPD's own ids
//!   ([`PatientId`], [`DocumentId`], [`ReportId`]);
//! - [`record`]: the patient record a Zorgverlenersportaal shows — [`Patient`] with
//!   treatment restrictions, [`Admission`], [`CareMoment`], the dossier sections, result
//!   reports in the five categories, and documents;
//! - [`vocabulary`]: the names of the parts of a record ([`RecordSection`],
//!   [`DossierSection`], [`ResultCategory`]) that the policy engine and the audit log refer to.
//!
//! Every type with a rule is validated when it is built, by `FromStr`/`TryFrom` or a
//! constructor, and serde goes through the same path: a value of one of these types is
//! proof that the rule holds ("parse, don't validate"). There are no `is_valid` methods.
//!
//! ```
//! use zvp_core::{AgbCode, Bsn, BsnError, RoleCode};
//!
//! let bsn: Bsn = "111222333".parse()?;
//! assert_eq!(bsn.to_string(), "111222333");
//! assert_eq!("111222334".parse::<Bsn>(), Err(BsnError::Elfproef));
//!
//! // `00000000` on a UZI card means "no AGB code": it never becomes an `AgbCode`.
//! assert_eq!(AgbCode::parse_optional("00000000")?, None);
//!
//! let role: RoleCode = "01.015".parse()?;
//! assert_eq!(role, RoleCode::GENERAL_PRACTITIONER);
//! assert_eq!(role.specialism_name(), Some("Huisarts"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod error;
pub mod id;
pub mod record;
pub mod vocabulary;

pub use id::{
    AgbCode, AgbCodeError, Bsn, BsnError, CardType, CardTypeError, DigitsError, DocumentId,
    EpdIdError, PatientId, ReportId, RoleCode, RoleCodeError, RoleName, Ura, UraError, UziNumber,
    UziNumberError,
};
pub use record::{
    Address, Admission, AdmissionStatus, Allergy, AllergySeverity, CareMoment, CareMomentKind,
    CareMomentStatus, Coding, Comparator, ConclusionAndPlan, Culture, Decimal, Diagnosis,
    DiagnosisStatus, Document, DocumentContent, Gender, Isolate, LabFlag, LabObservation, Letter,
    Medication, ObservationValue, Patient, Pdf, Period, PersonName, RecordError, ReferenceRange,
    RegisteredGp, ReportContent, ReportStatus, RestrictedTreatment, ResultReport, SharingObjection,
    Susceptibility, SusceptibilityInterpretation, TreatmentRestriction,
};
pub use vocabulary::{DossierSection, RecordSection, ResultCategory, VocabularyError};

/// The README's Rust examples, compiled and run as doc-tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
