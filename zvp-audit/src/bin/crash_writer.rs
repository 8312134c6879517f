//! A writer for the crash test (`tests/crash.rs`): appends to the log in `DIR` from eight
//! threads until it is killed, printing `ack <seq>` after each append returns. Whatever it
//! printed must be in the log after a SIGKILL. Given a checkpoint key (PKCS#8, Ed25519), the
//! first thread also signs a checkpoint after every 5 of its appends, so that kills land
//! around checkpoints too and reopening takes up their tree state.
//!
//! Usage: `zvp-audit-crash-writer DIR [KEY]`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use zvp_audit::checkpoint::CheckpointSigner;
use zvp_audit::event::AuditEvent;
use zvp_audit::log::{FileLog, FileLogOptions};

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: zvp-audit-crash-writer DIR [KEY]");
        return ExitCode::from(2);
    };
    let signer = match std::env::args().nth(2).map(std::fs::read) {
        None => None,
        Some(Ok(key)) => match CheckpointSigner::from_pkcs8("zvp.test/crash", &key) {
            Ok(signer) => Some(Arc::new(signer)),
            Err(e) => {
                eprintln!("key: {e}");
                return ExitCode::FAILURE;
            }
        },
        Some(Err(e)) => {
            eprintln!("key: {e}");
            return ExitCode::FAILURE;
        }
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
            let signer = signer.clone().filter(|_| t == 0);
            std::thread::spawn(move || {
                for i in 0u64.. {
                    let mut event = AuditEvent::example(i);
                    if let Some(user) = &mut event.user {
                        user.name = format!("writer {t}");
                    }
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
                    if let Some(signer) = &signer
                        && i % 5 == 4
                        && let Err(e) = log.checkpoint(signer, "zvp.test/crash")
                    {
                        eprintln!("checkpoint: {e}");
                        return;
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
