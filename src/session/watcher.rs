//! What user code sees of a notification: [`WatchedEvent`], the [`Watcher`] trait (implemented
//! for every `Fn(&WatchedEvent) + Send + Sync`), and [`SharedWatcher`], the handle that lets one
//! watcher be registered several times and still be called once per event, as in Java.

use std::fmt;
use std::sync::Arc;

use crate::proto::{EventType, KeeperState};

/// A watch notification or a connection state change.
///
/// Server notifications carry a node path (with the chroot or namespace already removed) and
/// the state `SyncConnected`; state changes have event type [`EventType::None`] and no path.
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

    /// The node it happened to (`None` for state changes).
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
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

/// Receives watch notifications and connection state changes.
///
/// Watchers run on the client's event thread (`zk-event`), one at a time, in the order the
/// server produced the events; a slow watcher delays every later event, so hand slow work to a
/// [`WorkerPool`](crate::WorkerPool). A watcher may call the client, synchronously too, and
/// may even close it. A panic is caught, logged and counted; it does not stop the thread.
///
/// Any `Fn(&WatchedEvent) + Send + Sync + 'static` is a watcher:
///
/// ```
/// use zk_curator::{WatchedEvent, Watcher};
/// fn takes_watcher(_w: impl Watcher) {}
/// takes_watcher(|e: &WatchedEvent| println!("{e}"));
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
}
