//! [`PersistentNodeBuilder`]: the options of a [`PersistentNode`](super::PersistentNode) and
//! their checks. `build()` itself is written beside the node (`persistent`), which this
//! module does not use.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::framework::CuratorFramework;
use crate::proto::CreateMode;

/// Builds a [`PersistentNode`](super::PersistentNode) with the less common options.
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
