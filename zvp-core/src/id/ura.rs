//! The URA, the UZI-register subscriber number of a care organisation.

use std::str::FromStr;

use super::{DigitsError, digit_identifier, parse_digits};

digit_identifier!(
    /// A URA (UZI-register abonneenummer): the 8-digit subscriber number of the care
    /// organisation or solo practitioner on whose behalf a card was issued. Field 4 of the UZI
    /// SAN and the suffix of the card's UPN.
    ///
    /// ```
    /// use zvp_core::Ura;
    /// let ura: Ura = "90000382".parse()?;
    /// assert_eq!(ura.to_string(), "90000382");
    /// # Ok::<(), zvp_core::UraError>(())
    /// ```
    Ura,
    8
);

/// Why a string is not a [`Ura`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UraError {
    /// Not exactly 8 ASCII digits.
    #[error("ura: {0}")]
    Digits(#[from] DigitsError),
}

impl Ura {
    /// A URA from its numeric value, for constants: `None` unless the value has at most
    /// 8 digits.
    ///
    /// ```
    /// # use zvp_core::Ura;
    /// const EXAMPLE: Option<Ura> = Ura::new(1_012_345);
    /// assert!(EXAMPLE.is_some());
    /// ```
    pub const fn new(value: u32) -> Option<Self> {
        if value < 100_000_000 {
            Some(Self(value))
        } else {
            None
        }
    }
}

impl FromStr for Ura {
    type Err = UraError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (_, value) = parse_digits::<8>(s)?;
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn wrong_length_is_refused() {
        assert_eq!(
            "9000038".parse::<Ura>(),
            Err(UraError::Digits(DigitsError::Length {
                expected: 8,
                found: 7
            }))
        );
    }

    #[test]
    fn non_digit_is_refused() {
        assert_eq!(
            "9000038a".parse::<Ura>(),
            Err(UraError::Digits(DigitsError::NonDigit {
                position: 8,
                found: 'a'
            }))
        );
    }

    proptest! {
        #[test]
        fn display_then_parse_is_the_identity(s in "[0-9]{8}") {
            let ura: Ura = s.parse().unwrap();
            prop_assert_eq!(ura.to_string(), s);
            prop_assert_eq!(ura.to_string().parse::<Ura>(), Ok(ura));
        }
    }
}
