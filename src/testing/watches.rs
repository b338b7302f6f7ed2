//! Server-side watch tables and their trigger rules, modelled on `WatchManager.java`.
//!
//! The server keeps two tables, *data* (getData, exists, persistent, persistent-recursive) and
//! *child* (getChildren, persistent, persistent-recursive). Each maps a path to the connections watching it, with
//! one mode per (connection, path) in each table: a later registration replaces the mode, as
//! in 3.8 (so a one-shot getData watch on a path that has a persistent watch turns it one-shot
//! in the data table). Triggering walks the path and, if any recursive watch exists, its
//! ancestors: recursive watches fire for everything but NodeChildrenChanged, others only at
//! the exact path, and standard ones are removed as they fire.
//!
//! A delete fires the data table first and suppresses the child table's NodeDeleted for the
//! connections already notified, so a connection gets one notification per trigger.
//! Connections are plain ids here; `shared` turns the fired ids into frames.

use std::collections::{HashMap, HashSet};

use std::sync::Arc;

use super::tree::{parent_of, Change};
use crate::proto::{Acl, EventType};

/// A connection id.
pub(crate) type ConnId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Standard,
    Persistent,
    Recursive,
}

#[derive(Default)]
pub(crate) struct Table {
    by_path: HashMap<String, HashMap<ConnId, Mode>>,
    by_conn: HashMap<ConnId, HashSet<String>>,
    recursive: usize,
}

impl Table {
    pub(crate) fn add(&mut self, path: &str, conn: ConnId, mode: Mode) {
        let entry = self.by_path.entry(path.to_string()).or_default();
        if let Some(old) = entry.insert(conn, mode) {
            if old == Mode::Recursive {
                self.recursive -= 1;
            }
        }
        if mode == Mode::Recursive {
            self.recursive += 1;
        }
        self.by_conn
            .entry(conn)
            .or_default()
            .insert(path.to_string());
    }

    fn forget(&mut self, conn: ConnId, path: &str) {
        if let Some(paths) = self.by_conn.get_mut(&conn) {
            paths.remove(path);
            if paths.is_empty() {
                self.by_conn.remove(&conn);
            }
        }
    }

    /// Connections that fire for `event` on `path`; one-shot entries are removed.
    pub(crate) fn trigger(&mut self, path: &str, event: EventType) -> Vec<ConnId> {
        let mut fired: Vec<ConnId> = Vec::new();
        let mut local = path;
        let mut at_parent = false;
        loop {
            let mut removed: Vec<ConnId> = Vec::new();
            if let Some(watchers) = self.by_path.get_mut(local) {
                watchers.retain(|&conn, mode| match mode {
                    Mode::Recursive => {
                        if event != EventType::NodeChildrenChanged && !fired.contains(&conn) {
                            fired.push(conn);
                        }
                        true
                    }
                    _ if at_parent => true,
                    Mode::Persistent => {
                        if !fired.contains(&conn) {
                            fired.push(conn);
                        }
                        true
                    }
                    Mode::Standard => {
                        if !fired.contains(&conn) {
                            fired.push(conn);
                        }
                        removed.push(conn);
                        false
                    }
                });
                if watchers.is_empty() {
                    self.by_path.remove(local);
                }
            }
            for conn in removed {
                self.forget(conn, local);
            }
            // Only recursive watches look at ancestors.
            if self.recursive == 0 || local == "/" {
                break;
            }
            local = parent_of(local);
            at_parent = true;
        }
        fired
    }

    /// `containsWatcher` as 3.8 implements it: true if *any* connection watches the path.
    pub(crate) fn contains_path(&self, path: &str) -> bool {
        self.by_path.contains_key(path)
    }

    pub(crate) fn remove(&mut self, path: &str, conn: ConnId) -> bool {
        let known = self.by_conn.get(&conn).is_some_and(|p| p.contains(path));
        if !known {
            return false;
        }
        self.forget(conn, path);
        let Some(watchers) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(mode) = watchers.remove(&conn) else {
            return false;
        };
        if mode == Mode::Recursive {
            self.recursive -= 1;
        }
        if watchers.is_empty() {
            self.by_path.remove(path);
        }
        true
    }

    pub(crate) fn remove_conn(&mut self, conn: ConnId) {
        let Some(paths) = self.by_conn.remove(&conn) else {
            return;
        };
        for p in paths {
            if let Some(w) = self.by_path.get_mut(&p) {
                if w.remove(&conn) == Some(Mode::Recursive) {
                    self.recursive -= 1;
                }
                if w.is_empty() {
                    self.by_path.remove(&p);
                }
            }
        }
    }

    /// Number of (path, connection) entries.
    pub(crate) fn size(&self) -> usize {
        self.by_path.values().map(|w| w.len()).sum()
    }

    pub(crate) fn path_count(&self) -> usize {
        self.by_path.len()
    }

    pub(crate) fn conn_count(&self) -> usize {
        self.by_conn.len()
    }

    /// Paths watched by one connection (sorted, for `wchc`-style dumps and tests).
    pub(crate) fn paths_of(&self, conn: ConnId) -> Vec<String> {
        let mut v: Vec<String> = self
            .by_conn
            .get(&conn)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// Both tables.
#[derive(Default)]
pub(crate) struct Watches {
    pub data: Table,
    pub child: Table,
}

/// One notification to send: to which connection, what, on which path, and the ACL the
/// connection must be able to READ through for it to be delivered (`None`: always).
pub(crate) type Fired = (ConnId, EventType, String, Option<Arc<Vec<Acl>>>);

impl Watches {
    /// Applies the trigger rules of one tree change, appending notifications in the order
    /// the server sends them.
    pub(crate) fn on_change(&mut self, change: &Change, out: &mut Vec<Fired>) {
        match change {
            Change::Created(p, acl, parent_acl) => {
                for c in self.data.trigger(p, EventType::NodeCreated) {
                    out.push((c, EventType::NodeCreated, p.clone(), Some(Arc::clone(acl))));
                }
                self.children_changed(parent_of(p), parent_acl, out);
            }
            Change::Deleted(p, acl, parent_acl) => {
                let fired = self.data.trigger(p, EventType::NodeDeleted);
                for &c in &fired {
                    out.push((c, EventType::NodeDeleted, p.clone(), Some(Arc::clone(acl))));
                }
                for c in self.child.trigger(p, EventType::NodeDeleted) {
                    if !fired.contains(&c) {
                        out.push((c, EventType::NodeDeleted, p.clone(), Some(Arc::clone(acl))));
                    }
                }
                self.children_changed(parent_of(p), parent_acl, out);
            }
            Change::DataChanged(p, acl) => {
                for c in self.data.trigger(p, EventType::NodeDataChanged) {
                    out.push((
                        c,
                        EventType::NodeDataChanged,
                        p.clone(),
                        Some(Arc::clone(acl)),
                    ));
                }
            }
        }
    }

    fn children_changed(&mut self, parent: &str, acl: &Arc<Vec<Acl>>, out: &mut Vec<Fired>) {
        for c in self.child.trigger(parent, EventType::NodeChildrenChanged) {
            out.push((
                c,
                EventType::NodeChildrenChanged,
                parent.to_string(),
                Some(Arc::clone(acl)),
            ));
        }
    }

    /// addWatch: 3.8.0 puts both modes in both tables (`DataTree.addWatch`); a recursive
    /// entry in the child table never fires NodeChildrenChanged, and deletes de-duplicate,
    /// but it does answer checkWatches/removeWatches for children.
    pub(crate) fn add_persistent(&mut self, path: &str, conn: ConnId, recursive: bool) {
        let mode = if recursive {
            Mode::Recursive
        } else {
            Mode::Persistent
        };
        self.data.add(path, conn, mode);
        self.child.add(path, conn, mode);
    }

    pub(crate) fn remove_conn(&mut self, conn: ConnId) {
        self.data.remove_conn(conn);
        self.child.remove_conn(conn);
    }

    pub(crate) fn count(&self) -> usize {
        self.data.size() + self.child.size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fire(w: &mut Watches, c: Change) -> Vec<(ConnId, EventType, String)> {
        let mut out = Vec::new();
        w.on_change(&c, &mut out);
        out.into_iter().map(|(c, e, p, _)| (c, e, p)).collect()
    }

    fn acl() -> Arc<Vec<Acl>> {
        Arc::new(Acl::open_unsafe())
    }

    #[allow(non_snake_case)]
    fn Created(p: &str) -> Change {
        Change::Created(p.into(), acl(), acl())
    }
    #[allow(non_snake_case)]
    fn Deleted(p: &str) -> Change {
        Change::Deleted(p.into(), acl(), acl())
    }
    #[allow(non_snake_case)]
    fn DataChanged(p: &str) -> Change {
        Change::DataChanged(p.into(), acl())
    }

    #[test]
    fn standard_watches_are_one_shot() {
        let mut w = Watches::default();
        w.data.add("/a", 1, Mode::Standard);
        let got = fire(&mut w, DataChanged("/a"));
        assert_eq!(got, vec![(1, EventType::NodeDataChanged, "/a".into())]);
        assert!(fire(&mut w, DataChanged("/a")).is_empty());
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn delete_notifies_once_per_connection() {
        let mut w = Watches::default();
        w.data.add("/a", 1, Mode::Standard);
        w.child.add("/a", 1, Mode::Standard);
        w.child.add("/a", 2, Mode::Standard);
        w.child.add("/", 2, Mode::Standard);
        let got = fire(&mut w, Deleted("/a"));
        assert_eq!(
            got,
            vec![
                (1, EventType::NodeDeleted, "/a".into()),
                (2, EventType::NodeDeleted, "/a".into()),
                (2, EventType::NodeChildrenChanged, "/".into()),
            ]
        );
        assert_eq!(w.count(), 0);
    }

    #[test]
    fn recursive_fires_for_descendants_but_not_children_changed() {
        let mut w = Watches::default();
        w.add_persistent("/r", 7, true);
        let got = fire(&mut w, Created("/r/a/b"));
        assert_eq!(got, vec![(7, EventType::NodeCreated, "/r/a/b".into())]);
        let got = fire(&mut w, Created("/r"));
        assert_eq!(got, vec![(7, EventType::NodeCreated, "/r".into())]);
        assert!(fire(&mut w, Created("/x")).is_empty());
        assert_eq!(w.count(), 2);
    }

    #[test]
    fn persistent_fires_for_node_and_children_and_stays() {
        let mut w = Watches::default();
        w.add_persistent("/p", 3, false);
        assert_eq!(fire(&mut w, Created("/p/c")).len(), 1);
        assert_eq!(fire(&mut w, DataChanged("/p")).len(), 1);
        assert_eq!(fire(&mut w, Deleted("/p")).len(), 1);
        assert_eq!(w.count(), 2);
        // A later one-shot registration replaces the mode, as in 3.8.
        w.data.add("/p", 3, Mode::Standard);
        assert_eq!(fire(&mut w, DataChanged("/p")).len(), 1);
        assert!(fire(&mut w, DataChanged("/p")).is_empty());
    }

    #[test]
    fn remove_and_contains() {
        let mut w = Watches::default();
        w.data.add("/a", 1, Mode::Standard);
        assert!(w.data.contains_path("/a"));
        assert!(!w.data.remove("/a", 2));
        assert!(w.data.remove("/a", 1));
        assert!(!w.data.contains_path("/a"));
        w.add_persistent("/b", 1, true);
        w.remove_conn(1);
        assert_eq!(w.count(), 0);
        assert_eq!(w.data.recursive, 0);
    }
}
