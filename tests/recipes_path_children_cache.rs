//! PathChildrenCache: each start mode's initial load and events, the cache's maintenance
//! calls, convergence under a seeded random writer with an exact event-model check,
//! resynchronisation after a dropped connection and after session expiry, a slow pooled
//! listener, and close() taking back every watch (client and server side); on both server kinds.

mod support;

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::cache_model::*;
use support::caches::*;
use support::events::WAIT;
use support::tree::{children_snapshot, converges, random_writes, seed};
use support::{unique_root, wait_until, TestServer};
use zk_curator::framework::*;
use zk_curator::recipes::cache::*;
use zk_curator::{Error, WorkerPool};

// ---------------------------------------------------------------------------------------
// PathChildrenCache

server_test!(shared pcc_normal_start_and_events, |srv| {
    use PathChildrenCacheEventType::*;
    let c = srv.curator();
    let root = unique_root("pcc-normal");
    make_children(&c, &root, &["a", "b", "c"]);
    c.create().for_path(&format!("{root}/a/grandchild")).unwrap();
    let cache = PathChildrenCache::new(&c, &root, true);
    let rx = pcc_events(&cache);
    cache.start(StartMode::Normal).unwrap();
    let mut added: Vec<(PathChildrenCacheEventType, String)> = (0..3).map(|_| next_pcc(&rx)).collect();
    added.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        added,
        ["a", "b", "c"].map(|n| (ChildAdded, format!("{root}/{n}"))).to_vec(),
        "every initial child is added"
    );
    c.create().for_path_with_data(&format!("{root}/d"), b"d").unwrap();
    assert_eq!(next_pcc(&rx), (ChildAdded, format!("{root}/d")));
    c.set_data().for_path(&format!("{root}/a"), b"a2").unwrap();
    assert_eq!(next_pcc(&rx), (ChildUpdated, format!("{root}/a")));
    c.delete().for_path(&format!("{root}/b")).unwrap();
    assert_eq!(next_pcc(&rx), (ChildRemoved, format!("{root}/b")));
    // Grandchildren are not the cache's business.
    c.create().for_path(&format!("{root}/c/grandchild")).unwrap();
    c.set_data().for_path(&format!("{root}/c"), b"c2").unwrap();
    assert_eq!(next_pcc(&rx), (ChildUpdated, format!("{root}/c")));
    let paths: Vec<String> = cache.current_data().iter().map(|d| d.path().to_string()).collect();
    assert_eq!(paths, ["a", "c", "d"].map(|n| format!("{root}/{n}")), "sorted by path");
    assert_eq!(cache.current_data_for(&format!("{root}/a")).unwrap().data(), Some(&b"a2"[..]));
    assert!(matches!(cache.start(StartMode::Normal), Err(Error::InvalidArgument(_))));
    cache.close();

    // The parent is made when missing (EnsureContainers), then children show up.
    let missing = format!("{root}/later/parent");
    let cache = PathChildrenCache::new(&c, &missing, true);
    let rx = pcc_events(&cache);
    cache.start(StartMode::Normal).unwrap();
    assert!(wait_until(WAIT, || c.check_exists().for_path(&missing).unwrap().is_some()));
    c.create().for_path(&format!("{missing}/kid")).unwrap();
    assert_eq!(next_pcc(&rx), (ChildAdded, format!("{missing}/kid")));
    cache.close();
});

server_test!(shared pcc_build_initial_cache_reports_nothing_initial, |srv| {
    use PathChildrenCacheEventType::*;
    let c = srv.curator();
    let root = unique_root("pcc-build");
    make_children(&c, &root, &["a", "b", "c"]);
    let cache = PathChildrenCache::new(&c, &root, true);
    let rx = pcc_events(&cache);
    cache.start(StartMode::BuildInitialCache).unwrap();
    assert_eq!(cache.current_data().len(), 3, "loaded before start returned");
    assert_eq!(cache.current_data()[1].data(), Some(&b"b"[..]));
    c.create().for_path(&format!("{root}/d")).unwrap();
    c.set_data().for_path(&format!("{root}/a"), b"a2").unwrap();
    // The background re-read after the build races with these two changes, so either may
    // come first; but it reports nothing about unchanged children.
    let two: BTreeSet<(String, String)> = (0..2)
        .map(|_| {
            let (t, p) = next_pcc(&rx);
            (format!("{t:?}"), p)
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("ChildAdded".to_string(), format!("{root}/d")),
        ("ChildUpdated".to_string(), format!("{root}/a")),
    ]
    .into_iter()
    .collect();
    assert_eq!(two, want);
    // Every read of that re-read was sent before the one this create causes.
    c.create().for_path(&format!("{root}/e")).unwrap();
    assert_eq!(next_pcc(&rx), (ChildAdded, format!("{root}/e")));
    cache.close();
});

server_test!(shared pcc_post_initialized_event, |srv| {
    use PathChildrenCacheEventType::*;
    let c = srv.curator();
    let root = unique_root("pcc-postinit");
    make_children(&c, &root, &["a", "b", "c"]);
    let cache = PathChildrenCache::new(&c, &root, true);
    let rx = pcc_events(&cache);
    cache.start(StartMode::PostInitializedEvent).unwrap();
    let mut added: Vec<String> = (0..3)
        .map(|_| {
            let (t, p) = next_pcc(&rx);
            assert_eq!(t, ChildAdded);
            p
        })
        .collect();
    added.sort();
    let init = recv(&rx, "Initialized");
    assert_eq!(init.event_type(), Initialized);
    let initial: Vec<String> = init.initial_data().unwrap().iter().map(|d| d.path().to_string()).collect();
    assert_eq!(initial, added, "initial_data carries the initial children");
    c.create().for_path(&format!("{root}/d")).unwrap();
    assert_eq!(next_pcc(&rx), (ChildAdded, format!("{root}/d")), "one Initialized only");
    cache.close();

    // No children: Initialized at once, empty.
    let empty = format!("{root}-empty");
    c.create().for_path(&empty).unwrap();
    let cache = PathChildrenCache::new(&c, &empty, true);
    let rx = pcc_events(&cache);
    cache.start(StartMode::PostInitializedEvent).unwrap();
    let init = recv(&rx, "Initialized");
    assert_eq!(init.event_type(), Initialized);
    assert_eq!(init.initial_data().map(<[ChildData]>::len), Some(0));
    cache.close();
});

server_test!(shared pcc_modes_and_maintenance, |srv| {
    use PathChildrenCacheEventType::*;
    let c = srv.curator();
    let root = unique_root("pcc-modes");
    make_children(&c, &root, &["a", "b"]);
    // Paths only.
    let cache = PathChildrenCache::builder(&c, &root)
        .mode(PathChildrenCacheMode::CachePathsOnly)
        .build();
    cache.start(StartMode::BuildInitialCache).unwrap();
    assert!(cache.current_data().iter().all(|d| d.data().is_none()));
    assert_eq!(cache.current_data()[0].stat().version, 0);
    cache.close();
    // Data kept, then dropped on request, reloaded by rebuilds.
    let cache = PathChildrenCache::builder(&c, &root).mode(PathChildrenCacheMode::CacheData).build();
    let rx = pcc_events(&cache);
    cache.start(StartMode::BuildInitialCache).unwrap();
    let a = format!("{root}/a");
    assert!(!cache.clear_data_bytes_if_version(&a, 7), "wrong version");
    assert!(cache.clear_data_bytes(&a));
    assert_eq!(cache.current_data_for(&a).unwrap().data(), None);
    assert!(!cache.clear_data_bytes(&format!("{root}/zz")));
    cache.rebuild_node(&a).unwrap();
    assert_eq!(cache.current_data_for(&a).unwrap().data(), Some(&b"a"[..]));
    assert!(matches!(cache.rebuild_node("/elsewhere/a"), Err(Error::InvalidArgument(_))));
    c.create().for_path(&format!("{root}/c")).unwrap();
    assert_eq!(next_pcc(&rx), (ChildAdded, format!("{root}/c")));
    cache.clear();
    assert!(cache.current_data().is_empty());
    cache.rebuild().unwrap();
    assert_eq!(cache.current_data().len(), 3, "rebuilt, silently");
    cache.clear_and_refresh().unwrap();
    let mut again: Vec<String> = (0..3).map(|_| next_pcc(&rx).1).collect();
    again.sort();
    assert_eq!(again, ["a", "b", "c"].map(|n| format!("{root}/{n}")), "re-added after clear_and_refresh");
    cache.close();
    assert!(matches!(cache.rebuild(), Err(Error::InvalidArgument(_))));
    // Compressed data.
    let z = reversing_client(srv);
    let zr = format!("{root}-z");
    z.create().for_path(&zr).unwrap();
    z.create().compressed().for_path_with_data(&format!("{zr}/k"), b"plain").unwrap();
    let zc = PathChildrenCache::builder(&z, &zr).data_is_compressed(true).build();
    zc.start(StartMode::BuildInitialCache).unwrap();
    assert_eq!(zc.current_data()[0].data(), Some(&b"plain"[..]));
    z.set_data().compressed().for_path(&format!("{zr}/k"), b"next").unwrap();
    assert!(wait_until(WAIT, || zc.current_data()[0].data() == Some(&b"next"[..])));
    zc.close();
    // An executor: events on the pool, in order.
    let pool = WorkerPool::new(2).unwrap();
    let ec = PathChildrenCache::builder(&c, &root).executor(&pool).build();
    let (tx, rx) = mpsc::channel();
    ec.listenable().add_listener(move |_c: &CuratorFramework, e: &PathChildrenCacheEvent| {
        if matches!(e.event_type(), ChildAdded | Initialized) {
            let name = std::thread::current().name().unwrap_or("").to_string();
            let _ = tx.send((e.event_type(), name));
        }
    });
    ec.start(StartMode::PostInitializedEvent).unwrap();
    let evs: Vec<_> = (0..4).map(|_| recv(&rx, "event")).collect();
    assert!(evs.iter().all(|(_, t)| t.starts_with("zk-worker")), "{evs:?}");
    assert_eq!(evs[3].0, Initialized, "in order: the adds, then Initialized");
    ec.close();
});

server_test!(shared pcc_converges_under_a_random_writer, |srv| {
    let seed = seed();
    let c = srv.curator();
    let writer = srv.curator();
    let root = unique_root("pcc-random");
    c.create().for_path(&root).unwrap();
    random_writes(&writer, &root, 200, seed ^ 1);
    let cache = PathChildrenCache::new(&c, &root, true);
    let model = pcc_model(&cache);
    cache.start(StartMode::PostInitializedEvent).unwrap();
    random_writes(&writer, &root, 3000, seed);
    converges(CONVERGE, "PathChildrenCache", || snap_of(cache.current_data()), || children_snapshot(&c, &root));
    check_model(&model, snap_of(cache.current_data()), seed);
    assert_eq!(model.lock().unwrap().initialized, 1, "seed {seed}");
    cache.close();
});

fn pcc_outage(srv: &TestServer, expire: bool) {
    let rig = Rig::with_tree(srv, "pcc", expire);
    let Rig {
        c,
        writer,
        root,
        seed,
        ..
    } = &rig;
    let seed = *seed;
    let cache = PathChildrenCache::new(c, root, true);
    let model = pcc_model(&cache);
    cache.start(StartMode::Normal).unwrap();
    rig.through_outage(
        srv,
        "PathChildrenCache",
        || snap_of(cache.current_data()),
        || children_snapshot(writer, root),
    );
    check_model(&model, snap_of(cache.current_data()), seed);
    let mut states = model.lock().unwrap().connection.clone();
    // The first Connected may have reached the cache (see pcc_events).
    if states.first().map(String::as_str) == Some("ConnectionReconnected") {
        states.remove(0);
    }
    let want = states_through_outage(expire);
    assert_eq!(states, want, "seed {seed}");
    cache.close();
    c.close();
}

server_test!(shared pcc_resyncs_after_a_dropped_connection, |srv| {
    pcc_outage(srv, false);
});

server_test!(shared pcc_resyncs_after_session_expiry, |srv| {
    pcc_outage(srv, true);
});

server_test!(shared pcc_slow_pooled_listener_delays_no_one, |srv| {
    let c = srv.curator();
    let root = unique_root("pcc-slow");
    c.create().for_path(&root).unwrap();
    let cache = PathChildrenCache::new(&c, &root, true);
    let pool = WorkerPool::new(2).unwrap();
    let (slow_tx, slow_rx) = mpsc::channel();
    cache.listenable().add_listener_with_executor(
        move |_c: &CuratorFramework, _e: &PathChildrenCacheEvent| {
            std::thread::sleep(Duration::from_millis(500));
            let _ = slow_tx.send(());
        },
        &pool,
    );
    let (fast_tx, fast_rx) = mpsc::channel();
    // Only adds: a listener added right after block_until_connected() may still hear that
    // first Connected, which PathChildrenCache reports as ConnectionReconnected (Curator).
    cache.listenable().add_listener(move |_c: &CuratorFramework, e: &PathChildrenCacheEvent| {
        if e.event_type() == PathChildrenCacheEventType::ChildAdded {
            let _ = fast_tx.send((e.event_type(), Instant::now()));
        }
    });
    cache.start(StartMode::Normal).unwrap();
    let start = Instant::now();
    for i in 0..5 {
        c.create().for_path(&format!("{root}/n{i}")).unwrap();
    }
    for _ in 0..5 {
        let (t, at) = recv(&fast_rx, "an add");
        assert_eq!(t, PathChildrenCacheEventType::ChildAdded);
        assert!(at - start < Duration::from_millis(1500), "the fast listener waited");
    }
    for _ in 0..5 {
        slow_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }
    cache.close();
});

server_test!(shared pcc_close_removes_its_watches, |srv| {
    let c = srv.curator();
    let root = unique_root("pcc-close");
    make_children(&c, &root, &["a", "b", "c"]);
    let zk = c.zookeeper_client().zookeeper().unwrap();
    let before = zk.watch_count();
    let cache = PathChildrenCache::new(&c, &root, true);
    cache.start(StartMode::Normal).unwrap();
    // The parent's child watch and one data watch per child (`wchp` lists data watches).
    assert!(wait_until(WAIT, || zk.watch_count() == before + 4), "{}", zk.watch_count());
    assert_eq!(server_watches(srv, &root).len(), 3, "{:?}", server_watches(srv, &root));
    cache.close();
    watches_gone(srv, &c, &root, before);
    assert_eq!(cache.current_data().len(), 3, "the data stays readable");
});
