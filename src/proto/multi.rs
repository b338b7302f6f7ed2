//! multi (op 14) and multiRead (op 22): a sequence of `(MultiHeader, record)` pairs closed by
//! the terminator header `{type: -1, done: true, err: -1}` (protocol.md §7).

use super::codec::{record, Reader, Record};
use super::consts::OpCode;
use super::ops::{
    CheckVersionRequest, Create2Response, CreateRequest, CreateResponse, CreateTtlRequest,
    DeleteRequest, ErrorResponse, GetChildrenRequest, GetChildrenResponse, GetDataRequest,
    GetDataResponse, SetDataRequest, SetDataResponse,
};
use crate::error::{Error, Result};

record! {
    /// The header before each op of a multi request and each result of a multi response.
    MultiHeader (9) {
        /// The op code of the op or result (`-1` for an error result and the terminator).
        op_type: i32,
        /// True only in the terminator.
        done: bool,
        /// `-1` in requests; the result code in responses.
        err: i32,
    }
}

impl MultiHeader {
    /// The header that ends a multi request or response.
    pub const TERMINATOR: MultiHeader = MultiHeader {
        op_type: -1,
        done: true,
        err: -1,
    };
}

/// One operation of a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    /// create, create2 or createContainer: `op` says which.
    Create {
        /// [`OpCode::Create`], [`OpCode::Create2`] or [`OpCode::CreateContainer`].
        op: OpCode,
        /// The request.
        req: CreateRequest,
    },
    /// createTTL.
    CreateTtl(CreateTtlRequest),
    /// delete.
    Delete(DeleteRequest),
    /// setData.
    SetData(SetDataRequest),
    /// check (a version assertion).
    Check(CheckVersionRequest),
    /// getChildren (multiRead only; the watch flag is ignored).
    GetChildren(GetChildrenRequest),
    /// getData (multiRead only; the watch flag is ignored).
    GetData(GetDataRequest),
}

impl MultiOp {
    /// The op code written in this op's header.
    pub fn op_code(&self) -> OpCode {
        match self {
            MultiOp::Create { op, .. } => *op,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
        }
    }

    /// The path the op is about.
    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create { req, .. } => &req.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetChildren(r) => &r.path,
            MultiOp::GetData(r) => &r.path,
        }
    }

    /// Mutable access to the path (to apply or strip a chroot).
    pub fn path_mut(&mut self) -> &mut String {
        match self {
            MultiOp::Create { req, .. } => &mut req.path,
            MultiOp::CreateTtl(r) => &mut r.path,
            MultiOp::Delete(r) => &mut r.path,
            MultiOp::SetData(r) => &mut r.path,
            MultiOp::Check(r) => &mut r.path,
            MultiOp::GetChildren(r) => &mut r.path,
            MultiOp::GetData(r) => &mut r.path,
        }
    }

    /// True for the read ops that belong in a multiRead.
    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }
}

/// The body of a multi (14) or multiRead (22) request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRequest {
    /// The operations, in order.
    pub ops: Vec<MultiOp>,
}

impl Record for MultiRequest {
    fn encode(&self, buf: &mut Vec<u8>) {
        for op in &self.ops {
            MultiHeader {
                op_type: op.op_code().code(),
                done: false,
                err: -1,
            }
            .encode(buf);
            match op {
                MultiOp::Create { req, .. } => req.encode(buf),
                MultiOp::CreateTtl(r) => r.encode(buf),
                MultiOp::Delete(r) => r.encode(buf),
                MultiOp::SetData(r) => r.encode(buf),
                MultiOp::Check(r) => r.encode(buf),
                MultiOp::GetChildren(r) => r.encode(buf),
                MultiOp::GetData(r) => r.encode(buf),
            }
        }
        MultiHeader::TERMINATOR.encode(buf);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let mut ops = Vec::new();
        loop {
            let h = MultiHeader::decode(r)?;
            if h.done {
                return Ok(MultiRequest { ops });
            }
            let op = OpCode::try_from(h.op_type)?;
            ops.push(match op {
                OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => MultiOp::Create {
                    op,
                    req: CreateRequest::decode(r)?,
                },
                OpCode::CreateTtl => MultiOp::CreateTtl(CreateTtlRequest::decode(r)?),
                OpCode::Delete => MultiOp::Delete(DeleteRequest::decode(r)?),
                OpCode::SetData => MultiOp::SetData(SetDataRequest::decode(r)?),
                OpCode::Check => MultiOp::Check(CheckVersionRequest::decode(r)?),
                OpCode::GetChildren => MultiOp::GetChildren(GetChildrenRequest::decode(r)?),
                OpCode::GetData => MultiOp::GetData(GetDataRequest::decode(r)?),
                other => {
                    return Err(Error::protocol(format!(
                        "op {other:?} is not allowed in a multi"
                    )))
                }
            });
        }
    }
}

/// One result of a multi or multiRead response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    /// type 1: a create answered without Stat (also create2/container/TTL on servers older
    /// than 3.7.2 / 3.8.2).
    Create(CreateResponse),
    /// type 15: a create answered with Stat.
    Create2(Create2Response),
    /// type 2.
    Delete,
    /// type 5.
    SetData(SetDataResponse),
    /// type 13.
    Check,
    /// type 8 (multiRead).
    GetChildren(GetChildrenResponse),
    /// type 4 (multiRead).
    GetData(GetDataResponse),
    /// type -1: the op failed with this code (0 for ops before the failing one, -2 for ops
    /// after it).
    Error(i32),
}

impl MultiResult {
    fn op_type(&self) -> i32 {
        match self {
            MultiResult::Create(_) => OpCode::Create.code(),
            MultiResult::Create2(_) => OpCode::Create2.code(),
            MultiResult::Delete => OpCode::Delete.code(),
            MultiResult::SetData(_) => OpCode::SetData.code(),
            MultiResult::Check => OpCode::Check.code(),
            MultiResult::GetChildren(_) => OpCode::GetChildren.code(),
            MultiResult::GetData(_) => OpCode::GetData.code(),
            MultiResult::Error(_) => OpCode::Error.code(),
        }
    }
}

/// The body of a multi (14) or multiRead (22) response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    /// One result per op, in order.
    pub results: Vec<MultiResult>,
}

impl Record for MultiResponse {
    fn encode(&self, buf: &mut Vec<u8>) {
        for res in &self.results {
            let err = match res {
                MultiResult::Error(e) => *e,
                _ => 0,
            };
            MultiHeader {
                op_type: res.op_type(),
                done: false,
                err,
            }
            .encode(buf);
            match res {
                MultiResult::Create(r) => r.encode(buf),
                MultiResult::Create2(r) => r.encode(buf),
                MultiResult::Delete | MultiResult::Check => {}
                MultiResult::SetData(r) => r.encode(buf),
                MultiResult::GetChildren(r) => r.encode(buf),
                MultiResult::GetData(r) => r.encode(buf),
                MultiResult::Error(e) => ErrorResponse { err: *e }.encode(buf),
            }
        }
        MultiHeader::TERMINATOR.encode(buf);
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let mut results = Vec::new();
        loop {
            let h = MultiHeader::decode(r)?;
            if h.done {
                return Ok(MultiResponse { results });
            }
            let op = OpCode::try_from(h.op_type)?;
            results.push(match op {
                OpCode::Create => MultiResult::Create(CreateResponse::decode(r)?),
                OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                    MultiResult::Create2(Create2Response::decode(r)?)
                }
                OpCode::Delete => MultiResult::Delete,
                OpCode::SetData => MultiResult::SetData(SetDataResponse::decode(r)?),
                OpCode::Check => MultiResult::Check,
                OpCode::GetChildren => MultiResult::GetChildren(GetChildrenResponse::decode(r)?),
                OpCode::GetData => MultiResult::GetData(GetDataResponse::decode(r)?),
                OpCode::Error => MultiResult::Error(ErrorResponse::decode(r)?.err),
                other => {
                    return Err(Error::protocol(format!(
                        "op {other:?} is not a multi result type"
                    )))
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::data::{Acl, Stat};

    #[test]
    fn request_layout_has_headers_and_terminator() {
        let m = MultiRequest {
            ops: vec![MultiOp::Check(CheckVersionRequest {
                path: "/a".into(),
                version: 3,
            })],
        };
        let b = m.to_bytes();
        let mut want = vec![0, 0, 0, 13, 0, 0xff, 0xff, 0xff, 0xff];
        want.extend_from_slice(&[0, 0, 0, 2, b'/', b'a', 0, 0, 0, 3]);
        want.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(b, want);
        assert_eq!(MultiRequest::decode_exact(&b).unwrap(), m);
    }

    #[test]
    fn every_op_and_result_round_trips() {
        let m = MultiRequest {
            ops: vec![
                MultiOp::Create {
                    op: OpCode::Create2,
                    req: CreateRequest {
                        path: "/a".into(),
                        data: Some(b"x".to_vec()),
                        acl: Acl::open_unsafe(),
                        flags: 0,
                    },
                },
                MultiOp::Create {
                    op: OpCode::CreateContainer,
                    req: CreateRequest {
                        path: "/c".into(),
                        data: None,
                        acl: Acl::open_unsafe(),
                        flags: 4,
                    },
                },
                MultiOp::CreateTtl(CreateTtlRequest {
                    path: "/t".into(),
                    data: Some(vec![]),
                    acl: Acl::open_unsafe(),
                    flags: 5,
                    ttl: 1000,
                }),
                MultiOp::Delete(DeleteRequest {
                    path: "/d".into(),
                    version: -1,
                }),
                MultiOp::SetData(SetDataRequest {
                    path: "/s".into(),
                    data: Some(b"y".to_vec()),
                    version: 2,
                }),
                MultiOp::GetChildren(GetChildrenRequest {
                    path: "/g".into(),
                    watch: false,
                }),
                MultiOp::GetData(GetDataRequest {
                    path: "/h".into(),
                    watch: false,
                }),
            ],
        };
        assert_eq!(MultiRequest::decode_exact(&m.to_bytes()).unwrap(), m);

        let resp = MultiResponse {
            results: vec![
                MultiResult::Create(CreateResponse { path: "/a".into() }),
                MultiResult::Create2(Create2Response {
                    path: "/b".into(),
                    stat: Stat::default(),
                }),
                MultiResult::Delete,
                MultiResult::SetData(SetDataResponse {
                    stat: Stat::default(),
                }),
                MultiResult::Check,
                MultiResult::GetChildren(GetChildrenResponse {
                    children: vec!["x".into()],
                }),
                MultiResult::GetData(GetDataResponse {
                    data: None,
                    stat: Stat::default(),
                }),
                MultiResult::Error(-101),
            ],
        };
        assert_eq!(MultiResponse::decode_exact(&resp.to_bytes()).unwrap(), resp);
    }

    #[test]
    fn empty_multi_is_just_the_terminator() {
        let b = MultiRequest::default().to_bytes();
        assert_eq!(b.len(), 9);
        assert!(MultiRequest::decode_exact(&b).unwrap().ops.is_empty());
    }

    #[test]
    fn foreign_ops_are_rejected() {
        let mut b = Vec::new();
        MultiHeader {
            op_type: OpCode::Sync.code(),
            done: false,
            err: -1,
        }
        .encode(&mut b);
        assert!(MultiRequest::decode_exact(&b).is_err());
    }
}
