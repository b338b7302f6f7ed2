//! `get_config()`: the ensemble's dynamic configuration (`/zookeeper/config`, outside any
//! namespace or chroot).

use super::{
    attempt_on_timer, builder_common, event_for, fill_data, store, watch_modifiers, Common,
    Foreground, InBackground, WatchMode, WithStat,
};
use crate::error::{Error, Result};
use crate::framework::types::CuratorEventType;
use crate::framework::CuratorFramework;
use crate::proto::Stat;

const CONFIG_NODE: &str = "/zookeeper/config";

/// Builder of `client.get_config()`.
#[must_use = "a builder does nothing until for_ensemble()"]
pub struct GetConfigBuilder<'a, M = Foreground> {
    common: Common<'a, M>,
}

impl<M> GetConfigBuilder<'_, M> {
    watch_modifiers! {
        /// Set a one-shot watch whose event goes to the CuratorListeners.
        fn watched;
        /// Set a one-shot watch calling `w` (events carry the path `/zookeeper/config`).
        fn using_watcher;
    }

    fn watcher(&self) -> Option<crate::session::SharedWatcher> {
        // The config node is outside the namespace: no path to strip.
        let w = match &self.common.watch {
            WatchMode::None => return None,
            WatchMode::Listeners => self.common.client.without_namespace().listener_watcher(),
            WatchMode::Watcher(w) => w.clone(),
        };
        self.common.client.track_watch(CONFIG_NODE, &w);
        Some(w)
    }
}

impl<'a> GetConfigBuilder<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        GetConfigBuilder {
            common: Common::new(client),
        }
    }

    /// Copy the config node's Stat into `stat` (foreground only).
    pub fn storing_stat_in(self, stat: &'a mut Stat) -> GetConfigBuilder<'a, WithStat> {
        self.retype(|c| c.with_stat(stat))
    }

    /// The configuration text (`server.N=...` lines and `version=`).
    pub fn for_ensemble(self) -> Result<Vec<u8>> {
        self.read()
    }
}

impl GetConfigBuilder<'_, WithStat> {
    /// The configuration text, copying the node's Stat.
    pub fn for_ensemble(self) -> Result<Vec<u8>> {
        self.read()
    }
}

impl<M> GetConfigBuilder<'_, M> {
    fn read(mut self) -> Result<Vec<u8>> {
        let w = self.watcher();
        let (data, stat) = self.common.client.call(|zk, _| match &w {
            Some(w) => zk.get_config_w_shared(w),
            None => zk.get_config(false),
        })?;
        store(&mut self.common.stat, &stat);
        Ok(data)
    }
}

impl GetConfigBuilder<'_, InBackground> {
    /// Starts the read; the result arrives as a `GetConfig` event.
    pub fn for_ensemble(self) -> Result<()> {
        let w = self.watcher();
        self.common.client.run_background(
            attempt_on_timer(move |_c, zk, _count| match &w {
                Some(w) => zk.get_config_w_shared(w),
                None => zk.get_config(false),
            }),
            Box::new(move |_c, r| {
                event_for(CuratorEventType::GetConfig, CONFIG_NODE, r, fill_data)
            }),
            None,
            self.common.bg,
        )
    }
}

builder_common!(GetConfigBuilder {});

/// joining, leaving, new members (each comma-separated), from-config version.
type ReconfigParts = (Option<String>, Option<String>, Option<String>, i64);

/// Builder of `client.reconfig()`: change the ensemble's membership (servers need
/// `reconfigEnabled`, and the session the right to reconfigure).
#[must_use = "a builder does nothing until for_ensemble()"]
pub struct ReconfigBuilder<'a, M = Foreground> {
    common: Common<'a, M>,
    joining: Vec<String>,
    leaving: Vec<String>,
    new_members: Vec<String>,
    from_config: i64,
}

impl<M> ReconfigBuilder<'_, M> {
    /// Servers to add (`server.N=host:quorum:election[:role];[clientAddr:]clientPort`).
    pub fn joining(mut self, servers: &[&str]) -> Self {
        self.joining.extend(servers.iter().map(|s| s.to_string()));
        self
    }

    /// Server ids to remove.
    pub fn leaving(mut self, ids: &[&str]) -> Self {
        self.leaving.extend(ids.iter().map(|s| s.to_string()));
        self
    }

    /// The complete new membership (a bulk change; excludes `joining`/`leaving`).
    pub fn with_new_members(mut self, servers: &[&str]) -> Self {
        self.new_members
            .extend(servers.iter().map(|s| s.to_string()));
        self
    }

    /// Apply only if the current config version is `version`.
    pub fn from_config(mut self, version: i64) -> Self {
        self.from_config = version;
        self
    }

    /// The request's fields. An incremental change (`joining`/`leaving`) and a bulk one
    /// (`with_new_members`) cannot be mixed: the server would silently apply only one.
    fn parts(&self) -> Result<ReconfigParts> {
        let incremental = !(self.joining.is_empty() && self.leaving.is_empty());
        if incremental && !self.new_members.is_empty() {
            return Err(Error::InvalidArgument(
                "reconfig: with_new_members cannot be combined with joining/leaving".into(),
            ));
        }
        let join = |v: &Vec<String>| (!v.is_empty()).then(|| v.join(","));
        Ok((
            join(&self.joining),
            join(&self.leaving),
            join(&self.new_members),
            self.from_config,
        ))
    }

    fn run(mut self) -> Result<Vec<u8>> {
        let (j, l, n, v) = self.parts()?;
        let (data, stat) = self
            .common
            .client
            .call(|zk, _| zk.reconfig(j.as_deref(), l.as_deref(), n.as_deref(), v))?;
        store(&mut self.common.stat, &stat);
        Ok(data)
    }
}

impl<'a> ReconfigBuilder<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        ReconfigBuilder {
            common: Common::new(client),
            joining: Vec::new(),
            leaving: Vec::new(),
            new_members: Vec::new(),
            from_config: -1,
        }
    }

    /// Copy the Stat of the new config into `stat` (foreground only).
    pub fn storing_stat_in(self, stat: &'a mut Stat) -> ReconfigBuilder<'a, WithStat> {
        self.retype(|c| c.with_stat(stat))
    }

    /// Applies the change; returns the new configuration.
    pub fn for_ensemble(self) -> Result<Vec<u8>> {
        self.run()
    }
}

impl ReconfigBuilder<'_, WithStat> {
    /// Applies the change, copies the new config's Stat and returns the configuration.
    pub fn for_ensemble(self) -> Result<Vec<u8>> {
        self.run()
    }
}

impl ReconfigBuilder<'_, InBackground> {
    /// Starts the change; the result arrives as a `Reconfig` event.
    pub fn for_ensemble(self) -> Result<()> {
        let (j, l, n, v) = self.parts()?;
        self.common.client.run_background(
            attempt_on_timer(move |_c, zk, _count| {
                zk.reconfig(j.as_deref(), l.as_deref(), n.as_deref(), v)
            }),
            Box::new(move |_c, r| event_for(CuratorEventType::Reconfig, CONFIG_NODE, r, fill_data)),
            None,
            self.common.bg,
        )
    }
}

builder_common!(ReconfigBuilder {
    joining,
    leaving,
    new_members,
    from_config
});

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl<M> std::fmt::Debug for ReconfigBuilder<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconfigBuilder").finish_non_exhaustive()
    }
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl<M> std::fmt::Debug for GetConfigBuilder<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetConfigBuilder").finish_non_exhaustive()
    }
}
