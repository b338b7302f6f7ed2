//! The shared heart of a [`CuratorFramework`]: its configuration, the current ZooKeeper
//! handle and its replacement after a session expires, the connection-state machine, the
//! listeners, the event thread (one for the client's whole life, handed to every handle so
//! that events keep one order across sessions) and the timer thread.
//!
//! Two parts of it are its children, because each is owned by the core and calls back into
//! it: `circuit`, the circuit breaker in front of the state listeners, and `tracker`, the
//! ensemble tracker (bottom up: circuit, tracker; neither uses the other).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::ensemble::EnsembleProvider;
use super::event::{CuratorEvent, CuratorListener, UnhandledErrorListener};
use super::handle_factory::ZookeeperFactory;
use super::listen::Listenable;
use super::providers::{AclProvider, CompressionProvider};
use super::retry::{LivePolicy, RetryPolicy};
use super::scheduler::Scheduler;
use super::schema::SchemaSet;
use super::state::{
    ConnectionState, ConnectionStateErrorPolicy, ConnectionStateListener, StateManager,
};
use super::types::CuratorEventType;
use super::CuratorFramework;
use crate::client::{ZooKeeper, ZooKeeperBuilder};
use crate::error::{Error, Result};
use crate::proto::{EventType, KeeperState};
use crate::session::hosts::ConnectString;
use crate::session::{EventDispatcher, SharedWatcher, States, WatchedEvent, Watcher};

pub(super) mod circuit;
mod tracker;

use circuit::{CircuitBreakingConnectionStateListener, ConnectionStateListenerManagerFactory};
use tracker::EnsembleTracker;

/// The life of a framework instance (Curator's `CuratorFrameworkState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CuratorFrameworkState {
    /// Built, not started.
    Latent,
    /// Started.
    Started,
    /// Closed.
    Stopped,
}

/// What the factory decided.
pub(crate) struct Config {
    /// Where the connect string of every new handle comes from.
    pub ensemble: Arc<dyn EnsembleProvider>,
    /// Follow `/zookeeper/config` (`ensemble_tracker`).
    pub ensemble_tracker: bool,
    pub zookeeper_factory: Arc<dyn ZookeeperFactory>,
    pub schema_set: Arc<SchemaSet>,
    pub listener_manager: ConnectionStateListenerManagerFactory,
    pub session_timeout: Duration,
    pub connection_timeout: Duration,
    pub can_be_read_only: bool,
    pub auth: Vec<(String, Vec<u8>)>,
    pub acl_provider: Arc<dyn AclProvider>,
    pub compression: Arc<dyn CompressionProvider>,
    pub default_data: Arc<[u8]>,
    pub use_container_parents: bool,
    pub max_close_wait: Duration,
    pub error_policy: Arc<dyn ConnectionStateErrorPolicy>,
    pub simulated_expiration_percent: u32,
    pub max_buffer: usize,
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::TlsConfig>,
    #[cfg(feature = "sasl")]
    pub sasl: Option<(String, crate::auth::Secret)>,
}

/// User watcher identity and namespace -> the wrapper the handle holds.
pub(crate) type WrapperMap = HashMap<(usize, Arc<str>), Weak<dyn Watcher>>;

pub(crate) struct Inner {
    pub cfg: Config,
    /// The retry policy, replaceable while running (`set_retry_policy`).
    pub retry: Arc<LivePolicy>,
    /// The master circuit breaker of the proxied state listeners (`circuit_breaking`).
    circuit: Option<CircuitBreakingConnectionStateListener>,
    /// The ensemble tracker, while the client runs with one.
    tracker: Mutex<Option<Arc<EnsembleTracker>>>,
    pub namespace: Option<Arc<str>>,
    lifecycle: Mutex<CuratorFrameworkState>,
    handle: Mutex<Option<Arc<ZooKeeper>>>,
    /// Incremented for every new handle.
    instance: AtomicU64,
    /// The handle whose events the event thread follows: it moves on when it processes the
    /// previous handle's expiry, so that the old handle's events, queued before its
    /// replacement's, are all handled in order and nothing after them.
    event_index: AtomicU64,
    pub events: EventDispatcher,
    pub states: StateManager,
    pub curator_listeners: Listenable<dyn CuratorListener>,
    pub unhandled: Listenable<dyn UnhandledErrorListener>,
    pub scheduler: Scheduler,
    /// Namespaces whose node has been created.
    pub ensured: Mutex<std::collections::HashSet<String>>,
    /// Namespace-stripping wrappers of user watchers, by user watcher identity, so that the
    /// same watcher gets the same wrapper (and can be removed again).
    pub wrappers: Mutex<WrapperMap>,
    expiry_job: Mutex<Option<u64>>,
    /// The `watched()` watcher of each namespace: one identity, so a node watched twice
    /// reports once, as Curator's single default watcher does.
    pub listener_watchers: Mutex<HashMap<Option<Arc<str>>, crate::session::SharedWatcher>>,
    /// Guaranteed deletes in progress (paths in server form), to avoid duplicates.
    pub failed_deletes: Mutex<std::collections::HashSet<String>>,
    /// The safe thread of `run_safe`, started on first use.
    pub safe: Mutex<Option<crate::session::WorkerPool>>,
}

impl Inner {
    pub(crate) fn new(
        cfg: Config,
        retry: Arc<dyn RetryPolicy>,
        namespace: Option<Arc<str>>,
    ) -> Result<Arc<Inner>> {
        Ok(Arc::new(Inner {
            circuit: cfg.listener_manager.breaker(),
            tracker: Mutex::new(None),
            cfg,
            retry: Arc::new(LivePolicy::new(retry)),
            namespace,
            lifecycle: Mutex::new(CuratorFrameworkState::Latent),
            handle: Mutex::new(None),
            instance: AtomicU64::new(0),
            event_index: AtomicU64::new(1),
            events: EventDispatcher::start()?,
            states: StateManager::new(),
            curator_listeners: Listenable::default(),
            unhandled: Listenable::default(),
            scheduler: Scheduler::start()?,
            ensured: Mutex::new(Default::default()),
            wrappers: Mutex::new(HashMap::new()),
            expiry_job: Mutex::new(None),
            listener_watchers: Mutex::new(HashMap::new()),
            failed_deletes: Mutex::new(Default::default()),
            safe: Mutex::new(None),
        }))
    }

    pub(crate) fn lifecycle(&self) -> CuratorFrameworkState {
        *self.lifecycle.lock()
    }

    /// The client as listeners see it (the configured namespace).
    pub(crate) fn facade(self: &Arc<Self>) -> CuratorFramework {
        CuratorFramework {
            inner: self.clone(),
            namespace: self.namespace.clone(),
            watches: None,
        }
    }

    pub(crate) fn start(self: &Arc<Self>) -> Result<()> {
        {
            let mut l = self.lifecycle.lock();
            match *l {
                CuratorFrameworkState::Latent => *l = CuratorFrameworkState::Started,
                CuratorFrameworkState::Started => {
                    return Err(Error::InvalidArgument("start() called twice".into()))
                }
                CuratorFrameworkState::Stopped => return Err(Error::Closed),
            }
        }
        let started = self.cfg.ensemble.start().and_then(|()| self.new_handle());
        match started {
            Ok(h) => {
                *self.handle.lock() = Some(h);
                if self.cfg.ensemble_tracker {
                    let t = EnsembleTracker::new(self);
                    *self.tracker.lock() = Some(t.clone());
                    t.start();
                }
                Ok(())
            }
            Err(e) => {
                // Nothing can be retried on this client (its settings are fixed): it is
                // closed, so that waiters and later calls learn it at once.
                *self.lifecycle.lock() = CuratorFrameworkState::Stopped;
                self.release();
                Err(e)
            }
        }
    }

    /// The current handle, or why there is none.
    pub(crate) fn handle(&self) -> Result<Arc<ZooKeeper>> {
        match self.lifecycle() {
            CuratorFrameworkState::Latent => {
                return Err(Error::InvalidArgument(
                    "the client is not started: call start() first".into(),
                ))
            }
            CuratorFrameworkState::Stopped => return Err(Error::Closed),
            CuratorFrameworkState::Started => {}
        }
        self.handle.lock().clone().ok_or(Error::Closed)
    }

    /// The current handle once it is connected, waiting until `deadline` at most (`None`:
    /// no limit); then `ConnectionLoss` with the hosts tried, which the retry policy sees
    /// like any other. A handle whose credentials were refused fails at once with
    /// `AuthFailed`: no wait makes them right.
    pub(crate) fn connected_handle(&self, deadline: Option<Instant>) -> Result<Arc<ZooKeeper>> {
        let h = self.handle()?;
        if h.state().is_connected() {
            return Ok(h); // the common case: no clock, no wait
        }
        if self.wait_handle_connected_until(deadline) {
            self.handle()
        } else {
            // The handle of now: a new session may have replaced it meanwhile.
            let h = self.handle()?;
            if h.state() == States::AuthFailed {
                return Err(Error::AuthFailed);
            }
            Err(h.connection_loss())
        }
    }

    /// [`wait_handle_connected_until`](Self::wait_handle_connected_until) `timeout` from now.
    pub(crate) fn wait_handle_connected(&self, timeout: Duration) -> bool {
        self.wait_handle_connected_until(Instant::now().checked_add(timeout))
    }

    /// Waits until the current handle is connected, following it when a new one replaces
    /// an expired one. It reads the handle's own state, which its I/O thread sets, never
    /// the listener-facing state the event thread delivers: a call made *on* the event
    /// thread must not wait for something only that thread could report.
    pub(crate) fn wait_handle_connected_until(&self, deadline: Option<Instant>) -> bool {
        loop {
            let Ok(h) = self.handle() else {
                return false;
            };
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if h.wait_connected(left.min(Duration::from_millis(250))) {
                return true;
            }
            // A refused SASL password ends the handle for good (an expired one is replaced).
            if left.is_zero() || self.states.current().closed || h.state() == States::AuthFailed {
                return false;
            }
        }
    }

    pub(crate) fn instance_index(&self) -> u64 {
        self.instance.load(Ordering::Acquire)
    }

    fn new_handle(self: &Arc<Self>) -> Result<Arc<ZooKeeper>> {
        let index = self.instance.fetch_add(1, Ordering::AcqRel) + 1;
        let weak = Arc::downgrade(self);
        let weak2 = Arc::downgrade(self);
        let watcher = SharedWatcher::new(move |e: &WatchedEvent| {
            if let Some(inner) = weak.upgrade() {
                inner.on_handle_event(index, e);
            }
        });
        let builder = handle_builder(&self.cfg)
            .event_dispatcher(&self.events)
            .default_shared_watcher(watcher.clone())
            .on_expired(move || {
                if let Some(inner) = weak2.upgrade() {
                    if inner.lifecycle() == CuratorFrameworkState::Started {
                        inner.replace_handle(index);
                    }
                }
            });
        let zk = self.cfg.zookeeper_factory.new_zookeeper(builder)?;
        // A handle that does not report to this client would leave it deaf to its own
        // session.
        if !zk.event_dispatcher().same_as(&self.events) || !zk.has_default_watcher(&watcher) {
            let _ = zk.close();
            return Err(Error::InvalidArgument(
                "zookeeper_factory must start the handle from the ZooKeeperBuilder it is given \
                 (keeping its event dispatcher and default watcher)"
                    .into(),
            ));
        }
        Ok(Arc::new(zk))
    }

    /// The handle's state changes, on the event thread.
    fn on_handle_event(self: &Arc<Self>, index: u64, e: &WatchedEvent) {
        if self.lifecycle() != CuratorFrameworkState::Started {
            return;
        }
        if index < self.event_index.load(Ordering::Acquire) {
            return;
        }
        if e.event_type() == EventType::None && e.state() == KeeperState::Expired {
            self.event_index.store(index + 1, Ordering::Release);
        }
        if e.event_type() != EventType::None {
            return;
        }
        // Curator hands every event of its default watcher to the CuratorListeners too.
        if !self.curator_listeners.is_empty() {
            self.facade().post_watched(e.clone());
        }
        match e.state() {
            KeeperState::SyncConnected => {
                self.cancel_expiry_check();
                self.post_state(ConnectionState::Connected);
                self.check_connection_string();
            }
            KeeperState::ConnectedReadOnly => {
                self.cancel_expiry_check();
                self.post_state(ConnectionState::ReadOnly);
                self.check_connection_string();
            }
            KeeperState::Disconnected if self.post_state(ConnectionState::Suspended) => {
                self.schedule_expiry_check(index);
                self.check_connection_string();
            }
            KeeperState::Expired => {
                // The handle was already replaced where the expiry was noticed.
                self.cancel_expiry_check();
                self.post_state(ConnectionState::Lost);
            }
            KeeperState::AuthFailed => {
                self.report_unhandled("authentication failed", &Error::AuthFailed);
            }
            _ => {}
        }
    }

    /// Reports a state change to the listeners; false if it was a duplicate.
    pub(crate) fn post_state(self: &Arc<Self>, s: ConnectionState) -> bool {
        let Some(reported) = self.states.transition(s) else {
            return false;
        };
        log::info!("connection state: {reported:?}");
        let client = self.facade();
        match &self.circuit {
            None => self
                .states
                .listeners
                .for_each(move |l| l.state_changed(&client, reported)),
            Some(breaker) => {
                // As Curator's CircuitBreakingManager: listeners that opted out of the
                // proxy first, then the breaker in front of all the others.
                let c = client.clone();
                self.states.listeners.for_each(move |l| {
                    if l.do_not_proxy() {
                        l.state_changed(&c, reported)
                    }
                });
                breaker.state_changed(&client, reported);
            }
        }
        true
    }

    /// Curator's `checkNewConnectionString`: when the ensemble provider's connect string
    /// names other servers than the current handle uses, the session moves to them
    /// (`update_server_list`) or, when the provider does not allow that, a new session
    /// starts on them.
    pub(crate) fn check_connection_string(self: &Arc<Self>) {
        if self.lifecycle() != CuratorFrameworkState::Started {
            return;
        }
        let Ok(h) = self.handle() else { return };
        let wanted = self.cfg.ensemble.connection_string();
        match (
            ConnectString::parse(&wanted),
            ConnectString::parse(&h.current_connection_string()),
        ) {
            (Ok(w), Ok(cur)) if same_servers(&w, &cur) => return,
            (Err(e), _) => {
                self.report_unhandled("the ensemble provider's connect string", &e);
                return;
            }
            _ => {}
        }
        if self.cfg.ensemble.update_server_list_enabled() {
            if let Err(e) = h.update_server_list(&wanted) {
                self.report_unhandled("cannot update the server list", &e);
            }
        } else {
            self.reset_session(&wanted);
        }
    }

    /// Curator's `ConnectionState.reset()`: the session ends and a new handle starts on
    /// the provider's connect string. Its listeners hear `Lost`, then `Reconnected`.
    fn reset_session(self: &Arc<Self>, wanted: &str) {
        log::info!("connect string changed to {wanted}: starting a new session there");
        // Lost goes out before anything of the new session can.
        if self.events.is_event_thread() {
            self.post_state(ConnectionState::Lost);
        } else {
            let me = self.clone();
            self.events.post(move || {
                me.post_state(ConnectionState::Lost);
            });
        }
        let Some(old) = self.swap_handle(None) else {
            return;
        };
        // Nothing the old handle still says matters now.
        self.event_index
            .store(self.instance_index(), Ordering::Release);
        self.cancel_expiry_check();
        self.close_later(old);
    }

    /// The last configuration the ensemble tracker read (`None` without a tracker or
    /// before its first read).
    pub(crate) fn current_config(&self) -> Option<super::quorum::QuorumConfig> {
        self.tracker
            .lock()
            .as_ref()
            .and_then(|t| t.current_config())
    }

    /// Curator's simulated expiry: staying suspended for the negotiated session timeout
    /// (times the configured percentage) means the session must be presumed lost.
    fn schedule_expiry_check(self: &Arc<Self>, index: u64) {
        let negotiated = self
            .handle
            .lock()
            .as_ref()
            .map(|h| h.negotiated_timeout())
            .unwrap_or(self.cfg.session_timeout);
        let delay = negotiated * self.cfg.simulated_expiration_percent / 100;
        let weak = Arc::downgrade(self);
        let id = self.scheduler.schedule(delay, move || {
            let Some(inner) = weak.upgrade() else { return };
            let w = Arc::downgrade(&inner);
            inner.events.post(move || {
                let Some(inner) = w.upgrade() else { return };
                if inner.instance_index() == index
                    && inner.states.current().state == Some(ConnectionState::Suspended)
                {
                    log::warn!("suspended for the session timeout: presuming the session lost");
                    if let Ok(h) = inner.handle() {
                        // Delivers Expired through this handle, which leads to LOST and a new
                        // handle by the usual path.
                        h.inject_session_expiration();
                    }
                }
            });
        });
        if let Some(old) = self.expiry_job.lock().replace(id) {
            self.scheduler.cancel(old);
        }
    }

    fn cancel_expiry_check(&self) {
        if let Some(id) = self.expiry_job.lock().take() {
            self.scheduler.cancel(id);
        }
    }

    /// After a session expired: a new handle (new session) replaces the old one, which is
    /// closed off the event thread.
    fn replace_handle(self: &Arc<Self>, expired_index: u64) {
        if let Some(old) = self.swap_handle(Some(expired_index)) {
            self.close_later(old);
        }
    }

    /// Puts a new handle (a new session) in the slot and returns the one it replaces (if
    /// any); `None` when nothing was swapped: `expired_index` is given and no longer the
    /// current handle's, or the new handle cannot be made (reported).
    fn swap_handle(self: &Arc<Self>, expired_index: Option<u64>) -> Option<Option<Arc<ZooKeeper>>> {
        let mut slot = self.handle.lock();
        if expired_index.is_some_and(|i| i != self.instance_index()) {
            return None;
        }
        match self.new_handle() {
            Ok(h) => Some(slot.replace(h)),
            Err(e) => {
                drop(slot);
                self.report_unhandled("cannot create a new ZooKeeper handle", &e);
                None
            }
        }
    }

    /// Closes a replaced handle on the timer thread (closing waits for the server).
    fn close_later(&self, old: Option<Arc<ZooKeeper>>) {
        if let Some(old) = old {
            self.scheduler.schedule(Duration::ZERO, move || {
                let _ = old.close();
            });
        }
    }

    /// Sends an error nobody else took to the unhandled-error listeners (logged if none).
    pub(crate) fn report_unhandled(&self, msg: &str, e: &Error) {
        if self.unhandled.is_empty() {
            log::error!("{msg}: {e}");
            return;
        }
        let msg = msg.to_string();
        let e = e.clone();
        self.unhandled
            .for_each(move |l| l.unhandled_error(&msg, &e));
    }

    pub(crate) fn close(self: &Arc<Self>) {
        let was = std::mem::replace(&mut *self.lifecycle.lock(), CuratorFrameworkState::Stopped);
        match was {
            CuratorFrameworkState::Stopped => return,
            // Never started: no session to end, but waiters must wake and the threads go.
            CuratorFrameworkState::Latent => return self.release(),
            CuratorFrameworkState::Started => {}
        }
        let client = self.facade();
        let closing = CuratorEvent::new(CuratorEventType::Closing, "/");
        self.curator_listeners
            .for_each(move |l| l.event_received(&client, &closing));
        if let Some(t) = self.tracker.lock().take() {
            t.close();
        }
        self.scheduler.shutdown();
        let h = self.handle.lock().take();
        if let Some(h) = h {
            let _ = h.close();
        }
        self.cfg.ensemble.close();
        self.release();
    }

    /// What every way of ending a client does once its handle is closed: waiters of
    /// `block_until_connected` wake, the threads stop, listeners go.
    fn release(&self) {
        self.scheduler.shutdown();
        self.states.close();
        self.events.shutdown();
        self.states.listeners.clear();
        self.curator_listeners.clear();
        self.unhandled.clear();
        self.wrappers.lock().clear();
        self.stop_safe();
    }
}

/// The handle every session of a client uses, as configured (no watcher, no event thread
/// yet). `build()` validates the settings through it, so `start()` cannot fail on them.
pub(crate) fn handle_builder(cfg: &Config) -> ZooKeeperBuilder {
    let mut b = ZooKeeper::builder(&cfg.ensemble.connection_string())
        .session_timeout(cfg.session_timeout)
        .connection_timeout(cfg.connection_timeout)
        // Operations wait for a connection themselves (the connection timeout across their
        // attempts, then ConnectionLoss for the retry policy, as Curator does; see `exec`),
        // and requests queued meanwhile give up with them. A request on the wire gets
        // ConnectionLoss when its connection dies (two thirds of the session timeout without
        // a byte), well inside this bound, so a reply is never cut short by a non-retryable
        // RequestTimeout.
        .request_timeout(cfg.session_timeout.saturating_add(cfg.connection_timeout))
        .close_timeout(cfg.max_close_wait)
        .can_be_read_only(cfg.can_be_read_only)
        .max_buffer_size(cfg.max_buffer);
    for (scheme, auth) in &cfg.auth {
        b = b.auth(scheme, auth);
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = &cfg.tls {
        b = b.tls(tls.clone());
    }
    #[cfg(feature = "sasl")]
    if let Some((user, password)) = &cfg.sasl {
        b = b.sasl_digest(user, password.clone());
    }
    b
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_safe();
        self.scheduler.shutdown();
        if let Some(h) = self.handle.lock().take() {
            let _ = h.close();
        }
        self.events.shutdown();
    }
}

/// True if two connect strings name the same servers (in any order) and chroot.
fn same_servers(a: &ConnectString, b: &ConnectString) -> bool {
    a.chroot == b.chroot
        && a.hosts.len() == b.hosts.len()
        && a.hosts.iter().all(|h| b.hosts.contains(h))
}
