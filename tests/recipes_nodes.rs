//! PersistentNode, PersistentTtlNode and GroupMember on both server kinds: layouts, the node
//! back within 1 s of a session expiry and of a foreign delete, no node kept under a stale
//! session, no second node after a lost create reply, data surviving reconnects, bad input,
//! nothing left after close().

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::events::WAIT;
use support::proxy::{outage, proxied_client, Proxy};
use support::{wait_until, Kind, RealServer, ServerOptions};
use zk_curator::framework::protection;
use zk_curator::proto::OpCode;
use zk_curator::recipes::nodes::{GroupMember, PersistentNode, PersistentTtlNode};
use zk_curator::testing::TestingServer;
use zk_curator::{CreateMode, CuratorFramework, Error, ZooKeeper};

/// How fast a lost node must be back (the bound).
const BACK: Duration = Duration::from_secs(1);

fn handle(c: &CuratorFramework) -> Arc<ZooKeeper> {
    c.zookeeper_client().zookeeper().unwrap()
}

fn owner(c: &CuratorFramework, p: &str) -> Option<i64> {
    c.check_exists()
        .for_path(p)
        .unwrap()
        .map(|s| s.ephemeral_owner)
}

server_test!(shared modes_layout_data_and_close, |srv| {
    let root = support::unique_root("pnode");
    let c = srv.curator();
    let other = srv.curator();

    let eph = PersistentNode::new(&c, CreateMode::Ephemeral, false, &format!("{root}/a/eph"), b"one")
        .unwrap();
    let created = Arc::new(Mutex::new(Vec::new()));
    let cr = created.clone();
    eph.listenable()
        .add_listener(move |p: &str| cr.lock().unwrap().push(p.to_string()));
    eph.start().unwrap();
    assert!(eph.wait_for_initial_create(WAIT).unwrap());
    let p = eph.actual_path().unwrap();
    assert_eq!(p, format!("{root}/a/eph"));
    assert_eq!(owner(&other, &p), Some(handle(&c).session_id()));
    assert_eq!(other.get_data().for_path(&p).unwrap(), b"one");
    assert!(wait_until(WAIT, || created.lock().unwrap().as_slice() == [p.clone()]));
    eph.set_data(b"two").unwrap();
    assert!(wait_until(WAIT, || other.get_data().for_path(&p).unwrap() == b"two"));

    // Sequential: always protected, so that a lost reply is found again.
    let seq = PersistentNode::new(&c, CreateMode::PersistentSequential, false, &format!("{root}/q/item-"), b"s")
        .unwrap();
    seq.start().unwrap();
    assert!(seq.wait_for_initial_create(WAIT).unwrap());
    let sp = seq.actual_path().unwrap();
    let name = zk_curator::path::node_name(&sp);
    assert!(protection::is_protected_znode(name), "{name}");
    assert!(protection::normalize(name).starts_with("item-"), "{name}");
    assert_eq!(owner(&other, &sp), Some(0));

    let cont = PersistentNode::new(&c, CreateMode::Container, false, &format!("{root}/cont"), b"")
        .unwrap();
    cont.start().unwrap();
    assert!(cont.wait_for_initial_create(WAIT).unwrap());

    let prot = PersistentNode::new(&c, CreateMode::Ephemeral, true, &format!("{root}/p/member"), b"")
        .unwrap();
    prot.start().unwrap();
    assert!(prot.wait_for_initial_create(WAIT).unwrap());
    let pp = prot.actual_path().unwrap();
    assert!(protection::is_protected_znode(zk_curator::path::node_name(&pp)));

    // close() deletes each node, whatever its mode.
    for (n, path) in [(&eph, p), (&seq, sp), (&prot, pp)] {
        n.close();
        assert!(n.actual_path().is_none());
        assert!(other.check_exists().for_path(&path).unwrap().is_none(), "{path}");
    }
    cont.close();
    assert!(other.check_exists().for_path(&format!("{root}/cont")).unwrap().is_none());
    assert!(handle(&c).get_ephemerals("/").unwrap().is_empty());
    c.close();
    other.close();
});

server_test!(shared back_within_a_second_after_expiry_and_foreign_delete, |srv| {
    let root = support::unique_root("back");
    let proxy = Proxy::start(&srv.connect_string());
    let c = proxied_client(&proxy);
    let other = srv.curator();
    let path = format!("{root}/eph");
    let node = PersistentNode::new(&c, CreateMode::Ephemeral, false, &path, b"x").unwrap();
    node.start().unwrap();
    assert!(node.wait_for_initial_create(WAIT).unwrap());

    // Deleted by someone else.
    let t = Instant::now();
    other.delete().for_path(&path).unwrap();
    assert!(
        wait_until(BACK, || other.check_exists().for_path(&path).unwrap().is_some()),
        "not back within {BACK:?} of a delete"
    );
    eprintln!("back {:?} after a foreign delete", t.elapsed());

    // Its session expires (while it is cut off; it learns of it on reconnecting).
    let old = handle(&c).session_id();
    proxy.refuse(true);
    proxy.drop_connections();
    srv.expire(&handle(&c));
    assert!(other.check_exists().for_path(&path).unwrap().is_none());
    proxy.refuse(false);
    let t = Instant::now();
    assert!(
        wait_until(BACK, || owner(&other, &path).is_some_and(|o| o != old)),
        "not back within {BACK:?} of the session's expiry"
    );
    eprintln!("back {:?} after the session expired", t.elapsed());
    assert_eq!(owner(&other, &path), Some(handle(&c).session_id()));

    // A persistent sequential node comes back with the same name after a delete.
    let seq = PersistentNode::new(&c, CreateMode::PersistentSequential, true, &format!("{root}/s-"), b"")
        .unwrap();
    seq.start().unwrap();
    assert!(seq.wait_for_initial_create(WAIT).unwrap());
    let sp = seq.actual_path().unwrap();
    other.delete().for_path(&sp).unwrap();
    assert!(wait_until(BACK, || other.check_exists().for_path(&sp).unwrap().is_some()));
    assert_eq!(seq.actual_path().unwrap(), sp);
    node.close();
    seq.close();
    c.close();
    other.close();
});

server_test!(shared never_kept_under_a_stale_session, |srv| {
    let root = support::unique_root("stale");
    let c = srv.curator();
    let other = srv.curator();
    let path = format!("{root}/eph");
    let node = PersistentNode::new(&c, CreateMode::Ephemeral, false, &path, b"x").unwrap();
    node.start().unwrap();
    assert!(node.wait_for_initial_create(WAIT).unwrap());
    // The client presumes its session lost (as after a long suspension) while the server
    // still keeps it: the node is still there, owned by the old session.
    let old = handle(&c);
    let (old_id, old_pw) = (old.session_id(), old.session_password());
    old.inject_session_expiration();
    // The node must move to the new session, not be adopted as it is: when the old session
    // ends, an adopted node would vanish.
    assert!(wait_until(WAIT, || {
        let now = handle(&c).session_id();
        now != old_id && owner(&other, &path) == Some(now)
    }));
    // End the old session on the server: the node stays.
    let ghost = srv
        .builder()
        .session(old_id, &old_pw)
        .connect()
        .map(|zk| zk.close());
    let _ = ghost;
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(owner(&other, &path), Some(handle(&c).session_id()));
    node.close();
    c.close();
    other.close();
});

server_test!(shared lost_create_reply_leaves_one_node, |srv| {
    let root = support::unique_root("lost-create");
    let proxy = Proxy::start(&srv.connect_string());
    let c = proxied_client(&proxy);
    let other = srv.curator();
    for (mode, protect, base) in [
        (CreateMode::EphemeralSequential, true, format!("{root}/es/member-")),
        (CreateMode::PersistentSequential, false, format!("{root}/ps/item-")),
        (CreateMode::Ephemeral, false, format!("{root}/e/node")),
        (CreateMode::Ephemeral, true, format!("{root}/ep/node")),
    ] {
        let parent = zk_curator::path::parent(&base).unwrap().to_string();
        other.create().creating_parents_if_needed().for_path(&parent).unwrap();
        // The create reaches the server; its reply is cut.
        proxy.lose_next_reply_to(OpCode::Create);
        let node = PersistentNode::new(&c, mode, protect, &base, b"d").unwrap();
        node.start().unwrap();
        assert!(node.wait_for_initial_create(WAIT).unwrap(), "{mode:?}");
        let kids = other.get_children().for_path(&parent).unwrap();
        assert_eq!(kids.len(), 1, "{mode:?}: {kids:?}");
        assert_eq!(
            zk_curator::path::node_name(&node.actual_path().unwrap()),
            kids[0]
        );
        node.close();
        assert!(wait_until(WAIT, || other.get_children().for_path(&parent).unwrap().is_empty()));
    }
    c.close();
    other.close();
});

server_test!(shared foreign_ephemeral_is_waited_out, |srv| {
    let root = support::unique_root("foreign");
    let path = format!("{root}/eph");
    let c = srv.curator();
    let squatter = srv.curator();
    squatter
        .create()
        .creating_parents_if_needed()
        .with_mode(CreateMode::Ephemeral)
        .for_path_with_data(&path, b"theirs")
        .unwrap();
    let node = PersistentNode::new(&c, CreateMode::Ephemeral, false, &path, b"ours").unwrap();
    node.start().unwrap();
    assert!(!node.wait_for_initial_create(Duration::from_millis(500)).unwrap());
    assert_eq!(c.get_data().for_path(&path).unwrap(), b"theirs", "not taken over");
    squatter.close();
    assert!(node.wait_for_initial_create(WAIT).unwrap());
    assert_eq!(c.get_data().for_path(&path).unwrap(), b"ours");
    assert_eq!(owner(&c, &path), Some(handle(&c).session_id()));
    node.close();
    c.close();
});

server_test!(shared data_and_node_survive_an_outage, |srv| {
    let root = support::unique_root("outage");
    let path = format!("{root}/eph");
    let proxy = Proxy::start(&srv.connect_string());
    let c = proxied_client(&proxy);
    let other = srv.curator();
    let node = PersistentNode::new(&c, CreateMode::Ephemeral, false, &path, b"v1").unwrap();
    node.start().unwrap();
    assert!(node.wait_for_initial_create(WAIT).unwrap());
    // Data changed while cut off, and the session expires meanwhile.
    outage(srv, &proxy, &c, true, || {
        node.set_data(b"v2").unwrap();
    });
    assert!(wait_until(WAIT, || other
        .get_data()
        .for_path(&path)
        .is_ok_and(|d| d == b"v2")));
    assert_eq!(owner(&other, &path), Some(handle(&c).session_id()));
    // A plain drop: same session, the node stays.
    proxy.drop_connections();
    node.set_data(b"v3").unwrap();
    assert!(wait_until(WAIT, || other
        .get_data()
        .for_path(&path)
        .is_ok_and(|d| d == b"v3")));
    node.close();
    assert!(other.check_exists().for_path(&path).unwrap().is_none());
    c.close();
    other.close();
});

server_test!(shared bad_input_is_refused, |srv| {
    let root = support::unique_root("bad-node");
    let c = srv.curator();
    for bad in ["rel", "/a//b", "/a/"] {
        assert!(matches!(
            PersistentNode::new(&c, CreateMode::Ephemeral, false, bad, b""),
            Err(Error::InvalidPath { .. })
        ), "{bad}");
    }
    // A trailing slash is fine for a sequential name.
    assert!(PersistentNode::new(&c, CreateMode::EphemeralSequential, false, "/q/", b"").is_ok());
    let big = vec![0u8; 2 << 20];
    assert!(matches!(
        PersistentNode::new(&c, CreateMode::Ephemeral, false, &format!("{root}/big"), &big),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        PersistentNode::new(&c, CreateMode::PersistentWithTtl, false, &format!("{root}/ttl"), b""),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        PersistentNode::builder(&c, &format!("{root}/ttl"))
            .mode(CreateMode::Persistent)
            .ttl(Duration::from_secs(1))
            .build(),
        Err(Error::InvalidArgument(_))
    ));
    let node = PersistentNode::new(&c, CreateMode::Ephemeral, false, &format!("{root}/n"), b"").unwrap();
    assert!(matches!(node.wait_for_initial_create(WAIT), Err(Error::InvalidArgument(_))));
    node.start().unwrap();
    assert!(matches!(node.start(), Err(Error::InvalidArgument(_))));
    assert!(matches!(node.set_data(&big), Err(Error::InvalidArgument(_))));
    node.close();
    node.close();
    assert!(matches!(node.set_data(b"x"), Err(Error::Closed)));
    assert!(matches!(
        GroupMember::new(&c, &format!("{root}/g"), "a/b"),
        Err(Error::InvalidPath { .. })
    ));
    assert!(matches!(GroupMember::new(&c, &format!("{root}/g"), ""), Err(Error::InvalidPath { .. })));
    c.close();
});

server_test!(shared group_members_see_each_other, |srv| {
    let root = support::unique_root("group");
    let group = format!("{root}/members");
    let proxy = Proxy::start(&srv.connect_string());
    let (a, b) = (proxied_client(&proxy), srv.curator());
    let m1 = GroupMember::new_with_payload(&a, &group, "one", b"p1").unwrap();
    let m2 = GroupMember::new_with_payload(&b, &group, "two", b"p2").unwrap();
    let m3 = GroupMember::new_with_payload(&b, &group, "three", b"p3").unwrap();
    for m in [&m1, &m2, &m3] {
        m.start().unwrap();
    }
    let all: BTreeSet<String> = ["one", "two", "three"].iter().map(|s| s.to_string()).collect();
    for m in [&m1, &m2, &m3] {
        assert!(
            wait_until(WAIT, || m.current_members().keys().cloned().collect::<BTreeSet<_>>() == all),
            "{m:?} sees {:?}",
            m.current_members()
        );
    }
    assert_eq!(m1.current_members().get("two").map(Vec::as_slice), Some(&b"p2"[..]));
    m2.set_this_data(b"p2'").unwrap();
    assert!(wait_until(WAIT, || m1.current_members().get("two").map(Vec::as_slice)
        == Some(&b"p2'"[..])));
    assert_eq!(m1.id_from_path(&format!("{group}/two")), "two");

    // Leaving: the others see it go.
    m3.close();
    assert!(wait_until(WAIT, || !m1.current_members().contains_key("three")));
    // A member whose session expires comes back.
    outage(srv, &proxy, &a, true, || {});
    assert!(wait_until(WAIT, || {
        b.check_exists()
            .for_path(&format!("{group}/one"))
            .unwrap()
            .is_some_and(|s| s.ephemeral_owner == handle(&a).session_id())
    }));
    assert!(wait_until(WAIT, || m2.current_members().contains_key("one")));
    m1.close();
    m2.close();
    assert!(wait_until(WAIT, || b.get_children().for_path(&group).map(|k| k.is_empty()).unwrap_or(true)));
    a.close();
    b.close();
});

/// PersistentTtlNode needs the server's container/TTL reaper to run often: the TestingServer's
/// runs every 100 ms; real ZooKeeper gets `znode.container.checkIntervalMs=200`.
fn ttl_node_lives_while_touched_and_goes_after(kind: Kind) {
    let (connect, _guard): (String, Box<dyn std::any::Any>) = match kind {
        Kind::Real => {
            let Some(s) = RealServer::start_with(
                ServerOptions::new().system_property("znode.container.checkIntervalMs=200"),
            ) else {
                return;
            };
            (s.connect_string(), Box::new(s))
        }
        Kind::InProcess => {
            let s = TestingServer::start().unwrap();
            (s.connect_string(), Box::new(s))
        }
    };
    let c = zk_curator::CuratorFrameworkFactory::builder()
        .connect_string(&connect)
        .retry_policy(zk_curator::RetryNTimes::new(3, Duration::from_millis(50)))
        .build()
        .unwrap();
    c.start().unwrap();
    let ttl = Duration::from_millis(1500);
    let node = PersistentTtlNode::new(&c, "/ttl/worker", ttl, b"busy").unwrap();
    node.start().unwrap();
    assert!(node.wait_for_initial_create(WAIT).unwrap());
    assert_eq!(c.get_data().for_path("/ttl/worker").unwrap(), b"busy");
    // The touch child appears after ttl/2, as a TTL node, and keeps both alive beyond the TTL.
    assert!(wait_until(WAIT, || c
        .check_exists()
        .for_path("/ttl/worker/touch")
        .unwrap()
        .is_some()));
    std::thread::sleep(ttl * 2);
    assert!(c
        .check_exists()
        .for_path("/ttl/worker/touch")
        .unwrap()
        .is_some());
    assert!(c.check_exists().for_path("/ttl/worker").unwrap().is_some());
    node.close();
    // Not touched any more: the child expires, then the empty container goes.
    assert!(wait_until(WAIT * 2, || c
        .check_exists()
        .for_path("/ttl/worker")
        .unwrap()
        .is_none()));
    c.close();
}

#[test]
fn ttl_node_lives_while_touched_and_goes_after_real() {
    ttl_node_lives_while_touched_and_goes_after(Kind::Real);
}

#[test]
fn ttl_node_lives_while_touched_and_goes_after_in_process() {
    ttl_node_lives_while_touched_and_goes_after(Kind::InProcess);
}
