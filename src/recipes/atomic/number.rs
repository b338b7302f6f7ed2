//! [`DistributedAtomicLong`] and [`DistributedAtomicInteger`]: numbers over the atomic engine,
//! encoded as Java Curator encodes them (big-endian, 8 or 4 bytes; a missing or empty node is
//! 0). One macro writes both, so they cannot drift apart.

use std::sync::Arc;

use super::value::{Bytes, Engine};
use super::{AtomicValue, PromotedToLock};
use crate::error::{Error, Result};
use crate::framework::{CuratorFramework, RetryPolicy};

macro_rules! atomic_number {
    ($(#[$doc:meta])* $name:ident, $t:ty, $len:literal) => {
        $(#[$doc])*
        ///
        /// # Data that is not a number
        ///
        #[doc = concat!("A node holding anything but ", stringify!($len), " bytes (or none) ")]
        /// makes every operation that reads it fail with [`Error::BadData`], changing nothing.
        /// [`force_set`](Self::force_set) overwrites it and repairs the value.
        pub struct $name {
            engine: Engine,
        }

        impl $name {
            /// A number at `path`, changed optimistically as often as `policy` allows (its
            /// sleeps happen between attempts).
            pub fn new(
                client: &CuratorFramework,
                path: &str,
                policy: impl RetryPolicy,
            ) -> Result<$name> {
                Ok($name {
                    engine: Engine::new(client, path, Arc::new(policy), None)?,
                })
            }

            /// A number at `path` whose operations, when the optimistic attempts give up,
            /// take the lock described by `promoted` and try again under it.
            pub fn new_with_promoted_to_lock(
                client: &CuratorFramework,
                path: &str,
                policy: impl RetryPolicy,
                promoted: PromotedToLock,
            ) -> Result<$name> {
                Ok($name {
                    engine: Engine::new(client, path, Arc::new(policy), Some(promoted))?,
                })
            }

            fn decode(&self, bytes: Option<&[u8]>) -> Result<$t> {
                match bytes {
                    None | Some([]) => Ok(0),
                    Some(b) => match <[u8; $len]>::try_from(b) {
                        Ok(a) => Ok(<$t>::from_be_bytes(a)),
                        Err(_) => Err(Error::BadData {
                            path: self.engine.path().to_string(),
                            reason: format!(
                                concat!(
                                    "{} bytes where a ",
                                    stringify!($name),
                                    " holds a ",
                                    stringify!($len),
                                    "-byte big-endian number (force_set repairs it)"
                                ),
                                b.len()
                            ),
                        }),
                    },
                }
            }

            fn typed(&self, v: AtomicValue<Bytes>) -> Result<AtomicValue<$t>> {
                v.try_map(|b| self.decode(b.as_deref()))
            }

            /// Applies `f` to the current value atomically, retrying as the policy allows.
            fn apply(&self, f: impl Fn($t) -> $t) -> Result<AtomicValue<$t>> {
                let make = |pre: Option<&[u8]>| Ok(f(self.decode(pre)?).to_be_bytes().to_vec());
                let v = self.engine.try_set(&make)?;
                self.typed(v)
            }

            /// The current value (0 if the node does not exist). Always succeeds.
            pub fn get(&self) -> Result<AtomicValue<$t>> {
                let v = self.engine.get()?;
                self.typed(v)
            }

            /// Adds 1 (wrapping on overflow, as Java does).
            pub fn increment(&self) -> Result<AtomicValue<$t>> {
                self.apply(|v| v.wrapping_add(1))
            }

            /// Subtracts 1.
            pub fn decrement(&self) -> Result<AtomicValue<$t>> {
                self.apply(|v| v.wrapping_sub(1))
            }

            /// Adds `delta`.
            pub fn add(&self, delta: $t) -> Result<AtomicValue<$t>> {
                self.apply(move |v| v.wrapping_add(delta))
            }

            /// Subtracts `delta`.
            pub fn subtract(&self, delta: $t) -> Result<AtomicValue<$t>> {
                self.apply(move |v| v.wrapping_sub(delta))
            }

            /// Sets `new_value` if the value is `expected` (a missing or empty node counts as
            /// 0, as [`get`](Self::get) reports it). One attempt.
            pub fn compare_and_set(&self, expected: $t, new_value: $t) -> Result<AtomicValue<$t>> {
                let v = self.engine.compare_and_set(
                    &|pre| Ok(self.decode(pre)? == expected),
                    &new_value.to_be_bytes(),
                )?;
                self.typed(v)
            }

            /// Sets `new_value` atomically, retrying as the policy allows.
            pub fn try_set(&self, new_value: $t) -> Result<AtomicValue<$t>> {
                self.apply(move |_| new_value)
            }

            /// Writes `new_value` whatever the node holds (creating it if missing): not
            /// atomic, and the way to repair a node holding something else.
            pub fn force_set(&self, new_value: $t) -> Result<()> {
                self.engine.force_set(&new_value.to_be_bytes())
            }

            /// Creates the node with `value` if it does not exist; true if this call created
            /// it.
            pub fn initialize(&self, value: $t) -> Result<bool> {
                self.engine.initialize(&value.to_be_bytes())
            }

            /// Removes the markers of this instance's writes (also done on drop).
            pub fn close(&self) {
                self.engine.close()
            }

            /// The node's path.
            pub fn path(&self) -> &str {
                self.engine.path()
            }
        }

        impl Drop for $name {
            fn drop(&mut self) {
                self.engine.close();
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("path", &self.engine.path())
                    .finish()
            }
        }
    };
}

atomic_number!(
    /// A 64-bit counter in one node, shared with Java's `DistributedAtomicLong` (8 bytes,
    /// big-endian).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes, RetryOneTime};
    /// use zk_curator::recipes::atomic::DistributedAtomicLong;
    /// # let server = zk_curator::testing::TestingServer::start()?;
    /// let client = CuratorFrameworkFactory::new_client(
    ///     &server.connect_string(),
    ///     RetryOneTime::new(Duration::from_millis(10)),
    /// )?;
    /// client.start()?;
    /// let counter = DistributedAtomicLong::new(
    ///     &client,
    ///     "/stats/requests",
    ///     RetryNTimes::new(100, Duration::from_millis(1)),
    /// )?;
    /// let r = counter.increment()?;
    /// assert!(r.succeeded()); // always check: the policy may give up under contention
    /// assert_eq!((*r.pre_value(), *r.post_value()), (0, 1));
    /// counter.add(41)?;
    /// assert_eq!(*counter.get()?.post_value(), 42);
    /// # Ok::<(), zk_curator::Error>(())
    /// ```
    DistributedAtomicLong,
    i64,
    8
);

atomic_number!(
    /// A 32-bit counter in one node, shared with Java's `DistributedAtomicInteger` (4 bytes,
    /// big-endian).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes, RetryOneTime};
    /// use zk_curator::recipes::atomic::DistributedAtomicInteger;
    /// # let server = zk_curator::testing::TestingServer::start()?;
    /// let client = CuratorFrameworkFactory::new_client(
    ///     &server.connect_string(),
    ///     RetryOneTime::new(Duration::from_millis(10)),
    /// )?;
    /// client.start()?;
    /// let n = DistributedAtomicInteger::new(&client, "/stats/slots", RetryNTimes::new(10, Duration::ZERO))?;
    /// assert!(n.initialize(10)?);
    /// assert!(n.compare_and_set(10, 9)?.succeeded());
    /// assert!(!n.compare_and_set(10, 8)?.succeeded());
    /// assert_eq!(*n.decrement()?.post_value(), 8);
    /// # Ok::<(), zk_curator::Error>(())
    /// ```
    DistributedAtomicInteger,
    i32,
    4
);
