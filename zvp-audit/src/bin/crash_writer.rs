//! A writer for the crash test (`tests/crash.rs`): appends to the log in `DIR` from eight
//! threads until it is killed, printing `ack <seq>` after each append returns. Whatever it
//! printed must be in the log after a SIGKILL.
//!
//! Usage: `zvp-audit-crash-writer DIR`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use zvp_audit::event::{
    AccessPoint, ActionCode, AuditEvent, Checks, EventType, Outcome, PurposeOfUse, Source, Subtype,
    User,
};
use zvp_audit::log::{FileLog, FileLogOptions};

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: zvp-audit-crash-writer DIR");
        return ExitCode::from(2);
    };
    let log = match FileLog::open(
        &dir,
        FileLogOptions {
            segment_bytes: 64 * 1024,
            max_batch: 64,
        },
    ) {
        Ok(log) => Arc::new(log),
        Err(e) => {
            eprintln!("open: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(uzi) = zvp_core::UziNumber::new(900_000_001) else {
        return ExitCode::FAILURE;
    };
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for i in 0u64.. {
                    let event = AuditEvent {
                        event_type: EventType::Login,
                        action: ActionCode::E,
                        recorded: Utc
                            .timestamp_millis_opt(1_764_000_000_000)
                            .single()
                            .unwrap_or_default(),
                        outcome: Outcome::Success,
                        subtype: Subtype::Regular,
                        checks: Checks::default(),
                        basis: None,
                        purpose: PurposeOfUse::Treat,
                        user: User {
                            uzi,
                            agb: None,
                            name: format!("writer {t}"),
                            role: zvp_core::RoleCode::GENERAL_PRACTITIONER,
                        },
                        on_behalf_of: None,
                        access_point: AccessPoint {
                            ip: None,
                            certificate_sha256: None,
                        },
                        patient: None,
                        part: None,
                        source: Source {
                            instance: "crash".to_owned(),
                            hospital: "test".to_owned(),
                        },
                        request_id: format!("{t}-{i}"),
                        reason: None,
                    };
                    match log.append_blocking(&event) {
                        Ok(receipt) => {
                            let mut out = std::io::stdout().lock();
                            if writeln!(out, "ack {}", receipt.seq())
                                .and_then(|()| out.flush())
                                .is_err()
                            {
                                return;
                            }
                        }
                        Err(e) => {
                            eprintln!("append: {e}");
                            return;
                        }
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
    ExitCode::SUCCESS
}
