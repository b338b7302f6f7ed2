//! [`DistributedIdQueue`]: a FIFO queue whose items carry an id, for removal by id.

use std::time::Duration;

use super::distributed::DistributedQueue;
use super::names::{id_decoration, parse_id};
use crate::error::{Error, Result};

/// A FIFO queue whose items each carry an id, so that queued items can be removed by id
/// before a consumer takes them (Curator's `DistributedIdQueue`; node names
/// `queue-|<id>|<SEQ>`, with `/` and `|` in the id replaced by `_`).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::queue::{QueueBuilder, StringSerializer};
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let queue = QueueBuilder::producer(&client, StringSerializer, "/orders")
///     .put_in_background(false)
///     .build_id_queue()?;
/// queue.start()?;
/// queue.put("ship 3 boxes".to_string(), "order-17")?;
/// queue.put("ship 1 box".to_string(), "order-18")?;
/// assert_eq!(queue.remove("order-17")?, 1);
/// assert_eq!(client.get_children().for_path("/orders")?.len(), 1);
/// queue.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Debug)]
pub struct DistributedIdQueue<T: Send + Sync + 'static> {
    queue: DistributedQueue<T>,
}

impl<T: Send + Sync + 'static> DistributedIdQueue<T> {
    pub(crate) fn new(queue: DistributedQueue<T>) -> Self {
        DistributedIdQueue { queue }
    }

    /// Adds `item` under `id` (not empty; see [`DistributedQueue::put`]).
    pub fn put(&self, item: T, id: &str) -> Result<()> {
        self.put_inner(item, id, None).map(|_| ())
    }

    /// [`put`](Self::put) waiting at most `max_wait` for room in a bounded queue.
    pub fn put_timeout(&self, item: T, id: &str, max_wait: Duration) -> Result<bool> {
        self.put_inner(item, id, Some(max_wait))
    }

    fn put_inner(&self, item: T, id: &str, wait: Option<Duration>) -> Result<bool> {
        if id.is_empty() {
            return Err(Error::InvalidArgument("an item id cannot be empty".into()));
        }
        self.queue
            .core
            .put_items(vec![item], false, &id_decoration(id), wait)
    }

    /// Removes every queued item put under `id` (as the id was written: `/` and `|` read as
    /// `_`) that no consumer has taken; returns how many this call removed. With a lock
    /// path, an item a consumer holds is left alone.
    pub fn remove(&self, id: &str) -> Result<usize> {
        let wanted = id_decoration(id);
        let wanted = &wanted[1..wanted.len() - 1];
        let core = &self.queue.core;
        if !core.is_started() {
            return Err(Error::InvalidArgument("the queue is not started".into()));
        }
        let mut n = 0;
        for name in core.children()? {
            if parse_id(&name).is_some_and(|(i, _)| i == wanted) && core.try_remove(&name)? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// True if an item with `id` is queued.
    pub fn is_queued(&self, id: &str) -> Result<bool> {
        let wanted = id_decoration(id);
        let wanted = &wanted[1..wanted.len() - 1];
        Ok(self
            .queue
            .core
            .children()?
            .iter()
            .any(|n| parse_id(n).is_some_and(|(i, _)| i == wanted)))
    }
}

super::common_queue_methods!(DistributedIdQueue);
