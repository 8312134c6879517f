//! The read-back, on a thread of its own, of the records an opening from a tree state took on
//! trust (see [`FileLog::checked`](super::FileLog::checked)).

use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use super::scan::{Checkpoints, Reading, VerifyError, scan_from};
use super::state::TreeState;
use super::{LogError, io};

/// The read-back of the records an opening from a tree state did not read; see
/// [`FileLog::checked`](super::FileLog::checked).
#[derive(Debug, Clone)]
pub struct OpeningCheck(pub(super) Arc<Check>);

impl OpeningCheck {
    /// Waits for the read-back to end; its verdict, as [`FileLog::checked`](super::FileLog::checked) gives it.
    ///
    /// # Errors
    ///
    /// As [`FileLog::checked`](super::FileLog::checked).
    pub fn wait(&self) -> Result<(), LogError> {
        self.0.wait()
    }
}

/// The reading back, after an opening from a tree state, of the records that opening took on
/// trust. Until it has passed, the log works on the signed tree; when it fails, the log
/// refuses appends and checkpoints from then on (fail closed, as an opening that had read
/// everything would have refused to open).
#[derive(Debug, Default)]
pub(super) struct Check {
    /// [`CHECKING`], [`CHECKED`] or [`FAILED`]: read on every append.
    status: AtomicU8,
    failure: Mutex<Option<VerifyError>>,
    done: Condvar,
}

const CHECKED: u8 = 0;
const CHECKING: u8 = 1;
const FAILED: u8 = 2;

impl Check {
    /// A check with nothing to do: opening read every record.
    pub(super) fn passed() -> Self {
        Self::default()
    }

    /// Runs the check of the records under `state` on a thread of its own.
    pub(super) fn start(dir: &Path, state: TreeState) -> Result<Arc<Self>, LogError> {
        let check = Arc::new(Self {
            status: AtomicU8::new(CHECKING),
            ..Self::default()
        });
        let running = Arc::clone(&check);
        let dir = dir.to_path_buf();
        std::thread::Builder::new()
            .name("zvp-audit-check".to_owned())
            .spawn(move || {
                // A read-back that panics must not leave the log unchecked and its waiters
                // waiting: it counts as failed.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    read_back(&dir, &state)
                }))
                .unwrap_or_else(|_| {
                    Err(VerifyError::Io {
                        path: dir.display().to_string(),
                        detail: "the read-back of the records under the tree state stopped"
                            .to_owned(),
                    })
                });
                running.finish(result);
            })
            .map_err(io)?;
        Ok(check)
    }

    fn finish(&self, result: Result<(), VerifyError>) {
        let mut failure = self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok(()) => self.status.store(CHECKED, Ordering::Release),
            Err(e) => {
                *failure = Some(e);
                self.status.store(FAILED, Ordering::Release);
            }
        }
        self.done.notify_all();
    }

    /// The failure, if the check has failed.
    pub(super) fn failed(&self) -> Result<(), LogError> {
        if self.status.load(Ordering::Acquire) != FAILED {
            return Ok(());
        }
        let failure = self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Err(failure.clone().map_or(LogError::Stopped, LogError::Damaged))
    }

    /// Waits for the check to end; its verdict.
    pub(super) fn wait(&self) -> Result<(), LogError> {
        let mut failure = self
            .failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while self.status.load(Ordering::Acquire) == CHECKING {
            failure = self
                .done
                .wait(failure)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        failure
            .clone()
            .map_or(Ok(()), |e| Err(LogError::Damaged(e)))
    }
}

/// Reads the records under `state` back and checks that they end with its chain hash and
/// tree: the frames, the sequence and the chain on the way, as a full opening does.
fn read_back(dir: &Path, state: &TreeState) -> Result<(), VerifyError> {
    let size = state.range.size();
    let reading = Reading {
        events: false,
        leaves: false,
        checkpoints: Checkpoints::None,
    };
    let scanned = scan_from(dir, reading, None, Some(size))?;
    let check = &scanned.check;
    if check.len() != size || check.chain() != state.chain || check.range() != &state.range {
        return Err(VerifyError::TreeState { size });
    }
    Ok(())
}
