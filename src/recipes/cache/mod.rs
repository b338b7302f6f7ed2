//! Caches: keep a local, always-current copy of part of the tree and be told when it
//! changes. [`CuratorCache`] (persistent-recursive watch, ZooKeeper 3.6+) is the one to use;
//! the older NodeCache, PathChildrenCache and TreeCache exist with Curator's semantics for
//! code that expects them.

mod bridge;
mod cache_watch;
mod curator_cache;
mod listener;
mod node_cache;
mod path_children_cache;
mod publisher;
mod tree_cache;
mod types;
mod window;

pub use bridge::{CuratorCacheBridge, CuratorCacheBridgeBuilder};
pub(crate) use cache_watch::CacheWatch;
pub use curator_cache::{CuratorCache, CuratorCacheBuilder, CuratorCacheOption};
pub use listener::{CacheListener, CuratorCacheListener, CuratorCacheListenerBuilder};
pub use node_cache::NodeCache;
pub use path_children_cache::{
    PathChildrenCache, PathChildrenCacheBuilder, PathChildrenCacheMode, StartMode,
};
pub use tree_cache::{DefaultTreeCacheSelector, TreeCache, TreeCacheBuilder, TreeCacheSelector};
pub use types::*;
