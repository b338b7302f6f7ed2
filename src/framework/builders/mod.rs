//! One fluent builder per verb (`create()`, `get_data()`, ...), Curator's `*BuilderImpl`
//! classes in Rust form. Modifiers take `self` and return it; the terminal `for_path*`
//! method performs the call. Builders are typestated: [`Foreground`] until one of the
//! `in_background*` modifiers turns them into [`InBackground`], whose terminal method returns
//! `Result<()>` (the outcome goes to the callback or to the CuratorListeners) — the compiler
//! checks which result a call site gets.
//!
//! Every verb is written as one synchronous *attempt* (all of its logic: parents, protection,
//! or-set-data, ...). Foreground calls run attempts in the retry loop; background calls make
//! their first attempt through the handle's asynchronous API where the verb allows it and
//! hand multi-step work and retries to the timer thread, never to the event thread.
//!
//! Callbacks are closures whose argument types are inferred, on every builder:
//!
//! ```
//! # use std::time::Duration;
//! # use zk_curator::framework::*;
//! # use zk_curator::AddWatchMode;
//! # let server = zk_curator::testing::TestingServer::start().unwrap();
//! # let client = CuratorFrameworkFactory::new_client(&server.connect_string(), RetryOneTime::new(Duration::from_millis(10)))?;
//! # client.start()?;
//! client.create().for_path_with_data("/n", b"x")?;
//! client.get_data().using_watcher(|e| println!("data: {e}")).for_path("/n")?;
//! client.check_exists().using_watcher(|e| println!("exists: {e}")).for_path("/n")?;
//! client.get_children().using_watcher(|e| println!("children: {e}")).for_path("/n")?;
//! client.get_config().using_watcher(|e| println!("config: {e}")).for_ensemble()?;
//! client
//!     .watchers()
//!     .add()
//!     .with_mode(AddWatchMode::Persistent)
//!     .using_watcher(|e| println!("persistent: {e}"))
//!     .for_path("/n")?;
//! client
//!     .get_data()
//!     .using_watcher(|e| println!("{e}"))
//!     .in_background(|_client, event| println!("{:?}", event.data()))
//!     .with_unhandled_error_listener(|msg, err| eprintln!("{msg}: {err}"))
//!     .for_path("/n")?;
//! # client.close();
//! # Ok::<(), zk_curator::Error>(())
//! ```

pub mod acl;
pub mod children;
mod common;
pub mod config;
pub mod create;
pub mod delete;
pub mod exists;
pub mod get_data;
pub mod set_data;
pub mod sync;
pub mod transaction;
pub mod watchers;

use std::sync::Arc;

use parking_lot::Mutex;

use super::event::CuratorEvent;
use super::exec::{Attempt, Background, Done};
use super::types::CuratorEventType;
use super::CuratorFramework;
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::proto::Stat;
use crate::session::shared::{connect_deadline, with_connect_deadline};
use crate::session::SharedWatcher;

pub(crate) use common::{builder_common, watch_modifiers, Common};

/// Marker: the terminal method performs the call and returns its result.
#[derive(Debug, Clone, Copy, Default)]
pub struct Foreground;

/// Marker: the terminal method starts the call and returns at once; the result goes to the
/// callback (or to the CuratorListeners).
#[derive(Debug, Clone, Copy, Default)]
pub struct InBackground;

/// Marker: a foreground read that copies the Stat into the caller's variable. Reads in this
/// state cannot go to the background (the Stat would have nowhere to go), as in Curator.
#[derive(Debug, Clone, Copy, Default)]
pub struct WithStat;

/// How a read asks for a watch.
#[derive(Clone, Default)]
pub(crate) enum WatchMode {
    #[default]
    None,
    /// `watched()`: events go to the CuratorListeners.
    Listeners,
    /// `using_watcher(w)`.
    Watcher(SharedWatcher),
}

impl WatchMode {
    /// The watcher the handle should hold for `full` (the handle-level path), if any. A
    /// [`WatcherRemoveCuratorFramework`](crate::framework::WatcherRemoveCuratorFramework)
    /// notes it here, so that its `remove_watchers()` finds it.
    pub(crate) fn resolve(&self, client: &CuratorFramework, full: &str) -> Option<SharedWatcher> {
        let w = match self {
            WatchMode::None => return None,
            WatchMode::Listeners => client.listener_watcher(),
            WatchMode::Watcher(w) => client.wrap_watcher(w.clone()),
        };
        client.track_watch(full, &w);
        Some(w)
    }
}

/// A `Done` that can be called from either of two places (the async callback, or at once
/// when the async call is refused), whichever comes first.
pub(crate) struct OnceDone<T>(Arc<Mutex<Option<Done<T>>>>);

impl<T> Clone for OnceDone<T> {
    fn clone(&self) -> Self {
        OnceDone(self.0.clone())
    }
}

impl<T> OnceDone<T> {
    pub(crate) fn new(d: Done<T>) -> Self {
        OnceDone(Arc::new(Mutex::new(Some(d))))
    }

    pub(crate) fn call(&self, r: Result<T>) {
        let d = self.0.lock().take();
        if let Some(d) = d {
            d.call(r)
        }
    }
}

/// An attempt through one of the handle's asynchronous calls: `start` sends the request
/// with a callback completing `done`, and a request the handle refuses at once (not
/// connected, closed) completes `done` with that error instead.
pub(crate) fn attempt_async<T: Send + 'static>(
    start: impl Fn(&ZooKeeper, OnceDone<T>) -> Result<()> + Send + Sync + 'static,
) -> Attempt<T> {
    Box::new(move |_client, zk, _count, done| {
        let d = OnceDone::new(done);
        if let Err(e) = start(zk, d.clone()) {
            d.call(Err(e));
        }
    })
}

/// An attempt that runs a synchronous attempt function off the calling thread: the first
/// attempt is handed to the timer thread (so `in_background` never blocks its caller),
/// retries already run there.
pub(crate) fn attempt_on_timer<T: Send + 'static>(
    once: impl Fn(&CuratorFramework, &ZooKeeper, u32) -> Result<T> + Send + Sync + 'static,
) -> Attempt<T> {
    let once = Arc::new(once);
    Box::new(move |client, zk, count, done| {
        if count == 0 {
            let once = once.clone();
            let c = client.clone();
            let zk_now = c.inner.handle();
            // The operation's connection deadline moves to the timer thread with it.
            let connect_by = connect_deadline();
            client
                .inner
                .scheduler
                .schedule(std::time::Duration::ZERO, move || {
                    let r = with_connect_deadline(connect_by, || {
                        zk_now.and_then(|zk| once(&c, &zk, 0))
                    });
                    done.call(r)
                });
        } else {
            done.call(once(client, zk, count));
        }
    })
}

/// Copies `src` into the caller's `storing_stat_in` target.
pub(crate) fn store(target: &mut Option<&mut Stat>, src: &Stat) {
    if let Some(t) = target.as_deref_mut() {
        *t = src.clone();
    }
}

/// The event for a finished operation: its type and path, the error if any, then the
/// verb-specific fields via `fill`.
pub(crate) fn event_for<T>(
    t: CuratorEventType,
    path: impl Into<String>,
    r: Result<T>,
    fill: impl FnOnce(&mut CuratorEvent, T),
) -> CuratorEvent {
    let mut e = CuratorEvent::new(t, path);
    match r {
        Ok(v) => fill(&mut e, v),
        Err(err) => e.error = Some(err),
    }
    e
}

/// `event_for`'s `fill` for the reads that return data (`get_data`, `get_config`,
/// `reconfig`): the data and the node's Stat.
pub(crate) fn fill_data(e: &mut CuratorEvent, (data, stat): (Vec<u8>, Stat)) {
    e.data = Some(data);
    e.stat = Some(stat);
}

/// Replaces the path of a path-carrying error by the caller's (namespace-free) path.
pub(crate) fn user_error(e: Error, user_path: &str) -> Error {
    e.with_path(user_path)
}

/// Generates the `in_background*` modifiers that turn a `Foreground` builder into its
/// `InBackground` form; invoked by [`builder_common!`], which also generates the
/// `into_bg` conversion they use.
macro_rules! background_modifiers {
    ($builder:ident) => {
        impl<'a> $builder<'a, $crate::framework::builders::Foreground> {
            /// Runs in the background; `callback` gets the result on the event thread, in
            /// order with watch notifications.
            pub fn in_background(
                mut self,
                callback: impl FnOnce(
                        &$crate::framework::CuratorFramework,
                        &$crate::framework::CuratorEvent,
                    ) + Send
                    + 'static,
            ) -> $builder<'a, $crate::framework::builders::InBackground> {
                self.common.bg.callback = Some(Box::new(callback));
                self.into_bg()
            }

            /// Runs in the background; `callback` runs on `pool` (callbacks for the same
            /// path stay in order).
            pub fn in_background_with_executor(
                mut self,
                callback: impl FnOnce(
                        &$crate::framework::CuratorFramework,
                        &$crate::framework::CuratorEvent,
                    ) + Send
                    + 'static,
                pool: &$crate::session::WorkerPool,
            ) -> $builder<'a, $crate::framework::builders::InBackground> {
                self.common.bg.executor = Some(pool.clone());
                self.in_background(callback)
            }

            /// Runs in the background without a callback: the result goes to the
            /// client's CuratorListeners (Curator's `inBackground()`).
            pub fn in_background_no_callback(
                self,
            ) -> $builder<'a, $crate::framework::builders::InBackground> {
                self.into_bg()
            }
        }

        impl<'a> $builder<'a, $crate::framework::builders::InBackground> {
            /// Errors of this operation that its callback does not take (retries run out, a
            /// panicking callback) go to `l` instead of the client's unhandled-error
            /// listeners.
            pub fn with_unhandled_error_listener(
                mut self,
                l: impl Fn(&str, &$crate::Error) + Send + Sync + 'static,
            ) -> Self {
                self.common.bg.error_listener = Some(std::sync::Arc::new(l));
                self
            }
        }
    };
}
pub(crate) use background_modifiers;

/// Keeps `Background` in scope for the builders' struct definitions.
pub(crate) type Bg = Background;
