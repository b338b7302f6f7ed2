//! [`LeaderLatch`]: Curator's leader latch. Every participant adds an ephemeral sequential
//! node `P/_c_<uuid>-latch-<seq>` (protected, data = the participant's id) and the one whose
//! node sorts first leads until it closes or loses its session. The protocol itself (on the
//! client's event thread) lives in [`engine`]; this file is the public face: building,
//! starting, asking, waiting and closing.

mod engine;
mod life;

use std::sync::Arc;
use std::time::{Duration, Instant};

use self::engine::Inner;
use super::participant::{leader_of, participants_of, sorted_nodes, Participant};
use crate::error::{Error, Result};
use crate::framework::{CuratorFramework, CuratorFrameworkState, Listenable, ListenerId};
use crate::path;
use crate::session::WorkerPool;

/// The node-name marker of latch nodes (`latch-`), as Curator writes it.
pub const LATCH_NODE_NAME: &str = "latch-";

/// The life of a [`LeaderLatch`] (Curator's `LeaderLatch.State`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaderLatchState {
    /// Built, not started.
    Latent,
    /// Started: the latch takes part in the election.
    Started,
    /// Closed: it no longer does, and cannot be started again.
    Closed,
}

/// Whether closing a latch that leads tells its listeners (Curator's `LeaderLatch.CloseMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CloseMode {
    /// The listeners are removed first: closing calls none of them (the default).
    #[default]
    Silent,
    /// A leader's listeners get [`not_leader`](LeaderLatchListener::not_leader) before they
    /// are removed.
    NotifyLeader,
}

/// Told when a [`LeaderLatch`] gains or loses leadership (Curator's `LeaderLatchListener`).
///
/// Calls come in the order of the changes, on the client's event thread or on the
/// [`WorkerPool`] the listener was added with. By the time a call runs the state may have
/// moved on again: [`LeaderLatch::has_leadership`] says what holds now.
///
/// Implemented for every `Fn(bool) + Send + Sync + 'static`, called with `true` for
/// `is_leader` and `false` for `not_leader`.
pub trait LeaderLatchListener: Send + Sync + 'static {
    /// The latch has become the leader.
    fn is_leader(&self);
    /// The latch is no longer the leader (it lost the connection or its session, or closed
    /// with [`CloseMode::NotifyLeader`]).
    fn not_leader(&self);
}

impl<F: Fn(bool) + Send + Sync + 'static> LeaderLatchListener for F {
    fn is_leader(&self) {
        self(true)
    }
    fn not_leader(&self) {
        self(false)
    }
}

impl Listenable<dyn LeaderLatchListener> {
    /// Adds a listener called on the client's event thread.
    pub fn add_listener(&self, l: impl LeaderLatchListener) -> ListenerId {
        self.add_arc(Arc::new(l), None)
    }

    /// Adds a listener called on `pool` (its calls stay in order).
    pub fn add_listener_with_executor(
        &self,
        l: impl LeaderLatchListener,
        pool: &WorkerPool,
    ) -> ListenerId {
        self.add_arc(Arc::new(l), Some(pool))
    }
}

/// Leader election by latch (Curator's `LeaderLatch`): of all the started latches on one
/// path, in any process and in Java or Rust, exactly one leads at a time.
///
/// The leader is the participant whose node comes first; the others each watch the node
/// before their own, so a departure wakes one participant only. A latch gives up leadership
/// as soon as its connection is suspended (with the client's default
/// [`ConnectionStateErrorPolicy`](crate::framework::ConnectionStateErrorPolicy); only when the
/// session is lost with `SessionConnectionStateErrorPolicy`), and takes it back — or joins the
/// queue again with a new node after a session loss — once connected again. Before claiming
/// leadership it checks that its node belongs to its current session, so a node left by an
/// expired session never makes two leaders (Curator's CURATOR-696).
///
/// [`has_leadership`](Self::has_leadership) reads the connection live (not only the events
/// delivered so far), so it turns false the moment the client is cut off, even while the
/// event thread is busy.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::leader::LeaderLatch;
/// # let server = zk_curator::testing::TestingServer::start()?;
/// # let connect_string = server.connect_string();
/// let client = CuratorFrameworkFactory::new_client(
///     &connect_string,
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let latch = LeaderLatch::builder(&client, "/election").id("worker-1").build()?;
/// latch.listenable().add_listener(|leader: bool| println!("leader now: {leader}"));
/// latch.start()?;
/// assert!(latch.await_leadership_timeout(Duration::from_secs(10))?);
/// assert_eq!(latch.leader()?.map(|p| p.id), Some("worker-1".to_string()));
/// latch.close()?; // the next participant, if any, takes over
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct LeaderLatch {
    inner: Arc<Inner>,
}

/// Builds a [`LeaderLatch`]: `LeaderLatch::builder(&client, path).id(..).close_mode(..).build()`.
#[must_use = "a builder does nothing until build()"]
pub struct LeaderLatchBuilder {
    client: CuratorFramework,
    path: String,
    id: String,
    close_mode: CloseMode,
}

impl LeaderLatchBuilder {
    /// The participant id other processes see in [`Participant::id`] (stored as the node's
    /// data, UTF-8). Default: empty.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// What [`close`](LeaderLatch::close) and dropping the latch do about the listeners.
    /// Default [`CloseMode::Silent`].
    pub fn close_mode(mut self, mode: CloseMode) -> Self {
        self.close_mode = mode;
        self
    }

    /// The latch (not started). Fails on an invalid path.
    pub fn build(self) -> Result<LeaderLatch> {
        path::validate_path(&self.path, false)?;
        Ok(LeaderLatch {
            inner: Inner::new(self.client, self.path, self.id, self.close_mode),
        })
    }
}

impl LeaderLatch {
    /// A latch on `path` with an empty id. Fails on an invalid path.
    pub fn new(client: &CuratorFramework, path: &str) -> Result<LeaderLatch> {
        Self::builder(client, path).build()
    }

    /// A builder for a latch on `path`.
    pub fn builder(client: &CuratorFramework, path: &str) -> LeaderLatchBuilder {
        LeaderLatchBuilder {
            client: client.clone(),
            path: path.to_string(),
            id: String::new(),
            close_mode: CloseMode::Silent,
        }
    }

    /// Joins the election (in the background, once the client is connected). Starting twice,
    /// or after `close`, or on a closed client is an error.
    pub fn start(&self) -> Result<()> {
        if self.inner.client.state() == CuratorFrameworkState::Stopped {
            return Err(Error::Closed);
        }
        self.inner.start()
    }

    /// Leaves the election with the latch's [`CloseMode`]: leadership ends at once, and the
    /// node is deleted in the background (guaranteed: retried until it is gone, for as long
    /// as the client runs; the session's end removes it in any case), which hands leadership
    /// over. Does not wait for the server. Closing a latch that is not started is an error.
    pub fn close(&self) -> Result<()> {
        self.inner.close(self.inner.close_mode)
    }

    /// [`close`](Self::close) with another [`CloseMode`] than the latch's.
    pub fn close_with_mode(&self, mode: CloseMode) -> Result<()> {
        self.inner.close(mode)
    }

    /// True while this latch leads: started, first in line with a node of its current
    /// session, and connected (or only suspended, with an error policy that allows it).
    pub fn has_leadership(&self) -> bool {
        self.inner.has_leadership()
    }

    /// Waits until this latch leads. Fails if it is not started or gets closed meanwhile.
    pub fn await_leadership(&self) -> Result<()> {
        self.inner.await_leadership(None).map(|_| ())
    }

    /// Waits at most `timeout` until this latch leads; `Ok(false)` on timeout. Fails if it is
    /// not started or gets closed meanwhile.
    pub fn await_leadership_timeout(&self, timeout: Duration) -> Result<bool> {
        self.inner
            .await_leadership(Instant::now().checked_add(timeout))
    }

    /// Every participant in election order (the leader first), read from the server.
    pub fn participants(&self) -> Result<Vec<Participant>> {
        let c = &self.inner.client;
        participants_of(c, &sorted_nodes(c, &self.inner.path, LATCH_NODE_NAME)?)
    }

    /// The current leader as the server sees it, or `None` when nobody takes part (Curator
    /// returns a participant with an empty id then).
    pub fn leader(&self) -> Result<Option<Participant>> {
        let c = &self.inner.client;
        leader_of(c, &sorted_nodes(c, &self.inner.path, LATCH_NODE_NAME)?)
    }

    /// The participant id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The election path.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// Latent, started or closed.
    pub fn state(&self) -> LeaderLatchState {
        self.inner.standing.lock().state
    }

    /// This latch's node, once created (Curator's `getOurPath`).
    pub fn our_path(&self) -> Option<String> {
        self.inner.standing.lock().our_path.clone()
    }

    /// The node this latch last led with (Curator's `getLastPathIsLeader`).
    pub fn last_path_is_leader(&self) -> Option<String> {
        self.inner.standing.lock().last_path_is_leader.clone()
    }

    /// The listeners told about leadership changes.
    pub fn listenable(&self) -> &Listenable<dyn LeaderLatchListener> {
        &self.inner.listeners
    }
}

impl Drop for LeaderLatch {
    /// Closes a started latch with its [`CloseMode`].
    fn drop(&mut self) {
        if self.inner.standing.lock().state == LeaderLatchState::Started {
            let _ = self.inner.close(self.inner.close_mode);
        }
    }
}

impl std::fmt::Debug for LeaderLatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let standing = self.inner.standing.lock();
        f.debug_struct("LeaderLatch")
            .field("path", &self.inner.path)
            .field("id", &self.inner.id)
            .field("state", &standing.state)
            .field("leader", &standing.leader)
            .field("our_path", &standing.our_path)
            .finish()
    }
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl std::fmt::Debug for LeaderLatchBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderLatchBuilder").finish_non_exhaustive()
    }
}
