//! The crate's one error type.
//!
//! Every fallible call in zk-curator returns [`Result<T>`]. Server error codes (the
//! `KeeperException.Code` table of Apache ZooKeeper, kept once as
//! [`ErrorCode`]) map one-to-one onto variants of [`Error`]; the
//! client adds its own kinds for things that never reach a server (an invalid path, a closed
//! client, a malformed frame, an I/O failure, a node's data that cannot be read). The retry
//! loop of the framework asks [`Error::is_retryable`] and nothing else.
//!
//! This module is the bottom of the crate: everything else uses it, it uses nothing of the
//! crate. Its children (bottom up, neither uses the other): `codes`, the protocol's op code
//! and error code tables that `Error` is made of ([`proto`](crate::proto) re-exports them),
//! and `host`, the per-host connection failures an error can carry.

use std::fmt;
use std::io;
use std::sync::Arc;

pub(crate) mod codes;
mod host;

use codes::{ErrorCode, OpCode};
pub use host::{HostFailure, HostFailureKind, TlsFailure};

/// `Result` with zk-curator's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in a ZooKeeper call.
///
/// A server's answer to a request (every code but those about the session: `ConnectionLoss`,
/// `SessionExpired`, `AuthFailed`, `SessionMoved`, `RequestTimeout`,
/// `SessionClosedRequireSaslAuth`) carries the request's `path` and `op`, so that `Display`
/// says what happened, to what, in which operation: `delete /zookeeper: bad arguments`.
/// Match a kind with `Error::NoNode { .. }`. [`Error::error_code`] gives the server code
/// back as an [`ErrorCode`], [`Error::code`] as a number (`None` for purely client-side
/// kinds).
///
/// ```
/// use zk_curator::Error;
/// let e = Error::from_code(-101, "/app/config");
/// assert!(matches!(e, Error::NoNode { .. }));
/// assert_eq!(e.code(), Some(-101));
/// assert_eq!(e.path(), Some("/app/config"));
/// assert_eq!(e.to_string(), "no node: /app/config");
/// assert!(!e.is_retryable());
/// assert!(Error::from_code(-4, "").is_retryable()); // ConnectionLoss
/// ```
///
/// Errors returned by the client's operations name the operation too:
///
/// ```
/// # use zk_curator::framework::*;
/// # use zk_curator::Error;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// # let client = CuratorFrameworkFactory::new_client(&server.connect_string(), RetryOneTime::new(std::time::Duration::from_millis(10)))?;
/// # client.start()?;
/// let e = client.delete().for_path("/zookeeper").unwrap_err();
/// assert!(matches!(e, Error::BadArguments { .. }));
/// assert_eq!(e.to_string(), "delete /zookeeper: bad arguments");
/// let e = client.get_data().for_path("/missing").unwrap_err();
/// assert_eq!(e.to_string(), "get_data /missing: no node");
/// # client.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    // ---- server codes (KeeperException.Code) ----
    /// `-1`: a range marker in the server's code table; never expected on the wire.
    SystemError {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-2`: an operation of a failed multi that came after the failing one.
    RuntimeInconsistency {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-3`: the server found its data inconsistent.
    DataInconsistency {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-4`: the connection to the server was lost before the reply arrived (the request
    /// may or may not have been applied), or no connection could be made in time (the
    /// request was not sent).
    ConnectionLoss {
        /// When no connection could be made: every host tried since the connection was
        /// lost (or since the start) and why each failed; see [`Error::hosts_tried`].
        /// `None` when a connection broke under a request.
        tried: Option<Arc<[HostFailure]>>,
    },
    /// `-5`: the server could not decode or process the request.
    MarshallingError {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-6`: the server does not implement the operation (unknown op code, or TTL nodes
    /// without `extendedTypesEnabled`).
    Unimplemented {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-7`: the operation timed out (client-side code).
    OperationTimeout {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-8`: invalid arguments (bad create flags, a TTL out of range, a bad reconfig, deleting
    /// a node the server protects such as `/zookeeper`, ...).
    BadArguments {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-12`: the session is unknown to the server.
    UnknownSession {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-13`: a reconfiguration has no quorum in the new configuration.
    NewConfigNoQuorum {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-14`: another reconfiguration is in progress.
    ReconfigInProgress {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-100`: a range marker in the server's code table; never expected on the wire.
    ApiError {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-101`: the node does not exist.
    NoNode {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-102`: the session lacks the permission the operation needs.
    NoAuth {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-103`: the expected version did not match the node's version.
    BadVersion {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-108`: ephemeral nodes cannot have children.
    NoChildrenForEphemerals {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-110`: the node already exists.
    NodeExists {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-111`: the node has children and cannot be deleted.
    NotEmpty {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-112`: the session has expired; this handle is dead and a new session is needed.
    SessionExpired,
    /// `-113`: invalid callback (client-side code).
    InvalidCallback {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-114`: the ACL is invalid (empty, unknown scheme, malformed id, `auth` without an
    /// authenticated id).
    InvalidAcl {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-115`: authentication failed; the server closes the connection.
    AuthFailed,
    /// `-118`: the session moved to another server.
    SessionMoved,
    /// `-119`: a write was sent to a read-only server.
    NotReadOnly {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-120`: an ephemeral node was requested on a local session.
    EphemeralOnLocalSession {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-121`: no such watch exists (checkWatches / removeWatches).
    NoWatcher {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-122`: the request timed out waiting for its reply (client-side request timeout).
    RequestTimeout,
    /// `-123`: dynamic reconfiguration is disabled on the server.
    ReconfigDisabled {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-124`: the server requires SASL authentication and closed the session.
    SessionClosedRequireSaslAuth,
    /// `-125`: a hard quota would be exceeded.
    QuotaExceeded {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// `-127`: the server is throttling requests; retry with backoff.
    Throttled {
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },
    /// A code this crate does not know, kept as sent.
    Unknown {
        /// The code.
        code: i32,
        /// The path of the request (chroot and namespace removed); empty if unknown.
        path: String,
        /// The operation that got the error, if known.
        op: Option<OpCode>,
    },

    // ---- client-side kinds ----
    /// The path failed ZooKeeper's path rules; nothing was sent.
    InvalidPath {
        /// The offending path.
        path: String,
        /// Which rule it broke.
        reason: String,
    },
    /// The operation breaks a rule of the client's
    /// [`SchemaSet`](crate::framework::SchemaSet); nothing was sent (Curator's
    /// `SchemaViolation`).
    SchemaViolation {
        /// The schema broken; `None` when no schema matched a set without a default.
        schema: Option<String>,
        /// The path given to the operation (namespace removed).
        path: String,
        /// What was wrong ("must be ephemeral", "data is not valid", ...).
        violation: String,
    },
    /// The client (or the handle) has been closed.
    Closed,
    /// Waiting for something (a connection, a lock, a latch) took longer than allowed.
    Timeout,
    /// The peer sent bytes that are not a valid frame or record; the connection is dropped.
    Protocol(String),
    /// An I/O error on the socket or while starting a thread.
    Io(Arc<io::Error>),
    /// An argument the caller gave is out of range or inconsistent (oversized data, an
    /// empty transaction, a bad connect string, ...).
    InvalidArgument(String),
    /// A user callback panicked (reported to unhandled-error listeners; the thread went on).
    CallbackPanicked(String),
    /// Node data could not be turned into a value or a value into node data: a service
    /// registration whose JSON is malformed, a payload that does not fit its type.
    Serialization(String),
    /// A node holds data its reader cannot read: a counter of the wrong length written by
    /// someone else, or `decompressed()` data that is not valid gzip (not compressed, cut
    /// short, failing its checksum, inflating past the cap). Nothing was changed; for a
    /// recipe, its docs say how to repair the node. A client-side finding, so
    /// [`code`](Error::code) is `None` (the server's `DataInconsistency` is about its own
    /// state, not a node's contents).
    BadData {
        /// The node.
        path: String,
        /// What is wrong with the data.
        reason: String,
    },
    /// The session failed (expired, or a new one replaced it) inside a
    /// [`SessionFailRetryLoop`](crate::framework::SessionFailRetryLoop): the work that relied
    /// on it, its ephemeral nodes above all, must not go on (Curator's
    /// `SessionFailedException`).
    SessionFailed,
}

/// The server codes that answer a request, by name: each is a variant of [`ErrorCode`] and a
/// variant `{ path, op }` of [`Error`] of the same name. The conversions both ways are
/// generated from this one list; the numbers live in [`ErrorCode`] alone.
macro_rules! request_errors {
    ($($name:ident),* $(,)?) => {
        impl Error {
            /// The error of a code that answers a request; `None` for the codes about the
            /// session (and for `Ok`).
            fn of_request(code: ErrorCode, path: String, op: Option<OpCode>) -> Option<Error> {
                match code {
                    $(ErrorCode::$name => Some(Error::$name { path, op }),)*
                    _ => None,
                }
            }

            /// The request a server error answers: its path and operation.
            fn request(&self) -> Option<(&str, Option<OpCode>)> {
                match self {
                    $(Error::$name { path, op })|* | Error::Unknown { path, op, .. } => {
                        Some((path, *op))
                    }
                    _ => None,
                }
            }

            fn request_mut(&mut self) -> Option<(&mut String, &mut Option<OpCode>)> {
                match self {
                    $(Error::$name { path, op })|* | Error::Unknown { path, op, .. } => {
                        Some((path, op))
                    }
                    _ => None,
                }
            }

            /// The [`ErrorCode`] of a request error.
            fn request_code(&self) -> Option<ErrorCode> {
                match self {
                    $(Error::$name { .. } => Some(ErrorCode::$name),)*
                    _ => None,
                }
            }
        }
    };
}

request_errors!(
    SystemError,
    RuntimeInconsistency,
    DataInconsistency,
    MarshallingError,
    Unimplemented,
    OperationTimeout,
    BadArguments,
    UnknownSession,
    NewConfigNoQuorum,
    ReconfigInProgress,
    ApiError,
    NoNode,
    NoAuth,
    BadVersion,
    NoChildrenForEphemerals,
    NodeExists,
    NotEmpty,
    InvalidCallback,
    InvalidAcl,
    NotReadOnly,
    EphemeralOnLocalSession,
    NoWatcher,
    ReconfigDisabled,
    QuotaExceeded,
    Throttled,
);

impl Error {
    /// A `ConnectionLoss` of a connection that broke (no hosts to report).
    pub(crate) const CONNECTION_LOSS: Error = Error::ConnectionLoss { tried: None };

    /// Builds the error for a server error code, attaching `path` (no operation). Code `0`
    /// is not an error; it maps to `Unknown` so that a caller's bug shows.
    pub fn from_code(code: i32, path: &str) -> Error {
        match ErrorCode::try_from(code) {
            Ok(ErrorCode::ConnectionLoss) => Error::CONNECTION_LOSS,
            Ok(ErrorCode::SessionExpired) => Error::SessionExpired,
            Ok(ErrorCode::AuthFailed) => Error::AuthFailed,
            Ok(ErrorCode::SessionMoved) => Error::SessionMoved,
            Ok(ErrorCode::RequestTimeout) => Error::RequestTimeout,
            Ok(ErrorCode::SessionClosedRequireSaslAuth) => Error::SessionClosedRequireSaslAuth,
            known => known
                .ok()
                .and_then(|c| Error::of_request(c, path.to_string(), None))
                .unwrap_or_else(|| Error::Unknown {
                    code,
                    path: path.to_string(),
                    op: None,
                }),
        }
    }

    /// The server code of this error (`KeeperException.Code`), or `None` for the client-side
    /// kinds ([`InvalidPath`](Error::InvalidPath), [`Closed`](Error::Closed),
    /// [`Timeout`](Error::Timeout), [`Protocol`](Error::Protocol), [`Io`](Error::Io),
    /// [`InvalidArgument`](Error::InvalidArgument), [`CallbackPanicked`](Error::CallbackPanicked),
    /// [`Serialization`](Error::Serialization), ...) and for a code this crate does not know
    /// ([`Unknown`](Error::Unknown); [`code`](Error::code) has its number).
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Error::ConnectionLoss { .. } => Some(ErrorCode::ConnectionLoss),
            Error::SessionExpired => Some(ErrorCode::SessionExpired),
            Error::AuthFailed => Some(ErrorCode::AuthFailed),
            Error::SessionMoved => Some(ErrorCode::SessionMoved),
            Error::RequestTimeout => Some(ErrorCode::RequestTimeout),
            Error::SessionClosedRequireSaslAuth => Some(ErrorCode::SessionClosedRequireSaslAuth),
            other => other.request_code(),
        }
    }

    /// The numeric server code of this error (`KeeperException.Code`), or `None` for the
    /// client-side kinds (see [`error_code`](Error::error_code)).
    pub fn code(&self) -> Option<i32> {
        match self {
            Error::Unknown { code, .. } => Some(*code),
            other => other.error_code().map(ErrorCode::code),
        }
    }

    /// True exactly for the errors Curator's retry loop retries: `ConnectionLoss`,
    /// `OperationTimeout`, `SessionMoved` and `SessionExpired`.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::ConnectionLoss { .. }
                | Error::OperationTimeout { .. }
                | Error::SessionMoved
                | Error::SessionExpired
        )
    }

    /// For a [`ConnectionLoss`](Error::ConnectionLoss) raised because no connection could
    /// be made in time: the hosts tried and, per host, why it failed (refused, DNS failure,
    /// timed out, ...). `None` for every other error, and for a connection that broke under
    /// a request.
    pub fn hosts_tried(&self) -> Option<&[HostFailure]> {
        match self {
            Error::ConnectionLoss { tried: Some(h) } => Some(h),
            _ => None,
        }
    }

    /// The path this error is about, if it carries one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::InvalidPath { path, .. }
            | Error::SchemaViolation { path, .. }
            | Error::BadData { path, .. } => Some(path),
            other => other.request().map(|(p, _)| p).filter(|p| !p.is_empty()),
        }
    }

    /// The operation that got this error from the server, if known (errors built with
    /// [`from_code`](Error::from_code) have none).
    pub fn op(&self) -> Option<OpCode> {
        self.request().and_then(|(_, op)| op)
    }
    /// Builds an [`Error::InvalidPath`].
    pub(crate) fn invalid_path(path: &str, reason: impl Into<String>) -> Error {
        Error::InvalidPath {
            path: path.to_string(),
            reason: reason.into(),
        }
    }

    /// Builds an [`Error::Protocol`].
    pub(crate) fn protocol(msg: impl Into<String>) -> Error {
        Error::Protocol(msg.into())
    }

    /// Returns the same error with its path replaced (used to strip a chroot or namespace
    /// before the error reaches the caller). Errors about the session are unchanged.
    pub(crate) fn with_path(mut self, new_path: &str) -> Error {
        if let Some((path, _)) = self.request_mut() {
            new_path.clone_into(path);
        }
        self
    }

    /// Returns the same error naming the operation that got it (kept if already set).
    pub(crate) fn with_op(mut self, new_op: OpCode) -> Error {
        if let Some((_, op)) = self.request_mut() {
            op.get_or_insert(new_op);
        }
        self
    }
}

/// How an operation is named in messages: the client's method name for it.
pub(crate) fn op_name(op: OpCode) -> &'static str {
    match op {
        OpCode::Create | OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => "create",
        OpCode::Delete => "delete",
        OpCode::Exists => "exists",
        OpCode::GetData => "get_data",
        OpCode::SetData => "set_data",
        OpCode::GetAcl => "get_acl",
        OpCode::SetAcl => "set_acl",
        OpCode::GetChildren | OpCode::GetChildren2 => "get_children",
        OpCode::Sync => "sync",
        OpCode::Check => "check",
        OpCode::Multi | OpCode::MultiRead => "multi",
        OpCode::Reconfig => "reconfig",
        OpCode::CheckWatches => "check_watches",
        OpCode::RemoveWatches => "remove_watches",
        OpCode::AddWatch => "add_watch",
        OpCode::GetEphemerals => "get_ephemerals",
        OpCode::GetAllChildrenNumber => "get_all_children_number",
        OpCode::WhoAmI => "who_am_i",
        OpCode::Auth => "add_auth_info",
        OpCode::CloseSession => "close",
        OpCode::SetWatches | OpCode::SetWatches2 => "set_watches",
        OpCode::Sasl => "sasl",
        OpCode::Ping => "ping",
        OpCode::Notification | OpCode::DeleteContainer | OpCode::CreateSession | OpCode::Error => {
            "request"
        }
    }
}

/// `op path: what`, or `what: path` when the operation is not known.
fn in_request(
    f: &mut fmt::Formatter<'_>,
    what: &dyn fmt::Display,
    op: Option<OpCode>,
    path: &str,
) -> fmt::Result {
    match (op, path.is_empty()) {
        (Some(op), false) => write!(f, "{} {path}: {what}", op_name(op)),
        (Some(op), true) => write!(f, "{}: {what}", op_name(op)),
        (None, false) => write!(f, "{what}: {path}"),
        (None, true) => write!(f, "{what}"),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ConnectionLoss { tried: Some(hosts) } => {
                f.write_str("connection lost: could not connect to any server (")?;
                for (i, h) in hosts.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{h}")?;
                }
                f.write_str(")")
            }
            Error::Unknown { code, path, op } => {
                in_request(f, &format_args!("unknown error code {code}"), *op, path)
            }
            Error::InvalidPath { path, reason } => write!(f, "invalid path {path:?}: {reason}"),
            Error::SchemaViolation {
                schema: Some(schema),
                path,
                violation,
            } => write!(
                f,
                "schema violation at {path} (schema {schema:?}): {violation}"
            ),
            Error::SchemaViolation {
                schema: None,
                path,
                violation,
            } => write!(f, "schema violation at {path}: {violation}"),
            Error::Closed => f.write_str("client is closed"),
            Error::Timeout => f.write_str("timed out"),
            Error::Protocol(msg) => write!(f, "protocol error: {msg}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Error::CallbackPanicked(msg) => write!(f, "a callback panicked: {msg}"),
            Error::Serialization(msg) => write!(f, "serialization error: {msg}"),
            Error::BadData { path, reason } => write!(f, "unreadable data in {path}: {reason}"),
            Error::SessionFailed => {
                f.write_str("the session failed while a session-fail retry loop depended on it")
            }
            // Every other variant is a server code: its description, and the request it
            // answers when it answers one.
            server => match (server.error_code(), server.request()) {
                (Some(code), Some((path, op))) => in_request(f, &code.description(), op, path),
                (Some(code), None) => f.write_str(code.description()),
                (None, _) => f.write_str("ZooKeeper error"),
            },
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(Arc::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code of the server's table (protocol.md §10), and whether it answers a request
    /// (and so carries its path and operation) rather than being about the session.
    const CODES: &[(i32, bool)] = &[
        (-1, true),
        (-2, true),
        (-3, true),
        (-4, false),
        (-5, true),
        (-6, true),
        (-7, true),
        (-8, true),
        (-12, true),
        (-13, true),
        (-14, true),
        (-100, true),
        (-101, true),
        (-102, true),
        (-103, true),
        (-108, true),
        (-110, true),
        (-111, true),
        (-112, false),
        (-113, true),
        (-114, true),
        (-115, false),
        (-118, false),
        (-119, true),
        (-120, true),
        (-121, true),
        (-122, false),
        (-123, true),
        (-124, false),
        (-125, true),
        (-127, true),
    ];

    #[test]
    fn every_code_round_trips() {
        for &(code, request) in CODES {
            let e = Error::from_code(code, "/x");
            assert_eq!(e.code(), Some(code), "{e:?}");
            assert!(!matches!(e, Error::Unknown { .. }), "code {code} unmapped");
            assert_eq!(e.path().is_some(), request, "{e:?}");
            if request {
                assert!(e.to_string().ends_with(": /x"), "{e}");
                let e = e.with_op(OpCode::Delete).with_path("/y");
                assert_eq!(e.op(), Some(OpCode::Delete));
                assert!(e.to_string().starts_with("delete /y: "), "{e}");
                assert_eq!(e.code(), Some(code));
            } else {
                assert_eq!(e.with_op(OpCode::Delete).op(), None);
            }
        }
    }

    #[test]
    fn every_error_code_maps_both_ways() {
        assert_eq!(
            ErrorCode::ALL.len(),
            CODES.len() + 1,
            "CODES and ErrorCode disagree"
        );
        for &c in ErrorCode::ALL {
            let e = Error::from_code(c.code(), "/x");
            if c == ErrorCode::Ok {
                assert!(matches!(e, Error::Unknown { code: 0, .. }), "{e:?}");
                assert_eq!(e.error_code(), None);
                continue;
            }
            assert_eq!(e.error_code(), Some(c), "{e:?}");
            assert_eq!(e.code(), Some(c.code()));
            assert_eq!(e.path().is_some(), !c.is_about_session(), "{e:?}");
            assert!(e.to_string().starts_with(c.description()), "{e}");
        }
    }

    #[test]
    fn unknown_codes_are_kept() {
        for code in [-9, -10, -11, -104, -109, -116, -117, -126, -999, 42, 0] {
            let e = Error::from_code(code, "/x");
            assert!(matches!(e, Error::Unknown { code: c, .. } if c == code));
            assert_eq!(e.code(), Some(code));
            assert!(e.to_string().contains(&code.to_string()));
        }
    }

    #[test]
    fn retryable_set_is_curators() {
        let retryable: Vec<i32> = CODES
            .iter()
            .map(|&(c, _)| c)
            .filter(|&c| Error::from_code(c, "/").is_retryable())
            .collect();
        assert_eq!(retryable, vec![-4, -7, -112, -118]);
        for e in [
            Error::Closed,
            Error::Timeout,
            Error::Protocol("x".into()),
            Error::InvalidArgument("x".into()),
            Error::Serialization("x".into()),
            Error::invalid_path("a", "b"),
            Error::SchemaViolation {
                schema: None,
                path: "/a".into(),
                violation: "x".into(),
            },
            Error::from(io::Error::other("x")),
            Error::SessionFailed,
        ] {
            assert!(!e.is_retryable(), "{e:?}");
            assert_eq!(e.code(), None);
        }
    }

    #[test]
    fn error_is_send_sync_clone_static() {
        fn check<T: std::error::Error + Send + Sync + Clone + 'static>() {}
        check::<Error>();
    }

    #[test]
    fn io_error_keeps_its_source() {
        let e = Error::from(io::Error::new(io::ErrorKind::BrokenPipe, "pipe"));
        let src = std::error::Error::source(&e).expect("source");
        assert!(src.to_string().contains("pipe"));
        assert!(e.to_string().contains("pipe"));
    }

    #[test]
    fn with_path_replaces_only_request_errors() {
        let e = Error::from_code(-110, "/ns/a").with_path("/a");
        assert_eq!(e.path(), Some("/a"));
        assert!(matches!(
            Error::from_code(-4, "").with_path("/a"),
            Error::ConnectionLoss { tried: None }
        ));
        // No path, no operation: the bare description.
        assert_eq!(Error::from_code(-8, "").to_string(), "bad arguments");
        assert_eq!(Error::from_code(-8, "").path(), None);
        // The operation first set is kept (a nested call names the outer one's path only).
        let e = Error::from_code(-8, "/z")
            .with_op(OpCode::Delete)
            .with_op(OpCode::Multi);
        assert_eq!(e.to_string(), "delete /z: bad arguments");
    }
}
