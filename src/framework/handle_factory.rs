//! [`ZookeeperFactory`] (Curator's `ZookeeperFactory`): how a client makes the
//! [`ZooKeeper`] handle of each session. The client prepares a [`ZooKeeperBuilder`] with
//! everything it needs (the connect string of its ensemble provider, timeouts, auth, its
//! event thread and its watcher); a factory may change options on it (buffer size, extra
//! authentication, ...) and observe the handles made, then starts it.

use crate::client::{ZooKeeper, ZooKeeperBuilder};
use crate::error::Result;

/// Makes the [`ZooKeeper`] handle of each of a client's sessions (Curator's
/// `ZookeeperFactory`), given on the builder with
/// [`zookeeper_factory`](super::CuratorFrameworkBuilder::zookeeper_factory). Implemented for
/// closures `Fn(ZooKeeperBuilder) -> Result<ZooKeeper>`.
///
/// The handle must come from the builder given (adjusted as needed, then
/// [`start`](ZooKeeperBuilder::start)ed): the client checks that it delivers on the
/// client's event thread to the client's watcher, and refuses any other handle with an
/// `InvalidArgument`. Replacing the default watcher or the event dispatcher on the builder
/// is therefore not possible.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use zk_curator::framework::CuratorFrameworkFactory;
/// use zk_curator::{RetryOneTime, ZooKeeperBuilder};
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// let made = Arc::new(AtomicUsize::new(0));
/// let count = made.clone();
/// let client = CuratorFrameworkFactory::builder()
///     .connect_string(&server.connect_string())
///     .retry_policy(RetryOneTime::new(Duration::from_millis(10)))
///     .zookeeper_factory(move |b: ZooKeeperBuilder| {
///         count.fetch_add(1, Ordering::SeqCst);
///         b.max_buffer_size(4 << 20).start()
///     })
///     .build()?;
/// client.start()?;
/// assert_eq!(made.load(Ordering::SeqCst), 1);
/// # client.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub trait ZookeeperFactory: Send + Sync + 'static {
    /// Starts a handle from `builder` (possibly adjusted).
    fn new_zookeeper(&self, builder: ZooKeeperBuilder) -> Result<ZooKeeper>;
}

impl<F> ZookeeperFactory for F
where
    F: Fn(ZooKeeperBuilder) -> Result<ZooKeeper> + Send + Sync + 'static,
{
    fn new_zookeeper(&self, builder: ZooKeeperBuilder) -> Result<ZooKeeper> {
        self(builder)
    }
}

/// Starts the builder as it is (Curator's `DefaultZookeeperFactory`, the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultZookeeperFactory;

impl ZookeeperFactory for DefaultZookeeperFactory {
    fn new_zookeeper(&self, builder: ZooKeeperBuilder) -> Result<ZooKeeper> {
        builder.start()
    }
}
