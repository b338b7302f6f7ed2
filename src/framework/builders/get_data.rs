//! `get_data()`: a node's data, with `storing_stat_in`, `watched`/`using_watcher` and
//! `decompressed`.

use super::{
    builder_common, event_for, fill_data, user_error, watch_modifiers, Common, Foreground,
    InBackground, WithStat,
};
use crate::error::Result;
use crate::framework::types::CuratorEventType;
use crate::framework::CuratorFramework;
use crate::proto::Stat;

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

    watch_modifiers! {
        /// Set a one-shot watch whose event goes to the CuratorListeners (`Watched`).
        fn watched;
        /// Set a one-shot data watch calling `w`.
        fn using_watcher;
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
        let data = self.common.read(path, |zk, full, watcher| match watcher {
            Some(w) => zk.get_data_w_shared(full, w),
            None => zk.get_data(full, false),
        })?;
        if self.decompress {
            let c = self.common.client;
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
        let (full, watcher) = self.common.watch_target(path)?;
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
                event_for(CuratorEventType::GetData, user, r, fill_data)
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
