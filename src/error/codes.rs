//! The two tables of the protocol that [`Error`](super::Error) itself is made of: the
//! operation codes ([`OpCode`], the `op` an error names) and the server's error codes
//! ([`ErrorCode`], the one table of them in the crate). They live here, under the error
//! type, so that the protocol layer above can decode into `Error`; `proto::consts`
//! re-exports them beside the protocol's other numbers, and their public paths are
//! `zk_curator::proto::{OpCode, ErrorCode}` (also under `proto::consts`).

use std::fmt;

/// Declares a protocol enum over `i32`: the enum (`Debug`, `Copy`, `Eq`, `Hash`), `ALL`,
/// `code()`, `TryFrom<i32>` refusing unknown values with `Error::Protocol`, and
/// `From<_> for i32`. `proto::consts` declares the protocol's other numbers with it.
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
            type Error = $crate::error::Error;
            fn try_from(v: i32) -> ::std::result::Result<Self, $crate::error::Error> {
                match v {
                    $( x if x == $value => Ok($name::$variant), )*
                    other => Err($crate::error::Error::Protocol(format!(
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
pub(crate) use wire_enum;

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
    /// the crate: [`Error`](super::Error) maps from and to it, and the test server answers
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
}
