//! [`NodeCache`]: a local copy of one node (its data and Stat, or its absence), kept by
//! one-shot watches as Curator's deprecated `NodeCache`.
//!
//! The algorithm is Curator's: `check_exists().using_watcher(w).in_background(..)` (which
//! watches the node whether it exists or not), then, if it exists,
//! `get_data().using_watcher(w).in_background(..)`. Every watch event starts that again; a
//! missing node clears the copy. Watch events and read results run on the client's event
//! thread in server order, so the copy moves forward through real states of the node only.
//! After `Connected`/`Reconnected` following a suspension (the same session, or a new one
//! after expiry, whose watches are gone) the node is read and watched again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::cache_watch::CacheWatch;
use super::publisher::Publisher;
use super::types::{ChildData, NodeCacheListener};
use crate::error::{Error, Result};
use crate::framework::{ConnectionState, CuratorEvent, CuratorFramework, Listenable, ListenerId};
use crate::path;
use crate::proto::EventType;
use crate::recipes::on_event_thread;
use crate::session::{WatchedEvent, WorkerPool};

impl Listenable<dyn NodeCacheListener> {
    /// Adds a listener called on the client's event thread, right after the change (so
    /// [`NodeCache::current_data`] shows the value that caused the call).
    pub fn add_listener(&self, l: impl Fn() + Send + Sync + 'static) -> ListenerId {
        self.add_arc(Arc::new(l), None)
    }

    /// Adds a listener called on `pool` (its calls stay in order).
    pub fn add_listener_with_executor(
        &self,
        l: impl Fn() + Send + Sync + 'static,
        pool: &WorkerPool,
    ) -> ListenerId {
        self.add_arc(Arc::new(l), Some(pool))
    }
}

/// A cache of one node, updated by one-shot watches (Curator's `NodeCache`).
///
/// Prefer [`CuratorCache`](super::CuratorCache) with
/// [`SingleNodeCache`](super::CuratorCacheOption::SingleNodeCache) on ZooKeeper 3.6+.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::cache::NodeCache;
/// # let server = zk_curator::testing::TestingServer::start()?;
/// # let connect_string = server.connect_string();
/// let client = CuratorFrameworkFactory::new_client(
///     &connect_string,
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// client.create().creating_parents_if_needed().for_path_with_data("/config/db", b"url-1")?;
/// let cache = NodeCache::new(&client, "/config/db");
/// cache.listenable().add_listener(|| println!("/config/db changed"));
/// cache.start_with_initial(true)?;
/// assert_eq!(cache.current_data().unwrap().data(), Some(&b"url-1"[..]));
/// cache.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct NodeCache {
    inner: Arc<Inner>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Life {
    Latent,
    Started,
    Closed,
}

struct Inner {
    client: CuratorFramework,
    path: String,
    compressed: AtomicBool,
    life: Mutex<Life>,
    data: Mutex<Option<ChildData>>,
    /// Curator's `isConnected`: reads are only started while connected; the first
    /// `Connected`/`Reconnected` after a suspension reads again.
    connected: AtomicBool,
    /// The node's parents have been created (once, with the first read).
    parents_made: AtomicBool,
    watch: CacheWatch,
    publisher: Publisher<dyn NodeCacheListener>,
    state_listener: Mutex<Option<ListenerId>>,
}

impl NodeCache {
    /// A cache of `path` (not started).
    pub fn new(client: &CuratorFramework, path: &str) -> NodeCache {
        NodeCache {
            inner: Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
                let weak = weak.clone();
                Inner {
                    client: client.clone(),
                    path: path.to_string(),
                    compressed: AtomicBool::new(false),
                    life: Mutex::new(Life::Latent),
                    data: Mutex::new(None),
                    connected: AtomicBool::new(true),
                    parents_made: AtomicBool::new(false),
                    watch: CacheWatch::new(move |e: &WatchedEvent| {
                        if let Some(inner) = weak.upgrade() {
                            inner.on_watch(e);
                        }
                    }),
                    publisher: Publisher::new("node-cache", None),
                    state_listener: Mutex::new(None),
                }
            }),
        }
    }

    /// Whether the node's data is compressed (decompressed with the client's compression
    /// provider; Curator's `dataIsCompressed`). Call before [`start`](Self::start).
    pub fn with_compressed_data(self, compressed: bool) -> NodeCache {
        self.inner.compressed.store(compressed, Ordering::Release);
        self
    }

    /// Starts watching; the first value arrives in the background.
    pub fn start(&self) -> Result<()> {
        self.start_with_initial(false)
    }

    /// Starts watching. With `build_initial`, the node's parents are created and its current
    /// value is read before this returns (no listener is told about that value); otherwise
    /// the first value arrives in the background and is reported as a change.
    pub fn start_with_initial(&self, build_initial: bool) -> Result<()> {
        let inner = &self.inner;
        inner.client.check_not_closed()?;
        path::validate_path(&inner.path, false)?;
        {
            let mut life = inner.life.lock();
            if *life != Life::Latent {
                return Err(Error::InvalidArgument(
                    "the cache was already started".into(),
                ));
            }
            *life = Life::Started;
        }
        inner
            .client
            .add_weak_state_listener(inner, &inner.state_listener, |inner, _c, s| {
                inner.on_state(s)
            });
        if build_initial {
            inner
                .client
                .check_exists()
                .creating_parent_containers_if_needed()
                .for_path(&inner.path)?;
            inner.parents_made.store(true, Ordering::Release);
            let mut b = inner.client.get_data();
            if inner.is_compressed() {
                b = b.decompressed();
            }
            let mut stat = crate::proto::Stat::default();
            match b.storing_stat_in(&mut stat).for_path(&inner.path) {
                Ok(d) => {
                    *inner.data.lock() =
                        Some(ChildData::new(inner.path.clone(), stat, Some(Arc::from(d))))
                }
                Err(Error::NoNode { .. }) => *inner.data.lock() = None,
                Err(e) => return Err(e),
            }
        }
        let i = inner.clone();
        on_event_thread(&inner.client, move || i.reset());
        Ok(())
    }

    /// Stops watching and removes the cache's watch (the last value stays readable).
    pub fn close(&self) {
        let inner = &self.inner;
        {
            let mut life = inner.life.lock();
            if *life != Life::Started {
                *life = Life::Closed;
                return;
            }
            *life = Life::Closed;
        }
        inner.client.remove_state_listener(&inner.state_listener);
        inner.publisher.clear();
        inner
            .watch
            .remove_all(&inner.client, vec![inner.path.clone()]);
    }

    /// The node as last read: `None` if it does not exist (or is not known yet).
    pub fn current_data(&self) -> Option<ChildData> {
        self.inner.data.lock().clone()
    }

    /// The listeners, told after every change of [`current_data`](Self::current_data).
    pub fn listenable(&self) -> &Listenable<dyn NodeCacheListener> {
        self.inner.publisher.listenable()
    }

    /// The cached path.
    pub fn path(&self) -> &str {
        &self.inner.path
    }
}

impl Drop for NodeCache {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for NodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeCache")
            .field("path", &self.inner.path)
            .field("data", &self.current_data())
            .finish()
    }
}

impl Inner {
    fn is_compressed(&self) -> bool {
        self.compressed.load(Ordering::Acquire)
    }

    fn is_started(&self) -> bool {
        *self.life.lock() == Life::Started
    }

    fn on_state(self: &Arc<Self>, s: ConnectionState) {
        match s {
            ConnectionState::Connected | ConnectionState::Reconnected => {
                if self
                    .connected
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    self.reset();
                }
            }
            _ => self.connected.store(false, Ordering::Release),
        }
    }

    fn on_watch(self: &Arc<Self>, e: &WatchedEvent) {
        match e.event_type() {
            EventType::NodeDeleted => {
                self.watch.forget(&self.path);
                self.reset();
            }
            EventType::NodeCreated
            | EventType::NodeDataChanged
            | EventType::NodeChildrenChanged => self.reset(),
            // State changes come through the connection-state listener; watch removals
            // are ours.
            _ => {}
        }
    }

    /// Watches the node and reads it (Curator's `reset`).
    fn reset(self: &Arc<Self>) {
        if !self.is_started() || !self.connected.load(Ordering::Acquire) {
            return;
        }
        let weak = Arc::downgrade(self);
        let cb = move |_c: &CuratorFramework, e: &CuratorEvent| {
            if let Some(inner) = weak.upgrade() {
                inner.on_exists(e);
            }
        };
        self.watch.note(&self.path);
        let b = self
            .client
            .check_exists()
            .using_shared_watcher(&self.watch.watcher());
        // The parents once (as Curator's creatingParentContainersIfNeeded), not per event.
        let sent = if self.parents_made.swap(true, Ordering::AcqRel) {
            b.in_background(cb).for_path(&self.path)
        } else {
            b.creating_parent_containers_if_needed()
                .in_background(cb)
                .for_path(&self.path)
        };
        if let Err(e) = sent {
            self.client.report_unhandled("NodeCache: exists", &e);
        }
    }

    fn on_exists(self: &Arc<Self>, e: &CuratorEvent) {
        if !self.is_started() {
            // A read answered after close() set its watch again: take it back.
            self.watch.remove(&self.client, &self.path);
            return;
        }
        match e.error() {
            Some(Error::NoNode { .. }) => self.set_data(None),
            Some(err) => log::debug!("NodeCache {}: exists failed: {err}", self.path),
            None => {
                let weak = Arc::downgrade(self);
                let sent = self
                    .client
                    .get_data()
                    .using_shared_watcher(&self.watch.watcher())
                    .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                        if let Some(inner) = weak.upgrade() {
                            inner.on_data(e);
                        }
                    })
                    .for_path(&self.path);
                if let Err(e) = sent {
                    self.client.report_unhandled("NodeCache: getData", &e);
                }
            }
        }
    }

    fn on_data(self: &Arc<Self>, e: &CuratorEvent) {
        if !self.is_started() {
            self.watch.remove(&self.client, &self.path);
            return;
        }
        match e.error() {
            None => {
                let compressed = self.is_compressed();
                if let Some(d) = ChildData::from_read(&self.client, &self.path, e, true, compressed)
                {
                    self.set_data(Some(d));
                }
            }
            // Deleted between the exists and the read: the exists watch reports it too.
            Some(Error::NoNode { .. }) => self.set_data(None),
            Some(err) => log::debug!("NodeCache {}: getData failed: {err}", self.path),
        }
    }

    fn set_data(&self, new: Option<ChildData>) {
        let changed = {
            let mut d = self.data.lock();
            if *d == new {
                false
            } else {
                *d = new;
                true
            }
        };
        if changed && self.is_started() {
            self.publisher.publish(|l| l.node_changed());
        }
    }
}
