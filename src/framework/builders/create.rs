//! `create()`: every modifier of Curator's `CreateBuilder` — parents (persistent or
//! containers), protection, mode, ACL (optionally for the parents too), TTL, or-set-data,
//! idempotent, stat, compression — in one synchronous attempt run by the retry loop.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::{
    builder_common, event_for, store, Common, Foreground, InBackground, OnceDone, WithStat,
};
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::framework::exec::Attempt;
use crate::framework::protection::{
    find_and_delete_protected, find_protected, new_protected_id, protected_path,
};
use crate::framework::types::CuratorEventType;
use crate::framework::CuratorFramework;
use crate::path;
use crate::proto::{Acl, CreateMode, Stat};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parents {
    No,
    Persistent,
    Containers,
}

/// Builder of `client.create()`.
///
/// ```
/// # use zk_curator::framework::*;
/// # use zk_curator::CreateMode;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// # let client = CuratorFrameworkFactory::new_client(&server.connect_string(), RetryOneTime::new(std::time::Duration::from_millis(10)))?;
/// # client.start()?;
/// let path = client
///     .create()
///     .creating_parents_if_needed()
///     .with_protection()
///     .with_mode(CreateMode::EphemeralSequential)
///     .for_path_with_data("/jobs/job-", b"payload")?;
/// assert!(path.starts_with("/jobs/_c_"));
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[must_use = "a builder does nothing until for_path()"]
pub struct CreateBuilder<'a, M = Foreground> {
    common: Common<'a, M>,
    mode: CreateMode,
    acl: Option<Vec<Acl>>,
    acl_for_parents: bool,
    parents: Parents,
    protection: bool,
    ttl: Option<Duration>,
    or_set_data: Option<i32>,
    idempotent: bool,
    compress: bool,
}

impl<'a, M> CreateBuilder<'a, M> {
    /// Create missing parents (persistent, empty data) when the parent does not exist.
    pub fn creating_parents_if_needed(mut self) -> Self {
        self.parents = Parents::Persistent;
        self
    }

    /// Create missing parents as containers (persistent if the client was built with
    /// `dont_use_container_parents`).
    pub fn creating_parent_containers_if_needed(mut self) -> Self {
        self.parents = Parents::Containers;
        self
    }

    /// Prefix the node name with `_c_<uuid>-` so that a create whose reply was lost is found
    /// instead of repeated (Curator's protected mode).
    pub fn with_protection(mut self) -> Self {
        self.protection = true;
        self
    }

    /// Protection and `EphemeralSequential` together (Curator's deprecated shortcut).
    pub fn with_protected_ephemeral_sequential(self) -> Self {
        self.with_protection()
            .with_mode(CreateMode::EphemeralSequential)
    }

    /// The create mode. Default `Persistent`.
    pub fn with_mode(mut self, mode: CreateMode) -> Self {
        self.mode = mode;
        self
    }

    /// The node's ACL (default: the client's ACL provider).
    pub fn with_acl(mut self, acl: &[Acl]) -> Self {
        self.acl = Some(acl.to_vec());
        self
    }

    /// The node's ACL, also used for the parents this create makes.
    pub fn with_acl_applied_to_parents(mut self, acl: &[Acl]) -> Self {
        self.acl = Some(acl.to_vec());
        self.acl_for_parents = true;
        self
    }

    /// The time to live for the TTL modes (servers need `extendedTypesEnabled`).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// If the node exists, set its data instead (any version).
    pub fn or_set_data(mut self) -> Self {
        self.or_set_data = Some(-1);
        self
    }

    /// If the node exists, set its data if its version is `version`.
    pub fn or_set_data_with_version(mut self, version: i32) -> Self {
        self.or_set_data = Some(version);
        self
    }

    /// Treat `NodeExists` as success when the node has our data and version 0 (our own
    /// earlier attempt succeeded before its reply was lost).
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Compress the data with the client's compression provider.
    pub fn compressed(mut self) -> Self {
        self.compress = true;
        self
    }
}

impl<'a> CreateBuilder<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        CreateBuilder {
            common: Common::new(client),
            mode: CreateMode::Persistent,
            acl: None,
            acl_for_parents: false,
            parents: Parents::No,
            protection: false,
            ttl: None,
            or_set_data: None,
            idempotent: false,
            compress: false,
        }
    }

    /// Copy the new node's Stat into `stat` (uses create2; foreground only).
    pub fn storing_stat_in(self, stat: &'a mut Stat) -> CreateBuilder<'a, WithStat> {
        self.retype(|c| c.with_stat(stat))
    }

    /// Creates the node with the client's default data and returns its path (with the
    /// sequence suffix and protection prefix, without the namespace).
    pub fn for_path(self, path: &str) -> Result<String> {
        let data = self.common.client.inner.cfg.default_data.to_vec();
        self.run(path, &data)
    }

    /// Creates the node with `data` and returns its path.
    pub fn for_path_with_data(self, path: &str, data: &[u8]) -> Result<String> {
        self.run(path, data)
    }
}

impl CreateBuilder<'_, WithStat> {
    /// Creates the node with the client's default data, copies its Stat and returns its
    /// path.
    pub fn for_path(self, path: &str) -> Result<String> {
        let data = self.common.client.inner.cfg.default_data.to_vec();
        self.run(path, &data)
    }

    /// Creates the node with `data`, copies its Stat and returns its path.
    pub fn for_path_with_data(self, path: &str, data: &[u8]) -> Result<String> {
        self.run(path, data)
    }
}

impl<M> CreateBuilder<'_, M> {
    fn run(mut self, path: &str, data: &[u8]) -> Result<String> {
        let plan = Arc::new(self.plan(path, data, self.common.stat.is_some())?);
        let c = self.common.client;
        let r = c.call(|zk, count| plan.once(c, zk, count));
        match r {
            Ok((created, stat)) => {
                if let Some(s) = &stat {
                    store(&mut self.common.stat, s);
                }
                Ok(c.unfix_path(&created))
            }
            Err(e) => {
                plan.give_up(c, &e);
                Err(e.with_path(path))
            }
        }
    }
}

impl CreateBuilder<'_, InBackground> {
    /// Starts the create with the default data; the result arrives as a `Create` event whose
    /// `name()` is the created path.
    pub fn for_path(self, path: &str) -> Result<()> {
        let data = self.common.client.inner.cfg.default_data.to_vec();
        self.for_path_with_data(path, &data)
    }

    /// Starts the create with `data`.
    pub fn for_path_with_data(self, path: &str, data: &[u8]) -> Result<()> {
        let plan = Arc::new(self.plan(path, data, true)?);
        let user = path.to_string();
        let p2 = plan.clone();
        self.common.client.run_background(
            background_attempt(plan),
            Box::new(move |c, r| {
                let r = r
                    .map(|(created, stat)| (c.unfix_path(&created), stat))
                    .map_err(|e| e.with_path(&user));
                event_for(CuratorEventType::Create, user, r, |e, (name, stat)| {
                    e.name = Some(name);
                    e.stat = stat;
                })
            }),
            Some(Box::new(move |c, e| p2.give_up(c, e))),
            self.common.bg,
        )
    }
}

impl<M> CreateBuilder<'_, M> {
    /// The schema's create rules, on the data and ACL the create would send, before
    /// anything is (the namespace node included).
    fn check_schema(&self, path: &str, data: &[u8]) -> Result<()> {
        let c = self.common.client;
        let Some(schema) = c.schema_for(path)? else {
            return Ok(());
        };
        let data = if self.compress {
            c.inner.cfg.compression.compress(path, data)?
        } else {
            data.to_vec()
        };
        let acl = match &self.acl {
            Some(acl) => acl.clone(),
            None => c.acl_for(&crate::path::fix_for_namespace(
                c.namespace.as_deref(),
                path,
                self.mode.is_sequential(),
            )?),
        };
        schema.validate_create(self.mode, path, &data, &acl)
    }

    fn plan(&self, path: &str, data: &[u8], want_stat: bool) -> Result<CreatePlan> {
        let c = self.common.client;
        if self.mode.is_ttl() != self.ttl.is_some() {
            return Err(Error::InvalidArgument(format!(
                "mode {:?} and TTL {:?} do not go together",
                self.mode, self.ttl
            )));
        }
        self.check_schema(path, data)?;
        let mut full = c.fix_path(path, self.mode.is_sequential())?;
        let protection = if self.protection {
            let id = new_protected_id();
            let parent = path::split_parent(&full).0.to_string();
            full = protected_path(&full, &id);
            Some(Protection {
                id,
                parent,
                session: Mutex::new(None),
            })
        } else {
            None
        };
        let data = if self.compress {
            c.inner.cfg.compression.compress(path, data)?
        } else {
            data.to_vec()
        };
        let acl = self.acl.clone().unwrap_or_else(|| c.acl_for(&full));
        let parents_acl = self.acl_for_parents.then(|| acl.clone());
        let parents_mode = match self.parents {
            Parents::Containers => c.container_mode(),
            _ => CreateMode::Persistent,
        };
        Ok(CreatePlan {
            full,
            data,
            acl,
            parents: self.parents != Parents::No,
            parents_mode,
            parents_acl,
            mode: self.mode,
            ttl: self.ttl,
            protection,
            or_set_data: self.or_set_data,
            idempotent: self.idempotent,
            want_stat,
        })
    }
}

builder_common!(CreateBuilder {
    mode,
    acl,
    acl_for_parents,
    parents,
    protection,
    ttl,
    or_set_data,
    idempotent,
    compress
});

struct Protection {
    id: String,
    parent: String,
    /// The session of the first attempt (ephemeral modes): a node found after the session
    /// changed belongs to a dead session.
    session: Mutex<Option<i64>>,
}

/// Everything one attempt needs, decided once.
pub(crate) struct CreatePlan {
    full: String,
    data: Vec<u8>,
    acl: Vec<Acl>,
    parents: bool,
    parents_mode: CreateMode,
    parents_acl: Option<Vec<Acl>>,
    mode: CreateMode,
    ttl: Option<Duration>,
    protection: Option<Protection>,
    or_set_data: Option<i32>,
    idempotent: bool,
    want_stat: bool,
}

impl CreatePlan {
    /// One attempt: look for our protected node first on retries, then create, making the
    /// parents or setting the data as the modifiers say.
    fn once(
        &self,
        c: &CuratorFramework,
        zk: &ZooKeeper,
        count: u32,
    ) -> Result<(String, Option<Stat>)> {
        if let Some(p) = &self.protection {
            let sid = zk.session_id();
            let first = *p.session.lock().get_or_insert(sid);
            if count > 0 {
                if let Some(found) = find_protected(zk, &p.parent, &p.id)? {
                    if self.mode.is_ephemeral() && first != sid {
                        // Created by a session that is gone: remove it (now, not in the
                        // background: a non-sequential name is about to be reused) and
                        // create anew.
                        *p.session.lock() = Some(sid);
                        match zk.delete(&found, -1) {
                            Ok(()) | Err(Error::NoNode { .. }) => {}
                            Err(e) => return Err(e),
                        }
                    } else {
                        let stat = if self.want_stat {
                            zk.exists(&found, false)?
                        } else {
                            None
                        };
                        return Ok((found, stat));
                    }
                }
            }
        }
        let mut made_parents = false;
        loop {
            match self.create_raw(zk) {
                Ok(v) => return Ok(v),
                Err(Error::NoNode { .. }) if self.parents && !made_parents => {
                    made_parents = true;
                    if let Some(parent) = path::parent(&self.full) {
                        self.mkdirs(c, zk, parent)?;
                    }
                }
                Err(Error::NodeExists { .. }) if self.or_set_data.is_some() => {
                    let v = self.or_set_data.unwrap_or(-1);
                    let st = zk.set_data(&self.full, &self.data, v)?;
                    return Ok((self.full.clone(), Some(st)));
                }
                Err(e @ Error::NodeExists { .. }) if self.idempotent => {
                    let (d, st) = zk.get_data(&self.full, false)?;
                    if st.version == 0 && d == self.data {
                        return Ok((self.full.clone(), Some(st)));
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn create_raw(&self, zk: &ZooKeeper) -> Result<(String, Option<Stat>)> {
        match self.ttl {
            Some(ttl) => zk
                .create_ttl(&self.full, &self.data, &self.acl, self.mode, ttl)
                .map(|(p, s)| (p, Some(s))),
            None if self.want_stat => zk
                .create2(&self.full, &self.data, &self.acl, self.mode)
                .map(|(p, s)| (p, Some(s))),
            None => zk
                .create(&self.full, &self.data, &self.acl, self.mode)
                .map(|p| (p, None)),
        }
    }

    /// Creates every missing ancestor down to `dir` (empty data), tolerating races.
    fn mkdirs(&self, c: &CuratorFramework, zk: &ZooKeeper, dir: &str) -> Result<()> {
        for d in path::ancestors(dir, true) {
            if zk.exists(d, false)?.is_some() {
                continue;
            }
            let acl = self.parents_acl.clone().unwrap_or_else(|| c.acl_for(d));
            match zk.create(d, &[], &acl, self.parents_mode) {
                Ok(_) | Err(Error::NodeExists { .. }) => {}
                Err(Error::Unimplemented { .. }) if self.parents_mode == CreateMode::Container => {
                    match zk.create(d, &[], &acl, CreateMode::Persistent) {
                        Ok(_) | Err(Error::NodeExists { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// After a final failure: a protected create whose reply may have been lost leaves a
    /// search-and-delete behind (Curator's FindAndDeleteProtectedNodeInBackground).
    fn give_up(&self, c: &CuratorFramework, e: &Error) {
        if let Some(p) = &self.protection {
            if e.is_retryable() || matches!(e, Error::RequestTimeout) {
                find_and_delete_protected(c, p.parent.clone(), p.id.clone());
            }
        }
    }

    fn simple(&self) -> bool {
        !self.parents && self.or_set_data.is_none() && !self.idempotent
    }
}

/// The first attempt goes out asynchronously; a failure that needs a second step (parents,
/// or-set-data, idempotent) and every retry run the whole attempt on the timer thread.
fn background_attempt(plan: Arc<CreatePlan>) -> Attempt<(String, Option<Stat>)> {
    Box::new(move |c, zk, count, done| {
        if count > 0 {
            return done.call(plan.once(c, zk, count));
        }
        if let Some(p) = &plan.protection {
            *p.session.lock() = Some(zk.session_id());
        }
        let d = OnceDone::new(done);
        let d2 = d.clone();
        let (plan2, c2) = (plan.clone(), c.clone());
        let follow_up = move |r: Result<(String, Option<Stat>)>| {
            let needs_more = match &r {
                Err(Error::NoNode { .. }) => plan2.parents,
                Err(Error::NodeExists { .. }) => !plan2.simple(),
                _ => false,
            };
            if !needs_more {
                return d2.call(r);
            }
            let inner = c2.inner.clone();
            inner.scheduler.schedule(Duration::ZERO, move || {
                let r = c2.inner.handle().and_then(|zk| plan2.once(&c2, &zk, 0));
                d2.call(r);
            });
        };
        let p = &plan;
        let r = match p.ttl {
            Some(ttl) => zk.create_ttl_async(&p.full, &p.data, &p.acl, p.mode, ttl, move |r| {
                follow_up(r.map(|(p, s)| (p, Some(s))))
            }),
            None => zk.create2_async(&p.full, &p.data, &p.acl, p.mode, move |r| {
                follow_up(r.map(|(p, s)| (p, Some(s))))
            }),
        };
        if let Err(e) = r {
            d.call(Err(e));
        }
    })
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl<M> std::fmt::Debug for CreateBuilder<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateBuilder").finish_non_exhaustive()
    }
}
