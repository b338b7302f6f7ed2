//! A closed client refuses every call at once with `Err(Closed)`: every verb, foreground and
//! background (whose callback is then not called), transactions, watch additions and
//! removals, and the recipes started on it. Before, a background call on a closed client
//! returned `Ok(())` and its callback was dropped without a word (Curator throws
//! `IllegalStateException`).
//!
//! Purely client-side: the in-process server is enough.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zk_curator::framework::*;
use zk_curator::recipes::cache::{
    CuratorCache, NodeCache, PathChildrenCache, StartMode, TreeCache,
};
use zk_curator::recipes::PersistentWatcher;
use zk_curator::testing::TestingServer;
use zk_curator::{Error, Result, SharedWatcher};

fn closed_client(server: &TestingServer, namespace: Option<&str>) -> CuratorFramework {
    let mut b = CuratorFrameworkFactory::builder()
        .connect_string(&server.connect_string())
        .retry_policy(RetryNTimes::new(3, Duration::from_millis(10)));
    if let Some(ns) = namespace {
        b = b.namespace(ns);
    }
    let c = b.build().unwrap();
    c.start().unwrap();
    assert!(c.block_until_connected(Duration::from_secs(10)));
    c.create().for_path("/x").unwrap();
    c.close();
    c
}

fn closed<T: std::fmt::Debug>(what: &str, r: Result<T>) {
    assert!(matches!(r, Err(Error::Closed)), "{what}: {r:?}");
}

#[test]
fn every_call_on_a_closed_client_is_refused_with_closed() {
    let server = TestingServer::start().unwrap();
    for ns in [None, Some("app")] {
        let c = closed_client(&server, ns);
        let calls = Arc::new(AtomicUsize::new(0));
        let cb = || {
            let n = calls.clone();
            move |_: &CuratorFramework, _: &CuratorEvent| {
                n.fetch_add(1, Ordering::SeqCst);
            }
        };
        let w = SharedWatcher::new(|_: &zk_curator::WatchedEvent| {});

        // Foreground.
        closed("create", c.create().for_path("/y"));
        closed("delete", c.delete().for_path("/x"));
        closed("exists", c.check_exists().for_path("/x"));
        closed("get_data", c.get_data().for_path("/x"));
        closed("set_data", c.set_data().for_path("/x", b"v"));
        closed("get_children", c.get_children().for_path("/"));
        closed("get_acl", c.get_acl().for_path("/x"));
        closed(
            "set_acl",
            c.set_acl()
                .with_acl(&zk_curator::Acl::open_unsafe())
                .for_path("/x"),
        );
        closed("sync", c.sync().for_path("/x"));
        closed("get_config", c.get_config().for_ensemble());
        closed("reconfig", c.reconfig().leaving(&["3"]).for_ensemble());
        closed("create_containers", c.create_containers("/a/b"));
        let op = c.transaction_op().create().for_path("/t").unwrap();
        closed("transaction", c.transaction().for_operations(vec![op]));
        closed("watchers().add", c.watchers().add().for_path("/x"));
        closed("watchers().remove", c.watchers().remove(&w).for_path("/x"));
        closed(
            "watchers().remove_all",
            c.watchers().remove_all().for_path("/x"),
        );
        closed(
            "call_with_retry",
            c.zookeeper_client()
                .call_with_retry(|zk| zk.exists("/x", false)),
        );

        // Background: refused by the terminal method; the callback never runs.
        closed("bg create", c.create().in_background(cb()).for_path("/y"));
        closed("bg delete", c.delete().in_background(cb()).for_path("/x"));
        closed(
            "bg exists",
            c.check_exists().in_background(cb()).for_path("/x"),
        );
        closed(
            "bg get_data",
            c.get_data().in_background(cb()).for_path("/x"),
        );
        closed(
            "bg get_data no callback",
            c.get_data().in_background_no_callback().for_path("/x"),
        );
        closed(
            "bg set_data",
            c.set_data().in_background(cb()).for_path("/x", b"v"),
        );
        closed(
            "bg get_children",
            c.get_children().in_background(cb()).for_path("/"),
        );
        closed("bg get_acl", c.get_acl().in_background(cb()).for_path("/x"));
        closed(
            "bg set_acl",
            c.set_acl()
                .with_acl(&zk_curator::Acl::open_unsafe())
                .in_background(cb())
                .for_path("/x"),
        );
        closed("bg sync", c.sync().in_background(cb()).for_path("/x"));
        closed(
            "bg get_config",
            c.get_config().in_background(cb()).for_ensemble(),
        );
        closed(
            "bg reconfig",
            c.reconfig()
                .leaving(&["3"])
                .in_background(cb())
                .for_ensemble(),
        );
        let op = c.transaction_op().delete().for_path("/x").unwrap();
        closed(
            "bg transaction",
            c.transaction().in_background(cb()).for_operations(vec![op]),
        );
        closed(
            "bg watchers().add",
            c.watchers().add().in_background(cb()).for_path("/x"),
        );
        closed(
            "bg watchers().remove",
            c.watchers().remove(&w).in_background(cb()).for_path("/x"),
        );
        let pool = zk_curator::WorkerPool::new(1).unwrap();
        closed(
            "bg with executor",
            c.get_data()
                .in_background_with_executor(cb(), &pool)
                .for_path("/x"),
        );
        std::thread::sleep(Duration::from_millis(100)); // a wrongly scheduled callback would run by now
        assert_eq!(calls.load(Ordering::SeqCst), 0, "no callback runs");

        // Recipes: start() says the client is closed instead of never loading.
        closed("CuratorCache", CuratorCache::build(&c, "/x", &[]).start());
        closed(
            "CuratorCacheBridge",
            CuratorCache::bridge_builder(&c, "/x").build().start(),
        );
        closed(
            "PersistentWatcher",
            PersistentWatcher::new(&c, "/x", true).start(),
        );
        closed("NodeCache", NodeCache::new(&c, "/x").start());
        closed(
            "PathChildrenCache",
            PathChildrenCache::new(&c, "/x", true).start(StartMode::Normal),
        );
        closed("TreeCache", TreeCache::new(&c, "/x").start());
    }
}

#[test]
fn a_never_started_client_still_says_so() {
    let server = TestingServer::start().unwrap();
    let c = CuratorFrameworkFactory::new_client(
        &server.connect_string(),
        RetryOneTime::new(Duration::from_millis(10)),
    )
    .unwrap();
    let r = c.get_data().for_path("/x");
    assert!(
        matches!(&r, Err(Error::InvalidArgument(m)) if m.contains("start()")),
        "{r:?}"
    );
    // A background call is accepted and its callback told (the client may be started
    // before the event is handled, as with Curator's queued operations).
    let (tx, rx) = std::sync::mpsc::channel();
    c.get_data()
        .in_background(move |_, e| {
            let _ = tx.send(e.error().map(ToString::to_string));
        })
        .for_path("/x")
        .unwrap();
    let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(got.is_some_and(|m| m.contains("start()")));
}
