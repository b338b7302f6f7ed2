//! What an error says: every answer of the server names the operation and the path (the
//! caller's, namespace removed), foreground and background, through the framework and the
//! low-level handle; a request over the packet limit says how much of it is data and what the
//! limit is. Against both server kinds, since the codes are the server's.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use support::unique_root;
use zk_curator::proto::OpCode;
use zk_curator::{Acl, CreateMode, Error};

fn says(r: Result<impl std::fmt::Debug, Error>, want: &str, op: OpCode) {
    let e = r.expect_err(want);
    assert_eq!(e.to_string(), want, "{e:?}");
    assert_eq!(e.op(), Some(op), "{e:?}");
}

server_test!(shared server_errors_name_the_operation_and_the_path, |srv| {
    let c = srv.curator();
    let root = unique_root("errors");
    c.create().for_path(&root).unwrap();
    let a = format!("{root}/a");
    c.create().for_path(&a).unwrap();
    c.create().for_path(&format!("{a}/child")).unwrap();

    says(
        c.delete().for_path("/zookeeper"),
        "delete /zookeeper: bad arguments",
        OpCode::Delete,
    );
    says(
        c.get_data().for_path(&format!("{root}/missing")),
        &format!("get_data {root}/missing: no node"),
        OpCode::GetData,
    );
    says(
        c.create().for_path(&a),
        &format!("create {a}: node exists"),
        OpCode::Create,
    );
    says(
        c.set_data().with_version(7).for_path(&a, b"x"),
        &format!("set_data {a}: bad version"),
        OpCode::SetData,
    );
    says(
        c.delete().for_path(&a),
        &format!("delete {a}: node has children"),
        OpCode::Delete,
    );
    says(
        c.get_children().for_path(&format!("{root}/missing")),
        &format!("get_children {root}/missing: no node"),
        OpCode::GetChildren2,
    );
    says(
        c.set_acl().with_acl(&Acl::open_unsafe()).for_path(&format!("{root}/missing")),
        &format!("set_acl {root}/missing: no node"),
        OpCode::SetAcl,
    );

    // In a namespace the path is the caller's.
    let ns = c.using_namespace(Some(&root[1..])).unwrap();
    says(ns.get_data().for_path("/nope"), "get_data /nope: no node", OpCode::GetData);

    // Background: the event's error says the same.
    let (tx, rx) = mpsc::channel();
    c.delete()
        .in_background(move |_, e| {
            let _ = tx.send(e.error().map(ToString::to_string));
        })
        .for_path(&a)
        .unwrap();
    let got = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(got.as_deref(), Some(format!("delete {a}: node has children").as_str()));

    // Inside a transaction: the failing operation and its path.
    let op = c.transaction_op().delete().with_version(3).for_path(&a).unwrap();
    let e = c.transaction().for_operations(vec![op]).unwrap_err();
    assert_eq!(e.to_string(), format!("delete {a}: bad version"), "{e:?}");

    // The low-level handle names them too.
    let zk = srv.connect();
    let e = zk
        .create(&a, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap_err();
    assert_eq!(e.to_string(), format!("create {a}: node exists"));
    let (tx, rx) = mpsc::channel();
    zk.get_data_async(&format!("{root}/gone"), false, move |r| {
        let _ = tx.send(r.map(|_| ()));
    })
    .unwrap();
    let e = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap_err();
    assert_eq!(e.to_string(), format!("get_data {root}/gone: no node"));
    c.close();
});

server_test!(shared an_oversized_request_says_its_data_size_and_the_limit, |srv| {
    let c = srv.curator();
    let root = unique_root("oversized");
    c.create().for_path(&root).unwrap();
    let big = vec![0u8; 2 << 20];
    let e = c.set_data().for_path(&root, &big).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    for part in [
        format!("set_data {root}"),
        format!("{} bytes of data", big.len()),
        "exceeds the packet limit of 1048575 bytes".to_string(),
        "max_buffer_size".to_string(),
    ] {
        assert!(msg.contains(&part), "{part:?} not in {msg}");
    }
    c.close();
});
