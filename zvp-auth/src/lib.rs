//! Who may log in, and who may see which patient.
//!
//! - [`uzi`]: parsing and validating UZI-pas certificates into a
//!   [`VerifiedUziIdentity`](uzi::VerifiedUziIdentity), the only way to obtain one, and the
//!   rustls client-certificate verifier for the portal's handshake;
//! - `testpki` (feature `test-pki`): a UZI-like test PKI that mints cards of every kind, for
//!   tests, benches, fuzzing and the demo.
//!
//! Still to come, as the design (`../shared/DESIGN.md`) lays out: `policy`, the pure
//! authorization engine whose `Decision` carries its legal basis, and `directory`, the
//! accounts, practices and delegations with their storage trait. This crate does no network
//! IO and never reads the clock: time is a parameter.

#[cfg(feature = "test-pki")]
pub mod testpki;
pub mod uzi;
