//! [`PersistentNode`]: a node that stays in place — re-created after a session loss and after
//! someone deletes it, its data re-written after a failed update — until `close()` (Curator's
//! `PersistentNode`, same layout).
//!
//! The work happens in *passes* (see `pass.rs`), one at a time per node, on the framework's
//! timer thread: `start()`, a watch event, a reconnection, `set_data` and failed passes (after
//! a backoff) ask for a pass; requests that arrive while one runs make it run again. A pass
//! works on the current session only and reads before it acts, so a late event never undoes
//! newer state.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::builder::{check_size, PersistentNodeBuilder};
use super::pass::{Pass, PassEnd};
use super::state::{delete_guaranteed, Inner, Life, PersistentNodeListener, State};
use crate::error::{Error, Result};
use crate::framework::protection::{new_protected_id, protected_path};
use crate::framework::{CuratorFramework, Listenable};
use crate::path;
use crate::proto::CreateMode;
use crate::session::{SharedWatcher, WatchedEvent};

/// A node that stays in place until closed (Curator's `PersistentNode`).
///
/// Any create mode works. An ephemeral node is re-created in the new session after a session
/// loss; any node is re-created after someone else deletes it; [`set_data`](Self::set_data)
/// is written again after a failure. A node found at the path when creating is adopted (and
/// given our data) when it is persistent or ours; an ephemeral node of another live session is
/// waited out, never taken over, and one left by a dead session of ours is replaced.
///
/// Sequential modes always use protection (the `_c_<uuid>-` name prefix, which every Curator
/// recipe ignores when sorting): it is how a create whose reply was lost is found instead of
/// being made twice. A re-created sequential node keeps its name (created again with the
/// non-sequential mode), so [`actual_path`](Self::actual_path) is stable.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::nodes::PersistentNode;
/// use zk_curator::CreateMode;
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let node = PersistentNode::new(&client, CreateMode::Ephemeral, false, "/services/api/host-1", b"10.0.0.1:80")?;
/// node.start()?;
/// assert!(node.wait_for_initial_create(Duration::from_secs(10))?);
/// assert_eq!(node.actual_path().as_deref(), Some("/services/api/host-1"));
/// node.set_data(b"10.0.0.1:8080")?;
/// node.close(); // deletes the node
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct PersistentNode {
    pub(super) inner: Arc<Inner>,
}

impl PersistentNode {
    /// A node at `base_path` in `mode`, with `init_data`, protected names if
    /// `use_protection` (Curator's five-argument constructor). Not started.
    pub fn new(
        client: &CuratorFramework,
        mode: CreateMode,
        use_protection: bool,
        base_path: &str,
        init_data: &[u8],
    ) -> Result<PersistentNode> {
        PersistentNode::builder(client, base_path)
            .mode(mode)
            .protection(use_protection)
            .data(init_data)
            .build()
    }

    /// A builder for the other options (TTL, parent creation).
    pub fn builder(client: &CuratorFramework, base_path: &str) -> PersistentNodeBuilder {
        PersistentNodeBuilder {
            client: client.clone(),
            path: base_path.to_string(),
            mode: CreateMode::Ephemeral,
            protection: false,
            data: client.default_data().to_vec(),
            ttl: None,
            parents: true,
            delete_on_close: true,
        }
    }

    /// Starts creating the node, in the background; see
    /// [`wait_for_initial_create`](Self::wait_for_initial_create).
    pub fn start(&self) -> Result<()> {
        let inner = &self.inner;
        {
            let st = inner.st.lock();
            match st.life {
                Life::Latent => {}
                Life::Started => {
                    return Err(Error::InvalidArgument(format!(
                        "PersistentNode {} was already started",
                        inner.user_path
                    )))
                }
                Life::Closed => return Err(Error::Closed),
            }
        }
        // Resolves the namespace (which may create its node) on the caller's thread.
        let full = inner
            .client
            .fix_path(&inner.user_path, inner.mode.is_sequential())?;
        let base = match &inner.protected_id {
            Some(id) => protected_path(&full, id),
            None => full,
        };
        {
            let mut st = inner.st.lock();
            if st.life != Life::Latent {
                return Err(Error::Closed);
            }
            st.base = Some(base);
            st.life = Life::Started;
        }
        inner
            .client
            .add_weak_state_listener(inner, &inner.state_listener, |inner, _c, s| {
                // Connected again (the node may be gone with a session): look.
                if s.is_connected() {
                    inner.trigger();
                }
            });
        inner.trigger();
        Ok(())
    }

    /// Waits until the node has been created (or adopted) once: true if it was within
    /// `timeout`.
    pub fn wait_for_initial_create(&self, timeout: Duration) -> Result<bool> {
        let inner = &self.inner;
        let deadline = Instant::now().checked_add(timeout);
        let mut st = inner.st.lock();
        loop {
            match st.life {
                Life::Latent => {
                    return Err(Error::InvalidArgument(format!(
                        "PersistentNode {} is not started",
                        inner.user_path
                    )))
                }
                Life::Closed => return Err(Error::Closed),
                Life::Started if st.initial_done => return Ok(true),
                Life::Started => {}
            }
            match deadline {
                Some(d) => {
                    if inner.cv.wait_until(&mut st, d).timed_out() {
                        return Ok(st.initial_done);
                    }
                }
                None => inner.cv.wait(&mut st),
            }
        }
    }

    /// The node's path (with its protection prefix and sequence number), once created;
    /// `None` before, and after `close()`.
    pub fn actual_path(&self) -> Option<String> {
        let node = self.inner.st.lock().node.clone();
        node.map(|n| self.inner.client.unfix_path(&n))
    }

    /// Changes the node's data: written now (in the background) and kept for every
    /// re-creation; a write that fails is made again once possible.
    pub fn set_data(&self, data: &[u8]) -> Result<()> {
        check_size(&self.inner.client, data)?;
        {
            let mut st = self.inner.st.lock();
            if st.life == Life::Closed {
                return Err(Error::Closed);
            }
            st.data = data.to_vec();
            st.data_gen += 1;
            st.dirty = true;
        }
        self.inner.trigger();
        Ok(())
    }

    /// The data the node should hold.
    pub fn data(&self) -> Vec<u8> {
        self.inner.st.lock().data.clone()
    }

    /// Told each time the node is created.
    pub fn listenable(&self) -> &Listenable<dyn PersistentNodeListener> {
        &self.inner.listeners
    }

    /// Stops keeping the node and deletes it (a guaranteed delete: retried in the background
    /// if the connection is down). Idempotent.
    pub fn close(&self) {
        self.inner.close();
    }
}

impl Drop for PersistentNode {
    fn drop(&mut self) {
        self.inner.close();
    }
}

impl std::fmt::Debug for PersistentNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistentNode")
            .field("path", &self.inner.user_path)
            .field("mode", &self.inner.mode)
            .field("actual_path", &self.actual_path())
            .finish()
    }
}

// The builder's last step, here beside the node it makes.
impl PersistentNodeBuilder {
    /// Checks the options and builds the (not started) node.
    pub fn build(self) -> Result<PersistentNode> {
        let seq = self.mode.is_sequential();
        path::validate_path(&self.path, seq)?;
        if self.mode.is_ttl() != self.ttl.is_some() {
            return Err(Error::InvalidArgument(format!(
                "mode {:?} and TTL {:?} do not go together",
                self.mode, self.ttl
            )));
        }
        if self.ttl.is_some_and(|t| t.is_zero()) {
            return Err(Error::InvalidArgument("a TTL of zero".into()));
        }
        check_size(&self.client, &self.data)?;
        let protected_id = (self.protection || seq).then(new_protected_id);
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let weak = weak.clone();
            Inner {
                client: self.client.clone(),
                user_path: self.path.clone(),
                mode: self.mode,
                protected_id,
                ttl: self.ttl,
                parents: self.parents,
                delete_on_close: self.delete_on_close,
                st: Mutex::new(State {
                    life: Life::Latent,
                    base: None,
                    data: self.data,
                    data_gen: 0,
                    dirty: false,
                    node: None,
                    sessions: Vec::new(),
                    create_in_doubt: false,
                    initial_done: false,
                    running: false,
                    again: false,
                    failures: 0,
                    warned: false,
                }),
                cv: Condvar::new(),
                watcher: SharedWatcher::new(move |e: &WatchedEvent| {
                    if e.event_type() != crate::proto::EventType::None {
                        if let Some(inner) = weak.upgrade() {
                            inner.trigger();
                        }
                    }
                }),
                listeners: Arc::default(),
                state_listener: Mutex::new(None),
            }
        });
        Ok(PersistentNode { inner })
    }
}

impl Inner {
    /// Asks for a pass: runs one on the timer thread, or makes the running one go again.
    pub(super) fn trigger(self: &Arc<Self>) {
        {
            let mut st = self.st.lock();
            if st.life != Life::Started {
                return;
            }
            if st.running {
                st.again = true;
                return;
            }
            st.running = true;
        }
        let me = self.clone();
        self.client
            .inner
            .scheduler
            .schedule(Duration::ZERO, move || me.run());
    }

    /// Passes until one ends with nothing new asked meanwhile.
    fn run(self: &Arc<Self>) {
        loop {
            {
                let mut st = self.st.lock();
                st.again = false;
                if st.life != Life::Started {
                    st.running = false;
                    self.cv.notify_all();
                    return;
                }
            }
            let (end, created) = Pass::new(self).run();
            if let Some(p) = created {
                self.announce(p);
            }
            let mut st = self.st.lock();
            let retry = match end {
                PassEnd::Done => {
                    st.failures = 0;
                    None
                }
                // The next connected state asks again; a look now and then covers a state
                // reported before the handle itself counts as connected.
                PassEnd::Disconnected => {
                    st.failures = st.failures.saturating_add(1);
                    Some(Duration::from_millis(50 << st.failures.min(5)))
                }
                PassEnd::Retry(e) => {
                    st.failures = st.failures.saturating_add(1);
                    if st.failures == 3 {
                        self.client.report_unhandled(
                            &format!("PersistentNode {}: cannot create the node", self.user_path),
                            &e,
                        );
                    }
                    Some(Duration::from_millis(50 << st.failures.min(7)))
                }
            };
            if st.again && st.life == Life::Started {
                continue;
            }
            st.running = false;
            self.cv.notify_all();
            drop(st);
            if let Some(delay) = retry {
                let weak = Arc::downgrade(self);
                self.client.inner.scheduler.schedule(delay, move || {
                    if let Some(inner) = weak.upgrade() {
                        inner.trigger();
                    }
                });
            }
            return;
        }
    }

    fn announce(&self, handle_path: String) {
        let p: Arc<str> = Arc::from(self.client.unfix_path(&handle_path));
        let listeners = self.listeners.clone();
        self.client.inner.events.post(move || {
            listeners.for_each(move |l| l.node_created(&p));
        });
    }

    fn close(&self) {
        let node = {
            let mut st = self.st.lock();
            if st.life != Life::Started {
                st.life = Life::Closed;
                return;
            }
            st.life = Life::Closed;
            // A pass in progress finishes first (bounded: its requests end with the
            // connection); whatever it creates after this is deleted by the pass itself.
            let deadline = Instant::now() + self.client.zookeeper_client().connection_timeout();
            while st.running {
                if self.cv.wait_until(&mut st, deadline).timed_out() {
                    break;
                }
            }
            self.cv.notify_all();
            st.node.take()
        };
        self.client.remove_state_listener(&self.state_listener);
        self.listeners.clear();
        if let (Some(node), true) = (node, self.delete_on_close) {
            delete_guaranteed(&self.client, &node);
        }
    }
}
