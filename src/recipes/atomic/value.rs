//! [`DistributedAtomicValue`] and the engine every atomic shares: Curator's
//! `DistributedAtomicValue` algorithm (read the node with its Stat, compute, write back at that
//! version or create it, repeat while the retry policy allows) over the exact write path.

use std::sync::Arc;
use std::time::Instant;

use super::{AtomicStats, AtomicValue, PromotedToLock};
use crate::error::{Error, Result};
use crate::framework::{CuratorFramework, RetryPolicy, ThreadSleeper};
use crate::path;
use crate::proto::Stat;
use crate::recipes::exact::{ExactWriter, Outcome, WriteOp};
use crate::recipes::locks::InterProcessMutex;

/// A node's data, `None` when the node does not exist.
pub(super) type Bytes = Option<Vec<u8>>;

/// Computes the new value from the current one (`None`: no node yet).
pub(super) type MakeValue<'a> = &'a dyn Fn(Option<&[u8]>) -> Result<Vec<u8>>;

/// The shared machinery of the atomics.
pub(super) struct Engine {
    client: CuratorFramework,
    path: String,
    policy: Arc<dyn RetryPolicy>,
    writer: ExactWriter,
    promoted: Option<(PromotedToLock, InterProcessMutex)>,
}

impl Engine {
    pub(super) fn new(
        client: &CuratorFramework,
        path: &str,
        policy: Arc<dyn RetryPolicy>,
        promoted: Option<PromotedToLock>,
    ) -> Result<Engine> {
        path::validate_path(path, false)?;
        let promoted = match promoted {
            Some(p) => {
                let mutex = InterProcessMutex::new(client, &p.path)?;
                Some((p, mutex))
            }
            None => None,
        };
        Ok(Engine {
            client: client.clone(),
            path: path.to_string(),
            policy,
            writer: ExactWriter::new(client, path),
            promoted,
        })
    }

    pub(super) fn path(&self) -> &str {
        &self.path
    }

    /// The node's data and Stat (`None` and a default Stat when it does not exist).
    fn current(&self) -> Result<(Bytes, Stat)> {
        let mut stat = Stat::default();
        match self
            .client
            .get_data()
            .storing_stat_in(&mut stat)
            .for_path(&self.path)
        {
            Ok(d) => Ok((Some(d), stat)),
            Err(Error::NoNode { .. }) => Ok((None, Stat::default())),
            Err(e) => Err(e),
        }
    }

    pub(super) fn get(&self) -> Result<AtomicValue<Bytes>> {
        let (v, _) = self.current()?;
        Ok(AtomicValue {
            succeeded: true,
            pre: v.clone(),
            post: v,
            stats: AtomicStats::default(),
        })
    }

    /// One read-modify-write: (applied, value read, value written).
    fn try_once(&self, make: MakeValue<'_>) -> Result<(bool, Bytes, Bytes)> {
        let (pre, stat) = self.current()?;
        let new = make(pre.as_deref())?;
        let op = match pre {
            None => WriteOp::Create,
            Some(_) => WriteOp::Set {
                version: stat.version,
            },
        };
        match self.writer.write(op, &new)? {
            Outcome::Written(_) => Ok((true, pre, Some(new))),
            Outcome::Refused(_) => Ok((false, pre.clone(), pre)),
        }
    }

    /// The optimistic loop, then (if configured and still not done) the attempts under the
    /// promoted lock.
    pub(super) fn try_set(&self, make: MakeValue<'_>) -> Result<AtomicValue<Bytes>> {
        let start = Instant::now();
        let mut stats = AtomicStats::default();
        let mut count = 0u32;
        let mut last = loop {
            stats.optimistic_tries += 1;
            let (ok, pre, post) = self.try_once(make)?;
            if ok
                || !self
                    .policy
                    .allow_retry(count, start.elapsed(), &ThreadSleeper)
            {
                break (ok, pre, post);
            }
            count += 1;
        };
        stats.optimistic_time = start.elapsed();
        if !last.0 {
            if let Some((promoted, mutex)) = &self.promoted {
                let start = Instant::now();
                if let Some(r) = self.under_lock(promoted, mutex, make, &mut stats)? {
                    last = r;
                }
                stats.promoted_lock_time = start.elapsed();
            }
        }
        let (succeeded, pre, post) = last;
        Ok(AtomicValue {
            succeeded,
            pre,
            post,
            stats,
        })
    }

    /// Takes the lock (within its timeout) and attempts as its policy allows; `None` if the
    /// lock was not taken in time.
    fn under_lock(
        &self,
        promoted: &PromotedToLock,
        mutex: &InterProcessMutex,
        make: MakeValue<'_>,
        stats: &mut AtomicStats,
    ) -> Result<Option<(bool, Bytes, Bytes)>> {
        let acquired = match promoted.timeout {
            Some(t) => mutex.acquire_timeout(t)?,
            None => mutex.acquire().map(|()| true)?,
        };
        if !acquired {
            return Ok(None);
        }
        let start = Instant::now();
        let mut count = 0u32;
        let r = loop {
            stats.promoted_lock_tries += 1;
            match self.try_once(make) {
                Ok((true, pre, post)) => break Ok((true, pre, post)),
                Ok(failed)
                    if !promoted
                        .policy
                        .allow_retry(count, start.elapsed(), &ThreadSleeper) =>
                {
                    break Ok(failed)
                }
                Ok(_) => count += 1,
                Err(e) => break Err(e),
            }
        };
        // The outcome stands whatever the release does (a failed release is retried by the
        // lock's guaranteed delete); reporting it as the operation's error would hide a
        // write that happened.
        if let Err(e) = mutex.release() {
            self.client
                .report_unhandled(&format!("releasing the lock of {}", self.path), &e);
        }
        r.map(Some)
    }

    /// One attempt, only if the current value satisfies `expected`.
    pub(super) fn compare_and_set(
        &self,
        expected: &dyn Fn(Option<&[u8]>) -> Result<bool>,
        new: &[u8],
    ) -> Result<AtomicValue<Bytes>> {
        let start = Instant::now();
        let (pre, stat) = self.current()?;
        let mut stats = AtomicStats {
            optimistic_tries: 1,
            ..AtomicStats::default()
        };
        let mut result = AtomicValue {
            succeeded: false,
            pre: pre.clone(),
            post: pre.clone(),
            stats,
        };
        if expected(pre.as_deref())? {
            let op = match pre {
                None => WriteOp::Create,
                Some(_) => WriteOp::Set {
                    version: stat.version,
                },
            };
            if let Outcome::Written(_) = self.writer.write(op, new)? {
                result.succeeded = true;
                result.post = Some(new.to_vec());
            }
        }
        stats.optimistic_time = start.elapsed();
        result.stats = stats;
        Ok(result)
    }

    /// Writes `new` whatever the node holds, creating it (and its parents) if missing.
    pub(super) fn force_set(&self, new: &[u8]) -> Result<()> {
        match self.client.set_data().for_path(&self.path, new) {
            Ok(_) => return Ok(()),
            Err(Error::NoNode { .. }) => {}
            Err(e) => return Err(e),
        }
        match self
            .client
            .create()
            .creating_parent_containers_if_needed()
            .for_path_with_data(&self.path, new)
        {
            Ok(_) => Ok(()),
            Err(Error::NodeExists { .. }) => {
                self.client.set_data().for_path(&self.path, new).map(|_| ())
            }
            Err(e) => Err(e),
        }
    }

    /// Creates the node with `value` if it does not exist: true if this call created it.
    pub(super) fn initialize(&self, value: &[u8]) -> Result<bool> {
        match self.writer.write(WriteOp::Create, value)? {
            Outcome::Written(_) => Ok(true),
            Outcome::Refused(Error::NodeExists { .. }) => Ok(false),
            Outcome::Refused(e) => Err(e),
        }
    }

    pub(super) fn close(&self) {
        self.writer.close();
        if let Some((_, mutex)) = &self.promoted {
            mutex.close();
        }
    }
}

/// A value of raw bytes in one node, changed atomically (Curator's `DistributedAtomicValue`).
///
/// A missing node reads as `None`. Most users want the typed
/// [`DistributedAtomicLong`](super::DistributedAtomicLong).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes, RetryOneTime};
/// use zk_curator::recipes::atomic::DistributedAtomicValue;
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let v = DistributedAtomicValue::new(&client, "/app/leader-epoch", RetryNTimes::new(10, Duration::ZERO))?;
/// assert!(v.initialize(b"one")?);
/// let r = v.compare_and_set(b"one", b"two")?;
/// assert!(r.succeeded());
/// assert_eq!(r.pre_value().as_deref(), Some(&b"one"[..]));
/// assert_eq!(v.get()?.post_value().as_deref(), Some(&b"two"[..]));
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct DistributedAtomicValue {
    engine: Engine,
}

impl DistributedAtomicValue {
    /// A value at `path`, changed optimistically as often as `policy` allows (its sleeps
    /// happen between attempts).
    pub fn new(
        client: &CuratorFramework,
        path: &str,
        policy: impl RetryPolicy,
    ) -> Result<DistributedAtomicValue> {
        Ok(DistributedAtomicValue {
            engine: Engine::new(client, path, Arc::new(policy), None)?,
        })
    }

    /// A value at `path` whose operations, when the optimistic attempts give up, take the
    /// lock described by `promoted` and try again under it.
    pub fn new_with_promoted_to_lock(
        client: &CuratorFramework,
        path: &str,
        policy: impl RetryPolicy,
        promoted: PromotedToLock,
    ) -> Result<DistributedAtomicValue> {
        Ok(DistributedAtomicValue {
            engine: Engine::new(client, path, Arc::new(policy), Some(promoted))?,
        })
    }

    /// The current value (`None`: the node does not exist). Always succeeds.
    pub fn get(&self) -> Result<AtomicValue<Bytes>> {
        self.engine.get()
    }

    /// Writes `new_value` whatever the node holds (creating it if missing): not atomic.
    pub fn force_set(&self, new_value: &[u8]) -> Result<()> {
        self.engine.force_set(new_value)
    }

    /// Sets `new_value` if the value is `expected` (a missing node matches nothing). One
    /// attempt.
    pub fn compare_and_set(&self, expected: &[u8], new_value: &[u8]) -> Result<AtomicValue<Bytes>> {
        self.engine
            .compare_and_set(&|pre| Ok(pre == Some(expected)), new_value)
    }

    /// Sets `new_value` atomically (read, then write at the version read), retrying as the
    /// policy allows.
    pub fn try_set(&self, new_value: &[u8]) -> Result<AtomicValue<Bytes>> {
        self.engine.try_set(&|_| Ok(new_value.to_vec()))
    }

    /// Creates the node with `value` if it does not exist; true if this call created it.
    pub fn initialize(&self, value: &[u8]) -> Result<bool> {
        self.engine.initialize(value)
    }

    /// Removes the markers of this instance's writes (also done on drop).
    pub fn close(&self) {
        self.engine.close()
    }

    /// The node's path.
    pub fn path(&self) -> &str {
        self.engine.path()
    }
}

impl Drop for DistributedAtomicValue {
    fn drop(&mut self) {
        self.engine.close();
    }
}

impl std::fmt::Debug for DistributedAtomicValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedAtomicValue")
            .field("path", &self.engine.path)
            .finish()
    }
}
