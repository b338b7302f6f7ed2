//! Watches of every kind and their triggers, the ordering guarantee, callbacks that call the
//! client, panicking and slow watchers, removal; against both server kinds.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use support::events::{Events, WAIT};
use support::unique_root;
use zk_curator::{
    Acl, AddWatchMode, CreateMode, Error, EventType, KeeperState, SharedWatcher, WatchedEvent,
    WatcherType, WorkerPool, ZooKeeper,
};

fn mk(zk: &ZooKeeper, path: &str) -> String {
    zk.create(path, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap_or_else(|e| panic!("create {path}: {e}"))
}

const QUIET: Duration = Duration::from_millis(300);

server_test!(shared one_shot_data_exist_and_child_watches, |srv| {
    let zk = srv.connect();
    let other = srv.connect();
    let root = mk(&zk, &unique_root("oneshot"));
    let a = mk(&zk, &format!("{root}/a"));
    // data watch: fires once
    let ev = Events::new();
    zk.get_data_w(&a, ev.watcher()).unwrap();
    other.set_data(&a, b"1", -1).unwrap();
    ev.expect(EventType::NodeDataChanged, &a);
    other.set_data(&a, b"2", -1).unwrap();
    ev.expect_none(QUIET);
    // exists on a missing node: NodeCreated
    let b = format!("{root}/b");
    assert!(zk.exists_w(&b, ev.watcher()).unwrap().is_none());
    mk(&other, &b);
    ev.expect(EventType::NodeCreated, &b);
    // exists on an existing node is a data watch: NodeDeleted
    assert!(zk.exists_w(&b, ev.watcher()).unwrap().is_some());
    other.delete(&b, -1).unwrap();
    ev.expect(EventType::NodeDeleted, &b);
    // child watch: a child created, then the node deleted
    zk.get_children_w(&a, ev.watcher()).unwrap();
    mk(&other, &format!("{a}/c"));
    ev.expect(EventType::NodeChildrenChanged, &a);
    zk.get_children2_w(&a, ev.watcher()).unwrap();
    other.delete(&format!("{a}/c"), -1).unwrap();
    ev.expect(EventType::NodeChildrenChanged, &a);
    zk.get_children_w(&a, ev.watcher()).unwrap();
    other.delete(&a, -1).unwrap();
    ev.expect(EventType::NodeDeleted, &a);
    // a failed getData sets no watch
    assert!(matches!(zk.get_data_w(&a, ev.watcher()), Err(Error::NoNode { .. })));
    mk(&other, &a);
    ev.expect_none(QUIET);
    assert_eq!(zk.watch_count(), 0);
});

server_test!(shared default_watcher_and_dedup, |srv| {
    let (zk, ev) = srv.connect_watched();
    ev.expect_state(KeeperState::SyncConnected);
    let other = srv.connect();
    let root = mk(&zk, &unique_root("dedup"));
    let a = mk(&zk, &format!("{root}/a"));
    zk.get_data(&a, true).unwrap();
    zk.exists(&a, true).unwrap();
    other.set_data(&a, b"x", -1).unwrap();
    ev.expect(EventType::NodeDataChanged, &a);
    ev.expect_none(QUIET);
    // one SharedWatcher as data and child watch: a delete reaches it once
    let ev2 = Events::new();
    let w = ev2.shared();
    zk.get_data_w_shared(&a, &w).unwrap();
    zk.get_children_w_shared(&a, &w).unwrap();
    zk.exists_w_shared(&a, &w).unwrap();
    other.delete(&a, -1).unwrap();
    ev2.expect(EventType::NodeDeleted, &a);
    ev2.expect_none(QUIET);
    // two distinct closures on one node both fire
    let ev3 = Events::new();
    mk(&other, &a);
    zk.get_data_w(&a, ev3.watcher()).unwrap();
    zk.get_data_w(&a, ev3.watcher()).unwrap();
    other.set_data(&a, b"y", -1).unwrap();
    ev3.expect(EventType::NodeDataChanged, &a);
    ev3.expect(EventType::NodeDataChanged, &a);
    // watch = true without a default watcher is a usage error
    let plain = srv.connect();
    assert!(matches!(plain.get_data(&a, true), Err(Error::InvalidArgument(_))));
});

server_test!(shared persistent_and_recursive_watches, |srv| {
    let zk = srv.connect();
    let other = srv.connect();
    let root = mk(&zk, &unique_root("persistent"));
    let p = format!("{root}/p");
    let pe = Events::new();
    zk.add_watch(&p, pe.watcher(), AddWatchMode::Persistent).unwrap();
    let re = Events::new();
    zk.add_watch(&root, re.watcher(), AddWatchMode::PersistentRecursive)
        .unwrap();
    mk(&other, &p);
    pe.expect(EventType::NodeCreated, &p);
    re.expect(EventType::NodeCreated, &p);
    other.set_data(&p, b"1", -1).unwrap();
    other.set_data(&p, b"2", -1).unwrap();
    pe.expect(EventType::NodeDataChanged, &p);
    pe.expect(EventType::NodeDataChanged, &p);
    re.expect(EventType::NodeDataChanged, &p);
    re.expect(EventType::NodeDataChanged, &p);
    let c = mk(&other, &format!("{p}/c"));
    pe.expect(EventType::NodeChildrenChanged, &p);
    re.expect(EventType::NodeCreated, &c); // recursive: no child events
    let deep = mk(&other, &format!("{c}/deep"));
    re.expect(EventType::NodeCreated, &deep);
    other.delete(&deep, -1).unwrap();
    other.delete(&c, -1).unwrap();
    other.delete(&p, -1).unwrap();
    re.expect(EventType::NodeDeleted, &deep);
    re.expect(EventType::NodeDeleted, &c);
    re.expect(EventType::NodeDeleted, &p);
    pe.expect(EventType::NodeChildrenChanged, &p);
    pe.expect(EventType::NodeDeleted, &p);
    // still armed after firing
    mk(&other, &p);
    pe.expect(EventType::NodeCreated, &p);
    re.expect(EventType::NodeCreated, &p);
    pe.expect_none(QUIET);
    re.expect_none(Duration::from_millis(50));
});

server_test!(shared removing_watches, |srv| {
    let zk = srv.connect();
    let other = srv.connect();
    let root = mk(&zk, &unique_root("remove"));
    let a = mk(&zk, &format!("{root}/a"));
    let ev = Events::new();
    let w = ev.shared();
    let r = zk.remove_watches(&a, &w, WatcherType::Data, false);
    assert!(matches!(&r, Err(Error::NoWatcher { path, .. }) if *path == a), "{r:?}");
    zk.get_data_w_shared(&a, &w).unwrap();
    zk.get_children_w_shared(&a, &w).unwrap();
    let r = zk.remove_watches(&a, &w, WatcherType::Data, false);
    assert!(r.is_ok(), "{r:?}");
    let e = ev.next();
    assert_eq!((e.event_type(), e.path()), (EventType::DataWatchRemoved, Some(a.as_str())));
    other.set_data(&a, b"x", -1).unwrap();
    ev.expect_none(QUIET);
    zk.remove_all_watches(&a, WatcherType::Any, false).unwrap();
    assert_eq!(ev.next().event_type(), EventType::ChildWatchRemoved);
    mk(&other, &format!("{a}/c"));
    ev.expect_none(QUIET);
    // persistent ones too
    let pw = ev.shared();
    zk.add_watch_shared(&a, &pw, AddWatchMode::PersistentRecursive)
        .unwrap();
    zk.remove_watches(&a, &pw, WatcherType::Any, false).unwrap();
    assert_eq!(ev.next().event_type(), EventType::PersistentWatchRemoved);
    assert_eq!(zk.watch_count(), 0);
    // locally, when the server is out of reach, still works
    zk.get_data_w_shared(&a, &w).unwrap();
    zk.remove_watches(&a, &w, WatcherType::Data, true).unwrap();
    assert_eq!(ev.next().event_type(), EventType::DataWatchRemoved);
});

server_test!(shared event_order_is_server_order, |srv| {
    // ZooKeeper's guarantee: a client sees the watch event before any read that returns the
    // new data; with callbacks both run on zk-event, in server order.
    let zk = srv.connect();
    let other = srv.connect();
    let root = mk(&zk, &unique_root("order"));
    let a = mk(&zk, &format!("{root}/a"));
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let l = log.clone();
    zk.get_data_w(&a, move |e: &WatchedEvent| {
        l.lock().unwrap().push(format!("event {:?}", e.event_type()));
    })
    .unwrap();
    let (done_tx, done_rx) = mpsc::channel();
    // Reads in flight before, across and after the write.
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        other.set_data(&a, b"new", -1).unwrap();
        a
    });
    let stop = Arc::new(AtomicUsize::new(0));
    let a2 = format!("{root}/a");
    for _ in 0..2000 {
        let l = log.clone();
        let seen_new = stop.clone();
        let tx = done_tx.clone();
        zk.get_data_async(&a2, false, move |r| {
            let data = r.unwrap().0;
            if data == b"new" {
                l.lock().unwrap().push("read new".into());
                if seen_new.fetch_add(1, Ordering::SeqCst) == 0 {
                    let _ = tx.send(());
                }
            } else {
                l.lock().unwrap().push("read old".into());
            }
        })
        .unwrap();
        if stop.load(Ordering::SeqCst) > 0 {
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    done_rx.recv_timeout(WAIT).expect("a read saw the new data");
    writer.join().unwrap();
    let log = log.lock().unwrap().clone();
    let first_new = log.iter().position(|s| s == "read new").unwrap();
    let event = log
        .iter()
        .position(|s| s.starts_with("event"))
        .expect("the watch fired");
    assert!(event < first_new, "event after new data: {log:?}");
    assert!(log[event + 1..].iter().all(|s| s != "read old"), "{log:?}");
});

server_test!(shared callbacks_may_call_the_client, |srv| {
    let zk = Arc::new(srv.connect());
    let other = srv.connect();
    let root = mk(&zk, &unique_root("reentrant"));
    let a = mk(&zk, &format!("{root}/a"));
    let (tx, rx) = mpsc::channel();
    let weak = Arc::downgrade(&zk);
    let a2 = a.clone();
    // a watcher that reads synchronously and re-arms itself
    zk.get_data_w(&a, move |e: &WatchedEvent| {
        if let Some(zk) = weak.upgrade() {
            let (d, _) = zk.get_data(&a2, false).unwrap();
            zk.create(&format!("{a2}/seen-"), &d, &Acl::open_unsafe(), CreateMode::PersistentSequential)
                .unwrap();
            tx.send((e.event_type(), d)).unwrap();
        }
    })
    .unwrap();
    other.set_data(&a, b"v1", -1).unwrap();
    let (t, d) = rx.recv_timeout(WAIT).unwrap();
    assert_eq!((t, d.as_slice()), (EventType::NodeDataChanged, &b"v1"[..]));
    // an async callback doing the same
    let (tx, rx) = mpsc::channel();
    let weak = Arc::downgrade(&zk);
    let a3 = a.clone();
    zk.exists_async(&a, false, move |_| {
        let zk = weak.upgrade().unwrap();
        tx.send(zk.get_children(&a3, false).unwrap().len()).unwrap();
    })
    .unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), 1);
});

server_test!(shared close_from_inside_a_watcher, |srv| {
    let zk: Arc<OnceLock<ZooKeeper>> = Arc::new(OnceLock::new());
    let other = srv.connect();
    let root = mk(&other, &unique_root("close-inside"));
    let (tx, rx) = mpsc::channel();
    let z = zk.clone();
    let handle = srv
        .builder()
        .default_watcher(move |e: &WatchedEvent| {
            if e.event_type() == EventType::NodeCreated {
                let start = Instant::now();
                z.get().unwrap().close().unwrap();
                tx.send(start.elapsed()).unwrap();
            }
        })
        .connect()
        .unwrap();
    let _ = zk.set(handle);
    let b = format!("{root}/b");
    zk.get().unwrap().exists(&b, true).unwrap();
    mk(&other, &b);
    let took = rx.recv_timeout(WAIT).expect("close returned inside the watcher");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(matches!(zk.get().unwrap().exists("/", false), Err(Error::Closed)));
});

// A watcher also hears connection state changes, without a path (as in Java): a pending
// one-shot watch hears the disconnection, the reconnection and close(). `node_events` passes
// node events only, so a watcher that needs the path cannot panic on them.
server_test!(shared pending_watchers_hear_state_changes_and_node_events_filters_them, |srv| {
    let proxy = support::proxy::Proxy::start(&srv.connect_string());
    let zk = ZooKeeper::builder(&proxy.connect_string())
        .session_timeout(Duration::from_secs(10))
        .connect()
        .unwrap();
    let other = srv.connect();
    let root = mk(&other, &unique_root("state-to-watchers"));
    let a = mk(&other, &format!("{root}/a"));
    let raw = Events::new();
    zk.get_data_w(&a, raw.watcher()).unwrap();
    let paths = Arc::new(Mutex::new(Vec::new()));
    let p = paths.clone();
    zk.get_data_w(
        &a,
        zk_curator::node_events(move |n| p.lock().unwrap().push(n.path().to_string())),
    )
    .unwrap();
    proxy.drop_connections();
    for want in [KeeperState::Disconnected, KeeperState::SyncConnected] {
        let e = raw.next();
        assert_eq!((e.event_type(), e.state(), e.path()), (EventType::None, want, None));
    }
    other.set_data(&a, b"x", -1).unwrap();
    raw.expect(EventType::NodeDataChanged, &a);
    assert!(support::wait_until(WAIT, || paths.lock().unwrap().len() == 1));
    // Armed again, then closed before it fires: the raw watcher hears Closed.
    zk.get_data_w(&a, raw.watcher()).unwrap();
    zk.close().unwrap();
    let e = raw.next();
    assert_eq!((e.event_type(), e.state(), e.path()), (EventType::None, KeeperState::Closed, None));
    assert_eq!(*paths.lock().unwrap(), vec![a], "node events only");
    assert_eq!(zk.event_dispatcher().panic_count(), 0);
});

server_test!(shared panicking_watchers_do_not_stop_delivery, |srv| {
    let zk = srv.connect();
    let other = srv.connect();
    let root = mk(&zk, &unique_root("panic"));
    let a = mk(&zk, &format!("{root}/a"));
    let ev = Events::new();
    let w = ev.watcher();
    zk.add_watch(
        &a,
        move |e: &WatchedEvent| {
            w(e);
            panic!("watcher panics on purpose");
        },
        AddWatchMode::Persistent,
    )
    .unwrap();
    let before = zk.event_dispatcher().panic_count();
    for i in 0..3 {
        other.set_data(&a, format!("{i}").as_bytes(), -1).unwrap();
        ev.expect(EventType::NodeDataChanged, &a);
    }
    // The watcher records before it panics: wait for the third panic to be counted.
    assert!(support::wait_until(WAIT, || zk.event_dispatcher().panic_count() == before + 3));
    // async callbacks that panic too
    let (tx, rx) = mpsc::channel();
    zk.exists_async(&a, false, |_| panic!("callback panics")).unwrap();
    zk.exists_async(&a, false, move |r| tx.send(r.is_ok()).unwrap())
        .unwrap();
    assert!(rx.recv_timeout(WAIT).unwrap());
    support::figures::figure(
        "12",
        "panicking_watchers_do_not_stop_delivery",
        srv.kind(),
        &[
            ("panics", (zk.event_dispatcher().panic_count() - before).to_string()),
            ("events_after_a_panic_delivered", "3/3".into()),
            ("callbacks_after_a_panic_delivered", "1/1".into()),
            ("session_kept", (zk.state() == zk_curator::States::Connected).to_string()),
        ],
    );
});

server_test!(shared worker_pool_keeps_per_path_order_while_one_path_sleeps, |srv| {
    let zk = srv.connect();
    let writer = srv.connect();
    let root = mk(&zk, &unique_root("pool"));
    let pool = WorkerPool::new(4).unwrap();
    const PATHS: usize = 8;
    const EVENTS: usize = 1000;
    let seen: Arc<Mutex<HashMap<String, Vec<EventType>>>> = Arc::default();
    let done_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let paths: Vec<String> = (0..PATHS).map(|i| format!("{root}/p{i}")).collect();
    for (i, p) in paths.iter().enumerate() {
        let seen = seen.clone();
        let done_at = done_at.clone();
        let slow = i == 0;
        let w = pool.offload(move |e: &WatchedEvent| {
            if slow {
                std::thread::sleep(Duration::from_millis(2));
            }
            let path = e.path().unwrap().to_string();
            let mut s = seen.lock().unwrap();
            let v = s.entry(path.clone()).or_default();
            v.push(e.event_type());
            if v.len() == EVENTS {
                done_at.lock().unwrap().insert(path, Instant::now());
            }
        });
        zk.add_watch_shared(p, &w, AddWatchMode::Persistent).unwrap();
    }
    // Per path: created, EVENTS-2 data changes, deleted; interleaved across paths.
    let (tx, rx) = mpsc::channel();
    let mut sent = 0;
    for p in &paths {
        let tx = tx.clone();
        writer
            .create_async(p, b"", &Acl::open_unsafe(), CreateMode::Persistent, move |r| {
                tx.send(r.map(|_| ())).unwrap()
            })
            .unwrap();
        sent += 1;
    }
    for _ in 0..EVENTS - 2 {
        for p in &paths {
            let tx = tx.clone();
            writer
                .set_data_async(p, b"x", -1, move |r| tx.send(r.map(|_| ())).unwrap())
                .unwrap();
            sent += 1;
        }
    }
    for p in &paths {
        let tx = tx.clone();
        writer
            .delete_async(p, -1, move |r| tx.send(r).unwrap())
            .unwrap();
        sent += 1;
    }
    for _ in 0..sent {
        rx.recv_timeout(WAIT).unwrap().unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while done_at.lock().unwrap().len() < PATHS && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = seen.lock().unwrap();
    for p in &paths {
        let v = &seen[p];
        assert_eq!(v.len(), EVENTS, "{p}");
        assert_eq!(v[0], EventType::NodeCreated, "{p}");
        assert_eq!(v[EVENTS - 1], EventType::NodeDeleted, "{p}");
        assert!(v[1..EVENTS - 1].iter().all(|t| *t == EventType::NodeDataChanged), "{p}");
    }
    // The fast paths were done long before the slow one (2 ms x 1000 events).
    let done = done_at.lock().unwrap();
    let slow_done = done[&paths[0]];
    for p in &paths[1..] {
        assert!(
            done[p] + Duration::from_millis(500) < slow_done,
            "{p} was held up by the slow path"
        );
    }
    assert_eq!(pool.panic_count(), 0);
    let _unused: Option<SharedWatcher> = None;
});

server_test!(shared removals_racing_other_watches_keep_the_server_right, |srv| {
    let zk = srv.connect();
    let other = srv.connect();
    let root = mk(&zk, &unique_root("remove-race"));
    let a = mk(&zk, &format!("{root}/a"));
    let port: u16 = srv.connect_string().rsplit(':').next().unwrap().parse().unwrap();
    // Two watchers removed back to back, without waiting: the server's watch goes too.
    let (e1, e2) = (Events::new(), Events::new());
    let (w1, w2) = (e1.shared(), e2.shared());
    zk.add_watch_shared(&a, &w1, AddWatchMode::Persistent).unwrap();
    zk.add_watch_shared(&a, &w2, AddWatchMode::Persistent).unwrap();
    let (tx, rx) = mpsc::channel();
    let t1 = tx.clone();
    zk.remove_watches_async(&a, &w1, WatcherType::Any, false, move |r| t1.send(r).unwrap())
        .unwrap();
    zk.remove_watches_async(&a, &w2, WatcherType::Any, false, move |r| tx.send(r).unwrap())
        .unwrap();
    for _ in 0..2 {
        rx.recv_timeout(WAIT).unwrap().unwrap();
    }
    assert_eq!(zk.watch_count(), 0);
    let wchp = support::jvm::four_letter(port, "wchp");
    assert!(!wchp.contains(&a), "the server still watches {a}: {wchp}");
    // A watched read in flight when the last other watcher goes keeps its server watch.
    let (e3, e4) = (Events::new(), Events::new());
    let w3 = e3.shared();
    zk.get_data_w_shared(&a, &w3).unwrap();
    let (tx, rx) = mpsc::channel();
    zk.get_data_w_async(&a, e4.watcher(), move |r| tx.send(r.is_ok()).unwrap())
        .unwrap();
    zk.remove_watches(&a, &w3, WatcherType::Data, false).unwrap();
    assert!(rx.recv_timeout(WAIT).unwrap());
    other.set_data(&a, b"x", -1).unwrap();
    e4.expect(EventType::NodeDataChanged, &a);
});
