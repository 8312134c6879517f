//! The portal's settings: the `[portal]` section of the reference binary's configuration.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// `[portal]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortalSettings {
    /// The hospital's name, shown on every page.
    pub hospital: String,
    /// This instance's name, in the audit log.
    pub instance: String,
    /// Who manages the portal's accounts.
    pub contact_name: String,
    /// Their e-mail address.
    pub contact_email: String,
    /// Their phone number.
    pub contact_phone: String,
    /// Letters dated before this are not shown.
    pub letters_cutoff: NaiveDate,
    /// How far back the discharged list goes.
    pub discharged_days: u32,
    /// How long an emergency grant lasts. The embedder makes the policy from
    /// it (`Policy::with_emergency_duration`); the running portal enforces and shows the policy's.
    pub emergency_hours: u32,
    /// The shortest emergency reason, in characters; into the policy
    /// (`Policy::with_min_reason_chars`) as `emergency_hours`.
    pub emergency_min_reason: usize,
    /// A session ends after this long without a request.
    pub idle_timeout_minutes: u32,
    /// A session ends this long after it started.
    pub absolute_timeout_hours: u32,
    /// Accounts without a login for this long are locked.
    pub dormant_days: u32,
    /// The version of the terms of use; a higher one asks everyone again.
    pub terms_version: u32,
}

impl Default for PortalSettings {
    fn default() -> Self {
        Self {
            hospital: "Ziekenhuis".to_owned(),
            instance: "portal-1".to_owned(),
            contact_name: "Bureau Huisartsencontacten".to_owned(),
            contact_email: "huisartsencontacten@ziekenhuis.example".to_owned(),
            contact_phone: "010 - 000 00 00".to_owned(),
            letters_cutoff: NaiveDate::from_ymd_opt(2017, 9, 23).unwrap_or_default(),
            discharged_days: 14,
            emergency_hours: 24,
            emergency_min_reason: 20,
            idle_timeout_minutes: 15,
            absolute_timeout_hours: 12,
            dormant_days: 180,
            terms_version: 1,
        }
    }
}
