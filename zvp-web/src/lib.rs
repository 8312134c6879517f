//! The Zorgverlenersportaal's web layer: [`Portal`] holds the EPD, the directory, the audit
//! log, the UZI validator and the policy; [`Portal::router`] is every page. A hospital builds
//! one around its own [`Epd`](zvp_epd::Epd) with [`Portal::builder`] (see
//! `examples/portal/examples/custom_epd.rs`).
//!
//! Every request goes through the authentication middleware: the client certificate (from the
//! TLS connection, or from a trusted reverse proxy) is validated as a UZI-pas at the request's
//! time, and a server-side session bound to that certificate carries the CSRF token and the
//! idle and absolute timeouts. Whether the card enters at all is the policy's answer, asked by
//! the caller extractor; pages that show patient data hold a policy permit for exactly the
//! section they render and the receipt of its durable audit record, so that no path discloses
//! without both (docs/audit.md, "Fail closed").
//!
//! The modules follow the request: `auth` and `caller` (who asks), `access` (the decision for
//! one patient's section), `disclosure` (the audit record before the data), `refusal` (what
//! the user reads instead), the page families under `pages` and `admin`, `layout` (the
//! templates' frame) and `ops` (health, metrics, headers).

#![allow(
    clippy::result_large_err,
    reason = "an axum Response as the error is the page to send; boxing it buys nothing"
)]

mod access;
mod admin;
mod auth;
mod caller;
mod chart;
mod dezi;
mod disclosure;
mod layout;
mod numbers;
mod ops;
mod origin;
mod pages;
mod portal;
mod refusal;
mod session;
mod settings;
mod throttle;
mod trail;

pub use self::auth::{
    ClientCertificate, ConnectionIdentity, PeerAddress, pem_certificates, url_unescape,
};
pub use self::dezi::{DeziLogin, DeziPlatform};
pub use self::portal::{BuildError, Clock, CrlGauge, Portal, PortalBuilder, ProxyTrust};
pub use self::session::{
    Ended, MAX_SESSIONS, MAX_SESSIONS_PER_CERTIFICATE, MemorySessions, Session, SessionError,
    SessionStore, Timeouts, ended, new_session,
};
pub use self::settings::PortalSettings;
pub use self::throttle::CardRate;
