//! Noticing a callback that holds an event thread too long.
//!
//! Ordering on the event thread is the contract, so a watcher or listener that blocks (a
//! sleep, a lock, a synchronous call to something slow) holds up every event, callback and
//! state change queued behind it, silently: the connection-state listeners hear SUSPENDED
//! and RECONNECTED late, caches lag. This module says so while it happens.
//!
//! Each event thread has a [`Monitor`]. Before each callback the thread writes what it is
//! about to run (a kind, the event's type and path, in a reused buffer: no allocation, no
//! clock reading) and a generation number; after it, a zero. One process-wide watchdog
//! thread (`zk-watchdog`, started with the first event thread, gone a pass after the last
//! one stops) samples every monitor a few times a second: a generation seen running for
//! longer than the monitor's threshold (default 1 s) is reported once, with `log::warn!`
//! naming the callback and how long it has held the thread, and counted
//! ([`EventDispatcher::stall_count`](super::EventDispatcher::stall_count)); when it returns,
//! `log::info!` says after how long. The times are the watchdog's: good to its period.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::proto::{EventType, KeeperState};

/// The threshold a new event thread starts with.
pub(crate) const DEFAULT_THRESHOLD: Duration = Duration::from_secs(1);

/// The longest the watchdog sleeps between two looks.
const MAX_PERIOD: Duration = Duration::from_millis(250);

/// The watch event an event thread is running a watcher for (written before each watcher;
/// other callbacks only set [`Monitor::kind`]).
#[derive(Default)]
struct Running {
    generation: u64,
    event: Option<(EventType, KeeperState)>,
    path: String,
}

/// What a callback is, by index into [`KINDS`].
pub(crate) const WATCHER: u8 = 0;
pub(crate) const POSTED: u8 = 1;
pub(crate) const BACKGROUND: u8 = 2;
const KINDS: [&str; 3] = ["a watcher", "a posted callback", "a background callback"];

/// The watchdog's own notes on one monitor.
#[derive(Default)]
struct Seen {
    generation: u64,
    since: Option<Instant>,
    reported: bool,
}

/// Shared between one event thread and the watchdog.
pub(crate) struct Monitor {
    /// The generation of the callback running now; 0 when none is.
    current: AtomicU64,
    /// Incremented by the event thread only.
    next: AtomicU64,
    kind: AtomicU8,
    running: Mutex<Running>,
    threshold_us: AtomicU64,
    stalls: AtomicU64,
    stopped: AtomicBool,
    seen: Mutex<Seen>,
}

impl Monitor {
    /// A monitor, watched from now on.
    pub(crate) fn start() -> Arc<Monitor> {
        let m = Monitor::new();
        watch(&m);
        m
    }

    fn new() -> Arc<Monitor> {
        Arc::new(Monitor {
            current: AtomicU64::new(0),
            next: AtomicU64::new(0),
            kind: AtomicU8::new(POSTED),
            running: Mutex::new(Running::default()),
            threshold_us: AtomicU64::new(DEFAULT_THRESHOLD.as_micros() as u64),
            stalls: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            seen: Mutex::new(Seen::default()),
        })
    }

    /// Called by the event thread before a callback: what it is about to run (`kind`, and
    /// for a watcher the event).
    pub(crate) fn enter(&self, kind: u8, event: Option<(EventType, KeeperState, &str)>) {
        let generation = self.next.load(Ordering::Relaxed) + 1;
        self.next.store(generation, Ordering::Relaxed);
        self.kind.store(kind, Ordering::Relaxed);
        if let Some((t, st, p)) = event {
            let mut r = self.running.lock();
            r.generation = generation;
            r.event = Some((t, st));
            r.path.clear();
            r.path.push_str(p);
        }
        self.current.store(generation, Ordering::Release);
    }

    /// Called by the event thread after the callback.
    pub(crate) fn leave(&self) {
        self.current.store(0, Ordering::Release);
    }

    pub(crate) fn set_threshold(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        self.threshold_us.store(us, Ordering::Relaxed);
    }

    pub(crate) fn threshold(&self) -> Duration {
        Duration::from_micros(self.threshold_us.load(Ordering::Relaxed))
    }

    pub(crate) fn stalls(&self) -> u64 {
        self.stalls.load(Ordering::Relaxed)
    }

    /// The event thread is gone: the watchdog forgets this monitor.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    fn describe(&self, generation: u64) -> String {
        let kind = self.kind.load(Ordering::Relaxed);
        let mut s = String::from(KINDS.get(kind as usize).copied().unwrap_or("a callback"));
        let r = self.running.lock();
        if kind != WATCHER || r.generation != generation {
            return s;
        }
        if let Some((t, st)) = r.event {
            if t == EventType::None {
                let _ = write!(s, " for the state change {st:?}");
            } else {
                let _ = write!(s, " for {t:?} on {}", r.path);
            }
        }
        s
    }

    /// One look by the watchdog at `now`.
    fn check(&self, now: Instant) {
        let current = self.current.load(Ordering::Acquire);
        let mut seen = self.seen.lock();
        if current != seen.generation {
            if seen.reported {
                if let Some(since) = seen.since {
                    log::info!(
                        "the event thread is free again after about {} ms",
                        now.saturating_duration_since(since).as_millis()
                    );
                }
            }
            *seen = Seen {
                generation: current,
                since: (current != 0).then_some(now),
                reported: false,
            };
            return;
        }
        let Some(since) = seen.since else { return };
        let held = now.saturating_duration_since(since);
        if seen.reported || held < self.threshold() {
            return;
        }
        seen.reported = true;
        drop(seen);
        self.stalls.fetch_add(1, Ordering::Relaxed);
        log::warn!(
            "{} has held the event thread for {} ms (threshold {} ms): every later watch \
             event, callback and connection-state change waits behind it; run slow work on \
             a WorkerPool",
            self.describe(current),
            held.as_millis(),
            self.threshold().as_millis()
        );
    }
}

/// The monitors the watchdog looks at, and whether it runs.
struct Registry {
    monitors: Vec<Weak<Monitor>>,
    running: bool,
}

static REGISTRY: Mutex<Registry> = parking_lot::const_mutex(Registry {
    monitors: Vec::new(),
    running: false,
});

fn watch(m: &Arc<Monitor>) {
    let mut reg = REGISTRY.lock();
    reg.monitors.push(Arc::downgrade(m));
    if reg.running {
        return;
    }
    match thread::Builder::new()
        .name("zk-watchdog".into())
        .spawn(watchdog)
    {
        Ok(_) => reg.running = true,
        Err(e) => log::warn!("cannot start the event-thread watchdog: {e}"),
    }
}

fn watchdog() {
    loop {
        let (monitors, period) = {
            let mut reg = REGISTRY.lock();
            reg.monitors.retain(|w| {
                w.upgrade()
                    .is_some_and(|m| !m.stopped.load(Ordering::Acquire))
            });
            if reg.monitors.is_empty() {
                reg.running = false;
                return;
            }
            let monitors: Vec<Arc<Monitor>> =
                reg.monitors.iter().filter_map(Weak::upgrade).collect();
            // A quarter of the smallest threshold, so a stall is seen within a quarter late.
            let period = monitors
                .iter()
                .map(|m| m.threshold() / 4)
                .min()
                .unwrap_or(MAX_PERIOD)
                .clamp(Duration::from_millis(5), MAX_PERIOD);
            (monitors, period)
        };
        let now = Instant::now();
        for m in &monitors {
            m.check(now);
        }
        drop(monitors);
        thread::sleep(period);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_callback_is_counted_once_and_a_short_one_never() {
        // Not watched: this test plays the watchdog with its own clock.
        let m = Monitor::new();
        m.set_threshold(Duration::from_millis(50));
        let t0 = Instant::now();
        m.enter(
            WATCHER,
            Some((EventType::NodeDataChanged, KeeperState::SyncConnected, "/a")),
        );
        m.check(t0);
        m.check(t0 + Duration::from_millis(20));
        assert_eq!(m.stalls(), 0);
        m.check(t0 + Duration::from_millis(60));
        m.check(t0 + Duration::from_millis(200));
        assert_eq!(m.stalls(), 1);
        assert_eq!(m.describe(1), "a watcher for NodeDataChanged on /a");
        m.leave();
        m.check(t0 + Duration::from_millis(210));
        // Short callbacks, one after the other, are never mistaken for one long one.
        for i in 0..10u64 {
            m.enter(BACKGROUND, None);
            m.check(t0 + Duration::from_millis(300 + 40 * i));
            m.leave();
        }
        assert_eq!(m.stalls(), 1);
        m.enter(
            WATCHER,
            Some((EventType::None, KeeperState::Disconnected, "")),
        );
        assert_eq!(
            m.describe(12),
            "a watcher for the state change Disconnected"
        );
        m.enter(POSTED, None);
        assert_eq!(m.describe(13), "a posted callback");
        m.stop();
    }
}
