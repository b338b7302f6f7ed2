//! [`WatcherRemoveCuratorFramework`]: a view of a [`CuratorFramework`] that remembers every
//! watch set through it, so that a recipe can take back exactly its own watches, and nobody
//! else's, with one call (Curator's `newWatcherRemoveCuratorFramework()` and
//! `WatcherRemovalManager`).
//!
//! The view shares the client's connection; its builders are the client's. Each builder that
//! sets a watch (`get_data`, `check_exists`, `get_children`, `watchers().add()`,
//! `get_config`) notes the handle-level path and the watcher the handle holds in a
//! [`WatchTracker`]. A one-shot watch that fired is gone from the handle already: removing it
//! again costs nothing (the handle answers `NoWatcher` without asking the server), and the
//! tracker forgets such entries when it grows, so a view used for a long time does not grow
//! with the watches it ever set.

use std::ops::Deref;
use std::sync::Arc;

use parking_lot::Mutex;

use super::CuratorFramework;
use crate::proto::WatcherType;
use crate::session::SharedWatcher;

/// Past this many entries, [`WatchTracker::note`] drops those the handle no longer holds.
const PRUNE_AT: usize = 256;

/// The watches set through one watcher-removal view (or by one recipe that talks to the
/// handle directly): handle-level path and the watcher the handle holds.
#[derive(Default)]
pub(crate) struct WatchTracker {
    entries: Mutex<Vec<(String, SharedWatcher)>>,
}

impl WatchTracker {
    /// A watch of `w` on `full` (handle-level path) is about to be requested.
    pub(crate) fn note(&self, client: &CuratorFramework, full: &str, w: &SharedWatcher) {
        let mut e = self.entries.lock();
        if e.iter().any(|(p, x)| p == full && x.same_as(w)) {
            return;
        }
        if e.len() >= PRUNE_AT {
            if let Ok(zk) = client.inner.handle() {
                e.retain(|(p, x)| zk.may_hold_watch(p, x));
            }
        }
        e.push((full.to_string(), w.clone()));
    }

    /// How many watches are remembered (some may have fired since).
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// Removes every remembered watch: locally at once, and from the server in the
    /// background where the server holds it (quietly: a watch that already fired is fine).
    pub(crate) fn remove_all(&self, client: &CuratorFramework) {
        let entries = std::mem::take(&mut *self.entries.lock());
        // A closed client holds no watches any more.
        let Ok(zk) = client.inner.handle() else {
            return;
        };
        for (full, w) in entries {
            // Refused at once (NoWatcher: nothing registered) or answered later: both fine.
            let _ = zk.remove_watches_async(&full, &w, WatcherType::Any, true, |_| {});
        }
    }
}

impl std::fmt::Debug for WatchTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchTracker")
            .field("entries", &self.len())
            .finish()
    }
}

impl CuratorFramework {
    /// A view of this client that remembers the watches set through it, for
    /// [`WatcherRemoveCuratorFramework::remove_watchers`] (Curator's
    /// `newWatcherRemoveCuratorFramework()`).
    pub fn new_watcher_remove_curator_framework(&self) -> WatcherRemoveCuratorFramework {
        WatcherRemoveCuratorFramework {
            client: CuratorFramework {
                inner: self.inner.clone(),
                namespace: self.namespace.clone(),
                watches: Some(Arc::new(WatchTracker::default())),
            },
        }
    }

    /// Notes a watch about to be set through this client, if it is a watcher-removal view.
    pub(crate) fn track_watch(&self, full: &str, w: &SharedWatcher) {
        if let Some(t) = &self.watches {
            t.note(self, full, w);
        }
    }
}

/// A [`CuratorFramework`] that remembers every watch set through it; dereferences to the
/// client, so every builder is available. Clones share the set.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::WatchedEvent;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// client.create().for_path("/config")?;
/// let view = client.new_watcher_remove_curator_framework();
/// view.get_data().using_watcher(|e: &WatchedEvent| println!("{e}")).for_path("/config")?;
/// view.check_exists().using_watcher(|e: &WatchedEvent| println!("{e}")).for_path("/other")?;
/// view.remove_watchers(); // both watches are gone, here and on the server
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Clone)]
pub struct WatcherRemoveCuratorFramework {
    client: CuratorFramework,
}

impl WatcherRemoveCuratorFramework {
    /// Removes every watch set through this view (and its clones) so far: at once from the
    /// client, and from the server in the background. Watches that already fired are skipped
    /// without a request. Watches set by anyone else on the same paths stay.
    pub fn remove_watchers(&self) {
        if let Some(t) = &self.client.watches {
            t.remove_all(&self.client);
        }
    }

    /// The client this view wraps (itself a view with the same tracking).
    pub fn client(&self) -> &CuratorFramework {
        &self.client
    }
}

impl Deref for WatcherRemoveCuratorFramework {
    type Target = CuratorFramework;

    fn deref(&self) -> &CuratorFramework {
        &self.client
    }
}

impl std::fmt::Debug for WatcherRemoveCuratorFramework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatcherRemoveCuratorFramework")
            .field("client", &self.client)
            .field("watches", &self.client.watches)
            .finish()
    }
}
