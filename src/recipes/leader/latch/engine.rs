//! The latch protocol, run on the client's event thread so that connection states, watch
//! events and background results are handled one at a time in server order:
//!
//! 1. *reset*: give up leadership, delete the old node (guaranteed), create a new protected
//!    `latch-` node in the background; its Stat says which session owns it.
//! 2. *check*: list the election (`getChildren`); our node missing: reset; our node owned by
//!    another session than the current one (the session changed since it was made): reset;
//!    first: lead, and watch our own node (so that its deletion by anyone ends leadership);
//!    otherwise: watch the node before ours with a `getData` watch.
//! 3. Any event of those watches, a `NoNode` reading the watched node, and every reconnect
//!    check again; a failed step is retried after a backoff (once connected again).
//!
//! Each reset starts a new *generation*: results of an older one are ignored, and a node
//! created for one is deleted. No lock is held while the client is called or listeners run.

use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::{CloseMode, LeaderLatchListener, LeaderLatchState, LATCH_NODE_NAME};
use crate::error::Error;
use crate::framework::{
    ConnectionState, CuratorEvent, CuratorFramework, Listenable, ListenerId,
    WatcherRemoveCuratorFramework,
};
use crate::path;
use crate::proto::{CreateMode, EventType};
use crate::recipes::on_event_thread;
use crate::session::{SharedWatcher, WatchedEvent};

pub(crate) struct Inner {
    /// The user's client, as a view that remembers the watches the latch sets.
    pub client: WatcherRemoveCuratorFramework,
    pub path: String,
    pub id: String,
    pub close_mode: CloseMode,
    pub standing: Mutex<Standing>,
    /// Signalled on every leadership change and on close.
    pub changed: Condvar,
    pub listeners: Listenable<dyn LeaderLatchListener>,
    /// The one watcher of every watch the latch sets.
    watcher: SharedWatcher,
    pub state_listener: Mutex<Option<ListenerId>>,
}

/// The latch's standing in the election, under one lock: its lifecycle, our node and the
/// session that owns it, whether it leads, and the generation that stale results are
/// checked against.
pub(crate) struct Standing {
    pub state: LeaderLatchState,
    /// The leadership flag (listeners have been or are being told about it).
    pub leader: bool,
    pub our_path: Option<String>,
    /// The session that owns `our_path` (its create's Stat), once known.
    pub owner: Option<i64>,
    pub last_path_is_leader: Option<String>,
    pub generation: u64,
    /// A create of this generation is in flight.
    creating: bool,
    retry_scheduled: bool,
    /// Consecutive failed steps, for the retry backoff.
    failures: u32,
}

impl Inner {
    pub(super) fn new(
        client: CuratorFramework,
        path: String,
        id: String,
        close_mode: CloseMode,
    ) -> Arc<Inner> {
        Arc::new_cyclic(|weak: &Weak<Inner>| {
            let weak = weak.clone();
            Inner {
                client: client.new_watcher_remove_curator_framework(),
                path,
                id,
                close_mode,
                standing: Mutex::new(Standing {
                    state: LeaderLatchState::Latent,
                    leader: false,
                    our_path: None,
                    owner: None,
                    last_path_is_leader: None,
                    generation: 0,
                    creating: false,
                    retry_scheduled: false,
                    failures: 0,
                }),
                changed: Condvar::new(),
                listeners: Listenable::default(),
                watcher: SharedWatcher::new(move |e: &WatchedEvent| {
                    if let Some(inner) = weak.upgrade() {
                        inner.on_watch(e);
                    }
                }),
                state_listener: Mutex::new(None),
            }
        })
    }

    // ------------------------------------------------------------------ the protocol

    pub(super) fn on_state(self: &Arc<Self>, s: ConnectionState) {
        match s {
            ConnectionState::Connected | ConnectionState::Reconnected => self.recheck(),
            ConnectionState::Suspended => {
                if self
                    .client
                    .connection_state_error_policy()
                    .is_error_state(s)
                {
                    self.set_leadership(false);
                }
            }
            ConnectionState::Lost => self.set_leadership(false),
            ConnectionState::ReadOnly => {}
        }
    }

    pub(super) fn on_watch(self: &Arc<Self>, e: &WatchedEvent) {
        if e.event_type() == EventType::None {
            return; // connection states come through on_state
        }
        // Any event on the predecessor (deleted, or its data changed, which used up the
        // one-shot watch) means: look again.
        self.recheck();
    }

    /// Checks where we stand: a new node if we have none, else the election's children.
    pub(super) fn recheck(self: &Arc<Self>) {
        let generation = {
            let standing = self.standing.lock();
            if standing.state != LeaderLatchState::Started || standing.creating {
                return;
            }
            if standing.our_path.is_none() {
                None
            } else {
                Some(standing.generation)
            }
        };
        match generation {
            None => self.reset(),
            Some(g) => self.get_children(g),
        }
    }

    fn reset(self: &Arc<Self>) {
        let (old, generation, was_leader) = {
            let mut standing = self.standing.lock();
            if standing.state != LeaderLatchState::Started {
                return;
            }
            standing.generation += 1;
            standing.creating = true;
            standing.owner = None;
            let was = std::mem::replace(&mut standing.leader, false);
            if was {
                self.changed.notify_all();
            }
            (standing.our_path.take(), standing.generation, was)
        };
        if was_leader {
            self.notify(false);
        }
        log::debug!(
            "LeaderLatch {}: joining (generation {generation}, old node {old:?})",
            self.path
        );
        if let Some(old) = old {
            self.delete(old);
        }
        let me = self.clone();
        let r = self
            .client
            .create()
            .creating_parent_containers_if_needed()
            .with_protection()
            .with_mode(CreateMode::EphemeralSequential)
            .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                me.on_created(generation, e)
            })
            .with_unhandled_error_listener(quiet)
            .for_path_with_data(
                &path::make_path(&self.path, LATCH_NODE_NAME),
                self.id.as_bytes(),
            );
        if let Err(e) = r {
            self.standing.lock().creating = false;
            self.failed(generation, "creating the latch node", &e);
        }
    }

    fn on_created(self: &Arc<Self>, generation: u64, e: &CuratorEvent) {
        let created = match (e.error(), e.name()) {
            (None, Some(name)) => Ok(name.to_string()),
            (Some(err), _) => Err(err.clone()),
            (None, None) => Err(Error::Protocol("a create result without a path".into())),
        };
        let keep = {
            let mut standing = self.standing.lock();
            let current = standing.generation == generation;
            if current {
                standing.creating = false;
            }
            match &created {
                Ok(name) if current && standing.state == LeaderLatchState::Started => {
                    standing.our_path = Some(name.clone());
                    standing.owner = e.stat().map(|s| s.ephemeral_owner);
                    standing.failures = 0;
                    true
                }
                _ => false,
            }
        };
        log::debug!(
            "LeaderLatch {}: created {created:?} (generation {generation}, kept: {keep})",
            self.path
        );
        match created {
            Ok(_) if keep => self.get_children(generation),
            // Made for a generation that is over (closed or reset meanwhile): not ours to keep.
            Ok(name) => self.delete(name),
            Err(err) => self.failed(generation, "creating the latch node", &err),
        }
    }

    fn get_children(self: &Arc<Self>, generation: u64) {
        let me = self.clone();
        let r = self
            .client
            .get_children()
            .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                me.on_children(generation, e)
            })
            .with_unhandled_error_listener(quiet)
            .for_path(&self.path);
        if let Err(e) = r {
            self.failed(generation, "listing the election", &e);
        }
    }

    fn on_children(self: &Arc<Self>, generation: u64, e: &CuratorEvent) {
        if !self.is_current(generation) {
            return;
        }
        match (e.error(), e.children()) {
            (None, Some(children)) => self.check(generation, children),
            // The election node itself is gone (and our node with it: CURATOR-724).
            (Some(Error::NoNode { .. }), _) => self.reset(),
            (Some(err), _) => self.failed(generation, "listing the election", &err.clone()),
            (None, None) => {}
        }
    }

    fn check(self: &Arc<Self>, generation: u64, children: &[String]) {
        let mut sorted = children.to_vec();
        path::sort_children(&mut sorted, LATCH_NODE_NAME);
        let (our, owner) = {
            let standing = self.standing.lock();
            if standing.generation != generation || standing.state != LeaderLatchState::Started {
                return;
            }
            (standing.our_path.clone(), standing.owner)
        };
        let Some(our) = our else { return };
        log::trace!("LeaderLatch {}: {our} among {sorted:?}", self.path);
        let Some(index) = sorted.iter().position(|c| c == path::node_name(&our)) else {
            log::debug!("latch node {our} is gone; joining again");
            return self.reset();
        };
        let session = self
            .client
            .zookeeper_client()
            .zookeeper()
            .map(|h| h.session_id());
        match (owner, session) {
            (Some(o), Ok(s)) if o == s => {}
            (Some(_), Ok(_)) => {
                // Made by a session that has ended since: the server deletes it sooner or
                // later, so it must not lead (CURATOR-696); join again with a new node.
                log::debug!("latch node {our} belongs to an earlier session; joining again");
                return self.reset();
            }
            (None, Ok(_)) => return self.confirm_owner(generation, our),
            (_, Err(_)) => return, // the client is closed
        }
        if index == 0 {
            self.claim(generation, &our);
            // A leader watches its own node, so that a deletion behind its back (an operator
            // making it step down) ends its leadership instead of making two leaders (Curator
            // does not: CURATOR-171). Issued after the claim: not on the hand-over's path.
            self.watch_node(generation, &our);
            return;
        }
        self.set_leadership(false);
        self.watch_node(generation, &path::make_path(&self.path, &sorted[index - 1]));
    }

    /// A `getData` watch on `node` (the predecessor, or our own node when leading); a
    /// missing node means: look again.
    fn watch_node(self: &Arc<Self>, generation: u64, node: &str) {
        let me = self.clone();
        let r = self
            .client
            .get_data()
            .using_shared_watcher(&self.watcher)
            .in_background(
                move |_c: &CuratorFramework, e: &CuratorEvent| match e.error() {
                    // Gone before the watch was set: look again.
                    Some(Error::NoNode { .. }) => me.recheck(),
                    Some(err) => {
                        let err = err.clone();
                        me.failed(generation, "watching a latch node", &err)
                    }
                    None => {}
                },
            )
            .with_unhandled_error_listener(quiet)
            .for_path(node);
        if let Err(e) = r {
            self.failed(generation, "watching a latch node", &e);
        }
    }

    /// The create's Stat was not available: read the owner from the node (Curator's way,
    /// one request more), then check again.
    fn confirm_owner(self: &Arc<Self>, generation: u64, our: String) {
        let me = self.clone();
        let r = self
            .client
            .check_exists()
            .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                match (e.error(), e.stat()) {
                    (None, Some(st)) => {
                        {
                            let mut standing = me.standing.lock();
                            if standing.generation != generation {
                                return;
                            }
                            standing.owner = Some(st.ephemeral_owner);
                        }
                        me.recheck();
                    }
                    (None, None) | (Some(Error::NoNode { .. }), _) => me.reset(),
                    (Some(err), _) => {
                        let err = err.clone();
                        me.failed(generation, "reading the latch node", &err)
                    }
                }
            })
            .with_unhandled_error_listener(quiet)
            .for_path(&our);
        if let Err(e) = r {
            self.failed(generation, "reading the latch node", &e);
        }
    }

    fn claim(self: &Arc<Self>, generation: u64, our: &str) {
        let gained = {
            let mut standing = self.standing.lock();
            if standing.generation != generation || standing.state != LeaderLatchState::Started {
                return;
            }
            standing.last_path_is_leader = Some(our.to_string());
            let gained = !std::mem::replace(&mut standing.leader, true);
            if gained {
                self.changed.notify_all();
            }
            gained
        };
        if gained {
            log::debug!("LeaderLatch {}: leading with {our}", self.path);
            self.notify(true);
        }
    }

    fn set_leadership(self: &Arc<Self>, leader: bool) {
        let changed = {
            let mut standing = self.standing.lock();
            if leader && standing.state != LeaderLatchState::Started {
                return;
            }
            let changed = std::mem::replace(&mut standing.leader, leader) != leader;
            if changed {
                self.changed.notify_all();
            }
            changed
        };
        if changed {
            self.notify(leader);
        }
    }

    /// Tells the listeners, on the event thread (at once when already there), in order.
    pub(super) fn notify(self: &Arc<Self>, leader: bool) {
        let me = self.clone();
        on_event_thread(&self.client, move || {
            me.listeners.for_each(move |l| {
                if leader {
                    l.is_leader()
                } else {
                    l.not_leader()
                }
            })
        });
    }

    fn is_current(&self, generation: u64) -> bool {
        let standing = self.standing.lock();
        standing.generation == generation && standing.state == LeaderLatchState::Started
    }

    /// A step failed: connection trouble is retried after a backoff (by then a reconnect
    /// may have checked already, which is harmless); anything else is reported and waits
    /// for the next reconnect.
    fn failed(self: &Arc<Self>, generation: u64, what: &str, e: &Error) {
        if !self.is_current(generation) {
            return;
        }
        if !(e.is_retryable() || matches!(e, Error::RequestTimeout)) {
            self.client
                .report_unhandled(&format!("LeaderLatch {}: {what}", self.path), e);
            return;
        }
        log::debug!("LeaderLatch {}: {what} failed ({e}); retrying", self.path);
        let delay = {
            let mut standing = self.standing.lock();
            if standing.retry_scheduled {
                return;
            }
            standing.retry_scheduled = true;
            standing.failures = standing.failures.saturating_add(1);
            Duration::from_millis(50 << standing.failures.min(5))
        };
        let weak = Arc::downgrade(self);
        self.client.inner.scheduler.schedule(delay, move || {
            let Some(me) = weak.upgrade() else { return };
            let client = me.client.clone();
            on_event_thread(&client, move || {
                me.standing.lock().retry_scheduled = false;
                // Not connected: the reconnect will check.
                if me.connected_as_delivered() {
                    me.recheck();
                }
            });
        });
    }

    /// Deletes a node of ours in the background, guaranteed: retried until it is gone for as
    /// long as the client runs. Never in the foreground: `close()` must not wait out an
    /// outage (connection timeout times the retries) to hand leadership over.
    pub(super) fn delete(&self, node: String) {
        let r = self
            .client
            .delete()
            .guaranteed()
            .quietly()
            .in_background(|_c: &CuratorFramework, _e: &CuratorEvent| {})
            .with_unhandled_error_listener(quiet)
            .for_path(&node);
        if let Err(e) = r {
            log::debug!("deleting latch node {node}: {e}");
        }
    }
}

/// Errors of the latch's background steps are handled by the latch itself.
fn quiet(msg: &str, e: &Error) {
    log::debug!("LeaderLatch: {msg}: {e}");
}
