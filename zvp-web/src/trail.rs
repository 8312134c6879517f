//! The audit records of what is not a disclosure (docs/audit.md, "What the reference portal
//! writes"): searches, refused requests, logins, session ends and refused cards,
//! administrative changes and look-ups in the log. Like a disclosure's, each is durable
//! before the answer is sent, and goes through the log's group commit; a log that cannot
//! take it gives the "tijdelijk niet beschikbaar" page instead of the answer.

use std::net::IpAddr;

use zvp_audit::event::{
    AccessPoint, ActionCode, AuditEvent, Card, Change, Checks, DeziMeans, EventType, Outcome,
    PatientRef, PurposeOfUse, Query, Source, Subtype, User,
};
use zvp_audit::log::Receipt;
use zvp_auth::directory::Account;
use zvp_auth::policy::Permit;
use zvp_auth::uzi::UziCertificate;
use zvp_core::PatientId;

use crate::Portal;
use crate::auth::Identity;
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
        identity: &Identity,
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
        event.card = identity.card().map(identity_card);
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
        identity: &Identity,
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
        event.card = identity.card().map(identity_card);
        event.reason = Some(reason.to_owned());
        self.write(&event).await
    }

    /// The record of a Dezi login that did not come to a session: no verified user, the
    /// refusal's code, and the Dezi login as far as it was verified (a Dezi number without an
    /// account has one; a token that failed its checks has none).
    pub(crate) async fn record_refused_dezi(
        &self,
        dezi: Option<DeziMeans>,
        ip: Option<IpAddr>,
        request_id: &str,
        code: &str,
    ) -> Result<Receipt, Refusal> {
        let mut event = self.bare_event(
            EventType::Login,
            None,
            AccessPoint {
                ip,
                certificate_sha256: None,
                dezi,
            },
            request_id,
        );
        event.outcome = Outcome::Denied;
        event.reason = Some(code.to_owned());
        self.write(&event).await
    }

    /// The record of a Dezi number linked to an account, by its holder, in a login that
    /// presented both the account's UZI-pas and the Dezi login.
    pub(crate) async fn record_dezi_link(
        &self,
        card: &Identity,
        dezi: DeziMeans,
        ip: Option<IpAddr>,
        request_id: &str,
    ) -> Result<Receipt, Refusal> {
        let mut access_point = identity_access_point(card, ip);
        let number = dezi.dezi_number.clone();
        access_point.dezi = Some(dezi);
        let mut event = self.bare_event(
            EventType::SecurityRolesChanged,
            Some(identity_user(card, None)),
            access_point,
            request_id,
        );
        event.action = ActionCode::U;
        event.checks.authorisation = true;
        event.card = card.card().map(identity_card);
        event.change = Some(Change {
            target: zvp_audit::event::Target::Account {
                uzi: card.uzi_number(),
            },
            field: "dezi_number".to_owned(),
            old: None,
            new: Some(number),
        });
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
                dezi: None,
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

/// The user of a verified means: the account's name when there is an account, else the
/// means's own.
fn identity_user(identity: &Identity, account: Option<&Account>) -> User {
    User {
        uzi: identity.uzi_number(),
        agb: identity.agb(),
        name: account.map_or_else(|| identity.name(), |a| a.name.clone()),
        role: identity.role(),
    }
}

/// Where a verified user acted from, and with which means: the card's certificate, or the
/// Dezi login's verklaring.
pub(crate) fn identity_access_point(identity: &Identity, ip: Option<IpAddr>) -> AccessPoint {
    match identity {
        Identity::Card(card) => AccessPoint {
            ip,
            certificate_sha256: Some(card.certificate_sha256().to_owned()),
            dezi: None,
        },
        Identity::Dezi(dezi) => AccessPoint {
            ip,
            certificate_sha256: None,
            dezi: Some(DeziMeans {
                verklaring_id: dezi.verklaring_id.clone(),
                dezi_number: dezi.dezi_number.clone(),
            }),
        },
    }
}

fn identity_card(identity: &zvp_auth::uzi::VerifiedUziIdentity) -> Card {
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
