//! `[notify]`: the notifier that polls the EPD for admissions, discharges and letters of the
//! account holders' patients, shown on *Meldingen*.

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
    /// How far back every poll looks, in hours (at least 1): a letter written this long after
    /// a discharge is still found.
    pub lookback_hours: u32,
    /// How far each poll reaches back over the last one, in minutes, for what the EPD
    /// records late.
    pub overlap_minutes: u32,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            interval_seconds: 300,
            lookback_hours: 72,
            overlap_minutes: 60,
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
        }
    }

    /// How long a poller's lease lasts: three intervals.
    pub fn lease(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::from(self.interval_seconds.max(1)) * 3)
    }
}
