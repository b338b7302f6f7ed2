//! [`InterProcessMutex`]: Curator's re-entrant inter-process mutex, node for node.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::core::{LockCore, Naming, Request, Rule};
use super::reentrant::Reentrant;
use super::revoke::{RevocationListener, RevocationWatch};
use super::Locker;
use crate::error::Result;
use crate::framework::CuratorFramework;
use crate::session::{SharedWatcher, WorkerPool};

/// The mutex's node names: `lock-` + sequence, sorted by the sequence.
pub(crate) const MUTEX: Naming = Naming {
    lock_name: "lock-",
    markers: &["lock-"],
};

/// A mutex shared by every process (Java Curator's included) that uses the same path
/// (Curator's `InterProcessMutex`).
///
/// Re-entrant per thread: the thread that holds it may acquire it again and must release it
/// as often. Only the holding thread can release it. Each acquiring thread queues a node
/// `<path>/_c_<uuid>-lock-<seq>` (protected, ephemeral-sequential, parents created as
/// containers, data the client's default data or [`with_lock_data`]'s, empty once
/// [`make_revocable`] was called);
/// the lowest node holds the lock. Clones are the same lock (the same holds).
///
/// A held lock is only as good as the session: see the [module docs](super) for what to do
/// on `Suspended` and `Lost`. Closing the lock (or dropping the last clone) deletes every
/// node it has, held or queued.
///
/// [`make_revocable`]: Self::make_revocable
/// [`with_lock_data`]: Self::with_lock_data
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes};
/// use zk_curator::recipes::locks::InterProcessMutex;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryNTimes::new(3, Duration::from_millis(100)),
/// )?;
/// client.start()?;
/// let lock = InterProcessMutex::new(&client, "/locks/orders")?;
/// lock.acquire()?;
/// lock.acquire()?; // re-entrant
/// assert!(lock.is_owned_by_current_thread());
/// assert_eq!(lock.participant_nodes()?.len(), 1);
///
/// // Another thread (or process) waits, or gives up after a while.
/// let other = lock.clone();
/// let got = std::thread::spawn(move || other.acquire_timeout(Duration::from_millis(100)))
///     .join()
///     .unwrap()?;
/// assert!(!got);
///
/// lock.release()?;
/// lock.release()?; // the node is deleted now
/// assert!(!lock.is_acquired_in_this_process());
/// assert!(lock.release().is_err()); // not held
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Clone)]
pub struct InterProcessMutex {
    shared: Arc<Shared>,
}

struct Shared {
    lock: Reentrant,
    /// The nodes' data (`None`: the client's default data).
    data: Option<Vec<u8>>,
    /// The watcher left on each node when revocable.
    revocation: Mutex<Option<SharedWatcher>>,
}

impl InterProcessMutex {
    /// A mutex on `path` (in the client's namespace). Nothing is sent until it is acquired;
    /// `Err(InvalidPath)` for a bad path.
    pub fn new(client: &CuratorFramework, path: &str) -> Result<InterProcessMutex> {
        InterProcessMutex::build(client, path, None)
    }

    /// The same with `data` in every lock node it creates (what Curator's subclasses get by
    /// overriding `getLockNodeBytes`: `LeaderSelector` stores its participant id there).
    pub fn with_lock_data(
        client: &CuratorFramework,
        path: &str,
        data: &[u8],
    ) -> Result<InterProcessMutex> {
        InterProcessMutex::build(client, path, Some(data.to_vec()))
    }

    fn build(client: &CuratorFramework, path: &str, data: Option<Vec<u8>>) -> Result<Self> {
        let core = LockCore::new(client, path, MUTEX, Rule::Exclusive)?;
        Ok(InterProcessMutex {
            shared: Arc::new(Shared {
                lock: Reentrant::new(core),
                data,
                revocation: Mutex::new(None),
            }),
        })
    }

    /// Acquires the lock, waiting as long as it takes. Errors when the connection is gone
    /// for longer than the retry policy allows (the queued node is then deleted), or the
    /// lock or the client is closed (`Closed`).
    pub fn acquire(&self) -> Result<()> {
        super::held(self.acquire_until(None)?)
    }

    /// Acquires the lock within `timeout`: `Ok(false)` if it could not. The deadline holds
    /// across retries and reconnects; a node queued meanwhile is deleted.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
        self.acquire_until(Instant::now().checked_add(timeout))
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> Result<bool> {
        let lock = &self.shared.lock;
        if lock.reenter()? {
            return Ok(true);
        }
        let revocation = self.shared.revocation.lock().clone();
        let client = lock.core.client();
        let data: &[u8] = match (&revocation, &self.shared.data) {
            (Some(_), _) => &[],
            (None, Some(d)) => d,
            (None, None) => client.default_data(),
        };
        lock.acquire_new(&Request {
            data,
            granted_as: None,
            deadline,
            revocation,
        })
    }

    /// Acquires the lock and returns a guard that releases it when dropped.
    pub fn lock(&self) -> Result<Locker<'_>> {
        Locker::new(self)
    }

    /// Acquires the lock within `timeout` and returns a guard that releases it when
    /// dropped; `None` if it could not.
    pub fn try_lock_for(&self, timeout: Duration) -> Result<Option<Locker<'_>>> {
        Locker::try_new(self, timeout)
    }

    /// Releases one hold of this thread; the last deletes the node (retried in the
    /// background until it is gone if need be; the first failure is still returned).
    /// `Err(InvalidArgument)` if this thread does not hold the lock.
    pub fn release(&self) -> Result<()> {
        self.shared.lock.release()
    }

    /// True if any thread of this process holds the lock through this instance (or a clone).
    pub fn is_acquired_in_this_process(&self) -> bool {
        self.shared.lock.is_acquired_in_this_process()
    }

    /// True if the calling thread holds the lock.
    pub fn is_owned_by_current_thread(&self) -> bool {
        self.shared.lock.is_owned_by_current_thread()
    }

    /// Every node queued on the lock's path (any process, any language), in lock order: the
    /// first holds the lock. Paths are in the client's namespace.
    pub fn participant_nodes(&self) -> Result<Vec<String>> {
        self.shared.lock.core.participant_nodes()
    }

    /// Makes the lock revocable: `listener` is told when another process calls
    /// [`Revoker::attempt_revoke`](super::Revoker::attempt_revoke) on a node of this lock
    /// (held or waiting). Applies to nodes created from now on; their data is then empty.
    /// The listener runs on the client's safe thread.
    pub fn make_revocable(&self, listener: impl RevocationListener<InterProcessMutex>) {
        self.revocable(Arc::new(listener), None)
    }

    /// [`make_revocable`](Self::make_revocable) with the listener run on `pool`.
    pub fn make_revocable_with_executor(
        &self,
        listener: impl RevocationListener<InterProcessMutex>,
        pool: &WorkerPool,
    ) {
        self.revocable(Arc::new(listener), Some(pool.clone()))
    }

    fn revocable(
        &self,
        listener: Arc<dyn RevocationListener<InterProcessMutex>>,
        pool: Option<WorkerPool>,
    ) {
        let weak: Weak<Shared> = Arc::downgrade(&self.shared);
        let fire = Arc::new(move || {
            if let Some(shared) = weak.upgrade() {
                listener.revocation_requested(&InterProcessMutex { shared });
            }
        });
        let w = RevocationWatch::watcher(self.shared.lock.core.client(), fire, pool);
        *self.shared.revocation.lock() = Some(w);
    }

    /// Closes the lock: threads waiting in `acquire` give up with `Closed`, every node of
    /// this instance (held or queued) is deleted, later calls fail with `Closed`. Also done
    /// when the last clone is dropped.
    pub fn close(&self) {
        self.shared.lock.close()
    }

    /// The lock's path.
    pub fn path(&self) -> &str {
        self.shared.lock.core.base()
    }

    /// The calling thread's lock node (in the client's namespace), if it holds the lock.
    pub fn lock_node(&self) -> Option<String> {
        let full = self.shared.lock.current_node()?;
        Some(self.shared.lock.core.client().unfix_path(&full))
    }
}

super::lock_by_inherent_methods!(InterProcessMutex);

impl std::fmt::Debug for InterProcessMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterProcessMutex")
            .field("path", &self.path())
            .field(
                "acquired_in_this_process",
                &self.is_acquired_in_this_process(),
            )
            .finish()
    }
}
