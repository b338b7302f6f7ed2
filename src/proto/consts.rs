//! The numbers of the protocol as Rust enums: op codes, error codes, watcher event types and
//! keeper states, create modes, watcher types, add-watch modes, permission bits and the
//! special xids.
//!
//! Each enum converts from the wire `i32` with `TryFrom`, which rejects unknown values with
//! [`Error::Protocol`](crate::Error) instead of panicking, and back with `as i32` or
//! [`code`](OpCode::code).

use std::fmt;

use crate::error::codes::wire_enum;
#[cfg(test)]
use crate::error::Error;

pub use crate::error::codes::{ErrorCode, OpCode};

wire_enum! {
    /// The type of a watched event (`Watcher.Event.EventType`).
    EventType {
        /// A connection state change (client-local).
        None = -1,
        /// The node was created.
        NodeCreated = 1,
        /// The node was deleted.
        NodeDeleted = 2,
        /// The node's data changed.
        NodeDataChanged = 3,
        /// The node's children changed (one was created or deleted).
        NodeChildrenChanged = 4,
        /// A data watch was removed (client-local, 3.5+).
        DataWatchRemoved = 5,
        /// A child watch was removed (client-local, 3.5+).
        ChildWatchRemoved = 6,
        /// A persistent watch was removed (client-local, 3.6+).
        PersistentWatchRemoved = 7,
    }
}

wire_enum! {
    /// The connection state carried by a watched event (`Watcher.Event.KeeperState`).
    KeeperState {
        /// Deprecated, unused.
        Unknown = -1,
        /// The connection to the server was lost (client-local).
        Disconnected = 0,
        /// Deprecated, unused.
        NoSyncConnected = 1,
        /// Connected; also the state of every server-sent notification.
        SyncConnected = 3,
        /// Authentication failed (client-local).
        AuthFailed = 4,
        /// Connected to a read-only server (client-local).
        ConnectedReadOnly = 5,
        /// SASL authentication succeeded (client-local).
        SaslAuthenticated = 6,
        /// The session expired (client-local); the handle is dead.
        Expired = -112,
        /// The client closed itself (client-local, 3.5+).
        Closed = 7,
    }
}

wire_enum! {
    /// How a node is created: the `flags` of a create request (`CreateMode`).
    CreateMode {
        /// A plain persistent node.
        Persistent = 0,
        /// Removed when the creating session ends.
        Ephemeral = 1,
        /// Persistent, with a 10-digit sequence number appended to the name.
        PersistentSequential = 2,
        /// Ephemeral and sequential.
        EphemeralSequential = 3,
        /// Removed by the server once its last child is gone (3.5.1+).
        Container = 4,
        /// Persistent; removed when it has no children and was not modified for the TTL
        /// (3.5.3+, needs `extendedTypesEnabled`).
        PersistentWithTtl = 5,
        /// Sequential and TTL.
        PersistentSequentialWithTtl = 6,
    }
}

// The enum is declared by `wire_enum!`, which derives nothing optional.
#[allow(clippy::derivable_impls)]
impl Default for CreateMode {
    fn default() -> Self {
        CreateMode::Persistent
    }
}

impl CreateMode {
    /// The node goes away with its session.
    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    /// The server appends a sequence number to the name.
    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// A container node.
    pub fn is_container(self) -> bool {
        self == CreateMode::Container
    }

    /// A TTL mode (needs a TTL and `createTTL`).
    pub fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

wire_enum! {
    /// Which watches checkWatches/removeWatches address (`Watcher.WatcherType`).
    WatcherType {
        /// Child watches.
        Children = 1,
        /// Data and exist watches.
        Data = 2,
        /// Any kind.
        Any = 3,
        /// Persistent watches (3.9+ servers).
        Persistent = 4,
        /// Persistent-recursive watches (3.9+ servers).
        PersistentRecursive = 5,
    }
}

wire_enum! {
    /// The `mode` of an addWatch request (`AddWatchMode`).
    AddWatchMode {
        /// Fires for changes of the node and of its children list; never removed by firing.
        Persistent = 0,
        /// Fires for the node and every descendant (no child events); never removed by firing.
        PersistentRecursive = 1,
    }
}

wire_enum! {
    /// One permission bit of an ACL (`ZooDefs.Perms`).
    Perm {
        /// Read data and list children.
        Read = 1,
        /// Set data.
        Write = 2,
        /// Create children.
        Create = 4,
        /// Delete children.
        Delete = 8,
        /// Set the ACL.
        Admin = 16,
    }
}

/// A set of [`Perm`] bits as carried by an ACL.
///
/// The wire value is kept as sent, unknown bits included, so an ACL read from a server can be
/// written back unchanged.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Perms(pub i32);

impl Perms {
    /// No permission.
    pub const NONE: Perms = Perms(0);
    /// [`Perm::Read`].
    pub const READ: Perms = Perms(1);
    /// [`Perm::Write`].
    pub const WRITE: Perms = Perms(2);
    /// [`Perm::Create`].
    pub const CREATE: Perms = Perms(4);
    /// [`Perm::Delete`].
    pub const DELETE: Perms = Perms(8);
    /// [`Perm::Admin`].
    pub const ADMIN: Perms = Perms(16);
    /// All five permissions (31).
    pub const ALL: Perms = Perms(31);

    /// True if every bit of `other` is set here.
    pub const fn contains(self, other: Perms) -> bool {
        self.0 & other.0 == other.0
    }

    /// True if `perm` is set.
    pub const fn has(self, perm: Perm) -> bool {
        self.0 & (perm as i32) != 0
    }
}

impl std::ops::BitOr for Perms {
    type Output = Perms;
    fn bitor(self, rhs: Perms) -> Perms {
        Perms(self.0 | rhs.0)
    }
}

impl From<Perm> for Perms {
    fn from(p: Perm) -> Perms {
        Perms(p as i32)
    }
}

impl fmt::Debug for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The zkCli letters: r w c d a.
        let mut s = String::new();
        for (p, c) in [
            (Perm::Read, 'r'),
            (Perm::Write, 'w'),
            (Perm::Create, 'c'),
            (Perm::Delete, 'd'),
            (Perm::Admin, 'a'),
        ] {
            if self.has(p) {
                s.push(c);
            }
        }
        if self.0 & !31 != 0 {
            s.push_str(&format!("+{:#x}", self.0 & !31));
        }
        write!(f, "Perms({s})")
    }
}

/// The special xids of the protocol.
pub mod xid {
    /// A watch notification (server to client).
    pub const NOTIFICATION: i32 = -1;
    /// A ping and its reply.
    pub const PING: i32 = -2;
    /// An auth packet and its reply.
    pub const AUTH: i32 = -4;
    /// SetWatches / SetWatches2 and their reply.
    pub const SET_WATCHES: i32 = -8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_enum_round_trips_and_rejects_unknown() {
        fn check<T>(all: &[T], bad: &[i32])
        where
            T: Copy + Into<i32> + TryFrom<i32, Error = Error> + PartialEq + std::fmt::Debug,
        {
            for &v in all {
                let n: i32 = v.into();
                assert_eq!(T::try_from(n).unwrap(), v);
            }
            for &b in bad {
                assert!(T::try_from(b).is_err(), "{b} accepted");
            }
        }
        check(EventType::ALL, &[0, 8, -2]);
        check(KeeperState::ALL, &[2, 8, -2, -111]);
        check(CreateMode::ALL, &[-1, 7, 8]);
        check(WatcherType::ALL, &[0, 6]);
        check(AddWatchMode::ALL, &[-1, 2]);
        check(Perm::ALL, &[0, 3, 32]);
        // The gaps of the server's table (-9..=-11 and -104.. were never assigned or were
        // withdrawn), and one past each end.
        check(
            ErrorCode::ALL,
            &[
                1, -9, -10, -11, -15, -99, -104, -109, -116, -117, -126, -128,
            ],
        );
        assert_eq!(KeeperState::Expired.code(), -112);
        assert_eq!(EventType::PersistentWatchRemoved.code(), 7);
    }

    #[test]
    fn create_mode_predicates() {
        use CreateMode::*;
        assert!(EphemeralSequential.is_ephemeral() && EphemeralSequential.is_sequential());
        assert!(
            PersistentSequentialWithTtl.is_ttl() && PersistentSequentialWithTtl.is_sequential()
        );
        assert!(!Container.is_ephemeral() && Container.is_container());
        assert!(!Persistent.is_sequential());
    }

    #[test]
    fn perms() {
        assert_eq!(Perms::ALL.0, 31);
        assert!(Perms::ALL.contains(Perms::READ | Perms::ADMIN));
        assert!(!Perms::READ.has(Perm::Write));
        assert_eq!(format!("{:?}", Perms::ALL), "Perms(rwcda)");
        assert_eq!(format!("{:?}", Perms(33)), "Perms(r+0x20)");
    }
}
