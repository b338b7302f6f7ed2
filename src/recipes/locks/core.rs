//! The heart every lock recipe shares (Curator's `LockInternals` and its drivers, redone):
//! queue a protected sequential node under the lock's path, decide from the sorted siblings
//! whether it holds, wait for exactly the nodes that block it, and take it back out.
//!
//! # Protocol (Curator's, so that Java and Rust share a lock)
//!
//! The node is `<path>/_c_<uuid>-<name><seq>`, ephemeral-sequential, parents created as
//! containers. Siblings sort by the text after the last occurrence of each sort marker
//! ([`Naming`]), which is their sequence number whatever their protection prefix. A
//! [`Rule`] says which lower nodes *block* ours: every one (an exclusive lock) or only the
//! write nodes (a read lock). No blockers: the lock is ours.
//!
//! # What differs from Curator, and why
//!
//! * **One round trip to acquire a free lock.** The listing of the siblings is sent right
//!   behind the create, on the same session, so it already contains our node.
//! * **No listing after a hand-over.** A node with a lower sequence number than ours cannot
//!   appear after ours was created (the parent's counter only grows, and the parent cannot be
//!   removed while our node is in it). So the blockers seen once are all there will ever be,
//!   and when each has been seen deleted the lock is ours. With up to [`FAN_OUT`] blockers,
//!   all are watched (getData, pipelined); the last deletion hands the lock over with no
//!   request at all. With more, only the node Curator watches is (no herd), and its deletion
//!   leads to a new listing, as in Curator. The one exception is the write lock: a
//!   downgrade's read node carries an older sequence number and *can* appear later, so a
//!   writer lists once more before it holds ([`LockCore::confirm_hand_over`]).
//! * **Every wake-up is checked, every reconnect re-lists.** Any connection-state change,
//!   any event other than the deletion of a blocker (a watch used up by a data change), a
//!   new session, or a handle that is not connected sends the waiter back to listing. A
//!   waiter also looks at its state at least every [`RECHECK`], so nothing it depends on can
//!   leave it asleep.
//! * **One deadline for everything.** `acquire_timeout` bounds the whole acquisition:
//!   requests are waited for until the deadline only, retries sleep until it at most, and
//!   a node whose create is left unanswered is found and deleted in the background.
//! * **A hold is of this session.** The lock is only granted while the handle that saw the
//!   grant is connected on the session that created the node.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::node::{remove_node, remove_node_later, remove_node_soon, ProtectedCreate};
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::framework::{
    check_session, CuratorFramework, CuratorFrameworkState, ListenerId, Monitor, RetryLoop,
    WatchTracker,
};
use crate::path;
use crate::proto::{CreateMode, EventType};
use crate::session::{SharedWatcher, WatchedEvent, Watcher};

/// Up to this many blockers are all watched (no listing at hand-over); beyond, only one.
pub(crate) const FAN_OUT: usize = 8;

/// A waiter looks at its own state at least this often, whatever wakes it.
pub(crate) const RECHECK: Duration = Duration::from_millis(500);

/// The names a lock's nodes carry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Naming {
    /// The name a node is created with (before protection and sequence).
    pub lock_name: &'static str,
    /// Sort keys: the text after the last occurrence of each marker in turn.
    pub markers: &'static [&'static str],
}

impl Naming {
    /// The key `name` sorts by.
    pub(crate) fn sort_key<'a>(&self, name: &'a str) -> &'a str {
        self.markers
            .iter()
            .fold(name, |s, m| path::fix_for_sorting(s, m))
    }

    /// Sorts sibling names into lock order.
    pub(crate) fn sort(&self, names: &mut [String]) {
        names.sort_by(|a, b| self.sort_key(a).cmp(self.sort_key(b)));
    }
}

/// Which lower nodes keep a node from holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Every lower node (mutex, write lock).
    Exclusive,
    /// Lower nodes whose name contains this marker (read lock: write nodes).
    SharedExcept(&'static str),
}

/// What an acquisition wants.
pub(crate) struct Request<'a> {
    /// The node's data.
    pub data: &'a [u8],
    /// Create `<lock_name><seq>` as a plain ephemeral node and hold at once (the read lock
    /// taken by the write lock's holder: Curator 5.5's layout, see `read_write.rs`).
    pub granted_as: Option<String>,
    /// Give up at this instant (`None`: wait for as long as it takes).
    pub deadline: Option<Instant>,
    /// Left on the node once created, for as long as it lives (the revocation watch of
    /// `make_revocable`); called at once with a `NodeDataChanged` if the node's data is
    /// already the revocation request. It sees handle-level paths.
    pub revocation: Option<SharedWatcher>,
}

/// A node that holds the lock.
#[derive(Debug)]
pub(crate) struct Held {
    /// Handle-level path.
    pub full: String,
    /// The watches that live as long as the hold (revocation).
    pub watches: WatchTracker,
}

/// The shared core: one per lock instance, used by every thread that acquires through it.
pub(crate) struct LockCore {
    client: CuratorFramework,
    /// The lock's path as the user gave it (in the client's namespace).
    base: String,
    naming: Naming,
    rule: Rule,
    monitor: Arc<Monitor>,
    closed: AtomicBool,
    listener: Mutex<Option<ListenerId>>,
    /// `participant_nodes` lists only nodes carrying this lock's name (the read and the
    /// write lock share a path).
    own_nodes_only: bool,
    /// Confirm a hand-over with a listing (see [`confirm_hand_over`](Self::confirm_hand_over)).
    confirm: bool,
}

impl LockCore {
    /// A core for the lock at `base` (validated here).
    pub(crate) fn new(
        client: &CuratorFramework,
        base: &str,
        naming: Naming,
        rule: Rule,
    ) -> Result<LockCore> {
        path::validate_path(base, false)?;
        let monitor = Arc::new(Monitor::new());
        // Every connection change wakes every waiter of this lock, to look again.
        let m = monitor.clone();
        let id = client
            .connection_state_listenable()
            .add_listener(move |_: &CuratorFramework, _| m.notify_all());
        Ok(LockCore {
            client: client.clone(),
            base: base.to_string(),
            naming,
            rule,
            monitor,
            closed: AtomicBool::new(false),
            listener: Mutex::new(Some(id)),
            own_nodes_only: false,
            confirm: false,
        })
    }

    /// Blockers seen deleted are not proof enough: list again before holding. For the
    /// write lock, whose path also receives the read node of a downgrade: a plain ephemeral
    /// node carrying an *older* sequence number, which can appear after a writer has listed
    /// (and must then keep that writer out).
    pub(crate) fn confirm_hand_over(mut self) -> LockCore {
        self.confirm = true;
        self
    }

    /// `participant_nodes` lists only this lock's own kind of node.
    pub(crate) fn own_nodes_only(mut self) -> LockCore {
        self.own_nodes_only = true;
        self
    }

    pub(crate) fn client(&self) -> &CuratorFramework {
        &self.client
    }

    /// The lock's path (in the client's namespace).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Refuses new acquisitions and wakes the waiting ones (which give up with `Closed`).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(id) = self.listener.lock().take() {
            self.client
                .connection_state_listenable()
                .remove_listener(id);
        }
        self.monitor.notify_all();
    }

    /// `Err(Closed)` once the lock or the client is closed.
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.is_closed() || self.client.state() == CuratorFrameworkState::Stopped {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Queues a node and waits until it holds: `Some` when it does, `None` when the
    /// deadline passed first (the node is then removed).
    pub(crate) fn acquire(&self, req: &Request<'_>) -> Result<Option<Held>> {
        self.check_open()?;
        let parent = self.client.fix_path(&self.base, false)?;
        let (name, mode) = match &req.granted_as {
            Some(n) => (n.clone(), CreateMode::Ephemeral),
            None => (
                self.naming.lock_name.to_string(),
                CreateMode::EphemeralSequential,
            ),
        };
        let mut retry = self.client.zookeeper_client().new_retry_loop();
        if let Some(d) = req.deadline {
            retry = retry.with_deadline(d);
        }
        let mut a = Acquisition {
            core: self,
            req,
            create: ProtectedCreate::new(&parent, &name, mode),
            parent,
            node: None,
            watches: WatchTracker::default(),
            hold_watches: WatchTracker::default(),
            revocation_set: false,
            retry,
        };
        let r = a.run();
        a.watches.remove_all(&self.client);
        match r {
            Ok(Some(full)) => Ok(Some(Held {
                full,
                watches: std::mem::take(&mut a.hold_watches),
            })),
            other => {
                a.give_up();
                other.map(|_| None)
            }
        }
    }

    /// Takes a held node back out (guaranteed: retried in the background if need be).
    pub(crate) fn release(&self, held: Held) -> Result<()> {
        held.watches.remove_all(&self.client);
        remove_node(&self.client, &held.full)
    }

    /// The same for a close or drop: never waits long, never reports.
    pub(crate) fn release_quietly(&self, held: Held) {
        held.watches.remove_all(&self.client);
        remove_node_soon(&self.client, &held.full);
    }

    /// Every node of the lock's path in lock order, as paths in the client's namespace.
    pub(crate) fn participant_nodes(&self) -> Result<Vec<String>> {
        self.check_open()?;
        let mut kids = match self.client.get_children().for_path(&self.base) {
            Ok(k) => k,
            Err(Error::NoNode { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        self.naming.sort(&mut kids);
        Ok(kids
            .iter()
            .filter(|k| !self.own_nodes_only || k.contains(self.naming.lock_name))
            .map(|k| path::make_path(&self.base, k))
            .collect())
    }

    /// The lower nodes that keep `ours` from holding, in lock order; `None` if `ours` is not
    /// among `sorted`.
    fn blockers<'a>(&self, sorted: &'a [String], ours: &str) -> Option<Vec<&'a String>> {
        let at = sorted.iter().position(|n| n == ours)?;
        let lower = sorted[..at].iter();
        Some(match self.rule {
            Rule::Exclusive => lower.collect(),
            Rule::SharedExcept(marker) => lower.filter(|n| n.contains(marker)).collect(),
        })
    }

    /// The one node Curator watches among `blockers` (its predecessor for an exclusive
    /// lock, the first write node for a read lock).
    fn curators_pick<'a>(&self, blockers: &[&'a String]) -> Option<&'a String> {
        match self.rule {
            Rule::Exclusive => blockers.last().copied(),
            Rule::SharedExcept(_) => blockers.first().copied(),
        }
    }
}

impl Drop for LockCore {
    fn drop(&mut self) {
        self.close();
    }
}

/// The node an acquisition made, and the session that made it.
struct Node {
    full: String,
    name: String,
    session: i64,
}

/// What a waiter's watcher found.
#[derive(Default)]
struct WaitState {
    /// Blockers not yet seen deleted (names).
    left: Mutex<HashSet<String>>,
    /// Something other than a blocker's deletion happened: list again.
    relist: AtomicBool,
}

/// One acquisition in progress.
struct Acquisition<'a> {
    core: &'a LockCore,
    req: &'a Request<'a>,
    /// Handle-level lock path.
    parent: String,
    create: ProtectedCreate,
    node: Option<Node>,
    /// Watches set while waiting (removed when the acquisition ends).
    watches: WatchTracker,
    /// Watches that go with the hold (revocation).
    hold_watches: WatchTracker,
    /// The revocation watch is on our node.
    revocation_set: bool,
    retry: RetryLoop,
}

/// What to do next.
enum Step {
    Create,
    List,
    Decide(Vec<String>),
    Held,
}

impl Acquisition<'_> {
    /// The loop: `Ok(Some(path))` holds, `Ok(None)` timed out.
    fn run(&mut self) -> Result<Option<String>> {
        let mut step = Step::Create;
        loop {
            self.core.check_open()?;
            if self.retry.past_deadline() {
                return Ok(None);
            }
            let r = match step {
                Step::Create => self.create(),
                Step::List => self.list(),
                Step::Decide(kids) => self.decide(kids),
                Step::Held => return Ok(self.node.as_ref().map(|n| n.full.clone())),
            };
            step = match r {
                Ok(next) => {
                    self.retry.note_progress();
                    next
                }
                Err(e) if crate::client::is_deadline(&e, self.req.deadline) => return Ok(None),
                Err(Error::NoNode { path }) => {
                    // Our node (or the whole lock path) is gone, with the session that made
                    // it (Curator's "Sequential path not found"): queue again, if the
                    // policy allows.
                    if let Some(n) = self.node.take() {
                        remove_node_later(&self.core.client, &n.full);
                    }
                    self.retry
                        .take_exception(Error::SessionExpired)
                        .map_err(|_| Error::NoNode { path })?;
                    Step::Create
                }
                Err(e) => {
                    self.retry.take_exception(e)?;
                    if self.node.is_some() {
                        Step::List
                    } else {
                        Step::Create
                    }
                }
            };
        }
    }

    /// A connected handle, waiting no longer than the deadline allows.
    fn handle(&self) -> Result<Arc<ZooKeeper>> {
        check_session(&self.core.client.inner)?;
        let inner = &self.core.client.inner;
        let mut wait = inner.cfg.connection_timeout;
        if let Some(left) = self.retry.remaining() {
            wait = wait.min(left);
        }
        inner.connected_handle(wait)
    }

    fn create(&mut self) -> Result<Step> {
        let zk = self.handle()?;
        let list = self.req.granted_as.is_none().then_some(None);
        let c = self.create.attempt(
            &self.core.client,
            &zk,
            self.req.data,
            list,
            self.req.deadline,
        )?;
        let name = path::node_name(&c.full).to_string();
        self.node = Some(Node {
            full: c.full.clone(),
            name,
            session: c.session,
        });
        self.revocation_set = false;
        self.watch_for_revocation(&zk)?;
        match c.listing {
            None => Ok(Step::Held),
            Some(Ok(kids)) => Ok(Step::Decide(kids)),
            // The node is there; the listing is what failed.
            Some(Err(e)) if e.is_retryable() => Err(e),
            Some(Err(_)) => Ok(Step::List),
        }
    }

    fn list(&mut self) -> Result<Step> {
        let zk = self.handle()?;
        let Some(node) = &self.node else {
            return Ok(Step::Create);
        };
        if zk.session_id() != node.session {
            return self.session_changed();
        }
        self.watch_for_revocation(&zk)?;
        let kids = zk
            .get_children_deferred(&self.parent)?
            .wait(self.req.deadline)?;
        Ok(Step::Decide(kids))
    }

    /// The handle's session is not the one that made our node: that node dies with its
    /// session (or is deleted here, if the old session still lingers on the server).
    fn session_changed(&mut self) -> Result<Step> {
        if let Some(old) = self.node.take() {
            remove_node_later(&self.core.client, &old.full);
        }
        Ok(Step::Create)
    }

    fn decide(&mut self, mut kids: Vec<String>) -> Result<Step> {
        let Some(node) = &self.node else {
            return Ok(Step::Create);
        };
        self.core.naming.sort(&mut kids);
        let Some(blockers) = self.core.blockers(&kids, &node.name) else {
            return Err(Error::NoNode {
                path: node.full.clone(),
            });
        };
        if blockers.is_empty() {
            return Ok(Step::Held);
        }
        let all = blockers.len() <= FAN_OUT;
        let watched: Vec<String> = if all {
            blockers.iter().map(|s| s.to_string()).collect()
        } else {
            self.core
                .curators_pick(&blockers)
                .map(|s| vec![s.to_string()])
                .unwrap_or_default()
        };
        self.wait_for(watched, all)
    }

    /// Watches `names` and waits: until all are seen deleted (`all`: the lock is ours) or
    /// the watched one is (list again), or anything else happens (list again).
    fn wait_for(&mut self, names: Vec<String>, all: bool) -> Result<Step> {
        let zk = self.handle()?;
        let session = self.node.as_ref().map_or(0, |n| n.session);
        if zk.session_id() != session {
            return self.session_changed();
        }
        let state = Arc::new(WaitState::default());
        state.left.lock().extend(names.iter().cloned());
        let watcher = waiter(&state, &self.parent, self.core.monitor.clone());
        // All watches in one round trip.
        let mut pending = Vec::with_capacity(names.len());
        for n in &names {
            let full = path::make_path(&self.parent, n);
            self.watches.note(&self.core.client, &full, &watcher);
            pending.push((n, zk.get_data_deferred(&full, Some(watcher.clone()))?));
        }
        for (n, d) in pending {
            match d.wait(self.req.deadline) {
                Ok(_) => {}
                Err(Error::NoNode { .. }) => {
                    state.left.lock().remove(n.as_str());
                }
                Err(e) => return Err(e),
            }
        }
        loop {
            let seen = self.core.monitor.generation();
            self.core.check_open()?;
            let left = state.left.lock().len();
            if state.relist.load(Ordering::Acquire) || !all && left == 0 {
                return Ok(Step::List);
            }
            if all && left == 0 && self.core.confirm {
                return Ok(Step::List);
            }
            if all && left == 0 {
                // Granted by the deletions alone: only while this session is connected.
                let now = self.core.client.inner.handle()?;
                if now.session_id() == session && now.state().is_connected() {
                    return Ok(Step::Held);
                }
                return Ok(Step::List);
            }
            if self.retry.past_deadline() {
                return Ok(Step::List); // the loop sees the deadline
            }
            let mut until = Instant::now() + RECHECK;
            if let Some(d) = self.req.deadline {
                until = until.min(d);
            }
            self.core.monitor.wait_past(seen, Some(until));
            // Something else may have changed meanwhile: a new handle, a lost connection.
            match self.core.client.inner.handle() {
                Ok(h) if h.session_id() == session && h.state().is_connected() => {}
                Ok(_) => return Ok(Step::List),
                Err(e) => return Err(e),
            }
        }
    }

    /// Leaves the revocation watcher on our node, if asked and not done yet (Curator
    /// watches it from the moment the node exists, waiting or holding).
    fn watch_for_revocation(&mut self, zk: &ZooKeeper) -> Result<()> {
        let (Some(w), Some(node), false) = (&self.req.revocation, &self.node, self.revocation_set)
        else {
            return Ok(());
        };
        self.hold_watches.note(&self.core.client, &node.full, w);
        let (data, _) = zk
            .get_data_deferred(&node.full, Some(w.clone()))?
            .wait(self.req.deadline)?;
        if data == super::revoke::REVOKE_MESSAGE {
            w.process(&WatchedEvent::new(
                EventType::NodeDataChanged,
                crate::proto::KeeperState::SyncConnected,
                Some(node.full.clone()),
            ));
        }
        self.revocation_set = true;
        Ok(())
    }

    /// The acquisition ends without the lock: nothing it made may stay.
    fn give_up(&mut self) {
        self.hold_watches.remove_all(&self.core.client);
        if let Some(n) = self.node.take() {
            remove_node_soon(&self.core.client, &n.full);
        }
        self.create.abandon(&self.core.client);
    }
}

/// The watcher of one wait: notes blocker deletions, flags anything else, wakes the waiter.
fn waiter(state: &Arc<WaitState>, parent: &str, monitor: Arc<Monitor>) -> SharedWatcher {
    let st = Arc::downgrade(state);
    let parent = parent.to_string();
    SharedWatcher::new(move |e: &WatchedEvent| {
        if let Some(st) = st.upgrade() {
            let name = e.path().map(path::node_name);
            let deleted = e.event_type() == EventType::NodeDeleted
                && e.path().and_then(path::parent) == Some(parent.as_str())
                && name.is_some_and(|n| st.left.lock().remove(n));
            if !deleted {
                st.relist.store(true, Ordering::Release);
            }
        }
        monitor.notify_all();
    })
}
