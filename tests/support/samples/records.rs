//! The record samples: one [`Case`] per record type of `zk_curator::proto`, and the sample
//! values (a Stat, ACLs, a create request, a multi) the other samples reuse.

use super::{case, Case};
use zk_curator::proto::*;

/// A Stat whose every field differs.
pub fn stat() -> Stat {
    Stat {
        czxid: 0x1_0000_0001,
        mzxid: 0x1_0000_0002,
        ctime: 1_700_000_000_001,
        mtime: 1_700_000_000_002,
        version: 3,
        cversion: 4,
        aversion: 5,
        ephemeral_owner: 0x0100_0000_0000_0006,
        data_length: 7,
        num_children: 8,
        pzxid: 0x1_0000_0009,
    }
}

/// Two ACL entries.
pub fn acl() -> Vec<Acl> {
    vec![
        Acl::new(Perms::ALL, Id::anyone()),
        Acl::new(
            Perms::READ | Perms::ADMIN,
            Id::new("digest", "u:hash+/=héllo"),
        ),
    ]
}

pub(super) fn s(v: &str) -> String {
    v.to_string()
}

pub(super) fn paths() -> Vec<String> {
    vec![s("/a"), s("/a/b"), s("/ü")]
}

/// The create request every create sample uses.
pub fn create_request() -> CreateRequest {
    CreateRequest {
        path: s("/app/node-"),
        data: Some(b"data\0\xff".to_vec()),
        acl: acl(),
        flags: 2,
    }
}

pub(super) fn create_ttl_request() -> CreateTtlRequest {
    CreateTtlRequest {
        path: s("/ttl"),
        data: None,
        acl: acl(),
        flags: 5,
        ttl: 0xFF_FFFF_FFFF,
    }
}

/// A multi with every op a multi allows.
pub fn multi_request() -> MultiRequest {
    MultiRequest {
        ops: vec![
            MultiOp::Create {
                op: OpCode::Create,
                req: create_request(),
            },
            MultiOp::Create {
                op: OpCode::Create2,
                req: create_request(),
            },
            MultiOp::Create {
                op: OpCode::CreateContainer,
                req: CreateRequest {
                    flags: 4,
                    data: None,
                    ..create_request()
                },
            },
            MultiOp::CreateTtl(create_ttl_request()),
            MultiOp::Delete(DeleteRequest {
                path: s("/d"),
                version: -1,
            }),
            MultiOp::SetData(SetDataRequest {
                path: s("/s"),
                data: Some(vec![]),
                version: 9,
            }),
            MultiOp::Check(CheckVersionRequest {
                path: s("/c"),
                version: 2,
            }),
            MultiOp::GetChildren(GetChildrenRequest {
                path: s("/g"),
                watch: false,
            }),
            MultiOp::GetData(GetDataRequest {
                path: s("/h"),
                watch: false,
            }),
        ],
    }
}

/// A multi response with every result type.
pub fn multi_response() -> MultiResponse {
    MultiResponse {
        results: vec![
            MultiResult::Create(CreateResponse {
                path: s("/app/node-0000000001"),
            }),
            MultiResult::Create2(Create2Response {
                path: s("/b"),
                stat: stat(),
            }),
            MultiResult::Delete,
            MultiResult::SetData(SetDataResponse { stat: stat() }),
            MultiResult::Check,
            MultiResult::GetChildren(GetChildrenResponse { children: paths() }),
            MultiResult::GetData(GetDataResponse {
                data: None,
                stat: stat(),
            }),
            MultiResult::Error(0),
            MultiResult::Error(-101),
            MultiResult::Error(-2),
        ],
    }
}

/// One case per record type of `zk_curator::proto`.
pub fn records() -> Vec<Case> {
    let mut v = vec![
        case(
            "ConnectRequest",
            ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: 0x1234_5678_9abc,
                timeout: 30_000,
                session_id: 0x0100_0000_0000_0042,
                passwd: (1..=16).collect(),
                read_only: Some(true),
            },
        ),
        case(
            "ConnectResponse",
            ConnectResponse {
                protocol_version: 0,
                timeout: 4000,
                session_id: 0x0100_0000_0000_0042,
                passwd: (1..=16).collect(),
                read_only: Some(false),
            },
        ),
        case("RequestHeader", RequestHeader::new(7, OpCode::GetData)),
        case(
            "ReplyHeader",
            ReplyHeader {
                xid: 7,
                zxid: 0x1_0000_0003,
                err: -101,
            },
        ),
        case("Stat", stat()),
        case("Id", Id::new("ip", "127.0.0.1/8")),
        case("Acl", acl()[1].clone()),
        case("CreateRequest", create_request()),
        case("CreateTtlRequest", create_ttl_request()),
        case(
            "DeleteRequest",
            DeleteRequest {
                path: s("/d"),
                version: 4,
            },
        ),
        case(
            "ExistsRequest",
            ExistsRequest {
                path: s("/e"),
                watch: true,
            },
        ),
        case(
            "GetDataRequest",
            GetDataRequest {
                path: s("/g"),
                watch: true,
            },
        ),
        case(
            "SetDataRequest",
            SetDataRequest {
                path: s("/s"),
                data: Some(b"v2".to_vec()),
                version: -1,
            },
        ),
        case("GetAclRequest", GetAclRequest { path: s("/acl") }),
        case(
            "SetAclRequest",
            SetAclRequest {
                path: s("/acl"),
                acl: acl(),
                version: 3,
            },
        ),
        case(
            "GetChildrenRequest",
            GetChildrenRequest {
                path: s("/p"),
                watch: true,
            },
        ),
        case(
            "CheckVersionRequest",
            CheckVersionRequest {
                path: s("/c"),
                version: 11,
            },
        ),
        case("SyncRequest", SyncRequest { path: s("/sync") }),
        case(
            "ReconfigRequest",
            ReconfigRequest {
                joining_servers: Some(s("server.4=127.0.0.1:1:2;3")),
                leaving_servers: None,
                new_members: Some(s("")),
                cur_config_id: -1,
            },
        ),
        case(
            "CheckWatchesRequest",
            CheckWatchesRequest {
                path: s("/w"),
                watcher_type: 2,
            },
        ),
        case(
            "RemoveWatchesRequest",
            RemoveWatchesRequest {
                path: s("/w"),
                watcher_type: 3,
            },
        ),
        case(
            "AddWatchRequest",
            AddWatchRequest {
                path: s("/w"),
                mode: 1,
            },
        ),
        case(
            "GetEphemeralsRequest",
            GetEphemeralsRequest {
                prefix_path: s("/"),
            },
        ),
        case(
            "GetAllChildrenNumberRequest",
            GetAllChildrenNumberRequest { path: s("/n") },
        ),
        case(
            "AuthPacket",
            AuthPacket {
                auth_type: 0,
                scheme: s("digest"),
                auth: b"user:password".to_vec(),
            },
        ),
        case(
            "SetWatches",
            SetWatches {
                relative_zxid: 0x1_0000_0010,
                data_watches: paths(),
                exist_watches: vec![s("/x")],
                child_watches: vec![],
            },
        ),
        case(
            "SetWatches2",
            SetWatches2 {
                relative_zxid: 0x1_0000_0010,
                data_watches: vec![s("/d")],
                exist_watches: vec![s("/x")],
                child_watches: paths(),
                persistent_watches: vec![s("/p")],
                persistent_recursive_watches: vec![s("/r"), s("/r2")],
            },
        ),
        case(
            "GetSaslRequest",
            GetSaslRequest {
                token: vec![0, 1, 2, 0xff],
            },
        ),
        case(
            "CreateResponse",
            CreateResponse {
                path: s("/app/node-0000000007"),
            },
        ),
        case(
            "Create2Response",
            Create2Response {
                path: s("/c2"),
                stat: stat(),
            },
        ),
        case("ExistsResponse", ExistsResponse { stat: stat() }),
        case(
            "GetDataResponse",
            GetDataResponse {
                data: Some(b"hello".to_vec()),
                stat: stat(),
            },
        ),
        case("SetDataResponse", SetDataResponse { stat: stat() }),
        case(
            "GetAclResponse",
            GetAclResponse {
                acl: acl(),
                stat: stat(),
            },
        ),
        case("SetAclResponse", SetAclResponse { stat: stat() }),
        case(
            "GetChildrenResponse",
            GetChildrenResponse { children: paths() },
        ),
        case(
            "GetChildren2Response",
            GetChildren2Response {
                children: paths(),
                stat: stat(),
            },
        ),
        case("SyncResponse", SyncResponse { path: s("/sync") }),
        case(
            "GetAllChildrenNumberResponse",
            GetAllChildrenNumberResponse { total_number: 42 },
        ),
        case(
            "GetEphemeralsResponse",
            GetEphemeralsResponse {
                ephemerals: paths(),
            },
        ),
        case("ClientInfo", client_info()[1].clone()),
        case(
            "WhoAmIResponse",
            WhoAmIResponse {
                client_info: client_info(),
            },
        ),
        case("ErrorResponse", ErrorResponse { err: -121 }),
        case(
            "SetSaslResponse",
            SetSaslResponse {
                token: b"challenge".to_vec(),
            },
        ),
        case(
            "WatcherEvent",
            WatcherEvent {
                event_type: EventType::NodeDataChanged.code(),
                state: KeeperState::SyncConnected.code(),
                path: s("/watched"),
            },
        ),
        case(
            "MultiHeader",
            MultiHeader {
                op_type: 14,
                done: false,
                err: -1,
            },
        ),
        case("MultiRequest", multi_request()),
        case("MultiResponse", multi_response()),
    ];
    for c in &mut v {
        // The trailing read-only byte is optional.
        if c.name.starts_with("Connect") {
            c.prefixes_fail = false;
        }
    }
    v
}

pub(super) fn client_info() -> Vec<ClientInfo> {
    vec![
        ClientInfo {
            auth_scheme: s("ip"),
            user: s("127.0.0.1"),
        },
        ClientInfo {
            auth_scheme: s("digest"),
            user: s("u"),
        },
    ]
}
