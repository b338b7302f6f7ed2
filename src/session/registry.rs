//! The client-side watch registry (Java's `ZKWatchManager`): which local watchers an event
//! wakes, which one-shot watches it consumes, and which paths to re-register after a
//! reconnect.
//!
//! Paths are kept in server form (chroot included), as the server reports them and as
//! SetWatches must send them. A watcher registered twice for one path and kind is kept once,
//! and an event reaches each watcher once even when several of its watches match (a data and
//! a child watch on a deleted node).
//!
//! Removals ([`Removal`]) follow the wire, because the server keeps one watch per session,
//! path and kind however many local watchers share it. A removal decides whether it takes
//! the server's watch away (removeWatches) or only checks it (checkWatches) at the instant
//! its frame takes its place on the wire, under the send path's outbox lock
//! ([`InFlightGuard::at_append`]): a watched request counted then (registered, or in flight)
//! keeps the server's watch, and one made later goes out behind the removal, so the server
//! sets its watch again after removing it. And the removal is applied to this registry where
//! the I/O thread meets its reply ([`WatchKind::Removal`]), so it takes exactly what requests
//! before it registered, never what requests behind it register (the same watcher added
//! again included). Nothing local can then be left without the server's watch, whatever
//! runs the removal's completion later.

use std::collections::HashMap;

use super::watcher::SharedWatcher;
use crate::path;
use crate::proto::{EventType, OpCode, WatcherType};

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
    /// Not a watch: a removal's successful reply. Registering it (by the I/O thread, which
    /// registers a request's watch where it meets the reply) applies the [`Removal`] whose
    /// token is the registered watcher.
    Removal,
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
    /// Removals between their call and their completion (a handful at most).
    removals: Vec<Removal>,
}

/// One removal from `path`, for the kinds `wtype` covers; see the module docs for its life.
struct Removal {
    /// Its identity: the watcher its request carries to the I/O thread (kept here, so that
    /// its address stays unique while the removal lives).
    token: SharedWatcher,
    path: String,
    wtype: WatcherType,
    target: Target,
    state: RemovalState,
}

/// What a removal removes here.
enum Target {
    /// One watcher.
    One(SharedWatcher),
    /// Every watcher.
    All,
    /// Nothing: only the server's watch, if nothing here needs it any more when the request
    /// goes out (after a local removal whose request was lost with the connection: the
    /// reconnect may have set the server's watch again).
    ServerOnly,
}

enum RemovalState {
    /// Made, not on the wire yet.
    Planned,
    /// On the wire: a specific target no longer counts as needing the server's watch.
    Sent,
    /// Its reply was met: what it removed, to be told by its completion.
    Applied(Vec<(SharedWatcher, EventType)>),
}

/// Watched requests still in flight, by server path: until their reply, the server may set
/// (or already have set) a watch for them, so a removal must not delete the server's watch.
pub(crate) type InFlight = std::sync::Arc<parking_lot::Mutex<HashMap<String, usize>>>;

/// What a request's watch registration carries through the send path: a watched read's
/// in-flight count, or a removal's choice of request.
pub(crate) struct InFlightGuard {
    /// Counts one watched request in flight on `path`, until dropped with the request,
    /// whatever its outcome.
    counted: Option<(InFlight, String)>,
    /// A removal's choice, made at [`at_append`](Self::at_append).
    choose: Option<ChooseOp>,
}

/// Picks a removal's request (checkWatches or removeWatches) under the outbox lock.
pub(crate) type ChooseOp = Box<dyn FnOnce() -> OpCode + Send>;

impl InFlightGuard {
    pub(crate) fn new(map: &InFlight, path: &str) -> InFlightGuard {
        *map.lock().entry(path.to_string()).or_default() += 1;
        InFlightGuard {
            counted: Some((map.clone(), path.to_string())),
            choose: None,
        }
    }

    /// A removal's: counts nothing, chooses its request with `choose`.
    pub(crate) fn choosing(choose: ChooseOp) -> InFlightGuard {
        InFlightGuard {
            counted: None,
            choose: Some(choose),
        }
    }

    /// Called by the send path under the outbox lock, where the request's place on the wire
    /// (or in the queue for the next connection) is fixed: the opcode to send instead of the
    /// one encoded, if this request chooses (a removal; the bodies of checkWatches and
    /// removeWatches are the same). Takes the registry lock (outbox, then registry).
    pub(crate) fn at_append(&mut self) -> Option<OpCode> {
        self.choose.take().map(|f| f())
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        let Some((map, path)) = &self.counted else {
            return;
        };
        let mut m = map.lock();
        if let Some(n) = m.get_mut(path) {
            *n -= 1;
            if *n == 0 {
                m.remove(path);
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

const PERSISTENT: usize = 3;
const RECURSIVE: usize = 4;

/// The table of a watch kind (`None`: a removal, kept in no table).
fn slot(kind: WatchKind) -> Option<usize> {
    match kind {
        WatchKind::Data => Some(0),
        WatchKind::Exist => Some(1),
        WatchKind::Child => Some(2),
        WatchKind::Persistent => Some(PERSISTENT),
        WatchKind::PersistentRecursive => Some(RECURSIVE),
        WatchKind::Removal => None,
    }
}

fn push_unique(out: &mut Vec<SharedWatcher>, w: &SharedWatcher) {
    if !out.iter().any(|x| x.same_as(w)) {
        out.push(w.clone());
    }
}

impl WatchRegistry {
    fn table(&self, kind: WatchKind) -> Option<&Table> {
        slot(kind).map(|i| &self.tables[i])
    }

    fn table_mut(&mut self, kind: WatchKind) -> Option<&mut Table> {
        slot(kind).map(|i| &mut self.tables[i])
    }

    /// Registers `w` for `kind` on `path` (a no-op if it is already there); for
    /// [`WatchKind::Removal`], applies the removal whose token `w` is.
    pub(crate) fn add(&mut self, kind: WatchKind, path: &str, w: SharedWatcher) {
        let Some(table) = self.table_mut(kind) else {
            self.apply_removal(&w);
            return;
        };
        let v = table.entry(path.to_string()).or_default();
        if !v.iter().any(|x| x.same_as(&w)) {
            v.push(w);
        }
    }

    /// The watchers a server notification wakes; one-shot watches it fires are removed.
    pub(crate) fn trigger(&mut self, event_type: EventType, path: &str) -> Vec<SharedWatcher> {
        let mut out = Vec::new();
        let mut take = |reg: &mut Self, kind: WatchKind| {
            if let Some(ws) = reg.table_mut(kind).and_then(|t| t.remove(path)) {
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
        if let Some(ws) = self.tables[PERSISTENT].get(path) {
            for w in ws {
                push_unique(&mut out, w);
            }
        }
        // Recursive watches never see NodeChildrenChanged (the server does not send them for
        // recursive watches; a persistent watch on the same path may still cause one).
        if event_type != EventType::NodeChildrenChanged {
            let rec = &self.tables[RECURSIVE];
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

    /// Forgets every watch (session expired or client closed), and the removals under way.
    pub(crate) fn clear(&mut self) {
        for t in &mut self.tables {
            t.clear();
        }
        self.removals.clear();
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
            self.table(k)
                .and_then(|t| t.get(path))
                .is_some_and(|ws| w.is_none_or(|w| ws.iter().any(|x| x.same_as(w))))
        })
    }

    /// True if removing `w` from `path` (kinds `wtype` covers) leaves nothing that needs the
    /// server's watch: no other watcher (not counting those whose removal is on the wire)
    /// and no watched request in flight for the path.
    fn is_last(
        &self,
        path: &str,
        wtype: WatcherType,
        w: &SharedWatcher,
        inflight: &InFlight,
    ) -> bool {
        let leaving = |x: &SharedWatcher| {
            self.removals.iter().any(|r| {
                matches!(r.state, RemovalState::Sent)
                    && r.path == path
                    && matches!(&r.target, Target::One(t) if t.same_as(x))
            })
        };
        let others = kinds_of(wtype).iter().any(|&k| {
            self.table(k)
                .and_then(|t| t.get(path))
                .is_some_and(|ws| ws.iter().any(|x| !x.same_as(w) && !leaving(x)))
        });
        !others && !inflight.lock().contains_key(path)
    }

    /// Notes a removal about to be made; `token` (a watcher of its own, never registered)
    /// names it from now on.
    pub(crate) fn plan_removal(
        &mut self,
        token: &SharedWatcher,
        path: &str,
        wtype: WatcherType,
        target: Option<&SharedWatcher>,
    ) {
        let target = match target {
            Some(w) => Target::One(w.clone()),
            None => Target::All,
        };
        self.push_removal(token, path, wtype, target);
    }

    /// Notes a removal of the server's watch only (see [`Target::ServerOnly`]).
    pub(crate) fn plan_server_cleanup(
        &mut self,
        token: &SharedWatcher,
        path: &str,
        wtype: WatcherType,
    ) {
        self.push_removal(token, path, wtype, Target::ServerOnly);
    }

    fn push_removal(
        &mut self,
        token: &SharedWatcher,
        path: &str,
        wtype: WatcherType,
        target: Target,
    ) {
        self.removals.push(Removal {
            token: token.clone(),
            path: path.to_string(),
            wtype,
            target,
            state: RemovalState::Planned,
        });
    }

    /// The removal `token` takes its place on the wire (under the outbox lock): removeWatches
    /// if it removes every watcher, or its target is the last one that needs the server's
    /// watch (see [`is_last`](Self::is_last)), or (server only) nothing here needs it;
    /// checkWatches otherwise.
    pub(crate) fn removal_request(&mut self, token: &SharedWatcher, inflight: &InFlight) -> OpCode {
        let Some(i) = self.removals.iter().position(|r| r.token.same_as(token)) else {
            // Not planned (cannot happen): checking is always safe.
            return OpCode::CheckWatches;
        };
        let r = &self.removals[i];
        let needed = match &r.target {
            Target::One(w) => !self.is_last(&r.path, r.wtype, w, inflight),
            Target::All => false,
            Target::ServerOnly => {
                self.contains(&r.path, r.wtype, None) || inflight.lock().contains_key(&r.path)
            }
        };
        let op = if needed {
            OpCode::CheckWatches
        } else {
            OpCode::RemoveWatches
        };
        self.removals[i].state = RemovalState::Sent;
        op
    }

    /// The reply of the removal `token` succeeded: removes its watchers now, in wire order.
    fn apply_removal(&mut self, token: &SharedWatcher) {
        let Some(i) = self.removals.iter().position(|r| r.token.same_as(token)) else {
            return;
        };
        let r = &self.removals[i];
        let (path, wtype) = (r.path.clone(), r.wtype);
        let removed = match &r.target {
            Target::One(w) => {
                let w = w.clone();
                self.remove(&path, wtype, Some(&w))
            }
            Target::All => self.remove(&path, wtype, None),
            Target::ServerOnly => Vec::new(),
        };
        self.removals[i].state = RemovalState::Applied(removed);
    }

    /// Forgets the removal `token` (its completion runs): what its reply removed, or `None`
    /// if no successful reply was met (an error, or nothing was sent).
    pub(crate) fn finish_removal(
        &mut self,
        token: &SharedWatcher,
    ) -> Option<Vec<(SharedWatcher, EventType)>> {
        let i = self.removals.iter().position(|r| r.token.same_as(token))?;
        match self.removals.swap_remove(i).state {
            RemovalState::Applied(removed) => Some(removed),
            _ => None,
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
            let Some(table) = self.table_mut(k) else {
                continue;
            };
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
        WatchKind::Persistent | WatchKind::PersistentRecursive | WatchKind::Removal => {
            EventType::PersistentWatchRemoved
        }
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
    fn a_removal_chooses_at_append_and_applies_at_its_reply() {
        let inflight = InFlight::default();
        let mut r = WatchRegistry::default();
        let (a, b, token) = (w(), w(), w());
        r.add(WatchKind::Persistent, "/a", a.clone());
        r.plan_removal(&token, "/a", WatcherType::Any, Some(&a));
        // Another watcher registered before the removal goes out: only check.
        r.add(WatchKind::Persistent, "/a", b.clone());
        assert_eq!(r.removal_request(&token, &inflight), OpCode::CheckWatches);
        // b's own removal now finds a leaving: the server's watch goes with it.
        let token_b = w();
        r.plan_removal(&token_b, "/a", WatcherType::Any, Some(&b));
        assert_eq!(
            r.removal_request(&token_b, &inflight),
            OpCode::RemoveWatches
        );
        r.add(WatchKind::Removal, "/a", token.clone());
        // b added again behind its removal: b's reply takes the registration made before
        // it, the one made after it stays.
        r.add(WatchKind::Removal, "/a", token_b.clone());
        r.add(WatchKind::Persistent, "/a", b.clone());
        assert_eq!(r.finish_removal(&token).map(|v| v.len()), Some(1));
        assert_eq!(r.finish_removal(&token_b).map(|v| v.len()), Some(1));
        assert!(r.contains("/a", WatcherType::Any, Some(&b)));
        assert!(!r.contains("/a", WatcherType::Any, Some(&a)));
        assert!(r.finish_removal(&token).is_none(), "finished once");
    }

    #[test]
    fn a_watched_request_in_flight_keeps_the_servers_watch() {
        let inflight = InFlight::default();
        let mut r = WatchRegistry::default();
        let (a, token) = (w(), w());
        r.add(WatchKind::Data, "/a", a.clone());
        r.plan_removal(&token, "/a", WatcherType::Data, Some(&a));
        let guard = InFlightGuard::new(&inflight, "/a");
        assert_eq!(r.removal_request(&token, &inflight), OpCode::CheckWatches);
        drop(guard);
        let token2 = w();
        r.plan_removal(&token2, "/a", WatcherType::Data, Some(&a));
        assert_eq!(r.removal_request(&token2, &inflight), OpCode::RemoveWatches);
        // Without a successful reply nothing was removed here.
        assert!(r.finish_removal(&token2).is_none());
        assert!(r.contains("/a", WatcherType::Data, Some(&a)));
        r.clear();
        assert!(
            r.finish_removal(&token).is_none(),
            "cleared with the session"
        );
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
