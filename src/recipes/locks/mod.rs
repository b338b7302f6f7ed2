//! Curator's lock recipes, node for node compatible with Java Curator 5.x: a Rust process and
//! a Java process using the same path share one lock.
//!
//! | Recipe | Nodes under the lock's path `P` |
//! |---|---|
//! | [`InterProcessMutex`] | `P/_c_<uuid>-lock-<seq>`, ephemeral-sequential |
//! | [`InterProcessReadWriteLock`] | `P/_c_<uuid>-__WRIT__<seq>` and `P/_c_<uuid>-__READ__<seq>` |
//! | [`InterProcessSemaphoreV2`] | `P/locks/_c_<uuid>-lock-<seq>` (a mutex) and `P/leases/_c_<uuid>-lease-<seq>` |
//! | [`InterProcessSemaphoreMutex`] | the same as a semaphore with one lease |
//! | [`InterProcessMultiLock`] | those of the locks it holds |
//!
//! Parents are created as containers, so the server removes a lock's path once its last
//! node is gone. `docs/recipes.md` has the details and the interoperability status.
//!
//! # A held lock and the connection
//!
//! A lock is held through an ephemeral node, so it is exactly as good as the session: when
//! the session expires the node is deleted and another process gets the lock, whatever this
//! process believes. The client reports what it knows through connection states:
//!
//! * `Suspended`: the connection is lost; the session may still be alive, or may already
//!   have expired on the server. **The lock must be treated as not held** until
//!   `Reconnected` (Curator's "a lock is not valid while SUSPENDED"): stop touching what it
//!   protects.
//! * `Reconnected`: the same session (the lock is still held) or, after `Lost`, a new one.
//! * `Lost`: the session is gone, and the lock with it. Release the lock (which then only
//!   forgets it) and acquire it again if the work must go on.
//!
//! A client built with `SessionConnectionStateErrorPolicy` counts only `Lost` as an error;
//! ask [`CuratorFramework::connection_state_error_policy`] rather than matching states:
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use zk_curator::framework::{ConnectionState, CuratorFramework, CuratorFrameworkFactory, RetryNTimes};
//! use zk_curator::recipes::locks::InterProcessMutex;
//! # let server = zk_curator::testing::TestingServer::start().unwrap();
//! let client = CuratorFrameworkFactory::new_client(
//!     &server.connect_string(),
//!     RetryNTimes::new(3, Duration::from_millis(100)),
//! )?;
//! client.start()?;
//! let lock = InterProcessMutex::new(&client, "/locks/ledger")?;
//!
//! // Valid while connected; any error state makes it doubtful until reconnected.
//! let valid = Arc::new(AtomicBool::new(true));
//! let v = valid.clone();
//! let listener = client.connection_state_listenable().add_listener(
//!     move |c: &CuratorFramework, s: ConnectionState| {
//!         if c.connection_state_error_policy().is_error_state(s) {
//!             v.store(false, Ordering::SeqCst);
//!         } else if s == ConnectionState::Reconnected {
//!             v.store(true, Ordering::SeqCst);
//!         }
//!     },
//! );
//!
//! let held = lock.lock()?;
//! for step in 0..3 {
//!     if !valid.load(Ordering::SeqCst) {
//!         break; // stop: another process may hold the lock now
//!     }
//!     let _ = step; // one step of the protected work
//! }
//! drop(held);
//! client.connection_state_listenable().remove_listener(listener);
//! # Ok::<(), zk_curator::Error>(())
//! ```
//!
//! After `Lost` the node is gone; a `Reconnected` that follows is a new session, in which
//! this process holds nothing until it acquires again: a listener that saw `Lost` should keep
//! the lock invalid until then.
//!
//! # Threads and blocking
//!
//! `acquire` blocks the calling thread; nothing of a lock ever blocks the client's event
//! thread. Waiters wake on the watch events of the nodes ahead of them and on every
//! connection change, and look again at least twice a second. Each lock type can be closed
//! (`close()`, or dropping its last handle), which deletes its nodes and makes waiting
//! threads give up with `Error::Closed`.
//!
//! Layering, bottom up (a module uses only those before it; `.ci/import_loops.py` checks):
//! locker, node, revoke; core; acquire, reentrant; mutex, read_write; lease (with the
//! semaphore's shared state), multi; semaphore; semaphore_mutex.

mod acquire;
mod core;
mod lease;
mod locker;
mod multi;
mod mutex;
mod node;
mod read_write;
mod reentrant;
mod revoke;
mod semaphore;
mod semaphore_mutex;

use std::time::Duration;

pub use lease::Lease;
pub use locker::Locker;
pub use multi::InterProcessMultiLock;
pub use mutex::InterProcessMutex;
pub use read_write::{InterProcessReadWriteLock, ReadLock, WriteLock};
pub use revoke::{RevocationListener, Revoker};
pub use semaphore::InterProcessSemaphoreV2;
pub use semaphore_mutex::InterProcessSemaphoreMutex;

use crate::error::Result;
#[cfg(doc)]
use crate::framework::CuratorFramework;

/// What every lock recipe does (Curator's `InterProcessLock`).
pub trait InterProcessLock: Send + Sync {
    /// Acquires the lock, waiting as long as it takes.
    fn acquire(&self) -> Result<()>;

    /// Acquires the lock within `timeout`; `Ok(false)` if it could not.
    fn acquire_timeout(&self, timeout: Duration) -> Result<bool>;

    /// Releases the lock (an error if it is not held as the lock type requires).
    fn release(&self) -> Result<()>;

    /// True if this process holds the lock through this instance.
    fn is_acquired_in_this_process(&self) -> bool;

    /// Acquires the lock and returns a guard that releases it when dropped.
    fn lock(&self) -> Result<Locker<'_>>
    where
        Self: Sized,
    {
        Locker::new(self)
    }

    /// Acquires the lock within `timeout` and returns a guard; `None` if it could not.
    fn try_lock_for(&self, timeout: Duration) -> Result<Option<Locker<'_>>>
    where
        Self: Sized,
    {
        Locker::try_new(self, timeout)
    }
}

/// Implements [`InterProcessLock`] for a lock type by its inherent methods of the same names
/// (each lock documents them for its own semantics; the trait makes them interchangeable).
macro_rules! lock_by_inherent_methods {
    ($ty:ty) => {
        impl $crate::recipes::locks::InterProcessLock for $ty {
            fn acquire(&self) -> $crate::error::Result<()> {
                <$ty>::acquire(self)
            }

            fn acquire_timeout(&self, timeout: std::time::Duration) -> $crate::error::Result<bool> {
                <$ty>::acquire_timeout(self, timeout)
            }

            fn release(&self) -> $crate::error::Result<()> {
                <$ty>::release(self)
            }

            fn is_acquired_in_this_process(&self) -> bool {
                <$ty>::is_acquired_in_this_process(self)
            }
        }
    };
}
pub(crate) use lock_by_inherent_methods;

/// Turns `acquire()`'s "not acquired" into an error: it has no deadline, so this only
/// happens when the wait ended without the lock (the lock was closed meanwhile); Curator's
/// `acquire()` throws there too.
fn held(got: bool) -> Result<()> {
    if got {
        Ok(())
    } else {
        Err(crate::Error::Timeout)
    }
}
