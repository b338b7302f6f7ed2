//! `--client raw-hop`: the raw-socket floor of `raw.rs` rebuilt with the hand-offs that
//! zk-curator's threading contract requires, and nothing else. It answers one question: how
//! much of the distance between zk-curator and `--client raw` is the contract's (the reply
//! is read by an I/O thread, never by the caller; callbacks run on one event thread), and
//! how much is zk-curator's code.
//!
//! - get-sync: the caller writes the request frame; a reader thread does the blocking reads,
//!   decodes each reply and hands it to the caller through a one-shot slot (a Mutex and a
//!   Condvar, as zk-curator's). One thread hop per call: the minimum the contract allows.
//! - get-pipelined: the caller takes a permit of the same semaphore the framework run uses
//!   and buffers request frames while permits are free, writing them in one `write` when it
//!   has to wait for one; the reader thread decodes the replies and sends them through a
//!   crossbeam channel to an event thread, which releases the permits. (In steady state a
//!   permit frees at a time, so this writes about once per request: zk-curator's batching
//!   behind replies in flight writes less often.)
//!
//! No retry, no watches, no connection states, no per-request allocation beyond the
//! decoded reply: an optimistic bound, not a client.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use zk_curator::proto::raw::{FrameReader, DEFAULT_MAX_FRAME};
use zk_curator::proto::{GetDataResponse, Reader, Record, ReplyHeader};

use crate::common::*;
use crate::raw::Raw;

pub const NAME: &str = "raw-hop";

/// What the reader thread makes of one reply frame: its xid and the server's result code,
/// after a full decode of the `GetDataResponse` (whose data it checks and drops).
type Outcome = Result<(i32, i32), String>;

fn decode(frame: &[u8], size: usize) -> Outcome {
    let mut r = Reader::new(frame);
    let h = ReplyHeader::decode(&mut r).map_err(|e| e.to_string())?;
    if h.err != 0 || h.xid < 0 {
        return Ok((h.xid, h.err));
    }
    let resp = GetDataResponse::decode(&mut r).map_err(|e| e.to_string())?;
    match resp.data.map_or(0, |d| d.len()) {
        len if len == size => Ok((h.xid, 0)),
        len => Err(format!("short read {len}")),
    }
}

/// Reads frames until the connection ends, handing each decoded one to `deliver`; the
/// last call carries the error that ended it (end of stream after a close included).
fn read_loop(stream: TcpStream, size: usize, mut deliver: impl FnMut(Outcome)) {
    let mut reader = FrameReader::new(DEFAULT_MAX_FRAME);
    loop {
        match reader.read_frame(&mut &stream) {
            Ok(frame) => deliver(decode(frame, size)),
            Err(e) => return deliver(Err(e.to_string())),
        }
    }
}

/// A session of its own whose replies a reader thread reads.
struct Session {
    raw: Raw,
    reader: Option<JoinHandle<()>>,
}

impl Session {
    fn start(args: &Args, deliver: impl FnMut(Outcome) + Send + 'static) -> Res<Session> {
        let raw = Raw::connect(&args.connect)?;
        let stream = raw.stream.try_clone()?;
        let size = args.size;
        let reader = thread::Builder::new()
            .name("hop-io".into())
            .spawn(move || read_loop(stream, size, deliver))?;
        Ok(Session {
            raw,
            reader: Some(reader),
        })
    }

    /// Asks the server to end the session (its reply and then the end of the stream stop
    /// the reader), then makes sure the socket is closed and the reader gone.
    fn close(mut self) {
        let _ = self.raw.send_close();
        if let Some(r) = self.reader.take() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !r.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(1));
            }
            let _ = self.raw.stream.shutdown(Shutdown::Both);
            let _ = r.join();
        }
    }
}

/// Where the caller of get-sync waits for its reply.
#[derive(Default)]
struct Slot {
    v: Mutex<Option<Outcome>>,
    cv: Condvar,
}

impl Slot {
    fn put(&self, o: Outcome) {
        *self.v.lock() = Some(o);
        self.cv.notify_one();
    }

    fn take(&self, deadline: Instant) -> Outcome {
        let mut v = self.v.lock();
        loop {
            if let Some(o) = v.take() {
                return o;
            }
            if self.cv.wait_until(&mut v, deadline).timed_out() && v.is_none() {
                return Err("no reply in time".into());
            }
        }
    }
}

pub fn get_sync(args: &Args, rep: &mut Report, mut frame: Vec<u8>) -> Res<()> {
    let slot = Arc::new(Slot::default());
    let s2 = slot.clone();
    let mut s = Session::start(args, move |o| s2.put(o))?;
    let mut call = |frame: &mut [u8]| -> Res<()> {
        let xid = s.raw.xid();
        frame[4..8].copy_from_slice(&xid.to_be_bytes());
        (&s.raw.stream).write_all(frame)?;
        match slot.take(Instant::now() + Duration::from_secs(30)) {
            Ok((x, 0)) if x == xid => Ok(()),
            Ok((x, rc)) => fail(format!("reply xid {x} rc {rc} for request xid {xid}")),
            Err(e) => fail(e),
        }
    };
    let n = args.ops_or(20_000);
    let (w0, mut warm) = (Instant::now(), 0);
    let result = (|| {
        while warming(w0, warm, n / 10) {
            call(&mut frame)?; // untimed
            warm += 1;
        }
        let mut lat = Vec::with_capacity(n);
        let cpu = CpuMeter::start();
        let t0 = Instant::now();
        for _ in 0..n {
            let at = Instant::now();
            call(&mut frame)?;
            lat.push(nanos(at.elapsed()));
        }
        let elapsed = t0.elapsed();
        rep.cpu(cpu.elapsed(), n);
        rep.latencies(n, elapsed, &mut lat);
        Ok(())
    })();
    s.close();
    rep.extra("size", J::I(args.size as i64));
    rep.extra("warmup_ops", J::I(warm as i64));
    result
}

/// One pipelined phase: its semaphore, the issue time of each request (ns since `t0`, by
/// xid - `first_xid`), the latencies the event thread measured.
struct Phase {
    window: Arc<Window>,
    t0: Instant,
    first_xid: i32,
    issued_ns: Vec<AtomicU64>,
    lat: Mutex<Vec<u64>>,
}

/// What one timed phase measured: latencies, wall time, process CPU.
type Measured = (Vec<u64>, Duration, Duration);

/// n getData with at most k in flight on a session of their own (connected before and
/// closed after the measured part).
fn pipelined_gets(args: &Args, frame: &mut [u8], n: usize, k: usize) -> Res<Measured> {
    let (tx, rx) = crossbeam_channel::unbounded::<Outcome>();
    let mut s = Session::start(args, move |o| {
        let _ = tx.send(o);
    })?;
    let phase = Arc::new(Phase {
        window: Window::new(k),
        t0: Instant::now(),
        first_xid: s.raw.peek_xid(),
        issued_ns: (0..n).map(|_| AtomicU64::new(0)).collect(),
        lat: Mutex::new(Vec::with_capacity(n)),
    });
    let p2 = phase.clone();
    let event = thread::Builder::new()
        .name("hop-event".into())
        .spawn(move || {
            for o in rx {
                let (i, rc) = match o {
                    Ok((xid, rc)) => (xid.wrapping_sub(p2.first_xid) as usize, rc),
                    Err(_) => break, // the connection ended: the caller's deadline reports it
                };
                if let Some(at) = p2.issued_ns.get(i) {
                    let now = nanos(p2.t0.elapsed());
                    p2.lat
                        .lock()
                        .push(now.saturating_sub(at.load(Ordering::Relaxed)));
                    p2.window.done(rc);
                }
            }
        })?;
    let deadline = Instant::now() + PIPELINE_TIMEOUT;
    let mut out: Vec<u8> = Vec::with_capacity(frame.len() * k.max(1));
    let result = (|| -> Res<(Duration, Duration)> {
        let (cpu, t0) = (CpuMeter::start(), Instant::now());
        for i in 0..n {
            if !phase.window.try_acquire() {
                if !out.is_empty() {
                    (&s.raw.stream).write_all(&out)?;
                    out.clear();
                }
                phase.window.acquire(deadline)?;
            }
            let xid = s.raw.xid();
            frame[4..8].copy_from_slice(&xid.to_be_bytes());
            phase.issued_ns[i].store(nanos(phase.t0.elapsed()), Ordering::Relaxed);
            out.extend_from_slice(frame);
        }
        if !out.is_empty() {
            (&s.raw.stream).write_all(&out)?;
        }
        phase.window.wait_all(n, deadline)?;
        Ok((t0.elapsed(), cpu.elapsed()))
    })();
    s.close();
    let _ = event.join();
    let (elapsed, cpu) = result?;
    let lat = std::mem::take(&mut *phase.lat.lock());
    Ok((lat, elapsed, cpu))
}

pub fn get_pipelined(args: &Args, rep: &mut Report, mut frame: Vec<u8>) -> Res<()> {
    let n = args.ops_or(100_000);
    let k = args.inflight;
    let (w0, mut warm, chunk) = (Instant::now(), 0, (n / 10).max(1));
    while warming(w0, warm, n / 10) {
        pipelined_gets(args, &mut frame, chunk, k)?; // untimed
        warm += chunk;
    }
    let (mut lat, elapsed, cpu) = pipelined_gets(args, &mut frame, n, k)?;
    rep.cpu(cpu, n);
    rep.latencies(n, elapsed, &mut lat);
    rep.extra("inflight", J::I(k as i64));
    rep.extra("warmup_ops", J::I(warm as i64));
    Ok(())
}
