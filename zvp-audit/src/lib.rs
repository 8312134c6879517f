//! The NEN 7513 audit log.
//!
//! What exists so far: [`merkle`], the RFC 6962 Merkle tree with inclusion and consistency
//! proofs and their verifiers, checked against the published reference vectors.
//!
//! Still to come, as the design (`../shared/DESIGN.md`) and `specs/audit.md` lay out: the audit
//! event with every NEN 7513 field, the append-only log (hash chain over salted records, this
//! tree, signed checkpoints), its file and PostgreSQL backends, `verify`, and the reports an
//! auditor and a patient ask for. Events will name the part of the record that was read with
//! `zvp_core::RecordSection`.

pub mod merkle;
