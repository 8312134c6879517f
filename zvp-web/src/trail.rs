//! The audit records of what is not a disclosure (docs/audit.md, "What the reference portal
//! writes"): searches, refused requests, logins, session ends and refused cards,
//! administrative changes and look-ups in the log. Like a disclosure's, each is durable
//! before the answer is sent, and goes through the log's group commit; a log that cannot
//! take it gives the "tijdelijk niet beschikbaar" page instead of the answer.

use std::net::IpAddr;

use zvp_audit::event::{
    AccessPoint, ActionCode, AuditEvent, Card, Change, Checks, EventType, Outcome, PatientRef,
    PurposeOfUse, Query, Source, Subtype, User,
};
use zvp_audit::log::Receipt;
use zvp_auth::directory::Account;
use zvp_auth::policy::Permit;
use zvp_auth::uzi::{UziCertificate, VerifiedUziIdentity};
use zvp_core::PatientId;

use crate::Portal;
use crate::caller::Caller;
use crate::refusal::{Refusal, reference};

/// The longest certificate field a refused card's record keeps: the certificate is whatever
/// the client sent, and its record is not to grow with it.
const MAX_CLAIM_CHARS: usize = 128;

/// The code of the record when the emergency form is shown instead of a patient's record
/// (no [`Refusal`] page is sent: the form is the way in).
pub(crate) const EMERGENCY_REQUIRED: &str = "emergency-procedure-required";

impl Portal {
    /// An event by no one yet: the portal's source and the request, the rest to be filled in.
    fn bare_event(
        &self,
        event_type: EventType,
        user: Option<User>,
        access_point: AccessPoint,
        request_id: &str,
    ) -> AuditEvent {
        let settings = self.settings();
        AuditEvent {
            event_type,
            action: ActionCode::E,
            recorded: self.now(),
            outcome: Outcome::Success,
            subtype: Subtype::Regular,
            checks: Checks::default(),
            basis: None,
            purpose: PurposeOfUse::Operations,
            user,
            on_behalf_of: None,
            access_point,
            patient: None,
            part: None,
            source: Source {
                instance: settings.instance.clone(),
                hospital: settings.hospital.clone(),
            },
            request_id: request_id.to_owned(),
            reason: None,
            query: None,
            card: None,
            change: None,
        }
    }

    /// Writes `event`, or gives the refusal that stands in for the answer: nothing is sent
    /// without its record.
    pub(crate) async fn write(&self, event: &AuditEvent) -> Result<Receipt, Refusal> {
        self.0.audit.append(event).await.map_err(|e| {
            tracing::error!(
                event = "audit-unavailable",
                reference = %reference(&event.request_id),
                error = %e
            );
            Refusal::Unavailable
        })
    }

    /// The record of a refused request of a caller, with the refusal's code and the patient
    /// it was about, if known.
    pub(crate) async fn record_refusal(
        &self,
        caller: &Caller,
        refusal: &Refusal,
        patient: Option<PatientRef>,
    ) -> Result<Receipt, Refusal> {
        self.record_denied(caller, refusal.code(), refusal_outcome(refusal), patient)
            .await
    }

    /// The record of a request of a caller that got no further, with its code (a
    /// [`Refusal::code`], or [`EMERGENCY_REQUIRED`]).
    pub(crate) async fn record_denied(
        &self,
        caller: &Caller,
        code: &str,
        outcome: Outcome,
        patient: Option<PatientRef>,
    ) -> Result<Receipt, Refusal> {
        let mut event = self.event(caller, EventType::SecurityAlert, None);
        event.action = ActionCode::E;
        event.outcome = outcome;
        event.purpose = PurposeOfUse::Treat;
        event.checks = Checks {
            authorisation: true,
            ..Checks::default()
        };
        event.patient = patient;
        event.reason = Some(code.to_owned());
        self.write(&event).await
    }

    /// The record of a search for a patient: the criteria, what came of it, and the patient
    /// found, if one was.
    pub(crate) async fn record_search(
        &self,
        caller: &Caller,
        query: Query,
        patient: Option<PatientRef>,
        refusal: Option<&Refusal>,
    ) -> Result<Receipt, Refusal> {
        let mut event = self.event(caller, EventType::Query, None);
        event.outcome = refusal.map_or(Outcome::Success, refusal_outcome);
        event.reason = refusal.map(|r| r.code().to_owned());
        event.patient = patient;
        event.query = Some(query);
        self.write(&event).await
    }

    /// The record of an administrator's change (what changed, from what, to what) or use of
    /// the log (what was looked up), under the administrator's permit.
    pub(crate) async fn record_admin(
        &self,
        caller: &Caller,
        kind: (EventType, ActionCode, Subtype),
        permit: &Permit,
        detail: AdminDetail,
    ) -> Result<Receipt, Refusal> {
        let (event_type, action, subtype) = kind;
        let mut event = self.event(caller, event_type, None);
        event.action = action;
        event.subtype = subtype;
        event.basis = Some(crate::disclosure::audit_basis(permit.basis()));
        event.purpose = PurposeOfUse::Operations;
        // An administrator's record checks no treatment relation and shows no patient.
        event.checks = Checks {
            authorisation: true,
            ..Checks::default()
        };
        match detail {
            AdminDetail::Change { change, reason } => {
                event.change = Some(change);
                event.reason = reason;
            }
            AdminDetail::LookUp(query) => event.query = Some(query),
        }
        self.write(&event).await
    }

    /// The record of a login, or of a card the policy did not let in (with the refusal's
    /// code), for a verified card; `account` names the user when there is one.
    pub(crate) async fn record_login(
        &self,
        identity: &VerifiedUziIdentity,
        account: Option<&Account>,
        ip: Option<IpAddr>,
        request_id: &str,
        refusal: Option<&Refusal>,
    ) -> Result<Receipt, Refusal> {
        let mut event = self.bare_event(
            EventType::Login,
            Some(identity_user(identity, account)),
            identity_access_point(identity, ip),
            request_id,
        );
        event.checks.authorisation = true;
        event.card = Some(identity_card(identity));
        if let Some(refusal) = refusal {
            event.outcome = refusal_outcome(refusal);
            event.reason = Some(refusal.code().to_owned());
        }
        self.write(&event).await
    }

    /// The record of a session that ended (idle, too long, another card, unknown), for the
    /// card now at the browser: `reason` is `session-<why>`.
    pub(crate) async fn record_session_end(
        &self,
        identity: &VerifiedUziIdentity,
        ip: Option<IpAddr>,
        request_id: &str,
        reason: &str,
    ) -> Result<Receipt, Refusal> {
        let mut event = self.bare_event(
            EventType::Logout,
            Some(identity_user(identity, None)),
            identity_access_point(identity, ip),
            request_id,
        );
        event.card = Some(identity_card(identity));
        event.reason = Some(reason.to_owned());
        self.write(&event).await
    }

    /// The record of a card the validation refused: no one is verified, so there is no user;
    /// what the certificate claims, as far as it parses, and the refusal's code.
    pub(crate) async fn record_refused_card(
        &self,
        leaf: Option<&[u8]>,
        ip: Option<IpAddr>,
        request_id: &str,
        code: &str,
    ) -> Result<Receipt, Refusal> {
        let mut event = self.bare_event(
            EventType::Login,
            None,
            AccessPoint {
                ip,
                certificate_sha256: leaf.map(sha256_hex),
            },
            request_id,
        );
        event.outcome = Outcome::Denied;
        event.subtype = Subtype::Regular;
        event.card = Some(claimed_card(leaf));
        event.reason = Some(code.to_owned());
        self.write(&event).await
    }
}

/// What an administrator's record says besides who and when.
pub(crate) enum AdminDetail {
    /// A change, with the reason the form asked for, if it asks one.
    Change {
        /// What changed.
        change: Change,
        /// The reason given.
        reason: Option<String>,
    },
    /// A look-up in the log: whose report, over which period.
    LookUp(Query),
}

/// A refusal of the policy or the account is `Denied`; the portal or the EPD failing is an
/// `Error`.
fn refusal_outcome(refusal: &Refusal) -> Outcome {
    match refusal {
        Refusal::Unavailable | Refusal::Epd(_) => Outcome::Error,
        _ => Outcome::Denied,
    }
}

/// The patient a record is about.
pub(crate) fn patient_ref(id: &PatientId, bsn: Option<zvp_core::Bsn>) -> PatientRef {
    PatientRef {
        id: id.clone(),
        bsn,
    }
}

/// The user of a verified card: the account's name when there is an account, else the card's.
fn identity_user(identity: &VerifiedUziIdentity, account: Option<&Account>) -> User {
    User {
        uzi: identity.uzi_number(),
        agb: identity.agb(),
        name: account.map_or_else(
            || identity.common_name().unwrap_or_default().to_owned(),
            |a| a.name.clone(),
        ),
        role: identity.role(),
    }
}

fn identity_access_point(identity: &VerifiedUziIdentity, ip: Option<IpAddr>) -> AccessPoint {
    AccessPoint {
        ip,
        certificate_sha256: Some(identity.certificate_sha256().to_owned()),
    }
}

fn identity_card(identity: &VerifiedUziIdentity) -> Card {
    Card {
        serial: Some(identity.serial().to_owned()),
        issuer: Some(identity.issuer().to_owned()),
        uzi: None,
        verified: true,
    }
}

/// What a refused certificate says of itself, read without trusting it: the serial, the
/// issuer and the UZI number of its Subject ID, each only if it parses (a certificate that
/// does not parse gives none of them; its fingerprint is still in the access point).
fn claimed_card(leaf: Option<&[u8]>) -> Card {
    let parsed = leaf.and_then(|der| UziCertificate::from_der(der).ok());
    let bounded = |s: &str| s.chars().take(MAX_CLAIM_CHARS).collect::<String>();
    Card {
        serial: parsed.as_ref().map(|c| bounded(&c.serial)),
        issuer: parsed
            .as_ref()
            .and_then(|c| c.issuer_common_name.as_deref())
            .map(bounded),
        uzi: parsed
            .as_ref()
            .and_then(|c| c.subject_id().ok())
            .map(|s| s.uzi_number),
        verified: false,
    }
}

fn sha256_hex(der: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
