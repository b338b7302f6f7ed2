//! [`ServiceDiscovery`] and its builder: register this process's instances, query the
//! registry, and make [caches](super::ServiceCache) and [providers](super::ServiceProvider)
//! (Curator's `ServiceDiscovery`, `ServiceDiscoveryImpl` and `ServiceDiscoveryBuilder`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::instance::ServiceInstance;
use super::registry::{Shared, CLOSED, LATENT, STARTED};
use super::serializer::{InstanceSerializer, JsonInstanceSerializer};
use super::service_cache::ServiceCacheBuilder;
use super::service_provider::ServiceProviderBuilder;
use crate::error::{Error, Result};
use crate::framework::CuratorFramework;
use crate::path;

/// Builder of a [`ServiceDiscovery`] (Curator's `ServiceDiscoveryBuilder`).
#[must_use = "call build()"]
pub struct ServiceDiscoveryBuilder<P> {
    client: Option<CuratorFramework>,
    base_path: Option<String>,
    serializer: Option<Arc<dyn InstanceSerializer<P>>>,
    this_instance: Option<ServiceInstance<P>>,
    watch_instances: bool,
}

// The payload type need not be Debug: the instance is shown by name and id.
impl<P> std::fmt::Debug for ServiceDiscoveryBuilder<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let this = self.this_instance.as_ref().map(|i| (&i.name, &i.id));
        f.debug_struct("ServiceDiscoveryBuilder")
            .field("base_path", &self.base_path)
            .field("custom_serializer", &self.serializer.is_some())
            .field("this_instance", &this)
            .field("watch_instances", &self.watch_instances)
            .finish_non_exhaustive()
    }
}

impl<P: Send + Sync + 'static> ServiceDiscoveryBuilder<P> {
    /// A builder for payloads of type `P` (`()` for none).
    pub fn builder() -> Self {
        ServiceDiscoveryBuilder {
            client: None,
            base_path: None,
            serializer: None,
            this_instance: None,
            watch_instances: false,
        }
    }

    /// The client (required; started or not).
    pub fn client(mut self, client: &CuratorFramework) -> Self {
        self.client = Some(client.clone());
        self
    }

    /// The registry's root, e.g. `/services` (required).
    pub fn base_path(mut self, base_path: &str) -> Self {
        self.base_path = Some(base_path.to_string());
        self
    }

    /// How instances are stored (default: [`JsonInstanceSerializer::new`], Curator's
    /// default).
    pub fn serializer(mut self, serializer: impl InstanceSerializer<P>) -> Self {
        self.serializer = Some(Arc::new(serializer));
        self
    }

    /// An instance registered by `start()` (this process's own).
    pub fn this_instance(mut self, instance: ServiceInstance<P>) -> Self {
        self.this_instance = Some(instance);
        self
    }

    /// Watch this discovery's registrations: when someone else changes a registration's
    /// data, the new data is what re-registrations write (default false, as in Curator).
    pub fn watch_instances(mut self, watch: bool) -> Self {
        self.watch_instances = watch;
        self
    }
}

impl<P: Serialize + DeserializeOwned + Send + Sync + 'static> ServiceDiscoveryBuilder<P> {
    /// The discovery (not started). Errors: no client, no or an invalid base path, an
    /// instance the serializer cannot write.
    pub fn build(self) -> Result<ServiceDiscovery<P>> {
        let client = self
            .client
            .ok_or_else(|| Error::InvalidArgument("ServiceDiscovery needs a client".into()))?;
        let base_path = self
            .base_path
            .ok_or_else(|| Error::InvalidArgument("ServiceDiscovery needs a base path".into()))?;
        path::validate_path(&base_path, false)?;
        let serializer = self
            .serializer
            .unwrap_or_else(|| Arc::new(JsonInstanceSerializer::<P>::new()));
        let shared = Shared::new(client, base_path, serializer, self.watch_instances)?;
        if let Some(i) = &self.this_instance {
            let bytes = shared.serializer.serialize(i)?;
            shared.entry(&i.name, &i.id, i.service_type, bytes)?;
        }
        Ok(ServiceDiscovery { shared })
    }
}

/// Registers service instances and finds them, in the layout and JSON of Curator's
/// `curator-x-discovery`, so that Rust and Java services share one registry
/// (`basePath/<name>/<id>`, see [`ServiceType`](super::ServiceType) for the node modes).
///
/// Registrations are kept: a `Dynamic` instance whose session ends (or whose node someone
/// else deletes) is registered again as soon as the client is connected again; every
/// registration is checked after each reconnect. `close()` (or dropping the discovery)
/// removes every registration it made and closes its providers.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::discovery::{ServiceDiscoveryBuilder, ServiceInstance};
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(100)),
/// )?;
/// client.start()?;
///
/// let me = ServiceInstance::builder().name("orders").address("10.0.0.7").port(8080).build()?;
/// let discovery = ServiceDiscoveryBuilder::<()>::builder()
///     .client(&client)
///     .base_path("/services")
///     .this_instance(me.clone())
///     .build()?;
/// discovery.start()?;
///
/// assert_eq!(discovery.query_for_names()?, ["orders"]);
/// let found = discovery.query_for_instance("orders", me.id())?.unwrap();
/// assert_eq!(found, me);
/// discovery.close()?; // unregisters
/// assert!(discovery.query_for_instances("orders")?.is_empty());
/// # client.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct ServiceDiscovery<P: Send + Sync + 'static> {
    shared: Arc<Shared<P>>,
}

impl<P: Send + Sync + 'static> ServiceDiscovery<P> {
    /// Registers the builder's `this_instance` and starts keeping registrations (see the
    /// type's docs). A registration that fails for a server or connection reason is logged
    /// and made again on the next connection, as in Curator; other errors are returned.
    /// Starting twice, or after close, is an error.
    pub fn start(&self) -> Result<()> {
        let s = &self.shared;
        if s.state
            .compare_exchange(LATENT, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(Error::InvalidArgument(
                "the service discovery was already started or is closed".into(),
            ));
        }
        // First, so that a connection made while registering is not missed.
        s.listen_for_reconnects();
        for id in s.entry_ids() {
            let Some(e) = s.get_entry(&id) else { continue };
            match s.register(&e, None) {
                Ok(()) => {}
                Err(err) if err.code().is_some() => log::error!(
                    "could not register {}/{}, will try again after reconnecting: {err}",
                    e.name,
                    e.id
                ),
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// Registers `instance` (again, if it was: its node is deleted and created anew so that
    /// watchers notice). It is kept registered until unregistered or closed.
    pub fn register_service(&self, instance: &ServiceInstance<P>) -> Result<()> {
        self.check_open()?;
        let s = &self.shared;
        let bytes = s.serializer.serialize(instance)?;
        let e = s.entry(
            &instance.name,
            &instance.id,
            instance.service_type,
            bytes.clone(),
        )?;
        s.register(&e, Some(bytes))
    }

    /// Writes a registered instance's new state (same name and id). An instance this
    /// discovery did not register is an [`InvalidArgument`](Error::InvalidArgument) error.
    pub fn update_service(&self, instance: &ServiceInstance<P>) -> Result<()> {
        self.check_open()?;
        let s = &self.shared;
        let e = s
            .get_entry(&instance.id)
            .filter(|e| e.name == instance.name)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "service not registered: {}/{}",
                    instance.name, instance.id
                ))
            })?;
        let bytes = s.serializer.serialize(instance)?;
        s.update(&e, bytes)
    }

    /// Removes a registration of this discovery (nothing happens for others, as in Curator).
    /// The delete is guaranteed: if it fails, it is retried in the background.
    pub fn unregister_service(&self, instance: &ServiceInstance<P>) -> Result<()> {
        let s = &self.shared;
        match s
            .get_entry(&instance.id)
            .filter(|e| e.name == instance.name)
        {
            Some(_) => match s.remove_entry(&instance.id) {
                Some(e) => s.unregister(&e),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// The names of every registered service (the children of the base path; none when
    /// it does not exist).
    pub fn query_for_names(&self) -> Result<Vec<String>> {
        let mut names = children_or_none(&self.shared.client, &self.shared.base_path)?;
        names.sort();
        Ok(names)
    }

    /// Every instance of service `name`, ordered by node name. A node whose data is not an
    /// instance (written by someone else) is skipped with a logged warning.
    pub fn query_for_instances(&self, name: &str) -> Result<Vec<ServiceInstance<P>>> {
        let s = &self.shared;
        let parent = s.path_for_name(name)?;
        let mut ids = children_or_none(&s.client, &parent)?;
        ids.sort();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let p = path::make_path(&parent, &id);
            match s.client.get_data().for_path(&p) {
                Ok(data) => match s.serializer.deserialize(&data) {
                    Ok(i) => out.push(i),
                    Err(err) => log::warn!("skipping {p}: not a service instance: {err}"),
                },
                Err(Error::NoNode { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(out)
    }

    /// Instance `id` of service `name`: `None` if there is no such node, a
    /// [`Serialization`](Error::Serialization) error if its data is not an instance.
    pub fn query_for_instance(&self, name: &str, id: &str) -> Result<Option<ServiceInstance<P>>> {
        let s = &self.shared;
        let p = s.path_for_instance(name, id)?;
        match s.client.get_data().for_path(&p) {
            Ok(data) => s.serializer.deserialize(&data).map(Some),
            Err(Error::NoNode { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Registration `id` of this discovery as it will be written again after a reconnect:
    /// as registered or updated, or, with `watch_instances`, as someone else last changed
    /// it (Curator's `getRegisteredService`). `None` for an id it did not register.
    pub fn get_registered_service(&self, id: &str) -> Option<ServiceInstance<P>> {
        let e = self.shared.get_entry(id)?;
        self.shared.serializer.deserialize(&e.bytes()).ok()
    }

    /// A builder of a [`ServiceCache`](super::ServiceCache) of one service.
    pub fn service_cache_builder(&self) -> ServiceCacheBuilder<P> {
        ServiceCacheBuilder::new(self.shared.clone())
    }

    /// A builder of a [`ServiceProvider`](super::ServiceProvider) of one service
    /// (round-robin unless told otherwise).
    pub fn service_provider_builder(&self) -> ServiceProviderBuilder<P> {
        ServiceProviderBuilder::new(self.shared.clone())
    }

    /// The client.
    pub fn client(&self) -> &CuratorFramework {
        &self.shared.client
    }

    /// The registry's root.
    pub fn base_path(&self) -> &str {
        &self.shared.base_path
    }

    /// Closes the providers made by this discovery and removes every registration it made
    /// (each delete is guaranteed). Returns the first error; the others are logged.
    /// Idempotent; also done on drop.
    pub fn close(&self) -> Result<()> {
        let s = &self.shared;
        if s.state.swap(CLOSED, Ordering::AcqRel) == CLOSED {
            return Ok(());
        }
        s.shut_down();
        let mut first = None;
        for e in s.take_entries() {
            if let Err(err) = s.unregister(&e) {
                log::error!("could not unregister {}/{}: {err}", e.name, e.id);
                first.get_or_insert(err);
            }
        }
        s.stop_worker();
        first.map_or(Ok(()), Err)
    }

    fn check_open(&self) -> Result<()> {
        if self.shared.is_closed() {
            return Err(Error::InvalidArgument(
                "the service discovery is closed".into(),
            ));
        }
        Ok(())
    }
}

impl<P: Send + Sync + 'static> Drop for ServiceDiscovery<P> {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl<P: Send + Sync + 'static> std::fmt::Debug for ServiceDiscovery<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceDiscovery")
            .field("base_path", &self.shared.base_path)
            .field("registered", &self.shared.entry_ids())
            .finish()
    }
}

fn children_or_none(client: &CuratorFramework, p: &str) -> Result<Vec<String>> {
    match client.get_children().for_path(p) {
        Ok(c) => Ok(c),
        Err(Error::NoNode { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}
