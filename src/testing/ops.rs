//! Applying one client request to the shared state, with the server's checks in the server's
//! order (`PrepRequestProcessor` for writes, `FinalRequestProcessor` for reads), so that the
//! same request fails with the same code as on Apache ZooKeeper 3.8.0.
//!
//! Every write (create*, delete, setData, setACL, check, multi, reconfig, closeSession)
//! consumes a zxid even when it fails, as the server logs an error txn for it; reads never do.
//! Replies carry the last zxid. Notifications caused by a request are queued (by
//! `State::fire`) before the caller queues the reply.

use super::acl;
use super::shared::{wall_ms, State};
use super::tree::{Change, Owner};
use super::watches::{ConnId, Mode};
use crate::proto::{
    Acl, ClientInfo, Create2Response, CreateMode, CreateRequest, CreateResponse, ErrorCode,
    ErrorResponse, EventType, ExistsResponse, GetAclResponse, GetAllChildrenNumberResponse,
    GetChildren2Response, GetChildrenResponse, GetDataResponse, GetEphemeralsResponse, Id, Perms,
    Request, Response, SetAclResponse, SetDataResponse, Stat, SyncResponse, WhoAmIResponse,
};

mod multi;

// The codes this server answers with, from the crate's one table (`proto::ErrorCode`).
pub(crate) const OK: i32 = ErrorCode::Ok.code();
pub(crate) const RUNTIME_INCONSISTENCY: i32 = ErrorCode::RuntimeInconsistency.code();
pub(crate) const MARSHALLING: i32 = ErrorCode::MarshallingError.code();
pub(crate) const UNIMPLEMENTED: i32 = ErrorCode::Unimplemented.code();
pub(crate) const BAD_ARGUMENTS: i32 = ErrorCode::BadArguments.code();
pub(crate) const NO_NODE: i32 = ErrorCode::NoNode.code();
pub(crate) const BAD_VERSION: i32 = ErrorCode::BadVersion.code();
pub(crate) const NO_CHILDREN_FOR_EPHEMERALS: i32 = ErrorCode::NoChildrenForEphemerals.code();
pub(crate) const NODE_EXISTS: i32 = ErrorCode::NodeExists.code();
pub(crate) const NOT_EMPTY: i32 = ErrorCode::NotEmpty.code();
pub(crate) const AUTH_FAILED: i32 = ErrorCode::AuthFailed.code();
pub(crate) const NO_WATCHER: i32 = ErrorCode::NoWatcher.code();
pub(crate) const RECONFIG_DISABLED: i32 = ErrorCode::ReconfigDisabled.code();

/// The largest TTL the server accepts (40 bits).
const MAX_TTL: i64 = 0xFF_FFFF_FFFF;

/// What a connection knows about itself while a request is applied.
pub(crate) struct ConnCtx {
    pub conn: ConnId,
    pub session: i64,
    pub auth: Vec<Id>,
    pub extended_types: bool,
    pub super_digest: Option<String>,
    /// The SASL provider is registered (the server has `sasl_user`s): `sasl` ids are valid.
    pub sasl: bool,
}

/// The outcome of one request.
pub(crate) struct Reply {
    pub xid: i32,
    pub err: i32,
    pub body: Option<Response>,
    /// Close the connection once the reply is written.
    pub close: bool,
    /// Use this zxid in the header instead of the last processed one (auth replies carry 0).
    pub zxid_override: Option<i64>,
}

impl Reply {
    pub(super) fn ok(xid: i32, body: Response) -> Reply {
        Reply {
            xid,
            err: OK,
            body: Some(body),
            close: false,
            zxid_override: None,
        }
    }

    fn empty(xid: i32) -> Reply {
        Reply {
            xid,
            err: OK,
            body: None,
            close: false,
            zxid_override: None,
        }
    }

    pub(crate) fn err(xid: i32, err: i32) -> Reply {
        Reply {
            xid,
            err,
            body: None,
            close: false,
            zxid_override: None,
        }
    }

    fn from(xid: i32, r: Result<Response, i32>) -> Reply {
        match r {
            Ok(b) => Reply::ok(xid, b),
            Err(e) => Reply::err(xid, e),
        }
    }
}

/// The special paths no client may delete.
fn is_special(path: &str) -> bool {
    matches!(
        path,
        "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config"
    )
}

/// The server aliases `""` to the root.
pub(super) fn norm(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

fn valid(path: &str) -> Result<(), i32> {
    crate::path::validate_path(path, false).map_err(|_| BAD_ARGUMENTS)
}

fn check_version(current: i32, expected: i32) -> Result<(), i32> {
    if expected != -1 && expected != current {
        Err(BAD_VERSION)
    } else {
        Ok(())
    }
}

/// How a create is applied: which node kind, and how a multi reports it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum CreateOp {
    Create,
    Create2,
    Container,
    Ttl,
}

/// Applies one request. Ping, auth and the handshake are the caller's.
pub(crate) fn apply(st: &mut State, cx: &mut ConnCtx, xid: i32, req: Request) -> Reply {
    match req {
        Request::Create(r) => write(st, xid, |st, z, t, ch| {
            create(st, cx, CreateOp::Create, r, -1, z, t, ch)
                .map(|(path, _)| Response::Create(CreateResponse { path }))
        }),
        Request::Create2(r) => write(st, xid, |st, z, t, ch| {
            create(st, cx, CreateOp::Create2, r, -1, z, t, ch)
                .map(|(path, stat)| Response::Create2(Create2Response { path, stat }))
        }),
        Request::CreateContainer(r) => write(st, xid, |st, z, t, ch| {
            create(st, cx, CreateOp::Container, r, -1, z, t, ch)
                .map(|(path, stat)| Response::Create2(Create2Response { path, stat }))
        }),
        Request::CreateTtl(r) => {
            let (req, ttl) = split_ttl(r);
            write(st, xid, |st, z, t, ch| {
                create(st, cx, CreateOp::Ttl, req, ttl, z, t, ch)
                    .map(|(path, stat)| Response::Create2(Create2Response { path, stat }))
            })
        }
        Request::Delete(r) => write(st, xid, |st, z, _, ch| {
            delete(st, cx, &r.path, r.version, z, ch).map(|()| Response::Empty)
        }),
        Request::SetData(r) => write(st, xid, |st, z, t, ch| {
            set_data(st, cx, &r.path, r.data, r.version, z, t, ch)
                .map(|stat| Response::SetData(SetDataResponse { stat }))
        }),
        Request::SetAcl(r) => write(st, xid, |st, _, _, _| {
            valid(&r.path)?;
            let list = acl::fixup(&r.acl, &cx.auth, cx.sasl)?;
            let n = st.tree.get(&r.path).ok_or(NO_NODE)?;
            acl::check(&n.acl, Perms::ADMIN, &cx.auth)?;
            check_version(n.aversion, r.version)?;
            let stat = st.tree.set_acl(&r.path, list);
            Ok(Response::SetAcl(SetAclResponse { stat }))
        }),
        Request::Check(r) => write(st, xid, |st, _, _, _| {
            let stat = check(st, cx, &r.path, r.version)?;
            Ok(Response::SetData(SetDataResponse { stat }))
        }),
        Request::Multi(m) => multi::multi(st, cx, xid, m),
        Request::MultiRead(m) => multi::multi_read(st, cx, xid, m),
        Request::Reconfig(_) => {
            st.next_zxid();
            Reply::err(xid, RECONFIG_DISABLED)
        }
        Request::Exists(r) => {
            if r.path.contains('\0') {
                return Reply::err(xid, BAD_ARGUMENTS);
            }
            if r.watch {
                st.watches.data.add(&r.path, cx.conn, Mode::Standard);
            }
            Reply::from(
                xid,
                st.tree
                    .get(norm(&r.path))
                    .map(|n| Response::Exists(ExistsResponse { stat: n.stat() }))
                    .ok_or(NO_NODE),
            )
        }
        Request::GetData(r) => Reply::from(xid, get_data(st, cx, &r.path, r.watch)),
        Request::GetChildren(r) => Reply::from(
            xid,
            get_children(st, cx, &r.path, r.watch)
                .map(|(children, _)| Response::GetChildren(GetChildrenResponse { children })),
        ),
        Request::GetChildren2(r) => Reply::from(
            xid,
            get_children(st, cx, &r.path, r.watch).map(|(children, stat)| {
                Response::GetChildren2(GetChildren2Response { children, stat })
            }),
        ),
        Request::GetAcl(r) => Reply::from(xid, get_acl(st, cx, &r.path)),
        Request::GetAllChildrenNumber(r) => Reply::from(
            xid,
            (|| {
                let path = norm(&r.path);
                let n = st.tree.get(path).ok_or(NO_NODE)?;
                acl::check(&n.acl, Perms::READ, &cx.auth)?;
                Ok(Response::GetAllChildrenNumber(
                    GetAllChildrenNumberResponse {
                        total_number: st.tree.descendant_count(path) as i32,
                    },
                ))
            })(),
        ),
        Request::GetEphemerals(r) => {
            let all = st.tree.ephemerals_of(cx.session);
            let prefix = r.prefix_path.trim();
            let ephemerals = if prefix.is_empty() || prefix == "/" {
                all
            } else {
                all.into_iter()
                    .filter(|p| p.starts_with(&r.prefix_path))
                    .collect()
            };
            Reply::ok(
                xid,
                Response::GetEphemerals(GetEphemeralsResponse { ephemerals }),
            )
        }
        Request::Sync(r) => Reply::ok(xid, Response::Sync(SyncResponse { path: r.path })),
        Request::WhoAmI => {
            let client_info = acl::server_order(&cx.auth)
                .into_iter()
                .map(|id| ClientInfo {
                    auth_scheme: id.scheme.clone(),
                    user: match id.scheme.as_str() {
                        "ip" => id.id.clone(),
                        "digest" => id.id.split(':').next().unwrap_or("").to_string(),
                        "sasl" => id.id.clone(),
                        _ => String::new(),
                    },
                })
                .collect();
            Reply::ok(xid, Response::WhoAmI(WhoAmIResponse { client_info }))
        }
        Request::AddWatch(r) => match r.mode {
            0 | 1 => {
                st.watches.add_persistent(&r.path, cx.conn, r.mode == 1);
                Reply::ok(xid, Response::AddWatch(ErrorResponse { err: 0 }))
            }
            _ => Reply::err(xid, MARSHALLING),
        },
        Request::CheckWatches(r) => {
            let w = &st.watches;
            let found = match r.watcher_type {
                1 => w.child.contains_path(&r.path),
                2 => w.data.contains_path(&r.path),
                3 => w.child.contains_path(&r.path) || w.data.contains_path(&r.path),
                _ => return Reply::err(xid, MARSHALLING),
            };
            if found {
                Reply::empty(xid)
            } else {
                Reply::err(xid, NO_WATCHER)
            }
        }
        Request::RemoveWatches(r) => {
            let w = &mut st.watches;
            let removed = match r.watcher_type {
                1 => w.child.remove(&r.path, cx.conn),
                2 => w.data.remove(&r.path, cx.conn),
                3 => {
                    let c = w.child.remove(&r.path, cx.conn);
                    let d = w.data.remove(&r.path, cx.conn);
                    c || d
                }
                _ => return Reply::err(xid, MARSHALLING),
            };
            if removed {
                Reply::empty(xid)
            } else {
                Reply::err(xid, NO_WATCHER)
            }
        }
        Request::SetWatches(s) => {
            set_watches(
                st,
                cx.conn,
                s.relative_zxid,
                &s.data_watches,
                &s.exist_watches,
                &s.child_watches,
                &[],
                &[],
            );
            Reply::empty(xid)
        }
        Request::SetWatches2(s) => {
            set_watches(
                st,
                cx.conn,
                s.relative_zxid,
                &s.data_watches,
                &s.exist_watches,
                &s.child_watches,
                &s.persistent_watches,
                &s.persistent_recursive_watches,
            );
            Reply::empty(xid)
        }
        Request::Auth(a) => auth(cx, xid, &a.scheme, &a.auth),
        Request::CloseSession => {
            st.close_session(cx.session);
            let mut r = Reply::empty(xid);
            r.close = true;
            r
        }
        Request::Ping => Reply::empty(xid),
        // The connection layer answers SASL itself; this arm is never reached.
        Request::Sasl(_) => {
            let mut r = Reply::err(xid, UNIMPLEMENTED);
            r.close = true;
            r
        }
    }
}

/// Runs a write as one txn: takes a zxid whether it succeeds or not, fires its changes.
fn write(
    st: &mut State,
    xid: i32,
    f: impl FnOnce(&mut State, i64, i64, &mut Vec<Change>) -> Result<Response, i32>,
) -> Reply {
    let zxid = st.next_zxid();
    let mut changes = Vec::new();
    let r = f(st, zxid, wall_ms(), &mut changes);
    st.fire(&changes);
    Reply::from(xid, r)
}

pub(super) fn split_ttl(r: crate::proto::CreateTtlRequest) -> (CreateRequest, i64) {
    (
        CreateRequest {
            path: r.path,
            data: r.data,
            acl: r.acl,
            flags: r.flags,
        },
        r.ttl,
    )
}

/// `pRequest2TxnCreate` plus `DataTree.createNode`.
#[allow(clippy::too_many_arguments)]
pub(super) fn create(
    st: &mut State,
    cx: &ConnCtx,
    op: CreateOp,
    r: CreateRequest,
    ttl: i64,
    zxid: i64,
    time: i64,
    changes: &mut Vec<Change>,
) -> Result<(String, Stat), i32> {
    let mode = CreateMode::try_from(r.flags).map_err(|_| BAD_ARGUMENTS)?;
    if mode.is_ttl() && !cx.extended_types {
        return Err(UNIMPLEMENTED);
    }
    if mode.is_ttl() {
        if ttl <= 0 || ttl > MAX_TTL {
            return Err(BAD_ARGUMENTS);
        }
    } else if ttl >= 0 {
        return Err(BAD_ARGUMENTS);
    }
    let Some(slash) = r.path.rfind('/') else {
        return Err(BAD_ARGUMENTS);
    };
    if r.path.contains('\0') {
        return Err(BAD_ARGUMENTS);
    }
    let parent_path = norm(&r.path[..slash]).to_string();
    let list = acl::fixup(&r.acl, &cx.auth, cx.sasl)?;
    let parent = st.tree.get(&parent_path).ok_or(NO_NODE)?;
    acl::check(&parent.acl, Perms::CREATE, &cx.auth)?;
    let mut path = r.path;
    if mode.is_sequential() {
        // `String.format("%010d", cversion)`: zero padded to 10, the sign counts.
        path.push_str(&format!("{:010}", parent.cversion));
    }
    valid(&path)?;
    if st.tree.get(&path).is_some() {
        return Err(NODE_EXISTS);
    }
    if matches!(parent.owner, Owner::Ephemeral(_)) {
        return Err(NO_CHILDREN_FOR_EPHEMERALS);
    }
    let owner = match op {
        CreateOp::Container => Owner::Container,
        CreateOp::Ttl if mode.is_ttl() => Owner::Ttl(ttl),
        _ if mode.is_ephemeral() => Owner::Ephemeral(cx.session),
        _ => Owner::Persistent,
    };
    let (stat, change) = st.tree.create(&path, r.data, list, owner, zxid, time);
    changes.push(change);
    Ok((path, stat))
}

pub(super) fn delete(
    st: &mut State,
    cx: &ConnCtx,
    path: &str,
    version: i32,
    zxid: i64,
    changes: &mut Vec<Change>,
) -> Result<(), i32> {
    let Some(slash) = path.rfind('/') else {
        return Err(BAD_ARGUMENTS);
    };
    if path.contains('\0') || is_special(path) {
        return Err(BAD_ARGUMENTS);
    }
    let parent = st.tree.get(norm(&path[..slash])).ok_or(NO_NODE)?;
    acl::check(&parent.acl, Perms::DELETE, &cx.auth)?;
    let node = st.tree.get(path).ok_or(NO_NODE)?;
    check_version(node.version, version)?;
    if !node.children.is_empty() {
        return Err(NOT_EMPTY);
    }
    changes.push(st.tree.delete(path, zxid));
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(super) fn set_data(
    st: &mut State,
    cx: &ConnCtx,
    path: &str,
    data: Option<Vec<u8>>,
    version: i32,
    zxid: i64,
    time: i64,
    changes: &mut Vec<Change>,
) -> Result<Stat, i32> {
    valid(path)?;
    let n = st.tree.get(path).ok_or(NO_NODE)?;
    acl::check(&n.acl, Perms::WRITE, &cx.auth)?;
    check_version(n.version, version)?;
    let (stat, change) = st.tree.set_data(path, data, zxid, time);
    changes.push(change);
    Ok(stat)
}

pub(super) fn check(st: &State, cx: &ConnCtx, path: &str, version: i32) -> Result<Stat, i32> {
    valid(path)?;
    let n = st.tree.get(path).ok_or(NO_NODE)?;
    acl::check(&n.acl, Perms::READ, &cx.auth)?;
    check_version(n.version, version)?;
    Ok(n.stat())
}

fn get_data(st: &mut State, cx: &ConnCtx, path: &str, watch: bool) -> Result<Response, i32> {
    let n = st.tree.get(norm(path)).ok_or(NO_NODE)?;
    acl::check(&n.acl, Perms::READ, &cx.auth)?;
    let resp = Response::GetData(GetDataResponse {
        data: n.data.clone(),
        stat: n.stat(),
    });
    if watch {
        st.watches.data.add(path, cx.conn, Mode::Standard);
    }
    Ok(resp)
}

fn get_children(
    st: &mut State,
    cx: &ConnCtx,
    path: &str,
    watch: bool,
) -> Result<(Vec<String>, Stat), i32> {
    let n = st.tree.get(norm(path)).ok_or(NO_NODE)?;
    acl::check(&n.acl, Perms::READ, &cx.auth)?;
    let out = (n.children.iter().cloned().collect(), n.stat());
    if watch {
        st.watches.child.add(path, cx.conn, Mode::Standard);
    }
    Ok(out)
}

fn get_acl(st: &State, cx: &ConnCtx, path: &str) -> Result<Response, i32> {
    let n = st.tree.get(norm(path)).ok_or(NO_NODE)?;
    acl::check(&n.acl, Perms::READ | Perms::ADMIN, &cx.auth)?;
    let list: Vec<Acl> = if acl::check(&n.acl, Perms::ADMIN, &cx.auth).is_ok() {
        n.acl.as_ref().clone()
    } else {
        acl::mask_digests(&n.acl)
    };
    Ok(Response::GetAcl(GetAclResponse {
        acl: list,
        stat: n.stat(),
    }))
}

/// An auth packet: `digest` and `ip` are the registered providers; anything else fails.
fn auth(cx: &mut ConnCtx, xid: i32, scheme: &str, data: &[u8]) -> Reply {
    let add = |id: Id, auth: &mut Vec<Id>| {
        if !auth.contains(&id) {
            auth.push(id);
        }
    };
    let mut r = Reply::empty(xid);
    r.zxid_override = Some(0);
    match scheme {
        "digest" => {
            let creds = String::from_utf8_lossy(data);
            let id = crate::auth::digest::digest_id(&creds);
            if cx.super_digest.as_deref() == Some(id.as_str()) {
                add(Id::new("super", ""), &mut cx.auth);
            }
            add(Id::new("digest", id), &mut cx.auth);
        }
        "ip" => {
            if let Some(ip) = cx.auth.iter().find(|i| i.scheme == "ip").cloned() {
                add(ip, &mut cx.auth);
            }
        }
        _ => {
            r.err = AUTH_FAILED;
            r.close = true;
        }
    }
    r
}

#[allow(clippy::too_many_arguments)]
fn set_watches(
    st: &mut State,
    conn: ConnId,
    rel: i64,
    data: &[String],
    exist: &[String],
    child: &[String],
    persistent: &[String],
    recursive: &[String],
) {
    let mut fired = Vec::new();
    for p in data {
        match st.tree.get(norm(p)) {
            None => fired.push((conn, EventType::NodeDeleted, p.clone(), None)),
            Some(n) if n.mzxid > rel => {
                fired.push((conn, EventType::NodeDataChanged, p.clone(), None))
            }
            Some(_) => st.watches.data.add(p, conn, Mode::Standard),
        }
    }
    for p in exist {
        if st.tree.get(norm(p)).is_some() {
            fired.push((conn, EventType::NodeCreated, p.clone(), None));
        } else {
            st.watches.data.add(p, conn, Mode::Standard);
        }
    }
    for p in child {
        match st.tree.get(norm(p)) {
            None => fired.push((conn, EventType::NodeDeleted, p.clone(), None)),
            Some(n) if n.pzxid > rel => {
                fired.push((conn, EventType::NodeChildrenChanged, p.clone(), None))
            }
            Some(_) => st.watches.child.add(p, conn, Mode::Standard),
        }
    }
    for p in persistent {
        st.watches.child.add(p, conn, Mode::Persistent);
        st.watches.data.add(p, conn, Mode::Persistent);
    }
    // SetWatches2 puts recursive watches in both tables (unlike addWatch); the child table
    // never fires them for NodeChildrenChanged, and deletes de-duplicate.
    for p in recursive {
        st.watches.child.add(p, conn, Mode::Recursive);
        st.watches.data.add(p, conn, Mode::Recursive);
    }
    st.deliver(&fired);
}
