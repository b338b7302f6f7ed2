//! One client connection: a reader thread (`zk-test-conn-N`) that performs the handshake and
//! applies requests in order, and a writer thread (`zk-test-conn-N-out`) that drains the
//! connection's [`Outbox`]. A four-letter word instead of a first frame is answered here too.
//!
//! Anything a client controls ends, at worst, its own connection: frames are length-checked
//! before they are buffered, bodies are decoded without panics, and every decode error is
//! answered (MarshallingError) or closes the connection with a log line.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::faults::Faults;
use super::fourlw;
use super::ops::ConnCtx;
use super::outbox::Outbox;
use super::request::{self, Handled};
#[cfg(feature = "sasl")]
use super::sasl::{Answer, SaslServer};
use super::shared::{ConnEntry, ServerShared, State};
use super::stats::MemberShared;
use super::watches::ConnId;

/// Without the `sasl` feature there is no DIGEST-MD5 exchange to keep state for.
#[cfg(not(feature = "sasl"))]
#[derive(Default)]
struct SaslServer;
use crate::proto::frame::{self, FrameReader, MAX_PACKET};
use crate::proto::{ConnectRequest, ConnectResponse, Reader, Record, ReplyHeader};
use crate::session::stream::Stream;

/// How long a connection may sit before its first frame.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a TLS handshake may take (feature `tls`).
#[cfg(feature = "tls")]
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Conn {
    pub id: ConnId,
    pub core: Arc<ServerShared>,
    pub member: Arc<MemberShared>,
    pub stream: TcpStream,
    pub addr: SocketAddr,
}

impl Conn {
    /// The reader thread's body: runs until the connection closes, then joins its writer.
    pub(crate) fn run(self) {
        let faults = Arc::clone(&self.member.faults);
        let stream = match self.open() {
            Ok(s) => s,
            Err(e) => {
                log::debug!("connection {} from {}: {e}", self.id, self.addr);
                return;
            }
        };
        let Ok(out_stream) = stream.try_clone() else {
            return;
        };
        let outbox = Arc::new(Outbox::new(out_stream, Arc::clone(&faults)));
        let writer = {
            let outbox = Arc::clone(&outbox);
            std::thread::Builder::new()
                .name(format!("zk-test-conn-{}-out", self.id))
                .spawn(move || outbox.run_writer())
        };
        let Ok(writer) = writer else {
            log::warn!("could not start a writer thread; dropping the connection");
            outbox.kill();
            return;
        };
        match self.serve(&stream, &outbox, &faults) {
            // A malformed or oversized frame is the client's fault and worth a warning;
            // EOF, resets and shutdowns are how connections normally end.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                log::warn!("connection {} from {}: {e}; closing it", self.id, self.addr)
            }
            Err(e) => log::debug!("connection {} from {}: {e}", self.id, self.addr),
            Ok(()) => {}
        }
        // Whatever ended the loop, the writer flushes what the reader queued, unless killed.
        outbox.close_when_flushed();
        let _ = writer.join();
        outbox.kill();
        self.core.state.lock().unregister(self.id);
    }

    /// The connection as clients see it: plain, or TLS after a handshake (bounded).
    fn open(&self) -> io::Result<Stream> {
        let sock = self.stream.try_clone()?;
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.core.cfg.tls {
            sock.set_read_timeout(Some(TLS_HANDSHAKE_TIMEOUT))?;
            sock.set_write_timeout(Some(TLS_HANDSHAKE_TIMEOUT))?;
            let s = crate::tls::stream::TlsStream::server(sock, Arc::clone(&tls.config))?;
            s.tcp().set_write_timeout(None)?;
            return Ok(Stream::Tls(s));
        }
        Ok(Stream::Plain(sock))
    }

    fn serve(&self, stream: &Stream, outbox: &Arc<Outbox>, faults: &Faults) -> io::Result<()> {
        let _ = stream.tcp().set_nodelay(true);
        stream.tcp().set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
        let mut first = [0u8; 4];
        (&*stream).read_exact(&mut first)?;
        if let Some(text) = fourlw::answer(&self.core, &self.member, first) {
            outbox.push(|buf| buf.extend_from_slice(text.as_bytes()));
            return Ok(());
        }
        let mut frames = FrameReader::new(MAX_PACKET);
        let mut head: &[u8] = &first;
        let connect = {
            let mut src = (&mut head).chain(stream);
            let f = frames.read_frame(&mut src)?;
            ConnectRequest::decode(&mut Reader::new(f))
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?
        };
        stream.tcp().set_read_timeout(None)?;
        if !faults.wait_unpaused(|| outbox.is_open()) {
            return Ok(());
        }
        let Some(mut cx) = self.handshake(outbox, &connect) else {
            return Ok(());
        };
        // (A unit struct without the `sasl` feature.)
        #[allow(clippy::default_constructed_unit_structs)]
        let mut sasl = SaslServer::default();
        loop {
            let f = frames.read_frame(&mut &*stream)?;
            if !faults.wait_unpaused(|| outbox.is_open()) || !outbox.is_open() {
                return Ok(());
            }
            self.member.received();
            if !self.request(outbox, &mut cx, &mut sasl, f) {
                return Ok(());
            }
        }
    }

    /// Answers the ConnectRequest; `None` if the connection must close.
    fn handshake(&self, outbox: &Arc<Outbox>, req: &ConnectRequest) -> Option<ConnCtx> {
        let core = &self.core;
        let mut st = core.state.lock();
        st.txn_due = None;
        if !st.quorum || !self.member.is_up() {
            log::info!("not serving: closing connection from {}", self.addr);
            return None;
        }
        if req.last_zxid_seen > st.zxid {
            log::info!(
                "client {} has seen zxid 0x{:x}, ours is 0x{:x}: closing",
                self.addr,
                req.last_zxid_seen,
                st.zxid
            );
            return None;
        }
        let timeout = core.negotiate(req.timeout);
        let now = Instant::now();
        let (session, passwd) = if req.session_id == 0 {
            st.next_zxid(); // createSession is a txn
            st.sessions.create(timeout, now)
        } else {
            let valid = st
                .sessions
                .get(req.session_id)
                .is_some_and(|s| s.passwd[..] == req.passwd[..]);
            if !valid {
                log::info!("session 0x{:x} is expired or unknown", req.session_id);
                let resp = ConnectResponse {
                    protocol_version: 0,
                    timeout: 0,
                    session_id: 0,
                    passwd: vec![0; 16],
                    read_only: req.read_only.map(|_| false),
                };
                outbox.push(|buf| {
                    frame::encode_record_frame(buf, &resp);
                });
                return None;
            }
            // A reconnect takes the session over from any older connection.
            let sid = req.session_id;
            st.kill_conns(false, |c| c.session == sid);
            if let Some(s) = st.sessions.get_mut(sid) {
                s.timeout_ms = timeout;
            }
            st.sessions.touch(sid, now);
            (sid, super::session::password(sid))
        };
        if let Some(s) = st.sessions.get_mut(session) {
            s.conn = Some(self.id);
        }
        st.conns.insert(
            self.id,
            ConnEntry {
                outbox: Arc::clone(outbox),
                session,
                member: self.member.index,
                addr: self.addr,
                timeout_ms: timeout,
                auth: vec![ServerShared::ip_id(&self.addr)],
                received: 1,
                sent: 1,
            },
        );
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout,
            session_id: session,
            passwd: passwd.to_vec(),
            read_only: req.read_only.map(|_| false),
        };
        // A new session answers once its createSession txn commits.
        outbox.push_at(st.txn_due, |buf| {
            frame::encode_record_frame(buf, &resp);
        });
        drop(st);
        Some(ConnCtx {
            conn: self.id,
            session,
            auth: vec![ServerShared::ip_id(&self.addr)],
            extended_types: core.cfg.extended_types,
            super_digest: core.cfg.super_digest.clone(),
            sasl: Self::sasl_provider(core),
        })
    }

    /// Whether the SASL provider is registered (the server has `sasl_user`s), which makes
    /// `sasl` ACL ids valid.
    fn sasl_provider(core: &ServerShared) -> bool {
        #[cfg(feature = "sasl")]
        return !core.cfg.sasl_users.is_empty();
        #[cfg(not(feature = "sasl"))]
        {
            let _ = core;
            false
        }
    }

    /// The answer to a SASL token: error code, token, whether to close. Without SASL users
    /// there is no SASL server: 3.8 answers OK with a null token (its evaluateResponse hits
    /// a null server and the NPE is swallowed).
    #[cfg(feature = "sasl")]
    fn sasl_answer(
        &self,
        st: &mut State,
        cx: &mut ConnCtx,
        sasl: &mut SaslServer,
        token: &[u8],
    ) -> (i32, Option<Vec<u8>>, bool) {
        let users = &self.core.cfg.sasl_users;
        if users.is_empty() {
            return (0, None, false);
        }
        match sasl.step(users, token) {
            Answer::Token(t, user) => {
                if let Some(user) = user {
                    log::info!("connection {}: SASL authenticated {user}", self.id);
                    cx.auth.push(crate::proto::Id::new("sasl", user));
                    if let Some(e) = st.conns.get_mut(&self.id) {
                        e.auth = cx.auth.clone();
                    }
                }
                (0, Some(t), false)
            }
            Answer::Refuse(why) => {
                log::warn!("connection {}: SASL authentication failed: {why}", self.id);
                (super::ops::AUTH_FAILED, None, true)
            }
        }
    }

    /// Without the `sasl` feature the server has no SASL users (`sasl_user` needs it) and
    /// answers as a 3.8 server without a JAAS `Server` section: OK with a null token.
    #[cfg(not(feature = "sasl"))]
    fn sasl_answer(
        &self,
        _st: &mut State,
        _cx: &mut ConnCtx,
        _sasl: &mut SaslServer,
        _token: &[u8],
    ) -> (i32, Option<Vec<u8>>, bool) {
        (0, None, false)
    }

    /// Handles one request frame; false when the connection must close.
    fn request(
        &self,
        outbox: &Arc<Outbox>,
        cx: &mut ConnCtx,
        sasl: &mut SaslServer,
        f: &[u8],
    ) -> bool {
        let Some((header, mut r)) = request::header(f) else {
            log::warn!("connection {}: malformed request header; closing", self.id);
            return false;
        };
        let core = &self.core;
        let mut st = core.state.lock();
        st.txn_due = None;
        // The session may have expired or moved while this frame was in flight.
        let owned = st
            .sessions
            .get(cx.session)
            .is_some_and(|s| s.conn == Some(self.id));
        if !owned || !st.quorum {
            return false;
        }
        st.sessions.touch(cx.session, Instant::now());
        let op = header.op;
        match request::handle(&mut st, cx, header, &mut r) {
            Handled::Close => false,
            Handled::Sasl { xid, token } => {
                let (err, token, close) = self.sasl_answer(&mut st, cx, sasl, &token);
                let h = ReplyHeader { xid, zxid: 0, err };
                self.member.sent();
                outbox.push(|buf| {
                    let at = frame::begin_frame(buf);
                    h.encode(buf);
                    match &token {
                        Some(t) => crate::proto::codec::put_bytes(buf, t),
                        None => crate::proto::codec::put_null(buf),
                    }
                    frame::end_frame(buf, at);
                });
                if close {
                    outbox.close_when_flushed();
                }
                !close
            }
            Handled::Reply {
                xid,
                zxid,
                err,
                body,
                close,
                known,
            } => {
                if known && self.member.faults.take_fail(op) {
                    log::info!(
                        "fail_next: dropping the reply to op {op} and closing the connection"
                    );
                    outbox.close_when_flushed();
                    return false;
                }
                let due = st.txn_due;
                self.send(&mut st.conns, outbox, (xid, zxid, err), body.as_ref(), due);
                if close {
                    outbox.close_when_flushed();
                    return false;
                }
                true
            }
        }
    }

    /// Queues a reply, `(xid, zxid, err)` and body, to leave once `due` (its txn's commit).
    fn send(
        &self,
        conns: &mut std::collections::HashMap<ConnId, ConnEntry>,
        outbox: &Outbox,
        (xid, zxid, err): (i32, i64, i32),
        body: Option<&crate::proto::Response>,
        due: Option<Instant>,
    ) {
        if let Some(c) = conns.get_mut(&self.id) {
            c.received += 1;
            c.sent += 1;
        }
        self.member.sent();
        let h = ReplyHeader { xid, zxid, err };
        outbox.push_at(due, |buf| {
            frame::encode_reply(buf, &h, body);
        });
    }
}
