//! `watchers()`: add persistent (recursive) watches, remove watches (Curator's
//! `WatchesBuilder`).

use std::time::Duration;

use super::{
    attempt_async, attempt_on_timer, builder_common, event_for, user_error, watch_modifiers,
    Common, Foreground, InBackground, WatchMode,
};
use crate::error::{Error, Result};
use crate::framework::types::CuratorEventType;
use crate::framework::CuratorFramework;
use crate::proto::{AddWatchMode, WatcherType};
use crate::session::SharedWatcher;

/// Entry point of `client.watchers()`.
#[derive(Clone, Copy)]
pub struct WatchesBuilder<'a> {
    client: &'a CuratorFramework,
}

impl<'a> WatchesBuilder<'a> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        WatchesBuilder { client }
    }

    /// Adds a persistent watch (default mode: persistent-recursive). Without
    /// `using_watcher`, events go to the CuratorListeners as `Watched`.
    pub fn add(&self) -> AddWatchBuilder<'a, Foreground> {
        let mut common = Common::new(self.client);
        common.watch = WatchMode::Listeners;
        AddWatchBuilder {
            common,
            mode: AddWatchMode::PersistentRecursive,
        }
    }

    /// Removes `watcher` (the [`SharedWatcher`] that was registered).
    pub fn remove(&self, watcher: &SharedWatcher) -> RemoveWatchesBuilder<'a, Foreground> {
        RemoveWatchesBuilder::new(self.client, Some(watcher.clone()))
    }

    /// Removes every watcher of a path.
    pub fn remove_all(&self) -> RemoveWatchesBuilder<'a, Foreground> {
        RemoveWatchesBuilder::new(self.client, None)
    }
}

/// Builder of `client.watchers().add()`.
#[must_use = "a builder does nothing until for_path()"]
pub struct AddWatchBuilder<'a, M = Foreground> {
    common: Common<'a, M>,
    mode: AddWatchMode,
}

impl<M> AddWatchBuilder<'_, M> {
    /// Persistent or persistent-recursive.
    pub fn with_mode(mut self, mode: AddWatchMode) -> Self {
        self.mode = mode;
        self
    }

    watch_modifiers! {
        /// The watcher to call; the closure's argument type is inferred (`|e| ...`). It also
        /// receives connection state changes (event type `None`, **no path**): match on the
        /// event type, or wrap it in [`node_events`](crate::node_events).
        fn using_watcher;
        /// [`using_watcher`](Self::using_watcher) with a [`SharedWatcher`] (one identity:
        /// `watchers().remove(&w)` removes it).
        fn using_shared_watcher;
    }

    /// The handle-level path and the watcher to add there: the caller's, or the one feeding
    /// the CuratorListeners.
    fn target(&self, path: &str) -> Result<(String, SharedWatcher)> {
        let c = self.common.client;
        let full = c.fix_path(path, false)?;
        let w = self
            .common
            .watch
            .resolve(c, &full)
            .unwrap_or_else(|| c.listener_watcher());
        Ok((full, w))
    }
}

impl<'a> AddWatchBuilder<'a, Foreground> {
    /// Adds the watch (the node need not exist).
    pub fn for_path(self, path: &str) -> Result<()> {
        let c = self.common.client;
        let (full, w) = self.target(path)?;
        let mode = self.mode;
        c.call(|zk, _| zk.add_watch_shared(&full, &w, mode))
            .map_err(|e| user_error(e, path))
    }
}

impl AddWatchBuilder<'_, InBackground> {
    /// Starts adding the watch; the result arrives as an `AddWatch` event.
    pub fn for_path(self, path: &str) -> Result<()> {
        let c = self.common.client;
        let (full, w) = self.target(path)?;
        let mode = self.mode;
        let user = path.to_string();
        c.run_background(
            attempt_async(move |zk, d| {
                zk.add_watch_shared_async(&full, &w, mode, move |r| d.call(r))
            }),
            Box::new(move |_c, r| {
                let r = r.map_err(|e| user_error(e, &user));
                event_for(CuratorEventType::AddWatch, &user, r, |_, _| {})
            }),
            None,
            self.common.bg,
        )
    }
}

builder_common!(AddWatchBuilder { mode });

/// Builder of `client.watchers().remove(w)` / `remove_all()`.
#[must_use = "a builder does nothing until for_path()"]
pub struct RemoveWatchesBuilder<'a, M = Foreground> {
    common: Common<'a, M>,
    watcher: Option<SharedWatcher>,
    wtype: WatcherType,
    local: bool,
    quietly: bool,
    guaranteed: bool,
}

impl<M> RemoveWatchesBuilder<'_, M> {
    /// Which kinds of watch (default: any).
    pub fn of_type(mut self, t: WatcherType) -> Self {
        self.wtype = t;
        self
    }

    /// Remove here even when the server cannot be reached.
    pub fn locally(mut self) -> Self {
        self.local = true;
        self
    }

    /// A missing watcher is not an error.
    pub fn quietly(mut self) -> Self {
        self.quietly = true;
        self
    }

    /// If the server cannot be reached, keep trying in the background until it can.
    pub fn guaranteed(mut self) -> Self {
        self.guaranteed = true;
        self
    }
}

impl<'a> RemoveWatchesBuilder<'a, Foreground> {
    fn new(client: &'a CuratorFramework, watcher: Option<SharedWatcher>) -> Self {
        RemoveWatchesBuilder {
            common: Common::new(client),
            watcher,
            wtype: WatcherType::Any,
            local: false,
            quietly: false,
            guaranteed: false,
        }
    }

    /// Removes the watch(es).
    pub fn for_path(self, path: &str) -> Result<()> {
        let plan = self.plan(path)?;
        let r = self.common.client.call(|zk, _| plan.once(zk));
        match r {
            Err(e) if self.guaranteed && e.is_retryable() => {
                plan.keep_trying(self.common.client.clone());
                Err(user_error(e, path))
            }
            other => other.map_err(|e| user_error(e, path)),
        }
    }
}

impl RemoveWatchesBuilder<'_, InBackground> {
    /// Starts the removal; the result arrives as a `RemoveWatches` event.
    pub fn for_path(self, path: &str) -> Result<()> {
        let plan = std::sync::Arc::new(self.plan(path)?);
        let user = path.to_string();
        let (p1, p2) = (plan.clone(), plan);
        let guaranteed = self.guaranteed;
        self.common.client.run_background(
            attempt_on_timer(move |_c, zk, _count| p1.once(zk)),
            Box::new(move |_c, r| {
                let r = r.map_err(|e| user_error(e, &user));
                event_for(CuratorEventType::RemoveWatches, &user, r, |_, _| {})
            }),
            Some(Box::new(move |c, e| {
                if guaranteed && e.is_retryable() {
                    (*p2).clone().keep_trying(c.clone());
                }
            })),
            self.common.bg,
        )
    }
}

impl<M> RemoveWatchesBuilder<'_, M> {
    fn plan(&self, path: &str) -> Result<RemovePlan> {
        let c = self.common.client;
        Ok(RemovePlan {
            full: c.fix_path(path, false)?,
            watcher: self.watcher.clone().map(|w| c.wrap_watcher(w)),
            wtype: self.wtype,
            local: self.local,
            quietly: self.quietly,
        })
    }
}

builder_common!(RemoveWatchesBuilder {
    watcher,
    wtype,
    local,
    quietly,
    guaranteed
});

#[derive(Clone)]
struct RemovePlan {
    full: String,
    watcher: Option<SharedWatcher>,
    wtype: WatcherType,
    local: bool,
    quietly: bool,
}

impl RemovePlan {
    fn once(&self, zk: &crate::ZooKeeper) -> Result<()> {
        let r = match &self.watcher {
            Some(w) => zk.remove_watches(&self.full, w, self.wtype, self.local),
            None => zk.remove_all_watches(&self.full, self.wtype, self.local),
        };
        match r {
            Err(Error::NoWatcher { .. }) if self.quietly => Ok(()),
            other => other,
        }
    }

    /// Guaranteed removal: retried on the timer thread until the server can be reached.
    fn keep_trying(self, c: CuratorFramework) {
        if c.inner.lifecycle() != crate::framework::CuratorFrameworkState::Started {
            return;
        }
        let inner = c.inner.clone();
        inner
            .scheduler
            .schedule(Duration::from_millis(200), move || {
                match c.inner.handle().and_then(|zk| self.once(&zk)) {
                    Err(e) if e.is_retryable() => self.keep_trying(c.clone()),
                    Err(e) => c.inner.report_unhandled("guaranteed watch removal", &e),
                    Ok(()) => {}
                }
            });
    }
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl<M> std::fmt::Debug for RemoveWatchesBuilder<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoveWatchesBuilder")
            .finish_non_exhaustive()
    }
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl std::fmt::Debug for WatchesBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchesBuilder").finish_non_exhaustive()
    }
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl<M> std::fmt::Debug for AddWatchBuilder<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddWatchBuilder").finish_non_exhaustive()
    }
}
