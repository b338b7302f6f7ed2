//! A TCP proxy between one client and a server, for faults that must hit one client only:
//! drop its connections, refuse new ones, or blackhole traffic (connections stay open, bytes
//! go nowhere: a network partition). Works the same in front of either server kind.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

#[derive(Default)]
struct State {
    refuse: AtomicBool,
    blackhole: AtomicBool,
    /// Op code whose next request gets its reply lost (the connection is cut as soon as
    /// the server answers it); -1 when unarmed.
    lose_reply_of: std::sync::atomic::AtomicI32,
    /// Set when the armed request went through: the next server bytes cut the connection.
    cut_on_reply: AtomicBool,
    stop: AtomicBool,
    accepted: AtomicUsize,
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

    /// The next request with op code `op` reaches the server, but its reply never reaches
    /// the client: the proxy cuts the connection when the server answers.
    pub fn lose_next_reply_to(&self, op: zk_curator::proto::OpCode) {
        self.state.lose_reply_of.store(op.code(), Ordering::SeqCst);
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
                .spawn(move || pipe(from, to, st, upstream));
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, st: Arc<State>, upstream: bool) {
    let mut buf = [0u8; 64 * 1024];
    // Client->server bytes are parsed into frames (the first is the handshake) to spot the
    // request whose reply is to be lost.
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
        if !upstream && st.cut_on_reply.swap(false, Ordering::SeqCst) {
            break;
        }
        if upstream {
            pending.extend_from_slice(&buf[..n]);
            while pending.len() >= 4 {
                let len = i32::from_be_bytes([pending[0], pending[1], pending[2], pending[3]]);
                let len = usize::try_from(len).unwrap_or(0);
                if pending.len() < 4 + len {
                    break;
                }
                if frames_seen > 0 && len >= 8 {
                    let op = i32::from_be_bytes([pending[8], pending[9], pending[10], pending[11]]);
                    if op == st.lose_reply_of.load(Ordering::SeqCst) {
                        st.lose_reply_of.store(-1, Ordering::SeqCst);
                        st.cut_on_reply.store(true, Ordering::SeqCst);
                    }
                }
                frames_seen += 1;
                pending.drain(..4 + len);
            }
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
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
