//! The handshake records ([`ConnectRequest`], [`ConnectResponse`]) and the headers that start
//! every later frame ([`RequestHeader`], [`ReplyHeader`]).

use super::codec::{put_bool, put_bytes, put_i32, put_i64, record, Reader, Record};
use super::consts::OpCode;
use crate::error::{Error, Result};

/// The length of a session password.
pub const PASSWORD_LEN: usize = 16;

/// The first frame a client sends: a bare record, no request header.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    /// Always 0.
    pub protocol_version: i32,
    /// The highest zxid the client has seen in a reply header.
    pub last_zxid_seen: i64,
    /// The requested session timeout in milliseconds.
    pub timeout: i32,
    /// 0 for a new session; the session id when resuming.
    pub session_id: i64,
    /// 16 zero bytes for a new session; the session password when resuming.
    pub passwd: Vec<u8>,
    /// The optional trailing byte: `Some(true)` accepts a read-only server. `None` omits the
    /// byte (3.3-era clients), which a 3.4+ server answers without its own trailing byte.
    pub read_only: Option<bool>,
}

impl Record for ConnectRequest {
    fn encode(&self, buf: &mut Vec<u8>) {
        put_i32(buf, self.protocol_version);
        put_i64(buf, self.last_zxid_seen);
        put_i32(buf, self.timeout);
        put_i64(buf, self.session_id);
        put_bytes(buf, &self.passwd);
        put_read_only(buf, self.read_only);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(ConnectRequest {
            protocol_version: r.read_i32()?,
            last_zxid_seen: r.read_i64()?,
            timeout: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_buffer()?,
            read_only: read_only(r)?,
        })
    }
}

/// The connect records' optional trailing read-only byte: written only when present, read
/// only when the frame has a byte left (request and response follow the same rule).
fn put_read_only(buf: &mut Vec<u8>, read_only: Option<bool>) {
    if let Some(ro) = read_only {
        put_bool(buf, ro);
    }
}

/// See [`put_read_only`].
fn read_only(r: &mut Reader<'_>) -> Result<Option<bool>> {
    if r.is_empty() {
        Ok(None)
    } else {
        r.read_bool().map(Some)
    }
}

/// The first frame a server sends: a bare record, no reply header.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    /// Always 0.
    pub protocol_version: i32,
    /// The negotiated session timeout in ms; `<= 0` means the session is expired or invalid.
    pub timeout: i32,
    /// The session id (0 when invalid).
    pub session_id: i64,
    /// The session password (16 bytes).
    pub passwd: Vec<u8>,
    /// The optional trailing byte: `Some(true)` from a server in read-only mode. A server
    /// appends it only when the request carried one; `None` means it was absent.
    pub read_only: Option<bool>,
}

impl ConnectResponse {
    /// True when the server refused to resume the session (timeout `<= 0`).
    pub fn is_expired(&self) -> bool {
        self.timeout <= 0
    }

    /// The read-only flag with absence read as `false`.
    pub fn is_read_only(&self) -> bool {
        self.read_only.unwrap_or(false)
    }
}

impl Record for ConnectResponse {
    fn encode(&self, buf: &mut Vec<u8>) {
        put_i32(buf, self.protocol_version);
        put_i32(buf, self.timeout);
        put_i64(buf, self.session_id);
        put_bytes(buf, &self.passwd);
        put_read_only(buf, self.read_only);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        Ok(ConnectResponse {
            protocol_version: r.read_i32()?,
            timeout: r.read_i32()?,
            session_id: r.read_i64()?,
            passwd: r.read_buffer()?,
            read_only: read_only(r)?,
        })
    }
}

record! {
    /// The header of every client frame after the handshake.
    RequestHeader (8) {
        /// The request id: positive and increasing for normal requests, or a special xid.
        xid: i32,
        /// The op code, kept raw so that a server can answer an unknown one.
        op: i32,
    }
}

impl RequestHeader {
    /// A header for a known op.
    pub fn new(xid: i32, op: OpCode) -> RequestHeader {
        RequestHeader { xid, op: op.code() }
    }

    /// The op code, or an error for an unknown one.
    pub fn op_code(&self) -> Result<OpCode> {
        OpCode::try_from(self.op)
    }
}

record! {
    /// The header of every server frame after the handshake.
    ReplyHeader (16) {
        /// The xid of the request answered, or a special xid.
        xid: i32,
        /// The server's last processed zxid (`-1` in notifications before 3.9).
        zxid: i64,
        /// 0, or a server error code; the body is present only when 0.
        err: i32,
    }
}

impl ReplyHeader {
    /// The error this header reports, if any, for a request on `path`.
    pub fn error(&self, path: &str) -> Option<Error> {
        (self.err != 0).then(|| Error::from_code(self.err, path))
    }
}

impl std::fmt::Debug for ConnectRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectRequest")
            .field("protocol_version", &self.protocol_version)
            .field("last_zxid_seen", &self.last_zxid_seen)
            .field("timeout", &self.timeout)
            .field("session_id", &self.session_id)
            .field("passwd", &format_args!("<redacted>"))
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl std::fmt::Debug for ConnectResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectResponse")
            .field("protocol_version", &self.protocol_version)
            .field("timeout", &self.timeout)
            .field("session_id", &self.session_id)
            .field("passwd", &format_args!("<redacted>"))
            .field("read_only", &self.read_only)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_request_is_45_bytes_with_the_flag() {
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout: 30_000,
            session_id: 0,
            passwd: vec![0; PASSWORD_LEN],
            read_only: Some(false),
        };
        let b = req.to_bytes();
        assert_eq!(b.len(), 45);
        assert_eq!(ConnectRequest::decode_exact(&b).unwrap(), req);
        let old = ConnectRequest {
            read_only: None,
            ..req
        };
        let b = old.to_bytes();
        assert_eq!(b.len(), 44);
        assert_eq!(ConnectRequest::decode_exact(&b).unwrap(), old);
    }

    #[test]
    fn connect_response_accepts_36_and_37_bytes() {
        let resp = ConnectResponse {
            protocol_version: 0,
            timeout: 4000,
            session_id: 0x1234,
            passwd: vec![7; 16],
            read_only: Some(true),
        };
        let b = resp.to_bytes();
        assert_eq!(b.len(), 37);
        assert!(ConnectResponse::decode_exact(&b).unwrap().is_read_only());
        let short = &b[..36];
        let d = ConnectResponse::decode_exact(short).unwrap();
        assert_eq!(d.read_only, None);
        assert!(!d.is_read_only());
        assert!(!d.is_expired());
        assert!(ConnectResponse { timeout: 0, ..d }.is_expired());
    }

    #[test]
    fn headers() {
        let h = RequestHeader::new(7, OpCode::GetData);
        assert_eq!(h.to_bytes(), vec![0, 0, 0, 7, 0, 0, 0, 4]);
        assert_eq!(h.op_code().unwrap(), OpCode::GetData);
        assert!(RequestHeader { xid: 1, op: 999 }.op_code().is_err());
        let r = ReplyHeader {
            xid: 7,
            zxid: 99,
            err: -101,
        };
        assert_eq!(r.to_bytes().len(), 16);
        assert!(matches!(r.error("/a"), Some(Error::NoNode { path, .. }) if path == "/a"));
        assert!(ReplyHeader::default().error("/").is_none());
    }
}
