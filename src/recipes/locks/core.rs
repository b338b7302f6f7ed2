//! The heart every lock recipe shares (Curator's `LockInternals` and its drivers, redone):
//! queue a protected sequential node under the lock's path, decide from the sorted siblings
//! whether it holds, wait for exactly the nodes that block it, and take it back out.
//!
//! # Protocol (Curator's, so that Java and Rust share a lock)
//!
//! The node is `<path>/_c_<uuid>-<name><seq>`, ephemeral-sequential, parents created as
//! containers. Siblings sort by the text after the last occurrence of each sort marker
//! ([`Naming`]), which is their sequence number whatever their protection prefix. A
//! [`Rule`] says which lower nodes *block* ours: every one (an exclusive lock) or only the
//! write nodes (a read lock). No blockers: the lock is ours.
//!
//! # What differs from Curator, and why
//!
//! * **One round trip to acquire a free lock.** The listing of the siblings is sent right
//!   behind the create, on the same session, so it already contains our node.
//! * **No listing after a hand-over.** A node with a lower sequence number than ours cannot
//!   appear after ours was created (the parent's counter only grows, and the parent cannot be
//!   removed while our node is in it). So the blockers seen once are all there will ever be,
//!   and when each has been seen deleted the lock is ours. With up to [`FAN_OUT`] blockers,
//!   all are watched (getData, pipelined); the last deletion hands the lock over with no
//!   request at all. With more, only the node Curator watches is (no herd), and its deletion
//!   leads to a new listing, as in Curator. The one exception is the write lock: a
//!   downgrade's read node carries an older sequence number and *can* appear later, so a
//!   writer lists once more before it holds ([`LockCore::confirm_hand_over`]).
//! * **Every wake-up is checked, every reconnect re-lists.** Any connection-state change,
//!   any event other than the deletion of a blocker (a watch used up by a data change), a
//!   new session, or a handle that is not connected sends the waiter back to listing. A
//!   waiter also looks at its state at least every [`RECHECK`], so nothing it depends on can
//!   leave it asleep.
//! * **One deadline for everything.** `acquire_timeout` bounds the whole acquisition:
//!   requests are waited for until the deadline only, retries sleep until it at most, and
//!   a node whose create is left unanswered is found and deleted in the background.
//! * **A hold is of this session.** The lock is only granted while the handle that saw the
//!   grant is connected on the session that created the node.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::node::{remove_node, remove_node_soon};
use crate::error::{Error, Result};
use crate::framework::{
    CuratorFramework, CuratorFrameworkState, ListenerId, Monitor, WatchTracker,
};
use crate::path;
use crate::session::SharedWatcher;

/// Up to this many blockers are all watched (no listing at hand-over); beyond, only one.
pub(crate) const FAN_OUT: usize = 8;

/// A waiter looks at its own state at least this often, whatever wakes it.
pub(crate) const RECHECK: Duration = Duration::from_millis(500);

/// The names a lock's nodes carry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Naming {
    /// The name a node is created with (before protection and sequence).
    pub lock_name: &'static str,
    /// Sort keys: the text after the last occurrence of each marker in turn.
    pub markers: &'static [&'static str],
}

impl Naming {
    /// The key `name` sorts by.
    pub(crate) fn sort_key<'a>(&self, name: &'a str) -> &'a str {
        self.markers
            .iter()
            .fold(name, |s, m| path::fix_for_sorting(s, m))
    }

    /// Sorts sibling names into lock order.
    pub(crate) fn sort(&self, names: &mut [String]) {
        names.sort_by(|a, b| self.sort_key(a).cmp(self.sort_key(b)));
    }
}

/// Which lower nodes keep a node from holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Every lower node (mutex, write lock).
    Exclusive,
    /// Lower nodes whose name contains this marker (read lock: write nodes).
    SharedExcept(&'static str),
}

/// What an acquisition wants.
pub(crate) struct Request<'a> {
    /// The node's data.
    pub data: &'a [u8],
    /// Create `<lock_name><seq>` as a plain ephemeral node and hold at once (the read lock
    /// taken by the write lock's holder: Curator 5.5's layout, see `read_write.rs`).
    pub granted_as: Option<String>,
    /// Give up at this instant (`None`: wait for as long as it takes).
    pub deadline: Option<Instant>,
    /// Left on the node once created, for as long as it lives (the revocation watch of
    /// `make_revocable`); called at once with a `NodeDataChanged` if the node's data is
    /// already the revocation request. It sees handle-level paths.
    pub revocation: Option<SharedWatcher>,
}

/// A node that holds the lock.
#[derive(Debug)]
pub(crate) struct Held {
    /// Handle-level path.
    pub full: String,
    /// The watches that live as long as the hold (revocation).
    pub watches: WatchTracker,
}

/// The shared core: one per lock instance, used by every thread that acquires through it.
pub(crate) struct LockCore {
    pub(super) client: CuratorFramework,
    /// The lock's path as the user gave it (in the client's namespace).
    base: String,
    pub(super) naming: Naming,
    pub(super) rule: Rule,
    pub(super) monitor: Arc<Monitor>,
    closed: AtomicBool,
    listener: Mutex<Option<ListenerId>>,
    /// `participant_nodes` lists only nodes carrying this lock's name (the read and the
    /// write lock share a path).
    own_nodes_only: bool,
    /// Confirm a hand-over with a listing (see [`confirm_hand_over`](Self::confirm_hand_over)).
    pub(super) confirm: bool,
}

impl LockCore {
    /// A core for the lock at `base` (validated here).
    pub(crate) fn new(
        client: &CuratorFramework,
        base: &str,
        naming: Naming,
        rule: Rule,
    ) -> Result<LockCore> {
        path::validate_path(base, false)?;
        let monitor = Arc::new(Monitor::new());
        // Every connection change wakes every waiter of this lock, to look again.
        let m = monitor.clone();
        let id = client
            .connection_state_listenable()
            .add_listener(move |_: &CuratorFramework, _| m.notify_all());
        Ok(LockCore {
            client: client.clone(),
            base: base.to_string(),
            naming,
            rule,
            monitor,
            closed: AtomicBool::new(false),
            listener: Mutex::new(Some(id)),
            own_nodes_only: false,
            confirm: false,
        })
    }

    /// Blockers seen deleted are not proof enough: list again before holding. For the
    /// write lock, whose path also receives the read node of a downgrade: a plain ephemeral
    /// node carrying an *older* sequence number, which can appear after a writer has listed
    /// (and must then keep that writer out).
    pub(crate) fn confirm_hand_over(mut self) -> LockCore {
        self.confirm = true;
        self
    }

    /// `participant_nodes` lists only this lock's own kind of node.
    pub(crate) fn own_nodes_only(mut self) -> LockCore {
        self.own_nodes_only = true;
        self
    }

    pub(crate) fn client(&self) -> &CuratorFramework {
        &self.client
    }

    /// The lock's path (in the client's namespace).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Refuses new acquisitions and wakes the waiting ones (which give up with `Closed`).
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.client.remove_state_listener(&self.listener);
        self.monitor.notify_all();
    }

    /// `Err(Closed)` once the lock or the client is closed.
    pub(crate) fn check_open(&self) -> Result<()> {
        if self.is_closed() || self.client.state() == CuratorFrameworkState::Stopped {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Takes a held node back out (guaranteed: retried in the background if need be).
    pub(crate) fn release(&self, held: Held) -> Result<()> {
        held.watches.remove_all(&self.client);
        remove_node(&self.client, &held.full)
    }

    /// The same for a close or drop: never waits long, never reports.
    pub(crate) fn release_quietly(&self, held: Held) {
        held.watches.remove_all(&self.client);
        remove_node_soon(&self.client, &held.full);
    }

    /// Every node of the lock's path in lock order, as paths in the client's namespace.
    pub(crate) fn participant_nodes(&self) -> Result<Vec<String>> {
        self.check_open()?;
        let mut kids = match self.client.get_children().for_path(&self.base) {
            Ok(k) => k,
            Err(Error::NoNode { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        self.naming.sort(&mut kids);
        Ok(kids
            .iter()
            .filter(|k| !self.own_nodes_only || k.contains(self.naming.lock_name))
            .map(|k| path::make_path(&self.base, k))
            .collect())
    }

    /// The lower nodes that keep `ours` from holding, in lock order; `None` if `ours` is not
    /// among `sorted`.
    pub(super) fn blockers<'a>(&self, sorted: &'a [String], ours: &str) -> Option<Vec<&'a String>> {
        let at = sorted.iter().position(|n| n == ours)?;
        let lower = sorted[..at].iter();
        Some(match self.rule {
            Rule::Exclusive => lower.collect(),
            Rule::SharedExcept(marker) => lower.filter(|n| n.contains(marker)).collect(),
        })
    }

    /// The one node Curator watches among `blockers` (its predecessor for an exclusive
    /// lock, the first write node for a read lock).
    pub(super) fn curators_pick<'a>(&self, blockers: &[&'a String]) -> Option<&'a String> {
        match self.rule {
            Rule::Exclusive => blockers.last().copied(),
            Rule::SharedExcept(_) => blockers.first().copied(),
        }
    }
}

impl Drop for LockCore {
    fn drop(&mut self) {
        self.close();
    }
}
