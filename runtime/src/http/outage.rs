//! A shared store's outage (Redis, say), logged as it begins, while it lasts, and as it ends,
//! not once per request.
//!
//! While a store does not answer, every request that needs it fails over (the rate limit to
//! this process's, a session to 503). Logging each at WARN would let any client, by sending
//! requests, write a line per request for as long as the outage lasts (issue 18, item 10). So:
//! WARN when the store starts failing, a WARN count every [`PERIOD`] while it still fails, WARN
//! when it answers again (with how many requests the outage touched); each failed request has
//! its own event at DEBUG.

use std::fmt::Display;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

/// How often an outage under way is summarised.
pub(crate) const PERIOD: Duration = Duration::from_secs(10);

/// The state of one store's outage: a few atomics, no lock on any path.
pub(crate) struct Outage {
    /// What the lines call the store: "rate-limit store", "session store".
    store: &'static str,
    failing: AtomicBool,
    /// Failed requests since the last line.
    since_line: AtomicU64,
    /// Failed requests since the outage began.
    total: AtomicU64,
    /// When the last line was written, in milliseconds since `base`.
    last_line: AtomicU64,
    base: Instant,
    period: Duration,
}

/// What a failure, or an answer, calls for.
#[derive(Debug, PartialEq, Eq)]
enum Note {
    /// The store was answering: the outage begins.
    Began,
    /// A period has passed since the last line: `count` requests failed in `secs` seconds.
    Ongoing { count: u64, secs: u64 },
    /// The store answers again after `total` failed requests.
    Recovered { total: u64 },
    /// Nothing to say at WARN.
    Quiet,
}

impl Outage {
    /// No outage yet, for the store named `store`.
    pub(crate) fn new(store: &'static str) -> Self {
        Self::with_period(store, PERIOD)
    }

    fn with_period(store: &'static str, period: Duration) -> Self {
        Self {
            store,
            failing: AtomicBool::new(false),
            since_line: AtomicU64::new(0),
            total: AtomicU64::new(0),
            last_line: AtomicU64::new(0),
            base: Instant::now(),
            period,
        }
    }

    /// The store did not answer a request: DEBUG for the request, WARN if the outage begins
    /// or a period has passed.
    pub(crate) fn failed(&self, event: &'static str, error: &dyn Display) {
        tracing::debug!(target: "scopegate::http", event, store = self.store, %error, "the {} did not answer", self.store);
        match self.note_failure(Instant::now()) {
            Note::Began => {
                tracing::warn!(target: "scopegate::http", event, store = self.store, phase = "began", %error, "the {} does not answer: an outage begins (each failed request is logged at DEBUG)", self.store);
            }
            Note::Ongoing { count, secs } => {
                tracing::warn!(target: "scopegate::http", event, store = self.store, phase = "ongoing", count, window_secs = secs, %error, "the {} still does not answer: {count} requests failed in the last {secs} s", self.store);
            }
            Note::Recovered { .. } | Note::Quiet => {}
        }
    }

    /// The store answered: WARN if an outage ends. One relaxed load when there is none.
    pub(crate) fn answered(&self, event: &'static str) {
        if let Note::Recovered { total } = self.note_answer() {
            tracing::warn!(target: "scopegate::http", event, store = self.store, phase = "recovered", failed = total, "the {} answers again, after {total} failed requests", self.store);
        }
    }

    fn millis(&self, now: Instant) -> u64 {
        // Past u64's range only after 584 million years.
        now.saturating_duration_since(self.base).as_millis() as u64
    }

    fn note_failure(&self, now: Instant) -> Note {
        self.total.fetch_add(1, Relaxed);
        let now = self.millis(now);
        if !self.failing.swap(true, Relaxed) {
            self.last_line.store(now, Relaxed);
            self.since_line.store(0, Relaxed);
            return Note::Began;
        }
        self.since_line.fetch_add(1, Relaxed);
        let last = self.last_line.load(Relaxed);
        let period = self.period.as_millis() as u64;
        // One caller claims the line: the one whose exchange moves the time of the last line.
        if now.saturating_sub(last) >= period
            && self
                .last_line
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_ok()
        {
            let secs = (now - last).div_ceil(1000);
            return Note::Ongoing {
                count: self.since_line.swap(0, Relaxed),
                secs,
            };
        }
        Note::Quiet
    }

    fn note_answer(&self) -> Note {
        if self.failing.load(Relaxed) && self.failing.swap(false, Relaxed) {
            self.since_line.store(0, Relaxed);
            return Note::Recovered {
                total: self.total.swap(0, Relaxed),
            };
        }
        Note::Quiet
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_three_kinds_of_line_not_one_per_request() {
        let outage = Outage::with_period("rate-limit store", Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(outage.note_answer(), Note::Quiet, "no outage yet");
        assert_eq!(outage.note_failure(start), Note::Began);
        // 5,000 requests in the first 10 s: not one line more.
        for n in 0..5_000u64 {
            let at = start + Duration::from_millis(n);
            assert_eq!(outage.note_failure(at), Note::Quiet, "request {n}");
        }
        // A period on: one count of what failed since the line before.
        let later = start + Duration::from_secs(10);
        assert_eq!(
            outage.note_failure(later),
            Note::Ongoing {
                count: 5_001,
                secs: 10
            }
        );
        assert_eq!(outage.note_failure(later), Note::Quiet);
        // The store answers: one line, with every failed request, then quiet again.
        assert_eq!(outage.note_answer(), Note::Recovered { total: 5_003 });
        assert_eq!(outage.note_answer(), Note::Quiet);
        // A new outage begins afresh.
        assert_eq!(outage.note_failure(later), Note::Began);
        assert_eq!(outage.note_answer(), Note::Recovered { total: 1 });
    }

    #[test]
    fn a_period_is_claimed_by_one_caller() {
        let outage = Outage::with_period("session store", Duration::from_millis(100));
        let start = Instant::now();
        assert_eq!(outage.note_failure(start), Note::Began);
        let later = start + Duration::from_millis(250);
        let lines = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        (0..100)
                            .filter(|_| outage.note_failure(later) != Note::Quiet)
                            .count()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .sum::<usize>()
        });
        assert_eq!(lines, 1);
    }
}
