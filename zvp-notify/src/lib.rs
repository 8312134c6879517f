//! Notifications: a GP hears of an admission, a discharge or a new letter of their patients
//! without opening the portal.
//!
//! - [`event`]: what an event is, and its key (the same EPD fact always gives the same key);
//! - [`find`]: the pure part of a poll: from when to ask, whose patients, the events in what
//!   the EPD says changed, how long events are kept (time is a parameter);
//! - [`poll::Poller`]: asks the EPD what changed since its last successful poll through
//!   [`zvp_epd::Epd::changed_since`] (over FHIR, the `_lastUpdated` searches of
//!   `zvp_epd::client::FhirEpd`, bounded and paged), records it and deletes what is older
//!   than kept, one instance at a time through a lease;
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
