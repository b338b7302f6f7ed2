//! LeaderLatch under faults, watched by a 1 ms monitor that fails the test if two
//! participants ever claim leadership at once: a participant's connections dropped, its
//! session expired, its session presumed lost by the client while the server still holds it
//! (CURATOR-696's two leaders), the server paused for less and for more than the session
//! timeout, and (real ZooKeeper) the loss of the ensemble member the leader is connected to.
//! After each: exactly one leader again, one node per participant (none orphaned), waiters
//! woken.

mod support;

use std::time::{Duration, Instant};

use support::events::WAIT;
use support::latches::Election;
use support::proxy::{proxied_client, Proxy};
use support::{unique_root, wait_until, RealEnsemble};
use zk_curator::framework::CuratorFramework;
use zk_curator::ConnectionState;

const LONG: Duration = Duration::from_secs(60);

/// Three participants, each behind its own proxy.
fn proxied_election(srv: &support::TestServer, name: &str) -> (Election, Vec<Proxy>) {
    let proxies: Vec<Proxy> = (0..3)
        .map(|_| Proxy::start(&srv.connect_string()))
        .collect();
    let clients = proxies.iter().map(proxied_client).collect();
    (Election::new(&unique_root(name), clients), proxies)
}

fn cut(p: &Proxy, on: bool) {
    p.refuse(on);
    if on {
        p.drop_connections();
    }
}

fn state(c: &CuratorFramework) -> Option<ConnectionState> {
    c.connection_state()
}

server_test!(shared dropped_connections, |srv| {
    let admin = srv.curator();
    let (e, proxies) = proxied_election(srv, "latch-drop");
    let monitor = e.monitor();
    assert_eq!(e.sole_leader(LONG), 0);
    let node0 = e.latch(0).our_path();
    // The leader is cut off: it stops leading at once (the live connection check), and
    // nobody else may lead while its session, and so its node, lives.
    cut(&proxies[0], true);
    assert!(wait_until(WAIT, || !e.latch(0).has_leadership()));
    assert!(wait_until(WAIT, || state(&e.clients[0]) == Some(ConnectionState::Suspended)));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(e.leaders().is_empty(), "{:?}", e.leaders());
    cut(&proxies[0], false);
    // Same session, same node: it leads again.
    assert!(wait_until(LONG, || e.leaders() == [0]), "{:?}", e.leaders());
    assert_eq!(e.latch(0).our_path(), node0);
    // A follower's drop changes nothing; it still wakes when its turn comes.
    cut(&proxies[1], true);
    assert!(wait_until(WAIT, || state(&e.clients[1]) == Some(ConnectionState::Suspended)));
    cut(&proxies[1], false);
    assert!(wait_until(WAIT, || state(&e.clients[1]) == Some(ConnectionState::Reconnected)));
    e.latch(0).close().unwrap();
    assert!(wait_until(LONG, || e.leaders() == [1]), "{:?}", e.leaders());
    assert_eq!(e.children(&admin).len(), 2);
    e.close_all();
    monitor.finish();
    assert!(wait_until(WAIT, || e.children(&admin).is_empty()));
});

server_test!(shared expired_sessions_rejoin, |srv| {
    let admin = srv.curator();
    let (e, proxies) = proxied_election(srv, "latch-expire");
    let monitor = e.monitor();
    assert_eq!(e.sole_leader(LONG), 0);
    let old = e.latch(0).our_path().unwrap();
    // The leader's session expires while it is cut off: the server deletes its node, the
    // next participant leads, and the old leader joins again at the back with a new node.
    cut(&proxies[0], true);
    let zk = e.clients[0].zookeeper_client().zookeeper().unwrap();
    srv.expire(&zk);
    assert!(wait_until(LONG, || e.leaders() == [1]), "{:?}", e.leaders());
    cut(&proxies[0], false);
    assert!(wait_until(LONG, || e.latch(0).our_path().is_some_and(|p| p != old)));
    assert!(wait_until(WAIT, || e.children(&admin).len() == 3), "{:?}", e.children(&admin));
    // A follower's expiry (cut off too: a connected client would take its session back from
    // the handle expiring it): it rejoins, and the line still moves.
    cut(&proxies[2], true);
    let zk = e.clients[2].zookeeper_client().zookeeper().unwrap();
    srv.expire(&zk);
    cut(&proxies[2], false);
    assert!(wait_until(LONG, || e.children(&admin).len() == 3 && e.latch(2).our_path().is_some()));
    e.latch(1).close().unwrap();
    let next = e.sole_leader(LONG);
    assert!(next == 0 || next == 2, "{next}");
    e.close_all();
    monitor.finish();
    assert!(wait_until(WAIT, || e.children(&admin).is_empty()));
});

server_test!(shared a_node_of_a_lost_session_never_leads, |srv| {
    // The client presumes its session lost (as after a long suspension) while the server
    // still holds it and its node, first in line. Curator before 5.7 took that node for its
    // own on reconnecting and led, until the server expired the old session and the next
    // participant led too (CURATOR-696). The latch sees the node is not its session's,
    // deletes it and joins again, so leadership moves on at once and only once.
    let admin = srv.curator();
    let e = Election::new(&unique_root("latch-696"), (0..3).map(|_| srv.curator()).collect());
    let monitor = e.monitor();
    assert_eq!(e.sole_leader(LONG), 0);
    let old = e.latch(0).our_path().unwrap();
    let t0 = Instant::now();
    e.clients[0].zookeeper_client().zookeeper().unwrap().inject_session_expiration();
    assert!(wait_until(LONG, || e.leaders() == [1]), "{:?}", e.leaders());
    assert!(wait_until(WAIT, || admin.check_exists().for_path(&old).unwrap().is_none()));
    // Well before the server would have expired the old session (10 s).
    assert!(t0.elapsed() < Duration::from_secs(8), "took {:?}", t0.elapsed());
    assert!(wait_until(WAIT, || e.children(&admin).len() == 3));
    assert_ne!(e.latch(0).our_path().unwrap(), old);
    // Let the old session's server-side timeout pass: still one leader.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(e.leaders(), [1]);
    e.close_all();
    monitor.finish();
});

/// Clients on `srv` with `session` timeouts, each in touch with the server just now.
fn clients(srv: &support::TestServer, n: usize, session: Duration) -> Vec<CuratorFramework> {
    (0..n)
        .map(|_| {
            let c = srv
                .curator_builder()
                .session_timeout(session)
                .build()
                .unwrap();
            c.start().unwrap();
            assert!(c.block_until_connected(WAIT));
            c
        })
        .collect()
}

server_test!(own pause_shorter_than_the_session, |srv| {
    let session = Duration::from_secs(12);
    let admin = srv.curator();
    let e = Election::new(&unique_root("latch-pause"), clients(srv, 3, session));
    let monitor = e.monitor();
    assert_eq!(e.sole_leader(LONG), 0);
    let nodes: Vec<_> = (0..3).map(|i| e.latch(i).our_path()).collect();
    for c in &e.clients {
        c.check_exists().for_path("/").unwrap(); // a fresh contact: the session has 12 s
    }
    srv.pause();
    // Past the read timeout (2/3 of the session): everyone is suspended and nobody leads.
    assert!(wait_until(WAIT, || e.clients.iter().all(|c| state(c) == Some(ConnectionState::Suspended))));
    assert!(e.leaders().is_empty());
    std::thread::sleep(Duration::from_millis(1000));
    srv.resume();
    // The sessions survived: same nodes, same leader.
    assert!(wait_until(LONG, || e.leaders() == [0]), "{:?}", e.leaders());
    let now: Vec<_> = (0..3).map(|i| e.latch(i).our_path()).collect();
    assert_eq!(now, nodes);
    assert_eq!(e.children(&admin).len(), 3);
    e.latch(0).close().unwrap();
    assert!(wait_until(LONG, || e.leaders() == [1]), "the waiter woke after the pause");
    e.close_all();
    monitor.finish();
});

server_test!(own pause_longer_than_the_session, |srv| {
    let session = Duration::from_secs(4);
    let admin = srv.curator();
    let e = Election::new(&unique_root("latch-longpause"), clients(srv, 3, session));
    let monitor = e.monitor();
    assert_eq!(e.sole_leader(LONG), 0);
    let nodes: Vec<_> = (0..3).map(|i| e.latch(i).our_path().unwrap()).collect();
    srv.pause();
    // Suspended, then presumed lost by the clients themselves.
    assert!(wait_until(LONG, || e.clients.iter().all(|c| state(c) == Some(ConnectionState::Lost))));
    assert!(e.leaders().is_empty());
    std::thread::sleep(Duration::from_secs(2));
    srv.resume();
    // New sessions, new nodes, one leader, and nothing left of the old sessions.
    let leader = e.sole_leader(LONG);
    assert!(wait_until(LONG, || {
        let kids = e.children(&admin);
        kids.len() == 3 && (0..3).all(|i| e.latch(i).our_path().is_some_and(|p| !nodes.contains(&p)))
    }), "{:?}", e.children(&admin));
    assert!(e.latch(leader).has_leadership());
    e.latch(leader).close().unwrap();
    let next = e.sole_leader(LONG);
    assert_ne!(next, leader);
    e.close_all();
    monitor.finish();
    assert!(wait_until(WAIT, || e.children(&admin).is_empty()));
});

/// The member of `ens` that holds session `sid` (from each member's `cons`).
fn member_of(ens: &RealEnsemble, sid: i64) -> Option<usize> {
    let needle = format!("sid=0x{sid:x}");
    (0..ens.len()).find(|&i| ens.four_letter(i, "cons").contains(&needle))
}

#[test]
fn losing_the_member_the_leader_is_on() {
    let Some(mut ens) = RealEnsemble::start(3) else {
        return;
    };
    let connect = ens.connect_string();
    let client = || {
        let c = zk_curator::CuratorFrameworkFactory::builder()
            .connect_string(&connect)
            .session_timeout(Duration::from_secs(20))
            .connection_timeout(Duration::from_secs(5))
            .retry_policy(zk_curator::RetryNTimes::new(5, Duration::from_millis(200)))
            .build()
            .unwrap();
        c.start().unwrap();
        assert!(c.block_until_connected(LONG));
        c
    };
    let admin = client();
    let e = Election::new(
        &unique_root("latch-ensemble"),
        (0..3).map(|_| client()).collect(),
    );
    let monitor = e.monitor();
    assert_eq!(e.sole_leader(LONG), 0);
    let node0 = e.latch(0).our_path();
    let sid = e.clients[0]
        .zookeeper_client()
        .zookeeper()
        .unwrap()
        .session_id();
    let member = member_of(&ens, sid).expect("the leader's session is on some member");
    ens.kill(member);
    // The leader's client moves to another member within its session: same node, and it
    // leads again; nobody else led meanwhile.
    assert!(
        wait_until(LONG, || e.leaders() == [0]
            && state(&e.clients[0]) == Some(ConnectionState::Reconnected)),
        "{:?}",
        e.leaders()
    );
    assert_eq!(e.latch(0).our_path(), node0);
    assert!(wait_until(LONG, || e.children(&admin).len() == 3));
    // Waiters still wake.
    e.latch(0).close().unwrap();
    assert!(wait_until(LONG, || e.leaders() == [1]), "{:?}", e.leaders());
    e.close_all();
    monitor.finish();
    assert!(wait_until(LONG, || e.children(&admin).is_empty()));
}

server_test!(shared close_while_cut_off_deletes_the_node_later, |srv| {
    // A leader closed while it cannot reach the server: its delete fails and is retried in
    // the background (guaranteed delete), so the node goes as soon as the connection is back,
    // well before the session would expire, and the next participant leads.
    let admin = srv.curator();
    let (e, proxies) = proxied_election(srv, "latch-guaranteed");
    let monitor = e.monitor();
    assert_eq!(e.sole_leader(LONG), 0);
    let node = e.latch(0).our_path().unwrap();
    cut(&proxies[0], true);
    assert!(wait_until(WAIT, || state(&e.clients[0]) == Some(ConnectionState::Suspended)));
    e.latch(0).close().unwrap();
    assert!(admin.check_exists().for_path(&node).unwrap().is_some(), "deleted while cut off?");
    assert!(e.leaders().is_empty());
    cut(&proxies[0], false);
    assert!(wait_until(LONG, || admin.check_exists().for_path(&node).unwrap().is_none()));
    assert!(wait_until(LONG, || e.leaders() == [1]), "{:?}", e.leaders());
    assert_eq!(e.children(&admin).len(), 2);
    e.close_all();
    monitor.finish();
});
