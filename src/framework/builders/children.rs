//! `get_children()`: child names, with `storing_stat_in` and `watched`/`using_watcher`.

use super::{
    builder_common, event_for, user_error, watch_modifiers, Common, Foreground, InBackground,
    WithStat,
};
use crate::error::Result;
use crate::framework::types::CuratorEventType;
use crate::framework::CuratorFramework;
use crate::proto::Stat;

/// Builder of `client.get_children()`.
#[must_use = "a builder does nothing until for_path()"]
pub struct GetChildrenBuilder<'a, M = Foreground> {
    common: Common<'a, M>,
}

impl<M> GetChildrenBuilder<'_, M> {
    watch_modifiers! {
        /// Set a one-shot child watch whose event goes to the CuratorListeners.
        fn watched;
        /// Set a one-shot child watch calling `w`.
        fn using_watcher;
    }
}

impl<'a> GetChildrenBuilder<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        GetChildrenBuilder {
            common: Common::new(client),
        }
    }

    /// Copy the node's Stat into `stat` (foreground only).
    pub fn storing_stat_in(self, stat: &'a mut Stat) -> GetChildrenBuilder<'a, WithStat> {
        self.retype(|c| c.with_stat(stat))
    }

    /// The names of the node's children (in no particular order).
    pub fn for_path(self, path: &str) -> Result<Vec<String>> {
        self.read(path)
    }
}

impl GetChildrenBuilder<'_, WithStat> {
    /// The children, copying the node's Stat.
    pub fn for_path(self, path: &str) -> Result<Vec<String>> {
        self.read(path)
    }
}

impl<M> GetChildrenBuilder<'_, M> {
    fn read(mut self, path: &str) -> Result<Vec<String>> {
        self.common.read(path, |zk, full, watcher| match watcher {
            Some(w) => zk.get_children2_w_shared(full, w),
            None => zk.get_children2(full, false),
        })
    }
}

impl GetChildrenBuilder<'_, InBackground> {
    /// Starts the listing; the result arrives as a `Children` event.
    pub fn for_path(self, path: &str) -> Result<()> {
        let c = self.common.client;
        let (full, watcher) = self.common.watch_target(path)?;
        let user = path.to_string();
        c.run_background_inline(
            move |_c, zk, _count, done| {
                zk.get_children2_bg(&full, watcher.clone(), move |r| done.call(r))
            },
            move |_c, r| {
                let r = r.map_err(|e| user_error(e, &user));
                event_for(CuratorEventType::Children, user, r, |e, (kids, stat)| {
                    e.children = Some(kids);
                    e.stat = Some(stat);
                })
            },
            None,
            self.common.bg,
        )
    }
}

builder_common!(GetChildrenBuilder {});

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl<M> std::fmt::Debug for GetChildrenBuilder<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetChildrenBuilder").finish_non_exhaustive()
    }
}
