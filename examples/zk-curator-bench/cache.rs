//! The cache that `cache-load` times: zk-curator's [`CuratorCache`], as a user builds it —
//! a persistent-recursive watch, then the tree loaded through a bounded window of pipelined
//! background reads, "initialized" once every node present at start is in.

use std::sync::mpsc;
use std::time::Duration;

use zk_curator::framework::CuratorFramework;
use zk_curator::recipes::cache::{CuratorCache, CuratorCacheListener};

use crate::common::{fail, Res};

/// A loaded cache (what `build_and_load` returns once the cache is initialized).
pub struct LoadedCache {
    cache: CuratorCache,
}

impl LoadedCache {
    /// Nodes held, the root included (as `CuratorCache.size()` counts).
    pub fn size(&self) -> usize {
        self.cache.size()
    }

    /// Which implementation this is, for `extra.impl`.
    pub fn impl_name(&self) -> &'static str {
        "CuratorCache"
    }

    /// Stops watching and drops the data.
    pub fn close(self) {
        self.cache.close();
    }
}

/// Builds the cache on `path`, starts it and waits (at most `timeout`) until it is
/// initialized.
pub fn build_and_load(
    client: &CuratorFramework,
    path: &str,
    timeout: Duration,
) -> Res<LoadedCache> {
    let cache = CuratorCache::build(client, path, &[]);
    let (tx, rx) = mpsc::channel();
    cache.listenable().add_listener(
        CuratorCacheListener::builder()
            .for_initialized(move || {
                let _ = tx.send(());
            })
            .build(),
    );
    cache.start()?;
    if rx.recv_timeout(timeout).is_err() {
        return fail(format!("cache did not initialize in {timeout:?}"));
    }
    Ok(LoadedCache { cache })
}
