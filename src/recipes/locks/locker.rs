//! [`Locker`]: a held lock as a value whose drop releases it (Curator's `Locker`, and the
//! guard of `lock()` / `try_lock_for()`).

use std::marker::PhantomData;
use std::time::Duration;

use super::InterProcessLock;
use crate::error::{Error, Result};

/// Holds a lock until dropped (or [`release`](Self::release)d). Made by
/// [`InterProcessLock::lock`], [`InterProcessLock::try_lock_for`], [`Locker::new`] or
/// [`Locker::with_timeout`].
///
/// It stays on the thread that acquired the lock (it is not `Send`): the re-entrant locks
/// belong to a thread, and only that thread may release them. A release that fails when the
/// guard drops is logged; the lock node is still deleted in the background (guaranteed
/// delete). Call [`release`](Self::release) to see the error instead.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::locks::{InterProcessLock, InterProcessMutex};
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let lock = InterProcessMutex::new(&client, "/locks/report")?;
/// {
///     let _held = lock.lock()?;
///     assert!(lock.is_owned_by_current_thread());
/// } // released here
/// assert!(!lock.is_acquired_in_this_process());
/// match lock.try_lock_for(Duration::from_secs(1))? {
///     Some(_held) => { /* the critical section */ }
///     None => { /* someone else held it for a second */ }
/// }
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[must_use = "the lock is released as soon as the Locker is dropped"]
pub struct Locker<'a> {
    lock: &'a dyn InterProcessLock,
    held: bool,
    _thread: PhantomData<*const ()>,
}

impl<'a> Locker<'a> {
    /// Acquires `lock`, waiting as long as it takes.
    pub fn new(lock: &'a dyn InterProcessLock) -> Result<Locker<'a>> {
        lock.acquire()?;
        Ok(Locker {
            lock,
            held: true,
            _thread: PhantomData,
        })
    }

    /// Acquires `lock` within `timeout`; `Err(Timeout)` if it could not (Curator throws
    /// `TimeoutException`).
    pub fn with_timeout(lock: &'a dyn InterProcessLock, timeout: Duration) -> Result<Locker<'a>> {
        Locker::try_new(lock, timeout)?.ok_or(Error::Timeout)
    }

    /// Acquires `lock` within `timeout`; `None` if it could not.
    pub(crate) fn try_new(
        lock: &'a dyn InterProcessLock,
        timeout: Duration,
    ) -> Result<Option<Locker<'a>>> {
        Ok(lock.acquire_timeout(timeout)?.then_some(Locker {
            lock,
            held: true,
            _thread: PhantomData,
        }))
    }

    /// Releases the lock now, returning the release's error if any.
    pub fn release(mut self) -> Result<()> {
        self.held = false;
        self.lock.release()
    }
}

impl Drop for Locker<'_> {
    fn drop(&mut self) {
        if self.held {
            self.held = false;
            if let Err(e) = self.lock.release() {
                log::warn!("releasing a lock when its guard dropped: {e}");
            }
        }
    }
}

impl std::fmt::Debug for Locker<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locker").field("held", &self.held).finish()
    }
}
