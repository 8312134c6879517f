//! The portal as an axum application: [`Portal`] holds the EPD, the directory, the audit log,
//! the UZI validator and the policy; [`Portal::router`] is every route.
//!
//! Every request goes through [`authenticate`]: the client certificate (from the TLS
//! connection, or from a trusted reverse proxy) is validated as a UZI-pas at the request's
//! time, and a server-side session bound to that certificate carries the CSRF token and the
//! idle and absolute timeouts. Pages that need an account take a [`Caller`], which checks the
//! account; pages that show patient data take a policy [`Permit`] and the [`Receipt`] of their
//! audit record, so that no path discloses without both (docs/audit.md, "Fail closed").

#![allow(
    clippy::result_large_err,
    reason = "an axum Response as the error is the page to send; boxing it buys nothing"
)]

mod admin;
mod chart;
pub(crate) mod html;
mod layout;
mod pages;
pub(crate) mod session;
mod settings;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use zvp_audit::event::{
    AccessPoint, ActionCode, AuditEvent, Basis as AuditBasis, Checks, EventType, Outcome, Part,
    PatientRef, PurposeOfUse, Responsible, Source, Subtype, User,
};
use zvp_audit::log::{AuditLog, Receipt};
use zvp_auth::directory::{Account, AccountStatus, DirectoryStore};
use zvp_auth::policy::{Basis, Permit, Policy};
use zvp_auth::uzi::{UziError, UziValidator, VerifiedUziIdentity};
use zvp_core::{Bsn, PatientId, RecordSection};
use zvp_epd::{Epd, RequestContext};

use self::html::Html;
use self::layout::{Viewer, html_response, page};
pub use self::session::{
    Ended, MemorySessions, Session, SessionError, SessionStore, Timeouts, ended, new_session,
};
pub use self::settings::PortalSettings;

/// The client certificate chain of the connection (leaf first), as the TLS layer (or a
/// trusted proxy) delivered it. Inserted into every request by the server
/// (`zvp_portal::serve`).
#[derive(Debug, Clone)]
pub struct ClientCertificate(pub Arc<Vec<CertificateDer<'static>>>);

/// The validated identity of a TLS connection's client certificate, kept for the requests
/// that follow on the same connection (the certificate cannot change within it). Reused
/// only while the validator is the same one (new CRLs start over), the certificate is still
/// valid, and for at most [`ConnectionIdentity::REUSE`]. Inserted by the server for
/// mutual-TLS connections only: behind a proxy, one connection carries many users.
#[derive(Debug, Clone, Default)]
pub struct ConnectionIdentity(Arc<std::sync::Mutex<Option<Validated>>>);

/// A validation of a connection's certificate: the validator generation, when, and the result.
type Validated = (u64, DateTime<Utc>, Arc<VerifiedUziIdentity>);

impl ConnectionIdentity {
    /// How long a validation is reused on one connection.
    pub const REUSE: Duration = Duration::minutes(5);

    fn get(&self, generation: u64, now: DateTime<Utc>) -> Option<Arc<VerifiedUziIdentity>> {
        let cached = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (g, at, identity) = cached.as_ref()?;
        (*g == generation && *at <= now && now < *at + Self::REUSE && now < identity.not_after())
            .then(|| Arc::clone(identity))
    }

    fn put(&self, generation: u64, now: DateTime<Utc>, identity: &Arc<VerifiedUziIdentity>) {
        let mut cached = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cached
            .as_ref()
            .is_none_or(|(g, at, _)| *g != generation || now >= *at + Self::REUSE)
        {
            *cached = Some((generation, now, Arc::clone(identity)));
        }
    }
}

/// The address of the connection's peer, inserted by the server.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddress(pub SocketAddr);

/// Certificates from PEM text.
///
/// # Errors
///
/// The PEM error.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

/// Decodes a URL-escaped value (as nginx's `$ssl_client_escaped_cert`): `%XX` escapes only;
/// `None` when the result is not UTF-8.
pub fn url_unescape(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// One operator log line on standard error: a JSON object, escaped by serde_json so that an
/// error text with quotes, backslashes or newlines (a database's DETAIL line) stays one line.
/// Callers put no patient data in it.
fn log_line(line: &serde_json::Value) {
    eprintln!("{line}");
}

/// The clock the portal reads (a parameter, so tests fix the time).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The portal: the crates put together. Cheap to clone.
#[derive(Clone)]
pub struct Portal(Arc<Inner>);

struct Inner {
    epd: Arc<dyn Epd>,
    directory: Arc<dyn DirectoryStore>,
    audit: Arc<dyn AuditLog>,
    // Replaced whole when the CRLs are read again (a built validator is immutable).
    validator: std::sync::RwLock<Arc<UziValidator>>,
    // Counts validator replacements; a connection's cached identity is of one generation.
    validator_generation: std::sync::atomic::AtomicU64,
    policy: Policy,
    settings: PortalSettings,
    proxy: ProxyTrust,
    sessions: Arc<dyn SessionStore>,
    clock: Clock,
    // The last audit checkpoint this instance signed: its size and when.
    last_checkpoint: std::sync::Mutex<Option<(u64, DateTime<Utc>)>>,
}

/// Which peers may forward a client certificate in a header, and in which.
#[derive(Debug, Clone, Default)]
pub struct ProxyTrust {
    /// The proxies' addresses.
    pub trusted: Vec<IpAddr>,
    /// The header with the URL-escaped PEM certificate.
    pub certificate_header: String,
}

/// Builds a [`Portal`] around a hospital's own EPD, directory and audit log.
pub struct PortalBuilder {
    epd: Option<Arc<dyn Epd>>,
    directory: Option<Arc<dyn DirectoryStore>>,
    audit: Option<Arc<dyn AuditLog>>,
    validator: Option<Arc<UziValidator>>,
    policy: Policy,
    settings: PortalSettings,
    proxy: ProxyTrust,
    sessions: Option<Arc<dyn SessionStore>>,
    clock: Clock,
}

/// What a [`PortalBuilder`] is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the portal needs {0}")]
pub struct BuildError(&'static str);

impl PortalBuilder {
    /// The EPD the portal reads.
    #[must_use]
    pub fn epd(mut self, epd: Arc<dyn Epd>) -> Self {
        self.epd = Some(epd);
        self
    }

    /// The store of accounts, delegations and emergency grants.
    #[must_use]
    pub fn directory(mut self, directory: Arc<dyn DirectoryStore>) -> Self {
        self.directory = Some(directory);
        self
    }

    /// The audit log.
    #[must_use]
    pub fn audit(mut self, audit: Arc<dyn AuditLog>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The UZI-pas validator (trust anchors, CRLs, accepted card types).
    #[must_use]
    pub fn validator(mut self, validator: Arc<UziValidator>) -> Self {
        self.validator = Some(validator);
        self
    }

    /// The authorization policy (default: [`Policy::default`]).
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// The portal's settings (default: [`PortalSettings::default`]).
    #[must_use]
    pub fn settings(mut self, settings: PortalSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Reverse proxies that may forward client certificates.
    #[must_use]
    pub fn proxy(mut self, proxy: ProxyTrust) -> Self {
        self.proxy = proxy;
        self
    }

    /// Where sessions are kept (default: [`MemorySessions`], in this instance; several
    /// instances behind one load balancer share a store in PostgreSQL).
    #[must_use]
    pub fn sessions(mut self, sessions: Arc<dyn SessionStore>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// The clock (default: the system clock).
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The portal.
    ///
    /// # Errors
    ///
    /// [`BuildError`] naming what is missing: the EPD, directory, audit log or validator.
    pub fn build(self) -> Result<Portal, BuildError> {
        Ok(Portal(Arc::new(Inner {
            epd: self.epd.ok_or(BuildError("an epd"))?,
            directory: self.directory.ok_or(BuildError("a directory"))?,
            audit: self.audit.ok_or(BuildError("an audit log"))?,
            validator: std::sync::RwLock::new(self.validator.ok_or(BuildError("a uzi validator"))?),
            validator_generation: std::sync::atomic::AtomicU64::new(0),
            policy: self.policy,
            settings: self.settings,
            proxy: self.proxy,
            sessions: self
                .sessions
                .unwrap_or_else(|| Arc::new(MemorySessions::default())),
            clock: self.clock,
            last_checkpoint: std::sync::Mutex::new(None),
        })))
    }
}

impl Portal {
    /// A builder; the EPD, directory, audit log and validator are required.
    pub fn builder() -> PortalBuilder {
        PortalBuilder {
            epd: None,
            directory: None,
            audit: None,
            validator: None,
            policy: Policy::default(),
            settings: PortalSettings::default(),
            proxy: ProxyTrust::default(),
            sessions: None,
            clock: Arc::new(Utc::now),
        }
    }

    /// Every route of the portal.
    pub fn router(&self) -> Router {
        let pages = Router::new()
            .route("/", get(pages::start))
            .route("/zoeken", get(pages::search_form).post(pages::search))
            .route("/patient/{id}", get(pages::patient))
            .route("/patient/{id}/dossier/{section}", get(pages::dossier))
            .route("/patient/{id}/uitslagen/{category}", get(pages::results))
            .route("/patient/{id}/lab/{code}", get(pages::lab_history))
            .route("/patient/{id}/document/{document}", get(pages::document))
            .route(
                "/patient/{id}/document/{document}/pdf",
                get(pages::document_pdf),
            )
            .route("/patient/{id}/noodprocedure", post(pages::emergency))
            .route("/machtigingen", get(pages::delegations))
            .route("/voorwaarden", get(pages::terms).post(pages::accept_terms))
            .route(
                "/account/aanvragen",
                get(pages::request_form).post(pages::request_account),
            )
            .route("/sessie/nieuw", get(pages::new_session))
            .merge(admin::routes())
            .layer(middleware::from_fn_with_state(self.clone(), authenticate));
        Router::new()
            .route("/static/portal.css", get(stylesheet))
            .merge(pages)
            .fallback(not_found)
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(middleware::from_fn(security_headers))
            .with_state(self.clone())
    }

    /// The routes of the admin listener: `/healthz` and `/metrics`.
    pub fn admin_router(&self) -> Router {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .with_state(self.clone())
    }

    fn now(&self) -> DateTime<Utc> {
        (self.0.clock)()
    }

    /// The portal's audit log (for the embedder's own work on it, e.g. checkpoints).
    pub fn audit_log(&self) -> Arc<dyn AuditLog> {
        Arc::clone(&self.0.audit)
    }

    /// Notes that a checkpoint of `records` records was signed now, for `/metrics`
    /// (`zvp_audit_checkpoint_records`, `zvp_audit_checkpoint_timestamp_seconds`: alert when
    /// the timestamp grows old).
    pub fn checkpoint_signed(&self, records: u64) {
        let now = self.now();
        if let Ok(mut last) = self.0.last_checkpoint.lock() {
            *last = Some((records, now));
        }
    }

    /// Replaces the UZI validator, e.g. with one holding freshly read CRLs. Requests already
    /// being validated finish with the old one.
    pub fn replace_validator(&self, validator: Arc<UziValidator>) {
        let mut current = self
            .0
            .validator
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *current = validator;
        self.0
            .validator_generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn validator_generation(&self) -> u64 {
        self.0
            .validator_generation
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The current UZI validator.
    fn validator(&self) -> Arc<UziValidator> {
        Arc::clone(
            &self
                .0
                .validator
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn settings(&self) -> &PortalSettings {
        &self.0.settings
    }
}

/// The largest request body: forms are small (the emergency reason is the longest field).
const MAX_BODY_BYTES: usize = 16 * 1024;

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        layout::CSS,
    )
        .into_response()
}

async fn not_found() -> Response {
    let mut body = Html::new();
    body.markup("<h1>Pagina niet gevonden</h1><p><a href=\"/\">Naar de startpagina</a></p>");
    html_response(
        StatusCode::NOT_FOUND,
        page("", "Niet gevonden", None, Utc::now(), &body),
    )
}

/// The longest the health check waits for the EPD: load balancers probe with short timeouts.
const HEALTH_EPD_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Liveness and the state of what the pages need, one line each, under a verdict:
/// `ok`; `degraded` (200) when the EPD does not answer, so pages say "tijdelijk niet
/// beschikbaar" but logins, administration and the audit log work, and taking the instance
/// out of a load balancer would not help; `failing` (503) when the audit log refuses or
/// cannot be read, so no page with patient data can be served by this instance.
async fn healthz(State(portal): State<Portal>) -> Response {
    let audit = if let Some(why) = portal.0.audit.refusing() {
        Err(format!("refuses appends ({why})"))
    } else {
        match portal.0.audit.size().await {
            Ok(records) => Ok(format!("ok, {records} records")),
            Err(e) => Err(format!("unavailable ({e})")),
        }
    };
    let ctx = RequestContext {
        request_id: "healthz".to_owned(),
    };
    let epd = match tokio::time::timeout(HEALTH_EPD_WAIT, portal.0.epd.check(&ctx)).await {
        Ok(Ok(())) => Ok("ok".to_owned()),
        Ok(Err(e)) => Err(format!("unreachable ({e})")),
        Err(_) => Err(format!(
            "unreachable (no answer within {} s)",
            HEALTH_EPD_WAIT.as_secs()
        )),
    };
    let (status, verdict) = match (&audit, &epd) {
        (Err(_), _) => (StatusCode::SERVICE_UNAVAILABLE, "failing"),
        (Ok(_), Err(_)) => (StatusCode::OK, "degraded"),
        (Ok(_), Ok(_)) => (StatusCode::OK, "ok"),
    };
    let line = |r: &Result<String, String>| match r {
        Ok(s) | Err(s) => s.clone(),
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!(
            "{verdict}\naudit log: {}\nepd: {}\n",
            line(&audit),
            line(&epd)
        ),
    )
        .into_response()
}

async fn metrics(State(portal): State<Portal>) -> Response {
    let records = portal.0.audit.size().await.unwrap_or(0);
    let sessions = portal.0.sessions.count().await.unwrap_or(0);
    let refusing = u8::from(portal.0.audit.refusing().is_some());
    let mut text = format!(
        "# HELP zvp_audit_records Records in the audit log.\n# TYPE zvp_audit_records gauge\nzvp_audit_records {records}\n\
         # HELP zvp_audit_refusing 1 when the audit log refuses every append (found damaged, or its writer stopped).\n\
         # TYPE zvp_audit_refusing gauge\nzvp_audit_refusing {refusing}\n\
         # HELP zvp_sessions Open sessions.\n# TYPE zvp_sessions gauge\nzvp_sessions {sessions}\n"
    );
    let last = portal.0.last_checkpoint.lock().ok().and_then(|l| *l);
    if let Some((size, at)) = last {
        text.push_str(&format!(
            "# HELP zvp_audit_checkpoint_records Records covered by the last checkpoint this instance signed.\n\
             # TYPE zvp_audit_checkpoint_records gauge\nzvp_audit_checkpoint_records {size}\n\
             # HELP zvp_audit_checkpoint_timestamp_seconds When this instance last signed a checkpoint (Unix time).\n\
             # TYPE zvp_audit_checkpoint_timestamp_seconds gauge\nzvp_audit_checkpoint_timestamp_seconds {}\n",
            at.timestamp()
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Headers on every response: a Content-Security-Policy without inline scripts, HSTS, no
/// framing, no referrer, and `no-store` on everything but the style sheet.
async fn security_headers(request: Request, next: Next) -> Response {
    let cacheable = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        "content-security-policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    );
    set(
        headers,
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    );
    set(headers, "x-frame-options", "DENY");
    set(headers, "referrer-policy", "no-referrer");
    set(headers, "x-content-type-options", "nosniff");
    if !cacheable {
        set(headers, "cache-control", "no-store");
    }
    response
}

/// The verified identity of the request (inserted by [`authenticate`]).
#[derive(Debug, Clone)]
pub(crate) struct Identity(pub(crate) Arc<VerifiedUziIdentity>);

/// The request's id, for the audit log and the application log.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

/// A random hex string of `bytes` random bytes.
pub(crate) fn random_hex(bytes: usize) -> String {
    use aws_lc_rs::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    // The system RNG does not fail on Linux; if it did, an all-zero id is still unique
    // enough for a log line but never used as a secret: sessions check for it.
    let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// The client certificate of a request: from the TLS connection, or — from a trusted proxy
/// only — from the proxy's header. The header is ignored from anyone else.
fn client_certificate(portal: &Portal, parts: &Parts) -> Option<Arc<Vec<CertificateDer<'static>>>> {
    if let Some(ClientCertificate(chain)) = parts.extensions.get::<ClientCertificate>() {
        return Some(Arc::clone(chain));
    }
    let proxy = &portal.0.proxy;
    let peer = parts.extensions.get::<PeerAddress>()?;
    if !proxy.trusted.contains(&peer.0.ip()) {
        return None;
    }
    let escaped = parts
        .headers
        .get(proxy.certificate_header.as_str())?
        .to_str()
        .ok()?;
    let pem = url_unescape(escaped)?;
    let chain = pem_certificates(pem.as_bytes()).ok()?;
    (!chain.is_empty()).then(|| Arc::new(chain))
}

/// The middleware of every page: validate the UZI-pas, then find or start the session.
async fn authenticate(State(portal): State<Portal>, request: Request, next: Next) -> Response {
    let now = portal.now();
    let request_id = random_hex(8);
    let (mut parts, body) = request.into_parts();
    // A header that only a trusted proxy may set never reaches the handlers.
    let chain = client_certificate(&portal, &parts);
    parts
        .headers
        .remove(portal.0.proxy.certificate_header.as_str());
    let cache = parts.extensions.get::<ConnectionIdentity>().cloned();
    let identity = match (chain, &cache) {
        (None, _) => Err(UziError::NoCertificate),
        (Some(_), Some(cache)) if cache.get(portal.validator_generation(), now).is_some() => cache
            .get(portal.validator_generation(), now)
            .ok_or(UziError::NoCertificate),
        (Some(chain), _) => portal.validator().validate(&chain, now).map(Arc::new),
    };
    let identity = match identity {
        Ok(identity) => {
            if let Some(cache) = &cache {
                cache.put(portal.validator_generation(), now, &identity);
            }
            identity
        }
        Err(e) => {
            log_refusal(&request_id, e.code(), None);
            return refusal_page(&portal, &Refusal::Certificate(e), &request_id);
        }
    };
    let timeouts = Timeouts::of(portal.settings());
    let cookie = session::cookie_value(&parts.headers);
    let resumed = portal
        .0
        .sessions
        .resume(
            cookie.as_deref(),
            identity.certificate_sha256(),
            now,
            timeouts,
        )
        .await;
    let (session, cookie) = match resumed {
        Ok(Ok(found)) => found,
        Ok(Err(ended)) => {
            let Ok((session, cookie)) = portal
                .0
                .sessions
                .start(identity.certificate_sha256(), now)
                .await
            else {
                return refusal_page(&portal, &Refusal::Unavailable, &request_id);
            };
            let mut response = session::ended_page(&portal, ended, &session, now);
            session::set_cookie(&mut response, &cookie);
            return response;
        }
        Err(_) => return refusal_page(&portal, &Refusal::Unavailable, &request_id),
    };
    parts.extensions.insert(Identity(identity));
    parts.extensions.insert(session);
    parts.extensions.insert(RequestId(request_id.clone()));
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if let Some(cookie) = cookie {
        session::set_cookie(&mut response, &cookie);
    }
    // The id the audit records of this request carry, for correlation by operators.
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

/// The refusal when the audit log cannot take a record, with one line on standard error for
/// the operators (the reference the user sees, the log's error; never patient data).
fn audit_unavailable(caller: &Caller, error: &zvp_audit::log::LogError) -> Refusal {
    log_line(&serde_json::json!({
        "event": "audit-unavailable",
        "reference": reference(&caller.request_id),
        "error": error.to_string(),
    }));
    Refusal::Unavailable
}

/// One line on standard error for a refusal: the reference number the user sees, the code,
/// and the UZI number when known — never patient data.
fn log_refusal(request_id: &str, code: &str, uzi: Option<&str>) {
    log_line(&serde_json::json!({
        "event": "refusal",
        "reference": reference(request_id),
        "code": code,
        "uzi": uzi.unwrap_or(""),
    }));
}

/// The reference number a user quotes to the help desk: the request id's first eight
/// characters, upper case.
fn reference(request_id: &str) -> String {
    request_id
        .chars()
        .take(8)
        .collect::<String>()
        .to_uppercase()
}

/// Why a practitioner gets no further than a refusal page.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The certificate is not a valid UZI-pas authentication certificate.
    Certificate(UziError),
    /// No account for this UZI number.
    NoAccount,
    /// The account request is waiting.
    Pending,
    /// The account request was rejected.
    Rejected,
    /// The account is blocked.
    Blocked,
    /// The account was locked for not being used.
    Dormant,
    /// The AGB code on the card is not the account's.
    AgbMismatch,
    /// The role on the card may not use the clinical pages.
    RoleNotEligible,
    /// An administrator page for a non-administrator, or the other way round.
    NotHere,
    /// The portal cannot answer now (directory or audit log down).
    Unavailable,
    /// The patient objected to their record being shared.
    PatientObjection,
    /// The EPD did not give what the page needs.
    Epd(EpdProblem),
}

/// Why the EPD did not give what a page needs, as the help desk tells the causes apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EpdProblem {
    /// Down, unreachable or overloaded.
    Unreachable,
    /// Not within the configured time.
    Timeout,
    /// The portal could not authenticate to it (token endpoint, credentials, key).
    Authentication,
    /// The TLS connection failed (certificate not trusted, client certificate refused).
    Tls,
    /// It answered something the portal cannot read, or refused the request.
    Answer,
    /// It does not give this part of the record at all (an `Epd` without the method).
    NotProvided,
}

impl EpdProblem {
    fn of(error: &zvp_epd::EpdError) -> Self {
        use zvp_epd::EpdError as E;
        match error {
            E::Unavailable(_) | E::NotFound(_) => Self::Unreachable,
            E::Timeout => Self::Timeout,
            E::Authentication(zvp_epd::auth::AuthError::Tls { .. }) | E::Tls(_) => Self::Tls,
            E::Authentication(_) => Self::Authentication,
            E::Malformed(_) | E::TooLarge(_) | E::Refused(_) => Self::Answer,
            E::NotProvided(_) => Self::NotProvided,
            // A cause this version does not know: nothing is shown, and the help desk is asked
            // to look at it, as for an answer the portal cannot read.
            _ => Self::Answer,
        }
    }
}

/// The refusal when the EPD failed a page, with one line on standard error for the operators:
/// the reference the user sees and the adapter's error. `FhirEpd`'s errors name URLs, HTTP
/// statuses, OAuth error codes and FHIR elements, never record content (a malformed answer is
/// named by the resource type and element, without the values).
pub(crate) fn epd_failed(request_id: &str, error: &zvp_epd::EpdError) -> Refusal {
    log_line(&serde_json::json!({
        "event": "epd-error",
        "reference": reference(request_id),
        "error": error.to_string(),
    }));
    Refusal::Epd(EpdProblem::of(error))
}

impl Refusal {
    fn code(&self) -> &'static str {
        match self {
            Self::Certificate(e) => e.code(),
            Self::NoAccount => "no-account",
            Self::Pending => "account-pending",
            Self::Rejected => "account-rejected",
            Self::Blocked => "account-blocked",
            Self::Dormant => "account-dormant",
            Self::AgbMismatch => "agb-mismatch",
            Self::RoleNotEligible => "role-not-eligible",
            Self::NotHere => "not-permitted",
            Self::PatientObjection => "patient-objection",
            Self::Unavailable => "unavailable",
            Self::Epd(EpdProblem::Unreachable) => "epd-unavailable",
            Self::Epd(EpdProblem::Timeout) => "epd-timeout",
            Self::Epd(EpdProblem::Authentication) => "epd-authentication",
            Self::Epd(EpdProblem::Tls) => "epd-tls",
            Self::Epd(EpdProblem::Answer) => "epd-answer",
            Self::Epd(EpdProblem::NotProvided) => "epd-not-provided",
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            // Not an outage: this EPD does not give that part.
            Self::Epd(EpdProblem::NotProvided) => StatusCode::NOT_IMPLEMENTED,
            Self::Unavailable | Self::Epd(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::FORBIDDEN,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::Certificate(_) => "Inloggen met uw UZI-pas is niet gelukt",
            Self::NoAccount => "U heeft nog geen account",
            Self::Pending => "Uw accountaanvraag is in behandeling",
            Self::Rejected => "Uw accountaanvraag is afgewezen",
            Self::Blocked => "Uw account is geblokkeerd",
            Self::Dormant => "Uw account is vergrendeld",
            Self::AgbMismatch => "De AGB-code op uw pas past niet bij uw account",
            Self::RoleNotEligible => "Uw rol geeft geen toegang tot het portaal",
            Self::NotHere => "Geen toegang tot deze pagina",
            Self::PatientObjection => {
                "De patiënt heeft bezwaar gemaakt tegen het delen van gegevens"
            }
            Self::Unavailable => "Het portaal is tijdelijk niet beschikbaar",
            Self::Epd(EpdProblem::NotProvided) => "Dit onderdeel levert het ziekenhuisdossier niet",
            Self::Epd(_) => "Het ziekenhuisdossier is tijdelijk niet beschikbaar",
        }
    }

    /// The advice when one section of a page failed and the rest is shown.
    fn section_advice(&self) -> &'static str {
        match self {
            Self::Epd(EpdProblem::Unreachable | EpdProblem::Timeout) => {
                "Het elektronisch patiëntendossier (EPD) van het ziekenhuis geeft nu geen \
                 antwoord. Van dit onderdeel is niets getoond; probeer het over enkele minuten \
                 opnieuw."
            }
            Self::Epd(EpdProblem::Authentication | EpdProblem::Tls) => {
                "De beveiligde koppeling met het elektronisch patiëntendossier (EPD) van het \
                 ziekenhuis werkt nu niet. Van dit onderdeel is niets getoond; het ziekenhuis \
                 is hierover geïnformeerd."
            }
            Self::Epd(EpdProblem::Answer) => {
                "Het elektronisch patiëntendossier (EPD) gaf voor dit onderdeel een antwoord \
                 dat het portaal niet kan lezen. Van dit onderdeel is niets getoond; meld het \
                 met het referentienummer."
            }
            Self::Epd(EpdProblem::NotProvided) => {
                "Heeft u deze gegevens nodig, vraag ze dan op bij het ziekenhuis."
            }
            other => other.advice(),
        }
    }

    fn advice(&self) -> &'static str {
        match self {
            Self::Certificate(e) => e.advice_nl(),
            Self::NoAccount => {
                "Het portaal is voor huisartsen, specialisten ouderengeneeskunde en artsen \
                 verstandelijk gehandicapten met een account. U kunt hieronder een account \
                 aanvragen; uw gegevens worden van uw UZI-pas overgenomen."
            }
            Self::Pending => {
                "Het ziekenhuis beoordeelt uw aanvraag. U krijgt bericht zodra uw account is \
                 geactiveerd."
            }
            Self::Rejected => {
                "Het ziekenhuis heeft uw aanvraag afgewezen. Neem contact op als u denkt dat dit \
                 niet klopt."
            }
            Self::Blocked => {
                "Uw account is door het ziekenhuis geblokkeerd, bijvoorbeeld na melding van een \
                 verloren of gestolen pas. Neem contact op om uw account te laten deblokkeren."
            }
            Self::Dormant => {
                "U heeft lange tijd niet ingelogd; daarom is uw account uit voorzorg vergrendeld. \
                 Neem contact op om het weer te laten openen."
            }
            Self::AgbMismatch => {
                "De AGB-code op uw UZI-pas is een andere dan de persoonlijke AGB-code van uw \
                 account. Let op: dit moet uw persoonlijke AGB-code zijn, niet die van de \
                 praktijk. Neem contact op om uw account aan te laten passen."
            }
            Self::RoleNotEligible => {
                "Het portaal is alleen toegankelijk voor huisartsen, specialisten \
                 ouderengeneeskunde en artsen verstandelijk gehandicapten. Volgens uw UZI-pas \
                 heeft u een andere rol; huisartsen in opleiding komen niet in aanmerking."
            }
            Self::NotHere => "Deze pagina is niet bedoeld voor uw account.",
            Self::PatientObjection => {
                "Deze patiënt heeft het ziekenhuis laten weten dat zijn of haar gegevens niet met \
                 zorgverleners buiten het ziekenhuis gedeeld mogen worden. Het portaal toont \
                 daarom niets uit dit dossier, ook niet via de noodprocedure. Heeft u gegevens \
                 nodig, neem dan contact op met de behandelend specialist in het ziekenhuis."
            }
            Self::Unavailable => {
                "Door een storing kan het portaal uw verzoek nu niet veilig afhandelen. Er zijn \
                 geen gegevens getoond. Probeer het over enkele minuten opnieuw."
            }
            Self::Epd(EpdProblem::Unreachable | EpdProblem::Timeout) => {
                "Het portaal krijgt nu geen antwoord van het elektronisch patiëntendossier (EPD) \
                 van het ziekenhuis. Er zijn geen gegevens getoond. Probeer het over enkele \
                 minuten opnieuw."
            }
            Self::Epd(EpdProblem::Authentication | EpdProblem::Tls) => {
                "De beveiligde koppeling tussen het portaal en het elektronisch patiëntendossier \
                 (EPD) van het ziekenhuis werkt nu niet. Er zijn geen gegevens getoond. Het \
                 ziekenhuis is hierover geïnformeerd; meld het gerust met het referentienummer."
            }
            Self::Epd(EpdProblem::Answer) => {
                "Het elektronisch patiëntendossier (EPD) gaf een antwoord dat het portaal niet \
                 kan lezen. Er zijn geen gegevens getoond. Meld het met het referentienummer."
            }
            Self::Epd(EpdProblem::NotProvided) => {
                "Het elektronisch patiëntendossier (EPD) van dit ziekenhuis levert dit onderdeel \
                 niet aan het portaal. Heeft u deze gegevens nodig, vraag ze dan op bij het \
                 ziekenhuis."
            }
        }
    }
}

/// In place of a section the EPD did not give: that it could not be read, why in the
/// section's words, and the reference and code to quote; the refusal is logged as for a
/// refusal page.
pub(crate) fn section_failure(body: &mut Html, label: &str, refusal: &Refusal, caller: &Caller) {
    log_refusal(
        &caller.request_id,
        refusal.code(),
        Some(&caller.account.uzi.to_string()),
    );
    let lead = if matches!(refusal, Refusal::Epd(EpdProblem::NotProvided)) {
        format!("{label}: dit onderdeel levert het ziekenhuisdossier niet aan het portaal.")
    } else {
        format!("{label} kon niet uit het ziekenhuisdossier worden gelezen.")
    };
    body.markup("<section class=\"refusal\" role=\"alert\"><p><strong>")
        .text(&lead)
        .markup("</strong> ")
        .text(refusal.section_advice())
        .markup("</p><p class=\"muted\">Referentienummer <strong>")
        .text(&reference(&caller.request_id))
        .markup("</strong>, code ")
        .text(refusal.code())
        .markup("</p></section>");
}

/// The refusal page: what happened, what to do, whom to contact, the time and a reference
/// number that the help desk finds in the portal's log (help desks ask for a screenshot with
/// the time for exactly this).
pub(crate) fn refusal_page(portal: &Portal, refusal: &Refusal, request_id: &str) -> Response {
    let settings = portal.settings();
    let now = portal.now();
    let mut body = Html::new();
    body.markup("<section class=\"refusal\"><h1>")
        .text(refusal.title())
        .markup("</h1><p>")
        .text(refusal.advice())
        .markup("</p>");
    if matches!(refusal, Refusal::NoAccount) {
        body.markup("<p><a href=\"/account/aanvragen\">Account aanvragen</a></p>");
    }
    body.markup("<p>Vragen? Neem contact op met ")
        .text(&settings.contact_name)
        .markup(": ")
        .link(&format!("mailto:{}", settings.contact_email), &settings.contact_email)
        .markup(", telefoon ")
        .text(&settings.contact_phone)
        .markup(". Vermeld het referentienummer en het tijdstip.</p><dl><dt>Referentienummer</dt><dd><strong>")
        .text(&reference(request_id))
        .markup("</strong></dd><dt>Tijdstip</dt><dd>")
        .text(&layout::dutch_time(now))
        .markup("</dd><dt>Code</dt><dd>")
        .text(refusal.code())
        .markup("</dd></dl></section>");
    html_response(
        refusal.status(),
        page(&settings.hospital, refusal.title(), None, now, &body),
    )
}

/// A logged-in practitioner or administrator with an active account (checked by the
/// extractor), in a session bound to their certificate.
pub(crate) struct Caller {
    pub(crate) identity: Arc<VerifiedUziIdentity>,
    pub(crate) account: Account,
    pub(crate) session: Session,
    pub(crate) request_id: String,
    pub(crate) ip: Option<IpAddr>,
    pub(crate) idle_until: DateTime<Utc>,
}

impl Caller {
    /// The facts the policy decides this caller's request on: the account read at login (not
    /// again), their delegations and, for a patient as the EPD gives them now, that patient's
    /// registered GP and objection to sharing, and the caller's emergency grants for them.
    pub(crate) async fn world(
        &self,
        portal: &Portal,
        patient: Option<&zvp_core::Patient>,
    ) -> Result<zvp_auth::policy::World, zvp_auth::directory::StoreError> {
        let mut world = zvp_auth::directory::world_with(
            portal.0.directory.as_ref(),
            self.account.uzi,
            Some(self.account.clone()),
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

    pub(crate) fn viewer(&self) -> Viewer<'_> {
        Viewer {
            name: &self.account.name,
            uzi: self.account.uzi.to_string(),
            admin: self.account.admin,
            idle_until: self.idle_until,
        }
    }
}

/// The parts a [`Caller`] needs from the middleware; without them the route is misconfigured
/// and nothing is shown.
fn from_middleware(parts: &Parts) -> Option<(Arc<VerifiedUziIdentity>, Session, String)> {
    let identity = parts.extensions.get::<Identity>()?.0.clone();
    let session = parts.extensions.get::<Session>()?.clone();
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
        let refuse = |refusal: Refusal| {
            log_refusal(&request_id, refusal.code(), Some(&uzi.to_string()));
            refusal_page(portal, &refusal, &request_id)
        };
        let account = match portal.0.directory.account(uzi).await {
            Err(_) => return Err(refuse(Refusal::Unavailable)),
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
            return Err(refuse(pages::deny_refusal(reason)));
        }
        let Some(account) = account else {
            return Err(refuse(Refusal::NoAccount));
        };
        // Dormant accounts: locked at the first login after the period.
        let dormant = Duration::days(i64::from(portal.settings().dormant_days));
        if account.last_login.unwrap_or(account.created_at) + dormant < now {
            let _ = portal
                .0
                .directory
                .set_status(uzi, AccountStatus::Blocked)
                .await;
            return Err(refuse(Refusal::Dormant));
        }
        if session.is_new_login() {
            let _ = portal.0.directory.record_login(uzi, now).await;
        }
        // The terms of use, at the first login and when they change.
        if account.accepted_terms < Some(portal.settings().terms_version)
            && parts.uri.path() != "/voorwaarden"
        {
            return Err(layout::see_other("/voorwaarden"));
        }
        let ip = parts.extensions.get::<PeerAddress>().map(|p| p.0.ip());
        let idle_until = now + Duration::minutes(i64::from(portal.settings().idle_timeout_minutes));
        Ok(Self {
            identity,
            account,
            session,
            request_id,
            ip,
            idle_until,
        })
    }
}

/// What a page shows of a patient, and on what basis: the audit record that must be durable
/// before the page is sent.
pub(crate) struct Disclosure<'a> {
    /// The decision that allows it (a list's permit covers the patients in it).
    pub(crate) permit: &'a Permit,
    /// The basis for this patient: the permit's, or on a list the scope the patient is in.
    pub(crate) basis: Basis,
    pub(crate) patient: &'a PatientId,
    pub(crate) bsn: Option<Bsn>,
    pub(crate) section: RecordSection,
    pub(crate) item: Option<String>,
    pub(crate) reason: Option<String>,
}

impl Portal {
    /// Writes the audit record of a disclosure and returns its receipt; a page that shows
    /// patient data needs the receipt. If the log cannot be written, the page is not shown.
    pub(crate) async fn disclose(
        &self,
        caller: &Caller,
        disclosure: Disclosure<'_>,
    ) -> Result<Receipt, Refusal> {
        let event = self.event(caller, EventType::PatientRecord, Some(&disclosure));
        self.0
            .audit
            .append(&event)
            .await
            .map_err(|e| audit_unavailable(caller, &e))
    }

    /// Writes the audit records of several disclosures at once (they share the log's group
    /// commit); fails closed if any cannot be written.
    pub(crate) async fn disclose_all(
        &self,
        caller: &Caller,
        disclosures: Vec<Disclosure<'_>>,
    ) -> Result<Vec<Receipt>, Refusal> {
        let events: Vec<AuditEvent> = disclosures
            .iter()
            .map(|d| self.event(caller, EventType::PatientRecord, Some(d)))
            .collect();
        self.0
            .audit
            .append_all(&events)
            .await
            .map_err(|e| audit_unavailable(caller, &e))
    }

    /// Writes an audit record that discloses no patient data (administration, the log's own
    /// use), and fails closed like [`Portal::disclose`].
    pub(crate) async fn record(
        &self,
        caller: &Caller,
        event_type: EventType,
        action: ActionCode,
        subtype: Subtype,
        permit: &Permit,
        patient: Option<&PatientId>,
    ) -> Result<Receipt, Refusal> {
        let mut event = self.event(caller, event_type, None);
        event.action = action;
        event.subtype = subtype;
        event.basis = Some(audit_basis(permit.basis()));
        event.purpose = PurposeOfUse::Operations;
        event.patient = patient.map(|id| PatientRef {
            id: id.clone(),
            bsn: None,
        });
        self.0
            .audit
            .append(&event)
            .await
            .map_err(|e| audit_unavailable(caller, &e))
    }

    fn event(
        &self,
        caller: &Caller,
        event_type: EventType,
        disclosure: Option<&Disclosure<'_>>,
    ) -> AuditEvent {
        let settings = self.settings();
        let basis = disclosure.map(|d| {
            debug_assert!(
                d.permit.uzi() == caller.account.uzi,
                "a permit for the caller"
            );
            d.basis
        });
        let emergency = matches!(basis, Some(Basis::Emergency { .. }));
        AuditEvent {
            event_type,
            action: ActionCode::R,
            recorded: self.now(),
            outcome: Outcome::Success,
            subtype: if emergency {
                Subtype::Emergency
            } else {
                Subtype::Regular
            },
            checks: Checks {
                authorisation: true,
                treatment_relation: matches!(
                    basis,
                    Some(Basis::Own | Basis::Practice | Basis::Delegation { .. })
                ),
                consent: false,
                emergency,
            },
            basis: basis.map(audit_basis),
            purpose: if emergency {
                PurposeOfUse::BreakTheGlass
            } else {
                PurposeOfUse::Treat
            },
            user: User {
                uzi: caller.account.uzi,
                agb: caller.account.agb,
                name: caller.account.name.clone(),
                role: caller.identity.role(),
            },
            on_behalf_of: match basis {
                Some(Basis::Delegation { grantor, .. }) => Some(Responsible {
                    agb: grantor,
                    name: None,
                }),
                _ => None,
            },
            access_point: AccessPoint {
                ip: caller.ip,
                certificate_sha256: Some(caller.identity.certificate_sha256().to_owned()),
            },
            patient: disclosure.map(|d| PatientRef {
                id: d.patient.clone(),
                bsn: d.bsn,
            }),
            part: disclosure.map(|d| Part {
                section: d.section,
                item: d.item.clone(),
            }),
            source: Source {
                instance: settings.instance.clone(),
                hospital: settings.hospital.clone(),
            },
            request_id: caller.request_id.clone(),
            reason: disclosure.and_then(|d| d.reason.clone()),
        }
    }
}

/// The audit log's words for a policy basis.
fn audit_basis(basis: Basis) -> AuditBasis {
    match basis {
        Basis::Own => AuditBasis::Own,
        Basis::Practice => AuditBasis::Practice,
        Basis::Delegation {
            grantor,
            delegation,
        } => AuditBasis::Delegation {
            grantor,
            delegation: delegation.0,
        },
        Basis::Emergency {
            grant,
            reason_category,
        } => AuditBasis::Emergency {
            grant: grant.0,
            reason_category: reason_category.code().to_owned(),
        },
        Basis::Administrator => AuditBasis::Administrator,
    }
}
