//! Requests and replies by op code: one sample per [`Request`] and [`Response`] variant, and
//! `Request::decode` / `Response::decode` for one op code as a type-erased [`Case`].

use super::records::{
    acl, client_info, create_request, create_ttl_request, multi_request, multi_response, paths, s,
    stat,
};
use super::Case;
use zk_curator::proto::*;

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
