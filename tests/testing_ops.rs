//! Every op and its errors, over the raw protocol. Each body runs against `TestingServer`
//! and, when Java is available, against the real ZooKeeper too, so the expected codes are
//! the real server's, not guesses.

mod support;

use support::raw::RawConn;
use zk_curator::proto::*;
use zk_curator::testing::TestingServer;

const NO_NODE: i32 = -101;
const NO_AUTH: i32 = -102;
const BAD_VERSION: i32 = -103;
const NO_CHILDREN_FOR_EPHEMERALS: i32 = -108;
const NODE_EXISTS: i32 = -110;
const NOT_EMPTY: i32 = -111;
const INVALID_ACL: i32 = -114;
const BAD_ARGUMENTS: i32 = -8;
const NO_WATCHER: i32 = -121;
const RECONFIG_DISABLED: i32 = -123;
const MARSHALLING: i32 = -5;

/// Runs `body` against our server and, if available, the real one.
fn both(body: fn(&str)) {
    let ours = TestingServer::start().expect("server");
    body(&ours.connect_string());
    if let Some(real) = support::RealServer::start() {
        body(&real.connect_string());
    }
}

fn req_create(path: &str, data: Option<&[u8]>, acl: Vec<Acl>, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: data.map(|d| d.to_vec()),
        acl,
        flags,
    }
}

fn children(c: &mut RawConn, path: &str) -> Vec<String> {
    match c
        .call(Request::GetChildren(GetChildrenRequest {
            path: path.into(),
            watch: false,
        }))
        .unwrap()
        .body
    {
        Some(Response::GetChildren(r)) => {
            let mut v = r.children;
            v.sort();
            v
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn initial_tree_and_stats() {
    both(|addr| {
        let mut c = RawConn::try_connect(addr, 10_000).unwrap();
        assert_eq!(children(&mut c, "/"), vec!["zookeeper"]);
        assert_eq!(children(&mut c, "/zookeeper"), vec!["config", "quota"]);
        let root = c.stat("/").unwrap().unwrap();
        assert_eq!((root.czxid, root.cversion, root.num_children), (0, -1, 1));
        let zk = c.stat("/zookeeper").unwrap().unwrap();
        assert_eq!(zk.cversion, -2);
        let acl = c
            .call(Request::GetAcl(GetAclRequest {
                path: "/zookeeper/config".into(),
            }))
            .unwrap();
        match acl.body {
            Some(Response::GetAcl(a)) => {
                assert_eq!(a.acl, Acl::read_unsafe());
                assert_eq!(a.stat.aversion, -1);
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn create_modes_sequence_names_and_errors() {
    both(|addr| {
        let mut c = RawConn::try_connect(addr, 10_000).unwrap();
        let first = c.create("/ops", b"", 0).unwrap();
        assert_eq!(first.err(), 0);
        // Sequential names count child creations; deletes do not move the counter.
        assert_eq!(c.create("/ops/a", b"", 0).unwrap().err(), 0);
        let del = c.call(Request::Delete(DeleteRequest {
            path: "/ops/a".into(),
            version: -1,
        }));
        assert_eq!(del.unwrap().err(), 0);
        match c.create("/ops/s-", b"", 2).unwrap().body {
            Some(Response::Create(r)) => assert_eq!(r.path, "/ops/s-0000000001"),
            other => panic!("{other:?}"),
        }
        let st = c.stat("/ops").unwrap().unwrap();
        assert_eq!((st.cversion, st.num_children), (3, 1));
        // Errors in the server's order.
        assert_eq!(c.create("/ops", b"", 0).unwrap().err(), NODE_EXISTS);
        assert_eq!(c.create("/nope/x", b"", 0).unwrap().err(), NO_NODE);
        assert_eq!(c.create("/ops/bad", b"", 9).unwrap().err(), BAD_ARGUMENTS);
        assert_eq!(c.create("/", b"", 0).unwrap().err(), NODE_EXISTS);
        assert_eq!(c.create("/ops/", b"", 0).unwrap().err(), BAD_ARGUMENTS);
        assert_eq!(c.create("/ops/e", b"", 1).unwrap().err(), 0);
        assert_eq!(
            c.create("/ops/e/child", b"", 0).unwrap().err(),
            NO_CHILDREN_FOR_EPHEMERALS
        );
        let empty_acl = c.call(Request::Create(req_create("/ops/x", None, vec![], 0)));
        assert_eq!(empty_acl.unwrap().err(), INVALID_ACL);
        let auth_acl = c.call(Request::Create(req_create(
            "/ops/x",
            None,
            Acl::creator_all(),
            0,
        )));
        assert_eq!(auth_acl.unwrap().err(), INVALID_ACL);
        // A failed write still takes a zxid.
        let z1 = c.create("/ops", b"", 0).unwrap().header.zxid;
        let z2 = c.create("/ops", b"", 0).unwrap().header.zxid;
        assert_eq!(z2, z1 + 1);
        // Null data stays null.
        assert_eq!(
            c.call(Request::Create(req_create(
                "/ops/null",
                None,
                Acl::open_unsafe(),
                0
            )))
            .unwrap()
            .err(),
            0
        );
        match c.get("/ops/null", false).unwrap().body {
            Some(Response::GetData(d)) => {
                assert_eq!(d.data, None);
                assert_eq!(d.stat.data_length, 0);
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn containers_ttl_and_create2() {
    both(|addr| {
        let mut c = RawConn::try_connect(addr, 10_000).unwrap();
        c.create("/ct", b"", 0).unwrap();
        let r = c
            .call(Request::CreateContainer(req_create(
                "/ct/box",
                Some(b"x"),
                Acl::open_unsafe(),
                4,
            )))
            .unwrap();
        match r.body {
            Some(Response::Create2(r)) => {
                assert_eq!(r.path, "/ct/box");
                assert_eq!(r.stat.ephemeral_owner, 0);
                assert_eq!(r.stat.czxid, r.stat.mzxid);
            }
            other => panic!("{other:?}"),
        }
        let ttl = |flags: i32, ttl: i64| {
            Request::CreateTtl(CreateTtlRequest {
                path: "/ct/ttl".into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags,
                ttl,
            })
        };
        assert_eq!(c.call(ttl(5, 0)).unwrap().err(), BAD_ARGUMENTS);
        assert_eq!(c.call(ttl(5, 1 << 40)).unwrap().err(), BAD_ARGUMENTS);
        assert_eq!(c.call(ttl(0, 1000)).unwrap().err(), BAD_ARGUMENTS);
        assert_eq!(c.call(ttl(5, 60_000)).unwrap().err(), 0);
        // TTL flags through plain create: no TTL given, so bad arguments.
        assert_eq!(c.create("/ct/t2", b"", 5).unwrap().err(), BAD_ARGUMENTS);
        // create2 answers path and Stat.
        match c
            .call(Request::Create2(req_create(
                "/ct/c2",
                Some(b"ab"),
                Acl::open_unsafe(),
                0,
            )))
            .unwrap()
            .body
        {
            Some(Response::Create2(r)) => assert_eq!(r.stat.data_length, 2),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn set_delete_versions_and_special_paths() {
    both(|addr| {
        let mut c = RawConn::try_connect(addr, 10_000).unwrap();
        c.create("/v", b"1", 0).unwrap();
        c.create("/v/kid", b"", 0).unwrap();
        let set = |version: i32| {
            Request::SetData(SetDataRequest {
                path: "/v".into(),
                data: Some(b"2".to_vec()),
                version,
            })
        };
        assert_eq!(c.call(set(5)).unwrap().err(), BAD_VERSION);
        match c.call(set(0)).unwrap().body {
            Some(Response::SetData(s)) => assert_eq!(s.stat.version, 1),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.call(set(-1)).unwrap().err(), 0);
        let del = |path: &str, version: i32| {
            Request::Delete(DeleteRequest {
                path: path.into(),
                version,
            })
        };
        assert_eq!(c.call(del("/v", -1)).unwrap().err(), NOT_EMPTY);
        assert_eq!(c.call(del("/v/kid", 3)).unwrap().err(), BAD_VERSION);
        assert_eq!(c.call(del("/v/none", -1)).unwrap().err(), NO_NODE);
        assert_eq!(c.call(del("/zookeeper", -1)).unwrap().err(), BAD_ARGUMENTS);
        assert_eq!(c.call(del("/", -1)).unwrap().err(), BAD_ARGUMENTS);
        let bad_path = Request::SetData(SetDataRequest {
            path: "/v/".into(),
            data: None,
            version: -1,
        });
        assert_eq!(c.call(bad_path).unwrap().err(), BAD_ARGUMENTS);
    });
}

#[test]
fn acls_digest_ip_and_masking() {
    both(|addr| {
        let mut owner = RawConn::try_connect(addr, 10_000).unwrap();
        let mut other = RawConn::try_connect(addr, 10_000).unwrap();
        let auth = owner
            .call(Request::Auth(AuthPacket {
                auth_type: 0,
                scheme: "digest".into(),
                auth: b"alice:pw".to_vec(),
            }))
            .unwrap();
        assert_eq!((auth.header.xid, auth.header.zxid, auth.err()), (-4, 0, 0));
        assert_eq!(
            owner
                .call(Request::Create(req_create(
                    "/acl",
                    Some(b"s"),
                    Acl::creator_all(),
                    0
                )))
                .unwrap()
                .err(),
            0
        );
        assert_eq!(other.get("/acl", false).unwrap().err(), NO_AUTH);
        match other
            .call(Request::GetAcl(GetAclRequest {
                path: "/acl".into(),
            }))
            .unwrap()
            .err()
        {
            NO_AUTH => {}
            e => panic!("getACL without READ/ADMIN: {e}"),
        }
        match owner
            .call(Request::GetAcl(GetAclRequest {
                path: "/acl".into(),
            }))
            .unwrap()
            .body
        {
            Some(Response::GetAcl(a)) => {
                assert!(a.acl[0].id.id.starts_with("alice:"));
                assert_eq!(a.acl[0].id.id.len(), "alice:".len() + 28);
            }
            other => panic!("{other:?}"),
        }
        // READ for everyone, ADMIN for alice: others see the digest masked.
        let digest_id = {
            let Some(Response::GetAcl(a)) = owner
                .call(Request::GetAcl(GetAclRequest {
                    path: "/acl".into(),
                }))
                .unwrap()
                .body
            else {
                panic!()
            };
            a.acl[0].id.clone()
        };
        let set = Request::SetAcl(SetAclRequest {
            path: "/acl".into(),
            acl: vec![
                Acl::new(Perms::READ, Id::anyone()),
                Acl::new(Perms::ALL, digest_id),
            ],
            version: 0,
        });
        assert_eq!(owner.call(set.clone()).unwrap().err(), 0);
        assert_eq!(owner.call(set).unwrap().err(), BAD_VERSION);
        match other
            .call(Request::GetAcl(GetAclRequest {
                path: "/acl".into(),
            }))
            .unwrap()
            .body
        {
            Some(Response::GetAcl(a)) => {
                assert_eq!(a.acl[1].id.id, "alice:x");
                assert_eq!(a.stat.aversion, 1);
            }
            other => panic!("{other:?}"),
        }
        let write = Request::SetData(SetDataRequest {
            path: "/acl".into(),
            data: None,
            version: -1,
        });
        assert_eq!(other.call(write).unwrap().err(), NO_AUTH);
        // ip scheme.
        let ip_acl = vec![Acl::new(Perms::ALL, Id::new("ip", "127.0.0.0/8"))];
        assert_eq!(
            other
                .call(Request::Create(req_create("/ipacl", None, ip_acl, 0)))
                .unwrap()
                .err(),
            0
        );
        assert_eq!(other.get("/ipacl", false).unwrap().err(), 0);
        let bad = vec![Acl::new(Perms::ALL, Id::new("ip", "1.2.3"))];
        assert_eq!(
            other
                .call(Request::Create(req_create("/ipbad", None, bad, 0)))
                .unwrap()
                .err(),
            INVALID_ACL
        );
        // whoAmI.
        match other.call(Request::WhoAmI).unwrap().body {
            Some(Response::WhoAmI(w)) => {
                assert_eq!(w.client_info.len(), 1);
                assert_eq!(w.client_info[0].auth_scheme, "ip");
                assert_eq!(w.client_info[0].user, "127.0.0.1");
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn auth_failure_closes_the_connection() {
    both(|addr| {
        let mut c = RawConn::try_connect(addr, 10_000).unwrap();
        let r = c
            .call(Request::Auth(AuthPacket {
                auth_type: 0,
                scheme: "nosuch".into(),
                auth: b"x".to_vec(),
            }))
            .unwrap();
        assert_eq!(r.err(), -115);
        assert!(c.closed_within(std::time::Duration::from_secs(5)));
    });
}

#[test]
fn multi_atomicity_and_result_types() {
    both(|addr| {
        let mut c = RawConn::try_connect(addr, 10_000).unwrap();
        c.create("/m", b"", 0).unwrap();
        let ok = Request::Multi(MultiRequest {
            ops: vec![
                MultiOp::Create {
                    op: OpCode::Create2,
                    req: req_create("/m/a", None, Acl::open_unsafe(), 0),
                },
                MultiOp::Create {
                    op: OpCode::CreateContainer,
                    req: req_create("/m/c", None, Acl::open_unsafe(), 4),
                },
                MultiOp::SetData(SetDataRequest {
                    path: "/m/a".into(),
                    data: Some(b"x".to_vec()),
                    version: 0,
                }),
                MultiOp::Check(CheckVersionRequest {
                    path: "/m/a".into(),
                    version: 1,
                }),
            ],
        });
        let r = c.call(ok).unwrap();
        let Some(Response::Multi(m)) = r.body else {
            panic!("{r:?}")
        };
        // 3.8.0: create2 inside multi answers as create (type 1); containers carry a Stat.
        assert!(matches!(&m.results[0], MultiResult::Create(x) if x.path == "/m/a"));
        assert!(matches!(&m.results[1], MultiResult::Create2(x) if x.stat.czxid == r.header.zxid));
        assert!(matches!(&m.results[2], MultiResult::SetData(s) if s.stat.mzxid == r.header.zxid));
        assert!(matches!(m.results[3], MultiResult::Check));
        let bad = Request::Multi(MultiRequest {
            ops: vec![
                MultiOp::Create {
                    op: OpCode::Create,
                    req: req_create("/m/b", None, Acl::open_unsafe(), 0),
                },
                MultiOp::Delete(DeleteRequest {
                    path: "/m/none".into(),
                    version: -1,
                }),
                MultiOp::Check(CheckVersionRequest {
                    path: "/m".into(),
                    version: -1,
                }),
            ],
        });
        let r = c.call(bad).unwrap();
        assert_eq!(r.err(), 0);
        let Some(Response::Multi(m)) = r.body else {
            panic!()
        };
        assert_eq!(
            m.results,
            vec![
                MultiResult::Error(0),
                MultiResult::Error(NO_NODE),
                MultiResult::Error(-2)
            ]
        );
        assert_eq!(
            c.stat("/m/b").unwrap(),
            None,
            "nothing of a failed multi applies"
        );
        // multiRead: independent results.
        let r = c
            .call(Request::MultiRead(MultiRequest {
                ops: vec![
                    MultiOp::GetData(GetDataRequest {
                        path: "/m/a".into(),
                        watch: false,
                    }),
                    MultiOp::GetChildren(GetChildrenRequest {
                        path: "/m/none".into(),
                        watch: false,
                    }),
                ],
            }))
            .unwrap();
        let Some(Response::Multi(m)) = r.body else {
            panic!()
        };
        assert!(
            matches!(&m.results[0], MultiResult::GetData(d) if d.data.as_deref() == Some(&b"x"[..]))
        );
        assert_eq!(m.results[1], MultiResult::Error(NO_NODE));
        // A read inside a write multi is a marshalling error.
        let mixed = Request::Multi(MultiRequest {
            ops: vec![MultiOp::GetData(GetDataRequest {
                path: "/m".into(),
                watch: false,
            })],
        });
        assert_eq!(c.call(mixed).unwrap().err(), MARSHALLING);
    });
}

#[test]
fn misc_ops() {
    both(|addr| {
        let mut c = RawConn::try_connect(addr, 10_000).unwrap();
        c.create("/misc", b"", 0).unwrap();
        c.create("/misc/a", b"", 0).unwrap();
        c.create("/misc/a/b", b"", 1).unwrap();
        c.create("/misc/e", b"", 1).unwrap();
        let r = c
            .call(Request::Sync(SyncRequest {
                path: "/whatever".into(),
            }))
            .unwrap();
        assert!(matches!(r.body, Some(Response::Sync(s)) if s.path == "/whatever"));
        let r = c
            .call(Request::GetAllChildrenNumber(GetAllChildrenNumberRequest {
                path: "/misc".into(),
            }))
            .unwrap();
        assert!(matches!(r.body, Some(Response::GetAllChildrenNumber(n)) if n.total_number == 3));
        let r = c
            .call(Request::GetEphemerals(GetEphemeralsRequest {
                prefix_path: "/misc/a".into(),
            }))
            .unwrap();
        assert!(
            matches!(r.body, Some(Response::GetEphemerals(e)) if e.ephemerals == vec!["/misc/a/b".to_string()])
        );
        let r = c
            .call(Request::Reconfig(ReconfigRequest {
                joining_servers: None,
                leaving_servers: None,
                new_members: None,
                cur_config_id: -1,
            }))
            .unwrap();
        assert_eq!(r.err(), RECONFIG_DISABLED);
        let r = c
            .call(Request::CheckWatches(CheckWatchesRequest {
                path: "/misc".into(),
                watcher_type: 3,
            }))
            .unwrap();
        assert_eq!(r.err(), NO_WATCHER);
        let r = c
            .call(Request::AddWatch(AddWatchRequest {
                path: "/misc".into(),
                mode: 0,
            }))
            .unwrap();
        assert!(matches!(r.body, Some(Response::AddWatch(e)) if e.err == 0));
        let r = c
            .call(Request::RemoveWatches(RemoveWatchesRequest {
                path: "/misc".into(),
                watcher_type: 1,
            }))
            .unwrap();
        assert_eq!(r.err(), 0);
        let r = c
            .call(Request::RemoveWatches(RemoveWatchesRequest {
                path: "/misc".into(),
                watcher_type: 4,
            }))
            .unwrap();
        assert_eq!(r.err(), MARSHALLING, "3.8 has no WatcherType 4");
        let ping = c.call(Request::Ping).unwrap();
        assert_eq!((ping.header.xid, ping.err()), (-2, 0));
        assert_eq!(ping.header.zxid, c.last_zxid);
        let exists = c
            .call(Request::Exists(ExistsRequest {
                path: "/misc/none".into(),
                watch: false,
            }))
            .unwrap();
        assert_eq!(exists.err(), NO_NODE);
        // closeSession: reply, then the socket closes and the ephemerals are gone.
        let close = c.call(Request::CloseSession).unwrap();
        assert_eq!(close.err(), 0);
        assert!(c.closed_within(std::time::Duration::from_secs(5)));
        let mut d = RawConn::try_connect(addr, 10_000).unwrap();
        assert_eq!(d.stat("/misc/e").unwrap(), None);
    });
}
