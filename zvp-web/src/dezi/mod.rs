//! Dezi login beside the UZI-pas: the portal as the relying party's web side.
//!
//! The platform's protocol is [`zvp_auth::dezi`]'s and the embedder's HTTP client
//! ([`DeziPlatform`]); this module is what the browser sees. `/dezi/inloggen` sends it to the
//! platform with a sealed cookie holding the login's secrets, `/dezi/callback` completes the
//! login, finds the account the Dezi number is linked to (or links it, when the same browser
//! presents that account's UZI-pas), and starts a session as a card login does: the policy
//! admits the account, the login is in the audit log, and only then is there a session.
//!
//! Between requests the browser keeps the login as a sealed cookie bound to its session
//! ([`DeziSession`]); the session store binds the session to the verklaring. A revoked
//! verklaring (the platform's signed list, which the embedder refreshes through
//! [`Portal::dezi_revocations`](crate::Portal::dezi_revocations)) ends the session at its
//! next request.

mod pages;
mod routes;
pub(crate) mod seal;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zvp_auth::dezi::{DeziError, LoginRequest, RevocationList, VerifiedDeziIdentity};
use zvp_core::{RoleCode, UziNumber};

pub(crate) use pages::no_card_page;
pub(crate) use routes::{routes, session_identity, still_in_force};

/// The Dezi platform as the portal's login uses it: the reference binary's
/// `zvp_portal::dezi::DeziClient` over HTTPS, or a hospital's own client.
#[async_trait::async_trait]
pub trait DeziPlatform: Send + Sync {
    /// A new login: its secrets (kept by the browser, sealed, until the callback) and the
    /// platform's authorize URL to send the browser to.
    ///
    /// # Errors
    ///
    /// [`DeziError`] when no login can start (no randomness).
    fn start(&self) -> Result<(LoginRequest, String), DeziError>;

    /// Completes the login of `pending` from its callback's `state` and `code`: every check
    /// of `zvp_auth::dezi` at `now`, the role among `eligible`, and the verklaring's status at
    /// the platform.
    ///
    /// # Errors
    ///
    /// [`DeziError`], the first check that fails.
    async fn complete(
        &self,
        pending: &LoginRequest,
        state: &str,
        code: &str,
        eligible: &[RoleCode],
        now: DateTime<Utc>,
    ) -> Result<VerifiedDeziIdentity, DeziError>;
}

/// What the portal needs for Dezi login: the platform, and how long a signed revocation list
/// is still used after its own refresh time.
#[derive(Clone)]
pub struct DeziLogin {
    /// The platform.
    pub platform: Arc<dyn DeziPlatform>,
    /// How long after the list's `ververs_tijdstip` it is still used, while a new one cannot
    /// be fetched. Past it, Dezi sessions are refused (fail closed).
    pub revocation_grace: chrono::Duration,
}

impl std::fmt::Debug for DeziLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeziLogin")
            .field("revocation_grace", &self.revocation_grace)
            .finish_non_exhaustive()
    }
}

/// A Dezi login in its session, as the browser keeps it sealed between requests: whom the
/// platform verified and which account they are linked to. Only the portal makes one (from a
/// [`VerifiedDeziIdentity`] at the callback) or opens one (sealed with its key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeziSession {
    /// The account the Dezi number is linked to.
    pub(crate) uzi: UziNumber,
    /// The practitioner's Dezi number.
    pub(crate) dezi_number: String,
    /// The display name from the verklaring.
    pub(crate) name: String,
    /// The role of the verklaring.
    pub(crate) role: RoleCode,
    /// The verklaring's id: what revocation is checked for, and what the audit log names.
    pub(crate) verklaring_id: String,
    /// What the session store binds the session to.
    pub(crate) binding: String,
    /// The SHA-256 of the session's cookie: the sealed login is good for that session only.
    pub(crate) session: String,
}

impl DeziSession {
    /// The login of `who`, linked to the account `uzi`, for a session not yet started.
    pub(crate) fn new(who: &VerifiedDeziIdentity, uzi: UziNumber) -> Self {
        Self {
            uzi,
            dezi_number: who.dezi_number().to_string(),
            name: who.display_name(),
            role: who.role(),
            verklaring_id: who.verklaring_id().to_owned(),
            binding: sha256_hex(format!("zvp-dezi|{}", who.verklaring_id()).as_bytes()),
            session: String::new(),
        }
    }

    /// Whether this login belongs to the session of `cookie`.
    pub(crate) fn belongs_to(&self, cookie: &str) -> bool {
        let hash = sha256_hex(cookie.as_bytes());
        aws_lc_rs::constant_time::verify_slices_are_equal(hash.as_bytes(), self.session.as_bytes())
            .is_ok()
    }
}

/// The name of the sealed login's cookie (`__Host-`: HTTPS, this host, path `/`).
pub(crate) const LOGIN_COOKIE: &str = "__Host-zvp-dezi";

/// The name of the cookie that holds a login's secrets between the start and the callback.
pub(crate) const PENDING_COOKIE: &str = "__Host-zvp-dezi-start";

/// The name of the cookie that holds a Dezi login without an account while its account
/// request is filled in.
pub(crate) const REQUEST_COOKIE: &str = "__Host-zvp-dezi-aanvraag";

/// The signed revocation list in use, as the embedder last handed it over.
#[derive(Debug, Default)]
pub(crate) struct Revocations(std::sync::RwLock<Option<Arc<RevocationList>>>);

impl Revocations {
    /// Keeps `list` unless the list in use is newer: an older list (a cached or replayed
    /// answer, still within its grace) would undo the revocations that came after it.
    pub(crate) fn replace(&self, list: RevocationList) {
        let mut held = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held
            .as_ref()
            .is_none_or(|current| current.refresh_at() <= list.refresh_at())
        {
            *held = Some(Arc::new(list));
        }
    }

    /// Whether the verklaring is in force at `now` by the list in use; without a list, or with
    /// one past its refresh time and `grace`, it is not known, and refused.
    pub(crate) fn check(
        &self,
        verklaring_id: &str,
        now: DateTime<Utc>,
        grace: chrono::Duration,
    ) -> Result<(), DeziError> {
        let list = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        match list {
            Some(list) => list.check(verklaring_id, now, grace),
            None => Err(DeziError::PlatformUnreachable {
                detail: "no signed revocation list has been fetched yet".to_owned(),
            }),
        }
    }
}

/// The hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn without_a_revocation_list_no_verklaring_is_known_to_be_in_force() {
        let revocations = Revocations::default();
        let now = "2026-12-07T08:00:00Z".parse().unwrap();
        assert!(matches!(
            revocations.check("vk-1", now, chrono::Duration::minutes(30)),
            Err(DeziError::PlatformUnreachable { .. })
        ));
    }
}
