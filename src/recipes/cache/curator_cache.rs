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
//!
//! The nodes live in a [`CuratorCacheStorage`] (the standard ordered map unless the builder
//! was given another); errors go to the builder's exception handler, or to the client's
//! unhandled-error listeners.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use parking_lot::Mutex;

use super::listener::CacheListener;
use super::storage::{children_of, CuratorCacheStorage, StandardCuratorCacheStorage};
use super::types::{CacheEventType, ChildData};
use super::window::{Slot, Window, WINDOW};
use crate::error::{Error, Result};
use crate::framework::{ConnectionState, CuratorEvent, CuratorFramework, Listenable, ListenerId};
use crate::path;
use crate::proto::EventType;
use crate::recipes::watch::PersistentWatcher;
use crate::session::events::guarded;
use crate::session::WatchedEvent;

/// What a cache does with an error (see [`CuratorCacheBuilder::with_exception_handler`]).
type ExceptionHandler = Arc<dyn Fn(&str, &Error) + Send + Sync>;

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

/// Builder of a [`CuratorCache`] (Curator's `CuratorCacheBuilder`).
#[must_use = "call build()"]
pub struct CuratorCacheBuilder {
    client: CuratorFramework,
    path: String,
    options: Vec<CuratorCacheOption>,
    storage: Option<Arc<dyn CuratorCacheStorage>>,
    handler: Option<ExceptionHandler>,
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

    /// Keeps the nodes in `storage` (Curator's `withStorage`) instead of a new
    /// [`StandardCuratorCacheStorage::standard`]. Use
    /// [`StandardCuratorCacheStorage::data_not_cached`] to keep only paths and Stats, or a
    /// storage of your own. The cache clears it on `close()` unless built with
    /// `DoNotClearOnClose`; one storage serves one cache.
    pub fn with_storage(mut self, storage: Arc<dyn CuratorCacheStorage>) -> Self {
        self.storage = Some(storage);
        self
    }

    /// Calls `handler` with what failed and the error (Curator's `withExceptionHandler`)
    /// when a read of the cache fails with anything but `NoNode`, or node data cannot be
    /// decompressed. Without one, errors go to the client's unhandled-error listeners (or the
    /// log when there are none). It runs on the client's event thread, like the listeners;
    /// a panic in it is caught and logged.
    pub fn with_exception_handler(
        mut self,
        handler: impl Fn(&str, &Error) + Send + Sync + 'static,
    ) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// The cache (not started).
    pub fn build(self) -> CuratorCache {
        let storage = self
            .storage
            .unwrap_or_else(|| Arc::new(StandardCuratorCacheStorage::standard()));
        CuratorCache::with_parts(
            &self.client,
            &self.path,
            &self.options,
            storage,
            self.handler,
        )
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
    storage: Arc<dyn CuratorCacheStorage>,
    handler: Option<ExceptionHandler>,
    handler_panics: AtomicU64,
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
        let storage = Arc::new(StandardCuratorCacheStorage::standard());
        CuratorCache::with_parts(client, path, options, storage, None)
    }

    pub(crate) fn with_parts(
        client: &CuratorFramework,
        path: &str,
        options: &[CuratorCacheOption],
        storage: Arc<dyn CuratorCacheStorage>,
        handler: Option<ExceptionHandler>,
    ) -> Self {
        CuratorCache {
            inner: Arc::new(Inner {
                client: client.clone(),
                path: path.to_string(),
                single: options.contains(&CuratorCacheOption::SingleNodeCache),
                compressed: options.contains(&CuratorCacheOption::CompressedData),
                clear_on_close: !options.contains(&CuratorCacheOption::DoNotClearOnClose),
                storage,
                handler,
                handler_panics: AtomicU64::new(0),
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
            storage: None,
            handler: None,
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
        self.inner.client.add_weak_state_listener(
            &self.inner,
            &self.inner.state_listener,
            |inner, _c, s| {
                if s == ConnectionState::Reconnected {
                    inner.resync();
                }
            },
        );
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
        self.inner
            .client
            .remove_state_listener(&self.inner.state_listener);
        if let Some(w) = self.inner.watcher.lock().take() {
            w.close();
        }
        if self.inner.clear_on_close {
            self.inner.storage.clear();
        }
        self.inner.listeners.clear();
    }

    /// The listeners.
    pub fn listenable(&self) -> &Listenable<dyn CacheListener> {
        &self.inner.listeners
    }

    /// The cached value of `path`.
    pub fn get(&self, path: &str) -> Option<ChildData> {
        self.inner.storage.get(path)
    }

    /// Number of cached nodes (the root included).
    pub fn size(&self) -> usize {
        self.inner.storage.size()
    }

    /// Every cached node, ordered by path.
    pub fn stream(&self) -> Vec<ChildData> {
        let mut v = self.inner.storage.stream();
        // Already ordered for the standard storage (the sort then only checks).
        v.sort();
        v
    }

    /// The cached direct children of `path`, ordered by path.
    pub fn children_of(&self, parent: &str) -> Vec<ChildData> {
        let mut v = children_of(self.inner.storage.descendants(parent), parent);
        v.sort();
        v
    }

    /// Empties the local copy (nothing is deleted on the server).
    pub fn clear(&self) {
        self.inner.storage.clear();
    }

    /// The storage holding the nodes.
    pub fn storage(&self) -> &Arc<dyn CuratorCacheStorage> {
        &self.inner.storage
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

impl Inner {
    fn is_closed(&self) -> bool {
        self.load.lock().closed
    }

    /// An error for the exception handler, or the client's unhandled-error listeners.
    fn report(&self, what: &str, e: &Error) {
        match &self.handler {
            None => self.client.report_unhandled(what, e),
            Some(h) => {
                let _ = guarded(&self.handler_panics, "cache exception handler", || {
                    h(what, e)
                });
            }
        }
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
            self.report("cache read", &e);
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
            (_, Some(err)) => self.report(&format!("cache read of {}", read.path), err),
            (Kind::Data, None) => {
                let node = match ChildData::try_from_read(
                    &self.client,
                    &read.path,
                    e,
                    true,
                    self.compressed,
                ) {
                    Ok(Some(node)) => node,
                    Ok(None) => return,
                    Err(err) => {
                        return self.report(
                            &format!("cache: decompressing the data of {}", read.path),
                            &err,
                        )
                    }
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
                let gone: Vec<String> =
                    children_of(self.storage.descendants(&read.path), &read.path)
                        .into_iter()
                        .map(|d| d.path().to_string())
                        .filter(|k| !present.contains(k))
                        .collect();
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

    /// Stores a node read from the server and tells the listeners, unless the cache holds
    /// the same or a newer version. Every change is applied on the event thread, so the
    /// look and the store cannot interleave with another change (only with a user's
    /// `clear()`, after which the node counts as created).
    fn put(&self, data: ChildData) {
        if let Some(old) = self.storage.get(data.path()) {
            if old.stat().mzxid >= data.stat().mzxid {
                return;
            }
        }
        // The listeners get the node as read, data included, whatever the storage keeps.
        let old = self.storage.put(data.clone());
        let event = match old {
            Some(_) => CacheEventType::NodeChanged,
            None => CacheEventType::NodeCreated,
        };
        self.listeners
            .for_each(move |l| l.event(event, old.as_ref(), Some(&data)));
    }

    /// Removes `p` and everything below it, deepest first, reporting each.
    fn remove_tree(&self, p: &str) {
        self.remove_below(p);
        let old = self.storage.remove(p);
        if let Some(old) = old {
            self.listeners
                .for_each(move |l| l.event(CacheEventType::NodeDeleted, Some(&old), None));
        }
    }

    fn remove_below(&self, p: &str) {
        let mut removed: Vec<ChildData> = self
            .storage
            .descendants(p)
            .iter()
            .filter_map(|d| self.storage.remove(d.path()))
            .collect();
        removed.sort_by(|a, b| b.path().cmp(a.path()));
        for old in removed {
            self.listeners
                .for_each(move |l| l.event(CacheEventType::NodeDeleted, Some(&old), None));
        }
    }
}
