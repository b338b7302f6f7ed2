//! The numbers of the protocol as Rust enums: op codes, error codes, watcher event types and
//! keeper states, create modes, watcher types, add-watch modes, permission bits and the
//! special xids.
//!
//! Each enum converts from the wire `i32` with `TryFrom`, which rejects unknown values with
//! [`Error::Protocol`](crate::Error) instead of panicking, and back with `as i32` or
//! [`code`](OpCode::code).

use std::fmt;

use crate::error::Error;

macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $value:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(i32)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value, )*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )* ];

            /// The wire value.
            pub const fn code(self) -> i32 {
                self as i32
            }
        }

        impl TryFrom<i32> for $name {
            type Error = Error;
            fn try_from(v: i32) -> Result<Self, Error> {
                match v {
                    $( x if x == $value => Ok($name::$variant), )*
                    other => Err(Error::Protocol(format!(
                        concat!("unknown ", stringify!($name), " {}"),
                        other
                    ))),
                }
            }
        }

        impl From<$name> for i32 {
            fn from(v: $name) -> i32 {
                v as i32
            }
        }
    };
}

wire_enum! {
    /// Operation codes (`ZooDefs.OpCode`), identical for servers 3.4 through 3.9.
    OpCode {
        /// Notification (never sent; notifications use xid -1).
        Notification = 0,
        /// create: `CreateRequest` -> `CreateResponse`.
        Create = 1,
        /// delete: `DeleteRequest` -> no body.
        Delete = 2,
        /// exists: `ExistsRequest` -> `ExistsResponse`.
        Exists = 3,
        /// getData: `GetDataRequest` -> `GetDataResponse`.
        GetData = 4,
        /// setData: `SetDataRequest` -> `SetDataResponse`.
        SetData = 5,
        /// getACL: `GetAclRequest` -> `GetAclResponse`.
        GetAcl = 6,
        /// setACL: `SetAclRequest` -> `SetAclResponse`.
        SetAcl = 7,
        /// getChildren: `GetChildrenRequest` -> `GetChildrenResponse`.
        GetChildren = 8,
        /// sync: `SyncRequest` -> `SyncResponse`.
        Sync = 9,
        /// ping: no body (xid -2).
        Ping = 11,
        /// getChildren2: `GetChildren2Request` -> `GetChildren2Response`.
        GetChildren2 = 12,
        /// check: `CheckVersionRequest`, only inside multi.
        Check = 13,
        /// multi: `MultiRequest` -> `MultiResponse`.
        Multi = 14,
        /// create2 (3.5+): `CreateRequest` -> `Create2Response`.
        Create2 = 15,
        /// reconfig (3.5+): `ReconfigRequest` -> `GetDataResponse`.
        Reconfig = 16,
        /// checkWatches (3.5+): `CheckWatchesRequest` -> no body.
        CheckWatches = 17,
        /// removeWatches (3.5+): `RemoveWatchesRequest` -> no body.
        RemoveWatches = 18,
        /// createContainer (3.5.1+): `CreateRequest` -> `Create2Response`.
        CreateContainer = 19,
        /// deleteContainer: server-internal, never sent by clients.
        DeleteContainer = 20,
        /// createTTL (3.5.3+): `CreateTtlRequest` -> `Create2Response`.
        CreateTtl = 21,
        /// multiRead (3.6+): `MultiRequest` of reads -> `MultiResponse`.
        MultiRead = 22,
        /// auth: `AuthPacket` (xid -4) -> no body.
        Auth = 100,
        /// setWatches: `SetWatches` -> no body.
        SetWatches = 101,
        /// sasl: `GetSaslRequest` -> `SetSaslResponse`.
        Sasl = 102,
        /// getEphemerals (3.6+): `GetEphemeralsRequest` -> `GetEphemeralsResponse`.
        GetEphemerals = 103,
        /// getAllChildrenNumber (3.6+).
        GetAllChildrenNumber = 104,
        /// setWatches2 (3.6+): `SetWatches2` -> no body.
        SetWatches2 = 105,
        /// addWatch (3.6+): `AddWatchRequest` -> `ErrorResponse`.
        AddWatch = 106,
        /// whoAmI (3.7+): no body -> `WhoAmIResponse`.
        WhoAmI = 107,
        /// createSession: server-internal (triggered by a ConnectRequest).
        CreateSession = -10,
        /// closeSession: no body -> no body; the server then closes the socket.
        CloseSession = -11,
        /// error: the type of a failed result inside a multi response.
        Error = -1,
    }
}

impl OpCode {
    /// True for the ops that change the tree: refused by a read-only server, and given a zxid
    /// by the server even when they fail (it logs an error txn for them).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            OpCode::Create
                | OpCode::Create2
                | OpCode::CreateContainer
                | OpCode::CreateTtl
                | OpCode::Delete
                | OpCode::SetData
                | OpCode::SetAcl
                | OpCode::Multi
                | OpCode::Reconfig
                | OpCode::Check
        )
    }
}

wire_enum! {
    /// ZooKeeper's error codes (`KeeperException.Code`), identical for servers 3.4 through 3.9:
    /// the `err` of a reply header and of a failed multi result. The one table of them in
    /// the crate: [`Error`] maps from and to it, and the test server answers
    /// with it.
    ErrorCode {
        /// `0`: no error.
        Ok = 0,
        /// A range marker in the server's table; never expected on the wire.
        SystemError = -1,
        /// An operation of a failed multi that came after the failing one.
        RuntimeInconsistency = -2,
        /// The server found its data inconsistent.
        DataInconsistency = -3,
        /// The connection was lost (client-side code).
        ConnectionLoss = -4,
        /// The server could not decode or process the request.
        MarshallingError = -5,
        /// The server does not implement the operation.
        Unimplemented = -6,
        /// The operation timed out (client-side code).
        OperationTimeout = -7,
        /// Invalid arguments.
        BadArguments = -8,
        /// The session is unknown to the server.
        UnknownSession = -12,
        /// A reconfiguration has no quorum in the new configuration.
        NewConfigNoQuorum = -13,
        /// Another reconfiguration is in progress.
        ReconfigInProgress = -14,
        /// A range marker in the server's table; never expected on the wire.
        ApiError = -100,
        /// The node does not exist.
        NoNode = -101,
        /// The session lacks the permission the operation needs.
        NoAuth = -102,
        /// The expected version did not match the node's.
        BadVersion = -103,
        /// Ephemeral nodes cannot have children.
        NoChildrenForEphemerals = -108,
        /// The node already exists.
        NodeExists = -110,
        /// The node has children.
        NotEmpty = -111,
        /// The session has expired.
        SessionExpired = -112,
        /// Invalid callback (client-side code).
        InvalidCallback = -113,
        /// The ACL is invalid.
        InvalidAcl = -114,
        /// Authentication failed.
        AuthFailed = -115,
        /// The session moved to another server.
        SessionMoved = -118,
        /// A write was sent to a read-only server.
        NotReadOnly = -119,
        /// An ephemeral node was requested on a local session.
        EphemeralOnLocalSession = -120,
        /// No such watch exists.
        NoWatcher = -121,
        /// The request timed out (client-side code).
        RequestTimeout = -122,
        /// Dynamic reconfiguration is disabled.
        ReconfigDisabled = -123,
        /// The server requires SASL authentication and closed the session.
        SessionClosedRequireSaslAuth = -124,
        /// A hard quota would be exceeded.
        QuotaExceeded = -125,
        /// The server is throttling requests.
        Throttled = -127,
    }
}

impl ErrorCode {
    /// True for the codes about the session or the connection rather than about one
    /// request (`ConnectionLoss`, `SessionExpired`, `AuthFailed`, `SessionMoved`,
    /// `RequestTimeout`, `SessionClosedRequireSaslAuth`): errors of these kinds carry no path
    /// or operation.
    pub fn is_about_session(self) -> bool {
        matches!(
            self,
            ErrorCode::ConnectionLoss
                | ErrorCode::SessionExpired
                | ErrorCode::AuthFailed
                | ErrorCode::SessionMoved
                | ErrorCode::RequestTimeout
                | ErrorCode::SessionClosedRequireSaslAuth
        )
    }

    /// What the code means, as error messages say it (`no node`, `bad version`, ...).
    pub fn description(self) -> &'static str {
        match self {
            ErrorCode::Ok => "ok",
            ErrorCode::SystemError => "system error",
            ErrorCode::RuntimeInconsistency => {
                "runtime inconsistency (an earlier operation of the multi failed)"
            }
            ErrorCode::DataInconsistency => "data inconsistency",
            ErrorCode::ConnectionLoss => "connection lost",
            ErrorCode::MarshallingError => "marshalling error",
            ErrorCode::Unimplemented => "operation not implemented by the server",
            ErrorCode::OperationTimeout => "operation timed out",
            ErrorCode::BadArguments => "bad arguments",
            ErrorCode::UnknownSession => "unknown session",
            ErrorCode::NewConfigNoQuorum => "no quorum of the new config is connected",
            ErrorCode::ReconfigInProgress => "another reconfiguration is in progress",
            ErrorCode::ApiError => "API error",
            ErrorCode::NoNode => "no node",
            ErrorCode::NoAuth => "not authorized",
            ErrorCode::BadVersion => "bad version",
            ErrorCode::NoChildrenForEphemerals => "ephemeral nodes cannot have children",
            ErrorCode::NodeExists => "node exists",
            ErrorCode::NotEmpty => "node has children",
            ErrorCode::SessionExpired => "session expired",
            ErrorCode::InvalidCallback => "invalid callback",
            ErrorCode::InvalidAcl => "invalid ACL",
            ErrorCode::AuthFailed => "authentication failed",
            ErrorCode::SessionMoved => "session moved to another server",
            ErrorCode::NotReadOnly => "write on a read-only server",
            ErrorCode::EphemeralOnLocalSession => "ephemeral node on a local session",
            ErrorCode::NoWatcher => "no such watcher",
            ErrorCode::RequestTimeout => "request timed out",
            ErrorCode::ReconfigDisabled => "reconfiguration is disabled",
            ErrorCode::SessionClosedRequireSaslAuth => {
                "session closed: the server requires SASL authentication"
            }
            ErrorCode::QuotaExceeded => "quota exceeded",
            ErrorCode::Throttled => "request throttled by the server",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

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
    fn op_codes_match_the_table() {
        let table = [
            (OpCode::Notification, 0),
            (OpCode::Create, 1),
            (OpCode::Delete, 2),
            (OpCode::Exists, 3),
            (OpCode::GetData, 4),
            (OpCode::SetData, 5),
            (OpCode::GetAcl, 6),
            (OpCode::SetAcl, 7),
            (OpCode::GetChildren, 8),
            (OpCode::Sync, 9),
            (OpCode::Ping, 11),
            (OpCode::GetChildren2, 12),
            (OpCode::Check, 13),
            (OpCode::Multi, 14),
            (OpCode::Create2, 15),
            (OpCode::Reconfig, 16),
            (OpCode::CheckWatches, 17),
            (OpCode::RemoveWatches, 18),
            (OpCode::CreateContainer, 19),
            (OpCode::DeleteContainer, 20),
            (OpCode::CreateTtl, 21),
            (OpCode::MultiRead, 22),
            (OpCode::Auth, 100),
            (OpCode::SetWatches, 101),
            (OpCode::Sasl, 102),
            (OpCode::GetEphemerals, 103),
            (OpCode::GetAllChildrenNumber, 104),
            (OpCode::SetWatches2, 105),
            (OpCode::AddWatch, 106),
            (OpCode::WhoAmI, 107),
            (OpCode::CreateSession, -10),
            (OpCode::CloseSession, -11),
            (OpCode::Error, -1),
        ];
        assert_eq!(table.len(), OpCode::ALL.len());
        for (op, v) in table {
            assert_eq!(op.code(), v);
            assert_eq!(OpCode::try_from(v).unwrap(), op);
        }
        for bad in [10, 23, 99, 108, -2, -12, i32::MIN, i32::MAX] {
            assert!(OpCode::try_from(bad).is_err(), "{bad}");
        }
    }

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
    fn error_codes_are_the_servers() {
        assert_eq!(ErrorCode::ALL.len(), 32);
        assert_eq!(ErrorCode::NoNode.code(), -101);
        assert_eq!(ErrorCode::try_from(-127).unwrap(), ErrorCode::Throttled);
        let about_session: Vec<i32> = ErrorCode::ALL
            .iter()
            .filter(|c| c.is_about_session())
            .map(|c| c.code())
            .collect();
        assert_eq!(about_session, [-4, -112, -115, -118, -122, -124]);
        for c in ErrorCode::ALL {
            assert!(!c.description().is_empty());
            assert_eq!(c.to_string(), c.description());
        }
    }

    /// The ops a server gives a zxid even when they fail (and a read-only server refuses):
    /// the test server's request path relies on exactly this set.
    #[test]
    fn write_ops() {
        let writes: Vec<OpCode> = OpCode::ALL
            .iter()
            .copied()
            .filter(|o| o.is_write())
            .collect();
        assert_eq!(
            writes,
            [
                OpCode::Create,
                OpCode::Delete,
                OpCode::SetData,
                OpCode::SetAcl,
                OpCode::Check,
                OpCode::Multi,
                OpCode::Create2,
                OpCode::Reconfig,
                OpCode::CreateContainer,
                OpCode::CreateTtl,
            ]
        );
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
