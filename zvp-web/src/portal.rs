//! The portal and its builder: the EPD, the directory, the audit log, the UZI validator, the
//! policy, the settings and the sessions, and every route.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::get;
use chrono::{DateTime, Utc};
use zvp_audit::log::AuditLog;
use zvp_auth::directory::DirectoryStore;
use zvp_auth::policy::Policy;
use zvp_auth::uzi::UziValidator;
use zvp_epd::Epd;

use crate::session::{MemorySessions, SessionStore};
use crate::throttle::CardRate;
use crate::{PortalSettings, admin, auth, ops, pages};

/// The clock the portal reads (a parameter, so tests fix the time).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The portal: the crates put together. Cheap to clone.
#[derive(Clone)]
pub struct Portal(pub(crate) Arc<Inner>);

/// What a [`Portal`] holds (its modules read the fields directly).
pub(crate) struct Inner {
    pub(crate) epd: Arc<dyn Epd>,
    pub(crate) directory: Arc<dyn DirectoryStore>,
    pub(crate) audit: Arc<dyn AuditLog>,
    // Replaced whole when the CRLs are read again (a built validator is immutable).
    pub(crate) validator: std::sync::RwLock<Arc<UziValidator>>,
    // Counts validator replacements; a connection's cached identity is of one generation.
    pub(crate) validator_generation: std::sync::atomic::AtomicU64,
    pub(crate) policy: Policy,
    pub(crate) settings: PortalSettings,
    pub(crate) proxy: ProxyTrust,
    pub(crate) sessions: Arc<dyn SessionStore>,
    // The origin of the configured public URL, for the origin check of POSTs.
    pub(crate) public_origin: Option<String>,
    // Signs the CSRF tokens of the account request, which has no session to keep one in.
    pub(crate) request_key: aws_lc_rs::hmac::Key,
    pub(crate) clock: Clock,
    // The last audit checkpoint this instance signed: its size and when.
    pub(crate) last_checkpoint: std::sync::Mutex<Option<(u64, DateTime<Utc>)>>,
    // The revocation lists in use, as the embedder's refresh last reported them.
    pub(crate) crls: std::sync::Mutex<Vec<CrlGauge>>,
    // The notifier's events, when the portal keeps notifications.
    pub(crate) notify: Option<Arc<dyn zvp_notify::NotifyStore>>,
    // Requests per card, when the embedder asked for a limit.
    pub(crate) throttle: Option<crate::throttle::Throttle>,
    // Dezi login, when the embedder offers it.
    pub(crate) dezi: Option<crate::dezi::DeziLogin>,
    // The signed revocation list of Dezi verklaringen, as the embedder last handed it over.
    pub(crate) revocations: crate::dezi::Revocations,
    // Seals what the browser keeps during a Dezi login (derived from the request key).
    pub(crate) cookie_key: crate::dezi::seal::CookieKey,
}

/// One revocation list in use, for `/metrics` (`zvp_crl_next_update_seconds`,
/// `zvp_crl_warning`, labelled with the issuer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlGauge {
    /// The issuing CA's name.
    pub issuer: String,
    /// The list's nextUpdate, after which logins with its cards fail closed.
    pub next_update: Option<DateTime<Utc>>,
    /// Whether the embedder warns about it (close to its nextUpdate, nothing fresher to be had).
    pub warning: bool,
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
    card_rate: Option<CardRate>,
    sessions: Option<Arc<dyn SessionStore>>,
    public_url: Option<String>,
    request_key: Option<Vec<u8>>,
    clock: Clock,
    notify: Option<Arc<dyn zvp_notify::NotifyStore>>,
    dezi: Option<crate::dezi::DeziLogin>,
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

    /// The URL the users open (e.g. `https://zvp.ziekenhuis.nl`): a POST from its origin is
    /// accepted as well as one from the request's `Host` (behind a proxy that rewrites `Host`).
    #[must_use]
    pub fn public_url(mut self, url: &str) -> Self {
        self.public_url = Some(url.to_owned());
        self
    }

    /// The key that signs the account request's CSRF tokens (at least 32 bytes). Instances
    /// behind one load balancer share it; default: a random key of this instance, so that a
    /// request form from another instance is asked again.
    #[must_use]
    pub fn request_key(mut self, key: &[u8]) -> Self {
        self.request_key = Some(key.to_vec());
        self
    }

    /// Where the notifier records its events: the portal shows them on *Meldingen*, with the
    /// unread count in the header (default: none, and no notifications).
    #[must_use]
    pub fn notifications(mut self, store: Arc<dyn zvp_notify::NotifyStore>) -> Self {
        self.notify = Some(store);
        self
    }

    /// How many requests one card may make (default: no limit). Beyond its rate a card is
    /// answered 429 before anything is validated or recorded, and at most one such answer
    /// per card per minute is recorded: one card cannot fill the audit log's disk.
    #[must_use]
    pub fn card_rate(mut self, rate: CardRate) -> Self {
        self.card_rate = Some(rate);
        self
    }

    /// Dezi login beside the UZI-pas (default: none; a browser without a card is told to
    /// place it). Dezi sessions need the platform's signed revocation list: hand each one
    /// fetched to [`Portal::dezi_revocations`]; without a fresh one they are refused.
    #[must_use]
    pub fn dezi(mut self, dezi: crate::dezi::DeziLogin) -> Self {
        self.dezi = Some(dezi);
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
    /// [`BuildError`] naming what is missing: the EPD, directory, audit log or validator; or a
    /// request key when none was given and the secure random source failed.
    pub fn build(self) -> Result<Portal, BuildError> {
        let key = match self.request_key {
            Some(key) if key.len() >= 32 => key,
            Some(_) => return Err(BuildError("a request key of at least 32 bytes")),
            None => {
                let mut key = vec![0u8; 32];
                aws_lc_rs::rand::SecureRandom::fill(
                    &aws_lc_rs::rand::SystemRandom::new(),
                    &mut key,
                )
                .map_err(|_| BuildError("a random request key (the random source failed)"))?;
                key
            }
        };
        let timeouts = crate::session::Timeouts::of(&self.settings);
        let request_key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
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
                .unwrap_or_else(|| Arc::new(MemorySessions::new(timeouts))),
            public_origin: self.public_url,
            cookie_key: crate::dezi::seal::CookieKey::derive(&request_key),
            request_key,
            dezi: self.dezi,
            revocations: crate::dezi::Revocations::default(),
            last_checkpoint: std::sync::Mutex::new(None),
            crls: std::sync::Mutex::new(Vec::new()),
            notify: self.notify,
            throttle: self
                .card_rate
                .map(|rate| crate::throttle::Throttle::new(rate, Arc::clone(&self.clock))),
            clock: self.clock,
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
            card_rate: None,
            sessions: None,
            public_url: None,
            request_key: None,
            clock: Arc::new(Utc::now),
            notify: None,
            dezi: None,
        }
    }

    /// Every route of the portal.
    pub fn router(&self) -> Router {
        let pages = pages::routes()
            .merge(admin::routes())
            .layer(middleware::from_fn_with_state(
                self.clone(),
                auth::authenticate,
            ));
        Router::new()
            .route("/static/portal.css", get(ops::stylesheet))
            .merge(crate::dezi::routes())
            .merge(pages)
            .fallback(ops::not_found)
            .layer(axum::extract::DefaultBodyLimit::max(ops::MAX_BODY_BYTES))
            .layer(middleware::from_fn(ops::security_headers))
            .with_state(self.clone())
    }

    /// The routes of the admin listener: `/healthz` and `/metrics`.
    pub fn admin_router(&self) -> Router {
        Router::new()
            .route("/healthz", get(ops::healthz))
            .route("/metrics", get(ops::metrics))
            .with_state(self.clone())
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
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

    /// Notes the revocation lists now in use, for `/metrics` (alert on `zvp_crl_warning`, or
    /// when `zvp_crl_next_update_seconds` comes near).
    pub fn crls_in_use(&self, crls: Vec<CrlGauge>) {
        if let Ok(mut current) = self.0.crls.lock() {
            *current = crls;
        }
    }

    /// Hands over the Dezi platform's signed revocation list, verified (the embedder fetches
    /// it at the interval it configures). Every request of a Dezi session is checked against
    /// the newest one: a revoked verklaring ends its session.
    pub fn dezi_revocations(&self, list: zvp_auth::dezi::RevocationList) {
        self.0.revocations.replace(list);
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

    pub(crate) fn validator_generation(&self) -> u64 {
        self.0
            .validator_generation
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The current UZI validator.
    pub(crate) fn validator(&self) -> Arc<UziValidator> {
        Arc::clone(
            &self
                .0
                .validator
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    pub(crate) fn settings(&self) -> &PortalSettings {
        &self.0.settings
    }
}
