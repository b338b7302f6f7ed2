//! `get_data()`: a node's data, with `storing_stat_in`, `watched`/`using_watcher` and
//! `decompressed`.

use super::{
    builder_common, event_for, store, user_error, Common, Foreground, InBackground, WatchMode,
    WithStat,
};
use crate::error::Result;
use crate::framework::types::CuratorEventType;
use crate::framework::CuratorFramework;
use crate::proto::Stat;
use crate::session::{SharedWatcher, Watcher};

/// Builder of `client.get_data()`.
///
/// ```
/// # use zk_curator::framework::*;
/// # use zk_curator::Stat;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// # let client = CuratorFrameworkFactory::new_client(&server.connect_string(), RetryOneTime::new(std::time::Duration::from_millis(10)))?;
/// # client.start()?;
/// client.create().for_path_with_data("/config", b"v1")?;
/// let mut stat = Stat::default();
/// let data = client
///     .get_data()
///     .storing_stat_in(&mut stat)
///     .using_watcher(|e| println!("{e}"))
///     .for_path("/config")?;
/// assert_eq!((data.as_slice(), stat.version), (&b"v1"[..], 0));
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[must_use = "a builder does nothing until for_path()"]
pub struct GetDataBuilder<'a, M = Foreground> {
    common: Common<'a, M>,
    decompress: bool,
}

impl<'a, M> GetDataBuilder<'a, M> {
    /// Decompress the data with the client's compression provider.
    pub fn decompressed(mut self) -> Self {
        self.decompress = true;
        self
    }

    /// Set a one-shot watch whose event goes to the CuratorListeners (`Watched`).
    pub fn watched(mut self) -> Self {
        self.common.watch = WatchMode::Listeners;
        self
    }

    /// Set a one-shot data watch calling `w`. The closure's argument type is inferred
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

impl<'a> GetDataBuilder<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        GetDataBuilder {
            common: Common::new(client),
            decompress: false,
        }
    }

    /// Copy the node's Stat into `stat` (foreground only).
    pub fn storing_stat_in(self, stat: &'a mut Stat) -> GetDataBuilder<'a, WithStat> {
        self.retype(|c| c.with_stat(stat))
    }

    /// Reads the node.
    pub fn for_path(self, path: &str) -> Result<Vec<u8>> {
        self.read(path)
    }
}

impl GetDataBuilder<'_, WithStat> {
    /// Reads the node, copying its Stat.
    pub fn for_path(self, path: &str) -> Result<Vec<u8>> {
        self.read(path)
    }
}

impl<M> GetDataBuilder<'_, M> {
    fn read(mut self, path: &str) -> Result<Vec<u8>> {
        let c = self.common.client;
        c.check_watch_schema(path, &self.common.watch)?;
        let full = c.fix_path(path, false)?;
        let watcher = self.common.watch.resolve(c, &full);
        let (data, stat) = c
            .call(|zk, _| match &watcher {
                Some(w) => zk.get_data_w_shared(&full, w),
                None => zk.get_data(&full, false),
            })
            .map_err(|e| user_error(e, path))?;
        store(&mut self.common.stat, &stat);
        if self.decompress {
            c.inner.cfg.compression.decompress(path, &data)
        } else {
            Ok(data)
        }
    }
}

impl GetDataBuilder<'_, InBackground> {
    /// Starts the read; the result arrives as a `GetData` event.
    pub fn for_path(self, path: &str) -> Result<()> {
        let c = self.common.client;
        c.check_watch_schema(path, &self.common.watch)?;
        let full = c.fix_path(path, false)?;
        let watcher = self.common.watch.resolve(c, &full);
        let user = path.to_string();
        let decompress = self.decompress;
        c.run_background_inline(
            move |_c, zk, _count, done| {
                zk.get_data_bg(&full, watcher.clone(), move |r| done.call(r))
            },
            move |c, r| {
                let r = match r {
                    Ok((data, stat)) if decompress => c
                        .inner
                        .cfg
                        .compression
                        .decompress(&user, &data)
                        .map(|d| (d, stat)),
                    Ok(v) => Ok(v),
                    Err(e) => Err(user_error(e, &user)),
                };
                event_for(CuratorEventType::GetData, user, r, |e, (data, stat)| {
                    e.data = Some(data);
                    e.stat = Some(stat);
                })
            },
            None,
            self.common.bg,
        )
    }
}

builder_common!(GetDataBuilder { decompress });

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl<M> std::fmt::Debug for GetDataBuilder<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetDataBuilder").finish_non_exhaustive()
    }
}
