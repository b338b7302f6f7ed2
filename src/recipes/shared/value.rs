//! [`SharedValue`]: bytes in one node, shared by every process that opens it (Curator's
//! `SharedValue`, same layout: the node holds the raw value).
//!
//! `start()` creates the node with the seed if it is missing and reads it with a watch. Each
//! watch event, and each reconnection (after which the watch may be gone with the old
//! session), reads it again in the background and tells the listeners about a newer value.
//! States are ordered by the node's `mzxid`, so the local copy never goes back, whichever of
//! a read or a write answers first.

use std::sync::Arc;

use parking_lot::Mutex;

use super::{SharedValueListener, VersionedValue};
use crate::error::{Error, Result};
use crate::framework::{ConnectionState, CuratorEvent, CuratorFramework, Listenable, ListenerId};
use crate::path;
use crate::proto::{EventType, Stat};
use crate::recipes::exact::{ExactWriter, Outcome, WriteOp};
use crate::session::{SharedWatcher, WatchedEvent};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    Latent,
    Started,
    Closed,
}

/// The local copy: the value at a version, and the zxid that wrote it (the order of states).
#[derive(Debug, Clone)]
struct Current {
    version: i32,
    mzxid: i64,
    value: Vec<u8>,
}

/// A value in one node, watched and changed with compare-and-set (Curator's `SharedValue`).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::shared::SharedValue;
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let value = SharedValue::new(&client, "/config/mode", b"active")?;
/// value.listenable().add_listener(|v: &[u8]| println!("mode is now {v:?}"));
/// value.start()?;
/// let seen = value.versioned_value();
/// assert_eq!(seen.value(), b"active");
/// // Only succeeds if nobody changed the value since `seen` was read.
/// assert!(value.try_set_value(&seen, b"standby")?);
/// assert_eq!(value.value(), b"standby");
/// assert!(!value.try_set_value(&seen, b"other")?);
/// value.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct SharedValue {
    inner: Arc<Inner>,
}

struct Inner {
    client: CuratorFramework,
    path: String,
    seed: Vec<u8>,
    life: Mutex<Life>,
    current: Mutex<Current>,
    /// The mzxid of the last state told to the listeners.
    notified: Mutex<i64>,
    listeners: Listenable<dyn SharedValueListener>,
    watcher: SharedWatcher,
    state_listener: Mutex<Option<ListenerId>>,
    writer: ExactWriter,
}

impl SharedValue {
    /// A shared value at `path`; `seed` is written when `start()` finds no node. Not started.
    pub fn new(client: &CuratorFramework, path: &str, seed: &[u8]) -> Result<SharedValue> {
        path::validate_path(path, false)?;
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
            let weak = weak.clone();
            Inner {
                client: client.clone(),
                path: path.to_string(),
                seed: seed.to_vec(),
                life: Mutex::new(Life::Latent),
                current: Mutex::new(Current {
                    version: -1,
                    mzxid: -1,
                    value: seed.to_vec(),
                }),
                notified: Mutex::new(-1),
                listeners: Listenable::default(),
                watcher: SharedWatcher::new(move |e: &WatchedEvent| {
                    if let Some(inner) = weak.upgrade() {
                        inner.on_watch(e);
                    }
                }),
                state_listener: Mutex::new(None),
                writer: ExactWriter::new(client, path),
            }
        });
        Ok(SharedValue { inner })
    }

    /// Creates the node with the seed if it is missing (parents as containers), reads it and
    /// starts watching it. Once only.
    pub fn start(&self) -> Result<()> {
        let inner = &self.inner;
        {
            let mut life = inner.life.lock();
            match *life {
                Life::Latent => *life = Life::Started,
                Life::Started => {
                    return Err(Error::InvalidArgument(format!(
                        "SharedValue {} was already started",
                        inner.path
                    )))
                }
                Life::Closed => return Err(Error::Closed),
            }
        }
        inner
            .client
            .add_weak_state_listener(inner, &inner.state_listener, |inner, c, s| {
                inner.on_state(c, s)
            });
        match inner
            .client
            .create()
            .creating_parent_containers_if_needed()
            .for_path_with_data(&inner.path, &inner.seed)
        {
            Ok(_) | Err(Error::NodeExists { .. }) => {}
            Err(e) => return Err(e),
        }
        let stat = inner.read_value()?;
        // The value start() read is not news to anyone.
        *inner.notified.lock() = stat.mzxid;
        Ok(())
    }

    /// Stops watching and removes this value's write markers. The listeners are dropped.
    pub fn close(&self) {
        self.inner.close();
    }

    /// The value as last read or written (the seed before `start()`).
    pub fn value(&self) -> Vec<u8> {
        self.inner.current.lock().value.clone()
    }

    /// The value with its node version, for [`try_set_value`](Self::try_set_value).
    pub fn versioned_value(&self) -> VersionedValue<Vec<u8>> {
        let c = self.inner.current.lock();
        VersionedValue::new(c.version, c.value.clone())
    }

    /// Sets the value whatever it is now.
    pub fn set_value(&self, new_value: &[u8]) -> Result<()> {
        self.inner.check_started()?;
        let stat = self
            .inner
            .client
            .set_data()
            .for_path(&self.inner.path, new_value)?;
        self.inner.update(&stat, new_value);
        Ok(())
    }

    /// Sets the value if it is still `previous` (same version and bytes): true if it was set.
    /// When it was not, the local copy is read again, so
    /// [`versioned_value`](Self::versioned_value) shows what won.
    ///
    /// The outcome is exact even when the reply is lost: a write that was applied is never
    /// reported as failed (nor retried), and a write that was not is never reported as
    /// done. Only if the session is lost while the reply is missing can the outcome stay
    /// unknown; then the error is `ConnectionLoss` or `SessionExpired`.
    pub fn try_set_value(
        &self,
        previous: &VersionedValue<Vec<u8>>,
        new_value: &[u8],
    ) -> Result<bool> {
        let inner = &self.inner;
        inner.check_started()?;
        {
            let c = inner.current.lock();
            if c.version != previous.version() || c.value != *previous.value() {
                return Ok(false);
            }
        }
        let version = previous.version();
        match inner.writer.write(WriteOp::Set { version }, new_value)? {
            Outcome::Written(Some(stat)) => {
                inner.update(&stat, new_value);
                Ok(true)
            }
            Outcome::Written(None) => {
                inner.read_value()?;
                Ok(true)
            }
            Outcome::Refused(_) => {
                inner.read_value()?;
                Ok(false)
            }
        }
    }

    /// The listeners, told about every new value and every connection state change.
    pub fn listenable(&self) -> &Listenable<dyn SharedValueListener> {
        &self.inner.listeners
    }

    /// The node's path.
    pub fn path(&self) -> &str {
        &self.inner.path
    }
}

impl Drop for SharedValue {
    fn drop(&mut self) {
        self.inner.close();
    }
}

impl std::fmt::Debug for SharedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self.inner.current.lock().clone();
        f.debug_struct("SharedValue")
            .field("path", &self.inner.path)
            .field("version", &c.version)
            .field("value", &c.value)
            .finish()
    }
}

impl Inner {
    fn check_started(&self) -> Result<()> {
        match *self.life.lock() {
            Life::Started => Ok(()),
            Life::Latent => Err(Error::InvalidArgument(format!(
                "SharedValue {} is not started",
                self.path
            ))),
            Life::Closed => Err(Error::Closed),
        }
    }

    fn is_started(&self) -> bool {
        *self.life.lock() == Life::Started
    }

    fn close(&self) {
        {
            let mut life = self.life.lock();
            if *life == Life::Closed {
                return;
            }
            *life = Life::Closed;
        }
        self.client.remove_state_listener(&self.state_listener);
        self.listeners.clear();
        self.writer.close();
    }

    /// Takes a state if it is newer than the local copy (by mzxid).
    fn update(&self, stat: &Stat, value: &[u8]) {
        let mut c = self.current.lock();
        if c.version == -1 || stat.mzxid > c.mzxid {
            *c = Current {
                version: stat.version,
                mzxid: stat.mzxid,
                value: value.to_vec(),
            };
        }
    }

    /// Reads the node in the foreground, with the watch.
    fn read_value(&self) -> Result<Stat> {
        let mut stat = Stat::default();
        let data = self
            .client
            .get_data()
            .storing_stat_in(&mut stat)
            .using_shared_watcher(&self.watcher)
            .for_path(&self.path)?;
        self.update(&stat, &data);
        Ok(stat)
    }

    fn on_watch(self: &Arc<Self>, e: &WatchedEvent) {
        if e.event_type() != EventType::None && self.is_started() {
            self.read_in_background();
        }
    }

    fn on_state(self: &Arc<Self>, c: &CuratorFramework, s: ConnectionState) {
        if !self.is_started() {
            return;
        }
        self.listeners.for_each({
            let c = c.clone();
            move |l| l.state_changed(&c, s)
        });
        // The watch may be gone (a new session) and changes may have been missed.
        if s.is_connected() {
            self.read_in_background();
        }
    }

    fn read_in_background(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let sent = self
            .client
            .get_data()
            .using_shared_watcher(&self.watcher)
            .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                if let Some(inner) = weak.upgrade() {
                    inner.on_read(e);
                }
            })
            .for_path(&self.path);
        if let Err(e) = sent {
            self.client
                .report_unhandled(&format!("SharedValue {}: read", self.path), &e);
        }
    }

    fn on_read(self: &Arc<Self>, e: &CuratorEvent) {
        if !self.is_started() {
            return;
        }
        match (e.error(), e.stat(), e.data()) {
            (None, Some(stat), Some(data)) => {
                self.update(stat, data);
                self.notify(stat.mzxid, data);
            }
            (Some(Error::NoNode { .. }), _, _) => self.watch_for_creation(),
            // A Reconnected reads again.
            (Some(err), _, _) => log::debug!("SharedValue {}: read failed: {err}", self.path),
            _ => {}
        }
    }

    /// The node was deleted: watch for it to come back (a read sets no watch on a missing
    /// node).
    fn watch_for_creation(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let sent = self
            .client
            .check_exists()
            .using_shared_watcher(&self.watcher)
            .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                if let Some(inner) = weak.upgrade() {
                    if e.error().is_none() && inner.is_started() {
                        inner.read_in_background();
                    }
                }
            })
            .for_path(&self.path);
        if let Err(e) = sent {
            self.client
                .report_unhandled(&format!("SharedValue {}: exists", self.path), &e);
        }
    }

    /// Tells the listeners about a state newer than the last one told.
    fn notify(&self, mzxid: i64, data: &[u8]) {
        {
            let mut n = self.notified.lock();
            if mzxid <= *n {
                return;
            }
            *n = mzxid;
        }
        let value: Arc<[u8]> = Arc::from(data);
        self.listeners
            .for_each(move |l| l.value_has_changed(&value));
    }
}
