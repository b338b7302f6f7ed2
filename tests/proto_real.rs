//! The codec against real ZooKeeper 3.8, node operations: every create variant, the data,
//! children and count ops, multi and multiRead, each encoded with `zk_curator::proto`, sent
//! over a plain `TcpStream` ([`RawConn`]) and its reply decoded and checked field by field.
//! Session ops are in `proto_real_session.rs`, watch ops in `proto_real_watches.rs`.
//!
//! Each test works under its own root on the binary's shared server.

mod support;

use support::raw::{create_req, get_data};
use support::{unique_root, RawConn, RealServer};
use zk_curator::proto::*;
use zk_curator::Error;

fn server() -> Option<&'static RealServer> {
    RealServer::shared()
}

fn mkdir(conn: &mut RawConn, path: &str) {
    conn.ok(Request::Create(create_req(path, None, 0)));
}

#[test]
fn create_variants_return_path_and_stat() {
    let Some(zk) = server() else { return };
    let mut c = RawConn::connect(zk.port());
    let root = unique_root("create");

    let (h, body) = c
        .call(Request::Create(create_req(&root, Some(b"r"), 0)))
        .expect("a reply")
        .into_parts();
    assert_eq!(
        (h.err, body),
        (
            0,
            Some(Response::Create(CreateResponse { path: root.clone() }))
        )
    );
    assert!(h.zxid > 0);

    // Sequential: the server appends %010d of the parent's child counter.
    let seq = format!("{root}/s-");
    let Response::Create(r) = c.ok(Request::Create(create_req(&seq, None, 2))) else {
        panic!("create answers CreateResponse")
    };
    assert_eq!(r.path, format!("{seq}0000000000"));

    let p2 = format!("{root}/c2");
    let (h, body) = c
        .call(Request::Create2(create_req(&p2, Some(b"abc"), 1)))
        .expect("a reply")
        .into_parts();
    let Some(Response::Create2(r)) = body else {
        panic!("create2 answers Create2Response")
    };
    assert_eq!(r.path, p2);
    assert_eq!(
        (r.stat.czxid, r.stat.mzxid, r.stat.pzxid),
        (h.zxid, h.zxid, h.zxid)
    );
    assert_eq!(
        (r.stat.version, r.stat.data_length, r.stat.num_children),
        (0, 3, 0)
    );
    assert_eq!(
        r.stat.ephemeral_owner, c.session.session_id,
        "flags 1 is ephemeral"
    );
    assert!(r.stat.ctime > 0 && r.stat.ctime == r.stat.mtime);

    let pc = format!("{root}/container");
    let Response::Create2(r) = c.ok(Request::CreateContainer(create_req(&pc, None, 4))) else {
        panic!("createContainer answers Create2Response")
    };
    assert_eq!((r.path.as_str(), r.stat.ephemeral_owner), (pc.as_str(), 0));

    let pt = format!("{root}/ttl");
    let ttl = Request::CreateTtl(CreateTtlRequest {
        path: pt.clone(),
        data: Some(b"t".to_vec()),
        acl: Acl::open_unsafe(),
        flags: CreateMode::PersistentWithTtl.code(),
        ttl: 60_000,
    });
    let Response::Create2(r) = c.ok(ttl) else {
        panic!("createTTL answers Create2Response")
    };
    assert_eq!((r.path.as_str(), r.stat.ephemeral_owner), (pt.as_str(), 0));

    // Existing node: NodeExists, mapped with its path.
    let code = c.err(Request::Create(create_req(&root, None, 0)));
    assert!(
        matches!(Error::from_code(code, &root), Error::NodeExists { path, .. } if path == root)
    );
}

#[test]
fn data_ops_and_error_mapping() {
    let Some(zk) = server() else { return };
    let mut c = RawConn::connect(zk.port());
    let root = unique_root("data");
    mkdir(&mut c, &root);
    let p = format!("{root}/n");
    c.ok(Request::Create(create_req(&p, Some(b"v1"), 0)));

    let Response::GetData(d) = c.ok(get_data(&p)) else {
        panic!("GetDataResponse")
    };
    assert_eq!(
        (d.data.as_deref(), d.stat.data_length, d.stat.version),
        (Some(&b"v1"[..]), 2, 0)
    );

    let set = |data: &[u8], version| {
        Request::SetData(SetDataRequest {
            path: p.clone(),
            data: Some(data.to_vec()),
            version,
        })
    };
    let Response::SetData(s) = c.ok(set(b"v22", 0)) else {
        panic!("SetDataResponse")
    };
    assert_eq!((s.stat.version, s.stat.data_length), (1, 3));
    assert!(s.stat.mzxid > s.stat.czxid);
    let code = c.err(set(b"x", 0));
    assert!(matches!(Error::from_code(code, &p), Error::BadVersion { path, .. } if path == p));

    // A null buffer stays null: getData answers a null buffer and dataLength 0.
    let pn = format!("{root}/null");
    c.ok(Request::Create(create_req(&pn, None, 0)));
    let Response::GetData(d) = c.ok(get_data(&pn)) else {
        panic!("GetDataResponse")
    };
    assert_eq!((d.data, d.stat.data_length), (None, 0));

    // exists: a hit answers the Stat, a miss is NoNode with no body.
    let exists = |path: &str| {
        Request::Exists(ExistsRequest {
            path: path.into(),
            watch: false,
        })
    };
    let Response::Exists(e) = c.ok(exists(&p)) else {
        panic!("ExistsResponse")
    };
    assert_eq!(e.stat.version, 1);
    let missing = format!("{root}/missing");
    let (h, body) = c.call(exists(&missing)).expect("a reply").into_parts();
    assert_eq!((h.err, body), (-101, None));

    // An error reply maps to the error with its path.
    let (h, _) = c.call(get_data(&missing)).expect("a reply").into_parts();
    assert!(
        matches!(Error::from_code(h.err, &missing), Error::NoNode { ref path, .. } if *path == missing)
    );
    assert!(matches!(h.error(&missing), Some(Error::NoNode { .. })));

    // delete: no body; then the node is gone.
    let (h, body) = c
        .call(Request::Delete(DeleteRequest {
            path: pn.clone(),
            version: -1,
        }))
        .expect("a reply")
        .into_parts();
    assert_eq!((h.err, body), (0, Some(Response::Empty)));
    assert_eq!(c.err(exists(&pn)), -101);
    let code = c.err(Request::Delete(DeleteRequest {
        path: root.clone(),
        version: -1,
    }));
    assert!(matches!(
        Error::from_code(code, &root),
        Error::NotEmpty { .. }
    ));
}

#[test]
fn children_counts_ephemerals_and_sync() {
    let Some(zk) = server() else { return };
    let mut c = RawConn::connect(zk.port());
    let root = unique_root("children");
    mkdir(&mut c, &root);
    for name in ["a", "b"] {
        mkdir(&mut c, &format!("{root}/{name}"));
    }
    let eph = format!("{root}/a/eph");
    c.ok(Request::Create(create_req(&eph, None, 1)));

    let Response::GetChildren(r) = c.ok(Request::GetChildren(GetChildrenRequest {
        path: root.clone(),
        watch: false,
    })) else {
        panic!("GetChildrenResponse")
    };
    let mut names = r.children;
    names.sort();
    assert_eq!(names, ["a", "b"]);

    let Response::GetChildren2(r) = c.ok(Request::GetChildren2(GetChildrenRequest {
        path: root.clone(),
        watch: true,
    })) else {
        panic!("GetChildren2Response")
    };
    assert_eq!(
        (r.children.len(), r.stat.num_children, r.stat.cversion),
        (2, 2, 2)
    );

    let Response::GetAllChildrenNumber(n) =
        c.ok(Request::GetAllChildrenNumber(GetAllChildrenNumberRequest {
            path: root.clone(),
        }))
    else {
        panic!("GetAllChildrenNumberResponse")
    };
    assert_eq!(n.total_number, 3);

    let Response::GetEphemerals(e) = c.ok(Request::GetEphemerals(GetEphemeralsRequest {
        prefix_path: root.clone(),
    })) else {
        panic!("GetEphemeralsResponse")
    };
    assert_eq!(e.ephemerals, [eph]);

    let Response::Sync(s) = c.ok(Request::Sync(SyncRequest { path: root.clone() })) else {
        panic!("SyncResponse")
    };
    assert_eq!(s.path, root);
}

#[test]
fn multi_commits_or_fails_as_a_whole() {
    let Some(zk) = server() else { return };
    let mut c = RawConn::connect(zk.port());
    let root = unique_root("multi");
    mkdir(&mut c, &root);
    let (a, b) = (format!("{root}/a"), format!("{root}/b"));
    let create = |op, path: &str| MultiOp::Create {
        op,
        req: create_req(path, Some(b"1"), 0),
    };

    let ops = vec![
        create(OpCode::Create, &a),
        create(OpCode::Create2, &b),
        MultiOp::SetData(SetDataRequest {
            path: a.clone(),
            data: Some(b"2".to_vec()),
            version: 0,
        }),
        MultiOp::Check(CheckVersionRequest {
            path: a.clone(),
            version: 1,
        }),
        MultiOp::Delete(DeleteRequest {
            path: b.clone(),
            version: 0,
        }),
    ];
    let Response::Multi(m) = c.ok(Request::Multi(MultiRequest { ops })) else {
        panic!("MultiResponse")
    };
    let r = &m.results;
    assert_eq!(r.len(), 5);
    assert_eq!(
        r[0],
        MultiResult::Create(CreateResponse { path: a.clone() })
    );
    // create2 inside multi: type 1 before 3.8.2, type 15 with a Stat after.
    assert!(
        matches!(&r[1], MultiResult::Create(x) if x.path == b)
            || matches!(&r[1], MultiResult::Create2(x) if x.path == b)
    );
    assert!(matches!(&r[2], MultiResult::SetData(s) if s.stat.version == 1));
    assert_eq!((&r[3], &r[4]), (&MultiResult::Check, &MultiResult::Delete));

    // A failing op: the reply header says 0, every result is an error: 0 before, the real
    // code at the failing op, -2 (RuntimeInconsistency) after; nothing is applied.
    let c_path = format!("{root}/c");
    let ops = vec![
        create(OpCode::Create, &c_path),
        MultiOp::Check(CheckVersionRequest {
            path: a.clone(),
            version: 99,
        }),
        create(OpCode::Create, &format!("{root}/d")),
    ];
    let (h, body) = c
        .call(Request::Multi(MultiRequest { ops }))
        .expect("a reply")
        .into_parts();
    assert_eq!(h.err, 0);
    let Some(Response::Multi(m)) = body else {
        panic!("MultiResponse")
    };
    assert_eq!(
        m.results,
        [
            MultiResult::Error(0),
            MultiResult::Error(-103),
            MultiResult::Error(-2)
        ]
    );
    assert!(matches!(
        Error::from_code(-103, &a),
        Error::BadVersion { .. }
    ));
    assert_eq!(c.err(get_data(&c_path)), -101);

    // multiRead: each op on its own, a failed read is an ErrorResult, the call succeeds.
    let ops = vec![
        MultiOp::GetData(GetDataRequest {
            path: a.clone(),
            watch: false,
        }),
        MultiOp::GetChildren(GetChildrenRequest {
            path: root.clone(),
            watch: false,
        }),
        MultiOp::GetData(GetDataRequest {
            path: c_path.clone(),
            watch: false,
        }),
    ];
    let Response::Multi(m) = c.ok(Request::MultiRead(MultiRequest { ops })) else {
        panic!("MultiResponse")
    };
    assert!(matches!(&m.results[0], MultiResult::GetData(d) if d.data.as_deref() == Some(b"2")));
    assert_eq!(
        m.results[1],
        MultiResult::GetChildren(GetChildrenResponse {
            children: vec!["a".into()]
        })
    );
    assert_eq!(m.results[2], MultiResult::Error(-101));
}
