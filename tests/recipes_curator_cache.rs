//! CuratorCache: initial load, convergence under a random writer, resynchronisation after a
//! dropped connection and after session expiry (with an exact event-stream check), slow
//! pooled listeners, close(), storages (without data, of one's own), the exception handler,
//! and the bridge without data and on an executor (both implementations); on both server
//! kinds.

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

/// What a listener heard: the event, the path, the old node's data and the new node's.
type Heard = (CacheEventType, String, Option<Vec<u8>>, Option<Vec<u8>>);

/// Records every event (with the data each side carried) and signals `initialized`.
fn recorded(l: &Listenable<dyn CacheListener>) -> (mpsc::Receiver<Heard>, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    let (itx, irx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let itx = Mutex::new(itx);
    l.add_listener(
        CuratorCacheListener::builder()
            .for_all(move |t, old, data| {
                let bytes = |d: Option<&ChildData>| d.and_then(|d| d.data().map(<[u8]>::to_vec));
                let p = data
                    .or(old)
                    .map(|d| d.path().to_string())
                    .unwrap_or_default();
                let _ = tx.lock().unwrap().send((t, p, bytes(old), bytes(data)));
            })
            .for_initialized(move || {
                let _ = itx.lock().unwrap().send(());
            })
            .build(),
    );
    (rx, irx)
}

/// A storage of the test's own: a HashMap (unordered, so the cache must sort), the trait's
/// default `descendants`, and a count of the writes the cache made.
#[derive(Default)]
struct MapStorage {
    nodes: Mutex<std::collections::HashMap<String, ChildData>>,
    puts: std::sync::atomic::AtomicUsize,
}

impl CuratorCacheStorage for MapStorage {
    fn put(&self, data: ChildData) -> Option<ChildData> {
        self.puts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.nodes
            .lock()
            .unwrap()
            .insert(data.path().to_string(), data)
    }
    fn remove(&self, path: &str) -> Option<ChildData> {
        self.nodes.lock().unwrap().remove(path)
    }
    fn clear(&self) {
        self.nodes.lock().unwrap().clear()
    }
    fn get(&self, path: &str) -> Option<ChildData> {
        self.nodes.lock().unwrap().get(path).cloned()
    }
    fn size(&self) -> usize {
        self.nodes.lock().unwrap().len()
    }
    fn stream(&self) -> Vec<ChildData> {
        self.nodes.lock().unwrap().values().cloned().collect()
    }
}

server_test!(shared storages_without_data_and_of_ones_own, |srv| {
    let c = srv.curator();
    let root = unique_root("cc-storage");
    c.create().for_path_with_data(&root, b"root").unwrap();
    for p in ["a", "a/b", "c"] {
        c.create().for_path_with_data(&format!("{root}/{p}"), p.as_bytes()).unwrap();
    }
    let (a, ab) = (format!("{root}/a"), format!("{root}/a/b"));

    // Paths and Stats only: the storage has no data, the events do.
    let storage = Arc::new(StandardCuratorCacheStorage::data_not_cached());
    let cache = CuratorCache::builder(&c, &root).with_storage(storage.clone()).build();
    let (heard, init) = recorded(cache.listenable());
    cache.start().unwrap();
    init.recv_timeout(WAIT).unwrap();
    assert_eq!((cache.size(), storage.size()), (4, 4));
    assert!(cache.stream().iter().all(|d| d.data().is_none()), "{:?}", cache.stream());
    assert_eq!(cache.get(&ab).unwrap().stat().data_length, 3, "the Stat is kept");
    let mut creates: Vec<Heard> = heard.try_iter().collect();
    creates.sort_by(|x, y| x.1.cmp(&y.1));
    let mut want: Vec<Heard> = [(&root, "root"), (&a, "a"), (&ab, "a/b"), (&format!("{root}/c"), "c")]
        .iter()
        .map(|(p, d)| (CacheEventType::NodeCreated, p.to_string(), None, Some(d.as_bytes().to_vec())))
        .collect();
    want.sort_by(|x, y| x.1.cmp(&y.1));
    assert_eq!(creates, want, "created nodes carry the data read");
    c.set_data().for_path(&a, b"new").unwrap();
    assert_eq!(
        heard.recv_timeout(WAIT).unwrap(),
        (CacheEventType::NodeChanged, a.clone(), None, Some(b"new".to_vec())),
        "the old node comes from the storage (no data), the new one from the read"
    );
    assert_eq!(cache.get(&a).unwrap().stat().version, 1);
    assert_eq!(cache.get(&a).unwrap().data(), None);
    c.delete().deleting_children_if_needed().for_path(&a).unwrap();
    assert_eq!(heard.recv_timeout(WAIT).unwrap(), (CacheEventType::NodeDeleted, ab.clone(), None, None));
    assert_eq!(heard.recv_timeout(WAIT).unwrap(), (CacheEventType::NodeDeleted, a.clone(), None, None));
    assert!(wait_until(WAIT, || storage.size() == 2));
    assert!(Arc::ptr_eq(cache.storage(), &(storage.clone() as Arc<dyn CuratorCacheStorage>)));
    cache.close();
    assert_eq!(storage.size(), 0, "cleared on close");

    // A storage of one's own: the cache keeps its nodes there, in path order for readers.
    let mine = Arc::new(MapStorage::default());
    let cache = CuratorCache::builder(&c, &root)
        .with_storage(mine.clone())
        .with_options(&[CuratorCacheOption::DoNotClearOnClose])
        .build();
    let model = modelled(&cache);
    let (tx, rx) = mpsc::channel();
    cache.listenable().add_listener(CuratorCacheListener::builder().for_initialized(move || tx.send(()).unwrap()).build());
    cache.start().unwrap();
    rx.recv_timeout(WAIT).unwrap();
    for p in ["d/e/f", "d/g", "h"] {
        c.create().creating_parents_if_needed().for_path_with_data(&format!("{root}/{p}"), p.as_bytes()).unwrap();
    }
    converges(&cache, &c, &root);
    let paths: Vec<String> = cache.stream().iter().map(|d| d.path().to_string()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "stream() is ordered by path whatever the storage");
    let kids: Vec<String> = cache.children_of(&root).iter().map(|d| d.path().to_string()).collect();
    assert_eq!(kids, [format!("{root}/c"), format!("{root}/d"), format!("{root}/h")]);
    // Deleting a subtree goes through the trait's default descendants().
    c.delete().deleting_children_if_needed().for_path(&format!("{root}/d")).unwrap();
    converges(&cache, &c, &root);
    assert_eq!(mine.size(), 3);
    assert!(mine.puts.load(std::sync::atomic::Ordering::SeqCst) >= 7);
    let m = model.lock().unwrap();
    assert!(m.errors.is_empty(), "{:?}", m.errors);
    assert_eq!(m.nodes, cached(&cache), "events replay to the cache");
    drop(m);
    cache.close();
    assert_eq!(mine.size(), 3, "DoNotClearOnClose keeps the storage");
});

server_test!(shared read_errors_go_to_the_exception_handler, |srv| {
    let owner = srv.curator_builder().authorization("digest", b"owner:secret").build().unwrap();
    owner.start().unwrap();
    assert!(owner.block_until_connected(WAIT));
    let root = unique_root("cc-errors");
    owner.create().for_path(&root).unwrap();
    owner.create().for_path(&format!("{root}/open")).unwrap();
    let closed = format!("{root}/closed");
    owner.create().with_acl(&zk_curator::Acl::creator_all()).for_path_with_data(&closed, b"no").unwrap();

    let c = srv.curator();
    let unhandled = Arc::new(Mutex::new(Vec::<String>::new()));
    let u = unhandled.clone();
    c.unhandled_error_listenable().add_listener(move |msg: &str, e: &Error| u.lock().unwrap().push(format!("{msg}: {e}")));
    let errors = Arc::new(Mutex::new(Vec::<(String, Error)>::new()));
    let e2 = errors.clone();
    let cache = CuratorCache::builder(&c, &root)
        .with_exception_handler(move |what: &str, e: &Error| e2.lock().unwrap().push((what.to_string(), e.clone())))
        .build();
    let (_heard, init) = recorded(cache.listenable());
    cache.start().unwrap();
    init.recv_timeout(WAIT).unwrap();
    {
        let errors = errors.lock().unwrap();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].0.contains(&closed), "{errors:?}");
        assert!(matches!(errors[0].1, Error::NoAuth { .. }), "{errors:?}");
    }
    assert!(cache.get(&format!("{root}/open")).is_some());
    assert!(cache.get(&closed).is_none());
    assert!(unhandled.lock().unwrap().is_empty(), "the handler replaces the unhandled-error listeners");
    cache.close();

    // Without a handler the client's unhandled-error listeners hear it.
    let plain = CuratorCache::build(&c, &root, &[]);
    let (_heard, init) = recorded(plain.listenable());
    plain.start().unwrap();
    init.recv_timeout(WAIT).unwrap();
    assert!(wait_until(WAIT, || unhandled.lock().unwrap().len() == 1));
    assert!(unhandled.lock().unwrap()[0].contains(&closed), "{:?}", unhandled.lock().unwrap());
    plain.close();

    // A panicking handler is caught: the cache loads all the same.
    let panicky = CuratorCache::builder(&c, &root).with_exception_handler(|_: &str, _: &Error| panic!("handler panics")).build();
    let (_heard, init) = recorded(panicky.listenable());
    panicky.start().unwrap();
    init.recv_timeout(WAIT).unwrap();
    assert_eq!(panicky.size(), 2);
    panicky.close();
    assert_eq!(unhandled.lock().unwrap().len(), 1);
    owner.close();
});

server_test!(shared the_bridge_without_data_and_on_an_executor, |srv| {
    let c = srv.curator();
    let root = unique_root("cc-bridge-opts");
    c.create().for_path_with_data(&root, b"r").unwrap();
    let a = format!("{root}/a");
    c.create().for_path_with_data(&a, b"a").unwrap();
    let pool = WorkerPool::new(2).unwrap();
    let mut a_data = b"a".to_vec();
    for persistent in [true, false] {
        let bridge = CuratorCache::bridge_builder(&c, &root)
            .with_persistent_watches(persistent)
            .with_data_not_cached()
            .with_executor_service(&pool)
            .build();
        let threads = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
        let t2 = threads.clone();
        bridge.listenable().add_listener(CuratorCacheListener::builder().for_all(move |_, _, _| {
            t2.lock().unwrap().insert(std::thread::current().name().unwrap_or("?").to_string());
        }).build());
        let (heard, init) = recorded(bridge.listenable());
        bridge.start().unwrap();
        assert_eq!(bridge.is_curator_cache(), persistent);
        init.recv_timeout(WAIT).unwrap();
        let mut creates: Vec<Heard> = heard.try_iter().collect();
        creates.sort_by(|x, y| x.1.cmp(&y.1));
        assert_eq!(
            creates,
            vec![
                (CacheEventType::NodeCreated, root.clone(), None, Some(b"r".to_vec())),
                (CacheEventType::NodeCreated, a.clone(), None, Some(a_data.clone())),
            ],
            "persistent watches: {persistent}"
        );
        assert_eq!(bridge.size(), 2);
        assert!(bridge.stream().iter().all(|d| d.data().is_none()), "persistent watches: {persistent}");
        assert_eq!(bridge.get(&a).unwrap().stat().data_length as usize, a_data.len());
        a_data = format!("v-{persistent}").into_bytes();
        c.set_data().for_path(&a, &a_data).unwrap();
        assert_eq!(
            heard.recv_timeout(WAIT).unwrap(),
            (CacheEventType::NodeChanged, a.clone(), None, Some(a_data.clone())),
            "persistent watches: {persistent}"
        );
        assert!(bridge.get(&a).unwrap().data().is_none());
        let threads = threads.lock().unwrap().clone();
        assert!(
            !threads.is_empty() && threads.iter().all(|t| t.starts_with("zk-worker-")),
            "persistent watches: {persistent}: listeners ran on {threads:?}"
        );
        bridge.close();
    }
});
