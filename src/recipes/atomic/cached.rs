//! [`CachedAtomicLong`] and [`CachedAtomicInteger`] (Curator's `CachedAtomicLong` /
//! `CachedAtomicInteger`): ids handed out locally from blocks reserved on a distributed
//! counter, one `add(cache_factor)` per block instead of one write per id.
//!
//! Curator's classes are not thread-safe (a plain field holds the current block). Here
//! `next()` takes `&self` and the type is `Sync`: the reserved blocks sit in a short-lived
//! mutex, and the `add` that reserves a block runs outside it, so threads sharing one
//! instance never wait on each other's round trips. Two threads that find the cache empty at
//! the same moment each reserve a block; both blocks are handed out, the second after the
//! first.

use std::collections::VecDeque;

use parking_lot::Mutex;

use super::{AtomicStats, AtomicValue, DistributedAtomicInteger, DistributedAtomicLong};
use crate::error::{Error, Result};

macro_rules! cached_atomic {
    ($(#[$doc:meta])* $name:ident, $number:ident, $t:ty) => {
        $(#[$doc])*
        ///
        /// # What `next()` guarantees
        ///
        /// Each value is handed out once, across every instance and process sharing the
        /// counter, Java's `CachedAtomicLong` included: a block is the counter's range
        /// `[pre, pre + cache_factor)` of one successful `add`, and the atomic's exact
        /// writes never report an `add` that did not happen nor apply one twice, also
        /// through dropped connections. Values can be skipped, never repeated: the unused
        /// rest of a block is lost when the instance is dropped (as in Curator), and an
        /// `add` whose outcome stayed unknown (the call returned `Err`) may have reserved a
        /// block nobody hands out. So the ids are unique and increase within a block, but
        /// are neither dense nor ordered across instances.
        pub struct $name {
            number: $number,
            cache_factor: $t,
            /// Reserved values not handed out yet: (next value, how many are left), oldest
            /// block first.
            blocks: Mutex<VecDeque<($t, $t)>>,
        }

        impl $name {
            /// Hands out the values of `number` in blocks of `cache_factor` (at least 1),
            /// reserving each block with one `add(cache_factor)` (Curator's
            #[doc = concat!("`", stringify!($name), "(number, cacheFactor)`).")]
            pub fn new(number: $number, cache_factor: u32) -> Result<$name> {
                let factor = <$t>::try_from(cache_factor).ok().filter(|f| *f >= 1).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        concat!(
                            "a ",
                            stringify!($name),
                            " needs a cache factor of 1 ..= {}, not {}"
                        ),
                        <$t>::MAX,
                        cache_factor
                    ))
                })?;
                Ok($name {
                    number,
                    cache_factor: factor,
                    blocks: Mutex::new(VecDeque::new()),
                })
            }

            /// The next value: `pre_value()` is the value handed out and `post_value()` is
            /// one more, as in Curator. Served from the reserved block when one has values
            /// left (no round trip; empty [`stats`](AtomicValue::stats)); otherwise this call
            /// reserves a new block first, and the result carries that `add`'s statistics.
            ///
            /// When the number's retry policy gives up under contention, nothing was
            /// reserved: the result has `succeeded() == false` and the counter's value as
            /// last read as both `pre_value()` and `post_value()` (Curator reports 0 and 0);
            /// call again. `Err` for a failure of the connection or the node (as the
            /// number's `add`); the cache is left as it was.
            pub fn next(&self) -> Result<AtomicValue<$t>> {
                if let Some(v) = self.take() {
                    return Ok(handed(v, AtomicStats::default()));
                }
                // No lock held across the round trip (a block reserved meanwhile by another
                // thread stays queued for later calls).
                let r = self.number.add(self.cache_factor)?;
                if !r.succeeded() {
                    return Ok(r);
                }
                let first = *r.pre_value();
                if self.cache_factor > 1 {
                    self.blocks
                        .lock()
                        .push_back((first.wrapping_add(1), self.cache_factor - 1));
                }
                Ok(handed(first, *r.stats()))
            }

            /// One reserved value, if any is left.
            fn take(&self) -> Option<$t> {
                let mut blocks = self.blocks.lock();
                let (next, left) = blocks.front_mut()?;
                let v = *next;
                *next = next.wrapping_add(1);
                *left -= 1;
                if *left == 0 {
                    blocks.pop_front();
                }
                Some(v)
            }

            /// How many values are reserved and not handed out yet (what [`next`](Self::next)
            /// serves without a round trip, and what dropping this instance skips).
            pub fn available(&self) -> u64 {
                self.blocks
                    .lock()
                    .iter()
                    .map(|(_, left)| u64::try_from(*left).unwrap_or(0))
                    .sum()
            }

            /// The values reserved per `add`.
            pub fn cache_factor(&self) -> u32 {
                u32::try_from(self.cache_factor).unwrap_or(0)
            }

            /// The distributed number the blocks are reserved on.
            pub fn number(&self) -> &$number {
                &self.number
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("path", &self.number.path())
                    .field("cache_factor", &self.cache_factor)
                    .field("available", &self.available())
                    .finish()
            }
        }
    };
}

/// The result of handing out `v`.
fn handed<T: Copy + WrappingInc>(v: T, stats: AtomicStats) -> AtomicValue<T> {
    AtomicValue {
        succeeded: true,
        pre: v,
        post: v.wrapping_inc(),
        stats,
    }
}

/// `v + 1`, wrapping as Java's arithmetic does.
trait WrappingInc {
    fn wrapping_inc(self) -> Self;
}

impl WrappingInc for i64 {
    fn wrapping_inc(self) -> Self {
        self.wrapping_add(1)
    }
}

impl WrappingInc for i32 {
    fn wrapping_inc(self) -> Self {
        self.wrapping_add(1)
    }
}

cached_atomic!(
    /// Unique 64-bit ids from a [`DistributedAtomicLong`], reserved in blocks (Curator's
    /// `CachedAtomicLong`): one write per `cache_factor` ids instead of one per id.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes, RetryOneTime};
    /// use zk_curator::recipes::atomic::{CachedAtomicLong, DistributedAtomicLong};
    /// # let server = zk_curator::testing::TestingServer::start()?;
    /// let client = CuratorFrameworkFactory::new_client(
    ///     &server.connect_string(),
    ///     RetryOneTime::new(Duration::from_millis(10)),
    /// )?;
    /// client.start()?;
    /// let counter = DistributedAtomicLong::new(
    ///     &client,
    ///     "/ids/orders",
    ///     RetryNTimes::new(100, Duration::from_millis(1)),
    /// )?;
    /// let ids = CachedAtomicLong::new(counter, 100)?;
    /// let first = ids.next()?; // reserves 0..100 with one add(100)
    /// assert!(first.succeeded()); // always check: the policy may give up under contention
    /// assert_eq!((*first.pre_value(), *first.post_value()), (0, 1));
    /// assert_eq!(*ids.next()?.pre_value(), 1); // served locally
    /// assert_eq!(ids.available(), 98);
    /// // Another process (or instance) gets the next block.
    /// let other = DistributedAtomicLong::new(&client, "/ids/orders", RetryNTimes::new(100, Duration::ZERO))?;
    /// let other = CachedAtomicLong::new(other, 100)?;
    /// assert_eq!(*other.next()?.pre_value(), 100);
    /// assert_eq!(*ids.number().get()?.post_value(), 200);
    /// # Ok::<(), zk_curator::Error>(())
    /// ```
    CachedAtomicLong,
    DistributedAtomicLong,
    i64
);

cached_atomic!(
    /// Unique 32-bit ids from a [`DistributedAtomicInteger`], reserved in blocks (Curator's
    /// `CachedAtomicInteger`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes, RetryOneTime};
    /// use zk_curator::recipes::atomic::{CachedAtomicInteger, DistributedAtomicInteger};
    /// # let server = zk_curator::testing::TestingServer::start()?;
    /// let client = CuratorFrameworkFactory::new_client(
    ///     &server.connect_string(),
    ///     RetryOneTime::new(Duration::from_millis(10)),
    /// )?;
    /// client.start()?;
    /// let n = DistributedAtomicInteger::new(&client, "/ids/slots", RetryNTimes::new(10, Duration::ZERO))?;
    /// let ids = CachedAtomicInteger::new(n, 2)?;
    /// let got: Vec<i32> = (0..5).map(|_| ids.next().map(|v| *v.pre_value())).collect::<Result<_, _>>()?;
    /// assert_eq!(got, [0, 1, 2, 3, 4]);
    /// assert_eq!(ids.available(), 1); // 5 of the three blocks' 6 values
    /// // A factor of 0 would hand out one value forever: refused.
    /// let n = DistributedAtomicInteger::new(&client, "/ids/slots", RetryNTimes::new(10, Duration::ZERO))?;
    /// assert!(CachedAtomicInteger::new(n, 0).is_err());
    /// # Ok::<(), zk_curator::Error>(())
    /// ```
    CachedAtomicInteger,
    DistributedAtomicInteger,
    i32
);
