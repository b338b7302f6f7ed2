//! PersistentWatcher: recursive and non-recursive events, the reset listeners (after start
//! and after every reconnect), the watch surviving a dropped connection and a session
//! expiry, and close() (also racing the next watcher's start, and before its own add is
//! answered); on both server kinds.

mod support;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::events::{Events, WAIT};
use support::proxy::{outage, proxied_client, Proxy};
use support::{unique_root, wait_until};
use zk_curator::framework::*;
use zk_curator::recipes::PersistentWatcher;
use zk_curator::EventType;

/// A watcher with its events in `Events` and its resets counted on a channel.
fn watcher(
    c: &CuratorFramework,
    path: &str,
    recursive: bool,
) -> (PersistentWatcher, Events, mpsc::Receiver<()>) {
    let w = PersistentWatcher::new(c, path, recursive);
    let ev = Events::new();
    w.listenable().add_listener(ev.watcher());
    let (tx, rx) = mpsc::channel();
    w.reset_listenable().add_listener(move || {
        let _ = tx.send(());
    });
    (w, ev, rx)
}

server_test!(shared recursive_and_flat_events, |srv| {
    let c = srv.curator();
    let root = unique_root("pw-events");
    c.create().for_path(&root).unwrap();
    let (rec, rev, resets) = watcher(&c, &root, true);
    // Another client: ZooKeeper 3.8 keeps one watch mode per path and connection (the last
    // add wins; ZOOKEEPER-4466), which the in-process server reproduces.
    let c2 = srv.curator();
    let (flat, fev, flat_resets) = watcher(&c2, &root, false);
    rec.start().unwrap();
    flat.start().unwrap();
    resets.recv_timeout(WAIT).expect("a reset once start()'s add succeeded");
    // The other client's watch must be on the server before the changes below.
    flat_resets
        .recv_timeout(WAIT)
        .expect("a reset once the flat watch is added");
    let a = format!("{root}/a");
    let ab = format!("{a}/b");
    c.create().creating_parents_if_needed().for_path(&ab).unwrap();
    c.set_data().for_path(&root, b"x").unwrap();
    // recursive: every descendant, one event each, and never NodeChildrenChanged
    rev.expect(EventType::NodeCreated, &a);
    rev.expect(EventType::NodeCreated, &ab);
    rev.expect(EventType::NodeDataChanged, &root);
    // flat: the node itself and its children list, but nothing below
    fev.expect(EventType::NodeChildrenChanged, &root);
    fev.expect(EventType::NodeDataChanged, &root);
    // persistent: the same watch fires again
    c.delete().deleting_children_if_needed().for_path(&a).unwrap();
    rev.expect(EventType::NodeDeleted, &ab);
    rev.expect(EventType::NodeDeleted, &a);
    fev.expect(EventType::NodeChildrenChanged, &root);
    rec.close();
    flat.close();
    c.create().for_path(&format!("{root}/late")).unwrap();
    c.set_data().for_path(&root, b"y").unwrap();
    rev.expect_none(Duration::from_millis(300));
    fev.expect_none(Duration::from_millis(0));
    assert!(resets.try_recv().is_err(), "no reset without a reconnect");
});

fn survives(srv: &support::TestServer, expire: bool) {
    let proxy = Proxy::start(&srv.connect_string());
    let c = proxied_client(&proxy);
    let writer = srv.curator();
    let root = unique_root(if expire { "pw-expire" } else { "pw-drop" });
    writer.create().for_path(&root).unwrap();
    let (w, ev, resets) = watcher(&c, &root, true);
    w.start().unwrap();
    resets.recv_timeout(WAIT).unwrap();
    writer.create().for_path(&format!("{root}/before")).unwrap();
    ev.expect(EventType::NodeCreated, &format!("{root}/before"));
    // cut the client off; change things meanwhile (those events are missed: the reset
    // listener is how the user learns to re-read)
    outage(srv, &proxy, &c, expire, || {
        writer
            .create()
            .for_path(&format!("{root}/meanwhile"))
            .unwrap();
    });
    resets
        .recv_timeout(Duration::from_secs(20))
        .expect("a reset after the reconnect");
    writer.create().for_path(&format!("{root}/after")).unwrap();
    let e = ev.next_node();
    let after = format!("{root}/after");
    if expire {
        // a new session: the meanwhile create happened before the watch existed
        assert_eq!(
            (e.event_type(), e.path()),
            (EventType::NodeCreated, Some(after.as_str()))
        );
    } else {
        // the same session: whether the meanwhile create is reported depends on the server
        // (3.8 re-adds persistent watches without replaying missed changes); after it comes
        // ours
        assert_eq!(e.event_type(), EventType::NodeCreated, "{e}");
        if e.path() != Some(after.as_str()) {
            ev.expect(EventType::NodeCreated, &after);
        }
    }
    // exactly one watch left on the client, however often it was re-added
    let zk = c.zookeeper_client().zookeeper().unwrap();
    assert_eq!(zk.watch_count(), 1);
    w.close();
    assert!(
        wait_until(WAIT, || zk.watch_count() == 0),
        "close removes the watch"
    );
    c.close();
}

server_test!(shared survives_a_dropped_connection, |srv| {
    survives(srv, false);
});

server_test!(shared survives_session_expiry, |srv| {
    survives(srv, true);
});

server_test!(shared start_before_the_first_connection, |srv| {
    // started while the client is not yet connected: the first Connected adds the watch
    let c = CuratorFrameworkFactory::new_client(
        &srv.connect_string(),
        RetryOneTime::new(Duration::from_millis(10)),
    )
    .unwrap();
    let root = unique_root("pw-early");
    let (w, ev, resets) = watcher(&c, &root, false);
    c.start().unwrap();
    w.start().unwrap();
    resets.recv_timeout(WAIT).expect("the watch was added");
    srv.curator().create().for_path(&root).unwrap();
    ev.expect(EventType::NodeCreated, &root);
    w.close();
    c.close();
});

server_test!(shared a_watcher_started_as_another_closes_hears, |srv| {
    // close() removes its watch in the background (the last one of the path: removeWatches)
    // while the next watcher on the same client and path adds its own: whichever order they
    // reach the server in, the new one must hear (a removal decided before the add but sent
    // after it used to take the server's watch away; the lib tests of client::ops::watches
    // make that interleaving certain, this one only meets what the machine's timing makes).
    let c = srv.curator();
    let root = unique_root("pw-handover");
    c.create().for_path(&root).unwrap();
    // The framework's own watches (the ensemble tracker's on real ZooKeeper) stay.
    let zk = c.zookeeper_client().zookeeper().unwrap();
    let before = zk.watch_count();
    let (mut prev, _, resets) = watcher(&c, &root, true);
    prev.start().unwrap();
    resets.recv_timeout(WAIT).expect("added");
    for round in 0..60u32 {
        let (next, ev, resets) = watcher(&c, &root, true);
        prev.close();
        // The removal runs on the timer thread: start the next watcher a little later each
        // round (0 to 60 µs of work, about a thread's wake-up), so that some rounds start it
        // while the removal is being sent.
        let spin = Instant::now() + Duration::from_micros(u64::from(round));
        while Instant::now() < spin {
            std::hint::spin_loop();
        }
        next.start().unwrap();
        resets.recv_timeout(WAIT).expect("added");
        c.set_data().for_path(&root, format!("{round}").as_bytes()).unwrap();
        ev.expect(EventType::NodeDataChanged, &root);
        prev = next;
    }
    prev.close();
    assert!(wait_until(WAIT, || zk.watch_count() == before), "{} watches", zk.watch_count());
});

server_test!(shared closed_before_its_add_is_answered_leaves_no_watch, |srv| {
    // close() right after start(), every reply held back by a slow link: close()'s removal
    // (on the timer thread, at once) finds nothing registered yet; the add, once answered,
    // must not leave its watcher registered (nor the server watching) for good.
    let proxy = Proxy::start(&srv.connect_string());
    let c = proxied_client(&proxy);
    let root = unique_root("pw-quick-close");
    c.create().for_path(&root).unwrap();
    let zk = c.zookeeper_client().zookeeper().unwrap();
    let before = zk.watch_count();
    proxy.delay(Duration::from_millis(500));
    let (w, _, _) = watcher(&c, &root, true);
    w.start().unwrap();
    w.close();
    assert!(wait_until(WAIT, || zk.watch_count() > before), "the add is answered");
    assert!(wait_until(WAIT, || zk.watch_count() == before), "{} watches", zk.watch_count());
    let port: u16 = srv.connect_string().rsplit(':').next().unwrap().parse().unwrap();
    let watched = || support::jvm::four_letter(port, "wchp").contains(&root);
    assert!(wait_until(WAIT, || !watched()), "the server still watches {root}");
    proxy.delay(Duration::ZERO);
});
