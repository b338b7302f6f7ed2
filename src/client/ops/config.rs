//! getConfig and reconfig: the ensemble's dynamic configuration, at `/zookeeper/config`
//! outside any chroot.

use super::{call, get_data_conv, unexpected, Call, Conv, Watch};
use crate::client::ZooKeeper;
use crate::error::Result;
use crate::proto::*;
use crate::session::registry::WatchKind;

/// Where the ensemble's dynamic configuration lives (never under a chroot).
const CONFIG_NODE: &str = "/zookeeper/config";

impl ZooKeeper {
    request_methods! {
        /// The ensemble's dynamic configuration (`/zookeeper/config`, read outside any chroot).
        watched fn get_config() -> (Vec<u8>, Stat) = config_call;
        async get_config_async;
        closure get_config_w, get_config_w_async;
        shared get_config_w_shared, get_config_w_shared_async;
    }

    request_methods! {
        /// Changes the ensemble's membership (dynamic reconfiguration, 3.5+ servers with
        /// `reconfigEnabled`; the session needs the right to do it). Incremental (`joining` /
        /// `leaving`, comma-separated server specs / ids) or bulk (`new_members`);
        /// `from_config` is the config version it applies to (`-1`: any). Returns the new
        /// configuration and the Stat of `/zookeeper/config`.
        fn reconfig(
            joining: Option<&str>,
            leaving: Option<&str>,
            new_members: Option<&str>,
            from_config: i64,
        ) -> (Vec<u8>, Stat) = reconfig_call;
        async reconfig_async;
    }

    fn config_call(&self, w: Watch) -> Result<Call<'static, impl Conv<(Vec<u8>, Stat)>>> {
        let (watch, reg) = self.watch_reg(w, CONFIG_NODE, WatchKind::Data, None)?;
        let req = Request::GetData(GetDataRequest {
            path: CONFIG_NODE.to_string(),
            watch,
        });
        Ok(call(req, reg, CONFIG_NODE, get_data_conv))
    }

    fn reconfig_call(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        from_config: i64,
    ) -> Result<Call<'static, impl Conv<(Vec<u8>, Stat)>>> {
        let req = Request::Reconfig(ReconfigRequest {
            joining_servers: joining.map(str::to_string),
            leaving_servers: leaving.map(str::to_string),
            new_members: new_members.map(str::to_string),
            cur_config_id: from_config,
        });
        Ok(call(req, None, CONFIG_NODE, |r| match r {
            Response::Reconfig(d) => Ok((d.data.unwrap_or_default(), d.stat)),
            other => unexpected(other),
        }))
    }
}
