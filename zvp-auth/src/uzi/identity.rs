//! The proof that a certificate passed validation.

use chrono::{DateTime, Utc};
use serde::Serialize;
use zvp_core::{AgbCode, CardType, RoleCode, Ura, UziNumber};

use super::{Environment, UziError};

/// Who presented a UZI certificate, established by [`UziValidator::validate`].
///
/// No code outside this module can build one: holding a `VerifiedUziIdentity` proves that the
/// chain, revocation and the UZI authentication profile were checked at
/// [`verified_at`](Self::verified_at). It serialises (for logs and the command line) but does
/// not deserialise.
///
/// [`UziValidator::validate`]: super::UziValidator::validate
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedUziIdentity {
    pub(super) uzi_number: UziNumber,
    pub(super) card_type: CardType,
    pub(super) subscriber: Ura,
    pub(super) role: RoleCode,
    pub(super) agb: Option<AgbCode>,
    pub(super) common_name: Option<String>,
    pub(super) given_name: Option<String>,
    pub(super) surname: Option<String>,
    pub(super) title: Option<String>,
    pub(super) organization: Option<String>,
    pub(super) environment: Environment,
    pub(super) issuer: String,
    pub(super) serial: String,
    pub(super) certificate_sha256: String,
    pub(super) not_after: DateTime<Utc>,
    pub(super) verified_at: DateTime<Utc>,
}

impl VerifiedUziIdentity {
    /// The holder's UZI number.
    pub const fn uzi_number(&self) -> UziNumber {
        self.uzi_number
    }

    /// The card type.
    pub const fn card_type(&self) -> CardType {
        self.card_type
    }

    /// The subscriber (URA) the card was issued under.
    pub const fn subscriber(&self) -> Ura {
        self.subscriber
    }

    /// The role code on the card.
    pub const fn role(&self) -> RoleCode {
        self.role
    }

    /// The AGB code on the card, if it carries one.
    pub const fn agb(&self) -> Option<AgbCode> {
        self.agb
    }

    /// The holder's name as the certificate's CN gives it.
    pub fn common_name(&self) -> Option<&str> {
        self.common_name.as_deref()
    }

    /// The holder's first names (GN).
    pub fn given_name(&self) -> Option<&str> {
        self.given_name.as_deref()
    }

    /// The holder's prefixes and birth name (SN).
    pub fn surname(&self) -> Option<&str> {
        self.surname.as_deref()
    }

    /// The certificate's title (form of address; free text).
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// The subscriber's name (O).
    pub fn organization(&self) -> Option<&str> {
        self.organization.as_deref()
    }

    /// The UZI-register environment the certificate belongs to.
    pub const fn environment(&self) -> Environment {
        self.environment
    }

    /// The issuing CA's common name.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The certificate's serial number, in hex.
    pub fn serial(&self) -> &str {
        &self.serial
    }

    /// The SHA-256 fingerprint of the certificate's DER, in lower-case hex: what a session is
    /// bound to and what the audit log records as the access point.
    pub fn certificate_sha256(&self) -> &str {
        &self.certificate_sha256
    }

    /// When the certificate expires; a session never outlives it.
    pub const fn not_after(&self) -> DateTime<Utc> {
        self.not_after
    }

    /// The time the validation was made for.
    pub const fn verified_at(&self) -> DateTime<Utc> {
        self.verified_at
    }

    /// Refuses the identity unless its role is one of `eligible`.
    ///
    /// The portal's policy engine decides eligibility with the account in view; this is the
    /// plain role check for callers without one, such as `zvp-portal uzi verify`.
    ///
    /// # Errors
    ///
    /// [`UziError::RoleNotEligible`] when the role is not in `eligible`.
    pub fn require_role(&self, eligible: &[RoleCode]) -> Result<(), UziError> {
        if eligible.contains(&self.role) {
            Ok(())
        } else {
            Err(UziError::RoleNotEligible { role: self.role })
        }
    }
}
