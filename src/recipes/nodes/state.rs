//! The state of a [`PersistentNode`](super::PersistentNode) that its handle, its passes
//! (`pass`) and its timer jobs share: the node's settings, what a pass reads and writes, and
//! the listeners told of each creation; with the guaranteed delete both a pass and `close()`
//! use.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::framework::{CuratorFramework, Listenable, ListenerId};
use crate::proto::CreateMode;
use crate::session::{SharedWatcher, WorkerPool};

/// Hears that a [`PersistentNode`](super::PersistentNode) created its node (the first time
/// and every re-creation).
///
/// Implemented for every `Fn(&str) + Send + Sync + 'static`.
pub trait PersistentNodeListener: Send + Sync + 'static {
    /// The node was created at `path` (namespace-free).
    fn node_created(&self, path: &str);
}

impl<F: Fn(&str) + Send + Sync + 'static> PersistentNodeListener for F {
    fn node_created(&self, path: &str) {
        self(path)
    }
}

impl Listenable<dyn PersistentNodeListener> {
    /// Adds a listener called on the client's event thread.
    pub fn add_listener(&self, l: impl PersistentNodeListener) -> ListenerId {
        self.add_arc(Arc::new(l), None)
    }

    /// Adds a listener called on `pool`.
    pub fn add_listener_with_executor(
        &self,
        l: impl PersistentNodeListener,
        pool: &WorkerPool,
    ) -> ListenerId {
        self.add_arc(Arc::new(l), Some(pool))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Life {
    Latent,
    Started,
    Closed,
}

/// What a pass reads and writes (under `Inner::st`, never across I/O).
#[derive(Debug)]
pub(super) struct State {
    pub life: Life,
    /// The base path, handle-level, with the protection prefix when protected.
    pub base: Option<String>,
    pub data: Vec<u8>,
    /// Bumped by every `set_data`: a pass clears `dirty` only if it wrote the latest data.
    pub data_gen: u64,
    pub dirty: bool,
    /// The node, handle-level.
    pub node: Option<String>,
    /// Sessions in which we created a node (the last few): an ephemeral node owned by one of
    /// them and not by the current session is ours from a dead session.
    pub sessions: Vec<i64>,
    /// A first create may have been applied although its reply was lost.
    pub create_in_doubt: bool,
    pub initial_done: bool,
    pub running: bool,
    pub again: bool,
    pub failures: u32,
    pub warned: bool,
}

pub(super) struct Inner {
    pub client: CuratorFramework,
    pub user_path: String,
    pub mode: CreateMode,
    pub protected_id: Option<String>,
    pub ttl: Option<Duration>,
    pub parents: bool,
    /// Close deletes the node (PersistentTtlNode's container stays for the server to reap).
    pub delete_on_close: bool,
    pub st: Mutex<State>,
    pub cv: Condvar,
    pub watcher: SharedWatcher,
    pub listeners: Arc<Listenable<dyn PersistentNodeListener>>,
    pub state_listener: Mutex<Option<ListenerId>>,
}

/// Deletes a handle-level path now if possible; the framework's guaranteed delete keeps
/// trying otherwise.
pub(super) fn delete_guaranteed(client: &CuratorFramework, full: &str) {
    let r = client
        .without_namespace()
        .delete()
        .guaranteed()
        .quietly()
        .for_path(full);
    if let Err(e) = r {
        log::debug!("deleting {full} on close: {e} (a guaranteed delete goes on)");
    }
}
