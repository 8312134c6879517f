//! The NEN 7513 audit log.
//!
//! This crate will own, as the design (`../shared/DESIGN.md`) and `specs/audit.md` lay out:
//! the audit event with every NEN 7513 field, the append-only tamper-evident log (hash chain,
//! RFC 6962 Merkle tree, signed checkpoints), its file and PostgreSQL backends, `verify`, and
//! the reports an auditor and a patient ask for. Events name the part of the record that was
//! read with `zvp_core::RecordSection`.
//!
//! None of this exists yet: it lands with the audit issue. The crate is in the workspace now so
//! that the layout, the lints and the test command cover it from the start.
