//! One acquisition of a lock node, step by step (create, list, decide, wait), for
//! [`LockCore`]: the protocol and why it differs from Curator are in `core.rs`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::core::{Held, LockCore, Request, FAN_OUT, RECHECK};
use super::node::{remove_node_later, remove_node_soon, ProtectedCreate};
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::framework::{check_session, Monitor, RetryLoop, WatchTracker};
use crate::path;
use crate::proto::{CreateMode, EventType};
use crate::session::{SharedWatcher, WatchedEvent, Watcher};

impl LockCore {
    /// Queues a node and waits until it holds: `Some` when it does, `None` when the
    /// deadline passed first (the node is then removed).
    pub(crate) fn acquire(&self, req: &Request<'_>) -> Result<Option<Held>> {
        self.check_open()?;
        let parent = self.client.fix_path(self.base(), false)?;
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
                Err(Error::NoNode { path, op }) => {
                    // Our node (or the whole lock path) is gone, with the session that made
                    // it (Curator's "Sequential path not found"): queue again, if the
                    // policy allows.
                    if let Some(n) = self.node.take() {
                        remove_node_later(&self.core.client, &n.full);
                    }
                    self.retry
                        .take_exception(Error::SessionExpired)
                        .map_err(|_| Error::NoNode { path, op })?;
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
        inner.connected_handle(self.retry.connect_by(inner.cfg.connection_timeout))
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
                op: Some(crate::proto::OpCode::GetChildren),
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
