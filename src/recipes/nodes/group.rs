//! [`GroupMember`]: membership of a group, as Curator's `GroupMember`: this member is an
//! ephemeral `<group>/<id>` node (a [`PersistentNode`], so it survives session losses), and a
//! cache of the group's direct children lists everyone, Java members included.

use std::collections::HashMap;
use std::time::Duration;

use super::PersistentNode;
use crate::error::{Error, Result};
use crate::framework::CuratorFramework;
use crate::path;
use crate::proto::CreateMode;
use crate::recipes::cache::{CuratorCache, CuratorCacheBridge};

/// A member of a group (Curator's `GroupMember`).
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::nodes::GroupMember;
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let me = GroupMember::new_with_payload(&client, "/cluster/members", "node-a", b"10.0.0.1")?;
/// me.start()?;
/// let members = me.current_members();
/// assert_eq!(members.get("node-a").map(Vec::as_slice), Some(&b"10.0.0.1"[..]));
/// me.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct GroupMember {
    membership_path: String,
    this_id: String,
    node: PersistentNode,
    cache: CuratorCacheBridge,
}

impl GroupMember {
    /// Member `this_id` of the group at `membership_path`, with the client's default data as
    /// its payload.
    pub fn new(
        client: &CuratorFramework,
        membership_path: &str,
        this_id: &str,
    ) -> Result<GroupMember> {
        GroupMember::new_with_payload(client, membership_path, this_id, client.default_data())
    }

    /// Member `this_id` of the group at `membership_path` with `payload` as its data.
    pub fn new_with_payload(
        client: &CuratorFramework,
        membership_path: &str,
        this_id: &str,
        payload: &[u8],
    ) -> Result<GroupMember> {
        path::validate_path(membership_path, false)?;
        if this_id.is_empty() || this_id.contains('/') {
            return Err(Error::invalid_path(
                this_id,
                "a member id is one node name: not empty, no '/'",
            ));
        }
        let node_path = path::make_path(membership_path, this_id);
        let node = PersistentNode::new(client, CreateMode::Ephemeral, false, &node_path, payload)?;
        let cache = CuratorCache::bridge_builder(client, membership_path).build();
        Ok(GroupMember {
            membership_path: membership_path.to_string(),
            this_id: this_id.to_string(),
            node,
            cache,
        })
    }

    /// Joins the group (in the background) and starts following it.
    pub fn start(&self) -> Result<()> {
        self.node.start()?;
        self.cache.start()
    }

    /// Waits until this member's node has been created once.
    pub fn wait_for_initial_create(&self, timeout: Duration) -> Result<bool> {
        self.node.wait_for_initial_create(timeout)
    }

    /// Changes this member's payload.
    pub fn set_this_data(&self, data: &[u8]) -> Result<()> {
        self.node.set_data(data)
    }

    /// Every member as last seen, by id, with its payload; always includes this member
    /// (with the payload it should have).
    pub fn current_members(&self) -> HashMap<String, Vec<u8>> {
        let mut members: HashMap<String, Vec<u8>> = self
            .cache
            .stream()
            .into_iter()
            .filter(|d| path::parent(d.path()) == Some(self.membership_path.as_str()))
            .map(|d| {
                (
                    self.id_from_path(d.path()),
                    d.data().map(<[u8]>::to_vec).unwrap_or_default(),
                )
            })
            .collect();
        members.insert(self.this_id.clone(), self.node.data());
        members
    }

    /// The member id of a member node's path (its last segment).
    pub fn id_from_path(&self, p: &str) -> String {
        path::node_name(p).to_string()
    }

    /// This member's id.
    pub fn id(&self) -> &str {
        &self.this_id
    }

    /// Leaves the group (deletes this member's node) and stops following it.
    pub fn close(&self) {
        self.cache.close();
        self.node.close();
    }
}

impl std::fmt::Debug for GroupMember {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupMember")
            .field("group", &self.membership_path)
            .field("id", &self.this_id)
            .finish()
    }
}
