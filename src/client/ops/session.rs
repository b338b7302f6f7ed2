//! The operations about the session and its server rather than one node: sync, whoAmI and
//! getEphemerals.

use super::{call, unexpected, Call, Conv};
use crate::client::ZooKeeper;
use crate::error::Result;
use crate::proto::*;

impl ZooKeeper {
    request_methods! {
        /// Waits until the server this client is connected to has caught up with the leader, so
        /// that a following read sees every write committed before the sync.
        fn sync(path: &str) -> () = sync_call;
        async sync_async;
    }

    request_methods! {
        /// The identities the session is authenticated as (3.7+ servers).
        fn who_am_i() -> Vec<ClientInfo> = who_am_i_call;
        async who_am_i_async;
    }

    request_methods! {
        /// The paths of this session's ephemeral nodes whose path starts with `prefix` (a plain
        /// string prefix; `/` for all), 3.6+ servers.
        fn get_ephemerals(prefix: &str) -> Vec<String> = ephemerals_call;
        async get_ephemerals_async;
    }

    fn sync_call<'p>(&self, path: &'p str) -> Result<Call<'p, impl Conv<()>>> {
        let req = Request::Sync(SyncRequest {
            path: self.server_path(path, false)?,
        });
        Ok(call(req, None, path, |_| Ok(())))
    }

    fn who_am_i_call(&self) -> Result<Call<'static, impl Conv<Vec<ClientInfo>>>> {
        Ok(call(Request::WhoAmI, None, "/", |r| match r {
            Response::WhoAmI(w) => Ok(w.client_info),
            other => unexpected(other),
        }))
    }

    fn ephemerals_call<'p>(&self, prefix: &'p str) -> Result<Call<'p, impl Conv<Vec<String>>>> {
        // A plain string prefix, matched with startsWith by the server: not a path to
        // validate, but the chroot still applies (and is stripped from the results).
        let prefix_path = match &self.chroot {
            Some(c) if prefix == "/" || prefix.is_empty() => c.to_string(),
            Some(c) => format!("{c}{prefix}"),
            None => prefix.to_string(),
        };
        let req = Request::GetEphemerals(GetEphemeralsRequest { prefix_path });
        let chroot = self.chroot.clone();
        Ok(call(req, None, prefix, move |r| match r {
            Response::GetEphemerals(e) => Ok(e
                .ephemerals
                .iter()
                .map(|p| Self::strip(&chroot, p))
                .collect()),
            other => unexpected(other),
        }))
    }
}
