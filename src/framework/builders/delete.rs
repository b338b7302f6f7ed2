//! `delete()`: with `with_version`, `quietly`/`idempotent` (a missing node is success),
//! `deleting_children_if_needed` (the subtree first, tolerating races) and `guaranteed`
//! (a delete that fails for connection reasons keeps being retried in the background).

use std::sync::Arc;
use std::time::Duration;

use super::{builder_common, event_for, Common, Foreground, InBackground, OnceDone};
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::framework::exec::Attempt;
use crate::framework::protection::guaranteed_delete;
use crate::framework::types::CuratorEventType;
use crate::framework::CuratorFramework;
use crate::path;

/// Builder of `client.delete()`.
#[must_use = "a builder does nothing until for_path()"]
pub struct DeleteBuilder<'a, M = Foreground> {
    common: Common<'a, M>,
    version: i32,
    quietly: bool,
    guaranteed: bool,
    children: bool,
}

impl<M> DeleteBuilder<'_, M> {
    /// Delete only if the node's version is `version`.
    pub fn with_version(mut self, version: i32) -> Self {
        self.version = version;
        self
    }

    /// A missing node is not an error.
    pub fn quietly(mut self) -> Self {
        self.quietly = true;
        self
    }

    /// The same as [`quietly`](Self::quietly) (Curator's name for it on retries).
    pub fn idempotent(self) -> Self {
        self.quietly()
    }

    /// If the delete fails for connection reasons after the retries, keep retrying in the
    /// background (across reconnects) until it succeeds or the node is gone. The failure is
    /// still reported.
    pub fn guaranteed(mut self) -> Self {
        self.guaranteed = true;
        self
    }

    /// Delete the children (recursively) first when the node has any.
    pub fn deleting_children_if_needed(mut self) -> Self {
        self.children = true;
        self
    }

    fn plan(&self, path: &str) -> Result<Arc<DeletePlan>> {
        self.common
            .client
            .check_schema(path, |s| s.validate_delete(path))?;
        Ok(Arc::new(DeletePlan {
            full: self.common.client.fix_path(path, false)?,
            version: self.version,
            quietly: self.quietly,
            children: self.children,
            guaranteed: self.guaranteed,
        }))
    }
}

impl<'a> DeleteBuilder<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        DeleteBuilder {
            common: Common::new(client),
            version: -1,
            quietly: false,
            guaranteed: false,
            children: false,
        }
    }

    /// Deletes the node.
    pub fn for_path(self, path: &str) -> Result<()> {
        let plan = self.plan(path)?;
        let c = self.common.client;
        c.call(|zk, _| plan.once(zk)).map_err(|e| {
            plan.give_up(c, &e);
            e.with_path(path)
        })
    }
}

impl DeleteBuilder<'_, InBackground> {
    /// Starts the delete; the result arrives as a `Delete` event.
    pub fn for_path(self, path: &str) -> Result<()> {
        let plan = self.plan(path)?;
        let user = path.to_string();
        let p2 = plan.clone();
        self.common.client.run_background(
            background_attempt(plan),
            Box::new(move |_c, r| {
                let r = r.map_err(|e| e.with_path(&user));
                event_for(CuratorEventType::Delete, user, r, |_, _| {})
            }),
            Some(Box::new(move |c, e| p2.give_up(c, e))),
            self.common.bg,
        )
    }
}

builder_common!(DeleteBuilder {
    version,
    quietly,
    guaranteed,
    children
});

struct DeletePlan {
    full: String,
    version: i32,
    quietly: bool,
    children: bool,
    guaranteed: bool,
}

impl DeletePlan {
    fn once(&self, zk: &ZooKeeper) -> Result<()> {
        match zk.delete(&self.full, self.version) {
            Err(Error::NotEmpty { .. }) if self.children => {
                let kids = match zk.get_children(&self.full, false) {
                    Err(Error::NoNode { .. }) if self.quietly => return Ok(()),
                    other => other?,
                };
                for k in kids {
                    delete_tree(zk, &path::make_path(&self.full, &k))?;
                }
                self.finish(zk.delete(&self.full, self.version))
            }
            other => self.finish(other),
        }
    }

    fn finish(&self, r: Result<()>) -> Result<()> {
        match r {
            Err(Error::NoNode { .. }) if self.quietly => Ok(()),
            other => other,
        }
    }

    fn give_up(&self, c: &CuratorFramework, e: &Error) {
        if self.guaranteed && (e.is_retryable() || matches!(e, Error::RequestTimeout)) {
            guaranteed_delete(c, self.full.clone());
        }
    }
}

/// Deletes `p` and everything under it, tolerating concurrent changes (a node vanishing is
/// fine; a child appearing is deleted on the next pass, a bounded number of times).
pub(crate) fn delete_tree(zk: &ZooKeeper, p: &str) -> Result<()> {
    const PASSES: usize = 10;
    for _ in 0..PASSES {
        let kids = match zk.get_children(p, false) {
            Ok(k) => k,
            Err(Error::NoNode { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        for k in kids {
            delete_tree(zk, &path::make_path(p, &k))?;
        }
        match zk.delete(p, -1) {
            Ok(()) | Err(Error::NoNode { .. }) => return Ok(()),
            Err(Error::NotEmpty { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::NotEmpty {
        path: p.to_string(),
        op: Some(crate::proto::OpCode::Delete),
    })
}

/// A plain delete goes out asynchronously; deleting children needs several steps, which run
/// on the timer thread, as do retries.
fn background_attempt(plan: Arc<DeletePlan>) -> Attempt<()> {
    Box::new(move |c, zk, count, done| {
        if count > 0 {
            return done.call(plan.once(zk));
        }
        let d = OnceDone::new(done);
        let d2 = d.clone();
        let (plan2, c2) = (plan.clone(), c.clone());
        let r = zk.delete_async(&plan.full, plan.version, move |r| {
            if matches!(r, Err(Error::NotEmpty { .. })) && plan2.children {
                let inner = c2.inner.clone();
                inner.scheduler.schedule(Duration::ZERO, move || {
                    d2.call(c2.inner.handle().and_then(|zk| plan2.once(&zk)))
                });
            } else {
                d2.call(plan2.finish(r));
            }
        });
        if let Err(e) = r {
            d.call(Err(e));
        }
    })
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl<M> std::fmt::Debug for DeleteBuilder<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeleteBuilder").finish_non_exhaustive()
    }
}
