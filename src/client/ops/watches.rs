//! addWatch (persistent watches) and the removal of watches: removeWatches, checkWatches,
//! and the local bookkeeping around them.

use std::sync::Arc;

use super::{Call, Conv};
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::proto::*;
use crate::session::events::EventItem;
use crate::session::pending::{Completion, WatchReg};
use crate::session::registry::{InFlightGuard, WatchKind};
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

    /// Checks that there is something to remove and prepares the request, which goes out
    /// as checkWatches when other local watchers still need the server's watch, removeWatches
    /// when the last one goes (so that a persistent watch stops sending events nobody
    /// wants), or not at all when removing locally while disconnected.
    ///
    /// The server keeps one watch per (session, path, kind), so the choice between the two
    /// must see every watched request that could go out before this one: it is made where
    /// the frame takes its place on the wire (the send path's outbox lock, through the
    /// request's [`WatchReg`]); a watched request made after that goes out behind it and
    /// sets the server's watch again. Likewise the watchers are removed from the registry
    /// where the I/O thread meets the reply, in wire order with the registrations of other
    /// requests (see `session::registry`); the completion only tells them.
    fn remove_call<'p>(
        &self,
        path: &'p str,
        watcher: Option<&SharedWatcher>,
        wtype: WatcherType,
        local: bool,
    ) -> Result<Call<'p, impl Conv<()>>> {
        self.check_alive()?;
        let sp = self.server_path(path, false)?;
        // Names this removal in the registry and carries its reply to it.
        let token = SharedWatcher::new(|_: &WatchedEvent| {});
        {
            let mut reg = self.core.registry.lock();
            if !reg.contains(&sp, wtype, watcher) {
                return Err(Error::NoWatcher {
                    path: path.to_string(),
                    op: Some(OpCode::RemoveWatches),
                });
            }
            reg.plan_removal(&token, &sp, wtype, watcher);
        }
        let (req, watch) = if local && !self.state().is_connected() {
            (None, None)
        } else {
            let (req, watch) = removal_request(&self.core, &token, &sp, wtype);
            (Some(req), Some(watch))
        };
        let core = self.core.clone();
        let user = path.to_string();
        let w = watcher.cloned();
        Ok(Call {
            req,
            watch,
            path,
            conv: move |server: Result<Response>| {
                finish_remove(
                    &core,
                    &token,
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

/// The request of the removal `token` (planned in the registry) and the registration that
/// carries it through the send path: encoded as removeWatches, which the choice under the
/// outbox lock may turn into checkWatches (the same body).
fn removal_request(
    core: &Arc<SessionShared>,
    token: &SharedWatcher,
    sp: &str,
    wtype: WatcherType,
) -> (Request, WatchReg) {
    // 3.9 servers know the persistent types; older ones address them with Any.
    let wire_type = match wtype {
        WatcherType::Persistent | WatcherType::PersistentRecursive => WatcherType::Any,
        t => t,
    }
    .code();
    let req = Request::RemoveWatches(RemoveWatchesRequest {
        path: sp.to_string(),
        watcher_type: wire_type,
    });
    let c = core.clone();
    let t = token.clone();
    let choose = Box::new(move || c.registry.lock().removal_request(&t, &c.watch_inflight));
    let watch = WatchReg {
        on_ok: WatchKind::Removal,
        on_no_node: None,
        path: sp.to_string(),
        watcher: token.clone(),
        _inflight: InFlightGuard::choosing(choose),
    };
    (req, watch)
}

/// The completion of a removal: tells the watchers its reply removed; without a reply
/// (removing locally while disconnected, or `local` and the server out of reach), removes
/// them here first.
#[allow(clippy::too_many_arguments)]
fn finish_remove(
    core: &Arc<SessionShared>,
    token: &SharedWatcher,
    server: Result<()>,
    local: bool,
    sp: &str,
    path: &str,
    watcher: Option<&SharedWatcher>,
    wtype: WatcherType,
) -> Result<()> {
    let applied = core.registry.lock().finish_removal(token);
    let removed = match (applied, server) {
        (Some(removed), _) => removed,
        // Removed here without an answer: locally while disconnected, or `local` and the
        // request lost with the connection.
        (None, Ok(())) => local_removal(core, sp, watcher, wtype),
        (None, Err(e)) if local && (e.is_retryable() || matches!(e, Error::RequestTimeout)) => {
            local_removal(core, sp, watcher, wtype)
        }
        (None, Err(e)) => return Err(e),
    };
    for (w, ev) in removed {
        core.events.send(EventItem::Watch {
            event: WatchedEvent::new(ev, KeeperState::SyncConnected, Some(path.to_string())),
            watchers: vec![w],
        });
    }
    Ok(())
}

/// Removes here without the server's answer, then has the server's watch cleaned up.
fn local_removal(
    core: &Arc<SessionShared>,
    sp: &str,
    watcher: Option<&SharedWatcher>,
    wtype: WatcherType,
) -> Vec<(SharedWatcher, EventType)> {
    let removed = core.registry.lock().remove(sp, wtype, watcher);
    clean_up_server(core, sp, wtype);
    removed
}

/// After a local removal whose request got no answer: the server may still hold the watch
/// (the request never reached it, or a reconnect set it again from the registry before this
/// removal), so once a connection takes it, remove it there if nothing here needs it then.
/// Nobody waits for the answer.
fn clean_up_server(core: &Arc<SessionShared>, sp: &str, wtype: WatcherType) {
    let token = SharedWatcher::new(|_: &WatchedEvent| {});
    core.registry.lock().plan_server_cleanup(&token, sp, wtype);
    let (req, watch) = removal_request(core, &token, sp, wtype);
    let c = core.clone();
    let done = Completion::Async(Box::new(move |_reply| {
        c.registry.lock().finish_removal(&token);
    }));
    core.submit(&req, Some(watch), done);
}

#[cfg(test)]
mod tests {
    //! The window the integration tests cannot make certain: a removal prepared while its
    //! watcher is the last one, overtaken on the wire by a new watcher's request.

    use std::sync::mpsc;
    use std::time::Duration;

    use crate::client::ZooKeeper;
    use crate::proto::{Acl, AddWatchMode, CreateMode, EventType, WatcherType};
    use crate::session::{SharedWatcher, WatchedEvent};
    use crate::testing::TestingServer;

    const WAIT: Duration = Duration::from_secs(10);

    fn recorder() -> (SharedWatcher, mpsc::Receiver<EventType>) {
        let (tx, rx) = mpsc::channel();
        let w = SharedWatcher::new(move |e: &WatchedEvent| {
            if e.event_type() != EventType::None {
                let _ = tx.send(e.event_type());
            }
        });
        (w, rx)
    }

    /// `arm` sets a watch of `w` on `path`: for the first watcher, then for the second one
    /// between the removal's preparation and its sending. The second must keep hearing.
    fn overtaken(kind: &str, arm: impl Fn(&ZooKeeper, &str, &SharedWatcher), wtype: WatcherType) {
        let server = TestingServer::start().unwrap();
        let zk = ZooKeeper::builder(&server.connect_string())
            .connect()
            .unwrap();
        let other = ZooKeeper::builder(&server.connect_string())
            .connect()
            .unwrap();
        let a = zk
            .create("/a", b"", &Acl::open_unsafe(), CreateMode::Persistent)
            .unwrap();
        let (w1, e1) = recorder();
        let (w2, e2) = recorder();
        arm(&zk, &a, &w1);
        // Prepared while w1 is the only watcher and nothing is in flight...
        let removal = zk.remove_watches_call(&a, &w1, wtype, false);
        // ...and overtaken by the new watcher's request, answered before it is sent.
        arm(&zk, &a, &w2);
        zk.run(removal).unwrap();
        assert!(e1.recv_timeout(WAIT).is_ok(), "{kind}: w1 is told");
        other.set_data(&a, b"x", -1).unwrap();
        assert_eq!(
            e2.recv_timeout(WAIT),
            Ok(EventType::NodeDataChanged),
            "{kind}: the new watcher hears nothing: the server's watch was removed"
        );
    }

    #[test]
    fn a_removal_overtaken_by_an_add_watch_keeps_the_servers_watch() {
        overtaken(
            "persistent",
            |zk, p, w| zk.add_watch_shared(p, w, AddWatchMode::Persistent).unwrap(),
            WatcherType::Any,
        );
        overtaken(
            "recursive",
            |zk, p, w| {
                zk.add_watch_shared(p, w, AddWatchMode::PersistentRecursive)
                    .unwrap()
            },
            WatcherType::Any,
        );
    }

    #[test]
    fn a_removal_overtaken_by_a_watched_read_keeps_the_servers_watch() {
        overtaken(
            "data",
            |zk, p, w| {
                zk.get_data_w_shared(p, w).unwrap();
            },
            WatcherType::Data,
        );
    }
}
