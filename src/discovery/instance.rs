//! [`ServiceInstance`] (one registration: where a service runs, what it carries) and its
//! builder, Curator's `ServiceInstance` and `ServiceInstanceBuilder`.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use super::local_ip;
use super::service_type::ServiceType;
use super::uri_spec::{InstanceFields, UriSpec};
use crate::error::{Error, Result};
use crate::framework::protection;
use crate::path;

/// One instance of a service: its name, a unique id, where it listens, and a payload of
/// type `P` (use `()` for none; `serde_json::Value` to keep a Java payload as it is, see
/// [`JsonInstanceSerializer`](super::JsonInstanceSerializer)).
///
/// Stored at `basePath/name/id` as the JSON Curator's `JsonInstanceSerializer` writes, so
/// Java services read it and Rust reads theirs.
///
/// ```
/// use zk_curator::discovery::{ServiceInstance, ServiceType, UriSpec};
/// let instance = ServiceInstance::builder()
///     .name("orders")
///     .address("10.0.0.7")
///     .port(8080)
///     .payload("v2".to_string())
///     .service_type(ServiceType::Static)
///     .uri_spec(UriSpec::new("{scheme}://{address}:{port}")?)
///     .build()?;
/// assert_eq!(instance.id().len(), 36); // a random UUID unless set
/// assert_eq!(instance.payload().map(String::as_str), Some("v2"));
/// assert_eq!(instance.build_uri_spec(), "http://10.0.0.7:8080");
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInstance<P> {
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) address: Option<String>,
    pub(crate) port: Option<u16>,
    pub(crate) ssl_port: Option<u16>,
    pub(crate) payload: Option<P>,
    pub(crate) registration_time_utc: i64,
    pub(crate) service_type: ServiceType,
    pub(crate) uri_spec: Option<UriSpec>,
    pub(crate) enabled: bool,
}

impl<P> ServiceInstance<P> {
    /// A builder with Curator's defaults: a random (version 4) UUID as id, the host's first
    /// non-loopback address (see [`local_ips`](super::local_ips)), the registration time
    /// now, `Dynamic`, enabled.
    pub fn builder() -> ServiceInstanceBuilder<P> {
        ServiceInstanceBuilder {
            name: None,
            id: protection::new_protected_id(),
            address: local_ip::default_address(),
            port: None,
            ssl_port: None,
            payload: None,
            registration_time_utc: now_millis(),
            service_type: ServiceType::Dynamic,
            uri_spec: None,
            enabled: true,
        }
    }

    /// The service's name (the node under the base path).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The instance's id, unique within its service (the node's name).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the instance runs, if known.
    pub fn address(&self) -> Option<&str> {
        self.address.as_deref()
    }

    /// Its port, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// Its SSL port, if any.
    pub fn ssl_port(&self) -> Option<u16> {
        self.ssl_port
    }

    /// The payload, if any.
    pub fn payload(&self) -> Option<&P> {
        self.payload.as_ref()
    }

    /// The payload, taken out.
    pub fn into_payload(self) -> Option<P> {
        self.payload
    }

    /// When it was registered: milliseconds since the Unix epoch (UTC), as Java's
    /// `System.currentTimeMillis()`.
    pub fn registration_time_utc(&self) -> i64 {
        self.registration_time_utc
    }

    /// How the registration lives.
    pub fn service_type(&self) -> ServiceType {
        self.service_type
    }

    /// Its URI template, if any.
    pub fn uri_spec(&self) -> Option<&UriSpec> {
        self.uri_spec.as_ref()
    }

    /// False for an instance its owner has taken out of rotation: providers skip it.
    /// Curator's default serializer does not write this field (readers see `true`); use
    /// [`JsonInstanceSerializer::compatible_serialization_mode`](super::JsonInstanceSerializer::compatible_serialization_mode)
    /// `(false)` to store it.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The URI built from the instance's [`UriSpec`] (empty without one).
    pub fn build_uri_spec(&self) -> String {
        self.build_uri_spec_with(&HashMap::new())
    }

    /// The URI built from the instance's [`UriSpec`] with extra `variables`.
    pub fn build_uri_spec_with(&self, variables: &HashMap<String, String>) -> String {
        match &self.uri_spec {
            Some(s) => s.build_for_with(self, variables),
            None => String::new(),
        }
    }

    /// The same instance with its payload turned into another type.
    pub fn map_payload<Q>(self, f: impl FnOnce(P) -> Q) -> ServiceInstance<Q> {
        ServiceInstance {
            name: self.name,
            id: self.id,
            address: self.address,
            port: self.port,
            ssl_port: self.ssl_port,
            payload: self.payload.map(f),
            registration_time_utc: self.registration_time_utc,
            service_type: self.service_type,
            uri_spec: self.uri_spec,
            enabled: self.enabled,
        }
    }

    /// A builder holding this instance's fields (to change some of them).
    pub fn to_builder(&self) -> ServiceInstanceBuilder<P>
    where
        P: Clone,
    {
        ServiceInstanceBuilder {
            name: Some(self.name.clone()),
            id: self.id.clone(),
            address: self.address.clone(),
            port: self.port,
            ssl_port: self.ssl_port,
            payload: self.payload.clone(),
            registration_time_utc: self.registration_time_utc,
            service_type: self.service_type,
            uri_spec: self.uri_spec.clone(),
            enabled: self.enabled,
        }
    }

    pub(crate) fn fields(&self) -> InstanceFields<'_> {
        InstanceFields {
            name: &self.name,
            id: &self.id,
            address: self.address.as_deref(),
            port: self.port,
            ssl_port: self.ssl_port,
            registration_time_utc: self.registration_time_utc,
            service_type: self.service_type.as_str(),
        }
    }
}

// `UriSpec`'s instance-aware builders live beside the instance, which carries its spec.
impl UriSpec {
    /// The URI for `instance`.
    pub fn build_for<P>(&self, instance: &ServiceInstance<P>) -> String {
        self.render(Some(&instance.fields()), &HashMap::new())
    }

    /// The URI for `instance` with `variables` (which win over the instance's fields).
    pub fn build_for_with<P>(
        &self,
        instance: &ServiceInstance<P>,
        variables: &HashMap<String, String>,
    ) -> String {
        self.render(Some(&instance.fields()), variables)
    }
}

/// Builder of a [`ServiceInstance`] (Curator's `ServiceInstanceBuilder`); start with
/// [`ServiceInstance::builder`].
#[must_use = "call build()"]
#[derive(Debug, Clone)]
pub struct ServiceInstanceBuilder<P> {
    name: Option<String>,
    id: String,
    address: Option<String>,
    port: Option<u16>,
    ssl_port: Option<u16>,
    payload: Option<P>,
    registration_time_utc: i64,
    service_type: ServiceType,
    uri_spec: Option<UriSpec>,
    enabled: bool,
}

impl<P> ServiceInstanceBuilder<P> {
    /// The service's name (required).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The id (default: a random UUID).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// The address (default: the host's first non-loopback address).
    pub fn address(mut self, address: impl Into<String>) -> Self {
        self.address = Some(address.into());
        self
    }

    /// No address.
    pub fn no_address(mut self) -> Self {
        self.address = None;
        self
    }

    /// The port.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// The SSL port (makes the `{scheme}` of the URI `https`).
    pub fn ssl_port(mut self, port: u16) -> Self {
        self.ssl_port = Some(port);
        self
    }

    /// The payload.
    pub fn payload(mut self, payload: P) -> Self {
        self.payload = Some(payload);
        self
    }

    /// The registration time in epoch milliseconds (default: now).
    pub fn registration_time_utc(mut self, millis: i64) -> Self {
        self.registration_time_utc = millis;
        self
    }

    /// The service type (default `Dynamic`).
    pub fn service_type(mut self, t: ServiceType) -> Self {
        self.service_type = t;
        self
    }

    /// The URI template.
    pub fn uri_spec(mut self, spec: UriSpec) -> Self {
        self.uri_spec = Some(spec);
        self
    }

    /// Whether providers may hand the instance out (default true).
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// The instance. The name and the id become node names, so each must be one: not
    /// empty, no `/`, not `.` or `..` ([`InvalidArgument`](Error::InvalidArgument)
    /// otherwise).
    pub fn build(self) -> Result<ServiceInstance<P>> {
        let name = self
            .name
            .ok_or_else(|| Error::InvalidArgument("a service instance needs a name".into()))?;
        check_node_name("service name", &name)?;
        check_node_name("instance id", &self.id)?;
        Ok(ServiceInstance {
            name,
            id: self.id,
            address: self.address,
            port: self.port,
            ssl_port: self.ssl_port,
            payload: self.payload,
            registration_time_utc: self.registration_time_utc,
            service_type: self.service_type,
            uri_spec: self.uri_spec,
            enabled: self.enabled,
        })
    }
}

/// A service name or id is a path segment of the registry.
pub(crate) fn check_node_name(what: &str, s: &str) -> Result<()> {
    if s.is_empty() || s.contains('/') || s == "." || s == ".." {
        return Err(Error::InvalidArgument(format!(
            "{what} {s:?} is not a node name"
        )));
    }
    path::validate_path(&format!("/{s}"), false)
        .map_err(|e| Error::InvalidArgument(format!("{what} {s:?}: {e}")))
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_defaults_are_curators() {
        let before = now_millis();
        let i = ServiceInstance::<()>::builder()
            .name("svc")
            .build()
            .unwrap();
        assert_eq!(i.id().len(), 36);
        assert_eq!(i.id().as_bytes()[14], b'4', "a version 4 UUID: {}", i.id());
        assert!(i.registration_time_utc() >= before);
        assert_eq!(i.service_type(), ServiceType::Dynamic);
        assert!(i.is_enabled());
        assert_eq!(i.port(), None);
        assert!(i.payload().is_none());
        assert_eq!(i.address().map(String::from), local_ip::default_address());
        assert_ne!(
            i.id(),
            ServiceInstance::<()>::builder()
                .name("svc")
                .build()
                .unwrap()
                .id()
        );
    }

    #[test]
    fn names_and_ids_must_be_node_names() {
        assert!(ServiceInstance::<()>::builder().build().is_err());
        for bad in ["", "a/b", ".", ".."] {
            let e = ServiceInstance::<()>::builder().name(bad).build();
            assert!(matches!(e, Err(Error::InvalidArgument(_))), "{bad:?}");
            let e = ServiceInstance::<()>::builder().name("ok").id(bad).build();
            assert!(matches!(e, Err(Error::InvalidArgument(_))), "{bad:?}");
        }
    }

    #[test]
    fn uri_spec_uses_the_instance() {
        let i = ServiceInstance::builder()
            .name("svc")
            .id("i1")
            .no_address()
            .port(80)
            .payload(1)
            .registration_time_utc(5)
            .service_type(ServiceType::DynamicSequential)
            .uri_spec(
                UriSpec::new("{scheme}:{name}:{id}:{address}:{port}:{ssl-port}:{registration-time-utc}:{service-type}")
                    .unwrap(),
            )
            .build()
            .unwrap();
        assert_eq!(i.build_uri_spec(), "http:svc:i1::80::5:dynamic_sequential");
        let vars = HashMap::from([("id".to_string(), "other".to_string())]);
        assert_eq!(
            i.build_uri_spec_with(&vars),
            "http:svc:other::80::5:dynamic_sequential"
        );
        let j = i
            .to_builder()
            .ssl_port(443)
            .build()
            .unwrap()
            .map_payload(|p| p + 1);
        assert!(j.build_uri_spec().starts_with("https:"));
        assert_eq!(j.payload(), Some(&2));
    }
}
