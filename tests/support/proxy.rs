//! A TCP proxy between one client and a server, for faults that must hit one client only:
//! drop its connections, refuse new ones, blackhole traffic (connections stay open, bytes go
//! nowhere: a network partition), delay the server's bytes, lose the reply to one request,
//! or corrupt or truncate one server frame (any header byte: length, xid, zxid, err). Works
//! the same in front of either server kind.
//!
//! The server→client direction is cut into frames (the first one of a connection is the
//! ConnectResponse, the others start with a ReplyHeader), so that a fault can pick its frame:
//! "the next reply", "the next ping reply", "the next notification".

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Which server frame a corruption or truncation waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// The reply to a request (xid > 0).
    Reply,
    /// A ping reply (xid -2).
    Ping,
    /// A watch notification (xid -1).
    Notification,
}

impl Frame {
    fn matches(self, xid: i32) -> bool {
        match self {
            Frame::Reply => xid > 0,
            Frame::Ping => xid == -2,
            Frame::Notification => xid == -1,
        }
    }
}

/// Byte offsets inside a server frame (length prefix included).
pub mod at {
    /// The 4-byte length prefix: 0..4.
    pub const LEN: usize = 0;
    /// The xid: 4..8.
    pub const XID: usize = 4;
    /// The zxid: 8..16 (8 is its most significant byte: the epoch's high byte).
    pub const ZXID: usize = 8;
    /// The err: 16..20.
    pub const ERR: usize = 16;
}

/// A fault armed for the next server frame of some kind.
#[derive(Debug, Clone)]
enum Armed {
    /// XOR `mask` into the bytes from `offset` of the frame (or overwrite them).
    Corrupt {
        which: Frame,
        offset: usize,
        bytes: Vec<u8>,
        xor: bool,
    },
    /// Forward the first `keep` bytes of the frame, then cut the connection.
    Truncate { which: Frame, keep: usize },
}

#[derive(Default)]
struct State {
    refuse: AtomicBool,
    blackhole: AtomicBool,
    /// Server→client bytes only are swallowed.
    blackhole_replies: AtomicBool,
    /// Op code whose next request gets its reply lost (the connection is cut as soon as
    /// the server answers it); -1 when unarmed.
    lose_reply_of: AtomicI32,
    /// Set when the armed request went through: the next server bytes cut the connection.
    cut_on_reply: AtomicBool,
    /// Server→client delay in microseconds.
    delay_us: AtomicU64,
    armed: Mutex<Option<Armed>>,
    /// Faults of `armed` that went off.
    fired: AtomicUsize,
    stop: AtomicBool,
    accepted: AtomicUsize,
    /// Client requests seen, by op code.
    ops: Mutex<std::collections::HashMap<i32, usize>>,
    live: Mutex<Vec<TcpStream>>,
}

/// A proxy on `127.0.0.1:<port>` forwarding to `target`.
pub struct Proxy {
    port: u16,
    state: Arc<State>,
}

impl Proxy {
    pub fn start(target: &str) -> Proxy {
        let target = target.to_string();
        let l = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = l.local_addr().expect("proxy address").port();
        l.set_nonblocking(true).expect("nonblocking listener");
        let state = Arc::new(State::default());
        state.lose_reply_of.store(-1, Ordering::SeqCst);
        let st = state.clone();
        thread::Builder::new()
            .name("test-proxy".into())
            .spawn(move || accept_loop(l, target, st))
            .expect("spawn the proxy");
        Proxy { port, state }
    }

    /// `127.0.0.1:<port>` (connect the client here).
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Closes every proxied connection (the client sees a reset or EOF).
    pub fn drop_connections(&self) {
        for s in self.state.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// While on, new connections are closed as soon as they are accepted.
    pub fn refuse(&self, on: bool) {
        self.state.refuse.store(on, Ordering::SeqCst);
    }

    /// While on, bytes are swallowed in both directions (connections stay open).
    pub fn blackhole(&self, on: bool) {
        self.state.blackhole.store(on, Ordering::SeqCst);
    }

    /// While on, the server's bytes are swallowed (requests still reach it, connections
    /// stay open): replies lost in a one-way partition.
    pub fn blackhole_replies(&self, on: bool) {
        self.state.blackhole_replies.store(on, Ordering::SeqCst);
    }

    /// Holds every server→client byte for `d` before passing it on (order kept; `ZERO` to
    /// stop). Requests are not delayed: a slow server, as the client sees it.
    pub fn delay(&self, d: Duration) {
        self.state
            .delay_us
            .store(d.as_micros() as u64, Ordering::SeqCst);
    }

    /// The next request with op code `op` reaches the server, but its reply never reaches
    /// the client: the proxy cuts the connection when the server answers.
    pub fn lose_next_reply_to(&self, op: zk_curator::proto::OpCode) {
        self.state.lose_reply_of.store(op.code(), Ordering::SeqCst);
    }

    /// XORs `mask` into byte `offset` (see [`at`]) of the next server frame of kind `which`;
    /// everything else passes untouched.
    pub fn corrupt_next(&self, which: Frame, offset: usize, mask: u8) {
        *self.state.armed.lock().unwrap() = Some(Armed::Corrupt {
            which,
            offset,
            bytes: vec![mask],
            xor: true,
        });
    }

    /// Writes `bytes` over the next server frame of kind `which` from byte `offset` on.
    pub fn overwrite_next(&self, which: Frame, offset: usize, bytes: &[u8]) {
        *self.state.armed.lock().unwrap() = Some(Armed::Corrupt {
            which,
            offset,
            bytes: bytes.to_vec(),
            xor: false,
        });
    }

    /// Forwards only the first `keep` bytes of the next server frame of kind `which`, then
    /// closes the connection (a frame cut in the middle of any of its fields).
    pub fn truncate_next(&self, which: Frame, keep: usize) {
        *self.state.armed.lock().unwrap() = Some(Armed::Truncate { which, keep });
    }

    /// How many faults armed by `corrupt_next`/`overwrite_next`/`truncate_next` went off
    /// (each is used up by the frame it hits).
    pub fn fired(&self) -> usize {
        self.state.fired.load(Ordering::SeqCst)
    }

    /// Requests with op code `op` the client sent so far (all connections).
    pub fn requests(&self, op: zk_curator::proto::OpCode) -> usize {
        self.state
            .ops
            .lock()
            .unwrap()
            .get(&op.code())
            .copied()
            .unwrap_or(0)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.drop_connections();
    }
}

fn accept_loop(l: TcpListener, target: String, st: Arc<State>) {
    while !st.stop.load(Ordering::SeqCst) {
        let client = match l.accept() {
            Ok((c, _)) => c,
            Err(_) => {
                thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        let _ = client.set_nonblocking(false);
        st.accepted.fetch_add(1, Ordering::SeqCst);
        if st.refuse.load(Ordering::SeqCst) {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let Ok(server) = TcpStream::connect(&target) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        {
            let mut live = st.live.lock().unwrap();
            for s in [&client, &server] {
                if let Ok(c) = s.try_clone() {
                    live.push(c);
                }
            }
        }
        for (from, to, upstream) in [(&client, &server, true), (&server, &client, false)] {
            let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
                continue;
            };
            let st = st.clone();
            let _ = thread::Builder::new()
                .name("test-proxy-pipe".into())
                .spawn(move || {
                    if upstream {
                        upstream_pipe(from, to, st)
                    } else {
                        downstream_pipe(from, to, st)
                    }
                });
        }
    }
}

fn close(a: &TcpStream, b: &TcpStream) {
    let _ = a.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
}

/// Client→server: bytes pass as read; frames (the first is the handshake) are parsed to spot
/// the request whose reply is to be lost.
fn upstream_pipe(mut from: TcpStream, mut to: TcpStream, st: Arc<State>) {
    let mut buf = [0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut frames_seen = 0usize;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if st.blackhole.load(Ordering::SeqCst) {
            continue;
        }
        pending.extend_from_slice(&buf[..n]);
        while pending.len() >= 4 {
            let len = i32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]);
            let len = usize::try_from(len).unwrap_or(0);
            if pending.len() < 4 + len {
                break;
            }
            if frames_seen > 0 && len >= 8 {
                let op = i32::from_be_bytes([pending[8], pending[9], pending[10], pending[11]]);
                *st.ops.lock().unwrap().entry(op).or_default() += 1;
                if op == st.lose_reply_of.load(Ordering::SeqCst) {
                    st.lose_reply_of.store(-1, Ordering::SeqCst);
                    st.cut_on_reply.store(true, Ordering::SeqCst);
                }
            }
            frames_seen += 1;
            pending.drain(..4 + len);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    close(&from, &to);
}

/// Server→client: whole frames are forwarded (after the delay, if any) by a writer thread,
/// so that one frame can be corrupted or cut and the delay does not accumulate.
fn downstream_pipe(mut from: TcpStream, to: TcpStream, st: Arc<State>) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>, bool)>();
    let writer = {
        let (mut to, from2) = match (to.try_clone(), from.try_clone()) {
            (Ok(t), Ok(f)) => (t, f),
            _ => return close(&from, &to),
        };
        thread::Builder::new()
            .name("test-proxy-out".into())
            .spawn(move || {
                for (due, bytes, then_cut) in rx {
                    let now = Instant::now();
                    if due > now {
                        thread::sleep(due - now);
                    }
                    if to.write_all(&bytes).is_err() || then_cut {
                        break;
                    }
                }
                close(&from2, &to);
            })
    };
    let mut buf = [0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut frames_seen = 0usize;
    'read: loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if st.blackhole.load(Ordering::SeqCst) || st.blackhole_replies.load(Ordering::SeqCst) {
            continue;
        }
        if st.cut_on_reply.swap(false, Ordering::SeqCst) {
            break;
        }
        let due = Instant::now() + Duration::from_micros(st.delay_us.load(Ordering::SeqCst));
        pending.extend_from_slice(&buf[..n]);
        let mut out = Vec::new();
        while pending.len() >= 4 {
            let len = i32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]);
            let len = usize::try_from(len).unwrap_or(0);
            if pending.len() < 4 + len {
                break;
            }
            let mut frame: Vec<u8> = pending.drain(..4 + len).collect();
            let first = frames_seen == 0;
            frames_seen += 1;
            if first || frame.len() < 8 {
                out.extend_from_slice(&frame);
                continue;
            }
            let xid = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
            let fault = {
                let mut armed = st.armed.lock().unwrap();
                let hit = match &*armed {
                    Some(Armed::Corrupt { which, .. }) | Some(Armed::Truncate { which, .. }) => {
                        which.matches(xid)
                    }
                    None => false,
                };
                if hit {
                    armed.take()
                } else {
                    None
                }
            };
            match fault {
                Some(Armed::Corrupt {
                    offset, bytes, xor, ..
                }) => {
                    for (i, x) in bytes.iter().enumerate() {
                        if let Some(b) = frame.get_mut(offset + i) {
                            *b = if xor { *b ^ x } else { *x };
                        }
                    }
                    st.fired.fetch_add(1, Ordering::SeqCst);
                    out.extend_from_slice(&frame);
                }
                Some(Armed::Truncate { keep, .. }) => {
                    st.fired.fetch_add(1, Ordering::SeqCst);
                    out.extend_from_slice(&frame[..keep.min(frame.len())]);
                    let _ = tx.send((due, std::mem::take(&mut out), true));
                    break 'read;
                }
                None => out.extend_from_slice(&frame),
            }
        }
        if !out.is_empty() && tx.send((due, out, false)).is_err() {
            break;
        }
    }
    drop(tx);
    if let Ok(w) = writer {
        let _ = w.join();
    }
    close(&from, &to);
}

/// A framework client that reaches the server only through `proxy`, so that a test can cut
/// it off (20 s session, 5 s connection timeout, 5 quick retries), started and connected.
pub fn proxied_client(proxy: &Proxy) -> zk_curator::CuratorFramework {
    use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes};
    let c = CuratorFrameworkFactory::builder()
        .connect_string(&proxy.connect_string())
        .session_timeout(Duration::from_secs(20))
        .connection_timeout(Duration::from_secs(5))
        .retry_policy(RetryNTimes::new(5, Duration::from_millis(100)))
        .build()
        .unwrap();
    c.start().unwrap();
    assert!(c.block_until_connected(super::events::WAIT));
    c
}

/// Cuts `c` off behind `proxy`, expires its session if asked, runs `meanwhile`, and lets it
/// back in.
pub fn outage(
    srv: &super::TestServer,
    proxy: &Proxy,
    c: &zk_curator::CuratorFramework,
    expire: bool,
    meanwhile: impl FnOnce(),
) {
    proxy.refuse(true);
    proxy.drop_connections();
    if expire {
        let zk = c.zookeeper_client().zookeeper().unwrap();
        srv.expire(&zk);
    }
    meanwhile();
    proxy.refuse(false);
}
