//! The write-commit latency (`TestingServer::set_commit_latency`): when each transaction
//! becomes durable, as if the server synced its transaction log to disk.
//!
//! The model is ZooKeeper's `SyncRequestProcessor`: one sync runs at a time; a transaction
//! logged while no sync runs starts one at once, and transactions logged while one runs wait
//! for the next sync and share it (group commit). So one client's writes take at least a
//! latency each, writes commit in zxid order, and writers that overlap share syncs instead
//! of queueing a latency apiece, as on the real server.
//!
//! A transaction is applied to the tree at once; what waits for its commit is every frame it
//! causes: the writer's reply and the notifications it fires (see `State::txn_due` in
//! `shared`). Each connection's outbox never lets a frame overtake an earlier one, so a
//! session's later replies wait behind its uncommitted write, and a watcher sees the event
//! before any later reply that could show the new data. Reads with nothing queued ahead of
//! them are answered at once.

use std::time::{Duration, Instant};

/// The sync schedule. Lives in `State`, under the server lock.
#[derive(Debug, Default)]
pub(crate) struct Commit {
    latency: Duration,
    /// The last sync scheduled, running or waiting for the one before it: (start, end).
    last: Option<(Instant, Instant)>,
}

impl Commit {
    pub(crate) fn new(latency: Duration) -> Commit {
        Commit {
            latency,
            last: None,
        }
    }

    /// Changes the latency for transactions logged from now on; syncs already scheduled
    /// keep their end.
    pub(crate) fn set_latency(&mut self, latency: Duration) {
        self.latency = latency;
    }

    /// When a transaction logged at `now` is committed; `None` without a latency (the hot
    /// path: no clock read).
    #[inline]
    pub(crate) fn due(&mut self, now: impl FnOnce() -> Instant) -> Option<Instant> {
        if self.latency.is_zero() {
            return None;
        }
        let now = now();
        let end = match self.last {
            // The next sync is scheduled but has not started: join it.
            Some((start, end)) if now < start => end,
            // A sync runs: the next one starts when it ends.
            Some((_, end)) if now < end => {
                let next = end + self.latency;
                self.last = Some((end, next));
                next
            }
            // The log is idle: sync now.
            _ => {
                let next = now + self.latency;
                self.last = Some((now, next));
                next
            }
        };
        Some(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn no_latency_reads_no_clock() {
        let mut c = Commit::default();
        assert_eq!(c.due(|| unreachable!("no clock without a latency")), None);
    }

    #[test]
    fn an_idle_log_syncs_at_once() {
        let t0 = Instant::now();
        let mut c = Commit::new(10 * MS);
        assert_eq!(c.due(|| t0), Some(t0 + 10 * MS));
        // Long after: idle again.
        let t1 = t0 + 100 * MS;
        assert_eq!(c.due(|| t1), Some(t1 + 10 * MS));
    }

    #[test]
    fn writes_during_a_sync_share_the_next_one() {
        let t0 = Instant::now();
        let mut c = Commit::new(10 * MS);
        assert_eq!(c.due(|| t0), Some(t0 + 10 * MS));
        // Three writes while the first sync runs: all in the second sync.
        for dt in [1, 5, 9] {
            assert_eq!(c.due(|| t0 + dt * MS), Some(t0 + 20 * MS), "at +{dt} ms");
        }
        // During the second sync: the third.
        assert_eq!(c.due(|| t0 + 12 * MS), Some(t0 + 30 * MS));
        // Commit order is log order: dues never go backwards.
        let mut last = t0;
        for dt in 12..40 {
            let due = c.due(|| t0 + dt * MS).unwrap();
            assert!(due >= last);
            last = due;
        }
    }

    #[test]
    fn a_new_latency_applies_to_later_syncs() {
        let t0 = Instant::now();
        let mut c = Commit::new(10 * MS);
        c.due(|| t0);
        c.set_latency(2 * MS);
        // The running sync keeps its end; the next is 2 ms long.
        assert_eq!(c.due(|| t0 + MS), Some(t0 + 12 * MS));
        c.set_latency(Duration::ZERO);
        assert_eq!(c.due(|| t0 + MS), None);
    }
}
