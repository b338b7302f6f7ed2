//! Revocation (Curator's `Revoker`, `RevocationListener`, `RevocationSpec`): another process
//! asks the holder of a lock node to let go by writing `__REVOKE__` into it; a holder that
//! made its lock revocable watches its node and is told. Revocation is cooperative: the
//! holder decides what to do.

use std::sync::{Arc, Weak};

use crate::error::{Error, Result};
use crate::framework::CuratorFramework;
use crate::proto::EventType;
use crate::session::{SharedWatcher, WatchedEvent, Watcher, WorkerPool};

/// The data of a revocation request (ASCII, as Curator writes it).
pub(crate) const REVOKE_MESSAGE: &[u8] = b"__REVOKE__";

/// Asks the holder of a lock node to release it (Curator's `Revoker`).
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::locks::{InterProcessMutex, Revoker};
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let lock = InterProcessMutex::new(&client, "/locks/job")?;
/// let (tx, rx) = mpsc::channel();
/// lock.make_revocable(move |_l: &InterProcessMutex| {
///     let _ = tx.send(()); // tell the holding thread to finish up and release
/// });
/// lock.acquire()?;
/// let node = lock.participant_nodes()?.remove(0);
/// Revoker::attempt_revoke(&client, &node)?; // from any process
/// rx.recv_timeout(Duration::from_secs(10)).expect("asked to let go");
/// lock.release()?;
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Revoker;

impl Revoker {
    /// Writes the revocation request into the lock node at `path` (a path from
    /// `participant_nodes()`). A node that is already gone is fine.
    pub fn attempt_revoke(client: &CuratorFramework, path: &str) -> Result<()> {
        match client.set_data().for_path(path, REVOKE_MESSAGE) {
            Ok(_) | Err(Error::NoNode { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Hears that someone asked for a lock to be released (Curator's `RevocationListener`).
/// Implemented for every `Fn(&T) + Send + Sync + 'static`.
///
/// It runs on the client's safe thread (or the pool given to `make_revocable_with_executor`),
/// not on the thread that holds the lock: a re-entrant lock can only be released by its
/// holding thread, so tell that thread.
pub trait RevocationListener<T>: Send + Sync + 'static {
    /// A revocation was requested for `lock`.
    fn revocation_requested(&self, lock: &T);
}

impl<T, F: Fn(&T) + Send + Sync + 'static> RevocationListener<T> for F {
    fn revocation_requested(&self, lock: &T) {
        self(lock)
    }
}

/// The watcher a revocable lock leaves on its own node: on a data change it reads the node
/// again (re-arming itself) off the event thread, and calls `fire` when the data is the
/// revocation request.
pub(crate) struct RevocationWatch {
    client: CuratorFramework,
    fire: Arc<dyn Fn() + Send + Sync>,
    pool: Option<WorkerPool>,
    me: Weak<RevocationWatch>,
}

impl RevocationWatch {
    pub(crate) fn watcher(
        client: &CuratorFramework,
        fire: Arc<dyn Fn() + Send + Sync>,
        pool: Option<WorkerPool>,
    ) -> SharedWatcher {
        let w = Arc::new_cyclic(|me| RevocationWatch {
            client: client.clone(),
            fire,
            pool,
            me: me.clone(),
        });
        SharedWatcher(w)
    }

    fn check(&self, full: String) {
        let Some(me) = self.me.upgrade() else { return };
        let shared = SharedWatcher(me);
        // Reading the node blocks: never on the event thread.
        let client = self.client.clone();
        let fire = self.fire.clone();
        let pool = self.pool.clone();
        let job = move || {
            let Ok(zk) = client.zookeeper_client().zookeeper() else {
                return;
            };
            match zk.get_data_w_shared(&full, &shared) {
                Ok((data, _)) if data == REVOKE_MESSAGE => match pool {
                    Some(p) => p.execute(&full, move || fire()),
                    None => fire(),
                },
                Ok(_) | Err(Error::NoNode { .. }) | Err(Error::Closed) => {}
                Err(e) => client.report_unhandled("reading a lock node for revocation", &e),
            }
        };
        if self.client.run_safe(job).is_err() {
            log::debug!("client closed: revocation check dropped");
        }
    }
}

impl Watcher for RevocationWatch {
    fn process(&self, event: &WatchedEvent) {
        if event.event_type() == EventType::NodeDataChanged {
            if let Some(p) = event.path() {
                self.check(p.to_string());
            }
        }
    }
}
