//! Admissions and care moments.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::Period;
use crate::id::PatientId;

/// A clinical admission (opname): who, where, under which specialism, from when to when, and
/// what a GP asks first about it: why, who treats the patient, how to reach the ward and when
/// the patient is expected home.
///
/// Whether the patient is still admitted follows from the period: an admission whose period
/// has no end is current; one with an end is a discharge (ontslag) at that time. The summary
/// fields are optional: an EPD that does not record one leaves it `None`, and the portal says
/// "niet vastgelegd" rather than guessing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admission {
    /// The admitted patient.
    pub patient: PatientId,
    /// The ward (afdeling), e.g. `Interne geneeskunde, 4 noord`.
    pub ward: String,
    /// The treating specialism, e.g. `Cardiologie`.
    pub specialism: String,
    /// From admission to discharge (open while admitted).
    pub period: Period,
    /// The reason for admission or the working diagnosis (`Decompensatio cordis`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The treating (attending) specialist, as the EPD names them (`dr. M. de Wit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specialist: Option<String>,
    /// The room (kamer) on the ward, e.g. `Kamer 12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// The ward's phone number, for the GP who wants to speak to the ward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ward_phone: Option<String>,
    /// The expected discharge date, where the EPD records one (only while admitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_discharge: Option<NaiveDate>,
}

/// Whether an admission is current or has ended in a discharge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdmissionStatus {
    /// The patient is in hospital.
    Admitted,
    /// The patient was discharged at the end of the period.
    Discharged,
}

impl Admission {
    /// When the patient was admitted.
    pub const fn admitted_at(&self) -> DateTime<Utc> {
        self.period.start()
    }

    /// When the patient was discharged, if they were.
    pub const fn discharged_at(&self) -> Option<DateTime<Utc>> {
        self.period.end()
    }

    /// Admitted or discharged, from the period.
    pub const fn status(&self) -> AdmissionStatus {
        match self.period.end() {
            None => AdmissionStatus::Admitted,
            Some(_) => AdmissionStatus::Discharged,
        }
    }
}

/// A moment of care at the hospital (zorgmoment), past or planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CareMoment {
    /// What kind of moment it is.
    pub kind: CareMomentKind,
    /// When it takes or took place (for a referral: when it was made).
    pub at: DateTime<Utc>,
    /// The hospital department (specialism or polikliniek).
    pub department: String,
    /// Where it stands.
    pub status: CareMomentStatus,
    /// What it is, in the EPD's words (`Controle polikliniek`, `Totale heupprothese links`).
    pub description: String,
}

/// The kinds of care moment the portal shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CareMomentKind {
    /// An outpatient appointment (afspraak).
    Appointment,
    /// An operation.
    Operation,
    /// An admission.
    Admission,
    /// A referral by the GP (verwijzing van huisarts).
    GpReferral,
}

/// The state of a care moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CareMomentStatus {
    /// Planned for the future.
    Planned,
    /// Taking place now.
    InProgress,
    /// Done.
    Completed,
    /// Called off.
    Cancelled,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn status_follows_from_the_period() {
        let start = Utc.with_ymd_and_hms(2026, 11, 20, 14, 0, 0).unwrap();
        let end = Utc.with_ymd_and_hms(2026, 11, 24, 11, 0, 0).unwrap();
        let mut admission = Admission {
            patient: "p1".parse().unwrap(),
            ward: "Cardiologie, 5 zuid".to_owned(),
            specialism: "Cardiologie".to_owned(),
            period: Period::open(start),
            reason: None,
            specialist: None,
            room: None,
            ward_phone: None,
            expected_discharge: None,
        };
        assert_eq!(admission.status(), AdmissionStatus::Admitted);
        assert_eq!(admission.discharged_at(), None);
        admission.period = Period::new(start, Some(end)).unwrap();
        assert_eq!(admission.status(), AdmissionStatus::Discharged);
        assert_eq!(admission.admitted_at(), start);
        assert_eq!(admission.discharged_at(), Some(end));
    }
}
