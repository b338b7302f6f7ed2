//! One valid, non-trivial instance of every wire record, of every [`Request`] variant and of
//! every [`Response`] variant, for the round-trip tests (`tests/proto_roundtrip.rs`) and the
//! decoder fuzz (`tests/proto_fuzz.rs`).
//!
//! Each [`Case`] erases the record's type: `decode` reads a value from the front of a byte
//! string and (when asked) returns its re-encoding, `round_trip` checks
//! `decode(encode(v)) == v` by value.

use zk_curator::proto::*;
use zk_curator::Result;

/// A type-erased decoder: reads a value from the front of the input and returns the number
/// of input bytes used and, if the flag asks for it, the value's re-encoding.
pub type DecodeFn = Box<dyn Fn(&[u8], bool) -> Result<(Vec<u8>, usize)> + Send + Sync>;

/// A record type with its sample, type-erased.
pub struct Case {
    /// The record (or `Request::<op>` / `Response::<op>`).
    pub name: String,
    /// The sample's encoding.
    pub bytes: Vec<u8>,
    /// The decoder under test.
    pub decode: DecodeFn,
    /// Checks that the sample decodes back to itself, by value.
    pub round_trip: Box<dyn Fn() -> std::result::Result<(), String> + Send + Sync>,
    /// Every strict prefix of `bytes` must fail to decode, except where a trailing field is
    /// optional (the handshake records) or the body is ignored (requests and replies without
    /// one).
    pub prefixes_fail: bool,
    /// False for the op codes a client never sends: then there is no sample and every input
    /// must fail to decode.
    pub has_sample: bool,
}

fn case<T>(name: &str, v: T) -> Case
where
    T: Record + PartialEq + std::fmt::Debug + Send + Sync + 'static,
{
    let bytes = v.to_bytes();
    let b2 = bytes.clone();
    Case {
        name: name.to_string(),
        bytes,
        decode: Box::new(|b, reencode| {
            let mut r = Reader::new(b);
            let v = T::decode(&mut r)?;
            let re = if reencode { v.to_bytes() } else { Vec::new() };
            Ok((re, b.len() - r.remaining()))
        }),
        round_trip: Box::new(move || match T::decode_exact(&b2) {
            Ok(d) if d == v => Ok(()),
            Ok(d) => Err(format!("decoded {d:?}, expected {v:?}")),
            Err(e) => Err(format!("{e}")),
        }),
        prefixes_fail: true,
        has_sample: true,
    }
}

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

fn s(v: &str) -> String {
    v.to_string()
}

fn paths() -> Vec<String> {
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

fn create_ttl_request() -> CreateTtlRequest {
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

fn client_info() -> Vec<ClientInfo> {
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

/// One sample request per [`Request`] variant.
pub fn requests() -> Vec<Request> {
    vec![
        Request::Create(create_request()),
        Request::Create2(create_request()),
        Request::CreateContainer(CreateRequest {
            flags: 4,
            ..create_request()
        }),
        Request::CreateTtl(create_ttl_request()),
        Request::Delete(DeleteRequest {
            path: s("/d"),
            version: -1,
        }),
        Request::Exists(ExistsRequest {
            path: s("/e"),
            watch: true,
        }),
        Request::GetData(GetDataRequest {
            path: s("/g"),
            watch: false,
        }),
        Request::SetData(SetDataRequest {
            path: s("/s"),
            data: None,
            version: 1,
        }),
        Request::GetAcl(GetAclRequest { path: s("/a") }),
        Request::SetAcl(SetAclRequest {
            path: s("/a"),
            acl: acl(),
            version: -1,
        }),
        Request::GetChildren(GetChildrenRequest {
            path: s("/p"),
            watch: true,
        }),
        Request::GetChildren2(GetChildrenRequest {
            path: s("/p"),
            watch: false,
        }),
        Request::Check(CheckVersionRequest {
            path: s("/c"),
            version: 0,
        }),
        Request::Sync(SyncRequest { path: s("/") }),
        Request::Ping,
        Request::Multi(multi_request()),
        Request::MultiRead(MultiRequest {
            ops: multi_request()
                .ops
                .into_iter()
                .filter(MultiOp::is_read)
                .collect(),
        }),
        Request::Reconfig(ReconfigRequest {
            joining_servers: None,
            leaving_servers: Some(s("3")),
            new_members: None,
            cur_config_id: 0x1_0000_0000,
        }),
        Request::CheckWatches(CheckWatchesRequest {
            path: s("/w"),
            watcher_type: 1,
        }),
        Request::RemoveWatches(RemoveWatchesRequest {
            path: s("/w"),
            watcher_type: 3,
        }),
        Request::AddWatch(AddWatchRequest {
            path: s("/w"),
            mode: 0,
        }),
        Request::GetEphemerals(GetEphemeralsRequest {
            prefix_path: s("/e"),
        }),
        Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path: s("/") }),
        Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: s("digest"),
            auth: b"u:p".to_vec(),
        }),
        Request::SetWatches(SetWatches {
            relative_zxid: 5,
            data_watches: paths(),
            exist_watches: vec![],
            child_watches: vec![s("/")],
        }),
        Request::SetWatches2(SetWatches2 {
            relative_zxid: 5,
            persistent_watches: vec![s("/p")],
            ..SetWatches2::default()
        }),
        Request::Sasl(GetSaslRequest {
            token: b"tok".to_vec(),
        }),
        Request::WhoAmI,
        Request::CloseSession,
    ]
}

/// One sample reply body per op code that has a reply, with that op code (each
/// [`Response`] variant appears at least once).
pub fn responses() -> Vec<(OpCode, Response)> {
    let c2 = || {
        Response::Create2(Create2Response {
            path: s("/c"),
            stat: stat(),
        })
    };
    let mut v = vec![
        (
            OpCode::Create,
            Response::Create(CreateResponse {
                path: s("/app/node-0000000001"),
            }),
        ),
        (OpCode::Create2, c2()),
        (OpCode::CreateContainer, c2()),
        (OpCode::CreateTtl, c2()),
        (
            OpCode::Exists,
            Response::Exists(ExistsResponse { stat: stat() }),
        ),
        (
            OpCode::GetData,
            Response::GetData(GetDataResponse {
                data: Some(b"x".to_vec()),
                stat: stat(),
            }),
        ),
        (
            OpCode::SetData,
            Response::SetData(SetDataResponse { stat: stat() }),
        ),
        (
            OpCode::GetAcl,
            Response::GetAcl(GetAclResponse {
                acl: acl(),
                stat: stat(),
            }),
        ),
        (
            OpCode::SetAcl,
            Response::SetAcl(SetAclResponse { stat: stat() }),
        ),
        (
            OpCode::GetChildren,
            Response::GetChildren(GetChildrenResponse { children: paths() }),
        ),
        (
            OpCode::GetChildren2,
            Response::GetChildren2(GetChildren2Response {
                children: paths(),
                stat: stat(),
            }),
        ),
        (OpCode::Sync, Response::Sync(SyncResponse { path: s("/") })),
        (OpCode::Multi, Response::Multi(multi_response())),
        (OpCode::MultiRead, Response::Multi(multi_response())),
        (
            OpCode::Reconfig,
            Response::Reconfig(GetDataResponse {
                data: Some(b"server.1=127.0.0.1:2888:3888;2181\nversion=100000000".to_vec()),
                stat: stat(),
            }),
        ),
        (
            OpCode::GetEphemerals,
            Response::GetEphemerals(GetEphemeralsResponse {
                ephemerals: paths(),
            }),
        ),
        (
            OpCode::GetAllChildrenNumber,
            Response::GetAllChildrenNumber(GetAllChildrenNumberResponse { total_number: 3 }),
        ),
        (
            OpCode::AddWatch,
            Response::AddWatch(ErrorResponse { err: 0 }),
        ),
        (
            OpCode::WhoAmI,
            Response::WhoAmI(WhoAmIResponse {
                client_info: client_info(),
            }),
        ),
        (
            OpCode::Sasl,
            Response::Sasl(SetSaslResponse {
                token: b"t".to_vec(),
            }),
        ),
    ];
    for op in EMPTY_REPLY_OPS {
        v.push((*op, Response::Empty));
    }
    v
}

/// The ops whose successful reply has no body.
pub const EMPTY_REPLY_OPS: &[OpCode] = &[
    OpCode::Delete,
    OpCode::Check,
    OpCode::Ping,
    OpCode::Auth,
    OpCode::SetWatches,
    OpCode::SetWatches2,
    OpCode::CheckWatches,
    OpCode::RemoveWatches,
    OpCode::CloseSession,
];

/// The op codes a client never sends (no request body, no reply).
pub const NOT_CLIENT_OPS: &[OpCode] = &[
    OpCode::Notification,
    OpCode::CreateSession,
    OpCode::DeleteContainer,
    OpCode::Error,
];

/// `Request::decode` for `op`, type-erased like [`Case::decode`].
pub fn request_case(op: OpCode) -> Case {
    let sample = requests().into_iter().find(|r| r.op_code() == op);
    let bytes = sample.as_ref().map(body_of_request).unwrap_or_default();
    Case {
        name: format!("Request::decode({op:?})"),
        prefixes_fail: !bytes.is_empty(),
        has_sample: sample.is_some(),
        bytes,
        decode: Box::new(move |b, reencode| {
            let mut r = Reader::new(b);
            let v = Request::decode(op, &mut r)?;
            let re = if reencode {
                body_of_request(&v)
            } else {
                Vec::new()
            };
            Ok((re, b.len() - r.remaining()))
        }),
        round_trip: Box::new(move || match &sample {
            None => Ok(()),
            Some(req) => {
                let b = body_of_request(req);
                let mut r = Reader::new(&b);
                match Request::decode(op, &mut r) {
                    Ok(d) if &d == req && r.is_empty() => Ok(()),
                    other => Err(format!("{other:?}, expected {req:?}")),
                }
            }
        }),
    }
}

/// `Response::decode` for `op`, type-erased like [`Case::decode`].
pub fn response_case(op: OpCode) -> Case {
    let sample = responses().into_iter().find(|(o, _)| *o == op).map(|p| p.1);
    let bytes = sample.as_ref().map(body_of_response).unwrap_or_default();
    Case {
        name: format!("Response::decode({op:?})"),
        prefixes_fail: !bytes.is_empty(),
        has_sample: sample.is_some(),
        bytes,
        decode: Box::new(move |b, reencode| {
            let mut r = Reader::new(b);
            let v = Response::decode(op, &mut r)?;
            let re = if reencode {
                body_of_response(&v)
            } else {
                Vec::new()
            };
            Ok((re, b.len() - r.remaining()))
        }),
        round_trip: Box::new(move || match &sample {
            None => Ok(()),
            Some(resp) => {
                let b = body_of_response(resp);
                let mut r = Reader::new(&b);
                match Response::decode(op, &mut r) {
                    Ok(d) if &d == resp && r.is_empty() => Ok(()),
                    other => Err(format!("{other:?}, expected {resp:?}")),
                }
            }
        }),
    }
}

fn body_of_request(r: &Request) -> Vec<u8> {
    let mut b = Vec::new();
    r.encode(&mut b);
    b
}

fn body_of_response(r: &Response) -> Vec<u8> {
    let mut b = Vec::new();
    r.encode(&mut b);
    b
}
