//! What the three legacy caches (NodeCache, PathChildrenCache, TreeCache) are tested for
//! together: namespaces (paths in and out are namespace-free), a child the cache may not read,
//! and close() while disconnected; on both server kinds. Each cache's own tests are in
//! recipes_node_cache.rs, recipes_path_children_cache.rs and recipes_tree_cache.rs.

mod support;

use std::collections::BTreeSet;
use std::sync::mpsc;

use support::caches::*;
use support::events::WAIT;
use support::proxy::{proxied_client, Proxy};
use support::{unique_root, wait_until};
use zk_curator::framework::*;
use zk_curator::recipes::cache::*;
use zk_curator::Error;

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
