//! E-mail: a GP who opts in gets a digest that says only that there is news and where to log
//! in, with the number of events per kind. Never a name, BSN, date of birth, ward, diagnosis
//! or patient id: mail leaves the hospital's control.
//!
//! - [`EmailAddress`] and [`MailPreferences`]: the address (parsed by `lettre`) and the kinds
//!   opted in;
//! - [`transport`]: SMTP with STARTTLS or TLS (`lettre`, rustls with aws-lc-rs), or `.eml`
//!   files in a folder (the demo's mail sink);
//! - [`mailer::Mailer`]: the digests per period, a bounded queue, retry with back-off, and an
//!   audit record of every mail sent.

pub mod mailer;
pub mod transport;

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use zvp_core::UziNumber;

use crate::event::EventKind;

/// An e-mail address, as `lettre` parses it (`user@domain`, no display name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(lettre::Address);

/// Why text is not an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an e-mail address: {0}")]
pub struct AddressError(String);

impl FromStr for EmailAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.len() > 254 {
            return Err(AddressError("longer than 254 characters".to_owned()));
        }
        s.parse::<lettre::Address>()
            .map(Self)
            .map_err(|e| AddressError(e.to_string()))
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_ref())
    }
}

impl EmailAddress {
    /// The address for `lettre`.
    pub fn address(&self) -> &lettre::Address {
        &self.0
    }
}

/// What a GP asked to be mailed about, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailPreferences {
    /// The address.
    pub address: EmailAddress,
    /// The kinds of event mailed (none: no mail).
    pub kinds: BTreeSet<EventKind>,
}

/// How many events of each kind a digest tells of.
pub type Counts = Vec<(EventKind, u32)>;

/// The counts as stored: `admission=3,letter=1`.
pub fn counts_text(counts: &[(EventKind, u32)]) -> String {
    counts
        .iter()
        .map(|(k, n)| format!("{}={n}", k.code()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Counts as stored, read back.
///
/// # Errors
///
/// A description of the part that does not parse.
pub fn parse_counts(text: &str) -> Result<Counts, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|part| {
            let (kind, n) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not kind=count"))?;
            Ok((
                kind.parse::<EventKind>().map_err(|e| e.to_string())?,
                n.parse::<u32>().map_err(|e| e.to_string())?,
            ))
        })
        .collect()
}

/// A digest to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// The recipient's account.
    pub account: UziNumber,
    /// Where to.
    pub address: EmailAddress,
    /// How many events of each kind.
    pub counts: Counts,
}

/// A digest in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutMail {
    /// Its id.
    pub id: u64,
    /// The mail.
    pub mail: NewMail,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// How often sending it failed.
    pub attempts: u32,
    /// When it is (next) sent.
    pub due_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// Where an account's digests stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DigestState {
    /// The last event (sequence number) a digest of this account has considered.
    pub upto: u64,
    /// When the last digest was queued.
    pub last: Option<DateTime<Utc>>,
}

/// What a digest step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Queued {
    /// The mail was queued with this id.
    Mail(u64),
    /// The account's digest moved on without a mail (nothing it opted in to).
    Nothing,
    /// The queue is full: nothing moved, the events wait for a later digest.
    Full,
}

/// The queue as the administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboxState {
    /// Mails waiting to be sent.
    pub pending: u64,
    /// Of those, how many failed at least once.
    pub failing: u64,
    /// When the oldest waiting mail was queued.
    pub oldest: Option<DateTime<Utc>>,
    /// The last error of a waiting mail.
    pub last_error: Option<String>,
    /// Mails sent.
    pub sent: u64,
}

/// The subject of every notification mail.
pub const SUBJECT: &str = "Nieuwe informatie in het Zorgverlenersportaal";

/// The text of a digest: that there is news, how many events of each kind, and where to log
/// in. Nothing about any patient.
pub fn body(counts: &[(EventKind, u32)], portal_url: &str) -> String {
    let mut text =
        String::from("Geachte collega,\n\nEr is nieuwe informatie over een van uw patiënten.\n\n");
    for (kind, n) in counts {
        let what = match (kind, n) {
            (EventKind::Admission, 1) => "opname",
            (EventKind::Admission, _) => "opnames",
            (EventKind::Discharge, 1) => "ontslag",
            (EventKind::Discharge, _) => "ontslagen",
            (EventKind::Letter, 1) => "nieuwe brief",
            (EventKind::Letter, _) => "nieuwe brieven",
        };
        text.push_str(&format!("- {n} {what}\n"));
    }
    text.push_str(&format!(
        "\nLog in met uw UZI-pas op {portal_url} en kijk onder Meldingen.\n\n\
         Deze e-mail bevat bewust geen patiëntgegevens. U kunt de meldingen per e-mail \
         uitzetten op uw accountpagina in het portaal.\n"
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_parsed_and_malformed_ones_refused() {
        assert_eq!(
            "huisarts@praktijk.example"
                .parse::<EmailAddress>()
                .unwrap()
                .to_string(),
            "huisarts@praktijk.example"
        );
        for bad in [
            "",
            "huisarts",
            "huisarts@",
            "@praktijk.example",
            "a b@c.example",
        ] {
            assert!(bad.parse::<EmailAddress>().is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_round_trip() {
        let counts = vec![(EventKind::Admission, 3), (EventKind::Letter, 1)];
        assert_eq!(counts_text(&counts), "admission=3,letter=1");
        assert_eq!(parse_counts("admission=3,letter=1"), Ok(counts));
        assert!(parse_counts("opname=3").is_err());
    }
}
