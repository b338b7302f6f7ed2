//! Collecting watch events in tests: every wait has a deadline, and a missing event fails with
//! what did arrive.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use zk_curator::{EventType, KeeperState, SharedWatcher, WatchedEvent};

/// How long a test waits for an event that must come.
pub const WAIT: Duration = Duration::from_secs(10);

/// A queue of watch events fed by one or more watchers.
pub struct Events {
    tx: Sender<WatchedEvent>,
    rx: Receiver<WatchedEvent>,
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

impl Events {
    pub fn new() -> Events {
        let (tx, rx) = channel();
        Events { tx, rx }
    }

    /// A watcher closure that records into this queue.
    pub fn watcher(&self) -> impl Fn(&WatchedEvent) + Send + Sync + 'static {
        let tx = self.tx.clone();
        move |e: &WatchedEvent| {
            let _ = tx.send(e.clone());
        }
    }

    /// The same as a [`SharedWatcher`] (one identity, registered as often as needed).
    pub fn shared(&self) -> SharedWatcher {
        SharedWatcher::new(self.watcher())
    }

    /// The next event, or `None` after `d`.
    pub fn next_within(&self, d: Duration) -> Option<WatchedEvent> {
        match self.rx.recv_timeout(d) {
            Ok(e) => Some(e),
            Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => None,
        }
    }

    /// The next event; panics after [`WAIT`].
    pub fn next(&self) -> WatchedEvent {
        self.next_within(WAIT)
            .unwrap_or_else(|| panic!("no event within {WAIT:?}"))
    }

    /// The next node event (state changes skipped); panics after [`WAIT`].
    pub fn next_node(&self) -> WatchedEvent {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_within(left) {
                Some(e) if e.event_type() == EventType::None => continue,
                Some(e) => return e,
                None => panic!("no node event within {WAIT:?}"),
            }
        }
    }

    /// Asserts the next node event is `t` on `path`.
    pub fn expect(&self, t: EventType, path: &str) {
        let e = self.next_node();
        assert_eq!(
            (e.event_type(), e.path()),
            (t, Some(path)),
            "expected {t:?} on {path}, got {e}"
        );
    }

    /// Waits for the state change `s`, skipping node events and other states.
    pub fn expect_state(&self, s: KeeperState) {
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_within(left) {
                Some(e) if e.event_type() == EventType::None && e.state() == s => return,
                Some(e) => seen.push(e.to_string()),
                None => panic!("no {s:?} within {WAIT:?}; saw {seen:?}"),
            }
        }
    }

    /// Asserts no event arrives for `d` (a bounded negative check).
    pub fn expect_none(&self, d: Duration) {
        if let Some(e) = self.next_within(d) {
            panic!("unexpected event {e}");
        }
    }

    /// Everything queued right now.
    pub fn drain(&self) -> Vec<WatchedEvent> {
        self.rx.try_iter().collect()
    }
}
