//! A lease of an [`InterProcessSemaphoreV2`](super::InterProcessSemaphoreV2): how one is
//! taken under the semaphore's mutex (create a lease node, wait for room), and the [`Lease`]
//! value that returns it. The semaphore's state (`Shared`), which its clones and its leases
//! hold, lives here too, so that the semaphore (`semaphore`) builds on this module and not
//! the other way round.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

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
pub(super) enum MaxLeases {
    Fixed(u32),
    /// A `SharedCount` node (handle-level path is computed per use).
    Count(String),
}

/// The state of one semaphore: what its clones share and each of its leases holds.
pub(super) struct Shared {
    pub(super) client: CuratorFramework,
    /// The semaphore's path (client namespace).
    pub(super) base: String,
    pub(super) leases_path: String,
    pub(super) lock: InterProcessMutex,
    pub(super) max: MaxLeases,
    pub(super) node_data: Mutex<Option<Vec<u8>>>,
    pub(super) monitor: Arc<Monitor>,
    pub(super) listener: Mutex<Option<ListenerId>>,
    pub(super) closed: AtomicBool,
    /// Lease nodes (handle-level) handed out and not yet returned, for `close()`.
    pub(super) outstanding: Mutex<HashSet<String>>,
}

impl Shared {
    pub(super) fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire)
            || self.client.state() == CuratorFrameworkState::Stopped
        {
            return Err(Error::Closed);
        }
        Ok(())
    }

    pub(super) fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.client.remove_state_listener(&self.listener);
        self.lock.close();
        let leases: Vec<String> = self.outstanding.lock().drain().collect();
        for full in leases {
            remove_node_soon(&self.client, &full);
        }
        self.monitor.notify_all();
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.close();
    }
}

impl Shared {
    /// With the mutex held: creates a lease node and waits until the lease count allows
    /// it. Unless granted, the node is removed.
    pub(super) fn lease_under_lock(
        &self,
        deadline: Option<Instant>,
        retry: &mut RetryLoop,
    ) -> Result<Room> {
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
        inner.connected_handle(retry.connect_by(inner.cfg.connection_timeout))
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
        let bytes: [u8; 4] = data.as_slice().try_into().map_err(|_| Error::BadData {
            path: count_path.clone(),
            reason: format!(
                "{} bytes where a SharedCount holds a 4-byte big-endian int",
                data.len()
            ),
        })?;
        Ok(i64::from(i32::from_be_bytes(bytes)))
    }
}

/// How a wait for room under the mutex ended.
pub(super) enum Room {
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

/// One lease of an [`InterProcessSemaphoreV2`](super::InterProcessSemaphoreV2) (Curator's
/// `Lease`). Returned when dropped or [`close`](Self::close)d: its node is deleted (in the
/// background until it is gone, if the connection is down). Leases may move between threads.
pub struct Lease {
    sem: Arc<Shared>,
    /// Handle-level path of the lease node.
    full: String,
    returned: bool,
}

impl Lease {
    pub(super) fn new(sem: Arc<Shared>, full: String) -> Lease {
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
