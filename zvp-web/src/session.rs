//! Server-side sessions, bound to the certificate that opened them.
//!
//! The cookie holds only a random id (`Secure`, `HttpOnly`, `SameSite=Strict`). The session
//! keeps the SHA-256 of the client certificate, its CSRF token, and when it started and was
//! last used. A request with another certificate, after the idle timeout or after the
//! absolute timeout does not continue the session: the user gets a page saying why and
//! a fresh session.

use std::collections::HashMap;
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

/// The most sessions kept at once: beyond this, the oldest are dropped (each user has one
/// per browser; a few thousand users fit many times over).
const MAX_SESSIONS: usize = 100_000;

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
    /// The id is unknown (the portal restarted, or the cookie is stale).
    Unknown,
}

/// Where sessions are kept: [`MemorySessions`] in the instance (the default), or
/// `zvp_portal::pg::PgSessions` in PostgreSQL, shared by several instances behind a load
/// balancer. Another store (a hospital's Redis, say) implements it with [`new_session`],
/// [`ended`] and [`Session::new`].
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync {
    /// Continues the session of `cookie` for `certificate` at `now`: the session and a cookie
    /// to set if one was started (no cookie at all is a first visit), or why it ended.
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
    /// [`SessionError`] when the store cannot be written.
    async fn start(
        &self,
        certificate: &str,
        now: DateTime<Utc>,
    ) -> Result<(Session, String), SessionError>;

    /// The number of sessions held (for `/metrics`).
    async fn count(&self) -> Result<u64, SessionError>;
}

/// A session store that cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("session store: {0}")]
pub struct SessionError(pub String);

/// A new session id (the cookie's value) and CSRF token, 64 hex characters each from the
/// system's secure random source: what a [`SessionStore`] keeps for a session it starts.
pub fn new_session() -> (String, Arc<str>) {
    (
        crate::auth::random_hex(32),
        crate::auth::random_hex(32).into(),
    )
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

/// The sessions of this portal instance, in memory.
#[derive(Debug, Default)]
pub struct MemorySessions(Mutex<HashMap<String, Stored>>);

#[async_trait::async_trait]
impl SessionStore for MemorySessions {
    async fn resume(
        &self,
        cookie: Option<&str>,
        certificate: &str,
        now: DateTime<Utc>,
        timeouts: Timeouts,
    ) -> Result<Result<(Session, Option<String>), Ended>, SessionError> {
        Ok(self.resume_now(cookie, certificate, now, timeouts))
    }

    async fn start(
        &self,
        certificate: &str,
        now: DateTime<Utc>,
    ) -> Result<(Session, String), SessionError> {
        Ok(self.start_now(certificate, now))
    }

    async fn count(&self) -> Result<u64, SessionError> {
        Ok(self.len() as u64)
    }
}

impl MemorySessions {
    /// The number of sessions held.
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Continues the session of `cookie` for `certificate` at `now`: the session, and a cookie
    /// to set if a new one was started (no cookie at all is simply a first visit).
    pub(crate) fn resume_now(
        &self,
        cookie: Option<&str>,
        certificate: &str,
        now: DateTime<Utc>,
        timeouts: Timeouts,
    ) -> Result<(Session, Option<String>), Ended> {
        let Some(id) = cookie else {
            let (session, cookie) = self.start_now(certificate, now);
            return Ok((session, Some(cookie)));
        };
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(stored) = map.get_mut(id) else {
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
            map.remove(id);
            return Err(ended);
        }
        stored.last_seen = now;
        Ok((
            Session {
                csrf: Arc::clone(&stored.csrf),
                new_login: false,
            },
            None,
        ))
    }

    /// Starts a session for `certificate`: the session and its cookie value.
    pub(crate) fn start_now(&self, certificate: &str, now: DateTime<Utc>) -> (Session, String) {
        let (id, csrf) = new_session();
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_SESSIONS {
            // Drop the longest idle: a bound on memory, never on correctness.
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            id.clone(),
            Stored {
                certificate: certificate.to_owned(),
                csrf: Arc::clone(&csrf),
                started: now,
                last_seen: now,
            },
        );
        (
            Session {
                csrf,
                new_login: true,
            },
            id,
        )
    }
}

/// The session id in the request's cookies, if any.
pub(crate) fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
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

/// The page that says why the session ended, with a way to go on.
pub(crate) fn ended_page(
    portal: &Portal,
    ended: Ended,
    _session: &Session,
    now: DateTime<Utc>,
) -> Response {
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
    };
    let body = html! {
        section.notice {
            h1 { "U bent afgemeld" }
            p { (why) " Dit beschermt de gegevens van patiënten als u uw werkplek verlaat." }
            p { "Tijdstip: " (dutch_time(now)) }
            p { a href="/" { "Opnieuw beginnen" } }
        }
    };
    html_response(
        StatusCode::OK,
        page(&settings.hospital, "Afgemeld", None, now, body),
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap() + Duration::minutes(minute)
    }

    fn timeouts() -> Timeouts {
        Timeouts {
            idle: Duration::minutes(15),
            absolute: Duration::hours(12),
        }
    }

    #[test]
    fn a_session_continues_for_its_certificate_until_it_is_idle() {
        let sessions = MemorySessions::default();
        let (first, cookie) = sessions
            .resume_now(None, "cert-a", at(0), timeouts())
            .unwrap();
        let cookie = cookie.unwrap();
        assert!(first.is_new_login());
        let (again, none) = sessions
            .resume_now(Some(&cookie), "cert-a", at(14), timeouts())
            .unwrap();
        assert!(none.is_none() && !again.is_new_login());
        assert_eq!(again.csrf, first.csrf);
        assert_eq!(
            sessions
                .resume_now(Some(&cookie), "cert-a", at(29), timeouts())
                .err(),
            Some(Ended::Idle)
        );
        assert_eq!(
            sessions
                .resume_now(Some(&cookie), "cert-a", at(30), timeouts())
                .err(),
            Some(Ended::Unknown)
        );
    }

    #[test]
    fn another_certificate_or_the_absolute_timeout_ends_it() {
        let sessions = MemorySessions::default();
        let (_, cookie) = sessions.start_now("cert-a", at(0));
        assert_eq!(
            sessions
                .resume_now(Some(&cookie), "cert-b", at(1), timeouts())
                .err(),
            Some(Ended::OtherCertificate)
        );
        let (_, cookie) = sessions.start_now("cert-a", at(0));
        for minute in (10..720).step_by(10) {
            sessions
                .resume_now(Some(&cookie), "cert-a", at(minute), timeouts())
                .unwrap();
        }
        assert_eq!(
            sessions
                .resume_now(Some(&cookie), "cert-a", at(720), timeouts())
                .err(),
            Some(Ended::Absolute)
        );
    }

    #[test]
    fn csrf_tokens_compare_exactly() {
        let sessions = MemorySessions::default();
        let (session, _) = sessions.start_now("c", at(0));
        let token = session.csrf.to_string();
        assert!(session.csrf_ok(&token));
        assert!(!session.csrf_ok(&token[1..]));
        assert!(!session.csrf_ok(""));
    }
}
