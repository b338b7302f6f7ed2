//! `sync()`: make the connected server catch up with the leader before the next read.
//!
//! Curator's `sync()` is always asynchronous; here the foreground form blocks until the
//! server has synced (what a Rust caller expects of a terminal method), and
//! `in_background*` gives Curator's behaviour.

use std::marker::PhantomData;

use super::{background_modifiers, event_for, user_error, Bg, Foreground, InBackground, OnceDone};
use crate::error::Result;
use crate::framework::event::CuratorEventType;
use crate::framework::CuratorFramework;

/// Builder of `client.sync()`.
#[must_use = "a builder does nothing until for_path()"]
pub struct SyncBuilder<'a, M = Foreground> {
    client: &'a CuratorFramework,
    bg: Bg,
    _m: PhantomData<M>,
}

impl<'a> SyncBuilder<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        SyncBuilder {
            client,
            bg: Bg::default(),
            _m: PhantomData,
        }
    }

    fn into_bg(self) -> SyncBuilder<'a, InBackground> {
        SyncBuilder {
            client: self.client,
            bg: self.bg,
            _m: PhantomData,
        }
    }

    /// Blocks until the server has synced `path`.
    pub fn for_path(self, path: &str) -> Result<()> {
        let full = self.client.fix_path(path, false)?;
        self.client
            .call(|zk, _| zk.sync(&full))
            .map_err(|e| user_error(e, path))
    }
}

impl SyncBuilder<'_, InBackground> {
    /// Starts the sync; the result arrives as a `Sync` event.
    pub fn for_path(self, path: &str) -> Result<()> {
        let full = self.client.fix_path(path, false)?;
        let user = path.to_string();
        self.client.run_background(
            Box::new(move |_c, zk, _count, done| {
                let d = OnceDone::new(done);
                let d2 = d.clone();
                if let Err(e) = zk.sync_async(&full, move |r| d2.call(r)) {
                    d.call(Err(e));
                }
            }),
            Box::new(move |_c, r| {
                let r = r.map_err(|e| user_error(e, &user));
                event_for(CuratorEventType::Sync, &user, r, |_, _| {})
            }),
            None,
            self.bg,
        )
    }
}

background_modifiers!(SyncBuilder);
