//! [`InterProcessSemaphoreV2`] and its [`Lease`]s: Curator's counting semaphore, node for
//! node.
//!
//! The layout is described on [`InterProcessSemaphoreV2`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::core::RECHECK;
use super::mutex::InterProcessMutex;
use super::node::{remove_node, remove_node_soon, ProtectedCreate};
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::framework::{
    CuratorFramework, CuratorFrameworkState, ListenerId, Monitor, RetryLoop, WatchTracker,
};
use crate::path;
use crate::proto::CreateMode;
use crate::session::{SharedWatcher, WatchedEvent};

/// Where the maximum number of leases comes from.
#[derive(Debug, Clone)]
enum MaxLeases {
    Fixed(u32),
    /// A `SharedCount` node (handle-level path is computed per use).
    Count(String),
}

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

struct Shared {
    client: CuratorFramework,
    /// The semaphore's path (client namespace).
    base: String,
    leases_path: String,
    lock: InterProcessMutex,
    max: MaxLeases,
    node_data: Mutex<Option<Vec<u8>>>,
    monitor: Arc<Monitor>,
    listener: Mutex<Option<ListenerId>>,
    closed: AtomicBool,
    /// Lease nodes (handle-level) handed out and not yet returned, for `close()`.
    outstanding: Mutex<HashSet<String>>,
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
    /// or less admits nobody. The node must exist when a lease is acquired.
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
    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire)
            || self.client.state() == CuratorFrameworkState::Stopped
        {
            return Err(Error::Closed);
        }
        Ok(())
    }

    fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Some(id) = self.listener.lock().take() {
            self.client
                .connection_state_listenable()
                .remove_listener(id);
        }
        self.lock.close();
        let leases: Vec<String> = self.outstanding.lock().drain().collect();
        for full in leases {
            remove_node_soon(&self.client, &full);
        }
        self.monitor.notify_all();
    }

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
                        .map_err(|_| Error::NoNode { path })?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// With the mutex held: creates a lease node and waits until the lease count allows
    /// it. Unless granted, the node is removed.
    fn lease_under_lock(&self, deadline: Option<Instant>, retry: &mut RetryLoop) -> Result<Room> {
        let parent = self.client.fix_path(&self.leases_path, false)?;
        let data = self
            .node_data
            .lock()
            .clone()
            .unwrap_or_else(|| self.client.default_data().to_vec());
        let mut create = ProtectedCreate::new(&parent, "lease-", CreateMode::EphemeralSequential);
        let watches = WatchTracker::default();
        let changed = Arc::new(AtomicBool::new(false));
        let watcher = wake_on_change(&changed, self.monitor.clone());
        let mut node: Option<(String, i64)> = None;
        let r = self.wait_for_room(
            &parent,
            &data,
            &mut create,
            &watches,
            &watcher,
            &changed,
            &mut node,
            deadline,
            retry,
        );
        watches.remove_all(&self.client);
        match (r, node.take()) {
            (Ok(Room::Granted(_)), Some((full, _))) => Ok(Room::Granted(full)),
            (r, n) => {
                if let Some((full, _)) = n {
                    remove_node_soon(&self.client, &full);
                }
                create.abandon(&self.client);
                match r {
                    Ok(Room::Granted(p)) => Ok(Room::Requeue(p)),
                    other => other,
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn wait_for_room(
        &self,
        parent: &str,
        data: &[u8],
        create: &mut ProtectedCreate,
        watches: &WatchTracker,
        watcher: &SharedWatcher,
        changed: &AtomicBool,
        node: &mut Option<(String, i64)>,
        deadline: Option<Instant>,
        retry: &mut RetryLoop,
    ) -> Result<Room> {
        loop {
            self.check_open()?;
            if retry.past_deadline() {
                return Ok(Room::TimedOut);
            }
            let step = (|| -> Result<Option<Room>> {
                let zk = self.handle(retry)?;
                watches.note(&self.client, parent, watcher);
                changed.store(false, Ordering::Release);
                let seen = self.monitor.generation();
                let (kids, max) = match node {
                    None => {
                        let c = create.attempt(
                            &self.client,
                            &zk,
                            data,
                            Some(Some(watcher.clone())),
                            deadline,
                        )?;
                        *node = Some((c.full.clone(), c.session));
                        let max = self.max_leases(&zk, watches, watcher, deadline)?;
                        (c.listing.unwrap_or(Ok(Vec::new()))?, max)
                    }
                    // Made by a session that is gone: so is our hold of the mutex.
                    Some((full, session)) if *session != zk.session_id() => {
                        return Ok(Some(Room::Requeue(full.clone())));
                    }
                    Some((full, _)) => {
                        let kids = zk.get_children_w_deferred(parent, watcher.clone())?;
                        let max = self.max_leases(&zk, watches, watcher, deadline)?;
                        match kids.wait(deadline) {
                            Ok(k) => (k, max),
                            Err(Error::NoNode { .. }) => {
                                return Ok(Some(Room::Requeue(full.clone())))
                            }
                            Err(e) => return Err(e),
                        }
                    }
                };
                let Some((full, _)) = node.as_ref() else {
                    return Ok(None);
                };
                if !kids.iter().any(|k| k == path::node_name(full)) {
                    return Ok(Some(Room::Requeue(full.clone())));
                }
                if i64::try_from(kids.len()).unwrap_or(i64::MAX) <= max {
                    return Ok(Some(Room::Granted(full.clone())));
                }
                // Full: wait for a change (a lease returned, the count raised, the
                // connection), the deadline, or the next periodic look.
                while !changed.load(Ordering::Acquire) {
                    self.check_open()?;
                    let mut until = Instant::now() + RECHECK;
                    if let Some(d) = deadline {
                        if Instant::now() >= d {
                            return Ok(Some(Room::TimedOut));
                        }
                        until = until.min(d);
                    }
                    let now = self.monitor.wait_past(seen, Some(until));
                    if now != seen {
                        break;
                    }
                }
                Ok(None)
            })();
            match step {
                Ok(Some(done)) => return Ok(done),
                Ok(None) => retry.note_progress(),
                Err(e) if crate::client::is_deadline(&e, deadline) => return Ok(Room::TimedOut),
                Err(e) => retry.take_exception(e)?,
            }
        }
    }

    fn handle(&self, retry: &RetryLoop) -> Result<Arc<ZooKeeper>> {
        let inner = &self.client.inner;
        let mut wait = inner.cfg.connection_timeout;
        if let Some(left) = retry.remaining() {
            wait = wait.min(left);
        }
        inner.connected_handle(wait)
    }

    /// The maximum now: the fixed number, or the SharedCount's value (its node watched).
    fn max_leases(
        &self,
        zk: &ZooKeeper,
        watches: &WatchTracker,
        watcher: &SharedWatcher,
        deadline: Option<Instant>,
    ) -> Result<i64> {
        let count_path = match &self.max {
            MaxLeases::Fixed(n) => return Ok(i64::from(*n)),
            MaxLeases::Count(p) => p,
        };
        let full = self.client.fix_path(count_path, false)?;
        watches.note(&self.client, &full, watcher);
        let (data, _) = zk
            .get_data_deferred(&full, Some(watcher.clone()))?
            .wait(deadline)
            .map_err(|e| e.with_path(count_path))?;
        let bytes: [u8; 4] = data.as_slice().try_into().map_err(|_| {
            Error::InvalidArgument(format!(
                "{count_path} holds {} bytes, not a SharedCount (a 4-byte big-endian integer)",
                data.len()
            ))
        })?;
        Ok(i64::from(i32::from_be_bytes(bytes)))
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.close();
    }
}

/// How a wait for room under the mutex ended.
enum Room {
    /// The lease node (handle-level) holds a lease.
    Granted(String),
    TimedOut,
    /// The session that made the node (and held the mutex) is gone: start over.
    Requeue(String),
}

/// The watcher of a lease wait: anything on the leases, the count or the connection wakes
/// the waiter to look again.
fn wake_on_change(changed: &Arc<AtomicBool>, monitor: Arc<Monitor>) -> SharedWatcher {
    let c = Arc::downgrade(changed);
    SharedWatcher::new(move |_: &WatchedEvent| {
        if let Some(c) = c.upgrade() {
            c.store(true, Ordering::Release);
        }
        monitor.notify_all();
    })
}

/// One lease of an [`InterProcessSemaphoreV2`] (Curator's `Lease`). Returned when dropped
/// or [`close`](Self::close)d: its node is deleted (in the background until it is gone, if
/// the connection is down). Leases may move between threads.
pub struct Lease {
    sem: Arc<Shared>,
    /// Handle-level path of the lease node.
    full: String,
    returned: bool,
}

impl Lease {
    fn new(sem: Arc<Shared>, full: String) -> Lease {
        sem.outstanding.lock().insert(full.clone());
        Lease {
            sem,
            full,
            returned: false,
        }
    }

    /// Returns the lease now, reporting the delete's error (the node is still deleted in
    /// the background then).
    pub fn close(mut self) -> Result<()> {
        self.give_back()
    }

    fn give_back(&mut self) -> Result<()> {
        if std::mem::replace(&mut self.returned, true) {
            return Ok(());
        }
        // Closed semaphore: the node was removed with it.
        if !self.sem.outstanding.lock().remove(&self.full) {
            return Ok(());
        }
        remove_node(&self.sem.client, &self.full)
    }

    /// The lease node's data.
    pub fn data(&self) -> Result<Vec<u8>> {
        self.sem.client.get_data().for_path(&self.path())
    }

    /// The lease node's name.
    pub fn node_name(&self) -> &str {
        path::node_name(&self.full)
    }

    /// The lease node's path (in the client's namespace).
    pub fn path(&self) -> String {
        self.sem.client.unfix_path(&self.full)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Err(e) = self.give_back() {
            log::warn!("returning a lease on drop: {e}");
        }
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("node", &self.full).finish()
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
