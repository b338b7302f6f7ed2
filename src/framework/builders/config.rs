//! `get_config()`: the ensemble's dynamic configuration (`/zookeeper/config`, outside any
//! namespace or chroot).

use std::marker::PhantomData;
use std::sync::Arc;

use super::{
    attempt_on_timer, background_modifiers, event_for, store, Bg, Foreground, InBackground,
    WatchMode,
};
use crate::error::Result;
use crate::framework::event::CuratorEventType;
use crate::framework::CuratorFramework;
use crate::proto::Stat;
use crate::session::Watcher;

const CONFIG_NODE: &str = "/zookeeper/config";

/// Builder of `client.get_config()`.
#[must_use = "a builder does nothing until for_ensemble()"]
pub struct GetConfigBuilder<'a, M = Foreground> {
    client: &'a CuratorFramework,
    stat: Option<&'a mut Stat>,
    watch: WatchMode,
    bg: Bg,
    _m: PhantomData<M>,
}

impl<M> GetConfigBuilder<'_, M> {
    /// Set a one-shot watch whose event goes to the CuratorListeners.
    pub fn watched(mut self) -> Self {
        self.watch = WatchMode::Listeners;
        self
    }

    /// Set a one-shot watch calling `w` (events carry the path `/zookeeper/config`).
    pub fn using_watcher(mut self, w: impl Watcher) -> Self {
        self.watch = WatchMode::Watcher(w.into_shared());
        self
    }

    fn watcher(&self) -> Option<crate::session::SharedWatcher> {
        // The config node is outside the namespace: no path to strip.
        match &self.watch {
            WatchMode::None => None,
            WatchMode::Listeners => Some(self.client.without_namespace().listener_watcher()),
            WatchMode::Watcher(w) => Some(w.clone()),
        }
    }
}

impl<'a> GetConfigBuilder<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        GetConfigBuilder {
            client,
            stat: None,
            watch: WatchMode::None,
            bg: Bg::default(),
            _m: PhantomData,
        }
    }

    /// Copy the config node's Stat into `stat`.
    pub fn storing_stat_in(mut self, stat: &'a mut Stat) -> Self {
        self.stat = Some(stat);
        self
    }

    fn into_bg(self) -> GetConfigBuilder<'a, InBackground> {
        GetConfigBuilder {
            client: self.client,
            stat: None,
            watch: self.watch,
            bg: self.bg,
            _m: PhantomData,
        }
    }

    /// The configuration text (`server.N=...` lines and `version=`).
    pub fn for_ensemble(mut self) -> Result<Vec<u8>> {
        let w = self.watcher();
        let (data, stat) = self.client.call(|zk, _| match &w {
            Some(w) => zk.get_config_w(w.clone()),
            None => zk.get_config(false),
        })?;
        store(&mut self.stat, &stat);
        Ok(data)
    }
}

impl GetConfigBuilder<'_, InBackground> {
    /// Starts the read; the result arrives as a `GetConfig` event.
    pub fn for_ensemble(self) -> Result<()> {
        let w = self.watcher();
        self.client.run_background(
            attempt_on_timer(move |_c, zk, _count| match &w {
                Some(w) => zk.get_config_w(w.clone()),
                None => zk.get_config(false),
            }),
            Box::new(move |_c, r| {
                event_for(
                    CuratorEventType::GetConfig,
                    CONFIG_NODE,
                    &r,
                    |e, (data, stat)| {
                        e.data = Some(Arc::from(data.as_slice()));
                        e.stat = Some(stat.clone());
                    },
                )
            }),
            None,
            self.bg,
        );
        Ok(())
    }
}

background_modifiers!(GetConfigBuilder);
