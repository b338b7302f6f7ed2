//! The send path's batching of asynchronous requests (`src/session/shared/send.rs`): a request
//! held back behind replies in flight is never stranded, and a burst after a quiet spell is
//! written at once rather than after the replies it follows.
//!
//! In-process only: both tests need the TestingServer's `set_latency`, which delays every
//! reply by a fixed time while the server keeps reading, as a slow network would; real
//! ZooKeeper has no such switch (a proxy adds its latency per direction, not per reply).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use zk_curator::testing::TestingServer;
use zk_curator::{Acl, CreateMode, ZooKeeper};

fn connect(server: &TestingServer) -> ZooKeeper {
    let zk = ZooKeeper::builder(&server.connect_string())
        .session_timeout(Duration::from_secs(30))
        .connect()
        .expect("connect");
    zk.create("/n", b"v", &Acl::open_unsafe(), CreateMode::Persistent)
        .expect("create /n");
    zk
}

#[test]
fn a_burst_after_a_quiet_spell_is_written_at_once() {
    let server = TestingServer::start().expect("server");
    let zk = connect(&server);
    let latency = Duration::from_millis(400);
    server.set_latency(latency);
    // Quiet: no reply has been handled for far longer than the batching window.
    std::thread::sleep(Duration::from_millis(20));

    let (tx, rx) = mpsc::channel();
    let t0 = Instant::now();
    for i in 0..2 {
        let tx = tx.clone();
        zk.get_data_async("/n", false, move |r| {
            let _ = tx.send((i, r.is_ok(), t0.elapsed()));
        })
        .expect("issue");
    }
    let mut got = Vec::new();
    for _ in 0..2 {
        got.push(rx.recv_timeout(Duration::from_secs(10)).expect("reply"));
    }
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), [0, 1]);
    assert!(got.iter().all(|g| g.1), "{got:?}");
    // Held back until the first reply, the second would take two latencies; written at once,
    // both replies are due one latency after the burst.
    let second = got[1].2;
    assert!(
        second < latency * 3 / 2,
        "second reply after {second:?}: it waited for the first one's reply ({latency:?} each)"
    );
}

#[test]
fn requests_held_behind_replies_in_flight_all_complete_in_order() {
    let server = TestingServer::start().expect("server");
    let zk = connect(&server);
    server.set_latency(Duration::from_millis(2));
    let (tx, rx) = mpsc::channel();
    const N: usize = 5_000;
    // Keep requests in flight all the time, so most are issued while replies flow.
    for i in 0..N {
        let tx = tx.clone();
        zk.get_data_async("/n", false, move |r| {
            let _ = tx.send((i, r.map(|(d, _)| d)));
        })
        .expect("issue");
        if i % 100 == 99 {
            // Let replies start flowing between bursts.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    for want in 0..N {
        // Well under the ping interval (a third of the session timeout): a ping would
        // flush a stranded request too, and hide the bug.
        let (i, r) = rx
            .recv_timeout(Duration::from_secs(2))
            .unwrap_or_else(|_| panic!("reply {want} of {N} never came: a held request stranded"));
        assert_eq!(i, want, "replies in request order");
        assert_eq!(r.expect("get_data"), b"v");
    }
    // Nothing left behind either: a last request after everything settled completes.
    let (tx, rx) = mpsc::channel();
    zk.get_data_async("/n", false, move |r| {
        let _ = tx.send(r.is_ok());
    })
    .expect("issue");
    assert_eq!(rx.recv_timeout(Duration::from_secs(2)), Ok(true));
}
