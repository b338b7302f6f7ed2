//! The ensemble tracker (Curator's `EnsembleTracker`, turned on with
//! [`ensemble_tracker(true)`](crate::framework::CuratorFrameworkBuilder::ensemble_tracker)): it reads
//! `/zookeeper/config` with a watch, again at every change of it and at every (re)connection,
//! keeps the parsed [`QuorumConfig`] (the client's `get_current_config()`), and hands the
//! connect string it implies to the ensemble provider; the client then moves its live
//! session to the new servers (`Inner::check_connection_string`).
//!
//! Everything runs on the client's event thread or its timer: the read is a background
//! `get_config()` with the client's retry policy.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::Inner;
use crate::framework::listen::ListenerId;
use crate::framework::quorum::QuorumConfig;
use crate::framework::state::{ConnectionState, ConnectionStateListener};
use crate::framework::CuratorFramework;
use crate::proto::EventType;
use crate::session::{SharedWatcher, WatchedEvent};

pub(crate) struct EnsembleTracker {
    inner: Weak<Inner>,
    /// The last configuration read with members (`None` until then).
    current: Mutex<Option<QuorumConfig>>,
    /// One identity for every read, so that the handle holds one watch.
    watcher: Mutex<Option<SharedWatcher>>,
    listener: Mutex<Option<ListenerId>>,
    closed: AtomicBool,
}

/// Reads the config again after every (re)connection; never behind a circuit breaker.
struct OnConnect(Weak<EnsembleTracker>);

impl ConnectionStateListener for OnConnect {
    fn state_changed(&self, _client: &CuratorFramework, state: ConnectionState) {
        if matches!(
            state,
            ConnectionState::Connected | ConnectionState::Reconnected
        ) {
            if let Some(t) = self.0.upgrade() {
                t.reset();
            }
        }
    }

    fn do_not_proxy(&self) -> bool {
        true
    }
}

impl EnsembleTracker {
    pub(super) fn new(inner: &Arc<Inner>) -> Arc<EnsembleTracker> {
        let t = Arc::new(EnsembleTracker {
            inner: Arc::downgrade(inner),
            current: Mutex::new(None),
            watcher: Mutex::new(None),
            listener: Mutex::new(None),
            closed: AtomicBool::new(false),
        });
        let weak = Arc::downgrade(&t);
        *t.watcher.lock() = Some(SharedWatcher::new(move |e: &WatchedEvent| {
            if e.event_type() == EventType::NodeDataChanged {
                if let Some(t) = weak.upgrade() {
                    t.reset();
                }
            }
        }));
        t
    }

    /// Listens for connections and reads the config a first time.
    pub(super) fn start(self: &Arc<Self>) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let id = inner
            .states
            .listeners
            .add_arc(Arc::new(OnConnect(Arc::downgrade(self))), None);
        *self.listener.lock() = Some(id);
        self.reset();
    }

    pub(super) fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if let (Some(inner), Some(id)) = (self.inner.upgrade(), self.listener.lock().take()) {
            inner.states.listeners.remove_listener(id);
        }
        // The watch goes with the handle, which is closing too.
        self.watcher.lock().take();
    }

    pub(super) fn current_config(&self) -> Option<QuorumConfig> {
        self.current.lock().clone()
    }

    /// Reads `/zookeeper/config` in the background, watching it.
    fn reset(self: &Arc<Self>) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let Some(w) = self.watcher.lock().clone() else {
            return;
        };
        let client = inner.facade();
        let me = Arc::downgrade(self);
        let started = client
            .get_config()
            .using_shared_watcher(&w)
            .in_background(move |_c, event| {
                let Some(t) = me.upgrade() else { return };
                match (event.error(), event.data()) {
                    (None, Some(data)) => t.process(data),
                    (Some(e), _) => log::debug!("ensemble tracker: reading the config: {e}"),
                    (None, None) => {}
                }
            })
            .for_ensemble();
        if let Err(e) = started {
            log::debug!("ensemble tracker: cannot read the config: {e}");
        }
    }

    fn process(&self, data: &[u8]) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let config = match QuorumConfig::parse(data) {
            Ok(c) => c,
            Err(e) => {
                inner.report_unhandled("ensemble tracker: the ensemble's config", &e);
                return;
            }
        };
        let servers = config.connection_string();
        if servers.is_empty() {
            // A server without a dynamic config (standalone, the TestingServer) or one
            // without client addresses: nothing to follow.
            log::debug!("ensemble tracker: no client addresses in the config; ignored");
            return;
        }
        log::info!(
            "ensemble tracker: config version {:?}: {servers}",
            config.version()
        );
        *self.current.lock() = Some(config);
        // The chroot of the connect string in use stays (as in Curator).
        let provider = &inner.cfg.ensemble;
        let old = provider.connection_string();
        let chroot = old.find('/').map(|i| &old[i..]).unwrap_or("");
        provider.set_connection_string(&format!("{servers}{chroot}"));
        inner.check_connection_string();
    }
}
