//! [`Window`]: the bounded pipeline every cache reads through. Reads are background
//! operations; at most `limit` are in flight, the rest wait in FIFO order, so a cache never
//! does one blocking round trip per node and never floods the connection either. Issue order
//! is submission order, and the server answers in that order, so each answer reflects a
//! server state no older than the one before it.
//!
//! A read holds a [`Slot`] while it is in flight; the slot is moved into the operation's
//! callback and frees its place when the callback (or, if the operation was refused, the
//! dropped callback) goes away. Used by [`CuratorCache`](super::CuratorCache),
//! [`TreeCache`](super::TreeCache) and [`PathChildrenCache`](super::PathChildrenCache).

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;

/// How many reads a cache keeps in flight.
pub(crate) const WINDOW: usize = 1000;

/// Work that issues one read; it must keep the [`Slot`] until the read has completed.
pub(crate) type Job = Box<dyn FnOnce(Slot) + Send>;

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    inflight: usize,
    /// A thread is issuing queued jobs; others leave the queue to it (this also stops a
    /// job refused on the spot from recursing into the pump).
    pumping: bool,
    closed: bool,
}

/// A FIFO of reads with a bound on how many are in flight.
pub(crate) struct Window {
    limit: usize,
    st: Mutex<State>,
}

/// A place in the window, held by one read in flight; dropping it frees the place.
pub(crate) struct Slot(Arc<Window>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl Window {
    /// A window of `limit` reads (at least one).
    pub(crate) fn new(limit: usize) -> Arc<Window> {
        Arc::new(Window {
            limit: limit.max(1),
            st: Mutex::new(State::default()),
        })
    }

    /// Queues a read; it is issued at once if the window has room. Dropped when closed.
    pub(crate) fn submit(self: &Arc<Self>, job: Job) {
        {
            let mut st = self.st.lock();
            if st.closed {
                return;
            }
            st.queue.push_back(job);
        }
        self.pump();
    }

    /// Issues queued jobs while there is room; one thread at a time.
    fn pump(self: &Arc<Self>) {
        loop {
            let job = {
                let mut st = self.st.lock();
                if st.pumping {
                    return;
                }
                if st.closed || st.inflight >= self.limit {
                    return;
                }
                match st.queue.pop_front() {
                    Some(j) => {
                        st.inflight += 1;
                        st.pumping = true;
                        j
                    }
                    None => return,
                }
            };
            // No lock while the job runs: it may complete (and release) on the spot.
            job(Slot(self.clone()));
            self.st.lock().pumping = false;
        }
    }

    fn release(self: &Arc<Self>) {
        let more = {
            let mut st = self.st.lock();
            st.inflight = st.inflight.saturating_sub(1);
            !st.pumping && !st.closed && !st.queue.is_empty()
        };
        if more {
            self.pump();
        }
    }

    /// Drops what is queued and accepts nothing more (reads in flight finish normally).
    pub(crate) fn close(&self) {
        let dropped = {
            let mut st = self.st.lock();
            st.closed = true;
            std::mem::take(&mut st.queue)
        };
        // Outside the lock: a job's captures may hold slots or caches.
        drop(dropped);
    }

    /// Reads in flight (for tests and debugging).
    #[allow(dead_code)]
    pub(crate) fn in_flight(&self) -> usize {
        self.st.lock().inflight
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn bounded_fifo_and_refusals_do_not_recurse() {
        let w = Window::new(2);
        let (tx, rx) = mpsc::channel::<(usize, Slot)>();
        for i in 0..5 {
            let tx = tx.clone();
            w.submit(Box::new(move |s| tx.send((i, s)).unwrap()));
        }
        assert_eq!(w.in_flight(), 2);
        let (a, sa) = rx.try_recv().unwrap();
        let (b, _sb) = rx.try_recv().unwrap();
        assert_eq!((a, b), (0, 1));
        assert!(rx.try_recv().is_err(), "the window is full");
        drop(sa);
        assert_eq!(rx.try_recv().unwrap().0, 2, "FIFO");
        // 10 000 jobs refused on the spot (slot dropped at once) must not overflow the stack.
        let w = Window::new(1);
        let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let hold = {
            let (t, r) = mpsc::channel();
            w.submit(Box::new(move |s| t.send(s).unwrap()));
            r.recv().unwrap()
        };
        for _ in 0..10_000 {
            let n = n.clone();
            w.submit(Box::new(move |_s| {
                n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }));
        }
        drop(hold);
        assert_eq!(n.load(std::sync::atomic::Ordering::SeqCst), 10_000);
        assert_eq!(w.in_flight(), 0);
        w.close();
        w.submit(Box::new(|_s| unreachable!("closed")));
    }
}
