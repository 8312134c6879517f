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
    Address, Admission, AgbCode, Allergy, AllergySeverity, Bsn, CareMoment, CareMomentKind,
    CareMomentStatus, Coding, ConclusionAndPlan, Culture, Decimal, Diagnosis, Document,
    DocumentContent, DocumentId, Gender, Isolate, LabFlag, LabObservation, Letter, Medication,
    ObservationValue, Patient, PatientId, Period, PersonName, ReferenceRange, RegisteredGp,
    ReportContent, ReportId, ReportStatus, RestrictedTreatment, ResultCategory, ResultReport,
    Susceptibility, SusceptibilityInterpretation, TreatmentRestriction,
};

use crate::{Changes, Epd, EpdError, ListedLetter, ListedPatient, RequestContext};

mod letters;
mod medication;
mod plausible;

/// A GP of the synthetic hospital's region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gp {
    /// The GP's personal AGB code.
    pub agb: u32,
    /// The GP's name.
    pub name: &'static str,
    /// The practice's AGB code.
    pub practice_agb: u32,
    /// The practice's name.
    pub practice: &'static str,
}

/// The demo GPs, whose patients fill the demo's start page. Their AGB codes are those of the
/// demo cards of `zvp-portal testpki generate`.
pub const DEMO_GPS: [Gp; 4] = [
    Gp {
        agb: 1_012_345,
        name: "J. de Vries",
        practice_agb: 1_900_001,
        practice: "Huisartsenpraktijk De Linde",
    },
    Gp {
        agb: 1_012_346,
        name: "F. Yılmaz",
        practice_agb: 1_900_001,
        practice: "Huisartsenpraktijk De Linde",
    },
    Gp {
        agb: 1_012_347,
        name: "A. Jansen",
        practice_agb: 1_900_002,
        practice: "Zorgcentrum Merwestein",
    },
    Gp {
        agb: 1_012_348,
        name: "P. van den Berg",
        practice_agb: 1_900_003,
        practice: "Stichting De Merwelanden",
    },
];

/// The default size of the hospital, in patients.
pub const DEFAULT_PATIENTS: usize = 5_000;

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len() as u64) as usize)
    }

    /// A value around `mean` (a triangular spread of ±`spread`).
    fn around(&mut self, mean: f64, spread: f64) -> f64 {
        let a = self.below(1_000) as f64 / 1_000.0;
        let b = self.below(1_000) as f64 / 1_000.0;
        mean + (a + b - 1.0) * spread
    }
}

/// `value` rounded to `decimals` places, written with exactly that many (a lab value as a
/// laboratory reports it).
fn decimal(value: f64, decimals: usize) -> Option<Decimal> {
    let places = u32::try_from(decimals).ok()?;
    let scale = 10_i64.checked_pow(places)?;
    // The values are lab values: far inside i64 once scaled.
    #[expect(clippy::cast_possible_truncation, reason = "rounded, and small")]
    let mantissa = (value * scale as f64).round() as i64;
    Decimal::from_scaled(mantissa, places).ok()
}

const GIVEN_FEMALE: [&str; 14] = [
    "Anna",
    "Maria",
    "Johanna",
    "Elisabeth",
    "Fatma",
    "Sanne",
    "Emma",
    "Lotte",
    "Sophie",
    "Noor",
    "Wilhelmina",
    "Cornelia",
    "Hendrika",
    "Yasmin",
];
const GIVEN_MALE: [&str; 14] = [
    "Jan", "Pieter", "Johannes", "Hendrik", "Cornelis", "Mohamed", "Daan", "Lucas", "Sem",
    "Willem", "Gerrit", "Ahmet", "Kees", "Bram",
];
const SURNAMES: [(&str, &str); 20] = [
    ("", "Jansen"),
    ("de", "Vries"),
    ("van den", "Berg"),
    ("", "Bakker"),
    ("", "Visser"),
    ("", "Smit"),
    ("", "Meijer"),
    ("de", "Boer"),
    ("", "Mulder"),
    ("de", "Groot"),
    ("", "Bos"),
    ("", "Vos"),
    ("", "Peters"),
    ("", "Hendriks"),
    ("van", "Leeuwen"),
    ("", "Dekker"),
    ("", "Brouwer"),
    ("de", "Wit"),
    ("", "Yılmaz"),
    ("El", "Amrani"),
];
const STREETS: [&str; 9] = [
    "Dorpsstraat",
    "Kerkstraat",
    "Molenweg",
    "Singel",
    "Voorstraat",
    "Wijnstraat",
    "Noordendijk",
    "Merwedestraat",
    "Krispijnseweg",
];
const CITIES: [(u32, &str); 5] = [
    (3311, "Dordrecht"),
    (3351, "Papendrecht"),
    (3331, "Zwijndrecht"),
    (3361, "Sliedrecht"),
    (2951, "Alblasserdam"),
];
const WARDS: [(&str, &str); 6] = [
    ("Interne geneeskunde", "Afdeling B3"),
    ("Cardiologie", "Afdeling C2"),
    ("Longziekten", "Afdeling B4"),
    ("Chirurgie", "Afdeling D1"),
    ("Geriatrie", "Afdeling A2"),
    ("Neurologie", "Afdeling C4"),
];

/// A ward's phone number, the reasons for admission it sees, and its specialists (with their
/// name prefixes, as the hospital writes them).
fn ward_details(
    specialism: &str,
) -> (
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
) {
    match specialism {
        "Cardiologie" => (
            "078 652 3210",
            &[
                "Atriumfibrilleren met snelle ventrikelrespons",
                "Decompensatio cordis",
                "Acuut coronair syndroom (NSTEMI)",
            ],
            &["dr. M. de Wit", "dr. R. van Leeuwen"],
        ),
        "Longziekten" => (
            "078 652 3240",
            &[
                "Community-acquired pneumonie",
                "Exacerbatie COPD",
                "Longembolie",
            ],
            &["dr. S. El Amrani", "dr. H. Peters"],
        ),
        "Chirurgie" => (
            "078 652 3410",
            &[
                "Acute appendicitis",
                "Cholecystitis",
                "Collumfractuur links, na val",
            ],
            &["dr. P. de Groot", "dr. K. Vos"],
        ),
        "Geriatrie" => (
            "078 652 3120",
            &[
                "Delier bij urineweginfectie",
                "Valincident, mobiliteitsproblemen",
                "Verminderde intake en dehydratie",
            ],
            &["dr. W. van den Berg", "dr. E. Meijer"],
        ),
        "Neurologie" => (
            "078 652 3440",
            &[
                "Epileptisch insult",
                "Herseninfarct links, afasie",
                "TIA, analyse",
            ],
            &["dr. J. Bos", "dr. L. de Boer"],
        ),
        _ => (
            "078 652 3130",
            &["Pyelonefritis", "Urosepsis", "Anemie, analyse"],
            &["dr. C. Mulder", "dr. T. de Vries"],
        ),
    }
}

/// A lab test: LOINC code, Dutch name, unit, reference low and high, typical value and
/// spread, decimals shown.
type LabTest = (
    &'static str,
    &'static str,
    &'static str,
    Option<f64>,
    Option<f64>,
    f64,
    f64,
    usize,
);

const LAB_TESTS: [LabTest; 7] = [
    (
        "718-7",
        "Hemoglobine",
        "mmol/L",
        Some(7.5),
        Some(10.0),
        8.3,
        1.6,
        1,
    ),
    (
        "2160-0",
        "Kreatinine",
        "umol/L",
        Some(60.0),
        Some(110.0),
        90.0,
        45.0,
        0,
    ),
    ("1988-5", "CRP", "mg/L", None, Some(5.0), 6.0, 12.0, 0),
    (
        "2823-3",
        "Kalium",
        "mmol/L",
        Some(3.5),
        Some(5.0),
        4.3,
        0.9,
        1,
    ),
    (
        "2951-2",
        "Natrium",
        "mmol/L",
        Some(135.0),
        Some(145.0),
        139.0,
        7.0,
        0,
    ),
    (
        "2345-7",
        "Glucose",
        "mmol/L",
        Some(4.0),
        Some(7.8),
        6.2,
        3.0,
        1,
    ),
    (
        "62238-1",
        "eGFR (CKD-EPI)",
        "mL/min/1.73m2",
        Some(60.0),
        None,
        72.0,
        30.0,
        0,
    ),
];

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
        let gps = gps(size);
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

    fn make_patient(&self, index: usize, gps: &[Gp]) -> Core {
        let mut rng = self.rng(index, 0);
        let female = rng.chance(52);
        let given = rng
            .pick(if female { &GIVEN_FEMALE } else { &GIVEN_MALE })
            .copied()
            .unwrap_or("Jan");
        let (prefix, family) = rng.pick(&SURNAMES).copied().unwrap_or(("", "Jansen"));
        let name = PersonName::new(family)
            .unwrap_or_else(|_| unreachable!("the surnames are not empty"))
            .with_given_names(given)
            .with_prefix(prefix);
        let age_days = 18 * 365 + rng.below(77 * 365) as i64;
        let birth_date = self.now.date_naive() - Duration::days(age_days);
        let bsn = self.unique_bsn(&mut rng);
        let (code, city) = rng.pick(&CITIES).copied().unwrap_or((3311, "Dordrecht"));
        let letters = [b'A' + rng.below(26) as u8, b'A' + rng.below(26) as u8];
        let address = Address {
            street: rng
                .pick(&STREETS)
                .copied()
                .unwrap_or("Dorpsstraat")
                .to_owned(),
            house_number: (1 + rng.below(180)).to_string(),
            postal_code: format!("{code} {}", String::from_utf8_lossy(&letters)),
            city: city.to_owned(),
        };
        // The first patients belong to the demo GPs, so a demo login has patients to show.
        let gp = if index < 160 {
            DEMO_GPS.get(index % DEMO_GPS.len()).copied()
        } else {
            rng.pick(gps).copied()
        };
        let registered_gp = gp.and_then(|gp| {
            AgbCode::new(gp.agb).map(|agb| RegisteredGp {
                agb,
                name: Some(gp.name.to_owned()),
            })
        });
        let elderly = age_days > 75 * 365;
        let mut treatment_restrictions = Vec::new();
        if elderly && rng.chance(30) {
            treatment_restrictions.push(TreatmentRestriction {
                treatment: RestrictedTreatment::Resuscitation,
                limits: None,
                agreed_on: self.now.date_naive() - Duration::days(30 + rng.below(700) as i64),
                comment: Some("Besproken met patiënt en familie".to_owned()),
            });
            if rng.chance(50) {
                treatment_restrictions.push(TreatmentRestriction {
                    treatment: RestrictedTreatment::IntensiveCareAdmission,
                    limits: None,
                    agreed_on: self.now.date_naive() - Duration::days(30 + rng.below(700) as i64),
                    comment: None,
                });
            }
        }
        let id: PatientId = format!("pat-{index:06}")
            .parse()
            .unwrap_or_else(|_| unreachable!("a valid id"));
        let patient = Patient {
            id: id.clone(),
            bsn: Some(bsn),
            name,
            gender: if female { Gender::Female } else { Gender::Male },
            birth_date,
            address: Some(address),
            registered_gp,
            treatment_restrictions,
            sharing_objection: None,
        };
        // A GP of some 2,000 patients has a handful in hospital at a time: the demo GPs'
        // forty patients each are chosen to show that handful.
        let (admitted, discharged) = if index < 160 { (15, 20) } else { (4, 6) };
        let (specialism, ward) = match rng.pick(&WARDS).copied().unwrap_or(WARDS[0]) {
            // Geriatrics admits the old.
            ("Geriatrie", _) if age_days < 70 * 365 => WARDS[0],
            picked => picked,
        };
        let period = if rng.chance(admitted) {
            let start = self.now - Duration::hours(2 + rng.below(10 * 24) as i64);
            Some(Period::open(start))
        } else if rng.chance(discharged) {
            let end = self.now - Duration::hours(1 + rng.below(28 * 24) as i64);
            let start = end - Duration::hours(24 + rng.below(12 * 24) as i64);
            Period::new(start, Some(end)).ok()
        } else {
            None
        };
        let young = age_days < 50 * 365;
        let admission =
            period.map(|period| self.make_admission(index, id, (specialism, ward), young, period));
        Core {
            patient,
            admission,
            letters: std::sync::OnceLock::new(),
        }
    }

    /// An admission to `specialism`'s ward for `period`, with its summary: a reason that
    /// fits the ward, the attending specialist, a room, the ward's phone and, while the
    /// patient is in, an expected discharge a few days after admission.
    fn make_admission(
        &self,
        index: usize,
        patient: PatientId,
        (specialism, ward): (&str, &str),
        young: bool,
        period: Period,
    ) -> Admission {
        // A stream of its own, so that the summary leaves the rest of the patient as it was.
        let mut rng = self.rng(index, 6);
        let (phone, reasons, specialists) = ward_details(specialism);
        // The first reason of each ward is one that befalls younger adults too.
        let reasons = if young {
            reasons.get(..1).unwrap_or(reasons)
        } else {
            reasons
        };
        let reason = rng.pick(reasons).copied().unwrap_or("Observatie");
        let specialist = rng.pick(specialists).copied().unwrap_or("dr. A. Jansen");
        let expected_discharge = period.end().is_none().then(|| {
            let stay = 3 + rng.below(6) as i64;
            let expected = (period.start() + Duration::days(stay)).date_naive();
            expected.max(self.now.date_naive() + Duration::days(1))
        });
        Admission {
            patient,
            ward: format!("{specialism}, {ward}"),
            specialism: specialism.to_owned(),
            period,
            reason: Some(reason.to_owned()),
            specialist: Some(specialist.to_owned()),
            room: Some(format!("Kamer {}", 1 + rng.below(24))),
            ward_phone: Some(phone.to_owned()),
            expected_discharge,
        }
    }

    /// A BSN no earlier patient has.
    fn unique_bsn(&self, rng: &mut Rng) -> Bsn {
        loop {
            let digits: Vec<u32> = (0..8)
                .map(|i| {
                    if i == 0 {
                        1 + rng.below(9) as u32
                    } else {
                        rng.below(10) as u32
                    }
                })
                .collect();
            let sum: u32 = digits
                .iter()
                .zip([9, 8, 7, 6, 5, 4, 3, 2])
                .map(|(d, w)| d * w)
                .sum();
            let check = sum % 11;
            if check == 10 {
                continue;
            }
            let text: String = digits
                .iter()
                .chain([check].iter())
                .map(|d| char::from(b'0' + *d as u8))
                .collect();
            if let Ok(bsn) = text.parse::<Bsn>()
                && !self.by_bsn.contains_key(&bsn)
            {
                return bsn;
            }
        }
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

    /// The clinical chemistry panels of a patient: dates and observations, oldest first.
    fn panels(&self, index: usize) -> Vec<(DateTime<Utc>, Vec<LabObservation>)> {
        let mut rng = self.rng(index, 10);
        let count = 2 + rng.below(7);
        // Going back from now, a few weeks to months between panels.
        let mut dates = Vec::new();
        // Sampled in office hours on weekdays, the latest a day or two ago.
        let mut days_back = 1 + rng.below(2) as i64;
        for _ in 0..count {
            dates.push(plausible::office_hours(self.now, -days_back, &mut rng));
            days_back += 14 + rng.below(90) as i64;
        }
        let diagnoses = self.diagnoses_of(index);
        dates.reverse();
        // A test's range is the same in every panel: made once, copied into each.
        let ranges = LAB_TESTS.map(|(_, _, _, low, high, _, _, decimals)| {
            let decimal = |v: f64| decimal(v, decimals);
            ReferenceRange::new(low.and_then(decimal), high.and_then(decimal), None).ok()
        });
        let mut panels = Vec::new();
        for when in dates {
            let observations = LAB_TESTS
                .iter()
                .zip(&ranges)
                .filter_map(
                    |(&(code, display, unit, low, high, mean, spread, decimals), range)| {
                        if !rng.chance(80) {
                            return None;
                        }
                        let (mean, spread) = plausible::lab_mean(code, mean, spread, &diagnoses);
                        let value = rng.around(mean, spread).max(0.0);
                        let value = decimal(value, decimals)?;
                        let flag = match (low, high) {
                            (Some(l), _) if value.value() < l => Some(LabFlag::Low),
                            (_, Some(h)) if value.value() > h => Some(LabFlag::High),
                            _ => None,
                        };
                        Some(LabObservation {
                            code: Coding {
                                system: "http://loinc.org".to_owned(),
                                code: code.to_owned(),
                                display: display.to_owned(),
                            },
                            value: ObservationValue::Quantity {
                                comparator: None,
                                value,
                                unit: unit.to_owned(),
                            },
                            reference_range: range.clone(),
                            flag,
                            effective: when,
                        })
                    },
                )
                .collect();
            panels.push((when, observations));
        }
        panels
    }

    fn report_id(index: usize, category: ResultCategory, n: u64) -> ReportId {
        format!("rep-{index}-{}-{n}", category.code())
            .parse()
            .unwrap_or_else(|_| unreachable!("a valid id"))
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

/// The GPs of the region: the demo GPs, and three more per practice for every 1,500 patients.
fn gps(size: usize) -> Vec<Gp> {
    const NAMES: [&str; 9] = [
        "K. Bakker",
        "M. Visser",
        "S. Smit",
        "T. Meijer",
        "R. de Boer",
        "E. Mulder",
        "H. de Groot",
        "L. Bos",
        "N. Vos",
    ];
    const PRACTICES: [&str; 6] = [
        "Huisartsenpraktijk Stadspolders",
        "Gezondheidscentrum Sterrenburg",
        "Huisartsen Krispijn",
        "Praktijk Reeland",
        "Huisartsen Wielwijk",
        "Medisch Centrum Dubbeldam",
    ];
    let mut gps = DEMO_GPS.to_vec();
    let practices = size.div_ceil(1_500).max(1);
    for p in 0..practices {
        for g in 0..3 {
            let n = (p * 3 + g) as u32;
            gps.push(Gp {
                agb: 1_020_000 + n,
                name: NAMES
                    .get(n as usize % NAMES.len())
                    .copied()
                    .unwrap_or("K. Bakker"),
                practice_agb: 1_910_000 + p as u32,
                practice: PRACTICES
                    .get(p % PRACTICES.len())
                    .copied()
                    .unwrap_or("Huisartsenpraktijk"),
            });
        }
    }
    gps
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
        let mut rng = self.rng(index, 30 + category as u64);
        let report =
            |n: u64, title: &str, issued: DateTime<Utc>, content: ReportContent| ResultReport {
                id: Self::report_id(index, category, n),
                category,
                title: title.to_owned(),
                issued,
                status: ReportStatus::Final,
                content,
            };
        let mut reports: Vec<ResultReport> = match category {
            ResultCategory::ClinicalChemistry => self
                .panels(index)
                .into_iter()
                .enumerate()
                .map(|(n, (when, observations))| report(n as u64, "Klinisch-chemisch onderzoek", when + Duration::hours(2), ReportContent::Observations(observations)))
                .collect(),
            ResultCategory::Microbiology => (0..rng.below(3))
                .map(|n| {
                    let positive = rng.chance(60);
                    let isolates = if positive {
                        vec![Isolate {
                            organism: "Escherichia coli".to_owned(),
                            quantity: Some(">10^5 kve/ml".to_owned()),
                            susceptibilities: vec![
                                Susceptibility { antibiotic: "Amoxicilline".to_owned(), interpretation: SusceptibilityInterpretation::Resistant, mic: Some(">8 mg/L".to_owned()) },
                                Susceptibility { antibiotic: "Nitrofurantoïne".to_owned(), interpretation: SusceptibilityInterpretation::Susceptible, mic: Some("<=16 mg/L".to_owned()) },
                                Susceptibility { antibiotic: "Ciprofloxacine".to_owned(), interpretation: SusceptibilityInterpretation::SusceptibleIncreasedExposure, mic: Some("0.5 mg/L".to_owned()) },
                            ],
                        }]
                    } else {
                        Vec::new()
                    };
                    let culture = Culture {
                        specimen: "Urine".to_owned(),
                        isolates,
                        conclusion: Some(if positive { "Urineweginfectie met E. coli." } else { "Geen groei." }.to_owned()),
                    };
                    report(n, "Urinekweek", self.now - Duration::days(3 + rng.below(300) as i64), ReportContent::Culture(culture))
                })
                .collect(),
            ResultCategory::NuclearLab => (0..rng.below(2))
                .map(|n| {
                    let when = self.now - Duration::days(10 + rng.below(300) as i64);
                    let tsh: Decimal = format!("{:.2}", rng.around(2.0, 1.8).max(0.05)).parse().unwrap_or_else(|_| unreachable!("a decimal"));
                    let range = ReferenceRange::new("0.40".parse().ok(), "4.00".parse().ok(), None).ok();
                    let flag = if tsh.value() > 4.0 { Some(LabFlag::High) } else if tsh.value() < 0.4 { Some(LabFlag::Low) } else { None };
                    report(n, "Schildklierfunctie", when, ReportContent::Observations(vec![LabObservation {
                        code: Coding { system: "http://loinc.org".to_owned(), code: "3016-3".to_owned(), display: "TSH".to_owned() },
                        value: ObservationValue::Quantity { comparator: None, value: tsh, unit: "mU/L".to_owned() },
                        reference_range: range,
                        flag,
                        effective: when,
                    }]))
                })
                .collect(),
            ResultCategory::Pathology => (0..rng.below(2))
                .map(|n| report(n, "Histologie huidbiopt", self.now - Duration::days(20 + rng.below(600) as i64), ReportContent::Text(
                    "Macroscopie: huidbiopt van 4 mm.\nMicroscopie: basaalcelcarcinoom, nodulair type, radicaal verwijderd.\nConclusie: basaalcelcarcinoom, radicaal.".to_owned(),
                )))
                .collect(),
            ResultCategory::Radiology => (0..rng.below(3))
                .map(|n| report(n, "X-thorax", self.now - Duration::days(1 + rng.below(400) as i64), ReportContent::Text(
                    "Verslag: geen infiltraat, geen pleuravocht. Hart niet vergroot.\nConclusie: geen afwijkingen.".to_owned(),
                )))
                .collect(),
            ResultCategory::Other => (0..rng.below(2))
                .map(|n| report(n, "ECG", self.now - Duration::days(2 + rng.below(500) as i64), ReportContent::Text(
                    "Sinusritme 72/min, normale as, geen repolarisatiestoornissen.\nConclusie: normaal ECG.".to_owned(),
                )))
                .collect(),
        };
        reports.sort_by_key(|r| std::cmp::Reverse(r.issued));
        Ok(reports)
    }

    async fn lab_history(
        &self,
        id: &PatientId,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<LabObservation>, EpdError> {
        let Ok((index, _)) = self.core(id) else {
            return Ok(Vec::new());
        };
        let nuclear = self.results(id, ResultCategory::NuclearLab, ctx).await?;
        let mut history: Vec<LabObservation> = self
            .panels(index)
            .into_iter()
            .flat_map(|(_, observations)| observations)
            .chain(nuclear.into_iter().flat_map(|r| match r.content {
                ReportContent::Observations(values) => values,
                ReportContent::Culture(_) | ReportContent::Text(_) => Vec::new(),
            }))
            .filter(|o| o.code.code == code)
            .collect();
        history.sort_by_key(|o| o.effective);
        Ok(history)
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
    fn lab_values_are_written_with_their_decimals() {
        assert_eq!(decimal(8.25, 1).unwrap().as_str(), "8.3");
        assert_eq!(decimal(0.04, 2).unwrap().as_str(), "0.04");
        assert_eq!(decimal(0.0, 1).unwrap().as_str(), "0.0");
        assert_eq!(decimal(90.4, 0).unwrap().as_str(), "90");
        assert_eq!(decimal(-1.26, 1).unwrap().as_str(), "-1.3");
        // Against the formatter, away from ties (where the two may round differently).
        let mut rng = Rng(11);
        for _ in 0..10_000 {
            let value = rng.below(1_000_000) as f64 / 1_000.0 + 0.000_3;
            for decimals in 0..3 {
                let ours = decimal(value, decimals).unwrap();
                assert_eq!(
                    ours.as_str(),
                    format!("{value:.decimals$}"),
                    "{value} {decimals}"
                );
                assert_eq!(ours.value(), ours.as_str().parse::<f64>().unwrap());
            }
        }
    }

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
