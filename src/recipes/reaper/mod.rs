//! [`Reaper`] and [`ChildReaper`]: delete nodes that stay empty (Curator 4.x's
//! `recipes.locks.Reaper` and `ChildReaper`).
//!
//! Curator 5 removed both (CURATOR-558) in favour of container nodes, which the server
//! deletes itself once their last child is gone (every recipe here creates its parents as
//! containers), and TTL nodes. They are here for code written against Curator 4 and for
//! servers or trees where containers are not an option (nodes created as plain persistent
//! nodes by older software). Their only nodes are the leader latch's, when they have a leader
//! path (below).
//!
//! A path is deleted once it was seen without children at three checks in a row, a third of
//! the threshold apart (so about `threshold` after it became empty), with a plain delete: a
//! node that gained a child meanwhile fails with NotEmpty and stays.
//!
//! One reaper of many: Curator's constructors take a `leaderPath` and elect the active reaper
//! with a `LeaderLatch` there; here that is [`ReaperBuilder::leader_path`] and
//! [`ChildReaperBuilder::leader_path`]. The recipe owns a [`LeaderLatch`] at that path (empty
//! participant id, as Curator's), started by its `start` and closed by its `close` (or drop),
//! so reapers of Rust and Java (Curator 4) processes on one leader path take part in one
//! election (`leaderPath/_c_<uuid>-latch-<seq>`) and one of them reaps. (Curator 5's jars
//! have no reaper, so that is tested through the latch's own interop only.) A [`ChildReaper`]'s inner
//! [`Reaper`] shares its latch, as in Curator. Leadership is asked at each step (before a
//! path is looked at, and again right before it is deleted; before a [`ChildReaper`] lists its
//! parents); a step without it does nothing and starts the path's count of empty checks over.
//! `leader(closure)` is a check of one's own, instead of the latch or as well (both must
//! hold).

mod child;

pub use child::{ChildReaper, ChildReaperBuilder};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::framework::CuratorFramework;
use crate::path;
use crate::recipes::leader::{LeaderLatch, LeaderLatchState};

/// Checks in a row that must see a path empty before it is deleted (Curator's
/// `EMPTY_COUNT_THRESHOLD`).
const EMPTY_CHECKS: u32 = 3;
/// Curator's default threshold.
const DEFAULT_THRESHOLD: Duration = Duration::from_secs(5 * 60);

/// What happens to a reaped path (Curator's `Reaper.Mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep checking the path for ever, deleting it each time it is empty.
    ReapIndefinitely,
    /// Stop checking once this reaper deleted it.
    ReapUntilDelete,
    /// Stop checking once it is gone, whoever deleted it.
    ReapUntilGone,
}

/// Whether reaping may happen now: a leadership check (typically
/// `move || latch.has_leadership()`), so that one process of many reaps.
pub type LeaderCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// Deletes paths that stay empty (Curator 4's `Reaper`).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::reaper::{Mode, Reaper};
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// client.create().creating_parents_if_needed().for_path("/jobs/done")?;
/// let reaper = Reaper::builder(&client)
///     .threshold(Duration::from_millis(300))
///     .leader_path("/jobs-reaper") // of all reapers on this path, one reaps
///     .build()?;
/// reaper.start()?;
/// reaper.add_path("/jobs/done", Mode::ReapUntilGone)?;
/// let deadline = std::time::Instant::now() + Duration::from_secs(10);
/// while client.check_exists().for_path("/jobs/done")?.is_some() {
///     assert!(std::time::Instant::now() < deadline);
///     std::thread::sleep(Duration::from_millis(20));
/// }
/// reaper.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct Reaper {
    inner: Arc<Inner>,
}

/// Builds a [`Reaper`].
#[must_use = "a builder does nothing until build()"]
pub struct ReaperBuilder {
    client: CuratorFramework,
    threshold: Duration,
    leader: Option<LeaderCheck>,
    leader_path: Option<String>,
}

impl std::fmt::Debug for ReaperBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReaperBuilder")
            .field("threshold", &self.threshold)
            .field("leader_check", &self.leader.is_some())
            .field("leader_path", &self.leader_path)
            .finish_non_exhaustive()
    }
}

impl ReaperBuilder {
    /// About how long a path must stay empty before it is deleted (default 5 minutes).
    pub fn threshold(mut self, t: Duration) -> Self {
        self.threshold = t;
        self
    }

    /// Reap only while `is_leader` returns true (Curator's constructor taking a `LeaderLatch`
    /// of the caller's: pass `move || latch.has_leadership()`). With
    /// [`leader_path`](Self::leader_path) as well, both must hold.
    pub fn leader(mut self, is_leader: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.leader = Some(Arc::new(is_leader));
        self
    }

    /// Reap only while this reaper's own [`LeaderLatch`] at `leader_path` leads (Curator's
    /// `leaderPath`): of all the reapers, Java or Rust, given one leader path, one reaps at a
    /// time. The latch joins the election in [`Reaper::start`] and leaves it in
    /// [`Reaper::close`].
    pub fn leader_path(mut self, leader_path: &str) -> Self {
        self.leader_path = Some(leader_path.to_string());
        self
    }

    /// The reaper (not started); an invalid leader path is an error.
    pub fn build(self) -> Result<Reaper> {
        let latch = match &self.leader_path {
            Some(lp) => Some(LeaderLatch::new(&self.client, lp)?),
            None => None,
        };
        Ok(self.with_latch(latch))
    }

    /// The reaper, owning `latch` (the built one at the leader path, if any).
    fn with_latch(self, latch: Option<LeaderLatch>) -> Reaper {
        Reaper {
            inner: Arc::new(Inner {
                client: self.client,
                interval: (self.threshold / EMPTY_CHECKS).max(Duration::from_millis(1)),
                leader: self.leader,
                latch,
                st: Mutex::new(State::default()),
                cv: Condvar::new(),
                thread: Mutex::new(None),
            }),
        }
    }
}

struct Inner {
    client: CuratorFramework,
    interval: Duration,
    leader: Option<LeaderCheck>,
    /// The latch at the leader path, when there is one (owned: started and closed here).
    latch: Option<LeaderLatch>,
    st: Mutex<State>,
    cv: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct State {
    life: Life,
    /// Path -> (mode, empty checks in a row, generation).
    paths: HashMap<String, (Mode, u32, u64)>,
    /// (due, path, generation): an entry whose generation is not the path's current one is
    /// stale (the path was removed or added again).
    due: BinaryHeap<Reverse<(Instant, String, u64)>>,
    next_gen: u64,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Life {
    #[default]
    Latent,
    Started,
    Closed,
}

impl Reaper {
    /// A reaper with Curator's defaults (5 minute threshold, no leadership check).
    pub fn new(client: &CuratorFramework) -> Reaper {
        Reaper::builder(client).with_latch(None)
    }

    /// A builder.
    pub fn builder(client: &CuratorFramework) -> ReaperBuilder {
        ReaperBuilder {
            client: client.clone(),
            threshold: DEFAULT_THRESHOLD,
            leader: None,
            leader_path: None,
        }
    }

    /// Joins the election at the leader path if there is one, and starts the reaper's thread
    /// (`zk-reaper`).
    pub fn start(&self) -> Result<()> {
        {
            let mut st = self.inner.st.lock();
            if st.life != Life::Latent {
                return Err(Error::InvalidArgument(
                    "the reaper was already started".into(),
                ));
            }
            st.life = Life::Started;
        }
        if let Some(latch) = &self.inner.latch {
            if let Err(e) = latch.start() {
                self.inner.st.lock().life = Life::Latent;
                return Err(e);
            }
        }
        let inner = self.inner.clone();
        let h = std::thread::Builder::new()
            .name("zk-reaper".into())
            .spawn(move || inner.run())
            .map_err(Error::from)?;
        *self.inner.thread.lock() = Some(h);
        Ok(())
    }

    /// Stops the thread and leaves the election (handing leadership to another reaper).
    /// Idempotent; also run on drop.
    pub fn close(&self) {
        {
            let mut st = self.inner.st.lock();
            st.life = Life::Closed;
            st.due.clear();
        }
        self.inner.cv.notify_all();
        let h = self.inner.thread.lock().take();
        if let Some(h) = h {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
        if let Some(latch) = &self.inner.latch {
            close_latch(latch, "reaper");
        }
    }

    /// Checks `path` from now on (again, if it was already checked: its count starts over).
    pub fn add_path(&self, path: &str, mode: Mode) -> Result<()> {
        path::validate_path(path, false)?;
        self.inner.add(path, mode);
        Ok(())
    }

    /// Stops checking `path`; false if it was not checked.
    pub fn remove_path(&self, path: &str) -> bool {
        self.inner.st.lock().paths.remove(path).is_some()
    }

    /// The paths being checked.
    pub fn paths(&self) -> Vec<String> {
        self.inner.st.lock().paths.keys().cloned().collect()
    }

    pub(crate) fn add_if_absent(&self, path: &str, mode: Mode) {
        if !self.inner.st.lock().paths.contains_key(path) {
            self.inner.add(path, mode);
        }
    }
}

/// Closes a recipe's own latch if it is started (closing one that is not is an error).
pub(super) fn close_latch(latch: &LeaderLatch, what: &str) {
    if latch.state() == LeaderLatchState::Started {
        if let Err(e) = latch.close() {
            log::warn!("{what}: closing its leader latch at {}: {e}", latch.path());
        }
    }
}

impl Inner {
    /// Whether this reaper may reap now: its latch leads (if it has one) and its check says
    /// so (if it has one).
    fn active(&self) -> bool {
        self.latch.as_ref().is_none_or(|l| l.has_leadership())
            && self.leader.as_ref().is_none_or(|l| l())
    }

    fn add(&self, path: &str, mode: Mode) {
        let mut st = self.st.lock();
        st.next_gen += 1;
        let gen = st.next_gen;
        st.paths.insert(path.to_string(), (mode, 0, gen));
        st.due.push(Reverse((
            Instant::now() + self.interval,
            path.to_string(),
            gen,
        )));
        drop(st);
        self.cv.notify_all();
    }

    fn run(&self) {
        loop {
            let job = {
                let mut st = self.st.lock();
                loop {
                    if st.life != Life::Started {
                        return;
                    }
                    let now = Instant::now();
                    match st.due.peek() {
                        Some(Reverse((t, _, _))) if *t <= now => {
                            let Some(Reverse((_, p, g))) = st.due.pop() else {
                                continue;
                            };
                            match st.paths.get(&p) {
                                Some((mode, empty, gen)) if *gen == g => {
                                    break (p, *mode, *empty, g)
                                }
                                _ => continue, // removed or re-added since
                            }
                        }
                        Some(Reverse((t, _, _))) => {
                            let t = *t;
                            self.cv.wait_until(&mut st, t);
                        }
                        None => self.cv.wait(&mut st),
                    }
                }
            };
            let (p, mode, empty, gen) = job;
            // Not leading: nothing to do now, and what this process saw before says little
            // about the path once it leads again, so the count starts over.
            let (keep, empty) = if self.active() {
                self.reap(&p, mode, empty)
            } else {
                (true, 0)
            };
            let mut st = self.st.lock();
            let current = st.paths.get(&p).is_some_and(|(_, _, g)| *g == gen);
            if !current {
                continue;
            }
            if keep {
                st.paths.insert(p.clone(), (mode, empty, gen));
                st.due
                    .push(Reverse((Instant::now() + self.interval, p, gen)));
            } else {
                st.paths.remove(&p);
            }
        }
    }

    /// One check of `p`: whether to keep checking it, and its new empty count.
    fn reap(&self, p: &str, mode: Mode, empty: u32) -> (bool, u32) {
        let c = &self.client;
        match c.check_exists().for_path(p) {
            Ok(None) => (mode != Mode::ReapUntilGone, 0),
            Ok(Some(stat)) if stat.num_children == 0 => {
                if empty + 1 < EMPTY_CHECKS {
                    return (true, empty + 1);
                }
                // Leadership may have gone during the check: ask again right before deleting.
                if !self.active() {
                    return (true, 0);
                }
                match c.delete().for_path(p) {
                    Ok(()) => {
                        log::info!("reaped {p}");
                        (mode == Mode::ReapIndefinitely, 0)
                    }
                    Err(Error::NoNode { .. }) => (mode != Mode::ReapUntilGone, 0),
                    Err(Error::NotEmpty { .. }) => (true, 0), // in use again
                    Err(e) => {
                        log::warn!("reaping {p}: {e}");
                        (true, 0)
                    }
                }
            }
            Ok(Some(_)) => (true, 0),
            Err(e) => {
                log::warn!("checking {p} for reaping: {e}");
                (true, 0)
            }
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for Reaper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reaper")
            .field("paths", &self.inner.st.lock().paths.len())
            .field("interval", &self.inner.interval)
            .field("leader_path", &self.inner.latch.as_ref().map(|l| l.path()))
            .finish()
    }
}
