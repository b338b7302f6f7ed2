//! Protected mode (Curator's `ProtectedUtils`) and the guaranteed-delete manager.
//!
//! A protected create names its node `_c_<uuid>-<name>`, exactly as Curator writes it, so
//! that after a connection loss the client can find the node it may already have created
//! (by listing the parent) instead of creating a second one; Java clients recognise and
//! ignore the prefix the same way. A guaranteed delete that fails keeps being retried in the
//! background, across reconnects, until it succeeds or the node is gone.

use std::time::Duration;

use super::CuratorFramework;
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::path;

/// The prefix of protected node names.
pub const PROTECTED_PREFIX: &str = "_c_";

/// Length of `_c_` + a 36-character UUID + `-`.
pub const PROTECTED_PREFIX_WITH_UUID_LEN: usize = 40;

/// A fresh protection id: a random (version 4) UUID in lower-case hex, as Java's
/// `UUID.randomUUID().toString()` prints it.
pub fn new_protected_id() -> String {
    let a = crate::random::seed().to_be_bytes();
    let b = crate::random::seed().rotate_left(17).to_be_bytes();
    let mut u = [0u8; 16];
    u[..8].copy_from_slice(&a);
    u[8..].copy_from_slice(&b);
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    let hex: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `_c_<id>-<node>`.
pub fn protected_name(node: &str, id: &str) -> String {
    format!("{PROTECTED_PREFIX}{id}-{node}")
}

/// `full` with its last segment given protection id `id` (the parent is unchanged). A
/// sequential path ending in `/` has an empty last segment, which stays empty after the
/// prefix: `/q/` becomes `/q/_c_<id>-`, and the server appends the sequence number.
pub(crate) fn protected_path(full: &str, id: &str) -> String {
    let (parent, node) = path::split_parent(full);
    path::make_path(parent, &protected_name(node, id))
}

/// True if `name` (a node name, not a path) carries a protection prefix.
pub fn is_protected_znode(name: &str) -> bool {
    extract_protected_id(name).is_some()
}

/// The UUID of a protected name.
pub fn extract_protected_id(name: &str) -> Option<&str> {
    if name.len() <= PROTECTED_PREFIX_WITH_UUID_LEN
        || !name.starts_with(PROTECTED_PREFIX)
        || name.as_bytes().get(39) != Some(&b'-')
    {
        return None;
    }
    let id = name.get(3..39)?;
    is_uuid(id).then_some(id)
}

/// The name without its protection prefix (unchanged if it has none).
pub fn normalize(name: &str) -> &str {
    if is_protected_znode(name) {
        &name[PROTECTED_PREFIX_WITH_UUID_LEN..]
    } else {
        name
    }
}

/// A path whose last segment has its protection prefix removed.
pub fn normalize_path(p: &str) -> String {
    let (parent, node) = path::split_parent(p);
    path::make_path(parent, normalize(node))
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The child of `children` created with protection id `id`.
pub(crate) fn find_node<'a>(children: &'a [String], id: &str) -> Option<&'a String> {
    let prefix = format!("{PROTECTED_PREFIX}{id}-");
    children.iter().find(|c| c.starts_with(&prefix))
}

/// Looks for the node a protected create may already have made under `parent`.
pub(crate) fn find_protected(zk: &ZooKeeper, parent: &str, id: &str) -> Result<Option<String>> {
    match zk.get_children(parent, false) {
        Ok(children) => Ok(find_node(&children, id).map(|c| path::make_path(parent, c))),
        Err(Error::NoNode { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// After a protected create gave up: find the node it may have made and delete it,
/// retrying in the background for as long as the client runs.
pub(crate) fn find_and_delete_protected(client: &CuratorFramework, parent: String, id: String) {
    let c = client.clone();
    let job = move || {
        let found = c
            .inner
            .handle()
            .and_then(|zk| find_protected(&zk, &parent, &id));
        match found {
            Ok(Some(p)) => guaranteed_delete(&c, p),
            Ok(None) => {}
            Err(e) if e.is_retryable() => {
                find_and_delete_protected(&c, parent.clone(), id.clone());
            }
            Err(e) => c
                .inner
                .report_unhandled("finding a protected node to delete", &e),
        }
    };
    if client.inner.lifecycle() == super::CuratorFrameworkState::Started {
        client
            .inner
            .scheduler
            .schedule(Duration::from_millis(100), job);
    }
}

/// Deletes `full_path` (handle-level) in the background until it succeeds or the node is
/// gone, for as long as the client runs (Curator's FailedDeleteManager). Deduplicated.
pub(crate) fn guaranteed_delete(client: &CuratorFramework, full_path: String) {
    if !client.inner.failed_deletes.lock().insert(full_path.clone()) {
        return;
    }
    schedule_delete(client.clone(), full_path, Duration::ZERO, 0);
}

fn schedule_delete(c: CuratorFramework, p: String, delay: Duration, tries: u32) {
    if c.inner.lifecycle() != super::CuratorFrameworkState::Started {
        return;
    }
    let inner = c.inner.clone();
    inner.scheduler.schedule(delay, move || {
        let r = c.inner.handle().and_then(|zk| zk.delete(&p, -1));
        match r {
            Ok(()) | Err(Error::NoNode { .. }) => {
                c.inner.failed_deletes.lock().remove(&p);
            }
            Err(e) if e.is_retryable() || matches!(e, Error::RequestTimeout) => {
                log::debug!("guaranteed delete of {p} failed ({e}); retrying");
                let next = Duration::from_millis(100 * 2u64.pow(tries.min(4)));
                schedule_delete(c.clone(), p.clone(), next, tries + 1);
            }
            Err(e) => {
                c.inner.failed_deletes.lock().remove(&p);
                c.inner
                    .report_unhandled(&format!("guaranteed delete of {p} gave up"), &e);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_path_keeps_the_parent_and_an_empty_sequential_name() {
        let id = "00000000-0000-4000-8000-000000000000";
        assert_eq!(protected_path("/q/", id), format!("/q/_c_{id}-"));
        assert_eq!(protected_path("/q/a-", id), format!("/q/_c_{id}-a-"));
        assert_eq!(protected_path("/a", id), format!("/_c_{id}-a"));
    }

    #[test]
    fn uuids_and_names() {
        let id = new_protected_id();
        assert_eq!(id.len(), 36);
        assert!(is_uuid(&id));
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(id, new_protected_id());
        let n = protected_name("lock-", &id) + "0000000003";
        assert!(is_protected_znode(&n));
        assert_eq!(extract_protected_id(&n), Some(id.as_str()));
        assert_eq!(normalize(&n), "lock-0000000003");
        assert_eq!(normalize("lock-0000000003"), "lock-0000000003");
        assert!(!is_protected_znode("_c_notauuid-lock"));
        let java = "_c_1ad97b25-8b3d-4bfa-8e81-8274cd913614-node-0000000000";
        assert!(is_protected_znode(java));
        assert_eq!(
            normalize_path(&format!("/prot/{java}")),
            "/prot/node-0000000000"
        );
        let kids = vec!["x".to_string(), java.to_string()];
        assert_eq!(
            find_node(&kids, "1ad97b25-8b3d-4bfa-8e81-8274cd913614"),
            Some(&kids[1])
        );
    }
}
