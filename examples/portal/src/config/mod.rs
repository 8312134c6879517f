//! The portal's configuration: one TOML file with documented defaults, and environment
//! overrides.
//!
//! Every key has a default, and the example below is exactly the defaults (the keys in
//! comments have none); a file may be empty. Relative paths are relative to the file's
//! directory. An environment variable `ZVP_<SECTION>_<KEY>` overrides a key (for example
//! `ZVP_SERVER_LISTEN=0.0.0.0:8443`, `ZVP_EPD_BASE_URL=https://epd/fhir`); its value is read as
//! a TOML value when it is one (`14`, `true`, `["a", "b"]`) and as a string otherwise. Unknown
//! sections and keys are refused, so a typo does not silently fall back to a default.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:8443"          # HTTPS with the UZI-pas (mutual TLS)
//! admin_listen = "127.0.0.1:9090"    # /healthz and /metrics, plain HTTP, never public
//! certificate = "pki/server.pem"     # the portal's certificate chain (PEM)
//! private_key = "pki/server.key.pem"
//! tls13_only = false                 # keep TLS 1.2: some smartcard middleware cannot do PSS
//! tls_resumption = false             # every connection proves the card's key (docs/security.md)
//! public_url = "https://localhost:8443"
//! max_connections = 4096             # served at once; beyond, new ones wait
//! max_connections_per_address = 256  # open from one address (IPv6: one /64); beyond, closed
//! max_handshakes_per_address = 64    # TLS handshakes in progress from one address
//! client_hello_timeout_seconds = 5   # from connecting to the TLS ClientHello
//! handshake_timeout_seconds = 60     # the whole handshake: the PIN is typed during it
//! header_read_timeout_seconds = 10   # HTTP/1: from ready for a request to its whole header
//! idle_timeout_seconds = 10          # no byte either way and no request in flight
//! card_requests_per_minute = 120     # one card's steady rate; beyond, 429 (0: no limit)
//! card_request_burst = 60            # requests one card may make at once before that rate
//!
//! [proxy]                            # behind nginx/Apache that terminate TLS
//! trusted = []                       # proxy addresses; empty: no proxy mode
//! certificate_header = "x-ssl-client-cert"   # URL-escaped PEM, as nginx's $ssl_client_escaped_cert
//!
//! [uzi]
//! environment = "production"         # or "test" (TEST cards of the UZI-register)
//! anchors = "uzi/roots.pem"          # UZI root certificates
//! intermediates = "uzi/cas.pem"      # UZI domain and issuing CAs
//! crls = []                          # revocation lists, e.g. ["uzi/crl/Z.crl"]; re-read
//! crl_refresh_minutes = 60           #   every crl_refresh_minutes
//! crl_downloads = []                 # fetched every crl_refresh_minutes, the last good one kept
//!                                    #   in its file: [{ url = "http://…/Z.crl", file = "uzi/crl/Z.crl" }]
//! crl_fetch_timeout_seconds = 30     # one download, connecting included
//! crl_warn_hours = 24                # warn when a CRL in use is this close to its nextUpdate
//! accept_stale_crls = false          # fail closed on an outdated CRL
//! eligible_roles = ["01.015", "01.004", "01.047", "01.056"]
//! card_types = ["Z", "N"]            # N: hospital staff (administrators)
//!
//! [portal]
//! hospital = "Ziekenhuis"
//! instance = "portal-1"
//! contact_name = "Bureau Huisartsencontacten"
//! contact_email = "huisartsencontacten@ziekenhuis.example"
//! contact_phone = "010 - 000 00 00"
//! letters_cutoff = "2017-09-23"      # letters before this date are not shown
//! discharged_days = 14
//! emergency_hours = 24               # the policy enforces these two, and the form shows
//! emergency_min_reason = 20          #   what the policy enforces
//! idle_timeout_minutes = 15
//! absolute_timeout_hours = 12
//! dormant_days = 180                 # accounts without a login for this long are locked
//! terms_version = 1
//!
//! [epd]
//! kind = "synthetic"                 # or "fhir", or "demo" (zvp-mock-epd started on loopback);
//!                                    #   synthetic and demo need the demo feature
//! base_url = "http://127.0.0.1:8080/fhir"
//! timeout_seconds = 10               # one EPD call, all pages and retries
//! connect_timeout_seconds = 2
//! max_connections = 32               # requests in flight at once (HTTP/2 where offered)
//! max_answer_mib = 32                # what one EPD call reads, all its pages and requests
//! max_answers_in_flight_mib = 128    # what all EPD calls in flight read together
//! # ca_file = "epd/ca.pem"           # https: trust anchors (PEM); absent: the system's roots
//! # client_certificate = "epd/portal.pem"    # mutual TLS: the portal's chain (PEM)
//! # client_key = "epd/portal.key.pem"
//! auth = "none"                      # or "bearer", "client-secret", "smart"
//! # token_file = "epd/token"         # bearer: read again when the file changes
//! # token_url = "https://epd/oauth2/token"   # absent: from .well-known/smart-configuration
//! # client_id = "zvp-portal"         # client-secret, smart
//! # client_secret_file = "epd/client-secret" # client-secret
//! # signing_key = "epd/smart.key.pem"        # smart: PKCS#8, RSA (RS384) or P-384 (ES384)
//! # key_id = "zvp-portal-2026"       # smart: the kid in the client's registered JWKS
//! # scope = "system/*.rs"            # client-secret, smart; absent: the server's default
//! seed = 2026                        # synthetic and demo only
//! patients = 5000                    # synthetic and demo only
//!
//! [directory]
//! kind = "sqlite"                    # or "memory"
//! path = "directory.sqlite"
//!
//! [audit]
//! dir = "audit"                      # the file log ([stores] kind = "embedded")
//! # signing_key = "audit.key"        # the portal then signs checkpoints itself
//! # key_name = "zvp.hospital.example"        # the name given to `zvp-portal audit keygen --name`
//! # origin = "zvp.hospital.example"  # the checkpoints' origin line (default: key_name)
//! checkpoint_minutes = 60            # a checkpoint when records were added, and at shutdown
//!
//! [stores]                           # one switch for several instances
//! kind = "embedded"                  # or "postgres": directory, audit log and sessions there
//! postgres = "host=127.0.0.1 port=5432 user=postgres dbname=zvp"
//! schema = "zvp"
//!
//! [notify]                           # Meldingen: admissions, discharges, letters
//! enabled = false
//! interval_seconds = 300             # between polls of the EPD (one instance polls)
//! lookback_hours = 72                # the first poll; later ones ask what changed since the last
//! overlap_minutes = 10               # each poll asks from this long before the last one
//! keep_days = 90                     # events are deleted this long after they happened
//! # smtp_host = "smtp.ziekenhuis.example"    # mail the GPs who opt in (none: no mail)
//! smtp_port = 587
//! smtp_security = "starttls"         # or "tls"; "plain" only for a sink on loopback
//! # smtp_credentials = "smtp.credentials"    # user name, then password, one per line
//! # smtp_ca_file = "smtp-ca.pem"     # trust anchors besides the system's
//! # mail_folder = "mail"             # instead of SMTP: .eml files here (a mail sink)
//! sender = "Zorgverlenersportaal <noreply@ziekenhuis.example>"
//! digest_minutes = 60                # at most one mail per GP per period
//! max_queued = 1000                  # mails waiting; beyond, digests wait
//! retry_seconds = 60                 # first retry of a failed mail; then doubling
//! retry_max_minutes = 60
//! ```
//!
//! `[dezi]`, Dezi login beside the UZI-pas, is absent by default; its keys are documented at
//! [`DeziConfig`].

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use dezi::{DeziConfig, DeziConfigError};
use zvp_core::{CardType, RoleCode};

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The listeners and the portal's TLS certificate.
    pub server: Server,
    /// Reverse-proxy mode.
    pub proxy: Proxy,
    /// UZI-pas validation.
    pub uzi: Uzi,
    /// What the portal shows and for how long.
    pub portal: PortalSettings,
    /// The EPD.
    pub epd: EpdConfig,
    /// Accounts, delegations and emergency grants.
    pub directory: DirectoryConfig,
    /// The audit log.
    pub audit: AuditConfig,
    /// One switch for the shared state: embedded (`[directory]`, `[audit]`, sessions in the
    /// instance) or PostgreSQL (directory, audit log and sessions, shared by instances).
    pub stores: StoresConfig,
    /// Dezi login; absent: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dezi: Option<DeziConfig>,
    /// The notifier (*Meldingen*).
    pub notify: NotifyConfig,
}

/// Where the state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoresKind {
    /// `[directory]` and `[audit]` as configured; sessions in the instance.
    Embedded,
    /// Directory, audit log and sessions in PostgreSQL, for several instances.
    Postgres,
}

/// `[stores]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoresConfig {
    /// Embedded or PostgreSQL.
    pub kind: StoresKind,
    /// The PostgreSQL connection string (libpq form), with libpq's `sslmode` and
    /// `sslrootcert`: across a network, `sslmode=verify-full sslrootcert=<the CA's PEM file>`
    /// (see `zvp_pg`'s crate documentation).
    pub postgres: String,
    /// The PostgreSQL schema of the directory, the audit log and the sessions.
    pub schema: String,
}

impl Default for StoresConfig {
    fn default() -> Self {
        Self {
            kind: StoresKind::Embedded,
            postgres: "host=127.0.0.1 port=5432 user=postgres dbname=zvp".to_owned(),
            schema: "zvp".to_owned(),
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    /// The HTTPS address.
    pub listen: SocketAddr,
    /// The address of `/healthz` and `/metrics`.
    pub admin_listen: SocketAddr,
    /// The portal's certificate chain (PEM).
    pub certificate: PathBuf,
    /// The portal's private key (PEM, PKCS#8).
    pub private_key: PathBuf,
    /// Only TLS 1.3.
    pub tls13_only: bool,
    /// TLS session resumption on the card listener. Off (the default), every connection
    /// proves possession of the card's key; on, a resumed session is served with the
    /// certificate of the session it resumes, without the card.
    pub tls_resumption: bool,
    /// The URL users reach the portal at.
    pub public_url: String,
    /// The most connections served at once (both listeners each); beyond, new connections
    /// wait.
    pub max_connections: usize,
    /// The most connections open at once from one source address (IPv6: one /64), trusted
    /// proxies excepted; beyond, a new one is closed at once.
    pub max_connections_per_address: usize,
    /// The most TLS handshakes in progress at once from one source address; beyond, a new
    /// connection is closed at once.
    pub max_handshakes_per_address: usize,
    /// From the accepted connection to the client's TLS ClientHello.
    pub client_hello_timeout_seconds: u32,
    /// From the accepted connection to the end of the TLS handshake, the PIN typed during it.
    pub handshake_timeout_seconds: u32,
    /// HTTP/1: from when a connection is ready for a request (after the handshake or the
    /// previous response) to the end of the request's header; also how long an idle
    /// keep-alive connection stays open.
    pub header_read_timeout_seconds: u32,
    /// No byte read or written and no request in flight for this long: the connection is
    /// closed.
    pub idle_timeout_seconds: u32,
    /// One card's steady rate of requests; beyond it (after the burst) a request is answered
    /// 429 and at most one such answer per card per minute is recorded. 0 turns it off.
    pub card_requests_per_minute: u32,
    /// How many requests one card may make at once before the steady rate applies.
    pub card_request_burst: u32,
}

impl Server {
    /// The per-card limit these keys describe, or none (either key 0).
    pub fn card_rate(&self) -> Option<zvp_web::CardRate> {
        Some(zvp_web::CardRate {
            per_minute: std::num::NonZeroU32::new(self.card_requests_per_minute)?,
            burst: std::num::NonZeroU32::new(self.card_request_burst)?,
        })
    }
}

impl Default for Server {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            certificate: PathBuf::from("pki/server.pem"),
            private_key: PathBuf::from("pki/server.key.pem"),
            tls13_only: false,
            tls_resumption: false,
            public_url: "https://localhost:8443".to_owned(),
            max_connections: 4096,
            max_connections_per_address: 256,
            max_handshakes_per_address: 64,
            client_hello_timeout_seconds: 5,
            handshake_timeout_seconds: 60,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 10,
            card_requests_per_minute: zvp_web::CardRate::DEFAULT.per_minute.get(),
            card_request_burst: zvp_web::CardRate::DEFAULT.burst.get(),
        }
    }
}

/// `[proxy]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Proxy {
    /// Addresses of trusted reverse proxies; empty turns proxy mode off.
    pub trusted: Vec<IpAddr>,
    /// The header carrying the URL-escaped PEM client certificate.
    pub certificate_header: String,
}

impl Default for Proxy {
    fn default() -> Self {
        Self {
            trusted: Vec::new(),
            certificate_header: "x-ssl-client-cert".to_owned(),
        }
    }
}

/// Which UZI-register environment the portal accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UziEnvironment {
    /// Real cards.
    Production,
    /// TEST cards (acceptance environments and demos).
    Test,
}

/// `[uzi]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Uzi {
    /// Production or TEST.
    pub environment: UziEnvironment,
    /// Root certificates (PEM).
    pub anchors: PathBuf,
    /// Domain and issuing CA certificates (PEM).
    pub intermediates: PathBuf,
    /// CRL files (DER or PEM).
    pub crls: Vec<PathBuf>,
    /// How often the CRLs are read (and downloaded) again.
    pub crl_refresh_minutes: u32,
    /// CRLs downloaded at every refresh; each is kept in its file, which is read as `crls` are.
    pub crl_downloads: Vec<CrlDownload>,
    /// The longest one download may take, connecting included.
    pub crl_fetch_timeout_seconds: u32,
    /// Warn (log and `/metrics`) when a CRL in use is this close to its nextUpdate.
    pub crl_warn_hours: u32,
    /// Accept CRLs past their nextUpdate (fail open on revocation; not recommended).
    pub accept_stale_crls: bool,
    /// Roles that may use the clinical pages.
    pub eligible_roles: Vec<RoleCode>,
    /// Card types that may log in (Z: care providers; N: hospital staff administrators).
    pub card_types: Vec<CardType>,
}

impl Default for Uzi {
    fn default() -> Self {
        Self {
            environment: UziEnvironment::Production,
            anchors: PathBuf::from("uzi/roots.pem"),
            intermediates: PathBuf::from("uzi/cas.pem"),
            crls: Vec::new(),
            crl_refresh_minutes: 60,
            crl_downloads: Vec::new(),
            crl_fetch_timeout_seconds: 30,
            crl_warn_hours: 24,
            accept_stale_crls: false,
            eligible_roles: RoleCode::PRIMARY_CARE_PHYSICIANS.to_vec(),
            card_types: vec![CardType::CareProvider, CardType::NamedEmployee],
        }
    }
}

/// One CRL the portal downloads itself: the UZI-register's address and the file the last good
/// list is kept in (a list that fails its checks never replaces it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CrlDownload {
    /// An `http://` URL (a CRL is signed; the UZI-register publishes over plain HTTP).
    pub url: String,
    /// Where the last good list is kept (DER).
    pub file: PathBuf,
}

pub use zvp_web::PortalSettings;

/// Which EPD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EpdKind {
    /// The synthetic hospital, in process.
    Synthetic,
    /// A FHIR R4 server.
    Fhir,
    /// The synthetic hospital over FHIR from zvp-mock-epd, which the portal starts itself on a
    /// free loopback port, as `zvp-portal demo` does (`seed` and `patients` apply): for
    /// trying the portal, never for patients.
    Demo,
}

/// How the portal authenticates to a FHIR EPD.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EpdAuthKind {
    /// No authentication (a closed network, or mutual TLS alone).
    None,
    /// A bearer token from `token_file`.
    Bearer,
    /// OAuth 2.0 client credentials with `client_id` and `client_secret_file`.
    ClientSecret,
    /// SMART Backend Services: client credentials with a JWT signed by `signing_key`.
    Smart,
}

/// `[epd]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct EpdConfig {
    /// Synthetic or FHIR.
    pub kind: EpdKind,
    /// The FHIR base URL.
    pub base_url: String,
    /// The longest one EPD call may take.
    pub timeout_seconds: u32,
    /// The longest opening a connection may take.
    pub connect_timeout_seconds: u32,
    /// The most EPD requests in flight at once.
    pub max_connections: usize,
    /// The most one EPD call reads, all its pages and requests together, in MiB (0 counts as
    /// 1); beyond, the page says the EPD's answer could not be read.
    pub max_answer_mib: u32,
    /// The most all EPD calls in flight read together, in MiB (0 counts as 1); beyond, the
    /// call that reads more fails as above.
    pub max_answers_in_flight_mib: u32,
    /// The trust anchors for an `https` EPD (PEM); `None`: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// The portal's certificate chain for mutual TLS with the EPD (PEM).
    pub client_certificate: Option<PathBuf>,
    /// The private key of `client_certificate` (PEM).
    pub client_key: Option<PathBuf>,
    /// How the portal authenticates to the EPD.
    pub auth: EpdAuthKind,
    /// `bearer`: the file holding the token.
    pub token_file: Option<PathBuf>,
    /// `client-secret`, `smart`: the token endpoint; `None`: from the server's
    /// `.well-known/smart-configuration`.
    pub token_url: Option<String>,
    /// `client-secret`, `smart`: the portal's client id.
    pub client_id: Option<String>,
    /// `client-secret`: the file holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// `smart`: the PKCS#8 PEM key that signs the client assertions.
    pub signing_key: Option<PathBuf>,
    /// `smart`: the key's `kid`.
    pub key_id: Option<String>,
    /// `client-secret`, `smart`: the scopes asked for, space-separated.
    pub scope: Option<String>,
    /// The synthetic hospital's seed.
    pub seed: u64,
    /// The synthetic hospital's size.
    pub patients: usize,
}

impl Default for EpdConfig {
    fn default() -> Self {
        Self {
            kind: EpdKind::Synthetic,
            base_url: "http://127.0.0.1:8080/fhir".to_owned(),
            timeout_seconds: 10,
            connect_timeout_seconds: 2,
            max_connections: 32,
            max_answer_mib: 32,
            max_answers_in_flight_mib: 128,
            ca_file: None,
            client_certificate: None,
            client_key: None,
            auth: EpdAuthKind::None,
            token_file: None,
            token_url: None,
            client_id: None,
            client_secret_file: None,
            signing_key: None,
            key_id: None,
            scope: None,
            seed: 2026,
            patients: 5000,
        }
    }
}

/// Which directory store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryKind {
    /// SQLite file (durable).
    Sqlite,
    /// In memory (tests; lost at exit).
    Memory,
}

/// `[directory]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectoryConfig {
    /// SQLite or memory.
    pub kind: DirectoryKind,
    /// The SQLite file.
    pub path: PathBuf,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        Self {
            kind: DirectoryKind::Sqlite,
            path: PathBuf::from("directory.sqlite"),
        }
    }
}

/// `[audit]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// The file log's directory (`[stores] kind = "embedded"`; with `"postgres"` the log is in
    /// PostgreSQL).
    pub dir: PathBuf,
    /// The checkpoint signing key (PKCS#8, from `zvp-portal audit keygen`). When set, the
    /// running portal signs a checkpoint every `checkpoint_minutes` in which records were
    /// added, and one when it stops.
    pub signing_key: Option<PathBuf>,
    /// The signing key's name, as given to `keygen --name`; required with `signing_key`.
    pub key_name: Option<String>,
    /// The checkpoints' origin line; `key_name` when not given.
    pub origin: Option<String>,
    /// Minutes between checkpoints (at least 1).
    pub checkpoint_minutes: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("audit"),
            signing_key: None,
            key_name: None,
            origin: None,
            checkpoint_minutes: 60,
        }
    }
}

mod dezi;
mod load;
mod notify;
#[cfg(test)]
mod tests;

pub use load::{ConfigError, SECTIONS};
pub use notify::NotifyConfig;
