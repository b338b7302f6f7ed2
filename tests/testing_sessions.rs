//! Sessions, expiry and every fault-injection API, each with what a client observes.

mod support;

use std::time::{Duration, Instant};

use support::raw::{connect_req, RawConn};
use zk_curator::proto::*;
use zk_curator::testing::TestingServer;

fn fast_server() -> TestingServer {
    TestingServer::builder()
        .tick_time(Duration::from_millis(50))
        .start()
        .expect("server")
}

fn wait_until(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}

#[test]
fn starts_fast_and_negotiates_timeouts() {
    let t = Instant::now();
    let server = TestingServer::start().unwrap();
    let took = t.elapsed();
    eprintln!("TestingServer::start took {took:?}");
    assert!(took < Duration::from_millis(50), "start took {took:?}");
    let addr = server.connect_string();
    assert_eq!(
        RawConn::try_connect(&addr, 1000).unwrap().session.timeout,
        4000
    );
    assert_eq!(
        RawConn::try_connect(&addr, 100_000)
            .unwrap()
            .session
            .timeout,
        40_000
    );
    assert_eq!(
        RawConn::try_connect(&addr, 12_345).unwrap().session.timeout,
        12_345
    );
    // A 36-byte response for a client that omits the read-only byte.
    let mut req = connect_req(5000, 0, vec![0; 16], 0);
    req.read_only = None;
    let (_, resp) = RawConn::try_handshake(&addr, &req).unwrap();
    assert_eq!(resp.read_only, None);
}

#[test]
fn create_session_takes_a_zxid_and_resume_keeps_it() {
    let server = TestingServer::start().unwrap();
    let addr = server.connect_string();
    let mut a = RawConn::try_connect(&addr, 10_000).unwrap();
    let r = a.create("/eph", b"", 1).unwrap();
    assert_eq!(r.header.zxid, 2, "session creation is zxid 1");
    drop(
        a.sock
            .try_clone()
            .unwrap()
            .shutdown(std::net::Shutdown::Both),
    );
    let (mut b, resp) = a.resume(&addr).unwrap();
    assert_eq!(resp.session_id, a.session.session_id);
    assert_eq!(resp.passwd, a.session.passwd);
    assert!(b.stat("/eph").unwrap().is_some());
    // Wrong password: expired answer, then close.
    let (mut c, resp) = RawConn::try_handshake(
        &addr,
        &connect_req(10_000, a.session.session_id, vec![9; 16], 0),
    )
    .unwrap();
    assert!(resp.is_expired());
    assert_eq!((resp.session_id, resp.passwd.clone()), (0, vec![0; 16]));
    assert!(c.closed_within(Duration::from_secs(5)));
    // A client that has seen a newer zxid is closed without an answer.
    let ahead = connect_req(10_000, 0, vec![0; 16], 1 << 40);
    assert!(RawConn::try_handshake(&addr, &ahead).is_err());
}

#[test]
fn sessions_expire_on_their_timeout_and_ephemerals_go() {
    let server = fast_server();
    let addr = server.connect_string();
    let mut watcher = RawConn::try_connect(&addr, 2000).unwrap();
    let mut owner = RawConn::try_connect(&addr, 100).unwrap();
    assert_eq!(owner.session.timeout, 100, "2 ticks of 50 ms");
    owner.create("/gone", b"", 1).unwrap();
    watcher.get("/gone", true).unwrap();
    let t = Instant::now();
    // The owner goes silent; the server expires it after 100..=150 ms.
    let (_, e) = watcher.next_event(Duration::from_secs(5)).unwrap();
    let took = t.elapsed();
    assert_eq!((e.event_type, e.path.as_str()), (2, "/gone"));
    assert!(
        took >= Duration::from_millis(90),
        "expired too early: {took:?}"
    );
    assert!(owner.closed_within(Duration::from_secs(2)));
    let (mut again, resp) = owner.resume(&addr).unwrap();
    assert!(resp.is_expired());
    assert!(again.closed_within(Duration::from_secs(2)));
}

#[test]
fn pings_keep_a_session_alive() {
    let server = fast_server();
    let addr = server.connect_string();
    let mut c = RawConn::try_connect(&addr, 100).unwrap();
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(40));
        let r = c.call(Request::Ping).unwrap();
        assert_eq!(r.header.xid, -2);
    }
    assert_eq!(server.session_ids(), vec![c.session.session_id]);
}

#[test]
fn drop_connections_keeps_sessions() {
    let server = TestingServer::start().unwrap();
    let addr = server.connect_string();
    let mut c = RawConn::try_connect(&addr, 10_000).unwrap();
    c.create("/keep", b"", 1).unwrap();
    server.drop_connections();
    assert!(c.closed_within(Duration::from_secs(2)));
    let (mut c2, resp) = c.resume(&addr).unwrap();
    assert_eq!(resp.session_id, c.session.session_id);
    assert!(c2.stat("/keep").unwrap().is_some());
}

#[test]
fn expire_session_injects_expiry() {
    let server = TestingServer::start().unwrap();
    let addr = server.connect_string();
    let mut watcher = RawConn::try_connect(&addr, 10_000).unwrap();
    let mut c = RawConn::try_connect(&addr, 10_000).unwrap();
    c.create("/x", b"", 1).unwrap();
    watcher.get("/x", true).unwrap();
    assert!(server.expire_session(c.session.session_id));
    assert!(!server.expire_session(c.session.session_id));
    assert!(c.closed_within(Duration::from_secs(2)));
    let (_, e) = watcher.next_event(Duration::from_secs(2)).unwrap();
    assert_eq!(e.event_type, 2);
    let (_, resp) = c.resume(&addr).unwrap();
    assert!(resp.is_expired());
    server.expire_all_sessions();
    assert!(server.session_ids().is_empty());
}

#[test]
fn pause_answers_nothing_and_sessions_age() {
    let server = fast_server();
    let addr = server.connect_string();
    let mut short = RawConn::try_connect(&addr, 100).unwrap();
    let mut long = RawConn::try_connect(&addr, 1000).unwrap();
    short.create("/short", b"", 1).unwrap();
    server.pause();
    short.send(&Request::Ping).unwrap();
    long.send(&Request::Ping).unwrap();
    let _ = long.sock.set_read_timeout(Some(Duration::from_millis(300)));
    assert!(long.read_reply().is_err(), "no answer while paused");
    // The short session cannot reach the server and expires.
    assert!(wait_until(Duration::from_secs(3), || !server
        .session_ids()
        .contains(&short.session.session_id)));
    // Its connection is not visibly closed during the partition.
    assert!(!short.closed_within(Duration::from_millis(100)));
    // A new connection is accepted but its handshake is not answered.
    let pending = std::thread::spawn({
        let addr = addr.clone();
        move || RawConn::try_connect(&addr, 5000).map(|c| c.session.session_id)
    });
    std::thread::sleep(Duration::from_millis(100));
    assert!(!pending.is_finished());
    server.resume();
    // The held ping is answered, the handshake completes.
    let _ = long.sock.set_read_timeout(Some(Duration::from_secs(5)));
    let (h, _) = long.read_reply().unwrap();
    assert_eq!(h.xid, -2);
    assert!(pending.join().unwrap().is_ok());
    assert_eq!(long.stat("/short").unwrap(), None);
    // After the heal the expired session's client finds its connection gone.
    assert!(short.closed_within(Duration::from_secs(2)));
}

#[test]
fn latency_delays_replies() {
    let server = TestingServer::start().unwrap();
    let mut c = RawConn::try_connect(server.connect_string(), 10_000).unwrap();
    server.set_latency(Duration::from_millis(150));
    let t = Instant::now();
    c.call(Request::Ping).unwrap();
    let slow = t.elapsed();
    assert!(slow >= Duration::from_millis(140), "{slow:?}");
    server.set_latency(Duration::ZERO);
    let t = Instant::now();
    c.call(Request::Ping).unwrap();
    assert!(t.elapsed() < Duration::from_millis(100));
}

#[test]
fn fail_next_applies_then_closes() {
    let server = TestingServer::start().unwrap();
    let addr = server.connect_string();
    let mut c = RawConn::try_connect(&addr, 10_000).unwrap();
    server.fail_next(1, OpCode::Create);
    c.send(&Request::Create(CreateRequest {
        path: "/lost-reply".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 0,
    }))
    .unwrap();
    assert!(
        c.closed_within(Duration::from_secs(2)),
        "no reply, connection closed"
    );
    let (mut c2, resp) = c.resume(&addr).unwrap();
    assert!(!resp.is_expired());
    assert!(
        c2.stat("/lost-reply").unwrap().is_some(),
        "the create was applied"
    );
    assert_eq!(
        c2.create("/next", b"", 0).unwrap().err(),
        0,
        "only one failure armed"
    );
}

#[test]
fn stop_and_restart_keep_data_and_sessions() {
    let server = TestingServer::start().unwrap();
    let addr = server.connect_string();
    let port = server.port();
    let mut c = RawConn::try_connect(&addr, 10_000).unwrap();
    c.create("/persist", b"v", 0).unwrap();
    c.create("/eph", b"", 1).unwrap();
    server.stop();
    assert!(c.closed_within(Duration::from_secs(2)));
    assert!(std::net::TcpStream::connect(&addr).is_err());
    server.restart().unwrap();
    assert_eq!(server.port(), port);
    let (mut c2, resp) = c.resume(&addr).unwrap();
    assert_eq!(resp.session_id, c.session.session_id);
    assert!(c2.stat("/persist").unwrap().is_some());
    assert!(c2.stat("/eph").unwrap().is_some());
    assert!(server.dump().contains("persist"));
    assert_eq!(server.znode_count(), 7);
    server.close();
}

/// stop() and restart() take `&self`, like every other fault, so a server shared through an
/// `Arc` (one owner per test thread) can be stopped from any of them.
#[test]
fn a_server_shared_through_an_arc_is_stopped_and_restarted_from_other_threads() {
    let server = std::sync::Arc::new(TestingServer::start().unwrap());
    let addr = server.connect_string();
    let mut c = RawConn::try_connect(&addr, 10_000).unwrap();
    c.create("/kept", b"v", 0).unwrap();
    let s = server.clone();
    std::thread::spawn(move || s.stop()).join().unwrap();
    assert!(c.closed_within(Duration::from_secs(2)));
    let s = server.clone();
    std::thread::spawn(move || s.restart())
        .join()
        .unwrap()
        .unwrap();
    let (mut c2, resp) = c.resume(&addr).unwrap();
    assert_eq!(resp.session_id, c.session.session_id);
    assert!(c2.stat("/kept").unwrap().is_some());
    // Stopping twice, or restarting a running server, is harmless.
    server.restart().unwrap();
    server.stop();
    server.stop();
}

#[test]
fn close_joins_everything_even_with_clients_connected() {
    let server = TestingServer::start().unwrap();
    let addr = server.connect_string();
    let _a = RawConn::try_connect(&addr, 10_000).unwrap();
    let _idle = std::net::TcpStream::connect(&addr).unwrap();
    server.pause();
    let t = Instant::now();
    drop(server);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "close took {:?}",
        t.elapsed()
    );
}
