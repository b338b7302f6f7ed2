//! getACL and setACL.

use super::{call, unexpected, Call, Conv};
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::proto::*;

impl ZooKeeper {
    request_methods! {
        /// The node's ACL and Stat.
        fn get_acl(path: &str) -> (Vec<Acl>, Stat) = get_acl_call;
        async get_acl_async;
    }

    request_methods! {
        /// Sets the node's ACL if its ACL version (`aversion`) matches (`-1` for any).
        fn set_acl(path: &str, acl: &[Acl], version: i32) -> Stat = set_acl_call;
        async set_acl_async;
    }

    fn get_acl_call<'p>(&self, path: &'p str) -> Result<Call<'p, impl Conv<(Vec<Acl>, Stat)>>> {
        let req = Request::GetAcl(GetAclRequest {
            path: self.server_path(path, false)?,
        });
        Ok(call(req, None, path, |r| match r {
            Response::GetAcl(a) => Ok((a.acl, a.stat)),
            other => unexpected(other),
        }))
    }

    fn set_acl_call<'p>(
        &self,
        path: &'p str,
        acl: &[Acl],
        version: i32,
    ) -> Result<Call<'p, impl Conv<Stat>>> {
        let sp = self.server_path(path, false)?;
        if acl.is_empty() {
            return Err(Error::InvalidAcl {
                path: path.to_string(),
                op: Some(OpCode::SetAcl),
            });
        }
        let req = Request::SetAcl(SetAclRequest {
            path: sp,
            acl: acl.to_vec(),
            version,
        });
        Ok(call(req, None, path, |r| match r {
            Response::SetAcl(s) => Ok(s.stat),
            other => unexpected(other),
        }))
    }
}
