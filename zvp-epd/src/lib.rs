//! The hospital's electronic patient record (EPD), as the portal reads it.
//!
//! This crate will own, as the design (`../shared/DESIGN.md`) lays out: the async `Epd` trait
//! that the portal asks for admissions, patient details, care moments, dossier sections and
//! results; a FHIR R4 adapter implementing it over HTTP; and a deterministic synthetic EPD for
//! demos and tests. It works with the record types of `zvp-core`.
//!
//! None of this exists yet: it lands with the EPD issue. The crate is in the workspace now so
//! that the layout, the lints and the test command cover it from the start.
