//! [`InterProcessSemaphoreMutex`]: a mutex that is not re-entrant and not tied to a thread,
//! made of a one-lease [`InterProcessSemaphoreV2`] (Curator's `InterProcessSemaphoreMutex`,
//! same nodes: `P/locks/…lock-<seq>` and `P/leases/…lease-<seq>`).

use std::thread::{self, ThreadId};
use std::time::Duration;

use parking_lot::Mutex;

use super::lease::Lease;
use super::semaphore::InterProcessSemaphoreV2;
use super::Locker;
use crate::error::{Error, Result};
use crate::framework::CuratorFramework;

/// A mutex that any thread of the process may release (Curator's
/// `InterProcessSemaphoreMutex`). Not re-entrant: a thread that holds it and asks again
/// would wait for itself forever, as in Curator; here that is refused with
/// `InvalidArgument`.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes};
/// use zk_curator::recipes::locks::InterProcessSemaphoreMutex;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryNTimes::new(3, Duration::from_millis(100)),
/// )?;
/// client.start()?;
/// let m = InterProcessSemaphoreMutex::new(&client, "/locks/nightly")?;
/// m.acquire()?;
/// // Released from another thread: allowed for this lock.
/// std::thread::scope(|s| s.spawn(|| m.release()).join().unwrap())?;
/// assert!(!m.is_acquired_in_this_process());
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct InterProcessSemaphoreMutex {
    semaphore: InterProcessSemaphoreV2,
    lease: Mutex<Option<(Lease, ThreadId)>>,
}

impl InterProcessSemaphoreMutex {
    /// A semaphore mutex on `path` (in the client's namespace).
    pub fn new(client: &CuratorFramework, path: &str) -> Result<InterProcessSemaphoreMutex> {
        Ok(InterProcessSemaphoreMutex {
            semaphore: InterProcessSemaphoreV2::new(client, path, 1)?,
            lease: Mutex::new(None),
        })
    }

    fn check_not_mine(&self) -> Result<()> {
        match &*self.lease.lock() {
            Some((_, t)) if *t == thread::current().id() => Err(Error::InvalidArgument(format!(
                "{} is not re-entrant and this thread holds it",
                self.semaphore.path()
            ))),
            _ => Ok(()),
        }
    }

    fn keep(&self, lease: Lease) {
        let old = self.lease.lock().replace((lease, thread::current().id()));
        drop(old); // cannot hold one already (one lease in all); returned if it did
    }

    /// Acquires it, waiting as long as it takes.
    pub fn acquire(&self) -> Result<()> {
        self.check_not_mine()?;
        let lease = self.semaphore.acquire()?;
        self.keep(lease);
        Ok(())
    }

    /// Acquires it within `timeout`; `Ok(false)` if it could not.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
        self.check_not_mine()?;
        match self.semaphore.acquire_timeout(timeout)? {
            Some(lease) => {
                self.keep(lease);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Releases it, from any thread; `InvalidArgument` if it is not held ("Not acquired").
    pub fn release(&self) -> Result<()> {
        let lease = self.lease.lock().take();
        match lease {
            Some((l, _)) => l.close(),
            None => Err(Error::InvalidArgument(format!(
                "{} is not acquired",
                self.semaphore.path()
            ))),
        }
    }

    /// True while this instance holds it.
    pub fn is_acquired_in_this_process(&self) -> bool {
        self.lease.lock().is_some()
    }

    /// Acquires it and returns a guard that releases it when dropped.
    pub fn lock(&self) -> Result<Locker<'_>> {
        Locker::new(self)
    }

    /// Acquires it within `timeout` and returns a guard; `None` if it could not.
    pub fn try_lock_for(&self, timeout: Duration) -> Result<Option<Locker<'_>>> {
        Locker::try_new(self, timeout)
    }

    /// The lease nodes (at most one is held at a time, by whoever holds the mutex).
    pub fn participant_nodes(&self) -> Result<Vec<String>> {
        self.semaphore.participant_nodes()
    }

    /// Closes it: a holder's lease is returned, waiters give up with `Closed`.
    pub fn close(&self) {
        let lease = self.lease.lock().take();
        drop(lease);
        self.semaphore.close();
    }
}

super::lock_by_inherent_methods!(InterProcessSemaphoreMutex);

impl std::fmt::Debug for InterProcessSemaphoreMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterProcessSemaphoreMutex")
            .field("path", &self.semaphore.path())
            .field("acquired", &self.is_acquired_in_this_process())
            .finish()
    }
}
