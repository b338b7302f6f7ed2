//! Service discovery, compatible with Apache Curator's `curator-x-discovery`: services
//! register instances (address, ports, a payload, a URI template) under a base path; clients
//! find them, keep a live list, and pick one per call. Rust and Java services share one
//! registry: the layout is Curator's (`basePath/<service name>/<instance id>`) and each
//! instance is the JSON Curator's `JsonInstanceSerializer` writes, byte for byte.
//!
//! Needs the cargo feature **`discovery`** (it brings `serde` and `serde_json`).
//!
//! | piece | what it does |
//! |---|---|
//! | [`ServiceInstance`], [`ServiceInstanceBuilder`], [`ServiceType`], [`UriSpec`] | one registration |
//! | [`ServiceDiscovery`], [`ServiceDiscoveryBuilder`] | register, update, unregister; query the registry |
//! | [`ServiceCache`], [`ServiceCacheListener`] | a live list of one service's instances |
//! | [`ServiceProvider`], [`ProviderStrategy`] ([`RoundRobinStrategy`], [`RandomStrategy`], [`StickyStrategy`]), [`DownInstancePolicy`], [`InstanceFilter`] | one instance per call |
//! | [`InstanceSerializer`], [`JsonInstanceSerializer`] | the JSON format; typed or raw payloads |
//!
//! ```
//! use std::time::Duration;
//! use serde::{Deserialize, Serialize};
//! use zk_curator::discovery::{JsonInstanceSerializer, ServiceDiscoveryBuilder, ServiceInstance, UriSpec};
//! use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
//!
//! /// The payload; a Java service would use a class with the same properties.
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
//! struct InstanceDetails {
//!     description: String,
//! }
//!
//! # let server = zk_curator::testing::TestingServer::start()?;
//! let client = CuratorFrameworkFactory::new_client(
//!     &server.connect_string(),
//!     RetryOneTime::new(Duration::from_millis(100)),
//! )?;
//! client.start()?;
//!
//! // A service registers itself ...
//! let me = ServiceInstance::builder()
//!     .name("orders")
//!     .address("10.0.0.7")
//!     .port(8080)
//!     .payload(InstanceDetails { description: "primary".into() })
//!     .uri_spec(UriSpec::new("{scheme}://{address}:{port}")?)
//!     .build()?;
//! let discovery = ServiceDiscoveryBuilder::builder()
//!     .client(&client)
//!     .base_path("/services")
//!     .serializer(JsonInstanceSerializer::new().payload_class("com.example.InstanceDetails"))
//!     .this_instance(me)
//!     .build()?;
//! discovery.start()?;
//!
//! // ... and its clients ask for an instance per call.
//! let provider = discovery.service_provider_builder().service_name("orders").build()?;
//! provider.start()?;
//! let instance = provider.get_instance().expect("registered above");
//! assert_eq!(instance.build_uri_spec(), "http://10.0.0.7:8080");
//! assert_eq!(instance.payload().unwrap().description, "primary");
//! # Ok::<(), zk_curator::Error>(())
//! ```
//!
//! # Threads
//!
//! A discovery owns one worker thread (`zk-worker-0`) that keeps its registrations: after
//! each reconnect, and when someone else deletes or changes one of its nodes. Caches are
//! [`CuratorCacheBridge`](crate::recipes::cache::CuratorCacheBridge)s; their listeners run
//! on the client's event thread unless given a [`WorkerPool`](crate::WorkerPool).
//!
//! Layering, bottom up (a module uses only those before it; `.ci/import_loops.py` checks):
//! json, local_ip, service_type, uri_spec; instance (with `UriSpec`'s builders for an
//! instance); down_instance, serializer, strategy; registry; service_cache;
//! service_provider; service_discovery.

mod down_instance;
mod instance;
mod json;
mod local_ip;
mod registry;
mod serializer;
mod service_cache;
mod service_discovery;
mod service_provider;
mod service_type;
mod strategy;
mod uri_spec;

pub use down_instance::DownInstancePolicy;
pub use instance::{ServiceInstance, ServiceInstanceBuilder};
pub use local_ip::local_ips;
pub use serializer::{InstanceSerializer, JsonInstanceSerializer};
pub use service_cache::{ServiceCache, ServiceCacheBuilder, ServiceCacheListener};
pub use service_discovery::{ServiceDiscovery, ServiceDiscoveryBuilder};
pub use service_provider::{InstanceFilter, ServiceProvider, ServiceProviderBuilder};
pub use service_type::ServiceType;
pub use strategy::{ProviderStrategy, RandomStrategy, RoundRobinStrategy, StickyStrategy};
pub use uri_spec::{UriSpec, UriSpecPart};
