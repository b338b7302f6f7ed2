//! multi and multiRead: several operations in one round trip, [`Op`]s in and
//! [`OpResult`]s out.

use super::{unexpected, Call, Conv};
use crate::client::types::{Op, OpResult};
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::proto::*;

impl ZooKeeper {
    /// Applies `ops` atomically: all of them or none. On failure returns the error of the
    /// failing operation (with its path); [`multi_results`](Self::multi_results) gives the
    /// per-operation outcome instead. An empty list succeeds without a round trip.
    pub fn multi(&self, ops: &[Op]) -> Result<Vec<OpResult>> {
        first_error(self.multi_results(ops)?)
    }

    request_methods! {
        /// Like [`multi`](Self::multi), but a failed transaction is `Ok` with one result per
        /// operation: [`OpResult::RolledBack`] before the failing one, its
        /// [`OpResult::Error`], and `RuntimeInconsistency` errors after it.
        fn multi_results(ops: &[Op]) -> Vec<OpResult> = multi_write_call;
        async
        /// The callback gets the per-operation outcome.
        multi_async;
    }

    request_methods! {
        /// Reads several nodes in one round trip (3.6+ servers). Not atomic: each operation has
        /// its own result or [`OpResult::Error`].
        fn multi_read(ops: &[Op]) -> Vec<OpResult> = multi_read_call;
        async multi_read_async;
    }

    fn multi_write_call<'p>(&self, ops: &[Op]) -> Result<Call<'p, impl Conv<Vec<OpResult>>>> {
        self.multi_call(ops, false)
    }

    fn multi_read_call<'p>(&self, ops: &[Op]) -> Result<Call<'p, impl Conv<Vec<OpResult>>>> {
        self.multi_call(ops, true)
    }

    /// multi (`read` false) or multiRead; an empty list is answered here, without a round
    /// trip (but not by a closed handle).
    fn multi_call<'p>(&self, ops: &[Op], read: bool) -> Result<Call<'p, impl Conv<Vec<OpResult>>>> {
        let req = if ops.is_empty() {
            self.check_alive()?;
            None
        } else {
            Some(self.multi_request(ops, read)?)
        };
        Ok(Call {
            req,
            watch: None,
            path: "/",
            conv: self.multi_conv(ops),
        })
    }

    fn multi_request(&self, ops: &[Op], read: bool) -> Result<Request> {
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            if op.is_read() != read {
                return Err(Error::InvalidArgument(if read {
                    format!("multi_read takes only reads, got {op:?}")
                } else {
                    format!("multi takes no reads (use multi_read), got {op:?}")
                }));
            }
            out.push(match op {
                Op::Create {
                    path,
                    data,
                    acl,
                    mode,
                    ttl,
                } => match self.create_request(path, data, acl, *mode, *ttl, false)? {
                    Request::Create(req) => MultiOp::Create {
                        op: OpCode::Create,
                        req,
                    },
                    Request::CreateContainer(req) => MultiOp::Create {
                        op: OpCode::CreateContainer,
                        req,
                    },
                    Request::CreateTtl(req) => MultiOp::CreateTtl(req),
                    other => return unexpected_req(other),
                },
                Op::Delete { path, version } => MultiOp::Delete(DeleteRequest {
                    path: self.server_path(path, false)?,
                    version: *version,
                }),
                Op::SetData {
                    path,
                    data,
                    version,
                } => MultiOp::SetData(SetDataRequest {
                    path: self.server_path(path, false)?,
                    data: Some(data.clone()),
                    version: *version,
                }),
                Op::Check { path, version } => MultiOp::Check(CheckVersionRequest {
                    path: self.server_path(path, false)?,
                    version: *version,
                }),
                Op::GetData { path } => MultiOp::GetData(GetDataRequest {
                    path: self.server_path(path, false)?,
                    watch: false,
                }),
                Op::GetChildren { path } => MultiOp::GetChildren(GetChildrenRequest {
                    path: self.server_path(path, false)?,
                    watch: false,
                }),
            });
        }
        let m = MultiRequest { ops: out };
        Ok(if read {
            Request::MultiRead(m)
        } else {
            Request::Multi(m)
        })
    }

    /// One result per operation, paths in the client's form, errors naming their operation.
    fn multi_conv(&self, ops: &[Op]) -> impl Conv<Vec<OpResult>> {
        let chroot = self.chroot.clone();
        let paths: Vec<(String, OpCode)> = ops
            .iter()
            .map(|o| (o.path().to_string(), o.op_code()))
            .collect();
        move |r: Result<Response>| {
            let m = match r? {
                Response::Multi(m) => m,
                // The answer given here to an empty list.
                Response::Empty if paths.is_empty() => return Ok(Vec::new()),
                other => return unexpected(other),
            };
            if m.results.len() != paths.len() {
                return Err(Error::Protocol(format!(
                    "{} results for {} operations",
                    m.results.len(),
                    paths.len()
                )));
            }
            Ok(m.results
                .into_iter()
                .zip(&paths)
                .map(|(res, (p, op))| match res {
                    MultiResult::Create(c) => OpResult::Create {
                        path: Self::strip(&chroot, &c.path),
                        stat: None,
                    },
                    MultiResult::Create2(c) => OpResult::Create {
                        path: Self::strip(&chroot, &c.path),
                        stat: Some(c.stat),
                    },
                    MultiResult::Delete => OpResult::Delete,
                    MultiResult::SetData(s) => OpResult::SetData { stat: s.stat },
                    MultiResult::Check => OpResult::Check,
                    MultiResult::GetData(d) => OpResult::GetData {
                        data: d.data.unwrap_or_default(),
                        stat: d.stat,
                    },
                    MultiResult::GetChildren(c) => OpResult::GetChildren {
                        children: c.children,
                    },
                    MultiResult::Error(0) => OpResult::RolledBack,
                    MultiResult::Error(code) => {
                        OpResult::Error(Error::from_code(code, p).with_op(*op))
                    }
                })
                .collect())
        }
    }
}

fn first_error(results: Vec<OpResult>) -> Result<Vec<OpResult>> {
    if let Some(e) = results.iter().find_map(|r| r.error()) {
        return Err(e.clone());
    }
    Ok(results)
}

fn unexpected_req<T>(r: Request) -> Result<T> {
    Err(Error::InvalidArgument(format!(
        "cannot put {r:?} in a multi"
    )))
}
