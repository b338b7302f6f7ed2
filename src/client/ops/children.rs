//! getChildren, getChildren2 and getAllChildrenNumber: a node's children.

use super::{call, unexpected, Call, Conv, Watch};
use crate::client::ZooKeeper;
use crate::error::Result;
use crate::proto::*;
use crate::session::pending::WatchReg;
use crate::session::registry::WatchKind;

impl ZooKeeper {
    request_methods! {
        /// The names of the node's children (in no particular order). With `watch`, the default
        /// watcher is told when a child is created or deleted, or the node deleted.
        watched fn get_children(path: &str) -> Vec<String> = children_call;
        async get_children_async;
        closure get_children_w, get_children_w_async;
        shared get_children_w_shared, get_children_w_shared_async;
    }

    request_methods! {
        /// The children and the node's Stat (getChildren2).
        watched fn get_children2(path: &str) -> (Vec<String>, Stat) = children2_call;
        async get_children2_async;
        closure get_children2_w, get_children2_w_async;
        shared get_children2_w_shared, get_children2_w_shared_async;
    }

    request_methods! {
        /// The number of descendants of the node, itself excluded (3.6+ servers).
        fn get_all_children_number(path: &str) -> i32 = all_children_call;
        async get_all_children_number_async;
    }

    /// getChildren: the names.
    pub(in crate::client) fn children_call<'p>(
        &self,
        path: &'p str,
        w: Watch,
    ) -> Result<Call<'p, impl Conv<Vec<String>>>> {
        let (req, reg) = self.children_request(path, w, false)?;
        Ok(call(req, reg, path, |r| children_conv(r).map(|(c, _)| c)))
    }

    /// getChildren2: the names and the Stat.
    pub(super) fn children2_call<'p>(
        &self,
        path: &'p str,
        w: Watch,
    ) -> Result<Call<'p, impl Conv<(Vec<String>, Stat)>>> {
        let (req, reg) = self.children_request(path, w, true)?;
        Ok(call(req, reg, path, |r| {
            children_conv(r).map(|(c, s)| (c, s.unwrap_or_default()))
        }))
    }

    fn children_request(
        &self,
        path: &str,
        w: Watch,
        with_stat: bool,
    ) -> Result<(Request, Option<WatchReg>)> {
        let sp = self.server_path(path, false)?;
        let (watch, reg) = self.watch_reg(w, &sp, WatchKind::Child, None)?;
        let r = GetChildrenRequest { path: sp, watch };
        Ok((
            if with_stat {
                Request::GetChildren2(r)
            } else {
                Request::GetChildren(r)
            },
            reg,
        ))
    }

    fn all_children_call<'p>(&self, path: &'p str) -> Result<Call<'p, impl Conv<i32>>> {
        let req = Request::GetAllChildrenNumber(GetAllChildrenNumberRequest {
            path: self.server_path(path, false)?,
        });
        Ok(call(req, None, path, |r| match r {
            Response::GetAllChildrenNumber(n) => Ok(n.total_number),
            other => unexpected(other),
        }))
    }
}

fn children_conv(r: Response) -> Result<(Vec<String>, Option<Stat>)> {
    match r {
        Response::GetChildren(c) => Ok((c.children, None)),
        Response::GetChildren2(c) => Ok((c.children, Some(c.stat))),
        other => unexpected(other),
    }
}
