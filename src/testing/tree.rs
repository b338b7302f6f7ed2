//! The data tree: znodes with their full Stat, the initial `/zookeeper` subtree, the indexes
//! the server keeps beside it (ephemerals by session, containers, TTL nodes) and an undo log
//! so that `ops` can apply a multi op by op and roll it back when one fails.
//!
//! The tree knows nothing of permissions, versions or watches: `ops` checks those first (in
//! the server's order) and turns the [`Change`]s returned here into notifications through
//! `watches`. Mirrors `DataTree.java`: creating a child bumps the parent's stored `cversion`
//! and `pzxid`; deleting one moves only `pzxid`. The stored `cversion` counts creations and
//! names sequential children; the Stat shows it converted (see [`Node::stat`]).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::proto::{Acl, Stat};

/// Who owns a node, which decides its lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Persistent,
    Ephemeral(i64),
    Container,
    Ttl(i64),
}

/// One znode.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// `None` is a null buffer, which getData returns as null.
    pub data: Option<Vec<u8>>,
    pub acl: Arc<Vec<Acl>>,
    pub czxid: i64,
    pub mzxid: i64,
    pub pzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub owner: Owner,
    pub children: BTreeSet<String>,
}

impl Node {
    fn blank(acl: Vec<Acl>) -> Node {
        Node {
            data: Some(Vec::new()),
            acl: Arc::new(acl),
            czxid: 0,
            mzxid: 0,
            pzxid: 0,
            ctime: 0,
            mtime: 0,
            version: 0,
            cversion: 0,
            aversion: 0,
            owner: Owner::Persistent,
            children: BTreeSet::new(),
        }
    }

    /// The client-visible Stat; container and TTL nodes show owner 0, as the server does.
    ///
    /// `cversion` is stored as the number of child creations (the sequential counter) and
    /// shown, as `DataNode.copyStat` shows it, as changes: every create has a delete except
    /// for the children still present, so `2 * creations - children` (the root of a fresh
    /// server shows -1, `/zookeeper` -2).
    pub(crate) fn stat(&self) -> Stat {
        Stat {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self
                .cversion
                .wrapping_mul(2)
                .wrapping_sub(self.children.len() as i32),
            aversion: self.aversion,
            ephemeral_owner: match self.owner {
                Owner::Ephemeral(s) => s,
                _ => 0,
            },
            data_length: self.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children: self.children.len() as i32,
            pzxid: self.pzxid,
        }
    }
}

/// What a mutation did, for the watch tables, with the ACLs that decide who may hear of it
/// (the node's, and the parent's for NodeChildrenChanged), taken when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Created(String, Arc<Vec<Acl>>, Arc<Vec<Acl>>),
    Deleted(String, Arc<Vec<Acl>>, Arc<Vec<Acl>>),
    DataChanged(String, Arc<Vec<Acl>>),
}

fn no_acl() -> Arc<Vec<Acl>> {
    Arc::new(Vec::new())
}

/// The parent of a valid absolute path (`/` for top-level nodes and for `/` itself).
pub(crate) fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn child_name(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

/// The whole tree.
pub(crate) struct Tree {
    nodes: HashMap<String, Node>,
    ephemerals: HashMap<i64, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    /// While a multi runs: the state of every touched path before its first change.
    undo: Option<Vec<(String, Option<Node>)>>,
}

impl Default for Tree {
    fn default() -> Self {
        Tree::new()
    }
}

impl Tree {
    /// `/`, `/zookeeper`, `/zookeeper/quota` (all-zero Stats, open ACL) and
    /// `/zookeeper/config` (read-only ACL set with version -1, so its `aversion` is -1),
    /// exactly as a fresh 3.8 standalone server has them.
    pub(crate) fn new() -> Tree {
        let mut nodes = HashMap::new();
        let mut root = Node::blank(Acl::open_unsafe());
        root.children.insert("zookeeper".into());
        let mut zk = Node::blank(Acl::open_unsafe());
        zk.children.insert("quota".into());
        zk.children.insert("config".into());
        let mut config = Node::blank(Acl::read_unsafe());
        config.aversion = -1;
        nodes.insert("/".to_string(), root);
        nodes.insert("/zookeeper".to_string(), zk);
        nodes.insert(
            "/zookeeper/quota".to_string(),
            Node::blank(Acl::open_unsafe()),
        );
        nodes.insert("/zookeeper/config".to_string(), config);
        Tree {
            nodes,
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            undo: None,
        }
    }

    pub(crate) fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// The server's `getNodeCount()`: it counts the root twice (`""` and `"/"`), so a fresh
    /// server reports 5.
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.len() + 1
    }

    /// Descendants of `path`, the node excluded (`getAllChildrenNumber`).
    pub(crate) fn descendant_count(&self, path: &str) -> usize {
        if path == "/" {
            return self.nodes.len() - 1;
        }
        let prefix = format!("{path}/");
        self.nodes.keys().filter(|k| k.starts_with(&prefix)).count()
    }

    /// Ephemeral paths of a session.
    pub(crate) fn ephemerals_of(&self, session: i64) -> Vec<String> {
        self.ephemerals
            .get(&session)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(|s| s.len()).sum()
    }

    pub(crate) fn containers(&self) -> impl Iterator<Item = &String> {
        self.containers.iter()
    }

    pub(crate) fn ttls(&self) -> impl Iterator<Item = &String> {
        self.ttls.iter()
    }

    /// Approximate data size as `mntr` reports it: path lengths plus data lengths.
    pub(crate) fn approximate_data_size(&self) -> usize {
        self.nodes
            .iter()
            .map(|(p, n)| p.len() + n.data.as_ref().map_or(0, |d| d.len()))
            .sum()
    }

    fn remember(&mut self, path: &str) {
        if let Some(undo) = self.undo.as_mut() {
            if !undo.iter().any(|(p, _)| p == path) {
                undo.push((path.to_string(), self.nodes.get(path).cloned()));
            }
        }
    }

    fn index(&mut self, path: &str, owner: Owner, add: bool) {
        match owner {
            Owner::Persistent => {}
            Owner::Container => {
                if add {
                    self.containers.insert(path.to_string());
                } else {
                    self.containers.remove(path);
                }
            }
            Owner::Ttl(_) => {
                if add {
                    self.ttls.insert(path.to_string());
                } else {
                    self.ttls.remove(path);
                }
            }
            Owner::Ephemeral(s) => {
                if add {
                    self.ephemerals
                        .entry(s)
                        .or_default()
                        .insert(path.to_string());
                } else if let Some(set) = self.ephemerals.get_mut(&s) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&s);
                    }
                }
            }
        }
    }

    /// Creates `path` (its parent exists and it does not: the caller checked). Returns the new
    /// node's Stat.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        owner: Owner,
        zxid: i64,
        time: i64,
    ) -> (Stat, Change) {
        let parent = parent_of(path).to_string();
        self.remember(&parent);
        self.remember(path);
        let mut parent_acl = no_acl();
        if let Some(p) = self.nodes.get_mut(&parent) {
            p.cversion = p.cversion.wrapping_add(1);
            p.pzxid = zxid;
            p.children.insert(child_name(path).to_string());
            parent_acl = Arc::clone(&p.acl);
        }
        let node = Node {
            data,
            acl: Arc::new(acl),
            czxid: zxid,
            mzxid: zxid,
            pzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            owner,
            children: BTreeSet::new(),
        };
        let stat = node.stat();
        let change = Change::Created(path.to_string(), Arc::clone(&node.acl), parent_acl);
        self.nodes.insert(path.to_string(), node);
        self.index(path, owner, true);
        (stat, change)
    }

    /// Deletes `path` (it exists and has no children: the caller checked).
    pub(crate) fn delete(&mut self, path: &str, zxid: i64) -> Change {
        let parent = parent_of(path).to_string();
        self.remember(&parent);
        self.remember(path);
        let mut parent_acl = no_acl();
        if let Some(p) = self.nodes.get_mut(&parent) {
            p.children.remove(child_name(path));
            if zxid > p.pzxid {
                p.pzxid = zxid;
            }
            parent_acl = Arc::clone(&p.acl);
        }
        let mut acl = no_acl();
        if let Some(n) = self.nodes.remove(path) {
            self.index(path, n.owner, false);
            acl = n.acl;
        }
        Change::Deleted(path.to_string(), acl, parent_acl)
    }

    /// Replaces the data of an existing node and returns its new Stat.
    pub(crate) fn set_data(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        zxid: i64,
        time: i64,
    ) -> (Stat, Change) {
        self.remember(path);
        match self.nodes.get_mut(path) {
            Some(n) => {
                n.data = data;
                n.version = n.version.wrapping_add(1);
                n.mzxid = zxid;
                n.mtime = time;
                (
                    n.stat(),
                    Change::DataChanged(path.to_string(), Arc::clone(&n.acl)),
                )
            }
            None => (
                Stat::default(),
                Change::DataChanged(path.to_string(), no_acl()),
            ),
        }
    }

    /// Replaces the ACL of an existing node; bumps only `aversion` (no zxid field moves).
    pub(crate) fn set_acl(&mut self, path: &str, acl: Vec<Acl>) -> Stat {
        self.remember(path);
        match self.nodes.get_mut(path) {
            Some(n) => {
                n.acl = Arc::new(acl);
                n.aversion = n.aversion.wrapping_add(1);
                n.stat()
            }
            None => Stat::default(),
        }
    }

    /// Starts recording an undo log (a multi begins).
    pub(crate) fn begin(&mut self) {
        self.undo = Some(Vec::new());
    }

    /// Forgets the undo log (the multi succeeded).
    pub(crate) fn commit(&mut self) {
        self.undo = None;
    }

    /// Puts every touched path back as it was before `begin` (the multi failed).
    pub(crate) fn rollback(&mut self) {
        let Some(undo) = self.undo.take() else { return };
        for (path, old) in undo.into_iter().rev() {
            if let Some(cur) = self.nodes.remove(&path) {
                self.index(&path, cur.owner, false);
            }
            if let Some(old) = old {
                let owner = old.owner;
                self.nodes.insert(path.clone(), old);
                self.index(&path, owner, true);
            }
        }
    }

    /// The tree as indented text, one node per line with its data length and owner.
    pub(crate) fn dump(&self) -> String {
        let mut out = String::new();
        self.dump_node("/", 0, &mut out);
        out
    }

    fn dump_node(&self, path: &str, depth: usize, out: &mut String) {
        // Iterative over children, recursive over depth: depth is bounded by the path length
        // limit of a frame, far below any stack limit.
        let Some(n) = self.nodes.get(path) else {
            return;
        };
        let name = if path == "/" { "/" } else { child_name(path) };
        let kind = match n.owner {
            Owner::Persistent => String::new(),
            Owner::Ephemeral(s) => format!(" ephemeral(0x{s:x})"),
            Owner::Container => " container".into(),
            Owner::Ttl(t) => format!(" ttl({t}ms)"),
        };
        let _ = writeln!(
            out,
            "{:indent$}{name} [{} bytes, v{}{kind}]",
            "",
            n.data.as_ref().map_or(0, |d| d.len()),
            n.version,
            indent = depth * 2
        );
        for c in &n.children {
            let child = if path == "/" {
                format!("/{c}")
            } else {
                format!("{path}/{c}")
            };
            self.dump_node(&child, depth + 1, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_tree_matches_a_fresh_server() {
        let t = Tree::new();
        assert_eq!(t.node_count(), 5);
        let root = t.get("/").unwrap().stat();
        assert_eq!(root.num_children, 1);
        assert_eq!(root.cversion, -1);
        assert_eq!(t.get("/zookeeper").unwrap().stat().cversion, -2);
        let zk = t.get("/zookeeper").unwrap();
        assert_eq!(
            zk.children.iter().collect::<Vec<_>>(),
            vec!["config", "quota"]
        );
        assert_eq!(t.get("/zookeeper/config").unwrap().stat().aversion, -1);
        assert_eq!(t.descendant_count("/"), 3);
        assert_eq!(t.descendant_count("/zookeeper"), 2);
    }

    #[test]
    fn create_bumps_cversion_delete_only_pzxid() {
        let mut t = Tree::new();
        t.create("/a", None, Acl::open_unsafe(), Owner::Persistent, 5, 1);
        t.create(
            "/a/b",
            Some(b"x".to_vec()),
            Acl::open_unsafe(),
            Owner::Ephemeral(9),
            6,
            2,
        );
        t.delete("/a/b", 7);
        let a = t.get("/a").unwrap().stat();
        assert_eq!((a.cversion, a.pzxid, a.num_children), (2, 7, 0));
        assert_eq!(t.get("/a").unwrap().cversion, 1, "the sequential counter");
        assert_eq!(a.data_length, 0);
        assert!(t.ephemerals_of(9).is_empty());
    }

    #[test]
    fn rollback_restores_nodes_and_indexes() {
        let mut t = Tree::new();
        t.create("/c", None, Acl::open_unsafe(), Owner::Container, 1, 1);
        t.begin();
        t.create("/c/e", None, Acl::open_unsafe(), Owner::Ephemeral(3), 2, 2);
        t.set_data("/c", Some(vec![1]), 2, 2);
        t.delete("/c/e", 2);
        t.create("/c/f", None, Acl::open_unsafe(), Owner::Ephemeral(3), 2, 2);
        t.rollback();
        let c = t.get("/c").unwrap();
        assert_eq!((c.cversion, c.version, c.children.len()), (0, 0, 0));
        assert!(t.get("/c/f").is_none());
        assert!(t.ephemerals_of(3).is_empty());
        assert_eq!(t.containers().count(), 1);
    }
}
