//! The caller of a page: a practitioner or administrator whose card the policy admits, with
//! an active account, in a session bound to their certificate. The extractor applies no rule
//! of its own: admission is [`Policy::admit`](zvp_auth::policy::Policy::admit)'s answer.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use zvp_auth::directory::{Account, AccountStatus, Delegation, StoreError};

use crate::Portal;
use crate::auth::{Identity, NewSession, PeerAddress, RequestId};
use crate::layout::{Viewer, see_other};
use crate::refusal::{Refusal, deny_refusal, log_refusal, refusal_page};
use crate::session::Session;

/// A logged-in practitioner or administrator with an active account (checked by the
/// extractor), in a session bound to their certificate.
pub(crate) struct Caller {
    pub(crate) identity: Identity,
    pub(crate) account: Account,
    pub(crate) session: Session,
    pub(crate) request_id: String,
    pub(crate) ip: Option<IpAddr>,
    pub(crate) idle_until: DateTime<Utc>,
    /// The caller's unread notifications, for the header.
    pub(crate) unread: Option<u64>,
    /// The delegations to the caller, read once per request when first needed: for the
    /// policy's facts and for whose notifications the caller sees.
    delegations: tokio::sync::OnceCell<Vec<Delegation>>,
}

impl Caller {
    /// The facts the policy decides this caller's request on: the account read at login (not
    /// again), their delegations and, for a patient as the EPD gives them now, that patient's
    /// registered GP and objection to sharing, and the caller's emergency grants for them.
    pub(crate) async fn world(
        &self,
        portal: &Portal,
        patient: Option<&zvp_core::Patient>,
    ) -> Result<zvp_auth::policy::World, StoreError> {
        let mut world = zvp_auth::directory::world_with_delegations(
            portal.0.directory.as_ref(),
            self.account.uzi,
            Some(self.account.clone()),
            self.delegations(portal).await?.to_vec(),
            patient.map(|p| (&p.id, p.registered_gp.as_ref().map(|g| g.agb))),
        )
        .await?;
        if let Some(p) = patient
            && p.sharing_objection.is_some()
        {
            world.add_objection(p.id.clone());
        }
        Ok(world)
    }

    /// The facts for a patient id the EPD does not know, decided as a patient whom no GP is
    /// registered for: so that an unknown id answers as a foreign one (docs/security.md,
    /// "Patient ids").
    pub(crate) async fn world_unknown(
        &self,
        portal: &Portal,
        id: &zvp_core::PatientId,
    ) -> Result<zvp_auth::policy::World, StoreError> {
        zvp_auth::directory::world_with_delegations(
            portal.0.directory.as_ref(),
            self.account.uzi,
            Some(self.account.clone()),
            self.delegations(portal).await?.to_vec(),
            Some((id, None)),
        )
        .await
    }

    /// The delegations to the caller, from the directory at the first use in this request
    /// (a revoked delegation holds at the next request), the same for every later use in it.
    ///
    /// # Errors
    ///
    /// The directory's, at the first use (and again at the next, as nothing was kept).
    pub(crate) async fn delegations(&self, portal: &Portal) -> Result<&[Delegation], StoreError> {
        self.delegations
            .get_or_try_init(|| portal.0.directory.delegations_to(self.account.uzi))
            .await
            .map(Vec::as_slice)
    }

    pub(crate) fn viewer(&self) -> Viewer<'_> {
        Viewer {
            name: &self.account.name,
            uzi: self.account.uzi.to_string(),
            admin: self.account.admin,
            idle_until: self.idle_until,
            csrf: &self.session.csrf,
            unread: self.unread,
        }
    }
}

/// The session of the request: the one its cookie continued, or the slot for one to start.
enum Resumed {
    Continued(Session),
    ToStart(NewSession),
}

/// The parts a [`Caller`] needs from the middleware; without them the route is misconfigured
/// and nothing is shown.
fn from_middleware(parts: &Parts) -> Option<(Identity, Resumed, String)> {
    let identity = parts.extensions.get::<Identity>()?.clone();
    let session = match parts.extensions.get::<Session>() {
        Some(session) => Resumed::Continued(session.clone()),
        None => Resumed::ToStart(parts.extensions.get::<NewSession>()?.clone()),
    };
    let request_id = parts.extensions.get::<RequestId>()?.0.clone();
    Some((identity, session, request_id))
}

impl FromRequestParts<Portal> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, portal: &Portal) -> Result<Self, Response> {
        let Some((identity, session, request_id)) = from_middleware(parts) else {
            return Err(refusal_page(portal, &Refusal::Unavailable, "misrouted"));
        };
        let now = portal.now();
        let uzi = identity.uzi_number();
        let ip = parts.extensions.get::<PeerAddress>().map(|p| p.0.ip());
        // A card the account check refuses is recorded, as a refused login, before the
        // refusal is sent.
        let refuse = async |refusal: Refusal, account: Option<&Account>| {
            log_refusal(&request_id, refusal.code(), Some(&uzi.to_string()));
            let recorded = portal
                .record_login(&identity, account, ip, &request_id, Some(&refusal))
                .await;
            match recorded {
                Ok(_) => refusal_page(portal, &refusal, &request_id),
                Err(unavailable) => refusal_page(portal, &unavailable, &request_id),
            }
        };
        let account = match portal.0.directory.account(uzi).await {
            Err(_) => return Err(refuse(Refusal::Unavailable, None).await),
            Ok(account) => account,
        };
        // Whether the card enters at all is the policy's to say (rules 1, 2 and 4): the
        // extractor applies no rule of its own.
        let mut world = zvp_auth::policy::World::new();
        if let Some(account) = account.clone() {
            world.add_account(account);
        }
        if let Err(reason) = portal
            .0
            .policy
            .admit(&world, uzi, identity.agb(), identity.role())
        {
            return Err(refuse(deny_refusal(reason), account.as_ref()).await);
        }
        let Some(mut account) = account else {
            return Err(refuse(Refusal::NoAccount, None).await);
        };
        // Dormant accounts: locked at the first login after the period.
        let dormant = Duration::days(i64::from(portal.settings().dormant_days));
        if account.last_login.unwrap_or(account.created_at) + dormant < now {
            let _ = portal
                .0
                .directory
                .set_status(uzi, AccountStatus::Blocked)
                .await;
            return Err(refuse(Refusal::Dormant, Some(&account)).await);
        }
        // Only now, with the card admitted and its account active, is a session stored.
        let (session, started) = match session {
            Resumed::Continued(session) => (session, None),
            Resumed::ToStart(slot) => {
                let started = portal.0.sessions.start(identity.binding(), now).await;
                let Ok((session, cookie)) = started else {
                    return Err(refuse(Refusal::Unavailable, Some(&account)).await);
                };
                (session, Some((slot, cookie)))
            }
        };
        if session.is_new_login() {
            // The login is in the audit log before anything of the session is sent; a login
            // the log cannot take ends its session at once, and no cookie of it is handed out.
            if let Err(r) = portal
                .record_login(&identity, Some(&account), ip, &request_id, None)
                .await
            {
                if let Some((_, cookie)) = &started {
                    let _ = portal.0.sessions.end(cookie).await;
                }
                return Err(refusal_page(portal, &r, &request_id));
            }
            let _ = portal.0.directory.record_login(uzi, now).await;
            // The account was read before the login it now records.
            account.logged_in(now);
        }
        if let Some((slot, cookie)) = started {
            slot.put(cookie);
        }
        // The terms of use, at the first login and when they change.
        if account.accepted_terms < Some(portal.settings().terms_version)
            && parts.uri.path() != "/voorwaarden"
        {
            return Err(see_other("/voorwaarden"));
        }
        let idle_until = now + Duration::minutes(i64::from(portal.settings().idle_timeout_minutes));
        let mut caller = Self {
            identity,
            account,
            session,
            request_id,
            ip,
            idle_until,
            unread: None,
            delegations: tokio::sync::OnceCell::new(),
        };
        caller.unread = crate::pages::notices::unread(portal, &caller, now).await;
        Ok(caller)
    }
}
