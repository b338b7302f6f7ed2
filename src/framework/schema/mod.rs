//! Schemas (Curator's `org.apache.curator.framework.schema`): rules per path that the
//! client checks before it sends anything — may a node be ephemeral or sequential, which
//! create modes, must or may it be watched, may it be deleted, is its data valid. A
//! [`SchemaSet`] given to the builder with
//! [`schema_set`](super::CuratorFrameworkBuilder::schema_set) applies them to every
//! operation; a violation is an [`Error::SchemaViolation`] from the terminal method, for
//! background operations too, and nothing reaches the server.
//!
//! A schema applies to an exact path, or to every path a [`PathPattern`] matches (a subset
//! of Java's regular expressions). The path checked is the one given to the
//! builder, without the namespace, as in Curator.
//!
//! ```
//! use std::time::Duration;
//! use zk_curator::framework::{Allowance, CuratorFrameworkFactory, Schema, SchemaSet};
//! use zk_curator::{CreateMode, Error, RetryOneTime};
//! # let server = zk_curator::testing::TestingServer::start().unwrap();
//! let schemas = SchemaSet::new(
//!     vec![
//!         Schema::builder("/config").can_be_deleted(false).build()?,
//!         Schema::builder_for_pattern(r"/workers/[^/]+")
//!             .name("worker")
//!             .ephemeral(Allowance::Must)
//!             .data_validator(|_: &Schema, _: &str, data: Option<&[u8]>, _: Option<&[zk_curator::Acl]>| {
//!                 data.is_none_or(|d| d.len() <= 64)
//!             })
//!             .build()?,
//!     ],
//!     true, // paths without a schema: anything goes
//! )?;
//! let client = CuratorFrameworkFactory::builder()
//!     .connect_string(&server.connect_string())
//!     .retry_policy(RetryOneTime::new(Duration::from_millis(10)))
//!     .schema_set(schemas)
//!     .build()?;
//! client.start()?;
//! client.create().for_path("/workers")?;
//! let e = client.create().for_path("/workers/w1").unwrap_err();
//! assert!(matches!(e, Error::SchemaViolation { .. }), "{e}");
//! client.create().with_mode(CreateMode::Ephemeral).for_path("/workers/w1")?;
//! # client.close();
//! # Ok::<(), zk_curator::Error>(())
//! ```

#[cfg(feature = "schema-json")]
mod loader;
mod pattern;

#[cfg(feature = "schema-json")]
pub use loader::{SchemaSetLoader, SchemaValidatorMapper};
pub use pattern::PathPattern;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::proto::{Acl, CreateMode};

/// What a schema says about one property (Curator's `Schema.Allowance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Allowance {
    /// Allowed, not required.
    Can,
    /// Required.
    Must,
    /// Forbidden.
    Cannot,
}

/// Decides whether data (and the ACL, when creating or setting one) is valid for a path
/// (Curator's `SchemaValidator`). Implemented for closures
/// `Fn(&Schema, &str, Option<&[u8]>, Option<&[Acl]>) -> bool`: `data` is `None` for
/// `set_acl`, `acl` is `None` for `set_data`.
pub trait SchemaValidator: Send + Sync + 'static {
    /// True if valid.
    fn is_valid(
        &self,
        schema: &Schema,
        path: &str,
        data: Option<&[u8]>,
        acl: Option<&[Acl]>,
    ) -> bool;
}

impl<F> SchemaValidator for F
where
    F: Fn(&Schema, &str, Option<&[u8]>, Option<&[Acl]>) -> bool + Send + Sync + 'static,
{
    fn is_valid(
        &self,
        schema: &Schema,
        path: &str,
        data: Option<&[u8]>,
        acl: Option<&[Acl]>,
    ) -> bool {
        self(schema, path, data, acl)
    }
}

/// Accepts everything (Curator's `DefaultSchemaValidator`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultSchemaValidator;

impl SchemaValidator for DefaultSchemaValidator {
    fn is_valid(&self, _: &Schema, _: &str, _: Option<&[u8]>, _: Option<&[Acl]>) -> bool {
        true
    }
}

#[derive(Clone)]
enum Matcher {
    Exact(String),
    Pattern(PathPattern),
}

/// The rules for one path or path pattern (Curator's `Schema`). Built with
/// [`Schema::builder`] (an exact path) or [`Schema::builder_for_pattern`].
#[derive(Clone)]
pub struct Schema {
    name: String,
    matcher: Matcher,
    documentation: String,
    validator: Arc<dyn SchemaValidator>,
    ephemeral: Allowance,
    sequential: Allowance,
    watched: Allowance,
    can_be_deleted: bool,
    create_modes: Option<Vec<CreateMode>>,
    metadata: BTreeMap<String, String>,
}

impl Schema {
    /// A schema for exactly `path` (a trailing `/` is dropped, as Curator does). Exact
    /// schemas take precedence over patterns.
    pub fn builder(path: &str) -> SchemaBuilder {
        let p = if path.len() > 1 {
            path.strip_suffix('/').unwrap_or(path)
        } else {
            path
        };
        SchemaBuilder::new(Err(p.to_string()))
    }

    /// A schema for every path `regex` matches as a whole (see [`PathPattern`] for the
    /// syntax; a pattern it does not support makes `build()` fail).
    pub fn builder_for_pattern(regex: &str) -> SchemaBuilder {
        SchemaBuilder::new(Ok(regex.to_string()))
    }

    /// A typical recipe's parent node: neither ephemeral nor sequential (Curator's
    /// `builderForRecipeParent`).
    pub fn builder_for_recipe_parent(parent: &str) -> SchemaBuilder {
        Schema::builder(parent)
            .sequential(Allowance::Cannot)
            .ephemeral(Allowance::Cannot)
    }

    /// A typical recipe's children under `parent`: ephemeral, sequential, watched,
    /// deletable (Curator's `builderForRecipe`; the parent is matched literally, where
    /// Curator reads it as a regex).
    pub fn builder_for_recipe(parent: &str) -> SchemaBuilder {
        let mut re = String::new();
        for c in parent.trim_end_matches('/').chars() {
            if !c.is_ascii_alphanumeric() {
                re.push('\\');
            }
            re.push(c);
        }
        re.push_str("/.*");
        Schema::builder_for_pattern(&re)
            .sequential(Allowance::Must)
            .ephemeral(Allowance::Must)
            .watched(Allowance::Must)
            .can_be_deleted(true)
    }

    /// The schema's name (unique in its set).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The exact path, for a path schema.
    pub fn path(&self) -> Option<&str> {
        match &self.matcher {
            Matcher::Exact(p) => Some(p),
            Matcher::Pattern(_) => None,
        }
    }

    /// The pattern, for a pattern schema.
    pub fn path_pattern(&self) -> Option<&PathPattern> {
        match &self.matcher {
            Matcher::Exact(_) => None,
            Matcher::Pattern(p) => Some(p),
        }
    }

    /// The path or the pattern as written (Curator's `getRawPath()`).
    pub fn raw_path(&self) -> &str {
        match &self.matcher {
            Matcher::Exact(p) => p,
            Matcher::Pattern(p) => p.as_str(),
        }
    }

    /// Free text for people.
    pub fn documentation(&self) -> &str {
        &self.documentation
    }

    /// May, must or must not the node be ephemeral.
    pub fn ephemeral(&self) -> Allowance {
        self.ephemeral
    }

    /// May, must or must not the node be sequential.
    pub fn sequential(&self) -> Allowance {
        self.sequential
    }

    /// May, must or must not reads of the node set a watch.
    pub fn watched(&self) -> Allowance {
        self.watched
    }

    /// May the node be deleted.
    pub fn can_be_deleted(&self) -> bool {
        self.can_be_deleted
    }

    /// The create modes allowed (`None`: all; Rust only).
    pub fn create_modes(&self) -> Option<&[CreateMode]> {
        self.create_modes.as_deref()
    }

    /// Free key/value data.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    fn violation(&self, path: &str, what: &str) -> Error {
        Error::SchemaViolation {
            schema: Some(self.name.clone()),
            path: path.to_string(),
            violation: what.to_string(),
        }
    }

    /// Checks that the node may be deleted.
    pub fn validate_delete(&self, path: &str) -> Result<()> {
        if !self.can_be_deleted {
            return Err(self.violation(path, "cannot be deleted"));
        }
        Ok(())
    }

    /// Checks a read that does (`watching`) or does not set a watch.
    pub fn validate_watch(&self, path: &str, watching: bool) -> Result<()> {
        match (self.watched, watching) {
            (Allowance::Cannot, true) => Err(self.violation(path, "cannot be watched")),
            (Allowance::Must, false) => Err(self.violation(path, "must be watched")),
            _ => Ok(()),
        }
    }

    /// Checks a create: the mode against the ephemeral, sequential and create-mode rules,
    /// then the data and ACL against the validator.
    pub fn validate_create(
        &self,
        mode: CreateMode,
        path: &str,
        data: &[u8],
        acl: &[Acl],
    ) -> Result<()> {
        let rule = |allowance: Allowance, is: bool, what: &str| match (allowance, is) {
            (Allowance::Cannot, true) => Err(self.violation(path, &format!("cannot be {what}"))),
            (Allowance::Must, false) => Err(self.violation(path, &format!("must be {what}"))),
            _ => Ok(()),
        };
        rule(self.ephemeral, mode.is_ephemeral(), "ephemeral")?;
        rule(self.sequential, mode.is_sequential(), "sequential")?;
        if let Some(modes) = &self.create_modes {
            if !modes.contains(&mode) {
                return Err(self.violation(
                    path,
                    &format!("create mode {mode:?} is not one of {modes:?}"),
                ));
            }
        }
        self.validate_data(path, Some(data), Some(acl))
    }

    /// Checks data (`set_data`) or an ACL (`set_acl`) against the validator (Curator's
    /// `validateGeneral`).
    pub fn validate_data(
        &self,
        path: &str,
        data: Option<&[u8]>,
        acl: Option<&[Acl]>,
    ) -> Result<()> {
        if !self.validator.is_valid(self, path, data, acl) {
            return Err(self.violation(path, "data is not valid"));
        }
        Ok(())
    }

    /// A description for people (Curator's `toDocumentation()`).
    pub fn to_documentation(&self) -> String {
        let label = match self.matcher {
            Matcher::Exact(_) => "Path",
            Matcher::Pattern(_) => "Path Regex",
        };
        format!(
            "Name: {}\n{label}: {}\nDoc: {}\nMeta: {:?}\nephemeral: {:?} | sequential: {:?} | \
             watched: {:?} | canBeDeleted: {}{}\n",
            self.name,
            self.raw_path(),
            self.documentation,
            self.metadata,
            self.ephemeral,
            self.sequential,
            self.watched,
            self.can_be_deleted,
            match &self.create_modes {
                Some(m) => format!(" | createModes: {m:?}"),
                None => String::new(),
            }
        )
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema")
            .field("name", &self.name)
            .field("path", &self.raw_path())
            .field("ephemeral", &self.ephemeral)
            .field("sequential", &self.sequential)
            .field("watched", &self.watched)
            .field("can_be_deleted", &self.can_be_deleted)
            .field("create_modes", &self.create_modes)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Schema`] (Curator's `SchemaBuilder`). Defaults: everything allowed, deletable,
/// any data; the name is the path or pattern.
#[must_use = "a builder does nothing until build()"]
pub struct SchemaBuilder {
    /// `Ok(regex)` or `Err(exact path)`.
    target: std::result::Result<String, String>,
    name: Option<String>,
    documentation: String,
    validator: Arc<dyn SchemaValidator>,
    ephemeral: Allowance,
    sequential: Allowance,
    watched: Allowance,
    can_be_deleted: bool,
    create_modes: Option<Vec<CreateMode>>,
    metadata: BTreeMap<String, String>,
}

impl SchemaBuilder {
    fn new(target: std::result::Result<String, String>) -> SchemaBuilder {
        SchemaBuilder {
            target,
            name: None,
            documentation: String::new(),
            validator: Arc::new(DefaultSchemaValidator),
            ephemeral: Allowance::Can,
            sequential: Allowance::Can,
            watched: Allowance::Can,
            can_be_deleted: true,
            create_modes: None,
            metadata: BTreeMap::new(),
        }
    }

    /// The name (unique in a set; default: the path or pattern).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_string());
        self
    }

    /// Free text for people.
    pub fn documentation(mut self, doc: &str) -> Self {
        self.documentation = doc.to_string();
        self
    }

    /// The data validator (Curator's `dataValidator`).
    pub fn data_validator(mut self, v: impl SchemaValidator) -> Self {
        self.validator = Arc::new(v);
        self
    }

    /// [`data_validator`](Self::data_validator) with a shared validator.
    #[cfg_attr(not(feature = "schema-json"), allow(dead_code))]
    pub(crate) fn data_validator_shared(mut self, v: Arc<dyn SchemaValidator>) -> Self {
        self.validator = v;
        self
    }

    /// Whether nodes may, must or must not be ephemeral.
    pub fn ephemeral(mut self, a: Allowance) -> Self {
        self.ephemeral = a;
        self
    }

    /// Whether nodes may, must or must not be sequential.
    pub fn sequential(mut self, a: Allowance) -> Self {
        self.sequential = a;
        self
    }

    /// Whether reads may, must or must not set a watch.
    pub fn watched(mut self, a: Allowance) -> Self {
        self.watched = a;
        self
    }

    /// Whether nodes may be deleted (default true).
    pub fn can_be_deleted(mut self, yes: bool) -> Self {
        self.can_be_deleted = yes;
        self
    }

    /// Only these create modes (Rust only; checked with the ephemeral and sequential rules,
    /// so that containers or TTL nodes can be forbidden too).
    pub fn create_modes(mut self, modes: &[CreateMode]) -> Self {
        self.create_modes = Some(modes.to_vec());
        self
    }

    /// Free key/value data.
    pub fn metadata(mut self, key: &str, value: &str) -> Self {
        self.metadata.insert(key.to_string(), value.to_string());
        self
    }

    /// The schema; `InvalidArgument` for a pattern that does not compile or an empty path.
    pub fn build(self) -> Result<Schema> {
        let matcher = match self.target {
            Ok(re) => Matcher::Pattern(PathPattern::new(&re)?),
            Err(p) if p.is_empty() => {
                return Err(Error::InvalidArgument("schema: empty path".into()))
            }
            Err(p) => Matcher::Exact(p),
        };
        let name = self.name.unwrap_or_else(|| match &matcher {
            Matcher::Exact(p) => p.clone(),
            Matcher::Pattern(p) => p.as_str().to_string(),
        });
        Ok(Schema {
            name,
            matcher,
            documentation: self.documentation,
            validator: self.validator,
            ephemeral: self.ephemeral,
            sequential: self.sequential,
            watched: self.watched,
            can_be_deleted: self.can_be_deleted,
            create_modes: self.create_modes,
            metadata: self.metadata,
        })
    }
}

impl fmt::Debug for SchemaBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaBuilder")
            .field("target", &self.target)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The schemas of a client (Curator's `SchemaSet`). A path gets the schema of its exact
/// path if there is one, else the first pattern schema (in the order given) that matches
/// it, else the default schema (everything allowed) or, without it, a violation.
#[derive(Clone)]
pub struct SchemaSet {
    schemas: Vec<Arc<Schema>>,
    exact: HashMap<String, usize>,
    patterns: Vec<usize>,
    use_default: bool,
    default: Arc<Schema>,
}

impl SchemaSet {
    /// A set of `schemas`; with `use_default_schema`, paths no schema matches are
    /// unrestricted, without it they are a violation. Two schemas with one name, or two
    /// for one exact path, are an `InvalidArgument`.
    pub fn new(schemas: Vec<Schema>, use_default_schema: bool) -> Result<SchemaSet> {
        let mut exact = HashMap::new();
        let mut patterns = Vec::new();
        let mut names = std::collections::HashSet::new();
        for (i, s) in schemas.iter().enumerate() {
            if !names.insert(s.name.clone()) {
                return Err(Error::InvalidArgument(format!(
                    "schema set: two schemas are named {:?}",
                    s.name
                )));
            }
            match &s.matcher {
                Matcher::Exact(p) => {
                    if exact.insert(p.clone(), i).is_some() {
                        return Err(Error::InvalidArgument(format!(
                            "schema set: two schemas for the path {p:?}"
                        )));
                    }
                }
                Matcher::Pattern(_) => patterns.push(i),
            }
        }
        Ok(SchemaSet {
            schemas: schemas.into_iter().map(Arc::new).collect(),
            exact,
            patterns,
            use_default: use_default_schema,
            default: Arc::new(default_schema()),
        })
    }

    /// No schemas, everything allowed (Curator's `getDefaultSchemaSet()`, a client's
    /// default).
    pub fn default_schema_set() -> SchemaSet {
        SchemaSet {
            schemas: Vec::new(),
            exact: HashMap::new(),
            patterns: Vec::new(),
            use_default: true,
            default: Arc::new(default_schema()),
        }
    }

    /// The schema for `path` (Curator's `getSchema`); a `SchemaViolation` when none
    /// matches and the set has no default.
    pub fn schema(&self, path: &str) -> Result<&Schema> {
        if let Some(&i) = self.exact.get(path) {
            return Ok(&self.schemas[i]);
        }
        if let Some(&i) = self
            .patterns
            .iter()
            .find(|&&i| matches!(&self.schemas[i].matcher, Matcher::Pattern(p) if p.matches(path)))
        {
            return Ok(&self.schemas[i]);
        }
        if self.use_default {
            return Ok(&self.default);
        }
        Err(Error::SchemaViolation {
            schema: None,
            path: path.to_string(),
            violation: "no schema found".into(),
        })
    }

    /// The schema named `name`.
    pub fn named_schema(&self, name: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.name == name).map(|s| &**s)
    }

    /// The schemas, in the order given.
    pub fn schemas(&self) -> impl Iterator<Item = &Schema> {
        self.schemas.iter().map(|s| &**s)
    }

    /// A description of every schema for people (Curator's `toDocumentation()`).
    pub fn to_documentation(&self) -> String {
        if self.schemas.is_empty() && self.use_default {
            return "Default schema".into();
        }
        let mut s = String::from("Curator Schemas:\n\n");
        for schema in &self.schemas {
            s.push_str(&schema.name);
            s.push('\n');
            s.push_str(&schema.to_documentation());
            s.push('\n');
        }
        s
    }

    /// True when nothing is ever refused (no schema, default on): operations skip the
    /// lookups.
    pub(crate) fn is_open(&self) -> bool {
        self.schemas.is_empty() && self.use_default
    }
}

impl Default for SchemaSet {
    fn default() -> Self {
        SchemaSet::default_schema_set()
    }
}

impl fmt::Debug for SchemaSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaSet")
            .field("schemas", &self.schemas)
            .field("use_default", &self.use_default)
            .finish()
    }
}

impl super::CuratorFramework {
    /// The schema of `path` when the client has rules; `None` when nothing is ever
    /// refused (the common case costs one branch).
    pub(crate) fn schema_for(&self, path: &str) -> Result<Option<&Schema>> {
        let set = &*self.inner.cfg.schema_set;
        if set.is_open() {
            return Ok(None);
        }
        set.schema(path).map(Some)
    }

    /// Runs `check` with the schema of `path`, if the client has rules.
    pub(crate) fn check_schema(
        &self,
        path: &str,
        check: impl FnOnce(&Schema) -> Result<()>,
    ) -> Result<()> {
        match self.schema_for(path)? {
            Some(s) => check(s),
            None => Ok(()),
        }
    }
}

fn default_schema() -> Schema {
    Schema {
        name: "__default__".into(),
        matcher: Matcher::Exact(String::new()),
        documentation: "Default schema".into(),
        validator: Arc::new(DefaultSchemaValidator),
        ephemeral: Allowance::Can,
        sequential: Allowance::Can,
        watched: Allowance::Can,
        can_be_deleted: true,
        create_modes: None,
        metadata: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(r: Result<()>) -> String {
        match r {
            Err(Error::SchemaViolation { violation, .. }) => violation,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_rule_is_checked() {
        let s = Schema::builder_for_pattern("/e/.*")
            .ephemeral(Allowance::Must)
            .sequential(Allowance::Cannot)
            .watched(Allowance::Cannot)
            .can_be_deleted(false)
            .data_validator(|_: &Schema, _: &str, d: Option<&[u8]>, _: Option<&[Acl]>| {
                d != Some(b"bad")
            })
            .build()
            .unwrap();
        let acl = Acl::open_unsafe();
        assert!(
            violation(s.validate_create(CreateMode::Persistent, "/e/a", b"", &acl))
                .contains("must be ephemeral")
        );
        assert!(
            violation(s.validate_create(CreateMode::EphemeralSequential, "/e/a", b"", &acl))
                .contains("cannot be sequential")
        );
        assert!(
            violation(s.validate_create(CreateMode::Ephemeral, "/e/a", b"bad", &acl))
                .contains("data is not valid")
        );
        s.validate_create(CreateMode::Ephemeral, "/e/a", b"ok", &acl)
            .unwrap();
        assert!(violation(s.validate_delete("/e/a")).contains("cannot be deleted"));
        assert!(violation(s.validate_watch("/e/a", true)).contains("cannot be watched"));
        s.validate_watch("/e/a", false).unwrap();
        let must = Schema::builder("/w")
            .watched(Allowance::Must)
            .build()
            .unwrap();
        assert!(violation(must.validate_watch("/w", false)).contains("must be watched"));
        let modes = Schema::builder("/m")
            .create_modes(&[CreateMode::Persistent])
            .build()
            .unwrap();
        assert!(
            violation(modes.validate_create(CreateMode::Container, "/m", b"", &acl))
                .contains("Container")
        );
        assert!(s.to_documentation().contains("Path Regex: /e/.*"));
    }

    #[test]
    fn lookup_prefers_exact_then_first_pattern_then_default() {
        let set = SchemaSet::new(
            vec![
                Schema::builder_for_pattern("/a/.*")
                    .name("any-a")
                    .build()
                    .unwrap(),
                Schema::builder_for_pattern("/a/b")
                    .name("a-b")
                    .build()
                    .unwrap(),
                Schema::builder("/a/b/").name("exact").build().unwrap(),
            ],
            false,
        )
        .unwrap();
        assert_eq!(set.schema("/a/b").unwrap().name(), "exact");
        assert_eq!(set.schema("/a/c").unwrap().name(), "any-a");
        assert!(matches!(
            set.schema("/z"),
            Err(Error::SchemaViolation { schema: None, .. })
        ));
        assert_eq!(set.named_schema("a-b").unwrap().raw_path(), "/a/b");
        let open = SchemaSet::new(vec![], true).unwrap();
        assert_eq!(open.schema("/z").unwrap().name(), "__default__");
        assert!(open.is_open());
        assert!(matches!(
            SchemaSet::new(
                vec![
                    Schema::builder("/x").build().unwrap(),
                    Schema::builder("/x").name("y").build().unwrap()
                ],
                true
            ),
            Err(Error::InvalidArgument(_))
        ));
        assert!(Schema::builder_for_pattern("/a(").build().is_err());
        // A recipe's parent path is matched literally.
        let r = Schema::builder_for_recipe("/locks.v1").build().unwrap();
        let p = r.path_pattern().unwrap();
        assert!(p.matches("/locks.v1/lock-1") && !p.matches("/locksXv1/lock-1"));
    }
}
