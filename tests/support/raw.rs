//! [`RawConn`]: one client connection spoken by hand with `zk_curator::proto` over a plain
//! `TcpStream`, no session engine. Tests use it to prove the codec against a server.
//!
//! Notifications (xid -1) may arrive at any time, even before the reply of the request that
//! triggered them; the reply readers set them aside in [`RawConn::events`] in arrival order.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use zk_curator::proto::frame::{self, DEFAULT_MAX_FRAME};
use zk_curator::proto::{
    xid, Acl, ConnectRequest, ConnectResponse, CreateRequest, FrameReader, GetDataRequest, OpCode,
    Reader, Record, ReplyHeader, Request, RequestHeader, Response, WatcherEvent,
};
use zk_curator::Error;

/// How long any single read may wait for the server.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A raw, handshaken connection.
#[derive(Debug)]
pub struct RawConn {
    stream: TcpStream,
    reader: FrameReader,
    next_xid: i32,
    /// The server's handshake answer.
    pub session: ConnectResponse,
    /// Notifications received so far and not yet taken, with their reply headers.
    pub events: VecDeque<(ReplyHeader, WatcherEvent)>,
}

impl RawConn {
    /// Opens a new session (30 s timeout requested) with the read-only byte set to `false`.
    pub fn connect(port: u16) -> RawConn {
        let req = ConnectRequest {
            timeout: 30_000,
            passwd: vec![0; 16],
            read_only: Some(false),
            ..ConnectRequest::default()
        };
        RawConn::handshake(port, &req).0
    }

    /// Sends `req` as the first frame and reads the ConnectResponse; also returns the length
    /// of its body (36 or 37).
    pub fn handshake(port: u16, req: &ConnectRequest) -> (RawConn, usize) {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream =
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect to server");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("set a read timeout");
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        let mut conn = RawConn {
            stream,
            reader: FrameReader::new(DEFAULT_MAX_FRAME),
            next_xid: 1,
            session: ConnectResponse::default(),
            events: VecDeque::new(),
        };
        let mut buf = Vec::new();
        frame::encode_record_frame(&mut buf, req);
        conn.stream.write_all(&buf).expect("send ConnectRequest");
        let body = conn.recv().expect("read ConnectResponse");
        conn.session = ConnectResponse::decode_exact(&body).expect("decode ConnectResponse");
        (conn, body.len())
    }

    /// The next frame's payload, whatever it is.
    pub fn recv(&mut self) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            match self.reader.read_frame(&mut self.stream) {
                Ok(f) => return Ok(f.to_vec()),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if Instant::now() >= deadline {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "no frame in time"));
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The next non-notification frame: its header and the undecoded body. Notifications
    /// read on the way are queued in [`events`](Self::events).
    pub fn recv_reply(&mut self) -> (ReplyHeader, Vec<u8>) {
        loop {
            let f = self.recv().expect("read a reply");
            let mut r = Reader::new(&f);
            let h = ReplyHeader::decode(&mut r).expect("decode ReplyHeader");
            let body = r.rest().to_vec();
            if h.xid == xid::NOTIFICATION {
                let ev = WatcherEvent::decode_exact(&body).expect("decode WatcherEvent");
                self.events.push_back((h, ev));
                continue;
            }
            return (h, body);
        }
    }

    /// Sends `req` with `xid` (normal or special).
    pub fn send(&mut self, xid: i32, req: &Request) {
        let mut buf = Vec::new();
        frame::encode_request(&mut buf, xid, req);
        self.stream.write_all(&buf).expect("send a request");
    }

    /// Sends a frame holding `header` and `body` as given (unknown op codes, odd bodies).
    pub fn send_raw(&mut self, header: RequestHeader, body: &[u8]) {
        let mut buf = Vec::new();
        let at = frame::begin_frame(&mut buf);
        header.encode(&mut buf);
        buf.extend_from_slice(body);
        frame::end_frame(&mut buf, at);
        self.stream.write_all(&buf).expect("send a raw frame");
    }

    /// The xid the next [`call`](Self::call) uses.
    pub fn next_xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid += 1;
        x
    }

    /// Sends `req` with the next normal xid and returns the reply header and, when
    /// `err == 0`, the decoded body. Asserts the reply answers this xid and that the body
    /// decodes with no byte left over.
    pub fn call(&mut self, req: &Request) -> (ReplyHeader, Option<Response>) {
        let x = self.next_xid();
        self.call_with_xid(x, req)
    }

    /// [`call`](Self::call) with a given xid (ping -2, auth -4, setWatches -8).
    pub fn call_with_xid(&mut self, xid: i32, req: &Request) -> (ReplyHeader, Option<Response>) {
        self.send(xid, req);
        let (h, body) = self.recv_reply();
        assert_eq!(h.xid, xid, "reply to {:?} has the wrong xid", req.op_code());
        if h.err != 0 {
            return (h, None);
        }
        (h, Some(decode_reply(req.op_code(), &body)))
    }

    /// [`call`](Self::call) that asserts success (`err == 0`) and returns the body.
    pub fn ok(&mut self, req: Request) -> Response {
        let op = req.op_code();
        let (h, body) = self.call(&req);
        assert_eq!(h.err, 0, "{op:?} failed: {}", Error::from_code(h.err, ""));
        body.expect("a successful reply has a body")
    }

    /// [`call`](Self::call) that returns only the reply's error code.
    pub fn err(&mut self, req: Request) -> i32 {
        self.call(&req).0.err
    }

    /// The oldest queued notification, waiting (bounded) for one if none is queued.
    pub fn next_event(&mut self) -> (ReplyHeader, WatcherEvent) {
        if let Some(e) = self.events.pop_front() {
            return e;
        }
        let f = self.recv().expect("read a notification");
        let mut r = Reader::new(&f);
        let h = ReplyHeader::decode(&mut r).expect("decode ReplyHeader");
        assert_eq!(
            h.xid,
            xid::NOTIFICATION,
            "expected a notification, got {h:?}"
        );
        (
            h,
            WatcherEvent::decode_exact(r.rest()).expect("decode WatcherEvent"),
        )
    }

    /// Asserts that the server closes the connection (after closeSession, an unknown op).
    pub fn expect_closed(&mut self) {
        match self.recv() {
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
}

/// Decodes a reply body for `op`, asserting every byte is used.
pub fn decode_reply(op: OpCode, body: &[u8]) -> Response {
    let mut r = Reader::new(body);
    let resp = Response::decode(op, &mut r).expect("decode the reply body");
    if resp != Response::Empty {
        assert!(r.is_empty(), "{op:?} reply: {} bytes left", r.remaining());
    }
    resp
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
