//! [`EnsureContainers`]: make sure a path and its parents exist as containers, once (Curator's
//! `EnsureContainers`), for recipes that create their nodes under a base path on every
//! operation and should not pay for the parents each time.

use parking_lot::{Condvar, Mutex};

use super::CuratorFramework;
use crate::error::Result;
use crate::path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The next `ensure()` creates the containers.
    Needed,
    /// A caller is creating them; others wait for its outcome.
    Running,
    /// Done (until `reset()`).
    Done,
}

/// Creates a path and its missing parents as containers the first time
/// [`ensure`](Self::ensure) succeeds; later calls return at once, until
/// [`reset`](Self::reset). Concurrent first calls make one attempt; the others wait for it
/// (and try themselves if it failed). Paths are in the client's namespace.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, EnsureContainers, RetryOneTime};
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let ensure = EnsureContainers::new(&client, "/app/queues/q1")?;
/// ensure.ensure()?; // creates /app, /app/queues and /app/queues/q1
/// ensure.ensure()?; // no request
/// assert!(client.check_exists().for_path("/app/queues/q1")?.is_some());
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct EnsureContainers {
    client: CuratorFramework,
    path: String,
    state: Mutex<State>,
    cv: Condvar,
}

impl EnsureContainers {
    /// For `path` (validated here: `Err(InvalidPath)` for a bad one).
    pub fn new(client: &CuratorFramework, path: &str) -> Result<EnsureContainers> {
        path::validate_path(path, false)?;
        Ok(EnsureContainers {
            client: client.clone(),
            path: path.to_string(),
            state: Mutex::new(State::Needed),
            cv: Condvar::new(),
        })
    }

    /// The first successful call creates the missing nodes of the path as containers
    /// (persistent nodes with `dont_use_container_parents`); later calls do nothing.
    pub fn ensure(&self) -> Result<()> {
        {
            let mut st = self.state.lock();
            loop {
                match *st {
                    State::Done => return Ok(()),
                    State::Running => self.cv.wait(&mut st),
                    State::Needed => break,
                }
            }
            *st = State::Running;
        }
        // No lock held during the requests: others wait on the condition variable. The
        // guard hands the job back (and wakes them) however this attempt ends.
        let mut running = Running {
            owner: self,
            done: false,
        };
        let r = self.client.create_containers(&self.path);
        running.done = r.is_ok();
        r
    }

    /// The next [`ensure`](Self::ensure) creates the containers again (after they may have
    /// been deleted: containers are reaped once their last child goes).
    pub fn reset(&self) {
        let mut st = self.state.lock();
        if *st == State::Done {
            *st = State::Needed;
        }
    }

    /// The path this ensures.
    pub fn path(&self) -> &str {
        &self.path
    }
}

/// Ends a running attempt: `Done` after a success, `Needed` otherwise (an error, or a
/// panic unwinding through `ensure`), waking the callers that wait for it.
struct Running<'a> {
    owner: &'a EnsureContainers,
    done: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut st = self.owner.state.lock();
        *st = if self.done {
            State::Done
        } else {
            State::Needed
        };
        self.owner.cv.notify_all();
    }
}

impl std::fmt::Debug for EnsureContainers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnsureContainers")
            .field("path", &self.path)
            .field("state", &*self.state.lock())
            .finish()
    }
}
