//! What keeps the synthetic hospital believable: doctors named with their prefixes,
//! appointments within office hours on weekdays, diagnoses that fit the age, lab values that
//! agree with the diagnoses.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use zvp_core::{Coding, Diagnosis, DiagnosisStatus};

use super::{Rng, SURNAMES};

/// A specialist's name as the hospital writes it: `dr. M. de Vries`, the prefix kept.
pub(super) fn doctor(rng: &mut Rng) -> String {
    let initial = char::from(b'A' + rng.below(26) as u8);
    let (prefix, family) = rng.pick(&SURNAMES).copied().unwrap_or(("", "Jansen"));
    if prefix.is_empty() {
        format!("dr. {initial}. {family}")
    } else {
        format!("dr. {initial}. {prefix} {family}")
    }
}

/// A weekday `days` from `now`'s date (a weekend moves to the Friday before), at a quarter
/// hour between 08:00 and 14:45 UTC: 09:00–15:45 in Dutch winter time, 10:00–16:45 in summer.
/// A time that would not lie on the asked side of `now` moves a week further.
pub(super) fn office_hours(now: DateTime<Utc>, days: i64, rng: &mut Rng) -> DateTime<Utc> {
    let mut date = now.date_naive() + Duration::days(days);
    date = match date.weekday() {
        Weekday::Sat => date - Duration::days(1),
        Weekday::Sun => date - Duration::days(2),
        _ => date,
    };
    let at = |d: NaiveDate, quarter: u64| {
        d.and_hms_opt(8, 0, 0)
            .map(|t| t.and_utc() + Duration::minutes(15 * quarter as i64))
            .unwrap_or(now)
    };
    let quarter = rng.below(28);
    let t = at(date, quarter);
    match (days < 0, t < now) {
        (true, false) => at(date - Duration::days(7), quarter),
        (false, true) => at(date + Duration::days(7), quarter),
        _ => t,
    }
}

/// Age in whole years on `today`.
pub(super) fn age(birth: NaiveDate, today: NaiveDate) -> i32 {
    let years = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        years - 1
    } else {
        years
    }
}

/// Diagnoses of later life: ICD-10, words, specialism.
const OLDER: [(&str, &str, &str); 6] = [
    ("I50.9", "Hartfalen", "Cardiologie"),
    ("J44.9", "COPD", "Longziekten"),
    ("E11.9", "Diabetes mellitus type 2", "Interne geneeskunde"),
    (
        "N18.3",
        "Chronische nierschade stadium 3",
        "Interne geneeskunde",
    ),
    ("I48.9", "Atriumfibrilleren", "Cardiologie"),
    ("M16.9", "Coxartrose", "Orthopedie"),
];
/// Diagnoses of younger adults.
const YOUNGER: [(&str, &str, &str); 5] = [
    ("J45.9", "Astma", "Longziekten"),
    ("G43.9", "Migraine", "Neurologie"),
    ("E03.9", "Hypothyreoïdie", "Interne geneeskunde"),
    ("K50.9", "Ziekte van Crohn", "Maag-darm-leverziekten"),
    ("E10.9", "Diabetes mellitus type 1", "Interne geneeskunde"),
];

/// The patient's diagnoses: each at most once, fitting the age.
pub(super) fn diagnoses(rng: &mut Rng, now: DateTime<Utc>, age: i32) -> Vec<Diagnosis> {
    let mut pool: Vec<(&str, &str, &str)> = if age >= 50 {
        OLDER.to_vec()
    } else {
        YOUNGER.to_vec()
    };
    let mut out = Vec::new();
    for _ in 0..(1 + rng.below(3)) {
        if pool.is_empty() {
            break;
        }
        let (code, description, specialism) = pool.remove(rng.below(pool.len() as u64) as usize);
        out.push(Diagnosis {
            description: description.to_owned(),
            code: Some(Coding {
                system: "http://hl7.org/fhir/sid/icd-10".to_owned(),
                code: code.to_owned(),
                display: description.to_owned(),
            }),
            onset: Some(now.date_naive() - Duration::days(30 + rng.below(3000) as i64)),
            // Chronic conditions stay: a resolved one is a past episode.
            status: if code.starts_with('N') || code.starts_with('E') || rng.chance(85) {
                DiagnosisStatus::Active
            } else {
                DiagnosisStatus::Resolved
            },
            specialism: specialism.to_owned(),
        });
    }
    out
}

/// Whether an active diagnosis has this ICD-10 code.
pub(super) fn has(diagnoses: &[Diagnosis], code: &str) -> bool {
    diagnoses.iter().any(|d| {
        d.status == DiagnosisStatus::Active && d.code.as_ref().is_some_and(|c| c.code == code)
    })
}

/// A lab test's typical value and spread for this patient: kidney values that fit chronic
/// kidney damage stage 3 (eGFR 30–59), glucose that fits diabetes, others as the table says.
pub(super) fn lab_mean(code: &str, mean: f64, spread: f64, diagnoses: &[Diagnosis]) -> (f64, f64) {
    let ckd = has(diagnoses, "N18.3");
    let diabetes = has(diagnoses, "E11.9") || has(diagnoses, "E10.9");
    match code {
        "62238-1" if ckd => (45.0, 13.0),
        "62238-1" => (85.0, 18.0),
        "2160-0" if ckd => (140.0, 30.0),
        "2160-0" => (82.0, 20.0),
        "2345-7" if diabetes => (8.8, 3.0),
        "2345-7" => (5.6, 1.2),
        _ => (mean, spread),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn office_hours_are_weekdays_by_day_on_the_asked_side() {
        let mut rng = Rng::new(5);
        let now = super::super::test_now();
        for days in [-30, -1, 0, 1, 3, 40] {
            for _ in 0..50 {
                let t = office_hours(now, days, &mut rng);
                assert!(!matches!(t.weekday(), Weekday::Sat | Weekday::Sun), "{t}");
                let minutes = t
                    .time()
                    .signed_duration_since(chrono::NaiveTime::MIN)
                    .num_minutes();
                assert!((8 * 60..15 * 60).contains(&minutes), "{t}");
                if days < 0 {
                    assert!(t < now, "{days}: {t}");
                } else if days > 0 {
                    assert!(t > now, "{days}: {t}");
                }
            }
        }
    }

    #[test]
    fn diagnoses_fit_the_age_and_come_once() {
        let mut rng = Rng::new(9);
        let now = super::super::test_now();
        for _ in 0..500 {
            let young = diagnoses(&mut rng, now, 27);
            assert!(
                young
                    .iter()
                    .all(|d| YOUNGER.iter().any(|y| y.1 == d.description))
            );
            let old = diagnoses(&mut rng, now, 80);
            let mut names: Vec<&str> = old.iter().map(|d| d.description.as_str()).collect();
            names.dedup();
            names.sort_unstable();
            let len = names.len();
            names.dedup();
            assert_eq!(names.len(), len);
        }
    }

    #[test]
    fn kidney_values_agree_with_kidney_damage() {
        let mut rng = Rng::new(1);
        let ckd = diagnoses(&mut rng, super::super::test_now(), 80)
            .into_iter()
            .chain(std::iter::once(Diagnosis {
                description: "Chronische nierschade stadium 3".to_owned(),
                code: Some(Coding {
                    system: String::new(),
                    code: "N18.3".to_owned(),
                    display: String::new(),
                }),
                onset: None,
                status: DiagnosisStatus::Active,
                specialism: String::new(),
            }))
            .collect::<Vec<_>>();
        let (mean, spread) = lab_mean("62238-1", 72.0, 30.0, &ckd);
        assert!(mean + spread < 60.0 && mean - spread >= 30.0);
        let (mean, spread) = lab_mean("62238-1", 72.0, 30.0, &[]);
        assert!(mean - spread >= 60.0);
    }
}
