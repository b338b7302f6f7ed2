//! [`CuratorCacheListener`] and its builder: per-event-type closures, and bridges that feed
//! listeners written for the older caches (PathChildrenCache, TreeCache, NodeCache) from a
//! CuratorCache.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::types::{
    CacheEventType, ChildData, NodeCacheListener, PathChildrenCacheEvent,
    PathChildrenCacheEventType, PathChildrenCacheListener, TreeCacheEvent, TreeCacheEventType,
    TreeCacheListener,
};
use crate::framework::{CuratorFramework, Listenable, ListenerId};
use crate::path;
use crate::session::WorkerPool;

/// Hears a [`CuratorCache`](super::CuratorCache) (Curator's `CuratorCacheListener`
/// interface; build one from closures with [`CuratorCacheListener::builder`]).
pub trait CacheListener: Send + Sync + 'static {
    /// A node was created (`old` is `None`), changed, or deleted (`data` is `None`).
    fn event(&self, event_type: CacheEventType, old: Option<&ChildData>, data: Option<&ChildData>);

    /// Every node present when the cache started has been reported (called once).
    fn initialized(&self) {}
}

impl Listenable<dyn CacheListener> {
    /// Adds a listener called on the client's event thread.
    pub fn add_listener(&self, l: impl CacheListener) -> ListenerId {
        self.add_arc(Arc::new(l), None)
    }

    /// Adds a listener called on `pool` (its calls stay in order).
    pub fn add_listener_with_executor(
        &self,
        l: impl CacheListener,
        pool: &WorkerPool,
    ) -> ListenerId {
        self.add_arc(Arc::new(l), Some(pool))
    }
}

type EventFn = Box<dyn Fn(CacheEventType, Option<&ChildData>, Option<&ChildData>) + Send + Sync>;
type InitFn = Box<dyn Fn() + Send + Sync>;

/// Builds a [`CacheListener`] from closures (Curator's `CuratorCacheListener.builder()`).
///
/// ```
/// use zk_curator::recipes::cache::{CuratorCacheListener, ChildData};
/// let l = CuratorCacheListener::builder()
///     .for_creates(|n| println!("created {}", n.path()))
///     .for_changes(|_old, new| println!("{} changed", new.path()))
///     .for_deletes(|old| println!("deleted {}", old.path()))
///     .for_initialized(|| println!("ready"))
///     .build();
/// # let _ = l;
/// ```
#[must_use = "call build()"]
#[derive(Default)]
pub struct CuratorCacheListenerBuilder {
    events: Vec<EventFn>,
    inits: Vec<InitFn>,
    after_initialized: bool,
}

// The callbacks are closures: counted, not shown.
impl std::fmt::Debug for CuratorCacheListenerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CuratorCacheListenerBuilder")
            .field("event_callbacks", &self.events.len())
            .field("initialized_callbacks", &self.inits.len())
            .field("after_initialized", &self.after_initialized)
            .finish()
    }
}

/// The entry point of Curator's `CuratorCacheListener.builder()`.
#[derive(Debug, Clone, Copy)]
pub struct CuratorCacheListener;

impl CuratorCacheListener {
    /// A listener builder.
    pub fn builder() -> CuratorCacheListenerBuilder {
        CuratorCacheListenerBuilder::default()
    }
}

impl CuratorCacheListenerBuilder {
    fn on(mut self, f: EventFn) -> Self {
        self.events.push(f);
        self
    }

    /// Nodes created.
    pub fn for_creates(self, f: impl Fn(&ChildData) + Send + Sync + 'static) -> Self {
        self.on(Box::new(move |t, _, d| {
            if let (CacheEventType::NodeCreated, Some(d)) = (t, d) {
                f(d)
            }
        }))
    }

    /// Nodes changed: old value, new value.
    pub fn for_changes(self, f: impl Fn(&ChildData, &ChildData) + Send + Sync + 'static) -> Self {
        self.on(Box::new(move |t, o, d| {
            if let (CacheEventType::NodeChanged, Some(o), Some(d)) = (t, o, d) {
                f(o, d)
            }
        }))
    }

    /// Nodes created (old is `None`) or changed.
    pub fn for_creates_and_changes(
        self,
        f: impl Fn(Option<&ChildData>, &ChildData) + Send + Sync + 'static,
    ) -> Self {
        self.on(Box::new(move |t, o, d| {
            if let (CacheEventType::NodeCreated | CacheEventType::NodeChanged, Some(d)) = (t, d) {
                f(o, d)
            }
        }))
    }

    /// Nodes deleted (their last value).
    pub fn for_deletes(self, f: impl Fn(&ChildData) + Send + Sync + 'static) -> Self {
        self.on(Box::new(move |t, o, _| {
            if let (CacheEventType::NodeDeleted, Some(o)) = (t, o) {
                f(o)
            }
        }))
    }

    /// Every event.
    pub fn for_all(
        self,
        f: impl Fn(CacheEventType, Option<&ChildData>, Option<&ChildData>) + Send + Sync + 'static,
    ) -> Self {
        self.on(Box::new(f))
    }

    /// The initial load is complete.
    pub fn for_initialized(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.inits.push(Box::new(f));
        self
    }

    /// Feeds a PathChildrenCache listener: events of the direct children of `path`.
    pub fn for_path_children_cache(
        self,
        path: &str,
        client: &CuratorFramework,
        l: impl PathChildrenCacheListener,
    ) -> Self {
        let parent = path.to_string();
        let client = client.clone();
        let l = Arc::new(l);
        let l2 = l.clone();
        let c2 = client.clone();
        self.on(Box::new(move |t, o, d| {
            let Some(node) = d.or(o) else { return };
            if path::parent(node.path()) != Some(parent.as_str()) {
                return;
            }
            let (event_type, data) = match t {
                CacheEventType::NodeCreated => (PathChildrenCacheEventType::ChildAdded, d),
                CacheEventType::NodeChanged => (PathChildrenCacheEventType::ChildUpdated, d),
                CacheEventType::NodeDeleted => (PathChildrenCacheEventType::ChildRemoved, o),
            };
            l.child_event(
                &client,
                &PathChildrenCacheEvent {
                    event_type,
                    data: data.cloned(),
                    initial_data: None,
                },
            );
        }))
        .for_initialized(move || {
            l2.child_event(
                &c2,
                &PathChildrenCacheEvent {
                    event_type: PathChildrenCacheEventType::Initialized,
                    data: None,
                    initial_data: None,
                },
            )
        })
    }

    /// Feeds a TreeCache listener.
    pub fn for_tree_cache(self, client: &CuratorFramework, l: impl TreeCacheListener) -> Self {
        let client = client.clone();
        let l = Arc::new(l);
        let l2 = l.clone();
        let c2 = client.clone();
        self.on(Box::new(move |t, o, d| {
            let (event_type, data, old) = match t {
                CacheEventType::NodeCreated => (TreeCacheEventType::NodeAdded, d, None),
                CacheEventType::NodeChanged => (TreeCacheEventType::NodeUpdated, d, o),
                CacheEventType::NodeDeleted => (TreeCacheEventType::NodeRemoved, o, None),
            };
            l.child_event(
                &client,
                &TreeCacheEvent {
                    event_type,
                    data: data.cloned(),
                    old_data: old.cloned(),
                },
            );
        }))
        .for_initialized(move || {
            l2.child_event(
                &c2,
                &TreeCacheEvent {
                    event_type: TreeCacheEventType::Initialized,
                    data: None,
                    old_data: None,
                },
            )
        })
    }

    /// Feeds a NodeCache listener (any change of any node).
    pub fn for_node_cache(self, l: impl NodeCacheListener) -> Self {
        self.on(Box::new(move |_, _, _| l.node_changed()))
    }

    /// Deliver node events only once the initial load is complete (the initial nodes are not
    /// reported one by one).
    pub fn after_initialized(mut self) -> Self {
        self.after_initialized = true;
        self
    }

    /// The listener.
    pub fn build(self) -> impl CacheListener {
        Built {
            events: self.events,
            inits: self.inits,
            gate: self.after_initialized.then(|| AtomicBool::new(false)),
        }
    }
}

struct Built {
    events: Vec<EventFn>,
    inits: Vec<InitFn>,
    /// With `after_initialized`: false until initialized.
    gate: Option<AtomicBool>,
}

impl CacheListener for Built {
    fn event(&self, t: CacheEventType, o: Option<&ChildData>, d: Option<&ChildData>) {
        if let Some(g) = &self.gate {
            if !g.load(Ordering::Acquire) {
                return;
            }
        }
        for f in &self.events {
            f(t, o, d);
        }
    }

    fn initialized(&self) {
        if let Some(g) = &self.gate {
            g.store(true, Ordering::Release);
        }
        for f in &self.inits {
            f();
        }
    }
}
