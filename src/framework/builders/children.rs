//! `get_children()`: child names, with `storing_stat_in` and `watched`/`using_watcher`.

use super::{
    builder_common, event_for, store, user_error, Common, Foreground, InBackground, WatchMode,
    WithStat,
};
use crate::error::Result;
use crate::framework::types::CuratorEventType;
use crate::framework::CuratorFramework;
use crate::proto::Stat;
use crate::session::{SharedWatcher, Watcher};

/// Builder of `client.get_children()`.
#[must_use = "a builder does nothing until for_path()"]
pub struct GetChildrenBuilder<'a, M = Foreground> {
    common: Common<'a, M>,
}

impl<M> GetChildrenBuilder<'_, M> {
    /// Set a one-shot child watch whose event goes to the CuratorListeners.
    pub fn watched(mut self) -> Self {
        self.common.watch = WatchMode::Listeners;
        self
    }

    /// Set a one-shot child watch calling `w`. The closure's argument type is inferred
    /// (`|e| ...`). Besides node events it also receives connection state changes (event
    /// type `None`, **no path**) while the watch is registered, `Closed` at `close()`
    /// included: match on the event type (example on [`Watcher`]), or wrap
    /// the closure in [`node_events`](crate::node_events) to see node events only.
    pub fn using_watcher(
        mut self,
        w: impl Fn(&crate::WatchedEvent) + Send + Sync + 'static,
    ) -> Self {
        self.common.watch = WatchMode::Watcher(w.into_shared());
        self
    }

    /// [`using_watcher`](Self::using_watcher) with a [`SharedWatcher`]: one identity, so
    /// registering it again for the same node and kind keeps one registration (called once
    /// per event, as in Java), and `watchers().remove(&w)` removes it. Also the way to pass a
    /// [`Watcher`] type of yours (`SharedWatcher` from
    /// [`Watcher::into_shared`]).
    pub fn using_shared_watcher(mut self, w: &SharedWatcher) -> Self {
        self.common.watch = WatchMode::Watcher(w.clone());
        self
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
        let c = self.common.client;
        c.check_watch_schema(path, &self.common.watch)?;
        let full = c.fix_path(path, false)?;
        let watcher = self.common.watch.resolve(c, &full);
        let (kids, stat) = c
            .call(|zk, _| match &watcher {
                Some(w) => zk.get_children2_w_shared(&full, w),
                None => zk.get_children2(&full, false),
            })
            .map_err(|e| user_error(e, path))?;
        store(&mut self.common.stat, &stat);
        Ok(kids)
    }
}

impl GetChildrenBuilder<'_, InBackground> {
    /// Starts the listing; the result arrives as a `Children` event.
    pub fn for_path(self, path: &str) -> Result<()> {
        let c = self.common.client;
        c.check_watch_schema(path, &self.common.watch)?;
        let full = c.fix_path(path, false)?;
        let watcher = self.common.watch.resolve(c, &full);
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
