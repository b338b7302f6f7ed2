//! [`LeaderSelector`]: Curator's leader selector. A participant queues for Curator's
//! inter-process mutex on the election path (`P/_c_<uuid>-lock-<seq>`, data = its id) and,
//! once it holds it, leads for as long as its listener's
//! [`take_leadership`](LeaderSelectorListener::take_leadership) runs, on the selector's own
//! thread. The thread and the election tasks live in [`worker`]; this file is the public
//! face and the cancellation flag.

mod worker;

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use self::worker::Shared;
use super::participant::{leader_of, participants_of, sorted_nodes, Participant};
use crate::error::Result;
use crate::framework::{ConnectionState, CuratorFramework};
use crate::path;
use crate::recipes::locks::InterProcessMutex;

/// Told what a [`LeaderSelector`] needs its user to do (Curator's `LeaderSelectorListener`).
///
/// `state_changed` has Curator's `LeaderSelectorListenerAdapter` behaviour unless
/// overridden: a state the client's error policy counts as an error (`Suspended` or `Lost`
/// by default) cancels the election, as the adapter's `CancelLeadershipException` does.
///
/// Implemented for every `Fn(&CuratorFramework, &Leadership) -> Result<()> + Send + Sync`
/// (with the adapter's `state_changed`).
pub trait LeaderSelectorListener: Send + Sync + 'static {
    /// This participant leads until this returns; runs on the selector's thread.
    ///
    /// Rust has no thread interrupt: where Curator interrupts the thread (connection
    /// trouble, [`LeaderSelector::interrupt_leadership`], `close`), `leadership` is
    /// cancelled instead. Poll [`Leadership::is_cancelled`] between steps, or wait with
    /// [`Leadership::wait_cancelled`], and return soon once it is cancelled: another
    /// process may already lead. An error returned here is reported to the client's
    /// unhandled-error listeners; either way leadership is given up.
    fn take_leadership(&self, client: &CuratorFramework, leadership: &Leadership) -> Result<()>;

    /// A connection state change (on the client's event thread; keep it short). Returning
    /// `Err(CancelLeadership)` cancels the current election: a waiting participant leaves
    /// the queue, a leader's [`Leadership`] is cancelled. By default: cancel on the client's
    /// error states (Curator's `LeaderSelectorListenerAdapter`).
    fn state_changed(
        &self,
        client: &CuratorFramework,
        new_state: ConnectionState,
    ) -> std::result::Result<(), CancelLeadership> {
        if client
            .connection_state_error_policy()
            .is_error_state(new_state)
        {
            Err(CancelLeadership)
        } else {
            Ok(())
        }
    }
}

impl<F> LeaderSelectorListener for F
where
    F: Fn(&CuratorFramework, &Leadership) -> Result<()> + Send + Sync + 'static,
{
    fn take_leadership(&self, client: &CuratorFramework, leadership: &Leadership) -> Result<()> {
        self(client, leadership)
    }
}

/// Returned by [`LeaderSelectorListener::state_changed`] to cancel the election (Curator's
/// `CancelLeadershipException`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CancelLeadership;

impl std::fmt::Display for CancelLeadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("leadership cancelled")
    }
}

impl std::error::Error for CancelLeadership {}

/// One term of leadership, as [`take_leadership`](LeaderSelectorListener::take_leadership)
/// sees it: the cancellation flag that stands in for Curator's thread interrupt.
///
/// It is cancelled when the listener's `state_changed` asks for it (by default on
/// `Suspended` and `Lost`), on [`LeaderSelector::interrupt_leadership`] and on
/// [`LeaderSelector::close`]. Once cancelled it stays so; the next term gets a new one.
#[derive(Clone)]
pub struct Leadership {
    flag: Arc<CancelFlag>,
}

impl Leadership {
    /// True once this term is cancelled: stop and return from `take_leadership`.
    pub fn is_cancelled(&self) -> bool {
        self.flag.is_cancelled()
    }

    /// Sleeps until this term is cancelled or `timeout` passes; true if cancelled. A
    /// cancellable `sleep` for a leader that works in steps.
    pub fn wait_cancelled(&self, timeout: Duration) -> bool {
        self.flag.wait(Instant::now().checked_add(timeout))
    }

    /// Blocks until this term is cancelled (a leader with nothing to do but lead).
    pub fn wait_until_cancelled(&self) {
        self.flag.wait(None);
    }
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// The flag of one election task (waiting or leading), and the mutex it waits on, which
/// cancelling closes so that a waiting `acquire` gives up at once (and deletes its node).
pub(crate) struct CancelFlag {
    cancelled: Mutex<bool>,
    cv: Condvar,
    waiting_on: Mutex<Option<InterProcessMutex>>,
}

impl CancelFlag {
    pub(crate) fn new() -> CancelFlag {
        CancelFlag {
            cancelled: Mutex::new(false),
            cv: Condvar::new(),
            waiting_on: Mutex::new(None),
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        *self.cancelled.lock()
    }

    pub(crate) fn cancel(&self) {
        *self.cancelled.lock() = true;
        self.cv.notify_all();
        let lock = self.waiting_on.lock().take();
        if let Some(lock) = lock {
            lock.close();
        }
    }

    /// Ties `lock` to this flag while the task waits for it: closed when the flag is
    /// cancelled (at once if it already is). False if it already was.
    pub(crate) fn attach(&self, lock: &InterProcessMutex) -> bool {
        *self.waiting_on.lock() = Some(lock.clone());
        if self.is_cancelled() {
            lock.close();
            return false;
        }
        true
    }

    /// The wait is over: cancelling no longer touches the mutex.
    pub(crate) fn detach(&self) {
        self.waiting_on.lock().take();
    }

    /// Waits until cancelled or `deadline`; whether cancelled.
    fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut c = self.cancelled.lock();
        while !*c {
            match deadline {
                Some(d) => {
                    if self.cv.wait_until(&mut c, d).timed_out() {
                        break;
                    }
                }
                None => self.cv.wait(&mut c),
            }
        }
        *c
    }
}

/// Leader election by mutex (Curator's `LeaderSelector`): of all the started selectors on
/// one path, in any process and in Java or Rust, one at a time runs its listener's
/// [`take_leadership`](LeaderSelectorListener::take_leadership); leadership ends when it
/// returns. With [`auto_requeue`](Self::auto_requeue) the selector then queues again (at
/// the back), otherwise it waits for [`requeue`](Self::requeue).
///
/// Each election task queues one node in Curator's mutex layout, so Java `LeaderSelector`s
/// and `InterProcessMutex`es on the same path take part too. The listener is told about
/// connection changes and, by default, cancels the election on `Suspended` and `Lost`:
/// since Rust cannot interrupt a thread, the [`Leadership`] passed to `take_leadership` is
/// cancelled, and the listener must poll or wait on it and return (see
/// [`LeaderSelectorListener`]). [`has_leadership`](Self::has_leadership) is false from that
/// moment.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::leader::{LeaderSelector, Leadership};
/// use zk_curator::CuratorFramework;
/// # let server = zk_curator::testing::TestingServer::start()?;
/// # let connect_string = server.connect_string();
/// let client = CuratorFrameworkFactory::new_client(
///     &connect_string,
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let (tx, rx) = std::sync::mpsc::channel();
/// let selector = LeaderSelector::builder(
///     &client,
///     "/election",
///     move |c: &CuratorFramework, leadership: &Leadership| {
///         // Lead: work in steps, stop when cancelled (connection trouble, close()).
///         while !leadership.wait_cancelled(Duration::from_millis(10)) {
///             c.set_data().for_path("/election", b"working")?;
///             let _ = tx.send(());
///         }
///         Ok(()) // returning gives leadership up
///     },
/// )
/// .id("worker-1")
/// .build()?;
/// selector.auto_requeue();
/// selector.start()?;
/// rx.recv_timeout(Duration::from_secs(10)).unwrap();
/// assert!(selector.has_leadership());
/// assert_eq!(selector.leader()?.map(|p| p.id), Some("worker-1".to_string()));
/// selector.close()?;
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct LeaderSelector {
    shared: Arc<Shared>,
}

/// Builds a [`LeaderSelector`].
#[must_use = "a builder does nothing until build()"]
pub struct LeaderSelectorBuilder {
    client: CuratorFramework,
    path: String,
    listener: Arc<dyn LeaderSelectorListener>,
    id: String,
}

impl LeaderSelectorBuilder {
    /// The participant id other processes see in [`Participant::id`] (the node's data,
    /// UTF-8; Curator's `setId`). Default: none, and the node gets the client's default data.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// The selector (not started). Fails on an invalid path.
    pub fn build(self) -> Result<LeaderSelector> {
        path::validate_path(&self.path, false)?;
        Ok(LeaderSelector {
            shared: Shared::new(self.client, self.path, self.id, self.listener),
        })
    }
}

impl LeaderSelector {
    /// A selector on `path` without an id. Fails on an invalid path.
    pub fn new(
        client: &CuratorFramework,
        path: &str,
        listener: impl LeaderSelectorListener,
    ) -> Result<LeaderSelector> {
        Self::builder(client, path, listener).build()
    }

    /// A builder for a selector on `path`.
    pub fn builder(
        client: &CuratorFramework,
        path: &str,
        listener: impl LeaderSelectorListener,
    ) -> LeaderSelectorBuilder {
        LeaderSelectorBuilder {
            client: client.clone(),
            path: path.to_string(),
            listener: Arc::new(listener),
            id: String::new(),
        }
    }

    /// From now on, queue again each time leadership ends (or an election task fails),
    /// until closed (Curator's `autoRequeue`).
    pub fn auto_requeue(&self) {
        self.shared.set_auto_requeue();
    }

    /// Starts the selector's thread and queues for leadership. Starting twice, after
    /// `close`, or on a closed client is an error.
    pub fn start(&self) -> Result<()> {
        self.shared.start()
    }

    /// Queues for leadership unless a task is queued or running already (`Ok(false)` then).
    /// An error after `close` or before `start`.
    pub fn requeue(&self) -> Result<bool> {
        self.shared.requeue()
    }

    /// Cancels the current term if this selector leads (Curator's `interruptLeadership`).
    pub fn interrupt_leadership(&self) {
        self.shared.interrupt_leadership()
    }

    /// Leaves the election: a waiting task gives up (its node is deleted), a leader's term
    /// is cancelled (its node is deleted once `take_leadership` returns), nothing is queued
    /// again, and the selector's thread ends after that. Does not wait for
    /// `take_leadership` to return. Closing a selector that is not started is an error.
    pub fn close(&self) -> Result<()> {
        self.shared.close()
    }

    /// True while `take_leadership` runs with a term not cancelled, on a connection that is
    /// up (or only suspended, where the client's error policy allows it) and on the session
    /// that holds the node.
    pub fn has_leadership(&self) -> bool {
        self.shared.has_leadership()
    }

    /// Every participant in election order (the leader first), read from the server.
    pub fn participants(&self) -> Result<Vec<Participant>> {
        let c = &self.shared.client;
        participants_of(c, &sorted_nodes(c, &self.shared.path, worker::LOCK_NAME)?)
    }

    /// The current leader as the server sees it, or `None` when nobody takes part.
    pub fn leader(&self) -> Result<Option<Participant>> {
        let c = &self.shared.client;
        leader_of(c, &sorted_nodes(c, &self.shared.path, worker::LOCK_NAME)?)
    }

    /// The participant id (empty when none was given).
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// The election path.
    pub fn path(&self) -> &str {
        &self.shared.path
    }
}

impl Drop for LeaderSelector {
    /// Closes a started selector.
    fn drop(&mut self) {
        self.shared.close_if_started();
    }
}

impl std::fmt::Debug for LeaderSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderSelector")
            .field("path", &self.shared.path)
            .field("id", &self.shared.id)
            .field("has_leadership", &self.has_leadership())
            .finish()
    }
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl std::fmt::Debug for LeaderSelectorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderSelectorBuilder")
            .finish_non_exhaustive()
    }
}
