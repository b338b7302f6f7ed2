//! The connection a session runs over: a plain TCP socket, or (feature `tls`) a TLS
//! connection over one. Both are shared the same way: `zk-io` reads through one handle,
//! callers write through another under the writer lock, and shutting the socket down wakes
//! a blocked reader or writer. The rest of the session engine sees only [`Stream`].
//!
//! Opening one ([`Stream::open`]) includes the TLS handshake, so a certificate problem fails
//! the connection attempt to that host, like a refused connection, and is reported per host.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

/// A session's connection: plain or TLS.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(crate::tls::stream::TlsStream),
}

/// What a connection needs beyond TCP: TLS settings (feature `tls`), or nothing.
#[derive(Debug, Clone, Default)]
pub(crate) struct Transport {
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::TlsConfig>,
}

impl Stream {
    /// Wraps a connected socket: over TLS when `transport` says so (the handshake runs now,
    /// checking the certificate against `host`, the connect string's host), else as is.
    pub(crate) fn open(sock: TcpStream, transport: &Transport, host: &str) -> io::Result<Stream> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &transport.tls {
            return tls.connect(sock, host).map(Stream::Tls);
        }
        let _ = (transport, host);
        Ok(Stream::Plain(sock))
    }

    /// The socket underneath (timeouts, shutdown handles).
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.tcp(),
        }
    }

    /// Another handle on the same connection (for the writer side).
    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Plain(s) => Stream::Plain(s.try_clone()?),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Stream::Tls(s.try_clone()?),
        })
    }

    /// Shuts the socket down both ways (ignoring errors: it may be gone already).
    pub(crate) fn shutdown(&self) {
        let _ = self.tcp().shutdown(Shutdown::Both);
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match *self {
            Stream::Plain(s) => (&*s).read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match *self {
            Stream::Plain(s) => (&*s).write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write_all(buf).map(|()| buf.len()),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match *self {
            Stream::Plain(s) => (&*s).write_all(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether a read or write error only means that the socket's timeout ran out (or a signal
/// interrupted it): the connection is fine, try again.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
