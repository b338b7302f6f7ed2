//! The client-side watch registry (Java's `ZKWatchManager`): which local watchers an event
//! wakes, which one-shot watches it consumes, and which paths to re-register after a
//! reconnect.
//!
//! Paths are kept in server form (chroot included), as the server reports them and as
//! SetWatches must send them. A watcher registered twice for one path and kind is kept once,
//! and an event reaches each watcher once even when several of its watches match (a data and
//! a child watch on a deleted node).

use std::collections::HashMap;

use super::watcher::SharedWatcher;
use crate::path;
use crate::proto::{EventType, WatcherType};

/// The kinds of watch a client holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum WatchKind {
    /// getData, or exists on an existing node.
    Data,
    /// exists on a missing node.
    Exist,
    /// getChildren.
    Child,
    /// addWatch PERSISTENT.
    Persistent,
    /// addWatch PERSISTENT_RECURSIVE.
    PersistentRecursive,
}

const KINDS: [WatchKind; 5] = [
    WatchKind::Data,
    WatchKind::Exist,
    WatchKind::Child,
    WatchKind::Persistent,
    WatchKind::PersistentRecursive,
];

type Table = HashMap<String, Vec<SharedWatcher>>;

#[derive(Default)]
pub(crate) struct WatchRegistry {
    tables: [Table; 5],
    /// Watchers whose removal is on its way to the server: they no longer count as needing
    /// the server's watch.
    removing: Vec<(String, usize)>,
}

/// Watched requests still in flight, by server path: until their reply, the server may set
/// (or already have set) a watch for them, so a removal must not delete the server's watch.
pub(crate) type InFlight = std::sync::Arc<parking_lot::Mutex<HashMap<String, usize>>>;

/// Counts one watched request in flight; dropped with the request, whatever its outcome.
pub(crate) struct InFlightGuard {
    map: InFlight,
    path: String,
}

impl InFlightGuard {
    pub(crate) fn new(map: &InFlight, path: &str) -> InFlightGuard {
        *map.lock().entry(path.to_string()).or_default() += 1;
        InFlightGuard {
            map: map.clone(),
            path: path.to_string(),
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let mut m = self.map.lock();
        if let Some(n) = m.get_mut(&self.path) {
            *n -= 1;
            if *n == 0 {
                m.remove(&self.path);
            }
        }
    }
}

/// The paths to restore after reconnecting, per kind, in SetWatches2 order.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct WatchPaths {
    pub data: Vec<String>,
    pub exist: Vec<String>,
    pub child: Vec<String>,
    pub persistent: Vec<String>,
    pub recursive: Vec<String>,
}

impl WatchPaths {
    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.recursive.is_empty()
    }
}

fn slot(kind: WatchKind) -> usize {
    match kind {
        WatchKind::Data => 0,
        WatchKind::Exist => 1,
        WatchKind::Child => 2,
        WatchKind::Persistent => 3,
        WatchKind::PersistentRecursive => 4,
    }
}

fn push_unique(out: &mut Vec<SharedWatcher>, w: &SharedWatcher) {
    if !out.iter().any(|x| x.same_as(w)) {
        out.push(w.clone());
    }
}

impl WatchRegistry {
    fn table(&mut self, kind: WatchKind) -> &mut Table {
        &mut self.tables[slot(kind)]
    }

    /// Registers `w` for `kind` on `path` (a no-op if it is already there).
    pub(crate) fn add(&mut self, kind: WatchKind, path: &str, w: SharedWatcher) {
        let v = self.table(kind).entry(path.to_string()).or_default();
        if !v.iter().any(|x| x.same_as(&w)) {
            v.push(w);
        }
    }

    /// The watchers a server notification wakes; one-shot watches it fires are removed.
    pub(crate) fn trigger(&mut self, event_type: EventType, path: &str) -> Vec<SharedWatcher> {
        let mut out = Vec::new();
        let mut take = |reg: &mut Self, kind: WatchKind| {
            if let Some(ws) = reg.table(kind).remove(path) {
                for w in &ws {
                    push_unique(&mut out, w);
                }
            }
        };
        match event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                take(self, WatchKind::Data);
                take(self, WatchKind::Exist);
            }
            EventType::NodeChildrenChanged => take(self, WatchKind::Child),
            EventType::NodeDeleted => {
                take(self, WatchKind::Data);
                // Not expected from a server, but a stale exist watch must not linger.
                take(self, WatchKind::Exist);
                take(self, WatchKind::Child);
            }
            _ => return out,
        }
        if let Some(ws) = self.tables[slot(WatchKind::Persistent)].get(path) {
            for w in ws {
                push_unique(&mut out, w);
            }
        }
        // Recursive watches never see NodeChildrenChanged (the server does not send them for
        // recursive watches; a persistent watch on the same path may still cause one).
        if event_type != EventType::NodeChildrenChanged {
            let rec = &self.tables[slot(WatchKind::PersistentRecursive)];
            if !rec.is_empty() {
                let mut p = Some(path);
                while let Some(cur) = p {
                    if let Some(ws) = rec.get(cur) {
                        for w in ws {
                            push_unique(&mut out, w);
                        }
                    }
                    p = path::parent(cur);
                }
            }
        }
        out
    }

    /// Every watcher, each once (for connection state events).
    pub(crate) fn all(&self) -> Vec<SharedWatcher> {
        let mut out = Vec::new();
        for t in &self.tables {
            for ws in t.values() {
                for w in ws {
                    push_unique(&mut out, w);
                }
            }
        }
        out
    }

    /// Forgets every watch (session expired or client closed).
    pub(crate) fn clear(&mut self) {
        for t in &mut self.tables {
            t.clear();
        }
    }

    /// The paths to re-register after a reconnect, sorted for reproducible batches.
    pub(crate) fn paths(&self) -> WatchPaths {
        let keys = |t: &Table| {
            let mut v: Vec<String> = t.keys().cloned().collect();
            v.sort_unstable();
            v
        };
        WatchPaths {
            data: keys(&self.tables[0]),
            exist: keys(&self.tables[1]),
            child: keys(&self.tables[2]),
            persistent: keys(&self.tables[3]),
            recursive: keys(&self.tables[4]),
        }
    }

    /// Number of (path, kind) watches held.
    pub(crate) fn len(&self) -> usize {
        self.tables.iter().map(HashMap::len).sum()
    }

    /// True if `w` (or, with `None`, any watcher) is registered on `path` for a kind that
    /// `wtype` covers.
    pub(crate) fn contains(
        &self,
        path: &str,
        wtype: WatcherType,
        w: Option<&SharedWatcher>,
    ) -> bool {
        kinds_of(wtype).iter().any(|&k| {
            self.tables[slot(k)]
                .get(path)
                .is_some_and(|ws| w.is_none_or(|w| ws.iter().any(|x| x.same_as(w))))
        })
    }

    /// True if removing `w` from `path` (kinds `wtype` covers) leaves nothing that needs the
    /// server's watch: no other watcher (not counting those being removed) and no watched
    /// request in flight for the path.
    pub(crate) fn is_last(
        &self,
        path: &str,
        wtype: WatcherType,
        w: &SharedWatcher,
        inflight: &InFlight,
    ) -> bool {
        let others = kinds_of(wtype).iter().any(|&k| {
            self.tables[slot(k)].get(path).is_some_and(|ws| {
                ws.iter().any(|x| {
                    !x.same_as(w)
                        && !self
                            .removing
                            .iter()
                            .any(|(p, id)| p == path && *id == x.id())
                })
            })
        });
        !others && !inflight.lock().contains_key(path)
    }

    /// Marks `w`'s removal from `path` as on its way.
    pub(crate) fn begin_removal(&mut self, path: &str, w: &SharedWatcher) {
        self.removing.push((path.to_string(), w.id()));
    }

    /// The removal of `w` from `path` got its answer.
    pub(crate) fn end_removal(&mut self, path: &str, w: &SharedWatcher) {
        if let Some(i) = self
            .removing
            .iter()
            .position(|(p, id)| p == path && *id == w.id())
        {
            self.removing.swap_remove(i);
        }
    }

    /// Removes `w` (or, with `None`, every watcher) on `path` for the kinds `wtype` covers;
    /// returns each removed watcher with the event type that announces its removal.
    pub(crate) fn remove(
        &mut self,
        path: &str,
        wtype: WatcherType,
        w: Option<&SharedWatcher>,
    ) -> Vec<(SharedWatcher, EventType)> {
        let mut out: Vec<(SharedWatcher, EventType)> = Vec::new();
        for &k in kinds_of(wtype) {
            let table = &mut self.tables[slot(k)];
            let Some(ws) = table.get_mut(path) else {
                continue;
            };
            let removed: Vec<SharedWatcher> = match w {
                Some(w) => {
                    let before = ws.len();
                    ws.retain(|x| !x.same_as(w));
                    if ws.len() < before {
                        vec![w.clone()]
                    } else {
                        vec![]
                    }
                }
                None => std::mem::take(ws),
            };
            if ws.is_empty() {
                table.remove(path);
            }
            let ev = removal_event(k);
            for r in removed {
                if !out.iter().any(|(x, e)| x.same_as(&r) && *e == ev) {
                    out.push((r, ev));
                }
            }
        }
        out
    }
}

/// The watch kinds a WatcherType addresses (Any includes the persistent kinds, as the Java
/// client's removal does on 3.6+).
fn kinds_of(wtype: WatcherType) -> &'static [WatchKind] {
    match wtype {
        WatcherType::Children => &[WatchKind::Child],
        WatcherType::Data => &[WatchKind::Data, WatchKind::Exist],
        WatcherType::Persistent => &[WatchKind::Persistent],
        WatcherType::PersistentRecursive => &[WatchKind::PersistentRecursive],
        WatcherType::Any => &KINDS,
    }
}

fn removal_event(kind: WatchKind) -> EventType {
    match kind {
        WatchKind::Data | WatchKind::Exist => EventType::DataWatchRemoved,
        WatchKind::Child => EventType::ChildWatchRemoved,
        WatchKind::Persistent | WatchKind::PersistentRecursive => EventType::PersistentWatchRemoved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::watcher::WatchedEvent;

    fn w() -> SharedWatcher {
        SharedWatcher::new(|_: &WatchedEvent| {})
    }

    #[test]
    fn one_shot_watches_fire_once_and_are_consumed() {
        let mut r = WatchRegistry::default();
        let a = w();
        r.add(WatchKind::Data, "/a", a.clone());
        r.add(WatchKind::Data, "/a", a.clone()); // same watcher twice: kept once
        assert_eq!(r.len(), 1);
        let fired = r.trigger(EventType::NodeDataChanged, "/a");
        assert_eq!(fired.len(), 1);
        assert!(r.trigger(EventType::NodeDataChanged, "/a").is_empty());
    }

    #[test]
    fn dispatch_table() {
        // (event, kinds that fire)
        let table: &[(EventType, &[WatchKind])] = &[
            (
                EventType::NodeCreated,
                &[
                    WatchKind::Data,
                    WatchKind::Exist,
                    WatchKind::Persistent,
                    WatchKind::PersistentRecursive,
                ],
            ),
            (
                EventType::NodeDataChanged,
                &[
                    WatchKind::Data,
                    WatchKind::Exist,
                    WatchKind::Persistent,
                    WatchKind::PersistentRecursive,
                ],
            ),
            (
                EventType::NodeDeleted,
                &[
                    WatchKind::Data,
                    WatchKind::Exist,
                    WatchKind::Child,
                    WatchKind::Persistent,
                    WatchKind::PersistentRecursive,
                ],
            ),
            (
                EventType::NodeChildrenChanged,
                &[WatchKind::Child, WatchKind::Persistent],
            ),
        ];
        for (ev, kinds) in table {
            let mut r = WatchRegistry::default();
            let ws: Vec<SharedWatcher> = KINDS.iter().map(|_| w()).collect();
            for (k, x) in KINDS.iter().zip(&ws) {
                r.add(*k, "/p", x.clone());
            }
            let fired = r.trigger(*ev, "/p");
            for (k, x) in KINDS.iter().zip(&ws) {
                let hit = fired.iter().any(|f| f.same_as(x));
                assert_eq!(hit, kinds.contains(k), "{ev:?} {k:?}");
            }
            // Persistent ones survive.
            assert!(r.contains("/p", WatcherType::Any, Some(&ws[3])));
            assert!(r.contains("/p", WatcherType::Any, Some(&ws[4])));
        }
    }

    #[test]
    fn recursive_watches_cover_descendants_but_not_child_events() {
        let mut r = WatchRegistry::default();
        let a = w();
        r.add(WatchKind::PersistentRecursive, "/r", a.clone());
        assert_eq!(r.trigger(EventType::NodeCreated, "/r/x/y").len(), 1);
        assert_eq!(r.trigger(EventType::NodeDeleted, "/r").len(), 1);
        assert!(r.trigger(EventType::NodeChildrenChanged, "/r").is_empty());
        assert!(r.trigger(EventType::NodeCreated, "/rr").is_empty());
        let root = w();
        r.add(WatchKind::PersistentRecursive, "/", root.clone());
        assert_eq!(r.trigger(EventType::NodeCreated, "/r/x").len(), 2);
    }

    #[test]
    fn a_watcher_matching_several_kinds_fires_once() {
        let mut r = WatchRegistry::default();
        let a = w();
        r.add(WatchKind::Data, "/a", a.clone());
        r.add(WatchKind::Child, "/a", a.clone());
        r.add(WatchKind::PersistentRecursive, "/", a.clone());
        assert_eq!(r.trigger(EventType::NodeDeleted, "/a").len(), 1);
        assert_eq!(r.all().len(), 1);
    }

    #[test]
    fn removal() {
        let mut r = WatchRegistry::default();
        let (a, b) = (w(), w());
        r.add(WatchKind::Data, "/a", a.clone());
        r.add(WatchKind::Exist, "/a", b.clone());
        r.add(WatchKind::Child, "/a", a.clone());
        r.add(WatchKind::Persistent, "/a", b.clone());
        assert!(r.contains("/a", WatcherType::Data, Some(&b)));
        assert!(!r.contains("/a", WatcherType::Children, Some(&b)));
        let removed = r.remove("/a", WatcherType::Data, Some(&a));
        assert_eq!(removed.len(), 1);
        assert_eq!(removed[0].1, EventType::DataWatchRemoved);
        let removed = r.remove("/a", WatcherType::Any, None);
        let evs: Vec<EventType> = removed.iter().map(|x| x.1).collect();
        assert_eq!(
            evs,
            vec![
                EventType::DataWatchRemoved,
                EventType::ChildWatchRemoved,
                EventType::PersistentWatchRemoved
            ]
        );
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn paths_for_restore() {
        let mut r = WatchRegistry::default();
        r.add(WatchKind::Data, "/b", w());
        r.add(WatchKind::Data, "/a", w());
        r.add(WatchKind::PersistentRecursive, "/r", w());
        let p = r.paths();
        assert_eq!(p.data, vec!["/a", "/b"]);
        assert_eq!(p.recursive, vec!["/r"]);
        assert!(p.exist.is_empty() && !p.is_empty());
        r.clear();
        assert!(r.paths().is_empty());
    }
}
