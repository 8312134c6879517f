//! The synthetic hospital's results: clinical chemistry panels of plausible values, and the
//! reports of every results category, made when asked for from the patient's own generator.

use chrono::{DateTime, Duration, Utc};
use zvp_core::{
    Coding, Culture, Decimal, Isolate, LabFlag, LabObservation, ObservationValue, ReferenceRange,
    ReportContent, ReportId, ReportStatus, ResultCategory, ResultReport, Susceptibility,
    SusceptibilityInterpretation,
};

use super::{SyntheticEpd, plausible};

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

impl SyntheticEpd {
    /// The clinical chemistry panels of a patient: dates and observations, oldest first.
    pub(super) fn panels(&self, index: usize) -> Vec<(DateTime<Utc>, Vec<LabObservation>)> {
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

    /// The reports of one category, newest first.
    pub(super) fn results_of(&self, index: usize, category: ResultCategory) -> Vec<ResultReport> {
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
        reports
    }

    /// One lab test's values over time, oldest first: the panels' and the nuclear lab's.
    pub(super) fn lab_history_of(&self, index: usize, code: &str) -> Vec<LabObservation> {
        let nuclear = self.results_of(index, ResultCategory::NuclearLab);
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
        history
    }
}

#[cfg(test)]
mod tests {
    use super::super::Rng;
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
}
