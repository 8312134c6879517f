//! Requests per card: a burst, then a steady rate.
//!
//! Every request a card makes may write audit records: a refused card one, a start page one
//! per patient it lists. One card sending as fast as it can would fill the audit log's disk,
//! and the portal, which fails closed when its log cannot write, would then refuse every GP.
//! So a card beyond its rate is answered 429 before its certificate is validated or anything
//! is recorded, and of those answers at most one per card per minute is recorded. The key is
//! the SHA-256 of the leaf certificate, so a refused card is counted as an admitted one is.
//!
//! The limiter is governor's GCRA (a token bucket without a timer), on the portal's clock so
//! that tests set the time.

use std::num::NonZeroU32;

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::portal::Clock;

/// How many requests one card may make: `burst` at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardRate {
    /// The steady rate, in requests per minute.
    pub per_minute: NonZeroU32,
    /// How many requests may come at once before the steady rate applies.
    pub burst: NonZeroU32,
}

impl CardRate {
    /// The reference binary's default: far above a GP clicking through pages (a page is one
    /// request; the stylesheet is not counted), far below a script.
    pub const DEFAULT: Self = Self {
        per_minute: nonzero(120),
        burst: nonzero(60),
    };
}

const fn nonzero(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(n) => n,
        None => NonZeroU32::MIN,
    }
}

/// The portal's clock as governor's: nanoseconds since the Unix epoch (0 before it).
#[derive(Clone)]
struct PortalClock(Clock);

impl GovernorClock for PortalClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let nanos = (self.0)().timestamp_nanos_opt().unwrap_or(0);
        Nanos::from(u64::try_from(nanos).unwrap_or(0))
    }
}

type Limiter =
    RateLimiter<[u8; 32], HashMapStateStore<[u8; 32]>, PortalClock, NoOpMiddleware<Nanos>>;

/// Above this many cards in a limiter, those back at a full bucket are forgotten.
const KEEP_CARDS: usize = 4096;

/// What the throttle says of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the card's rate.
    Pass,
    /// Beyond it; `record` for the first such answer to this card in a minute.
    Throttled {
        /// Whether this answer is the one recorded in the audit log.
        record: bool,
    },
}

/// The per-card limiters of one portal.
pub(crate) struct Throttle {
    requests: Limiter,
    records: Limiter,
    // Requests answered 429 since the start, for `/metrics`.
    throttled: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("cards", &self.requests.len())
            .finish_non_exhaustive()
    }
}

impl Throttle {
    pub(crate) fn new(rate: CardRate, clock: Clock) -> Self {
        let clock = PortalClock(clock);
        let requests = Quota::per_minute(rate.per_minute).allow_burst(rate.burst);
        let records = Quota::per_minute(NonZeroU32::MIN);
        Self {
            requests: RateLimiter::new(requests, HashMapStateStore::default(), clock.clone()),
            records: RateLimiter::new(records, HashMapStateStore::default(), clock),
            throttled: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many requests were answered 429 since the portal started.
    pub(crate) fn throttled(&self) -> u64 {
        self.throttled.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts one request of the card whose leaf certificate has SHA-256 `card`.
    pub(crate) fn check(&self, card: &[u8; 32]) -> Verdict {
        for limiter in [&self.requests, &self.records] {
            if limiter.len() > KEEP_CARDS {
                limiter.retain_recent();
            }
        }
        if self.requests.check_key(card).is_ok() {
            Verdict::Pass
        } else {
            self.throttled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Verdict::Throttled {
                record: self.records.check_key(card).is_ok(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};

    use chrono::{DateTime, Utc};

    use super::*;

    fn at(seconds: &Arc<AtomicI64>) -> Clock {
        let seconds = Arc::clone(seconds);
        Arc::new(move || {
            DateTime::<Utc>::from_timestamp(seconds.load(Ordering::SeqCst), 0).unwrap()
        })
    }

    #[test]
    fn a_card_gets_its_burst_then_its_rate_and_one_record_a_minute() {
        let seconds = Arc::new(AtomicI64::new(1_800_000_000));
        let rate = CardRate {
            per_minute: NonZeroU32::new(60).unwrap(),
            burst: NonZeroU32::new(5).unwrap(),
        };
        let throttle = Throttle::new(rate, at(&seconds));
        let (card, other) = ([1u8; 32], [2u8; 32]);
        for _ in 0..5 {
            assert_eq!(throttle.check(&card), Verdict::Pass);
        }
        assert_eq!(throttle.check(&card), Verdict::Throttled { record: true });
        assert_eq!(throttle.check(&card), Verdict::Throttled { record: false });
        // Another card has its own bucket.
        assert_eq!(throttle.check(&other), Verdict::Pass);
        // One request a second comes back.
        seconds.fetch_add(1, Ordering::SeqCst);
        assert_eq!(throttle.check(&card), Verdict::Pass);
        assert_eq!(throttle.check(&card), Verdict::Throttled { record: false });
        // A minute later the next refusal is recorded again, and the burst is back.
        seconds.fetch_add(60, Ordering::SeqCst);
        for _ in 0..5 {
            assert_eq!(throttle.check(&card), Verdict::Pass);
        }
        assert_eq!(throttle.check(&card), Verdict::Throttled { record: true });
    }
}
