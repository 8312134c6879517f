//! Checks of the zvp policy engine ([`zvp_auth::policy`]), kept out of `zvp-auth` so that
//! its heavy test-only dependencies (Cedar) never reach an embedding application:
//!
//! - [`worlds`]: proptest strategies for random worlds (accounts, practices, delegations,
//!   emergency grants, patients) and requests around a fixed `now`, with the period
//!   boundaries hit on purpose;
//! - [`laws`]: what must hold of every permit, restated without the engine's code;
//! - `cedar` (feature `cedar`, on by default): the same rules written as a Cedar policy set over Cedar entities, and the
//!   mapping of Cedar's answer to a zvp decision, so that the two engines can be compared.
//!
//! The tests in `tests/` use both: the policy's properties, and the differential against
//! Cedar.

#[cfg(feature = "cedar")]
pub mod cedar;
pub mod laws;
pub mod worlds;
