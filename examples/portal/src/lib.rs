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
//!
//! A complete example, an `Epd` of its own with the embedded stores, is
//! `examples/portal/examples/custom_epd.rs` (`cargo run -p zvp-portal --example custom_epd`;
//! `docs/embedding.md` walks through it). Sessions can live in a store of the hospital's own:
//! implement [`SessionStore`] with [`new_session`], [`ended`] and [`Session::new`]. A
//! hospital's build leaves out the demo (`default-features = false`: no test PKI, no synthetic
//! hospital, no mock EPD).

/// Writes a private key: readable and writable by its owner only (0600), from the moment it
/// exists.
///
/// # Errors
///
/// The file system's.
pub fn write_private_key(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // An existing file keeps its mode through open(): narrow it as well.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)?;
    file.sync_all()
}

pub mod assemble;
pub mod config;
pub mod crl;
#[cfg(feature = "demo")]
pub mod demo_epd;
pub mod dezi;
pub mod epd_check;
pub mod epd_connection;
pub mod notifier;
pub mod pg;
pub mod serve;

pub use zvp_web::{
    BuildError, CardRate, ClientCertificate, Clock, ConnectionIdentity, DeziLogin, DeziPlatform,
    PeerAddress, Portal, PortalBuilder, ProxyTrust,
};
pub use zvp_web::{
    Ended, MAX_SESSIONS, MAX_SESSIONS_PER_CERTIFICATE, MemorySessions, Session, SessionError,
    SessionStore, Timeouts, ended, new_session,
};
