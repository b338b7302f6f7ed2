//! The cache that `cache-load` times.
//!
//! zk-curator has no `CuratorCache` yet (a later issue), so [`build_and_load`] is a stand-in
//! that makes the requests CuratorCache 5.x makes, through the public framework API, and
//! holds what they return:
//!
//! 1. a persistent recursive watch on the cache's root (CuratorCache's `PersistentWatcher`),
//!    added in the background; when it is in place,
//! 2. a refresh of the root, and then of every node found: a background `get_children` and a
//!    background `get_data` per node, each issued from the callback that found the node,
//!    with no bound on how many are in flight (as CuratorCache);
//! 3. "initialized" once no read is outstanding.
//!
//! The JSON says so: `"extra":{"impl":"pipelined-reads-standin"}`. When `CuratorCache`
//! arrives, swapping it in is a change of [`build_and_load`] alone (build it, start it,
//! wait for `for_initialized`, return it in [`LoadedCache`]); the workload only calls
//! `build_and_load`, `size`, `impl_name` and `close`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use zk_curator::framework::{CuratorEvent, CuratorFramework};
use zk_curator::{AddWatchMode, SharedWatcher, Stat, WatchedEvent};

use crate::common::{fail, Res};
use crate::curator::NO_NODE;

/// A loaded cache (what `build_and_load` returns once the cache is initialized).
pub struct LoadedCache {
    client: CuratorFramework,
    path: String,
    watcher: SharedWatcher,
    state: Arc<State>,
}

impl LoadedCache {
    /// Nodes held, the root included (as `CuratorCache.size()` counts).
    pub fn size(&self) -> usize {
        self.state.nodes.lock().len()
    }

    /// Which implementation this is, for `extra.impl`.
    pub fn impl_name(&self) -> &'static str {
        "pipelined-reads-standin"
    }

    /// Stops watching and drops the data.
    pub fn close(self) {
        let _ = self
            .client
            .watchers()
            .remove(&self.watcher)
            .quietly()
            .for_path(&self.path);
        self.state.nodes.lock().clear();
    }
}

type Node = (Arc<[u8]>, Stat);

struct State {
    nodes: Mutex<HashMap<String, Node>>,
    /// Reads issued and not yet answered (plus one for the watch being added).
    outstanding: AtomicUsize,
    error: Mutex<Option<String>>,
    initialized: Mutex<bool>,
    cv: Condvar,
}

impl State {
    fn failed(&self, what: &str, e: &CuratorEvent) {
        let mut err = self.error.lock();
        if err.is_none() {
            *err = Some(format!(
                "cache: {what} {} failed: rc={}",
                e.path(),
                e.result_code()
            ));
        }
    }

    /// One outstanding operation is answered; the last one initializes the cache.
    fn settle(&self) {
        if self.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.initialized.lock() = true;
            self.cv.notify_all();
        }
    }
}

/// Builds the cache on `path`, starts it and waits (at most `timeout`) until it is
/// initialized. The one function to replace with `CuratorCache` later.
pub fn build_and_load(
    client: &CuratorFramework,
    path: &str,
    timeout: Duration,
) -> Res<LoadedCache> {
    let state = Arc::new(State {
        nodes: Mutex::new(HashMap::new()),
        outstanding: AtomicUsize::new(1),
        error: Mutex::new(None),
        initialized: Mutex::new(false),
        cv: Condvar::new(),
    });
    // A real cache would apply the changes it hears of; nothing changes during the load.
    let watcher = SharedWatcher::new(|_: &WatchedEvent| {});
    let (st, root) = (state.clone(), path.to_string());
    client
        .watchers()
        .add()
        .with_mode(AddWatchMode::PersistentRecursive)
        .using_watcher(watcher.clone())
        .in_background(move |c, e| {
            if e.result_code() == 0 {
                refresh(c, &st, &root);
            } else {
                st.failed("addWatch", e);
            }
            st.settle();
        })
        .for_path(path)?;
    let deadline = Instant::now() + timeout;
    {
        let mut init = state.initialized.lock();
        while !*init {
            if state.cv.wait_until(&mut init, deadline).timed_out() && !*init {
                return fail(format!("cache did not initialize in {timeout:?}"));
            }
        }
    }
    if let Some(e) = state.error.lock().take() {
        return fail(e);
    }
    Ok(LoadedCache {
        client: client.clone(),
        path: path.to_string(),
        watcher,
        state,
    })
}

/// Reads `path`'s children and data in the background (CuratorCache's `refreshChildren` and
/// `refreshData`); each child found is refreshed the same way.
fn refresh(c: &CuratorFramework, st: &Arc<State>, path: &str) {
    st.outstanding.fetch_add(2, Ordering::AcqRel);
    let (st1, p1) = (st.clone(), path.to_string());
    let issued = c
        .get_children()
        .in_background(move |c, e| {
            match e.children() {
                Some(kids) if e.result_code() == 0 => {
                    for k in kids {
                        let child = if p1 == "/" {
                            format!("/{k}")
                        } else {
                            format!("{p1}/{k}")
                        };
                        refresh(c, &st1, &child);
                    }
                }
                _ if e.result_code() == NO_NODE => {}
                _ => st1.failed("getChildren", e),
            }
            st1.settle();
        })
        .for_path(path);
    if issued.is_err() {
        *st.error.lock() = Some(format!("cache: cannot read the children of {path}"));
        st.settle();
    }
    let (st2, p2) = (st.clone(), path.to_string());
    let issued = c
        .get_data()
        .in_background(move |_, e| {
            match (e.data(), e.stat()) {
                (Some(d), Some(s)) if e.result_code() == 0 => {
                    st2.nodes.lock().insert(p2, (Arc::from(d), s.clone()));
                }
                _ if e.result_code() == NO_NODE => {}
                _ => st2.failed("getData", e),
            }
            st2.settle();
        })
        .for_path(path);
    if issued.is_err() {
        *st.error.lock() = Some(format!("cache: cannot read {path}"));
        st.settle();
    }
}
