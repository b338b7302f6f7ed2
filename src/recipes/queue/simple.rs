//! [`SimpleDistributedQueue`]: ZooKeeper's classic queue recipe with a `java.util.Queue`-like
//! API and raw byte items (Curator's `SimpleDistributedQueue`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::framework::CuratorFramework;
use crate::path;
use crate::proto::CreateMode;
use crate::recipes::cache::CacheWatch;
use crate::session::WatchedEvent;

/// The prefix of every item node.
const PREFIX: &str = "qn-";

/// A FIFO queue of byte strings: items are `P/qn-<SEQ>` (PERSISTENT_SEQUENTIAL) holding the
/// bytes as they are, readable by Java Curator's `SimpleDistributedQueue` and the reverse.
///
/// There is no consumer thread: callers [`take`](Self::take) or [`poll`](Self::poll). Taking
/// is read-then-delete of the lowest `qn-` node; when two takers race for one, the one whose
/// delete succeeds gets it and the other moves on to the next. An item is therefore handed to
/// at most one taker; a taker whose delete reply is lost with the connection loses it (as in
/// Curator — use [`DistributedQueue`](super::DistributedQueue) with a lock path for exactly
/// once).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::queue::SimpleDistributedQueue;
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let q = SimpleDistributedQueue::new(&client, "/simple");
/// assert_eq!(q.poll()?, None);
/// q.offer(b"one")?;
/// q.offer(b"two")?;
/// assert_eq!(q.peek()?.as_deref(), Some(&b"one"[..]));
/// assert_eq!(q.take()?, b"one");
/// assert_eq!(q.poll_timeout(Duration::from_secs(5))?.as_deref(), Some(&b"two"[..]));
/// assert!(q.element().is_err()); // empty
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct SimpleDistributedQueue {
    inner: Arc<Inner>,
}

struct Inner {
    client: CuratorFramework,
    path: String,
    /// The queue node and its parents exist (Curator's `EnsureContainers`).
    ensured: AtomicBool,
    /// Moves on with every children notification.
    changes: AtomicU64,
    lock: Mutex<()>,
    cv: Condvar,
    /// One watcher for every wait of this queue: the client keeps one registration for it,
    /// however many waits timed out before the children changed.
    watch: CacheWatch,
}

impl SimpleDistributedQueue {
    /// A queue at `path` (created with container parents on first use).
    pub fn new(client: &CuratorFramework, path: &str) -> SimpleDistributedQueue {
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
            let weak = weak.clone();
            Inner {
                client: client.clone(),
                path: path.to_string(),
                ensured: AtomicBool::new(false),
                changes: AtomicU64::new(0),
                lock: Mutex::new(()),
                cv: Condvar::new(),
                watch: CacheWatch::new(move |_e: &WatchedEvent| {
                    if let Some(i) = weak.upgrade() {
                        i.changed();
                    }
                }),
            }
        });
        SimpleDistributedQueue { inner }
    }

    /// Adds an item (true when it is in the queue, as `java.util.Queue.offer`).
    pub fn offer(&self, data: &[u8]) -> Result<bool> {
        let p = path::make_path(&self.inner.path, PREFIX);
        self.inner
            .client
            .create()
            .creating_parent_containers_if_needed()
            .with_mode(CreateMode::PersistentSequential)
            .for_path_with_data(&p, data)?;
        Ok(true)
    }

    /// The head of the queue without removing it; `Err(NoNode)` naming the queue when it is
    /// empty (Java's `NoSuchElementException`).
    pub fn element(&self) -> Result<Vec<u8>> {
        self.inner
            .head(false, false)?
            .ok_or_else(|| self.inner.empty())
    }

    /// Removes and returns the head; `Err(NoNode)` naming the queue when it is empty.
    pub fn remove(&self) -> Result<Vec<u8>> {
        self.inner
            .head(true, false)?
            .ok_or_else(|| self.inner.empty())
    }

    /// The head without removing it, `None` when empty.
    pub fn peek(&self) -> Result<Option<Vec<u8>>> {
        self.inner.head(false, false)
    }

    /// Removes and returns the head, `None` when empty.
    pub fn poll(&self) -> Result<Option<Vec<u8>>> {
        self.inner.head(true, false)
    }

    /// Removes and returns the head, waiting up to `timeout` for one.
    pub fn poll_timeout(&self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        self.inner.wait_head(Instant::now().checked_add(timeout))
    }

    /// Removes and returns the head, waiting as long as it takes.
    pub fn take(&self) -> Result<Vec<u8>> {
        loop {
            if let Some(b) = self.inner.wait_head(None)? {
                return Ok(b);
            }
        }
    }
}

impl Inner {
    fn empty(&self) -> Error {
        Error::NoNode {
            path: format!("{} (the queue is empty)", self.path),
            op: None,
        }
    }

    fn changed(&self) {
        self.changes.fetch_add(1, Ordering::AcqRel);
        let _g = self.lock.lock();
        self.cv.notify_all();
    }

    fn ensure(&self) -> Result<()> {
        if !self.ensured.load(Ordering::Acquire) {
            self.client.create_containers(&self.path)?;
            self.ensured.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// The lowest item (removed if `take`); with `watch`, a children watch is left on the
    /// queue node.
    fn head(&self, take: bool, watch: bool) -> Result<Option<Vec<u8>>> {
        self.ensure()?;
        let listed = if watch {
            self.watch.note(&self.path);
            self.client
                .get_children()
                .using_shared_watcher(&self.watch.watcher())
                .for_path(&self.path)
        } else {
            self.client.get_children().for_path(&self.path)
        };
        let mut nodes = match listed {
            Ok(n) => n,
            Err(Error::NoNode { .. }) => {
                // The container was reaped while empty: make it again next time.
                self.ensured.store(false, Ordering::Release);
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        nodes.sort();
        for node in nodes {
            if !node.starts_with(PREFIX) {
                log::debug!("queue {}: foreign node {node} skipped", self.path);
                continue;
            }
            let p = path::make_path(&self.path, &node);
            let data = match self.client.get_data().for_path(&p) {
                Ok(d) => d,
                Err(Error::NoNode { .. }) => continue, // taken by someone else
                Err(e) => return Err(e),
            };
            if take {
                match self.client.delete().for_path(&p) {
                    Ok(()) => {}
                    Err(Error::NoNode { .. }) => continue,
                    Err(e) => return Err(e),
                }
            }
            return Ok(Some(data));
        }
        Ok(None)
    }

    fn wait_head(&self, deadline: Option<Instant>) -> Result<Option<Vec<u8>>> {
        loop {
            let before = self.changes.load(Ordering::Acquire);
            if let Some(b) = self.head(true, true)? {
                return Ok(Some(b));
            }
            let mut g = self.lock.lock();
            while self.changes.load(Ordering::Acquire) == before {
                match deadline {
                    Some(d) => {
                        if self.cv.wait_until(&mut g, d).timed_out() {
                            return Ok(None);
                        }
                    }
                    None => self.cv.wait(&mut g),
                }
            }
        }
    }
}

impl Drop for SimpleDistributedQueue {
    fn drop(&mut self) {
        // Take back the children watch a wait may have left.
        self.inner.watch.remove_all(&self.inner.client, Vec::new());
    }
}

impl std::fmt::Debug for SimpleDistributedQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimpleDistributedQueue")
            .field("path", &self.inner.path)
            .finish()
    }
}
