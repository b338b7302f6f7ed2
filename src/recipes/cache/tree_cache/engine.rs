//! How a [`TreeCache`](super::TreeCache) follows the server: watch events and read results,
//! applied on the client's event thread, turned into reads (through the cache's window) and
//! events (Curator's `TreeNode`: `refresh`, `wasCreated`, `wasDeleted`, `processResult`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{Inner, Life, Node, NodeState};
use crate::error::Error;
use crate::framework::{ConnectionState, CuratorEvent, CuratorFramework};
use crate::path;
use crate::proto::EventType;
use crate::recipes::cache::types::{ChildData, TreeCacheEvent, TreeCacheEventType};
use crate::recipes::cache::window::Slot;
use crate::session::WatchedEvent;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    Data,
    Children,
    /// `exists` on the missing root.
    Exists,
}

fn tree_event(
    t: TreeCacheEventType,
    data: Option<ChildData>,
    old: Option<ChildData>,
) -> TreeCacheEvent {
    TreeCacheEvent {
        event_type: t,
        data,
        old_data: old,
    }
}

impl Inner {
    fn is_started(&self) -> bool {
        self.st.lock().life == Life::Started
    }

    fn publish(&self, e: TreeCacheEvent) {
        let client = self.client.clone();
        self.publisher.publish(move |l| l.child_event(&client, &e));
    }

    pub(super) fn on_state(self: &Arc<Self>, s: ConnectionState) {
        if !self.is_started() {
            return;
        }
        match s {
            ConnectionState::Suspended => self.publish(tree_event(
                TreeCacheEventType::ConnectionSuspended,
                None,
                None,
            )),
            ConnectionState::Lost => {
                self.publish(tree_event(TreeCacheEventType::ConnectionLost, None, None))
            }
            ConnectionState::Connected => {
                self.st.lock().failed = false;
                let root = self.root.clone();
                self.refresh(&root);
            }
            ConnectionState::Reconnected => {
                // Every node again, parents before children (the map is ordered by path);
                // reads that failed meanwhile are part of it.
                let all: Vec<String> = {
                    let mut st = self.st.lock();
                    st.failed = false;
                    st.nodes.keys().cloned().collect()
                };
                for p in all {
                    self.refresh(&p);
                }
                self.publish(tree_event(
                    TreeCacheEventType::ConnectionReconnected,
                    None,
                    None,
                ));
            }
            ConnectionState::ReadOnly => {}
        }
    }

    pub(super) fn on_watch(self: &Arc<Self>, e: &WatchedEvent) {
        let Some(p) = e.path() else { return };
        match e.event_type() {
            EventType::NodeCreated if p == self.root => self.refresh(p),
            EventType::NodeChildrenChanged => self.refresh_children(p),
            EventType::NodeDataChanged => self.refresh_data(p),
            EventType::NodeDeleted => {
                self.watch.forget(p);
                self.was_deleted(p);
            }
            _ => {}
        }
    }

    /// Whether the children of the node at `p` (depth `depth`) are followed. Calls the
    /// selector: never with the lock held.
    fn traces(&self, p: &str, depth: usize) -> bool {
        depth < self.cfg.max_depth && self.cfg.selector.traverse_children(p)
    }

    fn depth_of(&self, p: &str) -> Option<usize> {
        let st = self.st.lock();
        if st.life != Life::Started {
            return None;
        }
        st.nodes.get(p).map(|n| n.depth)
    }

    /// Reads a node's data, and its children if followed (Curator's `refresh`).
    pub(super) fn refresh(self: &Arc<Self>, p: &str) {
        let Some(depth) = self.depth_of(p) else {
            return;
        };
        if self.traces(p, depth) {
            self.issue(p, Read::Data);
            self.issue(p, Read::Children);
        } else {
            self.issue(p, Read::Data);
        }
    }

    fn refresh_children(self: &Arc<Self>, p: &str) {
        let Some(depth) = self.depth_of(p) else {
            return;
        };
        if self.traces(p, depth) {
            self.issue(p, Read::Children);
        }
    }

    fn refresh_data(self: &Arc<Self>, p: &str) {
        if self.depth_of(p).is_some() {
            self.issue(p, Read::Data);
        }
    }

    /// Counts a read as outstanding and queues it in the window.
    fn issue(self: &Arc<Self>, p: &str, kind: Read) {
        self.st.lock().outstanding += 1;
        let weak = Arc::downgrade(self);
        let p = p.to_string();
        self.window.submit(Box::new(move |slot| {
            if let Some(inner) = weak.upgrade() {
                inner.send(p, kind, slot);
            }
        }));
    }

    fn send(self: &Arc<Self>, p: String, kind: Read, slot: Slot) {
        if !self.is_started() {
            return;
        }
        let watched = !self.cfg.disable_watches;
        if watched {
            self.watch.note(&p);
        }
        let weak = Arc::downgrade(self);
        let path2 = p.clone();
        let cb = move |_c: &CuratorFramework, e: &CuratorEvent| {
            let _slot = slot;
            if let Some(inner) = weak.upgrade() {
                inner.on_read(&path2, kind, e);
            }
        };
        let c = &self.client;
        let w = self.watch.watcher();
        let sent = match (kind, watched) {
            (Read::Data, true) => c
                .get_data()
                .using_shared_watcher(&w)
                .in_background(cb)
                .for_path(&p),
            (Read::Data, false) => c.get_data().in_background(cb).for_path(&p),
            (Read::Children, true) => c
                .get_children()
                .using_shared_watcher(&w)
                .in_background(cb)
                .for_path(&p),
            (Read::Children, false) => c.get_children().in_background(cb).for_path(&p),
            (Read::Exists, true) => c
                .check_exists()
                .using_shared_watcher(&w)
                .in_background(cb)
                .for_path(&p),
            (Read::Exists, false) => c.check_exists().in_background(cb).for_path(&p),
        };
        if let Err(e) = sent {
            self.client.report_unhandled("TreeCache: read", &e);
            self.read_done(!e.is_retryable());
        }
    }

    /// A read completed (`done`: with an answer, or with an error that a retry would not
    /// change). The first time none is outstanding and none failed for connection reasons,
    /// every node present at start has been reported: `Initialized`. A read lost to the
    /// connection holds it back until the re-read that follows the reconnect (Curator sends
    /// it anyway, with that node missing).
    fn read_done(&self, done: bool) {
        let init = {
            let mut st = self.st.lock();
            st.outstanding = st.outstanding.saturating_sub(1);
            if !done {
                st.failed = true;
            }
            let fire = done
                && st.outstanding == 0
                && !st.failed
                && !st.initialized
                && st.life == Life::Started;
            if fire {
                st.initialized = true;
            }
            fire
        };
        if init {
            self.publish(tree_event(TreeCacheEventType::Initialized, None, None));
        }
    }

    fn on_read(self: &Arc<Self>, p: &str, kind: Read, e: &CuratorEvent) {
        if !self.is_started() {
            // Answered after close(): its watch must go too.
            if !self.cfg.disable_watches {
                self.watch.remove(&self.client, p);
            }
            return;
        }
        let ok = match (kind, e.error()) {
            (Read::Exists, None) => {
                {
                    let mut st = self.st.lock();
                    if let Some(n) = st.nodes.get_mut(p) {
                        if n.state == NodeState::Dead {
                            n.state = NodeState::Pending;
                        }
                    }
                }
                self.refresh(p);
                true
            }
            (Read::Exists, Some(Error::NoNode { .. })) => true,
            (Read::Data, None) => {
                let d = ChildData::from_read(
                    &self.client,
                    p,
                    e,
                    self.cfg.cache_data,
                    self.cfg.compressed,
                );
                if let Some(d) = d {
                    self.apply_data(d);
                }
                true
            }
            (Read::Children, None) => {
                self.apply_children(p, e);
                true
            }
            (Read::Data | Read::Children, Some(Error::NoNode { .. })) => {
                self.was_deleted(p);
                true
            }
            (_, Some(err)) => {
                log::debug!("TreeCache {p}: read failed: {err}");
                // NoAuth and the like: the node cannot be cached, the load goes on.
                !err.is_retryable()
            }
        };
        self.read_done(ok);
    }

    fn apply_data(&self, d: ChildData) {
        let ev =
            {
                let mut st = self.st.lock();
                let Some(n) = st.nodes.get_mut(d.path()) else {
                    return;
                };
                let old = n.child_data(d.path());
                if let Some(o) = &old {
                    // An answer older than what we hold: ignore it.
                    if o.stat().mzxid > d.stat().mzxid {
                        return;
                    }
                }
                n.stat = Some(d.stat().clone());
                n.data = d.data_arc().cloned();
                let was = std::mem::replace(&mut n.state, NodeState::Live);
                match (was, old) {
                    (NodeState::Live, Some(o)) if o.stat().mzxid != d.stat().mzxid => Some(
                        tree_event(TreeCacheEventType::NodeUpdated, Some(d), Some(o)),
                    ),
                    (NodeState::Live, _) => None,
                    _ => Some(tree_event(TreeCacheEventType::NodeAdded, Some(d), None)),
                }
            };
        if let Some(ev) = ev {
            self.publish(ev);
        }
    }

    fn apply_children(self: &Arc<Self>, p: &str, e: &CuratorEvent) {
        let kids = e.children().unwrap_or_default();
        let (gone, new, depth) = {
            let mut st = self.st.lock();
            let Some(n) = st.nodes.get_mut(p) else { return };
            // The listing's Stat has fresh child counts; take it only if the data is the one
            // cached (same mzxid), so that a data change is still reported by its own read.
            if let (Some(old), Some(new)) = (&n.stat, e.stat()) {
                if old.mzxid == new.mzxid {
                    n.stat = Some(new.clone());
                }
            }
            let listed: BTreeSet<&String> = kids.iter().collect();
            let gone: Vec<String> = n
                .children
                .iter()
                .filter(|c| !listed.contains(c))
                .map(|c| path::make_path(p, c))
                .collect();
            let new: Vec<String> = listed
                .into_iter()
                .filter(|k| !n.children.contains(*k))
                .cloned()
                .collect();
            (gone, new, n.depth)
        };
        // Curator waits for each child's own NodeDeleted; a listing is as good a witness
        // (the node did not exist when it was made), and covers deletes whose watch was
        // lost. A child created again later is listed again by the watch this listing set.
        for g in gone {
            self.was_deleted(&g);
        }
        if new.is_empty() {
            return;
        }
        let accepted: Vec<String> = new
            .into_iter()
            .filter(|name| self.cfg.selector.accept_child(&path::make_path(p, name)))
            .collect();
        let mut added = Vec::new();
        {
            let mut st = self.st.lock();
            if !st.nodes.contains_key(p) {
                return;
            }
            for name in accepted {
                let full = path::make_path(p, &name);
                if st.nodes.contains_key(&full) {
                    continue;
                }
                st.nodes.insert(full.clone(), Node::new(depth + 1));
                if let Some(n) = st.nodes.get_mut(p) {
                    n.children.insert(name);
                }
                added.push(full);
            }
        }
        for full in added {
            self.refresh(&full);
        }
    }

    /// `p` is gone: drop it and its subtree, deepest first, reporting what was cached; a
    /// missing root is watched with `exists` (Curator's `wasDeleted`).
    fn was_deleted(self: &Arc<Self>, p: &str) {
        let (removed, is_root) = {
            let mut st = self.st.lock();
            if !st.nodes.contains_key(p) {
                return;
            }
            let mut order = Vec::new();
            collect_post_order(&st.nodes, p, &mut order);
            let is_root = p == self.root;
            let mut removed = Vec::new();
            for q in order {
                let node = if q == p && is_root {
                    st.nodes.get_mut(&q).map(|n| {
                        let old = Node {
                            state: n.state,
                            depth: n.depth,
                            stat: n.stat.take(),
                            data: n.data.take(),
                            children: std::mem::take(&mut n.children),
                        };
                        n.state = NodeState::Dead;
                        old
                    })
                } else {
                    st.nodes.remove(&q)
                };
                if let Some(n) = node {
                    if n.state == NodeState::Live {
                        if let Some(d) = n.child_data(&q) {
                            removed.push(d);
                        }
                    }
                }
            }
            if !is_root {
                if let Some(parent) = path::parent(p) {
                    if let Some(pn) = st.nodes.get_mut(parent) {
                        pn.children.remove(path::node_name(p));
                    }
                }
            }
            (removed, is_root)
        };
        for d in removed {
            self.publish(tree_event(TreeCacheEventType::NodeRemoved, Some(d), None));
        }
        if is_root {
            self.issue(p, Read::Exists);
        }
    }
}

/// The subtree of `p` in post order (children before their parent).
fn collect_post_order(nodes: &BTreeMap<String, Node>, p: &str, out: &mut Vec<String>) {
    // Iterative, so a deep tree cannot overflow the stack.
    let mut stack: Vec<(String, bool)> = vec![(p.to_string(), false)];
    while let Some((q, expanded)) = stack.pop() {
        if expanded {
            out.push(q);
            continue;
        }
        let Some(n) = nodes.get(&q) else { continue };
        let kids: Vec<String> = n.children.iter().map(|c| path::make_path(&q, c)).collect();
        stack.push((q, true));
        for k in kids.into_iter().rev() {
            stack.push((k, false));
        }
    }
}
