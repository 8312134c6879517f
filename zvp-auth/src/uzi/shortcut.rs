//! Issuing CAs whose path to a trust anchor rustls-webpki has verified, so that a later card of
//! the same CA is verified against that CA directly.
//!
//! A card's path is card → issuing CA → domain CA → root, three signatures. The two above the
//! card are the same for every card of an issuing CA, and a signature, once verified, stays
//! verified. So once webpki has verified a whole path through a *configured* issuing CA, that
//! CA serves as a trust anchor for the next card: webpki then verifies the card's signature,
//! validity and revocation against it, one signature instead of three. What the anchor cannot
//! carry is checked here instead, at the card's time: the validity of every CA that was on the
//! verified path. The shortcut is taken only where it changes nothing else:
//!
//! - only paths of configured intermediates are learned (the operator's, a bounded set), never
//!   one through a CA a client brought along;
//! - not where a CA on the path or its anchor carries name constraints, which an anchor made
//!   of the issuing CA would not pass on;
//! - revocation is checked for the card only (`RevocationCheckDepth::EndEntity`), so the CAs'
//!   revocation is not checked on either way;
//! - the key-usage, EKU-nesting and algorithm floors of the CAs were checked when the path
//!   was verified, and do not depend on time.
//!
//! Any failure on the shortcut sends the card the whole way, so a refusal is always the full
//! path's, with its error.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use rustls_pki_types::{CertificateDer, TrustAnchor};
use webpki::VerifiedPath;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::NameConstraints;

use super::certificate::UziCertificate;

/// An issuing CA learned as an anchor.
#[derive(Debug)]
struct Learned {
    /// The issuing CA's certificate (DER), one of the configured intermediates.
    issuer: CertificateDer<'static>,
    /// The same CA as a trust anchor.
    anchor: TrustAnchor<'static>,
    /// The validity of every CA on the verified path: (not before, not after).
    validity: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

/// The issuing CAs learned so far (at most one per configured intermediate). Every builder
/// method of the validator starts them afresh: what was learned under one configuration (with
/// or without revocation, say) is not carried into another.
#[derive(Debug, Default)]
pub(super) struct Shortcuts {
    learned: RwLock<Vec<Learned>>,
    /// The learned CAs' anchors, shared with each validation rather than copied into it.
    anchors: RwLock<Arc<[TrustAnchor<'static>]>>,
}

impl Shortcuts {
    /// The anchors learned so far, for webpki to choose the card's issuer from.
    pub(super) fn anchors(&self) -> Arc<[TrustAnchor<'static>]> {
        self.anchors
            .read()
            .map(|anchors| Arc::clone(&anchors))
            .unwrap_or_else(|_| Arc::from(Vec::new()))
    }

    /// Whether the CAs behind `anchor` (one of [`anchors`](Self::anchors)) are all valid at
    /// `now`.
    pub(super) fn valid_at(&self, anchor: &TrustAnchor<'_>, now: DateTime<Utc>) -> bool {
        let Ok(learned) = self.learned.read() else {
            return false;
        };
        learned
            .iter()
            .find(|l| {
                l.anchor.subject_public_key_info == anchor.subject_public_key_info
                    && l.anchor.subject == anchor.subject
            })
            .is_some_and(|l| {
                l.validity
                    .iter()
                    .all(|&(from, until)| from <= now && now <= until)
            })
    }

    /// Learns the issuing CA of a path webpki verified, where the shortcut may be taken (see
    /// the module documentation).
    pub(super) fn learn(&self, path: &VerifiedPath<'_>, configured: &[CertificateDer<'static>]) {
        if path.anchor().name_constraints.is_some() {
            return;
        }
        let mut cas = path.intermediate_certificates();
        let Some(issuer) = cas.next().map(|c| c.der()) else {
            return;
        };
        let Some(issuer) = configured.iter().find(|c| c.as_ref() == issuer.as_ref()) else {
            return;
        };
        let mut validity = Vec::new();
        for ca in path.intermediate_certificates() {
            let der = ca.der();
            // A path through a CA the client brought along is not learned: without it, the
            // whole path might not be found at all.
            if !configured.iter().any(|c| c.as_ref() == der.as_ref()) {
                return;
            }
            let Some(window) = window_without_name_constraints(der.as_ref()) else {
                return;
            };
            validity.push(window);
        }
        let Ok(anchor) = webpki::anchor_from_trusted_cert(issuer).map(|a| a.to_owned()) else {
            return;
        };
        let Ok(mut learned) = self.learned.write() else {
            return;
        };
        if learned.iter().all(|l| l.issuer != *issuer) {
            learned.push(Learned {
                issuer: issuer.clone(),
                anchor,
                validity,
            });
            if let Ok(mut anchors) = self.anchors.write() {
                *anchors = learned.iter().map(|l| l.anchor.clone()).collect();
            }
        }
    }

    /// How many issuing CAs have been learned.
    pub(super) fn len(&self) -> usize {
        self.learned.read().map(|l| l.len()).unwrap_or(0)
    }
}

/// A CA's validity, or `None` when it carries name constraints (or does not parse).
fn window_without_name_constraints(der: &[u8]) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    let tbs = cert.tbs_certificate();
    if tbs.get_extension::<NameConstraints>().ok()?.is_some() {
        return None;
    }
    let ca = UziCertificate::from_der(der).ok()?;
    Some((ca.not_before, ca.not_after))
}
