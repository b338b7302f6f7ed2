//! Where a [`CuratorCache`](super::CuratorCache) keeps its nodes (Curator's
//! `CuratorCacheStorage`): the [`CuratorCacheStorage`] trait, and
//! [`StandardCuratorCacheStorage`], the ordered map every cache uses unless given another
//! (with or without the data bytes).
//!
//! The cache applies changes on the client's event thread, one at a time, so a storage only
//! needs to be safe for one writer and any number of readers (the cache's `get`, `size`,
//! `stream` from user threads).

use std::collections::BTreeMap;

use parking_lot::RwLock;

use super::types::ChildData;
use crate::path;

/// The nodes of a [`CuratorCache`](super::CuratorCache) (Curator's `CuratorCacheStorage`).
///
/// Implement it to keep the nodes elsewhere, index them differently or transform them on the
/// way in; give it to the cache with
/// [`CuratorCacheBuilder::with_storage`](super::CuratorCacheBuilder::with_storage). The cache
/// decides what changed (by comparing the stored node's Stat with the one read) and tells
/// its listeners; the storage only stores. Paths are full paths without the namespace.
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::{Arc, Mutex};
/// use zk_curator::recipes::cache::{ChildData, CuratorCache, CuratorCacheStorage};
///
/// /// Keeps only the Stats of the nodes, in a HashMap.
/// #[derive(Default)]
/// struct StatsOnly(Mutex<HashMap<String, ChildData>>);
///
/// impl CuratorCacheStorage for StatsOnly {
///     fn put(&self, data: ChildData) -> Option<ChildData> {
///         let kept = ChildData::new(data.path(), data.stat().clone(), None);
///         self.0.lock().unwrap().insert(data.path().to_string(), kept)
///     }
///     fn remove(&self, path: &str) -> Option<ChildData> {
///         self.0.lock().unwrap().remove(path)
///     }
///     fn clear(&self) {
///         self.0.lock().unwrap().clear()
///     }
///     fn get(&self, path: &str) -> Option<ChildData> {
///         self.0.lock().unwrap().get(path).cloned()
///     }
///     fn size(&self) -> usize {
///         self.0.lock().unwrap().len()
///     }
///     fn stream(&self) -> Vec<ChildData> {
///         self.0.lock().unwrap().values().cloned().collect()
///     }
/// }
///
/// # let server = zk_curator::testing::TestingServer::start()?;
/// # let client = zk_curator::CuratorFrameworkFactory::new_client(&server.connect_string(),
/// #     zk_curator::RetryOneTime::new(std::time::Duration::from_millis(10)))?;
/// # client.start()?;
/// let storage = Arc::new(StatsOnly::default());
/// let cache = CuratorCache::builder(&client, "/config")
///     .with_storage(storage.clone())
///     .build();
/// # cache.start()?;
/// # cache.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub trait CuratorCacheStorage: Send + Sync + 'static {
    /// Stores `data` under its path; returns what was stored there before.
    fn put(&self, data: ChildData) -> Option<ChildData>;

    /// Removes the node at `path`; returns it.
    fn remove(&self, path: &str) -> Option<ChildData>;

    /// Removes every node.
    fn clear(&self);

    /// The node at `path`.
    fn get(&self, path: &str) -> Option<ChildData>;

    /// How many nodes are stored.
    fn size(&self) -> usize;

    /// Every stored node, in any order (the cache sorts them by path).
    fn stream(&self) -> Vec<ChildData>;

    /// The stored nodes strictly below `path` (its children, their children and so on), in
    /// any order. The cache asks for them when a node is deleted or loses its children. The
    /// default filters [`stream`](Self::stream); override it when the storage can do
    /// better.
    fn descendants(&self, path: &str) -> Vec<ChildData> {
        self.stream()
            .into_iter()
            .filter(|d| is_below(d.path(), path))
            .collect()
    }
}

/// True when `p` is strictly below `ancestor`.
fn is_below(p: &str, ancestor: &str) -> bool {
    if ancestor == "/" {
        return p != "/" && p.starts_with('/');
    }
    p.strip_prefix(ancestor)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// The storage a [`CuratorCache`](super::CuratorCache) uses unless given another (Curator's
/// `StandardCuratorCacheStorage`): an ordered map, which keeps each node's data, or only its
/// path and Stat ([`data_not_cached`](Self::data_not_cached)).
///
/// Without the data, `get` and `stream` return nodes whose [`data`](ChildData::data) is
/// `None`, and the old node a listener hears about in `NodeChanged` and `NodeDeleted` has no
/// data either. The new node in `NodeCreated` and `NodeChanged` still carries the data just
/// read, as in Curator: a listener can act on it without the cache holding on to it.
#[derive(Debug)]
pub struct StandardCuratorCacheStorage {
    cache_bytes: bool,
    nodes: RwLock<BTreeMap<String, ChildData>>,
}

impl StandardCuratorCacheStorage {
    /// A storage that keeps the data (Curator's `CuratorCacheStorage.standard()`).
    pub fn standard() -> StandardCuratorCacheStorage {
        StandardCuratorCacheStorage::new(true)
    }

    /// A storage that keeps only paths and Stats (Curator's
    /// `CuratorCacheStorage.dataNotCached()`): for caches of large nodes whose listeners
    /// need the data once, when it changes.
    pub fn data_not_cached() -> StandardCuratorCacheStorage {
        StandardCuratorCacheStorage::new(false)
    }

    /// Curator's `new StandardCuratorCacheStorage(cacheBytes)`.
    pub fn new(cache_bytes: bool) -> StandardCuratorCacheStorage {
        StandardCuratorCacheStorage {
            cache_bytes,
            nodes: RwLock::new(BTreeMap::new()),
        }
    }

    /// True when the data is kept.
    pub fn caches_data(&self) -> bool {
        self.cache_bytes
    }
}

impl Default for StandardCuratorCacheStorage {
    fn default() -> Self {
        StandardCuratorCacheStorage::standard()
    }
}

impl CuratorCacheStorage for StandardCuratorCacheStorage {
    fn put(&self, data: ChildData) -> Option<ChildData> {
        let data = match self.cache_bytes {
            true => data,
            false => data.without_data(),
        };
        self.nodes.write().insert(data.path().to_string(), data)
    }

    fn remove(&self, path: &str) -> Option<ChildData> {
        self.nodes.write().remove(path)
    }

    fn clear(&self) {
        self.nodes.write().clear();
    }

    fn get(&self, path: &str) -> Option<ChildData> {
        self.nodes.read().get(path).cloned()
    }

    fn size(&self) -> usize {
        self.nodes.read().len()
    }

    fn stream(&self) -> Vec<ChildData> {
        self.nodes.read().values().cloned().collect()
    }

    /// A range of the ordered map: no walk over the other nodes.
    fn descendants(&self, p: &str) -> Vec<ChildData> {
        // Below "/a" in path order: from "/a/" up to "/a0" ('0' follows '/').
        let (from, to) = if p == "/" {
            ("/".to_string(), "0".to_string())
        } else {
            (format!("{p}/"), format!("{p}0"))
        };
        self.nodes
            .read()
            .range(from..to)
            .filter(|(k, _)| k.as_str() != "/")
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// The children of `parent` among `nodes`.
pub(crate) fn children_of(nodes: Vec<ChildData>, parent: &str) -> Vec<ChildData> {
    nodes
        .into_iter()
        .filter(|d| path::parent(d.path()) == Some(parent))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Stat;

    fn node(p: &str) -> ChildData {
        ChildData::new(p, Stat::default(), Some(p.as_bytes().into()))
    }

    /// The trait's default `descendants` and the map's range agree.
    #[test]
    fn descendants_by_range_and_by_filter_agree() {
        struct Plain(StandardCuratorCacheStorage);
        impl CuratorCacheStorage for Plain {
            fn put(&self, d: ChildData) -> Option<ChildData> {
                self.0.put(d)
            }
            fn remove(&self, p: &str) -> Option<ChildData> {
                self.0.remove(p)
            }
            fn clear(&self) {
                self.0.clear()
            }
            fn get(&self, p: &str) -> Option<ChildData> {
                self.0.get(p)
            }
            fn size(&self) -> usize {
                self.0.size()
            }
            fn stream(&self) -> Vec<ChildData> {
                self.0.stream()
            }
        }
        let s = StandardCuratorCacheStorage::standard();
        let plain = Plain(StandardCuratorCacheStorage::standard());
        for p in [
            "/", "/a", "/a/b", "/a/b/c", "/a-b", "/a0", "/ab", "/b", "/a/c",
        ] {
            s.put(node(p));
            plain.put(node(p));
        }
        for p in ["/", "/a", "/a/b", "/a/b/c", "/b", "/zz"] {
            let mut by_range: Vec<String> =
                s.descendants(p).iter().map(|d| d.path().into()).collect();
            let mut by_filter: Vec<String> = plain
                .descendants(p)
                .iter()
                .map(|d| d.path().into())
                .collect();
            by_range.sort();
            by_filter.sort();
            assert_eq!(by_range, by_filter, "below {p}");
        }
        let below_a: Vec<String> = s
            .descendants("/a")
            .iter()
            .map(|d| d.path().into())
            .collect();
        assert_eq!(below_a, ["/a/b", "/a/b/c", "/a/c"]);
        assert_eq!(s.descendants("/").len(), 8);
        let kids: Vec<String> = children_of(s.stream(), "/a")
            .iter()
            .map(|d| d.path().into())
            .collect();
        assert_eq!(kids, ["/a/b", "/a/c"]);
    }

    #[test]
    fn data_not_cached_keeps_paths_and_stats() {
        let s = StandardCuratorCacheStorage::data_not_cached();
        assert!(!s.caches_data());
        let stat = Stat {
            version: 3,
            ..Stat::default()
        };
        assert_eq!(
            s.put(ChildData::new(
                "/x",
                stat.clone(),
                Some(b"big".as_slice().into())
            )),
            None
        );
        let kept = s.get("/x").unwrap();
        assert_eq!((kept.data(), kept.stat().version), (None, 3));
        let old = s.put(node("/x")).unwrap();
        assert_eq!(old.data(), None);
        assert_eq!(s.remove("/x").unwrap().data(), None);
        assert_eq!(s.size(), 0);
        let std = StandardCuratorCacheStorage::default();
        assert!(std.caches_data());
        std.put(node("/y"));
        assert_eq!(std.get("/y").unwrap().data(), Some(&b"/y"[..]));
        std.clear();
        assert_eq!(std.size(), 0);
    }
}
