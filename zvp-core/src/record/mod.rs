//! The patient record as a Zorgverlenersportaal shows it.
//!
//! These are the values the EPD adapter returns and the portal renders: [`Patient`] (with
//! [`TreatmentRestriction`]s), [`Admission`], [`CareMoment`], the dossier entries
//! ([`Allergy`], [`ConclusionAndPlan`], [`Letter`], [`Diagnosis`], [`Medication`]), result
//! reports ([`ResultReport`]) and [`Document`]s. They are read-only snapshots of the EPD at
//! request time; the portal keeps none of them.
//!
//! Where a value has a rule, its type carries it: a [`Period`] never ends before it starts, a
//! [`Decimal`] is a decimal number that keeps its written precision, a [`ReferenceRange`] has a
//! limit or a text and never a low above its high, and a [`PersonName`] has a family name.
//! Plain text fields are free text from the EPD.

mod care;
mod document;
mod dossier;
mod patient;
mod results;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use care::{Admission, AdmissionStatus, CareMoment, CareMomentKind, CareMomentStatus};
pub use document::{Document, DocumentContent, Pdf};
pub use dossier::{
    Allergy, AllergySeverity, ConclusionAndPlan, Diagnosis, DiagnosisStatus, Letter, Medication,
};
pub use patient::{
    Address, Gender, Patient, PersonName, RegisteredGp, RestrictedTreatment, SharingObjection,
    TreatmentRestriction,
};
pub use results::{
    Coding, Comparator, Culture, Isolate, LabFlag, LabObservation, ObservationValue,
    ReferenceRange, ReportContent, ReportStatus, ResultReport, Susceptibility,
    SusceptibilityInterpretation,
};

use crate::id::serde_via_str;

/// Why a record value could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A person's name without a family name (achternaam).
    #[error("name: the family name is empty")]
    EmptyFamilyName,
    /// A period whose end lies before its start.
    #[error("period: ends at {end} before it starts at {start}")]
    PeriodEndsBeforeStart {
        /// The start of the period.
        start: DateTime<Utc>,
        /// The end that lies before it.
        end: DateTime<Utc>,
    },
    /// Text that is not a plain decimal number (`-?[0-9]+(.[0-9]+)?`, at most 32 characters).
    #[error("decimal: {0:?} is not a decimal number")]
    InvalidDecimal(String),
    /// A reference range without a low limit, a high limit or a text.
    #[error("reference range: it has no low limit, no high limit and no text")]
    EmptyReferenceRange,
    /// Bytes offered as a PDF that do not start with the PDF header.
    #[error("pdf: the bytes do not start with %PDF-")]
    NotPdf,
    /// A reference range whose low limit is above its high limit.
    #[error("reference range: low {low} is above high {high}")]
    InvertedReferenceRange {
        /// The low limit as written.
        low: String,
        /// The high limit as written.
        high: String,
    },
}

/// A stretch of time with a start and, once it has ended, an end not before the start.
///
/// An admission's period runs from admission to discharge; a medication's from its start to
/// its stop. `end` is `None` while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PeriodFields", into = "PeriodFields")]
pub struct Period {
    // INVARIANT: end >= start when present.
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
}

/// The serde form of [`Period`], checked on the way in.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodFields {
    start: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<DateTime<Utc>>,
}

impl Period {
    /// A period from `start` to `end` (`None`: still running).
    ///
    /// # Errors
    ///
    /// [`RecordError::PeriodEndsBeforeStart`] when `end` lies before `start`.
    pub fn new(start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> Result<Self, RecordError> {
        match end {
            Some(end) if end < start => Err(RecordError::PeriodEndsBeforeStart { start, end }),
            _ => Ok(Self { start, end }),
        }
    }

    /// A period that started at `start` and has not ended.
    pub const fn open(start: DateTime<Utc>) -> Self {
        Self { start, end: None }
    }

    /// When the period started.
    pub const fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// When the period ended, if it has.
    pub const fn end(&self) -> Option<DateTime<Utc>> {
        self.end
    }

    /// Whether `at` falls in the period: `start <= at`, and `at < end` if it has ended.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && self.end.is_none_or(|end| at < end)
    }
}

impl TryFrom<PeriodFields> for Period {
    type Error = RecordError;

    fn try_from(f: PeriodFields) -> Result<Self, Self::Error> {
        Self::new(f.start, f.end)
    }
}

impl From<Period> for PeriodFields {
    fn from(p: Period) -> Self {
        Self {
            start: p.start,
            end: p.end,
        }
    }
}

/// A decimal number as a laboratory writes it: `5.40` stays `5.40`.
///
/// The text is kept because its precision is part of the result; the value is there for
/// comparisons and charts. Only plain decimals are accepted (`-?[0-9]+(.[0-9]+)?`, at most
/// 32 characters): no exponent, no `NaN`, no comma, no sign `+`.
///
/// ```
/// use zvp_core::Decimal;
/// let d: Decimal = "5.40".parse()?;
/// assert_eq!(d.to_string(), "5.40");
/// assert_eq!(d.value(), 5.4);
/// # Ok::<(), zvp_core::RecordError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Decimal {
    // INVARIANT: `text` matches the grammar above and `value` is its (finite) value.
    text: String,
    value: f64,
}

impl Decimal {
    /// The longest decimal accepted, in characters. Lab values have a handful of digits; the
    /// bound keeps hostile input from costing work.
    pub const MAX_LEN: usize = 32;

    /// The number as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The number's value.
    pub const fn value(&self) -> f64 {
        self.value
    }

    /// The decimal `mantissa × 10^-places`, written with exactly `places` decimals: `(540, 2)`
    /// is `5.40`, `(-7, 1)` is `-0.7`. For numbers computed rather than read (generated
    /// data, conversions), without going through text.
    ///
    /// ```
    /// use zvp_core::Decimal;
    /// assert_eq!(Decimal::from_scaled(540, 2)?.as_str(), "5.40");
    /// assert_eq!(Decimal::from_scaled(-7, 1)?.value(), -0.7);
    /// # Ok::<(), zvp_core::RecordError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`RecordError::InvalidDecimal`] when the result would be longer than
    /// [`Decimal::MAX_LEN`] characters or `places` is above 15.
    pub fn from_scaled(mantissa: i64, places: u32) -> Result<Self, RecordError> {
        let too_long = || RecordError::InvalidDecimal(format!("{mantissa}e-{places}"));
        // 10^15 and every |mantissa| below 2^53 are exact doubles, so the division below is
        // the correctly rounded value of the text, as parsing it would give.
        if places > 15 || mantissa.unsigned_abs() > 1 << 53 {
            return Err(too_long());
        }
        let places = places as usize;
        let mut reversed = [0u8; 24];
        let mut len = 0;
        let mut rest = mantissa.unsigned_abs();
        for slot in &mut reversed {
            if rest == 0 && len > places {
                break;
            }
            *slot = b'0' + u8::try_from(rest % 10).unwrap_or(0);
            rest /= 10;
            len += 1;
        }
        let mut text = String::with_capacity(len + 2);
        if mantissa < 0 {
            text.push('-');
        }
        for (place, digit) in reversed.iter().take(len).enumerate().rev() {
            text.push(char::from(*digit));
            if place == places && places > 0 {
                text.push('.');
            }
        }
        if text.len() > Self::MAX_LEN {
            return Err(too_long());
        }
        #[expect(clippy::cast_precision_loss, reason = "below 2^53: exact")]
        let value = mantissa as f64 / 10_f64.powi(i32::try_from(places).unwrap_or(0));
        Ok(Self { text, value })
    }
}

impl FromStr for Decimal {
    type Err = RecordError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || RecordError::InvalidDecimal(s.to_owned());
        if s.len() > Self::MAX_LEN {
            return Err(invalid());
        }
        let unsigned = s.strip_prefix('-').unwrap_or(s);
        let (int, frac) = match unsigned.split_once('.') {
            Some((int, frac)) => (int, Some(frac)),
            None => (unsigned, None),
        };
        let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int) || frac.is_some_and(|f| !all_digits(f)) {
            return Err(invalid());
        }
        let value: f64 = s.parse().map_err(|_| invalid())?;
        Ok(Self {
            text: s.to_owned(),
            value,
        })
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

serde_via_str!(Decimal);

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, hour, 0, 0).unwrap()
    }

    #[test]
    fn period_ending_before_its_start_is_refused() {
        assert_eq!(
            Period::new(at(10), Some(at(9))),
            Err(RecordError::PeriodEndsBeforeStart {
                start: at(10),
                end: at(9)
            })
        );
    }

    #[test]
    fn period_contains_its_start_but_not_its_end() {
        let p = Period::new(at(8), Some(at(10))).unwrap();
        assert!(!p.contains(at(7)));
        assert!(p.contains(at(8)));
        assert!(p.contains(at(9)));
        assert!(!p.contains(at(10)));
        assert!(Period::open(at(8)).contains(at(23)));
    }

    #[test]
    fn period_serde_checks_the_order() {
        let err = serde_json::from_str::<Period>(
            r#"{"start":"2026-11-25T10:00:00Z","end":"2026-11-25T09:00:00Z"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("period: ends at"), "{err}");
        let open: Period = serde_json::from_str(r#"{"start":"2026-11-25T10:00:00Z"}"#).unwrap();
        assert_eq!(open, Period::open(at(10)));
    }

    proptest! {
        #[test]
        fn scaled_decimals_are_the_parsed_text(mantissa in -10_000_000_000i64..10_000_000_000, places in 0u32..8) {
            let d = Decimal::from_scaled(mantissa, places).unwrap();
            let parsed: Decimal = d.as_str().parse().unwrap();
            prop_assert_eq!(&d, &parsed);
            let digits = d.as_str().split_once('.').map_or(0, |(_, f)| f.len());
            prop_assert_eq!(digits, places as usize);
        }
    }

    #[test]
    fn scaled_decimals_out_of_bounds_are_refused() {
        assert!(matches!(
            Decimal::from_scaled(1, 16),
            Err(RecordError::InvalidDecimal(_))
        ));
        assert!(matches!(
            Decimal::from_scaled(i64::MIN, 0),
            Err(RecordError::InvalidDecimal(_))
        ));
        assert_eq!(Decimal::from_scaled(0, 0).unwrap().as_str(), "0");
        assert_eq!(Decimal::from_scaled(5, 3).unwrap().as_str(), "0.005");
    }

    #[test]
    fn decimals_keep_their_precision() {
        let d: Decimal = "0.10".parse().unwrap();
        assert_eq!(d.as_str(), "0.10");
        assert_eq!(d.value(), 0.1);
        assert_eq!("-3".parse::<Decimal>().unwrap().value(), -3.0);
    }

    #[test]
    fn malformed_decimals_are_refused() {
        for s in [
            "", "-", ".5", "5.", "1e3", "NaN", "inf", "+1", "1,5", "1.2.3", " 1",
        ] {
            assert_eq!(
                s.parse::<Decimal>(),
                Err(RecordError::InvalidDecimal(s.to_owned())),
                "{s:?}"
            );
        }
        let long = "1".repeat(Decimal::MAX_LEN + 1);
        assert_eq!(
            long.parse::<Decimal>(),
            Err(RecordError::InvalidDecimal(long.clone()))
        );
    }

    proptest! {
        #[test]
        fn decimal_display_then_parse_is_the_identity(s in "-?[0-9]{1,10}(\\.[0-9]{1,6})?") {
            let d: Decimal = s.parse().unwrap();
            prop_assert_eq!(d.to_string(), s.clone());
            prop_assert_eq!(d.to_string().parse::<Decimal>(), Ok(d));
        }
    }
}
