//! [`InterProcessReadWriteLock`]: Curator's read-write lock, its [`ReadLock`] and
//! [`WriteLock`] sharing one path.
//!
//! Nodes are `_c_<uuid>-__READ__<seq>` and `_c_<uuid>-__WRIT__<seq>` (`__WRIT__`, not
//! `__WRITE__`: both markers have the same length, which Curator relies on), sorted by
//! sequence whatever their kind. A writer holds when its node is the first; a reader when no
//! write node comes before its own.
//!
//! The layout and the downgrade are described on [`InterProcessReadWriteLock`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::core::{LockCore, Naming, Request, Rule};
use super::reentrant::Reentrant;
use super::{held, Locker};
use crate::error::{Error, Result};
use crate::framework::CuratorFramework;
use crate::path;

const READ_LOCK_NAME: &str = "__READ__";
const WRITE_LOCK_NAME: &str = "__WRIT__";

/// Both kinds sort by the text after either marker: the sequence number.
const MARKERS: &[&str] = &[READ_LOCK_NAME, WRITE_LOCK_NAME];

const WRITE: Naming = Naming {
    lock_name: WRITE_LOCK_NAME,
    markers: MARKERS,
};

const READ: Naming = Naming {
    lock_name: READ_LOCK_NAME,
    markers: MARKERS,
};

/// A read-write lock shared by every process (Java Curator's included) that uses the same
/// path (Curator's `InterProcessReadWriteLock`). Readers share it; a writer excludes
/// everyone. Both sides are re-entrant per thread; the write holder may take the read lock
/// and then release the write lock (downgrade, below). Clones are the same lock. Closing
/// it (or dropping the last clone, with its read and write handles) deletes its nodes.
///
/// Nodes are `_c_<uuid>-__READ__<seq>` and `_c_<uuid>-__WRIT__<seq>` (`__WRIT__`, not
/// `__WRITE__`: both markers have the same length, which Curator relies on), sorted by
/// sequence whatever their kind. A writer holds when its node is the first; a reader when
/// no write node comes before its own.
///
/// # Downgrading, and what Curator 5.4 writes
///
/// The thread holding the write lock may take the read lock, then release the write lock:
/// it keeps reading with no writer able to slip in. Curator 5.4 takes that read lock with a
/// fresh **sequential** `__READ__` node, which sorts *after* any writer already queued: once
/// the write lock is released, that writer holds the lock while the downgraded reader still
/// reads (CURATOR-621, fixed in 5.5). This crate writes what 5.5 writes instead: a plain
/// **ephemeral** node `_c_<uuid>-__READ__<seq>` carrying the write node's sequence number, so
/// it sorts with the write node, ahead of every writer queued behind it. Curator 5.4 peers
/// sort and judge nodes by name only, so they honour it too (`tests/interop_locks.rs` checks
/// it against 5.4). A 5.4 Java process that downgrades still writes its sequential node and
/// still has the bug; no peer can fix that.
///
/// Upgrading (taking the write lock while holding only the read lock) is not possible: in
/// Curator it waits forever behind the thread's own read node; here it fails at once with
/// `InvalidArgument`.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes};
/// use zk_curator::recipes::locks::InterProcessReadWriteLock;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryNTimes::new(3, Duration::from_millis(100)),
/// )?;
/// client.start()?;
/// let rw = InterProcessReadWriteLock::new(&client, "/locks/catalog")?;
/// let other = InterProcessReadWriteLock::new(&client, "/locks/catalog")?;
///
/// rw.read_lock().acquire()?;
/// assert!(other.read_lock().acquire_timeout(Duration::from_secs(5))?); // readers share
/// other.read_lock().release()?;
///
/// // A writer waits for the readers.
/// let w = other.write_lock();
/// let t = std::thread::spawn(move || w.acquire_timeout(Duration::from_millis(200)));
/// assert!(!t.join().unwrap()?);
/// rw.read_lock().release()?;
///
/// // Downgrade: write, read, release the write; still reading.
/// let (read, write) = (rw.read_lock(), rw.write_lock());
/// write.acquire()?;
/// read.acquire()?;
/// write.release()?;
/// assert!(read.is_owned_by_current_thread());
/// read.release()?;
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Clone)]
pub struct InterProcessReadWriteLock {
    shared: Arc<Shared>,
}

struct Shared {
    write: Reentrant,
    read: Reentrant,
    /// The nodes' data (`None`: the client's default data).
    data: Option<Vec<u8>>,
}

impl InterProcessReadWriteLock {
    /// A read-write lock on `path` (in the client's namespace); nodes carry the client's
    /// default data. `Err(InvalidPath)` for a bad path.
    pub fn new(client: &CuratorFramework, path: &str) -> Result<InterProcessReadWriteLock> {
        InterProcessReadWriteLock::build(client, path, None)
    }

    /// The same with `data` in every node this lock creates.
    pub fn with_lock_data(
        client: &CuratorFramework,
        path: &str,
        data: &[u8],
    ) -> Result<InterProcessReadWriteLock> {
        InterProcessReadWriteLock::build(client, path, Some(data.to_vec()))
    }

    fn build(
        client: &CuratorFramework,
        path: &str,
        data: Option<Vec<u8>>,
    ) -> Result<InterProcessReadWriteLock> {
        let write = LockCore::new(client, path, WRITE, Rule::Exclusive)?
            .own_nodes_only()
            .confirm_hand_over();
        let read = LockCore::new(client, path, READ, Rule::SharedExcept(WRITE_LOCK_NAME))?
            .own_nodes_only();
        Ok(InterProcessReadWriteLock {
            shared: Arc::new(Shared {
                write: Reentrant::new(write),
                read: Reentrant::new(read),
                data,
            }),
        })
    }

    /// The lock used for reading (a handle; every call returns the same lock).
    pub fn read_lock(&self) -> ReadLock {
        ReadLock {
            shared: self.shared.clone(),
        }
    }

    /// The lock used for writing (a handle; every call returns the same lock).
    pub fn write_lock(&self) -> WriteLock {
        WriteLock {
            shared: self.shared.clone(),
        }
    }

    /// Closes both sides: waiting threads give up with `Closed`, every node of this
    /// instance is deleted, later calls fail with `Closed`.
    pub fn close(&self) {
        self.shared.read.close();
        self.shared.write.close();
    }

    /// The lock's path.
    pub fn path(&self) -> &str {
        self.shared.write.core.base()
    }
}

impl Shared {
    fn data(&self) -> &[u8] {
        match &self.data {
            Some(d) => d,
            None => self.write.core.client().default_data(),
        }
    }

    fn acquire_write(&self, deadline: Option<Instant>) -> Result<bool> {
        if self.write.reenter()? {
            return Ok(true);
        }
        if self.read.is_owned_by_current_thread() {
            return Err(Error::InvalidArgument(format!(
                "cannot upgrade the read lock of {} to the write lock (release the read lock first)",
                self.write.core.base()
            )));
        }
        self.write.acquire_new(&Request {
            data: self.data(),
            granted_as: None,
            deadline,
            revocation: None,
        })
    }

    fn acquire_read(&self, deadline: Option<Instant>) -> Result<bool> {
        if self.read.reenter()? {
            return Ok(true);
        }
        // The write holder reads at once, on a node sorted with its write node.
        let granted_as = self.write.current_node().map(|w| {
            let seq = path::fix_for_sorting(path::node_name(&w), WRITE_LOCK_NAME);
            format!("{READ_LOCK_NAME}{seq}")
        });
        self.read.acquire_new(&Request {
            data: self.data(),
            granted_as,
            deadline,
            revocation: None,
        })
    }
}

macro_rules! lock_side {
    ($ty:ident, $field:ident, $acquire:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone)]
        pub struct $ty {
            shared: Arc<Shared>,
        }

        impl $ty {
            /// Acquires it, waiting as long as it takes.
            pub fn acquire(&self) -> Result<()> {
                held(self.shared.$acquire(None)?)
            }

            /// Acquires it within `timeout`; `Ok(false)` if it could not.
            pub fn acquire_timeout(&self, timeout: Duration) -> Result<bool> {
                self.shared.$acquire(Instant::now().checked_add(timeout))
            }

            /// Releases one hold of this thread (`InvalidArgument` if it holds none).
            pub fn release(&self) -> Result<()> {
                self.shared.$field.release()
            }

            /// Acquires it and returns a guard that releases it when dropped.
            pub fn lock(&self) -> Result<Locker<'_>> {
                Locker::new(self)
            }

            /// Acquires it within `timeout` and returns a guard; `None` if it could not.
            pub fn try_lock_for(&self, timeout: Duration) -> Result<Option<Locker<'_>>> {
                Locker::try_new(self, timeout)
            }

            /// True if any thread of this process holds it through this lock.
            pub fn is_acquired_in_this_process(&self) -> bool {
                self.shared.$field.is_acquired_in_this_process()
            }

            /// True if the calling thread holds it.
            pub fn is_owned_by_current_thread(&self) -> bool {
                self.shared.$field.is_owned_by_current_thread()
            }

            /// The nodes of this kind on the lock's path (any process), in lock order.
            pub fn participant_nodes(&self) -> Result<Vec<String>> {
                self.shared.$field.core.participant_nodes()
            }

            /// The calling thread's node (in the client's namespace), if it holds it.
            pub fn lock_node(&self) -> Option<String> {
                let full = self.shared.$field.current_node()?;
                Some(self.shared.$field.core.client().unfix_path(&full))
            }
        }

        super::lock_by_inherent_methods!($ty);

        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("path", &self.shared.$field.core.base())
                    .field(
                        "acquired_in_this_process",
                        &self.is_acquired_in_this_process(),
                    )
                    .finish()
            }
        }
    };
}

lock_side!(
    ReadLock,
    read,
    acquire_read,
    "The read side of an [`InterProcessReadWriteLock`]: shared with other readers, excluded \
     by a writer queued before it. Re-entrant per thread; the write lock's holder gets it \
     at once (downgrade)."
);

lock_side!(
    WriteLock,
    write,
    acquire_write,
    "The write side of an [`InterProcessReadWriteLock`]: excludes every reader and writer. \
     Re-entrant per thread. Taking it while holding only the read lock (an upgrade) is \
     refused."
);

impl std::fmt::Debug for InterProcessReadWriteLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterProcessReadWriteLock")
            .field("path", &self.path())
            .finish()
    }
}
