//! How much of the EPD's answers the portal holds: each [`crate::Epd`] call may read at most
//! [`FhirEpdConfig::max_answer_bytes`](super::FhirEpdConfig::max_answer_bytes) over all its
//! requests and pages, and all calls in flight together at most
//! `FhirEpdConfig::max_answers_in_flight_bytes`.
//!
//! A page's bound alone lets a search keep `pages × page size`, and every concurrent call as
//! much again: a hostile EPD sending 15 MiB pages could take the portal to gigabytes. What a
//! call read is what it may still hold (pages are decoded into the resources' own text, which is
//! never more than the bytes read), so counting bytes as they arrive bounds what it holds.
//!
//! The bytes in flight are refused, not waited for: calls waiting for each other's bytes would
//! each hold part of the pool until their deadlines, and the only EPD that fills the pool is
//! one sending far more than any record needs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::EpdError;

/// The bytes read by all calls in flight.
#[derive(Debug)]
pub(super) struct Pool {
    used: AtomicUsize,
    max: usize,
}

impl Pool {
    pub(super) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicUsize::new(0),
            max,
        })
    }

    /// The bytes read by the calls in flight now.
    #[cfg(test)]
    fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// Adds `n` to `counter` unless that passes `max`.
fn add_within(counter: &AtomicUsize, n: usize, max: usize) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            used.checked_add(n).filter(|&total| total <= max)
        })
        .is_ok()
}

/// What one call may still read; its bytes go back to the pool when it ends.
#[derive(Debug)]
pub(super) struct Budget {
    pool: Arc<Pool>,
    taken: AtomicUsize,
    max: usize,
}

impl Budget {
    pub(super) fn new(pool: &Arc<Pool>, max: usize) -> Self {
        Self {
            pool: pool.clone(),
            taken: AtomicUsize::new(0),
            max,
        }
    }

    /// Counts `n` more bytes read.
    ///
    /// # Errors
    ///
    /// [`EpdError::TooLarge`] when they pass the call's budget or the pool.
    pub(super) fn take(&self, n: usize) -> Result<(), EpdError> {
        if !add_within(&self.taken, n, self.max) {
            return Err(self.exceeded());
        }
        if !add_within(&self.pool.used, n, self.pool.max) {
            self.taken.fetch_sub(n, Ordering::AcqRel);
            return Err(EpdError::TooLarge(format!(
                "the answers read at once, of all calls, of more than {} bytes",
                self.pool.max
            )));
        }
        Ok(())
    }

    /// Whether `n` more bytes would pass the call's budget (a declared length is refused before
    /// any of it is read).
    pub(super) fn would_pass(&self, n: u64) -> bool {
        let taken = self.taken.load(Ordering::Acquire) as u64;
        taken.saturating_add(n) > self.max as u64
    }

    /// The error for passing the call's budget.
    pub(super) fn exceeded(&self) -> EpdError {
        EpdError::TooLarge(format!(
            "an answer (all pages and requests of one call) of more than {} bytes",
            self.max
        ))
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        self.pool
            .used
            .fetch_sub(*self.taken.get_mut(), Ordering::AcqRel);
    }
}

tokio::task_local! {
    /// The budget of the [`crate::Epd`] call this task runs (`FhirEpd::within`): every request
    /// the call makes, the token's included, counts against it.
    pub(super) static CURRENT: Arc<Budget>;
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code"
)]
mod tests {
    use super::*;

    #[test]
    fn a_call_stops_at_its_budget_and_gives_its_bytes_back() {
        let pool = Pool::new(100);
        let call = Budget::new(&pool, 40);
        call.take(30).unwrap();
        assert!(call.would_pass(11));
        assert!(!call.would_pass(10));
        assert!(matches!(call.take(11), Err(EpdError::TooLarge(_))));
        call.take(10).unwrap();
        assert_eq!(pool.used(), 40);
        drop(call);
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn calls_at_once_share_the_pool() {
        // Six calls of 40 against 100: the third cannot take its full budget.
        let pool = Pool::new(100);
        let calls: Vec<Budget> = (0..6).map(|_| Budget::new(&pool, 40)).collect();
        calls[0].take(40).unwrap();
        calls[1].take(40).unwrap();
        let Err(EpdError::TooLarge(what)) = calls[2].take(40) else {
            panic!("the pool let a third call take its full budget");
        };
        assert!(what.contains("100 bytes"), "{what}");
        // A refused take leaves nothing behind; what is left may still be read.
        calls[2].take(20).unwrap();
        assert_eq!(pool.used(), 100);
        drop(calls);
        assert_eq!(pool.used(), 0);
    }
}
