//! What background operations report ([`CuratorEvent`]) and who hears it: the operation's own
//! callback, or, without one, the client's [`CuratorListener`]s; errors nobody handled go to
//! [`UnhandledErrorListener`]s.

use std::sync::Arc;

use super::listen::{Listenable, ListenerId};
use super::types::{CuratorEventType, CuratorTransactionResult};
use super::CuratorFramework;
use crate::error::Error;
use crate::proto::{Acl, Stat};
use crate::session::{WatchedEvent, WorkerPool};

/// The outcome of a background operation, or a `watched()` notification.
///
/// Fields that do not apply to the event type are `None`.
#[derive(Debug, Clone)]
pub struct CuratorEvent {
    pub(crate) event_type: CuratorEventType,
    pub(crate) error: Option<Error>,
    pub(crate) path: String,
    pub(crate) name: Option<String>,
    pub(crate) stat: Option<Stat>,
    pub(crate) data: Option<Vec<u8>>,
    pub(crate) children: Option<Vec<String>>,
    pub(crate) acl: Option<Vec<Acl>>,
    pub(crate) op_results: Option<Vec<CuratorTransactionResult>>,
    pub(crate) watched: Option<WatchedEvent>,
}

impl CuratorEvent {
    pub(crate) fn new(event_type: CuratorEventType, path: impl Into<String>) -> CuratorEvent {
        CuratorEvent {
            event_type,
            error: None,
            path: path.into(),
            name: None,
            stat: None,
            data: None,
            children: None,
            acl: None,
            op_results: None,
            watched: None,
        }
    }

    /// What produced the event.
    pub fn event_type(&self) -> CuratorEventType {
        self.event_type
    }

    /// 0 on success, else the server error code (Curator's `getResultCode`). For `Watched`
    /// events, the connection state number (`KeeperState`), as in Curator. Client-side
    /// errors without a code report `-1`.
    pub fn result_code(&self) -> i32 {
        if let Some(w) = &self.watched {
            return w.state().code();
        }
        match &self.error {
            None => 0,
            Some(e) => e.code().unwrap_or(-1),
        }
    }

    /// The error, if the operation failed.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// The path the operation was for (namespace removed).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// For `Create`: the path actually created (sequence suffix, protection prefix included).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The node's Stat, where the operation returns one.
    pub fn stat(&self) -> Option<&Stat> {
        self.stat.as_ref()
    }

    /// For `GetData` / `GetConfig`: the data.
    pub fn data(&self) -> Option<&[u8]> {
        self.data.as_deref()
    }

    /// For `Children`: the child names.
    pub fn children(&self) -> Option<&[String]> {
        self.children.as_deref()
    }

    /// For `GetAcl`: the ACL.
    pub fn acl_list(&self) -> Option<&[Acl]> {
        self.acl.as_deref()
    }

    /// For `Transaction`: the per-operation results.
    pub fn op_results(&self) -> Option<&[CuratorTransactionResult]> {
        self.op_results.as_deref()
    }

    /// For `Watched`: the notification.
    pub fn watched_event(&self) -> Option<&WatchedEvent> {
        self.watched.as_ref()
    }
}

/// Hears background results that have no callback of their own, and `watched()` events.
///
/// Implemented for every `Fn(&CuratorFramework, &CuratorEvent) + Send + Sync + 'static`.
pub trait CuratorListener: Send + Sync + 'static {
    /// Handles one event.
    fn event_received(&self, client: &CuratorFramework, event: &CuratorEvent);
}

impl<F> CuratorListener for F
where
    F: Fn(&CuratorFramework, &CuratorEvent) + Send + Sync + 'static,
{
    fn event_received(&self, client: &CuratorFramework, event: &CuratorEvent) {
        self(client, event)
    }
}

impl Listenable<dyn CuratorListener> {
    /// Adds a listener called on the event thread.
    pub fn add_listener(
        &self,
        l: impl Fn(&CuratorFramework, &CuratorEvent) + Send + Sync + 'static,
    ) -> ListenerId {
        self.add_arc(Arc::new(l), None)
    }

    /// Adds a listener called on `pool`.
    pub fn add_listener_with_executor(
        &self,
        l: impl Fn(&CuratorFramework, &CuratorEvent) + Send + Sync + 'static,
        pool: &WorkerPool,
    ) -> ListenerId {
        self.add_arc(Arc::new(l), Some(pool))
    }
}

/// Hears errors that no callback took: background operations that failed for good without a
/// callback, callbacks and listeners that panicked, failed guaranteed deletes.
///
/// Implemented for every `Fn(&str, &Error) + Send + Sync + 'static`.
pub trait UnhandledErrorListener: Send + Sync + 'static {
    /// `message` says where it happened.
    fn unhandled_error(&self, message: &str, error: &Error);
}

impl<F> UnhandledErrorListener for F
where
    F: Fn(&str, &Error) + Send + Sync + 'static,
{
    fn unhandled_error(&self, message: &str, error: &Error) {
        self(message, error)
    }
}

impl Listenable<dyn UnhandledErrorListener> {
    /// Adds a listener called where the error happens.
    pub fn add_listener(&self, l: impl Fn(&str, &Error) + Send + Sync + 'static) -> ListenerId {
        self.add_arc(Arc::new(l), None)
    }

    /// Adds a listener called on `pool`.
    pub fn add_listener_with_executor(
        &self,
        l: impl Fn(&str, &Error) + Send + Sync + 'static,
        pool: &WorkerPool,
    ) -> ListenerId {
        self.add_arc(Arc::new(l), Some(pool))
    }
}

/// A background operation's callback: called once, with the final result (after retries).
pub type BackgroundCallback = Box<dyn FnOnce(&CuratorFramework, &CuratorEvent) + Send>;
