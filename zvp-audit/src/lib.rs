//! The NEN 7513 audit log.
//!
//! What exists so far: [`event`], the audit event with every NEN 7513 field of
//! `specs/audit.md` §1; [`merkle`], the RFC 6962 Merkle tree with inclusion and consistency
//! proofs and their verifiers, checked against the published reference vectors;
//! [`checkpoint`], Ed25519-signed checkpoints in the C2SP tlog-checkpoint and signed-note
//! formats, checked against the Go sumdb/note example; [`log`], the embedded file log — group
//! commit, hash chain over salted records, torn-tail recovery, a single-writer lock — and
//! [`log::verify`], which names the first bad record.
//!
//! Still to come, as the design (`../shared/DESIGN.md`) and `specs/audit.md` lay out: the FHIR
//! and CSV renderings of the event, the PostgreSQL backend behind a common trait, the reports
//! an auditor and a patient ask for, the command line, and the benchmark. Events will name the part of the record that was read with
//! `zvp_core::RecordSection`.

pub mod checkpoint;
pub mod event;
pub mod log;
pub mod merkle;
pub mod render;
pub mod report;
