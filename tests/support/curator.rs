//! Java Curator beside Rust: the harness of the interoperability tests.
//!
//! A test compiles small Java programs from `tests/java/` (each extends `InteropAgent.java`)
//! with `javac` against Debian's Curator 5.4 jars, starts them as [`JavaAgent`]s pointed at the
//! same server as its Rust clients, and drives them one command line at a time:
//!
//! ```ignore
//! let Some(java) = CuratorJava::get() else { return };
//! let mut agent = java.spawn("LockAgent", &[&server.connect_string(), "/lock"]);
//! agent.call("acquire", Duration::from_secs(10)).unwrap();
//! ```
//!
//! The line protocol is described at the top of `InteropAgent.java`: `ok`/`err` answer a
//! command, `event` lines arrive whenever the program reports something (they are kept
//! in order for [`JavaAgent::wait_event`]), `fatal` ends the program.
//!
//! Classes are compiled once per set of sources (a hash of their text names the output
//! directory under cargo's `CARGO_TARGET_TMPDIR`), so the many tests of a run share one
//! `javac`. An agent exits when its stdin closes, so a JVM never outlives its test, even
//! when the test process is killed.
//!
//! Like real ZooKeeper, Java Curator is optional: without `java`, `javac` or the jars,
//! [`CuratorJava::get`] prints `skipped: Java Curator not found (...)` and returns `None`;
//! with `ZK_REQUIRE_REAL=1` (CI) it panics instead. `.ci/run` installs what it needs:
//! `default-jdk-headless libcurator-recipes-java libcurator-discovery-java`.

use std::collections::hash_map::DefaultHasher;
use std::collections::VecDeque;
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use parking_lot::Mutex;

use super::jvm::TempDir;

/// The jars of Debian's `libcurator-recipes-java`, `libcurator-discovery-java` and what they
/// need, in `/usr/share/java` (or `$CURATOR_JAVA_DIR`). The discovery jars are optional.
const JARS: &[&str] = &[
    "curator-recipes.jar",
    "curator-framework.jar",
    "curator-client.jar",
    "zookeeper.jar",
    "zookeeper-jute.jar",
    "guava.jar",
    "slf4j-api.jar",
    "slf4j-simple.jar",
];
const DISCOVERY_JARS: &[&str] = &[
    "curator-x-discovery.jar",
    "jackson-databind.jar",
    "jackson-core.jar",
    "jackson-annotations.jar",
];

/// Where the Java sources of the tests live.
const SOURCES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/java");

/// A JDK plus the Curator class path.
#[derive(Debug)]
pub struct CuratorJava {
    java: PathBuf,
    javac: PathBuf,
    classpath: String,
    /// Compiled program sets, by the hash of their sources.
    compiled: Mutex<Vec<(u64, PathBuf)>>,
}

impl CuratorJava {
    /// The installation, looked up once per test binary; `None` (with a printed reason) when
    /// something is missing, a panic instead when `ZK_REQUIRE_REAL=1`.
    pub fn get() -> Option<&'static CuratorJava> {
        static FOUND: OnceLock<Result<CuratorJava, String>> = OnceLock::new();
        match FOUND.get_or_init(CuratorJava::find) {
            Ok(java) => Some(java),
            Err(why) => {
                if std::env::var("ZK_REQUIRE_REAL").is_ok_and(|v| v == "1") {
                    panic!("ZK_REQUIRE_REAL=1 but Java Curator cannot run here: {why}");
                }
                eprintln!("skipped: Java Curator not found ({why})");
                None
            }
        }
    }

    fn find() -> Result<CuratorJava, String> {
        let (java, javac) = find_jdk().ok_or("no java and javac in JAVA_HOME or on PATH")?;
        let dir = std::env::var_os("CURATOR_JAVA_DIR")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/share/java"));
        let mut parts = Vec::new();
        for jar in JARS {
            let p = dir.join(jar);
            if !p.is_file() {
                return Err(format!("no {}", p.display()));
            }
            parts.push(p.display().to_string());
        }
        parts.extend(
            DISCOVERY_JARS
                .iter()
                .map(|j| dir.join(j))
                .filter(|p| p.is_file())
                .map(|p| p.display().to_string()),
        );
        Ok(CuratorJava {
            java,
            javac,
            classpath: parts.join(":"),
            compiled: Mutex::new(Vec::new()),
        })
    }

    /// True when the discovery jars (`libcurator-discovery-java`) are present too.
    pub fn has_discovery(&self) -> bool {
        self.classpath.contains("curator-x-discovery")
    }

    /// Compiles `tests/java/<program>.java` with `InteropAgent.java` (once per distinct
    /// source text) and returns the class directory.
    pub fn compile(&self, program: &str) -> PathBuf {
        let files = [
            Path::new(SOURCES).join("InteropAgent.java"),
            Path::new(SOURCES).join(format!("{program}.java")),
        ];
        let mut hasher = DefaultHasher::new();
        for f in &files {
            let text = fs::read(f).unwrap_or_else(|e| panic!("read {}: {e}", f.display()));
            text.hash(&mut hasher);
        }
        let key = hasher.finish();
        let mut compiled = self.compiled.lock();
        if let Some((_, dir)) = compiled.iter().find(|(k, _)| *k == key) {
            return dir.clone();
        }
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("java-{program}-{key:016x}"));
        if !out.join(format!("{program}.class")).is_file() {
            // Compile into a fresh directory and rename it into place, so that test binaries
            // running at the same time never see half a class directory.
            let tmp = TempDir::new("javac").expect("temp dir for javac");
            let result = Command::new(&self.javac)
                .args([
                    "-nowarn",
                    "-encoding",
                    "UTF-8",
                    "-cp",
                    &self.classpath,
                    "-d",
                ])
                .arg(tmp.path())
                .args(&files)
                .output()
                .expect("run javac");
            assert!(
                result.status.success(),
                "javac {program} failed:\n{}",
                String::from_utf8_lossy(&result.stderr)
            );
            let _ = fs::create_dir_all(out.parent().expect("a parent"));
            if fs::rename(tmp.path(), &out).is_err()
                && !out.join(format!("{program}.class")).is_file()
            {
                panic!(
                    "could not move the classes of {program} to {}",
                    out.display()
                );
            }
        }
        compiled.push((key, out.clone()));
        out
    }

    /// Compiles `program` if needed, runs it to the end with `args` and `input` on its stdin
    /// (no server involved: for generators and converters), and returns its stdout. Panics
    /// with its stderr if it fails or takes over 60 s.
    pub fn run(&self, program: &str, args: &[&str], input: &str) -> String {
        let classes = self.compile(program);
        let mut child = Command::new(&self.java)
            .args([
                "-Xmx128m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-cp",
            ])
            .arg(format!("{}:{}", classes.display(), self.classpath))
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start java {program}: {e}"));
        let mut stdin = child.stdin.take().expect("piped stdin");
        let read = |r: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_end(&mut buf);
                }
                buf
            })
        };
        let stdout = read(child.stdout.take().map(|o| Box::new(o) as _));
        let stderr = read(child.stderr.take().map(|e| Box::new(e) as _));
        let _ = stdin.write_all(input.as_bytes());
        drop(stdin);
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("{program} did not finish within 60 s");
                }
            }
        };
        let out = stdout.join().expect("the stdout reader");
        let err = stderr.join().expect("the stderr reader");
        assert!(
            status.success(),
            "{program} {args:?} failed:\n{}",
            String::from_utf8_lossy(&err)
        );
        String::from_utf8(out).expect("UTF-8 output")
    }

    /// Compiles `program` if needed, starts it with `args` (the first is the connect string)
    /// and waits (up to 60 s) until it reports `ready`.
    pub fn spawn(&self, program: &str, args: &[&str]) -> JavaAgent {
        self.spawn_with_env(program, args, &[])
    }

    /// [`spawn`](Self::spawn) with extra environment variables (e.g. `ZK_INTEROP_SESSION_MS`).
    pub fn spawn_with_env(&self, program: &str, args: &[&str], env: &[(&str, &str)]) -> JavaAgent {
        let classes = self.compile(program);
        let log_dir = TempDir::new("java-agent").expect("temp dir for the agent's log");
        let log = log_dir.path().join("stderr.log");
        let mut child = Command::new(&self.java)
            .args([
                "-Xms16m",
                "-Xmx128m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-Dorg.slf4j.simpleLogger.showDateTime=true",
                "-cp",
            ])
            .arg(format!("{}:{}", classes.display(), self.classpath))
            .arg(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).expect("create the agent's log"))
            .spawn()
            .unwrap_or_else(|e| panic!("start java {program}: {e}"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name(format!("java-{program}"))
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .expect("spawn the agent's reader");
        let mut agent = JavaAgent {
            name: program.to_string(),
            child,
            stdin: Some(stdin),
            lines,
            events: VecDeque::new(),
            log,
            _log_dir: log_dir,
        };
        match agent.next_answer(Duration::from_secs(60)) {
            Some(l) if l == "ready" => agent,
            other => panic!(
                "{program} did not start: {other:?}\n{}",
                agent.stderr_tail(30)
            ),
        }
    }
}

fn find_jdk() -> Option<(PathBuf, PathBuf)> {
    if let Some(home) = std::env::var_os("JAVA_HOME").filter(|h| !h.is_empty()) {
        let bin = PathBuf::from(home).join("bin");
        if bin.join("javac").is_file() && bin.join("java").is_file() {
            return Some((bin.join("java"), bin.join("javac")));
        }
    }
    let path = std::env::var_os("PATH")?;
    let find = |name: &str| {
        std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    };
    Some((find("java")?, find("javac")?))
}

/// One running Java program (see the module docs). Dropping it closes its stdin, which makes
/// the program close its client and exit; it is killed if it has not within a few seconds.
#[derive(Debug)]
pub struct JavaAgent {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// `event` lines not consumed yet, oldest first (without the `event ` prefix).
    events: VecDeque<String>,
    log: PathBuf,
    _log_dir: TempDir,
}

impl JavaAgent {
    /// Sends one command line without waiting for its answer (see [`answer`](Self::answer)).
    pub fn send(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("the agent was stopped");
        writeln!(stdin, "{command}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("{} is gone ({e}):\n{}", self.name, self.stderr_tail(30)));
    }

    /// Waits for the answer to the oldest command not answered yet: `Ok(text after "ok")` or
    /// `Err(text after "err")`. Panics (with the program's stderr) on timeout or exit.
    pub fn answer(&mut self, timeout: Duration) -> Result<String, String> {
        match self.next_answer(timeout) {
            Some(l) if l == "ok" => Ok(String::new()),
            Some(l) if l.starts_with("ok ") => Ok(l[3..].to_string()),
            Some(l) if l.starts_with("err ") => Err(l[4..].to_string()),
            other => panic!(
                "{}: no answer within {timeout:?} (got {other:?})\n{}",
                self.name,
                self.stderr_tail(30)
            ),
        }
    }

    /// [`send`](Self::send) then [`answer`](Self::answer).
    pub fn call(&mut self, command: &str, timeout: Duration) -> Result<String, String> {
        self.send(command);
        self.answer(timeout)
    }

    /// [`call`](Self::call) that must succeed.
    pub fn ok(&mut self, command: &str, timeout: Duration) -> String {
        self.call(command, timeout)
            .unwrap_or_else(|e| panic!("{}: `{command}` failed: {e}", self.name))
    }

    /// Waits until an event line satisfying `pred` arrives (or is already queued) and returns
    /// it; events before it are consumed, later ones stay queued. `None` on timeout.
    pub fn wait_event(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(e) = self.events.pop_front() {
                if pred(&e) {
                    return Some(e);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.route(line),
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "{} exited while waiting for an event:\n{}",
                    self.name,
                    self.stderr_tail(30)
                ),
            }
        }
    }

    /// Every event line received so far that was not consumed, oldest first.
    pub fn drain_events(&mut self) -> Vec<String> {
        while let Ok(line) = self.lines.try_recv() {
            self.route(line);
        }
        self.events.drain(..).collect()
    }

    /// The next line that is not an event (events are queued on the way).
    fn next_answer(&mut self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).ok()?;
            if let Some(fatal) = line.strip_prefix("fatal ") {
                panic!("{}: fatal: {fatal}\n{}", self.name, self.stderr_tail(30));
            }
            if line.starts_with("event ") {
                self.route(line);
            } else {
                return Some(line);
            }
        }
    }

    fn route(&mut self, line: String) {
        match line.strip_prefix("event ") {
            Some(e) => self.events.push_back(e.to_string()),
            None => eprintln!("{}: unexpected line outside a command: {line}", self.name),
        }
    }

    /// Asks the program to close its client and exit, and waits (bounded) until it has.
    /// Returns true if it exited by itself.
    pub fn stop(&mut self) -> bool {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }

    /// Kills the JVM at once (its session stays until it expires on the server), as a
    /// crashed process would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop(self.stdin.take());
    }

    /// The last `n` lines the program wrote to stderr (its log), for failure messages.
    pub fn stderr_tail(&self, n: usize) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "--- {} stderr (last {n} lines) ---\n{}",
            self.name,
            lines[lines.len().saturating_sub(n)..].join("\n")
        )
    }
}

impl Drop for JavaAgent {
    fn drop(&mut self) {
        self.stop();
    }
}
