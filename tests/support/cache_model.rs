//! The event-model checker of the cache tests: every event a cache reports is applied to a
//! model that fails on any event that does not fit it (a duplicate add, an update of an
//! unknown node or without a change, a removal of an unknown node); at the end the model must
//! equal the cache. One model per listener kind: PathChildrenCache, TreeCache, the
//! CuratorCache listener (the bridge), and NodeCache (whose listener sees only "changed").

use std::sync::{Arc, Mutex};

use super::tree::Snap;
use zk_curator::framework::*;
use zk_curator::recipes::cache::*;
use zk_curator::Error;

/// The nodes as a [`Snap`].
pub fn snap_of(nodes: impl IntoIterator<Item = ChildData>) -> Snap {
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

/// A node's (data, version).
pub fn value(d: Option<&ChildData>) -> (Vec<u8>, i32) {
    let d = d.expect("an event with a node");
    (d.data().unwrap_or_default().to_vec(), d.stat().version)
}

#[derive(Default)]
pub struct Model {
    pub nodes: Snap,
    pub errors: Vec<String>,
    pub initialized: usize,
    pub connection: Vec<String>,
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

pub type Shared = Arc<Mutex<Model>>;

pub fn pcc_model(cache: &PathChildrenCache) -> Shared {
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

pub fn tree_model(cache: &TreeCache) -> Shared {
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

pub fn cache_listener_model(l: &zk_curator::framework::Listenable<dyn CacheListener>) -> Shared {
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

pub fn check_model(m: &Shared, cache: Snap, seed: u64) {
    let m = m.lock().unwrap();
    assert!(m.errors.is_empty(), "seed {seed}: {:?}", m.errors);
    assert_eq!(
        m.nodes, cache,
        "seed {seed}: the events replay to the cache"
    );
}

// NodeCache

/// The values an inline NodeCache listener saw, one per call: consecutive values must
/// differ (no duplicate events).
pub type Seen = Arc<Mutex<Vec<Option<(Vec<u8>, i32)>>>>;

pub fn node_model(cache: &Arc<NodeCache>) -> Seen {
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

pub fn node_snap(cache: &NodeCache) -> Snap {
    snap_of(cache.current_data())
}

pub fn node_server(c: &CuratorFramework, p: &str) -> Snap {
    let mut st = zk_curator::Stat::default();
    match c.get_data().storing_stat_in(&mut st).for_path(p) {
        Ok(d) => [(p.to_string(), (d, st.version))].into_iter().collect(),
        Err(Error::NoNode { .. }) => Snap::new(),
        Err(e) => panic!("read {p}: {e}"),
    }
}

pub fn check_node_model(seen: &Seen, cache: &NodeCache, seed: u64) {
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
