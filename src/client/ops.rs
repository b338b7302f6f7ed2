//! The server operations of [`ZooKeeper`], each in a synchronous form and an `_async` form
//! whose callback runs on the event thread, in order with watch notifications.
//!
//! Every operation validates its path (and applies the chroot) before anything is sent; an
//! async form reports such errors by returning `Err` at once, and otherwise calls its
//! callback exactly once.

use std::sync::Arc;
use std::time::Duration;

mod shared_watch;

use super::types::{Op, OpResult};
use super::ZooKeeper;
use crate::error::{Error, Result};
use crate::path;
use crate::proto::*;
use crate::session::events::EventItem;
use crate::session::pending::{Completion, WatchReg};
use crate::session::registry::{InFlightGuard, WatchKind};
use crate::session::{SharedWatcher, WatchedEvent};

/// The largest TTL the server accepts (2^40 - 1 ms).
const MAX_TTL_MS: u128 = (1 << 40) - 1;
/// Where the ensemble's dynamic configuration lives (never under a chroot).
const CONFIG_NODE: &str = "/zookeeper/config";

/// How a read asks for a watch.
pub(super) enum Watch {
    None,
    Default,
    With(SharedWatcher),
}

impl From<bool> for Watch {
    fn from(b: bool) -> Watch {
        if b {
            Watch::Default
        } else {
            Watch::None
        }
    }
}

fn unexpected<T>(r: Response) -> Result<T> {
    Err(Error::Protocol(format!("unexpected reply body {r:?}")))
}

impl ZooKeeper {
    // ------------------------------------------------------------------ plumbing

    /// Validates a client path and returns its server form.
    fn server_path(&self, p: &str, sequential: bool) -> Result<String> {
        path::validate_path(p, sequential)?;
        Ok(match &self.chroot {
            None => p.to_string(),
            Some(c) if p == "/" => c.to_string(),
            Some(c) => {
                let mut s = String::with_capacity(c.len() + p.len());
                s.push_str(c);
                s.push_str(p);
                s
            }
        })
    }

    fn watch_reg(
        &self,
        w: Watch,
        server_path: &str,
        on_ok: WatchKind,
        on_no_node: Option<WatchKind>,
    ) -> Result<(bool, Option<WatchReg>)> {
        let watcher = match w {
            Watch::None => return Ok((false, None)),
            Watch::Default => self.core.default_watcher.clone().ok_or_else(|| {
                Error::InvalidArgument("watch = true needs a default watcher".into())
            })?,
            Watch::With(w) => w,
        };
        Ok((
            true,
            Some(WatchReg {
                on_ok,
                on_no_node,
                path: server_path.to_string(),
                watcher,
                _inflight: InFlightGuard::new(&self.core.watch_inflight, server_path),
            }),
        ))
    }

    fn sync_call<T>(
        &self,
        req: Request,
        watch: Option<WatchReg>,
        path: &str,
        conv: impl FnOnce(Response) -> Result<T>,
    ) -> Result<T> {
        self.check_alive()?;
        let op = req.op_code();
        self.core
            .call(&req, watch)
            .and_then(conv)
            .map_err(|e| e.with_path(path).with_op(op))
    }

    fn async_call<T: 'static>(
        &self,
        req: Request,
        watch: Option<WatchReg>,
        path: &str,
        conv: impl FnOnce(Response) -> Result<T> + Send + 'static,
        cb: impl FnOnce(Result<T>) + Send + 'static,
    ) -> Result<()> {
        self.check_alive()?;
        let path = path.to_string();
        let op = req.op_code();
        self.core.submit(
            &req,
            watch,
            Completion::Async(Box::new(move |reply| {
                cb(reply
                    .and_then(conv)
                    .map_err(|e| e.with_path(&path).with_op(op)))
            })),
        );
        Ok(())
    }

    /// The asynchronous form the framework's background operations use: a refusal (invalid
    /// path, closed handle) reaches `cb` as well, at once on this thread, so the caller needs
    /// no shared slot for "whichever comes first"; and errors are not given the handle-level
    /// path (the framework puts the caller's namespace-free path in). Saves two allocations
    /// per request on the framework's hottest path.
    fn bg_call<T: 'static>(
        &self,
        built: Result<(Request, Option<WatchReg>)>,
        conv: impl FnOnce(Response) -> Result<T> + Send + 'static,
        cb: impl FnOnce(Result<T>) + Send + 'static,
    ) {
        let (req, watch) = match built.and_then(|b| self.check_alive().map(|()| b)) {
            Ok(b) => b,
            Err(e) => return cb(Err(e)),
        };
        let op = req.op_code();
        self.core.submit(
            &req,
            watch,
            Completion::Async(Box::new(move |reply| {
                cb(reply.and_then(conv).map_err(|e| e.with_op(op)))
            })),
        );
    }

    /// `get_data[_w]_async` for the framework (see [`bg_call`](Self::bg_call)).
    pub(crate) fn get_data_bg(
        &self,
        path: &str,
        watcher: Option<SharedWatcher>,
        cb: impl FnOnce(Result<(Vec<u8>, Stat)>) + Send + 'static,
    ) {
        let w = watcher.map_or(Watch::None, Watch::With);
        self.bg_call(self.get_data_request(path, w), get_data_conv, cb)
    }

    /// `set_data_async` for the framework (see [`bg_call`](Self::bg_call)).
    pub(crate) fn set_data_bg(
        &self,
        path: &str,
        data: &[u8],
        version: i32,
        cb: impl FnOnce(Result<Stat>) + Send + 'static,
    ) {
        let built = self
            .set_data_request(path, data, version)
            .map(|r| (r, None));
        self.bg_call(built, set_data_conv, cb)
    }

    /// `get_children2[_w]_async` for the framework (see [`bg_call`](Self::bg_call)).
    pub(crate) fn get_children2_bg(
        &self,
        path: &str,
        watcher: Option<SharedWatcher>,
        cb: impl FnOnce(Result<(Vec<String>, Stat)>) + Send + 'static,
    ) {
        let w = watcher.map_or(Watch::None, Watch::With);
        self.bg_call(
            self.children_request(path, w, true),
            |r| children_conv(r).map(|(c, s)| (c, s.unwrap_or_default())),
            cb,
        )
    }

    fn strip(chroot: &Option<Arc<str>>, server_path: &str) -> String {
        match chroot {
            Some(c) => path::strip_prefix(c, server_path).to_string(),
            None => server_path.to_string(),
        }
    }

    // ------------------------------------------------------------------ create

    pub(super) fn create_request(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        ttl: Option<Duration>,
        want_stat: bool,
    ) -> Result<Request> {
        let sp = self.server_path(path, mode.is_sequential())?;
        if acl.is_empty() {
            return Err(Error::InvalidAcl {
                path: path.to_string(),
                op: Some(OpCode::Create),
            });
        }
        let data = Some(data.to_vec());
        let acl = acl.to_vec();
        let flags = mode.code();
        match (mode.is_ttl(), ttl) {
            (true, Some(ttl)) => {
                let ms = ttl.as_millis();
                if ms == 0 || ms > MAX_TTL_MS {
                    return Err(Error::InvalidArgument(format!(
                        "TTL {ttl:?} out of range (1 ms ..= 2^40-1 ms)"
                    )));
                }
                Ok(Request::CreateTtl(CreateTtlRequest {
                    path: sp,
                    data,
                    acl,
                    flags,
                    ttl: ms as i64,
                }))
            }
            (true, None) => Err(Error::InvalidArgument(format!(
                "{mode:?} needs a TTL (use create_ttl)"
            ))),
            (false, Some(_)) => Err(Error::InvalidArgument(format!(
                "a TTL needs a TTL mode, not {mode:?}"
            ))),
            (false, None) => {
                let req = CreateRequest {
                    path: sp,
                    data,
                    acl,
                    flags,
                };
                Ok(if mode.is_container() {
                    Request::CreateContainer(req)
                } else if want_stat {
                    Request::Create2(req)
                } else {
                    Request::Create(req)
                })
            }
        }
    }

    pub(super) fn create_conv(
        &self,
    ) -> impl FnOnce(Response) -> Result<(String, Option<Stat>)> + Send {
        let chroot = self.chroot.clone();
        move |r| match r {
            Response::Create(c) => Ok((Self::strip(&chroot, &c.path), None)),
            Response::Create2(c) => Ok((Self::strip(&chroot, &c.path), Some(c.stat))),
            other => unexpected(other),
        }
    }

    /// Creates a node and returns its actual path (with the sequence suffix for sequential
    /// modes). Container mode uses createContainer; the TTL modes need
    /// [`create_ttl`](Self::create_ttl).
    pub fn create(&self, path: &str, data: &[u8], acl: &[Acl], mode: CreateMode) -> Result<String> {
        let req = self.create_request(path, data, acl, mode, None, false)?;
        self.sync_call(req, None, path, self.create_conv())
            .map(|(p, _)| p)
    }

    /// Creates a node (create2) and returns its path and Stat.
    pub fn create2(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<(String, Stat)> {
        let req = self.create_request(path, data, acl, mode, None, true)?;
        self.sync_call(req, None, path, self.create_conv())
            .map(|(p, s)| (p, s.unwrap_or_default()))
    }

    /// Creates a node with a time to live (`mode` is `PersistentWithTtl` or
    /// `PersistentSequentialWithTtl`; the server needs `extendedTypesEnabled`).
    pub fn create_ttl(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        ttl: Duration,
    ) -> Result<(String, Stat)> {
        let req = self.create_request(path, data, acl, mode, Some(ttl), true)?;
        self.sync_call(req, None, path, self.create_conv())
            .map(|(p, s)| (p, s.unwrap_or_default()))
    }

    /// [`create`](Self::create), asynchronously.
    pub fn create_async(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        cb: impl FnOnce(Result<String>) + Send + 'static,
    ) -> Result<()> {
        let req = self.create_request(path, data, acl, mode, None, false)?;
        let conv = self.create_conv();
        self.async_call(req, None, path, move |r| conv(r).map(|(p, _)| p), cb)
    }

    /// [`create2`](Self::create2), asynchronously.
    pub fn create2_async(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        cb: impl FnOnce(Result<(String, Stat)>) + Send + 'static,
    ) -> Result<()> {
        let req = self.create_request(path, data, acl, mode, None, true)?;
        let conv = self.create_conv();
        self.async_call(
            req,
            None,
            path,
            move |r| conv(r).map(|(p, s)| (p, s.unwrap_or_default())),
            cb,
        )
    }

    /// [`create_ttl`](Self::create_ttl), asynchronously.
    pub fn create_ttl_async(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        ttl: Duration,
        cb: impl FnOnce(Result<(String, Stat)>) + Send + 'static,
    ) -> Result<()> {
        let req = self.create_request(path, data, acl, mode, Some(ttl), true)?;
        let conv = self.create_conv();
        self.async_call(
            req,
            None,
            path,
            move |r| conv(r).map(|(p, s)| (p, s.unwrap_or_default())),
            cb,
        )
    }

    // ------------------------------------------------------------------ delete / exists

    pub(super) fn delete_request(&self, path: &str, version: i32) -> Result<Request> {
        Ok(Request::Delete(DeleteRequest {
            path: self.server_path(path, false)?,
            version,
        }))
    }

    /// Deletes a node if its version matches (`-1` for any version).
    pub fn delete(&self, path: &str, version: i32) -> Result<()> {
        let req = self.delete_request(path, version)?;
        self.sync_call(req, None, path, |_| Ok(()))
    }

    /// [`delete`](Self::delete), asynchronously.
    pub fn delete_async(
        &self,
        path: &str,
        version: i32,
        cb: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<()> {
        let req = self.delete_request(path, version)?;
        self.async_call(req, None, path, |_| Ok(()), cb)
    }

    fn exists_request(&self, path: &str, w: Watch) -> Result<(Request, Option<WatchReg>)> {
        let sp = self.server_path(path, false)?;
        let (watch, reg) = self.watch_reg(w, &sp, WatchKind::Data, Some(WatchKind::Exist))?;
        Ok((Request::Exists(ExistsRequest { path: sp, watch }), reg))
    }

    fn exists_sync(&self, path: &str, w: Watch) -> Result<Option<Stat>> {
        let (req, reg) = self.exists_request(path, w)?;
        match self.sync_call(req, reg, path, exists_conv) {
            Err(Error::NoNode { .. }) => Ok(None),
            other => other.map(Some),
        }
    }

    fn exists_async_impl(
        &self,
        path: &str,
        w: Watch,
        cb: impl FnOnce(Result<Option<Stat>>) + Send + 'static,
    ) -> Result<()> {
        let (req, reg) = self.exists_request(path, w)?;
        self.async_call(req, reg, path, exists_conv, move |r| {
            cb(match r {
                Err(Error::NoNode { .. }) => Ok(None),
                other => other.map(Some),
            })
        })
    }

    /// The node's Stat, or `None` if it does not exist. With `watch`, the default watcher
    /// is told when the node is created, changed or deleted (the watch is set either way).
    pub fn exists(&self, path: &str, watch: bool) -> Result<Option<Stat>> {
        self.exists_sync(path, watch.into())
    }

    /// [`exists`](Self::exists) with a watcher of its own.
    /// The closure's argument type is inferred (`|e| ...`); a [`SharedWatcher`] goes to
    /// [`exists_w_shared`](Self::exists_w_shared).
    pub fn exists_w(
        &self,
        path: &str,
        watcher: impl Fn(&WatchedEvent) + Send + Sync + 'static,
    ) -> Result<Option<Stat>> {
        self.exists_w_shared(path, &SharedWatcher::new(watcher))
    }

    /// [`exists`](Self::exists), asynchronously.
    pub fn exists_async(
        &self,
        path: &str,
        watch: bool,
        cb: impl FnOnce(Result<Option<Stat>>) + Send + 'static,
    ) -> Result<()> {
        self.exists_async_impl(path, watch.into(), cb)
    }

    /// [`exists_w`](Self::exists_w), asynchronously.
    /// The closure's argument type is inferred (`|e| ...`); a [`SharedWatcher`] goes to
    /// [`exists_w_shared_async`](Self::exists_w_shared_async).
    pub fn exists_w_async(
        &self,
        path: &str,
        watcher: impl Fn(&WatchedEvent) + Send + Sync + 'static,
        cb: impl FnOnce(Result<Option<Stat>>) + Send + 'static,
    ) -> Result<()> {
        self.exists_w_shared_async(path, &SharedWatcher::new(watcher), cb)
    }

    // ------------------------------------------------------------------ data

    pub(super) fn get_data_request(
        &self,
        path: &str,
        w: Watch,
    ) -> Result<(Request, Option<WatchReg>)> {
        let sp = self.server_path(path, false)?;
        let (watch, reg) = self.watch_reg(w, &sp, WatchKind::Data, None)?;
        Ok((Request::GetData(GetDataRequest { path: sp, watch }), reg))
    }

    /// The node's data and Stat. With `watch`, the default watcher is told when the node's
    /// data changes or it is deleted.
    pub fn get_data(&self, path: &str, watch: bool) -> Result<(Vec<u8>, Stat)> {
        let (req, reg) = self.get_data_request(path, watch.into())?;
        self.sync_call(req, reg, path, get_data_conv)
    }

    /// [`get_data`](Self::get_data) with a watcher of its own.
    /// The closure's argument type is inferred (`|e| ...`); a [`SharedWatcher`] goes to
    /// [`get_data_w_shared`](Self::get_data_w_shared).
    pub fn get_data_w(
        &self,
        path: &str,
        watcher: impl Fn(&WatchedEvent) + Send + Sync + 'static,
    ) -> Result<(Vec<u8>, Stat)> {
        self.get_data_w_shared(path, &SharedWatcher::new(watcher))
    }

    /// [`get_data`](Self::get_data), asynchronously.
    pub fn get_data_async(
        &self,
        path: &str,
        watch: bool,
        cb: impl FnOnce(Result<(Vec<u8>, Stat)>) + Send + 'static,
    ) -> Result<()> {
        let (req, reg) = self.get_data_request(path, watch.into())?;
        self.async_call(req, reg, path, get_data_conv, cb)
    }

    /// [`get_data_w`](Self::get_data_w), asynchronously.
    /// The closure's argument type is inferred (`|e| ...`); a [`SharedWatcher`] goes to
    /// [`get_data_w_shared_async`](Self::get_data_w_shared_async).
    pub fn get_data_w_async(
        &self,
        path: &str,
        watcher: impl Fn(&WatchedEvent) + Send + Sync + 'static,
        cb: impl FnOnce(Result<(Vec<u8>, Stat)>) + Send + 'static,
    ) -> Result<()> {
        self.get_data_w_shared_async(path, &SharedWatcher::new(watcher), cb)
    }

    fn set_data_request(&self, path: &str, data: &[u8], version: i32) -> Result<Request> {
        Ok(Request::SetData(SetDataRequest {
            path: self.server_path(path, false)?,
            data: Some(data.to_vec()),
            version,
        }))
    }

    /// Sets the node's data if its version matches (`-1` for any) and returns the new Stat.
    pub fn set_data(&self, path: &str, data: &[u8], version: i32) -> Result<Stat> {
        let req = self.set_data_request(path, data, version)?;
        self.sync_call(req, None, path, set_data_conv)
    }

    /// [`set_data`](Self::set_data), asynchronously.
    pub fn set_data_async(
        &self,
        path: &str,
        data: &[u8],
        version: i32,
        cb: impl FnOnce(Result<Stat>) + Send + 'static,
    ) -> Result<()> {
        let req = self.set_data_request(path, data, version)?;
        self.async_call(req, None, path, set_data_conv, cb)
    }

    // ------------------------------------------------------------------ ACL

    /// The node's ACL and Stat.
    pub fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat)> {
        let req = Request::GetAcl(GetAclRequest {
            path: self.server_path(path, false)?,
        });
        self.sync_call(req, None, path, get_acl_conv)
    }

    /// [`get_acl`](Self::get_acl), asynchronously.
    pub fn get_acl_async(
        &self,
        path: &str,
        cb: impl FnOnce(Result<(Vec<Acl>, Stat)>) + Send + 'static,
    ) -> Result<()> {
        let req = Request::GetAcl(GetAclRequest {
            path: self.server_path(path, false)?,
        });
        self.async_call(req, None, path, get_acl_conv, cb)
    }

    fn set_acl_request(&self, path: &str, acl: &[Acl], version: i32) -> Result<Request> {
        let sp = self.server_path(path, false)?;
        if acl.is_empty() {
            return Err(Error::InvalidAcl {
                path: path.to_string(),
                op: Some(OpCode::SetAcl),
            });
        }
        Ok(Request::SetAcl(SetAclRequest {
            path: sp,
            acl: acl.to_vec(),
            version,
        }))
    }

    /// Sets the node's ACL if its ACL version (`aversion`) matches (`-1` for any).
    pub fn set_acl(&self, path: &str, acl: &[Acl], version: i32) -> Result<Stat> {
        let req = self.set_acl_request(path, acl, version)?;
        self.sync_call(req, None, path, set_acl_conv)
    }

    /// [`set_acl`](Self::set_acl), asynchronously.
    pub fn set_acl_async(
        &self,
        path: &str,
        acl: &[Acl],
        version: i32,
        cb: impl FnOnce(Result<Stat>) + Send + 'static,
    ) -> Result<()> {
        let req = self.set_acl_request(path, acl, version)?;
        self.async_call(req, None, path, set_acl_conv, cb)
    }

    // ------------------------------------------------------------------ children

    pub(super) fn children_request(
        &self,
        path: &str,
        w: Watch,
        with_stat: bool,
    ) -> Result<(Request, Option<WatchReg>)> {
        let sp = self.server_path(path, false)?;
        let (watch, reg) = self.watch_reg(w, &sp, WatchKind::Child, None)?;
        let r = GetChildrenRequest { path: sp, watch };
        Ok((
            if with_stat {
                Request::GetChildren2(r)
            } else {
                Request::GetChildren(r)
            },
            reg,
        ))
    }

    /// The names of the node's children (in no particular order). With `watch`, the default
    /// watcher is told when a child is created or deleted, or the node deleted.
    pub fn get_children(&self, path: &str, watch: bool) -> Result<Vec<String>> {
        let (req, reg) = self.children_request(path, watch.into(), false)?;
        self.sync_call(req, reg, path, children_conv)
            .map(|(c, _)| c)
    }

    /// [`get_children`](Self::get_children) with a watcher of its own.
    /// The closure's argument type is inferred (`|e| ...`); a [`SharedWatcher`] goes to
    /// [`get_children_w_shared`](Self::get_children_w_shared).
    pub fn get_children_w(
        &self,
        path: &str,
        watcher: impl Fn(&WatchedEvent) + Send + Sync + 'static,
    ) -> Result<Vec<String>> {
        self.get_children_w_shared(path, &SharedWatcher::new(watcher))
    }

    /// The children and the node's Stat (getChildren2).
    pub fn get_children2(&self, path: &str, watch: bool) -> Result<(Vec<String>, Stat)> {
        let (req, reg) = self.children_request(path, watch.into(), true)?;
        self.sync_call(req, reg, path, children_conv)
            .map(|(c, s)| (c, s.unwrap_or_default()))
    }

    /// [`get_children2`](Self::get_children2) with a watcher of its own.
    /// The closure's argument type is inferred (`|e| ...`); a [`SharedWatcher`] goes to
    /// [`get_children2_w_shared`](Self::get_children2_w_shared).
    pub fn get_children2_w(
        &self,
        path: &str,
        watcher: impl Fn(&WatchedEvent) + Send + Sync + 'static,
    ) -> Result<(Vec<String>, Stat)> {
        self.get_children2_w_shared(path, &SharedWatcher::new(watcher))
    }

    /// [`get_children`](Self::get_children), asynchronously.
    pub fn get_children_async(
        &self,
        path: &str,
        watch: bool,
        cb: impl FnOnce(Result<Vec<String>>) + Send + 'static,
    ) -> Result<()> {
        let (req, reg) = self.children_request(path, watch.into(), false)?;
        self.async_call(req, reg, path, |r| children_conv(r).map(|(c, _)| c), cb)
    }

    /// [`get_children_w`](Self::get_children_w), asynchronously.
    /// The closure's argument type is inferred (`|e| ...`); a [`SharedWatcher`] goes to
    /// [`get_children_w_shared_async`](Self::get_children_w_shared_async).
    pub fn get_children_w_async(
        &self,
        path: &str,
        watcher: impl Fn(&WatchedEvent) + Send + Sync + 'static,
        cb: impl FnOnce(Result<Vec<String>>) + Send + 'static,
    ) -> Result<()> {
        self.get_children_w_shared_async(path, &SharedWatcher::new(watcher), cb)
    }

    /// [`get_children2`](Self::get_children2), asynchronously.
    pub fn get_children2_async(
        &self,
        path: &str,
        watch: bool,
        cb: impl FnOnce(Result<(Vec<String>, Stat)>) + Send + 'static,
    ) -> Result<()> {
        let (req, reg) = self.children_request(path, watch.into(), true)?;
        self.async_call(
            req,
            reg,
            path,
            |r| children_conv(r).map(|(c, s)| (c, s.unwrap_or_default())),
            cb,
        )
    }

    /// [`get_children2_w`](Self::get_children2_w), asynchronously.
    /// The closure's argument type is inferred (`|e| ...`); a [`SharedWatcher`] goes to
    /// [`get_children2_w_shared_async`](Self::get_children2_w_shared_async).
    pub fn get_children2_w_async(
        &self,
        path: &str,
        watcher: impl Fn(&WatchedEvent) + Send + Sync + 'static,
        cb: impl FnOnce(Result<(Vec<String>, Stat)>) + Send + 'static,
    ) -> Result<()> {
        self.get_children2_w_shared_async(path, &SharedWatcher::new(watcher), cb)
    }

    /// The number of descendants of the node, itself excluded (3.6+ servers).
    pub fn get_all_children_number(&self, path: &str) -> Result<i32> {
        let req = Request::GetAllChildrenNumber(GetAllChildrenNumberRequest {
            path: self.server_path(path, false)?,
        });
        self.sync_call(req, None, path, all_children_conv)
    }

    /// [`get_all_children_number`](Self::get_all_children_number), asynchronously.
    pub fn get_all_children_number_async(
        &self,
        path: &str,
        cb: impl FnOnce(Result<i32>) + Send + 'static,
    ) -> Result<()> {
        let req = Request::GetAllChildrenNumber(GetAllChildrenNumberRequest {
            path: self.server_path(path, false)?,
        });
        self.async_call(req, None, path, all_children_conv, cb)
    }

    fn ephemerals_request(&self, prefix: &str) -> Request {
        // A plain string prefix, matched with startsWith by the server: not a path to
        // validate, but the chroot still applies (and is stripped from the results).
        let prefix_path = match &self.chroot {
            Some(c) if prefix == "/" || prefix.is_empty() => c.to_string(),
            Some(c) => format!("{c}{prefix}"),
            None => prefix.to_string(),
        };
        Request::GetEphemerals(GetEphemeralsRequest { prefix_path })
    }

    fn ephemerals_conv(&self) -> impl FnOnce(Response) -> Result<Vec<String>> + Send {
        let chroot = self.chroot.clone();
        move |r| match r {
            Response::GetEphemerals(e) => Ok(e
                .ephemerals
                .iter()
                .map(|p| Self::strip(&chroot, p))
                .collect()),
            other => unexpected(other),
        }
    }

    /// The paths of this session's ephemeral nodes whose path starts with `prefix` (a plain
    /// string prefix; `/` for all), 3.6+ servers.
    pub fn get_ephemerals(&self, prefix: &str) -> Result<Vec<String>> {
        let req = self.ephemerals_request(prefix);
        self.sync_call(req, None, prefix, self.ephemerals_conv())
    }

    /// [`get_ephemerals`](Self::get_ephemerals), asynchronously.
    pub fn get_ephemerals_async(
        &self,
        prefix: &str,
        cb: impl FnOnce(Result<Vec<String>>) + Send + 'static,
    ) -> Result<()> {
        let req = self.ephemerals_request(prefix);
        self.async_call(req, None, prefix, self.ephemerals_conv(), cb)
    }

    // ------------------------------------------------------------------ sync, whoAmI, config

    /// Waits until the server this client is connected to has caught up with the leader, so
    /// that a following read sees every write committed before the sync.
    pub fn sync(&self, path: &str) -> Result<()> {
        let req = Request::Sync(SyncRequest {
            path: self.server_path(path, false)?,
        });
        self.sync_call(req, None, path, |_| Ok(()))
    }

    /// [`sync`](Self::sync), asynchronously.
    pub fn sync_async(
        &self,
        path: &str,
        cb: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<()> {
        let req = Request::Sync(SyncRequest {
            path: self.server_path(path, false)?,
        });
        self.async_call(req, None, path, |_| Ok(()), cb)
    }

    /// The identities the session is authenticated as (3.7+ servers).
    pub fn who_am_i(&self) -> Result<Vec<ClientInfo>> {
        self.sync_call(Request::WhoAmI, None, "/", who_am_i_conv)
    }

    /// [`who_am_i`](Self::who_am_i), asynchronously.
    pub fn who_am_i_async(
        &self,
        cb: impl FnOnce(Result<Vec<ClientInfo>>) + Send + 'static,
    ) -> Result<()> {
        self.async_call(Request::WhoAmI, None, "/", who_am_i_conv, cb)
    }

    fn config_request(&self, w: Watch) -> Result<(Request, Option<WatchReg>)> {
        let (watch, reg) = self.watch_reg(w, CONFIG_NODE, WatchKind::Data, None)?;
        Ok((
            Request::GetData(GetDataRequest {
                path: CONFIG_NODE.to_string(),
                watch,
            }),
            reg,
        ))
    }

    /// The ensemble's dynamic configuration (`/zookeeper/config`, read outside any chroot).
    pub fn get_config(&self, watch: bool) -> Result<(Vec<u8>, Stat)> {
        let (req, reg) = self.config_request(watch.into())?;
        self.sync_call(req, reg, CONFIG_NODE, get_data_conv)
    }

    /// [`get_config`](Self::get_config) with a watcher of its own.
    /// The closure's argument type is inferred (`|e| ...`); a [`SharedWatcher`] goes to
    /// [`get_config_w_shared`](Self::get_config_w_shared).
    pub fn get_config_w(
        &self,
        watcher: impl Fn(&WatchedEvent) + Send + Sync + 'static,
    ) -> Result<(Vec<u8>, Stat)> {
        self.get_config_w_shared(&SharedWatcher::new(watcher))
    }

    /// [`get_config`](Self::get_config), asynchronously.
    pub fn get_config_async(
        &self,
        watch: bool,
        cb: impl FnOnce(Result<(Vec<u8>, Stat)>) + Send + 'static,
    ) -> Result<()> {
        let (req, reg) = self.config_request(watch.into())?;
        self.async_call(req, reg, CONFIG_NODE, get_data_conv, cb)
    }

    // ------------------------------------------------------------------ multi

    fn multi_request(&self, ops: &[Op], read: bool) -> Result<Request> {
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            if op.is_read() != read {
                return Err(Error::InvalidArgument(if read {
                    format!("multi_read takes only reads, got {op:?}")
                } else {
                    format!("multi takes no reads (use multi_read), got {op:?}")
                }));
            }
            out.push(match op {
                Op::Create {
                    path,
                    data,
                    acl,
                    mode,
                    ttl,
                } => match self.create_request(path, data, acl, *mode, *ttl, false)? {
                    Request::Create(req) => MultiOp::Create {
                        op: OpCode::Create,
                        req,
                    },
                    Request::CreateContainer(req) => MultiOp::Create {
                        op: OpCode::CreateContainer,
                        req,
                    },
                    Request::CreateTtl(req) => MultiOp::CreateTtl(req),
                    other => return unexpected_req(other),
                },
                Op::Delete { path, version } => MultiOp::Delete(DeleteRequest {
                    path: self.server_path(path, false)?,
                    version: *version,
                }),
                Op::SetData {
                    path,
                    data,
                    version,
                } => MultiOp::SetData(SetDataRequest {
                    path: self.server_path(path, false)?,
                    data: Some(data.clone()),
                    version: *version,
                }),
                Op::Check { path, version } => MultiOp::Check(CheckVersionRequest {
                    path: self.server_path(path, false)?,
                    version: *version,
                }),
                Op::GetData { path } => MultiOp::GetData(GetDataRequest {
                    path: self.server_path(path, false)?,
                    watch: false,
                }),
                Op::GetChildren { path } => MultiOp::GetChildren(GetChildrenRequest {
                    path: self.server_path(path, false)?,
                    watch: false,
                }),
            });
        }
        let m = MultiRequest { ops: out };
        Ok(if read {
            Request::MultiRead(m)
        } else {
            Request::Multi(m)
        })
    }

    fn multi_conv(
        &self,
        ops: &[Op],
    ) -> impl FnOnce(Response) -> Result<Vec<OpResult>> + Send + 'static {
        let chroot = self.chroot.clone();
        let paths: Vec<(String, OpCode)> = ops
            .iter()
            .map(|o| (o.path().to_string(), o.op_code()))
            .collect();
        move |r| {
            let Response::Multi(m) = r else {
                return unexpected(r);
            };
            if m.results.len() != paths.len() {
                return Err(Error::Protocol(format!(
                    "{} results for {} operations",
                    m.results.len(),
                    paths.len()
                )));
            }
            Ok(m.results
                .into_iter()
                .zip(&paths)
                .map(|(res, (p, op))| match res {
                    MultiResult::Create(c) => OpResult::Create {
                        path: Self::strip(&chroot, &c.path),
                        stat: None,
                    },
                    MultiResult::Create2(c) => OpResult::Create {
                        path: Self::strip(&chroot, &c.path),
                        stat: Some(c.stat),
                    },
                    MultiResult::Delete => OpResult::Delete,
                    MultiResult::SetData(s) => OpResult::SetData { stat: s.stat },
                    MultiResult::Check => OpResult::Check,
                    MultiResult::GetData(d) => OpResult::GetData {
                        data: d.data.unwrap_or_default(),
                        stat: d.stat,
                    },
                    MultiResult::GetChildren(c) => OpResult::GetChildren {
                        children: c.children,
                    },
                    MultiResult::Error(0) => OpResult::RolledBack,
                    MultiResult::Error(code) => {
                        OpResult::Error(Error::from_code(code, p).with_op(*op))
                    }
                })
                .collect())
        }
    }

    /// Applies `ops` atomically: all of them or none. On failure returns the error of the
    /// failing operation (with its path); [`multi_results`](Self::multi_results) gives the
    /// per-operation outcome instead. An empty list succeeds without a round trip.
    pub fn multi(&self, ops: &[Op]) -> Result<Vec<OpResult>> {
        first_error(self.multi_results(ops)?)
    }

    /// Like [`multi`](Self::multi), but a failed transaction is `Ok` with one result per
    /// operation: [`OpResult::RolledBack`] before the failing one, its
    /// [`OpResult::Error`], and `RuntimeInconsistency` errors after it.
    pub fn multi_results(&self, ops: &[Op]) -> Result<Vec<OpResult>> {
        self.multi_sync(ops, false)
    }

    /// [`multi_results`](Self::multi_results), asynchronously (the callback gets the
    /// per-operation outcome).
    pub fn multi_async(
        &self,
        ops: &[Op],
        cb: impl FnOnce(Result<Vec<OpResult>>) + Send + 'static,
    ) -> Result<()> {
        self.multi_async_impl(ops, false, cb)
    }

    /// Reads several nodes in one round trip (3.6+ servers). Not atomic: each operation has
    /// its own result or [`OpResult::Error`].
    pub fn multi_read(&self, ops: &[Op]) -> Result<Vec<OpResult>> {
        self.multi_sync(ops, true)
    }

    /// [`multi_read`](Self::multi_read), asynchronously.
    pub fn multi_read_async(
        &self,
        ops: &[Op],
        cb: impl FnOnce(Result<Vec<OpResult>>) + Send + 'static,
    ) -> Result<()> {
        self.multi_async_impl(ops, true, cb)
    }

    /// multi (`read` false) or multiRead; an empty list succeeds without a round trip.
    fn multi_sync(&self, ops: &[Op], read: bool) -> Result<Vec<OpResult>> {
        if ops.is_empty() {
            self.check_alive()?;
            return Ok(Vec::new());
        }
        let req = self.multi_request(ops, read)?;
        self.sync_call(req, None, "/", self.multi_conv(ops))
    }

    fn multi_async_impl(
        &self,
        ops: &[Op],
        read: bool,
        cb: impl FnOnce(Result<Vec<OpResult>>) + Send + 'static,
    ) -> Result<()> {
        if ops.is_empty() {
            self.check_alive()?;
            self.core.events.post(move || cb(Ok(Vec::new())));
            return Ok(());
        }
        let req = self.multi_request(ops, read)?;
        self.async_call(req, None, "/", self.multi_conv(ops), cb)
    }

    // ------------------------------------------------------------------ persistent watches

    fn add_watch_request(
        &self,
        path: &str,
        watcher: SharedWatcher,
        mode: AddWatchMode,
    ) -> Result<(Request, Option<WatchReg>)> {
        let sp = self.server_path(path, false)?;
        let kind = match mode {
            AddWatchMode::Persistent => WatchKind::Persistent,
            AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
        };
        let (_, reg) = self.watch_reg(Watch::With(watcher), &sp, kind, None)?;
        Ok((
            Request::AddWatch(AddWatchRequest {
                path: sp,
                mode: mode.code(),
            }),
            reg,
        ))
    }

    /// Adds a persistent (or persistent-recursive) watch on `path`, which need not exist
    /// (3.6+ servers). It fires for every matching change until removed and survives
    /// reconnects; recursive watches see the node and every descendant but no child events.
    /// The closure's argument type is inferred (`|e| ...`); a [`SharedWatcher`] goes to
    /// [`add_watch_shared`](Self::add_watch_shared).
    pub fn add_watch(
        &self,
        path: &str,
        watcher: impl Fn(&WatchedEvent) + Send + Sync + 'static,
        mode: AddWatchMode,
    ) -> Result<()> {
        self.add_watch_shared(path, &SharedWatcher::new(watcher), mode)
    }

    /// [`add_watch`](Self::add_watch), asynchronously.
    /// The closure's argument type is inferred (`|e| ...`); a [`SharedWatcher`] goes to
    /// [`add_watch_shared_async`](Self::add_watch_shared_async).
    pub fn add_watch_async(
        &self,
        path: &str,
        watcher: impl Fn(&WatchedEvent) + Send + Sync + 'static,
        mode: AddWatchMode,
        cb: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<()> {
        self.add_watch_shared_async(path, &SharedWatcher::new(watcher), mode, cb)
    }

    /// Removes one watcher of `path` (the same [`SharedWatcher`] that was registered) for the
    /// kinds `wtype` covers, and tells it with a `*WatchRemoved` event. `NoWatcher` if it is
    /// not registered. With `local`, it is removed here even when the server cannot be
    /// reached.
    pub fn remove_watches(
        &self,
        path: &str,
        watcher: &SharedWatcher,
        wtype: WatcherType,
        local: bool,
    ) -> Result<()> {
        self.remove_impl(path, Some(watcher), wtype, local)
    }

    /// Removes every watcher of `path` for the kinds `wtype` covers, here and on the server.
    pub fn remove_all_watches(&self, path: &str, wtype: WatcherType, local: bool) -> Result<()> {
        self.remove_impl(path, None, wtype, local)
    }

    /// True while `watcher` may hold a watch on `path` here: registered, or a watched
    /// request for the path still in flight (it may register one). For the watcher-removal
    /// facade, which forgets watches that fired instead of asking the server about them.
    pub(crate) fn may_hold_watch(&self, path: &str, watcher: &SharedWatcher) -> bool {
        let Ok(sp) = self.server_path(path, false) else {
            return false;
        };
        if self.core.watch_inflight.lock().contains_key(&sp) {
            return true;
        }
        self.core
            .registry
            .lock()
            .contains(&sp, WatcherType::Any, Some(watcher))
    }

    fn remove_impl(
        &self,
        path: &str,
        watcher: Option<&SharedWatcher>,
        wtype: WatcherType,
        local: bool,
    ) -> Result<()> {
        let (sp, req) = self.remove_request(path, watcher, wtype, local)?;
        let server = match req {
            Some(req) => self.sync_call(req, None, path, |_| Ok(())),
            None => Ok(()),
        };
        finish_remove(&self.core, server, local, &sp, path, watcher, wtype)
    }

    fn remove_async_impl(
        &self,
        path: &str,
        watcher: Option<&SharedWatcher>,
        wtype: WatcherType,
        local: bool,
        cb: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<()> {
        let (sp, req) = self.remove_request(path, watcher, wtype, local)?;
        let core = self.core.clone();
        let user = path.to_string();
        let w = watcher.cloned();
        let done = move |r: Result<()>| {
            cb(finish_remove(
                &core,
                r,
                local,
                &sp,
                &user,
                w.as_ref(),
                wtype,
            ));
        };
        match req {
            Some(req) => self.async_call(req, None, path, |_| Ok(()), done),
            None => {
                self.core.events.post(move || done(Ok(())));
                Ok(())
            }
        }
    }

    /// Checks that there is something to remove and picks the request: checkWatches when
    /// other local watchers still need the server's watch, removeWatches when the last one
    /// goes (so that a persistent watch stops sending events nobody wants); none when
    /// removing locally while disconnected.
    fn remove_request(
        &self,
        path: &str,
        watcher: Option<&SharedWatcher>,
        wtype: WatcherType,
        local: bool,
    ) -> Result<(String, Option<Request>)> {
        self.check_alive()?;
        let sp = self.server_path(path, false)?;
        let last = {
            let mut reg = self.core.registry.lock();
            if !reg.contains(&sp, wtype, watcher) {
                return Err(Error::NoWatcher {
                    path: path.to_string(),
                    op: Some(OpCode::RemoveWatches),
                });
            }
            match watcher {
                Some(w) => {
                    let last = reg.is_last(&sp, wtype, w, &self.core.watch_inflight);
                    reg.begin_removal(&sp, w);
                    last
                }
                None => true,
            }
        };
        if local && !self.state().is_connected() {
            return Ok((sp, None));
        }
        // 3.9 servers know the persistent types; older ones address them with Any.
        let wire_type = match wtype {
            WatcherType::Persistent | WatcherType::PersistentRecursive => WatcherType::Any,
            t => t,
        }
        .code();
        let req = if watcher.is_some() && !last {
            Request::CheckWatches(CheckWatchesRequest {
                path: sp.clone(),
                watcher_type: wire_type,
            })
        } else {
            Request::RemoveWatches(RemoveWatchesRequest {
                path: sp.clone(),
                watcher_type: wire_type,
            })
        };
        Ok((sp, Some(req)))
    }

    /// [`remove_watches`](Self::remove_watches), asynchronously.
    pub fn remove_watches_async(
        &self,
        path: &str,
        watcher: &SharedWatcher,
        wtype: WatcherType,
        local: bool,
        cb: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<()> {
        self.remove_async_impl(path, Some(watcher), wtype, local, cb)
    }

    /// [`remove_all_watches`](Self::remove_all_watches), asynchronously.
    pub fn remove_all_watches_async(
        &self,
        path: &str,
        wtype: WatcherType,
        local: bool,
        cb: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<()> {
        self.remove_async_impl(path, None, wtype, local, cb)
    }

    // ------------------------------------------------------------------ reconfig

    fn reconfig_request(
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        from_config: i64,
    ) -> Request {
        Request::Reconfig(ReconfigRequest {
            joining_servers: joining.map(str::to_string),
            leaving_servers: leaving.map(str::to_string),
            new_members: new_members.map(str::to_string),
            cur_config_id: from_config,
        })
    }

    /// Changes the ensemble's membership (dynamic reconfiguration, 3.5+ servers with
    /// `reconfigEnabled`; the session needs the right to do it). Incremental (`joining` /
    /// `leaving`, comma-separated server specs / ids) or bulk (`new_members`);
    /// `from_config` is the config version it applies to (`-1`: any). Returns the new
    /// configuration and the Stat of `/zookeeper/config`.
    pub fn reconfig(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        from_config: i64,
    ) -> Result<(Vec<u8>, Stat)> {
        let req = Self::reconfig_request(joining, leaving, new_members, from_config);
        self.sync_call(req, None, CONFIG_NODE, reconfig_conv)
    }

    /// [`reconfig`](Self::reconfig), asynchronously.
    pub fn reconfig_async(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        from_config: i64,
        cb: impl FnOnce(Result<(Vec<u8>, Stat)>) + Send + 'static,
    ) -> Result<()> {
        let req = Self::reconfig_request(joining, leaving, new_members, from_config);
        self.async_call(req, None, CONFIG_NODE, reconfig_conv, cb)
    }

    /// [`get_config_w`](Self::get_config_w), asynchronously.
    /// The closure's argument type is inferred (`|e| ...`); a [`SharedWatcher`] goes to
    /// [`get_config_w_shared_async`](Self::get_config_w_shared_async).
    pub fn get_config_w_async(
        &self,
        watcher: impl Fn(&WatchedEvent) + Send + Sync + 'static,
        cb: impl FnOnce(Result<(Vec<u8>, Stat)>) + Send + 'static,
    ) -> Result<()> {
        self.get_config_w_shared_async(&SharedWatcher::new(watcher), cb)
    }
}

/// After the server answered a removal (or was skipped): remove locally and tell the removed
/// watchers, in order with other events.
fn finish_remove(
    core: &crate::session::core::Core,
    server: Result<()>,
    local: bool,
    sp: &str,
    path: &str,
    watcher: Option<&SharedWatcher>,
    wtype: WatcherType,
) -> Result<()> {
    if let Some(w) = watcher {
        core.registry.lock().end_removal(sp, w);
    }
    match server {
        Ok(()) => {}
        Err(e) if local && (e.is_retryable() || matches!(e, Error::RequestTimeout)) => {}
        Err(e) => return Err(e),
    }
    let removed = core.registry.lock().remove(sp, wtype, watcher);
    for (w, ev) in removed {
        core.events.send(EventItem::Watch {
            event: WatchedEvent::new(ev, KeeperState::SyncConnected, Some(path.to_string())),
            watchers: vec![w],
        });
    }
    Ok(())
}

fn reconfig_conv(r: Response) -> Result<(Vec<u8>, Stat)> {
    match r {
        Response::Reconfig(d) => Ok((d.data.unwrap_or_default(), d.stat)),
        other => unexpected(other),
    }
}

fn first_error(results: Vec<OpResult>) -> Result<Vec<OpResult>> {
    if let Some(e) = results.iter().find_map(|r| r.error()) {
        return Err(e.clone());
    }
    Ok(results)
}

fn unexpected_req<T>(r: Request) -> Result<T> {
    Err(Error::InvalidArgument(format!(
        "cannot put {r:?} in a multi"
    )))
}

fn exists_conv(r: Response) -> Result<Stat> {
    match r {
        Response::Exists(e) => Ok(e.stat),
        other => unexpected(other),
    }
}

pub(super) fn get_data_conv(r: Response) -> Result<(Vec<u8>, Stat)> {
    match r {
        Response::GetData(d) => Ok((d.data.unwrap_or_default(), d.stat)),
        other => unexpected(other),
    }
}

fn set_data_conv(r: Response) -> Result<Stat> {
    match r {
        Response::SetData(s) => Ok(s.stat),
        other => unexpected(other),
    }
}

fn get_acl_conv(r: Response) -> Result<(Vec<Acl>, Stat)> {
    match r {
        Response::GetAcl(a) => Ok((a.acl, a.stat)),
        other => unexpected(other),
    }
}

fn set_acl_conv(r: Response) -> Result<Stat> {
    match r {
        Response::SetAcl(s) => Ok(s.stat),
        other => unexpected(other),
    }
}

pub(super) fn children_conv(r: Response) -> Result<(Vec<String>, Option<Stat>)> {
    match r {
        Response::GetChildren(c) => Ok((c.children, None)),
        Response::GetChildren2(c) => Ok((c.children, Some(c.stat))),
        other => unexpected(other),
    }
}

fn all_children_conv(r: Response) -> Result<i32> {
    match r {
        Response::GetAllChildrenNumber(n) => Ok(n.total_number),
        other => unexpected(other),
    }
}

fn who_am_i_conv(r: Response) -> Result<Vec<ClientInfo>> {
    match r {
        Response::WhoAmI(w) => Ok(w.client_info),
        other => unexpected(other),
    }
}
