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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::cache_watch::{on_event_thread, CacheWatch};
use super::publisher::Publisher;
use super::types::{
    ChildData, PathChildrenCacheEvent, PathChildrenCacheEventType, PathChildrenCacheListener,
};
use super::window::{Window, WINDOW};
use crate::error::{Error, Result};
use crate::framework::{
    ConnectionState, CuratorEvent, CuratorFramework, CuratorFrameworkState, Listenable, ListenerId,
};
use crate::path;
use crate::proto::{EventType, Stat};
use crate::session::{WatchedEvent, WorkerPool};

impl Listenable<dyn PathChildrenCacheListener> {
    /// Adds a listener called in the cache's event order (on the client's event thread, or
    /// on the cache's executor if it has one).
    pub fn add_listener(&self, l: impl PathChildrenCacheListener) -> ListenerId {
        self.add_arc(Arc::new(l), None)
    }

    /// Adds a listener called on `pool` (its calls stay in order): a slow listener there
    /// delays neither the client nor the other listeners.
    pub fn add_listener_with_executor(
        &self,
        l: impl PathChildrenCacheListener,
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
    /// ([`initial_data`](PathChildrenCacheEvent::initial_data)).
    PostInitializedEvent,
}

/// A cache of the direct children of a node (Curator's `PathChildrenCache`).
///
/// Prefer [`CuratorCache`](super::CuratorCache) on ZooKeeper 3.6+.
///
/// ```no_run
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFramework, CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::cache::*;
/// let client = CuratorFrameworkFactory::new_client(
///     "127.0.0.1:2181",
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// client.create().creating_parents_if_needed().for_path_with_data("/workers/w1", b"idle")?;
/// let cache = PathChildrenCache::new(&client, "/workers", true);
/// cache.listenable().add_listener(|_c: &CuratorFramework, e: &PathChildrenCacheEvent| {
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
        let weak = Arc::downgrade(inner);
        let id = inner.client.connection_state_listenable().add_listener(
            move |_c: &CuratorFramework, s: ConnectionState| {
                if let Some(inner) = weak.upgrade() {
                    inner.on_state(s);
                }
            },
        );
        *inner.state_listener.lock() = Some(id);
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
        if let Some(id) = inner.state_listener.lock().take() {
            inner
                .client
                .connection_state_listenable()
                .remove_listener(id);
        }
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

fn event(
    event_type: PathChildrenCacheEventType,
    data: Option<ChildData>,
) -> PathChildrenCacheEvent {
    PathChildrenCacheEvent {
        event_type,
        data,
        initial_data: None,
    }
}

impl Inner {
    fn is_started(&self) -> bool {
        self.st.lock().life == Life::Started
    }

    fn check_started(&self) -> Result<()> {
        match self.st.lock().life {
            Life::Started => Ok(()),
            Life::Latent => Err(Error::InvalidArgument("the cache is not started".into())),
            Life::Closed => Err(Error::InvalidArgument("the cache is closed".into())),
        }
    }

    fn publish(&self, e: PathChildrenCacheEvent) {
        let client = self.client.clone();
        self.publisher.publish(move |l| l.child_event(&client, &e));
    }

    fn on_state(self: &Arc<Self>, s: ConnectionState) {
        if !self.is_started() {
            return;
        }
        match s {
            ConnectionState::Suspended => {
                self.publish(event(PathChildrenCacheEventType::ConnectionSuspended, None))
            }
            ConnectionState::Lost => {
                self.publish(event(PathChildrenCacheEventType::ConnectionLost, None))
            }
            ConnectionState::Connected | ConnectionState::Reconnected => {
                self.refresh(RefreshMode::ForceGetDataAndStat);
                self.publish(event(
                    PathChildrenCacheEventType::ConnectionReconnected,
                    None,
                ));
            }
            ConnectionState::ReadOnly => {}
        }
    }

    fn on_watch(self: &Arc<Self>, e: &WatchedEvent) {
        let Some(p) = e.path() else { return };
        if p == self.path {
            match e.event_type() {
                EventType::NodeDeleted => {
                    self.watch.forget(p);
                    self.refresh(RefreshMode::Standard);
                }
                EventType::NodeChildrenChanged
                | EventType::NodeCreated
                | EventType::NodeDataChanged => self.refresh(RefreshMode::Standard),
                _ => {}
            }
            return;
        }
        match e.event_type() {
            EventType::NodeDeleted => {
                self.watch.forget(p);
                self.remove(p);
            }
            EventType::NodeDataChanged => self.get_data_and_stat(p),
            _ => {}
        }
    }

    fn refresh_on_event_thread(self: &Arc<Self>, mode: RefreshMode) {
        let me = self.clone();
        on_event_thread(&self.client, move || me.refresh(mode));
    }

    /// Lists the children (watched), after making the parent if needed (event thread).
    fn refresh(self: &Arc<Self>, mode: RefreshMode) {
        let ensured = {
            let st = self.st.lock();
            if st.life != Life::Started {
                return;
            }
            st.ensured
        };
        if ensured {
            return self.list_children(mode);
        }
        // Curator's EnsureContainers, in the background (several round trips, never on
        // the event thread): the parents of `path/foo` are `path` and its ancestors.
        let weak = Arc::downgrade(self);
        let sent = self
            .client
            .check_exists()
            .creating_parent_containers_if_needed()
            .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                let Some(inner) = weak.upgrade() else { return };
                match e.error() {
                    None | Some(Error::NoNode { .. }) => {
                        inner.st.lock().ensured = true;
                        inner.list_children(mode);
                    }
                    Some(err) => inner.client.report_unhandled(
                        &format!("PathChildrenCache: creating {}", inner.path),
                        err,
                    ),
                }
            })
            .for_path(&path::make_path(&self.path, "foo"));
        if let Err(e) = sent {
            self.client
                .report_unhandled("PathChildrenCache: refresh", &e);
        }
    }

    fn list_children(self: &Arc<Self>, mode: RefreshMode) {
        let weak = Arc::downgrade(self);
        self.window.submit(Box::new(move |slot| {
            let Some(inner) = weak.upgrade() else { return };
            if !inner.is_started() {
                return;
            }
            inner.watch.note(&inner.path);
            let w = Arc::downgrade(&inner);
            let sent = inner
                .client
                .get_children()
                .using_watcher(inner.watch.watcher())
                .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                    let _slot = slot;
                    if let Some(inner) = w.upgrade() {
                        inner.on_children(mode, e);
                    }
                })
                .for_path(&inner.path);
            if let Err(e) = sent {
                inner
                    .client
                    .report_unhandled("PathChildrenCache: getChildren", &e);
            }
        }));
    }

    fn on_children(self: &Arc<Self>, mode: RefreshMode, e: &CuratorEvent) {
        if !self.is_started() {
            // Answered after close(): the watch it set must go too.
            self.watch.remove(&self.client, &self.path);
            return;
        }
        match e.error() {
            None => self.process_children(e.children().unwrap_or_default(), mode),
            Some(Error::NoNode { .. }) => {
                self.st.lock().ensured = false;
                if mode != RefreshMode::NoNodeException {
                    self.refresh(RefreshMode::NoNodeException);
                }
            }
            Some(err) => log::debug!("PathChildrenCache {}: getChildren failed: {err}", self.path),
        }
    }

    fn process_children(self: &Arc<Self>, names: &[String], mode: RefreshMode) {
        let listed: BTreeSet<&String> = names.iter().collect();
        let (removed, to_read) = {
            let mut st = self.st.lock();
            let removed: Vec<String> = st
                .current
                .keys()
                .filter(|k| {
                    let name = path::node_name(k).to_string();
                    !listed.contains(&name)
                })
                .cloned()
                .collect();
            let to_read: Vec<String> = listed
                .iter()
                .map(|n| path::make_path(&self.path, n))
                .filter(|p| mode == RefreshMode::ForceGetDataAndStat || !st.current.contains_key(p))
                .collect();
            if let Some(init) = st.initial.as_mut() {
                init.listed = true;
                for n in &listed {
                    // A child already read keeps its value (Curator overwrites it here and
                    // can then wait forever for a read that is never issued).
                    init.nodes.entry((*n).clone()).or_insert(None);
                }
            }
            (removed, to_read)
        };
        for p in removed {
            self.remove(&p);
        }
        for p in to_read {
            self.get_data_and_stat(&p);
        }
        self.maybe_initialized();
    }

    /// Reads a child (watched) through the window (event thread).
    fn get_data_and_stat(self: &Arc<Self>, full: &str) {
        let weak = Arc::downgrade(self);
        let full = full.to_string();
        self.window.submit(Box::new(move |slot| {
            let Some(inner) = weak.upgrade() else { return };
            if !inner.is_started() {
                return;
            }
            inner.watch.note(&full);
            let w = Arc::downgrade(&inner);
            let p = full.clone();
            let sent = inner
                .client
                .get_data()
                .using_watcher(inner.watch.watcher())
                .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                    let _slot = slot;
                    if let Some(inner) = w.upgrade() {
                        inner.on_child_data(&p, e);
                    }
                })
                .for_path(&full);
            if let Err(e) = sent {
                inner
                    .client
                    .report_unhandled("PathChildrenCache: getData", &e);
            }
        }));
    }

    fn on_child_data(self: &Arc<Self>, full: &str, e: &CuratorEvent) {
        if !self.is_started() {
            self.watch.remove(&self.client, full);
            return;
        }
        match e.error() {
            None => {
                if let Some(d) =
                    ChildData::from_read(&self.client, full, e, self.cache_data, self.compressed)
                {
                    self.apply_new_data(d);
                }
            }
            Some(Error::NoNode { .. }) => self.remove(full),
            Some(err) => log::debug!("PathChildrenCache {full}: getData failed: {err}"),
        }
    }

    fn apply_new_data(self: &Arc<Self>, data: ChildData) {
        let ev = {
            let mut st = self.st.lock();
            let name = path::node_name(data.path()).to_string();
            let ev = match st.current.get(data.path()) {
                // An answer older than what we hold (a rebuild raced with the watches).
                Some(old) if old.stat().mzxid > data.stat().mzxid => return,
                Some(old) if old.stat().mzxid == data.stat().mzxid => None,
                Some(_) => Some(PathChildrenCacheEventType::ChildUpdated),
                None => Some(PathChildrenCacheEventType::ChildAdded),
            };
            st.current.insert(data.path().to_string(), data.clone());
            if let Some(init) = st.initial.as_mut() {
                init.nodes.insert(name, Some(data.clone()));
            }
            ev
        };
        if let Some(t) = ev {
            self.publish(event(t, Some(data)));
        }
        self.maybe_initialized();
    }

    fn remove(self: &Arc<Self>, full: &str) {
        let old = {
            let mut st = self.st.lock();
            if let Some(init) = st.initial.as_mut() {
                init.nodes.remove(path::node_name(full));
            }
            st.current.remove(full)
        };
        if let Some(old) = old {
            self.publish(event(PathChildrenCacheEventType::ChildRemoved, Some(old)));
        }
        self.maybe_initialized();
    }

    /// `StartMode::PostInitializedEvent`: once every child of the first listing has been
    /// read (or has vanished), one `Initialized` event.
    fn maybe_initialized(&self) {
        let initial = {
            let mut st = self.st.lock();
            match &st.initial {
                Some(init) if init.listed && init.nodes.values().all(Option::is_some) => {
                    st.initial.take()
                }
                _ => None,
            }
        };
        if let Some(init) = initial {
            let data: Vec<ChildData> = init.nodes.into_values().flatten().collect();
            self.publish(PathChildrenCacheEvent {
                event_type: PathChildrenCacheEventType::Initialized,
                data: None,
                initial_data: Some(data),
            });
        }
    }

    /// EnsureContainers, synchronously (rebuilds).
    fn ensure_sync(&self) -> Result<()> {
        if self.st.lock().ensured {
            return Ok(());
        }
        self.client.create_containers(&self.path)?;
        self.st.lock().ensured = true;
        Ok(())
    }

    /// Reads one child now (no watch): `None` if it is gone.
    fn read_one(&self, full: &str) -> Result<Option<ChildData>> {
        if self.cache_data {
            let mut stat = Stat::default();
            let mut b = self.client.get_data();
            if self.compressed {
                b = b.decompressed();
            }
            match b.storing_stat_in(&mut stat).for_path(full) {
                Ok(d) => Ok(Some(ChildData::new(full, stat, Some(Arc::from(d))))),
                Err(Error::NoNode { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        } else {
            Ok(self
                .client
                .check_exists()
                .for_path(full)?
                .map(|stat| ChildData::new(full, stat, None)))
        }
    }

    /// Reads `paths` (no watches) for a rebuild: pipelined background reads, at most
    /// [`WINDOW`] in flight, collected here; one at a time on the event thread.
    fn read_all(&self, paths: &[String]) -> Result<Vec<(String, Option<ChildData>)>> {
        if self.client.event_dispatcher().is_event_thread() {
            return paths
                .iter()
                .map(|p| Ok((p.clone(), self.read_one(p)?)))
                .collect();
        }
        let (tx, rx) = mpsc::channel::<(usize, CuratorEvent)>();
        let mut out = Vec::with_capacity(paths.len());
        let (mut next, mut inflight) = (0usize, 0usize);
        while next < paths.len() || inflight > 0 {
            while next < paths.len() && inflight < WINDOW {
                let (i, tx) = (next, tx.clone());
                let cb = move |_c: &CuratorFramework, e: &CuratorEvent| {
                    let _ = tx.send((i, e.clone()));
                };
                let p = &paths[i];
                if self.cache_data {
                    self.client.get_data().in_background(cb).for_path(p)?;
                } else {
                    self.client.check_exists().in_background(cb).for_path(p)?;
                }
                next += 1;
                inflight += 1;
            }
            let (i, e) = loop {
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(r) => break r,
                    Err(_) if self.client.state() != CuratorFrameworkState::Started => {
                        return Err(Error::Closed)
                    }
                    Err(_) => {}
                }
            };
            inflight -= 1;
            let p = paths.get(i).cloned().unwrap_or_default();
            match e.error() {
                None => {
                    let d = ChildData::from_read(
                        &self.client,
                        &p,
                        &e,
                        self.cache_data,
                        self.compressed,
                    );
                    out.push((p, d));
                }
                Some(Error::NoNode { .. }) => out.push((p, None)),
                Some(err) => return Err(err.clone()),
            }
        }
        Ok(out)
    }
}
