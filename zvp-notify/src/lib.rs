//! Notifications: a GP hears of an admission, a discharge or a new letter of their patients
//! without opening the portal.
//!
//! - [`event`]: what an event is, and its key (the same EPD fact always gives the same key);
//! - [`find`]: the pure part of a poll: the window, whose patients, the events in the EPD's
//!   answers (time is a parameter);
//! - [`poll::Poller`]: polls the EPD through the [`zvp_epd::Epd`] trait (over FHIR, the date
//!   searches of `zvp_epd::client::FhirEpd`, bounded and paged) and records, one instance at
//!   a time through a lease;
//! - [`store`]: where events, the lease and what each GP has read are kept, in memory or in
//!   PostgreSQL (feature `postgres`).
//!
//! The portal keeps no medical data at rest: an event holds its kind, the EPD's id of the
//! patient, the registered GP's AGB code, when it happened and its key. No name, BSN, date of
//! birth, ward, specialism or letter title. Showing an event is a disclosure, decided and
//! audited by the portal like every page.

pub mod event;
pub mod find;
pub mod mail;
pub mod poll;
pub mod store;

pub use event::{Event, EventKey, EventKind, Recorded, Seen};
pub use poll::{PollError, PollOutcome, PollSettings, Poller};
pub use store::{Coverage, MemoryNotifyStore, NotifyStore, StoreError};
