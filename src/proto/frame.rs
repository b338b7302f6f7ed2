//! Framing: every message is an `int32` big-endian length followed by that many bytes.
//!
//! [`FrameReader`] pulls frames out of any `io::Read` through one growing buffer, so that a
//! burst of replies costs one `read` syscall rather than two per frame, a partial frame
//! survives a read timeout, and a length field is checked against the limit *before* any
//! buffer grows to hold it. The `encode_*` functions write complete frames into a reused
//! buffer.
//!
//! Crate-private: the session and the TestingServer use it here, and `proto::raw` re-exports
//! it, outside semver, for the benchmark's raw floor and the protocol tests.

use std::io::{self, Read};

use super::codec::Record;
use super::header::{ReplyHeader, RequestHeader};
use super::message::{Request, Response};

/// The largest frame a server accepts: `jute.maxbuffer`'s default, 1 MiB - 1 (1,048,575 bytes).
/// Requests longer than this make the server drop the connection, so the client refuses them.
pub const MAX_PACKET: usize = 0xfffff;

/// Slack added to [`MAX_PACKET`] for frames we *receive*, as the server adds
/// `jute.maxbuffer.extrasize`: a reply to a read of a maximal node carries a header and a Stat
/// on top of the data.
pub const FRAME_SLACK: usize = 1024;

/// The default limit on a received frame.
pub const DEFAULT_MAX_FRAME: usize = MAX_PACKET + FRAME_SLACK;

/// Checks a received length field.
pub fn check_frame_len(len: i32, max: usize) -> io::Result<usize> {
    if len < 0 || len as usize > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame length {len} is out of range (max {max})"),
        ));
    }
    Ok(len as usize)
}

/// Reads length-prefixed frames from a byte stream.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    max_frame: usize,
}

const INITIAL_BUF: usize = 64 * 1024;

impl FrameReader {
    /// A reader that rejects frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> FrameReader {
        FrameReader {
            buf: vec![0; INITIAL_BUF],
            start: 0,
            end: 0,
            max_frame,
        }
    }

    /// Bytes received but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Forgets buffered bytes (after the stream was replaced).
    pub fn reset(&mut self) {
        self.start = 0;
        self.end = 0;
        if self.buf.len() > 4 * INITIAL_BUF {
            self.buf.truncate(INITIAL_BUF);
            self.buf.shrink_to_fit();
        }
    }

    /// True when a whole frame is already buffered, so `read_frame` will not touch `src`.
    pub fn has_frame(&self) -> bool {
        let avail = self.end - self.start;
        if avail < 4 {
            return false;
        }
        let len = i32::from_be_bytes([
            self.buf[self.start],
            self.buf[self.start + 1],
            self.buf[self.start + 2],
            self.buf[self.start + 3],
        ]);
        len >= 0 && avail >= 4 + len as usize
    }

    /// Returns the payload of the next frame, reading from `src` as needed.
    ///
    /// Errors: `InvalidData` for a length out of range, `UnexpectedEof` if the stream ends
    /// (mid-frame or between frames), and whatever `src` returns; a timeout
    /// (`WouldBlock`/`TimedOut`) keeps the partial frame for the next call.
    pub fn read_frame<R: Read + ?Sized>(&mut self, src: &mut R) -> io::Result<&[u8]> {
        loop {
            let avail = self.end - self.start;
            let need = if avail >= 4 {
                let b = &self.buf[self.start..self.start + 4];
                let len =
                    check_frame_len(i32::from_be_bytes([b[0], b[1], b[2], b[3]]), self.max_frame)?;
                if avail >= 4 + len {
                    let from = self.start + 4;
                    self.start = from + len;
                    if self.start == self.end {
                        // Everything consumed: the next read starts at the front again.
                        let (s, e) = (from, from + len);
                        self.start = 0;
                        self.end = 0;
                        return Ok(&self.buf[s..e]);
                    }
                    return Ok(&self.buf[from..from + len]);
                }
                4 + len
            } else {
                4
            };
            self.make_room(need);
            let n = src.read(&mut self.buf[self.end..])?;
            if n == 0 {
                let msg = if self.end > self.start {
                    "connection closed in the middle of a frame"
                } else {
                    "connection closed"
                };
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, msg));
            }
            self.end += n;
        }
    }

    /// Makes sure `need` bytes counted from `start` fit in the buffer, with some room to read
    /// ahead.
    fn make_room(&mut self, need: usize) {
        if self.start + need <= self.buf.len() && self.end < self.buf.len() {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if need > self.buf.len() || self.end == self.buf.len() {
            let want = need.max(self.buf.len() * 2).max(INITIAL_BUF);
            self.buf.resize(want, 0);
        }
    }
}

/// Starts a frame: reserves the length field and returns where it is.
#[inline]
pub fn begin_frame(buf: &mut Vec<u8>) -> usize {
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]);
    at
}

/// Ends the frame started at `at`: writes its length and returns it.
#[inline]
pub fn end_frame(buf: &mut [u8], at: usize) -> usize {
    let len = buf.len() - at - 4;
    let field = i32::try_from(len).unwrap_or(i32::MAX).to_be_bytes();
    buf[at..at + 4].copy_from_slice(&field);
    len
}

/// Appends a complete request frame (header + body) and returns its payload length.
pub fn encode_request(buf: &mut Vec<u8>, xid: i32, req: &Request) -> usize {
    let at = begin_frame(buf);
    RequestHeader {
        xid,
        op: req.op_code().code(),
    }
    .encode(buf);
    req.encode(buf);
    end_frame(buf, at)
}

/// Appends a complete reply frame; the body is written only when given (and should be given
/// only when `header.err == 0`).
pub fn encode_reply(buf: &mut Vec<u8>, header: &ReplyHeader, body: Option<&Response>) -> usize {
    let at = begin_frame(buf);
    header.encode(buf);
    if let Some(b) = body {
        b.encode(buf);
    }
    end_frame(buf, at)
}

/// Appends a frame holding one bare record (the handshake records, notifications).
pub fn encode_record_frame<R: Record>(buf: &mut Vec<u8>, rec: &R) -> usize {
    let at = begin_frame(buf);
    rec.encode(buf);
    end_frame(buf, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `chunk` bytes per call and then reports a timeout
    /// once, to prove partial frames survive.
    struct Trickle {
        data: Vec<u8>,
        pos: usize,
        chunk: usize,
        timeout_next: bool,
    }

    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.timeout_next {
                self.timeout_next = false;
                return Err(io::Error::new(io::ErrorKind::WouldBlock, "timeout"));
            }
            self.timeout_next = true;
            let n = self.chunk.min(out.len()).min(self.data.len() - self.pos);
            out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn frames(payloads: &[&[u8]]) -> Vec<u8> {
        let mut b = Vec::new();
        for p in payloads {
            let at = begin_frame(&mut b);
            b.extend_from_slice(p);
            end_frame(&mut b, at);
        }
        b
    }

    #[test]
    fn reads_frames_across_timeouts_and_small_chunks() {
        let big = vec![7u8; 200_000];
        let data = frames(&[b"abc", b"", &big, b"z"]);
        let mut src = Trickle {
            data,
            pos: 0,
            chunk: 3,
            timeout_next: false,
        };
        let mut r = FrameReader::new(DEFAULT_MAX_FRAME);
        let mut got = Vec::new();
        while got.len() < 4 {
            match r.read_frame(&mut src) {
                Ok(f) => got.push(f.to_vec()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got[0], b"abc");
        assert!(got[1].is_empty());
        assert_eq!(got[2], big);
        assert_eq!(got[3], b"z");
        let e = loop {
            match r.read_frame(&mut src) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                other => break other.unwrap_err(),
            }
        };
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn oversized_and_negative_lengths_fail_without_allocating() {
        let mut r = FrameReader::new(1000);
        let mut src: &[u8] = &0x7fff_fff0i32.to_be_bytes();
        let e = r.read_frame(&mut src).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(r.buf.len() <= INITIAL_BUF);
        let mut r = FrameReader::new(1000);
        let mut src: &[u8] = &(-5i32).to_be_bytes();
        assert_eq!(
            r.read_frame(&mut src).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn eof_mid_frame_is_reported() {
        let mut data = frames(&[b"hello"]);
        data.truncate(6);
        let mut r = FrameReader::new(100);
        let mut src: &[u8] = &data;
        let e = r.read_frame(&mut src).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(e.to_string().contains("middle"));
    }

    #[test]
    fn has_frame_sees_buffered_frames() {
        let data = frames(&[b"a", b"b"]);
        let mut r = FrameReader::new(100);
        let mut src: &[u8] = &data;
        assert_eq!(r.read_frame(&mut src).unwrap(), b"a");
        assert!(r.has_frame());
        assert_eq!(r.read_frame(&mut src).unwrap(), b"b");
        assert!(!r.has_frame());
    }

    #[test]
    fn request_frame_layout() {
        let mut b = Vec::new();
        let n = encode_request(&mut b, -2, &Request::Ping);
        assert_eq!(n, 8);
        assert_eq!(b, vec![0, 0, 0, 8, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11]);
    }
}
