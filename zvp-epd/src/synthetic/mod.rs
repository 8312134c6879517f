//! A synthetic hospital: deterministic from a seed and a `now`, so the demo always looks
//! current and a test always sees the same patients.
//!
//! Patients get Dutch names and addresses around Dordrecht, valid BSNs, a registered GP, and —
//! some of them — a current admission, a recent discharge, treatment restrictions. The record
//! sections are generated when asked for, from a generator seeded per patient and section, so a
//! hospital of thousands of patients costs only their core data in memory.
//!
//! The demo GPs ([`DEMO_GPS`]) are fixed: the first patients are theirs, and a good share of
//! those are admitted or recently discharged, so a demo login always shows a full start page.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use zvp_core::{
    Admission, AgbCode, Allergy, AllergySeverity, Bsn, CareMoment, CareMomentKind,
    CareMomentStatus, ConclusionAndPlan, Diagnosis, Document, DocumentContent, DocumentId,
    LabObservation, Letter, Medication, Patient, PatientId, ResultCategory, ResultReport,
};

use crate::{Changes, Epd, EpdError, ListedLetter, ListedPatient, RequestContext};

mod gps;
mod lab;
mod letters;
mod medication;
mod people;
mod plausible;
mod rng;

pub use gps::{DEMO_GPS, Gp};
use people::{SURNAMES, WARDS};
use rng::Rng;

/// The default size of the hospital, in patients.
pub const DEFAULT_PATIENTS: usize = 5_000;

/// The core of one patient, kept in memory.
#[derive(Debug, Clone)]
struct Core {
    patient: Patient,
    admission: Option<Admission>,
    /// The patient's letters, made when first asked for and kept, as an EPD keeps its
    /// letters: the start page asks for every discharged patient's on every visit.
    letters: std::sync::OnceLock<Vec<Letter>>,
}

/// The synthetic hospital. Implements [`Epd`].
#[derive(Debug, Clone)]
pub struct SyntheticEpd {
    seed: u64,
    now: DateTime<Utc>,
    patients: Vec<Core>,
    by_id: HashMap<PatientId, usize>,
    by_bsn: HashMap<Bsn, usize>,
    /// The patients of each registered GP, in patient order: a list is read as an EPD reads
    /// it, by index, not by a scan of the whole hospital.
    by_gp: HashMap<AgbCode, Vec<usize>>,
}

/// Why a synthetic hospital could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyntheticError {
    /// The size is zero or beyond a million patients.
    #[error("a synthetic hospital has 1 to 1,000,000 patients, not {0}")]
    Size(usize),
}

impl SyntheticEpd {
    /// A hospital of `size` patients, generated from `seed`, current as of `now`.
    ///
    /// # Errors
    ///
    /// [`SyntheticError::Size`] outside 1..=1,000,000 patients.
    pub fn generate(seed: u64, now: DateTime<Utc>, size: usize) -> Result<Self, SyntheticError> {
        if size == 0 || size > 1_000_000 {
            return Err(SyntheticError::Size(size));
        }
        let gps = gps::region(size);
        let mut epd = Self {
            seed,
            now,
            patients: Vec::with_capacity(size),
            by_id: HashMap::new(),
            by_bsn: HashMap::new(),
            by_gp: HashMap::new(),
        };
        for index in 0..size {
            let core = epd.make_patient(index, &gps);
            if let Some(bsn) = core.patient.bsn {
                epd.by_bsn.insert(bsn, index);
            }
            if let Some(gp) = &core.patient.registered_gp {
                epd.by_gp.entry(gp.agb).or_default().push(index);
            }
            epd.by_id.insert(core.patient.id.clone(), index);
            epd.patients.push(core);
        }
        Ok(epd)
    }

    /// The time the hospital is current for.
    pub const fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The number of patients.
    pub fn len(&self) -> usize {
        self.patients.len()
    }

    /// Whether the hospital has no patients (never: [`generate`](Self::generate) refuses 0).
    pub fn is_empty(&self) -> bool {
        self.patients.is_empty()
    }

    /// The patient's current or most recent admission, if any.
    ///
    /// # Errors
    ///
    /// [`EpdError::NotFound`] for a patient the hospital does not have.
    pub fn admission(&self, id: &PatientId) -> Result<Option<&Admission>, EpdError> {
        Ok(self.core(id)?.1.admission.as_ref())
    }

    /// The patient a document (letter) belongs to, if it is one of this hospital's.
    pub fn patient_of_document(&self, document: &DocumentId) -> Option<&PatientId> {
        let rest = document.as_str().strip_prefix("doc-")?;
        let (index, _) = rest.split_once('-')?;
        let index: usize = index.parse().ok()?;
        self.patients.get(index).map(|c| &c.patient.id)
    }

    /// Every patient id, in order.
    pub fn patient_ids(&self) -> impl Iterator<Item = &PatientId> {
        self.patients.iter().map(|c| &c.patient.id)
    }

    fn rng(&self, index: usize, stream: u64) -> Rng {
        Rng::new(
            self.seed
                ^ (index as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93)
                ^ stream.wrapping_mul(0xA076_1D64_78BD_642F),
        )
    }

    /// The patients of `gps` whose admission matches `which`, for the lists.
    fn listed(&self, gps: &[AgbCode], which: impl Fn(&Admission) -> bool) -> Vec<ListedPatient> {
        // In patient order, each patient once, whichever of `gps` asked for them.
        let mut indices: Vec<usize> = gps
            .iter()
            .filter_map(|gp| self.by_gp.get(gp))
            .flatten()
            .copied()
            .collect();
        indices.sort_unstable();
        indices.dedup();
        indices
            .into_iter()
            .filter_map(|index| self.patients.get(index))
            .filter_map(|c| {
                let admission = c.admission.as_ref().filter(|a| which(a))?;
                Some(ListedPatient {
                    patient: c.patient.clone(),
                    admission: admission.clone(),
                })
            })
            .collect()
    }

    fn core(&self, id: &PatientId) -> Result<(usize, &Core), EpdError> {
        let index = *self
            .by_id
            .get(id)
            .ok_or_else(|| EpdError::NotFound(format!("patient {id}")))?;
        self.patients
            .get(index)
            .map(|core| (index, core))
            .ok_or_else(|| EpdError::NotFound(format!("patient {id}")))
    }

    /// The patient's age now, in years.
    fn age_of(&self, index: usize) -> i32 {
        self.patients.get(index).map_or(50, |c| {
            plausible::age(c.patient.birth_date, self.now.date_naive())
        })
    }

    /// The patient's diagnoses, fitting their age.
    fn diagnoses_of(&self, index: usize) -> Vec<Diagnosis> {
        plausible::diagnoses(&mut self.rng(index, 4), self.now, self.age_of(index))
    }

    fn letters_of(&self, index: usize) -> Vec<Letter> {
        let Some(core) = self.patients.get(index) else {
            return Vec::new();
        };
        core.letters
            .get_or_init(|| {
                letters::letters(
                    &mut self.rng(index, 20),
                    self.now,
                    index,
                    core.admission.as_ref(),
                )
            })
            .clone()
    }
}

/// When the synthetic hospital recorded an admission as it stands (its `meta.lastUpdated`
/// over FHIR): at the discharge when it ended, else at its start. It enters everything as it
/// happens; `zvp-mock-epd` can enter something late.
pub fn admission_recorded(admission: &Admission) -> DateTime<Utc> {
    admission
        .discharged_at()
        .unwrap_or_else(|| admission.admitted_at())
}

/// When the synthetic hospital recorded a letter: at the start of its date.
pub fn letter_recorded(letter: &Letter) -> DateTime<Utc> {
    letter.date.and_time(chrono::NaiveTime::MIN).and_utc()
}

#[async_trait]
impl Epd for SyntheticEpd {
    async fn admitted(
        &self,
        gps: &[AgbCode],
        _ctx: &RequestContext,
    ) -> Result<Vec<ListedPatient>, EpdError> {
        Ok(self.listed(gps, |a| a.discharged_at().is_none()))
    }

    async fn discharged_since(
        &self,
        gps: &[AgbCode],
        since: DateTime<Utc>,
        _ctx: &RequestContext,
    ) -> Result<Vec<ListedPatient>, EpdError> {
        Ok(self.listed(gps, |a| a.discharged_at().is_some_and(|d| d >= since)))
    }

    async fn changed_since(
        &self,
        gps: &[AgbCode],
        since: DateTime<Utc>,
        _ctx: &RequestContext,
    ) -> Result<Changes, EpdError> {
        let admissions = self.listed(gps, |a| admission_recorded(a) > since);
        let mut letters = Vec::new();
        for (index, core) in self.patients.iter().enumerate() {
            if !core
                .patient
                .registered_gp
                .as_ref()
                .is_some_and(|gp| gps.contains(&gp.agb))
            {
                continue;
            }
            letters.extend(
                self.letters_of(index)
                    .into_iter()
                    .filter(|l| letter_recorded(l) > since)
                    .map(|letter| ListedLetter {
                        patient: core.patient.clone(),
                        letter,
                    }),
            );
        }
        Ok(Changes {
            admissions,
            letters,
        })
    }

    async fn find_by_bsn(
        &self,
        bsn: Bsn,
        birth_date: Option<NaiveDate>,
        _ctx: &RequestContext,
    ) -> Result<Option<PatientId>, EpdError> {
        Ok(self
            .by_bsn
            .get(&bsn)
            .and_then(|&i| self.patients.get(i))
            .filter(|c| birth_date.is_none_or(|d| d == c.patient.birth_date))
            .map(|c| c.patient.id.clone()))
    }

    async fn patient(&self, id: &PatientId, _ctx: &RequestContext) -> Result<Patient, EpdError> {
        Ok(self.core(id)?.1.patient.clone())
    }

    async fn care_moments(
        &self,
        id: &PatientId,
        _ctx: &RequestContext,
    ) -> Result<Vec<CareMoment>, EpdError> {
        let Ok((index, core)) = self.core(id) else {
            return Ok(Vec::new());
        };
        let mut rng = self.rng(index, 1);
        let mut moments = Vec::new();
        let (specialism, _) = rng.pick(&WARDS).copied().unwrap_or(WARDS[0]);
        let days = 60 + rng.below(300) as i64;
        moments.push(CareMoment {
            kind: CareMomentKind::GpReferral,
            at: plausible::office_hours(self.now, -days, &mut rng),
            department: specialism.to_owned(),
            status: CareMomentStatus::Completed,
            description: format!("Verwijzing {} door huisarts", specialism.to_lowercase()),
        });
        for n in 0..(1 + rng.below(4)) {
            let past = rng.chance(60);
            let days = 1 + rng.below(120) as i64 + n as i64;
            moments.push(CareMoment {
                kind: CareMomentKind::Appointment,
                at: plausible::office_hours(self.now, if past { -days } else { days }, &mut rng),
                department: specialism.to_owned(),
                status: if past {
                    CareMomentStatus::Completed
                } else {
                    CareMomentStatus::Planned
                },
                description: "Controle polikliniek".to_owned(),
            });
        }
        if rng.chance(25) {
            let days = 10 + rng.below(200) as i64;
            let operations: &[&str] = if self.age_of(index) >= 60 {
                &[
                    "Laparoscopische cholecystectomie",
                    "Totale heupprothese links",
                    "Liesbreukcorrectie",
                ]
            } else {
                &[
                    "Laparoscopische cholecystectomie",
                    "Artroscopie rechterknie",
                    "Liesbreukcorrectie",
                ]
            };
            moments.push(CareMoment {
                kind: CareMomentKind::Operation,
                at: plausible::office_hours(self.now, -days, &mut rng),
                department: "Chirurgie".to_owned(),
                status: CareMomentStatus::Completed,
                description: rng
                    .pick(operations)
                    .copied()
                    .unwrap_or("Operatie")
                    .to_owned(),
            });
        }
        if let Some(admission) = &core.admission {
            moments.push(crate::fhir::admission_moment(admission));
        }
        moments.sort_by_key(|m| m.at);
        Ok(moments)
    }

    async fn allergies(
        &self,
        id: &PatientId,
        _ctx: &RequestContext,
    ) -> Result<Vec<Allergy>, EpdError> {
        let Ok((index, _)) = self.core(id) else {
            return Ok(Vec::new());
        };
        let mut rng = self.rng(index, 2);
        const SUBSTANCES: [(&str, &str); 5] = [
            ("Penicilline", "Urticaria"),
            ("Pinda", "Anafylaxie"),
            ("Jodiumhoudend contrast", "Jeuk"),
            ("Diclofenac", "Maagklachten"),
            ("Latex", "Eczeem"),
        ];
        Ok((0..rng.below(3))
            .filter_map(|_| {
                let (substance, reaction) = rng.pick(&SUBSTANCES).copied()?;
                Some(Allergy {
                    substance: substance.to_owned(),
                    reaction: Some(reaction.to_owned()),
                    severity: Some(if reaction == "Anafylaxie" {
                        AllergySeverity::Severe
                    } else {
                        AllergySeverity::Mild
                    }),
                    recorded_at: self.now - Duration::days(100 + rng.below(3000) as i64),
                })
            })
            .collect())
    }

    async fn admissions(
        &self,
        id: &PatientId,
        _ctx: &RequestContext,
    ) -> Result<Vec<Admission>, EpdError> {
        Ok(self
            .core(id)
            .ok()
            .and_then(|(_, core)| core.admission.clone())
            .into_iter()
            .collect())
    }

    async fn conclusions(
        &self,
        id: &PatientId,
        _ctx: &RequestContext,
    ) -> Result<Vec<ConclusionAndPlan>, EpdError> {
        let Ok((index, _)) = self.core(id) else {
            return Ok(Vec::new());
        };
        let mut rng = self.rng(index, 3);
        Ok((0..(1 + rng.below(3)))
            .map(|_| {
                let (specialism, _) = rng.pick(&WARDS).copied().unwrap_or(WARDS[0]);
                ConclusionAndPlan {
                    at: self.now - Duration::days(rng.below(400) as i64),
                    author: plausible::doctor(&mut rng),
                    specialism: specialism.to_owned(),
                    conclusion: "Klinisch stabiel, klachten afgenomen.".to_owned(),
                    plan: "Controle over drie maanden; laboratorium vooraf.".to_owned(),
                }
            })
            .collect())
    }

    async fn letters(
        &self,
        id: &PatientId,
        _ctx: &RequestContext,
    ) -> Result<Vec<Letter>, EpdError> {
        let Ok((index, _)) = self.core(id) else {
            return Ok(Vec::new());
        };
        Ok(self.letters_of(index))
    }

    async fn diagnoses(
        &self,
        id: &PatientId,
        _ctx: &RequestContext,
    ) -> Result<Vec<Diagnosis>, EpdError> {
        let Ok((index, _)) = self.core(id) else {
            return Ok(Vec::new());
        };
        Ok(self.diagnoses_of(index))
    }

    async fn medication(
        &self,
        id: &PatientId,
        _ctx: &RequestContext,
    ) -> Result<Vec<Medication>, EpdError> {
        let Ok((index, core)) = self.core(id) else {
            return Ok(Vec::new());
        };
        let mut rng = self.rng(index, 5);
        let prescribers = ["dr. H. Peters", "dr. M. de Wit", "dr. C. Mulder"];
        Ok(medication::medication(
            &mut rng,
            self.now,
            core.admission.as_ref(),
            &prescribers,
        ))
    }

    async fn results(
        &self,
        id: &PatientId,
        category: ResultCategory,
        _ctx: &RequestContext,
    ) -> Result<Vec<ResultReport>, EpdError> {
        let Ok((index, _)) = self.core(id) else {
            return Ok(Vec::new());
        };
        Ok(self.results_of(index, category))
    }

    async fn lab_history(
        &self,
        id: &PatientId,
        code: &str,
        _ctx: &RequestContext,
    ) -> Result<Vec<LabObservation>, EpdError> {
        let Ok((index, _)) = self.core(id) else {
            return Ok(Vec::new());
        };
        Ok(self.lab_history_of(index, code))
    }

    async fn document(
        &self,
        id: &PatientId,
        document: &DocumentId,
        _ctx: &RequestContext,
    ) -> Result<Document, EpdError> {
        let (index, core) = self.core(id)?;
        let letter = self
            .letters_of(index)
            .into_iter()
            .find(|l| &l.id == document)
            .ok_or_else(|| EpdError::NotFound(format!("document {document}")))?;
        Ok(Document {
            id: letter.id.clone(),
            title: letter.title.clone(),
            date: letter.date,
            author: Some(letter.author.clone()),
            content: DocumentContent::Text(letters::text(
                &core.patient,
                &letter,
                core.admission.as_ref(),
            )),
        })
    }

    async fn check(&self, _ctx: &RequestContext) -> Result<(), EpdError> {
        // In process: it answers whenever the portal does.
        Ok(())
    }
}

/// The date before which letters are not shown in the demo hospital's portal (its EPD
/// migration), for demos and tests.
pub fn seed_letters_cutoff() -> NaiveDate {
    NaiveDate::from_ymd_opt(2017, 9, 23).unwrap_or_default()
}

/// A fixed `now` for tests: 2026-11-25 08:00 UTC (a Wednesday morning).
pub fn test_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0)
        .single()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;

    use super::*;

    #[test]
    fn same_seed_same_hospital() {
        let a = SyntheticEpd::generate(7, test_now(), 300).unwrap();
        let b = SyntheticEpd::generate(7, test_now(), 300).unwrap();
        let c = SyntheticEpd::generate(8, test_now(), 300).unwrap();
        let names = |e: &SyntheticEpd| {
            e.patients
                .iter()
                .map(|c| c.patient.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&a), names(&b));
        assert_ne!(names(&a), names(&c));
        assert!(a.patients[0].patient.birth_date.year() <= test_now().year() - 18);
    }

    #[test]
    fn size_is_bounded() {
        assert_eq!(
            SyntheticEpd::generate(1, test_now(), 0).unwrap_err(),
            SyntheticError::Size(0)
        );
    }
}
