//! [`PersistentTtlNode`]: Curator 5.4's layout: the node itself is a **container** (kept by a
//! [`PersistentNode`]), and its child `touch` is a `PERSISTENT_WITH_TTL` node whose data is
//! set every `ttl / factor`. While the process runs, the child is fresh and the container has
//! a child; once it stops, the child's TTL runs out, the server removes it, then the empty
//! container. Needs a server with TTL nodes enabled (`extendedTypesEnabled=true`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::PersistentNode;
use crate::error::{Error, Result};
use crate::framework::CuratorFramework;
use crate::path;
use crate::proto::CreateMode;

/// Curator's default name of the touched child.
const DEFAULT_CHILD: &str = "touch";
/// Curator's default: touch twice per TTL.
const DEFAULT_FACTOR: u32 = 2;

/// A node that outlives its process by a TTL (Curator's `PersistentTtlNode`).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::nodes::PersistentTtlNode;
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let node = PersistentTtlNode::new(&client, "/workers/w1", Duration::from_secs(30), b"busy")?;
/// node.start()?;
/// assert!(node.wait_for_initial_create(Duration::from_secs(10))?);
/// // close() stops touching; the server removes the nodes 30 s later.
/// node.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct PersistentTtlNode {
    node: PersistentNode,
    toucher: Arc<Toucher>,
}

struct Toucher {
    client: CuratorFramework,
    child: String,
    ttl: Duration,
    every: Duration,
    /// The child, handle-level (set by start).
    full: Mutex<Option<String>>,
    closed: AtomicBool,
    job: Mutex<Option<u64>>,
}

impl PersistentTtlNode {
    /// A node at `path` with `init_data`, its `touch` child touched every `ttl / 2`.
    pub fn new(
        client: &CuratorFramework,
        path: &str,
        ttl: Duration,
        init_data: &[u8],
    ) -> Result<PersistentTtlNode> {
        PersistentTtlNode::with_options(
            client,
            path,
            ttl,
            init_data,
            DEFAULT_CHILD,
            DEFAULT_FACTOR,
            true,
        )
    }

    /// All of Curator's options: the child's name, how many touches per TTL, and whether
    /// missing parents are created (as containers).
    pub fn with_options(
        client: &CuratorFramework,
        path: &str,
        ttl: Duration,
        init_data: &[u8],
        child_node_name: &str,
        touch_schedule_factor: u32,
        use_parent_creation: bool,
    ) -> Result<PersistentTtlNode> {
        if ttl < Duration::from_millis(1) || touch_schedule_factor == 0 {
            return Err(Error::InvalidArgument(format!(
                "a TTL of {ttl:?} touched {touch_schedule_factor} times per TTL"
            )));
        }
        let child = path::make_path(path, child_node_name);
        path::validate_path(&child, false)?;
        let node = PersistentNode::builder(client, path)
            .mode(CreateMode::Container)
            .data(init_data)
            .use_parent_creation(use_parent_creation)
            .keep_on_close()
            .build()?;
        Ok(PersistentTtlNode {
            node,
            toucher: Arc::new(Toucher {
                client: client.clone(),
                child,
                ttl,
                every: (ttl / touch_schedule_factor).max(Duration::from_millis(1)),
                full: Mutex::new(None),
                closed: AtomicBool::new(false),
                job: Mutex::new(None),
            }),
        })
    }

    /// Starts keeping the container and touching its child (the first touch after
    /// `ttl / factor`, as in Curator).
    pub fn start(&self) -> Result<()> {
        let t = &self.toucher;
        *t.full.lock() = Some(t.client.fix_path(&t.child, false)?);
        self.node.start()?;
        t.schedule();
        Ok(())
    }

    /// Waits until the container has been created once.
    pub fn wait_for_initial_create(&self, timeout: Duration) -> Result<bool> {
        self.node.wait_for_initial_create(timeout)
    }

    /// Changes the container's data.
    pub fn set_data(&self, data: &[u8]) -> Result<()> {
        self.node.set_data(data)
    }

    /// The container's data.
    pub fn data(&self) -> Vec<u8> {
        self.node.data()
    }

    /// The container's path once created.
    pub fn actual_path(&self) -> Option<String> {
        self.node.actual_path()
    }

    /// Stops touching. The nodes are not deleted: the server removes them once the TTL has
    /// passed (unless another process keeps touching them).
    pub fn close(&self) {
        let t = &self.toucher;
        t.closed.store(true, Ordering::Release);
        if let Some(id) = t.job.lock().take() {
            t.client.inner.scheduler.cancel(id);
        }
        self.node.close();
    }
}

impl Drop for PersistentTtlNode {
    fn drop(&mut self) {
        self.close();
    }
}

impl std::fmt::Debug for PersistentTtlNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistentTtlNode")
            .field("node", &self.node)
            .field("ttl", &self.toucher.ttl)
            .finish()
    }
}

impl Toucher {
    fn schedule(self: &Arc<Self>) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let weak = Arc::downgrade(self);
        let id = self.client.inner.scheduler.schedule(self.every, move || {
            if let Some(t) = weak.upgrade() {
                t.touch();
                t.schedule();
            }
        });
        *self.job.lock() = Some(id);
    }

    /// One touch, on the timer thread: directly on the handle and only while connected (a
    /// missed touch is made up by the next one; the TTL allows `factor - 1` misses).
    fn touch(&self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let Some(full) = self.full.lock().clone() else {
            return;
        };
        let Ok(zk) = self.client.inner.handle() else {
            return;
        };
        if !zk.state().is_connected() {
            return;
        }
        let data = self.client.default_data();
        let r = match zk.set_data(&full, data, -1) {
            Err(Error::NoNode { .. }) => {
                let acl = self.client.acl_for(&full);
                match zk.create_ttl(&full, data, &acl, CreateMode::PersistentWithTtl, self.ttl) {
                    Err(Error::NodeExists { .. }) => zk.set_data(&full, data, -1).map(|_| ()),
                    // The container is not there yet: the next touch makes the child.
                    Err(Error::NoNode { .. }) => Ok(()),
                    r => r.map(|_| ()),
                }
            }
            r => r.map(|_| ()),
        };
        if let Err(e) = r {
            log::debug!("PersistentTtlNode: touching {full}: {e}");
        }
    }
}
