//! The event thread (`zk-event`): one per client, it drains an unbounded crossbeam channel
//! and runs, strictly in the order they were queued, watch notifications, completions of
//! callback-style operations and connection-state events.
//!
//! The channel never drops an item: order and completeness are the whole point (some clients
//! drop state events when a small queue fills; this one cannot). Every user callback runs
//! inside `catch_unwind`; a panic is logged with `log::error!`, counted, and the thread goes
//! on. No crate lock is held while user code runs, so a callback may call the client, even
//! synchronously, and may close it. A callback that holds the thread longer than a threshold
//! is reported and counted while it runs (see `stall`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, Sender};
use parking_lot::Mutex;

use super::stall::{self, Monitor};
use super::watcher::{SharedWatcher, WatchedEvent, Watcher};
use crate::error::{Error, Result};
use crate::proto::Response;

/// The outcome of one request as the I/O thread sees it. Server errors carry no path yet:
/// the caller, who knows the client-side path, fills it in.
pub(crate) type Reply = Result<Response>;

/// What a session's sender does when the callback that corked it returns: write what it
/// buffered. A trait, so that the cork list lives here, below the session that implements it.
pub(crate) trait Flush: Send + Sync {
    /// Writes what asynchronous requests left buffered.
    fn flush(&self);
}

thread_local! {
    /// On an event thread: the sessions whose asynchronous requests wait for the end of the
    /// current callback to be flushed (see `shared::send`).
    static CORKED: std::cell::RefCell<Option<Vec<std::sync::Weak<dyn Flush>>>> =
        const { std::cell::RefCell::new(None) };
}

/// Makes the calling thread (an event thread) cork asynchronous requests until
/// [`flush_corked`].
fn cork_this_thread() {
    CORKED.with(|c| *c.borrow_mut() = Some(Vec::new()));
}

/// Flushes what callbacks on this thread sent asynchronously.
fn flush_corked() {
    let corked = CORKED.with(|c| c.borrow_mut().as_mut().map(std::mem::take));
    for session in corked.into_iter().flatten() {
        if let Some(session) = session.upgrade() {
            session.flush();
        }
    }
}

/// On a corked thread (the event thread, in a callback), remembers `session` for a flush when
/// the callback returns and gives true; elsewhere false: the caller flushes now.
pub(crate) fn cork(session: &std::sync::Weak<impl Flush + 'static>) -> bool {
    CORKED.with(|c| {
        let mut c = c.borrow_mut();
        let Some(list) = c.as_mut() else {
            return false;
        };
        let session: std::sync::Weak<dyn Flush> = session.clone();
        if !list.iter().any(|w| w.ptr_eq(&session)) {
            list.push(session);
        }
        true
    })
}

/// One unit of work for the event thread.
pub(crate) enum EventItem {
    /// Call every watcher with the event.
    Watch {
        event: WatchedEvent,
        watchers: Vec<SharedWatcher>,
    },
    /// Run a closure (a state listener, a posted task, ...).
    Call(Box<dyn FnOnce() + Send>),
    /// Complete a callback-style request with its reply (one allocation fewer than a
    /// closure capturing both).
    Complete(Box<dyn FnOnce(Reply) + Send>, Reply),
    /// Several items in order: what the I/O thread decoded from one read, sent with one
    /// wake-up of the event thread instead of one per frame.
    Batch(Vec<EventItem>),
    /// Leave the loop once everything before this item has run.
    Stop,
}

/// A handle to an event thread: the single thread on which a client calls watchers and
/// callbacks, in order.
///
/// Every [`ZooKeeper`](crate::ZooKeeper) handle starts its own unless it is given one with
/// [`ZooKeeperBuilder::event_dispatcher`](crate::ZooKeeperBuilder::event_dispatcher); the
/// framework shares one across the successive handles it creates after a session expires, so
/// that events of the old session, the state changes and events of the new session come out
/// of one thread in one order. Cloning is cheap; the thread stops when the last clone is
/// dropped or [`shutdown`](EventDispatcher::shutdown) is called, after running what was
/// already queued.
///
/// ```
/// use std::sync::mpsc;
/// use zk_curator::EventDispatcher;
/// let d = EventDispatcher::start().unwrap();
/// let (tx, rx) = mpsc::channel();
/// for i in 0..3 {
///     let tx = tx.clone();
///     d.post(move || tx.send(i).unwrap());
/// }
/// d.post(|| panic!("caught, logged, counted"));
/// d.shutdown();
/// assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
/// assert_eq!(d.panic_count(), 1);
/// ```
///
/// # A callback that holds the thread
///
/// Everything behind a slow callback waits for it, state changes included. A callback that
/// runs longer than the [stall threshold](EventDispatcher::set_stall_threshold) (1 s by
/// default) is reported while it runs, once, with `log::warn!` naming it (a watcher's event
/// type and path) and how long it has held the thread, and counted in
/// [`stall_count`](EventDispatcher::stall_count). Meanwhile the connection's true state is
/// still readable at once: [`ZooKeeper::state`](crate::ZooKeeper::state),
/// [`CuratorFramework::is_connected`](crate::CuratorFramework::is_connected).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::EventDispatcher;
/// let d = EventDispatcher::start().unwrap();
/// d.set_stall_threshold(Duration::from_millis(50));
/// d.post(|| std::thread::sleep(Duration::from_millis(500)));
/// d.shutdown(); // waits for the sleeping callback
/// assert_eq!(d.stall_count(), 1);
/// ```
#[derive(Clone)]
pub struct EventDispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    tx: Sender<EventItem>,
    thread: Mutex<Option<JoinHandle<()>>>,
    thread_id: ThreadId,
    panics: Arc<AtomicU64>,
    monitor: Arc<Monitor>,
}

impl EventDispatcher {
    /// Starts a new event thread named `zk-event`.
    pub fn start() -> Result<EventDispatcher> {
        let (tx, rx) = unbounded();
        let panics = Arc::new(AtomicU64::new(0));
        let p = panics.clone();
        let monitor = Monitor::start();
        let m = monitor.clone();
        let handle = thread::Builder::new()
            .name("zk-event".into())
            .spawn(move || run(rx, p, m))
            .map_err(|e| {
                monitor.stop();
                Error::from(e)
            })?;
        let thread_id = handle.thread().id();
        Ok(EventDispatcher {
            inner: Arc::new(Inner {
                tx,
                thread: Mutex::new(Some(handle)),
                thread_id,
                panics,
                monitor,
            }),
        })
    }

    /// Queues a closure to run on the event thread after everything queued before it. A
    /// closure posted after shutdown is dropped without running.
    pub fn post(&self, f: impl FnOnce() + Send + 'static) {
        self.send(EventItem::Call(Box::new(f)));
    }

    /// How many callbacks have panicked on this thread so far.
    pub fn panic_count(&self) -> u64 {
        self.inner.panics.load(Ordering::Relaxed)
    }

    /// How many callbacks have held this thread longer than the
    /// [stall threshold](Self::set_stall_threshold) so far (each counted once, while it
    /// runs).
    pub fn stall_count(&self) -> u64 {
        self.inner.monitor.stalls()
    }

    /// Sets how long a callback may hold this thread before it is reported (`log::warn!`)
    /// and counted (default 1 s; noticed within a quarter of it, at most 250 ms late).
    pub fn set_stall_threshold(&self, threshold: Duration) {
        self.inner.monitor.set_threshold(threshold);
    }

    /// The current stall threshold.
    pub fn stall_threshold(&self) -> Duration {
        self.inner.monitor.threshold()
    }

    /// True when called from this dispatcher's event thread.
    pub fn is_event_thread(&self) -> bool {
        thread::current().id() == self.inner.thread_id
    }

    /// Runs what is queued, then stops the thread and waits for it, unless called from the
    /// event thread itself (then the thread stops after the current callback returns).
    /// Idempotent.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }

    /// True if `other` is this dispatcher (a clone of it).
    pub(crate) fn same_as(&self, other: &EventDispatcher) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn send(&self, item: EventItem) {
        // The receiver lives as long as the thread; once it is gone, dropping the item is
        // all that can be done (it can only happen after shutdown).
        let _ = self.inner.tx.send(item);
    }
}

impl Inner {
    fn shutdown(&self) {
        let handle = self.thread.lock().take();
        if let Some(h) = handle {
            let _ = self.tx.send(EventItem::Stop);
            if thread::current().id() != self.thread_id {
                let _ = h.join();
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for EventDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventDispatcher")
            .field("thread", &self.inner.thread_id)
            .field("panics", &self.panic_count())
            .field("stalls", &self.stall_count())
            .finish()
    }
}

fn run(rx: Receiver<EventItem>, panics: Arc<AtomicU64>, monitor: Arc<Monitor>) {
    // Asynchronous requests made by callbacks go out when the callback (or the batch of
    // completions it belongs to) is done: one write for many.
    cork_this_thread();
    while let Ok(item) = rx.recv() {
        let go_on = dispatch(item, &panics, &monitor);
        flush_corked();
        if !go_on {
            break;
        }
    }
    monitor.stop();
    log::debug!("event thread stopped");
}

/// Runs one item; false on Stop.
fn dispatch(item: EventItem, panics: &AtomicU64, monitor: &Monitor) -> bool {
    match item {
        EventItem::Watch { event, watchers } => {
            let what = (
                event.event_type(),
                event.state(),
                event.path().unwrap_or(""),
            );
            for w in &watchers {
                monitor.enter(stall::WATCHER, Some(what));
                guarded(panics, "watcher", || w.process(&event));
                monitor.leave();
            }
        }
        EventItem::Call(f) => {
            monitor.enter(stall::POSTED, None);
            guarded(panics, "callback", f);
            monitor.leave();
        }
        EventItem::Complete(f, reply) => {
            monitor.enter(stall::BACKGROUND, None);
            guarded(panics, "callback", move || f(reply));
            monitor.leave();
        }
        EventItem::Batch(items) => {
            let mut go_on = true;
            for i in items {
                if go_on {
                    go_on = dispatch(i, panics, monitor);
                }
            }
            return go_on;
        }
        EventItem::Stop => return false,
    }
    true
}

/// Runs user code, catching a panic: logged, counted, never fatal to the calling thread.
/// Returns the panic message if it panicked.
pub(crate) fn guarded(panics: &AtomicU64, what: &str, f: impl FnOnce()) -> Option<String> {
    let payload = catch_unwind(AssertUnwindSafe(f)).err()?;
    panics.fetch_add(1, Ordering::Relaxed);
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string());
    log::error!("a {what} panicked: {msg}");
    Some(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::KeeperState;
    use std::sync::mpsc;

    #[test]
    fn watch_items_call_every_watcher_in_order() {
        let d = EventDispatcher::start().unwrap();
        let (tx, rx) = mpsc::channel();
        let mut ws = Vec::new();
        for i in 0..3 {
            let tx = tx.clone();
            ws.push(SharedWatcher::new(move |e: &WatchedEvent| {
                tx.send((i, e.state())).unwrap();
            }));
        }
        d.send(EventItem::Watch {
            event: WatchedEvent::state_change(KeeperState::Disconnected),
            watchers: ws,
        });
        d.shutdown();
        let got: Vec<_> = rx.try_iter().collect();
        assert_eq!(
            got,
            vec![
                (0, KeeperState::Disconnected),
                (1, KeeperState::Disconnected),
                (2, KeeperState::Disconnected)
            ]
        );
    }

    #[test]
    fn shutdown_from_the_event_thread_does_not_deadlock() {
        let d = EventDispatcher::start().unwrap();
        let d2 = d.clone();
        let (tx, rx) = mpsc::channel();
        d.post(move || {
            assert!(d2.is_event_thread());
            d2.shutdown();
            tx.send(()).unwrap();
        });
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(!d.is_event_thread());
        d.shutdown();
    }

    #[test]
    fn a_panic_is_counted_and_later_items_still_run() {
        let d = EventDispatcher::start().unwrap();
        let (tx, rx) = mpsc::channel();
        d.post(|| panic!("boom"));
        d.post(|| std::panic::panic_any(42u8));
        d.post(move || tx.send("after").unwrap());
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "after");
        assert_eq!(d.panic_count(), 2);
    }

    #[test]
    fn dropping_the_last_handle_stops_the_thread() {
        let d = EventDispatcher::start().unwrap();
        let (tx, rx) = mpsc::channel::<()>();
        d.post(move || drop(tx));
        drop(d);
        // The closure ran (sender dropped) and the thread is gone.
        assert!(rx.recv_timeout(Duration::from_secs(5)).is_err());
    }
}
