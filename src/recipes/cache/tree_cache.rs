//! [`TreeCache`]: a local copy of a node and its subtree, kept by one-shot watches as
//! Curator's deprecated `TreeCache`, for servers without persistent watches (it is the
//! fallback of the [`CuratorCache` bridge](super::CuratorCacheBridge)).
//!
//! Curator's algorithm, per node: `get_data().using_watcher(w)` and (above the maximum depth,
//! if the selector traces it) `get_children().using_watcher(w)`, in the background. A child
//! listing adds the children not known yet (those the selector accepts) and reads them the
//! same way; a data event reads the node again; a child event lists it again; a deleted node
//! is removed with its subtree (deepest first); a missing root is watched with `exists` until
//! it appears. Reads are pipelined through a bounded [`Window`]; results and watch events are
//! applied on the client's event thread in server order. `Initialized` is sent once, the first
//! time no read is outstanding, which is after every node present at start has been
//! reported. After a reconnect every node is read again (a new session has lost every
//! watch), so what changed or vanished meanwhile is reported.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use parking_lot::Mutex;

use super::cache_watch::CacheWatch;
use super::publisher::Publisher;
use super::types::{ChildData, TreeCacheListener};
use super::window::{Window, WINDOW};
use crate::error::{Error, Result};
use crate::framework::{ConnectionState, CuratorFramework, Listenable, ListenerId};
use crate::path;
use crate::recipes::on_event_thread;
use crate::session::{WatchedEvent, WorkerPool};

mod engine;

impl Listenable<dyn TreeCacheListener> {
    /// Adds a listener called in the cache's event order (on the client's event thread, or
    /// on the cache's executor if it has one).
    pub fn add_listener(
        &self,
        l: impl Fn(&CuratorFramework, &super::TreeCacheEvent) + Send + Sync + 'static,
    ) -> ListenerId {
        self.add_arc(Arc::new(l), None)
    }

    /// Adds a listener called on `pool` (its calls stay in order): a slow listener there
    /// delays neither the client nor the other listeners.
    pub fn add_listener_with_executor(
        &self,
        l: impl Fn(&CuratorFramework, &super::TreeCacheEvent) + Send + Sync + 'static,
        pool: &WorkerPool,
    ) -> ListenerId {
        self.add_arc(Arc::new(l), Some(pool))
    }
}

/// Chooses which nodes a [`TreeCache`] follows (Curator's `TreeCacheSelector`). Both
/// methods get full paths; the default follows everything.
///
/// ```
/// use zk_curator::recipes::cache::TreeCacheSelector;
/// /// Skips `/app/tmp` and everything below it.
/// struct NoTmp;
/// impl TreeCacheSelector for NoTmp {
///     fn accept_child(&self, full_path: &str) -> bool {
///         full_path != "/app/tmp"
///     }
/// }
/// assert!(NoTmp.traverse_children("/app"));
/// ```
pub trait TreeCacheSelector: Send + Sync + 'static {
    /// Whether the children of `full_path` are listed and cached.
    fn traverse_children(&self, full_path: &str) -> bool {
        let _ = full_path;
        true
    }

    /// Whether the child `full_path` is cached at all.
    fn accept_child(&self, full_path: &str) -> bool {
        let _ = full_path;
        true
    }
}

/// Follows every node (Curator's `DefaultTreeCacheSelector`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultTreeCacheSelector;

impl TreeCacheSelector for DefaultTreeCacheSelector {}

/// A cache of a subtree, updated by one-shot watches (Curator's `TreeCache`).
///
/// Prefer [`CuratorCache`](super::CuratorCache) on ZooKeeper 3.6+, or the
/// [bridge](super::CuratorCache::bridge_builder), which picks one or the other.
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
/// client.create().creating_parents_if_needed().for_path_with_data("/app/db/url", b"x")?;
/// let cache = TreeCache::builder(&client, "/app").max_depth(2).build();
/// let (tx, rx) = std::sync::mpsc::channel();
/// cache.listenable().add_listener(move |_client, e| {
///     if e.event_type() == TreeCacheEventType::Initialized {
///         let _ = tx.send(());
///     }
/// });
/// cache.start()?;
/// rx.recv().unwrap();
/// assert_eq!(cache.current_data("/app/db/url").unwrap().data(), Some(&b"x"[..]));
/// assert_eq!(cache.current_children("/app").unwrap().len(), 1);
/// cache.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct TreeCache {
    inner: Arc<Inner>,
}

/// Builder of a [`TreeCache`] (Curator's `TreeCache.Builder`).
#[must_use = "call build()"]
pub struct TreeCacheBuilder {
    client: CuratorFramework,
    path: String,
    cfg: Config,
    executor: Option<WorkerPool>,
}

impl std::fmt::Debug for TreeCacheBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.cfg;
        f.debug_struct("TreeCacheBuilder")
            .field("path", &self.path)
            .field("cache_data", &c.cache_data)
            .field("compressed", &c.compressed)
            .field("max_depth", &c.max_depth)
            .field("create_parents", &c.create_parents)
            .field("disable_watches", &c.disable_watches)
            .field("clear_on_close", &c.clear_on_close)
            .field("executor", &self.executor)
            .finish_non_exhaustive()
    }
}

struct Config {
    cache_data: bool,
    compressed: bool,
    max_depth: usize,
    create_parents: bool,
    disable_watches: bool,
    clear_on_close: bool,
    selector: Arc<dyn TreeCacheSelector>,
}

impl TreeCacheBuilder {
    /// Keep each node's data (default true); without it only the Stats are kept. The
    /// `NodeAdded` and `NodeUpdated` events carry the data just read either way, as in
    /// Curator; `current_data` and the old node of an event have none.
    pub fn cache_data(mut self, yes: bool) -> Self {
        self.cfg.cache_data = yes;
        self
    }

    /// The data is compressed: decompress it with the client's provider (default false).
    pub fn data_is_compressed(mut self, yes: bool) -> Self {
        self.cfg.compressed = yes;
        self
    }

    /// How deep to follow: 0 is the root only (like a NodeCache), 1 the root and its
    /// children (like a PathChildrenCache). Default: unlimited.
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.cfg.max_depth = depth;
        self
    }

    /// Create the root and its parents (as containers, Curator's `createContainers`) when
    /// starting (default false).
    pub fn create_parent_nodes(mut self, yes: bool) -> Self {
        self.cfg.create_parents = yes;
        self
    }

    /// Read without setting watches: the cache loads once and then only changes when the
    /// connection comes back (default false).
    pub fn disable_zk_watches(mut self, yes: bool) -> Self {
        self.cfg.disable_watches = yes;
        self
    }

    /// Which nodes to follow (default: all).
    pub fn selector(mut self, s: impl TreeCacheSelector) -> Self {
        self.cfg.selector = Arc::new(s);
        self
    }

    /// Run the cache's events on `pool`, in order (Curator's executor). Without one, events
    /// run on the client's event thread.
    pub fn executor(mut self, pool: &WorkerPool) -> Self {
        self.executor = Some(pool.clone());
        self
    }

    /// Keep the cached nodes after close (the CuratorCache bridge's `DoNotClearOnClose`).
    pub(crate) fn clear_on_close(mut self, yes: bool) -> Self {
        self.cfg.clear_on_close = yes;
        self
    }

    /// The cache (not started).
    pub fn build(self) -> TreeCache {
        let Self {
            client,
            path,
            cfg,
            executor,
        } = self;
        TreeCache {
            inner: Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
                let weak = weak.clone();
                let mut nodes = BTreeMap::new();
                nodes.insert(path.clone(), Node::new(0));
                Inner {
                    client,
                    root: path,
                    cfg,
                    st: Mutex::new(Tree {
                        life: Life::Latent,
                        nodes,
                        outstanding: 0,
                        failed: false,
                        initialized: false,
                    }),
                    window: Window::new(WINDOW),
                    watch: CacheWatch::new(move |e: &WatchedEvent| {
                        if let Some(inner) = weak.upgrade() {
                            inner.on_watch(e);
                        }
                    }),
                    publisher: Publisher::new("tree-cache", executor),
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
enum NodeState {
    /// Known from a listing (or the root), not read yet.
    Pending,
    /// Read: part of the cache.
    Live,
    /// The root, while it does not exist.
    Dead,
}

struct Node {
    state: NodeState,
    depth: usize,
    stat: Option<crate::proto::Stat>,
    data: Option<Arc<[u8]>>,
    /// Names of the children held in the tree.
    children: BTreeSet<String>,
}

impl Node {
    fn new(depth: usize) -> Node {
        Node {
            state: NodeState::Pending,
            depth,
            stat: None,
            data: None,
            children: BTreeSet::new(),
        }
    }

    fn child_data(&self, path: &str) -> Option<ChildData> {
        self.stat
            .clone()
            .map(|s| ChildData::new(path, s, self.data.clone()))
    }
}

struct Tree {
    life: Life,
    /// Every node by full path; the root is always there.
    nodes: BTreeMap<String, Node>,
    /// Reads issued and not completed (Curator's `outstandingOps`).
    outstanding: u64,
    /// A read failed for connection reasons before `Initialized`.
    failed: bool,
    initialized: bool,
}

struct Inner {
    client: CuratorFramework,
    root: String,
    cfg: Config,
    st: Mutex<Tree>,
    window: Arc<Window>,
    watch: CacheWatch,
    publisher: Publisher<dyn TreeCacheListener>,
    state_listener: Mutex<Option<ListenerId>>,
}

impl TreeCache {
    /// A cache of `path` and its subtree with the default settings (not started).
    pub fn new(client: &CuratorFramework, path: &str) -> TreeCache {
        TreeCache::builder(client, path).build()
    }

    /// A builder.
    pub fn builder(client: &CuratorFramework, path: &str) -> TreeCacheBuilder {
        TreeCacheBuilder {
            client: client.clone(),
            path: path.to_string(),
            cfg: Config {
                cache_data: true,
                compressed: false,
                max_depth: usize::MAX,
                create_parents: false,
                disable_watches: false,
                clear_on_close: true,
                selector: Arc::new(DefaultTreeCacheSelector),
            },
            executor: None,
        }
    }

    /// Starts loading (in the background). Every node found is reported as added, then
    /// `Initialized` once. Starting twice is an error.
    pub fn start(&self) -> Result<()> {
        let inner = &self.inner;
        inner.client.check_not_closed()?;
        path::validate_path(&inner.root, false)?;
        {
            let mut st = inner.st.lock();
            if st.life != Life::Latent {
                return Err(Error::InvalidArgument(
                    "the cache was already started".into(),
                ));
            }
            st.life = Life::Started;
        }
        if inner.cfg.create_parents {
            inner.client.create_containers(&inner.root)?;
        }
        inner
            .client
            .add_weak_state_listener(inner, &inner.state_listener, |inner, _c, s| {
                inner.on_state(s)
            });
        // Not connected yet (as the listeners know it, in event order): `Connected` starts
        // the load.
        if inner
            .client
            .connection_state()
            .is_some_and(ConnectionState::is_connected)
        {
            let me = inner.clone();
            on_event_thread(&inner.client, move || {
                let root = me.root.clone();
                me.refresh(&root);
            });
        }
        Ok(())
    }

    /// Stops the cache and removes its watches; the cached nodes are dropped (no events).
    pub fn close(&self) {
        let inner = &self.inner;
        let held: Vec<String> = {
            let mut st = inner.st.lock();
            if st.life != Life::Started {
                st.life = Life::Closed;
                return;
            }
            st.life = Life::Closed;
            let held = st.nodes.keys().cloned().collect();
            if inner.cfg.clear_on_close {
                st.nodes.clear();
                st.nodes.insert(inner.root.clone(), Node::new(0));
            }
            held
        };
        inner.client.remove_state_listener(&inner.state_listener);
        inner.publisher.clear();
        inner.window.close();
        inner.watch.remove_all(&inner.client, held);
    }

    /// The listeners.
    pub fn listenable(&self) -> &Listenable<dyn TreeCacheListener> {
        self.inner.publisher.listenable()
    }

    /// The cached node at `full_path` (`None` if it is not cached, or outside the tree).
    pub fn current_data(&self, full_path: &str) -> Option<ChildData> {
        let st = self.inner.st.lock();
        let n = st.nodes.get(full_path)?;
        if n.state != NodeState::Live {
            return None;
        }
        n.child_data(full_path)
    }

    /// The cached children of `full_path` by name (`None` if the node itself is not
    /// cached; an empty map if it has none).
    pub fn current_children(&self, full_path: &str) -> Option<BTreeMap<String, ChildData>> {
        let st = self.inner.st.lock();
        let n = st.nodes.get(full_path)?;
        if n.state != NodeState::Live {
            return None;
        }
        Some(
            n.children
                .iter()
                .filter_map(|name| {
                    let p = path::make_path(full_path, name);
                    let c = st.nodes.get(&p)?;
                    if c.state != NodeState::Live {
                        return None;
                    }
                    Some((name.clone(), c.child_data(&p)?))
                })
                .collect(),
        )
    }

    /// Number of cached nodes (the root included when it exists).
    pub fn size(&self) -> usize {
        let st = self.inner.st.lock();
        st.nodes
            .values()
            .filter(|n| n.state == NodeState::Live)
            .count()
    }

    /// Every cached node, ordered by path (a copy; the data buffers are shared).
    pub fn snapshot(&self) -> Vec<ChildData> {
        let st = self.inner.st.lock();
        st.nodes
            .iter()
            .filter(|(_, n)| n.state == NodeState::Live)
            .filter_map(|(p, n)| n.child_data(p))
            .collect()
    }

    /// Iterates over a [`snapshot`](Self::snapshot) (Curator's `iterator()`).
    pub fn iter(&self) -> std::vec::IntoIter<ChildData> {
        self.snapshot().into_iter()
    }

    /// True once `Initialized` has been sent.
    pub fn is_initialized(&self) -> bool {
        self.inner.st.lock().initialized
    }

    /// The cached root path.
    pub fn path(&self) -> &str {
        &self.inner.root
    }
}

impl Drop for TreeCache {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for TreeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeCache")
            .field("path", &self.inner.root)
            .field("size", &self.size())
            .finish()
    }
}
