//! `max_items`: a put waits while the queue holds `max_items` nodes.
//!
//! Curator compares the count of its watch-fed children cache with the bound. That count
//! trails the real one: a producer's own puts show up only once the watch has fired and the
//! children have been read again, so a fast producer (and a fast server: the in-process one
//! takes writes 10–30× faster than real ZooKeeper) overshoots the bound by many items.
//!
//! Here a put is admitted on an estimate that can only be too high: the last count read
//! (a listing, or a real count read earlier), plus this process's puts completed since that
//! read was sent (those may be missing from it), plus its puts still in flight. Far from the
//! bound that costs nothing. When the estimate reaches the bound, the real count is read
//! from the server (`exists`, the parent's `numChildren`) before the put; only a real count
//! below the bound (plus this process's puts in flight) admits it. Otherwise the put waits
//! until the children change (a children watch, set by a listing if none is in place) and
//! tries again.
//!
//! The bound holds exactly for any number of threads putting through one queue object.
//! Producers in other processes are counted once their items exist; two processes putting at
//! the same instant near the bound can still overshoot it by one each (as in Curator: a
//! hard bound across processes would need a lock around every put).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::children::ChildrenCache;
use crate::error::{Error, Result};
use crate::framework::CuratorFramework;

/// The longest a full queue waits between two looks at the real count, in case a change
/// notification is lost with a connection.
const RECHECK: Duration = Duration::from_secs(1);

pub(crate) struct Bound {
    max: usize,
    /// Admitted puts that have not completed yet.
    reserved: Mutex<usize>,
    /// The last real count read from the server, and the completed puts it includes.
    real: Mutex<Option<(usize, u64)>>,
    /// Completed puts; changed only under `reserved`'s lock, so that an estimate read
    /// under it never misses a put that moves from one to the other.
    completed: Arc<AtomicU64>,
}

/// An admitted put. [`Ticket::done`] must be called once it completed or failed.
pub(crate) struct Ticket {
    bound: Option<Arc<Bound>>,
}

impl Ticket {
    /// A ticket of an unbounded queue.
    pub(super) fn free() -> Ticket {
        Ticket { bound: None }
    }

    /// The put completed (`ok`: its node exists) or failed.
    pub(super) fn done(mut self, ok: bool) {
        if let Some(b) = self.bound.take() {
            b.release(ok);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // A put abandoned without a verdict (a panic on the way): count it as failed so that
        // the reservation does not hold a slot forever.
        if let Some(b) = self.bound.take() {
            b.release(false);
        }
    }
}

impl Bound {
    pub(super) fn new(max: usize, completed: Arc<AtomicU64>) -> Arc<Bound> {
        Arc::new(Bound {
            max,
            reserved: Mutex::new(0),
            real: Mutex::new(None),
            completed,
        })
    }

    fn release(&self, ok: bool) {
        let mut r = self.reserved.lock();
        *r = r.saturating_sub(1);
        if ok {
            self.completed.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Admits one put (`Ok(Some)`), or gives up at `deadline` (`Ok(None)`). `path` is the
    /// queue node (user form).
    pub(super) fn admit(
        self: &Arc<Self>,
        client: &CuratorFramework,
        cache: &ChildrenCache,
        path: &str,
        deadline: Option<Instant>,
    ) -> Result<Option<Ticket>> {
        loop {
            let snap = cache.current();
            if snap.closed {
                return Err(Error::Closed);
            }
            let real = *self.real.lock();
            let (others, marker) = {
                let mut r = self.reserved.lock();
                let completed = self.completed.load(Ordering::Acquire);
                // Two upper bounds (the last listing, the last real count), each plus the
                // puts completed since it was read and those in flight: the lower one holds.
                let bound = |count: usize, at: u64| {
                    let since = usize::try_from(completed.saturating_sub(at)).unwrap_or(usize::MAX);
                    count.saturating_add(since).saturating_add(*r)
                };
                let mut estimate = bound(snap.children.len(), snap.completed_at_read);
                if let Some((count, at)) = real {
                    estimate = estimate.min(bound(count, at));
                }
                let others = *r;
                *r += 1;
                if estimate < self.max {
                    return Ok(Some(self.ticket()));
                }
                // Reserved before the read: a later put of this process counts this one.
                (others, completed)
            };
            let count = match client.check_exists().for_path(path) {
                Ok(Some(stat)) => usize::try_from(stat.num_children).unwrap_or(0),
                Ok(None) => 0,
                Err(e) => {
                    self.release(false);
                    return Err(e);
                }
            };
            // Puts completed before the read was sent are in `count`.
            *self.real.lock() = Some((count, marker));
            if count.saturating_add(others) < self.max {
                return Ok(Some(self.ticket()));
            }
            self.release(false);
            // Full. Make sure a change will be heard of; a fresh listing may show room.
            match cache.ensure_watch() {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(None);
            }
            let wake = match deadline {
                Some(d) => d.min(now + RECHECK),
                None => now + RECHECK,
            };
            cache.wait_next(snap.version, Some(wake));
        }
    }

    fn ticket(self: &Arc<Self>) -> Ticket {
        Ticket {
            bound: Some(self.clone()),
        }
    }
}
