//! The NEN 7513 audit log.
//!
//! What exists so far: [`event`], the audit event with every NEN 7513 field of
//! `docs/audit.md`; [`merkle`], the RFC 6962 Merkle tree with inclusion and consistency
//! proofs and their verifiers, checked against the published reference vectors;
//! [`checkpoint`], Ed25519-signed checkpoints in the C2SP tlog-checkpoint and signed-note
//! formats, checked against the Go sumdb/note example; [`log`], the embedded file log — group
//! commit, hash chain over salted records, torn-tail recovery, a single-writer lock — and
//! [`log::verify`], which names the first bad record; `log::pg` (feature `postgres`), the same
//! log in PostgreSQL for several portal instances; [`render`], the event as FHIR R4
//! AuditEvent and CSV; [`report`], the patient and practitioner views, the emergency review
//! queue and anomaly rules.
//!
//! Both backends implement [`log::AuditLog`], the trait the portal uses; an event names the
//! part of the record that was read with `zvp_core::RecordSection`. The PostgreSQL backend
//! commits one batch at a time, each chained on the last (pipelining two was measured and not
//! kept, `benches/README.md`), and answers reports by reading its events.

pub mod checkpoint;
pub mod event;
pub mod log;
pub mod merkle;
pub mod render;
pub mod report;
