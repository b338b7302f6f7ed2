//! A Java Curator PersistentNode / GroupMember and zk-curator's GroupMember / PersistentNode in
//! one group see each other, and each side's node comes back after the other side deletes it.
//! Java's and zk-curator's PersistentTtlNode make the same nodes, keep each other's alive, and
//! leave them to the server's TTL when closed.

mod support;

use std::time::{Duration, Instant};

use support::curator::CuratorJava;
use support::{wait_until, Kind, RealServer, ServerOptions};
use zk_curator::recipes::nodes::{GroupMember, PersistentNode, PersistentTtlNode};
use zk_curator::testing::TestingServer;
use zk_curator::{CreateMode, CuratorFramework};

const T: Duration = Duration::from_secs(30);

server_test!(shared java_persistent_node_and_rust_group_member, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = support::unique_root("inodes");
    let group = format!("{root}/group");
    let rust = srv.curator();
    let mut agent = java.spawn("NodeAgent", &[&srv.connect_string()]);

    let java_path = agent.ok(&format!("node-start EPHEMERAL {group}/java-node from-java"), T);
    assert_eq!(java_path, format!("{group}/java-node"));
    let me = GroupMember::new_with_payload(&rust, &group, "rust-member", b"from-rust").unwrap();
    me.start().unwrap();
    // The Rust member sees the Java node, with its data.
    assert!(wait_until(T, || me
        .current_members()
        .get("java-node")
        .is_some_and(|d| d == b"from-java")));
    // A Java GroupMember sees the Rust member (and the Java node).
    agent.ok(&format!("group-start {group} java-member from-java-member"), T);
    let expected = "java-member=from-java-member,java-node=from-java,rust-member=from-rust";
    assert!(
        wait_until(T, || agent.ok("group-members", T) == expected),
        "Java sees {}",
        agent.ok("group-members", T)
    );
    assert!(wait_until(T, || me.current_members().len() == 3));

    // Each side puts its node back when the other deletes it.
    rust.delete().for_path(&java_path).unwrap();
    assert!(wait_until(T, || rust.check_exists().for_path(&java_path).unwrap().is_some()));
    assert!(wait_until(T, || me.current_members().contains_key("java-node")));
    agent.ok("node-close", T);
    assert!(wait_until(T, || !me.current_members().contains_key("java-node")));

    let rust_node = PersistentNode::new(&rust, CreateMode::Ephemeral, false, &format!("{group}/rust-node"), b"rn")
        .unwrap();
    rust_node.start().unwrap();
    assert!(rust_node.wait_for_initial_create(T).unwrap());
    assert!(wait_until(T, || agent.ok("group-members", T).contains("rust-node=rn")));
    let zk = srv.connect();
    zk.delete(&format!("{group}/rust-node"), -1).unwrap();
    assert!(wait_until(T, || rust.check_exists().for_path(&format!("{group}/rust-node")).unwrap().is_some()));
    rust_node.close();
    me.close();
    assert!(wait_until(T, || {
        let seen = agent.ok("group-members", T);
        !seen.contains("rust-member") && !seen.contains("rust-node")
    }));
    zk.close().unwrap();
    assert!(agent.stop());
    rust.close();
});

/// Java's and zk-curator's PersistentTtlNode side by side (Curator 5.4's layout: the node is a
/// container, its child `touch` a TTL node set every ttl / 2), then each keeping the other's
/// node alive after the other closed, then the server removing both once nobody touches them.
/// TTL nodes need `extendedTypesEnabled=true` (the harness's real server has it; the
/// TestingServer always does) and a container/TTL reaper that runs often: real ZooKeeper gets
/// `znode.container.checkIntervalMs=200`, the TestingServer's runs every 100 ms.
fn ttl_nodes_from_both_languages(kind: Kind) {
    let Some(java) = CuratorJava::get() else {
        return;
    };
    let (connect, _server): (String, Box<dyn std::any::Any>) = match kind {
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
    let rust = zk_curator::CuratorFrameworkFactory::builder()
        .connect_string(&connect)
        .retry_policy(zk_curator::RetryNTimes::new(3, Duration::from_millis(50)))
        .build()
        .unwrap();
    rust.start().unwrap();
    let mut agent = java.spawn("NodeAgent", &[&connect]);
    let ttl = Duration::from_millis(2000);
    let ms = ttl.as_millis().to_string();

    // One node from each side.
    agent.ok(&format!("ttl-start /ttl/java {ms} from-java"), T);
    let ours = PersistentTtlNode::new(&rust, "/ttl/rust", ttl, b"from-rust").unwrap();
    ours.start().unwrap();
    assert!(ours.wait_for_initial_create(T).unwrap());
    // Each touch child appears after ttl / 2 and is touched again (setData) every ttl / 2.
    for p in ["/ttl/java/touch", "/ttl/rust/touch"] {
        assert!(
            wait_until(T, || stat(&rust, p).is_some_and(|s| s.version >= 2)),
            "{p} touched: {:?}",
            stat(&rust, p)
        );
    }
    // The same layout on both sides: the node with its data and one child, `touch`, holding
    // the writer's default data (Curator's: the local address as text). The Stat cannot
    // show the node types (ZooKeeper reports an ephemeralOwner of 0 for containers and TTL
    // nodes alike); the end of the test proves them by the server removing both levels.
    let java_default = agent.ok("default-data", T).into_bytes();
    let mut side = Vec::new();
    for (p, data, default) in [
        ("/ttl/java", "from-java", java_default),
        ("/ttl/rust", "from-rust", rust.default_data().to_vec()),
    ] {
        assert_eq!(rust.get_data().for_path(p).unwrap(), data.as_bytes(), "{p}");
        assert_eq!(rust.get_children().for_path(p).unwrap(), ["touch"], "{p}");
        let touch = format!("{p}/touch");
        assert_eq!(
            rust.get_data().for_path(&touch).unwrap(),
            default,
            "{touch}"
        );
        let (node, touch) = (stat(&rust, p).unwrap(), stat(&rust, &touch).unwrap());
        side.push((
            node.ephemeral_owner,
            touch.ephemeral_owner,
            touch.num_children,
        ));
    }
    assert_eq!(side[0], side[1], "Java's and Rust's nodes differ");
    let mut kids = rust.get_children().for_path("/ttl").unwrap();
    kids.sort();
    assert_eq!(kids, ["java", "rust"]);

    // Rust keeps Java's node alive once Java closes it, and Java Rust's.
    let joined = PersistentTtlNode::new(&rust, "/ttl/java", ttl, b"from-java").unwrap();
    joined.start().unwrap();
    assert!(joined.wait_for_initial_create(T).unwrap());
    agent.ok(&format!("ttl-start /ttl/rust {ms} from-rust"), T);
    agent.ok("ttl-close /ttl/java", T);
    ours.close();
    let closed = Instant::now();
    let touched = |p: &str| stat(&rust, p).map_or(0, |s| s.version);
    let (java_v, rust_v) = (touched("/ttl/java/touch"), touched("/ttl/rust/touch"));
    // Well past the TTL of the last touch by the side that closed: still there, and touched.
    while closed.elapsed() < ttl * 2 {
        for p in ["/ttl/java/touch", "/ttl/rust/touch"] {
            assert!(
                stat(&rust, p).is_some(),
                "{p} gone after {:?}",
                closed.elapsed()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        touched("/ttl/java/touch") > java_v,
        "Rust kept touching Java's node"
    );
    assert!(
        touched("/ttl/rust/touch") > rust_v,
        "Java kept touching Rust's node"
    );

    // Nobody touches them any more: the TTL children go, then the empty containers, then
    // /ttl, which each side created as a container parent.
    joined.close();
    agent.ok("ttl-close /ttl/rust", T);
    assert!(
        wait_until(T, || stat(&rust, "/ttl").is_none()),
        "left: {:?}",
        rust.get_children().for_path("/ttl")
    );
    assert!(agent.stop());
    rust.close();
}

fn stat(c: &CuratorFramework, path: &str) -> Option<zk_curator::proto::Stat> {
    c.check_exists().for_path(path).unwrap()
}

#[test]
fn ttl_nodes_from_both_languages_real() {
    ttl_nodes_from_both_languages(Kind::Real);
}

#[test]
fn ttl_nodes_from_both_languages_in_process() {
    ttl_nodes_from_both_languages(Kind::InProcess);
}
