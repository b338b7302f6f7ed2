//! A request between the moment it is handed to the session and the moment its outcome is
//! delivered: the FIFO entry ([`Pending`]), the way its outcome travels ([`Completion`]: a
//! one-shot slot for a blocked caller, or a callback for the event thread), and the watch it
//! registers if it succeeds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::events::{EventDispatcher, EventItem};
use super::registry::WatchKind;
use super::watcher::SharedWatcher;
use crate::error::{Error, Result};
use crate::proto::{OpCode, Response};

/// The outcome of one request as the I/O thread sees it. Server errors carry no path yet:
/// the caller, who knows the client-side path, fills it in.
pub(crate) type Reply = Result<Response>;

/// Where a synchronous caller waits for its reply. The I/O thread fills it directly: a sync
/// call never goes through the event thread, so a watcher may make one.
#[derive(Default)]
pub(crate) struct OneShot {
    slot: Mutex<Option<Reply>>,
    cv: Condvar,
    /// The caller gave up waiting: do not send the request if it is still queued.
    abandoned: AtomicBool,
    /// The request reached the socket.
    sent: AtomicBool,
}

impl OneShot {
    pub fn new() -> Arc<OneShot> {
        Arc::new(OneShot::default())
    }

    pub fn complete(&self, r: Reply) {
        *self.slot.lock() = Some(r);
        self.cv.notify_one();
    }

    /// Waits for the reply. On timeout the request is abandoned: `ConnectionLoss` if it never
    /// reached a server, `RequestTimeout` if it was sent and no reply came.
    pub fn wait(&self, timeout: Duration) -> Reply {
        let deadline = Instant::now() + timeout;
        let mut slot = self.slot.lock();
        loop {
            if let Some(r) = slot.take() {
                return r;
            }
            if self.cv.wait_until(&mut slot, deadline).timed_out() {
                if let Some(r) = slot.take() {
                    return r;
                }
                self.abandoned.store(true, Ordering::Release);
                return Err(if self.sent.load(Ordering::Acquire) {
                    Error::RequestTimeout
                } else {
                    Error::ConnectionLoss
                });
            }
        }
    }

    pub fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }

    pub fn mark_sent(&self) {
        self.sent.store(true, Ordering::Release);
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
    pub fn complete(self, reply: Reply, events: &EventDispatcher) {
        let mut direct = events;
        self.complete_into(reply, &mut direct);
    }

    /// The same, through `sink` (the I/O thread batches event-thread items).
    pub fn complete_into(self, reply: Reply, sink: &mut dyn Sink) {
        match self {
            Completion::Sync(s) => {
                sink.before_wake();
                s.complete(reply)
            }
            Completion::Async(cb) => sink.push(EventItem::Complete(cb, reply)),
        }
    }

    pub fn is_abandoned(&self) -> bool {
        matches!(self, Completion::Sync(s) if s.is_abandoned())
    }

    pub fn mark_sent(&self) {
        if let Completion::Sync(s) = self {
            s.mark_sent();
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

    #[test]
    fn oneshot_timeout_says_whether_the_request_was_sent() {
        let s = OneShot::new();
        assert!(matches!(
            s.wait(Duration::from_millis(10)),
            Err(Error::ConnectionLoss)
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
