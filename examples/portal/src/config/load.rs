//! Reading the configuration: the file, the `ZVP_<SECTION>_<KEY>` overrides, and paths made
//! relative to the file.

use std::path::{Path, PathBuf};

use super::Config;

/// The sections of the file, each settable from the environment as `ZVP_<SECTION>_<KEY>`.
pub const SECTIONS: [&str; 9] = [
    "server",
    "proxy",
    "uzi",
    "portal",
    "epd",
    "directory",
    "audit",
    "stores",
    "notify",
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
        for download in &mut self.uzi.crl_downloads {
            anchor(&mut download.file);
        }
        anchor(&mut self.directory.path);
        if let Some(dezi) = &mut self.dezi {
            dezi.anchor_paths(base);
        }
        for path in [
            &mut self.notify.smtp_credentials,
            &mut self.notify.smtp_ca_file,
            &mut self.notify.mail_folder,
        ]
        .into_iter()
        .flatten()
        {
            anchor(path);
        }
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
