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
        for (from, to) in [(&client, &server), (&server, &client)] {
            let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
                continue;
            };
            let st = st.clone();
            let _ = thread::Builder::new()
                .name("test-proxy-pipe".into())
                .spawn(move || pipe(from, to, st));
        }
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream, st: Arc<State>) {
    let mut buf = [0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if st.blackhole.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
