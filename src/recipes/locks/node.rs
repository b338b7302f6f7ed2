//! The nodes lock recipes are made of: a protected create that is never made twice
//! ([`ProtectedCreate`]), pipelined with the listing of its siblings, and the removal of a
//! node that must not be left behind ([`remove_node`]).
//!
//! Curator's protected mode, applied by hand because the lock core talks to the handle
//! directly (it pipelines and keeps a deadline): the node is named `_c_<uuid>-<name>`; a
//! create whose outcome is unknown (its reply was lost with the connection, or the caller's
//! deadline came first) is searched for by that id on the next attempt instead of being sent
//! again; a create that is given up is searched for and deleted in the background.

use std::time::{Duration, Instant};

use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::framework::protection::{
    find_and_delete_protected, find_node, guaranteed_delete, new_protected_id, protected_name,
};
use crate::framework::CuratorFramework;
use crate::path;
use crate::proto::CreateMode;
use crate::session::SharedWatcher;

/// A created (or found) node and what came with it.
#[derive(Debug)]
pub(crate) struct Created {
    /// Handle-level path (namespace included).
    pub full: String,
    /// The session that created it.
    pub session: i64,
    /// The parent's children, listed after the create (when asked for).
    pub listing: Option<Result<Vec<String>>>,
}

/// One protected node to create, across attempts.
pub(crate) struct ProtectedCreate {
    /// Handle-level parent.
    parent: String,
    /// The name before protection (`lock-`, `lease-`, `__READ__0000000007`).
    name: String,
    mode: CreateMode,
    id: String,
    /// The session of the last create sent whose outcome is unknown.
    unknown: Option<i64>,
}

impl ProtectedCreate {
    pub(crate) fn new(parent: &str, name: &str, mode: CreateMode) -> ProtectedCreate {
        ProtectedCreate {
            parent: parent.to_string(),
            name: name.to_string(),
            mode,
            id: new_protected_id(),
            unknown: None,
        }
    }

    /// One attempt: find the node an earlier attempt of this session may have made, or
    /// create it (and the parents, as containers, when missing). With `list`, the parent's
    /// children are listed right behind the create, in the same round trip, optionally
    /// leaving `watcher` on them.
    pub(crate) fn attempt(
        &mut self,
        client: &CuratorFramework,
        zk: &ZooKeeper,
        data: &[u8],
        list: Option<Option<SharedWatcher>>,
        deadline: Option<Instant>,
    ) -> Result<Created> {
        let sid = zk.session_id();
        if let Some(old) = self.unknown {
            if old == sid {
                let kids = match &list {
                    Some(Some(w)) => zk.get_children_w_deferred(&self.parent, w.clone())?,
                    _ => zk.get_children_deferred(&self.parent)?,
                }
                .wait(deadline);
                match kids {
                    Ok(kids) => {
                        self.unknown = None;
                        if let Some(name) = find_node(&kids, &self.id) {
                            log::debug!("found our node {name} of a create whose reply was lost");
                            return Ok(Created {
                                full: path::make_path(&self.parent, name),
                                session: sid,
                                listing: list.map(|_| Ok(kids)),
                            });
                        }
                    }
                    // The parent is gone: so is anything created under it.
                    Err(Error::NoNode { .. }) => self.unknown = None,
                    Err(e) => return Err(e),
                }
            } else {
                // Sent by a session that is gone: if it made the node, the node goes with
                // that session or is deleted here; create anew under a fresh id.
                self.abandon(client);
            }
        }
        let full = self.target();
        let acl = client.acl_for(&full);
        let mut made_parents = false;
        loop {
            self.unknown = Some(sid);
            let create = zk.create_deferred(&full, data, &acl, self.mode)?;
            let listing = match &list {
                Some(Some(w)) => Some(zk.get_children_w_deferred(&self.parent, w.clone())?),
                Some(None) => Some(zk.get_children_deferred(&self.parent)?),
                None => None,
            };
            match create.wait(deadline) {
                Ok(created) => {
                    self.unknown = None;
                    return Ok(Created {
                        full: created,
                        session: sid,
                        listing: listing.map(|l| l.wait(deadline)),
                    });
                }
                Err(Error::NoNode { .. }) if !made_parents => {
                    self.unknown = None;
                    made_parents = true;
                    client
                        .without_namespace()
                        .create_containers_at(&self.parent)?;
                }
                Err(e) => {
                    if !is_uncertain(&e) {
                        self.unknown = None;
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Gives the create up: a node it may have made is searched for and deleted in the
    /// background, and the next attempt uses a fresh id.
    pub(crate) fn abandon(&mut self, client: &CuratorFramework) {
        if self.unknown.take().is_some() {
            find_and_delete_protected(client, self.parent.clone(), self.id.clone());
        }
        self.id = new_protected_id();
    }

    /// The path to create: the parent, then `_c_<id>-<name>`.
    fn target(&self) -> String {
        path::make_path(&self.parent, &protected_name(&self.name, &self.id))
    }
}

/// True when a failed request may still have been applied by the server.
fn is_uncertain(e: &Error) -> bool {
    e.is_retryable() || matches!(e, Error::RequestTimeout)
}

/// Deletes a node this recipe made (handle-level path): at once when possible, otherwise in
/// the background until it is gone (Curator's guaranteed delete), so that it is never left
/// behind while the client runs. A missing node is fine. Returns the first attempt's error,
/// if any, after handing the node to the background.
pub(crate) fn remove_node(client: &CuratorFramework, full: &str) -> Result<()> {
    let r = client
        .without_namespace()
        .delete()
        .guaranteed()
        .quietly()
        .for_path(full);
    match r {
        Ok(()) => Ok(()),
        Err(Error::Closed) => Ok(()), // the session, and its ephemeral node, are gone
        Err(e) => {
            // `guaranteed()` took over the retryable failures; anything else is retried too:
            // a lock node must not outlive its release.
            if !is_uncertain(&e) {
                guaranteed_delete(client, full.to_string());
            }
            Err(e)
        }
    }
}

/// Deletes a node in the background only (a caller that must not wait).
pub(crate) fn remove_node_later(client: &CuratorFramework, full: &str) {
    guaranteed_delete(client, full.to_string());
}

/// How long [`remove_node_soon`] waits for its delete.
const SOON: Duration = Duration::from_millis(500);

/// Deletes a node a caller is giving up (a timed-out acquire, a close): at once when
/// connected, so that nobody else waits behind it once the call returns, waiting a short
/// while at most; otherwise, or if that fails, in the background until it is gone.
pub(crate) fn remove_node_soon(client: &CuratorFramework, full: &str) {
    if let Ok(zk) = client.inner.handle() {
        if zk.state().is_connected() {
            if let Ok(d) = zk.delete_deferred(full, -1) {
                match d.wait(Instant::now().checked_add(SOON)) {
                    Ok(()) | Err(Error::NoNode { .. }) | Err(Error::Closed) => return,
                    Err(e) => {
                        log::debug!("deleting {full} failed ({e}); retrying in the background")
                    }
                }
            }
        }
    }
    remove_node_later(client, full)
}
