//! [`InterProcessMultiLock`]: several locks taken as one (Curator's
//! `InterProcessMultiLock`): all or none, in list order, released in reverse.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{InterProcessLock, InterProcessMutex, Locker};
use crate::error::{Error, Result};
use crate::framework::CuratorFramework;

/// Holds several locks as one: acquired in list order, all or none (a failure or timeout
/// releases the ones already taken, in reverse); released in reverse order. Give every
/// process the same order, or two of them can deadlock each holding half.
///
/// **Differs from Curator:** `acquire_timeout` is one deadline for all the locks (Curator
/// gives the whole timeout to each in turn).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes};
/// use zk_curator::recipes::locks::InterProcessMultiLock;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryNTimes::new(3, Duration::from_millis(100)),
/// )?;
/// client.start()?;
/// let both = InterProcessMultiLock::new(&client, &["/locks/from", "/locks/to"])?;
/// both.acquire()?;
/// assert!(both.is_acquired_in_this_process());
/// both.release()?;
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct InterProcessMultiLock {
    locks: Vec<Arc<dyn InterProcessLock>>,
}

impl InterProcessMultiLock {
    /// One [`InterProcessMutex`] per path (at least one path).
    pub fn new(client: &CuratorFramework, paths: &[&str]) -> Result<InterProcessMultiLock> {
        let locks = paths
            .iter()
            .map(|p| {
                InterProcessMutex::new(client, p).map(|m| Arc::new(m) as Arc<dyn InterProcessLock>)
            })
            .collect::<Result<Vec<_>>>()?;
        InterProcessMultiLock::from_locks(locks)
    }

    /// Any locks (at least one), taken in this order.
    pub fn from_locks(locks: Vec<Arc<dyn InterProcessLock>>) -> Result<InterProcessMultiLock> {
        if locks.is_empty() {
            return Err(Error::InvalidArgument(
                "a multi-lock needs at least one lock".into(),
            ));
        }
        Ok(InterProcessMultiLock { locks })
    }

    /// Acquires every lock, waiting as long as it takes.
    pub fn acquire(&self) -> Result<()> {
        super::held(self.acquire_until(None)?)
    }

    /// Acquires every lock within `timeout` (in all); `Ok(false)`, holding none, if it
    /// could not.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
        self.acquire_until(Instant::now().checked_add(timeout))
    }

    fn acquire_until(&self, deadline: Option<Instant>) -> Result<bool> {
        let mut taken: Vec<&Arc<dyn InterProcessLock>> = Vec::with_capacity(self.locks.len());
        let mut outcome = Ok(true);
        for lock in &self.locks {
            let r = match deadline {
                None => lock.acquire().map(|()| true),
                Some(d) => lock.acquire_timeout(d.saturating_duration_since(Instant::now())),
            };
            match r {
                Ok(true) => taken.push(lock),
                other => {
                    outcome = other;
                    break;
                }
            }
        }
        if !matches!(outcome, Ok(true)) {
            for lock in taken.into_iter().rev() {
                if let Err(e) = lock.release() {
                    log::warn!("releasing part of a multi-lock after a failed acquire: {e}");
                }
            }
        }
        outcome
    }

    /// Releases every lock, in reverse order; all are released even if some fail, and the
    /// first error is returned.
    pub fn release(&self) -> Result<()> {
        let mut first = None;
        for lock in self.locks.iter().rev() {
            if let Err(e) = lock.release() {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// True if every lock is held by this process (Curator's choice too).
    pub fn is_acquired_in_this_process(&self) -> bool {
        self.locks.iter().all(|l| l.is_acquired_in_this_process())
    }

    /// Acquires every lock and returns a guard that releases them when dropped.
    pub fn lock(&self) -> Result<Locker<'_>> {
        Locker::new(self)
    }

    /// Acquires every lock within `timeout` and returns a guard; `None` if it could not.
    pub fn try_lock_for(&self, timeout: Duration) -> Result<Option<Locker<'_>>> {
        Locker::try_new(self, timeout)
    }
}

super::lock_by_inherent_methods!(InterProcessMultiLock);

impl std::fmt::Debug for InterProcessMultiLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterProcessMultiLock")
            .field("locks", &self.locks.len())
            .finish()
    }
}
