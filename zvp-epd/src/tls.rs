//! TLS to the EPD: whose certificates the portal trusts, and the client certificate it shows
//! when the EPD asks for one (mutual TLS).
//!
//! The result is a [`rustls::ClientConfig`] for [`crate::client::FhirEpdConfig::tls`]; the
//! connector adds ALPN (`h2`, `http/1.1`) itself, so HTTP/2 is used where the server offers it.

use std::sync::Arc;

use rustls::pki_types::pem::{Error as PemError, PemObject as _};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS configuration for the EPD could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsSetupError {
    /// The trust anchors' PEM text cannot be read.
    #[error("the epd's trust anchors: {0}")]
    AnchorsPem(#[source] PemError),
    /// The trust anchors' PEM text holds no certificate.
    #[error("the epd's trust anchors: {NO_CERTIFICATE}")]
    NoAnchors,
    /// A trust anchor is not a usable certificate.
    #[error("the epd's trust anchors: {0}")]
    Anchor(#[source] rustls::Error),
    /// The system's certificate store holds no usable root.
    #[error("the system's certificate store holds no usable root certificate")]
    NoSystemRoots,
    /// The crypto provider does not support the protocol versions asked for.
    #[error("the tls protocol versions for the epd: {0}")]
    Versions(#[source] rustls::Error),
    /// The client certificate chain's PEM text cannot be read.
    #[error("the portal's client certificate for the epd: {0}")]
    ClientCertificatePem(#[source] PemError),
    /// The client certificate chain's PEM text holds no certificate.
    #[error("the portal's client certificate for the epd: {NO_CERTIFICATE}")]
    NoClientCertificate,
    /// The client key's PEM text holds no key, or one that cannot be read.
    #[error("the portal's client key for the epd: {0}")]
    ClientKeyPem(#[source] PemError),
    /// The client key does not belong to the certificate, or is of a kind not supported.
    #[error("the portal's client key for the epd: {0}")]
    ClientKey(#[source] rustls::Error),
}

const NO_CERTIFICATE: &str = "no certificate in the PEM text";

/// The certificates the portal trusts for the EPD's server certificate.
#[derive(Debug, Clone, Copy)]
pub enum Anchors<'a> {
    /// The operating system's roots (on Debian `/etc/ssl/certs`).
    System,
    /// The certificates in this PEM text: the hospital's own CA, or the EPD vendor's.
    Pem(&'a [u8]),
}

/// The portal's certificate chain (leaf first) and private key, both PEM.
#[derive(Debug, Clone, Copy)]
pub struct ClientIdentity<'a> {
    /// The chain, leaf first.
    pub chain_pem: &'a [u8],
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: &'a [u8],
}

/// A TLS client configuration for the EPD, with the process's crypto provider (aws-lc-rs),
/// TLS 1.2 and 1.3.
///
/// # Errors
///
/// [`TlsSetupError`] naming the part that cannot be used.
pub fn client_config(
    anchors: Anchors<'_>,
    identity: Option<ClientIdentity<'_>>,
) -> Result<rustls::ClientConfig, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    match anchors {
        Anchors::Pem(pem) => {
            let certs = certificates(pem)
                .map_err(TlsSetupError::AnchorsPem)?
                .ok_or(TlsSetupError::NoAnchors)?;
            for cert in certs {
                roots.add(cert).map_err(TlsSetupError::Anchor)?;
            }
        }
        Anchors::System => {
            // Unreadable entries in the store are skipped, as every TLS client does; a store
            // with nothing usable is refused.
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(TlsSetupError::NoSystemRoots);
            }
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(TlsSetupError::Versions)?
    .with_root_certificates(roots);
    match identity {
        None => Ok(builder.with_no_client_auth()),
        Some(identity) => {
            let chain = certificates(identity.chain_pem)
                .map_err(TlsSetupError::ClientCertificatePem)?
                .ok_or(TlsSetupError::NoClientCertificate)?;
            let key = PrivateKeyDer::from_pem_slice(identity.key_pem)
                .map_err(TlsSetupError::ClientKeyPem)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(TlsSetupError::ClientKey)
        }
    }
}

/// Every certificate in a PEM text; `None` when it holds none.
fn certificates(pem: &[u8]) -> Result<Option<Vec<CertificateDer<'static>>>, PemError> {
    let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?;
    Ok((!certs.is_empty()).then_some(certs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_without_certificates_is_refused() {
        let refused = client_config(Anchors::Pem(b"not a certificate"), None).err();
        assert!(
            matches!(refused, Some(TlsSetupError::NoAnchors)),
            "{refused:?}"
        );
        assert_eq!(
            refused.map(|e| e.to_string()).as_deref(),
            Some("the epd's trust anchors: no certificate in the PEM text")
        );
    }
}
