//! One listening member of a server or cluster: its loopback listener, the acceptor thread
//! (`zk-test-acceptor`), the connection threads it started and its fault switches. Members
//! share one [`ServerShared`]; a standalone `TestingServer` is a single member.
//!
//! Quorum: a member counts while it is up and, in a cluster of more than one, not
//! partitioned. Without a majority every member refuses service (handshakes are dropped,
//! `srvr` says so) and sessions stop ageing, as in an ensemble without a leader; when the
//! majority is back, every session's clock restarts, as a new leader's does.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use super::conn::Conn;
use super::shared::ServerShared;
use super::stats::MemberShared;

/// Every connection thread this member started, with a socket handle to shut it down.
type ConnThreads = Arc<Mutex<Vec<(TcpStream, JoinHandle<()>)>>>;

struct Running {
    port: u16,
    stop: Arc<AtomicBool>,
    acceptor: JoinHandle<()>,
    conns: ConnThreads,
}

/// A member's state, behind `&self` so that a server shared through an `Arc` can be stopped
/// and restarted like any other fault. The lock is held for a whole start or stop (it
/// serializes them, and only they take it), never by the threads they start or join.
pub(crate) struct Member {
    pub shared: Arc<MemberShared>,
    core: Arc<ServerShared>,
    life: Mutex<Life>,
}

struct Life {
    /// The port bound (0 before the first start); restarts reuse it.
    port: u16,
    running: Option<Running>,
}

impl Member {
    pub(crate) fn new(core: Arc<ServerShared>, index: usize) -> Member {
        Member {
            shared: Arc::new(MemberShared::new(index)),
            core,
            life: Mutex::new(Life {
                port: 0,
                running: None,
            }),
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.life.lock().port
    }

    /// Binds `127.0.0.1:port` (0 picks a free port, later restarts reuse it) and starts
    /// accepting.
    pub(crate) fn start(&self, port: u16) -> io::Result<()> {
        let mut life = self.life.lock();
        if life.running.is_some() {
            return Ok(());
        }
        let port = if port == 0 { life.port } else { port };
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: ConnThreads = Arc::default();
        let acceptor = {
            let (stop, conns) = (Arc::clone(&stop), Arc::clone(&conns));
            let (core, shared) = (Arc::clone(&self.core), Arc::clone(&self.shared));
            std::thread::Builder::new()
                .name("zk-test-acceptor".into())
                .spawn(move || accept_loop(listener, stop, conns, core, shared))?
        };
        life.port = port;
        self.shared.faults.set_stopping(false);
        self.shared.set_up(true);
        life.running = Some(Running {
            port,
            stop,
            acceptor,
            conns,
        });
        Ok(())
    }

    /// Closes the listener and every connection of this member and joins their threads.
    pub(crate) fn stop(&self) {
        let mut life = self.life.lock();
        let Some(r) = life.running.take() else {
            return;
        };
        self.shared.set_up(false);
        // Paused connection threads must not wait for a resume that will not come.
        self.shared.faults.set_stopping(true);
        r.stop.store(true, Ordering::Release);
        // Wake the blocking accept() with a connection of our own.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], r.port)),
            Duration::from_secs(1),
        );
        let _ = r.acceptor.join();
        let index = self.shared.index;
        self.core
            .state
            .lock()
            .kill_conns(true, |c| c.member == index);
        let conns = std::mem::take(&mut *r.conns.lock());
        for (s, _) in &conns {
            let _ = s.shutdown(Shutdown::Both);
        }
        for (_, h) in conns {
            let _ = h.join();
        }
    }

    /// Drops every client connection of this member (sessions survive).
    pub(crate) fn drop_connections(&self) {
        let index = self.shared.index;
        self.core
            .state
            .lock()
            .kill_conns(false, |c| c.member == index);
        if let Some(r) = &self.life.lock().running {
            for (s, _) in r.conns.lock().iter() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    stop: Arc<AtomicBool>,
    conns: ConnThreads,
    core: Arc<ServerShared>,
    shared: Arc<MemberShared>,
) {
    loop {
        let accepted = listener.accept();
        if stop.load(Ordering::Acquire) {
            return;
        }
        let (stream, addr) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                log::warn!("accept failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let Ok(handle_stream) = stream.try_clone() else {
            continue;
        };
        let id = core.next_conn.fetch_add(1, Ordering::Relaxed);
        let conn = Conn {
            id,
            core: Arc::clone(&core),
            member: Arc::clone(&shared),
            stream,
            addr,
        };
        match std::thread::Builder::new()
            .name(format!("zk-test-conn-{id}"))
            .spawn(move || conn.run())
        {
            Ok(h) => {
                let mut list = conns.lock();
                // Join what has finished so the list stays as long as the live connections.
                let (done, live): (Vec<_>, Vec<_>) = std::mem::take(&mut *list)
                    .into_iter()
                    .partition(|(_, h)| h.is_finished());
                *list = live;
                list.push((handle_stream, h));
                drop(list);
                for (_, h) in done {
                    let _ = h.join();
                }
            }
            Err(e) => log::warn!("could not start a connection thread: {e}"),
        }
    }
}
