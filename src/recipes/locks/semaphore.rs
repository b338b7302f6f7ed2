//! [`InterProcessSemaphoreV2`] and its [`Lease`]s: Curator's counting semaphore, node for
//! node.
//!
//! The layout is described on [`InterProcessSemaphoreV2`].

use std::collections::HashSet;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::lease::{Lease, MaxLeases, Room, Shared};
use super::mutex::InterProcessMutex;
use crate::error::{Error, Result};
use crate::framework::{CuratorFramework, Monitor};
use crate::path;

/// A counting semaphore shared by every process (Java Curator's included) that uses the
/// same path and the same maximum (Curator's `InterProcessSemaphoreV2`). Leases are values:
/// any thread may return one, and a [`Lease`] returns itself when dropped. Clones are the
/// same semaphore.
///
/// Layout under the semaphore's path `P`: `P/locks/_c_<uuid>-lock-<seq>` (an
/// [`InterProcessMutex`] that admits one process at a time to the lease count) and
/// `P/leases/_c_<uuid>-lease-<seq>` (one ephemeral-sequential node per lease held, data the
/// semaphore's node data or the client's default data). To take a lease: hold the mutex,
/// create a lease node, and wait, still holding the mutex, until there are no more lease
/// nodes than leases; then let the mutex go. The maximum is **not stored in ZooKeeper**:
/// every participant must use the same number, or read it from the same `SharedCount` node
/// (a 4-byte big-endian integer, read here directly and followed through a watch).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes};
/// use zk_curator::recipes::locks::InterProcessSemaphoreV2;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryNTimes::new(3, Duration::from_millis(100)),
/// )?;
/// client.start()?;
/// let sem = InterProcessSemaphoreV2::new(&client, "/semaphores/db", 3)?;
/// let two = sem.acquire_many(2)?;
/// let third = sem.acquire()?;
/// assert!(sem.acquire_timeout(Duration::from_millis(100))?.is_none()); // all 3 taken
/// drop(third); // returned
/// let again = sem.acquire_timeout(Duration::from_secs(5))?.expect("one is free");
/// assert_eq!(sem.participant_nodes()?.len(), 3);
/// sem.return_all(two);
/// sem.return_lease(again);
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Clone)]
pub struct InterProcessSemaphoreV2 {
    shared: Arc<Shared>,
}

impl InterProcessSemaphoreV2 {
    /// A semaphore on `path` with `max_leases` leases (at least 1).
    pub fn new(
        client: &CuratorFramework,
        path: &str,
        max_leases: u32,
    ) -> Result<InterProcessSemaphoreV2> {
        if max_leases == 0 {
            return Err(Error::InvalidArgument(
                "a semaphore needs at least one lease".into(),
            ));
        }
        InterProcessSemaphoreV2::build(client, path, MaxLeases::Fixed(max_leases))
    }

    /// A semaphore on `path` whose maximum is the `SharedCount` at `count_path` (a 4-byte
    /// big-endian integer, as Curator's `SharedCount` writes it), read when a lease is
    /// wanted and followed while waiting: raising it admits waiters at once. A count of 0
    /// or less admits nobody. The node must exist when a lease is acquired (else
    /// [`Error::NoNode`]) and hold 4 bytes (else [`Error::BadData`]).
    pub fn with_shared_count(
        client: &CuratorFramework,
        path: &str,
        count_path: &str,
    ) -> Result<InterProcessSemaphoreV2> {
        path::validate_path(count_path, false)?;
        InterProcessSemaphoreV2::build(client, path, MaxLeases::Count(count_path.to_string()))
    }

    fn build(
        client: &CuratorFramework,
        p: &str,
        max: MaxLeases,
    ) -> Result<InterProcessSemaphoreV2> {
        path::validate_path(p, false)?;
        let lock = InterProcessMutex::new(client, &path::make_path(p, "locks"))?;
        let monitor = Arc::new(Monitor::new());
        let m = monitor.clone();
        let id = client
            .connection_state_listenable()
            .add_listener(move |_: &CuratorFramework, _| m.notify_all());
        Ok(InterProcessSemaphoreV2 {
            shared: Arc::new(Shared {
                client: client.clone(),
                base: p.to_string(),
                leases_path: path::make_path(p, "leases"),
                lock,
                max,
                node_data: Mutex::new(None),
                monitor,
                listener: Mutex::new(Some(id)),
                closed: AtomicBool::new(false),
                outstanding: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// The data of the lease nodes created from now on (`None`: the client's default data).
    pub fn set_node_data(&self, data: Option<&[u8]>) {
        *self.shared.node_data.lock() = data.map(<[u8]>::to_vec);
    }

    /// Takes one lease, waiting as long as it takes.
    pub fn acquire(&self) -> Result<Lease> {
        let mut v = self.acquire_many(1)?;
        v.pop()
            .ok_or_else(|| Error::InvalidArgument("no lease acquired".into()))
    }

    /// Takes `qty` leases (all or none), waiting as long as it takes.
    pub fn acquire_many(&self, qty: u32) -> Result<Vec<Lease>> {
        self.shared.acquire(qty, None)?.ok_or(Error::Timeout)
    }

    /// Takes one lease within `timeout`; `None` if it could not.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<Option<Lease>> {
        Ok(self
            .acquire_many_timeout(1, timeout)?
            .and_then(|mut v| v.pop()))
    }

    /// Takes `qty` leases within `timeout` (one deadline for all); `None`, with none of
    /// them kept, if it could not.
    pub fn acquire_many_timeout(&self, qty: u32, timeout: Duration) -> Result<Option<Vec<Lease>>> {
        self.shared
            .acquire(qty, Instant::now().checked_add(timeout))
    }

    /// Returns a lease (the same as dropping it, with the error reported).
    pub fn return_lease(&self, lease: Lease) {
        if let Err(e) = lease.close() {
            log::warn!("returning a lease: {e}");
        }
    }

    /// Returns leases.
    pub fn return_all(&self, leases: impl IntoIterator<Item = Lease>) {
        for l in leases {
            self.return_lease(l);
        }
    }

    /// The names of the lease nodes held now (any process).
    pub fn participant_nodes(&self) -> Result<Vec<String>> {
        self.shared.check_open()?;
        match self
            .shared
            .client
            .get_children()
            .for_path(&self.shared.leases_path)
        {
            Err(Error::NoNode { .. }) => Ok(Vec::new()),
            other => other,
        }
    }

    /// Closes the semaphore: waiters give up with `Closed`, every lease this instance
    /// handed out is returned (its node deleted), later calls fail with `Closed`.
    pub fn close(&self) {
        self.shared.close()
    }

    /// The semaphore's path.
    pub fn path(&self) -> &str {
        &self.shared.base
    }
}

impl Shared {
    fn acquire(
        self: &Arc<Self>,
        qty: u32,
        deadline: Option<Instant>,
    ) -> Result<Option<Vec<Lease>>> {
        if qty == 0 {
            return Err(Error::InvalidArgument("cannot acquire 0 leases".into()));
        }
        let mut got: Vec<Lease> = Vec::with_capacity(qty as usize);
        for _ in 0..qty {
            match self.acquire_one(deadline) {
                Ok(Some(l)) => got.push(l),
                Ok(None) => return Ok(None), // `got` returns itself on drop
                Err(e) => return Err(e),
            }
        }
        Ok(Some(got))
    }

    /// One lease: hold the mutex, queue a lease node, wait for room, let the mutex go.
    fn acquire_one(self: &Arc<Self>, deadline: Option<Instant>) -> Result<Option<Lease>> {
        let mut retry = self.client.zookeeper_client().new_retry_loop();
        if let Some(d) = deadline {
            retry = retry.with_deadline(d);
        }
        loop {
            self.check_open()?;
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let holding = match left {
                Some(l) => self.lock.acquire_timeout(l)?,
                None => self.lock.acquire().map(|()| true)?,
            };
            if !holding {
                return Ok(None);
            }
            let r = self.lease_under_lock(deadline, &mut retry);
            let released = self.lock.release();
            match r {
                Ok(Room::Granted(full)) => {
                    released?;
                    return Ok(Some(Lease::new(self.clone(), full)));
                }
                Ok(Room::TimedOut) => return Ok(None),
                // Our session ended under us (and the mutex with it): start over, if the
                // policy allows (Curator's "Sequential path not found").
                Ok(Room::Requeue(path)) => {
                    retry
                        .take_exception(Error::SessionExpired)
                        .map_err(|_| Error::NoNode { path, op: None })?;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl std::fmt::Debug for InterProcessSemaphoreV2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InterProcessSemaphoreV2")
            .field("path", &self.shared.base)
            .field("max", &self.shared.max)
            .finish()
    }
}
