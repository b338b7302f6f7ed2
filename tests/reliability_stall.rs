//! A callback that blocks the event thread (catalogue row 11): the live view of the
//! connection stays true while the event-ordered one waits, the dispatcher reports the
//! callback once (a `log::warn!` naming its path, and a count), the session survives, and
//! the state changes reach the listeners afterwards, late but in order.
//!
//! This binary installs a logger that keeps the crate's warnings, so it holds this one
//! scenario only.

mod support;

use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use support::figures::{figure, ms};
use support::proxy::{proxied_client, Proxy};
use support::{unique_root, wait_until, TestServer};
use zk_curator::framework::{ConnectionState, CuratorFramework};
use zk_curator::{States, WatchedEvent};

/// Keeps every `warn!` of the crate's stall watchdog.
struct Keep;

static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for Keep {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, r: &log::Record<'_>) {
        if r.level() == log::Level::Warn && r.target().ends_with("stall") {
            WARNINGS.lock().unwrap().push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

static KEEP: Keep = Keep;

fn blocked_event_thread(srv: &TestServer) {
    let _ = log::set_logger(&KEEP);
    log::set_max_level(log::LevelFilter::Warn);
    let proxy = Proxy::start(&srv.connect_string());
    let c = proxied_client(&proxy);
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let t0 = Instant::now();
    c.connection_state_listenable().add_listener(
        move |_c: &CuratorFramework, s: ConnectionState| l.lock().unwrap().push((s, t0.elapsed())),
    );
    let root = unique_root("stall");
    c.create().for_path(&root).unwrap();
    let sid = c.zookeeper_client().zookeeper().unwrap().session_id();
    let stalls_before = c.event_dispatcher().stall_count();
    assert_eq!(
        c.event_dispatcher().stall_threshold(),
        Duration::from_secs(1)
    );
    // A watcher that blocks the event thread (not offloaded to a WorkerPool).
    let block = Duration::from_secs(4);
    let (tx, rx) = mpsc::channel();
    c.get_data()
        .using_watcher(move |_e: &WatchedEvent| {
            let _ = tx.send(Instant::now());
            std::thread::sleep(block);
        })
        .for_path(&root)
        .unwrap();
    c.set_data().for_path(&root, b"x").unwrap();
    let blocked_at = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    // A real disconnect and reconnect while the event thread is held.
    // (Refused until the live view has been seen down: a reconnect can be quicker than
    // the polling.)
    proxy.refuse(true);
    proxy.drop_connections();
    let saw_down = wait_until(Duration::from_secs(3), || !c.is_connected());
    let down = blocked_at.elapsed();
    let live_down = c.live_state();
    let zkc_down = !c.zookeeper_client().is_connected();
    proxy.refuse(false);
    let saw_up = wait_until(Duration::from_secs(3), || c.is_connected());
    let up = blocked_at.elapsed();
    // The event-ordered view has not heard of any of it yet.
    let ordered_during = c.connection_state();
    let warned = wait_until(Duration::from_secs(3), || {
        c.event_dispatcher().stall_count() > stalls_before
    });
    let warned_at = blocked_at.elapsed();
    let reconnected = wait_until(Duration::from_secs(20), || {
        log.lock()
            .unwrap()
            .iter()
            .any(|(s, _)| *s == ConnectionState::Reconnected)
    });
    let late = blocked_at.elapsed();
    let states: Vec<ConnectionState> = log.lock().unwrap().iter().map(|(s, _)| *s).collect();
    let warnings: Vec<String> = WARNINGS
        .lock()
        .unwrap()
        .iter()
        .filter(|w| w.contains(&root))
        .cloned()
        .collect();
    figure(
        "11",
        "blocked_event_thread",
        srv.kind(),
        &[
            ("block_ms", ms(block)),
            ("live_down_ms", ms(down)),
            ("live_up_ms", ms(up)),
            ("event_ordered_during", format!("{ordered_during:?}")),
            ("stall_reported_ms", ms(warned_at)),
            (
                "stall_count",
                (c.event_dispatcher().stall_count() - stalls_before).to_string(),
            ),
            ("warnings", warnings.len().to_string()),
            ("reconnected_reached_listeners_ms", ms(late)),
            ("states", format!("{states:?}")),
        ],
    );
    assert!(saw_down, "the live view saw the connection go");
    assert!(zkc_down, "CuratorZookeeperClient::is_connected is live too");
    assert_eq!(live_down, Some(States::Connecting));
    assert!(saw_up, "the live view saw it come back");
    assert!(up < block, "live view up after {up:?}");
    assert_eq!(ordered_during, Some(ConnectionState::Connected));
    assert!(warned, "the stall was reported while it lasted");
    assert!(warned_at < block, "reported after {warned_at:?}");
    assert_eq!(warnings.len(), 1, "one warning: {warnings:?}");
    assert!(warnings[0].contains("NodeDataChanged"), "{warnings:?}");
    assert!(reconnected, "states {states:?}");
    assert!(
        late >= block,
        "listeners heard it after the callback returned"
    );
    // (Connected may have come before the listener was added.)
    let after: Vec<_> = states
        .iter()
        .filter(|s| **s != ConnectionState::Connected)
        .collect();
    assert_eq!(
        after,
        [&ConnectionState::Suspended, &ConnectionState::Reconnected]
    );
    assert_eq!(
        c.zookeeper_client().zookeeper().unwrap().session_id(),
        sid,
        "same session"
    );
    assert_eq!(
        c.event_dispatcher().stall_count() - stalls_before,
        1,
        "counted once"
    );
    c.close();
    assert!(!c.is_connected());
    assert_eq!(c.live_state(), Some(States::Closed));
}

server_test!(shared blocked_event_thread, |srv| {
    blocked_event_thread(srv);
});

/// A watcher slower than the session timeout (catalogue row 11): pings come from the I/O
/// thread, so the session outlives it; the events behind it come after it, in order.
fn slower_than_the_session(srv: &TestServer) {
    use zk_curator::{Acl, CreateMode, EventType};
    let direct = srv.connect();
    let root = unique_root("slow-watcher");
    direct
        .create(&root, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    let (tx, rx) = mpsc::channel::<(String, Instant)>();
    let tx2 = tx.clone();
    let zk = srv
        .builder()
        .session_timeout(Duration::from_secs(2))
        .default_watcher(move |e: &WatchedEvent| {
            let what = if e.event_type() == EventType::None {
                format!("{:?}", e.state())
            } else {
                format!("{:?}", e.event_type())
            };
            let _ = tx2.send((what, Instant::now()));
        })
        .connect()
        .unwrap();
    let negotiated = zk.negotiated_timeout();
    let sid = zk.session_id();
    let block = negotiated * 2 + Duration::from_secs(1);
    zk.get_data_w(&root, move |e: &WatchedEvent| {
        let _ = tx.send((format!("slow {:?}", e.event_type()), Instant::now()));
        std::thread::sleep(block);
    })
    .unwrap();
    let later = format!("{root}/later");
    assert!(zk.exists(&later, true).unwrap().is_none());
    let fired = Instant::now();
    direct.set_data(&root, b"x", -1).unwrap();
    direct
        .create(&later, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    let mut got = Vec::new();
    while let Ok((what, at)) = rx.recv_timeout(block + Duration::from_secs(10)) {
        if what == "SyncConnected" {
            continue;
        }
        got.push((what, at.saturating_duration_since(fired)));
        if got.len() == 2 {
            break;
        }
    }
    // Anything else (a Disconnected) would have come by now.
    let extra = rx.recv_timeout(Duration::from_millis(200)).ok();
    let kept = zk.state() == States::Connected && zk.session_id() == sid;
    figure(
        "11",
        "slower_than_the_session",
        srv.kind(),
        &[
            ("negotiated_ms", ms(negotiated)),
            ("block_ms", ms(block)),
            ("session_kept", kept.to_string()),
            (
                "stall_count",
                zk.event_dispatcher().stall_count().to_string(),
            ),
            (
                "events",
                got.iter()
                    .map(|(s, t)| format!("{s}@{}", t.as_millis()))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ],
    );
    assert!(kept, "the session outlived the slow watcher");
    assert_eq!(extra, None, "nothing else happened");
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, "slow NodeDataChanged");
    assert_eq!(got[1].0, "NodeCreated", "in order, after the slow one");
    assert!(got[1].1 >= block, "{got:?}");
    assert_eq!(zk.event_dispatcher().stall_count(), 1);
}

server_test!(shared slower_than_the_session, |srv| {
    slower_than_the_session(srv);
});
