//! The synthetic hospital's patients: Dutch names and addresses around Dordrecht, valid and
//! unique BSNs, a registered GP, and for some an admission to one of its wards.

use chrono::Duration;
use zvp_core::{
    Address, Admission, AgbCode, Bsn, Gender, Patient, PatientId, Period, PersonName, RegisteredGp,
    RestrictedTreatment, TreatmentRestriction,
};

use super::{Core, DEMO_GPS, Gp, Rng, SyntheticEpd};

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
pub(super) const SURNAMES: [(&str, &str); 20] = [
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
pub(super) const WARDS: [(&str, &str); 6] = [
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

impl SyntheticEpd {
    /// Patient `index`: name, BSN, address, registered GP and, for some, an admission.
    pub(super) fn make_patient(&self, index: usize, gps: &[Gp]) -> Core {
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
}
