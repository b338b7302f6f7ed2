//! `--client raw`: get-sync and get-pipelined over a bare `TcpStream`, using nothing of
//! zk-curator but `zk_curator::proto` (its records, and `proto::raw`, the unstable frame
//! layer kept for this floor: `encode_*`, `FrameReader`). No
//! threads, no locks, no callbacks, one pre-encoded request frame whose xid is patched in:
//! the floor that no client on this machine can beat. Replies are still decoded in full
//! (header and `GetDataResponse`), as every client must.

use std::collections::VecDeque;
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use zk_curator::proto::raw::{encode_record_frame, encode_request, FrameReader, DEFAULT_MAX_FRAME};
use zk_curator::proto::{
    ConnectRequest, ConnectResponse, CreateRequest, DeleteRequest, GetDataRequest, GetDataResponse,
    Reader, Record, ReplyHeader, Request, Response,
};
use zk_curator::Acl;

use crate::common::*;

pub const NAME: &str = "raw-socket";

/// Bound on any single read or write on the socket.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Raw {
    pub stream: TcpStream,
    reader: FrameReader,
    next_xid: i32,
}

impl Raw {
    /// Connects to the first host of `connect` and creates a session (30 s timeout).
    pub fn connect(connect: &str) -> Res<Raw> {
        let host = connect.split(',').next().unwrap_or(connect);
        let host = host.split('/').next().unwrap_or(host);
        let addr = host
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| BenchError::Failed(format!("cannot resolve {host}")))?;
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(15))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        let mut raw = Raw {
            stream,
            reader: FrameReader::new(DEFAULT_MAX_FRAME),
            next_xid: 1,
        };
        let mut buf = Vec::with_capacity(64);
        encode_record_frame(
            &mut buf,
            &ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: 0,
                timeout: 30_000,
                session_id: 0,
                passwd: vec![0; 16],
                read_only: Some(false),
            },
        );
        (&raw.stream).write_all(&buf)?;
        let frame = raw.reader.read_frame(&mut &raw.stream)?;
        let resp = ConnectResponse::decode(&mut Reader::new(frame))?;
        if resp.is_expired() {
            return fail("the server refused the session");
        }
        Ok(raw)
    }

    pub fn xid(&mut self) -> i32 {
        let x = self.next_xid;
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        x
    }

    /// The xid the next request will get.
    pub fn peek_xid(&self) -> i32 {
        self.next_xid
    }

    /// Writes a closeSession request without reading its reply (another thread reads).
    pub fn send_close(&mut self) -> Res<()> {
        let xid = self.xid();
        let mut buf = Vec::with_capacity(16);
        encode_request(&mut buf, xid, &Request::CloseSession);
        (&self.stream).write_all(&buf)?;
        Ok(())
    }

    /// One request, waiting for its reply (setup, cleanup): the outer error is the
    /// connection's, the inner one the server's answer.
    fn call(&mut self, req: &Request) -> Res<zk_curator::Result<Response>> {
        let xid = self.xid();
        let mut buf = Vec::with_capacity(128);
        encode_request(&mut buf, xid, req);
        (&self.stream).write_all(&buf)?;
        let frame = self.reader.read_frame(&mut &self.stream)?;
        let mut r = Reader::new(frame);
        let h = ReplyHeader::decode(&mut r)?;
        if h.xid != xid {
            return fail(format!("reply xid {} for request xid {xid}", h.xid));
        }
        if let Some(e) = h.error(req.path().unwrap_or("")) {
            return Ok(Err(e));
        }
        Ok(Ok(Response::decode(req.op_code(), &mut r)?))
    }

    /// Ends the session (best effort, bounded by the socket timeouts).
    fn close(mut self) {
        let _ = self.call(&Request::CloseSession);
    }
}

fn create(raw: &mut Raw, path: &str, data: &[u8]) -> Res<()> {
    raw.call(&Request::Create(CreateRequest {
        path: path.to_string(),
        data: Some(data.to_vec()),
        acl: Acl::open_unsafe(),
        flags: 0,
    }))??;
    Ok(())
}

fn delete(raw: &mut Raw, path: &str) -> Res<()> {
    match raw.call(&Request::Delete(DeleteRequest {
        path: path.to_string(),
        version: -1,
    }))? {
        Ok(_) | Err(zk_curator::Error::NoNode { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Runs get-sync or get-pipelined over the bare socket, or with `hop` the same loops in
/// the threading contract's shape (`hop.rs`, on a session of its own).
pub fn run(args: &Args, rep: &mut Report, hop: bool) -> Res<()> {
    if !matches!(args.workload.as_str(), "get-sync" | "get-pipelined") {
        return Err(BenchError::Unsupported(
            "the raw-socket floors implement get-sync and get-pipelined only".into(),
        ));
    }
    let root = root_path();
    let node = format!("{root}/node");
    let mut raw = Raw::connect(&args.connect)?;
    let result = create(&mut raw, &root, b"")
        .and_then(|_| create(&mut raw, &node, &payload(args.size)))
        .and_then(|_| {
            let tmpl = get_frame(&node);
            match (hop, args.workload.as_str()) {
                (false, "get-sync") => get_sync(args, rep, &mut raw, tmpl),
                (false, _) => get_pipelined(args, rep, &mut raw, tmpl),
                (true, "get-sync") => crate::hop::get_sync(args, rep, tmpl),
                (true, _) => crate::hop::get_pipelined(args, rep, tmpl),
            }
        });
    // After a failure the socket may still hold replies: clean up over a fresh session.
    let cleanup = if result.is_ok() {
        let r = delete(&mut raw, &node).and_then(|_| delete(&mut raw, &root));
        raw.close();
        r
    } else {
        drop(raw);
        Raw::connect(&args.connect).and_then(|mut c| {
            let r = delete(&mut c, &node).and_then(|_| delete(&mut c, &root));
            c.close();
            r
        })
    };
    result?;
    cleanup
}

/// The getData request frame, xid to be patched in at bytes 4..8.
fn get_frame(path: &str) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    encode_request(
        &mut buf,
        0,
        &Request::GetData(GetDataRequest {
            path: path.to_string(),
            watch: false,
        }),
    );
    buf
}

/// Checks one getData reply frame: the xid expected, no error, the data length.
fn check_reply(frame: &[u8], xid: i32, size: usize) -> Res<()> {
    let mut r = Reader::new(frame);
    let h = ReplyHeader::decode(&mut r)?;
    if h.xid != xid {
        return fail(format!("reply xid {} where {xid} was expected", h.xid));
    }
    if h.err != 0 {
        return fail(format!("getData failed: rc={}", h.err));
    }
    let resp = GetDataResponse::decode(&mut r)?;
    let len = resp.data.map_or(0, |d| d.len());
    if len != size {
        return fail(format!("short read {len}"));
    }
    Ok(())
}

fn sync_get(raw: &mut Raw, frame: &mut [u8], size: usize) -> Res<()> {
    let xid = raw.xid();
    frame[4..8].copy_from_slice(&xid.to_be_bytes());
    (&raw.stream).write_all(frame)?;
    let reply = raw.reader.read_frame(&mut &raw.stream)?;
    check_reply(reply, xid, size)
}

fn get_sync(args: &Args, rep: &mut Report, raw: &mut Raw, mut frame: Vec<u8>) -> Res<()> {
    let n = args.ops_or(20_000);
    let (w0, mut warm) = (Instant::now(), 0);
    while warming(w0, warm, n / 10) {
        sync_get(raw, &mut frame, args.size)?; // untimed
        warm += 1;
    }
    let mut lat = Vec::with_capacity(n);
    let cpu = CpuMeter::start();
    let t0 = Instant::now();
    for _ in 0..n {
        let s = Instant::now();
        sync_get(raw, &mut frame, args.size)?;
        lat.push(nanos(s.elapsed()));
    }
    let elapsed = t0.elapsed();
    rep.cpu(cpu.elapsed(), n);
    rep.latencies(n, elapsed, &mut lat);
    rep.extra("size", J::I(args.size as i64));
    rep.extra("warmup_ops", J::I(warm as i64));
    Ok(())
}

/// n getData requests with at most k in flight on the one socket: replies are read through
/// the `FrameReader`; for each reply one new request is queued, and the queue is written in
/// one `write` whenever no further reply is already buffered. Latency is from the write
/// that carried a request to the processing of its reply.
fn pipelined_gets(
    raw: &mut Raw,
    frame: &mut [u8],
    n: usize,
    k: usize,
    size: usize,
    mut lat: Option<&mut Vec<u64>>,
) -> Res<()> {
    let k = k.max(1);
    let mut out: Vec<u8> = Vec::with_capacity(frame.len() * k);
    let mut unsent: Vec<i32> = Vec::with_capacity(k);
    let mut on_wire: VecDeque<(i32, Instant)> = VecDeque::with_capacity(k);
    let (mut sent, mut done) = (0usize, 0usize);
    let deadline = Instant::now() + PIPELINE_TIMEOUT;
    let mut queue = |raw: &mut Raw, out: &mut Vec<u8>, unsent: &mut Vec<i32>| {
        let xid = raw.xid();
        frame[4..8].copy_from_slice(&xid.to_be_bytes());
        out.extend_from_slice(frame);
        unsent.push(xid);
    };
    while sent < n.min(k) {
        queue(raw, &mut out, &mut unsent);
        sent += 1;
    }
    while done < n {
        if !unsent.is_empty() && !raw.reader.has_frame() {
            let now = Instant::now();
            (&raw.stream).write_all(&out)?;
            out.clear();
            on_wire.extend(unsent.drain(..).map(|x| (x, now)));
        }
        if Instant::now() > deadline {
            return fail(format!(
                "pipelined reads did not finish in time ({done} of {n})"
            ));
        }
        let reply = raw.reader.read_frame(&mut &raw.stream)?;
        let Some((xid, at)) = on_wire.pop_front() else {
            return fail("a reply with nothing on the wire");
        };
        check_reply(reply, xid, size)?;
        if let Some(l) = lat.as_deref_mut() {
            l.push(nanos(at.elapsed()));
        }
        done += 1;
        if sent < n {
            queue(raw, &mut out, &mut unsent);
            sent += 1;
        }
    }
    Ok(())
}

fn get_pipelined(args: &Args, rep: &mut Report, raw: &mut Raw, mut frame: Vec<u8>) -> Res<()> {
    let n = args.ops_or(100_000);
    let k = args.inflight;
    let (w0, mut warm, chunk) = (Instant::now(), 0, (n / 10).max(1));
    while warming(w0, warm, n / 10) {
        pipelined_gets(raw, &mut frame, chunk, k, args.size, None)?; // untimed
        warm += chunk;
    }
    let mut lat = Vec::with_capacity(n);
    let cpu = CpuMeter::start();
    let t0 = Instant::now();
    pipelined_gets(raw, &mut frame, n, k, args.size, Some(&mut lat))?;
    let elapsed = t0.elapsed();
    rep.cpu(cpu.elapsed(), n);
    rep.latencies(n, elapsed, &mut lat);
    rep.extra("inflight", J::I(k as i64));
    rep.extra("warmup_ops", J::I(warm as i64));
    Ok(())
}
