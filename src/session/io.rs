//! The I/O thread (`zk-io`): connects, handshakes, reads every frame, completes requests,
//! turns notifications into events, pings when idle and reconnects when the connection dies.
//!
//! It never runs user code: completions go to a waiting caller's one-shot slot or, for
//! callbacks, onto the event thread's channel. A watch is registered *before* the next frame
//! is read, so a notification that follows a reply always finds the watch its request set.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use socket2::{Domain, Protocol, Socket, TcpKeepalive, Type};

use super::events::EventItem;
use super::hosts::{HostPort, HostRing};
use super::pending::{Pending, Sink};
#[cfg(feature = "sasl")]
use super::sasl::SaslError;
use super::shared::{set_watches_frames, SessionShared, States};
use super::stream::{is_timeout, Stream};
use super::watcher::WatchedEvent;
use super::zxid::ZxidGuard;
use crate::error::{Error, HostFailureKind, Result};
use crate::path;
use crate::proto::frame::{encode_record_frame, FRAME_SLACK};
use crate::proto::{
    xid, ConnectRequest, ConnectResponse, ErrorCode, EventType, FrameReader, KeeperState, OpCode,
    Reader, Record, ReplyHeader, Response, WatcherEvent,
};

/// Why a connection ended.
enum End {
    /// The user closed the handle.
    Closing,
    /// The connection broke; reconnect.
    Lost(String),
    /// The server refused our credentials; the handle is dead.
    AuthFailed,
    /// A read-write server was found while connected read-only: move there.
    MoveTo(HostPort),
}

/// Starts the I/O thread. `done` is dropped when the thread exits, so `close()` can wait for
/// it with a bound.
pub(crate) fn spawn(
    core: Arc<SessionShared>,
    wake: Receiver<()>,
    done: Sender<()>,
    seed: u64,
) -> Result<JoinHandle<()>> {
    let ring = core.hosts.clone();
    let max_frame = core.cfg.max_buffer + FRAME_SLACK;
    thread::Builder::new()
        .name("zk-io".into())
        .spawn(move || {
            let _done = done;
            let now = Instant::now();
            IoLoop {
                core,
                ring,
                reader: FrameReader::new(max_frame),
                wake,
                rng: seed | 1,
                heard: now,
                clock: now,
                zxids: ZxidGuard::new(now),
            }
            .run()
        })
        .map_err(Error::from)
}

struct IoLoop {
    core: Arc<SessionShared>,
    ring: Arc<HostRing>,
    reader: FrameReader,
    wake: Receiver<()>,
    rng: u64,
    /// When a server last spoke to this handle (a frame, or a handshake answer).
    heard: Instant,
    /// The clock as last read by the read loop (frames are judged with it: one reading
    /// per pass, not per frame).
    clock: Instant,
    zxids: ZxidGuard,
}

impl IoLoop {
    fn run(mut self) {
        loop {
            if self.core.is_closing() || self.core.should_stop() {
                return;
            }
            // Requests queued while disconnected give up at their deadline.
            self.core.fail_queued(&self.core.connection_loss(), true);
            if self.session_gone() {
                self.terminate(States::Expired, Error::SessionExpired, KeeperState::Expired);
                return;
            }
            let host = self.ring.next_host();
            self.core.outage.lock().trying(host.to_string());
            let (stream, resp) = match self.connect(&host) {
                Ok(x) => x,
                Err(why) => {
                    if self.core.is_closing() {
                        continue;
                    }
                    self.failed(&host, why);
                    self.ring.failed();
                    if self.ring.cycle_failed() {
                        self.backoff();
                    }
                    continue;
                }
            };
            self.ring.connected();
            self.heard = Instant::now();
            if resp.is_expired() {
                self.terminate(States::Expired, Error::SessionExpired, KeeperState::Expired);
                return;
            }
            let stream = match self.on_connected(stream, &resp, &host) {
                Ok(s) => s,
                Err(End::AuthFailed) => {
                    self.terminate(
                        States::AuthFailed,
                        Error::AuthFailed,
                        KeeperState::AuthFailed,
                    );
                    return;
                }
                Err(e) => {
                    if let End::Lost(why) = e {
                        log::debug!("setting up the connection to {host} failed: {why}");
                    }
                    self.lost();
                    continue;
                }
            };
            self.core.outage.lock().connected();
            match self.serve(&stream) {
                End::Closing => return,
                End::AuthFailed => {
                    self.terminate(
                        States::AuthFailed,
                        Error::AuthFailed,
                        KeeperState::AuthFailed,
                    );
                    return;
                }
                End::Lost(why) => {
                    if self.core.is_closing() || self.core.should_stop() {
                        return;
                    }
                    log::info!("connection to {host} lost: {why}");
                    self.lost();
                }
                End::MoveTo(rw) => {
                    log::info!("read-write server {rw} found; leaving read-only {host}");
                    self.ring.prefer(&rw);
                    self.lost();
                }
            }
        }
    }

    /// Records a failed attempt on `host`: logged at `warn!` the first time this host
    /// fails in an outage, at `debug!` after that (a retry loop does not flood the log).
    fn failed(&self, host: &HostPort, why: HostFailureKind) {
        let first = self
            .core
            .outage
            .lock()
            .failed(&host.to_string(), why.clone());
        if first {
            log::warn!("cannot connect to {host}: {why}");
        } else {
            log::debug!("cannot connect to {host}: {why}");
        }
    }

    /// Opens a connection to one host (TCP, then TLS if configured) and completes the
    /// handshake.
    fn connect(
        &mut self,
        host: &HostPort,
    ) -> std::result::Result<(Stream, ConnectResponse), HostFailureKind> {
        let hosts = self.ring.len().max(1) as u32;
        let per_host =
            (self.core.cfg.session_timeout / hosts).min(self.core.cfg.connection_timeout);
        let per_host = per_host.max(Duration::from_millis(100));
        let addrs = host.resolve().map_err(HostFailureKind::Unresolved)?;
        let mut last = HostFailureKind::Other("no address to try".into());
        for addr in addrs {
            match self.handshake(addr, &host.host, per_host) {
                Ok(x) => return Ok(x),
                Err(e) => last = HostFailureKind::of(&e),
            }
            if self.core.is_closing() {
                break;
            }
        }
        Err(last)
    }

    fn handshake(
        &mut self,
        addr: SocketAddr,
        host: &str,
        timeout: Duration,
    ) -> Result<(Stream, ConnectResponse)> {
        let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        sock.set_nodelay(true)?;
        let _ = sock.set_tcp_keepalive(&TcpKeepalive::new().with_time(Duration::from_secs(30)));
        sock.connect_timeout(&addr.into(), timeout)?;
        let tcp: TcpStream = sock.into();
        tcp.set_read_timeout(Some(timeout))?;
        tcp.set_write_timeout(Some(timeout))?;
        self.core.set_handshaking(Some(tcp.try_clone()?));
        // The TLS handshake (if any) is part of the attempt: a certificate problem fails
        // this host, reported with its cause.
        let stream = Stream::open(tcp, &self.core.cfg.transport, host)?;
        let info = self.core.info();
        // A session born on a read-only server is local to it: start afresh until one has
        // been connected to a read-write server (as the Java client does).
        let (sid, pw) = if info.seen_rw || !self.core.cfg.can_be_read_only {
            (info.session_id, info.passwd.clone())
        } else {
            (0, vec![0; 16])
        };
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: self.core.last_zxid(),
            timeout: millis_i32(self.core.cfg.session_timeout),
            session_id: sid,
            passwd: pw,
            read_only: Some(self.core.cfg.can_be_read_only),
        };
        let mut buf = Vec::with_capacity(64);
        encode_record_frame(&mut buf, &req);
        (&stream).write_all(&buf)?;
        self.reader.reset();
        let resp = {
            let frame = self.reader.read_frame(&mut &stream).map_err(io_error)?;
            ConnectResponse::decode(&mut Reader::new(frame))?
        };
        self.core.set_handshaking(None);
        if self.core.is_closing() {
            return Err(Error::Closed);
        }
        Ok((stream, resp))
    }

    /// Records the new session facts, announces the connection, authenticates with SASL if
    /// configured, replays auth and watches, and releases queued requests.
    fn on_connected(
        &mut self,
        stream: Stream,
        resp: &ConnectResponse,
        host: &HostPort,
    ) -> std::result::Result<Stream, End> {
        let lost = |e: io::Error| End::Lost(e.to_string());
        let negotiated = Duration::from_millis(resp.timeout.max(1) as u64);
        let read_timeout = negotiated * 2 / 3;
        let tcp = stream.tcp();
        tcp.set_write_timeout(Some(read_timeout.max(Duration::from_millis(10))))
            .map_err(lost)?;
        tcp.set_read_timeout(Some(tick(read_timeout)))
            .map_err(lost)?;
        let ro = resp.is_read_only();
        let writer = stream.try_clone().map_err(lost)?;
        let old = self.core.info();
        if old.session_id != 0 && old.session_id != resp.session_id {
            log::info!(
                "new session {:#x} replaces {:#x}",
                resp.session_id,
                old.session_id
            );
        }
        self.core.update_info(|i| {
            i.session_id = resp.session_id;
            i.passwd = resp.passwd.clone();
            i.negotiated = negotiated;
            i.seen_rw |= !ro;
        });
        // The server accepted the lastZxidSeen of the handshake: its zxids start there.
        self.zxids.connected(self.core.last_zxid());
        log::info!(
            "connected to {host}, session {:#x}, timeout {} ms{}",
            resp.session_id,
            resp.timeout,
            if ro { " (read-only)" } else { "" }
        );
        let connected = if ro {
            KeeperState::ConnectedReadOnly
        } else {
            KeeperState::SyncConnected
        };
        // Without SASL, watchers hear SyncConnected once the handle *is* connected (below),
        // so that whoever learns of the connection from the event (the framework's
        // `block_until_connected`, a watcher) finds `state()` connected too. With SASL,
        // they hear it before the exchange, as ZooKeeper's own client orders them.
        #[cfg(feature = "sasl")]
        let mut connected = Some(connected);
        // (Without the `sasl` feature no builder can ask for SASL.)
        #[cfg(feature = "sasl")]
        if let Some(creds) = &self.core.cfg.sasl {
            if let Some(state) = connected.take() {
                self.core.emit_state(state);
            }
            let deadline = Instant::now() + read_timeout;
            match super::sasl::authenticate(&self.core, &stream, &mut self.reader, creds, deadline)
            {
                Ok(()) => {
                    log::info!("SASL DIGEST-MD5: authenticated as {}", creds.user);
                    self.core.emit_state(KeeperState::SaslAuthenticated);
                }
                Err(SaslError::Refused(why)) => {
                    log::warn!(
                        "SASL DIGEST-MD5 authentication as {} failed: {why}",
                        creds.user
                    );
                    return Err(End::AuthFailed);
                }
                Err(SaslError::Lost(why)) => {
                    // Watchers heard SyncConnected: they hear this connection end too.
                    self.core.emit_state(KeeperState::Disconnected);
                    return Err(End::Lost(format!("SASL: {why}")));
                }
            }
        }
        let frames = {
            let paths = self.core.registry.lock().paths();
            if paths.is_empty() {
                Vec::new()
            } else {
                set_watches_frames(self.core.last_zxid(), paths)
            }
        };
        self.core.install(writer, &frames);
        // Connected only now: a caller woken by the state change writes straight to the
        // socket, behind the replayed auth and watches.
        self.core.update_info(|i| {
            i.state = if ro {
                States::ConnectedReadOnly
            } else {
                States::Connected
            };
        });
        #[cfg(feature = "sasl")]
        if let Some(state) = connected {
            self.core.emit_state(state);
        }
        #[cfg(not(feature = "sasl"))]
        self.core.emit_state(connected);
        if ro {
            self.core
                .start_ro_probe(host.clone(), self.ring.hosts().to_vec());
        }
        Ok(stream)
    }

    /// Reads and handles frames until the connection ends.
    fn serve(&mut self, stream: &Stream) -> End {
        let negotiated = self.core.info().negotiated;
        let read_timeout = negotiated * 2 / 3;
        let ping_every = (negotiated / 3).as_micros() as u64;
        self.heard = Instant::now();
        self.clock = self.heard;
        let mut batch: Vec<EventItem> = Vec::new();
        loop {
            let res = self.reader.read_frame(&mut &*stream);
            // One clock reading per pass serves the flush, the silence and the ping checks.
            let now = match res {
                Ok(frame) => {
                    // A caller woken by a sync reply must not overtake, with what it does
                    // next (close, say), events decoded before its reply: flush first.
                    let r = handle_frame(
                        &self.core,
                        &mut self.zxids,
                        self.clock,
                        frame,
                        &mut BatchSink {
                            items: &mut batch,
                            events: &self.core.events,
                        },
                    );
                    if let Err(end) = r {
                        self.flush(&mut batch);
                        return end;
                    }
                    // Everything one read brought goes to the event thread at once.
                    if self.reader.has_frame() {
                        continue;
                    }
                    let now = Instant::now();
                    self.core.flush_buffered(now);
                    self.flush(&mut batch);
                    self.heard = now;
                    now
                }
                Err(e) if is_timeout(&e) => Instant::now(),
                Err(e) => {
                    self.flush(&mut batch);
                    return End::Lost(e.to_string());
                }
            };
            // Closing alone is not enough: the closeSession reply is still to be read.
            if self.core.should_stop() {
                return End::Closing;
            }
            if let Some(rw) = self.core.take_rw_found() {
                return End::MoveTo(rw);
            }
            if self.ring.take_move() {
                return End::Lost("the server list changed: moving to another server".into());
            }
            self.clock = now;
            let silent = now.saturating_duration_since(self.heard);
            if silent >= read_timeout {
                return End::Lost(format!("no reply for {} ms", silent.as_millis()));
            }
            if self.core.micros_since_send(now) >= ping_every {
                self.core.try_ping();
            }
        }
    }

    fn flush(&self, batch: &mut Vec<EventItem>) {
        match batch.len() {
            0 => {}
            1 => {
                if let Some(i) = batch.pop() {
                    self.core.events.send(i);
                }
            }
            _ => self
                .core
                .events
                .send(EventItem::Batch(std::mem::take(batch))),
        }
    }

    /// The connection broke: requests on the wire fail with ConnectionLoss (in order), then
    /// watchers hear Disconnected.
    fn lost(&mut self) {
        self.core.detach();
        self.core.stop_ro_probe();
        self.core.fail_inflight(&Error::CONNECTION_LOSS);
        let was_connected = self.core.state().is_connected();
        self.core.update_info(|i| {
            if i.state.is_alive() {
                i.state = States::Connecting;
            }
        });
        if was_connected {
            self.core.emit_state(KeeperState::Disconnected);
        }
    }

    /// True when the session cannot be alive any more: it has one, and no server has spoken
    /// to this handle for 4/3 of the negotiated timeout (the server expires it after the
    /// timeout, rounded up to its next tick; the Java client uses the same 4/3 since
    /// ZOOKEEPER-4508). Without this a handle locked out of every server (all down, or all
    /// refusing its lastZxidSeen) would stay `Connecting` for ever. A handle without a
    /// session yet keeps trying.
    fn session_gone(&self) -> bool {
        let info = self.core.info();
        info.session_id != 0 && self.heard.elapsed() > info.negotiated * 4 / 3
    }

    /// The handle is dead (expired or auth failed): everything fails, watchers hear why.
    fn terminate(&mut self, state: States, err: Error, ks: KeeperState) {
        self.core.terminate(state, err, ks);
    }

    /// Sleeps after a whole cycle of hosts failed: 50 ms doubling to 1 s, with jitter so
    /// that many clients do not retry in step; a wake-up (close) cuts it short.
    fn backoff(&mut self) {
        let cycles = self.ring.failed_cycles().clamp(1, 6) as u32;
        let base = Duration::from_millis(50) * 2u32.pow(cycles - 1);
        let base = base.min(Duration::from_secs(1));
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let jitter = Duration::from_micros(self.rng % (base.as_micros() as u64 / 4 + 1));
        let _ = self.wake.recv_timeout(base + jitter);
    }
}

/// Handles one frame read at about `now`. A frame with a header field no server sends (an
/// error code outside ZooKeeper's range, an implausible zxid, a special reply nobody asked
/// for) is corrupt: the connection is dropped, as for a frame that does not decode.
fn handle_frame(
    core: &SessionShared,
    zx: &mut ZxidGuard,
    now: Instant,
    frame: &[u8],
    sink: &mut dyn Sink,
) -> std::result::Result<(), End> {
    let mut r = Reader::new(frame);
    let h = ReplyHeader::decode(&mut r).map_err(|e| End::Lost(e.to_string()))?;
    // KeeperException codes are -1..=-127 so far; leave room for new ones.
    if !(-999..=0).contains(&h.err) {
        return Err(End::Lost(format!(
            "frame with xid {} carries error code {}",
            h.xid, h.err
        )));
    }
    match h.xid {
        xid::NOTIFICATION => {
            if h.err != 0 {
                return Err(End::Lost(format!("notification with error {}", h.err)));
            }
            zx.notification(h.zxid, now).map_err(|e| End::Lost(e.why))?;
            notification(core, &h, &mut r, sink)
        }
        xid::PING | xid::SET_WATCHES => {
            check_zxid(core, zx, &h, now)?;
            core.special_reply(h.xid).map_err(End::Lost)?;
            zx.accept(h.zxid, now);
            if h.err != 0 {
                log::debug!("reply to xid {} carried error {}", h.xid, h.err);
            }
            Ok(())
        }
        xid::AUTH => {
            let waiter = core
                .inflight
                .lock()
                .auth
                .pop_front()
                .ok_or_else(|| End::Lost("an auth reply nobody asked for".into()))?;
            let failed = h.err == ErrorCode::AuthFailed.code();
            if let Some(w) = waiter {
                w.complete_into(
                    if h.err == 0 {
                        Ok(Response::Empty)
                    } else {
                        Err(Error::from_code(h.err, ""))
                    },
                    sink,
                );
            }
            if failed {
                return Err(End::AuthFailed);
            }
            Ok(())
        }
        _ => reply(core, zx, now, &h, &mut r, sink),
    }
}

/// Judges a reply's zxid; an implausible one drops the connection, after undoing the
/// previous frame's zxid if this one shows that it was the lie.
fn check_zxid(
    core: &SessionShared,
    zx: &ZxidGuard,
    h: &ReplyHeader,
    now: Instant,
) -> std::result::Result<(), End> {
    zx.check_reply(h.zxid, now).map_err(|e| {
        if let Some(z) = e.rollback {
            core.rollback_zxid(z);
        }
        End::Lost(e.why)
    })
}

fn reply(
    core: &SessionShared,
    zx: &mut ZxidGuard,
    now: Instant,
    h: &ReplyHeader,
    r: &mut Reader<'_>,
    sink: &mut dyn Sink,
) -> std::result::Result<(), End> {
    let p = core.inflight.lock().pending.pop_front();
    let Some(Pending {
        xid,
        op,
        watch,
        completion,
    }) = p
    else {
        return Err(End::Lost(format!(
            "reply with xid {} but nothing pending",
            h.xid
        )));
    };
    if xid != h.xid {
        let why = format!("reply xid {} does not match pending xid {xid}", h.xid);
        completion.complete_into(Err(Error::CONNECTION_LOSS), sink);
        return Err(End::Lost(why));
    }
    if let Err(end) = check_zxid(core, zx, h, now) {
        completion.complete_into(Err(Error::CONNECTION_LOSS), sink);
        return Err(end);
    }
    let (result, end) = if h.err != 0 {
        (Err(Error::from_code(h.err, "")), None)
    } else {
        match Response::decode(op, r) {
            Ok(resp) => (Ok(resp), None),
            Err(e) => (
                Err(Error::CONNECTION_LOSS),
                Some(End::Lost(format!("malformed reply to {op:?}: {e}"))),
            ),
        }
    };
    if end.is_none() && zx.accept(h.zxid, now) {
        core.set_last_zxid(h.zxid);
    }
    // The watch is registered (exists: also on NoNode) before the next frame is read, and
    // its in-flight mark is gone before the caller wakes.
    if let Some(w) = watch {
        let kind = match &result {
            Ok(_) => Some(w.on_ok),
            Err(Error::NoNode { .. }) if op == OpCode::Exists => w.on_no_node,
            Err(_) => None,
        };
        if let Some(kind) = kind {
            core.registry.lock().add(kind, &w.path, w.watcher.clone());
        }
    }
    completion.complete_into(result, sink);
    match end {
        Some(end) => Err(end),
        None => Ok(()),
    }
}

fn notification(
    core: &SessionShared,
    h: &ReplyHeader,
    r: &mut Reader<'_>,
    sink: &mut dyn Sink,
) -> std::result::Result<(), End> {
    let ev = WatcherEvent::decode(r).map_err(|e| End::Lost(e.to_string()))?;
    let (Ok(et), Ok(ks)) = (
        EventType::try_from(ev.event_type),
        KeeperState::try_from(ev.state),
    ) else {
        log::warn!(
            "ignoring notification with unknown type {} / state {}",
            ev.event_type,
            ev.state
        );
        return Ok(());
    };
    let watchers = core.registry.lock().trigger(et, &ev.path);
    if watchers.is_empty() {
        return Ok(());
    }
    let client_path = match &core.cfg.connect.chroot {
        Some(c) => path::strip_prefix(c, &ev.path).to_string(),
        None => ev.path,
    };
    sink.push(EventItem::Watch {
        event: WatchedEvent::new(et, ks, Some(client_path)).with_zxid(h.zxid),
        watchers,
    });
    Ok(())
}

/// Collects what one read decodes for the event thread; flushes before a synchronous caller
/// is woken, so that nothing the caller does next can overtake earlier events.
struct BatchSink<'a> {
    items: &'a mut Vec<EventItem>,
    events: &'a super::events::EventDispatcher,
}

impl Sink for BatchSink<'_> {
    fn push(&mut self, item: EventItem) {
        self.items.push(item);
    }

    fn before_wake(&mut self) {
        if !self.items.is_empty() {
            self.events
                .send(EventItem::Batch(std::mem::take(self.items)));
        }
    }
}

/// How often the read loop wakes when idle: fine enough to notice a silent server within the
/// read timeout and to ping in time.
fn tick(read_timeout: Duration) -> Duration {
    (read_timeout / 8).max(Duration::from_millis(5))
}

fn io_error(e: io::Error) -> Error {
    // A TLS failure keeps its cause (reported per host); other invalid data is a protocol
    // error.
    let tls = e.get_ref().is_some_and(|i| i.is::<crate::TlsFailure>());
    if e.kind() == io::ErrorKind::InvalidData && !tls {
        Error::Protocol(e.to_string())
    } else {
        Error::from(e)
    }
}

fn millis_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
