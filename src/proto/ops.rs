//! Request and response bodies of the single-node operations (protocol.md §4.2, §4.3), the
//! watch-management records and the session records (auth, SASL, whoAmI).
//!
//! Field names follow `zookeeper.jute` in Rust case. Data buffers that the protocol allows to
//! be null are `Option<Vec<u8>>` so that a null travels through unchanged.

use super::codec::record;
use super::data::{Acl, Stat};

// ---------------------------------------------------------------- requests

record! {
    /// create / create2 / createContainer.
    CreateRequest (16) {
        /// Where to create the node (for sequential modes, the prefix of its name).
        path: String,
        /// The node's data; `None` is sent as a null buffer.
        data: Option<Vec<u8>>,
        /// The ACL of the new node.
        acl: Vec<Acl>,
        /// The [`CreateMode`](super::CreateMode) as its wire value.
        flags: i32,
    }
}

record! {
    /// createTTL.
    CreateTtlRequest (24) {
        /// Where to create the node.
        path: String,
        /// The node's data.
        data: Option<Vec<u8>>,
        /// The ACL of the new node.
        acl: Vec<Acl>,
        /// The [`CreateMode`](super::CreateMode): 5 or 6.
        flags: i32,
        /// Time to live in ms, `1..=2^40-1`.
        ttl: i64,
    }
}

record! {
    /// delete.
    DeleteRequest (8) {
        /// The node to delete.
        path: String,
        /// The expected data version, `-1` for any.
        version: i32,
    }
}

record! {
    /// exists.
    ExistsRequest (5) {
        /// The node.
        path: String,
        /// Set a watch (a data watch if the node exists, an exist watch otherwise).
        watch: bool,
    }
}

record! {
    /// getData.
    GetDataRequest (5) {
        /// The node.
        path: String,
        /// Set a data watch.
        watch: bool,
    }
}

record! {
    /// setData.
    SetDataRequest (12) {
        /// The node.
        path: String,
        /// The new data.
        data: Option<Vec<u8>>,
        /// The expected data version, `-1` for any.
        version: i32,
    }
}

record! {
    /// getACL.
    GetAclRequest (4) {
        /// The node.
        path: String,
    }
}

record! {
    /// setACL.
    SetAclRequest (12) {
        /// The node.
        path: String,
        /// The new ACL.
        acl: Vec<Acl>,
        /// The expected ACL version (`aversion`), `-1` for any.
        version: i32,
    }
}

record! {
    /// getChildren and getChildren2 (the same layout; the op code picks the reply).
    GetChildrenRequest (5) {
        /// The node.
        path: String,
        /// Set a child watch.
        watch: bool,
    }
}

/// getChildren2 has the same layout as getChildren.
pub type GetChildren2Request = GetChildrenRequest;

record! {
    /// check (only inside a multi).
    CheckVersionRequest (8) {
        /// The node.
        path: String,
        /// The expected data version.
        version: i32,
    }
}

record! {
    /// sync.
    SyncRequest (4) {
        /// The node whose path is synced (the server echoes it).
        path: String,
    }
}

record! {
    /// reconfig. Unused fields are sent as null strings.
    ReconfigRequest (20) {
        /// Servers joining (incremental reconfig).
        joining_servers: Option<String>,
        /// Servers leaving (incremental reconfig).
        leaving_servers: Option<String>,
        /// The new membership (bulk reconfig).
        new_members: Option<String>,
        /// The config version the change applies to, `-1` to skip the check.
        cur_config_id: i64,
    }
}

record! {
    /// checkWatches.
    CheckWatchesRequest (8) {
        /// The node.
        path: String,
        /// The [`WatcherType`](super::WatcherType) as its wire value.
        watcher_type: i32,
    }
}

record! {
    /// removeWatches.
    RemoveWatchesRequest (8) {
        /// The node.
        path: String,
        /// The [`WatcherType`](super::WatcherType) as its wire value.
        watcher_type: i32,
    }
}

record! {
    /// addWatch.
    AddWatchRequest (8) {
        /// The node (it need not exist).
        path: String,
        /// The [`AddWatchMode`](super::AddWatchMode) as its wire value.
        mode: i32,
    }
}

record! {
    /// getEphemerals.
    GetEphemeralsRequest (4) {
        /// A plain string prefix of the paths wanted; `/` or empty for all.
        prefix_path: String,
    }
}

record! {
    /// getAllChildrenNumber.
    GetAllChildrenNumberRequest (4) {
        /// The node.
        path: String,
    }
}

record! {
    /// auth (sent with xid -4).
    secret(auth) AuthPacket (12) {
        /// Always 0.
        auth_type: i32,
        /// The scheme, e.g. `digest`.
        scheme: String,
        /// The credentials, e.g. `user:password`.
        auth: Vec<u8>,
    }
}

record! {
    /// setWatches (101): re-register one-shot watches after a reconnect.
    SetWatches (20) {
        /// The client's last seen zxid; the server fires what changed after it.
        relative_zxid: i64,
        /// Paths with a data watch.
        data_watches: Vec<String>,
        /// Paths with an exist watch.
        exist_watches: Vec<String>,
        /// Paths with a child watch.
        child_watches: Vec<String>,
    }
}

record! {
    /// setWatches2 (105, 3.6+): SetWatches plus persistent watches.
    SetWatches2 (28) {
        /// The client's last seen zxid.
        relative_zxid: i64,
        /// Paths with a data watch.
        data_watches: Vec<String>,
        /// Paths with an exist watch.
        exist_watches: Vec<String>,
        /// Paths with a child watch.
        child_watches: Vec<String>,
        /// Paths with a persistent watch.
        persistent_watches: Vec<String>,
        /// Paths with a persistent-recursive watch.
        persistent_recursive_watches: Vec<String>,
    }
}

record! {
    /// sasl: one token of the SASL exchange.
    secret(token) GetSaslRequest (4) {
        /// The token.
        token: Vec<u8>,
    }
}

// ---------------------------------------------------------------- responses

record! {
    /// The reply to create.
    CreateResponse (4) {
        /// The created path, with the sequence suffix if any.
        path: String,
    }
}

record! {
    /// The reply to create2, createContainer and createTTL.
    Create2Response (72) {
        /// The created path.
        path: String,
        /// The new node's Stat.
        stat: Stat,
    }
}

record! {
    /// The reply to exists when the node exists.
    ExistsResponse (68) {
        /// The node's Stat.
        stat: Stat,
    }
}

record! {
    /// The reply to getData (and to reconfig / getConfig).
    GetDataResponse (72) {
        /// The data; `None` for a node created with a null buffer.
        data: Option<Vec<u8>>,
        /// The node's Stat.
        stat: Stat,
    }
}

record! {
    /// The reply to setData.
    SetDataResponse (68) {
        /// The node's new Stat.
        stat: Stat,
    }
}

record! {
    /// The reply to getACL.
    GetAclResponse (72) {
        /// The ACL.
        acl: Vec<Acl>,
        /// The node's Stat.
        stat: Stat,
    }
}

record! {
    /// The reply to setACL.
    SetAclResponse (68) {
        /// The node's new Stat.
        stat: Stat,
    }
}

record! {
    /// The reply to getChildren: names only, in no particular order.
    GetChildrenResponse (4) {
        /// Child names.
        children: Vec<String>,
    }
}

record! {
    /// The reply to getChildren2.
    GetChildren2Response (72) {
        /// Child names.
        children: Vec<String>,
        /// The parent's Stat.
        stat: Stat,
    }
}

record! {
    /// The reply to sync.
    SyncResponse (4) {
        /// The path synced, in server form.
        path: String,
    }
}

record! {
    /// The reply to getAllChildrenNumber.
    GetAllChildrenNumberResponse (4) {
        /// Number of descendants, the node itself excluded.
        total_number: i32,
    }
}

record! {
    /// The reply to getEphemerals.
    GetEphemeralsResponse (4) {
        /// Full server paths of the session's ephemeral nodes under the prefix.
        ephemerals: Vec<String>,
    }
}

record! {
    /// One identity of the session in a whoAmI reply.
    ClientInfo (8) {
        /// The scheme, e.g. `ip` or `digest`.
        auth_scheme: String,
        /// The user in that scheme, e.g. `127.0.0.1`.
        user: String,
    }
}

record! {
    /// The reply to whoAmI.
    WhoAmIResponse (4) {
        /// Every identity the session holds.
        client_info: Vec<ClientInfo>,
    }
}

record! {
    /// The reply to addWatch, and the body of a failed result inside a multi.
    ErrorResponse (4) {
        /// The error code (0 in an addWatch reply).
        err: i32,
    }
}

record! {
    /// The reply to sasl.
    secret(token) SetSaslResponse (4) {
        /// The server's token.
        token: Vec<u8>,
    }
}

record! {
    /// The body of a notification (xid -1).
    WatcherEvent (12) {
        /// The [`EventType`](super::EventType) as its wire value.
        event_type: i32,
        /// The [`KeeperState`](super::KeeperState) as its wire value.
        state: i32,
        /// The node, in server form (with the chroot).
        path: String,
    }
}
