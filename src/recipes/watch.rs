//! [`PersistentWatcher`]: a persistent (optionally recursive) watch that stays in place —
//! re-added whenever the connection comes back, including after a new session replaced an
//! expired one — with listeners of its own (Curator's `PersistentWatcher`).

use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::Result;
use crate::framework::{CuratorEvent, CuratorFramework, Listenable, ListenerId};
use crate::proto::{AddWatchMode, WatcherType};
use crate::session::{SharedWatcher, WatchedEvent, Watcher, WorkerPool};

impl Listenable<dyn Watcher> {
    /// Adds a watcher called on the client's event thread.
    pub fn add_listener(&self, w: impl Fn(&WatchedEvent) + Send + Sync + 'static) -> ListenerId {
        self.add_arc(Arc::new(w), None)
    }

    /// Adds a watcher called on `pool`.
    pub fn add_listener_with_executor(
        &self,
        w: impl Fn(&WatchedEvent) + Send + Sync + 'static,
        pool: &WorkerPool,
    ) -> ListenerId {
        self.add_arc(Arc::new(w), Some(pool))
    }
}

/// Something to run each time the watch has been (re-)added: after `start()` and after every
/// reconnect.
pub trait ResetListener: Send + Sync + 'static {
    /// The watch was (re-)added: events may have been missed before it, so re-read what
    /// matters.
    fn reset(&self);
}

impl<F: Fn() + Send + Sync + 'static> ResetListener for F {
    fn reset(&self) {
        self()
    }
}

impl Listenable<dyn ResetListener> {
    /// Adds a reset listener.
    pub fn add_listener(&self, l: impl Fn() + Send + Sync + 'static) -> ListenerId {
        self.add_arc(Arc::new(l), None)
    }
}

/// A persistent watch on a path that survives reconnects and session loss.
///
/// ```
/// # use zk_curator::framework::*;
/// # use zk_curator::recipes::PersistentWatcher;
/// # use zk_curator::WatchedEvent;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// # let client = CuratorFrameworkFactory::new_client(&server.connect_string(), RetryOneTime::new(std::time::Duration::from_millis(10)))?;
/// # client.start()?;
/// let w = PersistentWatcher::new(&client, "/services", true);
/// w.listenable().add_listener(|e| println!("{e}"));
/// w.reset_listenable().add_listener(|| println!("(re)added: re-read what matters"));
/// w.start()?;
/// // ...
/// w.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct PersistentWatcher {
    inner: Arc<Inner>,
}

struct Inner {
    client: CuratorFramework,
    path: String,
    recursive: bool,
    listeners: Listenable<dyn Watcher>,
    resets: Listenable<dyn ResetListener>,
    watcher: Mutex<Option<SharedWatcher>>,
    state_listener: Mutex<Option<ListenerId>>,
}

impl PersistentWatcher {
    /// A watcher on `path` (`recursive`: the node and every descendant).
    ///
    /// ZooKeeper 3.8 keeps one persistent mode per path and session: a recursive and a
    /// non-recursive watch on the same path from one client (this watcher, another one, or a
    /// `CuratorCache`, which uses a recursive watch) leave only the last one added in force
    /// on the server (ZOOKEEPER-4466, fixed in 3.9). Use separate clients for that.
    pub fn new(client: &CuratorFramework, path: &str, recursive: bool) -> PersistentWatcher {
        PersistentWatcher {
            inner: Arc::new(Inner {
                client: client.clone(),
                path: path.to_string(),
                recursive,
                listeners: Listenable::default(),
                resets: Listenable::default(),
                watcher: Mutex::new(None),
                state_listener: Mutex::new(None),
            }),
        }
    }

    /// Adds the watch (in the background) and keeps it in place from then on.
    pub fn start(&self) -> Result<()> {
        self.inner.client.check_not_closed()?;
        let weak = Arc::downgrade(&self.inner);
        let w = SharedWatcher::new(move |e: &WatchedEvent| {
            if let Some(inner) = weak.upgrade() {
                let e = e.clone();
                inner.listeners.for_each(move |l| l.process(&e));
            }
        });
        *self.inner.watcher.lock() = Some(w);
        self.inner.client.add_weak_state_listener(
            &self.inner,
            &self.inner.state_listener,
            |inner, _c, s| {
                // Any connected state (as in Curator): Reconnected after a loss, and also
                // Connected / ReadOnly when start() ran before the first connection.
                if s.is_connected() {
                    let _ = inner.add_watch();
                }
            },
        );
        self.inner.add_watch()
    }

    /// Removes the watch and stops following reconnects.
    pub fn close(&self) {
        // Listeners first: removing the watch makes a PersistentWatchRemoved event, which must
        // not reach them once close() has begun.
        self.inner.listeners.clear();
        self.inner.resets.clear();
        self.inner
            .client
            .remove_state_listener(&self.inner.state_listener);
        // An add still on its way removes its watch itself once it succeeds (see add_watch).
        if let Some(w) = self.inner.watcher.lock().take() {
            remove(&self.inner.client, &w, &self.inner.path);
        }
    }

    /// The watchers that get the events.
    pub fn listenable(&self) -> &Listenable<dyn Watcher> {
        &self.inner.listeners
    }

    /// Listeners told each time the watch has been added: once `start()`'s add succeeds and
    /// after every reconnect (Curator's `getResetListenable`).
    pub fn reset_listenable(&self) -> &Listenable<dyn ResetListener> {
        &self.inner.resets
    }
}

impl Inner {
    fn add_watch(self: &Arc<Self>) -> Result<()> {
        let Some(w) = self.watcher.lock().clone() else {
            return Ok(());
        };
        let mode = if self.recursive {
            AddWatchMode::PersistentRecursive
        } else {
            AddWatchMode::Persistent
        };
        let weak = Arc::downgrade(self);
        let path = self.path.clone();
        self.client
            .watchers()
            .add()
            .with_mode(mode)
            .using_shared_watcher(&w)
            .in_background(move |c: &CuratorFramework, e: &CuratorEvent| {
                let open = weak.upgrade().filter(|inner| {
                    inner
                        .watcher
                        .lock()
                        .as_ref()
                        .is_some_and(|cur| cur.same_as(&w))
                });
                match (open, e.error()) {
                    (Some(inner), None) => inner.resets.for_each(|l| l.reset()),
                    // Closed while the add was on its way: close()'s removal may have found
                    // nothing registered yet, so remove what the add just registered.
                    (None, None) => remove(c, &w, &path),
                    (Some(_), Some(err)) => c.report_unhandled("adding a persistent watch", err),
                    (None, Some(_)) => {}
                }
            })
            .for_path(&self.path)
    }
}

/// Removes `w` from `path` in the background: locally if the server cannot be reached, and
/// quietly (it may be gone already).
fn remove(client: &CuratorFramework, w: &SharedWatcher, path: &str) {
    let _ = client
        .watchers()
        .remove(w)
        .of_type(WatcherType::Any)
        .locally()
        .quietly()
        .in_background(|_c: &CuratorFramework, _e: &CuratorEvent| {})
        .for_path(path);
}

impl Drop for PersistentWatcher {
    fn drop(&mut self) {
        if Arc::strong_count(&self.inner) == 1 {
            self.close();
        }
    }
}

impl std::fmt::Debug for PersistentWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistentWatcher")
            .field("path", &self.inner.path)
            .field("recursive", &self.inner.recursive)
            .finish()
    }
}
