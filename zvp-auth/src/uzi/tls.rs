//! The client-certificate verifier for the portal's TLS handshake.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};

use super::{MAX_CERTIFICATE_SIZE, MAX_PRESENTED_CERTIFICATES, UziValidator};

/// A rustls [`ClientCertVerifier`] for UZI-pas login.
///
/// # What the handshake checks, and what it leaves to the HTTP layer
///
/// A refusal in the TLS handshake reaches the practitioner as the browser's bare "this site
/// can't provide a secure connection"; a refusal at the HTTP layer can be a page that says what
/// happened and what to do (a hospital's help desk asks for exactly that). So the handshake
/// checks only what makes the connection meaningful:
///
/// - a certificate, if presented, is within [`MAX_PRESENTED_CERTIFICATES`] and
///   [`MAX_CERTIFICATE_SIZE`], and it parses; whether one must be presented at all is the
///   verifier's setting: mandatory by default, [`optional`](Self::optional) for a portal that
///   answers a browser without a card with a page of its own (how to log in, Dezi);
/// - the client proves possession of its private key: rustls verifies the CertificateVerify
///   signature over the handshake with the algorithms of the configured crypto provider
///   (for a UZI-pas the card itself makes that signature after the PIN).
///
/// Everything else — chain to the UZI anchors, revocation, validity, the authentication
/// profile, the Subject ID — is [`UziValidator::validate`], which the portal runs on the
/// connection's peer chain for every new session before anything else happens. The
/// acceptable-issuer names sent in the CertificateRequest are the configured UZI CAs, so the
/// browser offers only UZI certificates.
#[derive(Debug)]
pub struct UziClientCertVerifier {
    hints: Vec<DistinguishedName>,
    provider: Arc<CryptoProvider>,
    mandatory: bool,
}

impl UziClientCertVerifier {
    /// A verifier that names the validator's CAs as acceptable issuers and verifies handshake
    /// signatures with `provider`'s algorithms.
    pub fn new(validator: &UziValidator, provider: Arc<CryptoProvider>) -> Self {
        Self {
            hints: validator
                .ca_subjects()
                .iter()
                .map(|subject| DistinguishedName::in_sequence(subject))
                .collect(),
            provider,
            mandatory: true,
        }
    }

    /// The same verifier, completing the handshake of a client that presents no certificate:
    /// the HTTP layer must then refuse every request without a valid card or another login
    /// (zvp-web does, with its "Plaats uw UZI-pas" page). A presented certificate is checked
    /// as before.
    #[must_use]
    pub const fn optional(mut self) -> Self {
        self.mandatory = false;
        self
    }
}

impl ClientCertVerifier for UziClientCertVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let too_big = intermediates.len() + 1 > MAX_PRESENTED_CERTIFICATES
            || std::iter::once(end_entity)
                .chain(intermediates)
                .any(|der| der.len() > MAX_CERTIFICATE_SIZE);
        if too_big {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::BadEncoding,
            ));
        }
        webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
