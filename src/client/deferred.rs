//! Requests sent now and waited for later ([`Deferred`]): how a recipe pipelines a few
//! synchronous steps (create a lock node and list its siblings in one round trip) and how it
//! bounds a wait by its own deadline. Crate-internal.
//!
//! A deferred request is a synchronous request whose caller does not block at once: it is
//! written immediately, the I/O thread completes it straight into its slot (no event-thread
//! hop), and [`Deferred::wait`] collects the reply. Requests of one session are answered in
//! the order they were sent, so a listing sent after a create sees the create.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ops::{children_conv, get_data_conv, Watch};
use super::ZooKeeper;
use crate::error::{Error, Result};
use crate::proto::{Acl, CreateMode, Response, Stat};
use crate::session::pending::{Completion, OneShot, WatchReg};
use crate::session::registry::WatchKind;
use crate::session::SharedWatcher;

type Conv<T> = Box<dyn FnOnce(Response) -> Result<T> + Send>;

/// A request on its way; [`wait`](Self::wait) for its reply.
pub(crate) struct Deferred<T> {
    slot: Arc<OneShot>,
    conv: Conv<T>,
    path: String,
    request_timeout: Duration,
}

impl<T> Deferred<T> {
    /// The reply, waiting at most until `deadline` (`None`: the handle's request timeout).
    /// After a timeout the request is abandoned: `ConnectionLoss` if it was never sent,
    /// `RequestTimeout` if it was (the server may still apply it; its reply is dropped).
    pub(crate) fn wait(self, deadline: Option<Instant>) -> Result<T> {
        let mut timeout = self.request_timeout;
        if let Some(d) = deadline {
            timeout = timeout.min(d.saturating_duration_since(Instant::now()));
        }
        let path = self.path;
        self.slot
            .wait(timeout)
            .and_then(self.conv)
            .map_err(|e| e.with_path(&path))
    }
}

impl ZooKeeper {
    fn defer<T>(
        &self,
        req: crate::proto::Request,
        watch: Option<WatchReg>,
        path: &str,
        conv: Conv<T>,
    ) -> Result<Deferred<T>> {
        self.check_alive()?;
        let slot = OneShot::new();
        self.core
            .submit(&req, watch, Completion::Sync(slot.clone()));
        Ok(Deferred {
            slot,
            conv,
            path: path.to_string(),
            request_timeout: self.core.cfg.request_timeout,
        })
    }

    /// Sends a create; the reply is the created path.
    pub(crate) fn create_deferred(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<Deferred<String>> {
        let req = self.create_request(path, data, acl, mode, None, false)?;
        let conv = self.create_conv();
        self.defer(req, None, path, Box::new(move |r| conv(r).map(|(p, _)| p)))
    }

    /// Sends a getChildren (no watch).
    pub(crate) fn get_children_deferred(&self, path: &str) -> Result<Deferred<Vec<String>>> {
        let (req, reg) = self.children_request(path, Watch::None, false)?;
        self.defer(
            req,
            reg,
            path,
            Box::new(|r| children_conv(r).map(|(c, _)| c)),
        )
    }

    /// Sends a getChildren that leaves `watcher` on the node's children.
    pub(crate) fn get_children_w_deferred(
        &self,
        path: &str,
        watcher: SharedWatcher,
    ) -> Result<Deferred<Vec<String>>> {
        let (req, reg) = self.children_request(path, Watch::With(watcher), false)?;
        self.defer(
            req,
            reg,
            path,
            Box::new(|r| children_conv(r).map(|(c, _)| c)),
        )
    }

    /// Sends a getData, optionally leaving `watcher` on the node (set only if it exists).
    pub(crate) fn get_data_deferred(
        &self,
        path: &str,
        watcher: Option<SharedWatcher>,
    ) -> Result<Deferred<(Vec<u8>, Stat)>> {
        let w = watcher.map_or(Watch::None, Watch::With);
        let (req, reg) = self.get_data_request(path, w)?;
        debug_assert!(reg.as_ref().is_none_or(|r| r.on_ok == WatchKind::Data));
        self.defer(req, reg, path, Box::new(get_data_conv))
    }

    /// Sends a delete.
    pub(crate) fn delete_deferred(&self, path: &str, version: i32) -> Result<Deferred<()>> {
        let req = self.delete_request(path, version)?;
        self.defer(req, None, path, Box::new(|_| Ok(())))
    }
}

impl<T> std::fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred")
            .field("path", &self.path)
            .finish()
    }
}

/// Whether an error from [`Deferred::wait`] came from a deadline of the caller's rather
/// than from the connection.
pub(crate) fn is_deadline(e: &Error, deadline: Option<Instant>) -> bool {
    matches!(e, Error::RequestTimeout | Error::ConnectionLoss { .. })
        && deadline.is_some_and(|d| Instant::now() >= d)
}
