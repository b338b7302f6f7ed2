//! exists, getData and setData: a node's Stat and data.

use super::{call, get_data_conv, unexpected, Call, Conv, Watch};
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::proto::*;
use crate::session::pending::WatchReg;
use crate::session::registry::WatchKind;

impl ZooKeeper {
    request_methods! {
        /// The node's Stat, or `None` if it does not exist. With `watch`, the default watcher
        /// is told when the node is created, changed or deleted (the watch is set either way).
        watched fn exists(path: &str) -> Option<Stat> = exists_call;
        async exists_async;
        closure exists_w, exists_w_async;
        shared exists_w_shared, exists_w_shared_async;
    }

    request_methods! {
        /// The node's data and Stat. With `watch`, the default watcher is told when the node's
        /// data changes or it is deleted.
        watched fn get_data(path: &str) -> (Vec<u8>, Stat) = get_data_call;
        async get_data_async;
        closure get_data_w, get_data_w_async;
        shared get_data_w_shared, get_data_w_shared_async;
    }

    request_methods! {
        /// Sets the node's data if its version matches (`-1` for any) and returns the new Stat.
        fn set_data(path: &str, data: &[u8], version: i32) -> Stat = set_data_call;
        async set_data_async;
    }

    /// exists: a missing node is `Ok(None)`, not an error (its watch is set all the same).
    fn exists_call<'p>(
        &self,
        path: &'p str,
        w: Watch,
    ) -> Result<Call<'p, impl Conv<Option<Stat>>>> {
        let sp = self.server_path(path, false)?;
        let (watch, reg) = self.watch_reg(w, &sp, WatchKind::Data, Some(WatchKind::Exist))?;
        Ok(Call {
            req: Some(Request::Exists(ExistsRequest { path: sp, watch })),
            watch: reg,
            path,
            conv: |r: Result<Response>| match r {
                Ok(Response::Exists(e)) => Ok(Some(e.stat)),
                Ok(other) => unexpected(other),
                Err(Error::NoNode { .. }) => Ok(None),
                Err(e) => Err(e),
            },
        })
    }

    pub(in crate::client) fn get_data_call<'p>(
        &self,
        path: &'p str,
        w: Watch,
    ) -> Result<Call<'p, impl Conv<(Vec<u8>, Stat)>>> {
        let (req, reg) = self.get_data_request(path, w)?;
        Ok(call(req, reg, path, get_data_conv))
    }

    fn get_data_request(&self, path: &str, w: Watch) -> Result<(Request, Option<WatchReg>)> {
        let sp = self.server_path(path, false)?;
        let (watch, reg) = self.watch_reg(w, &sp, WatchKind::Data, None)?;
        Ok((Request::GetData(GetDataRequest { path: sp, watch }), reg))
    }

    pub(super) fn set_data_call<'p>(
        &self,
        path: &'p str,
        data: &[u8],
        version: i32,
    ) -> Result<Call<'p, impl Conv<Stat>>> {
        let req = Request::SetData(SetDataRequest {
            path: self.server_path(path, false)?,
            data: Some(data.to_vec()),
            version,
        });
        Ok(call(req, None, path, set_data_conv))
    }
}

fn set_data_conv(r: Response) -> Result<Stat> {
    match r {
        Response::SetData(s) => Ok(s.stat),
        other => unexpected(other),
    }
}
