//! The type of a UZI card, field 3 of the UZI SAN.

use std::fmt;
use std::str::FromStr;

use super::serde_via_str;

/// The kind of UZI card (or server certificate) a certificate belongs to.
///
/// Written as one capital letter in the SAN: `Z`, `N`, `M` or `S`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CardType {
    /// `Z`: zorgverlenerpas, the card of a registered care provider. The only type a
    /// practitioner logs in with.
    CareProvider,
    /// `N`: medewerkerpas op naam, a named employee card (role always `00.000`).
    NamedEmployee,
    /// `M`: medewerkerpas niet op naam, an unnamed employee card.
    UnnamedEmployee,
    /// `S`: servercertificaat, a system's certificate.
    Server,
}

/// Why a string is not a [`CardType`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardTypeError {
    /// Not one of the letters `Z`, `N`, `M`, `S`.
    #[error("card type: {0:?} is not one of Z, N, M, S")]
    Unknown(String),
}

impl CardType {
    /// Every card type, in the order of the UZI-register's CPS.
    pub const ALL: [Self; 4] = [
        Self::CareProvider,
        Self::NamedEmployee,
        Self::UnnamedEmployee,
        Self::Server,
    ];

    /// The letter used in the SAN.
    pub const fn letter(self) -> char {
        match self {
            Self::CareProvider => 'Z',
            Self::NamedEmployee => 'N',
            Self::UnnamedEmployee => 'M',
            Self::Server => 'S',
        }
    }

    /// The UZI-register's Dutch name of the card type.
    pub const fn dutch_name(self) -> &'static str {
        match self {
            Self::CareProvider => "zorgverlenerpas",
            Self::NamedEmployee => "medewerkerpas op naam",
            Self::UnnamedEmployee => "medewerkerpas niet op naam",
            Self::Server => "servercertificaat",
        }
    }
}

impl fmt::Display for CardType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.letter())
    }
}

impl FromStr for CardType {
    type Err = CardTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| {
                let mut chars = s.chars();
                chars.next() == Some(t.letter()) && chars.next().is_none()
            })
            .ok_or_else(|| CardTypeError::Unknown(s.to_owned()))
    }
}

serde_via_str!(CardType);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_letter_round_trips() {
        for t in CardType::ALL {
            assert_eq!(t.to_string().parse::<CardType>(), Ok(t));
        }
    }

    #[test]
    fn lower_case_is_refused() {
        assert_eq!(
            "z".parse::<CardType>(),
            Err(CardTypeError::Unknown("z".to_owned()))
        );
    }

    #[test]
    fn unknown_letter_is_refused() {
        assert_eq!(
            "X".parse::<CardType>(),
            Err(CardTypeError::Unknown("X".to_owned()))
        );
    }

    #[test]
    fn more_than_one_letter_is_refused() {
        assert_eq!(
            "ZN".parse::<CardType>(),
            Err(CardTypeError::Unknown("ZN".to_owned()))
        );
        assert_eq!(
            "".parse::<CardType>(),
            Err(CardTypeError::Unknown(String::new()))
        );
    }
}
