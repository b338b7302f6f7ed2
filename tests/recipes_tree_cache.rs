//! TreeCache and the CuratorCache bridge that falls back to it: the initial load and events,
//! the options (depth, selector, data), convergence under a seeded random writer with an exact
//! event-model check, resynchronisation after a dropped connection and after session expiry, a
//! slow pooled listener, and close() taking back every watch (client and server side); on
//! both server kinds.

mod support;

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::cache_model::*;
use support::caches::*;
use support::events::WAIT;
use support::tree::{converges, depth_below, random_writes, seed, snapshot};
use support::{unique_root, wait_until, TestServer};
use zk_curator::framework::*;
use zk_curator::recipes::cache::*;
use zk_curator::{Error, WorkerPool};

// ---------------------------------------------------------------------------------------
// TreeCache

server_test!(shared tree_initial_load_and_events, |srv| {
    use TreeCacheEventType::*;
    let c = srv.curator();
    let root = unique_root("tc-basic");
    for p in ["a", "a/b", "a/b/c", "d"] {
        c.create()
            .creating_parents_if_needed()
            .for_path_with_data(&format!("{root}/{p}"), p.as_bytes())
            .unwrap();
    }
    let cache = TreeCache::new(&c, &root);
    let rx = tree_events(&cache);
    cache.start().unwrap();
    let load = until_initialized(&rx);
    let added: BTreeSet<String> = load.iter().filter(|(t, _)| *t == NodeAdded).map(|(_, p)| p.clone()).collect();
    assert_eq!(load.len(), 6, "five adds then Initialized: {load:?}");
    assert_eq!(added, ["", "/a", "/a/b", "/a/b/c", "/d"].map(|s| format!("{root}{s}")).into_iter().collect());
    assert!(cache.is_initialized());
    assert_eq!(cache.size(), 5);
    assert_eq!(cache.current_data(&format!("{root}/a/b/c")).unwrap().data(), Some(&b"a/b/c"[..]));
    let kids = cache.current_children(&root).unwrap();
    assert_eq!(kids.keys().cloned().collect::<Vec<_>>(), vec!["a".to_string(), "d".to_string()]);
    assert!(cache.current_children(&format!("{root}/d")).unwrap().is_empty());
    assert!(cache.current_children(&format!("{root}/zz")).is_none());
    assert!(cache.current_data("/elsewhere").is_none());
    let paths: Vec<String> = cache.iter().map(|d| d.path().to_string()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "iteration in path order");

    c.set_data().for_path(&format!("{root}/d"), b"d2").unwrap();
    let e = recv(&rx, "update");
    assert_eq!(e.event_type(), NodeUpdated);
    assert_eq!(e.old_data().unwrap().data(), Some(&b"d"[..]));
    assert_eq!(e.data().unwrap().data(), Some(&b"d2"[..]));
    c.create().for_path(&format!("{root}/a/b/c/e")).unwrap();
    assert_eq!(next_tree(&rx), (NodeAdded, format!("{root}/a/b/c/e")));
    c.delete().deleting_children_if_needed().for_path(&format!("{root}/a")).unwrap();
    let gone: Vec<(TreeCacheEventType, String)> = (0..4).map(|_| next_tree(&rx)).collect();
    assert_eq!(
        gone,
        ["/a/b/c/e", "/a/b/c", "/a/b", "/a"].map(|s| (NodeRemoved, format!("{root}{s}"))).to_vec(),
        "deepest first"
    );
    // The root itself goes and comes back.
    c.delete().deleting_children_if_needed().for_path(&root).unwrap();
    let gone: Vec<(TreeCacheEventType, String)> = (0..2).map(|_| next_tree(&rx)).collect();
    assert_eq!(gone, vec![(NodeRemoved, format!("{root}/d")), (NodeRemoved, root.clone())]);
    assert_eq!(cache.size(), 0);
    c.create().for_path(&root).unwrap();
    assert_eq!(next_tree(&rx), (NodeAdded, root.clone()));
    assert!(matches!(cache.start(), Err(Error::InvalidArgument(_))));
    cache.close();
    assert_eq!(cache.size(), 0, "cleared on close");
});

/// Selects everything except `skip` (and does not look below `no_trace`).
struct Select {
    skip: String,
    no_trace: String,
}

impl TreeCacheSelector for Select {
    fn traverse_children(&self, p: &str) -> bool {
        p != self.no_trace
    }
    fn accept_child(&self, p: &str) -> bool {
        p != self.skip
    }
}

server_test!(shared tree_options, |srv| {
    use TreeCacheEventType::*;
    let c = srv.curator();
    let root = unique_root("tc-opts");
    for p in ["a/x", "b/y/z", "c"] {
        c.create()
            .creating_parents_if_needed()
            .for_path_with_data(&format!("{root}/{p}"), p.as_bytes())
            .unwrap();
    }
    let loaded = |cache: &TreeCache| -> BTreeSet<String> {
        let rx = tree_events(cache);
        cache.start().unwrap();
        until_initialized(&rx);
        cache.iter().map(|d| d.path()[root.len()..].to_string()).collect()
    };
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<String>>();
    // max_depth
    let d0 = TreeCache::builder(&c, &root).max_depth(0).build();
    assert_eq!(loaded(&d0), set(&[""]));
    let d1 = TreeCache::builder(&c, &root).max_depth(1).build();
    assert_eq!(loaded(&d1), set(&["", "/a", "/b", "/c"]));
    // selector
    let sel = TreeCache::builder(&c, &root)
        .selector(Select { skip: format!("{root}/c"), no_trace: format!("{root}/b") })
        .build();
    assert_eq!(loaded(&sel), set(&["", "/a", "/a/x", "/b"]));
    // cache_data(false)
    let nd = TreeCache::builder(&c, &root).cache_data(false).build();
    assert_eq!(loaded(&nd).len(), 7);
    assert!(nd.iter().all(|d| d.data().is_none()));
    // disable_zk_watches: loads, sets no watch.
    let w = srv.curator();
    let zk = w.zookeeper_client().zookeeper().unwrap();
    let before = zk.watch_count();
    let nw = TreeCache::builder(&w, &root).disable_zk_watches(true).build();
    assert_eq!(loaded(&nw).len(), 7);
    assert_eq!(zk.watch_count(), before, "no watches");
    // A root that does not exist yet: initialized empty, reported when created.
    let deep = format!("{root}/p/q/r");
    let missing = TreeCache::new(&c, &deep);
    let rx = tree_events(&missing);
    missing.start().unwrap();
    assert_eq!(until_initialized(&rx), vec![(Initialized, String::new())], "empty, initialized");
    c.create().creating_parents_if_needed().for_path_with_data(&deep, b"r").unwrap();
    assert_eq!(next_tree(&rx), (NodeAdded, deep.clone()));
    // create_parent_nodes: the root and its parents are made (containers, as Curator's
    // createContainers).
    let made = format!("{root}/m/n/o");
    let cp = TreeCache::builder(&c, &made).create_parent_nodes(true).build();
    let rx = tree_events(&cp);
    cp.start().unwrap();
    assert_eq!(until_initialized(&rx), vec![(NodeAdded, made.clone()), (Initialized, String::new())]);
    assert!(c.check_exists().for_path(&made).unwrap().is_some());
    // An executor: events on the pool, in order.
    let pool = WorkerPool::new(2).unwrap();
    let ex = TreeCache::builder(&c, &root).executor(&pool).build();
    let (tx, erx) = mpsc::channel();
    ex.listenable().add_listener(move |_c: &CuratorFramework, e: &TreeCacheEvent| {
        let name = std::thread::current().name().unwrap_or("").to_string();
        let _ = tx.send((e.event_type(), name));
    });
    let nodes = snapshot(&c, &root).len();
    ex.start().unwrap();
    let evs: Vec<_> = (0..=nodes).map(|_| recv(&erx, "event")).collect();
    assert!(evs.iter().all(|(_, t)| t.starts_with("zk-worker")), "{evs:?}");
    assert!(evs[..nodes].iter().all(|(t, _)| *t == NodeAdded), "{evs:?}");
    assert_eq!(evs[nodes].0, Initialized, "the adds, then Initialized: {evs:?}");
    // Compressed data.
    let z = reversing_client(srv);
    let zr = format!("{root}-z");
    z.create().compressed().for_path_with_data(&zr, b"plain").unwrap();
    let zc = TreeCache::builder(&z, &zr).data_is_compressed(true).build();
    loaded(&zc);
    assert_eq!(zc.current_data(&zr).unwrap().data(), Some(&b"plain"[..]));
    for cache in [d0, d1, sel, nd, nw, missing, cp, ex, zc] {
        cache.close();
    }
});

server_test!(shared tree_converges_under_a_random_writer, |srv| {
    let seed = seed();
    let c = srv.curator();
    let writer = srv.curator();
    let root = unique_root("tc-random");
    c.create().for_path(&root).unwrap();
    random_writes(&writer, &root, 300, seed ^ 1);
    let cache = TreeCache::new(&c, &root);
    let model = tree_model(&cache);
    cache.start().unwrap();
    random_writes(&writer, &root, 4000, seed);
    converges(CONVERGE, "TreeCache", || snap_of(cache.snapshot()), || snapshot(&c, &root));
    check_model(&model, snap_of(cache.snapshot()), seed);
    assert_eq!(model.lock().unwrap().initialized, 1, "seed {seed}");
    assert!(
        snapshot(&c, &root).keys().any(|k| depth_below(&root, k) >= 3),
        "seed {seed}: the tree reached depth 3"
    );
    cache.close();
});

fn tree_outage(srv: &TestServer, expire: bool) {
    let rig = Rig::with_tree(srv, "tc", expire);
    let Rig {
        c,
        writer,
        root,
        seed,
        ..
    } = &rig;
    let seed = *seed;
    let cache = TreeCache::new(c, root);
    let model = tree_model(&cache);
    cache.start().unwrap();
    rig.through_outage(
        srv,
        "TreeCache",
        || snap_of(cache.snapshot()),
        || snapshot(writer, root),
    );
    check_model(&model, snap_of(cache.snapshot()), seed);
    let m = model.lock().unwrap();
    assert_eq!(m.initialized, 1, "seed {seed}");
    let want = states_through_outage(expire);
    assert_eq!(m.connection, want, "seed {seed}");
    drop(m);
    cache.close();
    c.close();
}

server_test!(shared tree_resyncs_after_a_dropped_connection, |srv| {
    tree_outage(srv, false);
});

server_test!(shared tree_resyncs_after_session_expiry, |srv| {
    tree_outage(srv, true);
});

server_test!(shared tree_slow_pooled_listener_delays_no_one, |srv| {
    let c = srv.curator();
    let root = unique_root("tc-slow");
    c.create().for_path(&root).unwrap();
    let cache = TreeCache::new(&c, &root);
    let pool = WorkerPool::new(2).unwrap();
    let (slow_tx, slow_rx) = mpsc::channel();
    cache.listenable().add_listener_with_executor(
        move |_c: &CuratorFramework, e: &TreeCacheEvent| {
            if e.event_type() == TreeCacheEventType::NodeAdded {
                std::thread::sleep(Duration::from_millis(500));
                let _ = slow_tx.send(());
            }
        },
        &pool,
    );
    let (fast_tx, fast_rx) = mpsc::channel();
    cache.listenable().add_listener(move |_c: &CuratorFramework, e: &TreeCacheEvent| {
        if e.event_type() == TreeCacheEventType::NodeAdded {
            let _ = fast_tx.send(Instant::now());
        }
    });
    cache.start().unwrap();
    recv(&fast_rx, "the root");
    let start = Instant::now();
    for i in 0..5 {
        c.create().for_path(&format!("{root}/n{i}")).unwrap();
    }
    for _ in 0..5 {
        let at = recv(&fast_rx, "an add");
        assert!(at - start < Duration::from_millis(1500), "the fast listener waited");
    }
    for _ in 0..6 {
        slow_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }
    cache.close();
});

server_test!(shared tree_close_removes_its_watches, |srv| {
    let c = srv.curator();
    let root = unique_root("tc-close");
    for p in ["a", "a/b", "c"] {
        c.create().creating_parents_if_needed().for_path(&format!("{root}/{p}")).unwrap();
    }
    let zk = c.zookeeper_client().zookeeper().unwrap();
    let before = zk.watch_count();
    let cache = TreeCache::new(&c, &root);
    let rx = tree_events(&cache);
    cache.start().unwrap();
    until_initialized(&rx);
    // A data and a child watch on each of the four nodes (`wchp` lists data watches).
    assert!(wait_until(WAIT, || zk.watch_count() == before + 8), "{}", zk.watch_count());
    assert_eq!(server_watches(srv, &root).len(), 4, "{:?}", server_watches(srv, &root));
    cache.close();
    watches_gone(srv, &c, &root, before);
    // A missing root: its exists watch goes too.
    let missing = format!("{root}-missing");
    let cache = TreeCache::new(&c, &missing);
    let rx = tree_events(&cache);
    cache.start().unwrap();
    until_initialized(&rx);
    assert!(wait_until(WAIT, || zk.watch_count() == before + 1));
    cache.close();
    watches_gone(srv, &c, &missing, before);
});

// ---------------------------------------------------------------------------------------
// The CuratorCache bridge

server_test!(shared bridge_picks_curator_cache_or_falls_back_to_tree_cache, |srv| {
    let seed = seed();
    let c = srv.curator();
    let writer = srv.curator();
    let root = unique_root("bridge");
    writer.create().for_path(&root).unwrap();
    random_writes(&writer, &root, 200, seed ^ 1);

    let zk = c.zookeeper_client().zookeeper().unwrap();
    let before = zk.watch_count();
    // Asked: this server has persistent watches.
    let auto = CuratorCache::bridge_builder(&c, &root).build();
    assert!(!auto.is_curator_cache(), "not chosen before start");
    auto.start().unwrap();
    assert!(auto.is_curator_cache());
    converges(CONVERGE, "bridge (CuratorCache)", || snap_of(auto.stream()), || snapshot(&c, &root));
    auto.close();
    watches_gone(srv, &c, &root, before);

    // Forced fallback: a TreeCache behind the CuratorCache API.
    let cache = CuratorCache::bridge_builder(&c, &root)
        .with_persistent_watches(false)
        .build();
    let model = cache_listener_model(cache.listenable());
    let (tx, rx) = mpsc::channel();
    cache
        .listenable()
        .add_listener(CuratorCacheListener::builder().for_initialized(move || { let _ = tx.send(()); }).build());
    cache.start().unwrap();
    assert!(!cache.is_curator_cache());
    recv(&rx, "initialized");
    assert_eq!(cache.size(), snapshot(&c, &root).len(), "seed {seed}");
    random_writes(&writer, &root, 2000, seed);
    converges(CONVERGE, "bridge (TreeCache)", || snap_of(cache.stream()), || snapshot(&c, &root));
    check_model(&model, snap_of(cache.stream()), seed);
    assert_eq!(model.lock().unwrap().initialized, 1, "seed {seed}");
    assert_eq!(cache.get(&root).unwrap().path(), root);
    assert!(matches!(cache.start(), Err(Error::InvalidArgument(_))));
    cache.close();
    assert_eq!(cache.size(), 0);
    watches_gone(srv, &c, &root, before);

    // Options in the fallback: single node, kept after close.
    let single = CuratorCache::bridge_builder(&c, &root)
        .with_persistent_watches(false)
        .with_options(&[CuratorCacheOption::SingleNodeCache, CuratorCacheOption::DoNotClearOnClose])
        .build();
    let (tx, rx) = mpsc::channel();
    single
        .listenable()
        .add_listener(CuratorCacheListener::builder().for_initialized(move || { let _ = tx.send(()); }).build());
    single.start().unwrap();
    recv(&rx, "initialized");
    assert_eq!(single.size(), 1);
    writer.set_data().for_path(&root, b"root!").unwrap();
    assert!(wait_until(WAIT, || single.get(&root).and_then(|d| d.data().map(|d| d == b"root!")).unwrap_or(false)));
    single.close();
    assert_eq!(single.size(), 1, "kept after close");
});
