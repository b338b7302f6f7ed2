//! One TLS connection shared by a reader thread and writer threads, as a plain socket is:
//! the session's `zk-io` thread reads while callers write under the session's writer lock
//! (and the TestingServer's connection threads do the same).
//!
//! rustls keeps one state machine per connection, so the state sits behind a short lock
//! that is **never held during I/O**:
//!
//! * **read** (one reader): take decrypted bytes if there are any; otherwise read raw
//!   bytes from the socket *without* the lock (blocking, with the socket's read timeout,
//!   which surfaces as usual so the reader can tick), then lock, feed them to rustls and
//!   decrypt.
//! * **write**: lock, encrypt into a buffer, unlock, write the buffer to the socket. The
//!   caller serializes writes (the session's writer lock, the server's one writer thread),
//!   so records reach the wire in the order they were encrypted. Anything the reader side
//!   made rustls want to send (a TLS 1.3 key update answer) is encrypted in order with the
//!   next write; the reader never writes.
//!
//! Handshake failures and later TLS errors surface as `io::Error`s carrying a
//! [`TlsFailure`](crate::TlsFailure), which the connection code reports per host.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use parking_lot::Mutex;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection};
#[cfg(feature = "testing")]
use rustls::{ServerConfig, ServerConnection};

use super::verify::classify;
use crate::TlsFailure;

/// The largest TLS record plus its header: one socket read's worth.
const READ_CHUNK: usize = 16 * 1024 + 512;

struct State {
    conn: Connection,
    /// Bytes read from the socket that rustls has not taken yet.
    pending: Vec<u8>,
}

/// A TLS connection over a TCP socket; clones share it (one reads, the others write).
pub(crate) struct TlsStream {
    sock: TcpStream,
    state: Arc<Mutex<State>>,
    /// The name checked (for error messages).
    host: Arc<str>,
}

impl TlsStream {
    /// Runs the client handshake over `sock` (bounded by its timeouts).
    pub(crate) fn client(
        sock: TcpStream,
        config: Arc<ClientConfig>,
        name: ServerName<'static>,
        host: &str,
    ) -> io::Result<TlsStream> {
        let conn = ClientConnection::new(config, name).map_err(|e| failure(&e, host))?;
        TlsStream::handshake(sock, Connection::Client(conn), host)
    }

    /// Runs the server handshake over an accepted `sock` (bounded by its timeouts); the
    /// TestingServer's side, so it exists only with that feature.
    #[cfg(feature = "testing")]
    pub(crate) fn server(sock: TcpStream, config: Arc<ServerConfig>) -> io::Result<TlsStream> {
        let conn = ServerConnection::new(config).map_err(|e| failure(&e, "client"))?;
        TlsStream::handshake(sock, Connection::Server(conn), "client")
    }

    fn handshake(sock: TcpStream, mut conn: Connection, host: &str) -> io::Result<TlsStream> {
        // Encrypted writes go out whole: the caller's frame limit bounds them.
        conn.set_buffer_limit(None);
        let mut io = &sock;
        while conn.is_handshaking() {
            match conn.complete_io(&mut io) {
                Ok((0, 0)) if conn.is_handshaking() => return Err(closed_early()),
                Ok(_) => {}
                Err(e) => return Err(map_io(e, host)),
            }
        }
        // The last flight (a client's Finished) may still be buffered.
        while conn.wants_write() {
            conn.write_tls(&mut io).map_err(|e| map_io(e, host))?;
        }
        Ok(TlsStream {
            sock,
            state: Arc::new(Mutex::new(State {
                conn,
                pending: Vec::new(),
            })),
            host: Arc::from(host),
        })
    }

    /// The socket underneath (timeouts, shutdown).
    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.sock
    }

    /// Another handle on the same connection.
    pub(crate) fn try_clone(&self) -> io::Result<TlsStream> {
        Ok(TlsStream {
            sock: self.sock.try_clone()?,
            state: Arc::clone(&self.state),
            host: Arc::clone(&self.host),
        })
    }

    /// Reads decrypted bytes; `Ok(0)` at the end of the stream. Socket timeouts come back
    /// as `WouldBlock`/`TimedOut` with the connection intact.
    pub(crate) fn read(&self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            {
                let mut st = self.state.lock();
                loop {
                    match st.conn.reader().read(out) {
                        Ok(n) => return Ok(n), // 0: the peer's close_notify
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => return Err(e),
                    }
                    if st.pending.is_empty() {
                        break;
                    }
                    let State { conn, pending } = &mut *st;
                    let mut src: &[u8] = pending;
                    let n = conn.read_tls(&mut src)?;
                    pending.drain(..n);
                    conn.process_new_packets()
                        .map_err(|e| failure(&e, &self.host))?;
                }
            }
            let n = (&self.sock).read(&mut chunk)?;
            if n == 0 {
                return Ok(0);
            }
            self.state.lock().pending.extend_from_slice(&chunk[..n]);
        }
    }

    /// Encrypts `data` and writes it; callers serialize their writes (see the module docs).
    pub(crate) fn write_all(&self, data: &[u8]) -> io::Result<()> {
        let mut wire = Vec::with_capacity(data.len() + 64);
        {
            let mut st = self.state.lock();
            st.conn.writer().write_all(data)?;
            while st.conn.wants_write() {
                st.conn.write_tls(&mut wire)?;
            }
        }
        (&self.sock).write_all(&wire)
    }
}

/// A rustls error as an `io::Error` carrying its [`TlsFailure`].
fn failure(e: &rustls::Error, host: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, classify(e, host))
}

/// rustls reports handshake errors as `io::Error`s wrapping a `rustls::Error`: classify
/// those, and a peer that hangs up mid-handshake; timeouts pass unchanged.
fn map_io(e: io::Error, host: &str) -> io::Error {
    if let Some(t) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return failure(t, host);
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => closed_early(),
        _ => e,
    }
}

/// The peer hung up during the handshake: most likely not a TLS port.
fn closed_early() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        TlsFailure::Handshake(
            "the server closed the connection during the TLS handshake (is this its \
             secureClientPort, and does it speak TLS?)"
                .into(),
        ),
    )
}

impl Read for &TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        TlsStream::read(self, buf)
    }
}

impl Write for &TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        TlsStream::write_all(self, buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        TlsStream::write_all(self, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("peer", &self.sock.peer_addr().ok())
            .finish_non_exhaustive()
    }
}
