//! `set_data()`: with `with_version`, `compressed` and `idempotent` (a retry that finds its
//! own write already applied succeeds).

use super::{builder_common, event_for, user_error, Common, Foreground, InBackground};
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::framework::types::CuratorEventType;
use crate::framework::CuratorFramework;
use crate::path;
use crate::proto::Stat;

/// Builder of `client.set_data()`.
#[must_use = "a builder does nothing until for_path()"]
pub struct SetDataBuilder<'a, M = Foreground> {
    common: Common<'a, M>,
    version: i32,
    compress: bool,
    idempotent: bool,
}

impl<M> SetDataBuilder<'_, M> {
    /// Set only if the node's version is `version`.
    pub fn with_version(mut self, version: i32) -> Self {
        self.version = version;
        self
    }

    /// Compress the data with the client's compression provider.
    pub fn compressed(mut self) -> Self {
        self.compress = true;
        self
    }

    /// On `BadVersion` after a retry, succeed if the node holds our data at the version our
    /// write would have produced (the earlier attempt succeeded before its reply was lost).
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    fn prepare(&self, path: &str, data: &[u8]) -> Result<(String, Vec<u8>)> {
        path::validate_path(path, false)?;
        let data = if self.compress {
            self.common
                .client
                .inner
                .cfg
                .compression
                .compress(path, data)?
        } else {
            data.to_vec()
        };
        self.common
            .client
            .check_schema(path, |s| s.validate_data(path, Some(&data), None))?;
        let full = self.common.client.fix_path(path, false)?;
        Ok((full, data))
    }
}

fn once(
    zk: &ZooKeeper,
    full: &str,
    data: &[u8],
    version: i32,
    idem: bool,
    count: u32,
) -> Result<Stat> {
    match zk.set_data(full, data, version) {
        Err(e @ Error::BadVersion { .. }) if idem && count > 0 => {
            let (d, st) = zk.get_data(full, false)?;
            if d == data && (version == -1 || st.version == version.wrapping_add(1)) {
                Ok(st)
            } else {
                Err(e)
            }
        }
        other => other,
    }
}

impl<'a> SetDataBuilder<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        SetDataBuilder {
            common: Common::new(client),
            version: -1,
            compress: false,
            idempotent: false,
        }
    }

    /// Sets the node's data and returns its new Stat.
    pub fn for_path(self, path: &str, data: &[u8]) -> Result<Stat> {
        let (full, data) = self.prepare(path, data)?;
        let (v, idem) = (self.version, self.idempotent);
        self.common
            .client
            .call(|zk, count| once(zk, &full, &data, v, idem, count))
            .map_err(|e| user_error(e, path))
    }

    /// Sets the client's default data (Curator's `forPath(path)`).
    pub fn for_path_with_default_data(self, path: &str) -> Result<Stat> {
        let data = self.common.client.inner.cfg.default_data.to_vec();
        self.for_path(path, &data)
    }
}

impl SetDataBuilder<'_, InBackground> {
    /// Starts the write; the result arrives as a `SetData` event.
    pub fn for_path(self, path: &str, data: &[u8]) -> Result<()> {
        let (full, data) = self.prepare(path, data)?;
        let (version, idem) = (self.version, self.idempotent);
        let user = path.to_string();
        self.common.client.run_background_inline(
            move |_c, zk, count, done| {
                if count > 0 {
                    return done.call(once(zk, &full, &data, version, idem, count));
                }
                zk.set_data_bg(&full, &data, version, move |r| done.call(r))
            },
            move |_c, r| {
                let r = r.map_err(|e| user_error(e, &user));
                event_for(CuratorEventType::SetData, user, r, |e, st| {
                    e.stat = Some(st)
                })
            },
            None,
            self.common.bg,
        )
    }

    /// Starts a write of the client's default data.
    pub fn for_path_with_default_data(self, path: &str) -> Result<()> {
        let data = self.common.client.inner.cfg.default_data.to_vec();
        self.for_path(path, &data)
    }
}

builder_common!(SetDataBuilder {
    version,
    compress,
    idempotent
});

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl<M> std::fmt::Debug for SetDataBuilder<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetDataBuilder").finish_non_exhaustive()
    }
}
