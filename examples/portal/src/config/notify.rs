//! `[notify]`: the notifier that polls the EPD for admissions, discharges and letters of the
//! account holders' patients, shown on *Meldingen*.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[notify]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Whether the portal polls the EPD and shows *Meldingen*. Default off.
    pub enabled: bool,
    /// Seconds between polls (at least 1). One instance polls at a time; its lease lasts
    /// three intervals, after which another instance takes over from one that died.
    pub interval_seconds: u32,
    /// How far back the first poll looks, in hours (at least 1). Every later poll asks the
    /// EPD what it recorded or changed since the last successful one (FHIR `_lastUpdated`),
    /// so what it enters late is found when it is entered.
    pub lookback_hours: u32,
    /// How far each poll reaches back over the last one, in minutes, for the EPD's clock
    /// being behind the portal's; what is found twice is recorded once.
    pub overlap_minutes: u32,
    /// How many days events are kept after they happened (at least 1); older ones are
    /// deleted by the poller, and an event entered later than this is not told.
    pub keep_days: u32,
    /// The SMTP server's host name; without it (and without `mail_folder`) no mail is sent.
    pub smtp_host: Option<String>,
    /// The SMTP server's port (587 for STARTTLS, 465 for TLS).
    pub smtp_port: u16,
    /// `starttls` (required), `tls`, or `plain` (refused unless the host is on loopback).
    pub smtp_security: String,
    /// A file with the SMTP user name on its first line and the password on its second.
    pub smtp_credentials: Option<PathBuf>,
    /// Trust anchors (PEM) for the SMTP server besides the system's.
    pub smtp_ca_file: Option<PathBuf>,
    /// Instead of SMTP: write each mail as an `.eml` file into this folder (a mail sink).
    pub mail_folder: Option<PathBuf>,
    /// The sender, e.g. `Zorgverlenersportaal <noreply@ziekenhuis.nl>`.
    pub sender: String,
    /// At most one mail per practitioner per this many minutes (at least 1).
    pub digest_minutes: u32,
    /// The most mails waiting to be sent.
    pub max_queued: usize,
    /// Seconds before the first retry of a failed mail; each next one doubles.
    pub retry_seconds: u32,
    /// The longest wait between retries, in minutes.
    pub retry_max_minutes: u32,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            interval_seconds: 300,
            lookback_hours: 72,
            overlap_minutes: 10,
            keep_days: 90,
            smtp_host: None,
            smtp_port: 587,
            smtp_security: "starttls".to_owned(),
            smtp_credentials: None,
            smtp_ca_file: None,
            mail_folder: None,
            sender: "Zorgverlenersportaal <noreply@ziekenhuis.example>".to_owned(),
            digest_minutes: 60,
            max_queued: 1000,
            retry_seconds: 60,
            retry_max_minutes: 60,
        }
    }
}

impl NotifyConfig {
    /// The time between polls.
    pub fn interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.interval_seconds.max(1)))
    }

    /// The poller's window.
    pub fn window(&self) -> zvp_notify::find::Window {
        zvp_notify::find::Window {
            lookback: chrono::Duration::hours(i64::from(self.lookback_hours.max(1))),
            overlap: chrono::Duration::minutes(i64::from(self.overlap_minutes)),
            keep: chrono::Duration::days(i64::from(self.keep_days.max(1))),
        }
    }

    /// How long a poller's lease lasts: three intervals.
    pub fn lease(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::from(self.interval_seconds.max(1)) * 3)
    }
}
