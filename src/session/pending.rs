//! A request between the moment it is handed to the session and the moment its outcome is
//! delivered: the FIFO entry ([`Pending`]), the way its outcome travels ([`Completion`]: a
//! one-shot slot for a blocked caller, or a callback for the event thread), and the watch it
//! registers if it succeeds.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::events::{EventDispatcher, EventItem, Reply};
use super::registry::WatchKind;
use super::watcher::SharedWatcher;
use crate::error::Error;
use crate::proto::OpCode;

/// Where a synchronous caller waits for its reply. The I/O thread fills it directly: a sync
/// call never goes through the event thread, so a watcher may make one.
#[derive(Default)]
pub(crate) struct OneShot {
    slot: Mutex<Option<Reply>>,
    cv: Condvar,
    /// [`QUEUED`], [`SENT`] or [`ABANDONED`]: whoever moves it out of `QUEUED` first wins,
    /// so a request the caller gave up on is never sent, and one that was sent is never
    /// reported as unsent.
    progress: AtomicU8,
}

/// Not on the wire yet (queued while disconnected, or about to be written).
const QUEUED: u8 = 0;
/// Reached the socket.
const SENT: u8 = 1;
/// The caller gave up before it was sent: do not send it.
const ABANDONED: u8 = 2;

impl OneShot {
    pub(crate) fn new() -> Arc<OneShot> {
        Arc::new(OneShot::default())
    }

    pub(crate) fn complete(&self, r: Reply) {
        *self.slot.lock() = Some(r);
        self.cv.notify_one();
    }

    /// Waits for the reply. On timeout the request is abandoned: `ConnectionLoss` if it never
    /// reached a server, `RequestTimeout` if it was sent and no reply came.
    pub(crate) fn wait(&self, timeout: Duration) -> Reply {
        self.wait_until(Instant::now().checked_add(timeout), None)
    }

    /// Waits for the reply until `reply_by` (`None`: no limit), giving up already at
    /// `send_by` if the request has not been sent by then (it waits for a connection).
    pub(crate) fn wait_until(&self, reply_by: Option<Instant>, send_by: Option<Instant>) -> Reply {
        let mut slot = self.slot.lock();
        loop {
            if let Some(r) = slot.take() {
                return r;
            }
            let sent = self.was_sent();
            let until = match (reply_by, send_by) {
                (Some(r), Some(s)) if !sent => Some(r.min(s)),
                (None, Some(s)) if !sent => Some(s),
                (r, _) => r,
            };
            let timed_out = match until {
                Some(t) => self.cv.wait_until(&mut slot, t).timed_out(),
                None => {
                    // Wakes now and then to re-check a send deadline that may apply later.
                    self.cv.wait_for(&mut slot, Duration::from_secs(3600));
                    false
                }
            };
            if !timed_out {
                continue;
            }
            if let Some(r) = slot.take() {
                return r;
            }
            if self.abandon() {
                return Err(Error::CONNECTION_LOSS);
            }
            // Sent meanwhile: only the reply deadline ends the wait now.
            if reply_by.is_some_and(|r| Instant::now() >= r) {
                return Err(Error::RequestTimeout);
            }
        }
    }

    pub(crate) fn is_abandoned(&self) -> bool {
        self.progress.load(Ordering::Acquire) == ABANDONED
    }

    pub(crate) fn was_sent(&self) -> bool {
        self.progress.load(Ordering::Acquire) == SENT
    }

    /// The request is going onto the wire; false if the caller gave up first (then it
    /// must not be sent).
    pub(crate) fn mark_sent(&self) -> bool {
        self.progress
            .compare_exchange(QUEUED, SENT, Ordering::AcqRel, Ordering::Acquire)
            .map_or_else(|now| now == SENT, |_| true)
    }

    /// Gives up on an unsent request; false if it was sent already.
    fn abandon(&self) -> bool {
        self.progress
            .compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
            .map_or_else(|now| now == ABANDONED, |_| true)
    }
}

/// Where event-thread items go: straight to the event thread, or into the I/O thread's
/// batch.
pub(crate) trait Sink {
    /// Queues an item for the event thread.
    fn push(&mut self, item: EventItem);
    /// A synchronous caller is about to be woken: make everything queued so far visible
    /// to the event thread first.
    fn before_wake(&mut self) {}
}

impl Sink for &EventDispatcher {
    fn push(&mut self, item: EventItem) {
        self.send(item);
    }
}

/// How the outcome of a request reaches its owner.
pub(crate) enum Completion {
    /// A blocked caller.
    Sync(Arc<OneShot>),
    /// A callback run on the event thread, in order with notifications.
    Async(Box<dyn FnOnce(Reply) + Send>),
}

impl Completion {
    /// Delivers the outcome: to the waiting caller at once, or as an event-thread item.
    pub(crate) fn complete(self, reply: Reply, events: &EventDispatcher) {
        let mut direct = events;
        self.complete_into(reply, &mut direct);
    }

    /// The same, through `sink` (the I/O thread batches event-thread items).
    pub(crate) fn complete_into(self, reply: Reply, sink: &mut dyn Sink) {
        match self {
            Completion::Sync(s) => {
                sink.before_wake();
                s.complete(reply)
            }
            Completion::Async(cb) => sink.push(EventItem::Complete(cb, reply)),
        }
    }

    pub(crate) fn is_abandoned(&self) -> bool {
        matches!(self, Completion::Sync(s) if s.is_abandoned())
    }

    /// The request is going onto the wire; false if its synchronous caller gave up
    /// first (then it must not be sent).
    pub(crate) fn mark_sent(&self) -> bool {
        match self {
            Completion::Sync(s) => s.mark_sent(),
            Completion::Async(_) => true,
        }
    }
}

/// A watch to register when the request succeeds.
pub(crate) struct WatchReg {
    /// The kind registered on success.
    pub on_ok: WatchKind,
    /// exists also registers (an exist watch) when the node is missing.
    pub on_no_node: Option<WatchKind>,
    /// Server form (chroot included).
    pub path: String,
    pub watcher: SharedWatcher,
    /// Counts the request as a watched request in flight until it is dropped.
    pub _inflight: super::registry::InFlightGuard,
}

/// A request on the wire, waiting for its reply (the FIFO entry).
pub(crate) struct Pending {
    pub xid: i32,
    pub op: OpCode,
    pub watch: Option<WatchReg>,
    pub completion: Completion,
}

/// A request made while disconnected: its frame is kept, the xid patched in at send time.
pub(crate) struct Queued {
    pub frame: Vec<u8>,
    pub op: OpCode,
    pub watch: Option<WatchReg>,
    pub completion: Completion,
    pub deadline: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Response;

    #[test]
    fn oneshot_timeout_says_whether_the_request_was_sent() {
        let s = OneShot::new();
        assert!(matches!(
            s.wait(Duration::from_millis(10)),
            Err(Error::ConnectionLoss { .. })
        ));
        assert!(s.is_abandoned());
        let s = OneShot::new();
        s.mark_sent();
        assert!(matches!(
            s.wait(Duration::from_millis(10)),
            Err(Error::RequestTimeout)
        ));
    }

    #[test]
    fn oneshot_gives_up_on_an_unsent_request_at_its_send_deadline() {
        let s = OneShot::new();
        let t = Instant::now();
        let r = s.wait_until(
            Some(t + Duration::from_secs(60)),
            Some(t + Duration::from_millis(20)),
        );
        assert!(matches!(r, Err(Error::ConnectionLoss { .. })), "{r:?}");
        assert!(t.elapsed() < Duration::from_secs(30));
        assert!(!s.mark_sent(), "an abandoned request is not sent");
        // Sent in time: the send deadline no longer applies, the reply deadline does.
        let s = OneShot::new();
        assert!(s.mark_sent());
        let t = Instant::now();
        let r = s.wait_until(
            Some(t + Duration::from_millis(50)),
            Some(t + Duration::from_millis(1)),
        );
        assert!(matches!(r, Err(Error::RequestTimeout)), "{r:?}");
        assert!(t.elapsed() >= Duration::from_millis(50));
        assert!(!s.abandon(), "a sent request cannot be abandoned");
    }

    #[test]
    fn oneshot_delivers_across_threads() {
        let s = OneShot::new();
        let s2 = s.clone();
        let t = std::thread::spawn(move || s2.complete(Ok(Response::Empty)));
        assert!(matches!(
            s.wait(Duration::from_secs(5)),
            Ok(Response::Empty)
        ));
        t.join().unwrap();
    }
}
