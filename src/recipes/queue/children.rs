//! The queue's view of its children: a children watch on the queue node that marks the
//! view stale, and listings made on demand by whoever needs them (the consumer thread when
//! it has finished with the previous listing, a bounded producer about to wait).
//!
//! Curator's queue `ChildrenCache` re-lists the children on every watch event. With a
//! backlog of thousands of items, every item taken changes the children, so every item
//! costs a listing of the whole backlog (quadratic in the backlog, and the server's CPU goes
//! to it). Here a watch event only moves the version on; the consumer lists again once it
//! has gone through the items of its last listing, so a backlog costs one listing per pass.
//!
//! The version also moves on when the connection comes back (the watch may have gone with
//! the session: CURATOR-623, where a queue stopped hearing of new items after a long
//! partition) and when a lock node we watch goes away (another consumer finished, failed or
//! died holding an item: look again at once instead of waiting for the next put).
//!
//! Each listing remembers how many puts of this process had completed when it was sent
//! (`completed_at_read`): those are in it, later ones may not be. The `max_items` bound
//! ([`super::bound`]) builds on that.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::framework::{ConnectionState, CuratorEvent, CuratorFramework, ListenerId};
use crate::proto::EventType;
use crate::recipes::cache::CacheWatch;
use crate::session::WatchedEvent;

/// The last listing of the queue node's children, and the change count.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub children: Arc<Vec<String>>,
    /// Moves on with every change heard of (children watch, reconnect, a watched lock gone).
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
    /// A children watch is in place (set by a listing, cleared when it fires or the
    /// connection comes back).
    armed: AtomicBool,
    closed: AtomicBool,
    state_listener: Mutex<Option<ListenerId>>,
    /// The owner's count of completed puts.
    completed_puts: Arc<AtomicU64>,
    /// Called with every connection state change (the consumer's `state_changed`).
    on_state: Mutex<Option<StateHook>>,
}

impl ChildrenCache {
    pub(crate) fn new(
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
                armed: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                state_listener: Mutex::new(None),
                completed_puts,
                on_state: Mutex::new(None),
            }
        })
    }

    /// Calls `f` with each connection state change from [`start`](Self::start) on.
    pub(crate) fn set_state_hook(
        &self,
        f: impl Fn(&CuratorFramework, ConnectionState) + Send + Sync + 'static,
    ) {
        *self.on_state.lock() = Some(Arc::new(f));
    }

    /// Starts following the connection: every connected state marks the view stale (a new
    /// session has no watch). The first listing is the first user's.
    pub(crate) fn start(self: &Arc<Self>) {
        self.client
            .add_weak_state_listener(self, &self.state_listener, |cache, c, s| {
                if s.is_connected() {
                    cache.armed.store(false, Ordering::Release);
                    cache.changed();
                }
                let hook = cache.on_state.lock().clone();
                if let Some(h) = hook {
                    h(c, s);
                }
            });
    }

    /// The latest snapshot.
    pub(crate) fn current(&self) -> Snapshot {
        self.snap.lock().clone()
    }

    /// Waits until the version differs from `seen` (or the cache closes, or `deadline`
    /// passes) and returns the snapshot then.
    pub(crate) fn wait_next(&self, seen: u64, deadline: Option<Instant>) -> Snapshot {
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

    /// Moves the version on: whoever waits looks at the queue again.
    pub(crate) fn changed(&self) {
        let mut s = self.snap.lock();
        s.version += 1;
        drop(s);
        self.cv.notify_all();
    }

    /// Lists the children and leaves a watch on them; the snapshot's version is not moved
    /// (a listing is not a change). A queue node someone deleted is created again (a queue
    /// node lives as long as its users) and lists as empty.
    pub(crate) fn refresh(&self) -> Result<Snapshot> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let marker = self.completed_puts.load(Ordering::Acquire);
        self.watch.note(&self.path);
        // Armed before the request: an event that beats the reply disarms it again.
        self.armed.store(true, Ordering::Release);
        let r = self
            .client
            .get_children()
            .using_shared_watcher(&self.watch.watcher())
            .for_path(&self.path);
        if r.is_err() {
            self.armed.store(false, Ordering::Release);
        }
        let children = match r {
            Ok(c) => c,
            Err(Error::NoNode { .. }) => {
                log::info!(
                    "queue {}: the queue node is gone; creating it again",
                    self.path
                );
                match self
                    .client
                    .create()
                    .creating_parent_containers_if_needed()
                    .for_path(&self.path)
                {
                    Ok(_) | Err(Error::NodeExists { .. }) => {}
                    Err(e) => return Err(e),
                }
                self.changed(); // list again (with a watch) next time
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        if self.closed.load(Ordering::Acquire) {
            // close() took the watches back while this listing was on its way.
            self.watch.remove(&self.client, &self.path);
        }
        let mut s = self.snap.lock();
        s.children = Arc::new(children);
        s.completed_at_read = marker;
        Ok(s.clone())
    }

    /// Lists now unless a children watch is already in place (then a change will be heard
    /// of). True if it listed.
    pub(crate) fn ensure_watch(&self) -> Result<bool> {
        if self.armed.load(Ordering::Acquire) {
            return Ok(false);
        }
        self.refresh().map(|_| true)
    }

    /// Watches `lock_path` (another consumer's lock on an item) and moves the version on
    /// when it goes away. At once if it is already gone.
    pub(crate) fn watch_lock(self: &Arc<Self>, lock_path: &str) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        self.watch.note(lock_path);
        let weak = Arc::downgrade(self);
        let lp = lock_path.to_string();
        let r = self
            .client
            .check_exists()
            .using_shared_watcher(&self.watch.watcher())
            .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                let Some(cache) = weak.upgrade() else { return };
                if cache.closed.load(Ordering::Acquire) {
                    cache.watch.remove(&cache.client, &lp);
                    return;
                }
                if e.error().is_none() && e.stat().is_none() {
                    // Gone already: no watch was left on it.
                    cache.watch.forget(&lp);
                    cache.changed();
                }
            })
            .for_path(lock_path);
        if r.is_err() {
            self.changed();
        }
    }

    fn on_watch(&self, e: &WatchedEvent) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let Some(p) = e.path() else { return };
        if p == self.path {
            self.armed.store(false, Ordering::Release);
            if e.event_type() == EventType::NodeDeleted {
                self.watch.forget(p);
            }
        } else {
            // A lock node we watched: deleted (or changed; either way look again).
            self.watch.forget(p);
        }
        self.changed();
    }

    /// Stops following: removes the state listener and every watch this cache set, and
    /// releases waiters.
    pub(crate) fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.client.remove_state_listener(&self.state_listener);
        self.on_state.lock().take();
        self.watch.remove_all(&self.client, Vec::new());
        let mut s = self.snap.lock();
        s.closed = true;
        drop(s);
        self.cv.notify_all();
    }
}
