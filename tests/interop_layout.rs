//! Java Curator and zk-curator on one server agree on what recipes build on: protected
//! sequential node names, the order lock recipes sort children in, and compressed node data.
//! Also the smoke test of the interoperability harness (tests/support/curator.rs) that the
//! recipe interop tests use.

mod support;

use std::time::Duration;

use support::curator::CuratorJava;
use zk_curator::framework::protection;
use zk_curator::{path, CreateMode};

const T: Duration = Duration::from_secs(30);

server_test!(shared protected_names_and_lock_order_agree, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = support::unique_root("layout");
    let rust = srv.curator();
    let mut agent = java.spawn("LayoutAgent", &[&srv.connect_string()]);

    // Both languages take turns adding protected ephemeral-sequential `lock-` nodes.
    let mut made = Vec::new();
    for i in 0..3 {
        let j = agent.ok(&format!("create-protected {root}/lock- java{i}"), T);
        let r = rust
            .create()
            .creating_parent_containers_if_needed()
            .with_protection()
            .with_mode(CreateMode::EphemeralSequential)
            .for_path_with_data(&format!("{root}/lock-"), format!("rust{i}").as_bytes())
            .unwrap();
        made.push(j);
        made.push(r);
    }
    // Creation order is sequence order; both sides sort the children into it.
    let expected: Vec<String> = made.iter().map(|p| path::node_name(p).to_string()).collect();
    let mut children = rust.get_children().for_path(&root).unwrap();
    path::sort_children(&mut children, "lock-");
    assert_eq!(children, expected);
    assert_eq!(agent.ok(&format!("sorted {root} lock-"), T), expected.join(","));

    for name in &expected {
        assert!(protection::is_protected_znode(name), "{name}");
        assert_eq!(agent.ok(&format!("is-protected {name}"), T), "true", "{name}");
    }
    assert!(agent.stop());
    rust.close();
});

#[cfg(feature = "gzip")] // the default provider's gzip
server_test!(shared compressed_data_reads_back_across_languages, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = support::unique_root("gzip");
    let rust = srv.curator();
    let mut agent = java.spawn("LayoutAgent", &[&srv.connect_string()]);

    agent.ok(&format!("set-compressed {root}/from-java hello-from-java"), T);
    let got = rust.get_data().decompressed().for_path(&format!("{root}/from-java")).unwrap();
    assert_eq!(got, b"hello-from-java");

    rust.create()
        .creating_parents_if_needed()
        .compressed()
        .for_path_with_data(&format!("{root}/from-rust"), b"hello-from-rust")
        .unwrap();
    assert_eq!(agent.ok(&format!("get-decompressed {root}/from-rust"), T), "hello-from-rust");
    rust.close();
});
