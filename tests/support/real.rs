//! [`RealServer`]: one Apache ZooKeeper 3.8 standalone server (`ZooKeeperServerMain`) on a
//! free loopback port, with its own temp data dir, for tests that prove behaviour against the
//! real thing.
//!
//! ```ignore
//! let Some(zk) = RealServer::start() else { return }; // prints "skipped: ..." without Java
//! let addr = zk.connect_string();
//! ```
//!
//! [`RealServer::shared`] hands out one server per test binary for tests that only need *a*
//! server (give each test its own subtree with [`unique_root`](super::unique_root)); tests
//! that stop, kill or restart a server start their own.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::jvm::{self, Installation, Jvm, TempDir};

/// How long a server may take to answer `srvr` with a `Mode:` line after its JVM starts.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Settings of a [`RealServer`] or [`RealEnsemble`](super::RealEnsemble).
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `tickTime` in ms (default 500; session timeouts are negotiated in ticks).
    pub tick_ms: u32,
    /// `minSessionTimeout` in ms (default `2 * tick_ms`, the server's own floor).
    pub min_session_timeout_ms: Option<u32>,
    /// `maxSessionTimeout` in ms (default 60 000).
    pub max_session_timeout_ms: Option<u32>,
    /// Extra `zoo.cfg` lines, e.g. `reconfigEnabled=true`.
    pub config: Vec<String>,
    /// Extra JVM system properties as `key=value`, e.g. `readonlymode.enabled=true`.
    pub system_properties: Vec<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            tick_ms: 500,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            config: Vec::new(),
            system_properties: Vec::new(),
        }
    }
}

impl ServerOptions {
    /// The defaults.
    pub fn new() -> ServerOptions {
        ServerOptions::default()
    }

    /// Sets `tickTime`.
    pub fn tick_time(mut self, ms: u32) -> Self {
        self.tick_ms = ms;
        self
    }

    /// Sets `minSessionTimeout`.
    pub fn min_session_timeout(mut self, ms: u32) -> Self {
        self.min_session_timeout_ms = Some(ms);
        self
    }

    /// Sets `maxSessionTimeout`.
    pub fn max_session_timeout(mut self, ms: u32) -> Self {
        self.max_session_timeout_ms = Some(ms);
        self
    }

    /// Adds a `zoo.cfg` line.
    pub fn config(mut self, line: impl Into<String>) -> Self {
        self.config.push(line.into());
        self
    }

    /// Adds a JVM system property (`key=value`).
    pub fn system_property(mut self, prop: impl Into<String>) -> Self {
        self.system_properties.push(prop.into());
        self
    }

    /// `reconfigEnabled=true` (the reconfig op is refused with -123 otherwise).
    pub fn reconfig_enabled(self) -> Self {
        self.config("reconfigEnabled=true")
    }

    /// `readonlymode.enabled=true`: a quorum member cut off from the majority serves reads.
    /// (A system property, not a `zoo.cfg` key; it has no effect on a standalone server.)
    pub fn read_only_mode(self) -> Self {
        self.system_property("readonlymode.enabled=true")
    }

    /// The `zoo.cfg` text for a server with `data_dir` listening on `port`.
    pub(crate) fn zoo_cfg(&self, data_dir: &std::path::Path, port: u16) -> String {
        let tick = self.tick_ms;
        let mut s = String::new();
        let _ = writeln!(s, "tickTime={tick}");
        let _ = writeln!(s, "initLimit=10");
        let _ = writeln!(s, "syncLimit=5");
        let _ = writeln!(s, "dataDir={}", data_dir.display());
        let _ = writeln!(s, "clientPort={port}");
        let _ = writeln!(s, "clientPortAddress=127.0.0.1");
        let _ = writeln!(s, "maxClientCnxns=0");
        let min = self.min_session_timeout_ms.unwrap_or(2 * tick);
        let _ = writeln!(s, "minSessionTimeout={min}");
        let max = self.max_session_timeout_ms.unwrap_or(60_000);
        let _ = writeln!(s, "maxSessionTimeout={max}");
        let _ = writeln!(s, "4lw.commands.whitelist=*");
        let _ = writeln!(s, "admin.enableServer=false");
        let _ = writeln!(s, "extendedTypesEnabled=true");
        let _ = writeln!(s, "autopurge.purgeInterval=0");
        for line in &self.config {
            let _ = writeln!(s, "{line}");
        }
        s
    }
}

/// A standalone Apache ZooKeeper server, killed and its data dir removed on drop (also when
/// the test panics, and also when the test process dies: see [`jvm`]).
#[derive(Debug)]
pub struct RealServer {
    port: u16,
    opts: ServerOptions,
    jvm: Option<Jvm>,
    // Declared last: dropped after the JVM is gone.
    dir: TempDir,
}

const MAIN: &str = "org.apache.zookeeper.server.ZooKeeperServerMain";

impl RealServer {
    /// Starts a server with the default options and waits until it serves. `None` (with
    /// `skipped: real ZooKeeper not found` on stderr) when Java or ZooKeeper is missing; a
    /// panic instead if `ZK_REQUIRE_REAL=1`.
    pub fn start() -> Option<RealServer> {
        RealServer::start_with(ServerOptions::default())
    }

    /// [`start`](Self::start) with options.
    pub fn start_with(opts: ServerOptions) -> Option<RealServer> {
        let inst = Installation::get()?;
        let mut last = String::new();
        // A port can be taken between our check and the JVM's bind: try fresh ports.
        for _ in 0..3 {
            let dir = TempDir::new("server").expect("create a temp dir for ZooKeeper");
            let port = jvm::free_ports(1)[0];
            let mut server = RealServer {
                port,
                opts: opts.clone(),
                jvm: None,
                dir,
            };
            let data = server.data_dir();
            fs::create_dir_all(&data).expect("create the data dir");
            fs::write(server.cfg_path(), opts.zoo_cfg(&data, port)).expect("write zoo.cfg");
            server.spawn(inst);
            match server.wait_serving(START_TIMEOUT) {
                Ok(()) => return Some(server),
                Err(why) => last = why,
            }
            if !server.log().contains("Address already in use") {
                break;
            }
        }
        panic!("ZooKeeper did not start: {last}");
    }

    /// The process-wide server of this test binary, started on first use and never stopped
    /// by tests (it goes away with the test process). `None` as for [`start`](Self::start).
    pub fn shared() -> Option<&'static RealServer> {
        static SHARED: OnceLock<Option<RealServer>> = OnceLock::new();
        SHARED.get_or_init(RealServer::start).as_ref()
    }

    /// `127.0.0.1:PORT`.
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The options the server runs with.
    pub fn options(&self) -> &ServerOptions {
        &self.opts
    }

    /// The server's temp dir (`zoo.cfg`, `data/`, `server.log`), removed on drop.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Sends a four-letter word and returns the answer (empty if the server does not answer).
    pub fn four_letter(&self, word: &str) -> String {
        jvm::four_letter(self.port, word)
    }

    /// True while the JVM runs.
    pub fn is_running(&mut self) -> bool {
        self.jvm.as_mut().is_some_and(Jvm::is_alive)
    }

    /// Stops the server gracefully (SIGTERM, then SIGKILL after 10 s), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut j) = self.jvm.take() {
            j.stop("TERM");
        }
    }

    /// Kills the server (SIGKILL), keeping its data.
    pub fn kill(&mut self) {
        if let Some(mut j) = self.jvm.take() {
            j.stop("KILL");
        }
    }

    /// Stops the server if it runs, starts it again on the same port with the same data and
    /// waits until it serves.
    pub fn restart(&mut self) {
        self.stop();
        let inst = Installation::get().expect("the server ran, so the installation exists");
        self.spawn(inst);
        if let Err(why) = self.wait_serving(START_TIMEOUT) {
            panic!("ZooKeeper did not restart: {why}");
        }
    }

    /// The server's output so far (its log).
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn spawn(&mut self, inst: &Installation) {
        let jvm = Jvm::spawn(
            inst,
            MAIN,
            &self.cfg_path(),
            &self.log_path(),
            self.dir.path(),
            &self.opts.system_properties,
        )
        .expect("spawn bash/java");
        self.jvm = Some(jvm);
    }

    fn wait_serving(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if jvm::mode(self.port).is_some() {
                return Ok(());
            }
            let alive = self.is_running();
            if !alive || Instant::now() >= deadline {
                let what = if alive { "timed out" } else { "the JVM exited" };
                return Err(format!(
                    "{what} on port {}; last log lines:\n{}",
                    self.port,
                    jvm::log_tail(&self.log_path(), 30)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn cfg_path(&self) -> PathBuf {
        self.dir.path().join("zoo.cfg")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        // Close the wrapper's pipe: it kills the JVM; then the TempDir goes.
        self.jvm.take();
    }
}
