//! Distributed atomics (Curator's `recipes.atomic`): a value in one node changed by
//! read-modify-write attempts.
//!
//! * [`DistributedAtomicLong`]: an `i64` stored as Curator stores it (8 bytes, big-endian;
//!   a missing or empty node reads as 0), shared with Java's `DistributedAtomicLong`.
//! * [`DistributedAtomicInteger`]: the same with an `i32` (4 bytes).
//! * [`DistributedAtomicValue`]: raw bytes.
//! * [`CachedAtomicLong`] / [`CachedAtomicInteger`]: unique ids handed out locally from
//!   blocks reserved on one of the numbers above, one write per block.
//!
//! Each change reads the node and writes it back at the version it read; if someone else wrote
//! in between, the attempt is repeated as the recipe's [`RetryPolicy`](crate::RetryPolicy)
//! allows (the *optimistic* mode); then, if the recipe was given a [`PromotedToLock`], under an
//! [`InterProcessMutex`](crate::recipes::locks::InterProcessMutex) as that one's policy allows.
//! The result is an [`AtomicValue`]: whether it
//! [succeeded](AtomicValue::succeeded), the value before and after, and statistics. Always
//! check `succeeded()`: when the policy gives up, nothing was written.
//!
//! Unlike Curator, a write whose reply is lost is never counted twice nor reported as done when
//! it was not: the write path finds out whether the lost write was applied (see
//! [`shared`](crate::recipes::shared) for the mechanism), so concurrent counters stay exact
//! through connection drops. If a session is lost at that very moment the outcome can stay
//! unknown; the call then fails with `ConnectionLoss` or `SessionExpired` rather than guess.

mod cached;
mod number;
mod promoted;
mod value;

pub use cached::{CachedAtomicInteger, CachedAtomicLong};
pub use number::{DistributedAtomicInteger, DistributedAtomicLong};
pub use promoted::{PromotedToLock, PromotedToLockBuilder};
pub use value::DistributedAtomicValue;

use std::time::Duration;

/// Counters of one atomic operation (Curator's `AtomicStats`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AtomicStats {
    optimistic_tries: u32,
    promoted_lock_tries: u32,
    optimistic_time: Duration,
    promoted_lock_time: Duration,
}

impl AtomicStats {
    /// Read-modify-write attempts made in the optimistic mode.
    pub fn optimistic_tries(&self) -> u32 {
        self.optimistic_tries
    }

    /// Attempts made while holding the promoted lock.
    pub fn promoted_lock_tries(&self) -> u32 {
        self.promoted_lock_tries
    }

    /// Time spent in the optimistic mode.
    pub fn optimistic_time(&self) -> Duration {
        self.optimistic_time
    }

    /// Time spent in the promoted-lock mode (taking the lock included).
    pub fn promoted_lock_time(&self) -> Duration {
        self.promoted_lock_time
    }
}

/// The result of an atomic operation (Curator's `AtomicValue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtomicValue<T> {
    succeeded: bool,
    pre: T,
    post: T,
    stats: AtomicStats,
}

impl<T> AtomicValue<T> {
    /// True if the operation was applied. When false, nothing was written and
    /// [`post_value`](Self::post_value) equals [`pre_value`](Self::pre_value).
    pub fn succeeded(&self) -> bool {
        self.succeeded
    }

    /// The value before the operation (as last read).
    pub fn pre_value(&self) -> &T {
        &self.pre
    }

    /// The value after the operation.
    pub fn post_value(&self) -> &T {
        &self.post
    }

    /// How the operation went.
    pub fn stats(&self) -> &AtomicStats {
        &self.stats
    }

    /// Converts both values (a decoding error aborts).
    pub(crate) fn try_map<U>(
        self,
        mut f: impl FnMut(T) -> crate::Result<U>,
    ) -> crate::Result<AtomicValue<U>> {
        Ok(AtomicValue {
            succeeded: self.succeeded,
            pre: f(self.pre)?,
            post: f(self.post)?,
            stats: self.stats,
        })
    }
}
