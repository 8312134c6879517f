//! The burgerservicenummer (BSN), the Dutch citizen service number.

use std::str::FromStr;

use super::{DigitsError, digit_identifier, parse_digits};

digit_identifier!(
    /// A burgerservicenummer: 9 digits that pass the elfproef, not all zero.
    ///
    /// The elfproef: with digits d1…d9, `9·d1 + 8·d2 + 7·d3 + 6·d4 + 5·d5 + 4·d6 + 3·d7 +
    /// 2·d8 − 1·d9` is a multiple of 11 (RvIG, Logisch Ontwerp BSN). Legacy 8-digit numbers
    /// must be given with their leading zero; nothing is padded here.
    ///
    /// ```
    /// use zvp_core::{Bsn, BsnError};
    /// assert!("999999990".parse::<Bsn>().is_ok());
    /// assert_eq!("000000000".parse::<Bsn>(), Err(BsnError::AllZero));
    /// ```
    Bsn,
    9
);

/// Why a string is not a [`Bsn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BsnError {
    /// Not exactly 9 ASCII digits.
    #[error("bsn: {0}")]
    Digits(#[from] DigitsError),
    /// `000000000` passes the arithmetic of the elfproef but is no citizen's number.
    #[error("bsn: all digits are zero")]
    AllZero,
    /// The weighted digit sum is not a multiple of 11: a typing error, most likely.
    #[error("bsn: the elfproef fails")]
    Elfproef,
}

/// The elfproef weights for d1…d9.
const WEIGHTS: [i32; 9] = [9, 8, 7, 6, 5, 4, 3, 2, -1];

impl FromStr for Bsn {
    type Err = BsnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (digits, value) = parse_digits::<9>(s)?;
        if value == 0 {
            return Err(BsnError::AllZero);
        }
        let sum: i32 = digits
            .iter()
            .zip(WEIGHTS)
            .map(|(&d, w)| i32::from(d) * w)
            .sum();
        if sum.rem_euclid(11) != 0 {
            return Err(BsnError::Elfproef);
        }
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn known_valid_numbers_are_accepted() {
        for s in ["111222333", "999999990", "123456782"] {
            assert_eq!(s.parse::<Bsn>().map(|b| b.to_string()), Ok(s.to_owned()));
        }
    }

    #[test]
    fn elfproef_failure_is_refused() {
        assert_eq!("111222334".parse::<Bsn>(), Err(BsnError::Elfproef));
    }

    #[test]
    fn all_zero_is_refused() {
        assert_eq!("000000000".parse::<Bsn>(), Err(BsnError::AllZero));
    }

    #[test]
    fn short_input_is_refused() {
        assert_eq!(
            "11122233".parse::<Bsn>(),
            Err(BsnError::Digits(DigitsError::Length {
                expected: 9,
                found: 8
            }))
        );
    }

    #[test]
    fn long_input_is_refused() {
        assert_eq!(
            "1112223330".parse::<Bsn>(),
            Err(BsnError::Digits(DigitsError::Length {
                expected: 9,
                found: 10
            }))
        );
    }

    #[test]
    fn non_digit_is_refused() {
        assert_eq!(
            "11122233x".parse::<Bsn>(),
            Err(BsnError::Digits(DigitsError::NonDigit {
                position: 9,
                found: 'x'
            }))
        );
    }

    #[test]
    fn surrounding_whitespace_is_refused() {
        assert_eq!(
            " 11222333".parse::<Bsn>(),
            Err(BsnError::Digits(DigitsError::NonDigit {
                position: 1,
                found: ' '
            }))
        );
    }

    #[test]
    fn serde_goes_through_the_parser() {
        let bsn: Bsn = serde_json::from_str("\"111222333\"").unwrap();
        assert_eq!(serde_json::to_string(&bsn).unwrap(), "\"111222333\"");
        let err = serde_json::from_str::<Bsn>("\"111222334\"").unwrap_err();
        assert_eq!(err.to_string(), "bsn: the elfproef fails");
        // A number is not a BSN: leading zeros would be lost.
        assert!(serde_json::from_str::<Bsn>("111222333").is_err());
    }

    /// The elfproef as the RvIG states it, written out once more without sharing code.
    fn elfproef_restated(s: &str) -> bool {
        let d: Vec<i64> = s.bytes().map(|b| i64::from(b - b'0')).collect();
        let sum =
            9 * d[0] + 8 * d[1] + 7 * d[2] + 6 * d[3] + 5 * d[4] + 4 * d[5] + 3 * d[6] + 2 * d[7]
                - d[8];
        sum % 11 == 0 && s != "000000000"
    }

    /// Valid BSNs: eight random digits and the check digit that makes the elfproef hold.
    fn valid_bsn() -> impl Strategy<Value = String> {
        "[0-9]{8}".prop_filter_map("no check digit exists", |prefix| {
            let sum: u32 = prefix
                .bytes()
                .zip([9, 8, 7, 6, 5, 4, 3, 2])
                .map(|(b, w)| u32::from(b - b'0') * w)
                .sum();
            let check = sum % 11;
            (check < 10 && prefix != "00000000").then(|| format!("{prefix}{check}"))
        })
    }

    proptest! {
        #[test]
        fn parser_agrees_with_the_restated_formula(s in "[0-9]{9}") {
            prop_assert_eq!(s.parse::<Bsn>().is_ok(), elfproef_restated(&s));
        }

        #[test]
        fn display_then_parse_is_the_identity(s in valid_bsn()) {
            let bsn: Bsn = s.parse().unwrap();
            prop_assert_eq!(bsn.to_string(), s.clone());
            prop_assert_eq!(bsn.to_string().parse::<Bsn>(), Ok(bsn));
        }

        #[test]
        fn every_valid_prefix_has_exactly_one_check_digit_or_none(prefix in "[0-9]{8}") {
            let valid = (0..=9)
                .filter(|d| format!("{prefix}{d}").parse::<Bsn>().is_ok())
                .count();
            prop_assert!(valid <= 1);
        }
    }
}
