//! [`RawConn`]: the one raw-protocol test client. A client connection spoken by hand with
//! `zk_curator::proto` over a plain `TcpStream`, one request at a time, no session engine.
//! Tests use it to prove the codec against real ZooKeeper and to drive the in-process
//! server where the crate's own client would hide what the server does (odd frames,
//! unknown op codes, a session resumed on another member); the differential test drives
//! both servers with it, so it assumes nothing of the server.
//!
//! Two layers: the fallible one ([`try_connect`](RawConn::try_connect), [`call`](RawConn::call),
//! [`read_reply`](RawConn::read_reply), ...) returns `io::Result` so a test can assert that a
//! server refuses or drops something; the asserting shorthands ([`connect`](RawConn::connect),
//! [`handshake`](RawConn::handshake), [`ok`](RawConn::ok), [`expect_closed`](RawConn::expect_closed))
//! panic with a message when the server does not do the expected thing.
//!
//! Every reply body must decode with no byte left over. Notifications (xid -1) may arrive at
//! any time, even before the reply of the request that triggered them; the reply readers set
//! them aside in [`RawConn::events`] in arrival order.

use std::borrow::Borrow;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use zk_curator::proto::raw::{self, FrameReader, DEFAULT_MAX_FRAME};
use zk_curator::proto::{
    xid, Acl, ConnectRequest, ConnectResponse, CreateRequest, GetDataRequest, OpCode, Reader,
    Record, ReplyHeader, Request, RequestHeader, Response, Stat, WatcherEvent,
};
use zk_curator::Error;

/// How long any single read may wait for the server.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where to connect: a loopback port (`u16`) or a `host:port` string.
pub trait Target {
    /// The `host:port` to connect to.
    fn addr(&self) -> String;
}

impl Target for u16 {
    fn addr(&self) -> String {
        format!("127.0.0.1:{self}")
    }
}

impl Target for str {
    fn addr(&self) -> String {
        self.to_string()
    }
}

impl Target for String {
    fn addr(&self) -> String {
        self.clone()
    }
}

impl<T: Target + ?Sized> Target for &T {
    fn addr(&self) -> String {
        (**self).addr()
    }
}

/// A raw, handshaken connection.
#[derive(Debug)]
pub struct RawConn {
    /// The socket, for tests that change its read timeout.
    pub sock: TcpStream,
    frames: FrameReader,
    next_xid: i32,
    /// The server's handshake answer (session id, password, negotiated timeout).
    pub session: ConnectResponse,
    /// Length of the ConnectResponse body (36 without the read-only byte, 37 with it).
    pub handshake_len: usize,
    /// Notifications received so far and not yet taken, with their reply headers.
    pub events: VecDeque<(ReplyHeader, WatcherEvent)>,
    /// The highest zxid seen (in the handshake request or any reply), for resuming.
    pub last_zxid: i64,
}

/// The reply to one request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub header: ReplyHeader,
    /// The decoded body when `err == 0` and the reply has one.
    pub body: Option<Response>,
}

impl Answer {
    /// The reply's error code (0 for success).
    pub fn err(&self) -> i32 {
        self.header.err
    }

    /// Header and body, for `let (h, body) = ...`.
    pub fn into_parts(self) -> (ReplyHeader, Option<Response>) {
        (self.header, self.body)
    }
}

/// A ConnectRequest with the read-only byte set to `false`.
pub fn connect_req(
    timeout: i32,
    session_id: i64,
    passwd: Vec<u8>,
    last_zxid: i64,
) -> ConnectRequest {
    ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: last_zxid,
        timeout,
        session_id,
        passwd,
        read_only: Some(false),
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn open(to: &impl Target) -> io::Result<TcpStream> {
    let addr: SocketAddr = to
        .addr()
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other(format!("no address for {}", to.addr())))?;
    let sock = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    sock.set_nodelay(true)?;
    sock.set_read_timeout(Some(REPLY_TIMEOUT))?;
    Ok(sock)
}

impl RawConn {
    // ---- connecting

    /// A new session asking for `timeout` ms; an error if the server refuses it.
    pub fn try_connect(to: impl Target, timeout: i32) -> io::Result<RawConn> {
        let (conn, resp) = RawConn::try_handshake(to, &connect_req(timeout, 0, vec![0; 16], 0))?;
        if resp.is_expired() {
            return Err(io::Error::other("session refused"));
        }
        Ok(conn)
    }

    /// Sends `req` as the first frame; returns the connection and the server's answer
    /// (also kept in [`session`](Self::session)).
    pub fn try_handshake(
        to: impl Target,
        req: &ConnectRequest,
    ) -> io::Result<(RawConn, ConnectResponse)> {
        let sock = open(&to)?;
        let mut buf = Vec::new();
        raw::encode_record_frame(&mut buf, req);
        (&sock).write_all(&buf)?;
        let mut conn = RawConn {
            sock,
            frames: FrameReader::new(DEFAULT_MAX_FRAME),
            next_xid: 1,
            session: ConnectResponse::default(),
            handshake_len: 0,
            events: VecDeque::new(),
            last_zxid: req.last_zxid_seen,
        };
        let body = conn.read_frame()?;
        conn.session = ConnectResponse::decode_exact(&body).map_err(io::Error::other)?;
        conn.handshake_len = body.len();
        let resp = conn.session.clone();
        Ok((conn, resp))
    }

    /// Resumes this session on a new connection to `to`.
    pub fn resume(&self, to: impl Target) -> io::Result<(RawConn, ConnectResponse)> {
        RawConn::try_handshake(
            to,
            &connect_req(
                self.session.timeout,
                self.session.session_id,
                self.session.passwd.clone(),
                self.last_zxid,
            ),
        )
    }

    /// Opens a new session (30 s timeout requested), panicking if that fails.
    pub fn connect(to: impl Target) -> RawConn {
        let addr = to.addr();
        RawConn::try_connect(to, 30_000)
            .unwrap_or_else(|e| panic!("connect a raw session to {addr}: {e}"))
    }

    /// [`try_handshake`](Self::try_handshake) that panics on failure and returns the length
    /// of the ConnectResponse body (36 or 37) instead of the response.
    pub fn handshake(to: impl Target, req: &ConnectRequest) -> (RawConn, usize) {
        let addr = to.addr();
        let (conn, _) = RawConn::try_handshake(to, req)
            .unwrap_or_else(|e| panic!("handshake with {addr}: {e}"));
        let len = conn.handshake_len;
        (conn, len)
    }

    // ---- sending

    /// Writes `bytes` as they are (half frames, garbage, oversized lengths).
    pub fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        (&self.sock).write_all(bytes)
    }

    /// The xid the next normal request uses.
    pub fn next_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid += 1;
        x
    }

    /// The xid `req` is sent with: ping -2 and auth -4, otherwise the next normal xid.
    fn xid_for(&mut self, req: &Request) -> i32 {
        match req {
            Request::Ping => xid::PING,
            Request::Auth(_) => xid::AUTH,
            _ => self.next_xid(),
        }
    }

    /// Sends `req` with the xid [`call`](Self::call) would use and returns that xid.
    pub fn send(&mut self, req: &Request) -> io::Result<i32> {
        let x = self.xid_for(req);
        self.send_with_xid(x, req)?;
        Ok(x)
    }

    /// Sends `req` with `xid` (normal or special, e.g. setWatches -8).
    pub fn send_with_xid(&mut self, xid: i32, req: &Request) -> io::Result<()> {
        let mut buf = Vec::new();
        raw::encode_request(&mut buf, xid, req);
        self.send_bytes(&buf)
    }

    /// Sends a frame holding `header` and `body` as given (unknown op codes, odd bodies).
    pub fn send_raw(&mut self, header: RequestHeader, body: &[u8]) -> io::Result<()> {
        let mut buf = Vec::new();
        let at = raw::begin_frame(&mut buf);
        header.encode(&mut buf);
        buf.extend_from_slice(body);
        raw::end_frame(&mut buf, at);
        self.send_bytes(&buf)
    }

    // ---- receiving

    /// The next frame's payload, whatever it is, waiting up to the socket's read timeout
    /// ([`REPLY_TIMEOUT`] unless a test changed it).
    pub fn read_frame(&mut self) -> io::Result<Vec<u8>> {
        Ok(self.frames.read_frame(&mut &self.sock)?.to_vec())
    }

    /// The next non-notification frame: its header and the undecoded body. Notifications
    /// read on the way are queued in [`events`](Self::events).
    pub fn read_reply(&mut self) -> io::Result<(ReplyHeader, Vec<u8>)> {
        loop {
            let f = self.read_frame()?;
            let mut r = Reader::new(&f);
            let h = ReplyHeader::decode(&mut r).map_err(io::Error::other)?;
            if h.xid == xid::NOTIFICATION {
                let ev = WatcherEvent::decode_exact(r.rest()).map_err(io::Error::other)?;
                self.events.push_back((h, ev));
                continue;
            }
            return Ok((h, r.rest().to_vec()));
        }
    }

    /// Sends `req` (by value or by reference) with the xid of [`send`](Self::send) and waits
    /// for its reply; notifications that arrive first are queued. An error if the reply
    /// answers another xid or its body does not decode to the last byte.
    pub fn call(&mut self, req: impl Borrow<Request>) -> io::Result<Answer> {
        let req = req.borrow();
        let x = self.xid_for(req);
        self.call_with_xid(x, req)
    }

    /// [`call`](Self::call) with a given xid (ping -2, auth -4, setWatches -8).
    pub fn call_with_xid(&mut self, xid: i32, req: &Request) -> io::Result<Answer> {
        self.send_with_xid(xid, req)?;
        let (header, body) = self.read_reply()?;
        if header.xid != xid {
            return Err(io::Error::other(format!(
                "{:?} sent with xid {xid} answered by xid {}",
                req.op_code(),
                header.xid
            )));
        }
        if header.zxid > 0 {
            self.last_zxid = self.last_zxid.max(header.zxid);
        }
        let body = if header.err == 0 {
            Some(decode_reply(req.op_code(), &body)?)
        } else {
            None
        };
        Ok(Answer { header, body })
    }

    /// The oldest queued notification, waiting up to `within` for one if none is queued.
    pub fn next_event(&mut self, within: Duration) -> io::Result<(ReplyHeader, WatcherEvent)> {
        if let Some(e) = self.events.pop_front() {
            return Ok(e);
        }
        let deadline = Instant::now() + within;
        let old = self.sock.read_timeout()?;
        let res = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err(io::Error::new(io::ErrorKind::TimedOut, "no event"));
            }
            self.sock.set_read_timeout(Some(left))?;
            match self.read_frame() {
                Ok(f) => {
                    let mut r = Reader::new(&f);
                    let h = ReplyHeader::decode(&mut r).map_err(io::Error::other)?;
                    if h.xid != xid::NOTIFICATION {
                        break Err(io::Error::other(format!(
                            "expected a notification, got {h:?}"
                        )));
                    }
                    break WatcherEvent::decode_exact(r.rest())
                        .map(|e| (h, e))
                        .map_err(io::Error::other);
                }
                Err(e) if is_timeout(&e) => continue,
                Err(e) => break Err(e),
            }
        };
        self.sock.set_read_timeout(old)?;
        res
    }

    /// Every notification that arrives within `within` (drains the queue first), as
    /// `(type, path)`.
    pub fn events_within(&mut self, within: Duration) -> Vec<(i32, String)> {
        let mut out = Vec::new();
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left.max(Duration::from_millis(1))) {
                Ok((_, e)) => out.push((e.event_type, e.path)),
                Err(_) => return out,
            }
            if Instant::now() >= deadline && self.events.is_empty() {
                return out;
            }
        }
    }

    /// True if the server closes the connection within `within` (EOF or reset); frames
    /// read meanwhile are dropped.
    pub fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = self.sock.set_read_timeout(Some(left));
            match self.read_frame() {
                Ok(_) => continue,
                Err(e) if is_timeout(&e) => return false,
                Err(_) => return true,
            }
        }
    }

    // ---- asserting shorthands

    /// [`call`](Self::call) that asserts success (`err == 0`) and returns the body.
    pub fn ok(&mut self, req: Request) -> Response {
        let op = req.op_code();
        let a = self
            .call(&req)
            .unwrap_or_else(|e| panic!("{op:?} got no reply: {e}"));
        assert_eq!(
            a.err(),
            0,
            "{op:?} failed: {}",
            Error::from_code(a.err(), "")
        );
        a.body.unwrap_or(Response::Empty)
    }

    /// [`call`](Self::call) that asserts a reply came and returns only its error code.
    pub fn err(&mut self, req: Request) -> i32 {
        let op = req.op_code();
        self.call(&req)
            .unwrap_or_else(|e| panic!("{op:?} got no reply: {e}"))
            .err()
    }

    /// Asserts that the server closes the connection (after closeSession, an unknown op).
    pub fn expect_closed(&mut self) {
        match self.read_frame() {
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
                ),
                "expected the server to close the connection, got {e}"
            ),
            Ok(f) => panic!("expected the server to close the connection, got a frame {f:?}"),
        }
    }

    /// Creates `path` with the open ACL.
    pub fn create(&mut self, path: &str, data: &[u8], flags: i32) -> io::Result<Answer> {
        self.call(Request::Create(create_req(path, Some(data), flags)))
    }

    /// getData, with or without a watch.
    pub fn get(&mut self, path: &str, watch: bool) -> io::Result<Answer> {
        self.call(Request::GetData(GetDataRequest {
            path: path.into(),
            watch,
        }))
    }

    /// The node's stat, `None` if it does not exist.
    pub fn stat(&mut self, path: &str) -> io::Result<Option<Stat>> {
        Ok(match self.get(path, false)?.body {
            Some(Response::GetData(d)) => Some(d.stat),
            _ => None,
        })
    }
}

/// Decodes a reply body for `op`; an error unless every byte is used.
pub fn decode_reply(op: OpCode, body: &[u8]) -> io::Result<Response> {
    let mut r = Reader::new(body);
    let resp = Response::decode(op, &mut r)
        .map_err(|e| io::Error::other(format!("decode the {op:?} reply: {e}")))?;
    if resp != Response::Empty && !r.is_empty() {
        return Err(io::Error::other(format!(
            "{op:?} reply: {} bytes left",
            r.remaining()
        )));
    }
    Ok(resp)
}

/// A create request with the open ACL.
pub fn create_req(path: &str, data: Option<&[u8]>, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: data.map(<[u8]>::to_vec),
        acl: Acl::open_unsafe(),
        flags,
    }
}

/// getData without a watch.
pub fn get_data(path: &str) -> Request {
    Request::GetData(GetDataRequest {
        path: path.into(),
        watch: false,
    })
}

/// Sends a four-letter word and reads the answer to EOF.
pub fn four_letter(to: impl Target, word: &str) -> io::Result<String> {
    let mut s = open(&to)?;
    s.write_all(word.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}
