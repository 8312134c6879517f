//! A writer for the crash test (`tests/crash.rs`): appends to the log in `DIR` from eight
//! threads until it is killed, printing `ack <seq>` after each append returns. Whatever it
//! printed must be in the log after a SIGKILL.
//!
//! Usage: `zvp-audit-crash-writer DIR`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use zvp_audit::event::AuditEvent;
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
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for i in 0u64.. {
                    let mut event = AuditEvent::example(i);
                    event.user.name = format!("writer {t}");
                    event.request_id = format!("{t}-{i}");
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
