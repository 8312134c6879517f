//! What the audit log's integration tests share: one realistic event.

use zvp_audit::event::AuditEvent;

/// Event `i`: see [`AuditEvent::example`].
pub(crate) fn event(i: u64) -> AuditEvent {
    AuditEvent::example(i)
}
