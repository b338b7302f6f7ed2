//! [`ServiceCache`]: an always-current local list of one service's instances, kept by a
//! [`CuratorCacheBridge`] on `basePath/name` (Curator's `ServiceCacheImpl`), with listeners
//! told when the list changes and when the connection does.
//!
//! Node data that is not an instance (written by a third party, or by a newer format) is
//! skipped with a logged warning; the rest of the list is unaffected.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::instance::ServiceInstance;
use super::registry::{Shared, CLOSED, LATENT, STARTED};
use crate::error::{Error, Result};
use crate::framework::{ConnectionState, CuratorFramework, Listenable, ListenerId};
use crate::path;
use crate::recipes::cache::{
    CacheEventType, CacheListener, ChildData, CuratorCache, CuratorCacheBridge,
};
use crate::session::WorkerPool;

/// Hears a [`ServiceCache`] (Curator's `ServiceCacheListener`). Closures `Fn()` implement
/// it (they hear `cache_changed` only).
pub trait ServiceCacheListener: Send + Sync + 'static {
    /// The instances changed (one added, changed or removed). Not called for the initial
    /// load.
    fn cache_changed(&self);

    /// The client's connection state changed.
    fn state_changed(&self, _client: &CuratorFramework, _state: ConnectionState) {}
}

impl<F: Fn() + Send + Sync + 'static> ServiceCacheListener for F {
    fn cache_changed(&self) {
        self()
    }
}

/// Builder of a [`ServiceCache`]; from
/// [`ServiceDiscovery::service_cache_builder`](super::ServiceDiscovery::service_cache_builder).
#[must_use = "call build()"]
pub struct ServiceCacheBuilder<P: Send + Sync + 'static> {
    shared: Arc<Shared<P>>,
    name: Option<String>,
    executor: Option<WorkerPool>,
}

impl<P: Send + Sync + 'static> std::fmt::Debug for ServiceCacheBuilder<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCacheBuilder")
            .field("base_path", &self.shared.base_path)
            .field("name", &self.name)
            .field("executor", &self.executor)
            .finish()
    }
}

impl<P: Send + Sync + 'static> ServiceCacheBuilder<P> {
    pub(crate) fn new(shared: Arc<Shared<P>>) -> Self {
        ServiceCacheBuilder {
            shared,
            name: None,
            executor: None,
        }
    }

    /// The service to cache (required).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Where listeners run (default: the client's event thread): Curator's
    /// `executorService`.
    pub fn executor(mut self, pool: &WorkerPool) -> Self {
        self.executor = Some(pool.clone());
        self
    }

    /// The cache (not started).
    pub fn build(self) -> Result<ServiceCache<P>> {
        let name = self
            .name
            .ok_or_else(|| Error::InvalidArgument("ServiceCache needs a service name".into()))?;
        let path = self.shared.path_for_name(&name)?;
        let bridge = CuratorCache::bridge_builder(&self.shared.client, &path).build();
        let inner = Arc::new(Inner {
            shared: self.shared,
            path,
            bridge,
            instances: Mutex::new(BTreeMap::new()),
            listeners: Listenable::default(),
            state_listeners: Mutex::new(HashMap::new()),
            initialized: Mutex::new(false),
            initialized_cv: Condvar::new(),
            state: AtomicU8::new(LATENT),
            executor: self.executor,
        });
        inner
            .bridge
            .listenable()
            .add_listener(Feed(Arc::downgrade(&inner)));
        Ok(ServiceCache { inner })
    }
}

/// The instances of one service, kept current (Curator's `ServiceCache`).
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use zk_curator::discovery::{ServiceDiscoveryBuilder, ServiceInstance};
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// # let server = zk_curator::testing::TestingServer::start()?;
/// # let client = CuratorFrameworkFactory::new_client(&server.connect_string(), RetryOneTime::new(Duration::from_millis(100)))?;
/// # client.start()?;
/// let discovery = ServiceDiscoveryBuilder::<()>::builder()
///     .client(&client)
///     .base_path("/services")
///     .build()?;
/// discovery.start()?;
/// let cache = discovery.service_cache_builder().name("orders").build()?;
/// let (tx, rx) = mpsc::channel();
/// cache.add_listener(move || tx.send(()).unwrap());
/// cache.start()?; // returns once the current instances are loaded
/// assert!(cache.get_instances().is_empty());
///
/// let one = ServiceInstance::builder().name("orders").port(8080).build()?;
/// discovery.register_service(&one)?;
/// rx.recv_timeout(Duration::from_secs(10)).unwrap();
/// assert_eq!(cache.get_instances()[0].id(), one.id());
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct ServiceCache<P: Send + Sync + 'static> {
    inner: Arc<Inner<P>>,
}

struct Inner<P: Send + Sync + 'static> {
    shared: Arc<Shared<P>>,
    path: String,
    bridge: CuratorCacheBridge,
    /// By node name.
    instances: Mutex<BTreeMap<String, Arc<ServiceInstance<P>>>>,
    listeners: Listenable<dyn ServiceCacheListener>,
    /// The connection-state listener added for each cache listener.
    state_listeners: Mutex<HashMap<ListenerId, ListenerId>>,
    initialized: Mutex<bool>,
    initialized_cv: Condvar,
    state: AtomicU8,
    executor: Option<WorkerPool>,
}

impl<P: Send + Sync + 'static> ServiceCache<P> {
    /// Starts the cache and waits until the instances registered now are loaded (at most
    /// the client's connection timeout plus its session timeout: then
    /// [`Timeout`](Error::Timeout), and the cache goes on loading). Creates the service's
    /// node (a container) if missing. Starting twice, or after close, is an error.
    pub fn start(&self) -> Result<()> {
        self.start_immediate()?;
        let zk = self.inner.shared.client.zookeeper_client();
        let limit = zk.connection_timeout()
            + zk.last_negotiated_session_timeout()
                .unwrap_or(Duration::from_secs(60));
        if self.await_initialized(limit) {
            Ok(())
        } else {
            Err(Error::Timeout)
        }
    }

    /// Starts the cache without waiting for the initial load (see
    /// [`await_initialized`](Self::await_initialized)). If it fails (the service's node
    /// cannot be made, the server cannot be reached), the cache is not started and `start`
    /// may be called again.
    pub fn start_immediate(&self) -> Result<()> {
        let i = &self.inner;
        if i.state
            .compare_exchange(LATENT, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(Error::InvalidArgument(
                "the service cache was already started or is closed".into(),
            ));
        }
        let started = i
            .shared
            .client
            .create_containers(&i.path)
            .and_then(|()| i.bridge.start());
        if started.is_err() {
            // Not started after all: the caller may try again.
            let _ = i
                .state
                .compare_exchange(STARTED, LATENT, Ordering::AcqRel, Ordering::Acquire);
        }
        started
    }

    /// Waits until the initial load is complete; false after `timeout` or once closed.
    pub fn await_initialized(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut done = self.inner.initialized.lock();
        while !*done {
            if self.inner.state.load(Ordering::Acquire) == CLOSED
                || self
                    .inner
                    .initialized_cv
                    .wait_until(&mut done, deadline)
                    .timed_out()
            {
                return *done;
            }
        }
        true
    }

    /// The instances, ordered by node name (Curator's `getInstances`). The list is a
    /// snapshot; ask again for the current one.
    pub fn get_instances(&self) -> Vec<Arc<ServiceInstance<P>>> {
        self.inner.instances.lock().values().cloned().collect()
    }

    /// Adds a listener (run on the builder's executor, or on the client's event thread);
    /// it also hears connection state changes.
    pub fn add_listener(&self, l: impl ServiceCacheListener) -> ListenerId {
        let pool = self.inner.executor.clone();
        self.add(Arc::new(l), pool.as_ref())
    }

    /// Adds a listener run on `pool`.
    pub fn add_listener_with_executor(
        &self,
        l: impl ServiceCacheListener,
        pool: &WorkerPool,
    ) -> ListenerId {
        self.add(Arc::new(l), Some(pool))
    }

    fn add(&self, l: Arc<dyn ServiceCacheListener>, pool: Option<&WorkerPool>) -> ListenerId {
        let i = &self.inner;
        let id = i.listeners.add_arc(l.clone(), pool);
        let forward = move |c: &CuratorFramework, s: ConnectionState| l.state_changed(c, s);
        let states = i.shared.client.connection_state_listenable();
        let sid = match pool {
            Some(p) => states.add_listener_with_executor(forward, p),
            None => states.add_listener(forward),
        };
        i.state_listeners.lock().insert(id, sid);
        id
    }

    /// Removes a listener; false if it was not there.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        let i = &self.inner;
        if let Some(sid) = i.state_listeners.lock().remove(&id) {
            i.shared
                .client
                .connection_state_listenable()
                .remove_listener(sid);
        }
        i.listeners.remove_listener(id)
    }

    /// Stops the cache and removes its listeners. Idempotent; also done on drop.
    pub fn close(&self) {
        let i = &self.inner;
        if i.state.swap(CLOSED, Ordering::AcqRel) == CLOSED {
            return;
        }
        let sids: Vec<ListenerId> = i.state_listeners.lock().drain().map(|(_, s)| s).collect();
        for sid in sids {
            i.shared
                .client
                .connection_state_listenable()
                .remove_listener(sid);
        }
        i.listeners.clear();
        i.bridge.close();
        // Under the lock, so that a waiter between its check and its wait is not missed.
        let _guard = i.initialized.lock();
        i.initialized_cv.notify_all();
    }
}

impl<P: Send + Sync + 'static> Drop for ServiceCache<P> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<P: Send + Sync + 'static> std::fmt::Debug for ServiceCache<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCache")
            .field("path", &self.inner.path)
            .field("instances", &self.inner.instances.lock().len())
            .finish()
    }
}

/// Turns the bridge's node events into instances.
struct Feed<P: Send + Sync + 'static>(Weak<Inner<P>>);

impl<P: Send + Sync + 'static> CacheListener for Feed<P> {
    fn event(&self, t: CacheEventType, old: Option<&ChildData>, data: Option<&ChildData>) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        let Some(node) = data.or(old) else { return };
        // Only the service's direct children are instances.
        if path::parent(node.path()) != Some(inner.path.as_str()) {
            return;
        }
        let key = path::node_name(node.path()).to_string();
        let changed = match (t, data) {
            (CacheEventType::NodeDeleted, _) | (_, None) => {
                inner.instances.lock().remove(&key).is_some()
            }
            (_, Some(d)) => {
                let bytes = d.data().unwrap_or_default();
                match inner.shared.serializer.deserialize(bytes) {
                    Ok(i) => {
                        inner.instances.lock().insert(key, Arc::new(i));
                        true
                    }
                    Err(err) => {
                        log::warn!("ignoring {}: not a service instance: {err}", node.path());
                        inner.instances.lock().remove(&key).is_some()
                    }
                }
            }
        };
        if changed && *inner.initialized.lock() {
            inner.listeners.for_each(|l| l.cache_changed());
        }
    }

    fn initialized(&self) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        *inner.initialized.lock() = true;
        inner.initialized_cv.notify_all();
    }
}
