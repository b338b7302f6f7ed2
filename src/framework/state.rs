//! Connection states as Curator reports them ([`ConnectionState`]), the listeners that hear
//! them, the error policies recipes consult, and the manager that turns the handle's
//! `KeeperState` events into states.
//!
//! Rules (Curator's): the first read-write connection of a client is `Connected` (once per
//! lifetime; a read-only connection before it is reported as `ReadOnly`);
//! a lost connection is `Suspended` (unless already suspended or lost); a session expiry, a
//! replaced handle, or a suspension that lasted the negotiated session timeout (times the
//! simulated-expiration percentage) is `Lost`, and so is a handle that heard no server for
//! 4/3 of the negotiated timeout (its own rule, as the Java client's since 3.9.3: with a
//! read timeout of 2/3, that is 2/3 of the timeout after `Suspended`, whichever comes
//! first); connecting again after `Suspended` or `Lost` is
//! `Reconnected`; a read-only server gives `ReadOnly`. The same state twice in a row is
//! reported once. Unlike Curator, no state change is ever dropped: Curator's manager keeps
//! them in a 25-slot queue and drops the oldest when it fills.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::listen::{Listenable, ListenerId};
use super::CuratorFramework;
use crate::session::WorkerPool;

/// The connection state of a [`CuratorFramework`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// The first successful connection of this client (sent once in its lifetime).
    Connected,
    /// The connection was lost; the session may still be alive. Operations wait.
    Suspended,
    /// Connected again after `Suspended` or `Lost`.
    Reconnected,
    /// The session is gone (expired, or presumed expired after staying suspended for the
    /// session timeout); ephemeral nodes and watches of the old session are gone. A new
    /// session is being created.
    Lost,
    /// Connected to a read-only server (needs `can_be_read_only`).
    ReadOnly,
}

impl ConnectionState {
    /// True for `Connected`, `Reconnected` and `ReadOnly`.
    pub fn is_connected(self) -> bool {
        matches!(
            self,
            ConnectionState::Connected | ConnectionState::Reconnected | ConnectionState::ReadOnly
        )
    }
}

/// Hears connection state changes.
///
/// Implemented for every `Fn(&CuratorFramework, ConnectionState) + Send + Sync + 'static`.
/// A type of yours can also opt out of circuit breaking:
///
/// ```
/// use zk_curator::framework::{ConnectionState, ConnectionStateListener, CuratorFramework};
/// /// Must see every change, even when the client breaks circuits for the other listeners.
/// struct Audit;
/// impl ConnectionStateListener for Audit {
///     fn state_changed(&self, _client: &CuratorFramework, state: ConnectionState) {
///         println!("{state:?}");
///     }
///     fn do_not_proxy(&self) -> bool {
///         true
///     }
/// }
/// ```
pub trait ConnectionStateListener: Send + Sync + 'static {
    /// Called once per state change, in order.
    fn state_changed(&self, client: &CuratorFramework, new_state: ConnectionState);

    /// True if this listener must hear every change directly even when the client was
    /// built with [`circuit_breaking`](super::ConnectionStateListenerManagerFactory::circuit_breaking)
    /// (Curator's `doNotProxy()`). Default false.
    fn do_not_proxy(&self) -> bool {
        false
    }
}

impl<F> ConnectionStateListener for F
where
    F: Fn(&CuratorFramework, ConnectionState) + Send + Sync + 'static,
{
    fn state_changed(&self, client: &CuratorFramework, new_state: ConnectionState) {
        self(client, new_state)
    }
}

impl Listenable<dyn ConnectionStateListener> {
    /// Adds a listener called on the event thread, in order with watch notifications.
    pub fn add_listener(
        &self,
        l: impl Fn(&CuratorFramework, ConnectionState) + Send + Sync + 'static,
    ) -> ListenerId {
        self.add_arc(std::sync::Arc::new(l), None)
    }

    /// Adds a listener called on `pool` (its calls stay in order).
    pub fn add_listener_with_executor(
        &self,
        l: impl Fn(&CuratorFramework, ConnectionState) + Send + Sync + 'static,
        pool: &WorkerPool,
    ) -> ListenerId {
        self.add_arc(std::sync::Arc::new(l), Some(pool))
    }
}

/// Decides which states mean "I may no longer hold what the session gave me" (locks,
/// leadership). Recipes consult the client's policy.
pub trait ConnectionStateErrorPolicy: Send + Sync + 'static {
    /// True if `state` should be treated as an error.
    fn is_error_state(&self, state: ConnectionState) -> bool;
}

/// `Suspended` and `Lost` are errors (Curator's default).
#[derive(Debug, Clone, Copy, Default)]
pub struct StandardConnectionStateErrorPolicy;

impl ConnectionStateErrorPolicy for StandardConnectionStateErrorPolicy {
    fn is_error_state(&self, state: ConnectionState) -> bool {
        matches!(state, ConnectionState::Suspended | ConnectionState::Lost)
    }
}

/// Only `Lost` is an error: locks and leadership survive a short disconnection.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionConnectionStateErrorPolicy;

impl ConnectionStateErrorPolicy for SessionConnectionStateErrorPolicy {
    fn is_error_state(&self, state: ConnectionState) -> bool {
        state == ConnectionState::Lost
    }
}

/// The current state, as tracked by the manager.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Current {
    pub state: Option<ConnectionState>,
    /// When the current suspension began.
    pub suspended_since: Option<Instant>,
    /// A `Connected` has been reported.
    pub ever_connected: bool,
    /// The client is closed: nobody waits any more.
    pub closed: bool,
}

/// Tracks the state and wakes waiters; the framework calls the listeners.
pub(crate) struct StateManager {
    cur: Mutex<Current>,
    cv: Condvar,
    pub listeners: Listenable<dyn ConnectionStateListener>,
}

impl StateManager {
    pub(crate) fn new() -> StateManager {
        StateManager {
            cur: Mutex::new(Current {
                state: None,
                suspended_since: None,
                ever_connected: false,
                closed: false,
            }),
            cv: Condvar::new(),
            listeners: Listenable::default(),
        }
    }

    pub(crate) fn current(&self) -> Current {
        *self.cur.lock()
    }

    /// Applies a transition; returns the state to report, or `None` when it is a duplicate
    /// or not allowed (Suspended after Lost).
    pub(crate) fn transition(&self, to: ConnectionState) -> Option<ConnectionState> {
        let mut c = self.cur.lock();
        let report = match to {
            ConnectionState::Connected | ConnectionState::Reconnected => {
                if c.ever_connected {
                    if c.state.is_some_and(ConnectionState::is_connected)
                        && c.state != Some(ConnectionState::ReadOnly)
                    {
                        None
                    } else {
                        Some(ConnectionState::Reconnected)
                    }
                } else {
                    Some(ConnectionState::Connected)
                }
            }
            ConnectionState::Suspended => match c.state {
                Some(ConnectionState::Suspended) | Some(ConnectionState::Lost) => None,
                _ => Some(ConnectionState::Suspended),
            },
            ConnectionState::Lost => match c.state {
                Some(ConnectionState::Lost) => None,
                _ => Some(ConnectionState::Lost),
            },
            // Read-only counts as a negative state (as in Curator): it never uses up the
            // once-per-lifetime `Connected`, which goes to the first read-write connection.
            ConnectionState::ReadOnly => match c.state {
                Some(ConnectionState::ReadOnly) => None,
                _ => Some(ConnectionState::ReadOnly),
            },
        };
        if let Some(s) = report {
            c.state = Some(s);
            if s.is_connected() {
                if s != ConnectionState::ReadOnly {
                    c.ever_connected = true;
                }
                c.suspended_since = None;
            } else if s == ConnectionState::Suspended {
                c.suspended_since = Some(Instant::now());
            }
            self.cv.notify_all();
        }
        report
    }

    /// Waits until connected; false after `timeout`.
    pub(crate) fn wait_connected(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut c = self.cur.lock();
        loop {
            if c.state.is_some_and(ConnectionState::is_connected) {
                return true;
            }
            if c.closed {
                return false;
            }
            match deadline {
                Some(d) => {
                    if self.cv.wait_until(&mut c, d).timed_out() {
                        return c.state.is_some_and(ConnectionState::is_connected);
                    }
                }
                None => self.cv.wait(&mut c),
            }
        }
    }

    /// Marks the client closed and wakes every waiter.
    pub(crate) fn close(&self) {
        let mut c = self.cur.lock();
        c.closed = true;
        c.state = None;
        self.cv.notify_all();
    }
}

/// The connection-state listener a recipe keeps for its lifetime: added at start with its id
/// in the recipe's slot, removed at close by that id.
impl CuratorFramework {
    /// Calls `on_state` with `target` on every connection-state change, for as long as
    /// `target` lives (the listener holds it weakly: a recipe dropped without `close()` is
    /// not kept alive by its own listener). The id goes into `slot` for
    /// [`remove_state_listener`](Self::remove_state_listener).
    pub(crate) fn add_weak_state_listener<T: Send + Sync + 'static>(
        &self,
        target: &Arc<T>,
        slot: &Mutex<Option<ListenerId>>,
        on_state: impl Fn(&Arc<T>, &CuratorFramework, ConnectionState) + Send + Sync + 'static,
    ) {
        let weak = Arc::downgrade(target);
        let id = self.connection_state_listenable().add_listener(
            move |c: &CuratorFramework, s: ConnectionState| {
                if let Some(target) = weak.upgrade() {
                    on_state(&target, c, s);
                }
            },
        );
        *slot.lock() = Some(id);
    }

    /// Removes the connection-state listener whose id `slot` holds, once (the slot is
    /// emptied; an empty slot does nothing).
    pub(crate) fn remove_state_listener(&self, slot: &Mutex<Option<ListenerId>>) {
        if let Some(id) = slot.lock().take() {
            self.connection_state_listenable().remove_listener(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionState::*;

    #[test]
    fn transitions_follow_curators_rules() {
        let m = StateManager::new();
        assert_eq!(m.transition(Reconnected), Some(Connected));
        assert_eq!(m.transition(Connected), None);
        assert_eq!(m.transition(Suspended), Some(Suspended));
        assert!(m.current().suspended_since.is_some());
        assert_eq!(m.transition(Suspended), None);
        assert_eq!(m.transition(Connected), Some(Reconnected));
        assert_eq!(m.transition(Suspended), Some(Suspended));
        assert_eq!(m.transition(Lost), Some(Lost));
        assert_eq!(m.transition(Suspended), None);
        assert_eq!(m.transition(Lost), None);
        assert_eq!(m.transition(Connected), Some(Reconnected));
        assert_eq!(m.transition(ReadOnly), Some(ReadOnly));
        assert_eq!(m.transition(Connected), Some(Reconnected));
        assert!(m.wait_connected(Duration::ZERO));
        let first_ro = StateManager::new();
        assert_eq!(first_ro.transition(ReadOnly), Some(ReadOnly));
        assert!(
            first_ro.wait_connected(Duration::ZERO),
            "read-only is connected"
        );
        assert_eq!(first_ro.transition(Suspended), Some(Suspended));
        assert_eq!(first_ro.transition(ReadOnly), Some(ReadOnly));
        assert_eq!(first_ro.transition(Reconnected), Some(Connected));
        assert_eq!(first_ro.transition(ReadOnly), Some(ReadOnly));
        assert_eq!(first_ro.transition(Connected), Some(Reconnected));
        first_ro.close();
        assert!(
            !first_ro.wait_connected(Duration::MAX),
            "no waiting after close"
        );
    }

    #[test]
    fn error_policies() {
        let s = StandardConnectionStateErrorPolicy;
        let l = SessionConnectionStateErrorPolicy;
        assert!(s.is_error_state(Suspended) && s.is_error_state(Lost));
        assert!(!l.is_error_state(Suspended) && l.is_error_state(Lost));
        assert!(!s.is_error_state(Reconnected));
    }
}
