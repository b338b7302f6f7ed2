//! Circuit breaking for connection-state listeners (Curator 5's
//! `CircuitBreakingConnectionStateListener` and
//! `ConnectionStateListenerManagerFactory.circuitBreaking`).
//!
//! During a network storm a client may flap between `Suspended` and `Reconnected` many
//! times a second, and every recipe listening resets itself each time (a leader latch
//! deletes and recreates its node, ...). A circuit breaker turns the storm into one change:
//! the first disconnected state opens the circuit and is passed on; while it is open, states
//! are only recorded (except that the first `Lost` is still passed on); when the retry
//! policy's delay has passed, the circuit closes if the connection is back (passing on the
//! last state when it differs from the one that opened the circuit), or waits another delay
//! as long as the policy allows, and closes anyway once it is exhausted.
//!
//! Timers run on the client's timer thread (`zk-retry`); the check that closes the circuit
//! runs on its event thread, in order with the state changes.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::Inner;
use crate::framework::retry::{DeferSleeper, RetryPolicy};
use crate::framework::state::{ConnectionState, ConnectionStateListener};
use crate::framework::CuratorFramework;

/// How a client hands connection-state changes to its listeners (Curator's
/// `ConnectionStateListenerManagerFactory`): [`standard`](Self::standard) (every change to
/// every listener, the default) or [`circuit_breaking`](Self::circuit_breaking).
#[derive(Clone)]
pub struct ConnectionStateListenerManagerFactory {
    breaker: Option<Arc<dyn RetryPolicy>>,
}

impl ConnectionStateListenerManagerFactory {
    /// Every change goes to every listener (Curator's `standard`).
    pub fn standard() -> ConnectionStateListenerManagerFactory {
        ConnectionStateListenerManagerFactory { breaker: None }
    }

    /// Listeners hear changes through one shared circuit breaker driven by `retry_policy`
    /// (its sleeps are how long the circuit stays open, its retry count how often it opens
    /// again while the connection stays down). Listeners whose
    /// [`do_not_proxy`](ConnectionStateListener::do_not_proxy) is true hear every change,
    /// before the proxied ones.
    ///
    /// ```
    /// use std::time::Duration;
    /// use zk_curator::framework::{
    ///     ConnectionStateListenerManagerFactory, CuratorFrameworkFactory, RetryForever,
    /// };
    /// use zk_curator::RetryOneTime;
    /// # let server = zk_curator::testing::TestingServer::start().unwrap();
    /// let client = CuratorFrameworkFactory::builder()
    ///     .connect_string(&server.connect_string())
    ///     .retry_policy(RetryOneTime::new(Duration::from_millis(10)))
    ///     .connection_state_listener_manager_factory(
    ///         ConnectionStateListenerManagerFactory::circuit_breaking(RetryForever::new(
    ///             Duration::from_secs(5),
    ///         )),
    ///     )
    ///     .build()?;
    /// // A storm of Suspended/Reconnected reaches this listener as Suspended, then one
    /// // Reconnected at least 5 s later, once the connection is back.
    /// client.connection_state_listenable().add_listener(|_, state| println!("{state:?}"));
    /// # Ok::<(), zk_curator::Error>(())
    /// ```
    pub fn circuit_breaking(
        retry_policy: impl RetryPolicy,
    ) -> ConnectionStateListenerManagerFactory {
        ConnectionStateListenerManagerFactory {
            breaker: Some(Arc::new(retry_policy)),
        }
    }

    /// The client's master breaker, if circuit breaking.
    pub(crate) fn breaker(&self) -> Option<CircuitBreakingConnectionStateListener> {
        self.breaker.as_ref().map(|p| {
            CircuitBreakingConnectionStateListener::with_policy(
                Arc::new(ProxiedListeners),
                p.clone(),
            )
        })
    }
}

impl Default for ConnectionStateListenerManagerFactory {
    fn default() -> Self {
        ConnectionStateListenerManagerFactory::standard()
    }
}

impl std::fmt::Debug for ConnectionStateListenerManagerFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.breaker {
            None => "ConnectionStateListenerManagerFactory::standard",
            Some(_) => "ConnectionStateListenerManagerFactory::circuit_breaking",
        })
    }
}

/// What the client's master breaker passes changes on to: every listener that did not ask
/// to be left out of the proxy.
struct ProxiedListeners;

impl ConnectionStateListener for ProxiedListeners {
    fn state_changed(&self, client: &CuratorFramework, state: ConnectionState) {
        let c = client.clone();
        client.inner.states.listeners.for_each(move |l| {
            if !l.do_not_proxy() {
                l.state_changed(&c, state)
            }
        });
    }
}

/// A connection-state listener behind a circuit breaker (Curator's
/// `CircuitBreakingConnectionStateListener`).
///
/// While the circuit is closed every change is passed on. The first disconnected state
/// (`Suspended`, `Lost`) opens it and is passed on; the retry policy gives the delay. While
/// it is open, changes are only recorded, except that the first `Lost` is still passed on.
/// When the delay has passed: if the connection is back (or nothing was recorded), the
/// circuit closes and passes on the last state recorded, unless it is the state that opened
/// the circuit; if not, the policy is asked for another delay, and once it refuses, the
/// circuit closes the same way. So a storm of `Suspended`/`Reconnected` flaps shorter than
/// the first delay reaches the listener as two changes: `Suspended`, then `Reconnected` when
/// the circuit closes.
///
/// Usually set up for all listeners at once with
/// [`ConnectionStateListenerManagerFactory::circuit_breaking`]; wrapping one listener
/// directly works too:
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use zk_curator::framework::{CircuitBreakingConnectionStateListener, RetryNTimes};
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// # let client = zk_curator::CuratorFrameworkFactory::new_client(&server.connect_string(), zk_curator::RetryOneTime::new(Duration::from_millis(10)))?;
/// let breaker = CircuitBreakingConnectionStateListener::new(
///     &client,
///     |_client: &zk_curator::CuratorFramework, state| println!("{state:?}"),
///     RetryNTimes::new(3, Duration::from_secs(2)),
/// );
/// assert!(!breaker.is_open());
/// client.connection_state_listenable().add_arc(Arc::new(breaker), None);
/// # Ok::<(), zk_curator::Error>(())
/// ```
///
/// The state sent when the circuit closes is delivered on the client's event thread, also
/// for a breaker added with a `WorkerPool`.
#[derive(Clone)]
pub struct CircuitBreakingConnectionStateListener {
    breaker: Arc<Breaker>,
}

/// What the clones of one listener share: the wrapped listener, the policy that says how
/// long the circuit stays open, and the circuit itself.
struct Breaker {
    listener: Arc<dyn ConnectionStateListener>,
    policy: Arc<dyn RetryPolicy>,
    state: Mutex<Circuit>,
}

/// The breaker (Curator's `CircuitBreaker`) and what it recorded while open.
#[derive(Debug, Default)]
struct Circuit {
    open: bool,
    retry_count: u32,
    opened_at: Option<Instant>,
    /// The last state seen while open.
    last: Option<ConnectionState>,
    /// The state that opened the circuit (or the `Lost` passed on while open).
    initial: Option<ConnectionState>,
    lost_sent: bool,
    /// Counts openings, so that a timer of an earlier opening does nothing.
    generation: u64,
}

impl CircuitBreakingConnectionStateListener {
    /// Wraps `listener` (a closure or any [`ConnectionStateListener`]) for `client`, with
    /// `retry_policy` deciding how long the circuit stays open.
    pub fn new(
        client: &CuratorFramework,
        listener: impl ConnectionStateListener,
        retry_policy: impl RetryPolicy,
    ) -> CircuitBreakingConnectionStateListener {
        // The client is taken for Curator's signature; timers use the client each change
        // comes with.
        let _ = client;
        CircuitBreakingConnectionStateListener::with_policy(
            Arc::new(listener),
            Arc::new(retry_policy),
        )
    }

    fn with_policy(
        listener: Arc<dyn ConnectionStateListener>,
        policy: Arc<dyn RetryPolicy>,
    ) -> CircuitBreakingConnectionStateListener {
        CircuitBreakingConnectionStateListener {
            breaker: Arc::new(Breaker {
                listener,
                policy,
                state: Mutex::new(Circuit::default()),
            }),
        }
    }

    /// True while the circuit is open (changes are being held back).
    pub fn is_open(&self) -> bool {
        self.breaker.state.lock().open
    }
}

impl ConnectionStateListener for CircuitBreakingConnectionStateListener {
    fn state_changed(&self, client: &CuratorFramework, new_state: ConnectionState) {
        let mut opened = None;
        let pass = {
            let mut c = self.breaker.state.lock();
            if c.open {
                if c.lost_sent || new_state != ConnectionState::Lost {
                    log::debug!("circuit open: holding back {new_state:?}");
                    c.last = Some(new_state);
                    None
                } else {
                    log::debug!("circuit open: passing on the first Lost");
                    c.lost_sent = true;
                    c.last = Some(ConnectionState::Lost);
                    c.initial = Some(ConnectionState::Lost);
                    Some(ConnectionState::Lost)
                }
            } else {
                if !new_state.is_connected() {
                    c.generation += 1;
                    c.open = true;
                    c.retry_count = 0;
                    c.opened_at = Some(Instant::now());
                    c.last = Some(new_state);
                    c.initial = Some(new_state);
                    c.lost_sent = new_state == ConnectionState::Lost;
                    opened = Some(c.generation);
                }
                Some(new_state)
            }
        };
        if let Some(generation) = opened {
            if self
                .breaker
                .try_to_retry(client, generation, Duration::ZERO, 0)
            {
                log::info!("circuit opening on {new_state:?}");
            } else {
                log::debug!("circuit could not open on {new_state:?}");
                self.breaker.close_if(generation);
            }
        }
        if let Some(s) = pass {
            self.breaker.listener.state_changed(client, s);
        }
    }
}

impl Breaker {
    /// Asks the policy (no lock held: it is user code) for another delay; when it grants
    /// one, the check runs after it.
    fn try_to_retry(
        self: &Arc<Self>,
        client: &CuratorFramework,
        generation: u64,
        elapsed: Duration,
        count: u32,
    ) -> bool {
        let sleeper = DeferSleeper::default();
        if !self.policy.allow_retry(count, elapsed, &sleeper) {
            return false;
        }
        {
            let mut c = self.state.lock();
            if c.generation != generation || !c.open {
                return false;
            }
            c.retry_count = count + 1;
        }
        let delay = sleeper.0.get().unwrap_or_default();
        let breaker = Arc::downgrade(self);
        let inner: Weak<Inner> = Arc::downgrade(&client.inner);
        client.inner.scheduler.schedule(delay, move || {
            let Some(i) = inner.upgrade() else { return };
            let inner2 = inner.clone();
            i.events.post(move || {
                if let (Some(breaker), Some(inner)) = (breaker.upgrade(), inner2.upgrade()) {
                    breaker.check_close(&inner.facade(), generation);
                }
            });
        });
        true
    }

    /// Closes the circuit opened as `generation` (if it still is).
    fn close_if(&self, generation: u64) {
        let mut c = self.state.lock();
        if c.generation == generation {
            let g = c.generation;
            *c = Circuit {
                generation: g,
                ..Circuit::default()
            };
        }
    }

    /// The delay passed: close if the connection is back or the policy is exhausted,
    /// otherwise wait again.
    fn check_close(self: &Arc<Self>, client: &CuratorFramework, generation: u64) {
        let (connected, elapsed, count) = {
            let c = self.state.lock();
            if !c.open || c.generation != generation {
                return;
            }
            (
                c.last.is_none_or(ConnectionState::is_connected),
                c.opened_at.map(|t| t.elapsed()).unwrap_or_default(),
                c.retry_count,
            )
        };
        if !connected && self.try_to_retry(client, generation, elapsed, count) {
            log::debug!("circuit stays open: the connection is not back");
            return;
        }
        let send = {
            let mut c = self.state.lock();
            if !c.open || c.generation != generation {
                return;
            }
            log::info!(
                "circuit closing{}: opened on {:?}, now {:?}",
                if connected {
                    ""
                } else {
                    " (retries exhausted)"
                },
                c.initial,
                c.last
            );
            let send = if c.last == c.initial { None } else { c.last };
            *c = Circuit {
                generation,
                ..Circuit::default()
            };
            send
        };
        if let Some(s) = send {
            self.listener.state_changed(client, s);
        }
    }
}

impl std::fmt::Debug for CircuitBreakingConnectionStateListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreakingConnectionStateListener")
            .field("circuit", &*self.breaker.state.lock())
            .finish()
    }
}
