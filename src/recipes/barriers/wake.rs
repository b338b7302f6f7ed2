//! [`Wake`]: how a barrier wait sleeps until something may have changed: a watch fired or the
//! connection state changed. A generation counter, read before the server is asked and waited
//! on after, so that a wake-up between the two is never lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::framework::{ConnectionState, CuratorFramework, CuratorFrameworkState, ListenerId};
use crate::session::{SharedWatcher, WatchedEvent};

/// A wake-up source for one wait: a watcher to set on the nodes it reads, and a
/// connection-state listener that lives as long as the `Wake`.
pub(super) struct Wake {
    signal: Arc<Signal>,
    watcher: SharedWatcher,
    client: CuratorFramework,
    listener: ListenerId,
}

#[derive(Default)]
struct Signal {
    generation: Mutex<u64>,
    cv: Condvar,
}

impl Signal {
    fn bump(&self) {
        *self.generation.lock() += 1;
        self.cv.notify_all();
    }
}

impl Wake {
    pub(super) fn new(client: &CuratorFramework) -> Wake {
        let signal = Arc::new(Signal::default());
        let s = signal.clone();
        let watcher = SharedWatcher::new(move |_e: &WatchedEvent| s.bump());
        let s = signal.clone();
        let listener = client
            .connection_state_listenable()
            .add_listener(move |_c: &CuratorFramework, _s: ConnectionState| s.bump());
        Wake {
            signal,
            watcher,
            client: client.clone(),
            listener,
        }
    }

    /// The watcher to set on what the wait reads.
    pub(super) fn watcher(&self) -> SharedWatcher {
        self.watcher.clone()
    }

    /// The current generation: read it before asking the server.
    pub(super) fn generation(&self) -> u64 {
        *self.signal.generation.lock()
    }

    /// Waits until the generation moves past `seen`: `Ok(false)` at `deadline`,
    /// `Err(Closed)` once the client is closed.
    pub(super) fn wait_past(&self, seen: u64, deadline: Option<Instant>) -> Result<bool> {
        let mut g = self.signal.generation.lock();
        loop {
            if *g != seen {
                return Ok(true);
            }
            if self.client.state() == CuratorFrameworkState::Stopped {
                return Err(Error::Closed);
            }
            // In slices, to notice a closed client (which sends no state change).
            let slice = Instant::now() + Duration::from_millis(500);
            let until = match deadline {
                Some(d) if d <= Instant::now() => return Ok(false),
                Some(d) => d.min(slice),
                None => slice,
            };
            let _ = self.signal.cv.wait_until(&mut g, until);
        }
    }
}

impl Wake {
    /// After a connection error: waits for a state change, or a second, whichever comes
    /// first; `Ok(false)` only once `deadline` has passed.
    pub(super) fn backoff(&self, seen: u64, deadline: Option<Instant>) -> Result<bool> {
        let pause = Instant::now() + Duration::from_secs(1);
        let until = deadline.map_or(pause, |d| d.min(pause));
        if self.wait_past(seen, Some(until))? {
            return Ok(true);
        }
        Ok(deadline.is_none_or(|d| Instant::now() < d))
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        self.client
            .connection_state_listenable()
            .remove_listener(self.listener);
    }
}

/// `now + timeout`, or none when it does not fit (wait forever).
pub(super) fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}
