//! create (with its create2, container and TTL variants) and delete: the operations that
//! make and remove nodes. Also used by [`multi`](super::multi) and the deferred forms.

use std::time::Duration;

use super::{call, unexpected, Call, Conv};
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::proto::*;

/// The largest TTL the server accepts (2^40 - 1 ms).
const MAX_TTL_MS: u128 = (1 << 40) - 1;

impl ZooKeeper {
    request_methods! {
        /// Creates a node and returns its actual path (with the sequence suffix for sequential
        /// modes). Container mode uses createContainer; the TTL modes need
        /// [`create_ttl`](Self::create_ttl).
        fn create(path: &str, data: &[u8], acl: &[Acl], mode: CreateMode) -> String = create_call;
        async create_async;
    }

    request_methods! {
        /// Creates a node (create2) and returns its path and Stat.
        fn create2(path: &str, data: &[u8], acl: &[Acl], mode: CreateMode) -> (String, Stat)
            = create2_call;
        async create2_async;
    }

    request_methods! {
        /// Creates a node with a time to live (`mode` is `PersistentWithTtl` or
        /// `PersistentSequentialWithTtl`; the server needs `extendedTypesEnabled`).
        fn create_ttl(path: &str, data: &[u8], acl: &[Acl], mode: CreateMode, ttl: Duration)
            -> (String, Stat) = create_ttl_call;
        async create_ttl_async;
    }

    request_methods! {
        /// Deletes a node if its version matches (`-1` for any version).
        fn delete(path: &str, version: i32) -> () = delete_call;
        async delete_async;
    }

    /// create: the path as created.
    pub(in crate::client) fn create_call<'p>(
        &self,
        path: &'p str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<Call<'p, impl Conv<String>>> {
        let req = self.create_request(path, data, acl, mode, None, false)?;
        let conv = self.create_conv();
        Ok(call(req, None, path, move |r| conv(r).map(|(p, _)| p)))
    }

    /// create2: the path and the Stat.
    fn create2_call<'p>(
        &self,
        path: &'p str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<Call<'p, impl Conv<(String, Stat)>>> {
        self.create_stat_call(path, data, acl, mode, None)
    }

    /// createTTL: the path and the Stat.
    fn create_ttl_call<'p>(
        &self,
        path: &'p str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        ttl: Duration,
    ) -> Result<Call<'p, impl Conv<(String, Stat)>>> {
        self.create_stat_call(path, data, acl, mode, Some(ttl))
    }

    fn create_stat_call<'p>(
        &self,
        path: &'p str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        ttl: Option<Duration>,
    ) -> Result<Call<'p, impl Conv<(String, Stat)>>> {
        let req = self.create_request(path, data, acl, mode, ttl, true)?;
        let conv = self.create_conv();
        Ok(call(req, None, path, move |r| {
            conv(r).map(|(p, s)| (p, s.unwrap_or_default()))
        }))
    }

    pub(in crate::client) fn delete_call<'p>(
        &self,
        path: &'p str,
        version: i32,
    ) -> Result<Call<'p, impl Conv<()>>> {
        let req = Request::Delete(DeleteRequest {
            path: self.server_path(path, false)?,
            version,
        });
        Ok(call(req, None, path, |_| Ok(())))
    }

    /// The request for any create (`want_stat`: create2 rather than create; containers and
    /// TTL nodes always answer a Stat).
    pub(super) fn create_request(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        ttl: Option<Duration>,
        want_stat: bool,
    ) -> Result<Request> {
        let sp = self.server_path(path, mode.is_sequential())?;
        if acl.is_empty() {
            return Err(Error::InvalidAcl {
                path: path.to_string(),
                op: Some(OpCode::Create),
            });
        }
        let data = Some(data.to_vec());
        let acl = acl.to_vec();
        let flags = mode.code();
        match (mode.is_ttl(), ttl) {
            (true, Some(ttl)) => {
                let ms = ttl.as_millis();
                if ms == 0 || ms > MAX_TTL_MS {
                    return Err(Error::InvalidArgument(format!(
                        "TTL {ttl:?} out of range (1 ms ..= 2^40-1 ms)"
                    )));
                }
                Ok(Request::CreateTtl(CreateTtlRequest {
                    path: sp,
                    data,
                    acl,
                    flags,
                    ttl: ms as i64,
                }))
            }
            (true, None) => Err(Error::InvalidArgument(format!(
                "{mode:?} needs a TTL (use create_ttl)"
            ))),
            (false, Some(_)) => Err(Error::InvalidArgument(format!(
                "a TTL needs a TTL mode, not {mode:?}"
            ))),
            (false, None) => {
                let req = CreateRequest {
                    path: sp,
                    data,
                    acl,
                    flags,
                };
                Ok(if mode.is_container() {
                    Request::CreateContainer(req)
                } else if want_stat {
                    Request::Create2(req)
                } else {
                    Request::Create(req)
                })
            }
        }
    }

    /// The created path in the client's form, and the Stat if the reply has one.
    fn create_conv(&self) -> impl FnOnce(Response) -> Result<(String, Option<Stat>)> + Send {
        let chroot = self.chroot.clone();
        move |r| match r {
            Response::Create(c) => Ok((Self::strip(&chroot, &c.path), None)),
            Response::Create2(c) => Ok((Self::strip(&chroot, &c.path), Some(c.stat))),
            other => unexpected(other),
        }
    }
}
