//! The part every builder shares: the client, the watch a read asks for, the `Stat` target
//! of `storing_stat_in`, and the background settings, together with the typestate marker
//! (`Foreground`, `WithStat`, `InBackground`). Curator spreads these over small interfaces
//! (`Watchable`, `Statable`, `Backgroundable`); here they are one struct, so that moving a
//! builder from one state to another (`storing_stat_in`, `in_background*`) is written once
//! in [`builder_common!`] instead of field by field in every builder.

use std::marker::PhantomData;

use super::{store, user_error, Foreground, InBackground, WatchMode, WithStat};
use crate::client::ZooKeeper;
use crate::error::Result;
use crate::framework::exec::Background;
use crate::framework::CuratorFramework;
use crate::proto::Stat;
use crate::session::SharedWatcher;

/// Client, watch, Stat target and background settings of one builder in state `M`.
pub(crate) struct Common<'a, M> {
    pub(crate) client: &'a CuratorFramework,
    /// The watch a read asks for (`watched()`, `using_watcher`); unused by writes.
    pub(crate) watch: WatchMode,
    /// Where a foreground call copies the node's Stat (`storing_stat_in`).
    pub(crate) stat: Option<&'a mut Stat>,
    pub(crate) bg: Background,
    _m: PhantomData<M>,
}

impl<'a> Common<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        Common {
            client,
            watch: WatchMode::None,
            stat: None,
            bg: Background::default(),
            _m: PhantomData,
        }
    }
}

impl<'a, M> Common<'a, M> {
    /// The same settings, copying the Stat into `stat` (foreground reads only).
    pub(crate) fn with_stat(self, stat: &'a mut Stat) -> Common<'a, WithStat> {
        Common {
            client: self.client,
            watch: self.watch,
            stat: Some(stat),
            bg: self.bg,
            _m: PhantomData,
        }
    }

    /// The same settings in the background: the Stat goes to the event, not to a variable.
    pub(crate) fn into_bg(self) -> Common<'a, InBackground> {
        Common {
            client: self.client,
            watch: self.watch,
            stat: None,
            bg: self.bg,
            _m: PhantomData,
        }
    }

    /// The handle-level path of a call that may set a watch on `path`: the schema's rule on
    /// watches checked first, then the namespace applied.
    pub(crate) fn checked_path(&self, path: &str) -> Result<String> {
        let watched = !matches!(self.watch, WatchMode::None);
        self.client
            .check_schema(path, |s| s.validate_watch(path, watched))?;
        self.client.fix_path(path, false)
    }

    /// [`checked_path`](Self::checked_path) and the watcher the handle should hold for it
    /// ([`WatchMode::resolve`]), if the call sets a watch.
    pub(crate) fn watch_target(&self, path: &str) -> Result<(String, Option<SharedWatcher>)> {
        let full = self.checked_path(path)?;
        let watcher = self.watch.resolve(self.client, &full);
        Ok((full, watcher))
    }

    /// A foreground read of `path` that may set a watch, in the retry loop: `op` gets the
    /// handle, the handle-level path and the watcher (if any). The node's Stat goes to the
    /// `storing_stat_in` target; errors carry the caller's path.
    pub(crate) fn read<T>(
        &mut self,
        path: &str,
        op: impl Fn(&ZooKeeper, &str, Option<&SharedWatcher>) -> Result<(T, Stat)>,
    ) -> Result<T> {
        let (full, watcher) = self.watch_target(path)?;
        let (value, stat) = self
            .client
            .call(|zk, _| op(zk, &full, watcher.as_ref()))
            .map_err(|e| user_error(e, path))?;
        store(&mut self.stat, &stat);
        Ok(value)
    }
}

/// Declares a builder's own fields (besides `common`) and generates what moves it between
/// states: `retype` (the builder with its common part mapped to another state), `into_bg`,
/// and the `in_background*` modifiers of [`background_modifiers!`](super::background_modifiers).
macro_rules! builder_common {
    ($builder:ident { $($field:ident),* $(,)? }) => {
        impl<'a, M> $builder<'a, M> {
            /// This builder with its common part turned into another state by `f`.
            fn retype<N>(
                self,
                f: impl FnOnce(
                    $crate::framework::builders::common::Common<'a, M>,
                ) -> $crate::framework::builders::common::Common<'a, N>,
            ) -> $builder<'a, N> {
                $builder {
                    common: f(self.common),
                    $($field: self.$field,)*
                }
            }
        }

        impl<'a> $builder<'a, $crate::framework::builders::Foreground> {
            fn into_bg(self) -> $builder<'a, $crate::framework::builders::InBackground> {
                self.retype($crate::framework::builders::common::Common::into_bg)
            }
        }

        $crate::framework::builders::background_modifiers!($builder);
    };
}
pub(crate) use builder_common;

/// Generates, inside a builder's `impl<M> Builder<'_, M>` block, the modifiers that choose
/// the watch its call sets, all storing into `common.watch`.
///
/// The first form is a read's one-shot watch (`get_data`, `get_children`, `check_exists`,
/// `get_config`): `watched()`, `using_watcher` and `using_shared_watcher`. Each builder
/// writes the opening of `watched`'s and `using_watcher`'s docs (what kind of watch it
/// sets); what every one-shot watcher receives, and what a `SharedWatcher` is for, is said
/// here once. The second form is `using_watcher` and `using_shared_watcher` with all of
/// their docs given (`watchers().add()`, whose watch is persistent).
macro_rules! watch_modifiers {
    (
        $(#[$watched:meta])* fn watched;
        $(#[$using:meta])* fn using_watcher;
    ) => {
        $(#[$watched])*
        pub fn watched(mut self) -> Self {
            self.common.watch = $crate::framework::builders::WatchMode::Listeners;
            self
        }

        $crate::framework::builders::watch_modifiers! {
            $(#[$using])*
            /// The closure's argument type is inferred
            /// (`|e| ...`). Besides node events it also receives connection state changes (event
            /// type `None`, **no path**) while the watch is registered, `Closed` at `close()`
            /// included: match on the event type (example on [`Watcher`](crate::session::Watcher)), or wrap
            /// the closure in [`node_events`](crate::node_events) to see node events only.
            fn using_watcher;
            /// [`using_watcher`](Self::using_watcher) with a [`SharedWatcher`](crate::session::SharedWatcher): one identity, so
            /// registering it again for the same node and kind keeps one registration (called once
            /// per event, as in Java), and `watchers().remove(&w)` removes it. Also the way to pass a
            /// [`Watcher`](crate::session::Watcher) type of yours (`SharedWatcher` from
            /// [`Watcher::into_shared`](crate::session::Watcher::into_shared)).
            fn using_shared_watcher;
        }
    };
    (
        $(#[$using:meta])* fn using_watcher;
        $(#[$shared:meta])* fn using_shared_watcher;
    ) => {
        $(#[$using])*
        pub fn using_watcher(
            mut self,
            w: impl Fn(&$crate::WatchedEvent) + Send + Sync + 'static,
        ) -> Self {
            self.common.watch = $crate::framework::builders::WatchMode::Watcher(
                $crate::session::Watcher::into_shared(w),
            );
            self
        }

        $(#[$shared])*
        pub fn using_shared_watcher(mut self, w: &$crate::session::SharedWatcher) -> Self {
            self.common.watch = $crate::framework::builders::WatchMode::Watcher(w.clone());
            self
        }
    };
}
pub(crate) use watch_modifiers;
