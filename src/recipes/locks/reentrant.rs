//! Per-thread re-entrancy over a [`LockCore`] (what Curator's `InterProcessMutex` keeps in
//! its `threadData` map): a thread that holds the lock may acquire it again without a
//! request, and must release it as many times; only the holding thread can release it. The
//! mutex, the read lock and the write lock are all this.

use std::collections::HashMap;
use std::thread::{self, ThreadId};

use parking_lot::Mutex;

use super::core::{Held, LockCore, Request};
use crate::error::{Error, Result};

/// One thread's hold.
#[derive(Debug)]
struct Hold {
    held: Held,
    count: u32,
}

/// A lock core with per-thread ownership.
pub(crate) struct Reentrant {
    pub(crate) core: LockCore,
    holds: Mutex<HashMap<ThreadId, Hold>>,
}

impl Reentrant {
    pub(crate) fn new(core: LockCore) -> Reentrant {
        Reentrant {
            core,
            holds: Mutex::new(HashMap::new()),
        }
    }

    /// If this thread holds the lock, counts one more hold and returns true.
    pub(crate) fn reenter(&self) -> Result<bool> {
        self.core.check_open()?;
        let mut holds = self.holds.lock();
        let Some(h) = holds.get_mut(&thread::current().id()) else {
            return Ok(false);
        };
        h.count = h.count.checked_add(1).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "lock {} re-entered too many times",
                self.core.base()
            ))
        })?;
        Ok(true)
    }

    /// Acquires for this thread (which does not hold it): true once held, false when the
    /// request's deadline passed first.
    pub(crate) fn acquire_new(&self, req: &Request<'_>) -> Result<bool> {
        match self.core.acquire(req)? {
            Some(held) => {
                let me = thread::current().id();
                let old = self.holds.lock().insert(me, Hold { held, count: 1 });
                if let Some(old) = old {
                    // Cannot happen (the caller checked); never leak a node if it does.
                    self.core.release_quietly(old.held);
                }
                // A close() that came while we were acquiring must not leave the node.
                if self.core.is_closed() {
                    self.release_all();
                    return Err(Error::Closed);
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Releases one hold of this thread; the last one deletes the node. Not holding it is
    /// an error (Curator's `IllegalMonitorStateException`).
    pub(crate) fn release(&self) -> Result<()> {
        let me = thread::current().id();
        let held = {
            let mut holds = self.holds.lock();
            let Some(h) = holds.get_mut(&me) else {
                if self.core.is_closed() {
                    return Err(Error::Closed);
                }
                return Err(Error::InvalidArgument(format!(
                    "this thread does not hold the lock {}",
                    self.core.base()
                )));
            };
            h.count -= 1;
            if h.count > 0 {
                return Ok(());
            }
            match holds.remove(&me) {
                Some(h) => h.held,
                None => return Ok(()),
            }
        };
        self.core.release(held)
    }

    pub(crate) fn is_owned_by_current_thread(&self) -> bool {
        self.holds.lock().contains_key(&thread::current().id())
    }

    pub(crate) fn is_acquired_in_this_process(&self) -> bool {
        !self.holds.lock().is_empty()
    }

    /// The handle-level path of this thread's node, if it holds the lock.
    pub(crate) fn current_node(&self) -> Option<String> {
        self.holds
            .lock()
            .get(&thread::current().id())
            .map(|h| h.held.full.clone())
    }

    /// Every hold of every thread is let go (their nodes deleted in the background).
    fn release_all(&self) {
        let all: Vec<Hold> = self.holds.lock().drain().map(|(_, h)| h).collect();
        for h in all {
            self.core.release_quietly(h.held);
        }
    }

    /// Closes the lock: waiters give up with `Closed`, every node is deleted, later calls
    /// fail with `Closed`. Idempotent.
    pub(crate) fn close(&self) {
        self.core.close();
        self.release_all();
    }
}

impl Drop for Reentrant {
    fn drop(&mut self) {
        self.close();
    }
}
