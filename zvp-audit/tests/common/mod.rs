//! What the audit log's integration tests share: one realistic event, and a fresh directory
//! for a log.

use std::path::PathBuf;

use zvp_audit::event::AuditEvent;

/// Event `i`: see [`AuditEvent::example`].
pub(crate) fn event(i: u64) -> AuditEvent {
    AuditEvent::example(i)
}

/// An empty directory for a test's log, `<the target's test directory>/<group>/<name>`.
#[allow(
    dead_code,
    reason = "each test file that shares this module uses what it needs of it"
)]
pub(crate) fn fresh_dir(group: &str, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(group)
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
