//! [`QueueSharder`]: spreads one logical queue over several queues (shards), adding a shard
//! when the existing ones grow past a threshold (Curator's `QueueSharder`).
//!
//! Layout (Curator's): every shard is a full queue at `P/queue-<random UUID>`. Each sharder
//! opens every shard it finds (and keeps looking for new ones); producers and consumers take a
//! shard from [`QueueSharder::get_queue`], a random "preferred" one (at most half the
//! threshold full) when there is one. Every `threshold_check` the shards' sizes are read; if
//! one has reached the threshold, the leader adds a shard (up to `max_queues`).
//!
//! The leader: Curator's constructor takes a `leaderPath` and elects it with a `LeaderLatch`
//! there; here that is [`QueueSharderBuilder::leader_path`]. The sharder then owns a
//! [`LeaderLatch`] at that path (empty participant id, as Curator's), started by
//! [`QueueSharder::start`] once the first shards are open and closed by
//! [`QueueSharder::close`], so Rust and Java sharders on one leader path take part in one
//! election (`leaderPath/_c_<uuid>-latch-<seq>`). Leadership is asked at each check, right
//! before a shard would be added, as Curator does; a sharder that loses it later adds nothing
//! more. [`QueueSharderBuilder::leader`] takes a check of its own instead or as well (both
//! must hold). With neither, every sharder acts as the leader, so processes sharing a queue
//! path may add a shard each at the same check (bounded by `max_queues`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::{
    DistributedDelayQueue, DistributedIdQueue, DistributedPriorityQueue, DistributedQueue,
};
use crate::error::{Error, Result};
use crate::framework::CuratorFramework;
use crate::path;
use crate::recipes::leader::{LeaderLatch, LeaderLatchState};

/// A queue a [`QueueSharder`] can manage: every queue kind of this module (Curator's
/// `QueueBase`, start and close only).
pub trait QueueBase: Send + Sync + 'static {
    /// Starts the queue.
    fn start(&self) -> Result<()>;
    /// Closes the queue.
    fn close(&self);
}

macro_rules! queue_base {
    ($($ty:ident),*) => {$(
        impl<T: Send + Sync + 'static> QueueBase for $ty<T> {
            fn start(&self) -> Result<()> {
                $ty::start(self)
            }
            fn close(&self) {
                $ty::close(self)
            }
        }
    )*};
}
queue_base!(
    DistributedQueue,
    DistributedPriorityQueue,
    DistributedDelayQueue,
    DistributedIdQueue
);

/// The prefix of every shard's node.
const SHARD_PREFIX: &str = "queue-";

/// When a [`QueueSharder`] adds shards (Curator's `QueueSharderPolicies`).
#[derive(Debug, Clone, Copy)]
pub struct QueueSharderPolicies {
    new_queue_threshold: usize,
    threshold_check: Duration,
    max_queues: usize,
}

impl Default for QueueSharderPolicies {
    /// Curator's defaults: threshold 10,000 items, checked every 30 s, at most 10 shards.
    fn default() -> Self {
        QueueSharderPolicies {
            new_queue_threshold: 10_000,
            threshold_check: Duration::from_secs(30),
            max_queues: 10,
        }
    }
}

impl QueueSharderPolicies {
    /// Starts from the defaults.
    pub fn builder() -> QueueSharderPolicies {
        QueueSharderPolicies::default()
    }

    /// Items in a shard that call for a new shard (at least 1).
    pub fn new_queue_threshold(mut self, n: usize) -> Self {
        self.new_queue_threshold = n.max(1);
        self
    }

    /// How often the shards' sizes are read.
    pub fn threshold_check(mut self, every: Duration) -> Self {
        self.threshold_check = every.max(Duration::from_millis(1));
        self
    }

    /// The most shards there will be (at least 1).
    pub fn max_queues(mut self, n: usize) -> Self {
        self.max_queues = n.max(1);
        self
    }

    /// The policies (kept for Curator's builder shape).
    pub fn build(self) -> QueueSharderPolicies {
        self
    }
}

type Allocator<Q> = Box<dyn Fn(&CuratorFramework, &str) -> Result<Q> + Send + Sync>;

/// One logical queue over several queues (shards), adding a shard when the existing ones
/// grow past a threshold (Curator's `QueueSharder`).
///
/// Layout (Curator's): every shard is a full queue at `P/queue-<random UUID>`. Each sharder
/// opens every shard it finds (and keeps looking for new ones); producers and consumers take
/// a shard from [`get_queue`](Self::get_queue), a random "preferred" one (at most half the
/// threshold full) when there is one. Every `threshold_check` the shards' sizes are read; if
/// one has reached the threshold, the leader adds a shard (up to `max_queues`).
///
/// Which sharder adds shards: with [`leader_path`](QueueSharderBuilder::leader_path)
/// (Curator's `leaderPath`) the one whose own [`LeaderLatch`] there leads, Java or Rust;
/// with [`leader`](QueueSharderBuilder::leader) the one whose check says so (both must hold
/// when both are given); with neither, every sharder, so processes sharing a queue path may
/// add a shard each at the same check (bounded by `max_queues`).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::queue::{QueueBuilder, QueueSharder, StringSerializer};
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let sharder = QueueSharder::builder(&client, "/sharded", |c: &_, path: &str| {
///     QueueBuilder::producer(c, StringSerializer, path).build_queue()
/// })
/// .leader_path("/sharded-leader") // of all sharders on this path, one adds shards
/// .build()?;
/// sharder.start()?;
/// sharder.get_queue()?.put("job".to_string())?;
/// assert_eq!(sharder.shard_qty(), 1);
/// sharder.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct QueueSharder<Q: QueueBase> {
    inner: Arc<Inner<Q>>,
}

/// Builds a [`QueueSharder`].
#[must_use = "a builder does nothing until build()"]
pub struct QueueSharderBuilder<Q: QueueBase> {
    client: CuratorFramework,
    path: String,
    allocator: Allocator<Q>,
    policies: QueueSharderPolicies,
    leader: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
    leader_path: Option<String>,
}

impl<Q: QueueBase> std::fmt::Debug for QueueSharderBuilder<Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueSharderBuilder")
            .field("path", &self.path)
            .field("policies", &self.policies)
            .field("leader_check", &self.leader.is_some())
            .field("leader_path", &self.leader_path)
            .finish_non_exhaustive()
    }
}

impl<Q: QueueBase> QueueSharderBuilder<Q> {
    /// When to add shards (Curator's defaults otherwise).
    pub fn policies(mut self, p: QueueSharderPolicies) -> Self {
        self.policies = p;
        self
    }

    /// Add shards only while `is_leader` returns true (e.g. `move || latch.has_leadership()`
    /// for a latch of your own). With [`leader_path`](Self::leader_path) as well, both must
    /// hold.
    pub fn leader(mut self, is_leader: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.leader = Some(Arc::new(is_leader));
        self
    }

    /// Add shards only while this sharder's own [`LeaderLatch`] at `leader_path` leads
    /// (Curator's `leaderPath`): of all the sharders, Java or Rust, given one leader path, one
    /// adds shards at a time. The latch has an empty participant id (as Curator's), joins the
    /// election in [`QueueSharder::start`] and leaves it in [`QueueSharder::close`]. The path
    /// must lie outside the queue path (its nodes would be taken for shards):
    /// [`build`](Self::build) fails otherwise.
    pub fn leader_path(mut self, leader_path: &str) -> Self {
        self.leader_path = Some(leader_path.to_string());
        self
    }

    /// The sharder (not started). An invalid queue or leader path, or a leader path at or
    /// under the queue path, is an error.
    pub fn build(self) -> Result<QueueSharder<Q>> {
        path::validate_path(&self.path, false)?;
        let latch = match &self.leader_path {
            Some(lp) => {
                path::validate_path(lp, false)?;
                let under = self.path == "/" || lp.starts_with(&format!("{}/", self.path));
                if *lp == self.path || under {
                    return Err(Error::InvalidArgument(format!(
                        "the leader path {lp} must lie outside the queue path {}: its latch \
                         nodes would be taken for shards",
                        self.path
                    )));
                }
                Some(LeaderLatch::new(&self.client, lp)?)
            }
            None => None,
        };
        Ok(QueueSharder {
            inner: Arc::new(Inner {
                client: self.client,
                path: self.path,
                allocator: self.allocator,
                policies: self.policies,
                leader: self.leader,
                latch,
                shards: Mutex::new(Shards::default()),
                life: Mutex::new(Life::Latent),
                cv: Condvar::new(),
                thread: Mutex::new(None),
                rng: Mutex::new(crate::random::seed() | 1),
            }),
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Life {
    Latent,
    Started,
    Closed,
}

struct Shards<Q> {
    queues: BTreeMap<String, Arc<Q>>,
    preferred: BTreeSet<String>,
}

impl<Q> Default for Shards<Q> {
    fn default() -> Self {
        Shards {
            queues: BTreeMap::new(),
            preferred: BTreeSet::new(),
        }
    }
}

struct Inner<Q: QueueBase> {
    client: CuratorFramework,
    path: String,
    allocator: Allocator<Q>,
    policies: QueueSharderPolicies,
    leader: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
    /// The latch at the leader path, when there is one (owned: started and closed here).
    latch: Option<LeaderLatch>,
    shards: Mutex<Shards<Q>>,
    life: Mutex<Life>,
    cv: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
    rng: Mutex<u64>,
}

impl<Q: QueueBase> QueueSharder<Q> {
    /// A sharder of the queues under `queue_path`; `allocator(client, shard_path)` builds one
    /// shard's queue (not started: the sharder starts it).
    pub fn builder(
        client: &CuratorFramework,
        queue_path: &str,
        allocator: impl Fn(&CuratorFramework, &str) -> Result<Q> + Send + Sync + 'static,
    ) -> QueueSharderBuilder<Q> {
        QueueSharderBuilder {
            client: client.clone(),
            path: queue_path.to_string(),
            allocator: Box::new(allocator),
            policies: QueueSharderPolicies::default(),
            leader: None,
            leader_path: None,
        }
    }

    /// Opens the existing shards (or makes the first one), joins the election at the leader
    /// path if there is one, and starts checking the shards' sizes on a thread of its own
    /// (`zk-queue-sharder`).
    pub fn start(&self) -> Result<()> {
        {
            let mut life = self.inner.life.lock();
            if *life != Life::Latent {
                return Err(Error::InvalidArgument(
                    "the sharder was already started".into(),
                ));
            }
            *life = Life::Started;
        }
        let inner = &self.inner;
        inner.client.create_containers(&inner.path)?;
        let children = inner.client.get_children().for_path(&inner.path)?;
        for c in &children {
            inner.open(&path::make_path(&inner.path, c))?;
        }
        if inner.shards.lock().queues.is_empty() {
            inner.open(&inner.new_shard_path())?;
        }
        // After the first shards, as Curator: electing a leader early gains nothing.
        if let Some(latch) = &inner.latch {
            latch.start()?;
        }
        let me = inner.clone();
        let h = std::thread::Builder::new()
            .name("zk-queue-sharder".into())
            .spawn(move || me.run())
            .map_err(Error::from)?;
        *inner.thread.lock() = Some(h);
        Ok(())
    }

    /// Stops checking, leaves the election (handing leadership to another sharder) and
    /// closes every shard's queue. Idempotent; also run on drop.
    pub fn close(&self) {
        *self.inner.life.lock() = Life::Closed;
        self.inner.cv.notify_all();
        let h = self.inner.thread.lock().take();
        if let Some(h) = h {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
        if let Some(latch) = &self.inner.latch {
            if latch.state() == LeaderLatchState::Started {
                if let Err(e) = latch.close() {
                    log::warn!(
                        "queue sharder {}: closing its leader latch: {e}",
                        self.inner.path
                    );
                }
            }
        }
        let shards = std::mem::take(&mut *self.inner.shards.lock());
        for q in shards.queues.values() {
            q.close();
        }
    }

    /// A shard to use: a random preferred one if any, else a random one.
    pub fn get_queue(&self) -> Result<Arc<Q>> {
        if *self.inner.life.lock() != Life::Started {
            return Err(Error::InvalidArgument("the sharder is not started".into()));
        }
        let s = self.inner.shards.lock();
        let pool: Vec<&String> = if s.preferred.is_empty() {
            s.queues.keys().collect()
        } else {
            s.preferred.iter().collect()
        };
        if pool.is_empty() {
            return Err(Error::Closed);
        }
        let i = self.inner.random(pool.len());
        s.queues.get(pool[i]).cloned().ok_or(Error::Closed)
    }

    /// The number of shards.
    pub fn shard_qty(&self) -> usize {
        self.inner.shards.lock().queues.len()
    }

    /// The shards' paths.
    pub fn queue_paths(&self) -> Vec<String> {
        self.inner.shards.lock().queues.keys().cloned().collect()
    }
}

impl<Q: QueueBase> Inner<Q> {
    fn new_shard_path(&self) -> String {
        let name = format!(
            "{SHARD_PREFIX}{}",
            crate::framework::protection::new_protected_id()
        );
        path::make_path(&self.path, &name)
    }

    fn random(&self, n: usize) -> usize {
        let mut x = self.rng.lock();
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        (*x % n.max(1) as u64) as usize
    }

    /// Opens and starts the shard at `p` unless it is open already.
    fn open(&self, p: &str) -> Result<()> {
        if self.shards.lock().queues.contains_key(p) {
            return Ok(());
        }
        let q = (self.allocator)(&self.client, p)?;
        q.start()?;
        let mut s = self.shards.lock();
        if s.queues.contains_key(p) {
            drop(s);
            q.close();
            return Ok(());
        }
        s.queues.insert(p.to_string(), Arc::new(q));
        s.preferred.insert(p.to_string());
        Ok(())
    }

    fn run(&self) {
        let every = self.policies.threshold_check;
        loop {
            let deadline = Instant::now() + every;
            {
                let mut life = self.life.lock();
                while *life == Life::Started && Instant::now() < deadline {
                    self.cv.wait_until(&mut life, deadline);
                }
                if *life != Life::Started {
                    return;
                }
            }
            if let Err(e) = self.check() {
                log::warn!("queue sharder {}: {e}", self.path);
            }
        }
    }

    /// Whether this sharder may add shards now: its latch leads (if it has one) and its
    /// check says so (if it has one).
    fn leads(&self) -> bool {
        self.latch.as_ref().is_none_or(|l| l.has_leadership())
            && self.leader.as_ref().is_none_or(|l| l())
    }

    /// Curator's `checkThreshold`: open new shards, sort them into preferred or not, and add
    /// one if a shard is full and this process leads.
    fn check(&self) -> Result<()> {
        let threshold = self.policies.new_queue_threshold;
        let mut full = None;
        for c in self.client.get_children().for_path(&self.path)? {
            let p = path::make_path(&self.path, &c);
            self.open(&p)?;
            let Some(stat) = self.client.check_exists().for_path(&p)? else {
                continue;
            };
            let n = usize::try_from(stat.num_children).unwrap_or(0);
            let mut s = self.shards.lock();
            if n >= threshold {
                s.preferred.remove(&p);
                full = Some(n);
            } else if n <= threshold / 2 {
                s.preferred.insert(p);
            }
        }
        // Asked only now, right before adding (Curator's order): a leadership lost during
        // the scan above adds nothing.
        if let (Some(n), true) = (full, self.leads()) {
            if self.shards.lock().queues.len() < self.policies.max_queues {
                log::info!(
                    "queue sharder {}: a shard holds {n} items (threshold {threshold}); adding one",
                    self.path
                );
                self.open(&self.new_shard_path())?;
            } else {
                log::warn!(
                    "queue sharder {}: {} shards, the most allowed",
                    self.path,
                    self.policies.max_queues
                );
            }
        }
        Ok(())
    }
}

impl<Q: QueueBase> Drop for QueueSharder<Q> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<Q: QueueBase> std::fmt::Debug for QueueSharder<Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueSharder")
            .field("path", &self.inner.path)
            .field("shards", &self.shard_qty())
            .finish()
    }
}
