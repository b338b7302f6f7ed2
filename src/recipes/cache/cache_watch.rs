//! [`CacheWatch`]: the one-shot watcher of a legacy cache (NodeCache, PathChildrenCache,
//! TreeCache) and the paths it may be registered on, so that `close()` can take back exactly
//! the watches the cache set, and nobody else's (Curator's `WatcherRemoveCuratorFramework`).
//!
//! One [`SharedWatcher`] per cache: the client keeps one registration per path and kind for
//! it and calls it once per event, whichever of its watches (data, child) matched. The
//! caches note a path right before issuing a watched read for it (on the event thread) and
//! forget it when a `NodeDeleted` consumed every one-shot watch there, so the set stays a
//! superset of what the client holds without growing with churn.

use std::collections::HashSet;

use parking_lot::Mutex;

use crate::framework::CuratorFramework;
use crate::proto::WatcherType;
use crate::session::{SharedWatcher, WatchedEvent};

pub(crate) struct CacheWatch {
    watcher: SharedWatcher,
    paths: Mutex<HashSet<String>>,
}

impl CacheWatch {
    /// A cache watcher calling `f` for every event.
    pub(crate) fn new(f: impl Fn(&WatchedEvent) + Send + Sync + 'static) -> CacheWatch {
        CacheWatch {
            watcher: SharedWatcher::new(f),
            paths: Mutex::new(HashSet::new()),
        }
    }

    /// The watcher to pass to `using_watcher`.
    pub(crate) fn watcher(&self) -> SharedWatcher {
        self.watcher.clone()
    }

    /// A watched read of `path` is about to be issued.
    pub(crate) fn note(&self, path: &str) {
        let mut p = self.paths.lock();
        if !p.contains(path) {
            p.insert(path.to_string());
        }
    }

    /// `path` was deleted: its one-shot watches fired and are gone.
    pub(crate) fn forget(&self, path: &str) {
        self.paths.lock().remove(path);
    }

    /// Removes the watcher from every path it may be on, plus `extra` (close).
    pub(crate) fn remove_all(&self, client: &CuratorFramework, extra: Vec<String>) {
        let mut paths: HashSet<String> = std::mem::take(&mut *self.paths.lock());
        paths.extend(extra);
        for p in paths {
            self.remove(client, &p);
        }
    }

    /// Removes the watcher from `path`, quietly (a watch that is not there is fine) and
    /// locally if the server cannot be reached. Through the handle's asynchronous call, so
    /// that thousands of removals are pipelined like the reads that set them.
    pub(crate) fn remove(&self, client: &CuratorFramework, path: &str) {
        // A closed client has dropped every watch already.
        let Ok(zk) = client.zookeeper_client().zookeeper() else {
            return;
        };
        let Ok(full) = client.fix_path(path, false) else {
            return;
        };
        let w = client.wrap_watcher(self.watcher.clone());
        // Refused at once (NoWatcher: nothing registered) or answered later: both fine.
        let _ = zk.remove_watches_async(&full, &w, WatcherType::Any, true, |_| {});
    }
}
