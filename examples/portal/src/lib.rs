//! `zvp_portal`: the reference Zorgverlenersportaal as a library, with a thin binary
//! (`zvp-portal`).
//!
//! A hospital builds the same portal around its own EPD, directory and audit store:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # async fn example(
//! #     my_epd: Arc<dyn zvp_epd::Epd>,
//! #     directory: Arc<dyn zvp_auth::directory::DirectoryStore>,
//! #     audit: Arc<dyn zvp_audit::log::AuditLog>,
//! #     validator: Arc<zvp_auth::uzi::UziValidator>,
//! # ) -> Result<(), Box<dyn std::error::Error>> {
//! let portal = zvp_portal::Portal::builder()
//!     .epd(my_epd)
//!     .directory(directory)
//!     .audit(audit)
//!     .validator(validator)
//!     .build()?;
//! let app = portal.router(); // an axum Router: serve it with zvp_portal::serve
//! # let _ = app;
//! # Ok(())
//! # }
//! ```
//!
//! - [`config`]: the TOML configuration;
//! - [`Portal`]: the application (every page, the policy and audit on every request);
//! - [`serve`]: HTTPS with the UZI-pas (mutual TLS), the reverse-proxy mode and the admin
//!   listener;
//! - [`assemble`]: a portal from a configuration (the stores and the EPD it names).

pub mod assemble;
pub mod config;
pub mod pg;
pub mod serve;
mod web;

pub use web::{
    BuildError, ClientCertificate, Clock, ConnectionIdentity, PeerAddress, Portal, PortalBuilder,
    ProxyTrust,
};
pub use web::{Ended, MemorySessions, Session, SessionError, SessionStore, Timeouts};
