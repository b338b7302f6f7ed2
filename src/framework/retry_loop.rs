//! Retry loops for code that strings several operations together (recipes, user code):
//! [`RetryLoop`] (Curator's `RetryLoop`) and [`SessionFailRetryLoop`] (Curator's
//! `SessionFailRetryLoop`), beside the one loop every single framework operation already
//! runs in (`retry.rs`).
//!
//! A `RetryLoop` can carry a deadline, so that a caller with a time limit (a lock's
//! `acquire_timeout`) keeps it across retries: the policy's sleeps are cut at the deadline
//! and the loop gives up once it has passed.
//!
//! A `SessionFailRetryLoop` marks its thread while it runs: once the session it started
//! with has failed (expired, or been replaced by a new one), every framework operation on
//! this thread fails with [`Error::SessionFailed`] until the loop either starts the whole
//! unit of work again (`Retry`) or gives up (`Fail`). Without it a unit of work that relies
//! on an ephemeral node would carry on over a new session, as if the node still existed.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::core::Inner;
use super::retry::{call_with_retry, RetryPolicy, RetrySleeper};
use super::{CuratorFramework, CuratorZookeeperClient};
use crate::error::{Error, Result};

/// Sleeps the calling thread, but never past a deadline: a sleep that would reach it is not
/// taken and the retry is refused.
pub(crate) struct DeadlineSleeper(pub Option<Instant>);

impl RetrySleeper for DeadlineSleeper {
    fn sleep_for(&self, d: Duration) -> bool {
        if let Some(deadline) = self.0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if d >= left {
                return false;
            }
        }
        std::thread::sleep(d);
        true
    }
}

/// A retry loop for a sequence of operations (Curator's `RetryLoop`).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes};
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryNTimes::new(3, Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let mut retry = client.zookeeper_client().new_retry_loop();
/// while retry.should_continue() {
///     let step = client.create().creating_parents_if_needed().for_path("/jobs/a")
///         .and_then(|_| client.set_data().for_path("/jobs/a", b"started"));
///     match step {
///         Ok(_) => retry.mark_complete(),
///         Err(e) => retry.take_exception(e)?, // Err: not retryable, or out of retries
///     }
/// }
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct RetryLoop {
    policy: Arc<dyn RetryPolicy>,
    start: Instant,
    count: u32,
    done: bool,
    deadline: Option<Instant>,
}

impl RetryLoop {
    /// A loop over `policy`.
    pub fn new(policy: Arc<dyn RetryPolicy>) -> RetryLoop {
        RetryLoop {
            policy,
            start: Instant::now(),
            count: 0,
            done: false,
            deadline: None,
        }
    }

    /// Gives up at `deadline`: sleeps end there, and an error after it is final.
    pub fn with_deadline(mut self, deadline: Instant) -> RetryLoop {
        self.deadline = Some(deadline);
        self
    }

    /// True until [`mark_complete`](Self::mark_complete): make (another) attempt.
    pub fn should_continue(&self) -> bool {
        !self.done
    }

    /// The attempt succeeded.
    pub fn mark_complete(&mut self) {
        self.done = true;
    }

    /// Hands over an attempt's error: `Ok(())` after sleeping as the policy says, to try
    /// again; `Err(error)` when the error is not retryable, the policy gives up, or the
    /// deadline has passed.
    pub fn take_exception(&mut self, error: Error) -> Result<()> {
        if self.past_deadline() || !self.policy.allow_retry_error(&error) {
            return Err(error);
        }
        let sleeper = DeadlineSleeper(self.deadline);
        if self
            .policy
            .allow_retry(self.count, self.start.elapsed(), &sleeper)
        {
            log::debug!("retrying after {error} (retry {})", self.count + 1);
            self.count += 1;
            Ok(())
        } else {
            Err(error)
        }
    }

    /// Retries so far.
    pub fn retry_count(&self) -> u32 {
        self.count
    }

    /// True once the deadline, if any, has passed.
    pub fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The time left before the deadline (`None`: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// How long an attempt may wait for a connection: the connection timeout is a budget
    /// counted from the start of the loop (or its last progress), as for every framework
    /// operation, and never past the loop's deadline.
    pub(crate) fn connect_by(&self, connection_timeout: Duration) -> Option<Instant> {
        match (self.start.checked_add(connection_timeout), self.deadline) {
            (Some(own), Some(d)) => Some(own.min(d)),
            (own, d) => own.or(d),
        }
    }

    /// An attempt made progress: the policy starts counting afresh, so that a long
    /// operation survives several separate outages as long as each one is within policy.
    pub fn note_progress(&mut self) {
        self.count = 0;
        self.start = Instant::now();
    }

    /// Runs `f` until it succeeds, fails with an error the client's policy does not retry,
    /// or the policy gives up (Curator's `RetryLoop.callWithRetry`). Framework operations
    /// inside `f` make one attempt each and leave the retrying to this loop, so retries do
    /// not multiply.
    pub fn call_with_retry<T>(
        client: &CuratorFramework,
        mut f: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        call_with_retry(&*client.inner.retry, |_| f())
    }
}

impl std::fmt::Debug for RetryLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryLoop")
            .field("count", &self.count)
            .field("done", &self.done)
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// What a [`SessionFailRetryLoop`] does when the session fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionFailMode {
    /// Start the whole unit of work again on the new session.
    Retry,
    /// Fail with [`Error::SessionFailed`].
    Fail,
}

thread_local! {
    /// The session-fail loops running on this thread: the client (by address) and the
    /// handle generation each started with.
    static GUARDS: RefCell<Vec<(usize, u64, u64)>> = const { RefCell::new(Vec::new()) };
}

fn inner_id(inner: &Arc<Inner>) -> usize {
    Arc::as_ptr(inner) as *const () as usize
}

/// Called by every foreground framework operation: fails with `SessionFailed` when a
/// session-fail loop on this thread has seen its session fail.
pub(crate) fn check_session(inner: &Arc<Inner>) -> Result<()> {
    let id = inner_id(inner);
    let failed = GUARDS.with(|g| {
        g.borrow()
            .iter()
            .any(|&(i, index, _)| i == id && index != inner.instance_index())
    });
    if failed {
        Err(Error::SessionFailed)
    } else {
        Ok(())
    }
}

/// A loop around a unit of work that must not outlive its session (Curator's
/// `SessionFailRetryLoop`): one attempt, and another only when the session failed and the
/// mode is [`Retry`](SessionFailMode::Retry) or the client's retry policy takes the error.
/// Tied to the thread that made it (not `Send`).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{
///     CuratorFrameworkFactory, RetryNTimes, SessionFailMode, SessionFailRetryLoop,
/// };
/// use zk_curator::CreateMode;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryNTimes::new(3, Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// // The marker and the work after it belong to one session: start over if it fails.
/// let done = SessionFailRetryLoop::call_with_retry(&client, SessionFailMode::Retry, || {
///     let marker = client.create().with_mode(CreateMode::Ephemeral).for_path("/worker")?;
///     client.create().for_path("/result")?;
///     client.delete().for_path(&marker)
/// });
/// assert!(done.is_ok());
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct SessionFailRetryLoop {
    inner: Arc<Inner>,
    mode: SessionFailMode,
    retry: RetryLoop,
    /// Identifies this loop's guard among the thread's.
    id: u64,
    started: bool,
    done: bool,
    _thread: PhantomData<*const ()>,
}

impl SessionFailRetryLoop {
    /// Starts watching the session: from now on, operations on this thread fail with
    /// `SessionFailed` once it fails. Calling it again does nothing.
    pub fn start(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        let entry = (inner_id(&self.inner), self.inner.instance_index(), self.id);
        GUARDS.with(|g| g.borrow_mut().push(entry));
    }

    /// True when an attempt should be made: once, and again after a retry was granted.
    pub fn should_continue(&mut self) -> bool {
        !std::mem::replace(&mut self.done, true)
    }

    /// True once the session this loop started with has failed.
    pub fn session_has_failed(&self) -> bool {
        let id = inner_id(&self.inner);
        GUARDS.with(|g| {
            g.borrow().iter().any(|&(i, index, l)| {
                i == id && l == self.id && index != self.inner.instance_index()
            })
        })
    }

    /// Hands over an attempt's error. After a session failure, `Retry` mode forgets it
    /// (operations work again, on the new session) and grants another attempt for
    /// `SessionFailed`; `Fail` mode passes it on. Other errors go to the client's retry
    /// policy: `Ok(())` to try again, `Err` to give up.
    pub fn take_exception(&mut self, error: Error) -> Result<()> {
        if self.session_has_failed() && self.mode == SessionFailMode::Retry {
            let (id, now) = (self.id, self.inner.instance_index());
            GUARDS.with(|g| {
                for e in g.borrow_mut().iter_mut().filter(|e| e.2 == id) {
                    e.1 = now;
                }
            });
            if matches!(error, Error::SessionFailed) {
                self.done = false;
                return Ok(());
            }
        }
        self.retry.take_exception(error)?;
        self.done = false;
        Ok(())
    }

    /// Stops watching the session (also on drop).
    pub fn close(self) {}

    /// Runs `f` in a session-fail loop (Curator's `SessionFailRetryLoop.callWithRetry`).
    pub fn call_with_retry<T>(
        client: &CuratorFramework,
        mode: SessionFailMode,
        mut f: impl FnMut() -> Result<T>,
    ) -> Result<T> {
        let mut l = client.zookeeper_client().new_session_fail_retry_loop(mode);
        l.start();
        let mut last = Err(Error::SessionFailed);
        while l.should_continue() {
            match f() {
                Ok(v) => return Ok(v),
                Err(e) => {
                    l.take_exception(e.clone())?;
                    last = Err(e);
                }
            }
        }
        last
    }
}

impl Drop for SessionFailRetryLoop {
    fn drop(&mut self) {
        let id = self.id;
        // Dropped during thread teardown the list may be gone already.
        let _ = GUARDS.try_with(|g| g.borrow_mut().retain(|e| e.2 != id));
    }
}

impl std::fmt::Debug for SessionFailRetryLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionFailRetryLoop")
            .field("mode", &self.mode)
            .field("started", &self.started)
            .field("session_has_failed", &self.session_has_failed())
            .finish()
    }
}

impl CuratorZookeeperClient {
    /// A [`RetryLoop`] over the client's retry policy (Curator's `newRetryLoop()`).
    pub fn new_retry_loop(&self) -> RetryLoop {
        RetryLoop::new(self.inner.retry.clone())
    }

    /// A [`SessionFailRetryLoop`] for this thread (Curator's `newSessionFailRetryLoop`);
    /// call [`start`](SessionFailRetryLoop::start) before the work.
    pub fn new_session_fail_retry_loop(&self, mode: SessionFailMode) -> SessionFailRetryLoop {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        SessionFailRetryLoop {
            inner: self.inner.clone(),
            mode,
            retry: self.new_retry_loop(),
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            started: false,
            done: false,
            _thread: PhantomData,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::RetryNTimes;

    #[test]
    fn deadline_cuts_sleeps_and_retries() {
        let policy: Arc<dyn RetryPolicy> =
            Arc::new(RetryNTimes::new(100, Duration::from_millis(5)));
        let mut l = RetryLoop::new(policy.clone());
        assert!(l.should_continue());
        assert!(l.take_exception(Error::CONNECTION_LOSS).is_ok());
        assert_eq!(l.retry_count(), 1);
        assert!(matches!(
            l.take_exception(Error::NoNode {
                path: "/a".into(),
                op: None,
            }),
            Err(Error::NoNode { .. })
        ));
        l.mark_complete();
        assert!(!l.should_continue());

        let mut d =
            RetryLoop::new(policy).with_deadline(Instant::now() + Duration::from_millis(40));
        let start = Instant::now();
        while d.take_exception(Error::CONNECTION_LOSS).is_ok() {}
        let took = start.elapsed();
        assert!(took < Duration::from_millis(200), "{took:?}");
        assert!(d.past_deadline() || d.remaining().unwrap() < Duration::from_millis(5));
        d.note_progress();
        assert_eq!(d.retry_count(), 0);
    }
}
