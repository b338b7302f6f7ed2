//! The queue's view of its children (Curator's queue `ChildrenCache`): a watched
//! `getChildren` of the queue node, re-read whenever the watch fires and whenever the
//! connection comes back (CURATOR-623: without that, a queue whose session was replaced
//! never hears of new items again), kept as a versioned snapshot that the consumer thread and
//! bounded producers wait on.
//!
//! The same watcher also watches the lock nodes of items another consumer holds: when one
//! goes away (that consumer finished, failed or died) the version moves on so that the
//! consumer looks at the queue again (Curator only looks again when the children change,
//! which leaves an item stuck behind a dead consumer's lock until the next put).
//!
//! Each snapshot remembers how many puts of this process had completed when its read was
//! sent (`completed_at_read`): those are in it, later ones may not be. The bound on the
//! queue's size ([`super::bound`]) builds on that.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::error::Error;
use crate::framework::{ConnectionState, CuratorEvent, CuratorFramework, ListenerId};
use crate::proto::EventType;
use crate::recipes::cache::CacheWatch;
use crate::session::WatchedEvent;

/// One state of the queue node's children.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub children: Arc<Vec<String>>,
    /// Moves on with every read (and every [`ChildrenCache::poke`]).
    pub version: u64,
    /// Puts of this process known to be in `children` (see the module docs).
    pub completed_at_read: u64,
    /// The cache is closed: waiters return at once.
    pub closed: bool,
}

type StateHook = Arc<dyn Fn(&CuratorFramework, ConnectionState) + Send + Sync>;

pub(crate) struct ChildrenCache {
    client: CuratorFramework,
    path: String,
    snap: Mutex<Snapshot>,
    cv: Condvar,
    watch: CacheWatch,
    closed: AtomicBool,
    state_listener: Mutex<Option<ListenerId>>,
    /// The owner's count of completed puts.
    completed_puts: Arc<AtomicU64>,
    /// Called with every connection state change (the consumer's `state_changed`).
    on_state: Mutex<Option<StateHook>>,
}

impl ChildrenCache {
    pub fn new(
        client: &CuratorFramework,
        path: &str,
        completed_puts: Arc<AtomicU64>,
    ) -> Arc<ChildrenCache> {
        Arc::new_cyclic(|weak: &Weak<ChildrenCache>| {
            let weak = weak.clone();
            ChildrenCache {
                client: client.clone(),
                path: path.to_string(),
                snap: Mutex::new(Snapshot {
                    children: Arc::new(Vec::new()),
                    version: 0,
                    completed_at_read: 0,
                    closed: false,
                }),
                cv: Condvar::new(),
                watch: CacheWatch::new(move |e: &WatchedEvent| {
                    if let Some(c) = weak.upgrade() {
                        c.on_watch(e);
                    }
                }),
                closed: AtomicBool::new(false),
                state_listener: Mutex::new(None),
                completed_puts,
                on_state: Mutex::new(None),
            }
        })
    }

    /// Calls `f` with each connection state change from [`start`](Self::start) on.
    pub fn set_state_hook(
        &self,
        f: impl Fn(&CuratorFramework, ConnectionState) + Send + Sync + 'static,
    ) {
        *self.on_state.lock() = Some(Arc::new(f));
    }

    /// Starts following the children: a state listener that re-reads on every connection,
    /// and the first read.
    pub fn start(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let id = self.client.connection_state_listenable().add_listener(
            move |c: &CuratorFramework, s: ConnectionState| {
                let Some(cache) = weak.upgrade() else { return };
                if s.is_connected() {
                    cache.sync();
                }
                let hook = cache.on_state.lock().clone();
                if let Some(h) = hook {
                    h(c, s);
                }
            },
        );
        *self.state_listener.lock() = Some(id);
        self.sync();
    }

    /// The latest snapshot.
    pub fn current(&self) -> Snapshot {
        self.snap.lock().clone()
    }

    /// Waits until the version differs from `seen` (or the cache closes, or `deadline`
    /// passes) and returns the snapshot then.
    pub fn wait_next(&self, seen: u64, deadline: Option<Instant>) -> Snapshot {
        let mut s = self.snap.lock();
        while s.version == seen && !s.closed {
            match deadline {
                Some(d) => {
                    if self.cv.wait_until(&mut s, d).timed_out() {
                        break;
                    }
                }
                None => self.cv.wait(&mut s),
            }
        }
        s.clone()
    }

    /// Moves the version on without a read: makes the consumer look at the queue again.
    pub fn poke(&self) {
        let mut s = self.snap.lock();
        s.version += 1;
        drop(s);
        self.cv.notify_all();
    }

    /// Watches `lock_path` (another consumer's lock on an item) and pokes when it goes
    /// away. Pokes at once if it is already gone.
    pub fn watch_lock(self: &Arc<Self>, lock_path: &str) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        self.watch.note(lock_path);
        let weak = Arc::downgrade(self);
        let lp = lock_path.to_string();
        let r = self
            .client
            .check_exists()
            .using_watcher(self.watch.watcher())
            .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                let Some(cache) = weak.upgrade() else { return };
                if cache.closed.load(Ordering::Acquire) {
                    cache.watch.remove(&cache.client, &lp);
                    return;
                }
                if e.error().is_none() && e.stat().is_none() {
                    // Gone already: no watch was left on it.
                    cache.watch.forget(&lp);
                    cache.poke();
                }
            })
            .for_path(lock_path);
        if r.is_err() {
            self.poke();
        }
    }

    /// Re-reads the children with a watch, in the background.
    pub fn sync(self: &Arc<Self>) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let marker = self.completed_puts.load(Ordering::Acquire);
        let weak = Arc::downgrade(self);
        self.watch.note(&self.path);
        let r = self
            .client
            .get_children()
            .using_watcher(self.watch.watcher())
            .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                let Some(cache) = weak.upgrade() else { return };
                if cache.closed.load(Ordering::Acquire) {
                    // The read was on its way when close() took the watches back: its
                    // watch came after that.
                    cache.watch.remove(&cache.client, &cache.path);
                    return;
                }
                match (e.error(), e.children()) {
                    (None, Some(children)) => cache.set(children.to_vec(), marker),
                    (Some(Error::NoNode { .. }), _) => cache.recreate(),
                    (Some(err), _) => {
                        // Retries ran out; the next connection event reads again.
                        log::warn!("queue {}: reading the children failed: {err}", cache.path);
                    }
                    (None, None) => {}
                }
            })
            .for_path(&self.path);
        if let Err(e) = r {
            log::warn!("queue {}: cannot read the children: {e}", self.path);
        }
    }

    /// The queue node was deleted under us: nothing is queued; create it again (a queue node
    /// lives as long as its users) and read again.
    fn recreate(self: &Arc<Self>) {
        self.set(Vec::new(), self.completed_puts.load(Ordering::Acquire));
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        log::info!(
            "queue {}: the queue node is gone; creating it again",
            self.path
        );
        let weak = Arc::downgrade(self);
        let r = self
            .client
            .create()
            .creating_parent_containers_if_needed()
            .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                let Some(cache) = weak.upgrade() else { return };
                match e.error() {
                    None | Some(Error::NodeExists { .. }) => cache.sync(),
                    Some(err) => log::warn!("queue {}: cannot create it again: {err}", cache.path),
                }
            })
            .for_path(&self.path);
        if let Err(e) = r {
            log::warn!("queue {}: cannot create it again: {e}", self.path);
        }
    }

    fn set(&self, children: Vec<String>, completed_at_read: u64) {
        let mut s = self.snap.lock();
        s.children = Arc::new(children);
        s.version += 1;
        s.completed_at_read = completed_at_read;
        drop(s);
        self.cv.notify_all();
    }

    fn on_watch(self: &Arc<Self>, e: &WatchedEvent) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let Some(p) = e.path() else { return };
        if p == self.path {
            if e.event_type() == EventType::NodeDeleted {
                self.watch.forget(p);
            }
            self.sync();
        } else {
            // A lock node we watched: deleted (or changed; either way look again).
            self.watch.forget(p);
            self.poke();
        }
    }

    /// Stops following: removes the state listener and every watch this cache set, and
    /// releases waiters.
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(id) = self.state_listener.lock().take() {
            self.client
                .connection_state_listenable()
                .remove_listener(id);
        }
        self.on_state.lock().take();
        self.watch.remove_all(&self.client, Vec::new());
        let mut s = self.snap.lock();
        s.closed = true;
        drop(s);
        self.cv.notify_all();
    }
}
