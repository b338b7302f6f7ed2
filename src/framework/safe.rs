//! Recipe work off the event thread: [`CuratorFramework::run_safe`] and
//! [`CuratorFramework::post_safe_notify`] (Curator's `runSafe` / `postSafeNotify`), and the
//! [`Monitor`] that recipes wait on.
//!
//! A watcher runs on the client's event thread, where it must not block: every later event
//! and state change waits behind it. When what it has to do might block (take a lock held by
//! a thread doing I/O, call back into a recipe), it hands the work to the client's *safe
//! thread*: one thread per client, started on first use, running jobs in submission order
//! and catching their panics. It stops when the client closes, after the jobs already queued.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::{CuratorFramework, CuratorFrameworkState};
use crate::error::{Error, Result};
use crate::session::WorkerPool;

/// What a recipe waits on: a counter that every [`notify_all`](Self::notify_all) advances,
/// and the threads waiting for it to move (Java's object monitor, `wait`/`notifyAll`,
/// without its lost-wake-up trap).
///
/// Read the [`generation`](Self::generation) *before* checking the condition you wait for,
/// then [`wait_past`](Self::wait_past) it: a notification that arrives between the check and
/// the wait is not lost.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use zk_curator::framework::Monitor;
/// let m = Arc::new(Monitor::new());
/// let ready = Arc::new(AtomicBool::new(false));
/// let (m2, r2) = (m.clone(), ready.clone());
/// let t = std::thread::spawn(move || {
///     r2.store(true, Ordering::SeqCst);
///     m2.notify_all();
/// });
/// loop {
///     let seen = m.generation();
///     if ready.load(Ordering::SeqCst) {
///         break;
///     }
///     m.wait_past(seen, None);
/// }
/// t.join().unwrap();
/// ```
#[derive(Debug, Default)]
pub struct Monitor {
    generation: Mutex<u64>,
    cv: Condvar,
}

impl Monitor {
    /// A monitor nobody waits on yet.
    pub fn new() -> Monitor {
        Monitor::default()
    }

    /// The number of notifications so far.
    pub fn generation(&self) -> u64 {
        *self.generation.lock()
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        let mut g = self.generation.lock();
        *g = g.wrapping_add(1);
        self.cv.notify_all();
    }

    /// Waits until the generation differs from `seen` or `deadline` passes (`None`: no
    /// limit); returns the generation then. Never holds the monitor while anything else
    /// runs.
    pub fn wait_past(&self, seen: u64, deadline: Option<Instant>) -> u64 {
        let mut g = self.generation.lock();
        while *g == seen {
            match deadline {
                Some(d) => {
                    if self.cv.wait_until(&mut g, d).timed_out() {
                        break;
                    }
                }
                None => self.cv.wait(&mut g),
            }
        }
        *g
    }
}

/// The outcome of a job handed to [`CuratorFramework::run_safe`] (Curator returns a
/// `CompletableFuture<Void>`).
#[derive(Debug, Clone)]
pub struct SafeCompletion {
    state: Arc<(Mutex<bool>, Condvar)>,
}

impl SafeCompletion {
    fn new() -> SafeCompletion {
        SafeCompletion {
            state: Arc::new((Mutex::new(false), Condvar::new())),
        }
    }

    fn complete(&self) {
        *self.state.0.lock() = true;
        self.state.1.notify_all();
    }

    /// True once the job has run (or panicked: the panic is logged and counted).
    pub fn is_done(&self) -> bool {
        *self.state.0.lock()
    }

    /// Waits up to `timeout` for the job to run; true if it has.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut done = self.state.0.lock();
        while !*done {
            match deadline {
                Some(d) => {
                    if self.state.1.wait_until(&mut done, d).timed_out() {
                        return *done;
                    }
                }
                None => self.state.1.wait(&mut done),
            }
        }
        true
    }
}

/// The job runs in a guard that completes the handle even if the job panics.
struct CompleteOnDrop(SafeCompletion);

impl Drop for CompleteOnDrop {
    fn drop(&mut self) {
        self.0.complete();
    }
}

impl CuratorFramework {
    /// Runs `f` on the client's safe thread, after the jobs handed to it earlier (Curator's
    /// `runSafe`). For work a watcher or listener must not do on the event thread. A panic
    /// in `f` is caught and logged. `Err(Closed)` once the client is closed.
    pub fn run_safe(&self, f: impl FnOnce() + Send + 'static) -> Result<SafeCompletion> {
        let pool = self.inner.safe_pool()?;
        let done = SafeCompletion::new();
        let guard = CompleteOnDrop(done.clone());
        pool.execute("safe", move || {
            let _guard = guard;
            f();
        });
        Ok(done)
    }

    /// Wakes every thread waiting on `monitor`, from the safe thread (Curator's
    /// `postSafeNotify`).
    pub fn post_safe_notify(&self, monitor: &Arc<Monitor>) -> Result<SafeCompletion> {
        let m = monitor.clone();
        self.run_safe(move || m.notify_all())
    }
}

impl super::core::Inner {
    /// The safe thread's pool, started on first use.
    pub(crate) fn safe_pool(&self) -> Result<WorkerPool> {
        if self.lifecycle() == CuratorFrameworkState::Stopped {
            return Err(Error::Closed);
        }
        let mut slot = self.safe.lock();
        if let Some(p) = &*slot {
            return Ok(p.clone());
        }
        let p = WorkerPool::new(1)?;
        *slot = Some(p.clone());
        Ok(p)
    }

    /// Stops the safe thread after the jobs queued so far (at close).
    pub(crate) fn stop_safe(&self) {
        let pool = self.safe.lock().take();
        if let Some(p) = pool {
            p.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_wakes_waiters_and_times_out() {
        let m = Arc::new(Monitor::new());
        let seen = m.generation();
        let start = Instant::now();
        assert_eq!(
            m.wait_past(seen, Some(Instant::now() + Duration::from_millis(30))),
            seen
        );
        assert!(start.elapsed() >= Duration::from_millis(25));
        let m2 = m.clone();
        let t = std::thread::spawn(move || m2.wait_past(seen, None));
        m.notify_all();
        assert_eq!(t.join().unwrap(), seen + 1);
        // A notification before the wait is not lost.
        let g = m.generation();
        m.notify_all();
        assert_eq!(m.wait_past(g, None), g + 1);
    }
}
