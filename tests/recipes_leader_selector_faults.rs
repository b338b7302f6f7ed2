//! LeaderSelector under faults, with auto-requeue and the default listener behaviour (cancel
//! on `Suspended` and `Lost`), watched by a 1 ms monitor that fails on two leaders at once:
//! the leader's connections dropped, its session expired, the server paused for less and
//! for more than the session, and (real ZooKeeper) the loss of the ensemble member the
//! leader is on. After each: the cut-off leader's term was cancelled, exactly one leader
//! again, one node per participant (none orphaned), and the line still moves.

mod support;

use std::time::Duration;

use support::events::WAIT;
use support::proxy::{proxied_client, Proxy};
use support::selectors::{Selectors, Step};
use support::{unique_root, wait_until, RealEnsemble};
use zk_curator::framework::CuratorFramework;
use zk_curator::ConnectionState;

const LONG: Duration = Duration::from_secs(60);

fn cut(p: &Proxy, on: bool) {
    p.refuse(on);
    if on {
        p.drop_connections();
    }
}

/// After a fault: one leader, every participant queued once, and a hand-over still works.
fn recovers(s: &Selectors, admin: &CuratorFramework) {
    let n = s.clients.len();
    let leader = s.sole_leader(LONG);
    assert!(
        wait_until(LONG, || s.children(admin).len() == n),
        "{:?}",
        s.children(admin)
    );
    s.release(leader);
    let moved = wait_until(LONG, || {
        let now = s.leaders();
        now.len() == 1 && now[0] != leader
    });
    assert!(
        moved,
        "leadership did not move on from {leader}: {:?}",
        s.leaders()
    );
}

server_test!(shared dropped_connections, |srv| {
    let admin = srv.curator();
    let proxies: Vec<Proxy> = (0..3).map(|_| Proxy::start(&srv.connect_string())).collect();
    let s = Selectors::new(
        &unique_root("sel-drop"),
        proxies.iter().map(proxied_client).collect(),
        true,
    );
    let monitor = s.monitor();
    s.expect_step(Step::Lead(0), LONG);
    cut(&proxies[0], true);
    s.expect_step(Step::Cancelled(0), WAIT);
    assert!(!s.selector(0).has_leadership());
    // Its node outlives the cut (same session): nobody leads until it is back and deletes it.
    std::thread::sleep(Duration::from_millis(1000));
    assert!(s.leaders().is_empty(), "{:?}", s.leaders());
    cut(&proxies[0], false);
    s.expect_step(Step::Lead(1), LONG);
    recovers(&s, &admin);
    s.close_all();
    monitor.finish();
    assert!(wait_until(WAIT, || s.children(&admin).is_empty()));
});

server_test!(shared expired_session, |srv| {
    let admin = srv.curator();
    let proxies: Vec<Proxy> = (0..3).map(|_| Proxy::start(&srv.connect_string())).collect();
    let s = Selectors::new(
        &unique_root("sel-expire"),
        proxies.iter().map(proxied_client).collect(),
        true,
    );
    let monitor = s.monitor();
    s.expect_step(Step::Lead(0), LONG);
    cut(&proxies[0], true);
    let zk = s.clients[0].zookeeper_client().zookeeper().unwrap();
    srv.expire(&zk);
    // The server deleted its node: the next one leads while it is still cut off.
    s.expect_step(Step::Lead(1), LONG);
    cut(&proxies[0], false);
    recovers(&s, &admin);
    s.close_all();
    monitor.finish();
    assert!(wait_until(WAIT, || s.children(&admin).is_empty()));
});

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

fn all_in(s: &Selectors, state: ConnectionState) -> bool {
    s.clients
        .iter()
        .all(|c| c.connection_state() == Some(state))
}

server_test!(own pause_shorter_than_the_session, |srv| {
    let admin = srv.curator();
    let s = Selectors::new(&unique_root("sel-pause"), clients(srv, 3, Duration::from_secs(12)), true);
    let monitor = s.monitor();
    s.expect_step(Step::Lead(0), LONG);
    for c in &s.clients {
        c.check_exists().for_path("/").unwrap(); // a fresh contact: the session has 12 s
    }
    srv.pause();
    assert!(wait_until(LONG, || all_in(&s, ConnectionState::Suspended)));
    s.expect_step(Step::Cancelled(0), WAIT);
    assert!(s.leaders().is_empty());
    std::thread::sleep(Duration::from_millis(1000));
    srv.resume();
    recovers(&s, &admin);
    s.close_all();
    monitor.finish();
    assert!(wait_until(WAIT, || s.children(&admin).is_empty()));
});

server_test!(own pause_longer_than_the_session, |srv| {
    let admin = srv.curator();
    let s = Selectors::new(&unique_root("sel-longpause"), clients(srv, 3, Duration::from_secs(4)), true);
    let monitor = s.monitor();
    s.expect_step(Step::Lead(0), LONG);
    srv.pause();
    assert!(wait_until(LONG, || all_in(&s, ConnectionState::Lost)));
    s.expect_step(Step::Cancelled(0), WAIT);
    std::thread::sleep(Duration::from_secs(2));
    srv.resume();
    recovers(&s, &admin);
    s.close_all();
    monitor.finish();
    assert!(wait_until(WAIT, || s.children(&admin).is_empty()));
});

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
    let s = Selectors::new(
        &unique_root("sel-ensemble"),
        (0..3).map(|_| client()).collect(),
        true,
    );
    let monitor = s.monitor();
    s.expect_step(Step::Lead(0), LONG);
    let sid = s.clients[0]
        .zookeeper_client()
        .zookeeper()
        .unwrap()
        .session_id();
    let needle = format!("sid=0x{sid:x}");
    let member = (0..ens.len())
        .find(|&i| ens.four_letter(i, "cons").contains(&needle))
        .expect("the leader's session is on some member");
    ens.kill(member);
    s.expect_step(Step::Cancelled(0), LONG);
    recovers(&s, &admin);
    s.close_all();
    monitor.finish();
    assert!(wait_until(LONG, || s.children(&admin).is_empty()));
}
