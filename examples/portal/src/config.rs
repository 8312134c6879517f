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
//! public_url = "https://localhost:8443"
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
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
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
    /// The PostgreSQL connection string (libpq form).
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
    /// The URL users reach the portal at.
    pub public_url: String,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            certificate: PathBuf::from("pki/server.pem"),
            private_key: PathBuf::from("pki/server.key.pem"),
            tls13_only: false,
            public_url: "https://localhost:8443".to_owned(),
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
    /// How often the CRLs are read again.
    pub crl_refresh_minutes: u32,
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
            accept_stale_crls: false,
            eligible_roles: RoleCode::PRIMARY_CARE_PHYSICIANS.to_vec(),
            card_types: vec![CardType::CareProvider, CardType::NamedEmployee],
        }
    }
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

/// The sections of the file, each settable from the environment as `ZVP_<SECTION>_<KEY>`.
pub const SECTIONS: [&str; 8] = [
    "server",
    "proxy",
    "uzi",
    "portal",
    "epd",
    "directory",
    "audit",
    "stores",
];

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("configuration {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or has a key or value the portal does not know or a value
    /// of the wrong type.
    #[error("configuration {path}: {source}")]
    Toml {
        /// The file.
        path: String,
        /// The TOML parser's error, naming the line or key.
        source: toml::de::Error,
    },
    /// An environment override cannot be applied (its section is not a table).
    #[error("configuration {path}: {detail}")]
    Invalid {
        /// The file (or the environment variable).
        path: String,
        /// What is wrong.
        detail: String,
    },
}

impl Config {
    /// Reads `path`, applies the `ZVP_*` environment overrides from `env`, and makes relative
    /// paths relative to the file's directory.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the file or variable and what is wrong.
    pub fn load(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &path.display().to_string(), env, base)
    }

    /// Parses configuration text; `origin` names it in errors, `base` anchors relative paths.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Toml`], or [`ConfigError::Invalid`] for an override that cannot apply.
    pub fn parse(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
        base: &Path,
    ) -> Result<Self, ConfigError> {
        let invalid = |path: &str, detail: String| ConfigError::Invalid {
            path: path.to_owned(),
            detail,
        };
        let toml = |source| ConfigError::Toml {
            path: origin.to_owned(),
            source,
        };
        let mut table: toml::Table = toml::from_str(text).map_err(toml)?;
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("ZVP_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once('_') else {
                continue;
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            if !SECTIONS.contains(&section.as_str()) {
                continue;
            }
            let value = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(value));
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            let toml::Value::Table(section_table) = entry else {
                return Err(invalid(&name, format!("[{section}] is not a table")));
            };
            section_table.insert(key, value);
        }
        let mut config: Self = toml::Value::Table(table).try_into().map_err(toml)?;
        config.anchor_paths(base);
        Ok(config)
    }

    fn anchor_paths(&mut self, base: &Path) {
        let anchor = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        anchor(&mut self.server.certificate);
        anchor(&mut self.server.private_key);
        anchor(&mut self.uzi.anchors);
        anchor(&mut self.uzi.intermediates);
        self.uzi.crls.iter_mut().for_each(anchor);
        anchor(&mut self.directory.path);
        anchor(&mut self.audit.dir);
        if let Some(key) = &mut self.audit.signing_key {
            anchor(key);
        }
        let epd = &mut self.epd;
        for path in [
            &mut epd.ca_file,
            &mut epd.client_certificate,
            &mut epd.client_key,
            &mut epd.token_file,
            &mut epd.client_secret_file,
            &mut epd.signing_key,
        ]
        .into_iter()
        .flatten()
        {
            anchor(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_defaults() {
        let config = Config::parse("", "zvp.toml", [], Path::new("/etc/zvp")).unwrap();
        assert_eq!(
            config.server.listen,
            SocketAddr::from(([127, 0, 0, 1], 8443))
        );
        assert_eq!(config.portal.discharged_days, 14);
        assert_eq!(config.audit.dir, PathBuf::from("/etc/zvp/audit"));
        assert_eq!(config.uzi.environment, UziEnvironment::Production);
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let env = [
            ("ZVP_SERVER_LISTEN".to_owned(), "0.0.0.0:443".to_owned()),
            ("ZVP_PORTAL_DISCHARGED_DAYS".to_owned(), "30".to_owned()),
            ("ZVP_EPD_KIND".to_owned(), "fhir".to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
        ];
        let config = Config::parse(
            "[portal]\ndischarged_days = 7\n",
            "zvp.toml",
            env,
            Path::new("."),
        )
        .unwrap();
        assert_eq!(config.server.listen, SocketAddr::from(([0, 0, 0, 0], 443)));
        assert_eq!(config.portal.discharged_days, 30);
        assert_eq!(config.epd.kind, EpdKind::Fhir);
    }

    /// The TOML block of the module docs.
    fn documented() -> String {
        let source = include_str!("config.rs");
        let start = source.find("//! ```toml\n").unwrap() + "//! ```toml\n".len();
        let end = start + source[start..].find("//! ```\n").unwrap();
        source[start..end]
            .lines()
            .map(|l| {
                l.strip_prefix("//! ")
                    .or_else(|| l.strip_prefix("//!"))
                    .unwrap()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_documented_example_is_the_defaults_and_its_commented_keys_exist() {
        let text = documented();
        let parsed = Config::parse(&text, "the docs", [], Path::new("")).unwrap();
        assert_eq!(parsed, Config::default());
        // The keys shown in comments are keys (the file refuses unknown ones).
        let uncommented: Vec<&str> = text
            .lines()
            .map(|l| {
                l.strip_prefix("# ")
                    .filter(|l| l.contains(" = "))
                    .unwrap_or(l)
            })
            .collect();
        let with_optional =
            Config::parse(&uncommented.join("\n"), "the docs", [], Path::new("")).unwrap();
        assert_eq!(with_optional.epd.key_id.as_deref(), Some("zvp-portal-2026"));
        assert_eq!(
            with_optional.audit.origin.as_deref(),
            Some("zvp.hospital.example")
        );
    }

    #[test]
    fn every_section_is_settable_from_the_environment() {
        let sections: Vec<String> = match toml::Value::try_from(Config::default()).unwrap() {
            toml::Value::Table(t) => t.keys().cloned().collect(),
            other => panic!("{other:?}"),
        };
        let mut known: Vec<String> = SECTIONS.iter().map(|s| (*s).to_owned()).collect();
        let mut sections = sections;
        sections.sort();
        known.sort();
        assert_eq!(sections, known);
        let env = [
            ("ZVP_STORES_KIND".to_owned(), "postgres".to_owned()),
            ("ZVP_STORES_SCHEMA".to_owned(), "zvp_acceptatie".to_owned()),
            (
                "ZVP_UZI_ELIGIBLE_ROLES".to_owned(),
                "[\"01.015\"]".to_owned(),
            ),
        ];
        let config = Config::parse("", "zvp.toml", env, Path::new(".")).unwrap();
        assert_eq!(config.stores.kind, StoresKind::Postgres);
        assert_eq!(config.stores.schema, "zvp_acceptatie");
        assert_eq!(config.uzi.eligible_roles, [RoleCode::GENERAL_PRACTITIONER]);
        // A key a section does not have is refused, from the environment too.
        let err = Config::parse(
            "",
            "zvp.toml",
            [("ZVP_STORES_HOST".to_owned(), "db".to_owned())],
            Path::new("."),
        )
        .unwrap_err();
        assert!(err.to_string().contains("host"), "{err}");
    }

    #[test]
    fn role_codes_and_card_types_are_parsed_when_read() {
        for (text, wrong) in [
            (
                "[uzi]\neligible_roles = [\"01.0155\"]\n",
                "uzi.eligible_roles",
            ),
            ("[uzi]\ncard_types = [\"Q\"]\n", "uzi.card_types"),
        ] {
            let err = Config::parse(text, "zvp.toml", [], Path::new(".")).unwrap_err();
            assert!(err.to_string().contains(wrong), "{err}");
        }
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = Config::parse(
            "[portal]\ndischarge_days = 7\n",
            "zvp.toml",
            [],
            Path::new("."),
        )
        .unwrap_err();
        assert!(err.to_string().contains("discharge_days"), "{err}");
        let err = Config::parse(
            "",
            "zvp.toml",
            [("ZVP_EPD_KIND".to_owned(), "hix".to_owned())],
            Path::new("."),
        )
        .unwrap_err();
        assert!(err.to_string().contains("hix"), "{err}");
    }
}
