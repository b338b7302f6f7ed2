//! The framework's timer thread (`zk-retry`): background retries after their backoff,
//! guaranteed deletes, simulated session expiry. Nothing here ever sleeps on the event
//! thread, so a retry never delays a watch or a state change.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::session::events::guarded;

type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    jobs: HashMap<u64, Job>,
    next: u64,
    stop: bool,
}

struct Shared {
    q: Mutex<Queue>,
    cv: Condvar,
    panics: AtomicU64,
}

/// A single timer thread running jobs at their due time.
pub(crate) struct Scheduler {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Scheduler {
    pub(crate) fn start() -> Result<Scheduler> {
        let shared = Arc::new(Shared {
            q: Mutex::new(Queue::default()),
            cv: Condvar::new(),
            panics: AtomicU64::new(0),
        });
        let s = shared.clone();
        let h = thread::Builder::new()
            .name("zk-retry".into())
            .spawn(move || run(s))
            .map_err(Error::from)?;
        Ok(Scheduler {
            shared,
            thread: Mutex::new(Some(h)),
        })
    }

    /// Runs `job` after `delay`; dropped if the scheduler stops first.
    pub(crate) fn schedule(&self, delay: Duration, job: impl FnOnce() + Send + 'static) -> u64 {
        let at = Instant::now()
            .checked_add(delay)
            .unwrap_or_else(Instant::now);
        let mut q = self.shared.q.lock();
        q.next += 1;
        let id = q.next;
        if !q.stop {
            q.jobs.insert(id, Box::new(job));
            q.heap.push(Reverse((at, id)));
            self.shared.cv.notify_one();
        }
        id
    }

    /// Cancels a job that has not run yet.
    pub(crate) fn cancel(&self, id: u64) {
        self.shared.q.lock().jobs.remove(&id);
    }

    /// Stops the thread and waits for it (unless called from it). Jobs not yet due run now,
    /// on the calling thread, so that a waiting background operation can report that the
    /// client closed instead of vanishing.
    pub(crate) fn shutdown(&self) {
        let pending: Vec<Job> = {
            let mut q = self.shared.q.lock();
            q.stop = true;
            q.heap.clear();
            let mut ids: Vec<u64> = q.jobs.keys().copied().collect();
            ids.sort_unstable();
            ids.into_iter()
                .filter_map(|id| q.jobs.remove(&id))
                .collect()
        };
        for job in pending {
            let _ = guarded(&self.shared.panics, "job run at shutdown", job);
        }
        self.shared.cv.notify_all();
        if let Some(h) = self.thread.lock().take() {
            if h.thread().id() != thread::current().id() {
                let _ = h.join();
            }
        }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(s: Arc<Shared>) {
    let mut q = s.q.lock();
    loop {
        if q.stop {
            return;
        }
        let now = Instant::now();
        match q.heap.peek() {
            Some(Reverse((at, id))) if *at <= now => {
                let id = *id;
                q.heap.pop();
                if let Some(job) = q.jobs.remove(&id) {
                    drop(q);
                    let _ = guarded(&s.panics, "scheduled job", job);
                    q = s.q.lock();
                }
            }
            Some(Reverse((at, _))) => {
                let at = *at;
                s.cv.wait_until(&mut q, at);
            }
            None => s.cv.wait(&mut q),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn jobs_run_in_due_order_and_cancel_works() {
        let s = Scheduler::start().unwrap();
        let (tx, rx) = mpsc::channel();
        for (i, ms) in [(1, 60u64), (2, 20), (3, 40)] {
            let tx = tx.clone();
            s.schedule(Duration::from_millis(ms), move || tx.send(i).unwrap());
        }
        let t = tx.clone();
        let id = s.schedule(Duration::from_millis(30), move || t.send(99).unwrap());
        s.cancel(id);
        let got: Vec<i32> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(got, vec![2, 3, 1]);
        // A job not yet due runs at shutdown; one scheduled afterwards never runs.
        let t = tx.clone();
        s.schedule(Duration::from_secs(3600), move || t.send(8).unwrap());
        s.shutdown();
        assert_eq!(rx.try_recv(), Ok(8));
        let t = tx.clone();
        s.schedule(Duration::ZERO, move || t.send(7).unwrap());
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
    }
}
