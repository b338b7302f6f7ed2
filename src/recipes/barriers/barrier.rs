//! [`DistributedBarrier`]: a barrier that is up while its node exists (Curator's
//! `DistributedBarrier`: the node is persistent and holds the client's default data).

use std::time::Duration;

use super::wake::{deadline, Wake};
use crate::error::{Error, Result};
use crate::framework::CuratorFramework;
use crate::path;

/// Blocks processes until whoever holds the barrier removes it.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::barriers::DistributedBarrier;
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let barrier = DistributedBarrier::new(&client, "/deploy/gate")?;
/// barrier.set_barrier()?;
/// let waiter = {
///     let barrier = DistributedBarrier::new(&client, "/deploy/gate")?;
///     std::thread::spawn(move || barrier.wait_on_barrier())
/// };
/// assert!(!barrier.wait_on_barrier_timeout(Duration::from_millis(50))?, "still up");
/// barrier.remove_barrier()?;
/// waiter.join().unwrap()?;
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct DistributedBarrier {
    client: CuratorFramework,
    path: String,
}

impl DistributedBarrier {
    /// A barrier at `path`.
    pub fn new(client: &CuratorFramework, path: &str) -> Result<DistributedBarrier> {
        path::validate_path(path, false)?;
        Ok(DistributedBarrier {
            client: client.clone(),
            path: path.to_string(),
        })
    }

    /// Raises the barrier: creates its node (and the parents, as containers) if missing.
    pub fn set_barrier(&self) -> Result<()> {
        match self
            .client
            .create()
            .creating_parent_containers_if_needed()
            .for_path(&self.path)
        {
            Ok(_) | Err(Error::NodeExists { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes the barrier: everyone waiting goes through. Removing a barrier that is not
    /// up is not an error.
    pub fn remove_barrier(&self) -> Result<()> {
        match self.client.delete().for_path(&self.path) {
            Ok(()) | Err(Error::NoNode { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Blocks until the barrier is removed (returns at once if it is not up). Connection
    /// losses are waited out; only a closed client or a non-connection error ends the wait
    /// early.
    pub fn wait_on_barrier(&self) -> Result<()> {
        self.wait(None).map(|_| ())
    }

    /// Like [`wait_on_barrier`](Self::wait_on_barrier), for at most `timeout`: true if the
    /// barrier was removed, false if it is still up.
    pub fn wait_on_barrier_timeout(&self, timeout: Duration) -> Result<bool> {
        self.wait(Some(timeout))
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<bool> {
        let deadline = deadline(timeout);
        let wake = Wake::new(&self.client);
        loop {
            let seen = wake.generation();
            let r = self
                .client
                .check_exists()
                .using_shared_watcher(&wake.watcher())
                .for_path(&self.path);
            let more = match r {
                Ok(None) => return Ok(true),
                Ok(Some(_)) => wake.wait_past(seen, deadline)?,
                // Disconnected for longer than the retry policy lasts: wait for the
                // connection to come back (or a while, then ask again).
                Err(e) if e.is_retryable() => {
                    log::debug!("barrier {}: {e}; waiting for the connection", self.path);
                    wake.backoff(seen, deadline)?
                }
                Err(e) => return Err(e),
            };
            if !more {
                return Ok(false);
            }
        }
    }

    /// The barrier's path.
    pub fn path(&self) -> &str {
        &self.path
    }
}
