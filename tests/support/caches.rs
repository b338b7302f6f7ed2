//! Helpers of the legacy-cache tests (NodeCache, PathChildrenCache, TreeCache): the outage
//! rig (a client behind a proxy, a writer beside it), the server's and the client's watches
//! after a close, a reversible compression provider, and event receivers with deadlines.
//! The event-model checker is in [`super::cache_model`], trees and writers in [`super::tree`].

use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use super::events::WAIT;
use super::proxy::{outage, proxied_client, Proxy};
use super::tree::{converges, random_writes, seed, Snap};
use super::{unique_root, wait_until, TestServer};
use zk_curator::framework::*;
use zk_curator::recipes::cache::*;

/// How long a cache may take to catch up with a writer.
pub const CONVERGE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// helpers

/// Receives with a deadline.
pub fn recv<T>(rx: &Receiver<T>, what: &str) -> T {
    rx.recv_timeout(WAIT)
        .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"))
}

/// The cast of an outage scenario: a client behind a proxy that can be cut, a writer beside
/// it on the server directly, a fresh root, a seed.
pub struct Rig {
    pub proxy: Proxy,
    pub c: CuratorFramework,
    pub writer: CuratorFramework,
    pub root: String,
    pub seed: u64,
    pub expire: bool,
}

impl Rig {
    pub fn new(srv: &TestServer, name: &str, expire: bool) -> Rig {
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
    pub fn with_tree(srv: &TestServer, name: &str, expire: bool) -> Rig {
        let rig = Rig::new(srv, name, expire);
        rig.writer.create().for_path(&rig.root).unwrap();
        random_writes(&rig.writer, &rig.root, 300, rig.seed);
        rig
    }

    /// Cuts the client off (session expired if asked) while `meanwhile` runs.
    pub fn outage(&self, srv: &TestServer, meanwhile: impl FnOnce()) {
        outage(srv, &self.proxy, &self.c, self.expire, meanwhile);
    }

    /// What a PathChildrenCache or TreeCache must go through: converged on the writer's
    /// tree, cut off while the writer goes on, converged again, then still watching.
    /// `cache` and `server` read the two sides.
    pub fn through_outage(
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
pub fn states_through_outage(expire: bool) -> &'static [&'static str] {
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

pub fn port(srv: &TestServer) -> u16 {
    srv.connect_string()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The server's watches (`wchp`) on `root` or below it.
pub fn server_watches(srv: &TestServer, root: &str) -> Vec<String> {
    let below = format!("{root}/");
    super::jvm::four_letter(port(srv), "wchp")
        .lines()
        .map(str::trim)
        .filter(|l| *l == root || l.starts_with(&below))
        .map(String::from)
        .collect()
}

/// After a close: the client's watch count is back to `before`, the server holds no watch
/// under `root`.
pub fn watches_gone(srv: &TestServer, c: &CuratorFramework, root: &str, before: usize) {
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
pub struct Reverse;

impl CompressionProvider for Reverse {
    fn compress(&self, _p: &str, d: &[u8]) -> zk_curator::Result<Vec<u8>> {
        Ok(d.iter().rev().copied().collect())
    }
    fn decompress(&self, _p: &str, d: &[u8]) -> zk_curator::Result<Vec<u8>> {
        Ok(d.iter().rev().copied().collect())
    }
}

pub fn reversing_client(srv: &TestServer) -> CuratorFramework {
    let c = srv
        .curator_builder()
        .compression_provider(Reverse)
        .build()
        .unwrap();
    c.start().unwrap();
    assert!(c.block_until_connected(WAIT));
    c
}

/// A listener's child and Initialized events (connection events skipped: a listener
/// added right after `block_until_connected()` may still hear that first `Connected`,
/// reported as `ConnectionReconnected`, as in Curator).
pub fn pcc_events(cache: &PathChildrenCache) -> Receiver<PathChildrenCacheEvent> {
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

pub fn next_pcc(rx: &Receiver<PathChildrenCacheEvent>) -> (PathChildrenCacheEventType, String) {
    let e = recv(rx, "a PathChildrenCache event");
    (
        e.event_type(),
        e.data().map(|d| d.path().to_string()).unwrap_or_default(),
    )
}

pub fn make_children(c: &CuratorFramework, root: &str, names: &[&str]) {
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

pub fn tree_events(cache: &TreeCache) -> Receiver<TreeCacheEvent> {
    let (tx, rx) = mpsc::channel();
    cache
        .listenable()
        .add_listener(move |_c: &CuratorFramework, e: &TreeCacheEvent| {
            let _ = tx.send(e.clone());
        });
    rx
}

pub fn next_tree(rx: &Receiver<TreeCacheEvent>) -> (TreeCacheEventType, String) {
    let e = recv(rx, "a TreeCache event");
    (
        e.event_type(),
        e.data().map(|d| d.path().to_string()).unwrap_or_default(),
    )
}

/// Events up to and including `Initialized`.
pub fn until_initialized(rx: &Receiver<TreeCacheEvent>) -> Vec<(TreeCacheEventType, String)> {
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
