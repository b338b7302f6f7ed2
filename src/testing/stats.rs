//! A member's live view that connection threads, four-letter words and the quorum check
//! read without taking the member's lock: whether it is up, its fault switches and its
//! packet counters (`srvr`, `stat`, `mntr`). Below `shared`, `conn`, `fourlw` and `member`, which
//! all use it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::faults::Faults;

/// What connection threads and four-letter words need to know about their member.
pub(crate) struct MemberShared {
    pub index: usize,
    pub faults: Arc<Faults>,
    up: AtomicBool,
    received: AtomicU64,
    sent: AtomicU64,
    pub started: Instant,
}

impl MemberShared {
    pub(crate) fn new(index: usize) -> MemberShared {
        MemberShared {
            index,
            faults: Arc::new(Faults::default()),
            up: AtomicBool::new(false),
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
    /// Marks the member serving (its acceptor runs) or not.
    pub(crate) fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Release);
    }
    pub(crate) fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }
    pub(crate) fn received(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn sent(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.received.load(Ordering::Relaxed),
            self.sent.load(Ordering::Relaxed),
        )
    }
}
