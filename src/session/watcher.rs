//! What user code sees of a notification: [`WatchedEvent`], the [`Watcher`] trait (implemented
//! for every `Fn(&WatchedEvent) + Send + Sync`), [`SharedWatcher`], the handle that lets one
//! watcher be registered several times and still be called once per event, as in Java, and
//! [`node_events`], an adapter for watchers that only care about nodes.

use std::fmt;
use std::sync::Arc;

use crate::proto::{EventType, KeeperState};

/// A watch notification or a connection state change.
///
/// A watcher receives two kinds of event, as in Java:
///
/// * **node events**: its watch fired. The event type says what happened
///   ([`NodeDataChanged`](EventType::NodeDataChanged), [`NodeDeleted`](EventType::NodeDeleted),
///   ...), [`path`](Self::path) is the node (chroot and namespace removed), the state is
///   `SyncConnected`.
/// * **connection state changes**: event type [`EventType::None`], **no path**, the state is
///   the news: `Disconnected`, `SyncConnected` (again), `ConnectedReadOnly`, `Expired`,
///   `AuthFailed`, `Closed`. Every watcher whose watch is still registered hears them (a
///   one-shot data watch that has not fired yet, a persistent watch), and so does the default
///   watcher. After `Expired` or `Closed` the watch is gone and will never fire.
///
/// So `e.path().unwrap()` in a watcher panics at the first disconnection or at `close()`.
/// Match on the event type, or use [`as_node_event`](Self::as_node_event) /
/// [`node_events`] to see node events only:
///
/// ```
/// use zk_curator::{EventType, KeeperState, WatchedEvent};
/// fn on_event(e: &WatchedEvent) {
///     match e.event_type() {
///         EventType::None => match e.state() {
///             KeeperState::Expired | KeeperState::Closed => println!("the watch is gone"),
///             other => println!("connection: {other:?}"),
///         },
///         EventType::NodeDataChanged => println!("{} changed", e.path().unwrap_or("?")),
///         other => println!("{other:?} {:?}", e.path()),
///     }
///     // Or: only node events, with a path that is always there.
///     if let Some(n) = e.as_node_event() {
///         println!("{:?} on {}", n.event_type(), n.path());
///     }
/// }
/// on_event(&WatchedEvent::state_change(KeeperState::Closed));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    event_type: EventType,
    state: KeeperState,
    path: Option<String>,
    zxid: i64,
}

impl WatchedEvent {
    /// Builds an event (tests and wrappers; the client makes its own).
    pub fn new(event_type: EventType, state: KeeperState, path: Option<String>) -> WatchedEvent {
        WatchedEvent {
            event_type,
            state,
            path,
            zxid: -1,
        }
    }

    pub(crate) fn with_zxid(mut self, zxid: i64) -> WatchedEvent {
        self.zxid = zxid;
        self
    }

    /// A connection state change (event type `None`, no path).
    pub fn state_change(state: KeeperState) -> WatchedEvent {
        WatchedEvent::new(EventType::None, state, None)
    }

    /// What happened.
    pub fn event_type(&self) -> EventType {
        self.event_type
    }

    /// The connection state when it happened.
    pub fn state(&self) -> KeeperState {
        self.state
    }

    /// The node it happened to; `None` for connection state changes (event type `None`),
    /// which every watcher receives too.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// True for a connection state change (event type `None`, no path).
    pub fn is_state_change(&self) -> bool {
        self.event_type == EventType::None
    }

    /// The node event, or `None` for a connection state change: what a watcher that only
    /// cares about nodes looks at, with a path that is always there.
    pub fn as_node_event(&self) -> Option<NodeEvent<'_>> {
        match (&self.path, self.event_type) {
            (_, EventType::None) | (None, _) => None,
            (Some(path), event_type) => Some(NodeEvent {
                event_type,
                path,
                zxid: self.zxid,
            }),
        }
    }

    /// The zxid of the change that triggered it: servers 3.9+ send it, older ones `-1`, and
    /// client-local events are `-1`.
    pub fn zxid(&self) -> i64 {
        self.zxid
    }
}

impl fmt::Display for WatchedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {:?}", self.event_type, self.state)?;
        if let Some(p) = &self.path {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

/// Receives watch notifications **and connection state changes**.
///
/// Besides the event its watch was set for, a watcher hears every connection state change
/// while its watch is registered: `Disconnected`, `SyncConnected`, `Expired`, `Closed`, ...,
/// with event type [`EventType::None`] and no path (as in Java). A watcher that unwraps
/// [`WatchedEvent::path`] panics at the first disconnection or at `close()`: match on the
/// event type, or wrap it in [`node_events`], which passes node events only.
///
/// Watchers run on the client's event thread (`zk-event`), one at a time, in the order the
/// server produced the events; a slow watcher delays every later event, so hand slow work to a
/// [`WorkerPool`](crate::WorkerPool). A watcher may call the client, synchronously too, and
/// may even close it. A panic is caught, logged and counted; it does not stop the thread.
///
/// Any `Fn(&WatchedEvent) + Send + Sync + 'static` is a watcher; the methods that take one
/// (`using_watcher`, `default_watcher`, ...) take the closure itself, so its argument type is
/// inferred:
///
/// ```
/// use zk_curator::{EventType, KeeperState};
/// # use zk_curator::framework::*;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// # let client = CuratorFrameworkFactory::new_client(&server.connect_string(), RetryOneTime::new(std::time::Duration::from_millis(10)))?;
/// # client.start()?;
/// # client.create().for_path("/config")?;
/// client
///     .get_data()
///     .using_watcher(|e| match (e.event_type(), e.path()) {
///         (EventType::None, _) if e.state() == KeeperState::Closed => println!("closed"),
///         (EventType::None, _) => println!("connection: {:?}", e.state()),
///         (t, Some(path)) => println!("{t:?} on {path}"),
///         (t, None) => println!("{t:?}"),
///     })
///     .for_path("/config")?;
/// client.close(); // the watch has not fired: its watcher hears `Closed`
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub trait Watcher: Send + Sync + 'static {
    /// Handles one event.
    fn process(&self, event: &WatchedEvent);

    /// Converts into the shared form the client stores. Registering the same
    /// [`SharedWatcher`] twice keeps one registration; any other watcher is a new one each
    /// time it is passed in.
    fn into_shared(self) -> SharedWatcher
    where
        Self: Sized,
    {
        SharedWatcher(Arc::new(self))
    }
}

impl<F> Watcher for F
where
    F: Fn(&WatchedEvent) + Send + Sync + 'static,
{
    fn process(&self, event: &WatchedEvent) {
        self(event)
    }
}

/// A reference-counted watcher with an identity.
///
/// ZooKeeper calls a watcher once per event however many times it was registered for that
/// node; Rust closures have no identity, so to get that behaviour register clones of one
/// `SharedWatcher`:
///
/// ```
/// use zk_curator::{SharedWatcher, WatchedEvent};
/// let w = SharedWatcher::new(|e| println!("{e}"));
/// let same = w.clone();
/// assert!(w.same_as(&same));
/// ```
#[derive(Clone)]
pub struct SharedWatcher(pub(crate) Arc<dyn Watcher>);

impl SharedWatcher {
    /// A shared watcher calling `f` (its argument type is inferred: `|e| ...`). A type of
    /// yours implementing [`Watcher`] becomes one with [`Watcher::into_shared`].
    ///
    /// ```
    /// use zk_curator::SharedWatcher;
    /// let w = SharedWatcher::new(|e| println!("{e}"));
    /// # let _ = w;
    /// ```
    pub fn new(f: impl Fn(&WatchedEvent) + Send + Sync + 'static) -> SharedWatcher {
        f.into_shared()
    }

    /// True when both are clones of one watcher.
    pub fn same_as(&self, other: &SharedWatcher) -> bool {
        self.id() == other.id()
    }

    /// The identity used to deduplicate registrations.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as *const () as usize
    }
}

impl Watcher for SharedWatcher {
    fn process(&self, event: &WatchedEvent) {
        self.0.process(event)
    }

    fn into_shared(self) -> SharedWatcher {
        self
    }
}

impl fmt::Debug for SharedWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedWatcher({:#x})", self.id())
    }
}

/// A node event: what [`WatchedEvent::as_node_event`] and [`node_events`] give. Unlike a
/// [`WatchedEvent`], it always has a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeEvent<'a> {
    event_type: EventType,
    path: &'a str,
    zxid: i64,
}

impl<'a> NodeEvent<'a> {
    /// What happened (never [`EventType::None`]).
    pub fn event_type(&self) -> EventType {
        self.event_type
    }

    /// The node it happened to (chroot and namespace removed).
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The zxid of the change, as [`WatchedEvent::zxid`].
    pub fn zxid(&self) -> i64 {
        self.zxid
    }
}

impl fmt::Display for NodeEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}", self.event_type, self.path)
    }
}

/// A watcher that passes node events to `f` and ignores connection state changes: for the
/// common watcher that only cares about the node, and cannot panic on a missing path.
///
/// ```
/// use zk_curator::node_events;
/// # use zk_curator::framework::*;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// # let client = CuratorFrameworkFactory::new_client(&server.connect_string(), RetryOneTime::new(std::time::Duration::from_millis(10)))?;
/// # client.start()?;
/// # client.create().for_path("/config")?;
/// client
///     .get_data()
///     .using_watcher(node_events(|e| println!("{:?} on {}", e.event_type(), e.path())))
///     .for_path("/config")?;
/// client.close(); // `Closed` reaches the watch, not `f`
/// # Ok::<(), zk_curator::Error>(())
/// ```
///
/// Mind what it hides: after `Expired` or `Closed` a one-shot watch that has not fired never
/// will. A watcher that must re-arm itself after a new session should see state changes.
pub fn node_events(
    f: impl Fn(NodeEvent<'_>) + Send + Sync + 'static,
) -> impl Fn(&WatchedEvent) + Send + Sync + 'static {
    move |e: &WatchedEvent| {
        if let Some(n) = e.as_node_event() {
            f(n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn shared_watchers_keep_identity_closures_do_not() {
        let hits = Arc::new(AtomicUsize::new(0));
        let h = hits.clone();
        let w = SharedWatcher::new(move |_: &WatchedEvent| {
            h.fetch_add(1, Ordering::SeqCst);
        });
        assert!(w.clone().into_shared().same_as(&w));
        let a = (|_: &WatchedEvent| {}).into_shared();
        let b = (|_: &WatchedEvent| {}).into_shared();
        assert!(!a.same_as(&b));
        w.process(&WatchedEvent::state_change(KeeperState::SyncConnected));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn event_accessors_and_display() {
        let e = WatchedEvent::new(
            EventType::NodeDataChanged,
            KeeperState::SyncConnected,
            Some("/a".into()),
        );
        assert_eq!(e.path(), Some("/a"));
        assert_eq!(e.zxid(), -1);
        assert_eq!(e.to_string(), "NodeDataChanged SyncConnected /a");
        let s = WatchedEvent::state_change(KeeperState::Expired);
        assert_eq!(s.event_type(), EventType::None);
        assert_eq!(s.path(), None);
    }

    #[test]
    fn node_events_see_nodes_only() {
        let node = WatchedEvent::new(
            EventType::NodeDeleted,
            KeeperState::SyncConnected,
            Some("/a".into()),
        )
        .with_zxid(7);
        let n = node.as_node_event().unwrap();
        assert_eq!(
            (n.event_type(), n.path(), n.zxid()),
            (EventType::NodeDeleted, "/a", 7)
        );
        assert_eq!(n.to_string(), "NodeDeleted /a");
        assert!(!node.is_state_change());
        let states: Vec<WatchedEvent> = [
            KeeperState::Disconnected,
            KeeperState::SyncConnected,
            KeeperState::Expired,
            KeeperState::Closed,
        ]
        .into_iter()
        .map(WatchedEvent::state_change)
        .collect();
        for s in &states {
            assert!(s.is_state_change() && s.as_node_event().is_none(), "{s}");
        }
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let s2 = seen.clone();
        let w = node_events(move |e| s2.lock().unwrap().push(e.path().to_string()));
        for e in states.iter().chain([&node]) {
            w(e);
        }
        assert_eq!(*seen.lock().unwrap(), ["/a"]);
    }
}
