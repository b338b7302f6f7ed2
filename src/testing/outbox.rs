//! One connection's outgoing bytes: replies and notifications appended as whole frames under
//! the server lock (so a notification is queued before the reply that follows it, in server
//! order), drained by the connection's writer thread in as few `write` calls as possible.
//!
//! Frames may carry a due time (the commit of the transaction that caused them, plus the
//! `set_latency` fault): the writer sends a frame only once it is due and never overtakes an
//! earlier frame. While the member is paused nothing is
//! written. The buffer is bounded: a client that stops reading loses its connection instead
//! of growing the server's memory.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::faults::Faults;
use crate::session::stream::Stream;

/// Pending output above this closes the connection (a client that does not read).
const MAX_PENDING: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// Flush what is queued, then close (closeSession, auth failure, unknown op, expired
    /// handshake, 4lw).
    CloseWhenFlushed,
    /// Close now, discarding what is queued.
    Dead,
}

struct Out {
    buf: Vec<u8>,
    /// Absolute stream offset of `buf[0]`.
    base: u64,
    /// Delayed frames: (due, absolute start offset). Once non-empty every frame gets an
    /// entry, so order is kept even if the latency shrinks.
    delayed: VecDeque<(Instant, u64)>,
    state: State,
    /// Set by [`Outbox::kill_now`]: close even while paused (the member is going away).
    now: bool,
}

pub(crate) struct Outbox {
    out: Mutex<Out>,
    cv: Condvar,
    stream: Stream,
    faults: Arc<Faults>,
}

impl Outbox {
    pub(crate) fn new(stream: Stream, faults: Arc<Faults>) -> Outbox {
        Outbox {
            out: Mutex::new(Out {
                buf: Vec::with_capacity(4096),
                base: 0,
                delayed: VecDeque::new(),
                state: State::Open,
                now: false,
            }),
            cv: Condvar::new(),
            stream,
            faults,
        }
    }

    /// Appends one frame written by `encode`, to be sent now (plus the latency fault).
    /// Returns false if the connection is closing or was closed for having too much unread
    /// output.
    pub(crate) fn push(&self, encode: impl FnOnce(&mut Vec<u8>)) -> bool {
        self.push_at(None, encode)
    }

    /// [`push`](Self::push) for a frame that may not leave before `due` (its transaction's
    /// commit), plus the latency fault.
    pub(crate) fn push_at(&self, due: Option<Instant>, encode: impl FnOnce(&mut Vec<u8>)) -> bool {
        let latency = self.faults.latency();
        let mut o = self.out.lock();
        if o.state != State::Open {
            return false;
        }
        let start = o.base + o.buf.len() as u64;
        encode(&mut o.buf);
        if due.is_some() || !latency.is_zero() || !o.delayed.is_empty() {
            o.delayed
                .push_back((due.unwrap_or_else(Instant::now) + latency, start));
        }
        if o.buf.len() > MAX_PENDING {
            log::warn!(
                "connection has {} unread bytes queued: closing it",
                o.buf.len()
            );
            o.state = State::Dead;
            drop(o);
            self.cv.notify_all();
            self.stream.shutdown();
            return false;
        }
        drop(o);
        self.cv.notify_one();
        true
    }

    /// Closes after everything queued so far has been written.
    pub(crate) fn close_when_flushed(&self) {
        let mut o = self.out.lock();
        if o.state == State::Open {
            o.state = State::CloseWhenFlushed;
        }
        drop(o);
        self.cv.notify_all();
    }

    /// Closes now: queued output is dropped and the socket shut down, which also wakes the
    /// connection's reader. While the member is paused (a partition) the client could not
    /// see the close, so the shutdown waits for the resume (the writer does it).
    pub(crate) fn kill(&self) {
        self.out.lock().state = State::Dead;
        self.cv.notify_all();
        if !self.faults.paused() {
            self.stream.shutdown();
        }
    }

    /// Closes now even while paused: the member stops, so nothing is left to hide.
    pub(crate) fn kill_now(&self) {
        {
            let mut o = self.out.lock();
            o.state = State::Dead;
            o.now = true;
        }
        self.cv.notify_all();
        self.stream.shutdown();
    }

    pub(crate) fn is_open(&self) -> bool {
        self.out.lock().state == State::Open
    }

    /// Wakes the writer (after a resume).
    pub(crate) fn kick(&self) {
        self.cv.notify_all();
    }

    /// The writer thread's loop: runs until the connection closes.
    pub(crate) fn run_writer(&self) {
        let mut stream = &self.stream;
        let mut spare: Vec<u8> = Vec::with_capacity(4096);
        loop {
            let mut o = self.out.lock();
            // Bounded by the connection's life: every wait either returns data, sees the
            // state change to closing, or times out and re-checks.
            let n = loop {
                if o.state == State::Dead {
                    if self.faults.paused() && !o.now {
                        self.cv.wait_for(&mut o, Duration::from_millis(50));
                        continue;
                    }
                    drop(o);
                    self.stream.shutdown();
                    return;
                }
                if self.faults.paused() {
                    self.cv.wait_for(&mut o, Duration::from_millis(50));
                    continue;
                }
                let now = Instant::now();
                while o.delayed.front().is_some_and(|&(due, _)| due <= now) {
                    o.delayed.pop_front();
                }
                let limit = match o.delayed.front() {
                    Some(&(_, start)) => (start - o.base) as usize,
                    None => o.buf.len(),
                };
                if limit > 0 {
                    break limit;
                }
                if o.buf.is_empty() && o.state == State::CloseWhenFlushed {
                    drop(o);
                    self.stream.shutdown();
                    return;
                }
                match o.delayed.front() {
                    Some(&(due, _)) => {
                        let wait = due.saturating_duration_since(now);
                        self.cv.wait_for(&mut o, wait);
                    }
                    None => {
                        self.cv.wait_for(&mut o, Duration::from_millis(500));
                    }
                }
            };
            // Take the writable prefix; the common case (everything) swaps buffers.
            spare.clear();
            if n == o.buf.len() {
                std::mem::swap(&mut spare, &mut o.buf);
            } else {
                spare.extend_from_slice(&o.buf[..n]);
                o.buf.drain(..n);
            }
            o.base += n as u64;
            drop(o);
            if let Err(e) = stream.write_all(&spare) {
                log::debug!("write failed: {e}");
                self.kill();
                return;
            }
            if spare.capacity() > 1024 * 1024 {
                spare = Vec::with_capacity(4096);
            }
        }
    }
}
