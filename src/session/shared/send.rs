//! The send path of a session: submitting requests, batching, flushing.
//!
//! Sending happens on the caller's thread, with no thread hop. Under the short **outbox
//! lock** a caller takes the next xid, pushes its [`Pending`] entry onto the FIFO and appends
//! its frame to the outgoing buffer, so xid order, FIFO order and byte order on the wire are
//! one order. It then *flushes*: whoever gets the **writer lock** (`try_lock`) writes
//! everything buffered with one `write` and re-checks after unlocking; a caller that finds the
//! writer busy just returns, its frame goes out with the current writer's next write. Callers
//! arriving together thus share syscalls (combining), and a caller blocked in `write` (full
//! socket buffer) never blocks anyone else. The FIFO has a lock of its own (the **inflight
//! lock**) which the I/O thread takes to pop replies; the I/O thread never waits for the
//! writer lock.
//!
//! Asynchronous requests are batched, as Nagle's algorithm batches small segments: one made
//! while no reply is pending is written at once; one made behind requests in flight stays
//! buffered until the I/O thread has handled the replies of its next read, then goes out
//! with everything buffered meanwhile in one `write` (at most [`NAGLE_MAX_BYTES`] wait).
//! Only while replies are flowing (one read handled in the last [`NAGLE_RECENT_US`]): the
//! server answers a session's requests in order, so it could not have answered the buffered
//! request before those replies anyway, and the wait costs about the gap between two reads;
//! a burst after a quiet spell is written at once, so that a slow server (a write waiting
//! for its quorum) does not make the requests behind it wait a whole round trip more. A
//! pipelining caller pays one syscall per batch instead of one per request, which on a busy
//! machine saves the server as much as the client.
//!
//! Callbacks on the event thread that send asynchronous requests are also *corked*: their
//! frames are flushed once the callback returns, so a batch of completions that each issue a
//! new request (a cache loading a tree) costs one `write`. Synchronous calls always flush.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Outbox, SessionShared, Writer};
use crate::error::Error;
use crate::proto::frame::{begin_frame, end_frame};
use crate::proto::{AuthPacket, OpCode, Record, Request, RequestHeader};
use crate::session::events::{cork, Flush, Reply};
use crate::session::pending::{Completion, OneShot, Pending, Queued, WatchReg};

/// Past this many buffered bytes an asynchronous request is written at once even with
/// replies pending (bounds the buffer; larger writes gain nothing).
const NAGLE_MAX_BYTES: usize = 64 * 1024;
/// Buffering needs replies to be flowing: none for this long (a burst after a quiet spell,
/// or a slow server) and asynchronous requests are written at once.
const NAGLE_RECENT_US: u64 = 1_000;

/// Whether a submitted request needs a flush now.
enum Queue {
    /// Written now (or queued until a connection exists).
    Now,
    /// Asynchronous, behind requests in flight: the flush after their next reply takes it.
    Behind,
}

thread_local! {
    static ENCODE_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Set by [`with_connect_deadline`]: requests made on this thread that must wait for a
    /// connection give up at this instant.
    static CONNECT_DEADLINE: std::cell::Cell<Option<Instant>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with a bound on how long the requests it makes may wait for a connection: one
/// not sent by `deadline` fails with `ConnectionLoss` (with the hosts tried), whatever the
/// request timeout. The framework runs each operation's attempts under the operation's
/// connection deadline (see `framework::exec`). Nested calls keep the earlier deadline.
pub(crate) fn with_connect_deadline<R>(deadline: Option<Instant>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CONNECT_DEADLINE.with(|c| c.set(self.0));
        }
    }
    let outer = CONNECT_DEADLINE.with(|c| c.get());
    let d = match (outer, deadline) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    CONNECT_DEADLINE.with(|c| c.set(d));
    let _restore = Restore(outer);
    f()
}

/// The connect deadline [`with_connect_deadline`] set on this thread, if any.
pub(crate) fn connect_deadline() -> Option<Instant> {
    CONNECT_DEADLINE.with(|c| c.get())
}

impl SessionShared {
    /// Microseconds from the last write to `now`.
    pub(crate) fn micros_since_send(&self, now: Instant) -> u64 {
        self.us_at(now)
            .saturating_sub(self.last_send.load(Ordering::Relaxed))
    }

    fn micros_since(&self, at: &AtomicU64) -> u64 {
        self.now_us().saturating_sub(at.load(Ordering::Relaxed))
    }

    /// Microseconds since this session's epoch: the clock of `last_send` and `last_replies`.
    fn now_us(&self) -> u64 {
        self.us_at(Instant::now())
    }

    fn us_at(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_micros() as u64
    }

    fn note_send(&self) {
        self.last_send.store(self.now_us(), Ordering::Relaxed);
    }

    // ------------------------------------------------------------------ sending

    /// Hands a request to the session. Its outcome reaches `completion` exactly once.
    pub(crate) fn submit(&self, req: &Request, watch: Option<WatchReg>, completion: Completion) {
        let sync = matches!(completion, Completion::Sync(_));
        match self.try_submit(req, watch, completion) {
            // An asynchronous request behind others in flight waits for the I/O thread's
            // flush after the next reply (see the module docs).
            Ok(Queue::Behind) if !sync => {}
            Ok(_) => self.flush_or_cork(sync),
            Err(e) => {
                // try_submit gives the completion back only on refusal.
                let (e, c) = *e;
                c.complete(Err(e), &self.events);
            }
        }
    }

    /// Synchronous form: submits and waits up to the request timeout (and, while it is
    /// not sent, up to the thread's connect deadline).
    pub(crate) fn call(&self, req: &Request, watch: Option<WatchReg>) -> Reply {
        let slot = OneShot::new();
        self.submit(req, watch, Completion::Sync(slot.clone()));
        let reply_by = Instant::now().checked_add(self.cfg.request_timeout);
        match slot.wait_until(reply_by, connect_deadline()) {
            // Gave up waiting for a connection: say which hosts failed.
            Err(Error::ConnectionLoss { tried: None }) if !slot.was_sent() => {
                Err(self.connection_loss())
            }
            r => r,
        }
    }

    #[allow(clippy::type_complexity)]
    fn try_submit(
        &self,
        req: &Request,
        mut watch: Option<WatchReg>,
        completion: Completion,
    ) -> std::result::Result<Queue, Box<(Error, Completion)>> {
        let op = req.op_code();
        if self.is_closing() && op != OpCode::CloseSession {
            return Err(Box::new((Error::Closed, completion)));
        }
        if let Some(e) = self.state().dead_error() {
            return Err(Box::new((e, completion)));
        }
        ENCODE_BUF.with(|cell| {
            let mut buf = cell.borrow_mut();
            buf.clear();
            let at = begin_frame(&mut buf);
            // xid 0 is a placeholder, patched under the outbox lock.
            RequestHeader {
                xid: 0,
                op: op.code(),
            }
            .encode(&mut buf);
            req.encode(&mut buf);
            let len = end_frame(&mut buf, at);
            if len > self.cfg.max_buffer {
                let chroot = self.cfg.connect.chroot.as_deref();
                let e = too_large(req, chroot, len, self.cfg.max_buffer);
                return Err(Box::new((e, completion)));
            }
            let mut ob = self.outbox.lock();
            // Re-check under the lock: close() and expiry drain the queue under it.
            if let Some(e) = self.state().dead_error() {
                return Err(Box::new((e, completion)));
            }
            // A watch removal chooses its request here, where its place on the wire is fixed
            // (see `registry::InFlightGuard::at_append`).
            let op = match watch.as_mut().and_then(|w| w._inflight.at_append()) {
                Some(chosen) => {
                    buf[8..12].copy_from_slice(&chosen.code().to_be_bytes());
                    chosen
                }
                None => op,
            };
            if ob.connected {
                let xid = ob.take_xid();
                buf[4..8].copy_from_slice(&xid.to_be_bytes());
                // A fresh completion: nobody can have given up on it yet.
                let _ = completion.mark_sent();
                let mut inflight = self.inflight.lock();
                // Decided under the inflight lock: a reply popped after this point is
                // followed by the I/O thread's flush, which then sees this frame.
                let behind = !inflight.pending.is_empty()
                    && ob.out.len() < NAGLE_MAX_BYTES
                    && self.micros_since(&self.last_replies) < NAGLE_RECENT_US;
                inflight.pending.push_back(Pending {
                    xid,
                    op,
                    watch,
                    completion,
                });
                drop(inflight);
                ob.out.extend_from_slice(&buf);
                if behind {
                    return Ok(Queue::Behind);
                }
            } else {
                let now = Instant::now();
                let mut deadline = now.checked_add(self.cfg.request_timeout);
                if let Some(d) = connect_deadline() {
                    if d <= now {
                        drop(ob);
                        return Err(Box::new((self.connection_loss(), completion)));
                    }
                    deadline = Some(deadline.map_or(d, |r| r.min(d)));
                }
                ob.queued.push_back(Queued {
                    frame: buf.clone(),
                    op,
                    watch,
                    completion,
                    // Far enough to never come for a request timeout too large to add.
                    deadline: deadline.unwrap_or(now + Duration::from_secs(365 * 86_400)),
                });
            }
            Ok(Queue::Now)
        })
    }

    /// Writes what asynchronous requests left buffered; the I/O thread calls it after
    /// handling the replies of one read, at `now`.
    pub(crate) fn flush_buffered(&self, now: Instant) {
        self.last_replies.store(self.us_at(now), Ordering::Relaxed);
        if !self.outbox.lock().out.is_empty() {
            self.flush();
        }
    }

    /// Flushes now, or, for an asynchronous request made by a callback on the event thread,
    /// when that callback returns.
    fn flush_or_cork(&self, sync: bool) {
        if !sync && cork(&self.weak_self) {
            return;
        }
        self.flush();
    }

    /// Writes what is buffered, unless another thread is writing (it will, after its
    /// current write: every writer re-checks the buffer after unlocking).
    pub(crate) fn flush(&self) {
        loop {
            let Some(mut w) = self.writer.try_lock() else {
                return;
            };
            loop {
                {
                    let mut ob = self.outbox.lock();
                    if ob.out.is_empty() {
                        break;
                    }
                    std::mem::swap(&mut ob.out, &mut w.spare);
                }
                let Writer { conn, spare } = &mut *w;
                if let Some(c) = conn {
                    match (&*c).write_all(spare) {
                        Ok(()) => self.note_send(),
                        Err(e) => {
                            log::debug!("write failed: {e}; dropping the connection");
                            c.shutdown();
                            *conn = None;
                        }
                    }
                }
                spare.clear();
            }
            drop(w);
            if self.outbox.lock().out.is_empty() {
                return;
            }
        }
    }

    /// Sends an auth packet now if connected (the reply completes `waiter`), and keeps it
    /// for every later connection.
    pub(crate) fn add_auth(&self, packet: AuthPacket, waiter: Option<Completion>) {
        {
            let mut ob = self.outbox.lock();
            if ob.connected {
                let frame = auth_frame(&packet);
                ob.auth.push((packet, None));
                self.inflight.lock().auth.push_back(waiter);
                ob.out.extend_from_slice(&frame);
            } else {
                // Goes out with the next handshake; the waiter hears that answer.
                ob.auth.push((packet, waiter));
                return;
            }
        }
        self.flush();
    }

    /// Sends a ping.
    pub(crate) fn try_ping(&self) {
        const PING: [u8; 12] = [0, 0, 0, 8, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11];
        {
            let mut ob = self.outbox.lock();
            if !ob.connected {
                return;
            }
            let mut inf = self.inflight.lock();
            let behind = inf.pending.back().map(|p| p.xid);
            inf.specials.push_back((crate::proto::xid::PING, behind));
            drop(inf);
            ob.out.extend_from_slice(&PING);
        }
        self.flush();
    }
}

/// The error for a request over the packet limit: which operation on which path, how much
/// of it is data, and the limit, so that the caller knows what to shrink or raise.
fn too_large(req: &Request, chroot: Option<&str>, len: usize, limit: usize) -> Error {
    let data = data_len(req);
    let op = crate::error::op_name(req.op_code());
    let what = match (req.path(), chroot) {
        (Some(p), Some(c)) => format!("{op} {}", crate::path::strip_prefix(c, p)),
        (Some(p), None) => format!("{op} {p}"),
        (None, _) => op.to_string(),
    };
    let data = if data > 0 {
        format!("{data} bytes of data make a request of {len} bytes")
    } else {
        format!("a request of {len} bytes")
    };
    Error::InvalidArgument(format!(
        "{what}: {data}, which exceeds the packet limit of {limit} bytes (max_buffer_size; the \
         servers' jute.maxbuffer must allow it too)"
    ))
}

/// The node data a request carries (create, setData, and those inside a multi).
fn data_len(req: &Request) -> usize {
    use crate::proto::MultiOp;
    let d = |d: &Option<Vec<u8>>| d.as_ref().map_or(0, Vec::len);
    match req {
        Request::Create(c) | Request::Create2(c) | Request::CreateContainer(c) => d(&c.data),
        Request::CreateTtl(c) => d(&c.data),
        Request::SetData(s) => d(&s.data),
        Request::Multi(m) | Request::MultiRead(m) => m
            .ops
            .iter()
            .map(|op| match op {
                MultiOp::Create { req, .. } => d(&req.data),
                MultiOp::CreateTtl(c) => d(&c.data),
                MultiOp::SetData(s) => d(&s.data),
                _ => 0,
            })
            .sum(),
        _ => 0,
    }
}

impl Outbox {
    pub(super) fn take_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
        x
    }
}

pub(super) fn auth_frame(p: &AuthPacket) -> Vec<u8> {
    let mut b = Vec::with_capacity(32 + p.scheme.len() + p.auth.len());
    crate::proto::frame::encode_request(&mut b, crate::proto::xid::AUTH, &Request::Auth(p.clone()));
    b
}

impl Flush for SessionShared {
    fn flush(&self) {
        SessionShared::flush(self);
    }
}
