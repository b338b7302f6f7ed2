//! The selector's thread and its election tasks (Curator's `doWorkLoop` on the selector's
//! executor). The thread waits for a queued task; a task queues a node on the mutex, leads
//! while `take_leadership` runs, gives leadership up (the flag first, then the node) and,
//! with auto-requeue, queues the next task. Cancellation (state changes, interrupts,
//! close) sets the task's flag and closes the lock it waits on, which makes a waiting
//! `acquire` give up and delete its node.
//!
//! Lock order: `st` before a task's flag locks; nothing is held while the client or the
//! listener is called.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::{CancelFlag, LeaderSelectorListener, Leadership};
use crate::error::{Error, Result};
use crate::framework::{ConnectionState, CuratorFramework, CuratorFrameworkState, ListenerId};
use crate::recipes::locks::InterProcessMutex;

/// Curator's mutex names: a selector's nodes are `lock-` nodes, sorted by what follows.
pub(crate) const LOCK_NAME: &str = "lock-";

/// After a failed election task, auto-requeue waits this long (doubling, up to `MAX`) so a
/// lasting error (no connection, no permission) does not spin.
const BACKOFF: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    Latent,
    Started,
    Closed,
}

struct St {
    life: Life,
    /// A task is wanted and not started yet.
    queued: bool,
    /// The task being run (waiting or leading).
    task: Option<Arc<CancelFlag>>,
    /// `take_leadership` is running for `task`.
    leading: bool,
    /// The session that held the node when leadership was granted.
    session: i64,
}

pub(crate) struct Shared {
    pub client: CuratorFramework,
    pub path: String,
    pub id: String,
    listener: Arc<dyn LeaderSelectorListener>,
    auto_requeue: AtomicBool,
    st: Mutex<St>,
    cv: Condvar,
    state_listener: Mutex<Option<ListenerId>>,
}

static THREADS: AtomicU64 = AtomicU64::new(0);

impl Shared {
    pub(super) fn new(
        client: CuratorFramework,
        path: String,
        id: String,
        listener: Arc<dyn LeaderSelectorListener>,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            client,
            path,
            id,
            listener,
            auto_requeue: AtomicBool::new(false),
            st: Mutex::new(St {
                life: Life::Latent,
                queued: false,
                task: None,
                leading: false,
                session: 0,
            }),
            cv: Condvar::new(),
            state_listener: Mutex::new(None),
        })
    }

    pub(super) fn set_auto_requeue(&self) {
        self.auto_requeue.store(true, Ordering::Release);
    }

    fn state_error(&self, what: &str) -> Error {
        Error::InvalidArgument(format!("the LeaderSelector on {} {what}", self.path))
    }

    pub(super) fn start(self: &Arc<Self>) -> Result<()> {
        if self.client.state() == CuratorFrameworkState::Stopped {
            return Err(Error::Closed);
        }
        {
            let mut st = self.st.lock();
            match st.life {
                Life::Latent => st.life = Life::Started,
                Life::Started => return Err(self.state_error("was already started")),
                Life::Closed => return Err(self.state_error("is closed")),
            }
        }
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!(
                "zk-leader-selector-{}",
                THREADS.fetch_add(1, Ordering::Relaxed)
            ))
            .spawn(move || me.run());
        if let Err(e) = spawned {
            self.st.lock().life = Life::Closed;
            return Err(Error::Io(Arc::new(e)));
        }
        self.client
            .add_weak_state_listener(self, &self.state_listener, |me, c, s| me.on_state(c, s));
        self.requeue().map(|_| ())
    }

    pub(super) fn requeue(&self) -> Result<bool> {
        let mut st = self.st.lock();
        match st.life {
            Life::Started => {}
            Life::Latent => return Err(self.state_error("is not started")),
            Life::Closed => return Err(self.state_error("is closed")),
        }
        if st.queued || st.task.is_some() {
            return Ok(false);
        }
        st.queued = true;
        self.cv.notify_all();
        Ok(true)
    }

    /// Cancels the current task, waiting or leading (Curator's `cancelElection`).
    fn cancel_election(&self) {
        let task = self.st.lock().task.clone();
        if let Some(t) = task {
            t.cancel();
        }
    }

    pub(super) fn interrupt_leadership(&self) {
        let task = {
            let st = self.st.lock();
            if !st.leading {
                return;
            }
            st.task.clone()
        };
        if let Some(t) = task {
            t.cancel();
        }
    }

    pub(super) fn close(&self) -> Result<()> {
        let task = {
            let mut st = self.st.lock();
            match st.life {
                Life::Started => {}
                Life::Latent => return Err(self.state_error("was never started")),
                Life::Closed => return Err(self.state_error("is closed")),
            }
            st.life = Life::Closed;
            st.queued = false;
            self.cv.notify_all();
            st.task.clone()
        };
        if let Some(t) = task {
            t.cancel();
        }
        self.client.remove_state_listener(&self.state_listener);
        Ok(())
    }

    pub(super) fn close_if_started(&self) {
        if self.st.lock().life == Life::Started {
            let _ = self.close();
        }
    }

    pub(super) fn has_leadership(&self) -> bool {
        let (session, task) = {
            let st = self.st.lock();
            if !st.leading {
                return false;
            }
            (st.session, st.task.clone())
        };
        if task.is_none_or(|t| t.is_cancelled()) {
            return false;
        }
        // The live view, as for the latch: a session change or a lost connection (where
        // the policy counts it) ends leadership before the event thread says so.
        let Ok(h) = self.client.zookeeper_client().zookeeper() else {
            return false;
        };
        h.session_id() == session
            && (h.state().is_connected()
                || !self
                    .client
                    .connection_state_error_policy()
                    .is_error_state(ConnectionState::Suspended))
    }

    /// A connection change: the listener decides whether it cancels the election.
    fn on_state(&self, c: &CuratorFramework, s: ConnectionState) {
        let listener = self.listener.clone();
        match catch_unwind(AssertUnwindSafe(|| listener.state_changed(c, s))) {
            Ok(Ok(())) => {}
            Ok(Err(_cancel)) => self.cancel_election(),
            Err(_) => {
                log::error!("LeaderSelector {}: state_changed panicked", self.path);
                self.cancel_election();
            }
        }
    }

    // ------------------------------------------------------------------ the thread

    fn run(self: Arc<Self>) {
        let mut failures = 0u32;
        while let Some(task) = self.next_task(failures) {
            let ok = self.work(&task);
            failures = if ok { 0 } else { failures.saturating_add(1) };
            let mut st = self.st.lock();
            st.task = None;
            st.leading = false;
            if st.life == Life::Started && self.auto_requeue.load(Ordering::Acquire) {
                st.queued = true;
            }
        }
    }

    /// Waits for a queued task (after a backoff if the last ones failed); `None` once
    /// closed, or when the client is.
    fn next_task(&self, failures: u32) -> Option<Arc<CancelFlag>> {
        let mut st = self.st.lock();
        if failures > 0 {
            let backoff = BACKOFF
                .saturating_mul(1 << failures.min(6))
                .min(BACKOFF_MAX);
            let until = std::time::Instant::now() + backoff;
            while st.life == Life::Started && !self.cv.wait_until(&mut st, until).timed_out() {}
        }
        loop {
            if st.life != Life::Started || self.client.state() == CuratorFrameworkState::Stopped {
                return None;
            }
            if st.queued {
                st.queued = false;
                let t = Arc::new(CancelFlag::new());
                st.task = Some(t.clone());
                return Some(t);
            }
            self.cv.wait(&mut st);
        }
    }

    /// One election task; false if it failed (for the backoff).
    fn work(&self, task: &Arc<CancelFlag>) -> bool {
        if task.is_cancelled() {
            return true;
        }
        let made = if self.id.is_empty() {
            InterProcessMutex::new(&self.client, &self.path)
        } else {
            InterProcessMutex::with_lock_data(&self.client, &self.path, self.id.as_bytes())
        };
        let lock = match made {
            Ok(l) => l,
            Err(e) => {
                self.client
                    .report_unhandled(&format!("LeaderSelector {}", self.path), &e);
                return false;
            }
        };
        if !task.attach(&lock) {
            return true;
        }
        let acquired = lock.acquire();
        // Held (or given up): cancelling must no longer close the mutex, which would delete
        // a held node while take_leadership still runs.
        task.detach();
        let ok = match acquired {
            Ok(()) => {
                self.lead(task);
                // Leadership ended (the flag is down); now the node goes, handing over. A
                // cancellation that closed the mutex just before the detach deleted it already.
                if let Err(e) = lock.release() {
                    log::debug!("LeaderSelector {}: releasing: {e}", self.path);
                }
                true
            }
            // Cancelled or closed while waiting: the node is gone already.
            Err(Error::Closed) => true,
            Err(e) => {
                if self.auto_requeue.load(Ordering::Acquire) && e.is_retryable() {
                    log::debug!("LeaderSelector {}: {e}; queueing again", self.path);
                } else {
                    self.client
                        .report_unhandled(&format!("LeaderSelector {}", self.path), &e);
                }
                false
            }
        };
        lock.close();
        ok
    }

    /// Runs `take_leadership` unless the task was cancelled meanwhile.
    fn lead(&self, task: &Arc<CancelFlag>) {
        let session = self
            .client
            .zookeeper_client()
            .zookeeper()
            .map(|h| h.session_id())
            .unwrap_or(0);
        {
            let mut st = self.st.lock();
            if task.is_cancelled() || st.life != Life::Started {
                return;
            }
            st.leading = true;
            st.session = session;
        }
        let leadership = Leadership { flag: task.clone() };
        let listener = self.listener.clone();
        let r = catch_unwind(AssertUnwindSafe(|| {
            listener.take_leadership(&self.client, &leadership)
        }));
        {
            // The term is over: from here on `requeue` succeeds (Curator's CURATOR-671: a
            // requeue after seeing leadership end must not be refused); the node is
            // released next, before any new task starts.
            let mut st = self.st.lock();
            st.leading = false;
            st.task = None;
        }
        let what = format!("LeaderSelector {}: take_leadership", self.path);
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.client.report_unhandled(&what, &e),
            Err(p) => {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                self.client
                    .report_unhandled(&what, &Error::CallbackPanicked(msg));
            }
        }
    }
}
