//! `examples/testing-server` as scripts, CI and other languages' test suites start it: with
//! stdin at `/dev/null` it keeps serving until SIGTERM or SIGINT (Ctrl-C); with
//! `--exit-on-stdin-close` it stops at the end of stdin, as it always did before; its flags
//! set every builder option; its control channel (stdin and a loopback port) drives it from
//! Rust here, from a Java program (`tests/java/ControlChannel.java`, run through the interop
//! harness) and from a Python script (`tests/python/control_channel.py`), whose helpers are
//! the ones docs/testing.md shows.
//!
//! A plain `cargo test` builds the examples before it runs the tests (`cargo test --test
//! testing_server_example` alone does not: build them first); the binary is found next to
//! this test's own executable, and refused if it is older than its sources.

mod support;

// The example's own modules, so that their unit tests run with `cargo test` (which builds
// examples but does not run their tests).
#[path = "../examples/testing-server/channel.rs"]
#[allow(dead_code)]
mod channel;
#[path = "../examples/testing-server/control.rs"]
#[allow(dead_code)]
mod control;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant, SystemTime};

use support::curator::CuratorJava;
use support::events::Events;
use support::wait_until;
use zk_curator::{Acl, CreateMode, Error, Id, KeeperState, Perms, WatchedEvent, ZooKeeper};

fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/testing-server
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let bin = dir.join("examples").join("testing-server");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/testing-server");
    let newest_source = std::fs::read_dir(&src)
        .into_iter()
        .flatten()
        .filter_map(|e| modified(&e.ok()?.path()))
        .max();
    match (modified(&bin), newest_source) {
        (Some(b), Some(s)) if b >= s => bin,
        _ => panic!(
            "{} is missing or older than its source: run `cargo build --examples` (a plain \
             `cargo test` builds it)",
            bin.display()
        ),
    }
}

/// Starts the example with stdin at end of file, as `cmd < /dev/null &` does, and returns
/// it with its connect string.
fn start(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(example())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn testing-server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the connect string");
    (child, line.trim().to_string())
}

fn exits_within(child: &mut Child, d: Duration) -> Option<ExitStatus> {
    let mut status = None;
    wait_until(d, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    status
}

fn serves(connect: &str) {
    let zk = ZooKeeper::builder(connect)
        .connection_timeout(Duration::from_secs(10))
        .connect()
        .expect("connect to the example");
    assert!(zk.exists("/zookeeper", false).unwrap().is_some());
    zk.close().unwrap();
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{sig}");
}

#[cfg(unix)]
fn killed_by(status: ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(&status)
}

#[test]
#[cfg(unix)]
fn keeps_serving_with_stdin_at_eof_until_sigterm_or_sigint() {
    for (sig, num) in [("TERM", 15), ("INT", 2)] {
        let (mut child, connect) = start(&[]);
        serves(&connect);
        // Before, the server closed as soon as it read the end of stdin.
        assert_eq!(
            exits_within(&mut child, Duration::from_millis(1500)),
            None,
            "still serving with stdin at end of file"
        );
        serves(&connect);
        signal(&child, sig);
        let status = exits_within(&mut child, Duration::from_secs(10)).expect("stopped");
        assert_eq!(killed_by(status), Some(num), "{status:?}");
    }
}

#[test]
fn exit_on_stdin_close_keeps_the_old_behaviour() {
    let (mut child, connect) = start(&["--exit-on-stdin-close", "--tick-ms", "500"]);
    assert!(connect.starts_with("127.0.0.1:"), "{connect}");
    let status = exits_within(&mut child, Duration::from_secs(10)).expect("exited at EOF");
    assert!(status.success(), "{status:?}");
}

#[test]
fn bad_arguments_are_refused_with_the_usage() {
    for args in [&["--port"][..], &["--port", "x"], &["--bogus"]] {
        let out = Command::new(example())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--exit-on-stdin-close"));
    }
}

/// A running example that is killed if the test ends early, with its stdout lines and stdin.
struct Running {
    child: Child,
    /// Its stdout, line by line, read by a thread so that a missing line fails the test
    /// instead of hanging it; `None` at the end.
    stdout: Receiver<Option<String>>,
    stdin: Option<ChildStdin>,
    connect: String,
}

impl Running {
    /// Starts the example with `args` and a pipe on its stdin, and reads its connect string.
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(example())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn testing-server");
        let stdout = lines(child.stdout.take().expect("stdout"));
        let stdin = child.stdin.take();
        let mut r = Running {
            child,
            stdout,
            stdin,
            connect: String::new(),
        };
        r.connect = r.line();
        assert!(r.connect.starts_with("127.0.0.1:"), "{}", r.connect);
        r
    }

    /// The next line on stdout ("" at its end).
    fn line(&mut self) -> String {
        match self.stdout.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line.unwrap_or_default(),
            Err(_) => panic!("no line on stdout within 30 s"),
        }
    }

    /// One command on stdin, its answer from stdout.
    fn call(&mut self, command: &str) -> String {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}").expect("write a command");
        stdin.flush().expect("flush");
        self.line()
    }

    fn client(&self, watch: &Events) -> ZooKeeper {
        let w = watch.watcher();
        ZooKeeper::builder(&self.connect)
            .session_timeout(Duration::from_secs(10))
            .connection_timeout(Duration::from_secs(10))
            .default_watcher(move |e: &WatchedEvent| w(e))
            .connect()
            .expect("connect to the example")
    }
}

fn lines(out: ChildStdout) -> Receiver<Option<String>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(None);
    });
    rx
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A connection to the control port.
struct ControlPort {
    out: TcpStream,
    answers: BufReader<TcpStream>,
}

impl ControlPort {
    fn connect(addr: &str) -> ControlPort {
        let s = TcpStream::connect(addr).expect("connect to the control port");
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        ControlPort {
            out: s.try_clone().unwrap(),
            answers: BufReader::new(s),
        }
    }

    fn call(&mut self, command: &str) -> String {
        self.out
            .write_all(format!("{command}\n").as_bytes())
            .expect("send a command");
        let mut line = String::new();
        self.answers.read_line(&mut line).expect("an answer");
        line.trim_end().to_string()
    }
}

#[test]
fn the_control_port_drives_the_server() {
    let mut server = Running::start(&["--control-port", "0", "--tick-time", "500"]);
    let control = server.line();
    let addr = control
        .strip_prefix("control ")
        .expect("the control address");
    assert!(addr.starts_with("127.0.0.1:"), "{control}");
    let mut ctl = ControlPort::connect(addr);
    assert_eq!(ctl.call("sessions"), "ok");

    let events = Events::new();
    let zk = server.client(&events);
    let id = format!("{:#x}", zk.session_id());
    assert_eq!(ctl.call("sessions"), format!("ok {id}"));
    zk.create("/kept", b"v", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();

    // stop and restart: the client's session and the data survive.
    assert_eq!(ctl.call("stop"), "ok");
    events.expect_state(KeeperState::Disconnected);
    assert!(TcpStream::connect(&server.connect).is_err(), "stopped");
    assert_eq!(ctl.call("restart"), "ok");
    events.expect_state(KeeperState::SyncConnected);
    assert_eq!(format!("{:#x}", zk.session_id()), id);
    assert_eq!(zk.get_data("/kept", false).unwrap().0, b"v");
    // restart bounces a running server, as Curator's does.
    assert_eq!(ctl.call("restart"), "ok");
    events.expect_state(KeeperState::Disconnected);
    events.expect_state(KeeperState::SyncConnected);

    // drop: the connection goes, the session stays.
    assert_eq!(ctl.call("drop"), "ok");
    events.expect_state(KeeperState::Disconnected);
    events.expect_state(KeeperState::SyncConnected);
    assert_eq!(format!("{:#x}", zk.session_id()), id);

    // fail-next: applied, reply lost.
    assert_eq!(ctl.call("fail-next 1 create"), "ok");
    let r = zk.create("/lost", b"", &Acl::open_unsafe(), CreateMode::Persistent);
    assert!(matches!(r, Err(Error::ConnectionLoss { .. })), "{r:?}");
    events.expect_state(KeeperState::SyncConnected);
    assert!(zk.exists("/lost", false).unwrap().is_some());

    // commit-latency and latency (bare numbers are µs).
    assert_eq!(ctl.call("commit-latency 30000"), "ok");
    let t = Instant::now();
    zk.set_data("/kept", b"w", -1).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(30),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(ctl.call("commit-latency 0"), "ok");
    assert_eq!(ctl.call("latency 30ms"), "ok");
    let t = Instant::now();
    zk.get_data("/kept", false).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(30),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(ctl.call("latency 0"), "ok");

    // pause/resume: a partition the client sees as silence.
    assert_eq!(ctl.call("pause"), "ok");
    let (tx, rx) = std::sync::mpsc::channel();
    zk.get_data_async("/kept", false, move |r| {
        let _ = tx.send(r.is_ok());
    })
    .unwrap();
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "answered while paused"
    );
    assert_eq!(ctl.call("resume"), "ok");
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(true));

    let dump = ctl.call("dump");
    assert!(
        dump.starts_with("ok / ") && dump.contains("\t  kept [1 bytes"),
        "{dump}"
    );
    assert!(ctl.call("expire 0x1").starts_with("err no session 0x1"));
    assert!(ctl
        .call("fail-next 1 frobnicate")
        .starts_with("err unknown op"));
    assert!(ctl.call("nonsense").starts_with("err unknown command"));
    // A second client of the port at the same time.
    assert_eq!(
        ControlPort::connect(addr).call("sessions"),
        format!("ok {id}")
    );

    // expire: the client is told its session expired.
    assert_eq!(ctl.call(&format!("expire {id}")), "ok");
    events.expect_state(KeeperState::Expired);
    assert_eq!(ctl.call("expire-all"), "ok 0");

    assert_eq!(ctl.call("quit"), "ok");
    let status = exits_within(&mut server.child, Duration::from_secs(10)).expect("quit");
    assert!(status.success(), "{status:?}");
    let _ = zk.close();
}

#[test]
fn stdin_commands_and_what_the_end_of_stdin_does() {
    // --control-stdin: answers on stdout; the end of stdin does not stop the server.
    let mut server = Running::start(&["--control-stdin"]);
    let zk = ZooKeeper::builder(&server.connect).connect().unwrap();
    assert_eq!(
        server.call("sessions"),
        format!("ok {:#x}", zk.session_id())
    );
    zk.close().unwrap();
    // A blank line is skipped, not answered: the next answer is the next command's.
    assert_eq!(server.call("\n  \nexpire-all"), "ok 0");
    drop(server.stdin.take());
    assert_eq!(
        exits_within(&mut server.child, Duration::from_millis(1500)),
        None
    );
    serves(&server.connect);

    // With --exit-on-stdin-close too, the end of stdin closes it.
    let mut server = Running::start(&["--control-stdin", "--exit-on-stdin-close"]);
    assert_eq!(server.call("expire-all"), "ok 0");
    drop(server.stdin.take());
    let status = exits_within(&mut server.child, Duration::from_secs(10)).expect("exited");
    assert!(status.success(), "{status:?}");

    // Without --control-stdin, lines are not commands (and nothing is answered).
    let mut server = Running::start(&["--exit-on-stdin-close"]);
    writeln!(server.stdin.as_mut().unwrap(), "quit").unwrap();
    serves(&server.connect);
    drop(server.stdin.take());
    let status = exits_within(&mut server.child, Duration::from_secs(10)).expect("exited");
    assert!(status.success(), "{status:?}");
    assert_eq!(
        server.line(),
        "",
        "nothing was written after the connect string"
    );
}

fn conf(connect: &str) -> String {
    let port: u16 = connect.rsplit(':').next().unwrap().parse().unwrap();
    support::jvm::four_letter(port, "conf")
}

#[test]
fn flags_set_every_builder_option() {
    let server = Running::start(&["--curator"]);
    let c = conf(&server.connect);
    assert!(
        c.contains("tickTime=1000\nminSessionTimeout=1000\nmaxSessionTimeout=20000\n"),
        "{c}"
    );
    // Later flags override the preset whatever their order.
    let server = Running::start(&[
        "--tick-time",
        "300",
        "--curator",
        "--max-session-timeout",
        "5s",
    ]);
    let c = conf(&server.connect);
    assert!(
        c.contains("tickTime=300\nminSessionTimeout=1000\nmaxSessionTimeout=5000\n"),
        "{c}"
    );
    let server = Running::start(&[
        "--tick-ms",
        "100",
        "--min-session-timeout",
        "700",
        "--max-session-timeout",
        "1500ms",
    ]);
    let c = conf(&server.connect);
    assert!(
        c.contains("tickTime=100\nminSessionTimeout=700\nmaxSessionTimeout=1500\n"),
        "{c}"
    );
    // Defaults: tick 2 s, sessions 2..20 ticks.
    let server = Running::start(&[]);
    let c = conf(&server.connect);
    assert!(
        c.contains("tickTime=2000\nminSessionTimeout=4000\nmaxSessionTimeout=40000\n"),
        "{c}"
    );

    // Commit latency: --realistic (500 µs) and --commit-latency (bare numbers in µs).
    for (args, at_least) in [
        (&["--realistic"][..], Duration::from_micros(500)),
        (&["--commit-latency", "40000"], Duration::from_millis(40)),
        (
            &["--commit-latency", "40ms", "--realistic"],
            Duration::from_millis(40),
        ),
    ] {
        let server = Running::start(args);
        let zk = ZooKeeper::builder(&server.connect).connect().unwrap();
        for i in 0..3 {
            let t = Instant::now();
            zk.create(
                &format!("/n{i}"),
                b"",
                &Acl::open_unsafe(),
                CreateMode::Persistent,
            )
            .unwrap();
            assert!(t.elapsed() >= at_least, "{args:?}: {:?}", t.elapsed());
        }
        zk.close().unwrap();
    }

    // --extended-types off: no TTL nodes.
    let server = Running::start(&["--extended-types", "off"]);
    let zk = ZooKeeper::builder(&server.connect).connect().unwrap();
    let r = zk.create_ttl(
        "/ttl",
        b"",
        &Acl::open_unsafe(),
        CreateMode::PersistentWithTtl,
        Duration::from_secs(60),
    );
    assert!(matches!(r, Err(Error::Unimplemented { .. })), "{r:?}");
    zk.close().unwrap();

    // --super-user: its digest credentials read what no ACL grants them.
    let server = Running::start(&["--super-user", "boss:secret"]);
    let zk = ZooKeeper::builder(&server.connect).connect().unwrap();
    let locked = [Acl::new(
        Perms::ALL,
        Id::new("digest", "nobody:AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    )];
    zk.create("/locked", b"s", &locked, CreateMode::Persistent)
        .unwrap();
    assert!(matches!(
        zk.get_data("/locked", false),
        Err(Error::NoAuth { .. })
    ));
    let boss = ZooKeeper::builder(&server.connect)
        .auth("digest", b"boss:secret")
        .connect()
        .unwrap();
    assert_eq!(boss.get_data("/locked", false).unwrap().0, b"s");
    boss.close().unwrap();

    // --container-check-interval: an emptied container outlives a long interval (the
    // default 100 ms would reap it at once).
    let server = Running::start(&["--container-check-interval", "60s"]);
    let zk = ZooKeeper::builder(&server.connect).connect().unwrap();
    zk.create("/c", b"", &Acl::open_unsafe(), CreateMode::Container)
        .unwrap();
    zk.create("/c/x", b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    zk.delete("/c/x", -1).unwrap();
    assert!(!wait_until(Duration::from_millis(500), || zk
        .exists("/c", false)
        .unwrap()
        .is_none()));
    zk.close().unwrap();
    drop(server);

    // Bad values are refused with the usage.
    for args in [
        &["--tick-time", "fast"][..],
        &["--commit-latency", "1h"],
        &["--extended-types", "maybe"],
        &["--super-user", "nocolon"],
        &["--control-port", "70000"],
    ] {
        let out = Command::new(example())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--control-port N"));
    }
}

/// The text between `doc:begin` and `doc:end` in a test source.
fn doc_section(file: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let text = std::fs::read_to_string(&path).expect("read the source");
    let begin = text.find("doc:begin\n").expect("doc:begin") + "doc:begin\n".len();
    let end = text[begin..].find("doc:end").expect("doc:end") + begin;
    // Up to the start of the marker's line (its comment sign).
    let end = text[..end].rfind('\n').map_or(end, |i| i + 1);
    text[begin..end].to_string()
}

#[test]
fn docs_show_the_helpers_that_are_tested() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/testing.md"))
            .unwrap();
    for file in [
        "tests/java/ControlChannel.java",
        "tests/python/control_channel.py",
    ] {
        let section = doc_section(file);
        assert!(section.lines().count() > 15, "{file}: {section}");
        assert!(
            docs.contains(&section),
            "docs/testing.md must show the helper of {file} as it is:\n{section}"
        );
    }
}

#[test]
fn a_java_suite_drives_it_through_stdin() {
    let Some(java) = CuratorJava::get() else {
        return;
    };
    let bin = example();
    let out = java.run("ControlChannel", &[&bin.display().to_string()], "");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "state CONNECTED",
            "negotiated 10000",
            "state SUSPENDED",
            "state RECONNECTED",
            "kept data",
            "state LOST",
            "state RECONNECTED",
            "refused bogus: err unknown command \"bogus\" (help lists them)",
            "done",
        ],
        "{out}"
    );
}

#[test]
fn a_python_suite_drives_it_through_the_control_port() {
    let python = Command::new("python3").arg("--version").output();
    if !python.is_ok_and(|o| o.status.success()) {
        assert!(
            std::env::var("ZK_REQUIRE_REAL").map_or(true, |v| v != "1"),
            "ZK_REQUIRE_REAL=1 but python3 cannot run"
        );
        eprintln!("skipped: no python3");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/control_channel.py");
    let started = SystemTime::now();
    let out = Command::new("python3")
        .arg(script)
        .arg(example())
        .stdin(Stdio::null())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["refused expire 0x1: err no session 0x1", "done"],
        "after {:?}",
        started.elapsed()
    );
}
