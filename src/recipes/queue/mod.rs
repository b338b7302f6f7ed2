//! Distributed queues with Java Curator's node layout (Curator's `recipes.queue` package):
//! Rust and Java processes produce into and consume from the same queues.
//!
//! | type | order | node names under the queue path |
//! |---|---|---|
//! | [`DistributedQueue`] | put order | `queue-<SEQ>` |
//! | [`DistributedPriorityQueue`] | lowest priority value first | `queue-<sign><8 hex digits><SEQ>` |
//! | [`DistributedDelayQueue`] | due time, not before it | `queue-\|<epoch ms, hex>\|<SEQ>` |
//! | [`DistributedIdQueue`] | put order; removable by id | `queue-\|<id>\|<SEQ>` |
//! | [`SimpleDistributedQueue`] | put order; `offer`/`take`/`poll` | `qn-<SEQ>`, raw bytes |
//! | [`QueueSharder`] | one logical queue over shards | `queue-<UUID>/…`, each shard a queue |
//!
//! The first four are built with [`QueueBuilder`], hold Curator's item envelope (one or more
//! items serialized by a [`QueueSerializer`]) and hand items to a [`QueueConsumer`] on a
//! thread of their own, one at a time, in the queue's order.
//!
//! # Guarantees
//!
//! * **Without a lock path: at most once.** An item is deleted (with the version read, so
//!   that exactly one consumer wins it) before it is handed over. A consumer that fails
//!   loses it; a process that dies, or a connection that drops, can lose the item being
//!   taken, as in Curator (or up to `n` items taken ahead of the consumer with
//!   [`QueueBuilder::prefetch`]`(n)`).
//! * **With a lock path ([`QueueBuilder::lock_path`]): exactly once**, through connection
//!   drops and session expiry, for consumers that return within the session timeout: an
//!   item is locked by an ephemeral `L/<item>` node, handed over, and deleted only after the
//!   consumer returned. A failing (or panicking) consumer puts it back at the end of the
//!   queue ([`ErrorMode::Requeue`], only the items of a multi-item node not yet consumed) or
//!   drops it ([`ErrorMode::Delete`]); a consumer whose process dies leaves the item to the
//!   others once its session ends; an item locked by another consumer is looked at again as
//!   soon as that lock goes away. See `distributed/consume.rs` for the one remaining window
//!   (a consumer slower than the session timeout), which Curator shares (CURATOR-605).
//! * **Puts**: a put whose reply was lost with the connection first looks for the node it
//!   may have made before trying again, so a retry does not put a still-queued item twice
//!   (Curator's does). If a consumer already took the first copy, the retry cannot tell and
//!   puts it again: ZooKeeper offers no way to make a sequential create idempotent without
//!   changing the node name, which Java peers read.
//! * **`max_items`** bounds the queue for every put made through the queue object, also
//!   against a server much faster than the consumers' watches (Curator's bound overshoots
//!   there); see [`QueueBuilder::max_items`].
//! * **Bad input** gets an [`Error`](crate::Error), never a panic: an invalid path at build
//!   time, an item too large for one request (`InvalidArgument`, before anything is sent),
//!   a serializer error at put time; a node holding something that is not an item envelope
//!   (written by a third party) is reported to the client's unhandled-error listeners and
//!   removed, so that it never blocks the queue.
//! * **Nothing is left behind** by `close()`: no watch, no listener, no lock node, no thread
//!   (the items, and the queue node, stay: that is the queue).
//!
//! # Differences from Curator
//!
//! Curator's `QueueConsumer` extends `ConnectionStateListener` but the queues never call it
//! (CURATOR-336); here [`QueueConsumer::state_changed`] hears the client's states. A
//! requeued item keeps its priority, delay or id (Curator requeues as a plain `queue-` item
//! except in the id queue). Without a lock path, items are taken one at a time as in Curator
//! unless [`QueueBuilder::prefetch`]`(n)` opts in to reading and deleting up to `n` ahead of
//! the consumer (pipelined: faster, and what a crash or a dropped connection can then cost);
//! items already taken are handed over even while the queue closes. The consumer always runs
//! on the queue's own thread (Curator's `executor` option is not offered: it would give up
//! the order).
//!
//! Layering, bottom up (a module uses only those before it; `.ci/import_loops.py` checks):
//! children, consumer, names, put, serializer, simple; bound; distributed (the core every
//! kind shares, with the consumer thread's body, `consume`, as its child); delay, id_queue,
//! priority; builder, sharder.

mod bound;
mod builder;
mod children;
mod consumer;
mod delay;
mod distributed;
mod id_queue;
mod names;
mod priority;
mod put;
mod serializer;
mod sharder;
mod simple;

pub use builder::QueueBuilder;
pub use consumer::{
    consumer_fn, BlockingQueueConsumer, ConsumeError, ErrorMode, FnConsumer, QueueConsumer,
    QueuePutListener,
};
pub use delay::DistributedDelayQueue;
pub use distributed::DistributedQueue;
pub use id_queue::DistributedIdQueue;
pub use priority::DistributedPriorityQueue;
pub use serializer::{
    serializer_fn, BytesSerializer, FnSerializer, QueueSerializer, StringSerializer,
};
pub use sharder::{QueueBase, QueueSharder, QueueSharderBuilder, QueueSharderPolicies};
pub use simple::SimpleDistributedQueue;

/// The methods every queue kind shares with [`DistributedQueue`], for the kinds that wrap
/// one in a field `queue`.
macro_rules! common_queue_methods {
    ($ty:ident) => {
        impl<T: Send + Sync + 'static> $ty<T> {
            /// Creates the queue node (and the lock node) if missing and starts consuming
            /// if the queue has a consumer (see [`DistributedQueue::start`]).
            pub fn start(&self) -> $crate::error::Result<()> {
                self.queue.start()
            }

            /// Stops (see [`DistributedQueue::close`]); also run on drop.
            pub fn close(&self) {
                self.queue.close()
            }

            /// Waits until every background put has reached the server; false after
            /// `wait`.
            pub fn flush_puts(&self, wait: std::time::Duration) -> bool {
                self.queue.flush_puts(wait)
            }

            /// Listeners told when a put reached the server.
            pub fn put_listenable(
                &self,
            ) -> &$crate::framework::Listenable<dyn $crate::recipes::queue::QueuePutListener<T>>
            {
                self.queue.put_listenable()
            }

            /// What the consumer's failures do (needs a lock path).
            pub fn set_error_mode(
                &self,
                mode: $crate::recipes::queue::ErrorMode,
            ) -> $crate::error::Result<()> {
                self.queue.set_error_mode(mode)
            }

            /// The number of children seen last; for information only.
            pub fn last_message_count(&self) -> usize {
                self.queue.last_message_count()
            }

            /// The queue's path.
            pub fn path(&self) -> &str {
                self.queue.path()
            }
        }
    };
}
pub(crate) use common_queue_methods;
