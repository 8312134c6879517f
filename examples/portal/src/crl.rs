//! Revocation lists that fetch themselves: every `[uzi] crl_refresh_minutes` each
//! `crl_downloads` entry is downloaded, checked ([`zvp_auth::uzi::check_crl`]: issued and signed
//! by a configured CA, current, not older than the kept one) and only then written over its file
//! (a temporary file, fsync, rename), so the file always holds the last good list and a failed
//! download leaves it in use. When a list in use comes within `crl_warn_hours` of its
//! nextUpdate, the refresh logs `crl-near-next-update` and `/metrics` shows `zvp_crl_warning`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use zvp_auth::uzi::{CrlError, CrlInfo, MAX_CRL_SIZE, check_crl, crl_info};
use zvp_web::CrlGauge;

use crate::Portal;
use crate::config::{Config, CrlDownload};

/// Why a download did not replace the kept list.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL is not a usable `http://` URL.
    #[error("not an http:// URL: {0}")]
    Url(String),
    /// No connection (refused, no address, ...).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The download took longer than `crl_fetch_timeout_seconds`.
    #[error("no complete answer within {seconds} s")]
    Timeout {
        /// The limit.
        seconds: u64,
    },
    /// The server answered with another status than 200.
    #[error("HTTP status {0}")]
    Status(u16),
    /// The answer is larger than a CRL can be.
    #[error("the answer is larger than {MAX_CRL_SIZE} bytes")]
    TooLarge,
    /// The answer broke off.
    #[error("the answer broke off: {0}")]
    Body(String),
    /// The list failed its checks.
    #[error("refused: {0}")]
    Refused(#[from] CrlError),
    /// The good list could not be written to its file.
    #[error("cannot keep it in {path}: {detail}")]
    Keep {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
}

/// Downloads `url` (plain HTTP; a CRL carries its own signature) within `timeout`, at most
/// [`MAX_CRL_SIZE`] bytes.
///
/// # Errors
///
/// [`FetchError`] other than `Refused` and `Keep`.
pub async fn fetch(url: &str, timeout: Duration) -> Result<Vec<u8>, FetchError> {
    let uri: hyper::Uri = url.parse().map_err(|_| FetchError::Url(url.to_owned()))?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(FetchError::Url(url.to_owned()));
    }
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(timeout));
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let download = async {
        let response = client.get(uri).await.map_err(|e| {
            FetchError::Connect(
                std::error::Error::source(&e).map_or(e.to_string(), |s| s.to_string()),
            )
        })?;
        if response.status() != hyper::StatusCode::OK {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let announced = response
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > MAX_CRL_SIZE as u64) {
            return Err(FetchError::TooLarge);
        }
        let body = Limited::new(response.into_body(), MAX_CRL_SIZE)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    FetchError::TooLarge
                } else {
                    FetchError::Body(e.to_string())
                }
            })?;
        Ok(body.to_bytes().to_vec())
    };
    tokio::time::timeout(timeout, download)
        .await
        .map_err(|_| FetchError::Timeout {
            seconds: timeout.as_secs(),
        })?
}

/// Downloads one configured CRL, checks it against `issuers` (the configured anchors and
/// intermediates) at `now` and the list kept in its file, and keeps it there when it passes.
///
/// # Errors
///
/// [`FetchError`]; the kept file is then unchanged.
pub async fn refresh(
    download: &CrlDownload,
    issuers: &[CertificateDer<'_>],
    now: DateTime<Utc>,
    timeout: Duration,
) -> Result<CrlInfo, FetchError> {
    let bytes = fetch(&download.url, timeout).await?;
    let der = der_of(bytes).map_err(|e| FetchError::Refused(CrlError::Malformed(e)))?;
    let current = std::fs::read(&download.file)
        .ok()
        .and_then(|kept| der_of(kept).ok())
        .and_then(|kept| crl_info(&kept).ok())
        .map(|kept| kept.this_update);
    let info = check_crl(&der, issuers, now, current)?;
    keep(&download.file, &der).map_err(|e| FetchError::Keep {
        path: download.file.display().to_string(),
        detail: e.to_string(),
    })?;
    Ok(info)
}

/// A CRL as DER, from DER or PEM.
pub(crate) fn der_of(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    if bytes.starts_with(b"-----BEGIN") {
        use rustls_pki_types::pem::PemObject as _;
        rustls_pki_types::CertificateRevocationListDer::from_pem_slice(&bytes)
            .map(|der| der.as_ref().to_vec())
            .map_err(|e| e.to_string())
    } else {
        Ok(bytes)
    }
}

/// Writes `bytes` to `path` so that a crash leaves the old file or the new one, never a part:
/// a temporary file beside it, fsync, rename, fsync of the directory.
///
/// # Errors
///
/// The I/O error.
pub fn keep(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".download");
    let temporary = dir.join(name);
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(&dir)?.sync_all()
}

/// The CRL files the validator reads: `crls` and the files of `crl_downloads`.
pub fn files(config: &Config) -> Vec<PathBuf> {
    let uzi = &config.uzi;
    let downloads = uzi.crl_downloads.iter().map(|d| d.file.clone());
    uzi.crls.iter().cloned().chain(downloads).collect()
}

/// The gauges for the lists in use: each with a warning when `now` is within `margin` of its
/// nextUpdate (a fresher list would have moved that away, so none could be had).
pub fn gauges(infos: &[CrlInfo], now: DateTime<Utc>, margin: chrono::Duration) -> Vec<CrlGauge> {
    infos
        .iter()
        .map(|info| CrlGauge {
            issuer: info.issuer.clone(),
            next_update: info.next_update,
            warning: info.next_update.is_some_and(|at| now + margin >= at),
        })
        .collect()
}

/// One refresh: downloads every `crl_downloads` entry, gives `portal` a validator with the lists
/// now kept, and notes (`/metrics`) and logs those near their nextUpdate.
pub async fn refresh_round(portal: &Portal, config: &Config, now: DateTime<Utc>) {
    let uzi = &config.uzi;
    if !uzi.crl_downloads.is_empty() {
        match crate::assemble::uzi_certificates(config) {
            Ok(issuers) => {
                let timeout = Duration::from_secs(u64::from(uzi.crl_fetch_timeout_seconds.max(1)));
                for download in &uzi.crl_downloads {
                    match refresh(download, &issuers, now, timeout).await {
                        Ok(info) => tracing::info!(
                            event = "crl-fetched",
                            url = %download.url,
                            issuer = %info.issuer,
                            next_update = info.next_update.map(|t| tracing::field::display(t.to_rfc3339())),
                        ),
                        Err(e) => tracing::error!(
                            event = "crl-fetch-failed",
                            url = %download.url,
                            file = %download.file.display(),
                            error = %e,
                        ),
                    }
                }
            }
            Err(e) => tracing::error!(event = "crl-fetch-failed", error = %e),
        }
    }
    match crate::assemble::validator(config) {
        Ok(v) => portal.replace_validator(Arc::new(v)),
        Err(e) => tracing::error!(event = "crl-refresh-failed", error = %e),
    }
    let infos: Vec<CrlInfo> = files(config)
        .iter()
        .filter_map(|path| std::fs::read(path).ok())
        .filter_map(|bytes| der_of(bytes).ok())
        .filter_map(|der| crl_info(&der).ok())
        .collect();
    let margin = chrono::Duration::hours(i64::from(uzi.crl_warn_hours));
    let gauges = gauges(&infos, now, margin);
    for gauge in gauges.iter().filter(|g| g.warning) {
        tracing::warn!(
            event = "crl-near-next-update",
            issuer = %gauge.issuer,
            next_update = gauge.next_update.map(|t| tracing::field::display(t.to_rfc3339())),
        );
    }
    portal.crls_in_use(gauges);
}
