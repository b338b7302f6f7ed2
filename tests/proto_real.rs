//! The codec against real ZooKeeper 3.8: every op a client sends, encoded with
//! `zk_curator::proto`, sent over a plain `TcpStream` ([`RawConn`]), and its reply decoded
//! and checked field by field. Watch ops are in `proto_real_watches.rs`.
//!
//! Each test works under its own root on the binary's shared server.

mod support;

use support::{unique_root, RawConn, RealServer};
use zk_curator::proto::*;
use zk_curator::Error;

fn server() -> Option<&'static RealServer> {
    RealServer::shared()
}

/// Calls `req` and returns the body, asserting `err == 0`.
fn ok(conn: &mut RawConn, req: Request) -> Response {
    let op = req.op_code();
    let (h, body) = conn.call(&req);
    assert_eq!(h.err, 0, "{op:?} failed: {:?}", Error::from_code(h.err, ""));
    body.expect("a body")
}

/// Calls `req` and returns the error code of its reply.
fn err(conn: &mut RawConn, req: Request) -> i32 {
    conn.call(&req).0.err
}

fn create_req(path: &str, data: Option<&[u8]>, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: data.map(<[u8]>::to_vec),
        acl: Acl::open_unsafe(),
        flags,
    }
}

fn mkdir(conn: &mut RawConn, path: &str) {
    ok(conn, Request::Create(create_req(path, None, 0)));
}

fn get_data(path: &str) -> Request {
    Request::GetData(GetDataRequest {
        path: path.into(),
        watch: false,
    })
}

#[test]
fn handshake_with_and_without_the_read_only_byte() {
    let Some(zk) = server() else { return };
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 30_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(false),
    };
    assert_eq!(req.to_bytes().len(), 45);
    let (conn, len) = RawConn::handshake(zk.port(), &req);
    assert_eq!(len, 37);
    let s = &conn.session;
    assert_eq!(s.protocol_version, 0);
    assert_eq!(s.timeout, 30_000);
    assert_ne!(s.session_id, 0);
    assert_eq!(s.passwd.len(), 16);
    assert_eq!(s.read_only, Some(false));

    let (old, len) = RawConn::handshake(
        zk.port(),
        &ConnectRequest {
            read_only: None,
            ..req.clone()
        },
    );
    assert_eq!(len, 36);
    assert_eq!(old.session.read_only, None);
    assert!(!old.session.is_read_only());

    // Resuming with the id and password keeps the session.
    let resume = ConnectRequest {
        session_id: s.session_id,
        passwd: s.passwd.clone(),
        ..req.clone()
    };
    let (again, _) = RawConn::handshake(zk.port(), &resume);
    assert_eq!(again.session.session_id, s.session_id);
    assert!(!again.session.is_expired());

    // A wrong password is answered as an expired session, then the socket is closed.
    let mut bad_pw = resume.passwd.clone();
    bad_pw[0] ^= 0xff;
    let (mut bad, len) = RawConn::handshake(
        zk.port(),
        &ConnectRequest {
            passwd: bad_pw,
            ..resume
        },
    );
    assert_eq!(len, 37);
    assert!(bad.session.is_expired());
    assert_eq!(bad.session.session_id, 0);
    assert_eq!(bad.session.passwd, vec![0; 16]);
    bad.expect_closed();
}

#[test]
fn create_variants_return_path_and_stat() {
    let Some(zk) = server() else { return };
    let mut c = RawConn::connect(zk.port());
    let root = unique_root("create");

    let (h, body) = c.call(&Request::Create(create_req(&root, Some(b"r"), 0)));
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
    let Response::Create(r) = ok(&mut c, Request::Create(create_req(&seq, None, 2))) else {
        panic!("create answers CreateResponse")
    };
    assert_eq!(r.path, format!("{seq}0000000000"));

    let p2 = format!("{root}/c2");
    let (h, body) = c.call(&Request::Create2(create_req(&p2, Some(b"abc"), 1)));
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
    let Response::Create2(r) = ok(&mut c, Request::CreateContainer(create_req(&pc, None, 4)))
    else {
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
    let Response::Create2(r) = ok(&mut c, ttl) else {
        panic!("createTTL answers Create2Response")
    };
    assert_eq!((r.path.as_str(), r.stat.ephemeral_owner), (pt.as_str(), 0));

    // Existing node: NodeExists, mapped with its path.
    let code = err(&mut c, Request::Create(create_req(&root, None, 0)));
    assert!(matches!(Error::from_code(code, &root), Error::NodeExists { path } if path == root));
}

#[test]
fn data_ops_and_error_mapping() {
    let Some(zk) = server() else { return };
    let mut c = RawConn::connect(zk.port());
    let root = unique_root("data");
    mkdir(&mut c, &root);
    let p = format!("{root}/n");
    ok(&mut c, Request::Create(create_req(&p, Some(b"v1"), 0)));

    let Response::GetData(d) = ok(&mut c, get_data(&p)) else {
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
    let Response::SetData(s) = ok(&mut c, set(b"v22", 0)) else {
        panic!("SetDataResponse")
    };
    assert_eq!((s.stat.version, s.stat.data_length), (1, 3));
    assert!(s.stat.mzxid > s.stat.czxid);
    let code = err(&mut c, set(b"x", 0));
    assert!(matches!(Error::from_code(code, &p), Error::BadVersion { path } if path == p));

    // A null buffer stays null: getData answers a null buffer and dataLength 0.
    let pn = format!("{root}/null");
    ok(&mut c, Request::Create(create_req(&pn, None, 0)));
    let Response::GetData(d) = ok(&mut c, get_data(&pn)) else {
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
    let Response::Exists(e) = ok(&mut c, exists(&p)) else {
        panic!("ExistsResponse")
    };
    assert_eq!(e.stat.version, 1);
    let missing = format!("{root}/missing");
    let (h, body) = c.call(&exists(&missing));
    assert_eq!((h.err, body), (-101, None));

    // An error reply maps to the error with its path.
    let (h, _) = c.call(&get_data(&missing));
    assert!(
        matches!(Error::from_code(h.err, &missing), Error::NoNode { ref path } if *path == missing)
    );
    assert!(matches!(h.error(&missing), Some(Error::NoNode { .. })));

    // delete: no body; then the node is gone.
    let (h, body) = c.call(&Request::Delete(DeleteRequest {
        path: pn.clone(),
        version: -1,
    }));
    assert_eq!((h.err, body), (0, Some(Response::Empty)));
    assert_eq!(err(&mut c, exists(&pn)), -101);
    let code = err(
        &mut c,
        Request::Delete(DeleteRequest {
            path: root.clone(),
            version: -1,
        }),
    );
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
    ok(&mut c, Request::Create(create_req(&eph, None, 1)));

    let Response::GetChildren(r) = ok(
        &mut c,
        Request::GetChildren(GetChildrenRequest {
            path: root.clone(),
            watch: false,
        }),
    ) else {
        panic!("GetChildrenResponse")
    };
    let mut names = r.children;
    names.sort();
    assert_eq!(names, ["a", "b"]);

    let Response::GetChildren2(r) = ok(
        &mut c,
        Request::GetChildren2(GetChildrenRequest {
            path: root.clone(),
            watch: true,
        }),
    ) else {
        panic!("GetChildren2Response")
    };
    assert_eq!(
        (r.children.len(), r.stat.num_children, r.stat.cversion),
        (2, 2, 2)
    );

    let Response::GetAllChildrenNumber(n) = ok(
        &mut c,
        Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path: root.clone() }),
    ) else {
        panic!("GetAllChildrenNumberResponse")
    };
    assert_eq!(n.total_number, 3);

    let Response::GetEphemerals(e) = ok(
        &mut c,
        Request::GetEphemerals(GetEphemeralsRequest {
            prefix_path: root.clone(),
        }),
    ) else {
        panic!("GetEphemeralsResponse")
    };
    assert_eq!(e.ephemerals, [eph]);

    let Response::Sync(s) = ok(&mut c, Request::Sync(SyncRequest { path: root.clone() })) else {
        panic!("SyncResponse")
    };
    assert_eq!(s.path, root);
}

#[test]
fn auth_who_am_i_and_acls() {
    let Some(zk) = server() else { return };
    let mut c = RawConn::connect(zk.port());
    let root = unique_root("acl");
    mkdir(&mut c, &root);

    let auth = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: b"u:p".to_vec(),
    });
    let (h, body) = c.call_with_xid(xid::AUTH, &auth);
    assert_eq!(
        (h.xid, h.zxid, h.err, body),
        (-4, 0, 0, Some(Response::Empty))
    );

    let Response::WhoAmI(w) = ok(&mut c, Request::WhoAmI) else {
        panic!("WhoAmIResponse")
    };
    let ids: Vec<(&str, &str)> = w
        .client_info
        .iter()
        .map(|i| (i.auth_scheme.as_str(), i.user.as_str()))
        .collect();
    assert!(ids.contains(&("ip", "127.0.0.1")), "{ids:?}");
    assert!(ids.contains(&("digest", "u")), "{ids:?}");

    // auth: resolves to the session's digest identity.
    let p = format!("{root}/mine");
    let mut req = create_req(&p, Some(b"secret"), 0);
    req.acl = Acl::creator_all();
    ok(&mut c, Request::Create(req));
    let Response::GetAcl(a) = ok(&mut c, Request::GetAcl(GetAclRequest { path: p.clone() })) else {
        panic!("GetAclResponse")
    };
    assert_eq!(a.acl.len(), 1);
    assert_eq!(
        (a.acl[0].perms, a.acl[0].id.scheme.as_str()),
        (Perms::ALL, "digest")
    );
    // digest:u:base64(sha1("u:p")), 28 characters of hash.
    assert!(
        a.acl[0].id.id.starts_with("u:") && a.acl[0].id.id.len() == 30,
        "{:?}",
        a.acl
    );
    assert_eq!(a.stat.aversion, 0);

    // Another session without the identity may not read it.
    let mut other = RawConn::connect(zk.port());
    let code = err(&mut other, get_data(&p));
    assert!(matches!(Error::from_code(code, &p), Error::NoAuth { .. }));

    let set_acl = |acl: Vec<Acl>, version| {
        Request::SetAcl(SetAclRequest {
            path: p.clone(),
            acl,
            version,
        })
    };
    assert_eq!(err(&mut c, set_acl(Acl::open_unsafe(), 7)), -103);
    assert_eq!(err(&mut c, set_acl(vec![], -1)), -114);
    let Response::SetAcl(s) = ok(&mut c, set_acl(Acl::read_unsafe(), 0)) else {
        panic!("SetAclResponse")
    };
    assert_eq!(s.stat.aversion, 1);
    // Without ADMIN now, even the creator may not change it back.
    assert_eq!(err(&mut c, set_acl(Acl::open_unsafe(), 1)), -102);
    let Response::GetData(d) = ok(&mut other, get_data(&p)) else {
        panic!("readable now")
    };
    assert_eq!(d.data.as_deref(), Some(&b"secret"[..]));
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
    let Response::Multi(m) = ok(&mut c, Request::Multi(MultiRequest { ops })) else {
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
    let (h, body) = c.call(&Request::Multi(MultiRequest { ops }));
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
    assert_eq!(err(&mut c, get_data(&c_path)), -101);

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
    let Response::Multi(m) = ok(&mut c, Request::MultiRead(MultiRequest { ops })) else {
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

#[test]
fn reconfig_is_refused_when_disabled() {
    let Some(zk) = server() else { return };
    let mut c = RawConn::connect(zk.port());
    let code = err(
        &mut c,
        Request::Reconfig(ReconfigRequest {
            joining_servers: Some("server.9=127.0.0.1:1:2;3".into()),
            leaving_servers: None,
            new_members: None,
            cur_config_id: -1,
        }),
    );
    assert!(matches!(
        Error::from_code(code, "/"),
        Error::ReconfigDisabled
    ));
}

#[test]
fn ping_then_close_session() {
    let Some(zk) = server() else { return };
    let mut c = RawConn::connect(zk.port());
    let root = unique_root("close");
    let (h, _) = c.call(&Request::Create(create_req(&root, None, 1)));
    assert_eq!(h.err, 0);
    let (p, body) = c.call_with_xid(xid::PING, &Request::Ping);
    assert_eq!((p.xid, p.err, body), (-2, 0, Some(Response::Empty)));
    assert!(
        p.zxid >= h.zxid,
        "ping reply carries the last processed zxid"
    );

    let (h, body) = c.call(&Request::CloseSession);
    assert_eq!((h.err, body), (0, Some(Response::Empty)));
    c.expect_closed();

    // The session is over: its ephemeral node is gone and it cannot be resumed.
    let mut other = RawConn::connect(zk.port());
    assert_eq!(err(&mut other, get_data(&root)), -101);
    let (resumed, _) = RawConn::handshake(
        zk.port(),
        &ConnectRequest {
            timeout: 30_000,
            session_id: c.session.session_id,
            passwd: c.session.passwd.clone(),
            read_only: Some(false),
            ..ConnectRequest::default()
        },
    );
    assert!(resumed.session.is_expired());
}

#[test]
fn unknown_op_code_is_unimplemented_and_closes() {
    let Some(zk) = server() else { return };
    let mut c = RawConn::connect(zk.port());
    c.send_raw(RequestHeader { xid: 1, op: 999 }, &[]);
    let (h, _) = c.recv_reply();
    assert_eq!((h.xid, h.zxid, h.err), (1, -1, -6));
    assert!(matches!(Error::from_code(h.err, ""), Error::Unimplemented));
    c.expect_closed();
}
