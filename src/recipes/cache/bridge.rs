//! [`CuratorCacheBridge`]: the CuratorCache API over whichever cache the server allows
//! (Curator's `CuratorCache.bridgeBuilder`): [`CuratorCache`] when the server has persistent
//! watches (ZooKeeper 3.6+), otherwise a [`TreeCache`] whose events are turned into
//! [`CacheListener`] calls. Recipes that must also run against older servers (group
//! membership, service caches) use it.
//!
//! The choice is made in `start()`: forced with
//! [`with_persistent_watches`](CuratorCacheBridgeBuilder::with_persistent_watches), or
//! found out by adding (and at once removing) a persistent watch on the path: a server that
//! answers `Unimplemented` gets the TreeCache. The bridge's own listener list exists from
//! the start, so listeners can be added before the choice is made. Either way the events
//! reach them through one [`Publisher`]: on the thread that applied the change, or on the
//! bridge's executor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::curator_cache::{CuratorCache, CuratorCacheOption};
use super::listener::CacheListener;
use super::publisher::Publisher;
use super::storage::StandardCuratorCacheStorage;
use super::tree_cache::TreeCache;
use super::types::{CacheEventType, ChildData, TreeCacheEvent, TreeCacheEventType};
use crate::error::{Error, Result};
use crate::framework::{CuratorFramework, Listenable};
use crate::proto::{AddWatchMode, WatcherType};
use crate::session::{SharedWatcher, WatchedEvent, WorkerPool};

/// Builder of a [`CuratorCacheBridge`] (Curator's `CuratorCacheBridgeBuilder`).
#[must_use = "call build()"]
pub struct CuratorCacheBridgeBuilder {
    client: CuratorFramework,
    path: String,
    options: Vec<CuratorCacheOption>,
    persistent: Option<bool>,
    cache_data: bool,
    executor: Option<WorkerPool>,
}

impl std::fmt::Debug for CuratorCacheBridgeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CuratorCacheBridgeBuilder")
            .field("path", &self.path)
            .field("options", &self.options)
            .field("persistent", &self.persistent)
            .finish_non_exhaustive()
    }
}

impl CuratorCacheBridgeBuilder {
    /// Adds options (`SingleNodeCache` is a TreeCache of depth 0 in the fallback,
    /// `CompressedData` decompresses, `DoNotClearOnClose` keeps the nodes after close).
    pub fn with_options(mut self, options: &[CuratorCacheOption]) -> Self {
        self.options.extend_from_slice(options);
        self
    }

    /// Force the choice: `true` for CuratorCache (persistent watches), `false` for the
    /// TreeCache fallback. Without it, `start()` asks the server.
    pub fn with_persistent_watches(mut self, yes: bool) -> Self {
        self.persistent = Some(yes);
        self
    }

    /// Keep only the paths and Stats of the nodes (Curator's `withDataNotCached`): a
    /// CuratorCache with [`StandardCuratorCacheStorage::data_not_cached`], or a TreeCache
    /// with `cache_data(false)`. `get` and `stream` return nodes without data; the events of
    /// created and changed nodes still carry the data just read.
    pub fn with_data_not_cached(mut self) -> Self {
        self.cache_data = false;
        self
    }

    /// Run the listeners on `pool`, one event at a time in the cache's order (Curator's
    /// `withExecutorService`). Curator passes its executor to the TreeCache fallback only
    /// (and warns that CuratorCache ignores it); here the listeners run on the pool whichever
    /// cache the bridge chose, so that code does not behave differently with the server's
    /// version. Without it they run on the client's event thread.
    pub fn with_executor_service(mut self, pool: &WorkerPool) -> Self {
        self.executor = Some(pool.clone());
        self
    }

    /// The bridge (not started).
    pub fn build(self) -> CuratorCacheBridge {
        CuratorCacheBridge {
            inner: Arc::new(Inner {
                client: self.client,
                path: self.path,
                options: self.options,
                persistent: self.persistent,
                cache_data: self.cache_data,
                publisher: Arc::new(Publisher::new("cache-bridge", self.executor)),
                imp: Mutex::new(Imp::Latent),
                closed: AtomicBool::new(false),
            }),
        }
    }
}

impl CuratorCache {
    /// A builder of a cache that uses CuratorCache where the server has persistent watches
    /// and TreeCache otherwise (Curator's `CuratorCache.bridgeBuilder`).
    pub fn bridge_builder(client: &CuratorFramework, path: &str) -> CuratorCacheBridgeBuilder {
        CuratorCacheBridgeBuilder {
            client: client.clone(),
            path: path.to_string(),
            options: Vec::new(),
            persistent: None,
            cache_data: true,
            executor: None,
        }
    }
}

/// The CuratorCache API over [`CuratorCache`] or, for servers without persistent watches,
/// [`TreeCache`] (Curator's `CuratorCacheBridge`).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::cache::*;
/// # let server = zk_curator::testing::TestingServer::start()?;
/// # let connect_string = server.connect_string();
/// let client = CuratorFrameworkFactory::new_client(
///     &connect_string,
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let cache = CuratorCache::bridge_builder(&client, "/members").build();
/// cache.listenable().add_listener(
///     CuratorCacheListener::builder()
///         .for_creates(|n: &ChildData| println!("joined: {}", n.path()))
///         .build(),
/// );
/// cache.start()?;
/// println!("CuratorCache: {}", cache.is_curator_cache());
/// cache.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct CuratorCacheBridge {
    inner: Arc<Inner>,
}

/// Shared so that `start` runs outside the lock (readers never wait for it). A closed
/// cache stays here: with `DoNotClearOnClose` it can still be read.
enum Imp {
    Latent,
    Curator(Arc<CuratorCache>),
    Tree(Arc<TreeCache>),
}

struct Inner {
    client: CuratorFramework,
    path: String,
    options: Vec<CuratorCacheOption>,
    persistent: Option<bool>,
    cache_data: bool,
    publisher: Arc<Publisher<dyn CacheListener>>,
    imp: Mutex<Imp>,
    closed: AtomicBool,
}

impl CuratorCacheBridge {
    /// Chooses the implementation (see the module docs) and starts it. Starting twice is
    /// an error.
    pub fn start(&self) -> Result<()> {
        let inner = &self.inner;
        inner.client.check_not_closed()?;
        if inner.closed.load(Ordering::Acquire) || !matches!(*inner.imp.lock(), Imp::Latent) {
            return Err(Error::InvalidArgument(
                "the cache was already started".into(),
            ));
        }
        let persistent = match inner.persistent {
            Some(p) => p,
            None => supports_persistent_watches(&inner.client, &inner.path)?,
        };
        let imp =
            if persistent {
                let storage = match inner.cache_data {
                    true => StandardCuratorCacheStorage::standard(),
                    false => StandardCuratorCacheStorage::data_not_cached(),
                };
                let cache = CuratorCache::with_parts(
                    &inner.client,
                    &inner.path,
                    &inner.options,
                    Arc::new(storage),
                    None,
                );
                cache
                    .listenable()
                    .add_listener(Forward(inner.publisher.clone()));
                Imp::Curator(Arc::new(cache))
            } else {
                let has = |o| inner.options.contains(&o);
                let mut b = TreeCache::builder(&inner.client, &inner.path)
                    .cache_data(inner.cache_data)
                    .data_is_compressed(has(CuratorCacheOption::CompressedData))
                    .clear_on_close(!has(CuratorCacheOption::DoNotClearOnClose));
                if has(CuratorCacheOption::SingleNodeCache) {
                    b = b.max_depth(0);
                }
                let cache = b.build();
                let ls = inner.publisher.clone();
                cache.listenable().add_listener(
                    move |_c: &CuratorFramework, e: &TreeCacheEvent| tree_to_cache(&ls, e),
                );
                Imp::Tree(Arc::new(cache))
            };
        let run = {
            let mut slot = inner.imp.lock();
            if !matches!(*slot, Imp::Latent) {
                return Err(Error::InvalidArgument(
                    "the cache was started or closed meanwhile".into(),
                ));
            }
            let run = match &imp {
                Imp::Curator(c) => Imp::Curator(c.clone()),
                Imp::Tree(t) => Imp::Tree(t.clone()),
                Imp::Latent => Imp::Latent,
            };
            *slot = imp;
            run
        };
        match run {
            Imp::Curator(c) => c.start(),
            Imp::Tree(t) => t.start(),
            Imp::Latent => Ok(()),
        }
    }

    /// Stops the cache and removes its watches; the nodes are dropped unless built with
    /// `DoNotClearOnClose`.
    pub fn close(&self) {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let imp = match &*self.inner.imp.lock() {
            Imp::Curator(c) => Imp::Curator(c.clone()),
            Imp::Tree(t) => Imp::Tree(t.clone()),
            Imp::Latent => Imp::Latent,
        };
        match imp {
            Imp::Curator(c) => c.close(),
            Imp::Tree(t) => t.close(),
            Imp::Latent => {}
        }
        self.inner.publisher.clear();
    }

    /// The listeners (they may be added before `start`).
    pub fn listenable(&self) -> &Listenable<dyn CacheListener> {
        self.inner.publisher.listenable()
    }

    /// The cached node at `path`.
    pub fn get(&self, path: &str) -> Option<ChildData> {
        match &*self.inner.imp.lock() {
            Imp::Curator(c) => c.get(path),
            Imp::Tree(t) => t.current_data(path),
            Imp::Latent => None,
        }
    }

    /// Number of cached nodes.
    pub fn size(&self) -> usize {
        match &*self.inner.imp.lock() {
            Imp::Curator(c) => c.size(),
            Imp::Tree(t) => t.size(),
            Imp::Latent => 0,
        }
    }

    /// Every cached node, ordered by path.
    pub fn stream(&self) -> Vec<ChildData> {
        match &*self.inner.imp.lock() {
            Imp::Curator(c) => c.stream(),
            Imp::Tree(t) => t.snapshot(),
            Imp::Latent => Vec::new(),
        }
    }

    /// True when the bridge runs a CuratorCache (persistent watches), false for the
    /// TreeCache fallback or before `start`.
    pub fn is_curator_cache(&self) -> bool {
        matches!(*self.inner.imp.lock(), Imp::Curator(_))
    }
}

impl Drop for CuratorCacheBridge {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for CuratorCacheBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CuratorCacheBridge")
            .field("path", &self.inner.path)
            .field("curator_cache", &self.is_curator_cache())
            .field("size", &self.size())
            .finish()
    }
}

/// Asks the server: adds a persistent watch and removes it again. `false` if the server does
/// not know the operation.
///
/// The probe watches a path of its own (a child of `path` that nobody uses, which need not
/// exist), never `path` itself: ZooKeeper 3.8 keeps one watch mode per connection and path
/// (ZOOKEEPER-4466), so probing `path` would turn another cache's recursive watch of the same
/// client on it into a plain persistent one, and removing the probe would remove that watch.
fn supports_persistent_watches(client: &CuratorFramework, path: &str) -> Result<bool> {
    let probe = SharedWatcher::new(|_e: &WatchedEvent| {});
    let path = &crate::path::make_path(
        path,
        &format!(
            "zkc-probe-{}",
            crate::framework::protection::new_protected_id()
        ),
    );
    match client
        .watchers()
        .add()
        .with_mode(AddWatchMode::Persistent)
        .using_shared_watcher(&probe)
        .for_path(path)
    {
        Ok(()) => {
            let _ = client
                .watchers()
                .remove(&probe)
                .of_type(WatcherType::Any)
                .locally()
                .quietly()
                .for_path(path);
            Ok(true)
        }
        Err(Error::Unimplemented { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// CuratorCache events to the bridge's listeners.
struct Forward(Arc<Publisher<dyn CacheListener>>);

impl CacheListener for Forward {
    fn event(&self, t: CacheEventType, old: Option<&ChildData>, data: Option<&ChildData>) {
        let (old, data) = (old.cloned(), data.cloned());
        self.0
            .publish(move |l| l.event(t, old.as_ref(), data.as_ref()));
    }

    fn initialized(&self) {
        self.0.publish(|l| l.initialized());
    }
}

/// TreeCache events as CuratorCache events (connection events have no counterpart).
fn tree_to_cache(ls: &Publisher<dyn CacheListener>, e: &TreeCacheEvent) {
    let (t, old, data) = match e.event_type() {
        TreeCacheEventType::NodeAdded => (CacheEventType::NodeCreated, None, e.data().cloned()),
        TreeCacheEventType::NodeUpdated => (
            CacheEventType::NodeChanged,
            e.old_data().cloned(),
            e.data().cloned(),
        ),
        TreeCacheEventType::NodeRemoved => (CacheEventType::NodeDeleted, e.data().cloned(), None),
        TreeCacheEventType::Initialized => return ls.publish(|l| l.initialized()),
        TreeCacheEventType::ConnectionSuspended
        | TreeCacheEventType::ConnectionReconnected
        | TreeCacheEventType::ConnectionLost => return,
    };
    ls.publish(move |l| l.event(t, old.as_ref(), data.as_ref()));
}
