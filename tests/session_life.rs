//! The life of a session: reconnects that restore watches and deliver what was missed,
//! expiry, partitions, 100,000 watches, and (real ensembles) failover and read-only mode.

mod support;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::events::{Events, WAIT};
use support::proxy::Proxy;
use support::{unique_root, wait_until, RealEnsemble, ServerOptions};
use zk_curator::proto::OpCode;
use zk_curator::{
    Acl, AddWatchMode, CreateMode, Error, EventType, KeeperState, States, WatchedEvent, ZooKeeper,
};

fn mk(zk: &ZooKeeper, path: &str) -> String {
    zk.create(path, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap_or_else(|e| panic!("create {path}: {e}"))
}

/// A client through `proxy`, its default watcher (and every watch set with it) feeding the
/// returned events.
fn via(proxy: &Proxy, timeout: Duration) -> (ZooKeeper, Events) {
    let ev = Events::new();
    let w = ev.watcher();
    let zk = ZooKeeper::builder(&proxy.connect_string())
        .session_timeout(timeout)
        .default_watcher(move |e: &WatchedEvent| w(e))
        .connect()
        .expect("connect through the proxy");
    ev.expect_state(KeeperState::SyncConnected);
    (zk, ev)
}

server_test!(own watches_restored_after_restart_with_missed_changes, |srv| {
    let b = srv.connect();
    let root = mk(&b, &unique_root("restore"));
    let (a_node, c_node, p_node, r_node) = (
        mk(&b, &format!("{root}/a")),
        mk(&b, &format!("{root}/c")),
        mk(&b, &format!("{root}/p")),
        mk(&b, &format!("{root}/r")),
    );
    let missing = format!("{root}/b");
    let proxy = Proxy::start(&srv.connect_string());
    let (a, ev) = via(&proxy, Duration::from_secs(20));
    let sid = a.session_id();
    a.get_data(&a_node, true).unwrap();
    assert!(a.exists(&missing, true).unwrap().is_none());
    a.get_children(&c_node, true).unwrap();
    let pev = Events::new();
    a.add_watch(&p_node, pev.watcher(), AddWatchMode::Persistent).unwrap();
    let rev = Events::new();
    a.add_watch(&r_node, rev.watcher(), AddWatchMode::PersistentRecursive)
        .unwrap();

    srv.stop();
    ev.expect_state(KeeperState::Disconnected);
    proxy.refuse(true);
    srv.restart();
    // A connection made while the JVM was starting may wait out its handshake timeout
    // (the session timeout, as in the Java client) before the next attempt succeeds.
    assert!(
        b.wait_connected(Duration::from_secs(30)),
        "the direct client reconnects"
    );
    b.set_data(&a_node, b"changed", -1).unwrap();
    mk(&b, &missing);
    mk(&b, &format!("{c_node}/child"));
    b.set_data(&p_node, b"missed", -1).unwrap();
    let rx = mk(&b, &format!("{r_node}/x"));
    proxy.refuse(false);

    ev.expect_state(KeeperState::SyncConnected);
    assert_eq!(a.session_id(), sid, "same session");
    // One-shot watches: what changed while away is reported on reconnect.
    let mut got: Vec<(EventType, String)> = (0..3)
        .map(|_| {
            let e = ev.next_node();
            (e.event_type(), e.path().unwrap().to_string())
        })
        .collect();
    got.sort_by_key(|(t, p)| (t.code(), p.clone()));
    let mut want = vec![
        (EventType::NodeCreated, missing.clone()),
        (EventType::NodeDataChanged, a_node.clone()),
        (EventType::NodeChildrenChanged, c_node.clone()),
    ];
    want.sort_by_key(|(t, p)| (t.code(), p.clone()));
    assert_eq!(got, want);
    // Persistent watches are re-armed (the server replays nothing for them).
    b.set_data(&p_node, b"after", -1).unwrap();
    let e = pev.next_node();
    assert_eq!((e.event_type(), e.path()), (EventType::NodeDataChanged, Some(p_node.as_str())));
    b.delete(&rx, -1).unwrap();
    let e = rev.next_node();
    assert_eq!((e.event_type(), e.path()), (EventType::NodeDeleted, Some(rx.as_str())));
});

server_test!(shared expiry_delivers_expired_and_kills_the_handle, |srv| {
    let b = srv.connect();
    let root = mk(&b, &unique_root("expiry"));
    let proxy = Proxy::start(&srv.connect_string());
    let (a, ev) = via(&proxy, Duration::from_secs(20));
    let eph = a
        .create(&format!("{root}/e"), b"", &Acl::open_unsafe(), CreateMode::Ephemeral)
        .unwrap();
    let watched = mk(&b, &format!("{root}/w"));
    a.get_data(&watched, true).unwrap();
    proxy.refuse(true);
    proxy.drop_connections();
    ev.expect_state(KeeperState::Disconnected);
    // A request made while disconnected waits in the queue...
    let (tx, rx) = mpsc::channel();
    a.exists_async(&root, false, move |r| tx.send(r).unwrap()).unwrap();
    srv.expire(&a);
    assert!(b.exists(&eph, false).unwrap().is_none(), "ephemeral gone with the session");
    proxy.refuse(false);
    ev.expect_state(KeeperState::Expired);
    // ...and fails with SessionExpired, as does everything after.
    let r = rx.recv_timeout(WAIT).unwrap();
    assert!(matches!(r, Err(Error::SessionExpired)), "{r:?}");
    assert_eq!(a.state(), States::Expired);
    assert!(matches!(a.exists("/", false), Err(Error::SessionExpired)));
    assert_eq!(a.watch_count(), 0);
    a.close().unwrap();
});

server_test!(shared partition_longer_than_the_session_expires_it, |srv| {
    let b = srv.connect();
    let root = mk(&b, &unique_root("partition"));
    let proxy = Proxy::start(&srv.connect_string());
    let (a, ev) = via(&proxy, Duration::from_secs(3));
    let negotiated = a.negotiated_timeout();
    let eph = a
        .create(&format!("{root}/e"), b"", &Acl::open_unsafe(), CreateMode::Ephemeral)
        .unwrap();
    let start = Instant::now();
    proxy.blackhole(true);
    ev.expect_state(KeeperState::Disconnected);
    let noticed = start.elapsed();
    // Two thirds of the negotiated timeout without a byte, give or take a tick.
    assert!(noticed >= negotiated * 2 / 3 - Duration::from_millis(100), "{noticed:?}");
    assert!(noticed <= negotiated * 2 / 3 + Duration::from_millis(700), "{noticed:?}");
    // The server expires the session once its timeout passes.
    assert!(
        wait_until(negotiated * 3, || b.exists(&eph, false).unwrap().is_none()),
        "the server expired the session"
    );
    proxy.blackhole(false);
    proxy.drop_connections();
    ev.expect_state(KeeperState::Expired);
    assert_eq!(a.state(), States::Expired);
});

server_test!(shared a_short_partition_keeps_the_session, |srv| {
    let b = srv.connect();
    let root = mk(&b, &unique_root("short-partition"));
    let proxy = Proxy::start(&srv.connect_string());
    let (a, ev) = via(&proxy, Duration::from_secs(6));
    let sid = a.session_id();
    let eph = a
        .create(&format!("{root}/e"), b"", &Acl::open_unsafe(), CreateMode::Ephemeral)
        .unwrap();
    let w = mk(&b, &format!("{root}/w"));
    a.get_data(&w, true).unwrap();
    proxy.blackhole(true);
    ev.expect_state(KeeperState::Disconnected);
    b.set_data(&w, b"during", -1).unwrap();
    proxy.blackhole(false);
    proxy.drop_connections();
    ev.expect_state(KeeperState::SyncConnected);
    ev.expect(EventType::NodeDataChanged, &w);
    assert_eq!(a.session_id(), sid);
    assert!(b.exists(&eph, false).unwrap().is_some());
});

server_test!(shared a_handle_locked_out_past_its_session_expires, |srv| {
    let proxy = Proxy::start(&srv.connect_string());
    let (a, ev) = via(&proxy, Duration::from_secs(2));
    let negotiated = a.negotiated_timeout();
    proxy.refuse(true);
    proxy.drop_connections();
    ev.expect_state(KeeperState::Disconnected);
    let cut = Instant::now();
    // No server accepts it: 4/3 of the session timeout after it last heard one, the
    // session is surely gone on the server side too, and the handle says so.
    ev.expect_state(KeeperState::Expired);
    let took = cut.elapsed();
    assert!(took >= negotiated - Duration::from_millis(100), "{took:?}");
    assert!(took <= negotiated * 4 / 3 + Duration::from_secs(2), "{took:?}");
    assert_eq!(a.state(), States::Expired);
    assert!(matches!(a.exists("/", false), Err(Error::SessionExpired)));
    // A handle that never had a session has nothing to lose: it keeps trying.
    let fresh = ZooKeeper::builder(&proxy.connect_string())
        .session_timeout(Duration::from_secs(2))
        .start()
        .unwrap();
    assert!(!fresh.wait_connected(negotiated * 2));
    assert_eq!(fresh.state(), States::Connecting);
    proxy.refuse(false);
    assert!(fresh.wait_connected(WAIT));
    support::figures::figure(
        "2",
        "a_handle_locked_out_past_its_session_expires",
        srv.kind(),
        &[
            ("negotiated_ms", support::figures::ms(negotiated)),
            ("expired_after_cut_ms", support::figures::ms(took)),
        ],
    );
});

server_test!(shared a_hundred_thousand_watches_restore, |srv| {
    const N: usize = 100_000;
    let b = srv.connect();
    let root = mk(&b, &unique_root("many-watches"));
    let proxy = Proxy::start(&srv.connect_string());
    let (a, ev) = via(&proxy, Duration::from_secs(30));
    let rss0 = support::figures::rss_kb();
    // Exist watches on missing nodes: no node to create, and each path ~40 bytes, so the
    // restore needs many SetWatches packets of at most 128 KiB.
    let (tx, rx) = mpsc::channel();
    for i in 0..N {
        let tx = tx.clone();
        a.exists_async(&format!("{root}/node-with-a-longish-name-{i:06}"), true, move |r| {
            tx.send(r.map(|s| s.is_none())).unwrap()
        })
        .unwrap();
    }
    for _ in 0..N {
        assert!(rx.recv_timeout(WAIT).unwrap().unwrap());
    }
    assert_eq!(a.watch_count(), N);
    let rss1 = support::figures::rss_kb();
    let packets0 = proxy.requests(OpCode::SetWatches) + proxy.requests(OpCode::SetWatches2);
    let start = Instant::now();
    proxy.drop_connections();
    ev.expect_state(KeeperState::Disconnected);
    ev.expect_state(KeeperState::SyncConnected);
    let reconnected = start.elapsed();
    // Any of them fires after the restore.
    for i in [0, N / 2, N - 1] {
        let p = format!("{root}/node-with-a-longish-name-{i:06}");
        mk(&b, &p);
        ev.expect(EventType::NodeCreated, &p);
    }
    let restored = start.elapsed();
    let packets =
        proxy.requests(OpCode::SetWatches) + proxy.requests(OpCode::SetWatches2) - packets0;
    support::figures::figure(
        "13",
        "a_hundred_thousand_watches_restore",
        srv.kind(),
        &[
            ("watches", N.to_string()),
            ("setwatches_packets", packets.to_string()),
            ("reconnected_ms", support::figures::ms(reconnected)),
            ("restore_and_3_events_ms", support::figures::ms(restored)),
            ("events_lost", "0".into()),
            ("rss_kb_for_the_watches", rss1.saturating_sub(rss0).to_string()),
        ],
    );
    assert!(packets > 1, "split into several SetWatches: {packets}");
    assert_eq!(a.watch_count(), N - 3);
});

/// Which member holds `session` (from each member's `cons` listing).
fn member_of(ens: &RealEnsemble, session: i64) -> Option<usize> {
    let needle = format!("sid=0x{session:x}");
    (0..ens.len()).find(|&i| ens.four_letter(i, "cons").contains(&needle))
}

/// A three-member ensemble of either kind: real QuorumPeers, or the in-process cluster.
trait Ensemble {
    fn connect_string(&self) -> String;
    /// Which member holds `session`.
    fn member_of(&self, session: i64) -> Option<usize>;
    fn kill(&mut self, i: usize);
}

impl Ensemble for RealEnsemble {
    fn connect_string(&self) -> String {
        RealEnsemble::connect_string(self)
    }
    fn member_of(&self, session: i64) -> Option<usize> {
        member_of(self, session)
    }
    fn kill(&mut self, i: usize) {
        RealEnsemble::kill(self, i)
    }
}

impl Ensemble for zk_curator::testing::TestingCluster {
    fn connect_string(&self) -> String {
        zk_curator::testing::TestingCluster::connect_string(self)
    }
    fn member_of(&self, session: i64) -> Option<usize> {
        self.member_of_session(session)
    }
    fn kill(&mut self, i: usize) {
        zk_curator::testing::TestingCluster::kill(self, i)
    }
}

#[test]
fn ensemble_member_lost_the_session_moves_on_real() {
    let Some(mut ens) = RealEnsemble::start(3) else {
        return;
    };
    member_lost(&mut ens);
}

#[test]
fn ensemble_member_lost_the_session_moves_on_in_process() {
    let mut cluster = zk_curator::testing::TestingCluster::start(3).expect("start the cluster");
    member_lost(&mut cluster);
}

fn member_lost(ens: &mut dyn Ensemble) {
    let observer = ZooKeeper::builder(&ens.connect_string()).connect().unwrap();
    let root = mk(&observer, &unique_root("failover"));
    let ev = Events::new();
    let w = ev.watcher();
    let a = ZooKeeper::builder(&ens.connect_string())
        .session_timeout(Duration::from_secs(10))
        .default_watcher(move |e: &WatchedEvent| w(e))
        .connect()
        .unwrap();
    ev.expect_state(KeeperState::SyncConnected);
    let sid = a.session_id();
    let eph = a
        .create(
            &format!("{root}/e"),
            b"",
            &Acl::open_unsafe(),
            CreateMode::Ephemeral,
        )
        .unwrap();
    let watched = mk(&observer, &format!("{root}/w"));
    a.get_data(&watched, true).unwrap();
    let pev = Events::new();
    a.add_watch(&root, pev.watcher(), AddWatchMode::PersistentRecursive)
        .unwrap();
    let member = ens.member_of(sid).expect("the client is on some member");
    let start = Instant::now();
    ens.kill(member);
    ev.expect_state(KeeperState::Disconnected);
    ev.expect_state(KeeperState::SyncConnected);
    let moved = start.elapsed();
    assert!(moved < a.negotiated_timeout(), "moved after {moved:?}");
    assert_eq!(a.session_id(), sid);
    assert_ne!(ens.member_of(sid), Some(member));
    // The observer may have been on the killed member too.
    assert!(observer.wait_connected(WAIT));
    assert!(
        observer.exists(&eph, false).unwrap().is_some(),
        "ephemeral survives"
    );
    // The member killed may have been the leader: the survivors then elect a new one and
    // drop their connections meanwhile, so the observer's write is retried (bounded) on a
    // connection loss. What is under test is `a`, not the observer.
    let deadline = Instant::now() + WAIT;
    loop {
        match observer.set_data(&watched, b"x", -1) {
            Ok(_) => break,
            Err(e) if e.is_retryable() && Instant::now() < deadline => {
                assert!(observer.wait_connected(WAIT));
            }
            Err(e) => panic!("the observer's write failed: {e}"),
        }
    }
    ev.expect(EventType::NodeDataChanged, &watched);
    let e = pev.next_node();
    assert_eq!(
        (e.event_type(), e.path()),
        (EventType::NodeDataChanged, Some(watched.as_str()))
    );
    eprintln!("moved to another member in {moved:?}");
}

/// Real servers only: the in-process TestingServer has no read-only mode (docs/testing.md).
#[test]
fn read_only_mode_and_back() {
    support::init_log();
    // 3.8 servers refuse to resume a global session in read-only mode and create new
    // sessions there only as local sessions: the scenario is a client that starts during a
    // partition.
    let opts = ServerOptions::new()
        .read_only_mode()
        .config("localSessionsEnabled=true")
        .config("localSessionsUpgradingEnabled=true");
    let Some(mut ens) = RealEnsemble::start_with(3, opts) else {
        return;
    };
    let setup = ZooKeeper::builder(&ens.connect_string()).connect().unwrap();
    let root = mk(&setup, &unique_root("ro"));
    setup.sync(&root).unwrap();
    drop(setup);
    // Partition: the survivor has no quorum and turns read-only.
    ens.kill(1);
    ens.kill(2);
    assert!(
        wait_until(Duration::from_secs(60), || ens.four_letter(0, "isro")
            == "ro"),
        "member 0 turns read-only"
    );
    let ev = Events::new();
    let w = ev.watcher();
    let a = ZooKeeper::builder(&ens.connect_string())
        .session_timeout(Duration::from_secs(10))
        .can_be_read_only(true)
        .default_watcher(move |e: &WatchedEvent| w(e))
        .start()
        .unwrap();
    ev.expect_state(KeeperState::ConnectedReadOnly);
    // The I/O thread sets the state once the connection is installed, just after it queued
    // the event: a watcher can hear it first.
    assert!(
        wait_until(WAIT, || a.state() == States::ConnectedReadOnly),
        "{:?}",
        a.state()
    );
    let ro_session = a.session_id();
    assert!(a.exists(&root, false).unwrap().is_some(), "reads work");
    let r = a.create(
        &format!("{root}/x"),
        b"",
        &Acl::open_unsafe(),
        CreateMode::Persistent,
    );
    assert!(matches!(r, Err(Error::NotReadOnly { .. })), "{r:?}");
    // Heal: the probe finds a read-write server and the client moves there, with a fresh
    // session (a session born read-only is local to its server).
    ens.restart(1);
    ens.restart(2);
    ev.expect_state(KeeperState::SyncConnected);
    assert!(
        wait_until(WAIT, || a.state() == States::Connected),
        "{:?}",
        a.state()
    );
    assert_ne!(a.session_id(), ro_session);
    a.create(
        &format!("{root}/x"),
        b"",
        &Acl::open_unsafe(),
        CreateMode::Persistent,
    )
    .unwrap();
}
