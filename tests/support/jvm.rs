//! The plumbing under [`RealServer`](super::RealServer) and
//! [`RealEnsemble`](super::RealEnsemble): finding Java and the ZooKeeper jars, running one JVM
//! as a child that cannot outlive the test process, free loopback ports, unique temp dirs and
//! the four-letter words.
//!
//! How a JVM is tied to the test process: it is started by a small `bash` wrapper whose stdin
//! is a pipe from the test process. The wrapper polls that pipe; a `TERM` or `KILL` line stops
//! the JVM (and leaves its files alone), end of file (the handle was dropped, or the test
//! process died, even by SIGKILL) kills the JVM and removes the directory it ran in. The
//! wrapper also exits as soon as the JVM does, so `try_wait` on it tells whether the JVM lives.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where Java and the jars are found; overridable with `JAVA_HOME`, `ZK_JAR`, `ZK_LOG_JAR`.
const DEFAULT_ZK_JAR: &str = "/usr/share/java/zookeeper.jar";
const DEFAULT_LOG_JAR: &str = "/usr/share/java/slf4j-simple.jar";

/// Small, quick-starting JVMs: these servers hold a few hundred nodes.
const JVM_FLAGS: &[&str] = &[
    "-Xms32m",
    "-Xmx256m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Dzookeeper.admin.enableServer=false",
    "-Dzookeeper.extendedTypesEnabled=true",
    "-Dzookeeper.4lw.commands.whitelist=*",
    "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
    "-Dorg.slf4j.simpleLogger.showDateTime=true",
];

/// The wrapper described in the module docs. Arguments: pid file, directory to remove when
/// the test process goes away, then the java command line.
const WRAPPER: &str = r#"
# Outlive a Ctrl-C or hangup of the test process group: the closed pipe then cleans up.
trap '' INT QUIT HUP
pidfile=$1 cleanup=$2; shift 2
"$@" </dev/null &
jpid=$!
echo "$jpid" >"$pidfile"
cmd=
while kill -0 "$jpid" 2>/dev/null; do
    read -r -t 0.2 cmd; rc=$?
    [ $rc = 0 ] && break
    [ $rc -gt 128 ] && continue
    cmd=EOF; break
done
if [ "$cmd" = TERM ]; then
    kill -TERM "$jpid" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$jpid" 2>/dev/null || break; sleep 0.1; done
fi
kill -KILL "$jpid" 2>/dev/null
wait "$jpid" 2>/dev/null
[ "$cmd" = EOF ] && rm -rf -- "$cleanup"
exit 0
"#;

/// Netty jars the Netty connection factory needs beyond zookeeper.jar's manifest.
const NETTY_EXTRA_JARS: &[&str] = &[
    "netty-codec.jar",
    "netty-resolver.jar",
    "netty-transport-native-unix-common.jar",
];

/// Java plus the class path of ZooKeeper 3.8 (and slf4j-simple when present).
#[derive(Debug)]
pub struct Installation {
    java: PathBuf,
    classpath: String,
}

impl Installation {
    /// The installation, looked up once per test binary. `None` (after printing
    /// `skipped: real ZooKeeper not found`) when Java or the jar is missing, unless
    /// `ZK_REQUIRE_REAL=1`, which turns that into a panic.
    pub fn get() -> Option<&'static Installation> {
        static FOUND: OnceLock<Result<Installation, String>> = OnceLock::new();
        match FOUND.get_or_init(Installation::find) {
            Ok(inst) => Some(inst),
            Err(why) => {
                if std::env::var("ZK_REQUIRE_REAL").is_ok_and(|v| v == "1") {
                    panic!("ZK_REQUIRE_REAL=1 but real ZooKeeper cannot run here: {why}");
                }
                eprintln!("skipped: real ZooKeeper not found ({why})");
                None
            }
        }
    }

    fn find() -> Result<Installation, String> {
        let jar = env_path("ZK_JAR").unwrap_or_else(|| PathBuf::from(DEFAULT_ZK_JAR));
        if !jar.is_file() {
            return Err(format!("no {}", jar.display()));
        }
        let java = find_java().ok_or("no java on PATH or in JAVA_HOME")?;
        if find_on_path("bash").is_none() {
            return Err("no bash on PATH".into());
        }
        let mut classpath = jar.display().to_string();
        let log_jar = env_path("ZK_LOG_JAR").unwrap_or_else(|| PathBuf::from(DEFAULT_LOG_JAR));
        if log_jar.is_file() {
            classpath.push(':');
            classpath.push_str(&log_jar.display().to_string());
        }
        // The Netty connection factory (TLS on `secureClientPort`) needs Netty jars that the
        // Debian zookeeper.jar's manifest does not list (its netty-handler and
        // netty-transport need netty-codec and netty-resolver); add them where they are.
        let jars = jar.parent().unwrap_or(Path::new("/usr/share/java"));
        for extra in NETTY_EXTRA_JARS {
            let j = jars.join(extra);
            if j.is_file() {
                classpath.push(':');
                classpath.push_str(&j.display().to_string());
            }
        }
        Ok(Installation { java, classpath })
    }
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn find_java() -> Option<PathBuf> {
    if let Some(home) = env_path("JAVA_HOME") {
        let j = home.join("bin/java");
        if j.is_file() {
            return Some(j);
        }
    }
    find_on_path("java")
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// One JVM running `main_class` with `cfg`, its output appended to `log`.
#[derive(Debug)]
pub struct Jvm {
    wrapper: Child,
    stdin: Option<ChildStdin>,
    pid_file: PathBuf,
}

impl Jvm {
    /// Starts the JVM. `cleanup` is the directory the wrapper removes if the test process
    /// dies (the server's whole temp dir).
    pub fn spawn(
        inst: &Installation,
        main_class: &str,
        cfg: &Path,
        log: &Path,
        cleanup: &Path,
        sys_props: &[String],
    ) -> io::Result<Jvm> {
        let out = File::options().create(true).append(true).open(log)?;
        let err = out.try_clone()?;
        let pid_file = log.with_extension("pid");
        let _ = fs::remove_file(&pid_file);
        let wrapper = Command::new("bash")
            .arg("-c")
            .arg(WRAPPER)
            .arg("zk-jvm-wrapper")
            .arg(&pid_file)
            .arg(cleanup)
            .arg(&inst.java)
            .args(JVM_FLAGS)
            .args(sys_props.iter().map(|p| format!("-D{p}")))
            .arg("-cp")
            .arg(&inst.classpath)
            .arg(main_class)
            .arg(cfg)
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()?;
        let mut jvm = Jvm {
            wrapper,
            stdin: None,
            pid_file,
        };
        jvm.stdin = jvm.wrapper.stdin.take();
        Ok(jvm)
    }

    /// True while the JVM runs (the wrapper exits right after it).
    pub fn is_alive(&mut self) -> bool {
        matches!(self.wrapper.try_wait(), Ok(None))
    }

    /// Stops the JVM: `TERM` (graceful, SIGKILL after 10 s), `KILL`, or `EOF` (SIGKILL and
    /// the wrapper removes the cleanup dir). Waits, bounded, until it is gone.
    pub fn stop(&mut self, how: &str) {
        if let Some(mut stdin) = self.stdin.take() {
            if how != "EOF" {
                let _ = writeln!(stdin, "{how}");
            }
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if !matches!(self.wrapper.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The wrapper is stuck: kill the JVM by the pid it recorded, then the wrapper.
        if let Ok(pid) = fs::read_to_string(&self.pid_file) {
            let _ = Command::new("kill")
                .args(["-KILL", pid.trim()])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.wrapper.kill();
        let _ = self.wrapper.wait();
    }
}

impl Drop for Jvm {
    fn drop(&mut self) {
        self.stop("EOF");
    }
}

/// A fresh directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `<tmp>/zk-curator-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> io::Result<TempDir> {
        static N: AtomicU32 = AtomicU32::new(0);
        loop {
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p =
                std::env::temp_dir().join(format!("zk-curator-{tag}-{}-{n}", std::process::id()));
            match fs::create_dir(&p) {
                Ok(()) => return Ok(TempDir(p)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `n` distinct loopback ports that are free now. They are taken below the kernel's
/// ephemeral range, so no outgoing connection can grab one before the server binds it, from a
/// per-process starting point so that concurrent test processes rarely try the same ones.
pub fn free_ports(n: usize) -> Vec<u16> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (lo, hi) = (15_000u32, ephemeral_floor().clamp(16_000, 32_768));
    let span = hi - lo;
    let seed = std::process::id()
        ^ SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    let _ = NEXT.compare_exchange(0, seed % span + 1, Ordering::Relaxed, Ordering::Relaxed);
    let mut ports = Vec::with_capacity(n);
    let mut held = Vec::with_capacity(n);
    for _ in 0..span {
        if ports.len() == n {
            break;
        }
        let port = (lo + NEXT.fetch_add(1, Ordering::Relaxed) % span) as u16;
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            ports.push(port);
            held.push(l);
        }
    }
    assert_eq!(ports.len(), n, "no free loopback ports");
    ports
}

fn ephemeral_floor() -> u32 {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// Sends a four-letter word to `127.0.0.1:port` and returns the text answered, or an empty
/// string if nothing answers within a few seconds.
pub fn four_letter(port: u16, word: &str) -> String {
    try_four_letter(port, word).unwrap_or_default()
}

fn try_four_letter(port: u16, word: &str) -> io::Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    s.write_all(word.as_bytes())?;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
    let _ = s.shutdown(Shutdown::Both);
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The `Mode:` a server reports in `srvr` (`standalone`, `leader`, `follower`, `observer`),
/// or `None` while it is down or not serving.
pub fn mode(port: u16) -> Option<String> {
    let srvr = four_letter(port, "srvr");
    srvr.lines()
        .find_map(|l| l.strip_prefix("Mode: "))
        .map(|m| m.trim().to_string())
}

/// The last `n` lines of a log file, for failure messages.
pub fn log_tail(log: &Path, n: usize) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
