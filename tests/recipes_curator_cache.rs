//! CuratorCache: initial load, convergence under a random writer, resynchronisation after a
//! dropped connection and after session expiry (with an exact event-stream check), slow
//! pooled listeners, and close(); on both server kinds.

mod support;

use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use support::events::WAIT;
use support::proxy::{outage, proxied_client, Proxy};
use support::tree::{random_writes, seed, snapshot};
use support::{unique_root, wait_until};
use zk_curator::framework::*;
use zk_curator::recipes::cache::*;
use zk_curator::{CreateMode, Error, WorkerPool};

fn cached(cache: &CuratorCache) -> BTreeMap<String, (Vec<u8>, i32)> {
    cache
        .stream()
        .into_iter()
        .map(|d| {
            (
                d.path().to_string(),
                (d.data().unwrap_or_default().to_vec(), d.stat().version),
            )
        })
        .collect()
}

fn converges(cache: &CuratorCache, reader: &CuratorFramework, root: &str) {
    let ok = wait_until(Duration::from_secs(20), || {
        cached(cache) == snapshot(reader, root)
    });
    assert!(
        ok,
        "cache {:?}\nserver {:?}",
        cached(cache),
        snapshot(reader, root)
    );
}

/// Applies listener events to a model and fails on any event that does not fit it
/// (a duplicate create, a change or delete of an unknown node).
#[derive(Default)]
struct Model {
    nodes: BTreeMap<String, (Vec<u8>, i32)>,
    errors: Vec<String>,
    initialized: usize,
}

fn modelled(cache: &CuratorCache) -> Arc<Mutex<Model>> {
    let m = Arc::new(Mutex::new(Model::default()));
    let (m1, m2) = (m.clone(), m.clone());
    cache.listenable().add_listener(
        CuratorCacheListener::builder()
            .for_all(move |t, old, data| {
                let mut m = m1.lock().unwrap();
                match t {
                    CacheEventType::NodeCreated => {
                        let d = data.unwrap();
                        let v = (d.data().unwrap_or_default().to_vec(), d.stat().version);
                        if m.nodes.insert(d.path().to_string(), v).is_some() {
                            m.errors.push(format!("duplicate create {}", d.path()));
                        }
                    }
                    CacheEventType::NodeChanged => {
                        let d = data.unwrap();
                        let v = (d.data().unwrap_or_default().to_vec(), d.stat().version);
                        if m.nodes.insert(d.path().to_string(), v).is_none() {
                            m.errors.push(format!("change of unknown {}", d.path()));
                        }
                        if old.is_none() {
                            m.errors
                                .push(format!("change without old value {}", d.path()));
                        }
                    }
                    CacheEventType::NodeDeleted => {
                        let o = old.unwrap();
                        if m.nodes.remove(o.path()).is_none() {
                            m.errors.push(format!("delete of unknown {}", o.path()));
                        }
                    }
                }
            })
            .for_initialized(move || m2.lock().unwrap().initialized += 1)
            .build(),
    );
    m
}

server_test!(shared initial_load_then_changes, |srv| {
    let c = srv.curator();
    let root = unique_root("cc-load");
    for p in ["a", "a/b", "a/b/c", "d"] {
        c.create()
            .creating_parents_if_needed()
            .for_path_with_data(&format!("{root}/{p}"), p.as_bytes())
            .unwrap();
    }
    let cache = CuratorCache::build(&c, &root, &[]);
    let model = modelled(&cache);
    let (tx, rx) = mpsc::channel();
    cache
        .listenable()
        .add_listener(CuratorCacheListener::builder().for_initialized(move || tx.send(()).unwrap()).build());
    cache.start().unwrap();
    rx.recv_timeout(WAIT).unwrap();
    assert!(cache.is_initialized());
    assert_eq!(cache.size(), 5, "root and four nodes");
    assert_eq!(cache.get(&format!("{root}/a/b/c")).unwrap().data(), Some(&b"a/b/c"[..]));
    assert_eq!(model.lock().unwrap().nodes.len(), 5, "every initial node reported");
    assert_eq!(cache.children_of(&root).len(), 2);
    c.set_data().for_path(&format!("{root}/d"), b"changed").unwrap();
    c.create().for_path_with_data(&format!("{root}/a/b/c/e"), b"e").unwrap();
    c.delete().for_path(&format!("{root}/a/b/c/e")).unwrap();
    converges(&cache, &c, &root);
    let m = model.lock().unwrap();
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    assert_eq!(m.initialized, 1);
    drop(m);
    assert!(matches!(cache.start(), Err(Error::InvalidArgument(_))));
    cache.close();
    assert_eq!(cache.size(), 0);
});

server_test!(shared single_node_and_options, |srv| {
    let c = srv.curator();
    let root = unique_root("cc-single");
    c.create().for_path_with_data(&root, b"x").unwrap();
    c.create().for_path(&format!("{root}/child")).unwrap();
    let cache = CuratorCache::builder(&c, &root)
        .with_options(&[CuratorCacheOption::SingleNodeCache, CuratorCacheOption::DoNotClearOnClose])
        .build();
    let (tx, rx) = mpsc::channel();
    cache.listenable().add_listener(CuratorCacheListener::builder().for_initialized(move || tx.send(()).unwrap()).build());
    cache.start().unwrap();
    rx.recv_timeout(WAIT).unwrap();
    assert_eq!(cache.size(), 1);
    c.set_data().for_path(&root, b"y").unwrap();
    assert!(wait_until(WAIT, || cache.get(&root).and_then(|d| d.data().map(|d| d == b"y")).unwrap_or(false)));
    cache.close();
    assert_eq!(cache.size(), 1, "kept after close");
    // compressed data is decompressed (the default provider's gzip)
    #[cfg(feature = "gzip")]
    {
        let z = format!("{root}-z");
        c.create().compressed().for_path_with_data(&z, b"zipped").unwrap();
        let cz = CuratorCache::build(&c, &z, &[CuratorCacheOption::CompressedData]);
        cz.start().unwrap();
        assert!(wait_until(WAIT, || cz.get(&z).and_then(|d| d.data().map(|d| d == b"zipped")).unwrap_or(false)));
        cz.close();
    }
});

server_test!(shared converges_under_a_random_writer, |srv| {
    let seed = seed();
    let c = srv.curator();
    let writer = srv.curator();
    let root = unique_root("cc-random");
    c.create().for_path(&root).unwrap();
    let cache = CuratorCache::build(&c, &root, &[]);
    let model = modelled(&cache);
    cache.start().unwrap();
    random_writes(&writer, &root, 5000, seed);
    converges(&cache, &c, &root);
    let m = model.lock().unwrap();
    assert!(m.errors.is_empty(), "seed {seed}: {:?}", m.errors);
    assert_eq!(m.nodes, cached(&cache), "seed {seed}: events replay to the cache");
    assert_eq!(m.initialized, 1);
    assert!(snapshot(&c, &root).keys().any(|k| k.matches('/').count() >= root.matches('/').count() + 3),
        "seed {seed}: the tree reached depth 3");
});

fn resync_after(srv: &support::TestServer, expire: bool) {
    let seed = seed();
    let proxy = Proxy::start(&srv.connect_string());
    let c = proxied_client(&proxy);
    let writer = srv.curator();
    let root = unique_root(if expire { "cc-expire" } else { "cc-drop" });
    writer.create().for_path(&root).unwrap();
    random_writes(&writer, &root, 300, seed);
    let cache = CuratorCache::build(&c, &root, &[]);
    let model = modelled(&cache);
    cache.start().unwrap();
    converges(&cache, &writer, &root);
    // Cut the cache's client off, change things meanwhile, let it back in.
    outage(srv, &proxy, &c, expire, || {
        random_writes(&writer, &root, 500, seed ^ 0x5eed)
    });
    converges(&cache, &writer, &root);
    let m = model.lock().unwrap();
    assert!(m.errors.is_empty(), "seed {seed}: {:?}", m.errors);
    assert_eq!(
        m.nodes,
        cached(&cache),
        "seed {seed}: events replay to the cache"
    );
    drop(m);
    // Still live after the resync.
    writer.create().for_path(&format!("{root}/after")).unwrap();
    converges(&cache, &writer, &root);
    cache.close();
    c.close();
}

server_test!(shared resyncs_after_a_dropped_connection, |srv| {
    resync_after(srv, false);
});

server_test!(shared resyncs_after_session_expiry, |srv| {
    resync_after(srv, true);
});

server_test!(shared a_slow_pooled_listener_delays_no_one, |srv| {
    let c = srv.curator();
    let root = unique_root("cc-slow");
    c.create().for_path(&root).unwrap();
    let cache = CuratorCache::build(&c, &root, &[]);
    let pool = WorkerPool::new(2).unwrap();
    let (slow_tx, slow_rx) = mpsc::channel();
    cache.listenable().add_listener_with_executor(
        CuratorCacheListener::builder()
            .for_creates(move |_d: &ChildData| {
                std::thread::sleep(Duration::from_millis(500));
                let _ = slow_tx.send(());
            })
            .build(),
        &pool,
    );
    let (fast_tx, fast_rx) = mpsc::channel();
    cache.listenable().add_listener(
        CuratorCacheListener::builder()
            .for_creates(move |d: &ChildData| {
                let _ = fast_tx.send((d.path().to_string(), Instant::now()));
            })
            .build(),
    );
    cache.start().unwrap();
    let _ = fast_rx.recv_timeout(WAIT).unwrap(); // the root
    let start = Instant::now();
    for i in 0..5 {
        c.create().for_path(&format!("{root}/n{i}")).unwrap();
    }
    for _ in 0..5 {
        let (_p, at) = fast_rx.recv_timeout(WAIT).unwrap();
        assert!(at - start < Duration::from_millis(1500), "the fast listener waited");
    }
    // the slow one gets them all, later
    for _ in 0..6 {
        slow_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    }
    cache.close();
});

server_test!(shared close_removes_the_watch, |srv| {
    let c = srv.curator();
    let root = unique_root("cc-close");
    c.create().for_path(&root).unwrap();
    let zk = c.zookeeper_client().zookeeper().unwrap();
    let before = zk.watch_count();
    let cache = CuratorCache::build(&c, &root, &[]);
    cache.start().unwrap();
    assert!(wait_until(WAIT, || zk.watch_count() == before + 1));
    cache.close();
    assert!(wait_until(WAIT, || zk.watch_count() == before), "the client-side watch is gone");
    // and on the server: a change no longer reaches this connection's watch table
    let port: u16 = srv.connect_string().rsplit(':').next().unwrap().parse().unwrap();
    let wchs = support::jvm::four_letter(port, "wchp");
    assert!(!wchs.contains(&root), "server still watches {root}: {wchs}");
    let _ = CreateMode::Persistent;
});
