//! The consumer thread of a queue: waits for the children to change (or for a delayed item
//! to come due), sorts them in the queue kind's order and hands the items to the consumer,
//! one at a time, in that order.
//!
//! **Without a lock path** (at most once): each item is read (`getData`, noting its
//! version) and deleted with that version; whoever's delete succeeds owns the item, and only
//! the owner hands it over, after the delete. By default one item at a time, as Curator
//! does (its default executor runs the consumer on the loop's own thread: read, delete,
//! consume, next); [`QueueBuilder::prefetch`](crate::recipes::queue::QueueBuilder::prefetch) lets reads and
//! deletes of up to `n` items be pipelined ahead of the consumer. Items already deleted are
//! always handed over, also while the queue closes. What at most once costs: a crash of the
//! process loses the items deleted and not yet handed over, and a dropped connection loses
//! the items whose delete was on the wire (applied, but the reply lost: the retry finds the
//! node gone and cannot tell who took it) — one item, as in Curator, or up to `prefetch`
//! items with a larger prefetch.
//!
//! **With a lock path** (exactly once, one item at a time): create `L/<item>` EPHEMERAL
//! holding this queue's token; read the item; hand it over; then one transaction deletes the
//! item and the lock (or, for a failed item with [`ErrorMode::Requeue`], deletes it,
//! re-creates it at the end of the queue and deletes the lock). On the way:
//!
//! * a lock create whose reply was lost comes back as NodeExists: the lock is ours if its
//!   owner is our session and it holds our token (otherwise an item would stay locked by our
//!   own session until it ends);
//! * an item locked by another consumer gets a watch on its lock, so that it is looked at
//!   again as soon as that consumer finishes or dies (Curator looks again only when the
//!   children change);
//! * the item is not handed over if the session that took the lock is gone by then (the
//!   lock went with it and another consumer may own the item now), and a lock is deleted
//!   only while the session that took it lives (a node at that path afterwards is someone
//!   else's lock);
//! * once handed over, the item is deleted whatever happens to the lock: the closing
//!   transaction is retried until it is applied or its effect is seen (item gone), and if
//!   the session (and so the lock) was lost meanwhile, the item is deleted without it, so
//!   that this process never hands it over again. Only a consumer in **another** process,
//!   taking the item after our session died while our consumer still held it, can see it
//!   twice (Curator has the same window, CURATOR-605): keep consumers shorter than the
//!   session timeout.
//!
//! A node whose data is not an item envelope (written by a third party) is logged, reported
//! to the client's unhandled-error listeners and removed, as Curator does, so that it never
//! blocks the queue.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::QueueCore;
use crate::error::{Error, Result};
use crate::framework::{CuratorEvent, CuratorFramework, CuratorFrameworkState};
use crate::path;
use crate::proto::CreateMode;
use crate::recipes::queue::consumer::ErrorMode;
use crate::recipes::queue::{names, serializer};

/// Items read and deleted ahead of the consumer by default (without a lock path): one, so
/// that a crash loses at most the item being consumed, as with Curator's default executor.
pub(crate) const DEFAULT_PREFETCH: usize = 1;
/// After a failure that is not the queue's fault (connection), look again this soon even if
/// nothing changes.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// The wall clock in epoch milliseconds (delay queues compare it with their items' epochs,
/// which producers on other machines wrote from their clocks).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What a pass over the items asks of the next wait.
#[derive(Default)]
struct Pass {
    /// Look again at this time even if nothing changed.
    wake: Option<Instant>,
}

impl Pass {
    fn wake_in(&mut self, d: Duration) {
        let t = Instant::now() + d;
        self.wake = Some(self.wake.map_or(t, |w| w.min(t)));
    }
}

/// The consumer thread's body.
pub(crate) fn run<T: Send + Sync + 'static>(core: &Arc<QueueCore<T>>) {
    let mut seen: Option<u64> = None;
    let mut wake: Option<Instant> = None;
    loop {
        let snap = match seen {
            None => core.cache.current(),
            Some(v) => core.cache.wait_next(v, wake),
        };
        if snap.closed || !core.is_started() {
            break;
        }
        // Noted before listing: a change during the listing or the pass means another pass.
        seen = Some(snap.version);
        let listing = match core.cache.refresh() {
            Ok(l) => l,
            Err(Error::Closed) => break,
            Err(e) => {
                log::debug!("queue {}: cannot list the items: {e}", core.cfg.path);
                wake = Some(Instant::now() + RETRY_AFTER);
                continue;
            }
        };
        let version = snap.version;
        let now = now_ms();
        let mut items: Vec<String> = listing
            .children
            .iter()
            .filter(|n| {
                let ok = names::is_item(n);
                if !ok {
                    log::debug!("queue {}: foreign node {n} skipped", core.cfg.path);
                }
                ok
            })
            .cloned()
            .collect();
        names::sort(core.cfg.kind, &mut items, now);
        let pass = if core.cfg.lock_path.is_some() {
            pass_locked(core, &items, version)
        } else {
            pass_plain(core, &items, version)
        };
        wake = pass.wake;
    }
}

/// The item's path.
fn item_path<T>(core: &QueueCore<T>, name: &str) -> String {
    path::make_path(&core.cfg.path, name)
}

/// True when taking more items from this listing should stop: the queue is closing, the
/// next item is not due yet (delay queue), or the priority queue has taken its minimum and
/// the children changed (a higher priority may have arrived).
fn stop_before<T: Send + Sync + 'static>(
    core: &QueueCore<T>,
    name: &str,
    taken: usize,
    version: u64,
    pass: &mut Pass,
) -> bool {
    if !core.is_started() {
        return true;
    }
    let delay = names::delay_ms(core.cfg.kind, name, now_ms());
    if delay > 0 {
        pass.wake_in(Duration::from_millis(
            u64::try_from(delay).unwrap_or(u64::MAX),
        ));
        return true;
    }
    core.cfg.refresh_on_watch
        && taken >= core.cfg.min_items_before_refresh
        && core.cache.current().version != version
}

// ---------------------------------------------------------------------------- at most once

/// The outcome of reading and deleting one item.
enum Fetched {
    /// Deleted by us: ours to hand over.
    Taken(Vec<u8>),
    /// Someone else took it (or it changed): skip.
    Gone,
    /// The read or delete failed (connection): skip for now, look again later.
    Failed(Error),
}

fn pass_plain<T: Send + Sync + 'static>(
    core: &Arc<QueueCore<T>>,
    items: &[String],
    version: u64,
) -> Pass {
    let mut pass = Pass::default();
    let window = if core.cfg.refresh_on_watch {
        core.cfg
            .min_items_before_refresh
            .clamp(1, core.cfg.prefetch)
    } else {
        core.cfg.prefetch
    };
    let (tx, rx) = crossbeam_channel::unbounded::<(usize, Fetched)>();
    let mut issued = 0;
    let mut delivered = 0;
    let mut stopped = false;
    let mut ready: BTreeMap<usize, Fetched> = BTreeMap::new();
    loop {
        while !stopped && issued < items.len() && issued - delivered < window {
            if stop_before(core, &items[issued], issued, version, &mut pass) {
                stopped = true;
                break;
            }
            fetch(core, issued, &items[issued], tx.clone());
            issued += 1;
        }
        if delivered == issued {
            break;
        }
        let Some((i, f)) = next_result(core, &rx) else {
            log::warn!(
                "queue {}: the client closed with {} reads outstanding",
                core.cfg.path,
                issued - delivered
            );
            break;
        };
        ready.insert(i, f);
        while let Some(f) = ready.remove(&delivered) {
            match f {
                Fetched::Taken(bytes) => hand_over(core, &items[delivered], &bytes),
                Fetched::Gone => {}
                Fetched::Failed(e) => {
                    log::debug!(
                        "queue {}: {} skipped for now: {e}",
                        core.cfg.path,
                        items[delivered]
                    );
                    pass.wake_in(RETRY_AFTER);
                }
            }
            delivered += 1;
        }
    }
    pass
}

/// Waits for the next read/delete outcome. Background operations always report, but not
/// once the client is closed: then give up after a grace period.
fn next_result<T>(
    core: &QueueCore<T>,
    rx: &Receiver<(usize, Fetched)>,
) -> Option<(usize, Fetched)> {
    let mut closed_for = Duration::ZERO;
    let step = Duration::from_millis(200);
    loop {
        match rx.recv_timeout(step) {
            Ok(r) => return Some(r),
            Err(RecvTimeoutError::Disconnected) => return None,
            Err(RecvTimeoutError::Timeout) => {
                if core.cfg.client.state() != CuratorFrameworkState::Started {
                    closed_for += step;
                    if closed_for >= Duration::from_secs(2) {
                        return None;
                    }
                }
            }
        }
    }
}

/// Reads item `name` and deletes it with the version read, in the background.
fn fetch<T>(core: &QueueCore<T>, idx: usize, name: &str, tx: Sender<(usize, Fetched)>) {
    let p = item_path(core, name);
    let p2 = p.clone();
    let refused = tx.clone();
    let r = core
        .cfg
        .client
        .get_data()
        .in_background(move |c: &CuratorFramework, e: &CuratorEvent| {
            let (data, version) = match (e.error(), e.data(), e.stat()) {
                (None, Some(d), Some(s)) => (d.to_vec(), s.version),
                (None, None, Some(s)) => (Vec::new(), s.version),
                (Some(Error::NoNode { .. }), _, _) => return send(&tx, idx, Fetched::Gone),
                (Some(err), _, _) => return send(&tx, idx, Fetched::Failed(err.clone())),
                _ => return send(&tx, idx, Fetched::Failed(Error::protocol("no stat"))),
            };
            let tx2 = tx.clone();
            let r = c
                .delete()
                .with_version(version)
                .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                    let f = match e.error() {
                        None => Fetched::Taken(data),
                        Some(Error::NoNode { .. }) | Some(Error::BadVersion { .. }) => {
                            Fetched::Gone
                        }
                        Some(err) => Fetched::Failed(err.clone()),
                    };
                    send(&tx2, idx, f);
                })
                .for_path(&p2);
            if let Err(err) = r {
                send(&tx, idx, Fetched::Failed(err));
            }
        })
        .for_path(&p);
    if let Err(err) = r {
        // Refused before anything was sent: no callback will come.
        log::warn!("queue {}: cannot read {name}: {err}", core.cfg.path);
        send(&refused, idx, Fetched::Failed(err));
    }
}

fn send(tx: &Sender<(usize, Fetched)>, idx: usize, f: Fetched) {
    let _ = tx.send((idx, f));
}

/// Hands the items of one node over (without a lock: failures are only logged; the node is
/// gone already).
fn hand_over<T: Send + Sync + 'static>(core: &QueueCore<T>, name: &str, bytes: &[u8]) {
    let items = match unpack(core, bytes) {
        Ok(items) => items,
        Err(e) => return corrupt(core, name, &e),
    };
    for (item, _) in items {
        if let Err(why) = consume_one(core, item) {
            log::error!(
                "queue {}: the consumer failed on {name} (lost: the queue has no lock path): {why}",
                core.cfg.path
            );
        }
    }
}

/// The items of one node, each with its serialized bytes; an error for a node that is not
/// an envelope or holds an item the serializer refuses (a corrupt node, as in Curator).
fn unpack<'a, T: Send + Sync + 'static>(
    core: &QueueCore<T>,
    bytes: &'a [u8],
) -> Result<Vec<(T, &'a [u8])>> {
    serializer::decode(bytes)?
        .into_iter()
        .map(|part| {
            let item = catch_unwind(AssertUnwindSafe(|| core.cfg.serializer.deserialize(part)))
                .unwrap_or_else(|p| {
                    Err(Error::InvalidArgument(format!(
                        "the serializer panicked: {}",
                        panic_text(&p)
                    )))
                })?;
            Ok((item, part))
        })
        .collect()
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

fn corrupt<T>(core: &QueueCore<T>, name: &str, e: &Error) {
    core.cfg.client.report_unhandled(
        &format!("queue {}: corrupt item {name} removed", core.cfg.path),
        e,
    );
}

/// Consumes one item; `Err` with the reason if the consumer failed or panicked.
fn consume_one<T: Send + Sync + 'static>(
    core: &QueueCore<T>,
    item: T,
) -> std::result::Result<(), String> {
    let Some(consumer) = &core.cfg.consumer else {
        return Ok(());
    };
    match catch_unwind(AssertUnwindSafe(|| consumer.consume_message(item))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(p) => Err(format!("panicked: {}", panic_text(&*p))),
    }
}

// ---------------------------------------------------------------------------- exactly once

fn pass_locked<T: Send + Sync + 'static>(
    core: &Arc<QueueCore<T>>,
    items: &[String],
    version: u64,
) -> Pass {
    let mut pass = Pass::default();
    for (taken, name) in items.iter().enumerate() {
        if stop_before(core, name, taken, version, &mut pass) {
            break;
        }
        if let Err(e) = process_locked(core, name) {
            if matches!(e, Error::Closed) {
                break;
            }
            log::debug!("queue {}: {name} skipped for now: {e}", core.cfg.path);
            pass.wake_in(RETRY_AFTER);
        }
    }
    pass
}

/// Whether we hold an item's lock.
enum Lock {
    /// Ours, taken by the session with this id.
    Held(i64),
    /// Another consumer's.
    Busy,
}

fn lock_path_of<T>(core: &QueueCore<T>, name: &str) -> Option<String> {
    core.cfg
        .lock_path
        .as_ref()
        .map(|l| path::make_path(l, name))
}

fn session_id(client: &CuratorFramework) -> i64 {
    client
        .zookeeper_client()
        .zookeeper()
        .map(|z| z.session_id())
        .unwrap_or(0)
}

/// Creates the item's lock node (ephemeral, holding `token`).
fn lock(client: &CuratorFramework, lock: &str, token: &str) -> Result<Lock> {
    for _ in 0..3 {
        match client
            .create()
            .with_mode(CreateMode::Ephemeral)
            .for_path_with_data(lock, token.as_bytes())
        {
            Ok(_) => return Ok(Lock::Held(session_id(client))),
            Err(Error::NodeExists { .. }) => {
                let mut stat = crate::proto::Stat::default();
                match client.get_data().storing_stat_in(&mut stat).for_path(lock) {
                    Ok(data) => {
                        let me = session_id(client);
                        // A create of ours whose reply was lost, retried by the client.
                        if stat.ephemeral_owner == me && data == token.as_bytes() {
                            return Ok(Lock::Held(me));
                        }
                        return Ok(Lock::Busy);
                    }
                    Err(Error::NoNode { .. }) => continue, // released meanwhile: try again
                    Err(e) => return Err(e),
                }
            }
            Err(Error::NoNode { .. }) => {
                // The lock node's parent is gone (a container reaped while empty).
                client.create_containers(path::parent(lock).unwrap_or("/"))?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Lock::Busy)
}

/// Deletes a lock taken by session `session`, guaranteed (the client keeps trying in the
/// background). Not if that session is gone: its lock went with it, and the node at that
/// path now, if any, is another consumer's.
fn unlock(client: &CuratorFramework, lock: &str, session: i64) {
    if session_id(client) != session {
        return;
    }
    match client.delete().guaranteed().for_path(lock) {
        Ok(()) | Err(Error::NoNode { .. }) => {}
        Err(e) => log::debug!("unlock {lock}: {e} (left to the guaranteed delete)"),
    }
}

/// What to do with an item once its consumer returned.
enum Outcome {
    /// Consumed (or dropped): delete it.
    Done,
    /// Put these items back at the end of the queue.
    Requeue(Vec<u8>),
}

fn process_locked<T: Send + Sync + 'static>(core: &Arc<QueueCore<T>>, name: &str) -> Result<()> {
    let client = &core.cfg.client;
    let Some(lock_p) = lock_path_of(core, name) else {
        return Ok(());
    };
    let session = match lock(client, &lock_p, &core.token)? {
        Lock::Held(s) => s,
        Lock::Busy => {
            core.cache.watch_lock(&lock_p);
            return Ok(());
        }
    };
    let item = item_path(core, name);
    let mut stat = crate::proto::Stat::default();
    let bytes = match client.get_data().storing_stat_in(&mut stat).for_path(&item) {
        Ok(b) => b,
        Err(Error::NoNode { .. }) => {
            unlock(client, &lock_p, session);
            return Ok(());
        }
        Err(e) => {
            unlock(client, &lock_p, session);
            return Err(e);
        }
    };
    if session_id(client) != session {
        // The session that took the lock is gone, and the lock with it: another consumer
        // may own the item now.
        return Ok(());
    }
    let outcome = match unpack(core, &bytes) {
        Err(e) => {
            corrupt(core, name, &e);
            Outcome::Done
        }
        Ok(items) => {
            let parts: Vec<&[u8]> = items.iter().map(|(_, p)| *p).collect();
            let mut outcome = Outcome::Done;
            for (i, (item, _)) in items.into_iter().enumerate() {
                if let Err(why) = consume_one(core, item) {
                    let mode = *core.error_mode.lock();
                    log::error!(
                        "queue {}: the consumer failed on {name} ({mode:?}): {why}",
                        core.cfg.path
                    );
                    if mode == ErrorMode::Requeue {
                        // Only what was not consumed goes back.
                        outcome = Outcome::Requeue(serializer::encode(parts[i..].iter().copied())?);
                        break;
                    }
                }
            }
            outcome
        }
    };
    finish(core, name, &item, stat.version, (&lock_p, session), outcome);
    Ok(())
}

/// Deletes (or requeues) an item that was handed over, and its lock; keeps trying until done,
/// even while the queue closes, as long as the client is open (see the module docs).
fn finish<T: Send + Sync + 'static>(
    core: &QueueCore<T>,
    name: &str,
    item: &str,
    version: i32,
    (lock_p, session): (&str, i64),
    outcome: Outcome,
) {
    let client = &core.cfg.client;
    // Without the lock once its session is gone (a node there now is someone else's).
    let mut with_lock = session_id(client) == session;
    let mut backoff = Duration::from_millis(50);
    loop {
        let r = closing_ops(core, name, item, version, lock_p, &outcome, with_lock)
            .and_then(|ops| client.transaction().for_operations(ops));
        match r {
            Ok(_) if with_lock => return, // the lock went in the same transaction
            Ok(_) => break,
            Err(Error::NoNode { path, .. }) if with_lock && path == lock_p => {
                // The lock went with its session: finish without it.
                with_lock = false;
                continue;
            }
            Err(e) if with_lock && e.is_retryable() && session_id(client) != session => {
                with_lock = false;
                continue;
            }
            Err(Error::NoNode { .. }) | Err(Error::BadVersion { .. }) => {
                // Applied by an earlier attempt whose reply was lost, or the item is no
                // longer ours: nothing left to do for it.
                break;
            }
            Err(e) if e.is_retryable() || matches!(e, Error::Timeout) => {
                if client.state() != CuratorFrameworkState::Started {
                    log::warn!(
                        "queue {}: closed before {name} could be deleted",
                        core.cfg.path
                    );
                    return;
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
            Err(e) => {
                log::error!("queue {}: cannot delete {name}: {e}", core.cfg.path);
                break;
            }
        }
    }
    unlock(client, lock_p, session);
}

fn closing_ops<T>(
    core: &QueueCore<T>,
    name: &str,
    item: &str,
    version: i32,
    lock_p: &str,
    outcome: &Outcome,
    with_lock: bool,
) -> Result<Vec<crate::framework::CuratorOp>> {
    let t = core.cfg.client.transaction_op();
    let mut ops = vec![t.delete().with_version(version).for_path(item)?];
    if let Outcome::Requeue(bytes) = outcome {
        let base = path::make_path(&core.cfg.path, names::requeue_base(name));
        ops.push(
            t.create()
                .with_mode(CreateMode::PersistentSequential)
                .for_path_with_data(&base, bytes)?,
        );
    }
    if with_lock {
        ops.push(t.delete().for_path(lock_p)?);
    }
    Ok(ops)
}

/// The id queue's `remove` with a lock path: takes the item's lock (with a token of its
/// own: the consumer of this very queue may hold it), deletes the item, drops the lock.
pub(crate) fn remove_locked<T>(core: &QueueCore<T>, name: &str) -> Result<bool> {
    let client = &core.cfg.client;
    let Some(lock_p) = lock_path_of(core, name) else {
        return Ok(false);
    };
    let token = crate::framework::protection::new_protected_id();
    match lock(client, &lock_p, &token)? {
        Lock::Busy => Ok(false),
        Lock::Held(session) => {
            let r = client.delete().for_path(&item_path(core, name));
            unlock(client, &lock_p, session);
            match r {
                Ok(()) => Ok(true),
                Err(Error::NoNode { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        }
    }
}
