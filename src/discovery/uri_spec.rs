//! [`UriSpec`]: a URI template stored with each instance (`{scheme}://{address}:{port}`),
//! Curator's `UriSpec`: literal text and `{variable}` parts, filled in from an instance and
//! from the caller's own variables.

use std::collections::HashMap;
use std::fmt;

use crate::error::{Error, Result};

/// One piece of a [`UriSpec`] (Curator's `UriSpec.Part`): literal text, or the name of a
/// variable (in the JSON: `{"value":"port","variable":true}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UriSpecPart {
    value: String,
    variable: bool,
}

impl UriSpecPart {
    /// A part: a variable name when `variable`, literal text otherwise.
    pub fn new(value: impl Into<String>, variable: bool) -> UriSpecPart {
        UriSpecPart {
            value: value.into(),
            variable,
        }
    }

    /// The literal text or the variable's name.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// True for a `{variable}`.
    pub fn is_variable(&self) -> bool {
        self.variable
    }
}

/// A URI template with replacement fields, kept with each
/// [`ServiceInstance`](super::ServiceInstance) so that a client can build the instance's
/// address (Curator's `UriSpec`).
///
/// A field is a name between braces; the rest is kept literally. Building replaces
/// [`FIELD_SCHEME`](Self::FIELD_SCHEME) (`http`, or `https` when the instance has an SSL
/// port), the instance's `name`, `id`, `address`, `port`, `ssl-port`,
/// `registration-time-utc` and `service-type` (lower case), `{[}` and `{]}` (a literal `{`
/// and `}`), and the caller's own variables, which win over all of these. A field nobody
/// knows is left out.
///
/// ```
/// use zk_curator::discovery::{ServiceInstance, UriSpec};
/// let spec = UriSpec::new("{scheme}://{address}:{ssl-port}/v1/{name}")?;
/// let instance = ServiceInstance::<()>::builder()
///     .name("orders")
///     .address("10.0.0.7")
///     .port(8080)
///     .ssl_port(8443)
///     .uri_spec(spec)
///     .build()?;
/// assert_eq!(instance.build_uri_spec(), "https://10.0.0.7:8443/v1/orders");
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct UriSpec {
    parts: Vec<UriSpecPart>,
}

/// The fields of an instance a [`UriSpec`] can use.
pub(crate) struct InstanceFields<'a> {
    pub name: &'a str,
    pub id: &'a str,
    pub address: Option<&'a str>,
    pub port: Option<u16>,
    pub ssl_port: Option<u16>,
    pub registration_time_utc: i64,
    pub service_type: &'a str,
}

impl UriSpec {
    /// `scheme`: `http`, or `https` for an instance with an SSL port.
    pub const FIELD_SCHEME: &'static str = "scheme";
    /// `name`: the service name.
    pub const FIELD_NAME: &'static str = "name";
    /// `id`: the instance id.
    pub const FIELD_ID: &'static str = "id";
    /// `address`: the instance's address.
    pub const FIELD_ADDRESS: &'static str = "address";
    /// `port`: the instance's port.
    pub const FIELD_PORT: &'static str = "port";
    /// `ssl-port`: the instance's SSL port.
    pub const FIELD_SSL_PORT: &'static str = "ssl-port";
    /// `registration-time-utc`: the registration time (epoch milliseconds).
    pub const FIELD_REGISTRATION_TIME_UTC: &'static str = "registration-time-utc";
    /// `service-type`: `dynamic`, `static`, `permanent` or `dynamic_sequential`.
    pub const FIELD_SERVICE_TYPE: &'static str = "service-type";
    /// `[`: always a literal `{`.
    pub const FIELD_OPEN_BRACE: &'static str = "[";
    /// `]`: always a literal `}`.
    pub const FIELD_CLOSE_BRACE: &'static str = "]";

    /// Parses a template as Curator does: text between `{` and `}` (trimmed) is a variable,
    /// the rest is literal. A `{` inside a variable, a `}` without its `{`, or a variable
    /// left open is an [`InvalidArgument`](Error::InvalidArgument) error.
    pub fn new(raw: &str) -> Result<UriSpec> {
        let mut parts = Vec::new();
        let mut inside = false;
        let mut rest = raw;
        while !rest.is_empty() {
            // Tokens as Java's StringTokenizer(raw, "{}", true) cuts them: a brace, or the
            // longest run without one (never empty).
            let end = match rest.find(['{', '}']) {
                Some(0) => 1,
                Some(i) => i,
                None => rest.len(),
            };
            let (token, tail) = rest.split_at(end);
            rest = tail;
            match token {
                "{" if inside => {
                    return Err(bad(
                        raw,
                        "{ is not allowed inside of a variable specification",
                    ))
                }
                "{" => inside = true,
                "}" if !inside => return Err(bad(raw, "} must be preceded by {")),
                "}" => inside = false,
                text if inside => parts.push(UriSpecPart::new(java_trim(text), true)),
                text => parts.push(UriSpecPart::new(text, false)),
            }
        }
        if inside {
            return Err(bad(raw, "final variable not closed - expected }"));
        }
        Ok(UriSpec { parts })
    }

    /// A spec made of `parts`.
    pub fn from_parts(parts: Vec<UriSpecPart>) -> UriSpec {
        UriSpec { parts }
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[UriSpecPart] {
        &self.parts
    }

    /// Appends a part.
    pub fn add(&mut self, part: UriSpecPart) {
        self.parts.push(part);
    }

    /// Removes the first part equal to `part`; false if there was none.
    pub fn remove(&mut self, part: &UriSpecPart) -> bool {
        match self.parts.iter().position(|p| p == part) {
            Some(i) => {
                self.parts.remove(i);
                true
            }
            None => false,
        }
    }

    /// The URI with only the built-in fields (`scheme` is `http`).
    pub fn build(&self) -> String {
        self.render(None, &HashMap::new())
    }

    /// The URI with `variables` (which win over the built-in fields).
    pub fn build_with(&self, variables: &HashMap<String, String>) -> String {
        self.render(None, variables)
    }

    /// The URI from the built-in fields of an instance (`i`, if any) and `variables`.
    pub(super) fn render(
        &self,
        i: Option<&InstanceFields<'_>>,
        variables: &HashMap<String, String>,
    ) -> String {
        let builtin = |name: &str| -> Option<String> {
            let opt = |v: Option<String>| Some(v.unwrap_or_default());
            match (name, i) {
                (Self::FIELD_OPEN_BRACE, _) => Some("{".into()),
                (Self::FIELD_CLOSE_BRACE, _) => Some("}".into()),
                (Self::FIELD_SCHEME, Some(i)) if i.ssl_port.is_some() => Some("https".into()),
                (Self::FIELD_SCHEME, _) => Some("http".into()),
                (Self::FIELD_NAME, Some(i)) => Some(i.name.into()),
                (Self::FIELD_ID, Some(i)) => Some(i.id.into()),
                (Self::FIELD_ADDRESS, Some(i)) => opt(i.address.map(String::from)),
                (Self::FIELD_PORT, Some(i)) => opt(i.port.map(|p| p.to_string())),
                (Self::FIELD_SSL_PORT, Some(i)) => opt(i.ssl_port.map(|p| p.to_string())),
                (Self::FIELD_REGISTRATION_TIME_UTC, Some(i)) => {
                    Some(i.registration_time_utc.to_string())
                }
                (Self::FIELD_SERVICE_TYPE, Some(i)) => Some(i.service_type.to_ascii_lowercase()),
                _ => None,
            }
        };
        let mut out = String::new();
        for p in &self.parts {
            if !p.variable {
                out.push_str(&p.value);
            } else if let Some(v) = variables.get(&p.value) {
                out.push_str(v);
            } else if let Some(v) = builtin(&p.value) {
                out.push_str(&v);
            } else {
                log::debug!("UriSpec: variable not found: {}", p.value);
            }
        }
        out
    }
}

impl fmt::Display for UriSpec {
    /// The template again: literal parts as they are, variables in braces.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.parts {
            if p.variable {
                write!(f, "{{{}}}", p.value)?;
            } else {
                f.write_str(&p.value)?;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for UriSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<UriSpec> {
        UriSpec::new(s)
    }
}

fn bad(raw: &str, why: &str) -> Error {
    Error::InvalidArgument(format!("uri spec {raw:?}: {why}"))
}

/// Java's `String.trim()`: drops characters up to U+0020 at both ends.
fn java_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c <= ' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(v: &str, var: bool) -> UriSpecPart {
        UriSpecPart::new(v, var)
    }

    #[test]
    fn parses_as_curator() {
        let s = UriSpec::new("{scheme}://{address}:{port}/api/{ id }[literal]").unwrap();
        assert_eq!(
            s.parts(),
            &[
                part("scheme", true),
                part("://", false),
                part("address", true),
                part(":", false),
                part("port", true),
                part("/api/", false),
                part("id", true),
                part("[literal]", false),
            ]
        );
        assert_eq!(
            s.to_string(),
            "{scheme}://{address}:{port}/api/{id}[literal]"
        );
        // An empty pair of braces makes no part (StringTokenizer never yields empty tokens).
        assert_eq!(
            UriSpec::new("a{}b").unwrap().parts(),
            &[part("a", false), part("b", false)]
        );
        assert_eq!(UriSpec::new("{ }").unwrap().parts(), &[part("", true)]);
        assert!(UriSpec::new("").unwrap().parts().is_empty());
        for bad in ["{a{b}}", "a}", "{open", "}{"] {
            assert!(
                matches!(UriSpec::new(bad), Err(Error::InvalidArgument(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn builds_with_defaults_braces_and_overrides() {
        let s = UriSpec::new("{scheme}://{[}x{]}/{unknown}{port}").unwrap();
        assert_eq!(s.build(), "http://{x}/");
        let vars = HashMap::from([
            ("scheme".to_string(), "ftp".to_string()),
            ("port".to_string(), "21".to_string()),
        ]);
        assert_eq!(s.build_with(&vars), "ftp://{x}/21");
    }

    #[test]
    fn add_and_remove_parts() {
        let mut s = UriSpec::default();
        s.add(part("http://", false));
        s.add(part("address", true));
        assert!(s.remove(&part("http://", false)));
        assert!(!s.remove(&part("http://", false)));
        assert_eq!(s, UriSpec::from_parts(vec![part("address", true)]));
    }
}
