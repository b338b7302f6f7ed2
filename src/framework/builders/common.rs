//! The part every builder shares: the client, the watch a read asks for, the `Stat` target
//! of `storing_stat_in`, and the background settings, together with the typestate marker
//! (`Foreground`, `WithStat`, `InBackground`). Curator spreads these over small interfaces
//! (`Watchable`, `Statable`, `Backgroundable`); here they are one struct, so that moving a
//! builder from one state to another (`storing_stat_in`, `in_background*`) is written once
//! in [`builder_common!`] instead of field by field in every builder.

use std::marker::PhantomData;

use super::{Foreground, InBackground, WatchMode, WithStat};
use crate::framework::exec::Background;
use crate::framework::CuratorFramework;
use crate::proto::Stat;

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
