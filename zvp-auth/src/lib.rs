//! Who may log in, and who may see which patient.
//!
//! This crate will own, as the design (`../shared/DESIGN.md`) lays out:
//!
//! - `uzi`: parsing and validating UZI-pas certificates into a `VerifiedUziIdentity`, the only
//!   way to obtain one;
//! - `policy`: the pure authorization engine (eligibility, own patients, delegations,
//!   emergency access) whose `Decision` carries its legal basis;
//! - `directory`: accounts, practices and delegations as data, and the storage trait for them.
//!
//! None of these exists yet: they land with the UZI issue and the authorization issue. The
//! crate is in the workspace now so that the layout, the lints and the test command cover it
//! from the start. It re-exports nothing and decides nothing.
