//! Caches: keep a local, always-current copy of part of the tree and be told when it
//! changes. [`CuratorCache`] (persistent-recursive watch, ZooKeeper 3.6+) is the one to use;
//! the older NodeCache, PathChildrenCache and TreeCache exist with Curator's semantics for
//! code that expects them.

mod curator_cache;
mod listener;
mod types;

pub use curator_cache::{CuratorCache, CuratorCacheBuilder, CuratorCacheOption};
pub use listener::{CacheListener, CuratorCacheListener, CuratorCacheListenerBuilder};
pub use types::*;
