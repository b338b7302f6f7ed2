//! `examples/testing-server` as a script or CI starts it: stdin is `/dev/null`, and it must
//! keep serving until SIGTERM or SIGINT (Ctrl-C); with `--exit-on-stdin-close` it stops at
//! the end of stdin, as it always did before.
//!
//! A plain `cargo test` builds the examples before it runs the tests (`cargo test --test
//! testing_server_example` alone does not: build them first); the binary is found next to
//! this test's own executable, and refused if it is older than its source.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use support::wait_until;
use zk_curator::ZooKeeper;

fn example() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/testing-server
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    let bin = dir.join("examples").join("testing-server");
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/testing-server.rs");
    match (modified(&bin), modified(&src)) {
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
