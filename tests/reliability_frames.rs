//! Corrupt and truncated server frames, through a proxy in front of either server kind
//! (catalogue row 8): one byte of any reply header field flipped (length, xid, zxid, err),
//! frames cut inside any field. The call in flight gets exactly one outcome (its true result,
//! or ConnectionLoss), the connection is dropped and re-made with the same session, and a
//! corrupted zxid never reaches `last_zxid` (it would lock the session out of every server).

mod support;

use std::time::{Duration, Instant};

use support::events::{Events, WAIT};
use support::figures::{figure, ms};
use support::proxy::{at, Frame, Proxy};
use support::{unique_root, wait_until, TestServer};
use zk_curator::framework::{ConnectionState, CuratorFramework, CuratorFrameworkFactory};
use zk_curator::{
    Acl, CreateMode, Error, EventType, KeeperState, RetryNTimes, WatchedEvent, ZooKeeper,
};

/// A low-level handle through `proxy` (session `timeout`), its state changes in `Events`.
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

/// The server's current zxid, read by a direct client (a write's reply carries it).
fn server_zxid(direct: &ZooKeeper, root: &str) -> i64 {
    direct.set_data(root, b"", -1).expect("touch the root");
    direct.last_zxid()
}

/// The scenario at the low level: one reply's zxid gets its most significant byte
/// flipped, then the connection drops. The handle must come back to the same session.
fn poisoned_zxid_low_level(srv: &TestServer) {
    let direct = srv.connect();
    let root = unique_root("poison");
    direct
        .create(&root, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    let proxy = Proxy::start(&srv.connect_string());
    let (zk, ev) = via(&proxy, Duration::from_secs(4));
    let sid = zk.session_id();
    zk.exists(&root, false).unwrap();
    proxy.corrupt_next(Frame::Reply, at::ZXID, 0x01);
    let start = Instant::now();
    let call = zk.exists(&root, false);
    assert_eq!(proxy.fired(), 1);
    // Whatever happened to that frame, the session must survive a reconnect.
    proxy.drop_connections();
    ev.expect_state(KeeperState::Disconnected);
    let back = zk.wait_connected(Duration::from_secs(12));
    let took = start.elapsed();
    let state = zk.state();
    let zxid_ok = zk.last_zxid() <= server_zxid(&direct, &root);
    let mut states = Vec::new();
    while let Some(e) = ev.next_within(Duration::ZERO) {
        states.push(format!("{:?}", e.state()));
    }
    figure(
        "8",
        "poisoned_zxid_low_level",
        srv.kind(),
        &[
            ("call", format!("{:?}", call.as_ref().map(|_| "ok"))),
            ("reconnected", back.to_string()),
            ("ms", ms(took)),
            ("state", format!("{state:?}")),
            ("same_session", (zk.session_id() == sid).to_string()),
            ("last_zxid_le_server", zxid_ok.to_string()),
            ("events", states.join(",")),
        ],
    );
    assert!(back, "reconnected (state {state:?}, events {states:?})");
    assert_eq!(zk.session_id(), sid, "same session");
    assert!(zxid_ok, "last_zxid never ahead of the server");
    assert!(
        matches!(call, Ok(Some(_)) | Err(Error::ConnectionLoss { .. })),
        "{call:?}"
    );
    zk.exists(&root, false).expect("works after the reconnect");
}

server_test!(shared poisoned_zxid_low_level, |srv| {
    poisoned_zxid_low_level(srv);
});

/// The same through the framework: SUSPENDED then RECONNECTED with the same session, never
/// LOST.
fn poisoned_zxid_framework(srv: &TestServer) {
    let proxy = Proxy::start(&srv.connect_string());
    let c: CuratorFramework = CuratorFrameworkFactory::builder()
        .connect_string(&proxy.connect_string())
        .session_timeout(Duration::from_secs(4))
        .connection_timeout(Duration::from_secs(2))
        .retry_policy(RetryNTimes::new(3, Duration::from_millis(100)))
        .build()
        .unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let l = log.clone();
    let t0 = Instant::now();
    c.connection_state_listenable().add_listener(
        move |_c: &CuratorFramework, s: ConnectionState| l.lock().unwrap().push((s, t0.elapsed())),
    );
    c.start().unwrap();
    assert!(c.block_until_connected(WAIT));
    let root = unique_root("poison-fw");
    c.create()
        .with_mode(CreateMode::Ephemeral)
        .for_path(&root)
        .unwrap();
    let sid = c.zookeeper_client().zookeeper().unwrap().session_id();
    proxy.corrupt_next(Frame::Reply, at::ZXID, 0x01);
    let call = c.check_exists().for_path(&root);
    let start = Instant::now();
    proxy.drop_connections();
    // Long enough for the old behaviour to show: LOST comes at the session timeout.
    let settled = wait_until(Duration::from_secs(12), || {
        log.lock()
            .unwrap()
            .last()
            .is_some_and(|(s, _)| *s == ConnectionState::Reconnected)
    });
    let took = start.elapsed();
    let states: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|(s, t)| format!("{s:?}@{}", t.as_millis()))
        .collect();
    let now_sid = c
        .zookeeper_client()
        .zookeeper()
        .map(|z| z.session_id())
        .unwrap_or(0);
    let eph = c.check_exists().for_path(&root);
    figure(
        "8",
        "poisoned_zxid_framework",
        srv.kind(),
        &[
            ("call", format!("{:?}", call.as_ref().map(|_| "ok"))),
            ("reconnected", settled.to_string()),
            ("ms", ms(took)),
            ("same_session", (now_sid == sid).to_string()),
            (
                "ephemeral_owner_same",
                format!(
                    "{:?}",
                    eph.as_ref()
                        .map(|s| s.as_ref().map(|s| s.ephemeral_owner == sid))
                ),
            ),
            ("states", states.join(",")),
        ],
    );
    assert!(settled, "states {states:?}");
    assert!(
        !states.iter().any(|s| s.starts_with("Lost")),
        "never LOST: {states:?}"
    );
    assert_eq!(now_sid, sid, "same session");
    assert!(
        matches!(&eph, Ok(Some(st)) if st.ephemeral_owner == sid),
        "ephemeral kept: {eph:?}"
    );
    c.close();
}

server_test!(shared poisoned_zxid_framework, |srv| {
    poisoned_zxid_framework(srv);
});

/// One fault to inject into one server frame.
#[derive(Debug, Clone)]
enum Fault {
    Flip(usize, u8),
    Overwrite(usize, Vec<u8>),
    Cut(usize),
}

/// The header fields a fault lands in, for the figures.
fn field(f: &Fault) -> &'static str {
    let at = match f {
        Fault::Flip(o, _) | Fault::Overwrite(o, _) => *o,
        Fault::Cut(k) => {
            return if *k < 20 {
                "cut-in-header"
            } else {
                "cut-in-body"
            }
        }
    };
    match at {
        0..=3 => "len",
        4..=7 => "xid",
        8..=15 => "zxid",
        _ => "err",
    }
}

/// Every byte of the header flipped (two masks: a low bit and the high bit), special xids
/// written over a reply's xid, and the frame cut inside each field and in its body.
fn faults(kind: Frame) -> Vec<Fault> {
    let mut v = Vec::new();
    match kind {
        Frame::Reply => {
            for o in 0..20 {
                v.push(Fault::Flip(o, 0x01));
                v.push(Fault::Flip(o, 0x80));
            }
            for x in [-1i32, -2, -4, -8] {
                v.push(Fault::Overwrite(at::XID, x.to_be_bytes().to_vec()));
            }
            for k in [1, 3, 4, 6, 8, 12, 16, 18, 20, 30] {
                v.push(Fault::Cut(k));
            }
        }
        // Pings come once a third of the session: a byte per field and mask.
        Frame::Ping => {
            for o in [3, 4, 7, 8, 11, 15, 16, 19] {
                v.push(Fault::Flip(o, 0x01));
            }
            v.push(Fault::Flip(8, 0x80));
            v.push(Fault::Cut(10));
        }
        Frame::Notification => {
            for o in 0..20 {
                v.push(Fault::Flip(o, 0x01));
            }
            for o in [0, 4, 8, 16] {
                v.push(Fault::Flip(o, 0x80));
            }
            v.push(Fault::Cut(14));
            v.push(Fault::Cut(24));
        }
    }
    v
}

/// What one fault did.
struct Seen {
    /// The call made while the frame was on its way: its true result or ConnectionLoss.
    outcome: &'static str,
    /// From arming to connected again.
    back: Duration,
}

/// Arms `fault` on the next `kind` frame, makes it come, and checks what the client did.
fn one_fault(
    direct: &ZooKeeper,
    proxy: &Proxy,
    zk: &ZooKeeper,
    ev: &Events,
    node: &str,
    kind: Frame,
    fault: &Fault,
) -> Seen {
    let sid = zk.session_id();
    match fault {
        Fault::Flip(o, m) => proxy.corrupt_next(kind, *o, *m),
        Fault::Overwrite(o, b) => proxy.overwrite_next(kind, *o, b),
        Fault::Cut(k) => proxy.truncate_next(kind, *k),
    }
    let start = Instant::now();
    let what = format!("{kind:?} {fault:?}");
    let outcome = match kind {
        Frame::Reply => {
            let r = zk.get_data(node, false);
            match &r {
                Ok((data, _)) if data == b"payload" => "ok",
                Err(Error::ConnectionLoss { .. }) => "connection-loss",
                other => panic!("{what}: the call got {other:?}"),
            }
        }
        Frame::Ping => {
            assert!(
                wait_until(Duration::from_secs(10), || proxy.fired() > 0),
                "{what}: no ping reply came"
            );
            "none in flight"
        }
        Frame::Notification => {
            zk.get_data(node, true).expect("set a data watch");
            direct.set_data(node, b"payload", -1).expect("fire it");
            "none in flight"
        }
    };
    assert!(
        wait_until(Duration::from_secs(10), || proxy.fired() > 0),
        "{what}: the fault never met its frame"
    );
    // A second call makes a reply come after the bad frame (a corrupt zxid that looked
    // plausible is exposed by the next one).
    let _ = zk.exists(node, false);
    // Every fault here ends the connection: Disconnected, then the same session again.
    let deadline = Instant::now() + WAIT;
    let mut states = Vec::new();
    let mut node_events = 0;
    loop {
        let e = ev
            .next_within(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|| panic!("{what}: no reconnect; saw {states:?}"));
        if e.event_type() == EventType::None {
            states.push(e.state());
            if e.state() == KeeperState::SyncConnected {
                break;
            }
        } else {
            assert_eq!(e.event_type(), EventType::NodeDataChanged, "{what}");
            node_events += 1;
        }
    }
    let back = start.elapsed();
    assert_eq!(
        states,
        [KeeperState::Disconnected, KeeperState::SyncConnected],
        "{what}"
    );
    assert_eq!(zk.session_id(), sid, "{what}: same session");
    assert!(
        zk.last_zxid() <= server_zxid(direct, node.rsplit_once('/').map_or("/", |p| p.0)),
        "{what}: last_zxid {:#x} ahead of the server",
        zk.last_zxid()
    );
    if kind == Frame::Notification {
        // The one-shot watch fires exactly once: delivered before the frame broke, or
        // (its notification refused) again after the reconnect, through SetWatches.
        while node_events == 0 {
            let e = ev
                .next_within(WAIT)
                .unwrap_or_else(|| panic!("{what}: the event was lost"));
            if e.event_type() == EventType::NodeDataChanged {
                node_events += 1;
            }
        }
        assert_eq!(node_events, 1, "{what}: duplicates");
        ev.expect_none(Duration::from_millis(50));
    }
    Seen { outcome, back }
}

/// Catalogue row 8: every header field of replies, ping replies and notifications.
fn every_header_field(srv: &TestServer) {
    let direct = srv.connect();
    let root = unique_root("frames");
    direct
        .create(&root, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    let node = format!("{root}/n");
    direct
        .create(
            &node,
            b"payload",
            &Acl::open_unsafe(),
            CreateMode::Persistent,
        )
        .unwrap();
    let proxy = Proxy::start(&srv.connect_string());
    // 3 s: pings every second, a silent connection noticed after 2 s.
    let (zk, ev) = via(&proxy, Duration::from_secs(3));
    for kind in [Frame::Reply, Frame::Notification, Frame::Ping] {
        let mut by_field: std::collections::BTreeMap<&str, (usize, usize, usize, Duration)> =
            Default::default();
        for fault in faults(kind) {
            let seen = one_fault(&direct, &proxy, &zk, &ev, &node, kind, &fault);
            let e = by_field.entry(field(&fault)).or_default();
            e.0 += 1;
            if seen.outcome == "ok" {
                e.1 += 1;
            } else if seen.outcome == "connection-loss" {
                e.2 += 1;
            }
            e.3 = e.3.max(seen.back);
        }
        for (f, (n, ok, loss, worst)) in by_field {
            figure(
                "8",
                "every_header_field",
                srv.kind(),
                &[
                    ("frame", format!("{kind:?}")),
                    ("field", f.to_string()),
                    ("faults", n.to_string()),
                    ("call_ok", ok.to_string()),
                    ("call_connection_loss", loss.to_string()),
                    ("reconnects", n.to_string()),
                    ("same_session", n.to_string()),
                    ("max_ms_to_reconnected", ms(worst)),
                ],
            );
        }
    }
    zk.close().unwrap();
}

server_test!(shared every_header_field, |srv| {
    every_header_field(srv);
});
