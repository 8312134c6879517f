//! The AGB code (Algemeen GegevensBeheer Zorgverleners, kept by Vektis).

use std::str::FromStr;

use super::{DigitsError, digit_identifier, parse_digits};

digit_identifier!(
    /// An AGB code: 8 digits identifying a care provider, a practice or an institution.
    ///
    /// The first two digits are the zorgsoort (`01` huisartsen); persons and practices share
    /// that space, so the digits do not tell them apart and no check digit exists. The value
    /// `00000000` is how a UZI card says "no AGB code" and is never an `AgbCode`: use
    /// [`AgbCode::parse_optional`] where that value may occur.
    ///
    /// ```
    /// use zvp_core::{AgbCode, AgbCodeError};
    /// let agb: AgbCode = "01012345".parse()?;
    /// assert_eq!(agb.to_string(), "01012345");
    /// assert_eq!("00000000".parse::<AgbCode>(), Err(AgbCodeError::Absent));
    /// # Ok::<(), AgbCodeError>(())
    /// ```
    AgbCode,
    8
);

/// Why a string is not an [`AgbCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AgbCodeError {
    /// Not exactly 8 ASCII digits.
    #[error("agb code: {0}")]
    Digits(#[from] DigitsError),
    /// `00000000`, the marker for "no AGB code".
    #[error("agb code: 00000000 means that no agb code is given")]
    Absent,
}

impl AgbCode {
    /// The text a UZI certificate carries when it has no AGB code.
    pub const ABSENT: &'static str = "00000000";

    /// Parses a field in which `00000000` means "none", as in the UZI SAN: `Ok(None)` for that
    /// value, `Ok(Some(code))` for a code, and an error for anything else.
    ///
    /// # Errors
    ///
    /// [`AgbCodeError::Digits`] when the text is not 8 ASCII digits.
    pub fn parse_optional(s: &str) -> Result<Option<Self>, AgbCodeError> {
        match s.parse() {
            Ok(code) => Ok(Some(code)),
            Err(AgbCodeError::Absent) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl AgbCode {
    /// An AGB code (not `00000000`) from its numeric value, for constants: `None` unless the value has at most
    /// 8 digits and is not zero.
    ///
    /// ```
    /// # use zvp_core::AgbCode;
    /// const EXAMPLE: Option<AgbCode> = AgbCode::new(1_012_345);
    /// assert!(EXAMPLE.is_some());
    /// ```
    pub const fn new(value: u32) -> Option<Self> {
        if value < 100_000_000 && value != 0 {
            Some(Self(value))
        } else {
            None
        }
    }
}

impl FromStr for AgbCode {
    type Err = AgbCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (_, value) = parse_digits::<8>(s)?;
        if value == 0 {
            return Err(AgbCodeError::Absent);
        }
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn code_with_leading_zero_keeps_it() {
        let agb: AgbCode = "01012345".parse().unwrap();
        assert_eq!(agb.value(), 1_012_345);
        assert_eq!(agb.to_string(), "01012345");
    }

    #[test]
    fn absent_marker_is_refused() {
        assert_eq!("00000000".parse::<AgbCode>(), Err(AgbCodeError::Absent));
    }

    #[test]
    fn absent_marker_is_none_where_optional() {
        assert_eq!(AgbCode::parse_optional("00000000"), Ok(None));
        assert_eq!(
            AgbCode::parse_optional("01012345"),
            Ok(Some("01012345".parse().unwrap()))
        );
        assert_eq!(
            AgbCode::parse_optional(""),
            Err(AgbCodeError::Digits(DigitsError::Length {
                expected: 8,
                found: 0
            }))
        );
    }

    #[test]
    fn wrong_length_is_refused() {
        assert_eq!(
            "0101234".parse::<AgbCode>(),
            Err(AgbCodeError::Digits(DigitsError::Length {
                expected: 8,
                found: 7
            }))
        );
    }

    #[test]
    fn non_digit_is_refused() {
        assert_eq!(
            "0101-345".parse::<AgbCode>(),
            Err(AgbCodeError::Digits(DigitsError::NonDigit {
                position: 5,
                found: '-'
            }))
        );
    }

    #[test]
    fn serde_refuses_the_absent_marker() {
        let err = serde_json::from_str::<AgbCode>("\"00000000\"").unwrap_err();
        assert_eq!(
            err.to_string(),
            "agb code: 00000000 means that no agb code is given"
        );
    }

    proptest! {
        #[test]
        fn display_then_parse_is_the_identity(s in "[0-9]{8}") {
            prop_assume!(s != AgbCode::ABSENT);
            let agb: AgbCode = s.parse().unwrap();
            prop_assert_eq!(agb.to_string(), s);
            prop_assert_eq!(agb.to_string().parse::<AgbCode>(), Ok(agb));
        }
    }
}
