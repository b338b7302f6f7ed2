//! Creating an item node, exactly once even when the connection drops mid-put.
//!
//! A sequential create whose reply is lost may or may not have happened; retrying it blindly
//! (what Curator does) can put the item twice. Before a retry, the queue's children created
//! since the first attempt are searched for the item: the newest first, stopping at the first
//! node whose creation zxid is not newer than the last zxid the session had seen before the
//! first attempt (no node of ours can be older). A node with the same name prefix and the same
//! bytes is taken as the earlier attempt's. Two limits, both only after a lost reply: a node
//! a consumer already took cannot be found, so that item is put again; and two producers
//! putting identical bytes with the same decoration in that window are taken for one.
//!
//! Background puts make their first attempt through the handle's asynchronous create, so that
//! puts pipeline; a retry (rare) runs this search synchronously on the framework's timer
//! thread.

use std::sync::{Arc, Mutex};

use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::framework::builders::Bg;
use crate::framework::{CuratorEvent, CuratorEventType, CuratorFramework};
use crate::path;
use crate::proto::{Acl, CreateMode};

/// One item node to create: `parent/base<SEQ>` holding `data` (handle-level paths).
pub(crate) struct ItemCreate {
    parent_full: String,
    base: String,
    full: String,
    data: Vec<u8>,
    acl: Vec<Acl>,
    /// The session's last zxid before the first attempt.
    floor: Mutex<Option<i64>>,
}

impl ItemCreate {
    /// `queue_path` (user form) and the node name prefix `base` (`queue-...`).
    pub(super) fn new(
        client: &CuratorFramework,
        queue_path: &str,
        base: &str,
        data: Vec<u8>,
    ) -> Result<Arc<ItemCreate>> {
        let parent_full = client.fix_path(queue_path, false)?;
        let full = client.fix_path(&path::make_path(queue_path, base), true)?;
        let acl = client.acl_for(&full);
        Ok(Arc::new(ItemCreate {
            parent_full,
            base: base.to_string(),
            full,
            data,
            acl,
            floor: Mutex::new(None),
        }))
    }

    /// The bytes of the create request (without its length prefix), as the packet limit
    /// counts them: header, path, data, ACL list, flags.
    pub(super) fn request_len(&self) -> usize {
        let acl: usize = self
            .acl
            .iter()
            .map(|a| 4 + 4 + a.id.scheme.len() + 4 + a.id.id.len())
            .sum();
        8 + 4 + self.full.len() + 4 + self.data.len() + 4 + acl + 4
    }

    /// The item node's data length.
    pub(super) fn data_len(&self) -> usize {
        self.data.len()
    }

    /// One attempt: after a failed attempt, first look for the node it may have made.
    fn attempt(&self, zk: &ZooKeeper, count: u32) -> Result<String> {
        if count > 0 {
            if let Some(found) = self.find_earlier(zk)? {
                return Ok(found);
            }
        }
        self.note_floor(zk);
        zk.create(
            &self.full,
            &self.data,
            &self.acl,
            CreateMode::PersistentSequential,
        )
    }

    fn note_floor(&self, zk: &ZooKeeper) {
        let mut f = self.floor.lock().unwrap_or_else(|p| p.into_inner());
        if f.is_none() {
            *f = Some(zk.last_zxid());
        }
    }

    /// The node an earlier attempt created, if any (see the module docs).
    fn find_earlier(&self, zk: &ZooKeeper) -> Result<Option<String>> {
        let floor = *self.floor.lock().unwrap_or_else(|p| p.into_inner());
        let Some(floor) = floor else {
            return Ok(None); // no attempt reached the handle
        };
        let children = match zk.get_children(&self.parent_full, false) {
            Ok(c) => c,
            Err(Error::NoNode { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut by_seq: Vec<(i32, String)> = children
            .into_iter()
            .filter_map(|c| path::sequence_number(&c).map(|n| (n, c)))
            .collect();
        by_seq.sort_unstable_by_key(|b| std::cmp::Reverse(b.0));
        for (_, name) in by_seq {
            let p = path::make_path(&self.parent_full, &name);
            match zk.get_data(&p, false) {
                Ok((data, stat)) => {
                    if stat.czxid <= floor {
                        return Ok(None);
                    }
                    let seq_len = path::sequence_suffix(&name).map_or(0, str::len);
                    if name.len() == self.base.len() + seq_len
                        && name.starts_with(&self.base)
                        && data == self.data
                    {
                        log::debug!("queue put: the lost reply's node is {p}");
                        return Ok(Some(p));
                    }
                }
                Err(Error::NoNode { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Creates the node in the caller's thread (retry loop included); returns its path
    /// (user form).
    pub(super) fn run(&self, client: &CuratorFramework) -> Result<String> {
        client
            .call(|zk, count| self.attempt(zk, count))
            .map(|p| client.unfix_path(&p))
    }

    /// Creates the node in the background; `done` gets the path (user form) or the final
    /// error, on the event thread. `Err(Closed)` (and `done` is not called) on a closed client.
    pub(super) fn run_background(
        self: &Arc<Self>,
        client: &CuratorFramework,
        done: impl FnOnce(Result<String>) + Send + 'static,
    ) -> Result<()> {
        let me = self.clone();
        let bg = Bg {
            callback: Some(Box::new(move |_c: &CuratorFramework, e: &CuratorEvent| {
                done(match e.error() {
                    Some(err) => Err(err.clone()),
                    None => Ok(e.name().unwrap_or_default().to_string()),
                })
            })),
            ..Bg::default()
        };
        let user_path = client.unfix_path(&self.full);
        client.run_background_inline(
            move |_c: &CuratorFramework, zk: &ZooKeeper, count: u32, d| {
                if count > 0 {
                    // Retries run on the timer thread already: search and create there.
                    return d.call(me.attempt(zk, count));
                }
                me.note_floor(zk);
                let d = Arc::new(Mutex::new(Some(d)));
                let d2 = d.clone();
                let r = zk.create_async(
                    &me.full,
                    &me.data,
                    &me.acl,
                    CreateMode::PersistentSequential,
                    move |r| {
                        if let Some(d) = d2.lock().unwrap_or_else(|p| p.into_inner()).take() {
                            d.call(r);
                        }
                    },
                );
                if let Err(e) = r {
                    if let Some(d) = d.lock().unwrap_or_else(|p| p.into_inner()).take() {
                        d.call(Err(e));
                    }
                }
            },
            move |c: &CuratorFramework, r: Result<String>| {
                let mut ev = CuratorEvent::new(CuratorEventType::Create, user_path);
                match r {
                    Ok(p) => ev.name = Some(c.unfix_path(&p)),
                    Err(e) => ev.error = Some(e),
                }
                ev
            },
            None,
            bg,
        )
    }
}
