//! The proof that a Dezi login passed validation, and its parts.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use zvp_core::{RoleCode, Ura};

use super::DeziError;

/// A Dezi number: the practitioner's number in the Dezi register, digits only (at most 12;
/// the register issues nine).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DeziNumber(String);

impl DeziNumber {
    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DeziNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a text is not a Dezi number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a Dezi number has 1 to 12 ASCII digits")]
pub struct DeziNumberError;

impl FromStr for DeziNumber {
    type Err = DeziNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if (1..=12).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(DeziNumberError)
        }
    }
}

/// An eIDAS level of assurance, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Loa {
    /// `http://eidas.europa.eu/LoA/low`.
    Low,
    /// `http://eidas.europa.eu/LoA/substantial`.
    Substantial,
    /// `http://eidas.europa.eu/LoA/high`.
    High,
}

impl Loa {
    /// The level's URI, as `loa_authn` carries it.
    pub const fn uri(self) -> &'static str {
        match self {
            Self::Low => "http://eidas.europa.eu/LoA/low",
            Self::Substantial => "http://eidas.europa.eu/LoA/substantial",
            Self::High => "http://eidas.europa.eu/LoA/high",
        }
    }

    /// The level of a `loa_authn` URI; `None` for any other text.
    pub fn from_uri(uri: &str) -> Option<Self> {
        [Self::Low, Self::Substantial, Self::High]
            .into_iter()
            .find(|l| l.uri() == uri)
    }

    /// The level of a configuration word (`low`, `substantial`, `high`) or URI.
    pub fn from_setting(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Self::Low),
            "substantial" => Some(Self::Substantial),
            "high" => Some(Self::High),
            other => Self::from_uri(other),
        }
    }
}

/// Who logged in with Dezi, established by [`validate_verklaring`](super::validate_verklaring).
///
/// No code outside this module can build one: holding it proves that the id_token, the
/// userinfo, the envelope and the verklaring were checked at [`verified_at`](Self::verified_at),
/// and that the role was among the eligible ones passed to the check.
/// Revocation is checked by the caller (the status endpoint or the signed list) before a
/// session starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedDeziIdentity {
    pub(super) dezi_number: DeziNumber,
    pub(super) initials: String,
    pub(super) prefix: Option<String>,
    pub(super) surname: String,
    pub(super) subscriber: Ura,
    pub(super) subscriber_name: String,
    pub(super) role: RoleCode,
    pub(super) role_name: Option<String>,
    pub(super) role_source: Option<String>,
    pub(super) verklaring_id: String,
    pub(super) revocation_uri: Option<String>,
    pub(super) verklaring_expires: DateTime<Utc>,
    pub(super) loa: Loa,
    pub(super) pairwise_subject: String,
    pub(super) verified_at: DateTime<Utc>,
}

impl VerifiedDeziIdentity {
    /// The practitioner's Dezi number.
    pub fn dezi_number(&self) -> &DeziNumber {
        &self.dezi_number
    }

    /// `voorletters`.
    pub fn initials(&self) -> &str {
        &self.initials
    }

    /// `voorvoegsel`, if any.
    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// `achternaam`.
    pub fn surname(&self) -> &str {
        &self.surname
    }

    /// The display name: initials, prefix and surname.
    pub fn display_name(&self) -> String {
        match &self.prefix {
            Some(p) => format!("{} {} {}", self.initials, p, self.surname),
            None => format!("{} {}", self.initials, self.surname),
        }
    }

    /// The subscriber (`abonnee_nummer`, the URA).
    pub const fn subscriber(&self) -> Ura {
        self.subscriber
    }

    /// The subscriber's name (`abonnee_naam`).
    pub fn subscriber_name(&self) -> &str {
        &self.subscriber_name
    }

    /// The role code (`rol_code`, the same `BB.SSS` codes as on the UZI-pas).
    pub const fn role(&self) -> RoleCode {
        self.role
    }

    /// `rol_naam`, if given.
    pub fn role_name(&self) -> Option<&str> {
        self.role_name.as_deref()
    }

    /// `rol_code_bron`, if given.
    pub fn role_source(&self) -> Option<&str> {
        self.role_source.as_deref()
    }

    /// The verklaring's id: what the audit trail records and revocation is checked for.
    pub fn verklaring_id(&self) -> &str {
        &self.verklaring_id
    }

    /// Where the verklaring's status is checked, as the verklaring names it.
    pub fn revocation_uri(&self) -> Option<&str> {
        self.revocation_uri.as_deref()
    }

    /// The verklaring's `exp`.
    pub const fn verklaring_expires(&self) -> DateTime<Utc> {
        self.verklaring_expires
    }

    /// The envelope's level of assurance.
    pub const fn loa(&self) -> Loa {
        self.loa
    }

    /// The id_token's pairwise `sub`.
    pub fn pairwise_subject(&self) -> &str {
        &self.pairwise_subject
    }

    /// When the tokens were checked.
    pub const fn verified_at(&self) -> DateTime<Utc> {
        self.verified_at
    }

    /// Refuses a role outside `eligible` with [`DeziError::RoleNotEligible`]: for a narrower
    /// check than the login's (one page, one action), as
    /// [`VerifiedUziIdentity::require_role`](crate::uzi::VerifiedUziIdentity::require_role).
    ///
    /// # Errors
    ///
    /// [`DeziError::RoleNotEligible`].
    pub fn require_role(&self, eligible: &[RoleCode]) -> Result<(), DeziError> {
        if eligible.contains(&self.role) {
            Ok(())
        } else {
            Err(DeziError::RoleNotEligible { role: self.role })
        }
    }
}
