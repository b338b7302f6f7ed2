//! [`DistributedDoubleBarrier`]: enter together, leave together (Curator's
//! `DistributedDoubleBarrier`, same layout: each member is an ephemeral `<path>/<uuid>` holding
//! the client's default data; the member that sees `n` members creates `<path>/ready`, whose
//! creation releases everyone; leaving members delete their node and wait until no member
//! node is left, then delete `ready`).

use std::time::Duration;

use parking_lot::Mutex;

use super::wake::{deadline, Wake};
use crate::error::{Error, Result};
use crate::framework::protection::new_protected_id;
use crate::framework::CuratorFramework;
use crate::path;
use crate::proto::CreateMode;

const READY: &str = "ready";

/// Where a leaving member stands.
enum Leaving {
    AllGone,
    Wait,
    Again,
}

/// A double barrier for `member_qty` members: [`enter`](Self::enter) blocks until that many
/// have entered, [`leave`](Self::leave) until all of them have left.
///
/// `member_qty` is a threshold, as in Curator: more members may enter. Each instance is one
/// member; use one instance per participant.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::barriers::DistributedDoubleBarrier;
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let workers: Vec<_> = (0..3)
///     .map(|i| {
///         let barrier = DistributedDoubleBarrier::new(&client, "/jobs/batch-7", 3).unwrap();
///         std::thread::spawn(move || {
///             barrier.enter()?; // all 3 are here
///             println!("worker {i} computes");
///             barrier.leave() // all 3 are done
///         })
///     })
///     .collect();
/// for w in workers {
///     w.join().unwrap()?;
/// }
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct DistributedDoubleBarrier {
    client: CuratorFramework,
    path: String,
    member_qty: usize,
    our_name: String,
    our_path: String,
    ready_path: String,
    /// While entered: the `ready` node of our round (its czxid), so that `leave` never
    /// deletes the `ready` of a round that started after ours.
    entered: Mutex<Option<i64>>,
}

impl DistributedDoubleBarrier {
    /// A member of the barrier at `path` for `member_qty` members (at least 1).
    pub fn new(
        client: &CuratorFramework,
        path: &str,
        member_qty: usize,
    ) -> Result<DistributedDoubleBarrier> {
        path::validate_path(path, false)?;
        if member_qty == 0 {
            return Err(Error::InvalidArgument(
                "a double barrier needs at least 1 member".into(),
            ));
        }
        let our_name = new_protected_id();
        Ok(DistributedDoubleBarrier {
            client: client.clone(),
            path: path.to_string(),
            member_qty,
            our_path: path::make_path(path, &our_name),
            our_name,
            ready_path: path::make_path(path, READY),
            entered: Mutex::new(None),
        })
    }

    /// Enters and blocks until `member_qty` members have entered.
    pub fn enter(&self) -> Result<()> {
        self.enter_until(None).map(|_| ())
    }

    /// Enters and blocks for at most `timeout`: true once all have entered; false if time ran
    /// out, and then this member has withdrawn (its node is deleted).
    pub fn enter_timeout(&self, timeout: Duration) -> Result<bool> {
        self.enter_until(Some(timeout))
    }

    /// Leaves and blocks until every member has left.
    pub fn leave(&self) -> Result<()> {
        self.leave_until(None).map(|_| ())
    }

    /// Leaves and blocks for at most `timeout`: true once every member has left, false if
    /// some are still in (this member has left regardless).
    pub fn leave_timeout(&self, timeout: Duration) -> Result<bool> {
        self.leave_until(Some(timeout))
    }

    /// The barrier's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// This member's node.
    pub fn member_path(&self) -> &str {
        &self.our_path
    }

    fn create_ours(&self) -> Result<()> {
        match self
            .client
            .create()
            .creating_parent_containers_if_needed()
            .with_mode(CreateMode::Ephemeral)
            .for_path(&self.our_path)
        {
            // Ours, from an attempt whose reply was lost.
            Ok(_) | Err(Error::NodeExists { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `Some(czxid)` if `ready` exists (its watch is set either way).
    fn ready(&self, wake: &Wake) -> Result<Option<i64>> {
        Ok(self
            .client
            .check_exists()
            .using_shared_watcher(&wake.watcher())
            .for_path(&self.ready_path)?
            .map(|st| st.czxid))
    }

    fn enter_until(&self, timeout: Option<Duration>) -> Result<bool> {
        if self.entered.lock().is_some() {
            return Err(Error::InvalidArgument(format!(
                "member {} already entered {}",
                self.our_name, self.path
            )));
        }
        let deadline = deadline(timeout);
        let wake = Wake::new(&self.client);
        let early = self.ready(&wake)?;
        self.create_ours()?;
        if let Some(czxid) = early {
            *self.entered.lock() = Some(czxid);
            return Ok(true);
        }
        loop {
            let seen = wake.generation();
            match self.enter_step(&wake) {
                Ok(Some(czxid)) => {
                    *self.entered.lock() = Some(czxid);
                    return Ok(true);
                }
                Ok(None) => {
                    if !wake.wait_past(seen, deadline)? {
                        return self.give_up_entering(&wake);
                    }
                }
                Err(e) if e.is_retryable() => {
                    if !wake.backoff(seen, deadline)? {
                        return self.give_up_entering(&wake);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One look: entered (with `ready`'s czxid), or not yet (watches set).
    fn enter_step(&self, wake: &Wake) -> Result<Option<i64>> {
        if let Some(czxid) = self.ready(wake)? {
            return Ok(Some(czxid));
        }
        let children = self
            .client
            .get_children()
            .using_shared_watcher(&wake.watcher())
            .for_path(&self.path)?;
        if !children.contains(&self.our_name) {
            // Our node went with a lost session: we are still waiting to enter.
            self.create_ours()?;
            return Ok(None);
        }
        let members = children.iter().filter(|c| *c != READY).count();
        if members < self.member_qty {
            return Ok(None);
        }
        let mut stat = crate::proto::Stat::default();
        match self
            .client
            .create()
            .storing_stat_in(&mut stat)
            .for_path(&self.ready_path)
        {
            Ok(_) => Ok(Some(stat.czxid)),
            Err(Error::NodeExists { .. }) => self.ready(wake),
            Err(e) => Err(e),
        }
    }

    /// Time is up: unless everyone got in meanwhile, withdraw our node.
    fn give_up_entering(&self, wake: &Wake) -> Result<bool> {
        if let Ok(Some(czxid)) = self.ready(wake) {
            *self.entered.lock() = Some(czxid);
            return Ok(true);
        }
        match self.client.delete().guaranteed().for_path(&self.our_path) {
            Ok(()) | Err(Error::NoNode { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn leave_until(&self, timeout: Option<Duration>) -> Result<bool> {
        let Some(ready_czxid) = *self.entered.lock() else {
            return Err(Error::InvalidArgument(format!(
                "member {} has not entered {}",
                self.our_name, self.path
            )));
        };
        let deadline = deadline(timeout);
        let wake = Wake::new(&self.client);
        // A member whose node is gone (a lost session) has left already.
        match self.client.delete().guaranteed().for_path(&self.our_path) {
            Ok(()) | Err(Error::NoNode { .. }) => {}
            Err(e) => return Err(e),
        }
        *self.entered.lock() = None;
        loop {
            let seen = wake.generation();
            let more = match self.others_left(&wake) {
                Ok(Leaving::AllGone) => break,
                Ok(Leaving::Again) => true,
                Ok(Leaving::Wait) => wake.wait_past(seen, deadline)?,
                Err(e) if e.is_retryable() => wake.backoff(seen, deadline)?,
                Err(e) => return Err(e),
            };
            if !more {
                return Ok(false);
            }
        }
        self.delete_ready(ready_czxid)?;
        Ok(true)
    }

    /// Whether any member node is left; if so, watches the highest one (as Curator does, so
    /// that members do not all wake on every departure).
    fn others_left(&self, wake: &Wake) -> Result<Leaving> {
        let children = match self.client.get_children().for_path(&self.path) {
            Ok(c) => c,
            Err(Error::NoNode { .. }) => return Ok(Leaving::AllGone),
            Err(e) => return Err(e),
        };
        let Some(highest) = children.iter().filter(|c| *c != READY).max() else {
            return Ok(Leaving::AllGone);
        };
        let watched = self
            .client
            .check_exists()
            .using_shared_watcher(&wake.watcher())
            .for_path(&path::make_path(&self.path, highest))?;
        Ok(match watched {
            Some(_) => Leaving::Wait,
            // Gone between the two reads: look again now.
            None => Leaving::Again,
        })
    }

    /// Deletes our round's `ready` (a later round's is left alone).
    fn delete_ready(&self, czxid: i64) -> Result<()> {
        let st = match self.client.check_exists().for_path(&self.ready_path)? {
            Some(st) if st.czxid == czxid => st,
            _ => return Ok(()),
        };
        match self
            .client
            .delete()
            .with_version(st.version)
            .for_path(&self.ready_path)
        {
            Ok(()) | Err(Error::NoNode { .. }) | Err(Error::BadVersion { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Drop for DistributedDoubleBarrier {
    fn drop(&mut self) {
        // A member dropped while entered withdraws, as if its process had ended.
        if self.entered.lock().take().is_some() {
            let _ = self
                .client
                .delete()
                .guaranteed()
                .in_background(|_c: &CuratorFramework, _e: &crate::framework::CuratorEvent| {})
                .for_path(&self.our_path);
        }
    }
}

impl std::fmt::Debug for DistributedDoubleBarrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedDoubleBarrier")
            .field("path", &self.path)
            .field("member", &self.our_name)
            .field("member_qty", &self.member_qty)
            .field("entered", &self.entered.lock().is_some())
            .finish()
    }
}
