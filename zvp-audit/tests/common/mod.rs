//! What the audit log's integration tests share: one realistic event.

use chrono::{Duration, TimeZone, Utc};
use zvp_audit::event::{
    AccessPoint, ActionCode, AuditEvent, Basis, Checks, EventType, Outcome, Part, PatientRef,
    PurposeOfUse, Source, Subtype, User,
};
use zvp_core::{RecordSection, RoleCode};

/// Event `i`: "user i" (UZI 900000001) reads patient `p<i>`'s details on the basis of own
/// patient, at 2026-11-25 10:00 plus `i` milliseconds.
pub(crate) fn event(i: u64) -> AuditEvent {
    AuditEvent {
        event_type: EventType::PatientRecord,
        action: ActionCode::R,
        recorded: Utc
            .with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
            .single()
            .unwrap_or_default()
            + Duration::milliseconds(i64::try_from(i).unwrap_or(0)),
        outcome: Outcome::Success,
        subtype: Subtype::Regular,
        checks: Checks {
            authorisation: true,
            treatment_relation: true,
            consent: false,
            emergency: false,
        },
        basis: Some(Basis::Own),
        purpose: PurposeOfUse::Treat,
        user: User {
            uzi: zvp_core::UziNumber::new(900_000_001).unwrap_or_else(|| unreachable!()),
            agb: zvp_core::AgbCode::new(1_000_001),
            name: format!("user {i}"),
            role: RoleCode::GENERAL_PRACTITIONER,
        },
        on_behalf_of: None,
        access_point: AccessPoint {
            ip: Some([127, 0, 0, 1].into()),
            certificate_sha256: None,
        },
        patient: Some(PatientRef {
            id: format!("p{i}").parse().unwrap_or_else(|_| unreachable!()),
            bsn: None,
        }),
        part: Some(Part {
            section: RecordSection::PatientDetails,
            item: None,
        }),
        source: Source {
            instance: "test".to_owned(),
            hospital: "ASz".to_owned(),
        },
        request_id: format!("req-{i}"),
        reason: None,
    }
}
