//! The state one session shares between its callers and its I/O thread, and the send path.
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
//!
//! Lock order where two meet: writer, then outbox, then inflight, then registry. No lock is
//! held while user code runs.

use std::collections::VecDeque;
use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use parking_lot::{Condvar, Mutex};

use super::events::{EventDispatcher, EventItem};
use super::hosts::ConnectString;
use super::pending::{Completion, OneShot, Pending, Queued, Reply, WatchReg};
use super::registry::WatchRegistry;
use super::watcher::{SharedWatcher, WatchedEvent};
use crate::error::Error;
use crate::proto::frame::{begin_frame, end_frame};
use crate::proto::{AuthPacket, KeeperState, OpCode, Record, Request, RequestHeader};

/// The life of a handle, as `ZooKeeper::state()` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum States {
    /// Not connected; trying the hosts (also after a connection was lost).
    Connecting,
    /// Connected to a read-write server.
    Connected,
    /// Connected to a read-only server (writes fail with `NotReadOnly`).
    ConnectedReadOnly,
    /// Authentication failed; the handle is dead.
    AuthFailed,
    /// The session expired; the handle is dead (a new session needs a new handle).
    Expired,
    /// Closed by the user.
    Closed,
}

impl States {
    /// True while the handle may still (re)connect and serve requests.
    pub fn is_alive(self) -> bool {
        matches!(
            self,
            States::Connecting | States::Connected | States::ConnectedReadOnly
        )
    }

    /// True while connected (read-write or read-only).
    pub fn is_connected(self) -> bool {
        matches!(self, States::Connected | States::ConnectedReadOnly)
    }

    /// The error a request gets from a dead handle.
    pub(crate) fn dead_error(self) -> Option<Error> {
        match self {
            States::AuthFailed => Some(Error::AuthFailed),
            States::Expired => Some(Error::SessionExpired),
            States::Closed => Some(Error::Closed),
            _ => None,
        }
    }
}

/// Everything the builder decided.
#[derive(Debug, Clone)]
pub(crate) struct SessionConfig {
    pub connect: ConnectString,
    pub session_timeout: Duration,
    pub connection_timeout: Duration,
    pub request_timeout: Duration,
    pub close_timeout: Duration,
    pub can_be_read_only: bool,
    pub session: Option<(i64, Vec<u8>)>,
    /// Largest request frame sent and (plus slack) reply frame accepted.
    pub max_buffer: usize,
}

/// Session facts learned from the server.
#[derive(Debug, Clone)]
pub(crate) struct SessionInfo {
    pub state: States,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub negotiated: Duration,
    /// Connected to a read-write server at least once with this session.
    pub seen_rw: bool,
}

/// The socket's write side. Its lock serializes writes and nothing else.
struct Writer {
    conn: Option<TcpStream>,
    /// The buffer being written (swapped with the outbox's, so neither is reallocated).
    spare: Vec<u8>,
}

/// Ordering state: xids, frames not yet written, requests held while disconnected.
struct Outbox {
    /// A connection is installed: frames go to `out`; otherwise requests wait in `queued`.
    connected: bool,
    next_xid: i32,
    out: Vec<u8>,
    queued: VecDeque<Queued>,
    /// Auth packets to replay on every new connection, with the caller waiting for the
    /// first answer to one added while disconnected.
    auth: Vec<(AuthPacket, Option<Completion>)>,
}

/// Replies the I/O thread is waiting for.
#[derive(Default)]
pub(crate) struct Inflight {
    pub pending: VecDeque<Pending>,
    /// One entry per auth packet on the wire; auth replies bypass the FIFO (the server answers
    /// them at once, ahead of earlier requests) but come back in order among themselves.
    pub auth: VecDeque<Option<Completion>>,
}

/// The state shared by a handle, its callers and its I/O thread.
pub(crate) struct Core {
    pub cfg: SessionConfig,
    writer: Mutex<Writer>,
    outbox: Mutex<Outbox>,
    /// A handle on the socket for shutting it down without the writer lock (which a
    /// writer blocked on a full socket may hold).
    shutdown_handle: Mutex<Option<TcpStream>>,
    /// This core, for the event thread's list of cores to flush after a callback.
    weak_self: std::sync::Weak<Core>,
    pub inflight: Mutex<Inflight>,
    pub registry: Mutex<WatchRegistry>,
    /// Watched requests in flight, by path (see `registry::InFlight`).
    pub watch_inflight: super::registry::InFlight,
    pub default_watcher: Option<SharedWatcher>,
    pub events: EventDispatcher,
    info: Mutex<SessionInfo>,
    info_cv: Condvar,
    last_zxid: AtomicI64,
    /// Microseconds since `epoch` of the last write to the socket (drives pings).
    last_send: AtomicU64,
    /// The same for the last flush after replies (`flush_buffered`): a recent one means
    /// replies are flowing, so buffering an asynchronous request costs little.
    last_replies: AtomicU64,
    epoch: Instant,
    closing: AtomicBool,
    /// Set by close() once the session is closed: the I/O thread leaves.
    stop: AtomicBool,
    /// Wakes the I/O thread from a backoff sleep.
    pub wake: Sender<()>,
    /// The socket of a handshake in progress, so that close() can cut it short.
    handshaking: Mutex<Option<TcpStream>>,
    /// Read-only mode: the probe thread's stop handle, and what it found.
    pub(crate) ro_probe: Mutex<Option<Sender<()>>>,
    pub(crate) rw_found: Mutex<Option<super::hosts::HostPort>>,
    /// Called (on whichever thread notices) when the session expires, before anything else
    /// can run on the event thread: the framework replaces the handle there, so that a
    /// callback blocked on the event thread cannot hold up the new session.
    pub(crate) on_expired: Option<Arc<dyn Fn() + Send + Sync>>,
}

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
    /// On an event thread: cores whose asynchronous requests wait for the end of the
    /// current callback to be flushed (see the module docs).
    static CORKED: std::cell::RefCell<Option<Vec<std::sync::Weak<Core>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Makes the calling thread (an event thread) cork asynchronous requests until
/// [`flush_corked`].
pub(crate) fn cork_this_thread() {
    CORKED.with(|c| *c.borrow_mut() = Some(Vec::new()));
}

/// Flushes what callbacks on this thread sent asynchronously.
pub(crate) fn flush_corked() {
    let cores = CORKED.with(|c| c.borrow_mut().as_mut().map(std::mem::take));
    for core in cores.into_iter().flatten() {
        if let Some(core) = core.upgrade() {
            core.flush();
        }
    }
}

impl Core {
    pub fn new(
        cfg: SessionConfig,
        default_watcher: Option<SharedWatcher>,
        events: EventDispatcher,
        auth: Vec<AuthPacket>,
        wake: Sender<()>,
        on_expired: Option<Arc<dyn Fn() + Send + Sync>>,
    ) -> Arc<Core> {
        let (session_id, passwd) = cfg.session.clone().unwrap_or((0, vec![0; 16]));
        let resumed = session_id != 0;
        Arc::new_cyclic(|weak_self| Core {
            writer: Mutex::new(Writer {
                conn: None,
                spare: Vec::new(),
            }),
            outbox: Mutex::new(Outbox {
                connected: false,
                next_xid: 1,
                out: Vec::new(),
                queued: VecDeque::new(),
                auth: auth.into_iter().map(|a| (a, None)).collect(),
            }),
            shutdown_handle: Mutex::new(None),
            weak_self: weak_self.clone(),
            inflight: Mutex::new(Inflight::default()),
            registry: Mutex::new(WatchRegistry::default()),
            watch_inflight: Default::default(),
            default_watcher,
            events,
            info: Mutex::new(SessionInfo {
                state: States::Connecting,
                session_id,
                passwd,
                negotiated: cfg.session_timeout,
                seen_rw: resumed,
            }),
            info_cv: Condvar::new(),
            last_zxid: AtomicI64::new(0),
            last_send: AtomicU64::new(0),
            last_replies: AtomicU64::new(0),
            epoch: Instant::now(),
            closing: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            wake,
            handshaking: Mutex::new(None),
            ro_probe: Mutex::new(None),
            rw_found: Mutex::new(None),
            on_expired,
            cfg,
        })
    }

    // ------------------------------------------------------------------ session facts

    pub fn info(&self) -> SessionInfo {
        self.info.lock().clone()
    }

    pub fn state(&self) -> States {
        self.info.lock().state
    }

    pub fn update_info(&self, f: impl FnOnce(&mut SessionInfo)) {
        let mut i = self.info.lock();
        f(&mut i);
        self.info_cv.notify_all();
    }

    /// Waits until `pred` holds for the state, or the timeout passes; returns the last state.
    pub fn wait_state(&self, timeout: Duration, pred: impl Fn(States) -> bool) -> States {
        let deadline = Instant::now() + timeout;
        let mut i = self.info.lock();
        while !pred(i.state) {
            if self.info_cv.wait_until(&mut i, deadline).timed_out() {
                break;
            }
        }
        i.state
    }

    pub fn last_zxid(&self) -> i64 {
        self.last_zxid.load(Ordering::Acquire)
    }

    pub fn saw_zxid(&self, zxid: i64) {
        self.last_zxid.fetch_max(zxid, Ordering::AcqRel);
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// True once the I/O thread must leave (the close handshake is over).
    pub fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Tells the I/O thread to leave and wakes it.
    pub fn stop_io(&self) {
        self.stop.store(true, Ordering::Release);
        self.detach();
        let _ = self.wake.send(());
    }

    /// Marks the handle closing (no new requests, no reconnect); true for the first caller
    /// only.
    pub fn begin_close(&self) -> bool {
        !self.closing.swap(true, Ordering::AcqRel)
    }

    pub fn micros_since_send(&self) -> u64 {
        self.micros_since(&self.last_send)
    }

    fn micros_since(&self, at: &AtomicU64) -> u64 {
        let now = self.epoch.elapsed().as_micros() as u64;
        now.saturating_sub(at.load(Ordering::Relaxed))
    }

    fn note_send(&self) {
        self.last_send
            .store(self.epoch.elapsed().as_micros() as u64, Ordering::Relaxed);
    }

    // ------------------------------------------------------------------ sending

    /// Hands a request to the session. Its outcome reaches `completion` exactly once.
    pub fn submit(&self, req: &Request, watch: Option<WatchReg>, completion: Completion) {
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

    /// Synchronous form: submits and waits up to the request timeout.
    pub fn call(&self, req: &Request, watch: Option<WatchReg>) -> Reply {
        let slot = OneShot::new();
        self.submit(req, watch, Completion::Sync(slot.clone()));
        slot.wait(self.cfg.request_timeout)
    }

    #[allow(clippy::type_complexity)]
    fn try_submit(
        &self,
        req: &Request,
        watch: Option<WatchReg>,
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
                return Err(Box::new((
                    Error::InvalidArgument(format!(
                        "request of {len} bytes exceeds the {} byte packet limit (jute.maxbuffer)",
                        self.cfg.max_buffer
                    )),
                    completion,
                )));
            }
            let mut ob = self.outbox.lock();
            // Re-check under the lock: close() and expiry drain the queue under it.
            if let Some(e) = self.state().dead_error() {
                return Err(Box::new((e, completion)));
            }
            if ob.connected {
                let xid = ob.take_xid();
                buf[4..8].copy_from_slice(&xid.to_be_bytes());
                completion.mark_sent();
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
                ob.queued.push_back(Queued {
                    frame: buf.clone(),
                    op,
                    watch,
                    completion,
                    deadline: Instant::now() + self.cfg.request_timeout,
                });
            }
            Ok(Queue::Now)
        })
    }

    /// Writes what asynchronous requests left buffered; the I/O thread calls it after
    /// handling the replies of one read.
    pub fn flush_buffered(&self) {
        self.last_replies
            .store(self.epoch.elapsed().as_micros() as u64, Ordering::Relaxed);
        if !self.outbox.lock().out.is_empty() {
            self.flush();
        }
    }

    /// Flushes now, or, for an asynchronous request made by a callback on the event thread,
    /// when that callback returns.
    fn flush_or_cork(&self, sync: bool) {
        if !sync {
            let corked = CORKED.with(|c| {
                let mut c = c.borrow_mut();
                let Some(list) = c.as_mut() else {
                    return false;
                };
                if !list.iter().any(|w| w.ptr_eq(&self.weak_self)) {
                    list.push(self.weak_self.clone());
                }
                true
            });
            if corked {
                return;
            }
        }
        self.flush();
    }

    /// Writes what is buffered, unless another thread is writing (it will, after its
    /// current write: every writer re-checks the buffer after unlocking).
    pub fn flush(&self) {
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
                            let _ = c.shutdown(Shutdown::Both);
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
    pub fn add_auth(&self, packet: AuthPacket, waiter: Option<Completion>) {
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
    pub fn try_ping(&self) {
        const PING: [u8; 12] = [0, 0, 0, 8, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11];
        {
            let mut ob = self.outbox.lock();
            if !ob.connected {
                return;
            }
            ob.out.extend_from_slice(&PING);
        }
        self.flush();
    }

    // ------------------------------------------------------------------ connection changes

    /// Makes a freshly handshaken connection the current one: replays auth, restores watches,
    /// sends what was queued while disconnected, in that order, then lets callers write.
    pub fn install(&self, stream: TcpStream, setwatches: &[Vec<u8>]) {
        *self.shutdown_handle.lock() = stream.try_clone().ok();
        let mut w = self.writer.lock();
        w.conn = Some(stream);
        {
            let mut ob = self.outbox.lock();
            ob.connected = true;
            ob.out.clear();
            let mut auth = Vec::with_capacity(ob.auth.len());
            for (p, waiter) in ob.auth.iter_mut() {
                auth.push((auth_frame(p), waiter.take()));
            }
            for (f, waiter) in auth {
                self.inflight.lock().auth.push_back(waiter);
                ob.out.extend_from_slice(&f);
            }
            for f in setwatches {
                ob.out.extend_from_slice(f);
            }
            let now = Instant::now();
            while let Some(mut q) = ob.queued.pop_front() {
                if q.completion.is_abandoned() {
                    continue;
                }
                if q.deadline <= now {
                    q.completion
                        .complete(Err(Error::ConnectionLoss), &self.events);
                    continue;
                }
                let xid = ob.take_xid();
                q.frame[4..8].copy_from_slice(&xid.to_be_bytes());
                q.completion.mark_sent();
                self.inflight.lock().pending.push_back(Pending {
                    xid,
                    op: q.op,
                    watch: q.watch,
                    completion: q.completion,
                });
                ob.out.extend_from_slice(&q.frame);
            }
        }
        drop(w);
        self.flush();
    }

    pub fn set_handshaking(&self, s: Option<TcpStream>) {
        *self.handshaking.lock() = s;
    }

    /// Detaches the current connection (new requests queue) and shuts its socket down, and
    /// any handshake in progress with it.
    pub fn detach(&self) {
        if let Some(s) = self.handshaking.lock().take() {
            let _ = s.shutdown(Shutdown::Both);
        }
        {
            // New requests queue from now on; frames not yet written belong to requests on
            // the FIFO, which fail with the connection.
            let mut ob = self.outbox.lock();
            ob.connected = false;
            ob.out.clear();
        }
        // Unblocks a writer stuck on a full socket before waiting for its lock.
        if let Some(s) = self.shutdown_handle.lock().take() {
            let _ = s.shutdown(Shutdown::Both);
        }
        let mut w = self.writer.lock();
        if let Some(c) = w.conn.take() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    /// Fails every request on the wire with `err`, in FIFO order (callbacks keep their order
    /// on the event thread).
    pub fn fail_inflight(&self, err: &Error) {
        let taken = std::mem::take(&mut *self.inflight.lock());
        for p in taken.pending {
            p.completion.complete(Err(err.clone()), &self.events);
        }
        for c in taken.auth.into_iter().flatten() {
            c.complete(Err(err.clone()), &self.events);
        }
    }

    /// Fails queued (unsent) requests: all of them, or only those past their deadline.
    pub fn fail_queued(&self, err: &Error, only_expired: bool) {
        let now = Instant::now();
        let failed: Vec<Queued> = {
            let mut ob = self.outbox.lock();
            if only_expired {
                let (keep, out): (VecDeque<Queued>, VecDeque<Queued>) = ob
                    .queued
                    .drain(..)
                    .partition(|q| q.deadline > now && !q.completion.is_abandoned());
                ob.queued = keep;
                out.into()
            } else {
                ob.queued.drain(..).collect()
            }
        };
        for q in failed {
            if !q.completion.is_abandoned() {
                q.completion.complete(Err(err.clone()), &self.events);
            }
        }
    }

    /// Makes the handle dead: everything pending fails with `err`, watchers hear `ks`, the
    /// watch registry is emptied. Idempotent: only the first call acts.
    pub fn terminate(&self, state: States, err: Error, ks: KeeperState) {
        let mut first = false;
        self.update_info(|i| {
            if i.state.is_alive() {
                i.state = state;
                first = true;
            }
        });
        if !first {
            return;
        }
        log::warn!("session {:#x}: {err}", self.info().session_id);
        self.detach();
        self.stop_ro_probe();
        self.fail_inflight(&err);
        self.fail_queued(&err, false);
        self.emit_state(ks);
        self.registry.lock().clear();
        if state == States::Expired {
            if let Some(f) = &self.on_expired {
                f();
            }
        }
    }

    /// Delivers a connection state change to the default watcher and every registered
    /// watcher (each once), as the Java client does.
    pub fn emit_state(&self, state: KeeperState) {
        let mut watchers = Vec::new();
        if let Some(d) = &self.default_watcher {
            watchers.push(d.clone());
        }
        for w in self.registry.lock().all() {
            if !watchers.iter().any(|x| x.same_as(&w)) {
                watchers.push(w);
            }
        }
        if !watchers.is_empty() {
            self.events.send(EventItem::Watch {
                event: WatchedEvent::state_change(state),
                watchers,
            });
        }
    }
}

impl Outbox {
    fn take_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid = if x == i32::MAX { 1 } else { x + 1 };
        x
    }
}

fn auth_frame(p: &AuthPacket) -> Vec<u8> {
    let mut b = Vec::with_capacity(32 + p.scheme.len() + p.auth.len());
    crate::proto::frame::encode_request(&mut b, crate::proto::xid::AUTH, &Request::Auth(p.clone()));
    b
}

/// Encodes the SetWatches / SetWatches2 frames that restore `paths`, each batch's path bytes
/// under 128 KiB (as the Java client splits them), SetWatches2 only for batches holding
/// persistent watches so that 3.4/3.5 servers keep working.
pub(crate) fn set_watches_frames(
    relative_zxid: i64,
    paths: super::registry::WatchPaths,
) -> Vec<Vec<u8>> {
    use crate::proto::{SetWatches, SetWatches2};
    const MAX_BATCH: usize = 128 * 1024;
    let mut frames = Vec::new();
    let mut lists: [Vec<String>; 5] = [
        paths.data,
        paths.exist,
        paths.child,
        paths.persistent,
        paths.recursive,
    ];
    let mut batch: [Vec<String>; 5] = Default::default();
    let mut size = 0usize;
    let flush = |batch: &mut [Vec<String>; 5], frames: &mut Vec<Vec<u8>>| {
        if batch.iter().all(Vec::is_empty) {
            return;
        }
        let [d, e, c, p, r] = std::mem::take(batch);
        let req = if p.is_empty() && r.is_empty() {
            Request::SetWatches(SetWatches {
                relative_zxid,
                data_watches: d,
                exist_watches: e,
                child_watches: c,
            })
        } else {
            Request::SetWatches2(SetWatches2 {
                relative_zxid,
                data_watches: d,
                exist_watches: e,
                child_watches: c,
                persistent_watches: p,
                persistent_recursive_watches: r,
            })
        };
        let mut b = Vec::new();
        crate::proto::frame::encode_request(&mut b, crate::proto::xid::SET_WATCHES, &req);
        frames.push(b);
    };
    for (i, list) in lists.iter_mut().enumerate() {
        for p in list.drain(..) {
            if size + p.len() > MAX_BATCH && size > 0 {
                flush(&mut batch, &mut frames);
                size = 0;
            }
            size += p.len();
            batch[i].push(p);
        }
    }
    flush(&mut batch, &mut frames);
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Reader, ReplyHeader};

    #[test]
    fn set_watches_batches_stay_under_128k_and_pick_the_op() {
        let mut paths = super::super::registry::WatchPaths::default();
        for i in 0..20_000 {
            paths
                .data
                .push(format!("/some/rather/long/path/for/watch/{i:08}"));
        }
        let frames = set_watches_frames(7, paths);
        assert!(frames.len() > 1);
        let mut total = 0;
        for f in &frames {
            assert!(f.len() < 128 * 1024 + 64 * 1024, "{}", f.len());
            let mut r = Reader::new(&f[4..]);
            let h = RequestHeader::decode(&mut r).unwrap();
            assert_eq!(h.xid, -8);
            assert_eq!(h.op, OpCode::SetWatches.code());
            match Request::decode(OpCode::SetWatches, &mut r).unwrap() {
                Request::SetWatches(s) => {
                    assert_eq!(s.relative_zxid, 7);
                    total += s.data_watches.len();
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(total, 20_000);

        let paths = super::super::registry::WatchPaths {
            recursive: vec!["/r".into()],
            ..Default::default()
        };
        let frames = set_watches_frames(1, paths);
        assert_eq!(frames.len(), 1);
        let h = RequestHeader::decode(&mut Reader::new(&frames[0][4..])).unwrap();
        assert_eq!(h.op, OpCode::SetWatches2.code());
        let _ = ReplyHeader::default();
    }

    #[test]
    fn xids_wrap_to_one() {
        let mut w = Outbox {
            connected: false,
            next_xid: i32::MAX,
            out: Vec::new(),
            queued: VecDeque::new(),
            auth: Vec::new(),
        };
        assert_eq!(w.take_xid(), i32::MAX);
        assert_eq!(w.take_xid(), 1);
    }
}
