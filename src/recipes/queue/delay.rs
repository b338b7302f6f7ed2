//! [`DistributedDelayQueue`]: items consumed no earlier than a given time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::distributed::DistributedQueue;
use super::names::delay_decoration;
use crate::error::{Error, Result};

/// A queue whose items are each consumed no earlier than a time given with the put, earliest
/// first (Curator's `DistributedDelayQueue`; node names `queue-|<epoch ms in hex>|<SEQ>`, so
/// that Java and Rust producers and consumers share one queue).
///
/// The times are wall-clock times: a consumer compares them with its own clock, so clocks of
/// producers and consumers on different machines should agree. The consumer sleeps until the
/// first item is due (or the queue changes).
///
/// ```
/// use std::time::{Duration, Instant, SystemTime};
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::queue::{BlockingQueueConsumer, QueueBuilder, StringSerializer};
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let got = BlockingQueueConsumer::new();
/// let queue = QueueBuilder::builder(&client, got.clone(), StringSerializer, "/later")
///     .build_delay_queue()?;
/// queue.start()?;
/// let start = Instant::now();
/// queue.put("reminder".to_string(), SystemTime::now() + Duration::from_millis(300))?;
/// assert_eq!(got.take_timeout(Duration::from_secs(10)).as_deref(), Some("reminder"));
/// assert!(start.elapsed() >= Duration::from_millis(250));
/// queue.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Debug)]
pub struct DistributedDelayQueue<T: Send + Sync + 'static> {
    queue: DistributedQueue<T>,
}

/// `when` as epoch milliseconds; an error before the epoch's first millisecond (Curator
/// refuses a non-positive epoch).
fn epoch_ms(when: SystemTime) -> Result<i64> {
    let ms = when
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .filter(|ms| *ms > 0);
    ms.ok_or_else(|| Error::InvalidArgument(format!("delay time {when:?} is not after the epoch")))
}

impl<T: Send + Sync + 'static> DistributedDelayQueue<T> {
    pub(crate) fn new(queue: DistributedQueue<T>) -> Self {
        DistributedDelayQueue { queue }
    }

    /// Adds `item`, to be consumed no earlier than `delay_until` (see
    /// [`DistributedQueue::put`]).
    pub fn put(&self, item: T, delay_until: SystemTime) -> Result<()> {
        self.put_items(vec![item], false, delay_until, None)
            .map(|_| ())
    }

    /// [`put`](Self::put) waiting at most `max_wait` for room in a bounded queue.
    pub fn put_timeout(
        &self,
        item: T,
        delay_until: SystemTime,
        max_wait: Duration,
    ) -> Result<bool> {
        self.put_items(vec![item], false, delay_until, Some(max_wait))
    }

    /// Adds `items` as one node, due at `delay_until`.
    pub fn put_multi(&self, items: Vec<T>, delay_until: SystemTime) -> Result<()> {
        self.put_items(items, true, delay_until, None).map(|_| ())
    }

    /// [`put_multi`](Self::put_multi) waiting at most `max_wait` for room.
    pub fn put_multi_timeout(
        &self,
        items: Vec<T>,
        delay_until: SystemTime,
        max_wait: Duration,
    ) -> Result<bool> {
        self.put_items(items, true, delay_until, Some(max_wait))
    }

    fn put_items(
        &self,
        items: Vec<T>,
        multi: bool,
        delay_until: SystemTime,
        wait: Option<Duration>,
    ) -> Result<bool> {
        let d = delay_decoration(epoch_ms(delay_until)?);
        self.queue.core.put_items(items, multi, &d, wait)
    }
}

super::common_queue_methods!(DistributedDelayQueue);
