//! [`PersistentNodeBuilder`]: the options of a [`PersistentNode`] and their checks, and the
//! construction of its shared state.

use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::persistent::{Inner, Life, PersistentNode, State};
use crate::error::{Error, Result};
use crate::framework::protection::new_protected_id;
use crate::framework::CuratorFramework;
use crate::path;
use crate::proto::CreateMode;
use crate::session::{SharedWatcher, WatchedEvent};

/// Builds a [`PersistentNode`] with the less common options.
#[must_use = "a builder does nothing until build()"]
#[derive(Debug)]
pub struct PersistentNodeBuilder {
    pub(super) client: CuratorFramework,
    pub(super) path: String,
    pub(super) mode: CreateMode,
    pub(super) protection: bool,
    pub(super) data: Vec<u8>,
    pub(super) ttl: Option<Duration>,
    pub(super) parents: bool,
    pub(super) delete_on_close: bool,
}

impl PersistentNodeBuilder {
    /// The create mode (default `Ephemeral`).
    pub fn mode(mut self, mode: CreateMode) -> Self {
        self.mode = mode;
        self
    }

    /// Protected names (`_c_<uuid>-`; always on for sequential modes).
    pub fn protection(mut self, yes: bool) -> Self {
        self.protection = yes;
        self
    }

    /// The node's data (default: the client's default data).
    pub fn data(mut self, data: &[u8]) -> Self {
        self.data = data.to_vec();
        self
    }

    /// The TTL, required by (and only allowed with) the TTL modes.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Whether missing parents are created, as containers (default true).
    pub fn use_parent_creation(mut self, yes: bool) -> Self {
        self.parents = yes;
        self
    }

    pub(super) fn keep_on_close(mut self) -> Self {
        self.delete_on_close = false;
        self
    }

    /// Checks the options and builds the (not started) node.
    pub fn build(self) -> Result<PersistentNode> {
        let seq = self.mode.is_sequential();
        path::validate_path(&self.path, seq)?;
        if self.mode.is_ttl() != self.ttl.is_some() {
            return Err(Error::InvalidArgument(format!(
                "mode {:?} and TTL {:?} do not go together",
                self.mode, self.ttl
            )));
        }
        if self.ttl.is_some_and(|t| t.is_zero()) {
            return Err(Error::InvalidArgument("a TTL of zero".into()));
        }
        check_size(&self.client, &self.data)?;
        let protected_id = (self.protection || seq).then(new_protected_id);
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            let weak = weak.clone();
            Inner {
                client: self.client.clone(),
                user_path: self.path.clone(),
                mode: self.mode,
                protected_id,
                ttl: self.ttl,
                parents: self.parents,
                delete_on_close: self.delete_on_close,
                st: Mutex::new(State {
                    life: Life::Latent,
                    base: None,
                    data: self.data,
                    data_gen: 0,
                    dirty: false,
                    node: None,
                    sessions: Vec::new(),
                    create_in_doubt: false,
                    initial_done: false,
                    running: false,
                    again: false,
                    failures: 0,
                    warned: false,
                }),
                cv: Condvar::new(),
                watcher: SharedWatcher::new(move |e: &WatchedEvent| {
                    if e.event_type() != crate::proto::EventType::None {
                        if let Some(inner) = weak.upgrade() {
                            inner.trigger();
                        }
                    }
                }),
                listeners: Arc::default(),
                state_listener: Mutex::new(None),
            }
        });
        Ok(PersistentNode { inner })
    }
}

/// Data a request could not carry (ZooKeeper's 1 MiB packet limit) is refused up front: a
/// background re-creation would otherwise fail forever.
pub(super) fn check_size(client: &CuratorFramework, data: &[u8]) -> Result<()> {
    let max = client.inner.cfg.max_buffer;
    if data.len() >= max {
        return Err(Error::InvalidArgument(format!(
            "{} bytes of node data exceed the {max} byte packet limit (jute.maxbuffer)",
            data.len()
        )));
    }
    Ok(())
}
