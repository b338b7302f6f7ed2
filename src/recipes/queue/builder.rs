//! [`QueueBuilder`]: builds every queue kind (Curator's `QueueBuilder`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::consumer::QueueConsumer;
use super::distributed::{Config, DistributedQueue, QueueCore};
use super::names::Kind;
use super::serializer::QueueSerializer;
use super::{DistributedDelayQueue, DistributedIdQueue, DistributedPriorityQueue};
use crate::error::{Error, Result};
use crate::framework::CuratorFramework;
use crate::path;

/// Builds a queue: `builder(client, consumer, serializer, path)` (or
/// [`producer`](Self::producer) for a queue that only puts), options, then one of the
/// `build_*` methods.
///
/// | Curator | here |
/// |---|---|
/// | `QueueBuilder.builder(client, consumer, serializer, path)` | [`builder`](Self::builder) |
/// | `QueueBuilder.builder(client, null, serializer, path)` | [`producer`](Self::producer) |
/// | `lockPath(path)` | [`lock_path`](Self::lock_path) |
/// | `maxItems(n)` | [`max_items`](Self::max_items) |
/// | `putInBackground(b)` | [`put_in_background`](Self::put_in_background) |
/// | `finalFlushTime(t, unit)` | [`final_flush_time`](Self::final_flush_time) |
/// | `threadFactory(f)` | [`thread_name`](Self::thread_name) |
/// | `executor(e)` | none: the consumer runs on the queue's thread, in order |
/// | — | [`prefetch`](Self::prefetch): items taken ahead of the consumer (no lock path) |
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
/// let producer = QueueBuilder::producer(&client, StringSerializer, "/work")
///     .max_items(100)
///     .build_queue()?;
/// producer.start()?;
/// producer.put("task".to_string())?; // foreground: bounded queues put in the foreground
/// assert_eq!(client.get_children().for_path("/work")?.len(), 1);
/// producer.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[must_use = "a builder does nothing until one of the build_* methods"]
pub struct QueueBuilder<T> {
    client: CuratorFramework,
    consumer: Option<Arc<dyn QueueConsumer<T>>>,
    serializer: Arc<dyn QueueSerializer<T>>,
    path: String,
    lock_path: Option<String>,
    max_items: Option<usize>,
    put_in_background: bool,
    final_flush: Duration,
    thread_name: Option<String>,
    prefetch: usize,
}

impl<T: Send + Sync + 'static> QueueBuilder<T> {
    /// A queue at `path` whose items go to `consumer`.
    pub fn builder(
        client: &CuratorFramework,
        consumer: impl QueueConsumer<T>,
        serializer: impl QueueSerializer<T>,
        path: &str,
    ) -> QueueBuilder<T> {
        let mut b = Self::producer(client, serializer, path);
        b.consumer = Some(Arc::new(consumer));
        b
    }

    /// A queue at `path` that only puts (Curator's null consumer).
    pub fn producer(
        client: &CuratorFramework,
        serializer: impl QueueSerializer<T>,
        path: &str,
    ) -> QueueBuilder<T> {
        QueueBuilder {
            client: client.clone(),
            consumer: None,
            serializer: Arc::new(serializer),
            path: path.to_string(),
            lock_path: None,
            max_items: None,
            put_in_background: true,
            final_flush: Duration::from_secs(5),
            thread_name: None,
            prefetch: super::distributed::consume::DEFAULT_PREFETCH,
        }
    }

    /// Lock-safe consuming: an item's lock lives at `lock_path/<item>` while its consumer
    /// runs, and the item is deleted only after the consumer returned (see
    /// [`DistributedQueue`]). Every consumer of a queue must use the same lock path.
    pub fn lock_path(mut self, lock_path: &str) -> Self {
        self.lock_path = Some(lock_path.to_string());
        self
    }

    /// Puts wait while the queue holds `max_items` nodes (a `put_multi` counts as one). As
    /// in Curator this also makes puts foreground; unlike Curator's the bound holds for all
    /// puts made through this queue object, also against fast servers (see the [module
    /// docs](super)).
    pub fn max_items(mut self, max_items: usize) -> Self {
        self.max_items = Some(max_items);
        self.put_in_background = false;
        self
    }

    /// Whether puts return before the server answered (default true, false after
    /// [`max_items`](Self::max_items)).
    pub fn put_in_background(mut self, yes: bool) -> Self {
        self.put_in_background = yes;
        self
    }

    /// How long `close()` waits for background puts (default 5 s).
    pub fn final_flush_time(mut self, t: Duration) -> Self {
        self.final_flush = t;
        self
    }

    /// The name of the consumer thread (default `zk-queue-<n>`).
    pub fn thread_name(mut self, name: &str) -> Self {
        self.thread_name = Some(name.to_string());
        self
    }

    /// Without a lock path: how many items the consumer thread reads and deletes ahead of the
    /// consumer, pipelined. The default, 1, takes one item at a time as Curator does (read,
    /// delete, consume, next: two round trips per item), so a crash of the process, or a
    /// connection dropped while a delete is on the wire, costs at most one item.
    ///
    /// More is an explicit trade: with `n` the consumer no longer waits for the round trips
    /// of each item (with 16, a backlog drained about 2.5x faster in the benchmark's
    /// `queue-throughput`, see docs/performance.md), and a crash or a dropped connection
    /// can cost up to `n` items of this at-most-once queue (items already deleted when the
    /// queue closes are still handed over). Values below 1 count as 1. Ignored with a lock
    /// path, where items are taken one at a time and none is lost (see the
    /// [module docs](super)).
    pub fn prefetch(mut self, items: usize) -> Self {
        self.prefetch = items.max(1);
        self
    }

    /// A FIFO queue ([`DistributedQueue`]).
    pub fn build_queue(self) -> Result<DistributedQueue<T>> {
        self.build(Kind::Plain, usize::MAX, false)
            .map(|core| DistributedQueue { core })
    }

    /// A queue whose items carry an id, so that they can be removed by id
    /// ([`DistributedIdQueue`]). The queue path must not contain `|`.
    pub fn build_id_queue(self) -> Result<DistributedIdQueue<T>> {
        if self.path.contains('|') {
            return Err(Error::InvalidArgument(format!(
                "an id queue's path cannot contain '|': {}",
                self.path
            )));
        }
        self.build(Kind::Id, usize::MAX, false)
            .map(|core| DistributedIdQueue::new(DistributedQueue { core }))
    }

    /// A queue ordered by priority, lowest value first ([`DistributedPriorityQueue`]).
    /// After taking `min_items_before_refresh` items from one listing, the consumer looks
    /// for new arrivals before each further item (0: before every item).
    pub fn build_priority_queue(
        self,
        min_items_before_refresh: usize,
    ) -> Result<DistributedPriorityQueue<T>> {
        self.build(Kind::Priority, min_items_before_refresh, true)
            .map(|core| DistributedPriorityQueue::new(DistributedQueue { core }))
    }

    /// A queue whose items are consumed no earlier than a time given with each put
    /// ([`DistributedDelayQueue`]).
    pub fn build_delay_queue(self) -> Result<DistributedDelayQueue<T>> {
        self.build(Kind::Delay, usize::MAX, true)
            .map(|core| DistributedDelayQueue::new(DistributedQueue { core }))
    }

    fn build(self, kind: Kind, min: usize, refresh: bool) -> Result<Arc<QueueCore<T>>> {
        path::validate_path(&self.path, false)?;
        if let Some(l) = &self.lock_path {
            path::validate_path(l, false)?;
        }
        if self.max_items == Some(0) {
            return Err(Error::InvalidArgument("max_items must be positive".into()));
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let thread_name = self
            .thread_name
            .unwrap_or_else(|| format!("zk-queue-{}", N.fetch_add(1, Ordering::Relaxed)));
        Ok(QueueCore::new(Config {
            client: self.client,
            path: self.path,
            lock_path: self.lock_path,
            kind,
            serializer: self.serializer,
            consumer: self.consumer,
            min_items_before_refresh: min,
            refresh_on_watch: refresh,
            max_items: self.max_items,
            put_in_background: self.put_in_background,
            final_flush: self.final_flush,
            thread_name,
            prefetch: self.prefetch,
        }))
    }
}

impl<T> std::fmt::Debug for QueueBuilder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueBuilder")
            .field("path", &self.path)
            .field("lock_path", &self.lock_path)
            .field("consumer", &self.consumer.is_some())
            .field("max_items", &self.max_items)
            .field("put_in_background", &self.put_in_background)
            .finish()
    }
}
