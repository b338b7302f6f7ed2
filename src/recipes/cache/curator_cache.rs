//! [`CuratorCache`]: a local, always-current copy of a node and (by default) its whole
//! subtree, kept by one persistent-recursive watch (ZooKeeper 3.6+), as Curator 5's
//! `CuratorCache`.
//!
//! How it stays right: the watch is added before anything is read, so no change can slip
//! between a read and the watch. The initial load walks the tree with background reads,
//! pipelined through a bounded window (never one blocking read per node); a node's children
//! are listed only when its Stat says it has some. Watch events and read completions both
//! run on the client's event thread in server order, so the cache applies changes in the
//! order the server made them. After a reconnect the watch is re-added if needed and the
//! whole tree is read again: what changed meanwhile is reported, what vanished is removed.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::listener::CacheListener;
use super::types::{CacheEventType, ChildData};
use super::window::{Slot, Window, WINDOW};
use crate::error::{Error, Result};
use crate::framework::{ConnectionState, CuratorEvent, CuratorFramework, Listenable, ListenerId};
use crate::path;
use crate::proto::EventType;
use crate::recipes::watch::PersistentWatcher;
use crate::session::WatchedEvent;

/// Options of a [`CuratorCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CuratorCacheOption {
    /// Cache only the node itself, not its children.
    SingleNodeCache,
    /// Decompress node data with the client's compression provider.
    CompressedData,
    /// Keep the cached data after `close()`.
    DoNotClearOnClose,
}

/// A cache of a subtree (or one node), updated by a persistent-recursive watch.
///
/// ```
/// # use zk_curator::framework::*;
/// # use zk_curator::recipes::cache::*;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// # let client = CuratorFrameworkFactory::new_client(&server.connect_string(), RetryOneTime::new(std::time::Duration::from_millis(10)))?;
/// # client.start()?;
/// client.create().creating_parents_if_needed().for_path_with_data("/services/a", b"10.0.0.1")?;
/// let cache = CuratorCache::build(&client, "/services", &[]);
/// let (tx, rx) = std::sync::mpsc::channel();
/// cache.listenable().add_listener(
///     CuratorCacheListener::builder()
///         .for_initialized(move || tx.send(()).unwrap())
///         .build(),
/// );
/// cache.start()?;
/// rx.recv().unwrap();
/// assert_eq!(cache.get("/services/a").unwrap().data(), Some(&b"10.0.0.1"[..]));
/// cache.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct CuratorCache {
    inner: Arc<Inner>,
}

/// Builder of a [`CuratorCache`].
#[must_use = "call build()"]
pub struct CuratorCacheBuilder {
    client: CuratorFramework,
    path: String,
    options: Vec<CuratorCacheOption>,
}

impl std::fmt::Debug for CuratorCacheBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CuratorCacheBuilder")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl CuratorCacheBuilder {
    /// Adds options.
    pub fn with_options(mut self, options: &[CuratorCacheOption]) -> Self {
        self.options.extend_from_slice(options);
        self
    }

    /// The cache (not started).
    pub fn build(self) -> CuratorCache {
        CuratorCache::build(&self.client, &self.path, &self.options)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Data,
    Children,
}

struct Read {
    path: String,
    kind: Kind,
    /// Follow the children (initial load and resync).
    deep: bool,
    /// Counts toward the initial load.
    initial: bool,
}

#[derive(Default)]
struct Load {
    started: bool,
    closed: bool,
    initialized: bool,
    /// Initial-load reads not yet completed.
    outstanding: usize,
}

struct Inner {
    client: CuratorFramework,
    path: String,
    single: bool,
    compressed: bool,
    clear_on_close: bool,
    storage: RwLock<BTreeMap<String, ChildData>>,
    listeners: Listenable<dyn CacheListener>,
    load: Mutex<Load>,
    /// The reads, pipelined (initial load, resyncs and watch-triggered reads alike).
    window: Arc<Window>,
    watcher: Mutex<Option<PersistentWatcher>>,
    state_listener: Mutex<Option<ListenerId>>,
}

impl CuratorCache {
    /// A cache of `path` (not started).
    pub fn build(client: &CuratorFramework, path: &str, options: &[CuratorCacheOption]) -> Self {
        CuratorCache {
            inner: Arc::new(Inner {
                client: client.clone(),
                path: path.to_string(),
                single: options.contains(&CuratorCacheOption::SingleNodeCache),
                compressed: options.contains(&CuratorCacheOption::CompressedData),
                clear_on_close: !options.contains(&CuratorCacheOption::DoNotClearOnClose),
                storage: RwLock::new(BTreeMap::new()),
                listeners: Listenable::default(),
                load: Mutex::new(Load::default()),
                window: Window::new(WINDOW),
                watcher: Mutex::new(None),
                state_listener: Mutex::new(None),
            }),
        }
    }

    /// A builder.
    pub fn builder(client: &CuratorFramework, path: &str) -> CuratorCacheBuilder {
        CuratorCacheBuilder {
            client: client.clone(),
            path: path.to_string(),
            options: Vec::new(),
        }
    }

    /// Adds the watch and starts loading (in the background). Listeners hear every node as
    /// created, then `initialized` once.
    pub fn start(&self) -> Result<()> {
        self.inner.client.check_not_closed()?;
        path::validate_path(&self.inner.path, false)?;
        {
            let mut l = self.inner.load.lock();
            if l.started {
                return Err(Error::InvalidArgument(
                    "the cache is already started".into(),
                ));
            }
            l.started = true;
        }
        let pw = PersistentWatcher::new(&self.inner.client, &self.inner.path, !self.inner.single);
        let weak = Arc::downgrade(&self.inner);
        pw.listenable().add_listener(move |e: &WatchedEvent| {
            if let Some(inner) = weak.upgrade() {
                inner.on_watch(e);
            }
        });
        // The watch first (requests go out in order), then the reads; on a reconnect the
        // watcher's listener (added first) re-adds the watch before ours reads again.
        pw.start()?;
        *self.inner.watcher.lock() = Some(pw);
        let weak = Arc::downgrade(&self.inner);
        let id = self
            .inner
            .client
            .connection_state_listenable()
            .add_listener(move |_c: &CuratorFramework, s: ConnectionState| {
                if s == ConnectionState::Reconnected {
                    if let Some(inner) = weak.upgrade() {
                        inner.resync();
                    }
                }
            });
        *self.inner.state_listener.lock() = Some(id);
        let root = self.inner.path.clone();
        self.inner.enqueue(vec![Read {
            path: root,
            kind: Kind::Data,
            deep: !self.inner.single,
            initial: true,
        }]);
        Ok(())
    }

    /// Stops watching; clears the data unless built with `DoNotClearOnClose`.
    pub fn close(&self) {
        {
            let mut l = self.inner.load.lock();
            if l.closed {
                return;
            }
            l.closed = true;
        }
        self.inner.window.close();
        if let Some(id) = self.inner.state_listener.lock().take() {
            self.inner
                .client
                .connection_state_listenable()
                .remove_listener(id);
        }
        if let Some(w) = self.inner.watcher.lock().take() {
            w.close();
        }
        if self.inner.clear_on_close {
            self.inner.storage.write().clear();
        }
        self.inner.listeners.clear();
    }

    /// The listeners.
    pub fn listenable(&self) -> &Listenable<dyn CacheListener> {
        &self.inner.listeners
    }

    /// The cached value of `path`.
    pub fn get(&self, path: &str) -> Option<ChildData> {
        self.inner.storage.read().get(path).cloned()
    }

    /// Number of cached nodes (the root included).
    pub fn size(&self) -> usize {
        self.inner.storage.read().len()
    }

    /// Every cached node, ordered by path.
    pub fn stream(&self) -> Vec<ChildData> {
        self.inner.storage.read().values().cloned().collect()
    }

    /// The cached direct children of `path`, ordered by path.
    pub fn children_of(&self, parent: &str) -> Vec<ChildData> {
        let s = self.inner.storage.read();
        subtree(&s, parent)
            .filter(|(k, _)| path::parent(k) == Some(parent))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Empties the local copy (nothing is deleted on the server).
    pub fn clear(&self) {
        self.inner.storage.write().clear();
    }

    /// True once the initial load has been reported.
    pub fn is_initialized(&self) -> bool {
        self.inner.load.lock().initialized
    }
}

impl Drop for CuratorCache {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for CuratorCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CuratorCache")
            .field("path", &self.inner.path)
            .field("size", &self.size())
            .finish()
    }
}

/// The entries strictly below `p` (a range of the ordered map).
fn subtree<'a>(
    s: &'a BTreeMap<String, ChildData>,
    p: &str,
) -> impl Iterator<Item = (&'a String, &'a ChildData)> {
    let (from, to) = if p == "/" {
        ("/".to_string(), "0".to_string())
    } else {
        (format!("{p}/"), format!("{p}0"))
    };
    s.range(from..to).filter(move |(k, _)| k.as_str() != "/")
}

impl Inner {
    fn is_closed(&self) -> bool {
        self.load.lock().closed
    }

    /// A watch notification (event thread).
    fn on_watch(self: &Arc<Self>, e: &WatchedEvent) {
        let Some(p) = e.path() else { return };
        if self.is_closed() {
            return;
        }
        match e.event_type() {
            EventType::NodeCreated | EventType::NodeDataChanged => self.enqueue(vec![Read {
                path: p.to_string(),
                kind: Kind::Data,
                deep: false,
                initial: false,
            }]),
            EventType::NodeDeleted => self.remove_tree(p),
            _ => {}
        }
    }

    /// After a reconnect: read everything again (the session may be new, and persistent
    /// watches replay nothing that happened while disconnected).
    fn resync(self: &Arc<Self>) {
        if self.is_closed() {
            return;
        }
        self.enqueue(vec![Read {
            path: self.path.clone(),
            kind: Kind::Data,
            deep: !self.single,
            initial: false,
        }]);
    }

    fn enqueue(self: &Arc<Self>, reads: Vec<Read>) {
        {
            let mut l = self.load.lock();
            if l.closed {
                return;
            }
            l.outstanding += reads.iter().filter(|r| r.initial).count();
        }
        for read in reads {
            let weak = Arc::downgrade(self);
            self.window.submit(Box::new(move |slot| {
                if let Some(inner) = weak.upgrade() {
                    inner.issue(read, slot);
                }
            }));
        }
    }

    /// Sends one read; its slot in the window is held until the callback has run.
    fn issue(self: &Arc<Self>, read: Read, slot: Slot) {
        let weak = Arc::downgrade(self);
        let (path, kind, deep, initial) = (read.path.clone(), read.kind, read.deep, read.initial);
        let cb = move |_c: &CuratorFramework, e: &CuratorEvent| {
            let _slot = slot;
            let Some(inner) = weak.upgrade() else { return };
            let read = Read {
                path,
                kind,
                deep,
                initial,
            };
            inner.on_read(&read, e);
            inner.completed(&read);
        };
        let sent = match read.kind {
            Kind::Data => self
                .client
                .get_data()
                .in_background(cb)
                .for_path(&read.path),
            Kind::Children => self
                .client
                .get_children()
                .in_background(cb)
                .for_path(&read.path),
        };
        if let Err(e) = sent {
            // Refused before sending (bad path, closed client): account for it at once.
            self.client.report_unhandled("cache read", &e);
            self.completed(&read);
        }
    }

    fn completed(self: &Arc<Self>, read: &Read) {
        let init = {
            let mut l = self.load.lock();
            if read.initial {
                l.outstanding = l.outstanding.saturating_sub(1);
            }
            let done = !l.initialized && l.started && l.outstanding == 0 && !l.closed;
            if done {
                l.initialized = true;
            }
            done
        };
        if init {
            self.listeners.for_each(|l| l.initialized());
        }
    }

    /// A read came back (event thread).
    fn on_read(self: &Arc<Self>, read: &Read, e: &CuratorEvent) {
        if self.is_closed() {
            return;
        }
        match (read.kind, e.error()) {
            (_, Some(Error::NoNode { .. })) => self.remove_tree(&read.path),
            (_, Some(err)) => self
                .client
                .report_unhandled(&format!("cache read of {}", read.path), err),
            (Kind::Data, None) => {
                let Some(node) =
                    ChildData::from_read(&self.client, &read.path, e, true, self.compressed)
                else {
                    return;
                };
                let has_children = node.stat().num_children > 0;
                self.put(node);
                if read.deep {
                    if has_children {
                        self.enqueue(vec![Read {
                            path: read.path.clone(),
                            kind: Kind::Children,
                            deep: true,
                            initial: read.initial,
                        }]);
                    } else {
                        // Nothing below it any more: drop what a missed delete left behind.
                        self.remove_below(&read.path);
                    }
                }
            }
            (Kind::Children, None) => {
                let kids = e.children().unwrap_or_default();
                let present: std::collections::HashSet<String> = kids
                    .iter()
                    .map(|k| path::make_path(&read.path, k))
                    .collect();
                // Children we hold that the server no longer has.
                let gone: Vec<String> = {
                    let s = self.storage.read();
                    subtree(&s, &read.path)
                        .filter(|(k, _)| path::parent(k) == Some(read.path.as_str()))
                        .filter(|(k, _)| !present.contains(*k))
                        .map(|(k, _)| k.clone())
                        .collect()
                };
                for g in gone {
                    self.remove_tree(&g);
                }
                let mut reads: Vec<Read> = present
                    .into_iter()
                    .map(|p| Read {
                        path: p,
                        kind: Kind::Data,
                        deep: true,
                        initial: read.initial,
                    })
                    .collect();
                reads.sort_by(|a, b| a.path.cmp(&b.path));
                self.enqueue(reads);
            }
        }
    }

    fn put(&self, data: ChildData) {
        let (event, old) = {
            let mut s = self.storage.write();
            match s.get(data.path()) {
                Some(old) if old.stat().mzxid > data.stat().mzxid => return,
                Some(old) if old.stat().mzxid == data.stat().mzxid => return,
                Some(old) => {
                    let old = old.clone();
                    s.insert(data.path().to_string(), data.clone());
                    (CacheEventType::NodeChanged, Some(old))
                }
                None => {
                    s.insert(data.path().to_string(), data.clone());
                    (CacheEventType::NodeCreated, None)
                }
            }
        };
        self.listeners
            .for_each(move |l| l.event(event, old.as_ref(), Some(&data)));
    }

    /// Removes `p` and everything below it, deepest first, reporting each.
    fn remove_tree(&self, p: &str) {
        self.remove_below(p);
        let old = self.storage.write().remove(p);
        if let Some(old) = old {
            self.listeners
                .for_each(move |l| l.event(CacheEventType::NodeDeleted, Some(&old), None));
        }
    }

    fn remove_below(&self, p: &str) {
        let mut removed: Vec<ChildData> = {
            let mut s = self.storage.write();
            let keys: Vec<String> = subtree(&s, p).map(|(k, _)| k.clone()).collect();
            keys.iter().filter_map(|k| s.remove(k)).collect()
        };
        removed.sort_by(|a, b| b.path().cmp(a.path()));
        for old in removed {
            self.listeners
                .for_each(move |l| l.event(CacheEventType::NodeDeleted, Some(&old), None));
        }
    }
}
