//! [`DistributedPriorityQueue`]: items consumed lowest priority value first.

use std::time::Duration;

use super::distributed::DistributedQueue;
use super::names::priority_decoration;
use crate::error::Result;

/// A queue ordered by an `i32` priority given with each put, **lowest value first**, ties in
/// put order (Curator's `DistributedPriorityQueue`; node names `queue-<sign><8 hex><SEQ>`,
/// e.g. priority 5 → `queue-1000000050000000000`, so a Java consumer orders them the same).
///
/// The consumer sorts each listing of the queue; after
/// [`build_priority_queue(min)`](super::QueueBuilder::build_priority_queue)'s `min` items it
/// checks for new arrivals before every further item, so that a higher-priority item put
/// meanwhile goes next.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::queue::{BlockingQueueConsumer, QueueBuilder, StringSerializer};
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// // Put first, consume afterwards, so that all three are in one listing.
/// let producer = QueueBuilder::producer(&client, StringSerializer, "/prio")
///     .put_in_background(false)
///     .build_priority_queue(0)?;
/// producer.start()?;
/// producer.put("low".to_string(), 10)?;
/// producer.put("urgent".to_string(), -5)?;
/// producer.put("normal".to_string(), 0)?;
/// let got = BlockingQueueConsumer::new();
/// let consumer = QueueBuilder::builder(&client, got.clone(), StringSerializer, "/prio")
///     .build_priority_queue(0)?;
/// consumer.start()?;
/// let t = Duration::from_secs(10);
/// let order: Vec<String> = (0..3).filter_map(|_| got.take_timeout(t)).collect();
/// assert_eq!(order, ["urgent", "normal", "low"]);
/// # consumer.close(); producer.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Debug)]
pub struct DistributedPriorityQueue<T: Send + Sync + 'static> {
    queue: DistributedQueue<T>,
}

impl<T: Send + Sync + 'static> DistributedPriorityQueue<T> {
    pub(crate) fn new(queue: DistributedQueue<T>) -> Self {
        DistributedPriorityQueue { queue }
    }

    /// Adds `item` with `priority` (see [`DistributedQueue::put`]).
    pub fn put(&self, item: T, priority: i32) -> Result<()> {
        self.put_items(vec![item], false, priority, None)
            .map(|_| ())
    }

    /// [`put`](Self::put) waiting at most `max_wait` for room in a bounded queue.
    pub fn put_timeout(&self, item: T, priority: i32, max_wait: Duration) -> Result<bool> {
        self.put_items(vec![item], false, priority, Some(max_wait))
    }

    /// Adds `items` as one node with `priority`.
    pub fn put_multi(&self, items: Vec<T>, priority: i32) -> Result<()> {
        self.put_items(items, true, priority, None).map(|_| ())
    }

    /// [`put_multi`](Self::put_multi) waiting at most `max_wait` for room.
    pub fn put_multi_timeout(
        &self,
        items: Vec<T>,
        priority: i32,
        max_wait: Duration,
    ) -> Result<bool> {
        self.put_items(items, true, priority, Some(max_wait))
    }

    fn put_items(
        &self,
        items: Vec<T>,
        multi: bool,
        priority: i32,
        wait: Option<Duration>,
    ) -> Result<bool> {
        let d = priority_decoration(priority);
        self.queue.core.put_items(items, multi, &d, wait)
    }
}

super::common_queue_methods!(DistributedPriorityQueue);
