//! NodeCache: the initial value and changes (missing parents made, compressed data),
//! convergence under a seeded random writer with a check that no change is reported twice,
//! resynchronisation after a dropped connection and after session expiry, a slow pooled
//! listener, and close() taking back its watch (client and server side); on both server kinds.

mod support;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::cache_model::*;
use support::caches::*;
use support::events::WAIT;
use support::tree::{converges, random_node_writes, seed};
use support::{unique_root, wait_until, TestServer};
use zk_curator::recipes::cache::*;
use zk_curator::{Error, WorkerPool};

// ---------------------------------------------------------------------------------------
// NodeCache

server_test!(shared node_cache_initial_value_and_changes, |srv| {
    let c = srv.curator();
    let root = unique_root("nc-basic");
    let p = format!("{root}/node");
    c.create().creating_parents_if_needed().for_path_with_data(&p, b"a").unwrap();
    let cache = NodeCache::new(&c, &p);
    let (tx, rx) = mpsc::channel();
    let view = Arc::new(Mutex::new(None::<Arc<NodeCache>>));
    let cache = Arc::new(cache);
    *view.lock().unwrap() = Some(cache.clone());
    let v2 = view.clone();
    cache.listenable().add_listener(move || {
        let d = v2.lock().unwrap().as_ref().and_then(|c| c.current_data());
        let _ = tx.send(d.map(|d| d.data().unwrap_or_default().to_vec()));
    });
    cache.start_with_initial(true).unwrap();
    assert_eq!(cache.current_data().unwrap().data(), Some(&b"a"[..]), "built before start returned");
    c.set_data().for_path(&p, b"b").unwrap();
    assert_eq!(recv(&rx, "change"), Some(b"b".to_vec()), "the initial value is not reported");
    c.delete().for_path(&p).unwrap();
    assert_eq!(recv(&rx, "delete"), None);
    assert!(cache.current_data().is_none());
    c.create().for_path_with_data(&p, b"c").unwrap();
    assert_eq!(recv(&rx, "create"), Some(b"c".to_vec()));
    assert!(matches!(cache.start(), Err(Error::InvalidArgument(_))));
    *view.lock().unwrap() = None;
    cache.close();

    // Started on a missing node under missing parents: they are made, the node is None.
    let q = format!("{root}/x/y/z");
    let cache = NodeCache::new(&c, &q);
    let (tx, rx) = mpsc::channel();
    cache.listenable().add_listener(move || {
        let _ = tx.send(());
    });
    cache.start().unwrap();
    assert!(wait_until(WAIT, || c.check_exists().for_path(&format!("{root}/x/y")).unwrap().is_some()));
    assert!(cache.current_data().is_none());
    c.create().for_path_with_data(&q, b"late").unwrap();
    recv(&rx, "create");
    assert_eq!(cache.current_data().unwrap().data(), Some(&b"late"[..]));
    cache.close();

    // Compressed data.
    let z = reversing_client(srv);
    let zp = format!("{root}/zipped");
    z.create().compressed().for_path_with_data(&zp, b"plain").unwrap();
    assert_eq!(z.get_data().for_path(&zp).unwrap(), b"nialp");
    let zc = NodeCache::new(&z, &zp).with_compressed_data(true);
    zc.start_with_initial(true).unwrap();
    assert_eq!(zc.current_data().unwrap().data(), Some(&b"plain"[..]));
    z.set_data().compressed().for_path(&zp, b"again").unwrap();
    assert!(wait_until(WAIT, || zc.current_data().and_then(|d| d.data().map(|d| d == b"again")).unwrap_or(false)));
    zc.close();
    z.close();
});

server_test!(shared node_cache_converges_under_a_random_writer, |srv| {
    let seed = seed();
    let c = srv.curator();
    let writer = srv.curator();
    let root = unique_root("nc-random");
    c.create().for_path(&root).unwrap();
    let p = format!("{root}/n");
    let cache = Arc::new(NodeCache::new(&c, &p));
    let seen = node_model(&cache);
    cache.start().unwrap();
    random_node_writes(&writer, &p, 2000, seed);
    converges(CONVERGE, "NodeCache", || node_snap(&cache), || node_server(&c, &p));
    check_node_model(&seen, &cache, seed);
    assert!(seen.lock().unwrap().len() > 1, "seed {seed}: changes were reported");
    cache.close();
});

fn node_cache_outage(srv: &TestServer, expire: bool) {
    let rig = Rig::new(srv, "nc", expire);
    let Rig {
        c, writer, seed, ..
    } = &rig;
    let seed = *seed;
    let p = format!("{}/n", rig.root);
    writer
        .create()
        .creating_parents_if_needed()
        .for_path_with_data(&p, b"0")
        .unwrap();
    let cache = Arc::new(NodeCache::new(c, &p));
    let seen = node_model(&cache);
    cache.start_with_initial(true).unwrap();
    rig.outage(srv, || random_node_writes(writer, &p, 200, seed));
    // Make sure the node exists at the end, changed since the cache last saw it.
    let _ = writer.create().for_path_with_data(&p, b"final");
    writer.set_data().for_path(&p, b"final").unwrap();
    converges(
        CONVERGE,
        "NodeCache",
        || node_snap(&cache),
        || node_server(writer, &p),
    );
    // Still watching after the resync.
    writer.set_data().for_path(&p, b"after").unwrap();
    converges(
        CONVERGE,
        "NodeCache",
        || node_snap(&cache),
        || node_server(writer, &p),
    );
    check_node_model(&seen, &cache, seed);
    cache.close();
    c.close();
}

server_test!(shared node_cache_resyncs_after_a_dropped_connection, |srv| {
    node_cache_outage(srv, false);
});

server_test!(shared node_cache_resyncs_after_session_expiry, |srv| {
    node_cache_outage(srv, true);
});

server_test!(shared node_cache_slow_pooled_listener_delays_no_one, |srv| {
    let c = srv.curator();
    let p = unique_root("nc-slow");
    c.create().for_path_with_data(&p, b"-1").unwrap();
    let cache = Arc::new(NodeCache::new(&c, &p));
    let pool = WorkerPool::new(2).unwrap();
    let (slow_tx, slow_rx) = mpsc::channel();
    cache.listenable().add_listener_with_executor(
        move || {
            std::thread::sleep(Duration::from_millis(500));
            let _ = slow_tx.send(());
        },
        &pool,
    );
    let (fast_tx, fast_rx) = mpsc::channel();
    let w = Arc::downgrade(&cache);
    cache.listenable().add_listener(move || {
        if let Some(c) = w.upgrade() {
            let _ = fast_tx.send(c.current_data().and_then(|d| d.data().map(<[u8]>::to_vec)));
        }
    });
    cache.start_with_initial(true).unwrap();
    for i in 0..5 {
        let want = format!("{i}").into_bytes();
        let start = Instant::now();
        c.set_data().for_path(&p, &want).unwrap();
        loop {
            let got = recv(&fast_rx, "a change");
            if got.as_deref() == Some(&want[..]) {
                break;
            }
        }
        assert!(start.elapsed() < Duration::from_millis(1500), "the fast listener waited");
    }
    recv(&slow_rx, "the slow listener");
    cache.close();
});

server_test!(shared node_cache_close_removes_its_watch, |srv| {
    let c = srv.curator();
    let root = unique_root("nc-close");
    c.create().for_path_with_data(&root, b"x").unwrap();
    let zk = c.zookeeper_client().zookeeper().unwrap();
    let before = zk.watch_count();
    let cache = NodeCache::new(&c, &root);
    cache.start().unwrap();
    assert!(wait_until(WAIT, || cache.current_data().is_some()));
    assert!(wait_until(WAIT, || zk.watch_count() > before));
    assert!(!server_watches(srv, &root).is_empty(), "the server has the watch");
    cache.close();
    watches_gone(srv, &c, &root, before);
});
