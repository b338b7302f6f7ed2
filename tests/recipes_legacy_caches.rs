//! The legacy caches (NodeCache, PathChildrenCache, TreeCache) and the CuratorCache bridge:
//! initial load per start mode, create/update/delete events, convergence under a seeded
//! random writer with an exact event-model check, resynchronisation after a dropped
//! connection and after session expiry, slow pooled listeners, and close() taking back every
//! watch (client and server side); on both server kinds.

mod support;

use std::collections::BTreeSet;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::events::WAIT;
use support::proxy::{outage, proxied_client, Proxy};
use support::tree::{
    children_snapshot, converges, depth_below, random_node_writes, random_writes, seed, snapshot,
    Snap,
};
use support::{unique_root, wait_until, TestServer};
use zk_curator::framework::*;
use zk_curator::recipes::cache::*;
use zk_curator::{Error, WorkerPool};

/// How long a cache may take to catch up with a writer.
const CONVERGE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// helpers

fn snap_of(nodes: impl IntoIterator<Item = ChildData>) -> Snap {
    nodes
        .into_iter()
        .map(|d| {
            (
                d.path().to_string(),
                (d.data().unwrap_or_default().to_vec(), d.stat().version),
            )
        })
        .collect()
}

fn value(d: Option<&ChildData>) -> (Vec<u8>, i32) {
    let d = d.expect("an event with a node");
    (d.data().unwrap_or_default().to_vec(), d.stat().version)
}

/// Receives with a deadline.
fn recv<T>(rx: &Receiver<T>, what: &str) -> T {
    rx.recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"))
}

/// The cast of an outage scenario: a client behind a proxy that can be cut, a writer beside
/// it on the server directly, a fresh root, a seed.
struct Rig {
    proxy: Proxy,
    c: CuratorFramework,
    writer: CuratorFramework,
    root: String,
    seed: u64,
    expire: bool,
}

impl Rig {
    fn new(srv: &TestServer, name: &str, expire: bool) -> Rig {
        let proxy = Proxy::start(&srv.connect_string());
        let c = proxied_client(&proxy);
        let root = unique_root(&format!(
            "{name}-{}",
            if expire { "expire" } else { "drop" }
        ));
        Rig {
            c,
            proxy,
            writer: srv.curator(),
            root,
            seed: seed(),
            expire,
        }
    }

    /// The same, with the root created and 300 random writes below it.
    fn with_tree(srv: &TestServer, name: &str, expire: bool) -> Rig {
        let rig = Rig::new(srv, name, expire);
        rig.writer.create().for_path(&rig.root).unwrap();
        random_writes(&rig.writer, &rig.root, 300, rig.seed);
        rig
    }

    /// Cuts the client off (session expired if asked) while `meanwhile` runs.
    fn outage(&self, srv: &TestServer, meanwhile: impl FnOnce()) {
        outage(srv, &self.proxy, &self.c, self.expire, meanwhile);
    }

    /// What a PathChildrenCache or TreeCache must go through: converged on the writer's
    /// tree, cut off while the writer goes on, converged again, then still watching.
    /// `cache` and `server` read the two sides.
    fn through_outage(
        &self,
        srv: &TestServer,
        what: &str,
        cache: impl Fn() -> Snap,
        server: impl Fn() -> Snap,
    ) {
        let converged = || converges(CONVERGE, what, &cache, &server);
        converged();
        self.outage(srv, || {
            random_writes(&self.writer, &self.root, 500, self.seed ^ 0x5eed)
        });
        converged();
        self.writer
            .create()
            .for_path(&format!("{}/after", self.root))
            .unwrap();
        converged();
    }
}

/// The connection events a cache reports across `through_outage`.
fn states_through_outage(expire: bool) -> &'static [&'static str] {
    if expire {
        &[
            "ConnectionSuspended",
            "ConnectionLost",
            "ConnectionReconnected",
        ]
    } else {
        &["ConnectionSuspended", "ConnectionReconnected"]
    }
}

fn port(srv: &TestServer) -> u16 {
    srv.connect_string()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The server's watches (`wchp`) on `root` or below it.
fn server_watches(srv: &TestServer, root: &str) -> Vec<String> {
    let below = format!("{root}/");
    support::jvm::four_letter(port(srv), "wchp")
        .lines()
        .map(str::trim)
        .filter(|l| *l == root || l.starts_with(&below))
        .map(String::from)
        .collect()
}

/// After a close: the client's watch count is back to `before`, the server holds no watch
/// under `root`.
fn watches_gone(srv: &TestServer, c: &CuratorFramework, root: &str, before: usize) {
    let zk = c.zookeeper_client().zookeeper().unwrap();
    assert!(
        wait_until(WAIT, || zk.watch_count() == before),
        "client still holds {} watches (had {before} before the cache)",
        zk.watch_count()
    );
    assert!(
        wait_until(WAIT, || server_watches(srv, root).is_empty()),
        "server still watches {:?}",
        server_watches(srv, root)
    );
}

/// A reversible "compression" so the compressed-data paths can be tested whatever gzip
/// support the crate has.
struct Reverse;

impl CompressionProvider for Reverse {
    fn compress(&self, _p: &str, d: &[u8]) -> zk_curator::Result<Vec<u8>> {
        Ok(d.iter().rev().copied().collect())
    }
    fn decompress(&self, _p: &str, d: &[u8]) -> zk_curator::Result<Vec<u8>> {
        Ok(d.iter().rev().copied().collect())
    }
}

fn reversing_client(srv: &TestServer) -> CuratorFramework {
    let c = srv
        .curator_builder()
        .compression_provider(Reverse)
        .build()
        .unwrap();
    c.start().unwrap();
    assert!(c.block_until_connected(WAIT));
    c
}

// ---------------------------------------------------------------------------------------
// event models: apply every event to a model, fail on any that does not fit it

#[derive(Default)]
struct Model {
    nodes: Snap,
    errors: Vec<String>,
    initialized: usize,
    connection: Vec<String>,
}

impl Model {
    fn added(&mut self, d: Option<&ChildData>) {
        let p = d.map(|d| d.path().to_string()).unwrap_or_default();
        if self.nodes.insert(p.clone(), value(d)).is_some() {
            self.errors.push(format!("duplicate add {p}"));
        }
    }
    fn updated(&mut self, d: Option<&ChildData>) {
        let p = d.map(|d| d.path().to_string()).unwrap_or_default();
        match self.nodes.insert(p.clone(), value(d)) {
            None => self.errors.push(format!("update of unknown {p}")),
            Some(old) if old == value(d) => self.errors.push(format!("update without change {p}")),
            Some(_) => {}
        }
    }
    fn removed(&mut self, d: Option<&ChildData>) {
        let p = d.map(|d| d.path().to_string()).unwrap_or_default();
        if self.nodes.remove(&p).is_none() {
            self.errors.push(format!("remove of unknown {p}"));
        }
    }
}

type Shared = Arc<Mutex<Model>>;

fn pcc_model(cache: &PathChildrenCache) -> Shared {
    let m: Shared = Arc::default();
    let m1 = m.clone();
    cache
        .listenable()
        .add_listener(move |_c: &CuratorFramework, e: &PathChildrenCacheEvent| {
            let mut m = m1.lock().unwrap();
            use PathChildrenCacheEventType::*;
            match e.event_type() {
                ChildAdded => m.added(e.data()),
                ChildUpdated => m.updated(e.data()),
                ChildRemoved => m.removed(e.data()),
                Initialized => m.initialized += 1,
                other => m.connection.push(format!("{other:?}")),
            }
        });
    m
}

fn tree_model(cache: &TreeCache) -> Shared {
    let m: Shared = Arc::default();
    let m1 = m.clone();
    cache
        .listenable()
        .add_listener(move |_c: &CuratorFramework, e: &TreeCacheEvent| {
            let mut m = m1.lock().unwrap();
            use TreeCacheEventType::*;
            match e.event_type() {
                NodeAdded => m.added(e.data()),
                NodeUpdated => {
                    if e.old_data().is_none() {
                        m.errors.push("update without old data".into());
                    }
                    m.updated(e.data())
                }
                NodeRemoved => m.removed(e.data()),
                Initialized => m.initialized += 1,
                other => m.connection.push(format!("{other:?}")),
            }
        });
    m
}

fn cache_listener_model(l: &zk_curator::framework::Listenable<dyn CacheListener>) -> Shared {
    let m: Shared = Arc::default();
    let (m1, m2) = (m.clone(), m.clone());
    l.add_listener(
        CuratorCacheListener::builder()
            .for_all(move |t, old, data| {
                let mut m = m1.lock().unwrap();
                match t {
                    CacheEventType::NodeCreated => m.added(data),
                    CacheEventType::NodeChanged => {
                        if old.is_none() {
                            m.errors.push("change without old value".into());
                        }
                        m.updated(data)
                    }
                    CacheEventType::NodeDeleted => m.removed(old),
                }
            })
            .for_initialized(move || m2.lock().unwrap().initialized += 1)
            .build(),
    );
    m
}

fn check_model(m: &Shared, cache: Snap, seed: u64) {
    let m = m.lock().unwrap();
    assert!(m.errors.is_empty(), "seed {seed}: {:?}", m.errors);
    assert_eq!(
        m.nodes, cache,
        "seed {seed}: the events replay to the cache"
    );
}

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

/// Records the value an inline NodeCache listener sees at each call: consecutive values must
/// differ (no duplicate events).
/// The values an inline NodeCache listener saw, one per call.
type Seen = Arc<Mutex<Vec<Option<(Vec<u8>, i32)>>>>;

fn node_model(cache: &Arc<NodeCache>) -> Seen {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (s, w) = (seen.clone(), Arc::downgrade(cache));
    cache.listenable().add_listener(move || {
        if let Some(c) = w.upgrade() {
            let v = c.current_data().map(|d| value(Some(&d)));
            s.lock().unwrap().push(v);
        }
    });
    seen
}

fn node_snap(cache: &NodeCache) -> Snap {
    snap_of(cache.current_data())
}

fn node_server(c: &CuratorFramework, p: &str) -> Snap {
    let mut st = zk_curator::Stat::default();
    match c.get_data().storing_stat_in(&mut st).for_path(p) {
        Ok(d) => [(p.to_string(), (d, st.version))].into_iter().collect(),
        Err(Error::NoNode { .. }) => Snap::new(),
        Err(e) => panic!("read {p}: {e}"),
    }
}

fn check_node_model(seen: &Seen, cache: &NodeCache, seed: u64) {
    let seen = seen.lock().unwrap();
    for w in seen.windows(2) {
        assert_ne!(w[0], w[1], "seed {seed}: a change reported twice");
    }
    let last = cache.current_data().map(|d| value(Some(&d)));
    if let Some(l) = seen.last() {
        assert_eq!(
            *l, last,
            "seed {seed}: the last event shows the final value"
        );
    }
}

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

// ---------------------------------------------------------------------------------------
// PathChildrenCache

/// A listener's child and Initialized events (connection events skipped: a listener
/// added right after `block_until_connected()` may still hear that first `Connected`,
/// reported as `ConnectionReconnected`, as in Curator).
fn pcc_events(cache: &PathChildrenCache) -> Receiver<PathChildrenCacheEvent> {
    let (tx, rx) = mpsc::channel();
    cache
        .listenable()
        .add_listener(move |_c: &CuratorFramework, e: &PathChildrenCacheEvent| {
            use PathChildrenCacheEventType::*;
            if matches!(
                e.event_type(),
                ChildAdded | ChildUpdated | ChildRemoved | Initialized
            ) {
                let _ = tx.send(e.clone());
            }
        });
    rx
}

fn next_pcc(rx: &Receiver<PathChildrenCacheEvent>) -> (PathChildrenCacheEventType, String) {
    let e = recv(rx, "a PathChildrenCache event");
    (
        e.event_type(),
        e.data().map(|d| d.path().to_string()).unwrap_or_default(),
    )
}

fn make_children(c: &CuratorFramework, root: &str, names: &[&str]) {
    c.create()
        .creating_parents_if_needed()
        .for_path(root)
        .unwrap();
    for n in names {
        c.create()
            .for_path_with_data(&format!("{root}/{n}"), n.as_bytes())
            .unwrap();
    }
}

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

// ---------------------------------------------------------------------------------------
// TreeCache

fn tree_events(cache: &TreeCache) -> Receiver<TreeCacheEvent> {
    let (tx, rx) = mpsc::channel();
    cache
        .listenable()
        .add_listener(move |_c: &CuratorFramework, e: &TreeCacheEvent| {
            let _ = tx.send(e.clone());
        });
    rx
}

fn next_tree(rx: &Receiver<TreeCacheEvent>) -> (TreeCacheEventType, String) {
    let e = recv(rx, "a TreeCache event");
    (
        e.event_type(),
        e.data().map(|d| d.path().to_string()).unwrap_or_default(),
    )
}

/// Events up to and including `Initialized`.
fn until_initialized(rx: &Receiver<TreeCacheEvent>) -> Vec<(TreeCacheEventType, String)> {
    let mut out = Vec::new();
    loop {
        let e = next_tree(rx);
        let done = e.0 == TreeCacheEventType::Initialized;
        out.push(e);
        if done {
            return out;
        }
    }
}

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

// ---------------------------------------------------------------------------------------
// Namespaces: paths in and out are namespace-free; close finds the (wrapped) watchers.

server_test!(shared caches_in_a_namespace, |srv| {
    let ns = unique_root("lc-ns");
    let ns = &ns[1..];
    // One client per cache: each close is then the last watcher of its paths on its session
    // (several watchers of one path closing at once is a client-layer matter, see
    // `remove_request`).
    let client = || {
        let c = srv.curator_builder().namespace(ns).build().unwrap();
        c.start().unwrap();
        assert!(c.block_until_connected(WAIT));
        let before = c.zookeeper_client().zookeeper().unwrap().watch_count();
        (c, before)
    };
    let (c, c_before) = client();
    c.create().creating_parents_if_needed().for_path_with_data("/app/a", b"a").unwrap();

    let node = NodeCache::new(&c, "/app/a");
    node.start_with_initial(true).unwrap();
    assert_eq!(node.current_data().unwrap().path(), "/app/a");
    let (pc, pc_before) = client();
    let pcc = PathChildrenCache::new(&pc, "/app", true);
    let prx = pcc_events(&pcc);
    pcc.start(StartMode::Normal).unwrap();
    assert_eq!(next_pcc(&prx), (PathChildrenCacheEventType::ChildAdded, "/app/a".to_string()));
    let (tc, tc_before) = client();
    let tree = TreeCache::new(&tc, "/app");
    let trx = tree_events(&tree);
    tree.start().unwrap();
    let load = until_initialized(&trx);
    assert_eq!(load.len(), 3, "{load:?}");
    c.create().for_path_with_data("/app/b", b"b").unwrap();
    assert_eq!(next_pcc(&prx), (PathChildrenCacheEventType::ChildAdded, "/app/b".to_string()));
    assert_eq!(next_tree(&trx), (TreeCacheEventType::NodeAdded, "/app/b".to_string()));
    c.set_data().for_path("/app/a", b"a2").unwrap();
    assert!(wait_until(WAIT, || node.current_data().and_then(|d| d.data().map(|d| d == b"a2")).unwrap_or(false)));
    assert_eq!(tree.current_children("/app").unwrap().len(), 2);
    node.close();
    pcc.close();
    tree.close();
    let root = format!("/{ns}");
    watches_gone(srv, &c, &root, c_before);
    watches_gone(srv, &pc, &root, pc_before);
    watches_gone(srv, &tc, &root, tc_before);
    for x in [c, pc, tc] {
        x.close();
    }
});

// ---------------------------------------------------------------------------------------
// A child the cache may not read (NoAuth) is skipped; the initial load still completes.

server_test!(shared unreadable_children_do_not_block_initialization, |srv| {
    let owner = srv.curator_builder().authorization("digest", b"owner:secret").build().unwrap();
    owner.start().unwrap();
    assert!(owner.block_until_connected(WAIT));
    let root = unique_root("lc-noauth");
    make_children(&owner, &root, &["open"]);
    owner
        .create()
        .with_acl(&zk_curator::Acl::creator_all())
        .for_path_with_data(&format!("{root}/closed"), b"no")
        .unwrap();
    let c = srv.curator();
    assert!(matches!(c.get_data().for_path(&format!("{root}/closed")), Err(Error::NoAuth { .. })));

    let tree = TreeCache::new(&c, &root);
    let rx = tree_events(&tree);
    tree.start().unwrap();
    let load = until_initialized(&rx);
    let added: BTreeSet<String> = load.iter().filter(|(t, _)| *t == TreeCacheEventType::NodeAdded).map(|(_, p)| p.clone()).collect();
    assert_eq!(added, [root.clone(), format!("{root}/open")].into_iter().collect());
    tree.close();

    let pcc = PathChildrenCache::new(&c, &root, true);
    let rx = pcc_events(&pcc);
    pcc.start(StartMode::PostInitializedEvent).unwrap();
    assert_eq!(next_pcc(&rx), (PathChildrenCacheEventType::ChildAdded, format!("{root}/open")));
    let init = recv(&rx, "Initialized");
    assert_eq!(init.event_type(), PathChildrenCacheEventType::Initialized);
    assert_eq!(init.initial_data().map(<[ChildData]>::len), Some(1));
    pcc.close();
    owner.close();
});

// ---------------------------------------------------------------------------------------
// close() while disconnected: the watches go locally at once, and the reconnect does not
// restore them on the server.

server_test!(shared close_while_disconnected_removes_watches_locally, |srv| {
    let proxy = Proxy::start(&srv.connect_string());
    let c = proxied_client(&proxy);
    let root = unique_root("lc-offline");
    make_children(&c, &root, &["a", "b"]);
    let zk = c.zookeeper_client().zookeeper().unwrap();
    let before = zk.watch_count();
    let tree = TreeCache::new(&c, &root);
    let rx = tree_events(&tree);
    tree.start().unwrap();
    until_initialized(&rx);
    let pcc = PathChildrenCache::new(&c, &format!("{root}/a"), true);
    pcc.start(StartMode::BuildInitialCache).unwrap();
    let node = NodeCache::new(&c, &format!("{root}/b"));
    node.start_with_initial(true).unwrap();
    // Data and child watches on the three nodes (the caches share those entries).
    assert!(wait_until(WAIT, || zk.watch_count() == before + 6), "{}", zk.watch_count());
    let (tx, states) = mpsc::channel();
    c.connection_state_listenable().add_listener(move |_c: &CuratorFramework, s: ConnectionState| {
        let _ = tx.send(s);
    });
    proxy.refuse(true);
    proxy.drop_connections();
    while recv(&states, "Suspended") != ConnectionState::Suspended {}
    tree.close();
    pcc.close();
    node.close();
    assert!(wait_until(WAIT, || zk.watch_count() == before), "removed locally: {}", zk.watch_count());
    proxy.refuse(false);
    while recv(&states, "Reconnected") != ConnectionState::Reconnected {}
    watches_gone(srv, &c, &root, before);
    c.close();
});
