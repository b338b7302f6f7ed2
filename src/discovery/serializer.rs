//! How instances become node data: the [`InstanceSerializer`] trait and
//! [`JsonInstanceSerializer`], which writes exactly what Curator 5.4's
//! `JsonInstanceSerializer` writes and reads what it writes.
//!
//! The document (fields in this order, `null` where a value is missing):
//!
//! ```text
//! {"name":"orders","id":"…","address":"10.0.0.7","port":8080,"sslPort":null,
//!  "payload":{"@class":"com.example.InstanceDetails",…},"registrationTimeUTC":1700000000000,
//!  "serviceType":"DYNAMIC","uriSpec":{"parts":[{"value":"scheme","variable":true},…]}}
//! ```
//!
//! plus `"enabled":…` at the end outside compatible mode. Reading is Jackson's: unknown
//! fields are ignored, a missing field keeps Curator's default (`""` for name and id,
//! `DYNAMIC`, enabled, time 0).
//!
//! The payload carries Jackson's type information (`@JsonTypeInfo(use = CLASS)` with
//! `Object` as the default type): a string, a boolean, an `int` or a `double` is written
//! plain; an object gets an `"@class"` member first; anything else is wrapped as
//! `["<class>", value]` (a `java.util.ArrayList`, a `java.lang.Long`, ...).

use std::any::TypeId;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::instance::ServiceInstance;
use super::json::{self, Fields};
use super::service_type::ServiceType;
use super::uri_spec::{UriSpec, UriSpecPart};
use crate::error::{Error, Result};

/// Turns instances into node data and back (Curator's `InstanceSerializer`).
pub trait InstanceSerializer<P>: Send + Sync + 'static {
    /// The node data of `instance`.
    fn serialize(&self, instance: &ServiceInstance<P>) -> Result<Vec<u8>>;

    /// The instance stored in `bytes`; a [`Serialization`](Error::Serialization) error for
    /// data that is not one.
    fn deserialize(&self, bytes: &[u8]) -> Result<ServiceInstance<P>>;
}

/// Java classes whose values Jackson writes without type information.
const NATURAL: [&str; 4] = [
    "java.lang.String",
    "java.lang.Boolean",
    "java.lang.Integer",
    "java.lang.Double",
];

/// Curator's JSON format (see the module docs).
///
/// * A typed payload `P` (any `Serialize + DeserializeOwned`, usually a struct mirroring the
///   Java payload class) is written with the Java class name of
///   [`payload_class`](Self::payload_class), or `java.util.LinkedHashMap` for an object and
///   `java.util.ArrayList` for an array when none is set, so that a Java reader whose payload
///   type is a `Map`, a `List` or `Object` accepts it. The type information is dropped when
///   reading.
/// * A `serde_json::Value` payload is kept as it is in the registry, `@class` included, and
///   written back with the same content: the form for payloads of Java classes Rust does
///   not model. (An object's members come back in sorted order after `@class`, as
///   serde_json keeps them; JSON objects are unordered and Jackson reads them in any
///   order.)
///
/// Compatible mode (the default, as in Curator) leaves out `enabled`, which Curator's 4.x
/// readers reject.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use zk_curator::discovery::{InstanceSerializer, JsonInstanceSerializer, ServiceInstance};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct Details {
///     description: String,
/// }
///
/// let s = JsonInstanceSerializer::<Details>::new().payload_class("com.example.Details");
/// let instance = ServiceInstance::builder()
///     .name("orders")
///     .id("i-1")
///     .address("10.0.0.7")
///     .payload(Details { description: "primary".into() })
///     .registration_time_utc(1_700_000_000_000)
///     .build()?;
/// let json = String::from_utf8(s.serialize(&instance)?).unwrap();
/// assert_eq!(
///     json,
///     r#"{"name":"orders","id":"i-1","address":"10.0.0.7","port":null,"sslPort":null,"#
///         .to_owned()
///         + r#""payload":{"@class":"com.example.Details","description":"primary"},"#
///         + r#""registrationTimeUTC":1700000000000,"serviceType":"DYNAMIC","uriSpec":null}"#
/// );
/// assert_eq!(s.deserialize(json.as_bytes())?, instance);
///
/// // The same registration read without knowing the class.
/// let raw = JsonInstanceSerializer::<serde_json::Value>::new().deserialize(json.as_bytes())?;
/// assert_eq!(raw.payload().unwrap()["@class"], "com.example.Details");
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct JsonInstanceSerializer<P> {
    compatible: bool,
    payload_class: Option<String>,
    _payload: PhantomData<fn() -> P>,
}

impl<P: Serialize + DeserializeOwned + 'static> Default for JsonInstanceSerializer<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P> Clone for JsonInstanceSerializer<P> {
    fn clone(&self) -> Self {
        JsonInstanceSerializer {
            compatible: self.compatible,
            payload_class: self.payload_class.clone(),
            _payload: PhantomData,
        }
    }
}

impl<P> std::fmt::Debug for JsonInstanceSerializer<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonInstanceSerializer")
            .field("compatible", &self.compatible)
            .field("payload_class", &self.payload_class)
            .finish()
    }
}

impl<P: Serialize + DeserializeOwned + 'static> JsonInstanceSerializer<P> {
    /// Curator's default serializer: compatible mode, no payload class.
    pub fn new() -> Self {
        JsonInstanceSerializer {
            compatible: true,
            payload_class: None,
            _payload: PhantomData,
        }
    }

    /// `false` also writes the `enabled` field (Curator's
    /// `new JsonInstanceSerializer<>(cls, false)`); readers of Curator 4.x reject it.
    pub fn compatible_serialization_mode(mut self, compatible: bool) -> Self {
        self.compatible = compatible;
        self
    }

    /// The Java class a Java reader should make of the payload (its `@class`), e.g.
    /// `com.example.InstanceDetails`. Java resolves it with `Class.forName`, so it must
    /// exist there. For a number or a string it also selects wrapping (`java.lang.Long`)
    /// or not (`java.lang.Integer`, `java.lang.String`, ...).
    pub fn payload_class(mut self, class: impl Into<String>) -> Self {
        self.payload_class = Some(class.into());
        self
    }

    fn raw(&self) -> bool {
        TypeId::of::<P>() == TypeId::of::<Value>()
    }

    fn write_payload(&self, out: &mut Vec<u8>, p: Option<&P>) -> Result<()> {
        let Some(p) = p else {
            out.extend_from_slice(b"null");
            return Ok(());
        };
        if self.raw() {
            let v = serde_json::to_value(p).map_err(json::ser_error)?;
            return json::write_class_first(out, &v);
        }
        let text = json::to_vec(p)?;
        let class = self.payload_class.as_deref();
        match text.first() {
            Some(b'{') => {
                if has_class_member(&text) {
                    out.extend_from_slice(&text);
                } else {
                    out.extend_from_slice(b"{\"@class\":");
                    json::write(out, class.unwrap_or("java.util.LinkedHashMap"))?;
                    if text != b"{}" {
                        out.push(b',');
                    }
                    out.extend_from_slice(&text[1..]);
                }
            }
            Some(b'[') => {
                out.push(b'[');
                json::write(out, class.unwrap_or("java.util.ArrayList"))?;
                out.push(b',');
                out.extend_from_slice(&text);
                out.push(b']');
            }
            Some(b'n') => out.extend_from_slice(b"null"),
            _ => match class {
                Some(c) if !NATURAL.contains(&c) => {
                    out.push(b'[');
                    json::write(out, c)?;
                    out.push(b',');
                    out.extend_from_slice(&text);
                    out.push(b']');
                }
                _ => out.extend_from_slice(&text),
            },
        }
        Ok(())
    }

    fn read_payload(&self, v: Option<&Value>) -> Result<Option<P>> {
        let v = match v {
            None | Some(Value::Null) => return Ok(None),
            Some(v) => v.clone(),
        };
        let v = if self.raw() {
            v
        } else {
            match v {
                Value::Object(mut m) => {
                    m.remove("@class");
                    Value::Object(m)
                }
                // Jackson's wrapper array: ["<class>", value].
                Value::Array(mut a) if a.len() == 2 && a[0].is_string() => a.swap_remove(1),
                other => other,
            }
        };
        serde_json::from_value(v)
            .map(Some)
            .map_err(|e| Error::Serialization(format!("service instance payload: {e}")))
    }
}

/// True when a serialized object has an `@class` member of its own.
fn has_class_member(text: &[u8]) -> bool {
    text.windows(8).any(|w| w == b"\"@class\"")
        && matches!(serde_json::from_slice::<Value>(text), Ok(Value::Object(m)) if m.contains_key("@class"))
}

impl<P: Serialize + DeserializeOwned + Send + Sync + 'static> InstanceSerializer<P>
    for JsonInstanceSerializer<P>
{
    fn serialize(&self, i: &ServiceInstance<P>) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(256);
        let nullable_str = |out: &mut Vec<u8>, s: Option<&str>| match s {
            Some(s) => json::write(out, s),
            None => {
                out.extend_from_slice(b"null");
                Ok(())
            }
        };
        let nullable_port = |out: &mut Vec<u8>, p: Option<u16>| match p {
            Some(p) => out.extend_from_slice(p.to_string().as_bytes()),
            None => out.extend_from_slice(b"null"),
        };
        out.extend_from_slice(b"{\"name\":");
        json::write(&mut out, &i.name)?;
        out.extend_from_slice(b",\"id\":");
        json::write(&mut out, &i.id)?;
        out.extend_from_slice(b",\"address\":");
        nullable_str(&mut out, i.address.as_deref())?;
        out.extend_from_slice(b",\"port\":");
        nullable_port(&mut out, i.port);
        out.extend_from_slice(b",\"sslPort\":");
        nullable_port(&mut out, i.ssl_port);
        out.extend_from_slice(b",\"payload\":");
        self.write_payload(&mut out, i.payload.as_ref())?;
        out.extend_from_slice(b",\"registrationTimeUTC\":");
        out.extend_from_slice(i.registration_time_utc.to_string().as_bytes());
        out.extend_from_slice(b",\"serviceType\":\"");
        out.extend_from_slice(i.service_type.as_str().as_bytes());
        out.extend_from_slice(b"\",\"uriSpec\":");
        match &i.uri_spec {
            None => out.extend_from_slice(b"null"),
            Some(spec) => {
                out.extend_from_slice(b"{\"parts\":[");
                for (n, p) in spec.parts().iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(b"{\"value\":");
                    json::write(&mut out, p.value())?;
                    out.extend_from_slice(b",\"variable\":");
                    out.extend_from_slice(if p.is_variable() { b"true" } else { b"false" });
                    out.push(b'}');
                }
                out.extend_from_slice(b"]}");
            }
        }
        if !self.compatible {
            out.extend_from_slice(b",\"enabled\":");
            out.extend_from_slice(if i.enabled { b"true" } else { b"false" });
        }
        out.push(b'}');
        Ok(out)
    }

    fn deserialize(&self, bytes: &[u8]) -> Result<ServiceInstance<P>> {
        let doc: Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::Serialization(format!("service instance JSON: {e}")))?;
        let f = Fields::of(&doc, "service instance")?;
        let service_type = match f.string("serviceType")? {
            Some(t) => t.parse()?,
            None => ServiceType::Dynamic,
        };
        let uri_spec = match f.get("uriSpec") {
            None => None,
            Some(spec) => Some(read_uri_spec(spec)?),
        };
        Ok(ServiceInstance {
            name: f.string("name")?.unwrap_or_default(),
            id: f.string("id")?.unwrap_or_default(),
            address: f.string("address")?,
            port: f.port("port")?,
            ssl_port: f.port("sslPort")?,
            payload: self.read_payload(f.get("payload"))?,
            registration_time_utc: f.i64("registrationTimeUTC")?.unwrap_or(0),
            service_type,
            uri_spec,
            // Jackson gives a primitive boolean `false` for null, the default `true` when
            // the field is missing.
            enabled: match f.bool("enabled")? {
                Some(b) => b,
                None => !f.has("enabled"),
            },
        })
    }
}

fn read_uri_spec(v: &Value) -> Result<UriSpec> {
    let f = Fields::of(v, "uriSpec")?;
    let mut parts = Vec::new();
    match f.get("parts") {
        None => {}
        Some(Value::Array(items)) => {
            for item in items {
                let p = Fields::of(item, "uriSpec part")?;
                parts.push(UriSpecPart::new(
                    p.string("value")?.unwrap_or_default(),
                    p.bool("variable")?.unwrap_or(false),
                ));
            }
        }
        Some(_) => {
            return Err(Error::Serialization(
                "uriSpec: field \"parts\" must be an array".into(),
            ))
        }
    }
    Ok(UriSpec::from_parts(parts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn instance<P>(payload: Option<P>) -> ServiceInstance<P> {
        let mut b = ServiceInstance::builder()
            .name("s")
            .id("i")
            .address("a")
            .registration_time_utc(1);
        if let Some(p) = payload {
            b = b.payload(p);
        }
        b.build().unwrap()
    }

    fn payload_json<P: Serialize + DeserializeOwned + Send + Sync + 'static>(
        s: &JsonInstanceSerializer<P>,
        p: P,
    ) -> String {
        let bytes = s.serialize(&instance(Some(p))).unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        let start = text.find("\"payload\":").unwrap() + 10;
        let end = text.find(",\"registrationTimeUTC\"").unwrap();
        assert!(v["payload"] != Value::Null || &text[start..end] == "null");
        text[start..end].to_string()
    }

    #[test]
    fn payload_type_information_as_jackson_writes_it() {
        let map = BTreeMap::from([("k".to_string(), 1)]);
        assert_eq!(
            payload_json(&JsonInstanceSerializer::new(), map.clone()),
            r#"{"@class":"java.util.LinkedHashMap","k":1}"#
        );
        assert_eq!(
            payload_json(
                &JsonInstanceSerializer::new(),
                BTreeMap::<String, i32>::new()
            ),
            r#"{"@class":"java.util.LinkedHashMap"}"#
        );
        assert_eq!(
            payload_json(&JsonInstanceSerializer::new().payload_class("a.B"), map),
            r#"{"@class":"a.B","k":1}"#
        );
        assert_eq!(
            payload_json(&JsonInstanceSerializer::new(), vec![1, 2]),
            r#"["java.util.ArrayList",[1,2]]"#
        );
        assert_eq!(payload_json(&JsonInstanceSerializer::new(), 7i64), "7");
        assert_eq!(
            payload_json(
                &JsonInstanceSerializer::new().payload_class("java.lang.Long"),
                7i64
            ),
            r#"["java.lang.Long",7]"#
        );
        assert_eq!(
            payload_json(
                &JsonInstanceSerializer::new().payload_class("java.lang.String"),
                "x".to_string()
            ),
            r#""x""#
        );
        assert_eq!(
            payload_json(&JsonInstanceSerializer::new(), Some(())),
            "null"
        );
        // A payload that names its class itself keeps it.
        let own: Value = serde_json::json!({"@class": "Own", "a": 1});
        let typed: BTreeMap<String, Value> = serde_json::from_value(own).unwrap();
        assert_eq!(
            payload_json(&JsonInstanceSerializer::new(), typed),
            r#"{"@class":"Own","a":1}"#
        );
    }

    #[test]
    fn typed_reading_drops_type_information_raw_keeps_it() {
        let s = JsonInstanceSerializer::<Vec<String>>::new();
        let i = s.serialize(&instance(Some(vec!["a".to_string()]))).unwrap();
        assert_eq!(s.deserialize(&i).unwrap().payload().unwrap(), &["a"]);
        let raw = JsonInstanceSerializer::<Value>::new()
            .deserialize(&i)
            .unwrap();
        assert_eq!(
            raw.payload().unwrap(),
            &serde_json::json!(["java.util.ArrayList", ["a"]])
        );
        // Raw payloads are written back as they were, @class first.
        let again = JsonInstanceSerializer::<Value>::new()
            .serialize(&raw)
            .unwrap();
        assert_eq!(again, i);
        let m = br#"{"name":"s","payload":{"x":1,"@class":"java.util.HashMap"}}"#;
        let typed = JsonInstanceSerializer::<BTreeMap<String, i32>>::new();
        assert_eq!(typed.deserialize(m).unwrap().payload().unwrap()["x"], 1);
        let raw = JsonInstanceSerializer::<Value>::new();
        let out = raw.serialize(&raw.deserialize(m).unwrap()).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .contains(r#""payload":{"@class":"java.util.HashMap","x":1}"#));
    }

    #[test]
    fn reading_is_lenient_like_jackson_and_strict_about_types() {
        let s = JsonInstanceSerializer::<()>::new();
        let i = s
            .deserialize(br#"{"unknown":[1,{"x":2}],"name":"n"}"#)
            .unwrap();
        assert_eq!((i.name(), i.id(), i.address()), ("n", "", None));
        assert_eq!(i.service_type(), ServiceType::Dynamic);
        assert!(i.is_enabled());
        assert_eq!(i.registration_time_utc(), 0);
        assert!(!s.deserialize(br#"{"enabled":null}"#).unwrap().is_enabled());
        assert!(!s.deserialize(br#"{"enabled":false}"#).unwrap().is_enabled());
        let spec = s
            .deserialize(br#"{"uriSpec":{"parts":[{"value":"port","variable":true},{}]}}"#)
            .unwrap();
        assert_eq!(spec.uri_spec().unwrap().parts().len(), 2);
        for bad in [
            &b"{not json"[..],
            b"[]",
            b"{\"port\":\"80\"}",
            b"{\"port\":-1}",
            b"{\"serviceType\":\"NOPE\"}",
            b"{\"uriSpec\":{\"parts\":{}}}",
            b"{\"registrationTimeUTC\":1.5}",
        ] {
            assert!(
                matches!(s.deserialize(bad), Err(Error::Serialization(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let typed = JsonInstanceSerializer::<u32>::new();
        assert!(matches!(
            typed.deserialize(br#"{"payload":"text"}"#),
            Err(Error::Serialization(m)) if m.contains("payload")
        ));
    }

    #[test]
    fn enabled_is_written_outside_compatible_mode() {
        let s = JsonInstanceSerializer::<()>::new().compatible_serialization_mode(false);
        let mut i = instance::<()>(None);
        i.enabled = false;
        let text = String::from_utf8(s.serialize(&i).unwrap()).unwrap();
        assert!(
            text.ends_with(r#""uriSpec":null,"enabled":false}"#),
            "{text}"
        );
        assert_eq!(s.deserialize(text.as_bytes()).unwrap(), i);
    }
}
