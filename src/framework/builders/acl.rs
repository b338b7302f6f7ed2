//! `get_acl()` and `set_acl()`.

use super::{
    attempt_async, builder_common, event_for, store, user_error, Common, Foreground, InBackground,
    WithStat,
};
use crate::error::{Error, Result};
use crate::framework::types::CuratorEventType;
use crate::framework::CuratorFramework;
use crate::proto::{Acl, Stat};

/// Builder of `client.get_acl()`.
#[must_use = "a builder does nothing until for_path()"]
pub struct GetAclBuilder<'a, M = Foreground> {
    common: Common<'a, M>,
}

impl<'a> GetAclBuilder<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        GetAclBuilder {
            common: Common::new(client),
        }
    }

    /// Copy the node's Stat into `stat` (foreground only).
    pub fn storing_stat_in(self, stat: &'a mut Stat) -> GetAclBuilder<'a, WithStat> {
        self.retype(|c| c.with_stat(stat))
    }

    /// The node's ACL.
    pub fn for_path(self, path: &str) -> Result<Vec<Acl>> {
        self.read(path)
    }
}

impl GetAclBuilder<'_, WithStat> {
    /// The node's ACL, copying its Stat.
    pub fn for_path(self, path: &str) -> Result<Vec<Acl>> {
        self.read(path)
    }
}

impl<M> GetAclBuilder<'_, M> {
    fn read(mut self, path: &str) -> Result<Vec<Acl>> {
        let full = self.common.client.fix_path(path, false)?;
        let (acl, stat) = self
            .common
            .client
            .call(|zk, _| zk.get_acl(&full))
            .map_err(|e| user_error(e, path))?;
        store(&mut self.common.stat, &stat);
        Ok(acl)
    }
}

impl GetAclBuilder<'_, InBackground> {
    /// Starts the read; the result arrives as a `GetAcl` event.
    pub fn for_path(self, path: &str) -> Result<()> {
        let full = self.common.client.fix_path(path, false)?;
        let user = path.to_string();
        self.common.client.run_background(
            attempt_async(move |zk, d| zk.get_acl_async(&full, move |r| d.call(r))),
            Box::new(move |_c, r| {
                let r = r.map_err(|e| user_error(e, &user));
                event_for(CuratorEventType::GetAcl, &user, r, |e, (acl, stat)| {
                    e.acl = Some(acl);
                    e.stat = Some(stat);
                })
            }),
            None,
            self.common.bg,
        )
    }
}

builder_common!(GetAclBuilder {});

/// Builder of `client.set_acl()`: [`with_acl`](SetAclBuilder::with_acl) is required.
#[must_use = "a builder does nothing until for_path()"]
pub struct SetAclBuilder<'a, M = Foreground> {
    common: Common<'a, M>,
    acl: Option<Vec<Acl>>,
    version: i32,
}

impl<M> SetAclBuilder<'_, M> {
    /// Set only if the node's ACL version (`aversion`) is `version`.
    pub fn with_version(mut self, version: i32) -> Self {
        self.version = version;
        self
    }

    /// The new ACL.
    pub fn with_acl(mut self, acl: &[Acl]) -> Self {
        self.acl = Some(acl.to_vec());
        self
    }

    fn prepare(&self, path: &str) -> Result<(String, Vec<Acl>)> {
        let acl = self
            .acl
            .clone()
            .ok_or_else(|| Error::InvalidArgument("set_acl() needs with_acl(..)".into()))?;
        self.common
            .client
            .check_schema(path, |s| s.validate_data(path, None, Some(&acl)))?;
        Ok((self.common.client.fix_path(path, false)?, acl))
    }
}

impl<'a> SetAclBuilder<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        SetAclBuilder {
            common: Common::new(client),
            acl: None,
            version: -1,
        }
    }

    /// Sets the ACL and returns the node's new Stat.
    pub fn for_path(self, path: &str) -> Result<Stat> {
        let (full, acl) = self.prepare(path)?;
        let v = self.version;
        self.common
            .client
            .call(|zk, _| zk.set_acl(&full, &acl, v))
            .map_err(|e| user_error(e, path))
    }
}

impl SetAclBuilder<'_, InBackground> {
    /// Starts the change; the result arrives as a `SetAcl` event.
    pub fn for_path(self, path: &str) -> Result<()> {
        let (full, acl) = self.prepare(path)?;
        let v = self.version;
        let user = path.to_string();
        self.common.client.run_background(
            attempt_async(move |zk, d| zk.set_acl_async(&full, &acl, v, move |r| d.call(r))),
            Box::new(move |_c, r| {
                let r = r.map_err(|e| user_error(e, &user));
                event_for(CuratorEventType::SetAcl, &user, r, |e, st| {
                    e.stat = Some(st)
                })
            }),
            None,
            self.common.bg,
        )
    }
}

builder_common!(SetAclBuilder { acl, version });

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl<M> std::fmt::Debug for GetAclBuilder<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetAclBuilder").finish_non_exhaustive()
    }
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl<M> std::fmt::Debug for SetAclBuilder<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SetAclBuilder").finish_non_exhaustive()
    }
}
