//! Why a host could not be connected to: the value types an operation that gave up waiting
//! for a connection reports ([`Error::hosts_tried`]). They live beside [`Error`], which
//! carries them, so that the layers below the session (the TLS layer classifying a failed
//! handshake) can name them; the session's I/O thread records them (`session::outage`).

use std::fmt;
use std::io;

use super::Error;

/// One host of the connect string that could not be connected to, and why.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::{CuratorFrameworkFactory, Error, HostFailureKind, RetryOneTime};
/// let client = CuratorFrameworkFactory::builder()
///     .connect_string("127.0.0.1:1") // nothing listens on port 1
///     .connection_timeout(Duration::from_millis(300))
///     .retry_policy(RetryOneTime::new(Duration::from_millis(10)))
///     .build()?;
/// client.start()?;
/// let err = client.get_data().for_path("/x").unwrap_err();
/// assert!(matches!(err, Error::ConnectionLoss { .. }));
/// let tried = err.hosts_tried().expect("the hosts tried");
/// assert_eq!(tried[0].host(), "127.0.0.1:1");
/// assert_eq!(tried[0].kind(), &HostFailureKind::Refused);
/// client.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFailure {
    pub(crate) host: String,
    pub(crate) kind: HostFailureKind,
}

impl HostFailure {
    /// The host as the connect string names it (`host:port`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Why it failed (the last attempt's reason).
    pub fn kind(&self) -> &HostFailureKind {
        &self.kind
    }
}

impl fmt::Display for HostFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.host, self.kind)
    }
}

/// Why a host could not be connected to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostFailureKind {
    /// The connection was refused: nothing listens on that port.
    Refused,
    /// The host name did not resolve (a DNS failure); the resolver's message.
    Unresolved(String),
    /// No answer in time: the TCP connect or the handshake timed out (an address that drops
    /// packets, a hung server), or the attempt was still waiting when the operation gave up.
    TimedOut,
    /// The TLS handshake failed (feature `tls`): an untrusted or expired server
    /// certificate, a host name it does not cover, a client certificate the server refused.
    Tls(TlsFailure),
    /// Anything else (connection reset or closed during the handshake, network
    /// unreachable, a malformed handshake reply); the error.
    Other(String),
}

/// Why a TLS handshake failed, as [`HostFailureKind::Tls`] reports it (feature `tls`).
///
/// The client keeps trying (a certificate may be replaced while it waits), logging the
/// failure at `warn!` once per outage; an operation that gives up reports it through
/// [`Error::hosts_tried`](crate::Error::hosts_tried).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The server's certificate does not chain to any CA this client trusts (unknown
    /// issuer): a wrong or missing CA in the client's `TlsConfig`, or a server that
    /// presents a certificate of another authority.
    UnknownCa,
    /// The server's certificate is valid but not for the host name the connect string
    /// names (its subject alternative names do not include it).
    NameMismatch {
        /// The host name (or address) the client checked, from the connect string.
        host: String,
    },
    /// The server's certificate (or one of its chain) has expired.
    Expired,
    /// The server's certificate (or one of its chain) is not valid yet.
    NotYetValid,
    /// The server's certificate was revoked.
    Revoked,
    /// Another problem with the server's certificate (bad signature, wrong key usage, ...).
    BadCertificate(String),
    /// The server aborted the handshake with this alert: typically it requires a client
    /// certificate (`ssl.clientAuth=need`) that this client does not send, or does not trust
    /// the one it sends.
    RejectedByServer(String),
    /// Any other handshake failure (no protocol version or cipher suite in common, a
    /// server that does not speak TLS, ...).
    Handshake(String),
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsFailure::UnknownCa => f.write_str(
                "TLS: the server's certificate is not signed by a trusted CA (unknown issuer)",
            ),
            TlsFailure::NameMismatch { host } => write!(
                f,
                "TLS: the server's certificate is not valid for {host} (host name mismatch)"
            ),
            TlsFailure::Expired => f.write_str("TLS: the server's certificate has expired"),
            TlsFailure::NotYetValid => {
                f.write_str("TLS: the server's certificate is not valid yet")
            }
            TlsFailure::Revoked => f.write_str("TLS: the server's certificate was revoked"),
            TlsFailure::BadCertificate(m) => {
                write!(f, "TLS: the server's certificate is not acceptable: {m}")
            }
            TlsFailure::RejectedByServer(alert) => write!(
                f,
                "TLS: the server refused the handshake ({alert}); does it require a client \
                 certificate that this client lacks or that the server does not trust?"
            ),
            TlsFailure::Handshake(m) => write!(f, "TLS handshake failed: {m}"),
        }
    }
}

impl std::error::Error for TlsFailure {}

impl HostFailureKind {
    /// Classifies a failed connect or handshake.
    pub(crate) fn of(e: &Error) -> HostFailureKind {
        match e {
            // The TLS layer wraps its classified failure in the I/O error.
            Error::Io(e) if e.get_ref().is_some_and(|i| i.is::<TlsFailure>()) => {
                match e.get_ref().and_then(|i| i.downcast_ref::<TlsFailure>()) {
                    Some(t) => HostFailureKind::Tls(t.clone()),
                    None => HostFailureKind::Other(e.to_string()),
                }
            }
            Error::Io(e) => match e.kind() {
                io::ErrorKind::ConnectionRefused => HostFailureKind::Refused,
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => HostFailureKind::TimedOut,
                io::ErrorKind::UnexpectedEof => {
                    HostFailureKind::Other("closed the connection during the handshake".into())
                }
                _ => HostFailureKind::Other(e.to_string()),
            },
            other => HostFailureKind::Other(other.to_string()),
        }
    }
}

impl fmt::Display for HostFailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostFailureKind::Refused => f.write_str("connection refused"),
            HostFailureKind::Unresolved(m) => write!(f, "DNS failure ({m})"),
            HostFailureKind::TimedOut => f.write_str("timed out"),
            HostFailureKind::Tls(t) => write!(f, "{t}"),
            HostFailureKind::Other(m) => f.write_str(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_classified() {
        let io = |k: io::ErrorKind| Error::from(io::Error::new(k, "x"));
        assert_eq!(
            HostFailureKind::of(&io(io::ErrorKind::ConnectionRefused)),
            HostFailureKind::Refused
        );
        assert_eq!(
            HostFailureKind::of(&io(io::ErrorKind::TimedOut)),
            HostFailureKind::TimedOut
        );
        assert_eq!(
            HostFailureKind::of(&io(io::ErrorKind::WouldBlock)),
            HostFailureKind::TimedOut
        );
        assert!(matches!(
            HostFailureKind::of(&io(io::ErrorKind::UnexpectedEof)),
            HostFailureKind::Other(m) if m.contains("handshake")
        ));
        let tls = io::Error::new(io::ErrorKind::InvalidData, TlsFailure::UnknownCa);
        assert_eq!(
            HostFailureKind::of(&Error::from(tls)),
            HostFailureKind::Tls(TlsFailure::UnknownCa)
        );
        assert!(
            HostFailureKind::Tls(TlsFailure::NameMismatch { host: "zk1".into() })
                .to_string()
                .contains("not valid for zk1")
        );
        assert!(matches!(
            HostFailureKind::of(&Error::protocol("bad frame")),
            HostFailureKind::Other(m) if m.contains("bad frame")
        ));
    }
}
