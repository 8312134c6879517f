//! A [`Portal`] from a [`Config`]: the UZI validator from the configured anchors,
//! intermediates and CRLs, the EPD (synthetic in process, or FHIR), the directory and the
//! audit log.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use zvp_audit::checkpoint::{Checkpoint, CheckpointSigner};
use zvp_audit::log::{AuditLog, FileLog, FileLogOptions, LogError};
use zvp_auth::directory::{DirectoryStore, MemoryDirectory, SqliteDirectory};
use zvp_auth::policy::Policy;
use zvp_auth::uzi::{Environment, UziValidator};
use zvp_epd::Epd;
use zvp_epd::client::FhirEpd;

use crate::config::{Config, DirectoryKind, EpdKind, StoresKind, UziEnvironment};
use crate::serve::pem_certificates;
use crate::{Portal, ProxyTrust};

/// Why a portal could not be assembled from its configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssembleError {
    /// A file named in the configuration could not be read.
    #[error("{path}: {detail}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A value in the configuration is not usable.
    #[error("configuration: {0}")]
    Config(String),
    /// A store could not be opened.
    #[error("{0}")]
    Store(String),
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, AssembleError> {
    std::fs::read(path).map_err(|e| AssembleError::File {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}

/// The configured anchors and intermediates (DER): the CAs a downloaded CRL must come from.
///
/// # Errors
///
/// [`AssembleError::File`] naming the file.
pub fn uzi_certificates(
    config: &Config,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, AssembleError> {
    let (mut anchors, intermediates) = anchors_and_intermediates(config)?;
    anchors.extend(intermediates);
    Ok(anchors)
}

type Certificates = Vec<rustls_pki_types::CertificateDer<'static>>;

fn anchors_and_intermediates(
    config: &Config,
) -> Result<(Certificates, Certificates), AssembleError> {
    let uzi = &config.uzi;
    let file = |path: &std::path::Path, detail: String| AssembleError::File {
        path: path.display().to_string(),
        detail,
    };
    let anchors = pem_certificates(&read(&uzi.anchors)?).map_err(|e| file(&uzi.anchors, e))?;
    let intermediates =
        pem_certificates(&read(&uzi.intermediates)?).map_err(|e| file(&uzi.intermediates, e))?;
    Ok((anchors, intermediates))
}

/// The UZI validator the configuration describes, with its CRLs as read now: the `crls` files
/// and the files `crl_downloads` keep. A download not yet kept is left out, so its issuer's
/// cards fail closed (`revocation-unknown`) until the first good download.
///
/// # Errors
///
/// [`AssembleError`] naming the file or value.
pub fn validator(config: &Config) -> Result<UziValidator, AssembleError> {
    let uzi = &config.uzi;
    let file = |path: &std::path::Path, detail: String| AssembleError::File {
        path: path.display().to_string(),
        detail,
    };
    let (anchors, intermediates) = anchors_and_intermediates(config)?;
    let environment = match uzi.environment {
        UziEnvironment::Production => Environment::Production,
        UziEnvironment::Test => Environment::Test,
    };
    let card_types = &uzi.card_types;
    let mut crls = Vec::new();
    let downloaded = uzi.crl_downloads.iter().map(|d| (&d.file, true));
    for (path, optional) in uzi.crls.iter().map(|p| (p, false)).chain(downloaded) {
        let bytes = match std::fs::read(path) {
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => continue,
            other => other.map_err(|e| file(path, e.to_string()))?,
        };
        let der = crate::crl::der_of(bytes).map_err(|e| file(path, e))?;
        crls.push(rustls_pki_types::CertificateRevocationListDer::from(der));
    }
    let mut validator = UziValidator::new(environment, anchors)
        .map_err(|e| AssembleError::Config(format!("uzi.anchors: {e}")))?
        .with_intermediates(intermediates)
        .map_err(|e| AssembleError::Config(format!("uzi.intermediates: {e}")))?
        .with_accepted_card_types(card_types);
    validator = validator
        .with_crls(crls)
        .map_err(|e| AssembleError::Config(format!("uzi.crls: {e}")))?;
    if uzi.accept_stale_crls {
        validator = validator.with_stale_crls_accepted();
    }
    Ok(validator)
}

/// The policy the configuration describes.
///
/// # Errors
///
/// [`AssembleError::Config`] for a role code that does not parse.
pub fn policy(config: &Config) -> Result<Policy, AssembleError> {
    Ok(Policy::default()
        .with_eligible_roles(&config.uzi.eligible_roles)
        .with_min_reason_chars(config.portal.emergency_min_reason)
        .with_emergency_duration(chrono::Duration::hours(i64::from(
            config.portal.emergency_hours,
        ))))
}

/// The EPD the configuration names; a synthetic one is current for `now`.
///
/// # Errors
///
/// [`AssembleError::Config`].
pub fn epd(config: &Config, now: DateTime<Utc>) -> Result<Arc<dyn Epd>, AssembleError> {
    Ok(match config.epd.kind {
        #[cfg(feature = "demo")]
        EpdKind::Synthetic => Arc::new(
            zvp_epd::synthetic::SyntheticEpd::generate(config.epd.seed, now, config.epd.patients)
                .map_err(|e| AssembleError::Config(format!("epd: {e}")))?,
        ),
        #[cfg(not(feature = "demo"))]
        EpdKind::Synthetic => {
            let _ = now;
            return Err(AssembleError::Config(
                "[epd] kind = \"synthetic\": this build of the portal has no synthetic \
                 hospital (it was built without the demo feature); use kind = \"fhir\""
                    .to_owned(),
            ));
        }
        EpdKind::Fhir => {
            let fhir = crate::epd_connection::fhir_config(&config.epd)?;
            Arc::new(FhirEpd::new(fhir).map_err(|e| AssembleError::Config(format!("epd: {e}")))?)
        }
        EpdKind::Demo => {
            return Err(AssembleError::Config(
                "[epd] kind = \"demo\" needs the mock EPD started first (demo_epd), which only a \
                 build with the demo feature has"
                    .to_owned(),
            ));
        }
    })
}

/// The directory store the configuration names.
///
/// # Errors
///
/// [`AssembleError::Store`].
pub fn directory(config: &Config) -> Result<Arc<dyn DirectoryStore>, AssembleError> {
    Ok(match config.directory.kind {
        DirectoryKind::Memory => Arc::new(MemoryDirectory::new()),
        DirectoryKind::Sqlite => Arc::new(
            SqliteDirectory::open(&config.directory.path)
                .map_err(|e| AssembleError::Store(format!("directory: {e}")))?,
        ),
    })
}

/// The embedded audit log (`[stores] kind = "embedded"`: the file log of `[audit] dir`; the
/// PostgreSQL log is made with the other shared stores). A file log opened from its tree state
/// reads the records under it back meanwhile; a thread of its own logs the verdict.
///
/// # Errors
///
/// [`AssembleError::Store`] when the log cannot be opened.
pub fn audit(config: &Config) -> Result<Arc<dyn AuditLog>, AssembleError> {
    let log = file_log(config)?;
    if log.opened().from_state {
        // On failure the log refuses appends: every audited action is refused until the
        // damage is dealt with.
        let checking = log.opening_check();
        let records = log.opened().records - log.opened().read;
        let checked = std::thread::Builder::new()
            .name("zvp-audit-checked".to_owned())
            .spawn(move || match checking.wait() {
                Ok(()) => tracing::info!(event = "audit-log-checked", records),
                Err(e) => tracing::error!(event = "audit-log-damaged", records, error = %e),
            });
        if let Err(e) = checked {
            return Err(AssembleError::Store(format!("audit log: {e}")));
        }
    }
    Ok(Arc::new(log))
}

/// The file audit log the configuration names, after its read-back has ended well: for a
/// command that must know the whole log is sound before it says so (`migrate`).
///
/// # Errors
///
/// As [`audit`], and [`AssembleError::Store`] when the read-back finds damage.
pub fn checked_audit(config: &Config) -> Result<FileLog, AssembleError> {
    let log = file_log(config)?;
    log.checked()
        .map_err(|e| AssembleError::Store(format!("audit log: {e}")))?;
    Ok(log)
}

/// Opens the file audit log the configuration names, and logs how it opened.
fn file_log(config: &Config) -> Result<FileLog, AssembleError> {
    let log = FileLog::open(&config.audit.dir, FileLogOptions::default())
        .map_err(|e| AssembleError::Store(format!("audit log: {e}")))?;
    // For the operator: how long opening took depends on `read` (the records since the last
    // checkpoint, when its tree state was taken up); a cut tail or checkpoint is a write a
    // crash interrupted.
    let opened = log.opened();
    tracing::info!(
        event = "audit-log-opened",
        dir = %config.audit.dir.display(),
        records = opened.records,
        read = opened.read,
        from_tree_state = opened.from_state,
        cut_tail = log.cut_tail().map(tracing::field::display),
        cut_checkpoint_at_byte = log.cut_checkpoint(),
    );
    Ok(log)
}

/// The shared stores in PostgreSQL (`[stores] kind = "postgres"`): directory, audit log and
/// sessions, each migrated or created on connect.
///
/// # Errors
///
/// [`AssembleError::Store`] naming the store that could not be reached.
pub async fn postgres_stores(
    config: &Config,
) -> Result<
    (
        Arc<dyn DirectoryStore>,
        Arc<dyn AuditLog>,
        Arc<dyn crate::SessionStore>,
    ),
    AssembleError,
> {
    let pg = &config.stores;
    let directory = zvp_auth::directory::PgDirectory::connect(&pg.postgres, &pg.schema)
        .await
        .map_err(|e| AssembleError::Store(format!("directory: {e}")))?;
    let audit = zvp_audit::log::pg::PgLog::connect(&pg.postgres, &pg.schema)
        .await
        .map_err(|e| AssembleError::Store(format!("audit log: {e}")))?;
    let sessions = crate::pg::PgSessions::connect(
        &pg.postgres,
        &pg.schema,
        crate::Timeouts::of(&config.portal),
    )
    .await
    .map_err(|e| AssembleError::Store(format!("sessions: {e}")))?;
    Ok((Arc::new(directory), Arc::new(audit), Arc::new(sessions)))
}

/// The whole portal from its configuration, with the embedded stores unless `[stores]` says
/// PostgreSQL.
///
/// # Errors
///
/// [`AssembleError`] from any part.
pub async fn portal(config: &Config, now: DateTime<Utc>) -> Result<Portal, AssembleError> {
    Ok(assembled(config, now).await?.portal)
}

/// The portal as [`assembled`] makes it, and what runs beside it.
pub struct Assembled {
    /// The portal.
    pub portal: Portal,
    /// With `[notify] enabled`, the notifier, to be run with [`crate::notifier::spawn`].
    pub notifier: Option<crate::notifier::Notifier>,
    /// With `[dezi]`, Dezi login, whose revocation list [`crate::dezi::spawn_refresh`] keeps.
    pub dezi: Option<Arc<crate::dezi::DeziService>>,
}

/// The whole portal as [`portal`] makes it, with what runs beside it ([`Assembled`]).
///
/// # Errors
///
/// [`AssembleError`] from any part.
pub async fn assembled(config: &Config, now: DateTime<Utc>) -> Result<Assembled, AssembleError> {
    let builder = Portal::builder();
    let (builder, directory, audit) = match config.stores.kind {
        StoresKind::Embedded => {
            let directory = directory(config)?;
            let audit = audit(config)?;
            (
                builder
                    .directory(Arc::clone(&directory))
                    .audit(Arc::clone(&audit)),
                directory,
                audit,
            )
        }
        StoresKind::Postgres => {
            let (directory, audit, sessions) = postgres_stores(config).await?;
            (
                builder
                    .directory(Arc::clone(&directory))
                    .audit(Arc::clone(&audit))
                    .sessions(sessions),
                directory,
                audit,
            )
        }
    };
    let builder = match config.server.card_rate() {
        Some(rate) => builder.card_rate(rate),
        None => builder,
    };
    let epd = epd(config, now)?;
    let notify = crate::notifier::store(config).await?;
    let builder = match &notify {
        Some(store) => builder.notifications(Arc::clone(store)),
        None => builder,
    };
    let notifier = notify
        .map(|store| crate::notifier::notifier(config, Arc::clone(&epd), directory, audit, store))
        .transpose()?;
    let dezi = config
        .dezi
        .as_ref()
        .map(|dezi| crate::dezi::DeziService::new(dezi).map(Arc::new))
        .transpose()
        .map_err(|e| AssembleError::Config(e.to_string()))?;
    let builder = match &dezi {
        Some(service) => builder.dezi(service.login()),
        None => builder,
    };
    let portal = builder
        .validator(Arc::new(validator(config)?))
        .policy(policy(config)?)
        .epd(epd)
        .settings(config.portal.clone())
        .public_url(&config.server.public_url)
        .proxy(ProxyTrust {
            trusted: config.proxy.trusted.clone(),
            certificate_header: config.proxy.certificate_header.clone(),
        })
        .build()
        .map_err(|e| AssembleError::Config(e.to_string()))?;
    Ok(Assembled {
        portal,
        notifier,
        dezi,
    })
}

/// Reads (and downloads) the configured CRLs now and again every `crl_refresh_minutes`, and
/// gives the portal a validator with them, until `shutdown` turns true. A failed read or
/// download keeps the old CRLs: once they pass their nextUpdate, logins fail closed
/// (`crl-stale`) rather than open ([`crate::crl`]).
pub fn spawn_crl_refresh(
    portal: Portal,
    config: Config,
    shutdown: crate::serve::Shutdown,
) -> tokio::task::JoinHandle<()> {
    let every = Duration::from_secs(u64::from(config.uzi.crl_refresh_minutes.max(1)) * 60);
    // The first round at once: a download not yet kept is fetched before the first logins,
    // and the metrics show the lists from the start.
    tokio::spawn(async move {
        crate::serve::rounds(every, shutdown, || {
            crate::crl::refresh_round(&portal, &config, Utc::now())
        })
        .await;
    })
}

/// What signs the running portal's audit checkpoints: the key of `[audit] signing_key`, its
/// name and the origin line.
#[derive(Debug)]
pub struct CheckpointSigning {
    /// The key.
    pub signer: CheckpointSigner,
    /// The checkpoints' origin line.
    pub origin: String,
    /// Time between checkpoints.
    pub every: Duration,
}

/// The checkpoint signing the configuration asks for: `None` without `[audit] signing_key`.
///
/// # Errors
///
/// [`AssembleError::File`] when the key cannot be read or is not an Ed25519 PKCS#8 key;
/// [`AssembleError::Config`] when `key_name` is missing.
pub fn checkpoint_signing(config: &Config) -> Result<Option<CheckpointSigning>, AssembleError> {
    let Some(path) = &config.audit.signing_key else {
        return Ok(None);
    };
    let name = config.audit.key_name.clone().ok_or_else(|| {
        AssembleError::Config(
            "[audit] signing_key needs key_name (the name given to `zvp-portal audit keygen \
             --name`)"
                .to_owned(),
        )
    })?;
    let file = |detail: String| AssembleError::File {
        path: path.display().to_string(),
        detail,
    };
    let pkcs8 = std::fs::read(path).map_err(|e| file(e.to_string()))?;
    let signer = CheckpointSigner::from_pkcs8(&name, &pkcs8).map_err(|e| file(e.to_string()))?;
    let origin = config.audit.origin.clone().unwrap_or(name);
    zvp_audit::checkpoint::check_origin(&origin)
        .map_err(|e| AssembleError::Config(format!("[audit] origin {origin:?}: {e}")))?;
    Ok(Some(CheckpointSigning {
        signer,
        origin,
        every: Duration::from_secs(u64::from(config.audit.checkpoint_minutes.max(1)) * 60),
    }))
}

/// What one checkpoint round did.
#[derive(Debug, PartialEq, Eq)]
pub enum CheckpointRound {
    /// No records were added since the last checkpoint of this round's series: none signed.
    Unchanged,
    /// A checkpoint of this many records was signed and stored.
    Signed(u64),
}

/// Signs a checkpoint of `audit` unless it still has the `last` size of the previous round;
/// run on a blocking thread (a file log computes the tree root in the calling thread).
///
/// # Errors
///
/// The log's [`LogError`].
pub async fn checkpoint_round(
    audit: Arc<dyn AuditLog>,
    signing: Arc<CheckpointSigning>,
    last: Option<u64>,
) -> Result<CheckpointRound, LogError> {
    let size = audit.size().await?;
    if Some(size) == last {
        return Ok(CheckpointRound::Unchanged);
    }
    let runtime = tokio::runtime::Handle::current();
    let note = tokio::task::spawn_blocking(move || {
        runtime.block_on(async { audit.checkpoint(&signing.signer, &signing.origin).await })
    })
    .await
    .map_err(|e| LogError::Io(format!("the checkpoint task failed: {e}")))??;
    let signed = Checkpoint::of_note(&note)?.size;
    Ok(CheckpointRound::Signed(signed))
}

/// Signs a checkpoint of the audit log every `signing.every` in which records were added,
/// until `shutdown` turns true; each outcome is one line on stderr, and a failed round is tried
/// again at the next. The task ends with the size of the last checkpoint it signed, for the
/// [`final_checkpoint`] the caller makes once its listeners have stopped.
pub fn spawn_checkpoints(
    portal: Portal,
    signing: Arc<CheckpointSigning>,
    mut shutdown: crate::serve::Shutdown,
) -> tokio::task::JoinHandle<Option<u64>> {
    tokio::spawn(async move {
        let mut last = None;
        loop {
            tokio::select! {
                () = tokio::time::sleep(signing.every) => {}
                _ = shutdown.changed() => return last,
            }
            if let Some(size) = logged_round(&portal, Arc::clone(&signing), last).await {
                last = Some(size);
            }
        }
    })
}

/// The checkpoint a stopping portal signs after its listeners have stopped taking requests
/// (so it covers every record written), unless nothing was added since `last`.
pub async fn final_checkpoint(portal: &Portal, signing: Arc<CheckpointSigning>, last: Option<u64>) {
    let _ = logged_round(portal, signing, last).await;
}

/// One checkpoint round of the portal's audit log, its line on stderr and its note for
/// `/metrics`; the size signed, if one was.
async fn logged_round(
    portal: &Portal,
    signing: Arc<CheckpointSigning>,
    last: Option<u64>,
) -> Option<u64> {
    match checkpoint_round(portal.audit_log(), signing, last).await {
        Ok(CheckpointRound::Signed(size)) => {
            tracing::info!(event = "audit-checkpoint", records = size);
            portal.checkpoint_signed(size);
            Some(size)
        }
        Ok(CheckpointRound::Unchanged) => None,
        Err(e) => {
            tracing::error!(event = "audit-checkpoint-failed", error = %e);
            None
        }
    }
}
