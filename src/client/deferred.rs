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

use super::ops::{Call, Conv, Watch};
use super::ZooKeeper;
use crate::error::{Error, Result};
use crate::proto::{Acl, CreateMode, Response, Stat};
use crate::session::pending::{Completion, OneShot};
use crate::session::SharedWatcher;

type BoxedConv<T> = Box<dyn FnOnce(Result<Response>) -> Result<T> + Send>;

/// A request on its way; [`wait`](Self::wait) for its reply.
pub(crate) struct Deferred<T> {
    slot: Arc<OneShot>,
    conv: BoxedConv<T>,
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
        (self.conv)(self.slot.wait(timeout)).map_err(|e| e.with_path(&path))
    }
}

impl ZooKeeper {
    /// Sends a prepared call (see [`Call`]) with a slot to wait on later.
    fn defer<T>(&self, call: Result<Call<'_, impl Conv<T>>>) -> Result<Deferred<T>> {
        let call = call?;
        self.check_alive()?;
        let slot = OneShot::new();
        match call.req {
            Some(req) => self
                .core
                .submit(&req, call.watch, Completion::Sync(slot.clone())),
            None => slot.complete(Ok(Response::Empty)),
        }
        Ok(Deferred {
            slot,
            conv: Box::new(call.conv),
            path: call.path.to_string(),
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
        self.defer(self.create_call(path, data, acl, mode))
    }

    /// Sends a getChildren (no watch).
    pub(crate) fn get_children_deferred(&self, path: &str) -> Result<Deferred<Vec<String>>> {
        self.defer(self.children_call(path, Watch::None))
    }

    /// Sends a getChildren that leaves `watcher` on the node's children.
    pub(crate) fn get_children_w_deferred(
        &self,
        path: &str,
        watcher: SharedWatcher,
    ) -> Result<Deferred<Vec<String>>> {
        self.defer(self.children_call(path, watcher.into()))
    }

    /// Sends a getData, optionally leaving `watcher` on the node (set only if it exists).
    pub(crate) fn get_data_deferred(
        &self,
        path: &str,
        watcher: Option<SharedWatcher>,
    ) -> Result<Deferred<(Vec<u8>, Stat)>> {
        self.defer(self.get_data_call(path, watcher.into()))
    }

    /// Sends a delete.
    pub(crate) fn delete_deferred(&self, path: &str, version: i32) -> Result<Deferred<()>> {
        self.defer(self.delete_call(path, version))
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
