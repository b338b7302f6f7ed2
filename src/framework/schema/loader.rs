//! [`SchemaSetLoader`] (cargo feature `schema-json`): schemas from the JSON Curator's
//! `SchemaSetLoader` reads, so that one schema file serves Java and Rust clients alike.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::{Allowance, Schema, SchemaSet, SchemaValidator};
use crate::error::{Error, Result};

/// Turns a validator name of the JSON (`"schemaValidator"`) into a validator (Curator's
/// `SchemaSetLoader.SchemaValidatorMapper`). Implemented for closures
/// `Fn(&str) -> Option<Arc<dyn SchemaValidator>>`; `None` refuses the name.
pub trait SchemaValidatorMapper {
    /// The validator called `name`, if there is one.
    fn schema_validator(&self, name: &str) -> Option<Arc<dyn SchemaValidator>>;
}

impl<F> SchemaValidatorMapper for F
where
    F: Fn(&str) -> Option<Arc<dyn SchemaValidator>>,
{
    fn schema_validator(&self, name: &str) -> Option<Arc<dyn SchemaValidator>> {
        self(name)
    }
}

/// Schemas read from JSON (Curator's `SchemaSetLoader`, cargo feature `schema-json`): an
/// array of objects with `name` and `path` (required), `isRegex`, `schemaValidator`,
/// `documentation`, `ephemeral` / `sequential` / `watched` (`"can"`, `"must"`,
/// `"cannot"`, any case), `canBeDeleted` and `metadata` (an object of strings).
///
/// As Curator's loader does (its documentation says otherwise), a schema without
/// `canBeDeleted` forbids deletion, so a file means the same to Java and Rust clients.
/// Anything malformed is an `InvalidArgument` saying which schema and field.
///
/// ```
/// use std::sync::Arc;
/// use zk_curator::framework::{Schema, SchemaSetLoader, SchemaValidator};
/// let json = r#"[
///   {"name": "config", "path": "/config", "canBeDeleted": true},
///   {"name": "workers", "path": "/workers/[^/]+", "isRegex": true,
///    "ephemeral": "must", "schemaValidator": "small"}
/// ]"#;
/// let small = |_: &Schema, _: &str, d: Option<&[u8]>, _: Option<&[zk_curator::Acl]>| {
///     d.is_none_or(|d| d.len() < 100)
/// };
/// let small: Arc<dyn SchemaValidator> = Arc::new(small);
/// let loader = SchemaSetLoader::new(json, Some(&move |name: &str| {
///     (name == "small").then(|| small.clone())
/// }))?;
/// let set = loader.to_schema_set(true)?;
/// assert_eq!(set.schema("/workers/w1")?.name(), "workers");
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct SchemaSetLoader {
    schemas: Vec<Schema>,
}

impl SchemaSetLoader {
    /// Reads `json`; `mapper` resolves `schemaValidator` names (a schema naming one without
    /// a mapper is an error, as in Curator).
    pub fn new(json: &str, mapper: Option<&dyn SchemaValidatorMapper>) -> Result<SchemaSetLoader> {
        let root: Value = serde_json::from_str(json)
            .map_err(|e| Error::InvalidArgument(format!("schema JSON: {e}")))?;
        let Value::Array(items) = root else {
            return Err(Error::InvalidArgument(
                "schema JSON: expected an array of schemas".into(),
            ));
        };
        let schemas = items
            .iter()
            .enumerate()
            .map(|(i, item)| read(i, item, mapper))
            .collect::<Result<Vec<_>>>()?;
        Ok(SchemaSetLoader { schemas })
    }

    /// The schemas read, in order.
    pub fn schemas(&self) -> &[Schema] {
        &self.schemas
    }

    /// A [`SchemaSet`] of them (Curator's `toSchemaSet`).
    pub fn to_schema_set(&self, use_default_schema: bool) -> Result<SchemaSet> {
        SchemaSet::new(self.schemas.clone(), use_default_schema)
    }
}

impl std::fmt::Debug for SchemaSetLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaSetLoader")
            .field("schemas", &self.schemas)
            .finish()
    }
}

fn read(i: usize, item: &Value, mapper: Option<&dyn SchemaValidatorMapper>) -> Result<Schema> {
    let bad = |why: String| Error::InvalidArgument(format!("schema JSON, schema #{i}: {why}"));
    let Value::Object(o) = item else {
        return Err(bad("expected an object".into()));
    };
    let text = |key: &str| -> Result<Option<String>> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            // Jackson's asText() of a number or boolean.
            Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
            Some(_) => Err(bad(format!("{key:?} must be a string"))),
        }
    };
    let flag = |key: &str| -> Result<bool> {
        match o.get(key) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(bad(format!("{key:?} must be true or false"))),
        }
    };
    let allowance = |key: &str| -> Result<Allowance> {
        match text(key)?.map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("can") => Ok(Allowance::Can),
            Some("must") => Ok(Allowance::Must),
            Some("cannot") => Ok(Allowance::Cannot),
            Some(other) => Err(bad(format!(
                "{key:?} is {other:?}; it must be one of can, must, cannot"
            ))),
        }
    };
    let name = text("name")?.ok_or_else(|| bad("\"name\" is required".into()))?;
    let path = text("path")?.ok_or_else(|| bad(format!("{name}: \"path\" is required")))?;
    let mut b = if flag("isRegex")? {
        Schema::builder_for_pattern(&path)
    } else {
        Schema::builder(&path)
    };
    if let Some(v) = text("schemaValidator")? {
        let mapper = mapper.ok_or_else(|| {
            bad(format!(
                "{name}: names the validator {v:?} but no SchemaValidatorMapper was given"
            ))
        })?;
        let validator = mapper
            .schema_validator(&v)
            .ok_or_else(|| bad(format!("{name}: no validator is called {v:?}")))?;
        b = b.data_validator_shared(validator);
    }
    match o.get("metadata") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => b = metadata(b, m),
        Some(_) => return Err(bad(format!("{name}: \"metadata\" must be an object"))),
    }
    b.name(&name)
        .documentation(&text("documentation")?.unwrap_or_default())
        .ephemeral(allowance("ephemeral")?)
        .sequential(allowance("sequential")?)
        .watched(allowance("watched")?)
        .can_be_deleted(flag("canBeDeleted")?)
        .build()
        .map_err(|e| bad(format!("{name}: {e}")))
}

fn metadata(mut b: super::SchemaBuilder, m: &Map<String, Value>) -> super::SchemaBuilder {
    for (k, v) in m {
        let v = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        b = b.metadata(k, &v);
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curators_format_is_read() {
        let json = r#"[
            {"name": "a", "path": "/a", "documentation": "the a", "ephemeral": "MUST",
             "sequential": "cannot", "watched": "Can", "canBeDeleted": true,
             "metadata": {"owner": "ops", "n": 1}},
            {"name": "b", "path": "/b/.*", "isRegex": true},
            {"name": "c", "path": "/c", "schemaValidator": "v"}
        ]"#;
        let v: Arc<dyn SchemaValidator> = Arc::new(super::super::DefaultSchemaValidator);
        let mapper = move |n: &str| (n == "v").then(|| v.clone());
        let l = SchemaSetLoader::new(json, Some(&mapper)).unwrap();
        let [a, b, c] = l.schemas() else {
            panic!("{l:?}")
        };
        assert_eq!(
            (a.name(), a.path(), a.documentation()),
            ("a", Some("/a"), "the a")
        );
        assert_eq!(a.ephemeral(), Allowance::Must);
        assert_eq!(a.sequential(), Allowance::Cannot);
        assert!(a.can_be_deleted());
        assert_eq!(a.metadata().get("n").map(String::as_str), Some("1"));
        assert!(b.path_pattern().unwrap().matches("/b/x"));
        assert!(
            !b.can_be_deleted(),
            "as Curator's loader: missing canBeDeleted is false"
        );
        assert_eq!(c.name(), "c");
        assert!(l.to_schema_set(false).unwrap().schema("/b/y").is_ok());
    }

    #[test]
    fn malformed_json_is_refused_with_the_schema_and_field() {
        let v: Arc<dyn SchemaValidator> = Arc::new(super::super::DefaultSchemaValidator);
        let mapper = move |n: &str| (n == "v").then(|| v.clone());
        for (json, want) in [
            ("{", "schema JSON"),
            ("{}", "array"),
            ("[1]", "#0: expected an object"),
            (r#"[{"path": "/a"}]"#, "\"name\" is required"),
            (r#"[{"name": "a"}]"#, "\"path\" is required"),
            (
                r#"[{"name": "a", "path": "/a", "ephemeral": "maybe"}]"#,
                "can, must, cannot",
            ),
            (
                r#"[{"name": "a", "path": "/a", "isRegex": 3}]"#,
                "true or false",
            ),
            (
                r#"[{"name": "a", "path": "/a(", "isRegex": true}]"#,
                "regex",
            ),
            (
                r#"[{"name": "a", "path": "/a", "schemaValidator": "w"}]"#,
                "no validator",
            ),
            (
                r#"[{"name": "a", "path": "/a", "metadata": []}]"#,
                "metadata",
            ),
            (r#"[{"name": ["a"], "path": "/a"}]"#, "must be a string"),
        ] {
            match SchemaSetLoader::new(json, Some(&mapper)) {
                Err(Error::InvalidArgument(msg)) => assert!(msg.contains(want), "{json}: {msg}"),
                other => panic!("{json}: {other:?}"),
            }
        }
        let msg = SchemaSetLoader::new(
            r#"[{"name": "a", "path": "/a", "schemaValidator": "v"}]"#,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(msg.contains("no SchemaValidatorMapper"), "{msg}");
    }
}
