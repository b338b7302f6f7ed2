//! A Java Curator PersistentNode / GroupMember and zk-curator's GroupMember / PersistentNode in
//! one group see each other, and each side's node comes back after the other side deletes it.

mod support;

use std::time::Duration;

use support::curator::CuratorJava;
use support::wait_until;
use zk_curator::recipes::nodes::{GroupMember, PersistentNode};
use zk_curator::CreateMode;

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
