//! Requests and responses as one enum each, keyed by op code: what a client puts after a
//! [`RequestHeader`](super::RequestHeader) and what a server puts after a
//! [`ReplyHeader`](super::ReplyHeader). The session engine decodes replies through
//! [`Response::decode`]; the test server decodes requests through [`Request::decode`].

use super::codec::{Reader, Record};
use super::consts::OpCode;
use super::multi::{MultiRequest, MultiResponse};
use super::ops::*;
use crate::error::{Error, Result};

/// The body of a client request, by op code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is the op of the same name
pub enum Request {
    Create(CreateRequest),
    Create2(CreateRequest),
    CreateContainer(CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    Exists(ExistsRequest),
    GetData(GetDataRequest),
    SetData(SetDataRequest),
    GetAcl(GetAclRequest),
    SetAcl(SetAclRequest),
    GetChildren(GetChildrenRequest),
    GetChildren2(GetChildrenRequest),
    Check(CheckVersionRequest),
    Sync(SyncRequest),
    Ping,
    Multi(MultiRequest),
    MultiRead(MultiRequest),
    Reconfig(ReconfigRequest),
    CheckWatches(CheckWatchesRequest),
    RemoveWatches(RemoveWatchesRequest),
    AddWatch(AddWatchRequest),
    GetEphemerals(GetEphemeralsRequest),
    GetAllChildrenNumber(GetAllChildrenNumberRequest),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches2),
    Sasl(GetSaslRequest),
    WhoAmI,
    CloseSession,
}

impl Request {
    /// The op code that goes into the request header.
    pub fn op_code(&self) -> OpCode {
        match self {
            Request::Create(_) => OpCode::Create,
            Request::Create2(_) => OpCode::Create2,
            Request::CreateContainer(_) => OpCode::CreateContainer,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::Delete(_) => OpCode::Delete,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Check(_) => OpCode::Check,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::Sasl(_) => OpCode::Sasl,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
        }
    }

    /// The node path of a single-node request (`None` for the others).
    pub fn path(&self) -> Option<&str> {
        Some(match self {
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => &r.path,
            Request::CreateTtl(r) => &r.path,
            Request::Delete(r) => &r.path,
            Request::Exists(r) => &r.path,
            Request::GetData(r) => &r.path,
            Request::SetData(r) => &r.path,
            Request::GetAcl(r) => &r.path,
            Request::SetAcl(r) => &r.path,
            Request::GetChildren(r) | Request::GetChildren2(r) => &r.path,
            Request::Check(r) => &r.path,
            Request::Sync(r) => &r.path,
            Request::CheckWatches(r) => &r.path,
            Request::RemoveWatches(r) => &r.path,
            Request::AddWatch(r) => &r.path,
            Request::GetEphemerals(r) => &r.prefix_path,
            Request::GetAllChildrenNumber(r) => &r.path,
            _ => return None,
        })
    }

    /// Appends the body (not the header) to `buf`.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        match self {
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => r.encode(buf),
            Request::CreateTtl(r) => r.encode(buf),
            Request::Delete(r) => r.encode(buf),
            Request::Exists(r) => r.encode(buf),
            Request::GetData(r) => r.encode(buf),
            Request::SetData(r) => r.encode(buf),
            Request::GetAcl(r) => r.encode(buf),
            Request::SetAcl(r) => r.encode(buf),
            Request::GetChildren(r) | Request::GetChildren2(r) => r.encode(buf),
            Request::Check(r) => r.encode(buf),
            Request::Sync(r) => r.encode(buf),
            Request::Multi(r) | Request::MultiRead(r) => r.encode(buf),
            Request::Reconfig(r) => r.encode(buf),
            Request::CheckWatches(r) => r.encode(buf),
            Request::RemoveWatches(r) => r.encode(buf),
            Request::AddWatch(r) => r.encode(buf),
            Request::GetEphemerals(r) => r.encode(buf),
            Request::GetAllChildrenNumber(r) => r.encode(buf),
            Request::Auth(r) => r.encode(buf),
            Request::SetWatches(r) => r.encode(buf),
            Request::SetWatches2(r) => r.encode(buf),
            Request::Sasl(r) => r.encode(buf),
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
        }
    }

    /// Decodes the body of a request whose header carried `op`. Ops a client never sends
    /// (notification, createSession, deleteContainer, error) are an error.
    pub fn decode(op: OpCode, r: &mut Reader<'_>) -> Result<Request> {
        Ok(match op {
            OpCode::Create => Request::Create(CreateRequest::decode(r)?),
            OpCode::Create2 => Request::Create2(CreateRequest::decode(r)?),
            OpCode::CreateContainer => Request::CreateContainer(CreateRequest::decode(r)?),
            OpCode::CreateTtl => Request::CreateTtl(CreateTtlRequest::decode(r)?),
            OpCode::Delete => Request::Delete(DeleteRequest::decode(r)?),
            OpCode::Exists => Request::Exists(ExistsRequest::decode(r)?),
            OpCode::GetData => Request::GetData(GetDataRequest::decode(r)?),
            OpCode::SetData => Request::SetData(SetDataRequest::decode(r)?),
            OpCode::GetAcl => Request::GetAcl(GetAclRequest::decode(r)?),
            OpCode::SetAcl => Request::SetAcl(SetAclRequest::decode(r)?),
            OpCode::GetChildren => Request::GetChildren(GetChildrenRequest::decode(r)?),
            OpCode::GetChildren2 => Request::GetChildren2(GetChildrenRequest::decode(r)?),
            OpCode::Check => Request::Check(CheckVersionRequest::decode(r)?),
            OpCode::Sync => Request::Sync(SyncRequest::decode(r)?),
            OpCode::Ping => Request::Ping,
            OpCode::Multi => Request::Multi(MultiRequest::decode(r)?),
            OpCode::MultiRead => Request::MultiRead(MultiRequest::decode(r)?),
            OpCode::Reconfig => Request::Reconfig(ReconfigRequest::decode(r)?),
            OpCode::CheckWatches => Request::CheckWatches(CheckWatchesRequest::decode(r)?),
            OpCode::RemoveWatches => Request::RemoveWatches(RemoveWatchesRequest::decode(r)?),
            OpCode::AddWatch => Request::AddWatch(AddWatchRequest::decode(r)?),
            OpCode::GetEphemerals => Request::GetEphemerals(GetEphemeralsRequest::decode(r)?),
            OpCode::GetAllChildrenNumber => {
                Request::GetAllChildrenNumber(GetAllChildrenNumberRequest::decode(r)?)
            }
            OpCode::Auth => Request::Auth(AuthPacket::decode(r)?),
            OpCode::SetWatches => Request::SetWatches(SetWatches::decode(r)?),
            OpCode::SetWatches2 => Request::SetWatches2(SetWatches2::decode(r)?),
            OpCode::Sasl => Request::Sasl(GetSaslRequest::decode(r)?),
            OpCode::WhoAmI => Request::WhoAmI,
            OpCode::CloseSession => Request::CloseSession,
            OpCode::Notification
            | OpCode::CreateSession
            | OpCode::DeleteContainer
            | OpCode::Error => {
                return Err(Error::protocol(format!("{op:?} is not a client request")))
            }
        })
    }
}

/// The body of a successful reply (`err == 0`), by the op code of the request it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is the reply of the op of the same name
pub enum Response {
    /// No body: delete, check, ping, auth, setWatches, setWatches2, checkWatches,
    /// removeWatches, closeSession.
    Empty,
    Create(CreateResponse),
    /// create2, createContainer and createTTL.
    Create2(Create2Response),
    Exists(ExistsResponse),
    GetData(GetDataResponse),
    SetData(SetDataResponse),
    GetAcl(GetAclResponse),
    SetAcl(SetAclResponse),
    GetChildren(GetChildrenResponse),
    GetChildren2(GetChildren2Response),
    Sync(SyncResponse),
    /// multi and multiRead.
    Multi(MultiResponse),
    /// reconfig answers the new config as a getData reply.
    Reconfig(GetDataResponse),
    GetEphemerals(GetEphemeralsResponse),
    GetAllChildrenNumber(GetAllChildrenNumberResponse),
    /// addWatch answers a 4-byte ErrorResponse.
    AddWatch(ErrorResponse),
    WhoAmI(WhoAmIResponse),
    Sasl(SetSaslResponse),
}

impl Response {
    /// Appends the body to `buf`.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        match self {
            Response::Empty => {}
            Response::Create(r) => r.encode(buf),
            Response::Create2(r) => r.encode(buf),
            Response::Exists(r) => r.encode(buf),
            Response::GetData(r) | Response::Reconfig(r) => r.encode(buf),
            Response::SetData(r) => r.encode(buf),
            Response::GetAcl(r) => r.encode(buf),
            Response::SetAcl(r) => r.encode(buf),
            Response::GetChildren(r) => r.encode(buf),
            Response::GetChildren2(r) => r.encode(buf),
            Response::Sync(r) => r.encode(buf),
            Response::Multi(r) => r.encode(buf),
            Response::GetEphemerals(r) => r.encode(buf),
            Response::GetAllChildrenNumber(r) => r.encode(buf),
            Response::AddWatch(r) => r.encode(buf),
            Response::WhoAmI(r) => r.encode(buf),
            Response::Sasl(r) => r.encode(buf),
        }
    }

    /// Decodes the body of a successful reply to a request of op `op`. Ops without a body
    /// ignore whatever follows the header.
    pub fn decode(op: OpCode, r: &mut Reader<'_>) -> Result<Response> {
        Ok(match op {
            OpCode::Create => Response::Create(CreateResponse::decode(r)?),
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                Response::Create2(Create2Response::decode(r)?)
            }
            OpCode::Exists => Response::Exists(ExistsResponse::decode(r)?),
            OpCode::GetData => Response::GetData(GetDataResponse::decode(r)?),
            OpCode::SetData => Response::SetData(SetDataResponse::decode(r)?),
            OpCode::GetAcl => Response::GetAcl(GetAclResponse::decode(r)?),
            OpCode::SetAcl => Response::SetAcl(SetAclResponse::decode(r)?),
            OpCode::GetChildren => Response::GetChildren(GetChildrenResponse::decode(r)?),
            OpCode::GetChildren2 => Response::GetChildren2(GetChildren2Response::decode(r)?),
            OpCode::Sync => Response::Sync(SyncResponse::decode(r)?),
            OpCode::Multi | OpCode::MultiRead => Response::Multi(MultiResponse::decode(r)?),
            OpCode::Reconfig => Response::Reconfig(GetDataResponse::decode(r)?),
            OpCode::GetEphemerals => Response::GetEphemerals(GetEphemeralsResponse::decode(r)?),
            OpCode::GetAllChildrenNumber => {
                Response::GetAllChildrenNumber(GetAllChildrenNumberResponse::decode(r)?)
            }
            OpCode::AddWatch => Response::AddWatch(ErrorResponse::decode(r)?),
            OpCode::WhoAmI => Response::WhoAmI(WhoAmIResponse::decode(r)?),
            OpCode::Sasl => Response::Sasl(SetSaslResponse::decode(r)?),
            OpCode::Delete
            | OpCode::Check
            | OpCode::Ping
            | OpCode::Auth
            | OpCode::SetWatches
            | OpCode::SetWatches2
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::CloseSession => Response::Empty,
            OpCode::Notification
            | OpCode::CreateSession
            | OpCode::DeleteContainer
            | OpCode::Error => {
                return Err(Error::protocol(format!("{op:?} has no reply")));
            }
        })
    }
}
