//! [`ChildReaper`]: hands the empty children of some parents to a [`Reaper`]. With a leader
//! path (Curator's `leaderPath`) it owns one [`LeaderLatch`] there, which its inner
//! [`Reaper`] shares: both work only while it leads (see the [parent module](super)).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::{close_latch, LeaderCheck, Mode, Reaper, DEFAULT_THRESHOLD};
use crate::error::{Error, Result};
use crate::framework::CuratorFramework;
use crate::path;
use crate::recipes::leader::LeaderLatch;

/// Every `threshold`, lists the children of its parent paths and has a [`Reaper`] delete those
/// that stay empty (Curator 4's `ChildReaper`). With a lock schema (e.g. `["locks",
/// "leases"]` for a semaphore), `<child>/<name>` is reaped as well.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::reaper::{ChildReaper, Mode};
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// client.create().creating_parents_if_needed().for_path("/locks/old-lock")?;
/// let reaper = ChildReaper::builder(&client, "/locks", Mode::ReapUntilDelete)
///     .threshold(Duration::from_millis(300))
///     .build()?;
/// reaper.start()?;
/// let deadline = std::time::Instant::now() + Duration::from_secs(10);
/// while !client.get_children().for_path("/locks")?.is_empty() {
///     assert!(std::time::Instant::now() < deadline);
///     std::thread::sleep(Duration::from_millis(20));
/// }
/// reaper.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct ChildReaper {
    inner: Arc<Inner>,
}

/// Builds a [`ChildReaper`].
#[must_use = "a builder does nothing until build()"]
pub struct ChildReaperBuilder {
    client: CuratorFramework,
    path: String,
    mode: Mode,
    threshold: Duration,
    leader: Option<LeaderCheck>,
    leader_path: Option<String>,
    lock_schema: Vec<String>,
}

impl std::fmt::Debug for ChildReaperBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildReaperBuilder")
            .field("path", &self.path)
            .field("mode", &self.mode)
            .field("threshold", &self.threshold)
            .field("leader_check", &self.leader.is_some())
            .field("leader_path", &self.leader_path)
            .field("lock_schema", &self.lock_schema)
            .finish_non_exhaustive()
    }
}

impl ChildReaperBuilder {
    /// How often the parents are listed, and about how long a child must stay empty before
    /// it is deleted (default 5 minutes).
    pub fn threshold(mut self, t: Duration) -> Self {
        self.threshold = t;
        self
    }

    /// Work only while `is_leader` returns true (e.g. `move || latch.has_leadership()` for a
    /// latch of your own). With [`leader_path`](Self::leader_path) as well, both must hold.
    pub fn leader(mut self, is_leader: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.leader = Some(Arc::new(is_leader));
        self
    }

    /// Work only while this child reaper's own [`LeaderLatch`] at `leader_path` leads
    /// (Curator's `leaderPath`): of all the child reapers, Java or Rust, given one leader path,
    /// one lists and reaps at a time. The latch (shared with the inner [`Reaper`]) joins the
    /// election in [`ChildReaper::start`] and leaves it in [`ChildReaper::close`].
    pub fn leader_path(mut self, leader_path: &str) -> Self {
        self.leader_path = Some(leader_path.to_string());
        self
    }

    /// Also reap `<child>/<name>` for each of `names` (Curator's `lockSchema`).
    pub fn lock_schema(mut self, names: &[&str]) -> Self {
        self.lock_schema = names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// The child reaper (not started); an invalid path or leader path is an error.
    pub fn build(self) -> Result<ChildReaper> {
        path::validate_path(&self.path, false)?;
        let latch = match &self.leader_path {
            Some(lp) => Some(Arc::new(LeaderLatch::new(&self.client, lp)?)),
            None => None,
        };
        // The inner reaper asks what this one asks (Curator hands it the latch, not owned).
        let active = active_check(latch.clone(), self.leader.clone());
        let reaper = Reaper::builder(&self.client)
            .threshold(self.threshold)
            .leader(move || active())
            .build()?;
        Ok(ChildReaper {
            inner: Arc::new(Inner {
                client: self.client,
                mode: self.mode,
                every: self.threshold.max(Duration::from_millis(1)),
                active: active_check(latch.clone(), self.leader),
                latch,
                lock_schema: self.lock_schema,
                reaper,
                st: Mutex::new(State {
                    paths: BTreeSet::from([self.path]),
                    max_children: None,
                    started: false,
                    closed: false,
                }),
                cv: Condvar::new(),
                thread: Mutex::new(None),
            }),
        })
    }
}

/// Whether to work now: `latch` leads (if there is one) and `leader` says so (if given).
fn active_check(latch: Option<Arc<LeaderLatch>>, leader: Option<LeaderCheck>) -> LeaderCheck {
    Arc::new(move || {
        latch.as_ref().is_none_or(|l| l.has_leadership()) && leader.as_ref().is_none_or(|l| l())
    })
}

struct Inner {
    client: CuratorFramework,
    mode: Mode,
    every: Duration,
    /// The latch and the user's check together.
    active: LeaderCheck,
    /// The latch at the leader path, when there is one (owned: started and closed here).
    latch: Option<Arc<LeaderLatch>>,
    lock_schema: Vec<String>,
    reaper: Reaper,
    st: Mutex<State>,
    cv: Condvar,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct State {
    paths: BTreeSet<String>,
    max_children: Option<usize>,
    started: bool,
    closed: bool,
}

impl ChildReaper {
    /// A child reaper of `path` with Curator's defaults.
    pub fn new(client: &CuratorFramework, path: &str, mode: Mode) -> Result<ChildReaper> {
        ChildReaper::builder(client, path, mode).build()
    }

    /// A builder; `mode` applies to every child handed to the reaper.
    pub fn builder(client: &CuratorFramework, path: &str, mode: Mode) -> ChildReaperBuilder {
        ChildReaperBuilder {
            client: client.clone(),
            path: path.to_string(),
            mode,
            threshold: DEFAULT_THRESHOLD,
            leader: None,
            leader_path: None,
            lock_schema: Vec::new(),
        }
    }

    /// Joins the election at the leader path if there is one, and starts the reaper and the
    /// listing thread (`zk-child-reaper`).
    pub fn start(&self) -> Result<()> {
        {
            let mut st = self.inner.st.lock();
            if st.started || st.closed {
                return Err(Error::InvalidArgument(
                    "the child reaper was already started".into(),
                ));
            }
            st.started = true;
        }
        if let Some(latch) = &self.inner.latch {
            if let Err(e) = latch.start() {
                self.inner.st.lock().started = false;
                return Err(e);
            }
        }
        self.inner.reaper.start()?;
        let inner = self.inner.clone();
        let h = std::thread::Builder::new()
            .name("zk-child-reaper".into())
            .spawn(move || inner.run())
            .map_err(Error::from)?;
        *self.inner.thread.lock() = Some(h);
        Ok(())
    }

    /// Stops both threads and leaves the election (handing leadership to another child
    /// reaper). Idempotent; also run on drop.
    pub fn close(&self) {
        self.inner.st.lock().closed = true;
        self.inner.cv.notify_all();
        let h = self.inner.thread.lock().take();
        if let Some(h) = h {
            if h.thread().id() != std::thread::current().id() {
                let _ = h.join();
            }
        }
        self.inner.reaper.close();
        if let Some(latch) = &self.inner.latch {
            close_latch(latch, "child reaper");
        }
    }

    /// Also looks after the children of `path`.
    pub fn add_path(&self, path: &str) -> Result<()> {
        path::validate_path(path, false)?;
        self.inner.st.lock().paths.insert(path.to_string());
        Ok(())
    }

    /// Stops looking after the children of `path`; false if it was not a parent.
    pub fn remove_path(&self, path: &str) -> bool {
        self.inner.st.lock().paths.remove(path)
    }

    /// Skips a parent with more than `max` children (a warning is logged; listing a huge
    /// parent is costly). `None` (the default): no limit.
    pub fn set_max_children(&self, max: Option<usize>) {
        self.inner.st.lock().max_children = max;
    }

    /// The reaper the children are handed to.
    pub fn reaper(&self) -> &Reaper {
        &self.inner.reaper
    }
}

impl Inner {
    fn run(&self) {
        let mut next = Instant::now() + self.every;
        loop {
            let (paths, max) = {
                let mut st = self.st.lock();
                while !st.closed && Instant::now() < next {
                    self.cv.wait_until(&mut st, next);
                }
                if st.closed {
                    return;
                }
                (st.paths.clone(), st.max_children)
            };
            next = Instant::now() + self.every;
            if !(self.active)() {
                continue;
            }
            for p in paths {
                if let Err(e) = self.work(&p, max) {
                    log::warn!("child reaper: cannot look at the children of {p}: {e}");
                }
            }
        }
    }

    fn work(&self, parent: &str, max: Option<usize>) -> Result<()> {
        let c = &self.client;
        if let Some(max) = max {
            if let Some(stat) = c.check_exists().for_path(parent)? {
                if usize::try_from(stat.num_children).unwrap_or(0) > max {
                    log::warn!(
                        "child reaper: skipping {parent}, it has {} children",
                        stat.num_children
                    );
                    return Ok(());
                }
            }
        }
        let children = match c.get_children().for_path(parent) {
            Ok(k) => k,
            Err(Error::NoNode { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        for name in children {
            let child = path::make_path(parent, &name);
            self.add_if_empty(&child)?;
            for sub in &self.lock_schema {
                self.add_if_empty(&path::make_path(&child, sub))?;
            }
        }
        Ok(())
    }

    fn add_if_empty(&self, p: &str) -> Result<()> {
        if let Some(stat) = self.client.check_exists().for_path(p)? {
            if stat.num_children == 0 {
                self.reaper.add_if_absent(p, self.mode);
            }
        }
        Ok(())
    }
}

impl Drop for ChildReaper {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for ChildReaper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildReaper")
            .field("paths", &self.inner.st.lock().paths)
            .field("every", &self.inner.every)
            .field("leader_path", &self.inner.latch.as_ref().map(|l| l.path()))
            .finish()
    }
}
