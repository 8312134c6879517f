//! The UZI number, a practitioner's number in the UZI-register.

use std::str::FromStr;

use super::{DigitsError, digit_identifier, parse_digits};

digit_identifier!(
    /// A UZI number: 9 digits, one number per person for life (Z and N cards; M and S cards get
    /// a new one per card). It is the subject `serialNumber` of every certificate on the card.
    ///
    /// No check digit applies: the elfproef is not specified for UZI numbers, and published
    /// numbers fail it. Not to be confused with the 8-digit pass number printed on the card,
    /// which is not a UZI number.
    ///
    /// ```
    /// use zvp_core::UziNumber;
    /// let uzi: UziNumber = "900016528".parse()?;
    /// assert_eq!(uzi.to_string(), "900016528");
    /// # Ok::<(), zvp_core::UziNumberError>(())
    /// ```
    UziNumber,
    9
);

/// Why a string is not a [`UziNumber`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UziNumberError {
    /// Not exactly 9 ASCII digits (an 8-digit value is probably the pass number).
    #[error("uzi number: {0}")]
    Digits(#[from] DigitsError),
}

impl UziNumber {
    /// A UZI number from its numeric value, for constants: `None` unless the value has at most
    /// 9 digits.
    ///
    /// ```
    /// # use zvp_core::UziNumber;
    /// const EXAMPLE: Option<UziNumber> = UziNumber::new(1_012_345);
    /// assert!(EXAMPLE.is_some());
    /// ```
    pub const fn new(value: u32) -> Option<Self> {
        if value < 1_000_000_000 {
            Some(Self(value))
        } else {
            None
        }
    }
}

impl FromStr for UziNumber {
    type Err = UziNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (_, value) = parse_digits::<9>(s)?;
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn number_failing_the_elfproef_is_still_a_uzi_number() {
        // A published UZI number that fails the elfproef: no check digit applies to UZI
        // numbers (docs/uzi.md, "The UZI subject ID").
        assert!("900020108".parse::<UziNumber>().is_ok());
    }

    #[test]
    fn pass_number_length_is_refused() {
        assert_eq!(
            "12345678".parse::<UziNumber>(),
            Err(UziNumberError::Digits(DigitsError::Length {
                expected: 9,
                found: 8
            }))
        );
    }

    #[test]
    fn non_digit_is_refused() {
        assert_eq!(
            "90001652B".parse::<UziNumber>(),
            Err(UziNumberError::Digits(DigitsError::NonDigit {
                position: 9,
                found: 'B'
            }))
        );
    }

    proptest! {
        #[test]
        fn display_then_parse_is_the_identity(s in "[0-9]{9}") {
            let uzi: UziNumber = s.parse().unwrap();
            prop_assert_eq!(uzi.to_string(), s);
            prop_assert_eq!(uzi.to_string().parse::<UziNumber>(), Ok(uzi));
        }
    }
}
