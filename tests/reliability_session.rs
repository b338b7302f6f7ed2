//! The session through server and network faults, measured (catalogue rows 1, 2, 5, 6, 9):
//! a framework client under a write workload while its server is killed and restarted
//! within and beyond the session timeout, while a proxy blackholes it for less and for more
//! than the session timeout, and while the proxy makes the server slow. Each prints its
//! figures (`ZK-FIGURE`, see `support/figures.rs`) and checks what must hold: no acknowledged
//! write missing, no duplicate, the same session when the session could survive, LOST when
//! it could not, every watch event delivered.

mod support;

use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use support::events::{Events, WAIT};
use support::figures::{figure, ms};
use support::proxy::Proxy;
use support::workload::{audit, counted, first_after, pairs, state_log, Workload};
use support::{unique_root, wait_until, TestServer};
use zk_curator::framework::{ConnectionState, CuratorFramework, CuratorFrameworkFactory};
use zk_curator::{CreateMode, EventType};

/// A started, connected framework client on `connect` (`session` timeout, 2 s connection
/// timeout, 10 counted retries 100 ms apart: a call rides out a few seconds of outage).
fn client(connect: &str, session: Duration) -> (CuratorFramework, Arc<AtomicU32>) {
    client_with(connect, session, Duration::from_secs(2))
}

fn client_with(
    connect: &str,
    session: Duration,
    connection: Duration,
) -> (CuratorFramework, Arc<AtomicU32>) {
    let (b, retries) = counted(
        CuratorFrameworkFactory::builder()
            .connect_string(connect)
            .session_timeout(session)
            .connection_timeout(connection),
        10,
        Duration::from_millis(100),
    );
    let c = b.build().expect("build");
    c.start().expect("start");
    assert!(c.block_until_connected(WAIT), "connected");
    (c, retries)
}

/// What every scenario sets up: a root, a watched node, an ephemeral of `c`, a data watch
/// of `c` on the watched node, and the node the workload writes under.
struct Setup {
    root: String,
    watched: String,
    eph: String,
    events: Events,
    sid: i64,
}

fn setup(observer: &CuratorFramework, c: &CuratorFramework, name: &str) -> Setup {
    let root = unique_root(name);
    observer
        .create()
        .creating_parents_if_needed()
        .for_path(&format!("{root}/nodes"))
        .unwrap();
    let watched = observer.create().for_path(&format!("{root}/w")).unwrap();
    let eph = c
        .create()
        .with_mode(CreateMode::Ephemeral)
        .for_path(&format!("{root}/e"))
        .unwrap();
    let events = Events::new();
    c.get_data()
        .using_watcher(events.watcher())
        .for_path(&watched)
        .unwrap();
    let sid = c.zookeeper_client().zookeeper().unwrap().session_id();
    Setup {
        root,
        watched,
        eph,
        events,
        sid,
    }
}

fn session_of(c: &CuratorFramework) -> i64 {
    c.zookeeper_client()
        .zookeeper()
        .map(|z| z.session_id())
        .unwrap_or(0)
}

/// Row 1: the server killed and restarted within the session timeout.
fn kill_and_restart_within_the_session(srv: &mut TestServer) {
    let observer = srv.curator();
    let (c, retries) = client(&srv.connect_string(), Duration::from_secs(10));
    let log = state_log(&c);
    let s = setup(&observer, &c, "kill-within");
    let wl = Workload::start(
        &c,
        &format!("{}/nodes", s.root),
        2,
        Duration::from_millis(20),
    );
    sleep(Duration::from_millis(300));
    let killed = Instant::now();
    srv.kill();
    assert!(wait_until(WAIT, || first_after(
        &log,
        ConnectionState::Suspended,
        killed
    )
    .is_some()));
    sleep(Duration::from_secs(1)); // the outage
    srv.restart();
    let restarted = Instant::now();
    assert!(
        wait_until(Duration::from_secs(30), || first_after(
            &log,
            ConnectionState::Reconnected,
            killed
        )
        .is_some()),
        "RECONNECTED"
    );
    assert!(observer.block_until_connected(WAIT));
    observer.set_data().for_path(&s.watched, b"after").unwrap();
    s.events.expect(EventType::NodeDataChanged, &s.watched);
    sleep(Duration::from_millis(300));
    let t = wl.stop();
    let (missing, duplicates) = audit(&observer, &format!("{}/nodes", s.root), &t);
    let eph_kept = observer
        .check_exists()
        .for_path(&s.eph)
        .unwrap()
        .is_some_and(|st| st.ephemeral_owner == s.sid);
    let mut f = vec![
        (
            "suspended_ms",
            ms(first_after(&log, ConnectionState::Suspended, killed).unwrap()),
        ),
        (
            "reconnected_after_restart_ms",
            ms(first_after(&log, ConnectionState::Reconnected, restarted).unwrap_or_default()),
        ),
        ("outage_ms", ms(restarted - killed)),
        ("same_session", (session_of(&c) == s.sid).to_string()),
        ("ephemeral_kept", eph_kept.to_string()),
        ("watch_events_lost", "0".into()),
    ];
    f.extend(pairs(
        &t,
        retries.load(std::sync::atomic::Ordering::SeqCst),
        missing,
        duplicates,
    ));
    figure("1", "kill_and_restart_within_the_session", srv.kind(), &f);
    assert_eq!(session_of(&c), s.sid, "same session");
    assert!(eph_kept, "ephemeral kept");
    assert_eq!((missing, duplicates), (0, 0));
    assert!(t.ok > 0);
    c.close();
    observer.close();
}

server_test!(own kill_and_restart_within_the_session, |srv| {
    kill_and_restart_within_the_session(srv);
});

/// Row 2: the server down for longer than the session timeout.
fn kill_beyond_the_session(srv: &mut TestServer) {
    let observer = srv.curator();
    let (c, retries) = client(&srv.connect_string(), Duration::from_secs(4));
    let negotiated = c
        .zookeeper_client()
        .last_negotiated_session_timeout()
        .unwrap();
    let log = state_log(&c);
    let s = setup(&observer, &c, "kill-beyond");
    let wl = Workload::start(
        &c,
        &format!("{}/nodes", s.root),
        2,
        Duration::from_millis(20),
    );
    sleep(Duration::from_millis(300));
    let killed = Instant::now();
    srv.kill();
    assert!(
        wait_until(Duration::from_secs(20), || first_after(
            &log,
            ConnectionState::Lost,
            killed
        )
        .is_some()),
        "LOST while the server is down"
    );
    let lost = first_after(&log, ConnectionState::Lost, killed).unwrap();
    srv.restart();
    let restarted = Instant::now();
    assert!(
        wait_until(Duration::from_secs(30), || first_after(
            &log,
            ConnectionState::Reconnected,
            killed + lost
        )
        .is_some()),
        "RECONNECTED with a new session"
    );
    let reconnected = first_after(&log, ConnectionState::Reconnected, restarted);
    let new_sid = session_of(&c);
    // The restarted server gives the old session a fresh timeout, then expires it: its
    // ephemeral goes then.
    assert!(observer.block_until_connected(WAIT));
    let eph_gone = wait_until(negotiated * 3 + Duration::from_secs(5), || {
        observer
            .check_exists()
            .for_path(&s.eph)
            .is_ok_and(|st| st.is_none())
    });
    let eph_gone_after = restarted.elapsed();
    let recreate = Instant::now();
    c.create()
        .with_mode(CreateMode::Ephemeral)
        .for_path(&s.eph)
        .expect("the new session re-creates its ephemeral");
    let recreated = recreate.elapsed();
    let t = wl.stop();
    let (missing, duplicates) = audit(&observer, &format!("{}/nodes", s.root), &t);
    let mut f = vec![
        (
            "suspended_ms",
            ms(first_after(&log, ConnectionState::Suspended, killed).unwrap()),
        ),
        ("lost_ms", ms(lost)),
        ("negotiated_ms", ms(negotiated)),
        (
            "reconnected_after_restart_ms",
            ms(reconnected.unwrap_or_default()),
        ),
        ("new_session", (new_sid != s.sid).to_string()),
        ("old_ephemeral_gone_after_restart_ms", ms(eph_gone_after)),
        ("ephemeral_recreated_ms", ms(recreated)),
    ];
    f.extend(pairs(
        &t,
        retries.load(std::sync::atomic::Ordering::SeqCst),
        missing,
        duplicates,
    ));
    figure("2", "kill_beyond_the_session", srv.kind(), &f);
    assert!(
        lost <= negotiated * 4 / 3 + Duration::from_secs(3),
        "LOST after {lost:?}"
    );
    assert_ne!(new_sid, s.sid, "a new session");
    assert!(eph_gone, "the old session's ephemeral went");
    assert_eq!((missing, duplicates), (0, 0));
    c.close();
    observer.close();
}

server_test!(own kill_beyond_the_session, |srv| {
    kill_beyond_the_session(srv);
});

/// Row 5: a partition shorter than the session (longer than the read timeout). The session
/// must survive the partition *and* the reconnect after it: a handshake sent into the
/// partition is answered by nobody and waits out the connection timeout (1 s here), so the
/// partition ends 300 ms after SUSPENDED (two thirds of the 10 s timeout) and the client is
/// back well inside the session timeout.
fn short_partition(srv: &mut TestServer) {
    let observer = srv.curator();
    let proxy = Proxy::start(&srv.connect_string());
    let (c, retries) = client_with(
        &proxy.connect_string(),
        Duration::from_secs(10),
        Duration::from_secs(1),
    );
    let negotiated = c
        .zookeeper_client()
        .last_negotiated_session_timeout()
        .unwrap();
    let log = state_log(&c);
    let s = setup(&observer, &c, "short-partition");
    let wl = Workload::start(
        &c,
        &format!("{}/nodes", s.root),
        2,
        Duration::from_millis(20),
    );
    sleep(Duration::from_millis(300));
    let cut = Instant::now();
    proxy.blackhole(true);
    assert!(wait_until(WAIT, || first_after(
        &log,
        ConnectionState::Suspended,
        cut
    )
    .is_some()));
    let suspended = first_after(&log, ConnectionState::Suspended, cut).unwrap();
    // Changed while the client cannot hear: delivered after the reconnect.
    observer.set_data().for_path(&s.watched, b"during").unwrap();
    let heal_at = cut + suspended + Duration::from_millis(300);
    sleep(heal_at.saturating_duration_since(Instant::now()));
    proxy.blackhole(false);
    let healed = Instant::now();
    assert!(
        wait_until(Duration::from_secs(20), || first_after(
            &log,
            ConnectionState::Reconnected,
            cut
        )
        .is_some()),
        "RECONNECTED"
    );
    let reconnected = first_after(&log, ConnectionState::Reconnected, healed);
    s.events.expect(EventType::NodeDataChanged, &s.watched);
    sleep(Duration::from_millis(300));
    let t = wl.stop();
    let (missing, duplicates) = audit(&observer, &format!("{}/nodes", s.root), &t);
    let mut f = vec![
        ("partition_ms", ms(healed - cut)),
        ("negotiated_ms", ms(negotiated)),
        ("suspended_ms", ms(suspended)),
        (
            "heal_to_reconnected_ms",
            ms(reconnected.unwrap_or_default()),
        ),
        ("same_session", (session_of(&c) == s.sid).to_string()),
        ("events_lost", "0".into()),
    ];
    f.extend(pairs(
        &t,
        retries.load(std::sync::atomic::Ordering::SeqCst),
        missing,
        duplicates,
    ));
    figure("5", "short_partition", srv.kind(), &f);
    assert!(
        suspended >= negotiated * 2 / 3 - Duration::from_millis(200),
        "{suspended:?}"
    );
    assert_eq!(session_of(&c), s.sid, "same session");
    assert!(!log
        .lock()
        .unwrap()
        .iter()
        .any(|(st, _)| *st == ConnectionState::Lost));
    assert_eq!((missing, duplicates), (0, 0));
    c.close();
    observer.close();
}

server_test!(shared short_partition, |srv| {
    short_partition(srv);
});

/// Row 6: a partition longer than the session: the timeline of SUSPENDED, the server
/// deleting the ephemeral, LOST.
fn long_partition(srv: &mut TestServer) {
    let observer = srv.curator();
    let proxy = Proxy::start(&srv.connect_string());
    let (c, retries) = client(&proxy.connect_string(), Duration::from_secs(4));
    let negotiated = c
        .zookeeper_client()
        .last_negotiated_session_timeout()
        .unwrap();
    let log = state_log(&c);
    let s = setup(&observer, &c, "long-partition");
    let wl = Workload::start(
        &c,
        &format!("{}/nodes", s.root),
        1,
        Duration::from_millis(50),
    );
    sleep(Duration::from_millis(300));
    let cut = Instant::now();
    proxy.blackhole(true);
    let mut deleted = None;
    let done = wait_until(Duration::from_secs(20), || {
        if deleted.is_none()
            && observer
                .check_exists()
                .for_path(&s.eph)
                .is_ok_and(|st| st.is_none())
        {
            deleted = Some(cut.elapsed());
        }
        deleted.is_some() && first_after(&log, ConnectionState::Lost, cut).is_some()
    });
    assert!(done, "server expiry and LOST");
    let suspended = first_after(&log, ConnectionState::Suspended, cut).unwrap();
    let lost = first_after(&log, ConnectionState::Lost, cut).unwrap();
    let deleted = deleted.unwrap();
    proxy.blackhole(false);
    proxy.drop_connections();
    let healed = Instant::now();
    assert!(wait_until(Duration::from_secs(20), || first_after(
        &log,
        ConnectionState::Reconnected,
        cut + lost
    )
    .is_some()));
    let t = wl.stop();
    let (missing, duplicates) = audit(&observer, &format!("{}/nodes", s.root), &t);
    let mut f = vec![
        ("negotiated_ms", ms(negotiated)),
        ("suspended_ms", ms(suspended)),
        ("server_deleted_ephemeral_ms", ms(deleted)),
        ("lost_ms", ms(lost)),
        (
            "heal_to_reconnected_ms",
            ms(first_after(&log, ConnectionState::Reconnected, healed).unwrap_or_default()),
        ),
        ("new_session", (session_of(&c) != s.sid).to_string()),
    ];
    f.extend(pairs(
        &t,
        retries.load(std::sync::atomic::Ordering::SeqCst),
        missing,
        duplicates,
    ));
    figure("6", "long_partition", srv.kind(), &f);
    // A lock holder (SUSPENDED is an error state by default) stops before the server
    // deletes its node.
    assert!(
        suspended < deleted,
        "SUSPENDED {suspended:?}, deleted {deleted:?}"
    );
    assert_ne!(session_of(&c), s.sid);
    assert_eq!((missing, duplicates), (0, 0));
    c.close();
    observer.close();
}

server_test!(shared long_partition, |srv| {
    long_partition(srv);
});

/// Row 9: a slow server (the proxy holds every server byte): below a third of the session
/// timeout calls are slower and nothing else happens; above it the connection is lost and
/// comes back once the server is fast again.
fn slow_server(srv: &mut TestServer) {
    let observer = srv.curator();
    let proxy = Proxy::start(&srv.connect_string());
    let (c, _retries) = client(&proxy.connect_string(), Duration::from_secs(6));
    let negotiated = c
        .zookeeper_client()
        .last_negotiated_session_timeout()
        .unwrap();
    let log = state_log(&c);
    let root = unique_root("slow");
    observer.create().for_path(&root).unwrap();
    let sid = session_of(&c);
    let delay = Duration::from_millis(300);
    proxy.delay(delay);
    let mut lat = Vec::new();
    let slow_from = Instant::now();
    for _ in 0..12 {
        let t = Instant::now();
        c.get_data().for_path(&root).unwrap();
        lat.push(t.elapsed());
    }
    // Idle long enough for a ping or two under the delay.
    sleep(negotiated / 2);
    lat.sort();
    let p50 = lat[lat.len() / 2];
    let p99 = lat[lat.len() - 1];
    let spurious = log
        .lock()
        .unwrap()
        .iter()
        .filter(|(s, t)| *s == ConnectionState::Suspended && *t >= slow_from)
        .count();
    // Slower than a third of the session timeout: a ping's answer comes after the read
    // timeout.
    let too_slow = negotiated / 3 + Duration::from_millis(700);
    proxy.delay(too_slow);
    let slower_from = Instant::now();
    assert!(wait_until(Duration::from_secs(20), || first_after(
        &log,
        ConnectionState::Suspended,
        slower_from
    )
    .is_some()));
    let suspended = first_after(&log, ConnectionState::Suspended, slower_from).unwrap();
    proxy.delay(Duration::ZERO);
    let fast_again = Instant::now();
    assert!(wait_until(Duration::from_secs(20), || first_after(
        &log,
        ConnectionState::Reconnected,
        fast_again
    )
    .is_some()));
    let back = first_after(&log, ConnectionState::Reconnected, fast_again).unwrap();
    c.get_data().for_path(&root).unwrap();
    figure(
        "9",
        "slow_server",
        srv.kind(),
        &[
            ("negotiated_ms", ms(negotiated)),
            ("delay_ms", ms(delay)),
            ("get_p50_ms", ms(p50)),
            ("get_max_ms", ms(p99)),
            ("spurious_suspended", spurious.to_string()),
            ("too_slow_delay_ms", ms(too_slow)),
            ("suspended_after_ms", ms(suspended)),
            ("reconnected_after_fast_ms", ms(back)),
            ("same_session", (session_of(&c) == sid).to_string()),
        ],
    );
    assert_eq!(spurious, 0, "no SUSPENDED under {delay:?} of delay");
    assert!(p50 >= delay - Duration::from_millis(50), "{p50:?}");
    assert_eq!(session_of(&c), sid, "same session");
    c.close();
    observer.close();
}

server_test!(shared slow_server, |srv| {
    slow_server(srv);
});
