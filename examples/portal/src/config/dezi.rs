//! `[dezi]`: Dezi login beside the UZI-pas.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zvp_auth::dezi::{DecryptionKey, DeziSettings, Loa};

use crate::dezi::Connection;

/// The `[dezi]` section: Dezi login beside the UZI-pas (`docs/dezi.md`). Absent: no Dezi login.
///
/// ```toml
/// [dezi]
/// issuer = "https://auth.dezi.nl"          # the platform (discovery at /.well-known/...)
/// client_id = "zvp-portal"
/// # application_id = "zvp-portal"         # the envelope's aud; default: client_id
/// redirect_uri = "https://portaal.ziekenhuis.nl/dezi/callback"   # exactly as registered
/// decryption_key = "dezi/userinfo.key.pem" # PKCS#8 RSA, the registered certificate's key
/// certificate = "dezi/userinfo.pem"        # that certificate (kept with the key, for rollover)
/// # ca_file = "dezi/ca.pem"               # the platform's TLS anchors; absent: the system's
/// jku_allow_list = ["https://auth.dezi.nl/jwks/verklaring"]
/// verklaring_issuers = ["https://abonnee.dezi.nl"]
/// loa_floor = "high"                       # or "substantial", "low"
/// accept_signed_userinfo = false           # acceptance only: userinfo as a plain JWS
/// accept_status_uri = false                # acceptance only: `status_uri` for the revocation URL
/// status_check_minutes = 15                # the verklaring's status, again during a session
/// # revocation_list_url = "https://auth.dezi.nl/revocatiecontrole/v1"
/// timeout_seconds = 10
/// clock_skew_seconds = 60
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeziConfig {
    /// The platform's issuer.
    pub issuer: String,
    /// The portal's client_id.
    pub client_id: String,
    /// The envelope's `aud`; default: the client_id.
    #[serde(default)]
    pub application_id: Option<String>,
    /// The exact redirect URI registered with Dezi.
    pub redirect_uri: String,
    /// The userinfo decryption key (PKCS#8 PEM, RSA); absent only with
    /// `accept_signed_userinfo`.
    #[serde(default)]
    pub decryption_key: Option<PathBuf>,
    /// The certificate registered with Dezi (its public half); kept for the operator.
    #[serde(default)]
    pub certificate: Option<PathBuf>,
    /// The platform's TLS trust anchors (PEM); absent: the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The `jku` URLs a verklaring's key may come from.
    #[serde(default)]
    pub jku_allow_list: Vec<String>,
    /// Who may issue verklaringen; default: the issuer.
    #[serde(default)]
    pub verklaring_issuers: Vec<String>,
    /// `low`, `substantial` or `high` (default).
    #[serde(default = "high")]
    pub loa_floor: String,
    /// Acceptance only: userinfo as a plain JWS.
    #[serde(default)]
    pub accept_signed_userinfo: bool,
    /// Acceptance only: the revocation URL named `status_uri`.
    #[serde(default)]
    pub accept_status_uri: bool,
    /// How often a session's verklaring status is checked again.
    #[serde(default = "fifteen")]
    pub status_check_minutes: u64,
    /// The signed revocation list; default `{issuer}/revocatiecontrole/v1`.
    #[serde(default)]
    pub revocation_list_url: Option<String>,
    /// The deadline of one request to the platform.
    #[serde(default = "ten")]
    pub timeout_seconds: u64,
    /// The clock difference tolerated for `exp` and `nbf`, 0 to 300 seconds.
    #[serde(default = "sixty")]
    pub clock_skew_seconds: i64,
}

fn high() -> String {
    "high".to_owned()
}
const fn fifteen() -> u64 {
    15
}
const fn ten() -> u64 {
    10
}
const fn sixty() -> i64 {
    60
}

/// The largest `clock_skew_seconds`: five minutes, the usual bound for token clocks. More
/// would stretch every token's life by as much; a negative skew would refuse valid tokens.
const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// Why `[dezi]` cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeziConfigError {
    /// `loa_floor` is not a level.
    #[error("[dezi] loa_floor {0:?} is not low, substantial or high")]
    Loa(String),
    /// No decryption key while encrypted userinfo is required.
    #[error("[dezi] decryption_key is required unless accept_signed_userinfo = true")]
    NoDecryptionKey,
    /// `clock_skew_seconds` outside 0 to 300.
    #[error("[dezi] clock_skew_seconds = {0} is outside 0 to 300")]
    ClockSkew(i64),
    /// The redirect URI is not an `https` URL of the portal's callback, `/dezi/callback`.
    #[error("[dezi] redirect_uri {0:?} is not https://<the portal's host>/dezi/callback")]
    RedirectUri(String),
    /// No jku on the allow-list: no verklaring could ever be checked.
    #[error("[dezi] jku_allow_list is empty")]
    NoJku,
    /// A file cannot be read.
    #[error("[dezi] {path}: {detail}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        detail: String,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, DeziConfigError> {
    std::fs::read(path).map_err(|e| DeziConfigError::File {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}

impl DeziConfig {
    /// Makes the relative paths relative to `base`.
    pub(super) fn anchor_paths(&mut self, base: &Path) {
        for path in [
            &mut self.decryption_key,
            &mut self.certificate,
            &mut self.ca_file,
        ]
        .into_iter()
        .flatten()
        {
            if path.is_relative() {
                *path = base.join(&*path);
            }
        }
    }

    /// The pure settings for `zvp_auth::dezi`.
    ///
    /// # Errors
    ///
    /// [`DeziConfigError::RedirectUri`], [`DeziConfigError::Loa`], [`DeziConfigError::NoJku`],
    /// [`DeziConfigError::ClockSkew`].
    pub fn settings(&self) -> Result<DeziSettings, DeziConfigError> {
        // The platform sends the browser back to exactly this URI, and the portal answers it
        // at one path.
        let path = self
            .redirect_uri
            .strip_prefix("https://")
            .and_then(|rest| rest.find('/').and_then(|at| rest.get(at..)));
        if path != Some("/dezi/callback") {
            return Err(DeziConfigError::RedirectUri(self.redirect_uri.clone()));
        }
        let mut s = DeziSettings::new(&self.issuer, &self.client_id);
        if let Some(app) = &self.application_id {
            s.application_id.clone_from(app);
        }
        if !self.verklaring_issuers.is_empty() {
            s.verklaring_issuers.clone_from(&self.verklaring_issuers);
        }
        if self.jku_allow_list.is_empty() {
            return Err(DeziConfigError::NoJku);
        }
        s.jku_allow_list.clone_from(&self.jku_allow_list);
        s.loa_floor = Loa::from_setting(&self.loa_floor)
            .ok_or_else(|| DeziConfigError::Loa(self.loa_floor.clone()))?;
        s.accept_signed_userinfo = self.accept_signed_userinfo;
        s.accept_status_uri = self.accept_status_uri;
        if !(0..=MAX_CLOCK_SKEW_SECONDS).contains(&self.clock_skew_seconds) {
            return Err(DeziConfigError::ClockSkew(self.clock_skew_seconds));
        }
        s.clock_skew = chrono::Duration::seconds(self.clock_skew_seconds);
        Ok(s)
    }

    /// What the HTTP side needs: the key and the anchors read from their files.
    ///
    /// # Errors
    ///
    /// [`DeziConfigError::File`], [`DeziConfigError::NoDecryptionKey`].
    pub fn connection(&self) -> Result<Connection, DeziConfigError> {
        let decryption_key = match &self.decryption_key {
            Some(path) => Some(DecryptionKey::from_pkcs8_pem(&read(path)?).map_err(|e| {
                DeziConfigError::File {
                    path: path.display().to_string(),
                    detail: e.to_string(),
                }
            })?),
            None if self.accept_signed_userinfo => None,
            None => return Err(DeziConfigError::NoDecryptionKey),
        };
        Ok(Connection {
            redirect_uri: self.redirect_uri.clone(),
            decryption_key,
            revocation_list_url: self.revocation_list_url.clone(),
            anchors_pem: self.ca_file.as_deref().map(read).transpose()?,
            timeout: Duration::from_secs(self.timeout_seconds),
        })
    }

    /// The interval of the status check during a session.
    pub const fn status_check(&self) -> Duration {
        Duration::from_secs(self.status_check_minutes.saturating_mul(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(section: &str) -> Config {
        Config::parse(
            section,
            "zvp.toml",
            Vec::<(String, String)>::new(),
            Path::new("/etc/zvp"),
        )
        .unwrap()
    }

    #[test]
    fn a_dezi_section_gives_the_settings_and_refuses_what_cannot_work() {
        assert_eq!(parse("").dezi, None);
        let mut dezi = parse(
            r#"[dezi]
issuer = "https://auth.dezi.example"
client_id = "zvp-portal"
redirect_uri = "https://portaal.example/dezi/callback"
decryption_key = "dezi/userinfo.key.pem"
jku_allow_list = ["https://auth.dezi.example/jwks"]
loa_floor = "substantial"
"#,
        )
        .dezi
        .unwrap();
        assert_eq!(
            dezi.decryption_key.as_deref(),
            Some(Path::new("/etc/zvp/dezi/userinfo.key.pem"))
        );
        let settings = dezi.settings().unwrap();
        assert_eq!(settings.loa_floor, Loa::Substantial);
        assert_eq!(settings.application_id, "zvp-portal");
        assert_eq!(settings.verklaring_issuers, ["https://auth.dezi.example"]);
        assert!(!settings.accept_signed_userinfo && !settings.accept_status_uri);
        assert_eq!(dezi.status_check(), Duration::from_secs(15 * 60));

        dezi.clock_skew_seconds = MAX_CLOCK_SKEW_SECONDS;
        assert_eq!(
            dezi.settings().unwrap().clock_skew,
            chrono::Duration::seconds(300)
        );
        for skew in [-1, MAX_CLOCK_SKEW_SECONDS + 1, i64::MAX] {
            dezi.clock_skew_seconds = skew;
            assert!(matches!(
                dezi.settings(),
                Err(DeziConfigError::ClockSkew(s)) if s == skew
            ));
        }
        dezi.clock_skew_seconds = 60;
        for wrong in [
            "http://portaal.example/dezi/callback",
            "https://portaal.example/callback",
            "https://portaal.example/dezi/callback/",
            "https://portaal.example",
        ] {
            dezi.redirect_uri = wrong.to_owned();
            assert!(matches!(
                dezi.settings(),
                Err(DeziConfigError::RedirectUri(u)) if u == wrong
            ));
        }
        dezi.redirect_uri = "https://portaal.example:8443/dezi/callback".to_owned();
        dezi.settings().unwrap();
        dezi.loa_floor = "hoog".to_owned();
        assert!(matches!(dezi.settings(), Err(DeziConfigError::Loa(_))));
        dezi.jku_allow_list.clear();
        assert!(matches!(dezi.settings(), Err(DeziConfigError::NoJku)));
        dezi.decryption_key = None;
        assert!(matches!(
            dezi.connection(),
            Err(DeziConfigError::NoDecryptionKey)
        ));
    }
}
