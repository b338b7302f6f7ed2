//! addWatch (persistent watches) and the removal of watches: removeWatches, checkWatches,
//! and the local bookkeeping around them.

use super::{Call, Conv};
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::proto::*;
use crate::session::events::EventItem;
use crate::session::registry::WatchKind;
use crate::session::shared::SessionShared;
use crate::session::{SharedWatcher, WatchedEvent};

impl ZooKeeper {
    request_methods! {
        /// Adds a persistent (or persistent-recursive) watch on `path`, which need not exist
        /// (3.6+ servers). It fires for every matching change until removed and survives
        /// reconnects; recursive watches see the node and every descendant but no child events.
        watcher fn add_watch(path: &str; mode: AddWatchMode) -> () = add_watch_call;
        async add_watch_async;
        shared add_watch_shared, add_watch_shared_async;
    }

    request_methods! {
        /// Removes one watcher of `path` (the same [`SharedWatcher`] that was registered) for the
        /// kinds `wtype` covers, and tells it with a `*WatchRemoved` event. `NoWatcher` if it is
        /// not registered. With `local`, it is removed here even when the server cannot be
        /// reached.
        fn remove_watches(path: &str, watcher: &SharedWatcher, wtype: WatcherType, local: bool)
            -> () = remove_watches_call;
        async remove_watches_async;
    }

    request_methods! {
        /// Removes every watcher of `path` for the kinds `wtype` covers, here and on the server.
        fn remove_all_watches(path: &str, wtype: WatcherType, local: bool) -> ()
            = remove_all_watches_call;
        async remove_all_watches_async;
    }

    /// True while `watcher` may hold a watch on `path` here: registered, or a watched
    /// request for the path still in flight (it may register one). For the watcher-removal
    /// facade, which forgets watches that fired instead of asking the server about them.
    pub(crate) fn may_hold_watch(&self, path: &str, watcher: &SharedWatcher) -> bool {
        let Ok(sp) = self.server_path(path, false) else {
            return false;
        };
        if self.core.watch_inflight.lock().contains_key(&sp) {
            return true;
        }
        self.core
            .registry
            .lock()
            .contains(&sp, WatcherType::Any, Some(watcher))
    }

    fn add_watch_call<'p>(
        &self,
        path: &'p str,
        watcher: SharedWatcher,
        mode: AddWatchMode,
    ) -> Result<Call<'p, impl Conv<()>>> {
        let sp = self.server_path(path, false)?;
        let kind = match mode {
            AddWatchMode::Persistent => WatchKind::Persistent,
            AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
        };
        let (_, reg) = self.watch_reg(watcher.into(), &sp, kind, None)?;
        let req = Request::AddWatch(AddWatchRequest {
            path: sp,
            mode: mode.code(),
        });
        Ok(super::call(req, reg, path, |_| Ok(())))
    }

    fn remove_watches_call<'p>(
        &self,
        path: &'p str,
        watcher: &SharedWatcher,
        wtype: WatcherType,
        local: bool,
    ) -> Result<Call<'p, impl Conv<()>>> {
        self.remove_call(path, Some(watcher), wtype, local)
    }

    fn remove_all_watches_call<'p>(
        &self,
        path: &'p str,
        wtype: WatcherType,
        local: bool,
    ) -> Result<Call<'p, impl Conv<()>>> {
        self.remove_call(path, None, wtype, local)
    }

    /// Checks that there is something to remove and picks the request: checkWatches when
    /// other local watchers still need the server's watch, removeWatches when the last one
    /// goes (so that a persistent watch stops sending events nobody wants); none when
    /// removing locally while disconnected. Once the server has answered (or was skipped),
    /// the watchers are removed here and told.
    fn remove_call<'p>(
        &self,
        path: &'p str,
        watcher: Option<&SharedWatcher>,
        wtype: WatcherType,
        local: bool,
    ) -> Result<Call<'p, impl Conv<()>>> {
        self.check_alive()?;
        let sp = self.server_path(path, false)?;
        let last = {
            let mut reg = self.core.registry.lock();
            if !reg.contains(&sp, wtype, watcher) {
                return Err(Error::NoWatcher {
                    path: path.to_string(),
                    op: Some(OpCode::RemoveWatches),
                });
            }
            match watcher {
                Some(w) => {
                    let last = reg.is_last(&sp, wtype, w, &self.core.watch_inflight);
                    reg.begin_removal(&sp, w);
                    last
                }
                None => true,
            }
        };
        let req = if local && !self.state().is_connected() {
            None
        } else {
            // 3.9 servers know the persistent types; older ones address them with Any.
            let wire_type = match wtype {
                WatcherType::Persistent | WatcherType::PersistentRecursive => WatcherType::Any,
                t => t,
            }
            .code();
            Some(if watcher.is_some() && !last {
                Request::CheckWatches(CheckWatchesRequest {
                    path: sp.clone(),
                    watcher_type: wire_type,
                })
            } else {
                Request::RemoveWatches(RemoveWatchesRequest {
                    path: sp.clone(),
                    watcher_type: wire_type,
                })
            })
        };
        let core = self.core.clone();
        let user = path.to_string();
        let w = watcher.cloned();
        Ok(Call {
            req,
            watch: None,
            path,
            conv: move |server: Result<Response>| {
                finish_remove(
                    &core,
                    server.map(drop),
                    local,
                    &sp,
                    &user,
                    w.as_ref(),
                    wtype,
                )
            },
        })
    }
}

/// After the server answered a removal (or was skipped): remove locally and tell the removed
/// watchers, in order with other events.
fn finish_remove(
    core: &SessionShared,
    server: Result<()>,
    local: bool,
    sp: &str,
    path: &str,
    watcher: Option<&SharedWatcher>,
    wtype: WatcherType,
) -> Result<()> {
    if let Some(w) = watcher {
        core.registry.lock().end_removal(sp, w);
    }
    match server {
        Ok(()) => {}
        Err(e) if local && (e.is_retryable() || matches!(e, Error::RequestTimeout)) => {}
        Err(e) => return Err(e),
    }
    let removed = core.registry.lock().remove(sp, wtype, watcher);
    for (w, ev) in removed {
        core.events.send(EventItem::Watch {
            event: WatchedEvent::new(ev, KeeperState::SyncConnected, Some(path.to_string())),
            watchers: vec![w],
        });
    }
    Ok(())
}
