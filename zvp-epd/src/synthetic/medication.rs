//! The synthetic hospital's medication: each medicine at most once in use, chronic
//! medication from long before, and around an admission what a ward does — a medicine
//! started, one stopped, one dose changed (the old dose stopped and the new one started at
//! the same moment, as an EPD records a change).

use chrono::{DateTime, Duration, Utc};
use zvp_core::{Admission, Medication, Period};

use super::Rng;

/// Chronic medication: name, dosage.
const CHRONIC: [(&str, &str); 8] = [
    ("Metoprolol tablet 50mg", "2x per dag 1 tablet"),
    ("Furosemide tablet 40mg", "1x per dag 1 tablet"),
    ("Metformine tablet 500mg", "2x per dag 1 tablet"),
    ("Apixaban tablet 5mg", "2x per dag 1 tablet"),
    ("Omeprazol capsule 20mg", "1x per dag 1 capsule"),
    (
        "Atorvastatine tablet 20mg",
        "1x per dag 1 tablet, 's avonds",
    ),
    ("Perindopril tablet 4mg", "1x per dag 1 tablet"),
    ("Tiotropium inhalatiepoeder 18µg", "1x per dag 1 inhalatie"),
];

/// What a ward starts during an admission, by specialism.
fn started_on(specialism: &str) -> (&'static str, &'static str) {
    match specialism {
        "Cardiologie" => ("Spironolacton tablet 25mg", "1x per dag 1 tablet"),
        "Longziekten" => ("Prednisolon tablet 30mg", "1x per dag 1 tablet, 5 dagen"),
        "Chirurgie" => (
            "Nadroparine injectie 2850IE",
            "1x per dag 1 injectie, 4 weken",
        ),
        "Geriatrie" => ("Colecalciferol tablet 800IE", "1x per dag 1 tablet"),
        "Neurologie" => ("Clopidogrel tablet 75mg", "1x per dag 1 tablet"),
        _ => (
            "Nitrofurantoïne capsule 100mg",
            "2x per dag 1 capsule, 5 dagen",
        ),
    }
}

/// The medication of one patient, from its own generator, as of `now`.
pub(super) fn medication(
    rng: &mut Rng,
    now: DateTime<Utc>,
    admission: Option<&Admission>,
    prescribers: &[&str],
) -> Vec<Medication> {
    let prescriber = |rng: &mut Rng| {
        rng.pick(prescribers)
            .map(|p| (*p).to_owned())
            .or_else(|| Some("dr. A. Jansen".to_owned()))
    };
    let mut chronic: Vec<(&str, &str)> = CHRONIC.to_vec();
    let mut items = Vec::new();
    // Distinct medicines: drawn without putting back.
    for _ in 0..(1 + rng.below(4)) {
        if chronic.is_empty() {
            break;
        }
        let (name, dosage) = chronic.remove(rng.below(chronic.len() as u64) as usize);
        let start = now - Duration::days(120 + rng.below(1500) as i64);
        items.push(Medication {
            name: name.to_owned(),
            dosage: dosage.to_owned(),
            route: Some("oraal".to_owned()),
            period: Period::open(start),
            prescriber: prescriber(rng),
        });
    }
    // A course that ended long ago.
    if rng.chance(40) {
        let start = now - Duration::days(200 + rng.below(400) as i64);
        let end = start + Duration::days(5 + rng.below(10) as i64);
        if let Ok(period) = Period::new(start, Some(end)) {
            items.push(Medication {
                name: "Amoxicilline/clavulaanzuur tablet 500/125mg".to_owned(),
                dosage: "3x per dag 1 tablet".to_owned(),
                route: Some("oraal".to_owned()),
                period,
                prescriber: prescriber(rng),
            });
        }
    }
    let Some(admission) = admission else {
        return items;
    };
    // During the admission: a day or so after it began, before it ended.
    let begun = admission.admitted_at() + Duration::hours(6 + rng.below(30) as i64);
    let at = admission
        .discharged_at()
        .map_or(begun, |end| begun.min(end));
    let at = at.min(now);
    let (name, dosage) = started_on(&admission.specialism);
    items.push(Medication {
        name: name.to_owned(),
        dosage: dosage.to_owned(),
        route: Some(
            if name.contains("injectie") {
                "subcutaan"
            } else {
                "oraal"
            }
            .to_owned(),
        ),
        period: Period::open(at),
        prescriber: admission.specialist.clone(),
    });
    // The first chronic medicine: stopped, or its dose changed.
    if let Some(first) = items.first_mut() {
        let old = first.clone();
        if let Ok(period) = Period::new(old.period.start(), Some(at)) {
            first.period = period;
            if rng.chance(50) {
                let mut changed = old;
                changed.dosage = if changed.dosage.starts_with("1x per dag") {
                    changed.dosage.replacen("1x per dag", "2x per dag", 1)
                } else {
                    changed.dosage.replacen("2x per dag", "3x per dag", 1)
                };
                changed.period = Period::open(at);
                changed.prescriber = admission.specialist.clone();
                items.push(changed);
            }
        }
    }
    items
}
