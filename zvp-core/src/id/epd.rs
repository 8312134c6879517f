//! The EPD's own ids for patients, documents and reports.

use std::fmt;
use std::str::FromStr;

use super::serde_via_str;

/// Why a string is not an EPD id ([`PatientId`], [`DocumentId`], [`ReportId`]).
///
/// The rules are those of a FHIR R4 logical id (`[A-Za-z0-9\-\.]{1,64}`), which every FHIR
/// EPD's ids satisfy and which keeps the ids safe to place in a URL path or a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EpdIdError {
    /// The id is empty.
    #[error("epd id: empty")]
    Empty,
    /// Longer than [`MAX_LEN`](PatientId::MAX_LEN) characters.
    #[error("epd id: {found} characters, at most 64 are allowed")]
    TooLong {
        /// How many characters the input had.
        found: usize,
    },
    /// A character outside `A-Z a-z 0-9 - .`.
    #[error(
        "epd id: character {position} is {found:?}; only letters, digits, '-' and '.' are allowed"
    )]
    InvalidChar {
        /// 1-based position of the character.
        position: usize,
        /// The offending character.
        found: char,
    },
}

/// Checks the FHIR logical-id rules.
fn check_epd_id(s: &str) -> Result<(), EpdIdError> {
    if s.is_empty() {
        return Err(EpdIdError::Empty);
    }
    let found = s.chars().count();
    if found > PatientId::MAX_LEN {
        return Err(EpdIdError::TooLong { found });
    }
    match s
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        Some((position, found)) => Err(EpdIdError::InvalidChar {
            position: position + 1,
            found,
        }),
        None => Ok(()),
    }
}

/// Defines an EPD id newtype over a checked `String`.
macro_rules! epd_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The longest id accepted, in characters (FHIR R4 `id`).
            pub const MAX_LEN: usize = 64;

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = EpdIdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                check_epd_id(s)?;
                Ok(Self(s.to_owned()))
            }
        }

        serde_via_str!($name);
    };
}

epd_id!(
    /// The EPD's own id of a patient (a FHIR `Patient.id`). Opaque: it says nothing about the
    /// patient and is not a BSN.
    ///
    /// ```
    /// use zvp_core::{EpdIdError, PatientId};
    /// let id: PatientId = "pat-000123".parse()?;
    /// assert_eq!(id.as_str(), "pat-000123");
    /// assert_eq!("../etc".parse::<PatientId>(), Err(EpdIdError::InvalidChar { position: 3, found: '/' }));
    /// # Ok::<(), EpdIdError>(())
    /// ```
    PatientId
);

epd_id!(
    /// The EPD's id of a document, such as a letter (a FHIR `DocumentReference.id`).
    DocumentId
);

epd_id!(
    /// The EPD's id of a result report (a FHIR `DiagnosticReport.id`).
    ReportId
);

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn empty_is_refused() {
        assert_eq!("".parse::<PatientId>(), Err(EpdIdError::Empty));
    }

    #[test]
    fn too_long_is_refused() {
        let long = "a".repeat(65);
        assert_eq!(
            long.parse::<PatientId>(),
            Err(EpdIdError::TooLong { found: 65 })
        );
        assert!("a".repeat(64).parse::<PatientId>().is_ok());
    }

    #[test]
    fn path_characters_are_refused() {
        assert_eq!(
            "a/b".parse::<DocumentId>(),
            Err(EpdIdError::InvalidChar {
                position: 2,
                found: '/'
            })
        );
        assert_eq!(
            "a b".parse::<ReportId>(),
            Err(EpdIdError::InvalidChar {
                position: 2,
                found: ' '
            })
        );
    }

    proptest! {
        #[test]
        fn display_then_parse_is_the_identity(s in "[A-Za-z0-9.-]{1,64}") {
            let id: PatientId = s.parse().unwrap();
            prop_assert_eq!(id.to_string(), s);
            prop_assert_eq!(id.to_string().parse::<PatientId>(), Ok(id));
        }
    }
}
