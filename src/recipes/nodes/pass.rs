//! One pass of a [`PersistentNode`](super::PersistentNode): make the node be there, ours, in
//! the current session, with our data, and watched.
//!
//! A pass takes the current handle and works on its session only (a handle replaced mid-pass
//! fails its requests, and the next pass starts over). In order:
//!
//! 1. After a first create whose reply was lost, look for the protected name before creating
//!    again, so that a lost reply never leaves a second node.
//! 2. If a node is known, read it with the watch. An ephemeral node owned by a session of ours
//!    that is not the current one (a dead session whose node the server has not reaped yet,
//!    or a simulated expiry) is deleted and made again: keeping it would lose it when that
//!    session ends. An ephemeral node of another live session is never taken over: the watch
//!    tells when it goes. Otherwise the node is adopted and given our data if it needs it.
//! 3. If there is none, create it: at the base path the first time, at the known path (in the
//!    non-sequential mode) afterwards. `NodeExists` goes back to step 2.

use std::sync::Arc;

use super::state::{delete_guaranteed, Inner, Life};
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::framework::protection::find_protected;
use crate::path;
use crate::proto::CreateMode;
use crate::recipes::exact::make_dirs;

/// How a pass ended.
pub(super) enum PassEnd {
    /// The node is in place (or we wait on a foreign one, or the recipe closed).
    Done,
    /// No connection: the next connected state asks for a pass.
    Disconnected,
    /// Failed while connected: try again after a backoff.
    Retry(Error),
}

/// The mode used to re-create a node whose (sequential) name is already known.
fn non_sequential(mode: CreateMode) -> CreateMode {
    match mode {
        CreateMode::EphemeralSequential => CreateMode::Ephemeral,
        CreateMode::PersistentSequential => CreateMode::Persistent,
        CreateMode::PersistentSequentialWithTtl => CreateMode::PersistentWithTtl,
        m => m,
    }
}

/// How many sessions of ours are remembered as possible owners of a stale node.
const SESSIONS_KEPT: usize = 8;

pub(super) struct Pass<'a> {
    inner: &'a Arc<Inner>,
}

impl<'a> Pass<'a> {
    pub(super) fn new(inner: &'a Arc<Inner>) -> Pass<'a> {
        Pass { inner }
    }

    /// Runs the pass; also returns the path of a node it created.
    pub(super) fn run(&self) -> (PassEnd, Option<String>) {
        let zk = match self.inner.client.inner.handle() {
            Ok(zk) => zk,
            Err(Error::Closed) => return (PassEnd::Done, None),
            Err(e) => return (PassEnd::Retry(e), None),
        };
        if !zk.state().is_connected() {
            log::debug!("PersistentNode {}: not connected", self.inner.user_path);
            return (PassEnd::Disconnected, None);
        }
        log::debug!("PersistentNode {}: pass", self.inner.user_path);
        match self.work(&zk) {
            Ok(created) => (PassEnd::Done, created),
            Err((Error::Closed, created)) => (PassEnd::Done, created),
            Err((e, created)) if !zk.state().is_connected() => {
                log::debug!("PersistentNode {}: {e}", self.inner.user_path);
                (PassEnd::Disconnected, created)
            }
            Err((e, created)) => (PassEnd::Retry(e), created),
        }
    }

    fn work(&self, zk: &ZooKeeper) -> std::result::Result<Option<String>, (Error, Option<String>)> {
        let inner = self.inner;
        let sid = zk.session_id();
        let (base, mut node, sessions, in_doubt, mut dirty, data, generation) = {
            let st = inner.st.lock();
            let Some(base) = st.base.clone() else {
                return Ok(None);
            };
            (
                base,
                st.node.clone(),
                st.sessions.clone(),
                st.create_in_doubt,
                st.dirty,
                st.data.clone(),
                st.data_gen,
            )
        };
        if node.is_none() && in_doubt {
            if let (Some(id), Some(parent)) = (&inner.protected_id, path::parent(&base)) {
                if let Some(found) = find_protected(zk, parent, id).map_err(|e| (e, None))? {
                    log::debug!("PersistentNode: found {found} from a create whose reply was lost");
                    node = Some(found);
                    dirty = true;
                }
            }
        }
        for _ in 0..5 {
            if let Some(p) = node.clone() {
                match zk.exists_w_shared(&p, &inner.watcher) {
                    Ok(Some(stat)) => {
                        let owner = stat.ephemeral_owner;
                        if inner.mode.is_ephemeral() && owner != sid && owner != 0 {
                            if !sessions.contains(&owner) {
                                self.warn_once(&format!(
                                    "{p} belongs to another session (0x{owner:x}); waiting for it \
                                     to go"
                                ));
                                return Ok(None);
                            }
                            // Ours, from a session that is over.
                            match zk.delete(&p, stat.version) {
                                Ok(()) | Err(Error::NoNode { .. }) => {}
                                Err(Error::BadVersion { .. }) => continue,
                                Err(e) => return Err((e, None)),
                            }
                        } else {
                            if inner.mode.is_ephemeral() && owner == 0 {
                                self.warn_once(&format!(
                                    "{p} is persistent where an ephemeral node was asked for; \
                                     adopting it"
                                ));
                            }
                            if dirty {
                                match zk.set_data(&p, &data, -1) {
                                    Ok(_) => {}
                                    Err(Error::NoNode { .. }) => continue,
                                    Err(e) => return Err((e, None)),
                                }
                            }
                            self.commit(p, generation, None).map_err(|e| (e, None))?;
                            return Ok(None);
                        }
                    }
                    Ok(None) => {}
                    Err(e) => return Err((e, None)),
                }
            }
            let (target, mode) = match &node {
                Some(p) => (p.clone(), non_sequential(inner.mode)),
                None => (base.clone(), inner.mode),
            };
            {
                let mut st = inner.st.lock();
                if !st.sessions.contains(&sid) {
                    st.sessions.push(sid);
                    if st.sessions.len() > SESSIONS_KEPT {
                        st.sessions.remove(0);
                    }
                }
                if node.is_none() {
                    st.create_in_doubt = true;
                }
            }
            match self.create(zk, &target, mode, &data) {
                Ok(created) => {
                    self.inner.st.lock().create_in_doubt = false;
                    match zk.exists_w_shared(&created, &inner.watcher) {
                        Ok(Some(_)) => {
                            self.commit(created.clone(), generation, Some(&created))
                                .map_err(|e| (e, None))?;
                            return Ok(Some(created));
                        }
                        // Deleted at once: make it again.
                        Ok(None) => {
                            node = Some(created);
                            continue;
                        }
                        Err(e) => {
                            let keep = self.commit(created.clone(), generation, Some(&created));
                            return Err((keep.err().unwrap_or(e), Some(created)));
                        }
                    }
                }
                Err(Error::NodeExists { .. }) => {
                    node = Some(target);
                    dirty = true;
                }
                Err(e) => {
                    if !matches!(
                        e,
                        Error::ConnectionLoss { .. }
                            | Error::RequestTimeout
                            | Error::OperationTimeout { .. }
                    ) {
                        self.inner.st.lock().create_in_doubt = false;
                    }
                    return Err((e, None));
                }
            }
        }
        Err((
            Error::InvalidArgument(format!(
                "{}: the node kept changing under the pass",
                inner.user_path
            )),
            None,
        ))
    }

    /// Records the node as ours; if the recipe closed meanwhile, a node this pass created is
    /// deleted instead (close() has already run and would not see it).
    fn commit(&self, node: String, generation: u64, created: Option<&str>) -> Result<()> {
        let closed = {
            let mut st = self.inner.st.lock();
            if st.life == Life::Started {
                st.node = Some(node);
                if st.data_gen == generation {
                    st.dirty = false;
                }
                st.initial_done = true;
                st.warned = false;
                self.inner.cv.notify_all();
                false
            } else {
                true
            }
        };
        if closed {
            if let Some(c) = created {
                if self.inner.delete_on_close {
                    delete_guaranteed(&self.inner.client, c);
                }
            }
            return Err(Error::Closed);
        }
        Ok(())
    }

    fn create(
        &self,
        zk: &ZooKeeper,
        target: &str,
        mode: CreateMode,
        data: &[u8],
    ) -> Result<String> {
        let inner = self.inner;
        let acl = inner.client.acl_for(target);
        let once = || match inner.ttl {
            Some(ttl) if mode.is_ttl() => {
                zk.create_ttl(target, data, &acl, mode, ttl).map(|(p, _)| p)
            }
            _ => zk.create(target, data, &acl, mode),
        };
        match once() {
            Err(Error::NoNode { .. }) if inner.parents => {
                if let Some(parent) = path::parent(target) {
                    make_dirs(&inner.client, zk, parent)?;
                }
                once()
            }
            r => r,
        }
    }

    fn warn_once(&self, msg: &str) {
        let mut st = self.inner.st.lock();
        if !st.warned {
            st.warned = true;
            log::warn!("PersistentNode {}: {msg}", self.inner.user_path);
        }
    }
}
