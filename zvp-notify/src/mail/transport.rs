//! How a mail leaves: SMTP with STARTTLS or TLS ([`Smtp`]), or `.eml` files in a folder
//! ([`EmlFolder`], the demo's mail sink). Both are `lettre`'s.

use std::time::Duration;

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Why a mail could not be handed over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The server could not be reached, or the connection failed: tried again later.
    #[error("the mail server is unreachable: {0}")]
    Unreachable(String),
    /// The server refused the mail (a 4xx or 5xx answer): tried again later, and shown to the
    /// administrator.
    #[error("the mail server refused the mail: {0}")]
    Refused(String),
    /// The mail sink could not be written.
    #[error("the mail could not be written: {0}")]
    Write(String),
}

/// Something that hands a mail over.
#[async_trait]
pub trait MailTransport: Send + Sync {
    /// Hands `message` over; returns once the server has accepted it.
    async fn send(&self, message: Message) -> Result<(), SendError>;
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// STARTTLS, required (submission, port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// None: only for a mail sink on loopback (tests, a local relay).
    Plain,
}

/// Where and how to reach the SMTP server.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    /// The server's host name (also the name its certificate must carry).
    pub host: String,
    /// Its port.
    pub port: u16,
    /// STARTTLS, TLS, or none.
    pub security: SmtpSecurity,
    /// User name and password, when the server asks for them.
    pub credentials: Option<(String, String)>,
    /// Extra trust anchors (PEM) besides the system's, e.g. the hospital's own CA.
    pub ca_pem: Option<Vec<u8>>,
    /// The longest one SMTP command may take.
    pub timeout: Duration,
}

/// Why the SMTP settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("smtp settings: {0}")]
pub struct SmtpSettingsError(String);

/// SMTP through `lettre`, over rustls with aws-lc-rs.
#[derive(Clone)]
pub struct Smtp(AsyncSmtpTransport<Tokio1Executor>);

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Smtp")
    }
}

impl Smtp {
    /// A transport for `settings`.
    ///
    /// # Errors
    ///
    /// [`SmtpSettingsError`] when the trust anchors do not parse.
    pub fn new(settings: &SmtpSettings) -> Result<Self, SmtpSettingsError> {
        let tls = || -> Result<TlsParameters, SmtpSettingsError> {
            let mut builder = TlsParameters::builder(settings.host.clone());
            if let Some(pem) = &settings.ca_pem {
                let certificate = Certificate::from_pem(pem)
                    .map_err(|e| SmtpSettingsError(format!("ca file: {e}")))?;
                builder = builder.add_root_certificate(certificate);
            }
            builder
                .build_rustls()
                .map_err(|e| SmtpSettingsError(e.to_string()))
        };
        let tls = match settings.security {
            SmtpSecurity::StartTls => Tls::Required(tls()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls()?),
            SmtpSecurity::Plain => Tls::None,
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.as_str())
                .port(settings.port)
                .tls(tls)
                .timeout(Some(settings.timeout));
        if let Some((user, password)) = &settings.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Self(builder.build()))
    }
}

#[async_trait]
impl MailTransport for Smtp {
    async fn send(&self, message: Message) -> Result<(), SendError> {
        match self.0.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_transient() || e.is_permanent() => {
                Err(SendError::Refused(e.to_string()))
            }
            Err(e) => Err(SendError::Unreachable(e.to_string())),
        }
    }
}

/// Mails written as `.eml` files into a folder: a mail sink to look at, for the demo.
#[derive(Debug)]
pub struct EmlFolder(AsyncFileTransport<Tokio1Executor>);

impl EmlFolder {
    /// Writes into `folder` (which must exist).
    pub fn new(folder: impl AsRef<std::path::Path>) -> Self {
        Self(AsyncFileTransport::new(folder))
    }
}

#[async_trait]
impl MailTransport for EmlFolder {
    async fn send(&self, message: Message) -> Result<(), SendError> {
        self.0
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| SendError::Write(e.to_string()))
    }
}
