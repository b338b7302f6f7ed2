//! The crate's one error type.
//!
//! Every fallible call in zk-curator returns [`Result<T>`]. Server error codes (the
//! `KeeperException.Code` table of Apache ZooKeeper) map one-to-one onto variants of
//! [`Error`]; the client adds its own kinds for things that never reach a server (an invalid
//! path, a closed client, a malformed frame, an I/O failure). The retry loop of the framework
//! asks [`Error::is_retryable`] and nothing else.

use std::fmt;
use std::io;
use std::sync::Arc;

/// `Result` with zk-curator's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in a ZooKeeper call.
///
/// Variants named after a server code carry the path of the request when the code is about a
/// node, so that `Display` can say what happened *to what*. [`Error::code`] gives the numeric
/// server code back (`None` for purely client-side kinds).
///
/// ```
/// use zk_curator::Error;
/// let e = Error::from_code(-101, "/app/config");
/// assert!(matches!(e, Error::NoNode { .. }));
/// assert_eq!(e.code(), Some(-101));
/// assert_eq!(e.to_string(), "no node: /app/config");
/// assert!(!e.is_retryable());
/// assert!(Error::ConnectionLoss.is_retryable());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    // ---- server codes (KeeperException.Code) ----
    /// `-1`: a range marker in the server's code table; never expected on the wire.
    SystemError,
    /// `-2`: an operation of a failed multi that came after the failing one.
    RuntimeInconsistency,
    /// `-3`: the server found its data inconsistent.
    DataInconsistency,
    /// `-4`: the connection to the server was lost before the reply arrived. The request
    /// may or may not have been applied.
    ConnectionLoss,
    /// `-5`: the server could not decode or process the request.
    MarshallingError,
    /// `-6`: the server does not implement the operation (unknown op code, or TTL nodes
    /// without `extendedTypesEnabled`).
    Unimplemented,
    /// `-7`: the operation timed out (client-side code).
    OperationTimeout,
    /// `-8`: invalid arguments (bad create flags, TTL out of range, bad reconfig, ...).
    BadArguments,
    /// `-12`: the session is unknown to the server.
    UnknownSession,
    /// `-13`: a reconfiguration has no quorum in the new configuration.
    NewConfigNoQuorum,
    /// `-14`: another reconfiguration is in progress.
    ReconfigInProgress,
    /// `-100`: a range marker in the server's code table; never expected on the wire.
    ApiError,
    /// `-101`: the node does not exist.
    NoNode {
        /// The path of the request.
        path: String,
    },
    /// `-102`: the session lacks the permission the operation needs.
    NoAuth {
        /// The path of the request.
        path: String,
    },
    /// `-103`: the expected version did not match the node's version.
    BadVersion {
        /// The path of the request.
        path: String,
    },
    /// `-108`: ephemeral nodes cannot have children.
    NoChildrenForEphemerals {
        /// The path of the request.
        path: String,
    },
    /// `-110`: the node already exists.
    NodeExists {
        /// The path of the request.
        path: String,
    },
    /// `-111`: the node has children and cannot be deleted.
    NotEmpty {
        /// The path of the request.
        path: String,
    },
    /// `-112`: the session has expired; this handle is dead and a new session is needed.
    SessionExpired,
    /// `-113`: invalid callback (client-side code).
    InvalidCallback,
    /// `-114`: the ACL is invalid (empty, unknown scheme, malformed id, `auth` without an
    /// authenticated id).
    InvalidAcl {
        /// The path of the request.
        path: String,
    },
    /// `-115`: authentication failed; the server closes the connection.
    AuthFailed,
    /// `-118`: the session moved to another server.
    SessionMoved,
    /// `-119`: a write was sent to a read-only server.
    NotReadOnly,
    /// `-120`: an ephemeral node was requested on a local session.
    EphemeralOnLocalSession,
    /// `-121`: no such watch exists (checkWatches / removeWatches).
    NoWatcher {
        /// The path of the request.
        path: String,
    },
    /// `-122`: the request timed out waiting for its reply (client-side request timeout).
    RequestTimeout,
    /// `-123`: dynamic reconfiguration is disabled on the server.
    ReconfigDisabled,
    /// `-124`: the server requires SASL authentication and closed the session.
    SessionClosedRequireSaslAuth,
    /// `-125`: a hard quota would be exceeded.
    QuotaExceeded {
        /// The path of the request.
        path: String,
    },
    /// `-127`: the server is throttling requests; retry with backoff.
    Throttled,
    /// A code this crate does not know, kept as sent.
    Unknown(i32),

    // ---- client-side kinds ----
    /// The path failed ZooKeeper's path rules; nothing was sent.
    InvalidPath {
        /// The offending path.
        path: String,
        /// Which rule it broke.
        reason: String,
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
    /// The session failed (expired, or a new one replaced it) inside a
    /// [`SessionFailRetryLoop`](crate::framework::SessionFailRetryLoop): the work that relied
    /// on it, its ephemeral nodes above all, must not go on (Curator's
    /// `SessionFailedException`).
    SessionFailed,
}

impl Error {
    /// Builds the error for a server error code, attaching `path` where the code is about a
    /// node. Code `0` is not an error; it maps to `Unknown(0)` so that a caller's bug shows.
    pub fn from_code(code: i32, path: &str) -> Error {
        let p = || path.to_string();
        match code {
            -1 => Error::SystemError,
            -2 => Error::RuntimeInconsistency,
            -3 => Error::DataInconsistency,
            -4 => Error::ConnectionLoss,
            -5 => Error::MarshallingError,
            -6 => Error::Unimplemented,
            -7 => Error::OperationTimeout,
            -8 => Error::BadArguments,
            -12 => Error::UnknownSession,
            -13 => Error::NewConfigNoQuorum,
            -14 => Error::ReconfigInProgress,
            -100 => Error::ApiError,
            -101 => Error::NoNode { path: p() },
            -102 => Error::NoAuth { path: p() },
            -103 => Error::BadVersion { path: p() },
            -108 => Error::NoChildrenForEphemerals { path: p() },
            -110 => Error::NodeExists { path: p() },
            -111 => Error::NotEmpty { path: p() },
            -112 => Error::SessionExpired,
            -113 => Error::InvalidCallback,
            -114 => Error::InvalidAcl { path: p() },
            -115 => Error::AuthFailed,
            -118 => Error::SessionMoved,
            -119 => Error::NotReadOnly,
            -120 => Error::EphemeralOnLocalSession,
            -121 => Error::NoWatcher { path: p() },
            -122 => Error::RequestTimeout,
            -123 => Error::ReconfigDisabled,
            -124 => Error::SessionClosedRequireSaslAuth,
            -125 => Error::QuotaExceeded { path: p() },
            -127 => Error::Throttled,
            other => Error::Unknown(other),
        }
    }

    /// The numeric server code of this error (`KeeperException.Code`), or `None` for the
    /// client-side kinds ([`InvalidPath`](Error::InvalidPath), [`Closed`](Error::Closed),
    /// [`Timeout`](Error::Timeout), [`Protocol`](Error::Protocol), [`Io`](Error::Io),
    /// [`InvalidArgument`](Error::InvalidArgument)).
    pub fn code(&self) -> Option<i32> {
        Some(match self {
            Error::SystemError => -1,
            Error::RuntimeInconsistency => -2,
            Error::DataInconsistency => -3,
            Error::ConnectionLoss => -4,
            Error::MarshallingError => -5,
            Error::Unimplemented => -6,
            Error::OperationTimeout => -7,
            Error::BadArguments => -8,
            Error::UnknownSession => -12,
            Error::NewConfigNoQuorum => -13,
            Error::ReconfigInProgress => -14,
            Error::ApiError => -100,
            Error::NoNode { .. } => -101,
            Error::NoAuth { .. } => -102,
            Error::BadVersion { .. } => -103,
            Error::NoChildrenForEphemerals { .. } => -108,
            Error::NodeExists { .. } => -110,
            Error::NotEmpty { .. } => -111,
            Error::SessionExpired => -112,
            Error::InvalidCallback => -113,
            Error::InvalidAcl { .. } => -114,
            Error::AuthFailed => -115,
            Error::SessionMoved => -118,
            Error::NotReadOnly => -119,
            Error::EphemeralOnLocalSession => -120,
            Error::NoWatcher { .. } => -121,
            Error::RequestTimeout => -122,
            Error::ReconfigDisabled => -123,
            Error::SessionClosedRequireSaslAuth => -124,
            Error::QuotaExceeded { .. } => -125,
            Error::Throttled => -127,
            Error::Unknown(c) => *c,
            Error::InvalidPath { .. }
            | Error::Closed
            | Error::Timeout
            | Error::Protocol(_)
            | Error::Io(_)
            | Error::InvalidArgument(_)
            | Error::CallbackPanicked(_)
            | Error::SessionFailed => return None,
        })
    }

    /// True exactly for the errors Curator's retry loop retries: `ConnectionLoss`,
    /// `OperationTimeout`, `SessionMoved` and `SessionExpired`.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::ConnectionLoss
                | Error::OperationTimeout
                | Error::SessionMoved
                | Error::SessionExpired
        )
    }

    /// The path this error is about, if it carries one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::NoNode { path }
            | Error::NoAuth { path }
            | Error::BadVersion { path }
            | Error::NoChildrenForEphemerals { path }
            | Error::NodeExists { path }
            | Error::NotEmpty { path }
            | Error::InvalidAcl { path }
            | Error::NoWatcher { path }
            | Error::QuotaExceeded { path }
            | Error::InvalidPath { path, .. } => Some(path),
            _ => None,
        }
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
    /// before the error reaches the caller).
    #[allow(dead_code)] // the session engine strips chroots with it
    pub(crate) fn with_path(self, new_path: &str) -> Error {
        let np = || new_path.to_string();
        match self {
            Error::NoNode { .. } => Error::NoNode { path: np() },
            Error::NoAuth { .. } => Error::NoAuth { path: np() },
            Error::BadVersion { .. } => Error::BadVersion { path: np() },
            Error::NoChildrenForEphemerals { .. } => Error::NoChildrenForEphemerals { path: np() },
            Error::NodeExists { .. } => Error::NodeExists { path: np() },
            Error::NotEmpty { .. } => Error::NotEmpty { path: np() },
            Error::InvalidAcl { .. } => Error::InvalidAcl { path: np() },
            Error::NoWatcher { .. } => Error::NoWatcher { path: np() },
            Error::QuotaExceeded { .. } => Error::QuotaExceeded { path: np() },
            other => other,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::SystemError => f.write_str("system error"),
            Error::RuntimeInconsistency => {
                f.write_str("runtime inconsistency (an earlier operation of the multi failed)")
            }
            Error::DataInconsistency => f.write_str("data inconsistency"),
            Error::ConnectionLoss => f.write_str("connection lost"),
            Error::MarshallingError => f.write_str("marshalling error"),
            Error::Unimplemented => f.write_str("operation not implemented by the server"),
            Error::OperationTimeout => f.write_str("operation timed out"),
            Error::BadArguments => f.write_str("bad arguments"),
            Error::UnknownSession => f.write_str("unknown session"),
            Error::NewConfigNoQuorum => f.write_str("no quorum of the new config is connected"),
            Error::ReconfigInProgress => f.write_str("another reconfiguration is in progress"),
            Error::ApiError => f.write_str("API error"),
            Error::NoNode { path } => write!(f, "no node: {path}"),
            Error::NoAuth { path } => write!(f, "not authorized: {path}"),
            Error::BadVersion { path } => write!(f, "bad version: {path}"),
            Error::NoChildrenForEphemerals { path } => {
                write!(f, "ephemeral nodes cannot have children: {path}")
            }
            Error::NodeExists { path } => write!(f, "node exists: {path}"),
            Error::NotEmpty { path } => write!(f, "node has children: {path}"),
            Error::SessionExpired => f.write_str("session expired"),
            Error::InvalidCallback => f.write_str("invalid callback"),
            Error::InvalidAcl { path } => write!(f, "invalid ACL: {path}"),
            Error::AuthFailed => f.write_str("authentication failed"),
            Error::SessionMoved => f.write_str("session moved to another server"),
            Error::NotReadOnly => f.write_str("write on a read-only server"),
            Error::EphemeralOnLocalSession => f.write_str("ephemeral node on a local session"),
            Error::NoWatcher { path } => write!(f, "no such watcher: {path}"),
            Error::RequestTimeout => f.write_str("request timed out"),
            Error::ReconfigDisabled => f.write_str("reconfiguration is disabled"),
            Error::SessionClosedRequireSaslAuth => {
                f.write_str("session closed: the server requires SASL authentication")
            }
            Error::QuotaExceeded { path } => write!(f, "quota exceeded: {path}"),
            Error::Throttled => f.write_str("request throttled by the server"),
            Error::Unknown(code) => write!(f, "unknown error code {code}"),
            Error::InvalidPath { path, reason } => write!(f, "invalid path {path:?}: {reason}"),
            Error::Closed => f.write_str("client is closed"),
            Error::Timeout => f.write_str("timed out"),
            Error::Protocol(msg) => write!(f, "protocol error: {msg}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Error::CallbackPanicked(msg) => write!(f, "a callback panicked: {msg}"),
            Error::SessionFailed => {
                f.write_str("the session failed while a session-fail retry loop depended on it")
            }
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

    /// Every code of the server's table (protocol.md §10), its variant and whether it carries
    /// the path.
    const CODES: &[(i32, bool)] = &[
        (-1, false),
        (-2, false),
        (-3, false),
        (-4, false),
        (-5, false),
        (-6, false),
        (-7, false),
        (-8, false),
        (-12, false),
        (-13, false),
        (-14, false),
        (-100, false),
        (-101, true),
        (-102, true),
        (-103, true),
        (-108, true),
        (-110, true),
        (-111, true),
        (-112, false),
        (-113, false),
        (-114, true),
        (-115, false),
        (-118, false),
        (-119, false),
        (-120, false),
        (-121, true),
        (-122, false),
        (-123, false),
        (-124, false),
        (-125, true),
        (-127, false),
    ];

    #[test]
    fn every_code_round_trips() {
        for &(code, has_path) in CODES {
            let e = Error::from_code(code, "/x");
            assert_eq!(e.code(), Some(code), "{e:?}");
            assert!(!matches!(e, Error::Unknown(_)), "code {code} unmapped");
            assert_eq!(e.path().is_some(), has_path, "{e:?}");
            if has_path {
                assert!(e.to_string().contains("/x"), "{e}");
            }
        }
    }

    #[test]
    fn unknown_codes_are_kept() {
        for code in [-9, -10, -11, -104, -109, -116, -117, -126, -999, 42, 0] {
            let e = Error::from_code(code, "/x");
            assert!(matches!(e, Error::Unknown(c) if c == code));
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
            Error::invalid_path("a", "b"),
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
    fn with_path_replaces_only_path_variants() {
        let e = Error::from_code(-110, "/ns/a").with_path("/a");
        assert_eq!(e.path(), Some("/a"));
        assert!(matches!(
            Error::ConnectionLoss.with_path("/a"),
            Error::ConnectionLoss
        ));
    }
}
