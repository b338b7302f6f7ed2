//! [`ServiceProvider`]: one instance of a service per call, from a [`ServiceCache`], by a
//! [`ProviderStrategy`], leaving out disabled instances, instances reported down and
//! instances the caller's filters reject (Curator's `ServiceProviderImpl`,
//! `ServiceProviderBuilderImpl` and `FilteredInstanceProvider`).

use std::sync::{Arc, Weak};

use super::down_instance::{DownInstanceManager, DownInstancePolicy};
use super::instance::ServiceInstance;
use super::registry::{Closer, Shared};
use super::service_cache::{ServiceCache, ServiceCacheBuilder};
use super::strategy::{ProviderStrategy, RoundRobinStrategy};
use crate::error::{Error, Result};
use crate::session::WorkerPool;

/// Decides whether a provider may offer an instance (Curator's `InstanceFilter`).
/// Closures `Fn(&ServiceInstance<P>) -> bool` implement it.
pub trait InstanceFilter<P>: Send + Sync + 'static {
    /// True to keep `instance`.
    fn apply(&self, instance: &ServiceInstance<P>) -> bool;
}

impl<P, F> InstanceFilter<P> for F
where
    F: Fn(&ServiceInstance<P>) -> bool + Send + Sync + 'static,
{
    fn apply(&self, instance: &ServiceInstance<P>) -> bool {
        self(instance)
    }
}

/// Builder of a [`ServiceProvider`]; from
/// [`ServiceDiscovery::service_provider_builder`](super::ServiceDiscovery::service_provider_builder).
#[must_use = "call build()"]
pub struct ServiceProviderBuilder<P: Send + Sync + 'static> {
    shared: Arc<Shared<P>>,
    service_name: Option<String>,
    strategy: Option<Box<dyn ProviderStrategy<P>>>,
    filters: Vec<Box<dyn InstanceFilter<P>>>,
    down_instance_policy: DownInstancePolicy,
    executor: Option<WorkerPool>,
}

impl<P: Send + Sync + 'static> std::fmt::Debug for ServiceProviderBuilder<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceProviderBuilder")
            .field("base_path", &self.shared.base_path)
            .field("service_name", &self.service_name)
            .field("custom_strategy", &self.strategy.is_some())
            .field("filters", &self.filters.len())
            .field("down_instance_policy", &self.down_instance_policy)
            .field("executor", &self.executor)
            .finish()
    }
}

impl<P: Send + Sync + 'static> ServiceProviderBuilder<P> {
    pub(crate) fn new(shared: Arc<Shared<P>>) -> Self {
        ServiceProviderBuilder {
            shared,
            service_name: None,
            strategy: None,
            filters: Vec::new(),
            down_instance_policy: DownInstancePolicy::default(),
            executor: None,
        }
    }

    /// The service to provide (required).
    pub fn service_name(mut self, name: &str) -> Self {
        self.service_name = Some(name.to_string());
        self
    }

    /// How an instance is picked (default [`RoundRobinStrategy`]).
    pub fn provider_strategy(mut self, strategy: impl ProviderStrategy<P>) -> Self {
        self.strategy = Some(Box::new(strategy));
        self
    }

    /// One more filter (all must accept an instance).
    pub fn additional_filter(mut self, filter: impl InstanceFilter<P>) -> Self {
        self.filters.push(Box::new(filter));
        self
    }

    /// When an instance counts as down (default: 2 errors within 30 s).
    pub fn down_instance_policy(mut self, policy: DownInstancePolicy) -> Self {
        self.down_instance_policy = policy;
        self
    }

    /// Where the provider's cache runs its listeners (default: the event thread).
    pub fn executor(mut self, pool: &WorkerPool) -> Self {
        self.executor = Some(pool.clone());
        self
    }

    /// The provider (not started).
    pub fn build(self) -> Result<ServiceProvider<P>> {
        let name = self
            .service_name
            .ok_or_else(|| Error::InvalidArgument("ServiceProvider needs a service name".into()))?;
        let mut cache = ServiceCacheBuilder::new(self.shared.clone()).name(&name);
        if let Some(pool) = &self.executor {
            cache = cache.executor(pool);
        }
        let picker = Arc::new(Picker {
            cache: cache.build()?,
            strategy: self
                .strategy
                .unwrap_or_else(|| Box::new(RoundRobinStrategy::new())),
            filters: self.filters,
            down: DownInstanceManager::new(self.down_instance_policy),
        });
        Ok(ServiceProvider {
            picker,
            shared: self.shared,
        })
    }
}

/// Hands out instances of one service (Curator's `ServiceProvider`).
///
/// Every call reads the provider's [`ServiceCache`], keeps the instances that are enabled,
/// not down (see [`DownInstancePolicy`]) and accepted by every filter, and lets the
/// strategy pick one. Do not keep an instance for long: ask again for each use, and report
/// failures with [`note_error`](Self::note_error).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::discovery::{RandomStrategy, ServiceDiscoveryBuilder, ServiceInstance};
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// # let server = zk_curator::testing::TestingServer::start()?;
/// # let client = CuratorFrameworkFactory::new_client(&server.connect_string(), RetryOneTime::new(Duration::from_millis(100)))?;
/// # client.start()?;
/// let discovery = ServiceDiscoveryBuilder::<()>::builder()
///     .client(&client)
///     .base_path("/services")
///     .build()?;
/// discovery.start()?;
/// for port in [8080, 8081] {
///     discovery.register_service(&ServiceInstance::builder().name("orders").port(port).build()?)?;
/// }
/// let provider = discovery
///     .service_provider_builder()
///     .service_name("orders")
///     .provider_strategy(RandomStrategy::new())
///     .build()?;
/// provider.start()?;
/// let instance = provider.get_instance().expect("two are registered");
/// assert!(matches!(instance.port(), Some(8080 | 8081)));
/// assert_eq!(provider.get_all_instances().len(), 2);
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct ServiceProvider<P: Send + Sync + 'static> {
    picker: Arc<Picker<P>>,
    shared: Arc<Shared<P>>,
}

/// What picks an instance: the cache it reads, the filters and the down list that narrow
/// it, and the strategy that chooses. The discovery holds it weakly to close the cache.
struct Picker<P: Send + Sync + 'static> {
    cache: ServiceCache<P>,
    strategy: Box<dyn ProviderStrategy<P>>,
    filters: Vec<Box<dyn InstanceFilter<P>>>,
    down: DownInstanceManager,
}

impl<P: Send + Sync + 'static> Closer for Picker<P> {
    fn close_now(&self) {
        self.cache.close();
    }
}

impl<P: Send + Sync + 'static> ServiceProvider<P> {
    /// Starts the cache (waiting for its initial load, see [`ServiceCache::start`]); the
    /// discovery closes the provider when it closes.
    pub fn start(&self) -> Result<()> {
        self.picker.cache.start()?;
        self.shared.add_provider(self.closer());
        Ok(())
    }

    /// One instance, picked by the strategy among those on offer; `None` if there is none.
    pub fn get_instance(&self) -> Option<Arc<ServiceInstance<P>>> {
        self.picker.strategy.get_instance(&self.get_all_instances())
    }

    /// Every instance on offer (enabled, not down, accepted by the filters), ordered by
    /// node name.
    pub fn get_all_instances(&self) -> Vec<Arc<ServiceInstance<P>>> {
        let c = &self.picker;
        let mut all = c.cache.get_instances();
        all.retain(|i| c.filters.iter().all(|f| f.apply(i)) && c.down.is_up(i) && i.is_enabled());
        all
    }

    /// Reports that using `instance` failed; enough reports within the policy's timeout
    /// make it down.
    pub fn note_error(&self, instance: &ServiceInstance<P>) {
        self.picker.down.add(instance);
    }

    /// The cache behind the provider (to add listeners).
    pub fn cache(&self) -> &ServiceCache<P> {
        &self.picker.cache
    }

    /// Stops the provider's cache. Idempotent; also done on drop.
    pub fn close(&self) {
        self.shared.remove_provider(&self.closer());
        self.picker.cache.close();
    }

    fn closer(&self) -> Weak<dyn Closer> {
        let strong: Arc<dyn Closer> = self.picker.clone();
        Arc::downgrade(&strong)
    }
}

impl<P: Send + Sync + 'static> Drop for ServiceProvider<P> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<P: Send + Sync + 'static> std::fmt::Debug for ServiceProvider<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceProvider")
            .field("cache", &self.picker.cache)
            .finish()
    }
}
