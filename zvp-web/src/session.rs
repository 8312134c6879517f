//! Server-side sessions, bound to the certificate that opened them.
//!
//! The cookie holds only a random id (`Secure`, `HttpOnly`, `SameSite=Strict`). The session
//! keeps the SHA-256 of the client certificate, its CSRF token, and when it started and was
//! last used. A request with another certificate, after the idle timeout or after the
//! absolute timeout does not continue the session: the user gets a page saying why and
//! a fresh session.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};

use maud::html;

use crate::Portal;
use crate::PortalSettings;
use crate::layout::{dutch_time, html_response, page};

/// The session cookie's name (`__Host-`: only over HTTPS, for this host, path `/`).
const COOKIE: &str = "__Host-zvp";

/// The most sessions [`MemorySessions`] keeps at once (each user has one per browser; a few
/// thousand users fit many times over). When it is full, a session that has ended makes room;
/// while every session is still in use, a new one is refused rather than an active one
/// dropped.
pub const MAX_SESSIONS: usize = 100_000;

/// The most sessions one certificate holds at once (a browser each: a GP's desk, the
/// consulting room, a laptop). Beyond it the certificate's least recently used session goes,
/// so that a card cannot fill the store: sessions start only for an admitted, active account.
pub const MAX_SESSIONS_PER_CERTIFICATE: usize = 8;

/// A session as a request sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub(crate) csrf: Arc<str>,
    new_login: bool,
}

impl Session {
    /// Whether this request started the session (a login).
    pub(crate) const fn is_new_login(&self) -> bool {
        self.new_login
    }

    /// Whether `token` is this session's CSRF token (compared in constant time).
    pub(crate) fn csrf_ok(&self, token: &str) -> bool {
        let (a, b) = (self.csrf.as_bytes(), token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[derive(Debug)]
struct Stored {
    certificate: String,
    csrf: Arc<str>,
    started: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

/// The idle and absolute timeouts.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Without a request for this long, a session ends.
    pub idle: Duration,
    /// This long after it started, a session ends.
    pub absolute: Duration,
}

impl Timeouts {
    /// The timeouts of the portal's settings.
    pub fn of(settings: &PortalSettings) -> Self {
        Self {
            idle: Duration::minutes(i64::from(settings.idle_timeout_minutes)),
            absolute: Duration::hours(i64::from(settings.absolute_timeout_hours)),
        }
    }
}

/// Why a session did not continue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// No request for longer than the idle timeout.
    Idle,
    /// Longer than the absolute timeout since it started.
    Absolute,
    /// Another certificate (another card, or another user at this browser).
    OtherCertificate,
    /// The id is unknown (the portal restarted, the cookie is stale, or the user logged out).
    Unknown,
    /// The user logged out just now (the answer to the logout itself).
    LoggedOut,
}

/// Where sessions are kept: [`MemorySessions`] in the instance (the default), or
/// `zvp_portal::pg::PgSessions` in PostgreSQL, shared by several instances behind a load
/// balancer. Another store (a hospital's Redis, say) implements it with [`new_session`],
/// [`ended`] and [`Session::new`].
///
/// The portal starts a session only for a card the policy admits with an active account
/// (docs/security.md, "Sessions"), so a store grows with the accounts, not with the requests;
/// a store should still bound the sessions of one certificate
/// ([`MAX_SESSIONS_PER_CERTIFICATE`]).
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync {
    /// Continues the session of `cookie` for `certificate` at `now`: the session and a cookie
    /// to set if one was started (no cookie at all is a first visit), or why it ended. The
    /// portal itself calls it with a cookie only.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store cannot be read.
    async fn resume(
        &self,
        cookie: Option<&str>,
        certificate: &str,
        now: DateTime<Utc>,
        timeouts: Timeouts,
    ) -> Result<Result<(Session, Option<String>), Ended>, SessionError>;

    /// Starts a session for `certificate`: the session and its cookie value.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store cannot be written, is full, or no secure random id
    /// could be made.
    async fn start(
        &self,
        certificate: &str,
        now: DateTime<Utc>,
    ) -> Result<(Session, String), SessionError>;

    /// Ends the session of `cookie` (the logout); an unknown cookie is not an error.
    ///
    /// # Errors
    ///
    /// [`SessionError`] when the store cannot be written.
    async fn end(&self, cookie: &str) -> Result<(), SessionError>;

    /// The number of sessions held (for `/metrics`).
    async fn count(&self) -> Result<u64, SessionError>;
}

/// A session store that cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session store: {0}")]
pub struct SessionError(pub String);

/// A new session id (the cookie's value) and CSRF token, 64 hex characters each from the
/// system's secure random source: what a [`SessionStore`] keeps for a session it starts.
///
/// # Errors
///
/// [`SessionError`] when the secure random source fails: no session without secret ids.
pub fn new_session() -> Result<(String, Arc<str>), SessionError> {
    let secret = || crate::auth::random_hex(32).map_err(|e| SessionError(e.to_string()));
    Ok((secret()?, secret()?.into()))
}

/// Why a stored session does not continue at `now`, if it does not: another certificate
/// than the one it started with, or past one of the `timeouts` (the rule every
/// [`SessionStore`] applies in [`SessionStore::resume`]).
pub fn ended(
    same_certificate: bool,
    started: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    now: DateTime<Utc>,
    timeouts: Timeouts,
) -> Option<Ended> {
    if !same_certificate {
        Some(Ended::OtherCertificate)
    } else if now - started >= timeouts.absolute {
        Some(Ended::Absolute)
    } else if now - last_seen >= timeouts.idle {
        Some(Ended::Idle)
    } else {
        None
    }
}

impl Session {
    /// A session as a store hands it out: its CSRF token (from [`new_session`]), and whether
    /// this request started it (a login, which the portal records).
    pub fn new(csrf: Arc<str>, new_login: bool) -> Self {
        Self { csrf, new_login }
    }
}

/// The sessions of this portal instance, in memory: at most [`MAX_SESSIONS`], at most
/// [`MAX_SESSIONS_PER_CERTIFICATE`] per certificate. Every operation is O(log n).
#[derive(Debug)]
pub struct MemorySessions {
    held: Mutex<Held>,
    timeouts: Timeouts,
    capacity: usize,
}

/// The sessions and the two orders eviction needs.
#[derive(Debug, Default)]
struct Held {
    by_id: HashMap<String, Stored>,
    /// Least recently used first.
    by_use: BTreeSet<(DateTime<Utc>, String)>,
    /// Each certificate's session ids (at most [`MAX_SESSIONS_PER_CERTIFICATE`]).
    by_certificate: HashMap<String, Vec<String>>,
}

impl Held {
    fn remove(&mut self, id: &str) {
        let Some(stored) = self.by_id.remove(id) else {
            return;
        };
        self.by_use.remove(&(stored.last_seen, id.to_owned()));
        if let Some(ids) = self.by_certificate.get_mut(&stored.certificate) {
            ids.retain(|i| i != id);
            if ids.is_empty() {
                self.by_certificate.remove(&stored.certificate);
            }
        }
    }

    /// The least recently used session of `certificate`.
    fn least_used_of(&self, certificate: &str) -> Option<String> {
        self.by_certificate
            .get(certificate)?
            .iter()
            .filter_map(|id| Some((self.by_id.get(id)?.last_seen, id)))
            .min()
            .map(|(_, id)| id.clone())
    }
}

impl Default for MemorySessions {
    /// With the timeouts of [`PortalSettings::default`] (the builder passes the portal's own).
    fn default() -> Self {
        Self::new(Timeouts::of(&PortalSettings::default()))
    }
}

#[async_trait::async_trait]
impl SessionStore for MemorySessions {
    async fn resume(
        &self,
        cookie: Option<&str>,
        certificate: &str,
        now: DateTime<Utc>,
        timeouts: Timeouts,
    ) -> Result<Result<(Session, Option<String>), Ended>, SessionError> {
        let Some(id) = cookie else {
            let (session, cookie) = self.start_now(certificate, now)?;
            return Ok(Ok((session, Some(cookie))));
        };
        Ok(self.resume_now(id, certificate, now, timeouts))
    }

    async fn start(
        &self,
        certificate: &str,
        now: DateTime<Utc>,
    ) -> Result<(Session, String), SessionError> {
        self.start_now(certificate, now)
    }

    async fn end(&self, cookie: &str) -> Result<(), SessionError> {
        self.lock().remove(cookie);
        Ok(())
    }

    async fn count(&self) -> Result<u64, SessionError> {
        Ok(self.lock().by_id.len() as u64)
    }
}

impl MemorySessions {
    /// An empty store whose sessions end after `timeouts` (a full store drops ended sessions
    /// first, by these).
    pub fn new(timeouts: Timeouts) -> Self {
        Self::with_capacity(timeouts, MAX_SESSIONS)
    }

    /// An empty store of at most `capacity` sessions.
    pub(crate) fn with_capacity(timeouts: Timeouts, capacity: usize) -> Self {
        Self {
            held: Mutex::new(Held::default()),
            timeouts,
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Continues the session `id` for `certificate` at `now`.
    pub(crate) fn resume_now(
        &self,
        id: &str,
        certificate: &str,
        now: DateTime<Utc>,
        timeouts: Timeouts,
    ) -> Result<(Session, Option<String>), Ended> {
        let mut held = self.lock();
        let Some(stored) = held.by_id.get_mut(id) else {
            return Err(Ended::Unknown);
        };
        let ended = ended(
            stored.certificate == certificate,
            stored.started,
            stored.last_seen,
            now,
            timeouts,
        );
        if let Some(ended) = ended {
            held.remove(id);
            return Err(ended);
        }
        let before = stored.last_seen;
        // A clock set back never moves a session back in the order of use.
        stored.last_seen = before.max(now);
        let (after, csrf) = (stored.last_seen, Arc::clone(&stored.csrf));
        held.by_use.remove(&(before, id.to_owned()));
        held.by_use.insert((after, id.to_owned()));
        Ok((Session::new(csrf, false), None))
    }

    /// Starts a session for `certificate`: the session and its cookie value. The
    /// certificate's least recently used session goes beyond
    /// [`MAX_SESSIONS_PER_CERTIFICATE`]; a full store drops its least recently used session
    /// only if that one has ended, and otherwise refuses.
    pub(crate) fn start_now(
        &self,
        certificate: &str,
        now: DateTime<Utc>,
    ) -> Result<(Session, String), SessionError> {
        let (id, csrf) = new_session()?;
        let mut held = self.lock();
        let own = held.by_certificate.get(certificate).map_or(0, Vec::len);
        if own >= MAX_SESSIONS_PER_CERTIFICATE
            && let Some(oldest) = held.least_used_of(certificate)
        {
            held.remove(&oldest);
        }
        if held.by_id.len() >= self.capacity {
            let idle = held.by_use.first().and_then(|(_, oldest)| {
                let s = held.by_id.get(oldest)?;
                ended(true, s.started, s.last_seen, now, self.timeouts).map(|_| oldest.clone())
            });
            let Some(idle) = idle else {
                return Err(SessionError(format!(
                    "{} sessions, all in use",
                    held.by_id.len()
                )));
            };
            held.remove(&idle);
        }
        held.by_use.insert((now, id.clone()));
        held.by_certificate
            .entry(certificate.to_owned())
            .or_default()
            .push(id.clone());
        held.by_id.insert(
            id.clone(),
            Stored {
                certificate: certificate.to_owned(),
                csrf: Arc::clone(&csrf),
                started: now,
                last_seen: now,
            },
        );
        Ok((Session::new(csrf, true), id))
    }
}

/// The session id in the request's cookies, if any.
pub(crate) fn cookie_value(headers: &HeaderMap) -> Option<String> {
    named_cookie(headers, COOKIE)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Sets the session cookie on a response.
pub(crate) fn set_cookie(response: &mut Response, id: &str) {
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{COOKIE}={id}; Path=/; Secure; HttpOnly; SameSite=Strict"
    )) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Removes the session cookie from the browser (after a logout, or a session that ended), so
/// that the next request is a first visit rather than the ended session again.
pub(crate) fn clear_cookie(response: &mut Response) {
    // A Dezi login is good only in its session: it goes with it.
    for name in [COOKIE, crate::dezi::LOGIN_COOKIE] {
        if let Ok(value) = HeaderValue::from_str(&format!(
            "{name}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"
        )) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}

/// The value of the cookie `name` in the request, if any.
pub(crate) fn named_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

/// The page that says why the session ended, with a way to go on; the cookie is cleared, and
/// a new session starts when the user goes on (only for an admitted account).
pub(crate) fn ended_page(portal: &Portal, ended: Ended, now: DateTime<Utc>) -> Response {
    let settings = portal.settings();
    let why = match ended {
        Ended::Idle => format!(
            "U bent afgemeld omdat u {} minuten niets in het portaal heeft gedaan.",
            settings.idle_timeout_minutes
        ),
        Ended::Absolute => format!(
            "U bent afgemeld omdat u langer dan {} uur was ingelogd.",
            settings.absolute_timeout_hours
        ),
        Ended::OtherCertificate => {
            "U bent afgemeld omdat in deze browser een andere UZI-pas is gebruikt.".to_owned()
        }
        Ended::Unknown => "Uw sessie is verlopen.".to_owned(),
        Ended::LoggedOut => "U heeft zich afgemeld.".to_owned(),
    };
    let body = html! {
        section.notice {
            h1 { "U bent afgemeld" }
            p { (why) " Dit beschermt de gegevens van patiënten als u uw werkplek verlaat." }
            p { "Tijdstip: " (dutch_time(now)) }
            p { a href="/" { "Opnieuw beginnen" } }
        }
    };
    let mut response = html_response(
        StatusCode::OK,
        page(&settings.hospital, "Afgemeld", None, now, body),
    );
    clear_cookie(&mut response);
    response
}

#[cfg(test)]
mod tests;
