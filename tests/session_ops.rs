//! Every server operation of the low-level handle and its errors, synchronous and
//! asynchronous, against both server kinds (`name::real`, `name::in_process`).

mod support;

use std::sync::mpsc;
use std::time::Duration;

use support::unique_root;
use zk_curator::proto::Perms;
use zk_curator::{Acl, CreateMode, Error, Id, Op, OpResult, Stat, States, ZooKeeper};

fn open() -> Vec<Acl> {
    Acl::open_unsafe()
}

fn mk(zk: &ZooKeeper, path: &str, data: &[u8]) -> String {
    zk.create(path, data, &open(), CreateMode::Persistent)
        .unwrap_or_else(|e| panic!("create {path}: {e}"))
}

/// Runs an async call and waits for its callback.
fn wait_cb<T: Send + 'static>(f: impl FnOnce(Box<dyn FnOnce(T) + Send>)) -> T {
    let (tx, rx) = mpsc::channel();
    f(Box::new(move |v| {
        let _ = tx.send((v, std::thread::current().name().map(String::from)));
    }));
    let (v, thread) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("callback within 10 s");
    assert_eq!(
        thread.as_deref(),
        Some("zk-event"),
        "callbacks run on zk-event"
    );
    v
}

server_test!(shared create_modes_and_names, |srv| {
    let zk = srv.connect();
    let root = mk(&zk, &unique_root("create"), b"");
    // persistent, create2 with stat
    let (p, st) = zk
        .create2(&format!("{root}/p"), b"abc", &open(), CreateMode::Persistent)
        .unwrap();
    assert_eq!(p, format!("{root}/p"));
    assert_eq!((st.version, st.data_length, st.ephemeral_owner), (0, 3, 0));
    // sequential names: 10 digits from the parent's counter, shared across prefixes
    let s0 = zk
        .create(&format!("{root}/s-"), b"", &open(), CreateMode::PersistentSequential)
        .unwrap();
    let s1 = zk
        .create(&format!("{root}/t-"), b"", &open(), CreateMode::PersistentSequential)
        .unwrap();
    let n0 = zk_curator::path::sequence_number(&s0).unwrap();
    let n1 = zk_curator::path::sequence_number(&s1).unwrap();
    assert!(s0.starts_with(&format!("{root}/s-")) && s0.len() == root.len() + 3 + 10);
    assert_eq!(n1, n0 + 1);
    // a sequential create may end with '/': the child is named by its number
    let q = mk(&zk, &format!("{root}/q"), b"");
    let qn = zk
        .create(&format!("{q}/"), b"", &open(), CreateMode::PersistentSequential)
        .unwrap();
    assert_eq!(qn, format!("{q}/0000000000"));
    // ephemeral and ephemeral sequential carry the owner
    let (_, est) = zk
        .create2(&format!("{root}/e"), b"", &open(), CreateMode::Ephemeral)
        .unwrap();
    assert_eq!(est.ephemeral_owner, zk.session_id());
    let es = zk
        .create(&format!("{root}/es-"), b"", &open(), CreateMode::EphemeralSequential)
        .unwrap();
    assert!(zk_curator::path::sequence_number(&es).is_some());
    assert_eq!(
        zk.exists(&es, false).unwrap().unwrap().ephemeral_owner,
        zk.session_id()
    );
    // container and TTL nodes report no owner
    let (c, cst) = zk
        .create2(&format!("{root}/c"), b"", &open(), CreateMode::Container)
        .unwrap();
    assert_eq!(c, format!("{root}/c"));
    assert_eq!(cst.ephemeral_owner, 0);
    let (t, tst) = zk
        .create_ttl(
            &format!("{root}/ttl"),
            b"x",
            &open(),
            CreateMode::PersistentWithTtl,
            Duration::from_secs(60),
        )
        .unwrap();
    assert_eq!((t.as_str(), tst.ephemeral_owner), (format!("{root}/ttl").as_str(), 0));
    let (ts, _) = zk
        .create_ttl(
            &format!("{root}/ttls-"),
            b"x",
            &open(),
            CreateMode::PersistentSequentialWithTtl,
            Duration::from_secs(60),
        )
        .unwrap();
    assert!(zk_curator::path::sequence_number(&ts).is_some());
});

server_test!(shared create_errors, |srv| {
    let zk = srv.connect();
    let root = mk(&zk, &unique_root("create-err"), b"");
    let a = mk(&zk, &format!("{root}/a"), b"");
    let r = zk.create(&a, b"", &open(), CreateMode::Persistent);
    assert!(matches!(&r, Err(Error::NodeExists { path, .. }) if *path == a), "{r:?}");
    let r = zk.create(&format!("{root}/missing/x"), b"", &open(), CreateMode::Persistent);
    assert!(matches!(&r, Err(Error::NoNode { path, .. }) if path.ends_with("/missing/x")), "{r:?}");
    let e = zk
        .create(&format!("{root}/eph"), b"", &open(), CreateMode::Ephemeral)
        .unwrap();
    let r = zk.create(&format!("{e}/child"), b"", &open(), CreateMode::Persistent);
    assert!(matches!(r, Err(Error::NoChildrenForEphemerals { .. })), "{r:?}");
    let r = zk.create(&format!("{root}/noacl"), b"", &[], CreateMode::Persistent);
    assert!(matches!(r, Err(Error::InvalidAcl { .. })), "{r:?}");
    // auth: without any authenticated id is an invalid ACL on the server
    let r = zk.create(&format!("{root}/creator"), b"", &Acl::creator_all(), CreateMode::Persistent);
    assert!(matches!(r, Err(Error::InvalidAcl { .. })), "{r:?}");
    // TTL misuse is refused before sending
    let r = zk.create(&format!("{root}/t"), b"", &open(), CreateMode::PersistentWithTtl);
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    let r = zk.create_ttl(&format!("{root}/t"), b"", &open(), CreateMode::PersistentWithTtl, Duration::ZERO);
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    let r = zk.create("/a/", b"", &open(), CreateMode::Persistent);
    assert!(matches!(r, Err(Error::InvalidPath { .. })), "{r:?}");
    assert_eq!(zk.state(), States::Connected);
});

server_test!(shared data_and_versions, |srv| {
    let zk = srv.connect();
    let root = mk(&zk, &unique_root("data"), b"");
    let p = mk(&zk, &format!("{root}/d"), b"v0");
    let (d, st) = zk.get_data(&p, false).unwrap();
    assert_eq!((d.as_slice(), st.version), (&b"v0"[..], 0));
    let st1 = zk.set_data(&p, b"v1", 0).unwrap();
    assert_eq!(st1.version, 1);
    assert!(st1.mzxid > st.mzxid);
    assert_eq!(st1.czxid, st.czxid);
    let r = zk.set_data(&p, b"v2", 0);
    assert!(matches!(&r, Err(Error::BadVersion { path, .. }) if *path == p), "{r:?}");
    let st2 = zk.set_data(&p, b"", -1).unwrap();
    assert_eq!((st2.version, st2.data_length), (2, 0));
    assert_eq!(zk.get_data(&p, false).unwrap().0, b"");
    let r = zk.get_data(&format!("{root}/nope"), false);
    assert!(matches!(r, Err(Error::NoNode { .. })), "{r:?}");
    let r = zk.set_data(&format!("{root}/nope"), b"", -1);
    assert!(matches!(r, Err(Error::NoNode { .. })), "{r:?}");
    // exists
    assert_eq!(zk.exists(&p, false).unwrap().map(|s| s.version), Some(2));
    assert_eq!(zk.exists(&format!("{root}/nope"), false).unwrap(), None);
    // about the largest payload a server takes (1 MiB frame minus headers)
    let big = vec![0x5a; 1_048_000];
    zk.set_data(&p, &big, -1).unwrap();
    assert_eq!(zk.get_data(&p, false).unwrap().0.len(), big.len());
});

server_test!(shared delete_rules, |srv| {
    let zk = srv.connect();
    let root = mk(&zk, &unique_root("delete"), b"");
    let p = mk(&zk, &format!("{root}/x"), b"");
    mk(&zk, &format!("{p}/child"), b"");
    let r = zk.delete(&p, -1);
    assert!(matches!(&r, Err(Error::NotEmpty { path, .. }) if *path == p), "{r:?}");
    zk.delete(&format!("{p}/child"), -1).unwrap();
    let r = zk.delete(&p, 5);
    assert!(matches!(r, Err(Error::BadVersion { .. })), "{r:?}");
    zk.delete(&p, 0).unwrap();
    let r = zk.delete(&p, -1);
    assert!(matches!(r, Err(Error::NoNode { .. })), "{r:?}");
});

server_test!(shared children_and_counts, |srv| {
    let zk = srv.connect();
    let root = mk(&zk, &unique_root("children"), b"");
    for n in ["a", "b", "c"] {
        mk(&zk, &format!("{root}/{n}"), b"");
    }
    mk(&zk, &format!("{root}/a/deep"), b"");
    let mut kids = zk.get_children(&root, false).unwrap();
    kids.sort();
    assert_eq!(kids, vec!["a", "b", "c"]);
    let (kids2, st) = zk.get_children2(&root, false).unwrap();
    assert_eq!((kids2.len(), st.num_children, st.cversion), (3, 3, 3));
    assert_eq!(zk.get_all_children_number(&root).unwrap(), 4);
    let r = zk.get_children(&format!("{root}/nope"), false);
    assert!(matches!(r, Err(Error::NoNode { .. })), "{r:?}");
    assert!(zk.get_children(&format!("{root}/b"), false).unwrap().is_empty());
    zk.sync(&root).unwrap();
});

server_test!(shared ephemerals_listing, |srv| {
    let zk = srv.connect();
    let root = mk(&zk, &unique_root("ephemerals"), b"");
    let e1 = zk
        .create(&format!("{root}/e1"), b"", &open(), CreateMode::Ephemeral)
        .unwrap();
    let e2 = zk
        .create(&format!("{root}/e2-"), b"", &open(), CreateMode::EphemeralSequential)
        .unwrap();
    let mut mine = zk.get_ephemerals(&root).unwrap();
    mine.sort();
    assert_eq!(mine, vec![e1.clone(), e2]);
    assert_eq!(zk.get_ephemerals(&format!("{root}/e1")).unwrap(), vec![e1]);
    let other = srv.connect();
    assert!(other.get_ephemerals(&root).unwrap().is_empty());
});

server_test!(shared acls_and_auth, |srv| {
    let zk = srv.connect();
    let root = mk(&zk, &unique_root("acl"), b"");
    let p = mk(&zk, &format!("{root}/a"), b"");
    let (acl, st) = zk.get_acl(&p).unwrap();
    assert_eq!(acl, open());
    assert_eq!(st.aversion, 0);
    let r = zk.set_acl(&p, &open(), 3);
    assert!(matches!(r, Err(Error::BadVersion { .. })), "{r:?}");
    let st = zk.set_acl(&p, &Acl::read_unsafe(), 0).unwrap();
    assert_eq!(st.aversion, 1);
    // without ADMIN any further setACL is refused, whatever the version
    let r = zk.set_acl(&p, &open(), 1);
    assert!(matches!(r, Err(Error::NoAuth { .. })), "{r:?}");
    let r = zk.set_data(&p, b"x", -1);
    assert!(matches!(&r, Err(Error::NoAuth { path, .. }) if *path == p), "{r:?}");
    // digest: alice may read her node, an anonymous client may not
    let alice = srv.connect();
    alice.add_auth_info("digest", b"alice:secret").unwrap();
    let bob = srv.connect();
    let (tx, rx) = mpsc::channel();
    bob.add_auth_info_async("digest", b"bob:pw", move |r| tx.send(r.is_ok()).unwrap())
        .unwrap();
    assert!(rx.recv_timeout(Duration::from_secs(10)).unwrap());
    assert!(bob.who_am_i().unwrap().iter().any(|c| c.user == "bob"));
    let who = alice.who_am_i().unwrap();
    assert!(who.iter().any(|c| c.auth_scheme == "digest" && c.user == "alice"), "{who:?}");
    let secret = alice
        .create(&format!("{root}/secret"), b"s", &Acl::creator_all(), CreateMode::Persistent)
        .unwrap();
    assert_eq!(alice.get_data(&secret, false).unwrap().0, b"s");
    let r = zk.get_data(&secret, false);
    assert!(matches!(r, Err(Error::NoAuth { .. })), "{r:?}");
    let (acl, _) = alice.get_acl(&secret).unwrap();
    assert_eq!(acl.len(), 1);
    assert_eq!(acl[0].perms, Perms::ALL);
    assert_eq!(acl[0].id.scheme, "digest");
    assert!(acl[0].id.id.starts_with("alice:"));
    // an explicit digest id works the same
    let explicit = vec![Acl::new(Perms::READ, Id::new("digest", &acl[0].id.id))];
    let p2 = alice
        .create(&format!("{root}/explicit"), b"e", &explicit, CreateMode::Persistent)
        .unwrap();
    assert_eq!(alice.get_data(&p2, false).unwrap().0, b"e");
    assert!(matches!(zk.get_data(&p2, false), Err(Error::NoAuth { .. })));
});

server_test!(own bad_auth_kills_the_handle, |srv| {
    let (zk, events) = srv.connect_watched();
    events.expect_state(zk_curator::KeeperState::SyncConnected);
    let r = zk.add_auth_info("nosuchscheme", b"x");
    assert!(matches!(r, Err(Error::AuthFailed)), "{r:?}");
    events.expect_state(zk_curator::KeeperState::AuthFailed);
    assert_eq!(zk.state(), States::AuthFailed);
    assert!(matches!(zk.exists("/", false), Err(Error::AuthFailed)));
    zk.close().unwrap();
});

server_test!(shared multi_ops, |srv| {
    let zk = srv.connect();
    let root = mk(&zk, &unique_root("multi"), b"");
    let a = format!("{root}/a");
    let res = zk
        .multi(&[
            Op::create(&a, b"1", &open(), CreateMode::Persistent),
            Op::create(&format!("{root}/s-"), b"", &open(), CreateMode::PersistentSequential),
            Op::set_data(&a, b"2", 0),
            Op::check(&a, 1),
        ])
        .unwrap();
    assert!(matches!(&res[0], OpResult::Create { path, .. } if *path == a));
    assert!(matches!(&res[1], OpResult::Create { path, .. } if path.contains("/s-")));
    assert!(matches!(&res[2], OpResult::SetData { stat } if stat.version == 1));
    assert!(matches!(res[3], OpResult::Check));
    // a failing multi applies nothing and names the failing op
    let b = format!("{root}/b");
    let r = zk.multi(&[
        Op::create(&b, b"", &open(), CreateMode::Persistent),
        Op::delete(&format!("{root}/nope"), -1),
        Op::set_data(&a, b"3", -1),
    ]);
    assert!(matches!(&r, Err(Error::NoNode { path, .. }) if path.ends_with("/nope")), "{r:?}");
    assert!(zk.exists(&b, false).unwrap().is_none());
    let res = zk
        .multi_results(&[
            Op::create(&b, b"", &open(), CreateMode::Persistent),
            Op::check(&a, 7),
            Op::delete(&a, -1),
        ])
        .unwrap();
    assert!(matches!(res[0], OpResult::RolledBack));
    assert!(matches!(&res[1], OpResult::Error(Error::BadVersion { path, .. }) if *path == a));
    assert!(matches!(res[2], OpResult::Error(Error::RuntimeInconsistency { .. })));
    assert_eq!(zk.get_data(&a, false).unwrap().0, b"2");
    // reads: per-op results, not atomic
    let res = zk
        .multi_read(&[
            Op::get_data(&a),
            Op::get_children(&root),
            Op::get_data(&format!("{root}/nope")),
        ])
        .unwrap();
    assert!(matches!(&res[0], OpResult::GetData { data, stat } if data == b"2" && stat.version == 1));
    assert!(matches!(&res[1], OpResult::GetChildren { children } if children.len() == 2));
    assert!(matches!(&res[2], OpResult::Error(Error::NoNode { .. })));
    // mixing, empty
    let r = zk.multi(&[Op::get_data(&a)]);
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    assert!(zk.multi(&[]).unwrap().is_empty());
});

server_test!(shared async_forms_match_sync_and_keep_order, |srv| {
    let zk = srv.connect();
    let root = mk(&zk, &unique_root("async"), b"");
    let p = format!("{root}/a");
    let made = wait_cb(|cb| {
        zk.create_async(&p, b"x", &open(), CreateMode::Persistent, cb)
            .unwrap()
    });
    assert_eq!(made.unwrap(), p);
    let (d, st): (Vec<u8>, Stat) =
        wait_cb(|cb| zk.get_data_async(&p, false, cb).unwrap()).unwrap();
    assert_eq!((d.as_slice(), st.version), (&b"x"[..], 0));
    let st = wait_cb(|cb| zk.set_data_async(&p, b"y", 0, cb).unwrap()).unwrap();
    assert_eq!(st.version, 1);
    let r = wait_cb(|cb| zk.set_data_async(&p, b"z", 0, cb).unwrap());
    assert!(matches!(&r, Err(Error::BadVersion { path, .. }) if *path == p), "{r:?}");
    assert!(wait_cb(|cb| zk.exists_async(&p, false, cb).unwrap()).unwrap().is_some());
    assert!(wait_cb(|cb| zk.exists_async(&format!("{p}/x"), false, cb).unwrap())
        .unwrap()
        .is_none());
    let kids = wait_cb(|cb| zk.get_children_async(&root, false, cb).unwrap()).unwrap();
    assert_eq!(kids, vec!["a"]);
    let (acl, _) = wait_cb(|cb| zk.get_acl_async(&p, cb).unwrap()).unwrap();
    assert_eq!(acl, open());
    let n = wait_cb(|cb| zk.get_all_children_number_async(&root, cb).unwrap()).unwrap();
    assert_eq!(n, 1);
    wait_cb(|cb| zk.sync_async(&root, cb).unwrap()).unwrap();
    let res = wait_cb(|cb| zk.multi_async(&[Op::check(&p, 1)], cb).unwrap()).unwrap();
    assert!(matches!(res[0], OpResult::Check));
    wait_cb(|cb| zk.delete_async(&p, -1, cb).unwrap()).unwrap();
    let r = wait_cb(|cb| zk.delete_async(&p, -1, cb).unwrap());
    assert!(matches!(r, Err(Error::NoNode { .. })), "{r:?}");

    // completions come back in request order, mixed successes and failures
    let (tx, rx) = mpsc::channel();
    for i in 0..500 {
        let tx = tx.clone();
        let path = if i % 3 == 0 { format!("{root}/missing") } else { root.clone() };
        zk.exists_async(&path, false, move |r| {
            let _ = tx.send((i, r.map(|s| s.is_some())));
        })
        .unwrap();
    }
    for want in 0..500 {
        let (i, r) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(i, want);
        assert_eq!(r.unwrap(), want % 3 != 0);
    }
});

server_test!(shared chroot_is_applied_and_stripped, |srv| {
    let zk = srv.connect();
    let root = mk(&zk, &unique_root("chroot"), b"");
    let cz = ZooKeeper::builder(&format!("{}{root}", srv.connect_string()))
        .connect()
        .unwrap();
    assert_eq!(cz.chroot(), Some(root.as_str()));
    assert_eq!(cz.create("/a", b"1", &open(), CreateMode::Persistent).unwrap(), "/a");
    let s = cz
        .create("/s-", b"", &open(), CreateMode::EphemeralSequential)
        .unwrap();
    assert!(s.starts_with("/s-"), "{s}");
    assert_eq!(zk.get_data(&format!("{root}/a"), false).unwrap().0, b"1");
    assert_eq!(cz.get_children("/", false).unwrap().len(), 2);
    assert_eq!(cz.get_ephemerals("/").unwrap(), vec![s.clone()]);
    let r = cz.get_data("/nope", false);
    assert!(matches!(&r, Err(Error::NoNode { path, .. }) if path == "/nope"), "{r:?}");
    let res = cz
        .multi(&[Op::create("/m", b"", &open(), CreateMode::Persistent)])
        .unwrap();
    assert!(matches!(&res[0], OpResult::Create { path, .. } if path == "/m"));
    // the root of the chroot is the chroot node itself
    assert_eq!(cz.exists("/", false).unwrap().unwrap().czxid, zk.exists(&root, false).unwrap().unwrap().czxid);
});

server_test!(shared closed_handle_refuses_calls, |srv| {
    let zk = srv.connect();
    zk.close().unwrap();
    zk.close().unwrap();
    assert_eq!(zk.state(), States::Closed);
    assert!(matches!(zk.exists("/", false), Err(Error::Closed)));
    assert!(matches!(
        zk.exists_async("/", false, |_| {}),
        Err(Error::Closed)
    ));
    assert!(matches!(zk.multi(&[]), Err(Error::Closed)));
});

server_test!(shared drop_without_close_removes_ephemerals_at_once, |srv| {
    let watcher = srv.connect();
    let root = mk(&watcher, &unique_root("drop"), b"");
    let e = {
        let zk = srv.connect();
        zk.create(&format!("{root}/e"), b"", &open(), CreateMode::Ephemeral)
            .unwrap()
    }; // dropped here: closeSession sent
    assert!(watcher.exists(&e, false).unwrap().is_none());
});
