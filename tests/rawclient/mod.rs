//! A minimal raw-protocol client for the test server's tests: std `TcpStream` + the crate's
//! `proto` records, one request at a time, notifications stashed as they arrive. It also
//! drives the real ZooKeeper in the differential test, so it assumes nothing of the server.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use zk_curator::proto::frame::{self, FrameReader};
use zk_curator::proto::{
    xid, Acl, ConnectRequest, ConnectResponse, CreateRequest, GetDataRequest, OpCode, Reader,
    Record, ReplyHeader, Request, Response, Stat, WatcherEvent,
};

pub struct Raw {
    pub sock: TcpStream,
    frames: FrameReader,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    pub timeout: i32,
    next_xid: i32,
    pub events: VecDeque<WatcherEvent>,
    pub last_zxid: i64,
}

/// The reply to one request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub header: ReplyHeader,
    pub body: Option<Response>,
}

impl Answer {
    pub fn err(&self) -> i32 {
        self.header.err
    }
}

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

impl Raw {
    /// A new session.
    pub fn connect(addr: &str, timeout: i32) -> io::Result<Raw> {
        let (raw, resp) = Raw::handshake(addr, &connect_req(timeout, 0, vec![0; 16], 0))?;
        if resp.is_expired() {
            return Err(io::Error::other("session refused"));
        }
        Ok(raw)
    }

    /// Sends `req` as the first frame; returns the connection and the server's answer.
    pub fn handshake(addr: &str, req: &ConnectRequest) -> io::Result<(Raw, ConnectResponse)> {
        let sock = TcpStream::connect(addr)?;
        sock.set_nodelay(true)?;
        sock.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut buf = Vec::new();
        frame::encode_record_frame(&mut buf, req);
        (&sock).write_all(&buf)?;
        let mut frames = FrameReader::new(frame::DEFAULT_MAX_FRAME);
        let resp = {
            let f = frames.read_frame(&mut &sock)?;
            ConnectResponse::decode_exact(f).map_err(io::Error::other)?
        };
        Ok((
            Raw {
                sock,
                frames,
                session_id: resp.session_id,
                passwd: resp.passwd.clone(),
                timeout: resp.timeout,
                next_xid: 1,
                events: VecDeque::new(),
                last_zxid: req.last_zxid_seen,
            },
            resp,
        ))
    }

    /// Resumes this session on a new connection.
    pub fn resume(&self, addr: &str) -> io::Result<(Raw, ConnectResponse)> {
        Raw::handshake(
            addr,
            &connect_req(
                self.timeout,
                self.session_id,
                self.passwd.clone(),
                self.last_zxid,
            ),
        )
    }

    pub fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        (&self.sock).write_all(bytes)
    }

    /// Sends a request with the next xid (or its special xid) and returns the xid.
    pub fn send(&mut self, req: &Request) -> io::Result<i32> {
        let x = match req {
            Request::Ping => xid::PING,
            Request::Auth(_) => xid::AUTH,
            _ => {
                let x = self.next_xid;
                self.next_xid += 1;
                x
            }
        };
        let mut buf = Vec::new();
        frame::encode_request(&mut buf, x, req);
        self.send_bytes(&buf)?;
        Ok(x)
    }

    /// Reads one frame: a notification is returned as `Err(event)`-free `None` after being
    /// stashed; a reply as `Some(header, payload)`.
    pub fn read_reply(&mut self) -> io::Result<(ReplyHeader, Vec<u8>)> {
        loop {
            let f = self.frames.read_frame(&mut &self.sock)?.to_vec();
            let mut r = Reader::new(&f);
            let h = ReplyHeader::decode(&mut r).map_err(io::Error::other)?;
            if h.xid == xid::NOTIFICATION {
                let ev = WatcherEvent::decode(&mut r).map_err(io::Error::other)?;
                self.events.push_back(ev);
                continue;
            }
            let rest = r.rest().to_vec();
            return Ok((h, rest));
        }
    }

    /// Sends `req` and waits for its reply (notifications that arrive first are stashed).
    pub fn call(&mut self, req: Request) -> io::Result<Answer> {
        let op = req.op_code();
        let x = self.send(&req)?;
        let (header, rest) = self.read_reply()?;
        if header.xid != x {
            return Err(io::Error::other(format!(
                "xid {} answered {}",
                x, header.xid
            )));
        }
        if header.zxid > 0 {
            self.last_zxid = self.last_zxid.max(header.zxid);
        }
        let body = if header.err == 0 && !rest.is_empty() {
            Some(Response::decode(op, &mut Reader::new(&rest)).map_err(io::Error::other)?)
        } else {
            None
        };
        Ok(Answer { header, body })
    }

    /// The next notification, waiting up to `within`.
    pub fn next_event(&mut self, within: Duration) -> io::Result<WatcherEvent> {
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
            match self.frames.read_frame(&mut &self.sock) {
                Ok(f) => {
                    let mut r = Reader::new(f);
                    let h = ReplyHeader::decode(&mut r).map_err(io::Error::other)?;
                    if h.xid == xid::NOTIFICATION {
                        break WatcherEvent::decode(&mut r).map_err(io::Error::other);
                    }
                    break Err(io::Error::other(format!("unexpected reply xid {}", h.xid)));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) => break Err(e),
            }
        };
        self.sock.set_read_timeout(old)?;
        res
    }

    /// Every notification that arrives within `within` (drains the stash first).
    pub fn events_within(&mut self, within: Duration) -> Vec<(i32, String)> {
        let mut out = Vec::new();
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_event(left.max(Duration::from_millis(1))) {
                Ok(e) => out.push((e.event_type, e.path)),
                Err(_) => return out,
            }
            if Instant::now() >= deadline && self.events.is_empty() {
                return out;
            }
        }
    }

    /// True if the server closes the connection within `within` (EOF or reset).
    pub fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let _ = self.sock.set_read_timeout(Some(left));
            match self.frames.read_frame(&mut &self.sock) {
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
    }

    // ---- shorthands

    pub fn create(&mut self, path: &str, data: &[u8], flags: i32) -> io::Result<Answer> {
        self.call(Request::Create(CreateRequest {
            path: path.into(),
            data: Some(data.to_vec()),
            acl: Acl::open_unsafe(),
            flags,
        }))
    }

    pub fn get(&mut self, path: &str, watch: bool) -> io::Result<Answer> {
        self.call(Request::GetData(GetDataRequest {
            path: path.into(),
            watch,
        }))
    }

    pub fn stat(&mut self, path: &str) -> io::Result<Option<Stat>> {
        let a = self.get(path, false)?;
        Ok(match a.body {
            Some(Response::GetData(d)) => Some(d.stat),
            _ => None,
        })
    }
}

/// Sends a four-letter word and reads the answer to EOF.
pub fn four_letter(addr: &str, word: &str) -> io::Result<String> {
    use std::io::Read;
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(word.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// The op code of a request, for messages.
pub fn op_of(req: &Request) -> OpCode {
    req.op_code()
}
