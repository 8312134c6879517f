//! Validated identifiers of Dutch care: patients, practitioners, organisations, UZI cards and
//! the EPD's own record ids.
//!
//! Each identifier is a newtype with a private field. The only ways in are `FromStr`,
//! `TryFrom<&str>` and serde, which all run the same checks, so holding a [`Bsn`] proves its
//! elfproef held. `Display` writes the canonical form, and parsing it again gives the same
//! value back.

mod agb;
mod bsn;
mod card;
mod epd;
mod role;
mod ura;
mod uzi;

pub use agb::{AgbCode, AgbCodeError};
pub use bsn::{Bsn, BsnError};
pub use card::{CardType, CardTypeError};
pub use epd::{DocumentId, EpdIdError, PatientId, ReportId};
pub use role::{RoleCode, RoleCodeError, RoleName};
pub use ura::{Ura, UraError};
pub use uzi::{UziNumber, UziNumberError};

/// Why a fixed-length string of decimal digits was refused.
///
/// Shared by the numeric identifiers ([`Bsn`], [`AgbCode`], [`UziNumber`], [`Ura`]); each of
/// their errors wraps it in a `Digits` variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigitsError {
    /// The input does not have exactly the required number of characters.
    #[error("expected {expected} digits, found {found} characters")]
    Length {
        /// How many digits the identifier has.
        expected: usize,
        /// How many characters the input had.
        found: usize,
    },
    /// A character is not an ASCII digit `0`–`9`.
    #[error("character {position} is {found:?}, not a digit")]
    NonDigit {
        /// 1-based position of the character.
        position: usize,
        /// The offending character.
        found: char,
    },
}

/// Reads exactly `N` ASCII digits and returns them with their value.
///
/// No trimming and no sign: `" 123"` and `"+123"` are refused, so that what is stored is
/// exactly what was checked.
fn parse_digits<const N: usize>(s: &str) -> Result<([u8; N], u32), DigitsError> {
    // INVARIANT: N <= 9, so the value fits in a u32 (10^9 - 1 < 2^32).
    const { assert!(N <= 9, "at most 9 digits fit in a u32") };
    let found = s.chars().count();
    if found != N {
        return Err(DigitsError::Length { expected: N, found });
    }
    let mut digits = [0u8; N];
    let mut value = 0u32;
    for ((position, c), slot) in s.chars().enumerate().zip(digits.iter_mut()) {
        // `to_digit` accepts only the ASCII digits for radix 10.
        let Some(d) = c.to_digit(10) else {
            return Err(DigitsError::NonDigit {
                position: position + 1,
                found: c,
            });
        };
        // `d` < 10 and at most 9 digits: neither the cast nor the arithmetic overflows.
        *slot = d as u8;
        value = value * 10 + d;
    }
    Ok((digits, value))
}

/// Implements `Serialize` through `Display` and `Deserialize` through `FromStr`, so that serde
/// can never build a value the parser would refuse.
macro_rules! serde_via_str {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        $crate::id::deserialize_via_str!($ty);
    };
}
pub(crate) use serde_via_str;

/// `Deserialize` through `FromStr` and `TryFrom<&str>`, for a type that serializes itself.
macro_rules! deserialize_via_str {
    ($ty:ty) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = <$ty as std::str::FromStr>::Err;

            fn try_from(value: &str) -> Result<Self, Self::Error> {
                value.parse()
            }
        }
    };
}
pub(crate) use deserialize_via_str;

/// Defines a numeric identifier of a fixed number of digits: the newtype, its error type
/// wrapping [`DigitsError`] in `Digits`, `Display` with leading zeros, and serde.
///
/// The caller writes `FromStr` itself, because every identifier has its own further rules.
macro_rules! digit_identifier {
    ($(#[$meta:meta])* $name:ident, $digits:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(u32);

        impl $name {
            /// Number of digits in the canonical form.
            pub const DIGITS: usize = $digits;

            /// The identifier as a number (leading zeros are not significant here; use
            /// `Display` for the canonical text).
            pub const fn value(self) -> u32 {
                self.0
            }
        }

        impl $name {
            /// The canonical form's digits, leading zeros included, made without `fmt`
            /// (audit records and pages write these identifiers for every patient listed).
            fn digits(self) -> [u8; $digits] {
                let mut out = [b'0'; $digits];
                let mut rest = self.0;
                for slot in out.iter_mut().rev() {
                    // `rest % 10` < 10: the cast keeps it.
                    *slot = b'0' + (rest % 10) as u8;
                    rest /= 10;
                }
                out
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(std::str::from_utf8(&self.digits()).unwrap_or_default())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(std::str::from_utf8(&self.digits()).unwrap_or_default())
            }
        }

        $crate::id::deserialize_via_str!($name);
    };
}
pub(crate) use digit_identifier;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_read_with_their_value() {
        assert_eq!(parse_digits::<3>("042"), Ok(([0, 4, 2], 42)));
    }

    #[test]
    fn length_is_counted_in_characters() {
        assert_eq!(
            parse_digits::<3>("1é"),
            Err(DigitsError::Length {
                expected: 3,
                found: 2
            })
        );
    }

    proptest::proptest! {
        /// Written without `fmt`, the identifiers read as `{:0N}` writes them, as text and in
        /// JSON.
        #[test]
        fn digits_are_written_with_their_leading_zeros(value in 0u32..1_000_000_000) {
            if let Some(uzi) = UziNumber::new(value) {
                proptest::prop_assert_eq!(uzi.to_string(), format!("{value:09}"));
                proptest::prop_assert_eq!(
                    serde_json::to_string(&uzi).unwrap(),
                    format!("\"{value:09}\"")
                );
            }
            if let Some(agb) = AgbCode::new(value % 100_000_000) {
                let value = value % 100_000_000;
                proptest::prop_assert_eq!(agb.to_string(), format!("{value:08}"));
                proptest::prop_assert_eq!(
                    serde_json::to_string(&agb).unwrap(),
                    format!("\"{value:08}\"")
                );
            }
            if let Ok(bsn) = format!("{value:09}").parse::<Bsn>() {
                proptest::prop_assert_eq!(serde_json::to_string(&bsn).unwrap(), format!("\"{value:09}\""));
            }
        }
    }

    #[test]
    fn leading_zeros_are_kept() {
        let agb = AgbCode::new(1_000_001).unwrap();
        assert_eq!(agb.to_string(), "01000001");
        assert_eq!(serde_json::to_string(&agb).unwrap(), "\"01000001\"");
        let uzi = UziNumber::new(42).unwrap();
        assert_eq!(serde_json::to_string(&uzi).unwrap(), "\"000000042\"");
    }

    #[test]
    fn non_ascii_digits_are_refused() {
        // U+0663 ARABIC-INDIC DIGIT THREE is a digit to Unicode, not to us.
        assert_eq!(
            parse_digits::<3>("1\u{663}2"),
            Err(DigitsError::NonDigit {
                position: 2,
                found: '\u{663}'
            })
        );
    }
}
