//! The consuming side's traits and helpers: [`QueueConsumer`] (what a queue hands its items
//! to), [`ErrorMode`] (what a lock-safe queue does when the consumer fails),
//! [`QueuePutListener`] (told when a put reached the server) and [`BlockingQueueConsumer`]
//! (a consumer that buffers items for a thread that takes them).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::framework::{ConnectionState, CuratorFramework, Listenable, ListenerId};
use crate::session::WorkerPool;

/// What a consumer returns when it could not handle an item.
pub type ConsumeError = Box<dyn std::error::Error + Send + Sync>;

/// Receives a queue's items (Curator's `QueueConsumer<T>`).
///
/// A queue calls [`consume_message`](Self::consume_message) on its own consumer thread, one
/// item at a time, in the queue's order. Returning an error (or panicking) is a failure:
/// with a lock path ([`QueueBuilder::lock_path`](super::QueueBuilder::lock_path)) the item
/// is put back at the end of the queue ([`ErrorMode::Requeue`], the default) or dropped
/// ([`ErrorMode::Delete`]); without one the item was already removed and is lost.
///
/// [`state_changed`](Self::state_changed) hears the client's connection states while the
/// queue runs. (Curator's `QueueConsumer` extends `ConnectionStateListener` but its queues
/// never register it, CURATOR-336; here they do.)
///
/// Closures become consumers through [`consumer_fn`].
pub trait QueueConsumer<T>: Send + Sync + 'static {
    /// Handles one item.
    fn consume_message(&self, message: T) -> Result<(), ConsumeError>;

    /// The client's connection state changed (on the client's event thread: do not block).
    fn state_changed(&self, client: &CuratorFramework, new_state: ConnectionState) {
        let _ = (client, new_state);
    }
}

/// A consumer made of a closure.
///
/// ```
/// use zk_curator::recipes::queue::{consumer_fn, QueueConsumer};
/// let c = consumer_fn(|job: String| {
///     if job.is_empty() {
///         return Err("empty job".into());
///     }
///     Ok(())
/// });
/// assert!(c.consume_message("build".to_string()).is_ok());
/// assert!(c.consume_message(String::new()).is_err());
/// ```
pub fn consumer_fn<T, F>(f: F) -> FnConsumer<F>
where
    F: Fn(T) -> Result<(), ConsumeError> + Send + Sync + 'static,
{
    FnConsumer(f)
}

/// The consumer [`consumer_fn`] returns.
#[derive(Clone, Copy)]
pub struct FnConsumer<F>(F);

impl<T, F> QueueConsumer<T> for FnConsumer<F>
where
    F: Fn(T) -> Result<(), ConsumeError> + Send + Sync + 'static,
{
    fn consume_message(&self, message: T) -> Result<(), ConsumeError> {
        (self.0)(message)
    }
}

impl<F> std::fmt::Debug for FnConsumer<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnConsumer")
    }
}

/// What a queue with a lock path does when its consumer fails on an item (Curator's
/// `ErrorMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorMode {
    /// Put the item back at the end of the queue (one transaction: delete it, create it
    /// anew). The default.
    #[default]
    Requeue,
    /// Drop the item.
    Delete,
}

/// Told when a put has reached the server (Curator's `QueuePutListener<T>`).
pub trait QueuePutListener<T>: Send + Sync + 'static {
    /// `item`, put with `put`, is in the queue.
    fn put_completed(&self, item: &T);

    /// `items`, put with `put_multi`, are in the queue (as one node).
    fn put_multi_completed(&self, items: &[T]);
}

impl<T: Send + Sync + 'static> Listenable<dyn QueuePutListener<T>> {
    /// Adds a listener, called on the thread that completed the put (the client's event
    /// thread for background puts, the putting thread otherwise).
    pub fn add_listener(&self, l: impl QueuePutListener<T>) -> ListenerId {
        self.add_arc(Arc::new(l), None)
    }

    /// Adds a listener called on `pool`.
    pub fn add_listener_with_executor(
        &self,
        l: impl QueuePutListener<T>,
        pool: &WorkerPool,
    ) -> ListenerId {
        self.add_arc(Arc::new(l), Some(pool))
    }
}

/// A consumer that keeps the items it receives for other threads to
/// [`take`](Self::take) (Curator's `BlockingQueueConsumer`). Cheap to clone: clones share
/// one buffer, so keep a clone and give the queue another.
///
/// With a capacity, an item that finds the buffer full is refused (a consumer failure, so a
/// lock-safe queue puts it back and tries again later).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::recipes::queue::{BlockingQueueConsumer, QueueConsumer};
/// let c = BlockingQueueConsumer::new();
/// c.consume_message("a".to_string()).unwrap();
/// assert_eq!(c.take_timeout(Duration::from_secs(1)).as_deref(), Some("a"));
/// assert_eq!(c.take_timeout(Duration::from_millis(1)), None);
/// ```
pub struct BlockingQueueConsumer<T> {
    inner: Arc<Buffer<T>>,
}

struct Buffer<T> {
    items: Mutex<VecDeque<T>>,
    cv: Condvar,
    capacity: Option<usize>,
}

impl<T> Clone for BlockingQueueConsumer<T> {
    fn clone(&self) -> Self {
        BlockingQueueConsumer {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Default for BlockingQueueConsumer<T> {
    fn default() -> Self {
        Self::build(None)
    }
}

impl<T> BlockingQueueConsumer<T> {
    /// An unbounded buffer.
    pub fn new() -> Self {
        Self::build(None)
    }

    /// A buffer of at most `capacity` items.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::build(Some(capacity))
    }

    fn build(capacity: Option<usize>) -> Self {
        BlockingQueueConsumer {
            inner: Arc::new(Buffer {
                items: Mutex::new(VecDeque::new()),
                cv: Condvar::new(),
                capacity,
            }),
        }
    }

    /// Waits for the next item.
    pub fn take(&self) -> T {
        let mut items = self.inner.items.lock();
        loop {
            if let Some(t) = items.pop_front() {
                return t;
            }
            self.inner.cv.wait(&mut items);
        }
    }

    /// Waits up to `timeout` for the next item.
    pub fn take_timeout(&self, timeout: Duration) -> Option<T> {
        let deadline = Instant::now().checked_add(timeout);
        let mut items = self.inner.items.lock();
        loop {
            if let Some(t) = items.pop_front() {
                return Some(t);
            }
            match deadline {
                Some(d) => {
                    if self.inner.cv.wait_until(&mut items, d).timed_out() {
                        return items.pop_front();
                    }
                }
                None => self.inner.cv.wait(&mut items),
            }
        }
    }

    /// Items waiting to be taken.
    pub fn size(&self) -> usize {
        self.inner.items.lock().len()
    }

    /// Takes every waiting item, oldest first.
    pub fn drain(&self) -> Vec<T> {
        self.inner.items.lock().drain(..).collect()
    }
}

impl<T: Clone> BlockingQueueConsumer<T> {
    /// A copy of the waiting items, oldest first.
    pub fn items(&self) -> Vec<T> {
        self.inner.items.lock().iter().cloned().collect()
    }
}

impl<T: Send + 'static> QueueConsumer<T> for BlockingQueueConsumer<T> {
    fn consume_message(&self, message: T) -> Result<(), ConsumeError> {
        let mut items = self.inner.items.lock();
        if self.inner.capacity.is_some_and(|c| items.len() >= c) {
            return Err("the BlockingQueueConsumer is full".into());
        }
        items.push_back(message);
        drop(items);
        self.inner.cv.notify_one();
        Ok(())
    }
}

impl<T> std::fmt::Debug for BlockingQueueConsumer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingQueueConsumer")
            .field("waiting", &self.inner.items.lock().len())
            .field("capacity", &self.inner.capacity)
            .finish()
    }
}
