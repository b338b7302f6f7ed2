//! A watch removal racing a new watch on the same path, on both server kinds.
//!
//! The server keeps one watch per (session, path, kind): a removeWatches takes it away for
//! every watcher the client holds there. So the client must apply a removal to its registry
//! in the order of the wire (what was registered by requests before the removal goes, what
//! requests after it register stays), and decide "this removes the server's watch" only
//! where nothing can be registered behind its back. Each test here makes one interleaving
//! certain, without sleeps: the event thread is held by a callback, so that a removal's
//! completion runs only after the replies of the requests sent behind it were handled.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use support::events::{Events, WAIT};
use support::proxy::Proxy;
use support::{unique_root, wait_until};
use zk_curator::proto::OpCode;
use zk_curator::{Acl, AddWatchMode, CreateMode, EventType, WatchedEvent, WatcherType, ZooKeeper};

fn mk(zk: &ZooKeeper, path: &str) -> String {
    zk.create(path, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap_or_else(|e| panic!("create {path}: {e}"))
}

/// Holds `zk`'s event thread in a callback until the returned sender is dropped or sent to.
/// Returns once the callback runs, so that everything completed after this point waits.
fn hold_event_thread(zk: &ZooKeeper, path: &str) -> mpsc::Sender<()> {
    let (release, held) = mpsc::channel::<()>();
    let (running, is_running) = mpsc::channel::<()>();
    zk.exists_async(path, false, move |_| {
        let _ = running.send(());
        let _ = held.recv_timeout(WAIT);
    })
    .unwrap();
    is_running.recv_timeout(WAIT).unwrap();
    release
}

/// The next node event of `ev`, as (type, path).
fn next(ev: &Events) -> (EventType, String) {
    let e: WatchedEvent = ev.next_node();
    (e.event_type(), e.path().unwrap_or_default().to_string())
}

server_test!(shared remove_all_then_add_keeps_the_new_watcher, |srv| {
    // removeWatches (all) and an addWatch behind it: the server drops the old watch, then
    // sets the new one; the client must remove only what was there before the removal.
    let zk = srv.connect();
    let other = srv.connect();
    let root = mk(&zk, &unique_root("race-all"));
    let a = mk(&zk, &format!("{root}/a"));
    let (old, new) = (Events::new(), Events::new());
    zk.add_watch(&a, old.watcher(), AddWatchMode::Persistent).unwrap();
    let release = hold_event_thread(&zk, &a);
    let (tx, removed) = mpsc::channel();
    zk.remove_all_watches_async(&a, WatcherType::Any, false, move |r| tx.send(r).unwrap())
        .unwrap();
    let (tx, added) = mpsc::channel();
    zk.add_watch_async(&a, new.watcher(), AddWatchMode::Persistent, move |r| {
        tx.send(r).unwrap()
    })
    .unwrap();
    // A synchronous read behind both: when it returns, both replies have been handled.
    zk.exists(&a, false).unwrap();
    drop(release);
    removed.recv_timeout(WAIT).unwrap().unwrap();
    added.recv_timeout(WAIT).unwrap().unwrap();
    assert_eq!(next(&old), (EventType::PersistentWatchRemoved, a.clone()));
    other.set_data(&a, b"1", -1).unwrap();
    assert_eq!(next(&new), (EventType::NodeDataChanged, a.clone()), "the new watcher is deaf");
    assert_eq!(zk.watch_count(), 1);
});

server_test!(shared remove_then_re_add_of_the_same_watcher_keeps_it, |srv| {
    // The one watcher of a path removed (the server's watch goes) and added again behind
    // the removal: it must stay registered, as the server watches again.
    let zk = srv.connect();
    let other = srv.connect();
    let root = mk(&zk, &unique_root("race-same"));
    let a = mk(&zk, &format!("{root}/a"));
    let ev = Events::new();
    let w = ev.shared();
    zk.add_watch_shared(&a, &w, AddWatchMode::PersistentRecursive).unwrap();
    let release = hold_event_thread(&zk, &a);
    let (tx, removed) = mpsc::channel();
    zk.remove_watches_async(&a, &w, WatcherType::Any, false, move |r| tx.send(r).unwrap())
        .unwrap();
    let (tx, added) = mpsc::channel();
    zk.add_watch_shared_async(&a, &w, AddWatchMode::PersistentRecursive, move |r| {
        tx.send(r).unwrap()
    })
    .unwrap();
    zk.exists(&a, false).unwrap();
    drop(release);
    removed.recv_timeout(WAIT).unwrap().unwrap();
    added.recv_timeout(WAIT).unwrap().unwrap();
    assert_eq!(next(&ev), (EventType::PersistentWatchRemoved, a.clone()));
    let c = mk(&other, &format!("{a}/c"));
    assert_eq!(next(&ev), (EventType::NodeCreated, c), "the re-added watcher is deaf");
    assert_eq!(zk.watch_count(), 1);
});

server_test!(shared remove_then_watched_read_of_the_same_watcher_keeps_it, |srv| {
    // The same with a one-shot data watch re-armed by getData behind its removal.
    let zk = srv.connect();
    let other = srv.connect();
    let root = mk(&zk, &unique_root("race-data"));
    let a = mk(&zk, &format!("{root}/a"));
    let ev = Events::new();
    let w = ev.shared();
    zk.get_data_w_shared(&a, &w).unwrap();
    let release = hold_event_thread(&zk, &a);
    let (tx, removed) = mpsc::channel();
    zk.remove_watches_async(&a, &w, WatcherType::Data, false, move |r| tx.send(r).unwrap())
        .unwrap();
    let (tx, read) = mpsc::channel();
    zk.get_data_w_shared_async(&a, &w, move |r| tx.send(r.map(drop)).unwrap())
        .unwrap();
    zk.exists(&a, false).unwrap();
    drop(release);
    removed.recv_timeout(WAIT).unwrap().unwrap();
    read.recv_timeout(WAIT).unwrap().unwrap();
    assert_eq!(next(&ev), (EventType::DataWatchRemoved, a.clone()));
    other.set_data(&a, b"1", -1).unwrap();
    assert_eq!(next(&ev), (EventType::NodeDataChanged, a.clone()), "the re-armed watch is deaf");
    assert_eq!(zk.watch_count(), 0, "fired");
});

server_test!(shared a_local_removal_lost_with_the_connection_leaves_no_server_watch, |srv| {
    // removeWatches reaches the server, its reply is lost with the connection; the reconnect
    // sets the watch again from the registry (the removal's completion has not run yet), then
    // the completion removes the watcher locally: the server must not keep watching for
    // nobody.
    let proxy = Proxy::start(&srv.connect_string());
    let zk = ZooKeeper::builder(&proxy.connect_string())
        .session_timeout(Duration::from_secs(20))
        .connect()
        .unwrap();
    let other = srv.connect();
    let port: u16 = srv.connect_string().rsplit(':').next().unwrap().parse().unwrap();
    let root = mk(&zk, &unique_root("race-lost"));
    let a = mk(&zk, &format!("{root}/a"));
    let ev = Events::new();
    let w = ev.shared();
    zk.add_watch_shared(&a, &w, AddWatchMode::Persistent).unwrap();
    let release = hold_event_thread(&zk, &a);
    proxy.lose_next_reply_to(OpCode::RemoveWatches);
    let (tx, removed) = mpsc::channel();
    zk.remove_watches_async(&a, &w, WatcherType::Any, true, move |r| tx.send(r).unwrap())
        .unwrap();
    // Reconnected (SetWatches sent with the path) before the completion runs.
    assert!(wait_until(WAIT, || proxy.accepted() >= 2 && zk.state().is_connected()));
    zk.exists(&a, false).unwrap();
    drop(release);
    removed.recv_timeout(WAIT).unwrap().unwrap();
    assert_eq!(next(&ev), (EventType::PersistentWatchRemoved, a.clone()));
    assert_eq!(zk.watch_count(), 0);
    let watched = || support::jvm::four_letter(port, "wchp").contains(&a);
    assert!(wait_until(WAIT, || !watched()), "the server still watches {a} for nobody");
    // And a new watcher on the path is served.
    let ev2 = Events::new();
    zk.add_watch(&a, ev2.watcher(), AddWatchMode::Persistent).unwrap();
    other.set_data(&a, b"1", -1).unwrap();
    assert_eq!(next(&ev2), (EventType::NodeDataChanged, a.clone()));
});
