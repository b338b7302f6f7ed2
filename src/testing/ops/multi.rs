//! multi (op 14) and multiRead (op 22): a multi applies its ops one by one on the tree with
//! an undo log, all under one zxid, and rolls everything back at the first failure
//! (`PrepRequestProcessor` checks them against pending changes, which gives the same answers);
//! multiRead answers each read on its own.

use super::{
    check, create, delete, norm, set_data, split_ttl, ConnCtx, CreateOp, Reply, MARSHALLING,
    NO_NODE, OK, RUNTIME_INCONSISTENCY,
};
use crate::proto::{
    Create2Response, CreateMode, CreateResponse, GetChildrenResponse, GetDataResponse, MultiOp,
    MultiRequest, MultiResponse, MultiResult, Perms, Response, SetDataResponse,
};
use crate::testing::acl;
use crate::testing::shared::{wall_ms, State};
use crate::testing::tree::Change;

/// multi (14): atomic; all ops share one zxid; on failure every result is an error (0 before
/// the failing op, its code at it, -2 after) and the header says 0.
pub(super) fn multi(st: &mut State, cx: &ConnCtx, xid: i32, m: MultiRequest) -> Reply {
    let zxid = st.next_zxid();
    if m.ops.iter().any(|op| op.is_read()) {
        // 3.8 refuses to decode reads inside a write multi.
        return Reply::err(xid, MARSHALLING);
    }
    let total = m.ops.len();
    let time = wall_ms();
    let mut changes = Vec::new();
    let mut results = Vec::with_capacity(total);
    let mut failed: Option<(usize, i32)> = None;
    st.tree.begin();
    for (i, op) in m.ops.into_iter().enumerate() {
        match multi_op(st, cx, op, zxid, time, &mut changes) {
            Ok(res) => results.push(res),
            Err(code) => {
                failed = Some((i, code));
                break;
            }
        }
    }
    let results = match failed {
        None => {
            st.tree.commit();
            st.fire(&changes);
            results
        }
        Some((at, code)) => {
            st.tree.rollback();
            (0..total)
                .map(|j| {
                    MultiResult::Error(match j.cmp(&at) {
                        std::cmp::Ordering::Less => OK,
                        std::cmp::Ordering::Equal => code,
                        std::cmp::Ordering::Greater => RUNTIME_INCONSISTENCY,
                    })
                })
                .collect()
        }
    };
    Reply::ok(xid, Response::Multi(MultiResponse { results }))
}

/// One op of a multi. As in 3.8.0, the op code of a create inside a multi is derived from its
/// flags (`Op.create`): a container for flags 4, TTL for 5/6 (only via createTTL), a plain
/// create otherwise, and only container and TTL creates report a Stat (type 15); create2 is
/// answered as create (type 1), which 3.8.2 changed.
fn multi_op(
    st: &mut State,
    cx: &ConnCtx,
    op: MultiOp,
    zxid: i64,
    time: i64,
    changes: &mut Vec<Change>,
) -> Result<MultiResult, i32> {
    match op {
        MultiOp::Create { req, .. } => {
            if req.flags == CreateMode::Container.code() {
                create(st, cx, CreateOp::Container, req, -1, zxid, time, changes)
                    .map(|(path, stat)| MultiResult::Create2(Create2Response { path, stat }))
            } else if matches!(
                CreateMode::try_from(req.flags),
                Ok(m) if m.is_ttl()
            ) {
                // 3.8.0 fails the whole request here (a class cast); a bad-arguments result
                // is the closest per-op answer.
                Err(super::BAD_ARGUMENTS)
            } else {
                create(st, cx, CreateOp::Create, req, -1, zxid, time, changes)
                    .map(|(path, _)| MultiResult::Create(CreateResponse { path }))
            }
        }
        MultiOp::CreateTtl(r) => {
            let ttl_mode = matches!(CreateMode::try_from(r.flags), Ok(m) if m.is_ttl());
            let container = r.flags == CreateMode::Container.code();
            let (req, ttl) = split_ttl(r);
            if ttl_mode {
                create(st, cx, CreateOp::Ttl, req, ttl, zxid, time, changes)
                    .map(|(path, stat)| MultiResult::Create2(Create2Response { path, stat }))
            } else if container {
                create(st, cx, CreateOp::Container, req, -1, zxid, time, changes)
                    .map(|(path, stat)| MultiResult::Create2(Create2Response { path, stat }))
            } else {
                create(st, cx, CreateOp::Create, req, -1, zxid, time, changes)
                    .map(|(path, _)| MultiResult::Create(CreateResponse { path }))
            }
        }
        MultiOp::Delete(r) => {
            delete(st, cx, &r.path, r.version, zxid, changes).map(|()| MultiResult::Delete)
        }
        MultiOp::SetData(r) => set_data(st, cx, &r.path, r.data, r.version, zxid, time, changes)
            .map(|stat| MultiResult::SetData(SetDataResponse { stat })),
        MultiOp::Check(r) => check(st, cx, &r.path, r.version).map(|_| MultiResult::Check),
        MultiOp::GetChildren(_) | MultiOp::GetData(_) => Err(MARSHALLING),
    }
}

/// multiRead (22): each read independently; watches are never set.
pub(super) fn multi_read(st: &mut State, cx: &ConnCtx, xid: i32, m: MultiRequest) -> Reply {
    if m.ops.iter().any(|op| !op.is_read()) {
        return Reply::err(xid, MARSHALLING);
    }
    let results = m
        .ops
        .into_iter()
        .map(|op| {
            let r = match op {
                MultiOp::GetData(r) => st.tree.get(norm(&r.path)).ok_or(NO_NODE).and_then(|n| {
                    acl::check(&n.acl, Perms::READ, &cx.auth)?;
                    Ok(MultiResult::GetData(GetDataResponse {
                        data: n.data.clone(),
                        stat: n.stat(),
                    }))
                }),
                MultiOp::GetChildren(r) => {
                    st.tree.get(norm(&r.path)).ok_or(NO_NODE).and_then(|n| {
                        acl::check(&n.acl, Perms::READ, &cx.auth)?;
                        Ok(MultiResult::GetChildren(GetChildrenResponse {
                            children: n.children.iter().cloned().collect(),
                        }))
                    })
                }
                _ => Err(MARSHALLING),
            };
            r.unwrap_or_else(MultiResult::Error)
        })
        .collect();
    Reply::ok(xid, Response::Multi(MultiResponse { results }))
}
