//! The state one session shares between its callers and its I/O thread: session facts,
//! connection changes and the failure paths.
//!
//! The sending half lives in [`send`].
//!
//! Lock order where two meet: writer, then outbox, then inflight, then registry. No lock is
//! held while user code runs.

use std::collections::VecDeque;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use parking_lot::{Condvar, Mutex};

use super::events::{EventDispatcher, EventItem};
use super::hosts::ConnectString;
use super::pending::{Completion, Pending, Queued};
use super::registry::WatchRegistry;
use super::stream::Stream;
use super::watcher::{SharedWatcher, WatchedEvent};
use crate::error::Error;
use crate::proto::{AuthPacket, KeeperState, Request};

mod send;

use send::auth_frame;
pub(crate) use send::{connect_deadline, with_connect_deadline};

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
    /// The session expired; the handle is dead (a new session needs a new handle). Either a
    /// server said so, or no server has spoken to the handle for 4/3 of the negotiated
    /// session timeout (by then the server has expired it: a handle locked out of every
    /// server does not stay `Connecting` for ever).
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

/// Everything the builder decided. Its `Debug` leaves the secrets out.
#[derive(Clone)]
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
    /// TLS settings (feature `tls`).
    pub transport: super::stream::Transport,
    /// SASL DIGEST-MD5 credentials, run on every new connection (feature `sasl`).
    #[cfg(feature = "sasl")]
    pub sasl: Option<crate::auth::SaslDigest>,
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("SessionConfig");
        d.field("connect", &self.connect)
            .field("session_timeout", &self.session_timeout)
            .field("connection_timeout", &self.connection_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("can_be_read_only", &self.can_be_read_only)
            .field("session_id", &self.session.as_ref().map(|(id, _)| *id))
            .field("max_buffer", &self.max_buffer)
            .field("transport", &self.transport);
        #[cfg(feature = "sasl")]
        d.field("sasl", &self.sasl);
        d.finish_non_exhaustive()
    }
}

/// Session facts learned from the server. Its `Debug` leaves the password out.
#[derive(Clone)]
pub(crate) struct SessionInfo {
    pub state: States,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub negotiated: Duration,
    /// Connected to a read-write server at least once with this session.
    pub seen_rw: bool,
}

impl std::fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionInfo")
            .field("state", &self.state)
            .field("session_id", &format_args!("{:#x}", self.session_id))
            .field("negotiated", &self.negotiated)
            .field("seen_rw", &self.seen_rw)
            .finish_non_exhaustive()
    }
}

/// The connection's write side. Its lock serializes writes and nothing else (over TLS it
/// also keeps encrypted records in the order they were made).
struct Writer {
    conn: Option<Stream>,
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
    /// Pings and SetWatches on the wire, in order, each with the xid of the last request
    /// written before it (see `special_reply`).
    pub specials: VecDeque<(i32, Option<i32>)>,
}

/// The state shared by a handle, its callers and its I/O thread.
pub(crate) struct SessionShared {
    pub cfg: SessionConfig,
    writer: Mutex<Writer>,
    outbox: Mutex<Outbox>,
    /// A handle on the socket for shutting it down without the writer lock (which a
    /// writer blocked on a full socket may hold).
    shutdown_handle: Mutex<Option<TcpStream>>,
    /// This session, for the event thread's list of sessions to flush after a callback.
    weak_self: std::sync::Weak<SessionShared>,
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
    /// The hosts that failed since the last connection (written by the I/O thread).
    pub(crate) outage: Mutex<super::outage::Outage>,
    /// Read-only mode: the probe thread's stop handle, and what it found.
    pub(crate) ro_probe: Mutex<Option<Sender<()>>>,
    pub(crate) rw_found: Mutex<Option<super::hosts::HostPort>>,
    /// Called (on whichever thread notices) when the session expires, before anything else
    /// can run on the event thread: the framework replaces the handle there, so that a
    /// callback blocked on the event thread cannot hold up the new session.
    pub(crate) on_expired: Option<Arc<dyn Fn() + Send + Sync>>,
    /// The servers and the order the I/O thread tries them in; `update_server_list`
    /// changes them while the session lives.
    pub(crate) hosts: Arc<super::hosts::HostRing>,
}

impl SessionShared {
    pub(crate) fn new(
        cfg: SessionConfig,
        default_watcher: Option<SharedWatcher>,
        events: EventDispatcher,
        auth: Vec<AuthPacket>,
        wake: Sender<()>,
        on_expired: Option<Arc<dyn Fn() + Send + Sync>>,
    ) -> Arc<SessionShared> {
        let (session_id, passwd) = cfg.session.clone().unwrap_or((0, vec![0; 16]));
        let resumed = session_id != 0;
        Arc::new_cyclic(|weak_self| SessionShared {
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
            outage: Mutex::default(),
            ro_probe: Mutex::new(None),
            rw_found: Mutex::new(None),
            on_expired,
            hosts: Arc::new(super::hosts::HostRing::new(
                cfg.connect.hosts.clone(),
                crate::random::seed(),
            )),
            cfg,
        })
    }

    // ------------------------------------------------------------------ session facts

    pub(crate) fn info(&self) -> SessionInfo {
        self.info.lock().clone()
    }

    pub(crate) fn state(&self) -> States {
        self.info.lock().state
    }

    pub(crate) fn update_info(&self, f: impl FnOnce(&mut SessionInfo)) {
        let mut i = self.info.lock();
        f(&mut i);
        self.info_cv.notify_all();
    }

    /// Waits until `pred` holds for the state, or the timeout passes; returns the last state.
    pub(crate) fn wait_state(&self, timeout: Duration, pred: impl Fn(States) -> bool) -> States {
        // A timeout too large to add waits without a limit.
        let deadline = Instant::now().checked_add(timeout);
        let mut i = self.info.lock();
        while !pred(i.state) {
            match deadline {
                Some(d) => {
                    if self.info_cv.wait_until(&mut i, d).timed_out() {
                        break;
                    }
                }
                None => self.info_cv.wait(&mut i),
            }
        }
        i.state
    }

    pub(crate) fn last_zxid(&self) -> i64 {
        self.last_zxid.load(Ordering::Acquire)
    }

    /// Records the zxid of a reply (the I/O thread's `ZxidGuard` vouched for it).
    pub(crate) fn set_last_zxid(&self, zxid: i64) {
        self.last_zxid.store(zxid, Ordering::Release);
    }

    /// Takes `last_zxid` back to `zxid` if it is ahead of it (a reply that raised it was
    /// exposed as corrupt by the next one).
    pub(crate) fn rollback_zxid(&self, zxid: i64) {
        let was = self.last_zxid.fetch_min(zxid, Ordering::AcqRel);
        if was > zxid {
            log::warn!(
                "last zxid {was:#x} taken back to {zxid:#x}: a reply carried a corrupt zxid"
            );
        }
    }

    /// Matches a ping or SetWatches reply (`xid`) with what was sent: one must be expected,
    /// and every request written before it answered (replies come in order, so a request
    /// still waiting means its reply was lost or disguised).
    pub(crate) fn special_reply(&self, xid: i32) -> std::result::Result<(), String> {
        let mut inf = self.inflight.lock();
        match inf.specials.pop_front() {
            Some((x, behind)) if x == xid => match behind {
                Some(b) if inf.pending.iter().any(|p| p.xid == b) => {
                    Err(format!("reply to xid {xid} overtook the reply to xid {b}"))
                }
                _ => Ok(()),
            },
            other => Err(format!(
                "a reply with xid {xid} while {:?} was expected",
                other.map(|o| o.0)
            )),
        }
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    /// True once the I/O thread must leave (the close handshake is over).
    pub(crate) fn should_stop(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Tells the I/O thread to leave and wakes it.
    pub(crate) fn stop_io(&self) {
        self.stop.store(true, Ordering::Release);
        self.detach();
        let _ = self.wake.send(());
    }

    /// Marks the handle closing (no new requests, no reconnect); true for the first caller
    /// only.
    pub(crate) fn begin_close(&self) -> bool {
        !self.closing.swap(true, Ordering::AcqRel)
    }

    // ------------------------------------------------------------------ connection changes

    /// Makes a freshly handshaken connection the current one: replays auth, restores watches,
    /// sends what was queued while disconnected, in that order, then lets callers write.
    pub(crate) fn install(&self, stream: Stream, setwatches: &[Vec<u8>]) {
        *self.shutdown_handle.lock() = stream.tcp().try_clone().ok();
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
                self.inflight
                    .lock()
                    .specials
                    .push_back((crate::proto::xid::SET_WATCHES, None));
                ob.out.extend_from_slice(f);
            }
            let now = Instant::now();
            while let Some(mut q) = ob.queued.pop_front() {
                if q.completion.is_abandoned() {
                    continue;
                }
                if q.deadline <= now {
                    q.completion
                        .complete(Err(self.connection_loss()), &self.events);
                    continue;
                }
                // Its caller may give up at this very moment: then it is not sent.
                if !q.completion.mark_sent() {
                    continue;
                }
                let xid = ob.take_xid();
                q.frame[4..8].copy_from_slice(&xid.to_be_bytes());
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

    pub(crate) fn set_handshaking(&self, s: Option<TcpStream>) {
        *self.handshaking.lock() = s;
    }

    /// Detaches the current connection (new requests queue) and shuts its socket down, and
    /// any handshake in progress with it.
    pub(crate) fn detach(&self) {
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
            c.shutdown();
        }
    }

    /// Takes an xid for a request written outside the outbox (the SASL exchange, which runs
    /// before a connection is installed).
    #[cfg(feature = "sasl")]
    pub(crate) fn take_xid(&self) -> i32 {
        self.outbox.lock().take_xid()
    }

    /// Fails every request on the wire with `err`, in FIFO order (callbacks keep their order
    /// on the event thread).
    pub(crate) fn fail_inflight(&self, err: &Error) {
        let taken = std::mem::take(&mut *self.inflight.lock());
        for p in taken.pending {
            p.completion.complete(Err(err.clone()), &self.events);
        }
        for c in taken.auth.into_iter().flatten() {
            c.complete(Err(err.clone()), &self.events);
        }
    }

    /// Fails queued (unsent) requests: all of them, or only those past their deadline.
    pub(crate) fn fail_queued(&self, err: &Error, only_expired: bool) {
        let now = Instant::now();
        let failed: Vec<Queued> = {
            let mut ob = self.outbox.lock();
            if only_expired
                && !ob
                    .queued
                    .iter()
                    .any(|q| q.deadline <= now || q.completion.is_abandoned())
            {
                return; // the common case: nothing to move
            }
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
    pub(crate) fn terminate(&self, state: States, err: Error, ks: KeeperState) {
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
    pub(crate) fn emit_state(&self, state: KeeperState) {
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

impl SessionShared {
    /// The `ConnectionLoss` for a request or operation that gave up waiting for a
    /// connection: with the hosts tried so far in this outage.
    pub(crate) fn connection_loss(&self) -> Error {
        Error::ConnectionLoss {
            tried: self.outage.lock().snapshot(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{OpCode, Reader, Record, ReplyHeader, RequestHeader};

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
