//! `sync()`: make the connected server catch up with the leader before the next read.
//!
//! Curator's `sync()` is always asynchronous; here the foreground form blocks until the
//! server has synced (what a Rust caller expects of a terminal method), and
//! `in_background*` gives Curator's behaviour.

use super::{
    attempt_async, builder_common, event_for, user_error, Common, Foreground, InBackground,
};
use crate::error::Result;
use crate::framework::types::CuratorEventType;
use crate::framework::CuratorFramework;

/// Builder of `client.sync()`.
#[must_use = "a builder does nothing until for_path()"]
pub struct SyncBuilder<'a, M = Foreground> {
    common: Common<'a, M>,
}

impl<'a> SyncBuilder<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        SyncBuilder {
            common: Common::new(client),
        }
    }

    /// Blocks until the server has synced `path`.
    pub fn for_path(self, path: &str) -> Result<()> {
        let full = self.common.client.fix_path(path, false)?;
        self.common
            .client
            .call(|zk, _| zk.sync(&full))
            .map_err(|e| user_error(e, path))
    }
}

impl SyncBuilder<'_, InBackground> {
    /// Starts the sync; the result arrives as a `Sync` event.
    pub fn for_path(self, path: &str) -> Result<()> {
        let full = self.common.client.fix_path(path, false)?;
        let user = path.to_string();
        self.common.client.run_background(
            attempt_async(move |zk, d| zk.sync_async(&full, move |r| d.call(r))),
            Box::new(move |_c, r| {
                let r = r.map_err(|e| user_error(e, &user));
                event_for(CuratorEventType::Sync, &user, r, |_, _| {})
            }),
            None,
            self.common.bg,
        )
    }
}

builder_common!(SyncBuilder {});

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl<M> std::fmt::Debug for SyncBuilder<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncBuilder").finish_non_exhaustive()
    }
}
