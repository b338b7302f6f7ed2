//! A loopback TCP proxy the benchmark controls, so that it can cut a client's connection to
//! any server (a real ZooKeeper in another process, or a TestingServer it cannot reach
//! into): thread per direction, and [`Proxy::cut`] shuts down every connection it carries
//! while it goes on accepting new ones.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use parking_lot::Mutex;

pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    upstream: SocketAddr,
    stop: AtomicBool,
    /// Both ends of every connection, for `cut`.
    conns: Mutex<Vec<TcpStream>>,
    pumps: Mutex<Vec<JoinHandle<()>>>,
}

impl Proxy {
    /// Listens on an ephemeral loopback port and forwards to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> io::Result<Proxy> {
        let upstream = upstream
            .split(',')
            .next()
            .unwrap_or(upstream)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "cannot resolve upstream"))?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            stop: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            pumps: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        let accept = thread::Builder::new()
            .name("bench-proxy".into())
            .spawn(move || {
                // Ends when stop() sets the flag and connects once to wake the accept.
                for conn in listener.incoming() {
                    if s.stop.load(Ordering::Acquire) {
                        break;
                    }
                    if let Ok(client) = conn {
                        if let Err(e) = s.relay(client) {
                            eprintln!("proxy: cannot relay a connection: {e}");
                        }
                    }
                }
            })?;
        Ok(Proxy {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The connect string of the proxy.
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    /// Cuts every connection now open (both directions); returns how many there were.
    pub fn cut(&self) -> usize {
        let conns = std::mem::take(&mut *self.shared.conns.lock());
        for s in &conns {
            let _ = s.shutdown(Shutdown::Both);
        }
        conns.len() / 2
    }

    /// Stops accepting, cuts everything and joins the proxy's threads.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let _ = accept.join();
        self.cut();
        let pumps = std::mem::take(&mut *self.shared.pumps.lock());
        for p in pumps {
            let _ = p.join();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Shared {
    fn relay(&self, client: TcpStream) -> io::Result<()> {
        let server = TcpStream::connect_timeout(&self.upstream, Duration::from_secs(5))?;
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        {
            let mut conns = self.conns.lock();
            conns.push(client.try_clone()?);
            conns.push(server.try_clone()?);
        }
        let up = (client.try_clone()?, server.try_clone()?);
        let down = (server, client);
        let mut pumps = self.pumps.lock();
        pumps.retain(|h| !h.is_finished());
        for (from, to) in [up, down] {
            pumps.push(
                thread::Builder::new()
                    .name("bench-proxy-pump".into())
                    .spawn(move || pump(from, to))?,
            );
        }
        Ok(())
    }
}

/// Copies until either side ends or is cut, then shuts both down (so the other direction
/// ends too).
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
