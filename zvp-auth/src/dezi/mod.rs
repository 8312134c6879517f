//! Dezi login: the portal as an OpenID Connect relying party of the Dezi platform, from the
//! tokens of a completed login to a [`VerifiedDeziIdentity`].
//!
//! Dezi (*Dé zorgidentiteit*, the CIBG's Koppelvlakspecificatie Dezi v0.7) succeeds the
//! UZI-pas for logins. A login is an authorization-code flow with PKCE S256 for a public
//! client ([`LoginRequest`]). What comes back, and what this module checks, in order:
//!
//! 1. the **id_token** ([`validate_id_token`]): RS256 by a key of the platform's `jwks_uri`,
//!    `iss`, `aud`/`azp` = client_id, `exp`, `nonce`; its `sub` is pairwise and carries no
//!    care identity;
//! 2. the **userinfo** ([`open_userinfo`]): a JWE (`RSA-OAEP`, `A256CBC-HS512`, `cty: JWT`)
//!    to the hospital's registered key, or, where [`DeziSettings::accept_signed_userinfo`]
//!    says so (the acceptance environment), the signed envelope itself;
//! 3. the **envelope** ([`validate_envelope`]): signed like the id_token, `iss`, `aud` = the
//!    application's identifier, `exp`, the level of assurance at least
//!    [`DeziSettings::loa_floor`], a `verklaring_id` and the `verklaring`;
//! 4. the **verklaring** ([`verklaring_key_url`], then [`validate_verklaring`]): its `jku`
//!    on the allow-list *before* anything is fetched from it, RS256 by the key with its
//!    `kid` there, `iss`, `exp`/`nbf` (it has no `aud`: the envelope binds it to this login),
//!    `verklaring_id` equal to the envelope's, and the care identity;
//! 5. **revocation** ([`status_answer`] for the status endpoint, [`RevocationList`] for the
//!    signed list).
//!
//! The time is a parameter everywhere; this module does no IO. The portal fetches the keys,
//! the tokens and the status (`zvp-portal`'s `dezi` module) and calls these functions.

mod error;
mod identity;
pub mod jwe;
pub mod jws;
mod login;
mod revocation;
mod validate;

pub use error::{DeziError, Token};
pub use identity::{DeziNumber, DeziNumberError, Loa, VerifiedDeziIdentity};
pub use jsonwebtoken::jwk::JwkSet;
pub use jwe::{DecryptionKey, DecryptionKeyError};
pub use login::{LoginRequest, pkce_challenge};
pub use revocation::{RevocationList, status_answer};
pub use validate::{
    Envelope, IdToken, open_userinfo, validate_envelope, validate_id_token, validate_verklaring,
    verify_revocation_list, verklaring_key_url,
};

use chrono::Duration;

/// What the portal expects of the Dezi platform: the `[dezi]` configuration's pure part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeziSettings {
    /// The platform's issuer (`iss` of the id_token and the envelope).
    pub issuer: String,
    /// The portal's client_id (`aud`/`azp` of the id_token).
    pub client_id: String,
    /// The application's identifier, the envelope's `aud` (often the client_id).
    pub application_id: String,
    /// Who may issue verklaringen (`iss`; acceptance: `https://abonnee.dezi.nl`).
    pub verklaring_issuers: Vec<String>,
    /// The `jku` URLs a verklaring's key may come from, exactly.
    pub jku_allow_list: Vec<String>,
    /// The lowest level of assurance accepted.
    pub loa_floor: Loa,
    /// Acceptance deviation: a plain signed userinfo is accepted (production sends a JWE).
    pub accept_signed_userinfo: bool,
    /// Acceptance deviation: the revocation URL may be named `status_uri` (the spec's table
    /// says `revocatie_controle_uri`).
    pub accept_status_uri: bool,
    /// How far the platform's clock may be ahead or behind, for `exp`, `nbf` and `iat`.
    pub clock_skew: Duration,
}

impl DeziSettings {
    /// Settings for `issuer` and `client_id` with the production defaults: the application
    /// identifier is the client_id, the verklaring issuer the platform, no jku allowed yet,
    /// LoA high, no acceptance deviation, 60 s clock skew.
    pub fn new(issuer: &str, client_id: &str) -> Self {
        Self {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            application_id: client_id.to_owned(),
            verklaring_issuers: vec![issuer.to_owned()],
            jku_allow_list: Vec::new(),
            loa_floor: Loa::High,
            accept_signed_userinfo: false,
            accept_status_uri: false,
            clock_skew: Duration::seconds(60),
        }
    }
}

#[cfg(test)]
mod tests;
