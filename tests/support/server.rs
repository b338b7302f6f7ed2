//! One test body, every server kind: [`TestServer`] hides whether a test talks to real
//! Apache ZooKeeper or to zk-curator's in-process `TestingServer`, and the [`server_test!`]
//! macro turns one body into a test per kind (`name::real`, `name::in_process`).
//!
//! Tests that only read and write under their own [`unique_root`](super::unique_root) use the
//! kind's shared server; tests that stop, restart or pause a server get their own.

use std::process::{Command, Stdio};
use std::time::Duration;

use zk_curator::{WatchedEvent, ZooKeeper, ZooKeeperBuilder};

use super::events::Events;
use super::real::RealServer;
use zk_curator::testing::TestingServer;

/// Which server a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Apache ZooKeeper 3.8 in a JVM.
    Real,
    /// `zk_curator::testing::TestingServer`.
    InProcess,
}

enum Inner {
    Real(RealServer),
    Shared(&'static RealServer),
    InProcess(TestingServer),
    SharedInProcess(&'static TestingServer),
}

/// The in-process server with the real one's test settings (tickTime 500 ms, sessions
/// negotiated into 1 s ..= 60 s).
fn in_process() -> TestingServer {
    TestingServer::builder()
        .tick_time(Duration::from_millis(500))
        .max_session_timeout(Duration::from_secs(60))
        .start()
        .expect("start the in-process TestingServer")
}

/// A server of either kind.
pub struct TestServer {
    inner: Inner,
    paused: bool,
}

impl TestServer {
    /// A dedicated server of `kind` (`None`: real ZooKeeper is not installed, test skipped).
    pub fn start(kind: Kind) -> Option<TestServer> {
        let inner = match kind {
            Kind::Real => Inner::Real(RealServer::start()?),
            Kind::InProcess => Inner::InProcess(in_process()),
        };
        Some(TestServer {
            inner,
            paused: false,
        })
    }

    /// The shared server of `kind` for this test binary.
    pub fn shared(kind: Kind) -> Option<TestServer> {
        let inner = match kind {
            Kind::Real => Inner::Shared(RealServer::shared()?),
            Kind::InProcess => {
                static SHARED: std::sync::OnceLock<TestingServer> = std::sync::OnceLock::new();
                Inner::SharedInProcess(SHARED.get_or_init(in_process))
            }
        };
        Some(TestServer {
            inner,
            paused: false,
        })
    }

    pub fn kind(&self) -> Kind {
        match self.inner {
            Inner::Real(_) | Inner::Shared(_) => Kind::Real,
            Inner::InProcess(_) | Inner::SharedInProcess(_) => Kind::InProcess,
        }
    }

    pub fn connect_string(&self) -> String {
        match &self.inner {
            Inner::Real(s) => s.connect_string(),
            Inner::Shared(s) => s.connect_string(),
            Inner::InProcess(s) => s.connect_string(),
            Inner::SharedInProcess(s) => s.connect_string(),
        }
    }

    /// A client builder for this server with test-friendly timeouts.
    pub fn builder(&self) -> ZooKeeperBuilder {
        ZooKeeper::builder(&self.connect_string())
            .session_timeout(Duration::from_secs(10))
            .connection_timeout(Duration::from_secs(10))
    }

    /// A connected client.
    pub fn connect(&self) -> ZooKeeper {
        self.builder().connect().expect("connect")
    }

    /// A connected client whose default watcher feeds the returned events.
    pub fn connect_watched(&self) -> (ZooKeeper, Events) {
        let events = Events::new();
        let w = events.watcher();
        let zk = self
            .builder()
            .default_watcher(move |e: &WatchedEvent| w(e))
            .connect()
            .expect("connect");
        (zk, events)
    }

    /// A started, connected framework client (RetryNTimes(3, 50 ms) unless `retry` says
    /// otherwise through [`curator_builder`](Self::curator_builder)).
    pub fn curator(&self) -> zk_curator::CuratorFramework {
        let c = self.curator_builder().build().expect("build the client");
        c.start().expect("start the client");
        assert!(
            c.block_until_connected(Duration::from_secs(10)),
            "connected"
        );
        c
    }

    /// A framework builder for this server with test-friendly timeouts.
    pub fn curator_builder(&self) -> zk_curator::framework::CuratorFrameworkBuilder {
        zk_curator::CuratorFrameworkFactory::builder()
            .connect_string(&self.connect_string())
            .session_timeout(Duration::from_secs(10))
            .connection_timeout(Duration::from_secs(5))
            .retry_policy(zk_curator::RetryNTimes::new(3, Duration::from_millis(50)))
    }

    fn own(&mut self) -> &mut Inner {
        &mut self.inner
    }

    /// Stops the server, keeping its data and sessions.
    pub fn stop(&mut self) {
        match self.own() {
            Inner::Real(s) => s.stop(),
            Inner::InProcess(s) => s.stop(),
            _ => panic!("the shared server cannot be stopped; use TestServer::start"),
        }
    }

    /// Kills the server (the real one with SIGKILL; the in-process one stops at once, which
    /// looks the same to a client), keeping its data and sessions.
    pub fn kill(&mut self) {
        match self.own() {
            Inner::Real(s) => s.kill(),
            Inner::InProcess(s) => s.stop(),
            _ => panic!("the shared server cannot be killed; use TestServer::start"),
        }
    }

    /// Starts the server again on the same port with the same data.
    pub fn restart(&mut self) {
        match self.own() {
            Inner::Real(s) => s.restart(),
            Inner::InProcess(s) => s.restart().expect("restart the in-process server"),
            _ => panic!("the shared server cannot be restarted; use TestServer::start"),
        }
    }

    /// Stops answering (a partition): the real JVM is sent SIGSTOP.
    pub fn pause(&mut self) {
        self.paused = true;
        match self.own() {
            Inner::Real(s) => signal(s, "STOP"),
            Inner::InProcess(s) => s.pause(),
            _ => panic!("the shared server cannot be paused; use TestServer::start"),
        }
    }

    /// Answers again.
    pub fn resume(&mut self) {
        self.paused = false;
        match self.own() {
            Inner::Real(s) => signal(s, "CONT"),
            Inner::InProcess(s) => s.resume(),
            _ => panic!("the shared server cannot be resumed; use TestServer::start"),
        }
    }

    /// Expires a session as the server would after its timeout: a second handle resumes it
    /// with the same id and password and closes it (the method Curator's tests relied on for
    /// years; it works on both kinds).
    pub fn expire(&self, zk: &ZooKeeper) {
        let other = self
            .builder()
            .session(zk.session_id(), &zk.session_password())
            .connect()
            .expect("resume the session from a second handle");
        other.close().expect("close the second handle");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.paused {
            self.resume();
        }
    }
}

fn signal(s: &RealServer, sig: &str) {
    let pid = std::fs::read_to_string(s.dir().join("server.pid")).expect("the JVM's pid file");
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), pid.trim()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|st| st.success());
    assert!(ok, "kill -{sig} {pid}");
}

/// Declares one test per server kind from one body.
///
/// ```ignore
/// server_test!(shared creates_nodes, |srv| { let zk = srv.connect(); ... });
/// server_test!(own restarts, |srv| { srv.restart(); ... });
/// ```
/// `shared` bodies get the kind's shared server (work under a `unique_root`); `own` bodies get
/// a dedicated server they may stop, restart or pause. `srv` is a `&mut TestServer`.
#[macro_export]
macro_rules! server_test {
    (shared $name:ident, |$srv:ident| $body:block) => {
        $crate::server_test!(@with shared, $name, |$srv| $body);
    };
    (own $name:ident, |$srv:ident| $body:block) => {
        $crate::server_test!(@with start, $name, |$srv| $body);
    };
    // `$server` is the TestServer constructor: `shared` or `start`.
    (@with $server:ident, $name:ident, |$srv:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_mut)]
            fn body($srv: &mut $crate::support::server::TestServer) $body
            #[test]
            fn real() {
                let Some(mut s) = $crate::support::server::TestServer::$server(
                    $crate::support::server::Kind::Real,
                ) else {
                    return;
                };
                body(&mut s)
            }
            #[test]
            fn in_process() {
                let Some(mut s) = $crate::support::server::TestServer::$server(
                    $crate::support::server::Kind::InProcess,
                ) else {
                    return;
                };
                body(&mut s)
            }
        }
    };
}
