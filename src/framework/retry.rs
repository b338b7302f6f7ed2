//! Retry policies (Curator's `RetryPolicy` and its implementations) and the one retry loop
//! every framework operation runs in.
//!
//! A policy answers two questions: is this error worth retrying
//! ([`RetryPolicy::allow_retry_error`], by default exactly the errors
//! [`Error::is_retryable`] names), and may attempt `count` be retried after `elapsed`
//! ([`RetryPolicy::allow_retry`]), sleeping first through the given [`RetrySleeper`]. The
//! sleeper is how one policy serves both worlds: a foreground call sleeps its own thread, a
//! background operation is rescheduled on the framework's timer instead, so that no event or
//! state change waits behind a retry.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Decides whether and when a failed operation is tried again.
pub trait RetryPolicy: Send + Sync + 'static {
    /// Called after attempt number `retry_count` (0-based) failed with a retryable error,
    /// `elapsed` after the first attempt. Returns true to retry, after sleeping through
    /// `sleeper`.
    fn allow_retry(&self, retry_count: u32, elapsed: Duration, sleeper: &dyn RetrySleeper) -> bool;

    /// Whether `error` may be retried at all. Default: `ConnectionLoss`, `OperationTimeout`,
    /// `SessionMoved` and `SessionExpired`, as in Curator.
    fn allow_retry_error(&self, error: &Error) -> bool {
        error.is_retryable()
    }
}

/// How a policy waits before a retry.
pub trait RetrySleeper {
    /// Waits `d` (or arranges for the retry to happen after `d`). False if the wait was cut
    /// short and the operation should give up.
    fn sleep_for(&self, d: Duration) -> bool;
}

/// Sleeps the calling thread (foreground operations).
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadSleeper;

impl RetrySleeper for ThreadSleeper {
    fn sleep_for(&self, d: Duration) -> bool {
        std::thread::sleep(d);
        true
    }
}

/// Records the wait instead of sleeping (background operations reschedule themselves).
#[derive(Debug, Default)]
pub(crate) struct DeferSleeper(pub Cell<Option<Duration>>);

impl RetrySleeper for DeferSleeper {
    fn sleep_for(&self, d: Duration) -> bool {
        self.0.set(Some(d));
        true
    }
}

/// A small thread-safe PRNG for jitter (xorshift, seeded per policy).
struct Jitter(parking_lot::Mutex<u64>);

impl Jitter {
    fn new() -> Jitter {
        Jitter(parking_lot::Mutex::new(crate::random::seed() | 1))
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&self, n: u64) -> u64 {
        let mut x = self.0.lock();
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x % n.max(1)
    }
}

/// Curator caps the exponent so that `1 << (k + 1)` cannot overflow an `int`.
const MAX_RETRIES_LIMIT: u32 = 29;

/// Sleeps `base * random(1 ..= 2^(k+1) - 1)` before retry `k`, up to `max_retries`
/// retries (Curator's formula; `max_retries` is capped at 29), optionally capped at
/// `max_sleep`.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::ExponentialBackoffRetry;
/// let p = ExponentialBackoffRetry::new(Duration::from_millis(100), 3);
/// assert_eq!(p.max_retries(), 3);
/// assert_eq!(p.max_sleep(), None);
/// assert_eq!(
///     format!("{p:?}"),
///     "ExponentialBackoffRetry { base: 100ms, max_retries: 3, max_sleep: None }"
/// );
/// ```
pub struct ExponentialBackoffRetry {
    base: Duration,
    max_retries: u32,
    /// `None`: sleeps are not capped.
    max_sleep: Option<Duration>,
    jitter: Jitter,
}

impl ExponentialBackoffRetry {
    /// `max_retries` retries with a base sleep of `base`; sleeps are not capped.
    pub fn new(base: Duration, max_retries: u32) -> ExponentialBackoffRetry {
        ExponentialBackoffRetry::build(base, max_retries, None)
    }

    /// The same with every sleep capped at `max_sleep`.
    pub fn with_max_sleep(
        base: Duration,
        max_retries: u32,
        max_sleep: Duration,
    ) -> ExponentialBackoffRetry {
        ExponentialBackoffRetry::build(base, max_retries, Some(max_sleep))
    }

    fn build(base: Duration, max_retries: u32, max_sleep: Option<Duration>) -> Self {
        if max_retries > MAX_RETRIES_LIMIT {
            log::warn!("max_retries {max_retries} too large; using {MAX_RETRIES_LIMIT}");
        }
        ExponentialBackoffRetry {
            base,
            max_retries: max_retries.min(MAX_RETRIES_LIMIT),
            max_sleep,
            jitter: Jitter::new(),
        }
    }

    /// The retry limit in force (after the cap).
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The cap on each sleep (`None`: uncapped).
    pub fn max_sleep(&self) -> Option<Duration> {
        self.max_sleep
    }

    /// The sleep before retry `count`.
    pub fn sleep_time(&self, count: u32) -> Duration {
        let span = 1u64 << (count.min(MAX_RETRIES_LIMIT) + 1);
        let factor = self.jitter.below(span).max(1);
        let sleep = self
            .base
            .saturating_mul(u32::try_from(factor).unwrap_or(u32::MAX));
        match self.max_sleep {
            Some(cap) => sleep.min(cap),
            None => sleep,
        }
    }
}

impl RetryPolicy for ExponentialBackoffRetry {
    fn allow_retry(&self, count: u32, _elapsed: Duration, sleeper: &dyn RetrySleeper) -> bool {
        count < self.max_retries && sleeper.sleep_for(self.sleep_time(count))
    }
}

impl fmt::Debug for ExponentialBackoffRetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExponentialBackoffRetry")
            .field("base", &self.base)
            .field("max_retries", &self.max_retries)
            .field("max_sleep", &self.max_sleep)
            .finish()
    }
}

/// [`ExponentialBackoffRetry`] with every sleep capped at `max_sleep`.
#[derive(Debug)]
pub struct BoundedExponentialBackoffRetry(ExponentialBackoffRetry);

impl BoundedExponentialBackoffRetry {
    /// Base sleep, cap, retries.
    pub fn new(base: Duration, max_sleep: Duration, max_retries: u32) -> Self {
        BoundedExponentialBackoffRetry(ExponentialBackoffRetry::with_max_sleep(
            base,
            max_retries,
            max_sleep,
        ))
    }
}

impl RetryPolicy for BoundedExponentialBackoffRetry {
    fn allow_retry(&self, count: u32, elapsed: Duration, sleeper: &dyn RetrySleeper) -> bool {
        self.0.allow_retry(count, elapsed, sleeper)
    }
}

/// `n` retries, sleeping `sleep` before each.
#[derive(Debug, Clone, Copy)]
pub struct RetryNTimes {
    n: u32,
    sleep: Duration,
}

impl RetryNTimes {
    /// `n` retries, `sleep` apart.
    pub fn new(n: u32, sleep: Duration) -> RetryNTimes {
        RetryNTimes { n, sleep }
    }
}

impl RetryPolicy for RetryNTimes {
    fn allow_retry(&self, count: u32, _elapsed: Duration, sleeper: &dyn RetrySleeper) -> bool {
        count < self.n && sleeper.sleep_for(self.sleep)
    }
}

/// One retry after `sleep`.
#[derive(Debug, Clone, Copy)]
pub struct RetryOneTime(RetryNTimes);

impl RetryOneTime {
    /// One retry after `sleep`.
    pub fn new(sleep: Duration) -> RetryOneTime {
        RetryOneTime(RetryNTimes::new(1, sleep))
    }
}

impl RetryPolicy for RetryOneTime {
    fn allow_retry(&self, count: u32, elapsed: Duration, sleeper: &dyn RetrySleeper) -> bool {
        self.0.allow_retry(count, elapsed, sleeper)
    }
}

/// Retries every `sleep` until `max_elapsed` has passed since the first attempt.
#[derive(Debug, Clone, Copy)]
pub struct RetryUntilElapsed {
    max_elapsed: Duration,
    sleep: Duration,
}

impl RetryUntilElapsed {
    /// Retry every `sleep` for up to `max_elapsed`.
    pub fn new(max_elapsed: Duration, sleep: Duration) -> RetryUntilElapsed {
        RetryUntilElapsed { max_elapsed, sleep }
    }
}

impl RetryPolicy for RetryUntilElapsed {
    fn allow_retry(&self, _count: u32, elapsed: Duration, sleeper: &dyn RetrySleeper) -> bool {
        elapsed < self.max_elapsed && sleeper.sleep_for(self.sleep)
    }
}

/// Retries forever, `interval` apart.
#[derive(Debug, Clone, Copy)]
pub struct RetryForever {
    interval: Duration,
}

impl RetryForever {
    /// Retry every `interval` (must be > 0; zero is raised to 1 ms).
    pub fn new(interval: Duration) -> RetryForever {
        RetryForever {
            interval: interval.max(Duration::from_millis(1)),
        }
    }
}

impl RetryPolicy for RetryForever {
    fn allow_retry(&self, _count: u32, _elapsed: Duration, sleeper: &dyn RetrySleeper) -> bool {
        sleeper.sleep_for(self.interval)
    }
}

/// Wraps a policy so that `SessionExpired` is never retried (the operation must fail when
/// the session it depended on is gone).
pub struct SessionFailedRetryPolicy {
    delegate: Arc<dyn RetryPolicy>,
}

impl SessionFailedRetryPolicy {
    /// Wraps `delegate`.
    pub fn new(delegate: impl RetryPolicy) -> SessionFailedRetryPolicy {
        SessionFailedRetryPolicy {
            delegate: Arc::new(delegate),
        }
    }
}

impl RetryPolicy for SessionFailedRetryPolicy {
    fn allow_retry(&self, count: u32, elapsed: Duration, sleeper: &dyn RetrySleeper) -> bool {
        self.delegate.allow_retry(count, elapsed, sleeper)
    }

    fn allow_retry_error(&self, error: &Error) -> bool {
        !matches!(error, Error::SessionExpired) && self.delegate.allow_retry_error(error)
    }
}

impl fmt::Debug for SessionFailedRetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionFailedRetryPolicy")
    }
}

/// The client's policy, replaceable while the client runs
/// ([`set_retry_policy`](super::CuratorZookeeperClient::set_retry_policy)): every question
/// goes to the policy in force when it is asked, so an operation already retrying follows
/// the new policy from its next failure on.
pub(crate) struct LivePolicy(parking_lot::RwLock<Arc<dyn RetryPolicy>>);

impl LivePolicy {
    pub(crate) fn new(p: Arc<dyn RetryPolicy>) -> LivePolicy {
        LivePolicy(parking_lot::RwLock::new(p))
    }

    pub(crate) fn set(&self, p: Arc<dyn RetryPolicy>) {
        *self.0.write() = p;
    }

    /// The policy in force (the lock is not held while it runs: it is user code).
    pub(crate) fn current(&self) -> Arc<dyn RetryPolicy> {
        self.0.read().clone()
    }
}

impl RetryPolicy for LivePolicy {
    fn allow_retry(&self, count: u32, elapsed: Duration, sleeper: &dyn RetrySleeper) -> bool {
        self.current().allow_retry(count, elapsed, sleeper)
    }

    fn allow_retry_error(&self, error: &Error) -> bool {
        self.current().allow_retry_error(error)
    }
}

thread_local! {
    /// Set while this thread runs inside a retry loop: nested loops make one attempt and let
    /// the outer loop retry, so retries do not multiply (Curator's ThreadLocalRetryLoop).
    static IN_RETRY_LOOP: Cell<bool> = const { Cell::new(false) };
}

/// The retry loop: runs `attempt` until it succeeds, fails with an error the policy will
/// not retry, or the policy gives up (the framework's attempts wait for a connection
/// first). Nested inside another retry loop on the same thread it makes a single attempt.
pub(crate) fn call_with_retry<T>(
    policy: &dyn RetryPolicy,
    mut attempt: impl FnMut(u32) -> Result<T>,
) -> Result<T> {
    if IN_RETRY_LOOP.with(Cell::get) {
        return attempt(0);
    }
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            IN_RETRY_LOOP.with(|c| c.set(false));
        }
    }
    IN_RETRY_LOOP.with(|c| c.set(true));
    let _reset = Reset;
    let start = Instant::now();
    let mut count = 0u32;
    loop {
        match attempt(count) {
            Ok(v) => return Ok(v),
            Err(e)
                if policy.allow_retry_error(&e)
                    && policy.allow_retry(count, start.elapsed(), &ThreadSleeper) =>
            {
                log::debug!("retrying after {e} (retry {})", count + 1);
                count += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    struct Recorder(RefCell<Vec<Duration>>);
    impl RetrySleeper for Recorder {
        fn sleep_for(&self, d: Duration) -> bool {
            self.0.borrow_mut().push(d);
            true
        }
    }

    #[test]
    fn exponential_backoff_formula_and_caps() {
        let p = ExponentialBackoffRetry::new(Duration::from_millis(10), 40);
        assert_eq!(p.max_retries(), 29);
        for k in 0..10 {
            for _ in 0..50 {
                let s = p.sleep_time(k).as_millis() as u64;
                assert!(s >= 10 && s <= 10 * ((1 << (k + 1)) - 1), "k={k} s={s}");
            }
        }
        let b = BoundedExponentialBackoffRetry::new(
            Duration::from_millis(10),
            Duration::from_millis(50),
            5,
        );
        let r = Recorder(RefCell::new(vec![]));
        for k in 0..5 {
            assert!(b.allow_retry(k, Duration::ZERO, &r));
        }
        assert!(!b.allow_retry(5, Duration::ZERO, &r));
        assert!(r.0.borrow().iter().all(|d| *d <= Duration::from_millis(50)));
    }

    #[test]
    fn debug_shows_an_uncapped_sleep_as_none() {
        let p = ExponentialBackoffRetry::new(Duration::from_millis(10), 3);
        let shown = format!("{p:?}");
        assert!(shown.contains("max_sleep: None"), "{shown}");
        assert!(!shown.contains("18446744073709551615"), "{shown}");
        let b = BoundedExponentialBackoffRetry::new(
            Duration::from_millis(10),
            Duration::from_secs(2),
            3,
        );
        assert!(format!("{b:?}").contains("max_sleep: Some(2s)"), "{b:?}");
        // Uncapped sleeps still grow without overflow.
        let big = ExponentialBackoffRetry::new(Duration::from_secs(u64::MAX / 4), 29);
        assert!(big.sleep_time(29) >= Duration::from_secs(u64::MAX / 4));
    }

    #[test]
    fn fixed_policies() {
        let r = Recorder(RefCell::new(vec![]));
        let n = RetryNTimes::new(2, Duration::from_millis(5));
        assert!(n.allow_retry(0, Duration::ZERO, &r));
        assert!(n.allow_retry(1, Duration::ZERO, &r));
        assert!(!n.allow_retry(2, Duration::ZERO, &r));
        let one = RetryOneTime::new(Duration::from_millis(5));
        assert!(one.allow_retry(0, Duration::ZERO, &r));
        assert!(!one.allow_retry(1, Duration::ZERO, &r));
        let el = RetryUntilElapsed::new(Duration::from_secs(1), Duration::from_millis(5));
        assert!(el.allow_retry(100, Duration::from_millis(999), &r));
        assert!(!el.allow_retry(0, Duration::from_secs(1), &r));
        let f = RetryForever::new(Duration::ZERO);
        assert!(f.allow_retry(u32::MAX, Duration::MAX, &r));
        assert_eq!(r.0.borrow().last(), Some(&Duration::from_millis(1)));
        let s = SessionFailedRetryPolicy::new(RetryNTimes::new(3, Duration::ZERO));
        assert!(!s.allow_retry_error(&Error::SessionExpired));
        assert!(s.allow_retry_error(&Error::CONNECTION_LOSS));
        assert!(!s.allow_retry_error(&Error::from_code(-101, "/")));
    }

    #[test]
    fn the_loop_retries_only_retryable_errors_and_does_not_nest() {
        let p = RetryNTimes::new(3, Duration::ZERO);
        let mut tries = 0;
        let r: Result<()> = call_with_retry(&p, |_| {
            tries += 1;
            Err(Error::CONNECTION_LOSS)
        });
        assert!(matches!(r, Err(Error::ConnectionLoss { .. })));
        assert_eq!(tries, 4);
        let mut tries = 0;
        let r: Result<()> = call_with_retry(&p, |_| {
            tries += 1;
            Err(Error::from_code(-101, "/"))
        });
        assert!(matches!(r, Err(Error::NoNode { .. })));
        assert_eq!(tries, 1);
        // nested: the inner loop tries once per outer attempt
        let mut inner_tries = 0;
        let r: Result<()> = call_with_retry(&p, |_| {
            call_with_retry(&p, |_| {
                inner_tries += 1;
                Err(Error::CONNECTION_LOSS)
            })
        });
        assert!(r.is_err());
        assert_eq!(inner_tries, 4);
        // the flag is reset afterwards
        let mut t = 0;
        let _: Result<()> = call_with_retry(&p, |_| {
            t += 1;
            Err(Error::from_code(-7, ""))
        });
        assert_eq!(t, 4);
    }
}
