//! From `[epd]` to a [`FhirEpdConfig`]: the TLS trust anchors and client certificate, and the
//! authentication, each read from the files the configuration names.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use zvp_epd::auth::{AssertionKey, EpdAuth, Secret};
use zvp_epd::client::FhirEpdConfig;
use zvp_epd::tls::{self, Anchors, ClientIdentity};

use crate::assemble::AssembleError;
use crate::config::{EpdAuthKind, EpdConfig};

fn read(path: &Path) -> Result<Vec<u8>, AssembleError> {
    std::fs::read(path).map_err(|e| AssembleError::File {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}

fn needs<'a, T: ?Sized>(
    value: Option<&'a T>,
    key: &str,
    auth: &str,
) -> Result<&'a T, AssembleError> {
    value.ok_or_else(|| AssembleError::Config(format!("epd.{key} is needed for auth = \"{auth}\"")))
}

/// `mib` MiB in bytes, at least 1 MiB (a budget of nothing would refuse every answer).
fn mib(mib: u32) -> usize {
    usize::try_from(u64::from(mib.max(1)) << 20).unwrap_or(usize::MAX)
}

/// The FHIR client settings `[epd]` describes.
///
/// # Errors
///
/// [`AssembleError::File`] for a file that cannot be read, [`AssembleError::Config`] for a key
/// missing for the chosen `auth`, or a certificate or key that cannot be used.
pub fn fhir_config(epd: &EpdConfig) -> Result<FhirEpdConfig, AssembleError> {
    let mut fhir = FhirEpdConfig::new(&epd.base_url);
    fhir.timeout = Duration::from_secs(u64::from(epd.timeout_seconds));
    fhir.connect_timeout = Duration::from_secs(u64::from(epd.connect_timeout_seconds));
    fhir.max_connections = epd.max_connections;
    fhir.max_answer_bytes = mib(epd.max_answer_mib);
    fhir.max_answers_in_flight_bytes = mib(epd.max_answers_in_flight_mib);
    let https = epd.base_url.starts_with("https://");
    let identity = match (&epd.client_certificate, &epd.client_key) {
        (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
        (None, None) => None,
        _ => {
            return Err(AssembleError::Config(
                "epd.client_certificate and epd.client_key go together".to_owned(),
            ));
        }
    };
    // A token endpoint may be https while the FHIR server is not, so TLS is set up whenever
    // something is configured for it.
    if https || epd.ca_file.is_some() || identity.is_some() || epd.auth != EpdAuthKind::None {
        let anchors = epd.ca_file.as_deref().map(read).transpose()?;
        let tls = tls::client_config(
            anchors.as_deref().map_or(Anchors::System, Anchors::Pem),
            identity.as_ref().map(|(chain, key)| ClientIdentity {
                chain_pem: chain,
                key_pem: key,
            }),
        )
        .map_err(|e| AssembleError::Config(e.to_string()))?;
        fhir.tls = Some(Arc::new(tls));
    }
    fhir.auth = auth(epd)?;
    Ok(fhir)
}

fn auth(epd: &EpdConfig) -> Result<EpdAuth, AssembleError> {
    Ok(match epd.auth {
        EpdAuthKind::None => EpdAuth::None,
        EpdAuthKind::Bearer => EpdAuth::BearerFile(
            needs(epd.token_file.as_deref(), "token_file", "bearer")?.to_owned(),
        ),
        EpdAuthKind::ClientSecret => {
            let path = needs(
                epd.client_secret_file.as_deref(),
                "client_secret_file",
                "client-secret",
            )?;
            let secret = String::from_utf8(read(path)?).map_err(|_| AssembleError::File {
                path: path.display().to_string(),
                detail: "not UTF-8".to_owned(),
            })?;
            EpdAuth::ClientSecret {
                token_url: epd.token_url.clone(),
                client_id: needs(epd.client_id.as_deref(), "client_id", "client-secret")?
                    .to_owned(),
                secret: Secret::new(secret),
                scope: epd.scope.clone(),
            }
        }
        EpdAuthKind::Smart => {
            let path = needs(epd.signing_key.as_deref(), "signing_key", "smart")?;
            let kid = needs(epd.key_id.as_deref(), "key_id", "smart")?;
            let key =
                AssertionKey::from_pem(&read(path)?, kid).map_err(|e| AssembleError::File {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                })?;
            EpdAuth::SmartBackend {
                token_url: epd.token_url.clone(),
                client_id: needs(epd.client_id.as_deref(), "client_id", "smart")?.to_owned(),
                key,
                scope: epd.scope.clone(),
            }
        }
    })
}
