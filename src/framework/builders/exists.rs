//! `check_exists()`: a node's Stat or `None`, optionally creating the node's parents first
//! and setting a watch (which, on a missing node, fires when it is created).

use super::{
    attempt_async, attempt_on_timer, builder_common, event_for, user_error, watch_modifiers,
    Common, Foreground, InBackground,
};
use crate::error::Result;
use crate::framework::types::CuratorEventType;
use crate::framework::CuratorFramework;
use crate::path;
use crate::proto::{Acl, CreateMode, Stat};

/// Builder of `client.check_exists()`.
#[must_use = "a builder does nothing until for_path()"]
pub struct ExistsBuilder<'a, M = Foreground> {
    common: Common<'a, M>,
    parents: Option<CreateMode>,
    acl: Option<Vec<Acl>>,
}

impl<M> ExistsBuilder<'_, M> {
    /// Create the node's missing parents (persistent) before the check.
    pub fn creating_parents_if_needed(mut self) -> Self {
        self.parents = Some(CreateMode::Persistent);
        self
    }

    /// Create the node's missing parents as containers before the check.
    pub fn creating_parent_containers_if_needed(mut self) -> Self {
        self.parents = Some(self.common.client.container_mode());
        self
    }

    /// The ACL of parents created by this check.
    pub fn with_acl(mut self, acl: &[Acl]) -> Self {
        self.acl = Some(acl.to_vec());
        self
    }

    watch_modifiers! {
        /// Set a one-shot watch whose event goes to the CuratorListeners.
        fn watched;
        /// Set a one-shot watch (data, or creation if the node is missing) calling `w`.
        fn using_watcher;
    }

    fn make_parents(&self, full: &str) -> Result<()> {
        make_parents(self.common.client, self.parents, self.acl.clone(), full)
    }
}

/// Creates the missing parents of `full` (handle-level path) for `creating_parents*`.
fn make_parents(
    client: &CuratorFramework,
    parents: Option<CreateMode>,
    acl: Option<Vec<Acl>>,
    full: &str,
) -> Result<()> {
    let Some(mode) = parents else {
        return Ok(());
    };
    let Some(parent) = path::parent(full) else {
        return Ok(());
    };
    if parent == "/" {
        return Ok(());
    }
    let root = client.without_namespace();
    root.call(|zk, _| root.make_dirs(zk, parent, mode, acl.as_deref()))
}

impl<'a> ExistsBuilder<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        ExistsBuilder {
            common: Common::new(client),
            parents: None,
            acl: None,
        }
    }

    /// The node's Stat, or `None` if it does not exist.
    pub fn for_path(self, path: &str) -> Result<Option<Stat>> {
        let c = self.common.client;
        let full = self.common.checked_path(path)?;
        self.make_parents(&full).map_err(|e| user_error(e, path))?;
        let watcher = self.common.watch.resolve(c, &full);
        c.call(|zk, _| match &watcher {
            Some(w) => zk.exists_w_shared(&full, w),
            None => zk.exists(&full, false),
        })
        .map_err(|e| user_error(e, path))
    }
}

impl ExistsBuilder<'_, InBackground> {
    /// Starts the check; the result arrives as an `Exists` event (`stat()` is `None` and
    /// the result code `NoNode` when the node is missing).
    pub fn for_path(self, path: &str) -> Result<()> {
        let c = self.common.client;
        let (full, watcher) = self.common.watch_target(path)?;
        let user = path.to_string();
        let attempt: crate::framework::exec::Attempt<Option<Stat>> = match self.parents {
            // Making parents takes several round trips: off the caller's thread.
            Some(_) => {
                let (parents, acl) = (self.parents, self.acl.clone());
                attempt_on_timer(move |c, zk, _count| {
                    make_parents(c, parents, acl.clone(), &full)?;
                    match &watcher {
                        Some(w) => zk.exists_w_shared(&full, w),
                        None => zk.exists(&full, false),
                    }
                })
            }
            None => attempt_async(move |zk, d| match &watcher {
                Some(w) => zk.exists_w_shared_async(&full, w, move |r| d.call(r)),
                None => zk.exists_async(&full, false, move |r| d.call(r)),
            }),
        };
        c.run_background(
            attempt,
            Box::new(move |_c, r| {
                let r = r.map_err(|e| user_error(e, &user));
                let missing = matches!(r, Ok(None));
                let mut ev = event_for(CuratorEventType::Exists, &user, r, |e, st| {
                    e.stat = st;
                });
                if missing {
                    ev.error = Some(crate::Error::NoNode {
                        path: user.clone(),
                        op: Some(crate::proto::OpCode::Exists),
                    });
                }
                ev
            }),
            None,
            self.common.bg,
        )
    }
}

builder_common!(ExistsBuilder { parents, acl });

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl<M> std::fmt::Debug for ExistsBuilder<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExistsBuilder").finish_non_exhaustive()
    }
}
