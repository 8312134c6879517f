//! What the generated-card tests share: their time, and one test PKI made at that time.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed expectation should panic"
)]

use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use zvp_auth::testpki::{KeyAlgorithm, TestPki};
use zvp_auth::uzi::Environment;

/// The tests' time.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap()
}

/// A TEST hierarchy with P-256 keys, made once at [`now`].
pub(crate) fn pki() -> &'static TestPki {
    static PKI: OnceLock<TestPki> = OnceLock::new();
    PKI.get_or_init(|| {
        TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, now()).unwrap()
    })
}
