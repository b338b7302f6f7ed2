//! The values and listener interfaces every cache shares: [`ChildData`] (a cached node), the
//! event types of CuratorCache, PathChildrenCache, TreeCache and NodeCache, and their
//! listener traits.

use std::sync::Arc;

use crate::framework::{CuratorEvent, CuratorFramework};
use crate::proto::Stat;

/// A cached node: its path, Stat and (unless the cache keeps paths only) data.
///
/// The data is shared (`Arc<[u8]>`): every listener and reader sees the same bytes, nothing
/// is copied per listener. Ordered by path, as in Curator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildData {
    path: String,
    stat: Stat,
    data: Option<Arc<[u8]>>,
}

impl ChildData {
    /// A node value.
    pub fn new(path: impl Into<String>, stat: Stat, data: Option<Arc<[u8]>>) -> ChildData {
        ChildData {
            path: path.into(),
            stat,
            data,
        }
    }

    /// The node's full path (namespace-free).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The node's Stat when it was read.
    pub fn stat(&self) -> &Stat {
        &self.stat
    }

    /// The node's data (`None` when the cache does not keep data).
    pub fn data(&self) -> Option<&[u8]> {
        self.data.as_deref()
    }

    /// The shared data buffer.
    pub fn data_arc(&self) -> Option<&Arc<[u8]>> {
        self.data.as_ref()
    }

    /// The same node without its data.
    pub(crate) fn without_data(&self) -> ChildData {
        ChildData::new(self.path.clone(), self.stat.clone(), None)
    }

    /// The node a successful background read (`get_data` or `check_exists`) of `path`
    /// reported: its Stat, and its data when `keep_data` (decompressed with the client's
    /// provider when `compressed`). `None` if the event carries no Stat, or if the data
    /// cannot be decompressed (reported to the unhandled-error listeners).
    pub(crate) fn from_read(
        client: &CuratorFramework,
        path: &str,
        e: &CuratorEvent,
        keep_data: bool,
        compressed: bool,
    ) -> Option<ChildData> {
        match ChildData::try_from_read(client, path, e, keep_data, compressed) {
            Ok(d) => d,
            Err(err) => {
                client.report_unhandled("cache: decompressing node data", &err);
                None
            }
        }
    }

    /// [`from_read`](Self::from_read), with a decompression failure returned.
    pub(crate) fn try_from_read(
        client: &CuratorFramework,
        path: &str,
        e: &CuratorEvent,
        keep_data: bool,
        compressed: bool,
    ) -> crate::error::Result<Option<ChildData>> {
        let Some(stat) = e.stat().cloned() else {
            return Ok(None);
        };
        let data = match (keep_data, e.data()) {
            (false, _) => None,
            (true, Some(d)) if compressed => {
                Some(Arc::from(client.inner.cfg.compression.decompress(path, d)?))
            }
            // The one copy per node: from the reply's buffer (which the event owns, so that
            // a plain callback gets it without one) into the shared buffer the cache keeps.
            (true, Some(d)) => Some(Arc::from(d)),
            (true, None) => Some(Arc::from(&[][..])),
        };
        Ok(Some(ChildData::new(path, stat, data)))
    }
}

impl PartialOrd for ChildData {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ChildData {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.path.cmp(&other.path)
    }
}

/// What happened to a node in a [`CuratorCache`](super::CuratorCache).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheEventType {
    /// Added to the cache.
    NodeCreated,
    /// Its data or Stat changed.
    NodeChanged,
    /// Removed from the cache.
    NodeDeleted,
}

/// What happened in a `PathChildrenCache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathChildrenCacheEventType {
    /// A child was added.
    ChildAdded,
    /// A child's data changed.
    ChildUpdated,
    /// A child was removed.
    ChildRemoved,
    /// The connection was suspended.
    ConnectionSuspended,
    /// The connection came back.
    ConnectionReconnected,
    /// The session was lost.
    ConnectionLost,
    /// The initial load finished (`StartMode::PostInitializedEvent`).
    Initialized,
}

/// An event of a `PathChildrenCache`.
#[derive(Debug, Clone)]
pub struct PathChildrenCacheEvent {
    pub(crate) event_type: PathChildrenCacheEventType,
    pub(crate) data: Option<ChildData>,
    pub(crate) initial_data: Option<Vec<ChildData>>,
}

impl PathChildrenCacheEvent {
    /// What happened.
    pub fn event_type(&self) -> PathChildrenCacheEventType {
        self.event_type
    }

    /// The child concerned (child events only).
    pub fn data(&self) -> Option<&ChildData> {
        self.data.as_ref()
    }

    /// For `Initialized`: the children loaded.
    pub fn initial_data(&self) -> Option<&[ChildData]> {
        self.initial_data.as_deref()
    }
}

/// Hears `PathChildrenCache` events.
///
/// Implemented for every `Fn(&CuratorFramework, &PathChildrenCacheEvent) + Send + Sync`.
pub trait PathChildrenCacheListener: Send + Sync + 'static {
    /// Handles one event.
    fn child_event(&self, client: &CuratorFramework, event: &PathChildrenCacheEvent);
}

impl<F> PathChildrenCacheListener for F
where
    F: Fn(&CuratorFramework, &PathChildrenCacheEvent) + Send + Sync + 'static,
{
    fn child_event(&self, client: &CuratorFramework, event: &PathChildrenCacheEvent) {
        self(client, event)
    }
}

/// What happened in a `TreeCache`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TreeCacheEventType {
    /// A node was added.
    NodeAdded,
    /// A node's data changed.
    NodeUpdated,
    /// A node was removed.
    NodeRemoved,
    /// The connection was suspended.
    ConnectionSuspended,
    /// The connection came back.
    ConnectionReconnected,
    /// The session was lost.
    ConnectionLost,
    /// The initial load finished.
    Initialized,
}

/// An event of a `TreeCache`.
#[derive(Debug, Clone)]
pub struct TreeCacheEvent {
    pub(crate) event_type: TreeCacheEventType,
    pub(crate) data: Option<ChildData>,
    pub(crate) old_data: Option<ChildData>,
}

impl TreeCacheEvent {
    /// What happened.
    pub fn event_type(&self) -> TreeCacheEventType {
        self.event_type
    }

    /// The node concerned (its new value; the removed value for `NodeRemoved`).
    pub fn data(&self) -> Option<&ChildData> {
        self.data.as_ref()
    }

    /// The previous value (for `NodeUpdated`).
    pub fn old_data(&self) -> Option<&ChildData> {
        self.old_data.as_ref()
    }
}

/// Hears `TreeCache` events.
///
/// Implemented for every `Fn(&CuratorFramework, &TreeCacheEvent) + Send + Sync`.
pub trait TreeCacheListener: Send + Sync + 'static {
    /// Handles one event.
    fn child_event(&self, client: &CuratorFramework, event: &TreeCacheEvent);
}

impl<F> TreeCacheListener for F
where
    F: Fn(&CuratorFramework, &TreeCacheEvent) + Send + Sync + 'static,
{
    fn child_event(&self, client: &CuratorFramework, event: &TreeCacheEvent) {
        self(client, event)
    }
}

/// Hears `NodeCache` changes (read the cache for the new value).
///
/// Implemented for every `Fn() + Send + Sync`.
pub trait NodeCacheListener: Send + Sync + 'static {
    /// The node was created, changed or deleted.
    fn node_changed(&self);
}

impl<F> NodeCacheListener for F
where
    F: Fn() + Send + Sync + 'static,
{
    fn node_changed(&self) {
        self()
    }
}
