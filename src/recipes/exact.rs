//! Conditional writes whose outcome is known even when their reply is lost: the write path of
//! [`SharedValue`](super::shared::SharedValue), [`SharedCount`](super::shared::SharedCount) and
//! the [atomics](super::atomic).
//!
//! A compare-and-set (`setData` with a version, or a `create`) whose reply is lost may or may
//! not have been applied. Curator retries it, gets `BadVersion` (or `NodeExists`) from its own
//! applied write, reports a failure, and the caller's loop applies the increment a second time;
//! or it reports success for a write that never happened. Neither is acceptable for a counter.
//!
//! So each write goes out as a transaction with a second operation: it sets (or creates) a
//! small ephemeral *marker* node, named after this writer and holding the attempt's sequence
//! number. After a lost reply, on the same session, a `sync` and a read of
//! the marker tell for certain whether the transaction was applied. When the session changed
//! in between (the marker died with it), the node itself decides where it can (still at the
//! expected version: not applied); otherwise the outcome stays unknown and the caller gets the
//! original `ConnectionLoss`/`SessionExpired`, never a guess.
//!
//! Markers are `/zkc-cas-markers/<uuid>-<n>` (in the client's namespace), one per concurrent
//! writer of a recipe instance, reused across writes (the steady state is one transaction of
//! two `setData`s) and deleted by `close()`; the directory is a container, so the server
//! removes it once no writer is left. The value node itself keeps exactly Curator's layout (no
//! children), so Java peers, and anyone deleting it, see nothing new. A server that refuses
//! the marker (no CREATE permission there) gets plain writes instead, with the weaker guarantee
//! above.

use std::sync::OnceLock;

use parking_lot::Mutex;

use crate::client::{Op, OpResult, ZooKeeper};
use crate::error::{Error, Result};
use crate::framework::protection::new_protected_id;
use crate::framework::CuratorFramework;
use crate::path;
use crate::proto::{CreateMode, Stat};

/// The condition of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteOp {
    /// `setData` at this version.
    Set { version: i32 },
    /// `create` (persistent; missing parents are made as containers).
    Create,
}

/// What became of a write.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Applied; the node's new Stat when the reply carried one.
    Written(Option<Stat>),
    /// Not applied because its condition failed: `BadVersion` or `NoNode` for a set,
    /// `NodeExists` for a create.
    Refused(Error),
}

/// One marker: used by one write at a time.
#[derive(Debug)]
struct Slot {
    path: String,
    /// The session in which the marker is known to exist.
    session: Option<i64>,
    seq: u64,
}

#[derive(Debug, Default)]
struct Slots {
    free: Vec<Slot>,
    /// Every marker path handed out (for close).
    made: Vec<String>,
    closed: bool,
    /// The server refused markers: plain writes from now on.
    plain: bool,
}

/// What the marker operation of the attempt in doubt was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MarkerOp {
    None,
    Create,
    Set,
}

/// An attempt whose reply was lost.
#[derive(Clone, Copy)]
struct Pending {
    session: i64,
    seq: u64,
    marker: MarkerOp,
    op: WriteOp,
}

enum Resolved {
    Applied,
    NotApplied,
    Unknown,
}

/// Where the markers live (a container, in the client's namespace).
const MARKER_DIR: &str = "/zkc-cas-markers";

/// Writes one node with conditional writes whose outcome is always known (see the module).
#[derive(Debug)]
pub(crate) struct ExactWriter {
    client: CuratorFramework,
    /// The node as the caller names it.
    path: String,
    /// The node and the marker directory, handle-level (namespace applied): resolved on the
    /// first write.
    full: OnceLock<(String, String)>,
    id: String,
    slots: Mutex<Slots>,
}

fn seq_bytes(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Errors after which a write may or may not have been applied.
fn ambiguous(e: &Error) -> bool {
    matches!(
        e,
        Error::ConnectionLoss { .. }
            | Error::OperationTimeout { .. }
            | Error::RequestTimeout
            | Error::SessionExpired
    )
}

impl ExactWriter {
    /// A writer of `path` (a valid path, the client's namespace not applied yet).
    pub(super) fn new(client: &CuratorFramework, path: &str) -> ExactWriter {
        ExactWriter {
            client: client.clone(),
            path: path.to_string(),
            full: OnceLock::new(),
            id: new_protected_id(),
            slots: Mutex::new(Slots::default()),
        }
    }

    /// Writes `data` under `op`'s condition, retrying connection errors with the client's
    /// policy; an `Err` that is `ConnectionLoss`, `SessionExpired` or `RequestTimeout` means
    /// the outcome could not be established.
    pub(super) fn write(&self, op: WriteOp, data: &[u8]) -> Result<Outcome> {
        let (full, dir) = match self.full.get() {
            Some(f) => f.clone(),
            None => {
                let f = self.client.fix_path(&self.path, false)?;
                let d = self.client.fix_path(MARKER_DIR, false)?;
                self.full.get_or_init(|| (f, d)).clone()
            }
        };
        let mut slot = self.take_slot(&dir)?;
        let r = self.write_with(&full, &mut slot, op, data);
        self.give_back(slot);
        r
    }

    /// Deletes the markers (those in use are deleted when their write finishes).
    pub(super) fn close(&self) {
        let made = {
            let mut s = self.slots.lock();
            s.closed = true;
            s.free.clear();
            std::mem::take(&mut s.made)
        };
        for m in made {
            self.delete_marker(m);
        }
    }

    fn take_slot(&self, dir: &str) -> Result<Slot> {
        let mut s = self.slots.lock();
        if s.closed {
            return Err(Error::Closed);
        }
        if let Some(slot) = s.free.pop() {
            return Ok(slot);
        }
        let path = path::make_path(dir, &format!("{}-{}", self.id, s.made.len()));
        s.made.push(path.clone());
        Ok(Slot {
            path,
            session: None,
            seq: 0,
        })
    }

    fn give_back(&self, slot: Slot) {
        let mut s = self.slots.lock();
        if s.closed {
            drop(s);
            self.delete_marker(slot.path);
        } else {
            s.free.push(slot);
        }
    }

    /// Deletes a marker now when connected, else (or on failure) in the background.
    fn delete_marker(&self, marker: String) {
        let now = self
            .client
            .inner
            .handle()
            .ok()
            .filter(|zk| zk.state().is_connected())
            .map(|zk| zk.delete(&marker, -1));
        match now {
            Some(Ok(())) | Some(Err(Error::NoNode { .. })) => {}
            Some(Err(Error::Closed)) => {}
            _ => crate::framework::protection::guaranteed_delete(&self.client, marker),
        }
    }

    fn write_with(&self, full: &str, slot: &mut Slot, op: WriteOp, data: &[u8]) -> Result<Outcome> {
        // The attempt in doubt, with the error that left it so.
        let mut pending: Option<(Pending, Error)> = None;
        // Ok(Err(e)): a final answer the retry loop must not retry.
        let r = self.client.call(|zk, _| {
            if let Some((p, why)) = pending.take() {
                match self.resolve(zk, full, slot, &p) {
                    Ok(Resolved::Applied) => return Ok(Ok(Outcome::Written(None))),
                    Ok(Resolved::NotApplied) => {}
                    Ok(Resolved::Unknown) => return Ok(Err(why)),
                    Err(e) => {
                        pending = Some((p, why));
                        return Err(e);
                    }
                }
            }
            match self.attempt(zk, full, slot, op, data) {
                Ok(outcome) => Ok(Ok(outcome)),
                Err((e, Some(p))) => {
                    pending = Some((p, e.clone()));
                    Err(e)
                }
                Err((e, None)) => Err(e),
            }
        });
        match r {
            Ok(inner) => inner,
            Err(e) => Err(e),
        }
    }

    /// One attempt: a transaction (or a plain write), adjusted a few times when only the
    /// marker operation failed. An ambiguous failure comes back with what is needed to
    /// resolve it.
    fn attempt(
        &self,
        zk: &ZooKeeper,
        full: &str,
        slot: &mut Slot,
        op: WriteOp,
        data: &[u8],
    ) -> std::result::Result<Outcome, (Error, Option<Pending>)> {
        let mut made_parents = false;
        let mut made_dir = false;
        for _ in 0..6 {
            let session = zk.session_id();
            let plain = self.slots.lock().plain;
            slot.seq += 1;
            let main = match op {
                WriteOp::Set { version } => Op::SetData {
                    path: full.to_string(),
                    data: data.to_vec(),
                    version,
                },
                WriteOp::Create => Op::Create {
                    path: full.to_string(),
                    data: data.to_vec(),
                    acl: self.client.acl_for(full),
                    mode: CreateMode::Persistent,
                    ttl: None,
                },
            };
            let marker = if plain {
                MarkerOp::None
            } else if slot.session == Some(session) {
                MarkerOp::Set
            } else {
                MarkerOp::Create
            };
            let mut ops = vec![main];
            match marker {
                MarkerOp::None => {}
                MarkerOp::Set => ops.push(Op::SetData {
                    path: slot.path.clone(),
                    data: seq_bytes(slot.seq).to_vec(),
                    version: -1,
                }),
                MarkerOp::Create => ops.push(Op::Create {
                    path: slot.path.clone(),
                    data: seq_bytes(slot.seq).to_vec(),
                    acl: self.client.acl_for(&slot.path),
                    mode: CreateMode::Ephemeral,
                    ttl: None,
                }),
            }
            let results = match zk.multi_results(&ops) {
                Ok(r) => r,
                Err(e) if ambiguous(&e) => {
                    let p = Pending {
                        session,
                        seq: slot.seq,
                        marker,
                        op,
                    };
                    return Err((e, Some(p)));
                }
                Err(e) => return Err((e, None)),
            };
            let first = results.first();
            match first {
                Some(OpResult::SetData { stat }) => {
                    if marker != MarkerOp::None {
                        slot.session = Some(session);
                    }
                    return Ok(Outcome::Written(Some(stat.clone())));
                }
                Some(OpResult::Create { stat, .. }) => {
                    if marker != MarkerOp::None {
                        slot.session = Some(session);
                    }
                    return Ok(Outcome::Written(stat.clone()));
                }
                Some(OpResult::Error(e)) => match e {
                    Error::NoNode { .. } if op == WriteOp::Create && !made_parents => {
                        made_parents = true;
                        if let Some(parent) = path::parent(full) {
                            make_dirs(&self.client, zk, parent).map_err(|e| (e, None))?;
                        }
                    }
                    Error::BadVersion { .. } | Error::NoNode { .. } | Error::NodeExists { .. } => {
                        return Ok(Outcome::Refused(e.clone()))
                    }
                    other => return Err((other.clone(), None)),
                },
                _ => {
                    // The main operation would have worked; the marker operation failed.
                    let marker_error = results.get(1).and_then(|r| match r {
                        OpResult::Error(e) => Some(e.clone()),
                        _ => None,
                    });
                    match (marker, marker_error) {
                        (MarkerOp::Create, Some(Error::NodeExists { .. })) => {
                            slot.session = Some(session)
                        }
                        (MarkerOp::Set, Some(Error::NoNode { .. })) => slot.session = None,
                        (MarkerOp::Create, Some(Error::NoNode { .. })) if !made_dir => {
                            made_dir = true;
                            if let Some(dir) = path::parent(&slot.path) {
                                make_dirs(&self.client, zk, dir).map_err(|e| (e, None))?;
                            }
                        }
                        (_, e) => {
                            log::warn!(
                                "{}: the server refused the write marker ({e:?}); plain \
                                 conditional writes from now on (an outcome lost with its \
                                 reply may stay unknown)",
                                full
                            );
                            self.slots.lock().plain = true;
                        }
                    }
                }
            }
        }
        Err((
            Error::InvalidArgument(format!(
                "{full}: the write kept failing on its marker; giving up"
            )),
            None,
        ))
    }

    /// After a lost reply: was the attempt applied?
    fn resolve(
        &self,
        zk: &ZooKeeper,
        full: &str,
        slot: &mut Slot,
        p: &Pending,
    ) -> Result<Resolved> {
        let same_session = zk.session_id() == p.session;
        if same_session {
            // Our lost request, if the server took it, is ordered before this sync.
            zk.sync(full)?;
        } else {
            slot.session = None;
        }
        if same_session && p.marker != MarkerOp::None {
            match zk.get_data(&slot.path, false) {
                Ok((d, _)) => {
                    slot.session = Some(p.session);
                    return Ok(if d == seq_bytes(p.seq) {
                        Resolved::Applied
                    } else {
                        Resolved::NotApplied
                    });
                }
                Err(Error::NoNode { .. }) if p.marker == MarkerOp::Create => {
                    slot.session = None;
                    return Ok(Resolved::NotApplied);
                }
                // Someone deleted our marker: judge by the node.
                Err(Error::NoNode { .. }) => slot.session = None,
                Err(e) => return Err(e),
            }
        }
        // Synced on the same session, or the old session is gone: the request can no longer
        // be applied, and the node shows whether it was where it can.
        let st = zk.exists(full, false)?;
        Ok(match (p.op, st) {
            (WriteOp::Set { version }, Some(st)) if st.version == version => Resolved::NotApplied,
            (WriteOp::Create, None) => Resolved::NotApplied,
            _ => Resolved::Unknown,
        })
    }
}

/// Creates `dir` and its missing ancestors as containers (persistent nodes when the client
/// does not use containers or the server lacks them), tolerating races. For recipes working
/// on the handle directly (off the retry loop).
pub(crate) fn make_dirs(client: &CuratorFramework, zk: &ZooKeeper, dir: &str) -> Result<()> {
    client.make_dirs(zk, dir, client.container_mode(), None)
}
