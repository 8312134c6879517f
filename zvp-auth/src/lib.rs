//! Who may log in, and who may see which patient.
//!
//! - [`uzi`]: parsing and validating UZI-pas certificates into a
//!   [`VerifiedUziIdentity`](uzi::VerifiedUziIdentity), the only way to obtain one, and the
//!   rustls client-certificate verifier for the portal's handshake;
//! - [`dezi`]: Dezi login, the OpenID Connect relying party's checks from the tokens of a
//!   completed login to a [`VerifiedDeziIdentity`](dezi::VerifiedDeziIdentity);
//! - [`policy`]: the pure authorization engine — eligibility, own patients, practices,
//!   delegations, emergency access — whose [`Decision`](policy::Decision) carries its basis;
//! - [`directory`]: accounts, delegations and emergency grants;
//! - `testpki` (feature `test-pki`): a UZI-like test PKI that mints cards of every kind, for
//!   tests, benches, fuzzing and the demo.
//!
//! This crate does no network IO and never reads the clock: time is a parameter.

pub mod dezi;
pub mod directory;
pub mod policy;
#[cfg(feature = "test-pki")]
pub mod testpki;
pub mod uzi;
