//! [`WorkerPool`]: runs callbacks off the event thread, serially per key and in parallel
//! across keys.
//!
//! A map from key to a queue of jobs plus a ready list of keys: a key with queued work and no
//! worker on it goes onto the ready list; a worker takes a key and drains that key's queue
//! before taking another. A slow key then delays only itself as long as a worker is free,
//! which isolates better than hashing keys onto fixed workers (two keys sharing a worker
//! would block each other). The lock guards only the map; jobs run without it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use parking_lot::{Condvar, Mutex};

use super::events::guarded;
use super::watcher::{SharedWatcher, WatchedEvent, Watcher};
use crate::error::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

/// A pool of worker threads (`zk-worker-N`) for slow watchers and listeners.
///
/// [`offload`](WorkerPool::offload) wraps a watcher so that its events run on the pool instead
/// of the event thread: events for the same path stay in order, events for different paths
/// run in parallel, and a watcher that sleeps delays neither the event thread nor other
/// paths. The pool is cheap to clone; its threads stop when the last clone is dropped (after
/// finishing what is queued) or on [`shutdown`](WorkerPool::shutdown).
///
/// ```
/// use std::sync::mpsc;
/// use zk_curator::{WatchedEvent, Watcher, WorkerPool, EventType, KeeperState};
/// let pool = WorkerPool::new(2).unwrap();
/// let (tx, rx) = mpsc::channel();
/// let w = pool.offload(move |e| tx.send(e.path().map(String::from)).unwrap());
/// w.process(&WatchedEvent::new(EventType::NodeCreated, KeeperState::SyncConnected, Some("/a".into())));
/// assert_eq!(rx.recv().unwrap().as_deref(), Some("/a"));
/// ```
#[derive(Clone)]
pub struct WorkerPool {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

struct Shared {
    state: Mutex<State>,
    cv: Condvar,
    panics: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Keys with queued work or a worker on them. A key present with an empty queue means
    /// "a worker is running its last job": new work for it queues behind that job.
    queues: HashMap<String, VecDeque<Job>>,
    ready: VecDeque<String>,
    shutdown: bool,
}

impl WorkerPool {
    /// Starts `threads` workers (at least one).
    pub fn new(threads: usize) -> Result<WorkerPool> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            panics: AtomicU64::new(0),
        });
        let mut handles = Vec::new();
        for i in 0..threads.max(1) {
            let s = shared.clone();
            let h = thread::Builder::new()
                .name(format!("zk-worker-{i}"))
                .spawn(move || worker(s))
                .map_err(Error::from);
            match h {
                Ok(h) => handles.push(h),
                Err(e) => {
                    shutdown(&shared, &mut handles);
                    return Err(e);
                }
            }
        }
        Ok(WorkerPool {
            inner: Arc::new(Inner {
                shared,
                threads: Mutex::new(handles),
            }),
        })
    }

    /// Runs `job` on the pool after every job queued earlier under the same `key`, possibly
    /// in parallel with jobs of other keys. Jobs submitted after shutdown are dropped.
    pub fn execute(&self, key: &str, job: impl FnOnce() + Send + 'static) {
        let s = &self.inner.shared;
        let mut st = s.state.lock();
        if st.shutdown {
            return;
        }
        if let Some(q) = st.queues.get_mut(key) {
            q.push_back(Box::new(job));
            return;
        }
        let mut q: VecDeque<Job> = VecDeque::with_capacity(1);
        q.push_back(Box::new(job));
        st.queues.insert(key.to_string(), q);
        st.ready.push_back(key.to_string());
        drop(st);
        s.cv.notify_one();
    }

    /// Wraps a watcher closure so that each event runs on the pool, keyed by the event's
    /// path (state changes, which have no path, share one key of their own). The closure's
    /// argument type is inferred; to offload a [`SharedWatcher`] or a [`Watcher`] of yours,
    /// pass `move |e| w.process(e)`.
    ///
    /// ```
    /// # let pool = zk_curator::WorkerPool::new(2).unwrap();
    /// let w = pool.offload(|e| println!("{e}"));
    /// # let _ = w;
    /// ```
    pub fn offload(
        &self,
        watcher: impl Fn(&WatchedEvent) + Send + Sync + 'static,
    ) -> SharedWatcher {
        let inner = watcher.into_shared();
        let pool = self.clone();
        Offloaded { pool, inner }.into_shared()
    }

    /// How many jobs have panicked so far.
    pub fn panic_count(&self) -> u64 {
        self.inner.shared.panics.load(Ordering::Relaxed)
    }

    /// Jobs queued and not yet started, over all keys.
    pub fn queued(&self) -> usize {
        self.inner
            .shared
            .state
            .lock()
            .queues
            .values()
            .map(VecDeque::len)
            .sum()
    }

    /// Finishes queued jobs, then stops the workers and waits for them (except the calling
    /// thread, if it is a worker). Idempotent.
    pub fn shutdown(&self) {
        let mut hs = std::mem::take(&mut *self.inner.threads.lock());
        shutdown(&self.inner.shared, &mut hs);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let mut hs = std::mem::take(&mut *self.threads.lock());
        shutdown(&self.shared, &mut hs);
    }
}

impl std::fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPool")
            .field("threads", &self.inner.threads.lock().len())
            .field("queued", &self.queued())
            .finish()
    }
}

fn shutdown(shared: &Shared, handles: &mut Vec<JoinHandle<()>>) {
    shared.state.lock().shutdown = true;
    shared.cv.notify_all();
    let me = thread::current().id();
    for h in handles.drain(..) {
        if h.thread().id() != me {
            let _ = h.join();
        }
    }
}

fn worker(s: Arc<Shared>) {
    let mut st = s.state.lock();
    loop {
        let Some(key) = st.ready.pop_front() else {
            if st.shutdown {
                return;
            }
            s.cv.wait(&mut st);
            continue;
        };
        // Drain this key; other workers take other keys meanwhile.
        loop {
            let job = match st.queues.get_mut(&key).and_then(VecDeque::pop_front) {
                Some(j) => j,
                None => {
                    st.queues.remove(&key);
                    break;
                }
            };
            drop(st);
            let _ = guarded(&s.panics, "pooled callback", job);
            st = s.state.lock();
        }
    }
}

struct Offloaded {
    pool: WorkerPool,
    inner: SharedWatcher,
}

impl Watcher for Offloaded {
    fn process(&self, event: &WatchedEvent) {
        let w = self.inner.clone();
        let e = event.clone();
        self.pool
            .execute(event.path().unwrap_or(STATE_KEY), move || w.process(&e));
    }
}

/// The key of events without a path; no node path can equal it.
const STATE_KEY: &str = "";

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    #[test]
    fn same_key_in_order_other_keys_in_parallel() {
        let pool = WorkerPool::new(4).unwrap();
        let (tx, rx) = mpsc::channel();
        // Key "slow" blocks for a while; "fast" must finish meanwhile.
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let t = tx.clone();
        pool.execute("slow", move || {
            gate_rx.recv_timeout(Duration::from_secs(5)).unwrap();
            t.send(("slow", 0)).unwrap();
        });
        for i in 1..=3 {
            let t = tx.clone();
            pool.execute("slow", move || t.send(("slow", i)).unwrap());
        }
        for i in 0..100 {
            let t = tx.clone();
            pool.execute("fast", move || t.send(("fast", i)).unwrap());
        }
        let fast: Vec<_> = (0..100).map(|_| rx.recv().unwrap()).collect();
        assert!(fast.iter().all(|(k, _)| *k == "fast"));
        assert_eq!(
            fast.iter().map(|(_, i)| *i).collect::<Vec<_>>(),
            (0..100).collect::<Vec<_>>()
        );
        gate_tx.send(()).unwrap();
        let slow: Vec<_> = (0..4).map(|_| rx.recv().unwrap().1).collect();
        assert_eq!(slow, vec![0, 1, 2, 3]);
    }

    #[test]
    fn panics_are_caught_and_the_pool_goes_on() {
        let pool = WorkerPool::new(1).unwrap();
        let (tx, rx) = mpsc::channel();
        pool.execute("k", || panic!("boom"));
        pool.execute("k", move || tx.send(1).unwrap());
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 1);
        assert_eq!(pool.panic_count(), 1);
    }

    #[test]
    fn shutdown_finishes_queued_work_and_joins() {
        let pool = WorkerPool::new(2).unwrap();
        let (tx, rx) = mpsc::channel();
        for i in 0..50 {
            let t = tx.clone();
            pool.execute(&format!("k{}", i % 5), move || t.send(i).unwrap());
        }
        let start = Instant::now();
        pool.shutdown();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(rx.try_iter().count(), 50);
        pool.execute("late", || unreachable!("dropped after shutdown"));
        assert_eq!(pool.queued(), 0);
    }

    #[test]
    fn a_job_may_drop_the_last_pool_handle() {
        let pool = WorkerPool::new(1).unwrap();
        let (tx, rx) = mpsc::channel();
        let p = pool.clone();
        drop(pool);
        let p2 = p.clone();
        p.execute("k", move || {
            drop(p2);
            tx.send(()).unwrap();
        });
        drop(p);
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
    }
}
