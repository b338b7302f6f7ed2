//! [`PathChildrenCache`]: a local copy of the direct children of one node, kept by one-shot
//! watches as Curator's deprecated `PathChildrenCache`.
//!
//! Curator's algorithm: make sure the parent exists (as a container, Curator's
//! `EnsureContainers`), `get_children().using_watcher(w)` on it, and for each child not yet
//! known `get_data().using_watcher(w)` (the data is dropped in paths-only mode; Curator also
//! reads rather than `exists`, so that no watch is left on a node that vanished). A child
//! watch event lists the children again; a data watch event reads the child again; a
//! deleted child is removed. Reads are background operations pipelined through a bounded
//! [`Window`]; results and watch events are applied on the client's event thread in server
//! order. On `Connected`/`Reconnected` everything is listed and read again (a new session
//! after expiry has lost every watch): what changed meanwhile is reported, what vanished is
//! removed, and `ConnectionReconnected` is sent.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::cache_watch::CacheWatch;
use super::publisher::Publisher;
use super::types::{ChildData, PathChildrenCacheListener};
use super::window::{Window, WINDOW};
use crate::error::{Error, Result};
use crate::framework::{CuratorFramework, Listenable, ListenerId};
use crate::path;
use crate::session::{WatchedEvent, WorkerPool};

mod engine;

impl Listenable<dyn PathChildrenCacheListener> {
    /// Adds a listener called in the cache's event order (on the client's event thread, or
    /// on the cache's executor if it has one).
    pub fn add_listener(
        &self,
        l: impl Fn(&CuratorFramework, &super::PathChildrenCacheEvent) + Send + Sync + 'static,
    ) -> ListenerId {
        self.add_arc(Arc::new(l), None)
    }

    /// Adds a listener called on `pool` (its calls stay in order): a slow listener there
    /// delays neither the client nor the other listeners.
    pub fn add_listener_with_executor(
        &self,
        l: impl Fn(&CuratorFramework, &super::PathChildrenCacheEvent) + Send + Sync + 'static,
        pool: &WorkerPool,
    ) -> ListenerId {
        self.add_arc(Arc::new(l), Some(pool))
    }
}

/// What a [`PathChildrenCache`] keeps of each child (Curator's `PathChildrenCacheMode`).
///
/// The Stat is always kept (as in Curator 5, where the mode only decides `cacheData`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PathChildrenCacheMode {
    /// Data and Stat.
    #[default]
    CacheDataAndStat,
    /// Data (and Stat).
    CacheData,
    /// The Stat only: [`ChildData::data`] is `None`.
    CachePathsOnly,
}

/// How [`PathChildrenCache::start`] primes the cache (Curator's `StartMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StartMode {
    /// Loaded in the background; every initial child is reported as `ChildAdded`.
    #[default]
    Normal,
    /// Loaded before `start` returns (as [`rebuild`](PathChildrenCache::rebuild)); the
    /// initial children are *not* reported.
    BuildInitialCache,
    /// Loaded in the background; every initial child is reported as `ChildAdded`, then one
    /// `Initialized` event carries them all
    /// ([`initial_data`](super::PathChildrenCacheEvent::initial_data)).
    PostInitializedEvent,
}

/// A cache of the direct children of a node (Curator's `PathChildrenCache`).
///
/// Prefer [`CuratorCache`](super::CuratorCache) on ZooKeeper 3.6+.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFramework, CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::cache::*;
/// # let server = zk_curator::testing::TestingServer::start()?;
/// # let connect_string = server.connect_string();
/// let client = CuratorFrameworkFactory::new_client(
///     &connect_string,
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// client.create().creating_parents_if_needed().for_path_with_data("/workers/w1", b"idle")?;
/// let cache = PathChildrenCache::new(&client, "/workers", true);
/// cache.listenable().add_listener(|_client, e| {
///     println!("{:?} {:?}", e.event_type(), e.data().map(|d| d.path()));
/// });
/// cache.start(StartMode::BuildInitialCache)?;
/// assert_eq!(cache.current_data().len(), 1);
/// cache.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct PathChildrenCache {
    inner: Arc<Inner>,
}

/// Builder of a [`PathChildrenCache`].
#[must_use = "call build()"]
pub struct PathChildrenCacheBuilder {
    client: CuratorFramework,
    path: String,
    cache_data: bool,
    compressed: bool,
    executor: Option<WorkerPool>,
}

impl std::fmt::Debug for PathChildrenCacheBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PathChildrenCacheBuilder")
            .field("path", &self.path)
            .field("cache_data", &self.cache_data)
            .field("compressed", &self.compressed)
            .field("executor", &self.executor)
            .finish_non_exhaustive()
    }
}

impl PathChildrenCacheBuilder {
    /// Keep each child's data (default true).
    pub fn cache_data(mut self, yes: bool) -> Self {
        self.cache_data = yes;
        self
    }

    /// What to keep, as a [`PathChildrenCacheMode`].
    pub fn mode(mut self, mode: PathChildrenCacheMode) -> Self {
        self.cache_data = mode != PathChildrenCacheMode::CachePathsOnly;
        self
    }

    /// The children's data is compressed: decompress it with the client's provider.
    pub fn data_is_compressed(mut self, yes: bool) -> Self {
        self.compressed = yes;
        self
    }

    /// Run the cache's events on `pool`, in order (Curator's executor argument). Without
    /// one, events run on the client's event thread.
    pub fn executor(mut self, pool: &WorkerPool) -> Self {
        self.executor = Some(pool.clone());
        self
    }

    /// The cache (not started).
    pub fn build(self) -> PathChildrenCache {
        let Self {
            client,
            path,
            cache_data,
            compressed,
            executor,
        } = self;
        PathChildrenCache {
            inner: Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
                let weak = weak.clone();
                Inner {
                    client,
                    path,
                    cache_data,
                    compressed,
                    st: Mutex::new(State {
                        life: Life::Latent,
                        current: BTreeMap::new(),
                        initial: None,
                        ensured: false,
                    }),
                    window: Window::new(WINDOW),
                    watch: CacheWatch::new(move |e: &WatchedEvent| {
                        if let Some(inner) = weak.upgrade() {
                            inner.on_watch(e);
                        }
                    }),
                    publisher: Publisher::new("path-children-cache", executor),
                    state_listener: Mutex::new(None),
                }
            }),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Life {
    Latent,
    Started,
    Closed,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum RefreshMode {
    /// Read the children not known yet.
    Standard,
    /// Read every child again (after a reconnect or a rebuild).
    ForceGetDataAndStat,
    /// The first listing of `StartMode::PostInitializedEvent`.
    PostInitialized,
    /// The parent was missing: make it again, list once more, and stop there if it is still
    /// missing.
    NoNodeException,
}

/// The children of `StartMode::PostInitializedEvent` not reported yet.
struct InitialSet {
    /// The first listing has been processed.
    listed: bool,
    /// Child name -> its value once read.
    nodes: BTreeMap<String, Option<ChildData>>,
}

struct State {
    life: Life,
    current: BTreeMap<String, ChildData>,
    initial: Option<InitialSet>,
    /// Curator's EnsureContainers: the parent has been made.
    ensured: bool,
}

struct Inner {
    client: CuratorFramework,
    path: String,
    cache_data: bool,
    compressed: bool,
    st: Mutex<State>,
    window: Arc<Window>,
    watch: CacheWatch,
    publisher: Publisher<dyn PathChildrenCacheListener>,
    state_listener: Mutex<Option<ListenerId>>,
}

impl PathChildrenCache {
    /// A cache of the children of `path` (`cache_data`: keep their data too), not started.
    pub fn new(client: &CuratorFramework, path: &str, cache_data: bool) -> PathChildrenCache {
        PathChildrenCache::builder(client, path)
            .cache_data(cache_data)
            .build()
    }

    /// A builder (mode, compression, executor).
    pub fn builder(client: &CuratorFramework, path: &str) -> PathChildrenCacheBuilder {
        PathChildrenCacheBuilder {
            client: client.clone(),
            path: path.to_string(),
            cache_data: true,
            compressed: false,
            executor: None,
        }
    }

    /// Starts the cache as `mode` says. Starting twice is an error.
    pub fn start(&self, mode: StartMode) -> Result<()> {
        let inner = &self.inner;
        inner.client.check_not_closed()?;
        path::validate_path(&inner.path, false)?;
        {
            let mut st = inner.st.lock();
            if st.life != Life::Latent {
                return Err(Error::InvalidArgument(
                    "the cache was already started".into(),
                ));
            }
            st.life = Life::Started;
            if mode == StartMode::PostInitializedEvent {
                st.initial = Some(InitialSet {
                    listed: false,
                    nodes: BTreeMap::new(),
                });
            }
        }
        inner
            .client
            .add_weak_state_listener(inner, &inner.state_listener, |inner, _c, s| {
                inner.on_state(s)
            });
        match mode {
            StartMode::Normal => inner.refresh_on_event_thread(RefreshMode::Standard),
            StartMode::PostInitializedEvent => {
                inner.refresh_on_event_thread(RefreshMode::PostInitialized)
            }
            StartMode::BuildInitialCache => self.rebuild()?,
        }
        Ok(())
    }

    /// Blocking: reloads the cache from the server without telling the listeners (then,
    /// in the background, re-reads and re-watches everything so that changes made
    /// meanwhile are reported). The children are read through the pipelined window, not
    /// one round trip at a time (one at a time when called on the client's event thread,
    /// which must not wait for its own callbacks).
    pub fn rebuild(&self) -> Result<()> {
        let inner = &self.inner;
        inner.check_started()?;
        inner.ensure_sync()?;
        inner.st.lock().current.clear();
        let names = inner.client.get_children().for_path(&inner.path)?;
        let paths: Vec<String> = names
            .iter()
            .map(|n| path::make_path(&inner.path, n))
            .collect();
        for (p, node) in inner.read_all(&paths)? {
            let mut st = inner.st.lock();
            match node {
                Some(d) => {
                    st.current.insert(p, d);
                }
                None => {
                    st.current.remove(&p);
                }
            }
        }
        // Takes in whatever changed while reading, and sets the watches.
        inner.refresh_on_event_thread(RefreshMode::ForceGetDataAndStat);
        Ok(())
    }

    /// Blocking: reloads one child (`full_path` must be a child of the cached path) without
    /// telling the listeners, then re-reads everything in the background as
    /// [`rebuild`](Self::rebuild) does.
    pub fn rebuild_node(&self, full_path: &str) -> Result<()> {
        let inner = &self.inner;
        if path::parent(full_path) != Some(inner.path.as_str()) {
            return Err(Error::InvalidArgument(format!(
                "{full_path} is not a child of {}",
                inner.path
            )));
        }
        inner.check_started()?;
        inner.ensure_sync()?;
        let node = inner.read_one(full_path)?;
        {
            let mut st = inner.st.lock();
            match node {
                Some(d) => {
                    st.current.insert(full_path.to_string(), d);
                }
                None => {
                    st.current.remove(full_path);
                }
            }
        }
        inner.refresh_on_event_thread(RefreshMode::ForceGetDataAndStat);
        Ok(())
    }

    /// Stops the cache and removes its watches (the cached children stay readable).
    pub fn close(&self) {
        let inner = &self.inner;
        let held: Vec<String> = {
            let mut st = inner.st.lock();
            if st.life != Life::Started {
                st.life = Life::Closed;
                return;
            }
            st.life = Life::Closed;
            st.current.keys().cloned().collect()
        };
        inner.client.remove_state_listener(&inner.state_listener);
        inner.publisher.clear();
        inner.window.close();
        let mut extra = held;
        extra.push(inner.path.clone());
        inner.watch.remove_all(&inner.client, extra);
    }

    /// The listeners.
    pub fn listenable(&self) -> &Listenable<dyn PathChildrenCacheListener> {
        self.inner.publisher.listenable()
    }

    /// Every cached child, ordered by path.
    pub fn current_data(&self) -> Vec<ChildData> {
        self.inner.st.lock().current.values().cloned().collect()
    }

    /// The cached child at `full_path`.
    pub fn current_data_for(&self, full_path: &str) -> Option<ChildData> {
        self.inner.st.lock().current.get(full_path).cloned()
    }

    /// Drops the cached data bytes of a child to save memory (its Stat stays; the next read
    /// of the child brings the data back). True if the child is cached.
    pub fn clear_data_bytes(&self, full_path: &str) -> bool {
        self.clear_data_bytes_if_version(full_path, -1)
    }

    /// [`clear_data_bytes`](Self::clear_data_bytes), only if the cached version is
    /// `version` (any version when negative). True if the data was cleared.
    pub fn clear_data_bytes_if_version(&self, full_path: &str, version: i32) -> bool {
        let mut st = self.inner.st.lock();
        match st.current.get_mut(full_path) {
            Some(d) if version < 0 || d.stat().version == version => {
                *d = d.without_data();
                true
            }
            _ => false,
        }
    }

    /// Forgets the cached children without telling the listeners.
    pub fn clear(&self) {
        self.inner.st.lock().current.clear();
    }

    /// Forgets the cached children and lists them again in the background (each is then
    /// reported as added).
    pub fn clear_and_refresh(&self) -> Result<()> {
        self.inner.check_started()?;
        self.clear();
        self.inner.refresh_on_event_thread(RefreshMode::Standard);
        Ok(())
    }

    /// The cached parent path.
    pub fn path(&self) -> &str {
        &self.inner.path
    }
}

impl Drop for PathChildrenCache {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for PathChildrenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.inner.st.lock();
        f.debug_struct("PathChildrenCache")
            .field("path", &self.inner.path)
            .field("state", &st.life)
            .field("children", &st.current.len())
            .finish()
    }
}
