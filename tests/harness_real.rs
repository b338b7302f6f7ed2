//! Tests of the test harness itself (`tests/support`): real servers start, serve, stop,
//! restart with their data, clean up after themselves even when the test process dies, and a
//! three-member ensemble elects, loses a follower and takes it back.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::jvm;
use support::{unique_root, wait_until, RawConn, RealEnsemble, RealServer, ServerOptions};
use zk_curator::proto::{Acl, CreateRequest, ExistsRequest, Request, Response};

fn create(conn: &mut RawConn, path: &str) {
    let (h, _) = conn
        .call(Request::Create(CreateRequest {
            path: path.into(),
            data: Some(b"x".to_vec()),
            acl: Acl::open_unsafe(),
            flags: 0,
        }))
        .expect("a reply")
        .into_parts();
    assert_eq!(h.err, 0, "create {path}");
}

fn exists(conn: &mut RawConn, path: &str) -> bool {
    let (h, body) = conn
        .call(Request::Exists(ExistsRequest {
            path: path.into(),
            watch: false,
        }))
        .expect("a reply")
        .into_parts();
    matches!(body, Some(Response::Exists(_))) && h.err == 0
}

#[test]
fn shared_server_answers_four_letter_words() {
    let Some(zk) = RealServer::shared() else {
        return;
    };
    assert_eq!(zk.four_letter("ruok"), "imok");
    assert!(zk.four_letter("srvr").contains("Mode: standalone"));
    assert_eq!(zk.connect_string(), format!("127.0.0.1:{}", zk.port()));
    // The same server for every caller.
    assert_eq!(RealServer::shared().map(|s| s.port()), Some(zk.port()));
    assert_ne!(unique_root("x"), unique_root("x"));
}

#[test]
fn options_reach_the_server() {
    let opts = ServerOptions::new()
        .tick_time(200)
        .min_session_timeout(400)
        .max_session_timeout(5000);
    let Some(zk) = RealServer::start_with(opts) else {
        return;
    };
    let conf = zk.four_letter("conf");
    assert!(conf.contains("tickTime=200"), "{conf}");
    assert!(conf.contains("minSessionTimeout=400"), "{conf}");
    assert!(conf.contains("maxSessionTimeout=5000"), "{conf}");
    // The negotiated timeout is clamped to the configured range.
    let conn = RawConn::connect(zk.port());
    assert_eq!(conn.session.timeout, 5000);
}

#[test]
fn stop_kill_and_restart_keep_port_and_data() {
    let Some(mut zk) = RealServer::start() else {
        return;
    };
    let port = zk.port();
    create(&mut RawConn::connect(port), "/survives");

    zk.stop();
    assert!(!zk.is_running());
    assert_eq!(zk.four_letter("ruok"), "");
    zk.restart();
    assert_eq!(zk.port(), port);
    assert!(exists(&mut RawConn::connect(port), "/survives"));

    zk.kill();
    assert_eq!(zk.four_letter("ruok"), "");
    zk.restart();
    assert!(exists(&mut RawConn::connect(port), "/survives"));
}

#[test]
fn data_dir_is_removed_on_drop() {
    let Some(zk) = RealServer::start() else {
        return;
    };
    let port = zk.port();
    let dir = server_dir(&zk);
    assert!(dir.join("zoo.cfg").is_file());
    drop(zk);
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert_eq!(jvm::four_letter(port, "ruok"), "");
}

fn server_dir(zk: &RealServer) -> std::path::PathBuf {
    zk.dir().to_path_buf()
}

/// Run as a child process by `server_dies_with_the_test_process`: start a server, report
/// it, and SIGKILL itself (no unwinding, no destructors).
#[test]
fn child_starts_a_server_and_aborts() {
    if std::env::var_os("ZK_HARNESS_CHILD").is_none() {
        return;
    }
    let zk = RealServer::start().expect("real ZooKeeper in the child");
    println!("SERVER {} {}", zk.port(), server_dir(&zk).display());
    std::io::Write::flush(&mut std::io::stdout()).unwrap();
    let me = std::process::id().to_string();
    let _ = Command::new("kill").args(["-KILL", &me]).status();
    unreachable!("still alive after SIGKILL");
}

#[test]
fn server_dies_with_the_test_process() {
    if RealServer::shared().is_none() {
        return;
    }
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_starts_a_server_and_aborts", "--nocapture"])
        .env("ZK_HARNESS_CHILD", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), None, "the child should have been killed");
    let line = BufReader::new(&out.stdout[..])
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("SERVER "))
        .expect("the child reports its server");
    let mut parts = line.split(' ').skip(1);
    let port: u16 = parts.next().unwrap().parse().unwrap();
    let dir = Path::new(parts.next().unwrap()).to_path_buf();
    assert!(
        wait_until(Duration::from_secs(10), || jvm::four_letter(port, "ruok")
            .is_empty()),
        "the JVM outlived the test process"
    );
    assert!(
        wait_until(Duration::from_secs(10), || !dir.exists()),
        "{} left behind",
        dir.display()
    );
}

#[test]
fn ensemble_elects_loses_a_follower_and_takes_it_back() {
    let Some(mut e) = RealEnsemble::start(3) else {
        return;
    };
    assert_eq!(e.connect_string().split(',').count(), 3);
    let modes: Vec<String> = (0..3).map(|i| e.mode(i).unwrap_or_default()).collect();
    assert_eq!(
        modes.iter().filter(|m| *m == "leader").count(),
        1,
        "{modes:?}"
    );
    assert_eq!(
        modes.iter().filter(|m| *m == "follower").count(),
        2,
        "{modes:?}"
    );
    let leader = e.leader().expect("a leader");

    let f = e.follower().expect("a follower");
    create(&mut RawConn::connect(e.port(leader)), "/ensemble");
    e.kill(f);
    assert!(!e.is_running(f));
    assert_eq!(e.mode(f), None);
    // Two of three still form a quorum and serve writes.
    create(&mut RawConn::connect(e.port(leader)), "/while-down");

    e.restart(f);
    assert_eq!(e.mode(f).as_deref(), Some("follower"));
    let mut conn = RawConn::connect(e.port(f));
    assert!(exists(&mut conn, "/ensemble"));
    assert!(exists(&mut conn, "/while-down"));
}
