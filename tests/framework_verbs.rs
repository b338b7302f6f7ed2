//! Every modifier of every framework verb, foreground and background, on both server kinds.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use support::events::{Events, WAIT};
use support::unique_root;
use zk_curator::framework::protection::{is_protected_znode, normalize};
use zk_curator::framework::*;
use zk_curator::proto::Perms;
use zk_curator::{Acl, AddWatchMode, CreateMode, Error, EventType, Id, Stat, WatcherType};

/// Runs a background call and returns the event its callback got (on zk-event).
fn bg(f: impl FnOnce(Box<dyn FnOnce(&CuratorFramework, &CuratorEvent) + Send>)) -> CuratorEvent {
    let (tx, rx) = mpsc::channel();
    f(Box::new(move |_c, e| {
        let _ = tx.send((e.clone(), std::thread::current().name().map(String::from)));
    }));
    let (e, thread) = rx.recv_timeout(WAIT).expect("background callback");
    assert_eq!(thread.as_deref(), Some("zk-event"));
    e
}

server_test!(shared create_modifiers, |srv| {
    let c = srv.curator();
    let root = unique_root("fw-create");
    // creating_parents_if_needed: parents get empty data, the node the given data
    let p = c
        .create()
        .creating_parents_if_needed()
        .for_path_with_data(&format!("{root}/a/b/c"), b"leaf")
        .unwrap();
    assert_eq!(p, format!("{root}/a/b/c"));
    assert_eq!(c.get_data().for_path(&format!("{root}/a")).unwrap(), b"");
    assert_eq!(c.get_data().for_path(&p).unwrap(), b"leaf");
    // without it: NoNode
    let r = c.create().for_path(&format!("{root}/x/y"));
    assert!(matches!(&r, Err(Error::NoNode { path, .. }) if path.ends_with("/x/y")), "{r:?}");
    // default data: the local address
    let d = c.create().for_path(&format!("{root}/default")).unwrap();
    assert_eq!(c.get_data().for_path(&d).unwrap(), c.default_data());
    // containers for parents
    let cp = c
        .create()
        .creating_parent_containers_if_needed()
        .for_path(&format!("{root}/cont/leaf"))
        .unwrap();
    assert!(c.check_exists().for_path(&cp).unwrap().is_some());
    // modes, stat
    let mut st = Stat::default();
    let e = c
        .create()
        .storing_stat_in(&mut st)
        .with_mode(CreateMode::Ephemeral)
        .for_path_with_data(&format!("{root}/eph"), b"e")
        .unwrap();
    assert_eq!(st.data_length, 1);
    assert_ne!(st.ephemeral_owner, 0);
    let s = c
        .create()
        .with_mode(CreateMode::PersistentSequential)
        .for_path(&format!("{root}/seq-"))
        .unwrap();
    assert!(zk_curator::path::sequence_number(&s).is_some());
    // protection: Curator's name layout
    let prot = c
        .create()
        .with_protection()
        .with_mode(CreateMode::EphemeralSequential)
        .for_path_with_data(&format!("{root}/lock-"), b"")
        .unwrap();
    let name = zk_curator::path::node_name(&prot);
    assert!(is_protected_znode(name), "{name}");
    assert!(normalize(name).starts_with("lock-"));
    // TTL
    let t = c
        .create()
        .with_mode(CreateMode::PersistentWithTtl)
        .with_ttl(Duration::from_secs(60))
        .for_path(&format!("{root}/ttl"))
        .unwrap();
    assert!(c.check_exists().for_path(&t).unwrap().is_some());
    // ACL, also for parents
    let acl = vec![Acl::new(Perms::ALL, Id::anyone())];
    let ap = c
        .create()
        .creating_parents_if_needed()
        .with_acl_applied_to_parents(&Acl::read_unsafe())
        .for_path(&format!("{root}/ro/child"));
    // parents are read-only, so the child cannot be created under them
    assert!(matches!(ap, Err(Error::NoAuth { .. })), "{ap:?}");
    assert_eq!(c.get_acl().for_path(&format!("{root}/ro")).unwrap(), Acl::read_unsafe());
    let a2 = c.create().with_acl(&acl).for_path(&format!("{root}/acl")).unwrap();
    assert_eq!(c.get_acl().for_path(&a2).unwrap(), acl);
    // or_set_data
    let o = c
        .create()
        .or_set_data()
        .for_path_with_data(&format!("{root}/a"), b"replaced")
        .unwrap();
    assert_eq!(c.get_data().for_path(&o).unwrap(), b"replaced");
    let r = c
        .create()
        .or_set_data_with_version(7)
        .for_path_with_data(&format!("{root}/a"), b"x");
    assert!(matches!(r, Err(Error::BadVersion { .. })), "{r:?}");
    // idempotent: same data at version 0 is success, different data is NodeExists
    let i = format!("{root}/idem");
    c.create().for_path_with_data(&i, b"same").unwrap();
    c.create().idempotent().for_path_with_data(&i, b"same").unwrap();
    let r = c.create().idempotent().for_path_with_data(&i, b"other");
    assert!(matches!(r, Err(Error::NodeExists { .. })), "{r:?}");
    drop(e);
});

server_test!(shared create_in_background, |srv| {
    let c = srv.curator();
    let root = unique_root("fw-create-bg");
    let p = format!("{root}/deep/node");
    let ev = bg(|cb| {
        c.create()
            .creating_parents_if_needed()
            .in_background(move |c, e| cb(c, e))
            .for_path_with_data(&p, b"bg")
            .unwrap()
    });
    assert_eq!(ev.event_type(), CuratorEventType::Create);
    assert_eq!(ev.result_code(), 0, "{:?}", ev.error());
    assert_eq!((ev.path(), ev.name()), (p.as_str(), Some(p.as_str())));
    assert!(ev.stat().is_some());
    let ev = bg(|cb| {
        c.create()
            .in_background(move |c, e| cb(c, e))
            .for_path(&p)
            .unwrap()
    });
    assert!(matches!(ev.error(), Some(Error::NodeExists { path, .. }) if *path == p));
    assert_eq!(ev.result_code(), -110);
    let ev = bg(|cb| {
        c.create()
            .or_set_data()
            .in_background(move |c, e| cb(c, e))
            .for_path_with_data(&p, b"again")
            .unwrap()
    });
    assert_eq!(ev.result_code(), 0);
    assert_eq!(c.get_data().for_path(&p).unwrap(), b"again");
});

server_test!(shared delete_modifiers, |srv| {
    let c = srv.curator();
    let root = unique_root("fw-delete");
    let t = format!("{root}/tree");
    for p in ["a/b/c", "a/d", "e"] {
        c.create()
            .creating_parents_if_needed()
            .for_path(&format!("{t}/{p}"))
            .unwrap();
    }
    let r = c.delete().for_path(&t);
    assert!(matches!(r, Err(Error::NotEmpty { .. })), "{r:?}");
    c.delete().deleting_children_if_needed().for_path(&t).unwrap();
    assert!(c.check_exists().for_path(&t).unwrap().is_none());
    let r = c.delete().for_path(&t);
    assert!(matches!(&r, Err(Error::NoNode { path, .. }) if *path == t), "{r:?}");
    c.delete().quietly().for_path(&t).unwrap();
    c.delete().idempotent().for_path(&t).unwrap();
    let v = c.create().for_path(&format!("{root}/v")).unwrap();
    let r = c.delete().with_version(3).for_path(&v);
    assert!(matches!(r, Err(Error::BadVersion { .. })), "{r:?}");
    c.delete().guaranteed().with_version(0).for_path(&v).unwrap();
    let ev = bg(|cb| {
        c.delete()
            .in_background(move |c, e| cb(c, e))
            .for_path(&v)
            .unwrap()
    });
    assert!(matches!(ev.error(), Some(Error::NoNode { .. })));
    assert_eq!(ev.event_type(), CuratorEventType::Delete);
});

server_test!(shared exists_get_set_children_acl, |srv| {
    let c = srv.curator();
    let root = unique_root("fw-rw");
    let p = format!("{root}/n");
    // check_exists creating parents: the parents exist afterwards, the node not
    assert!(c
        .check_exists()
        .creating_parents_if_needed()
        .for_path(&p)
        .unwrap()
        .is_none());
    assert!(c.check_exists().for_path(&root).unwrap().is_some());
    c.create().for_path_with_data(&p, b"v0").unwrap();
    // watched exists on a missing node fires on create
    let ev = Events::new();
    let q = format!("{root}/q");
    assert!(c.check_exists().using_watcher(ev.watcher()).for_path(&q).unwrap().is_none());
    c.create().for_path(&q).unwrap();
    ev.expect(EventType::NodeCreated, &q);
    // get_data: stat, watcher
    let mut st = Stat::default();
    assert_eq!(c.get_data().storing_stat_in(&mut st).for_path(&p).unwrap(), b"v0");
    let w = Events::new();
    c.get_data().using_watcher(w.watcher()).for_path(&p).unwrap();
    // set_data: version, idempotent
    let st2 = c.set_data().with_version(st.version).for_path(&p, b"v1").unwrap();
    assert_eq!(st2.version, 1);
    w.expect(EventType::NodeDataChanged, &p);
    let r = c.set_data().with_version(0).for_path(&p, b"v2");
    assert!(matches!(r, Err(Error::BadVersion { .. })), "{r:?}");
    let st3 = c.set_data().idempotent().for_path(&p, b"v2").unwrap();
    assert_eq!(st3.version, 2);
    c.set_data().for_path_with_default_data(&p).unwrap();
    assert_eq!(c.get_data().for_path(&p).unwrap(), c.default_data());
    // children
    for n in ["c1", "c2"] {
        c.create().for_path(&format!("{p}/{n}")).unwrap();
    }
    let mut pst = Stat::default();
    let mut kids = c.get_children().storing_stat_in(&mut pst).for_path(&p).unwrap();
    kids.sort();
    assert_eq!((kids, pst.num_children), (vec!["c1".to_string(), "c2".to_string()], 2));
    let cw = Events::new();
    c.get_children().using_watcher(cw.watcher()).for_path(&p).unwrap();
    c.create().for_path(&format!("{p}/c3")).unwrap();
    cw.expect(EventType::NodeChildrenChanged, &p);
    // ACL
    let mut ast = Stat::default();
    assert_eq!(c.get_acl().storing_stat_in(&mut ast).for_path(&p).unwrap(), Acl::open_unsafe());
    let st = c.set_acl().with_version(ast.aversion).with_acl(&Acl::open_unsafe()).for_path(&p).unwrap();
    assert_eq!(st.aversion, 1);
    let r = c.set_acl().for_path(&p);
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    // background forms
    let e = bg(|cb| c.get_data().in_background(move |c, e| cb(c, e)).for_path(&p).unwrap());
    assert_eq!((e.event_type(), e.data()), (CuratorEventType::GetData, Some(c.default_data())));
    let e = bg(|cb| c.set_data().in_background(move |c, e| cb(c, e)).for_path(&p, b"b").unwrap());
    assert_eq!(e.stat().map(|s| s.version), Some(4));
    let e = bg(|cb| c.check_exists().in_background(move |c, e| cb(c, e)).for_path(&format!("{p}/nope")).unwrap());
    assert_eq!((e.event_type(), e.result_code(), e.stat()), (CuratorEventType::Exists, -101, None));
    let e = bg(|cb| c.get_children().in_background(move |c, e| cb(c, e)).for_path(&p).unwrap());
    assert_eq!(e.children().map(<[String]>::len), Some(3));
    let e = bg(|cb| c.get_acl().in_background(move |c, e| cb(c, e)).for_path(&p).unwrap());
    assert_eq!(e.acl_list().map(<[Acl]>::len), Some(1));
    let e = bg(|cb| c.set_acl().with_acl(&Acl::open_unsafe()).in_background(move |c, e| cb(c, e)).for_path(&p).unwrap());
    assert_eq!(e.event_type(), CuratorEventType::SetAcl);
    let e = bg(|cb| c.sync().in_background(move |c, e| cb(c, e)).for_path(&p).unwrap());
    assert_eq!((e.event_type(), e.result_code()), (CuratorEventType::Sync, 0));
    c.sync().for_path(&p).unwrap();
    // config
    let mut cst = Stat::default();
    let _cfg = c.get_config().storing_stat_in(&mut cst).for_ensemble().unwrap();
    let e = bg(|cb| c.get_config().in_background(move |c, e| cb(c, e)).for_ensemble().unwrap());
    assert_eq!(e.event_type(), CuratorEventType::GetConfig);
});

// gzip is the default provider's format, behind the default feature `gzip`.
#[cfg(feature = "gzip")]
server_test!(shared compression_round_trips, |srv| {
    let c = srv.curator();
    let root = unique_root("fw-gzip");
    let text = b"compress me, compress me, compress me, compress me".repeat(20);
    let p = c
        .create()
        .creating_parents_if_needed()
        .compressed()
        .for_path_with_data(&format!("{root}/z"), &text)
        .unwrap();
    let raw = c.get_data().for_path(&p).unwrap();
    assert!(raw.len() < text.len());
    assert_eq!(&raw[..2], &[0x1f, 0x8b]);
    assert_eq!(c.get_data().decompressed().for_path(&p).unwrap(), text);
    c.set_data().compressed().for_path(&p, b"small").unwrap();
    assert_eq!(c.get_data().decompressed().for_path(&p).unwrap(), b"small");
    let r = c.create().for_path_with_data(&format!("{root}/plain"), b"not gzip");
    let plain = r.unwrap();
    // Data that is not gzip is the node's problem, not the caller's: BadData naming the node.
    let e = c.get_data().decompressed().for_path(&plain).unwrap_err();
    assert!(matches!(e, Error::BadData { ref path, .. } if *path == plain), "{e:?}");
});

// Without the feature the default provider refuses both directions, naming the feature, and
// writes nothing.
#[cfg(not(feature = "gzip"))]
server_test!(shared compression_without_the_feature_names_it, |srv| {
    let c = srv.curator();
    let root = unique_root("fw-nogzip");
    c.create().for_path(&root).unwrap();
    let p = format!("{root}/z");
    let e = c.create().compressed().for_path_with_data(&p, b"x").unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(ref m) if m.contains("feature `gzip`")), "{e:?}");
    assert!(c.check_exists().for_path(&p).unwrap().is_none());
    c.create().for_path_with_data(&p, b"x").unwrap();
    let e = c.get_data().decompressed().for_path(&p).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(ref m) if m.contains("feature `gzip`")), "{e:?}");
});

server_test!(shared transactions_are_atomic_and_typed, |srv| {
    let c = srv.curator();
    let root = unique_root("fw-txn");
    c.create().for_path(&root).unwrap();
    let op = c.transaction_op();
    let res = c
        .transaction()
        .for_operations(vec![
            op.create().for_path_with_data(&format!("{root}/a"), b"1").unwrap(),
            op.create()
                .with_mode(CreateMode::PersistentSequential)
                .for_path(&format!("{root}/s-"))
                .unwrap(),
            op.set_data().for_path(&format!("{root}/a"), b"2").unwrap(),
            op.check().with_version(1).for_path(&format!("{root}/a")).unwrap(),
        ])
        .unwrap();
    let types: Vec<OperationType> = res.iter().map(|r| r.op_type()).collect();
    assert_eq!(
        types,
        vec![OperationType::Create, OperationType::Create, OperationType::SetData, OperationType::Check]
    );
    assert_eq!(res[0].result_path(), Some(format!("{root}/a").as_str()));
    assert!(res[1].result_path().unwrap().starts_with(&format!("{root}/s-")));
    assert_eq!(res[2].result_stat().map(|s| s.version), Some(1));
    // a failure applies nothing and says which op
    let r = c.transaction().for_operations(vec![
        op.create().for_path(&format!("{root}/b")).unwrap(),
        op.delete().for_path(&format!("{root}/missing")).unwrap(),
    ]);
    assert!(matches!(&r, Err(Error::NoNode { path, .. }) if path.ends_with("/missing")), "{r:?}");
    assert!(c.check_exists().for_path(&format!("{root}/b")).unwrap().is_none());
    // background: per-op results
    let e = bg(|cb| {
        c.transaction()
            .in_background(move |c, e| cb(c, e))
            .for_operations(vec![
                op.create().for_path(&format!("{root}/b")).unwrap(),
                op.check().with_version(9).for_path(&format!("{root}/a")).unwrap(),
            ])
            .unwrap()
    });
    assert_eq!(e.event_type(), CuratorEventType::Transaction);
    let ops = e.op_results().unwrap();
    assert!(ops[0].error().is_none());
    assert!(matches!(ops[1].error(), Some(Error::BadVersion { .. })));
    assert!(matches!(e.error(), Some(Error::BadVersion { .. })));
});

server_test!(shared persistent_watches_and_removal, |srv| {
    let c = srv.curator();
    let root = unique_root("fw-watchers");
    c.create().for_path(&root).unwrap();
    let ev = Events::new();
    let w = ev.shared();
    c.watchers()
        .add()
        .with_mode(AddWatchMode::PersistentRecursive)
        .using_shared_watcher(&w)
        .for_path(&root)
        .unwrap();
    let x = c.create().for_path(&format!("{root}/x")).unwrap();
    ev.expect(EventType::NodeCreated, &x);
    c.set_data().for_path(&x, b"1").unwrap();
    ev.expect(EventType::NodeDataChanged, &x);
    // without a watcher: CuratorListeners get Watched events
    let (tx, rx) = mpsc::channel();
    let id = c.curator_listenable().add_listener(move |_c: &CuratorFramework, e: &CuratorEvent| {
        if e.event_type() == CuratorEventType::Watched {
            let _ = tx.send(e.watched_event().unwrap().path().map(String::from));
        }
    });
    let y = format!("{root}/y");
    c.watchers().add().with_mode(AddWatchMode::Persistent).for_path(&y).unwrap();
    c.create().for_path(&y).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap().as_deref(), Some(y.as_str()));
    ev.expect(EventType::NodeCreated, &y); // the recursive watch on root saw it too
    assert!(c.curator_listenable().remove_listener(id));
    // removal: NoWatcher, quietly, events
    c.watchers().remove(&w).of_type(WatcherType::Any).for_path(&root).unwrap();
    assert_eq!(ev.next().event_type(), EventType::PersistentWatchRemoved);
    let r = c.watchers().remove(&w).for_path(&root);
    assert!(matches!(r, Err(Error::NoWatcher { .. })), "{r:?}");
    c.watchers().remove(&w).quietly().for_path(&root).unwrap();
    c.watchers().remove_all().locally().for_path(&y).unwrap();
    c.create().for_path(&format!("{root}/z")).unwrap();
    ev.expect_none(Duration::from_millis(300));
    // watched() on a read goes to the listeners too
    let (tx, rx) = mpsc::channel();
    c.curator_listenable().add_listener(move |_c: &CuratorFramework, e: &CuratorEvent| {
        if let Some(w) = e.watched_event() {
            let _ = tx.send((w.event_type(), e.path().to_string()));
        }
    });
    c.get_data().watched().for_path(&x).unwrap();
    c.set_data().for_path(&x, b"2").unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), (EventType::NodeDataChanged, x.clone()));
});

server_test!(shared namespaces_isolate, |srv| {
    let root = unique_root("fw-ns");
    let ns = root.trim_start_matches('/').to_string() + "/app";
    let c = srv
        .curator_builder()
        .namespace(&ns)
        .build()
        .unwrap();
    c.start().unwrap();
    assert!(c.block_until_connected(WAIT));
    assert_eq!(c.namespace(), Some(ns.as_str()));
    let p = c.create().for_path_with_data("/x", b"in ns").unwrap();
    assert_eq!(p, "/x");
    let plain = c.using_namespace(None).unwrap();
    assert_eq!(plain.get_data().for_path(&format!("/{ns}/x")).unwrap(), b"in ns");
    // the namespace node was created (a container)
    assert!(plain.check_exists().for_path(&format!("/{ns}")).unwrap().is_some());
    let other = c.using_namespace(Some(&format!("{}/other", root.trim_start_matches('/')))).unwrap();
    assert!(other.check_exists().for_path("/x").unwrap().is_none());
    other.create().for_path_with_data("/x", b"other").unwrap();
    assert_eq!(c.get_data().for_path("/x").unwrap(), b"in ns");
    // events and errors carry namespace-free paths
    let ev = Events::new();
    c.get_data().using_watcher(ev.watcher()).for_path("/x").unwrap();
    plain.set_data().for_path(&format!("/{ns}/x"), b"changed").unwrap();
    ev.expect(EventType::NodeDataChanged, "/x");
    let r = c.get_data().for_path("/missing");
    assert!(matches!(&r, Err(Error::NoNode { path, .. }) if path == "/missing"), "{r:?}");
    let e = bg(|cb| c.create().in_background(move |c, e| cb(c, e)).for_path("/bgx").unwrap());
    assert_eq!(e.name(), Some("/bgx"));
    // transactions too
    let op = c.transaction_op();
    let res = c.transaction().for_operations(vec![op.create().for_path("/t").unwrap()]).unwrap();
    assert_eq!(res[0].result_path(), Some("/t"));
    c.create_containers("/made/by/containers").unwrap();
    assert!(plain.check_exists().for_path(&format!("/{ns}/made/by/containers")).unwrap().is_some());
    c.close();
});

server_test!(shared lifecycle_errors, |srv| {
    let c = srv.curator_builder().build().unwrap();
    assert_eq!(c.state(), CuratorFrameworkState::Latent);
    assert!(matches!(c.get_data().for_path("/"), Err(Error::InvalidArgument(_))));
    c.start().unwrap();
    assert!(matches!(c.start(), Err(Error::InvalidArgument(_))));
    assert!(c.block_until_connected(WAIT));
    c.close();
    c.close();
    assert_eq!(c.state(), CuratorFrameworkState::Stopped);
    assert!(matches!(c.get_data().for_path("/"), Err(Error::Closed)));
    assert!(matches!(c.start(), Err(Error::Closed)));
    let r = CuratorFrameworkFactory::builder().connect_string(&srv.connect_string()).build();
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "no retry policy");
    let r = CuratorFrameworkFactory::builder().retry_policy(RetryOneTime::new(Duration::ZERO)).build();
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "no connect string");
    let r = srv.curator_builder().namespace("bad//ns").build();
    assert!(r.is_err());
    let c = srv.curator();
    let r = c.get_data().for_path("relative");
    assert!(matches!(r, Err(Error::InvalidPath { .. })), "{r:?}");
});

server_test!(shared reconfig_unhandled_listener_and_call_with_retry, |srv| {
    let c = srv.curator();
    // a standalone server without reconfigEnabled refuses
    let r = c.reconfig().joining(&["server.9=127.0.0.1:1:2;3"]).for_ensemble();
    assert!(matches!(r, Err(Error::ReconfigDisabled { .. })), "{r:?}");
    // incremental and bulk changes do not mix (the server would apply only one)
    let r = c.reconfig().leaving(&["9"]).with_new_members(&["server.1=127.0.0.1:1:2;3"]).for_ensemble();
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    let r = c
        .reconfig()
        .with_new_members(&["server.1=127.0.0.1:1:2;3"])
        .joining(&["server.9=127.0.0.1:1:2;3"])
        .in_background(|_c: &CuratorFramework, _e: &CuratorEvent| {})
        .for_ensemble();
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    let mut stat = Stat::default();
    let r = c.reconfig().leaving(&["9"]).storing_stat_in(&mut stat).for_ensemble();
    assert!(matches!(r, Err(Error::ReconfigDisabled { .. })), "{r:?}");
    let e = bg(|cb| {
        c.reconfig()
            .leaving(&["9"])
            .in_background(move |c, e| cb(c, e))
            .for_ensemble()
            .unwrap()
    });
    assert_eq!((e.event_type(), e.result_code()), (CuratorEventType::Reconfig, -123));
    // a per-operation unhandled-error listener takes a panicking callback's error
    let (tx, rx) = mpsc::channel();
    let (gtx, grx) = mpsc::channel::<()>();
    c.unhandled_error_listenable()
        .add_listener(move |_m: &str, _e: &Error| gtx.send(()).unwrap());
    c.check_exists()
        .in_background(|_c: &CuratorFramework, _e: &CuratorEvent| panic!("on purpose"))
        .with_unhandled_error_listener(move |m: &str, e: &Error| {
            tx.send((m.to_string(), matches!(e, Error::CallbackPanicked(_)))).unwrap()
        })
        .for_path("/")
        .unwrap();
    let (msg, panicked) = rx.recv_timeout(WAIT).unwrap();
    assert!(panicked, "{msg}");
    assert!(grx.recv_timeout(Duration::from_millis(300)).is_err(), "not the global one");
    // call_with_retry on the raw handle
    let root = unique_root("fw-raw");
    let made = c
        .zookeeper_client()
        .call_with_retry(|zk| zk.create(&root, b"", &Acl::open_unsafe(), CreateMode::Persistent))
        .unwrap();
    assert_eq!(made, root);
    // watched() twice on one node reports once
    let (tx, rx) = mpsc::channel();
    c.curator_listenable().add_listener(move |_c: &CuratorFramework, e: &CuratorEvent| {
        if let Some(w) = e.watched_event() {
            if w.event_type() != EventType::None {
                let _ = tx.send(w.path().map(String::from));
            }
        }
    });
    c.get_data().watched().for_path(&root).unwrap();
    c.check_exists().watched().for_path(&root).unwrap();
    c.set_data().for_path(&root, b"x").unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap().as_deref(), Some(root.as_str()));
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "reported once");
    // async watch removal on the low-level handle
    let zk = c.zookeeper_client().zookeeper().unwrap();
    let ev = Events::new();
    let w = ev.shared();
    zk.get_data_w_shared(&root, &w).unwrap();
    let (tx, rx) = mpsc::channel();
    zk.remove_watches_async(&root, &w, WatcherType::Data, false, move |r| tx.send(r.is_ok()).unwrap())
        .unwrap();
    assert!(rx.recv_timeout(WAIT).unwrap());
    assert_eq!(ev.next().event_type(), EventType::DataWatchRemoved);
});
