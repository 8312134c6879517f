//! Results (uitslagen): lab values, cultures and text reports.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Decimal, RecordError};
use crate::id::ReportId;
use crate::vocabulary::ResultCategory;

/// A code from a code system (LOINC, SNOMED CT, ICD-10 or the lab's own).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coding {
    /// The code system's URI (`http://loinc.org`).
    pub system: String,
    /// The code (`2160-0`).
    pub code: String,
    /// Its display text (`Kreatinine`).
    pub display: String,
}

/// One result report in one category: a lab panel, a culture, or a text report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultReport {
    /// The EPD's id of the report.
    pub id: ReportId,
    /// Its category.
    pub category: ResultCategory,
    /// What was examined (`Nierfunctie`, `X-thorax`).
    pub title: String,
    /// When the report was issued.
    pub issued: DateTime<Utc>,
    /// Where it stands.
    pub status: ReportStatus,
    /// What it says.
    pub content: ReportContent,
}

/// The state of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    /// Not final yet; values may change.
    Preliminary,
    /// Final.
    Final,
    /// Changed after it was final.
    Amended,
    /// Withdrawn.
    Cancelled,
}

/// The body of a report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportContent {
    /// Coded measurements (clinical chemistry, nuclear lab).
    Observations(Vec<LabObservation>),
    /// A culture with isolates and susceptibilities (microbiology).
    Culture(Culture),
    /// A text report (pathology, radiology).
    Text(String),
}

/// One measured lab value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabObservation {
    /// What was measured; the key of a test's history.
    pub code: Coding,
    /// The value.
    pub value: ObservationValue,
    /// The lab's reference range, if it gives one.
    pub reference_range: Option<ReferenceRange>,
    /// The lab's abnormal flag, if any. The lab's judgement is shown as given; the portal does
    /// not compute its own.
    pub flag: Option<LabFlag>,
    /// When the sample was taken.
    pub effective: DateTime<Utc>,
}

/// A measured value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObservationValue {
    /// A number with a unit, possibly beyond a detection limit (`< 5 mg/L`).
    Quantity {
        /// `<`, `<=`, `>=` or `>` for a value beyond a detection limit.
        comparator: Option<Comparator>,
        /// The number.
        value: Decimal,
        /// The unit (UCUM where the lab uses it: `mmol/L`, `umol/L`, `10*9/L`).
        unit: String,
    },
    /// A textual result (`negatief`).
    Text(String),
}

/// How a value relates to the number given, for results at a detection limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Comparator {
    /// `<`
    #[serde(rename = "<")]
    LessThan,
    /// `<=`
    #[serde(rename = "<=")]
    AtMost,
    /// `>=`
    #[serde(rename = ">=")]
    AtLeast,
    /// `>`
    #[serde(rename = ">")]
    GreaterThan,
}

impl Comparator {
    /// The symbol (`<`, `<=`, `>=`, `>`).
    pub const fn symbol(self) -> &'static str {
        match self {
            Self::LessThan => "<",
            Self::AtMost => "<=",
            Self::AtLeast => ">=",
            Self::GreaterThan => ">",
        }
    }
}

/// The lab's abnormal flag (HL7 v2 table 0078).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabFlag {
    /// `L`: below the reference range.
    Low,
    /// `H`: above the reference range.
    High,
    /// `LL`: critically low.
    CriticallyLow,
    /// `HH`: critically high.
    CriticallyHigh,
    /// `A`: abnormal (for non-numeric results).
    Abnormal,
}

/// A lab's reference range: a low limit, a high limit, or both, and/or a text.
///
/// ```
/// use zvp_core::{RecordError, ReferenceRange};
/// let range = ReferenceRange::new(Some("3.5".parse()?), Some("5.0".parse()?), None)?;
/// assert_eq!(range.to_string(), "3.5 - 5.0");
/// assert!(matches!(
///     ReferenceRange::new(Some("5".parse()?), Some("3".parse()?), None),
///     Err(RecordError::InvertedReferenceRange { .. })
/// ));
/// # Ok::<(), RecordError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RangeFields", into = "RangeFields")]
pub struct ReferenceRange {
    // INVARIANT: at least one of the three is present; low <= high when both are.
    low: Option<Decimal>,
    high: Option<Decimal>,
    text: Option<String>,
}

/// The serde form of [`ReferenceRange`], checked on the way in.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    low: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    high: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

impl ReferenceRange {
    /// A range from its limits and text.
    ///
    /// # Errors
    ///
    /// [`RecordError::EmptyReferenceRange`] when all three are absent (a blank text counts as
    /// absent); [`RecordError::InvertedReferenceRange`] when `low` is above `high`.
    pub fn new(
        low: Option<Decimal>,
        high: Option<Decimal>,
        text: Option<String>,
    ) -> Result<Self, RecordError> {
        let text = text.filter(|t| !t.trim().is_empty());
        if let (Some(l), Some(h)) = (&low, &high)
            && l.value() > h.value()
        {
            return Err(RecordError::InvertedReferenceRange {
                low: l.to_string(),
                high: h.to_string(),
            });
        }
        if low.is_none() && high.is_none() && text.is_none() {
            return Err(RecordError::EmptyReferenceRange);
        }
        Ok(Self { low, high, text })
    }

    /// The low limit, if any.
    pub const fn low(&self) -> Option<&Decimal> {
        self.low.as_ref()
    }

    /// The high limit, if any.
    pub const fn high(&self) -> Option<&Decimal> {
        self.high.as_ref()
    }

    /// The lab's text for the range, if any (`negatief`, `< 5`).
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }
}

impl std::fmt::Display for ReferenceRange {
    /// `3.5 - 5.0`, `< 5`, `> 60`, or the lab's text when there are no limits.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.low, &self.high, &self.text) {
            (Some(l), Some(h), _) => write!(f, "{l} - {h}"),
            (None, Some(h), _) => write!(f, "< {h}"),
            (Some(l), None, _) => write!(f, "> {l}"),
            (None, None, Some(t)) => f.write_str(t),
            (None, None, None) => Ok(()),
        }
    }
}

impl TryFrom<RangeFields> for ReferenceRange {
    type Error = RecordError;

    fn try_from(f: RangeFields) -> Result<Self, Self::Error> {
        Self::new(f.low, f.high, f.text)
    }
}

impl From<ReferenceRange> for RangeFields {
    fn from(r: ReferenceRange) -> Self {
        Self {
            low: r.low,
            high: r.high,
            text: r.text,
        }
    }
}

/// A microbiological culture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Culture {
    /// The material cultured (`Urine`, `Bloedkweek`).
    pub specimen: String,
    /// The organisms grown; empty when the culture stayed negative.
    pub isolates: Vec<Isolate>,
    /// The microbiologist's conclusion, if any.
    pub conclusion: Option<String>,
}

/// One organism grown in a culture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Isolate {
    /// The organism (`Escherichia coli`).
    pub organism: String,
    /// How much grew (`>10^5 kve/ml`), if reported.
    pub quantity: Option<String>,
    /// The antibiogram.
    pub susceptibilities: Vec<Susceptibility>,
}

/// The susceptibility of an isolate to one antibiotic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Susceptibility {
    /// The antibiotic (`Amoxicilline`).
    pub antibiotic: String,
    /// S, I or R.
    pub interpretation: SusceptibilityInterpretation,
    /// The minimum inhibitory concentration as reported (`<=2 mg/L`), if any.
    pub mic: Option<String>,
}

/// EUCAST's interpretation categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SusceptibilityInterpretation {
    /// `S`: susceptible at the standard dose.
    Susceptible,
    /// `I`: susceptible at increased exposure.
    SusceptibleIncreasedExposure,
    /// `R`: resistant.
    Resistant,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn empty_range_is_refused() {
        assert_eq!(
            ReferenceRange::new(None, None, Some("  ".to_owned())),
            Err(RecordError::EmptyReferenceRange)
        );
    }

    #[test]
    fn inverted_range_is_refused() {
        assert_eq!(
            ReferenceRange::new(Some(d("10")), Some(d("9.5")), None),
            Err(RecordError::InvertedReferenceRange {
                low: "10".to_owned(),
                high: "9.5".to_owned()
            })
        );
    }

    #[test]
    fn one_sided_ranges_display_as_limits() {
        let upper = ReferenceRange::new(None, Some(d("5")), None).unwrap();
        assert_eq!(upper.to_string(), "< 5");
        let lower = ReferenceRange::new(Some(d("60")), None, None).unwrap();
        assert_eq!(lower.to_string(), "> 60");
        let text = ReferenceRange::new(None, None, Some("negatief".to_owned())).unwrap();
        assert_eq!(text.to_string(), "negatief");
    }

    #[test]
    fn range_serde_checks_the_order() {
        let err = serde_json::from_str::<ReferenceRange>(r#"{"low":"5","high":"3"}"#).unwrap_err();
        assert_eq!(err.to_string(), "reference range: low 5 is above high 3");
        let range: ReferenceRange = serde_json::from_str(r#"{"low":"3.5","high":"5.0"}"#).unwrap();
        assert_eq!(range.low(), Some(&d("3.5")));
    }

    #[test]
    fn lab_report_round_trips_through_json() {
        let report = ResultReport {
            id: "rep-1".parse().unwrap(),
            category: ResultCategory::ClinicalChemistry,
            title: "Nierfunctie".to_owned(),
            issued: "2026-11-25T08:15:00Z".parse().unwrap(),
            status: ReportStatus::Final,
            content: ReportContent::Observations(vec![LabObservation {
                code: Coding {
                    system: "http://loinc.org".to_owned(),
                    code: "2160-0".to_owned(),
                    display: "Kreatinine".to_owned(),
                },
                value: ObservationValue::Quantity {
                    comparator: None,
                    value: d("142"),
                    unit: "umol/L".to_owned(),
                },
                reference_range: Some(
                    ReferenceRange::new(Some(d("60")), Some(d("110")), None).unwrap(),
                ),
                flag: Some(LabFlag::High),
                effective: "2026-11-25T07:30:00Z".parse().unwrap(),
            }]),
        };
        let json = serde_json::to_string(&report).unwrap();
        assert_eq!(serde_json::from_str::<ResultReport>(&json).unwrap(), report);
    }

    #[test]
    fn comparator_symbols_match_their_serde_names() {
        for c in [
            Comparator::LessThan,
            Comparator::AtMost,
            Comparator::AtLeast,
            Comparator::GreaterThan,
        ] {
            assert_eq!(
                serde_json::to_string(&c).unwrap(),
                format!("\"{}\"", c.symbol())
            );
        }
    }
}
