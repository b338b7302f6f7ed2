//! The low-level [`ZooKeeper`] handle: one method per server operation, each synchronous
//! and asynchronous (the callback runs on the event thread, in order with watches), the
//! Java client's semantics in Rust names. The [framework](crate::framework) builds Curator's
//! fluent API on top of it.

mod deferred;
mod ops;
mod servers;
mod types;

pub(crate) use deferred::is_deadline;
pub use types::{Op, OpResult};

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Receiver};
use parking_lot::Mutex;

#[cfg(feature = "sasl")]
use crate::auth::{SaslDigest, Secret};
use crate::error::{Error, Result};
use crate::proto::frame::MAX_PACKET;
use crate::proto::{AuthPacket, KeeperState, Request};
use crate::session::hosts::ConnectString;
use crate::session::pending::{Completion, OneShot};
use crate::session::shared::{SessionConfig, SessionShared, States};
use crate::session::stream::Transport;
use crate::session::{io, EventDispatcher, SharedWatcher, WatchedEvent, Watcher};

/// The smallest `max_buffer_size` accepted: below it even small replies would not fit.
const MIN_BUFFER: usize = 1024;

/// A connection to a ZooKeeper ensemble and the session it carries (Java's `ZooKeeper`).
///
/// Created by [`ZooKeeper::builder`]. It reconnects by itself, to the next host, resuming
/// the session and restoring its watches, until the session expires or the handle is
/// closed. Share it between threads behind an `Arc`; every method takes `&self`.
/// [`close`](ZooKeeper::close) (also run on drop) ends the session at once: its ephemeral
/// nodes go away and the threads are joined.
///
/// ```
/// use zk_curator::{Acl, CreateMode, ZooKeeper};
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// let zk = ZooKeeper::builder(&server.connect_string()).connect()?;
/// let path = zk.create("/hello", b"world", &Acl::open_unsafe(), CreateMode::Persistent)?;
/// let (data, stat) = zk.get_data(&path, false)?;
/// assert_eq!(data, b"world");
/// // A watcher of its own: a closure (argument type inferred), or a SharedWatcher with
/// // the `_shared` forms.
/// zk.get_data_w(&path, |e| println!("{e}"))?;
/// let w = zk_curator::SharedWatcher::new(|e| println!("shared: {e}"));
/// zk.exists_w_shared(&path, &w)?;
/// zk.add_watch(&path, |e| println!("persistent: {e}"), zk_curator::AddWatchMode::Persistent)?;
/// zk.set_data(&path, b"again", stat.version)?;
/// zk.close()?;
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct ZooKeeper {
    core: Arc<SessionShared>,
    io: Mutex<Option<(JoinHandle<()>, Receiver<()>)>>,
    owns_dispatcher: bool,
    /// The chroot as a shared string for result conversions.
    chroot: Option<Arc<str>>,
}

/// Options for a [`ZooKeeper`] handle.
#[must_use = "a builder does nothing until connect() or start()"]
pub struct ZooKeeperBuilder {
    connect_string: String,
    session_timeout: Duration,
    connection_timeout: Duration,
    request_timeout: Option<Duration>,
    close_timeout: Duration,
    can_be_read_only: bool,
    auth: Vec<AuthPacket>,
    default_watcher: Option<SharedWatcher>,
    session: Option<(i64, Vec<u8>)>,
    dispatcher: Option<EventDispatcher>,
    max_buffer: usize,
    on_expired: Option<Arc<dyn Fn() + Send + Sync>>,
    transport: Transport,
    #[cfg(feature = "sasl")]
    sasl: Option<SaslDigest>,
}

impl ZooKeeperBuilder {
    /// The session timeout to request (the server clamps it to its limits, by default 2 to
    /// 20 ticks). Greater than zero and at most 2^31-1 ms. Default 30 s.
    pub fn session_timeout(mut self, t: Duration) -> Self {
        self.session_timeout = t;
        self
    }

    /// How long [`connect`](Self::connect) waits for the session, and the longest a single
    /// TCP connect may take. Must be greater than zero. Default 15 s.
    pub fn connection_timeout(mut self, t: Duration) -> Self {
        self.connection_timeout = t;
        self
    }

    /// How long a synchronous call waits for its reply, and how long a request made while
    /// disconnected waits for a connection. Greater than zero. Default: the session timeout.
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = Some(t);
        self
    }

    /// How long [`close`](ZooKeeper::close) waits for the server to confirm the end of the
    /// session. Default 1 s.
    pub fn close_timeout(mut self, t: Duration) -> Self {
        self.close_timeout = t;
        self
    }

    /// Accept read-only servers (a partitioned minority running with
    /// `readonlymode.enabled`): the state becomes `ConnectedReadOnly`, reads work, writes fail
    /// with `NotReadOnly`, and the client keeps looking for a read-write server.
    pub fn can_be_read_only(mut self, yes: bool) -> Self {
        self.can_be_read_only = yes;
        self
    }

    /// Authentication to send on every connection (e.g. `("digest", b"user:password")`), as
    /// `add_auth_info` sends it. The credentials never appear in `Debug` output, logs or
    /// errors.
    pub fn auth(mut self, scheme: &str, auth: &[u8]) -> Self {
        self.auth.push(AuthPacket {
            auth_type: 0,
            scheme: scheme.to_string(),
            auth: auth.to_vec(),
        });
        self
    }

    /// The watcher for connection state changes and for watches set with `watch = true`.
    /// The closure's argument type is inferred:
    ///
    /// ```
    /// use zk_curator::{KeeperState, ZooKeeper};
    /// # let server = zk_curator::testing::TestingServer::start().unwrap();
    /// let zk = ZooKeeper::builder(&server.connect_string())
    ///     .default_watcher(|e| {
    ///         if e.state() == KeeperState::Expired {
    ///             eprintln!("session expired");
    ///         }
    ///     })
    ///     .connect()?;
    /// # zk.close()?;
    /// # Ok::<(), zk_curator::Error>(())
    /// ```
    pub fn default_watcher(mut self, w: impl Fn(&WatchedEvent) + Send + Sync + 'static) -> Self {
        self.default_watcher = Some(w.into_shared());
        self
    }

    /// Resume an existing session instead of creating one.
    pub fn session(mut self, id: i64, password: &[u8]) -> Self {
        self.session = Some((id, password.to_vec()));
        self
    }

    /// Deliver events on an existing event thread instead of starting one: events of several
    /// handles then share one order. The dispatcher is not stopped when this handle closes.
    pub fn event_dispatcher(mut self, d: &EventDispatcher) -> Self {
        self.dispatcher = Some(d.clone());
        self
    }

    /// The largest request the client sends and (plus a small slack) the largest reply it
    /// accepts; match the servers' `jute.maxbuffer`. 1 KiB to 2^31-1 bytes; default
    /// 1,048,575 bytes.
    pub fn max_buffer_size(mut self, bytes: usize) -> Self {
        self.max_buffer = bytes;
        self
    }

    /// [`default_watcher`](Self::default_watcher) with a watcher whose identity the caller
    /// keeps (the framework checks that a `zookeeper_factory` kept it).
    pub(crate) fn default_shared_watcher(mut self, w: SharedWatcher) -> Self {
        self.default_watcher = Some(w);
        self
    }

    /// Connects over TLS (cargo feature `tls`) to every host of the connect string (the
    /// servers' `secureClientPort`), verifying each server's certificate against the
    /// config's CA certificates and, unless turned off, against the host name the connect
    /// string gives. A failed handshake fails that host's attempt like a refused connection
    /// (the cause is logged at `warn!` once and reported by
    /// [`Error::hosts_tried`](crate::Error::hosts_tried) as
    /// [`HostFailureKind::Tls`](crate::HostFailureKind::Tls)); every reconnect handshakes
    /// again. See `docs/security.md`.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::tls::TlsConfig) -> Self {
        self.transport.tls = Some(config);
        self
    }

    /// Authenticates every connection with SASL DIGEST-MD5 as `user` (the JAAS `Client`
    /// section's `username` and `password` of a Java client using ZooKeeper's
    /// `DigestLoginModule`). The session then holds the identity `sasl:user`, which ACLs
    /// name as `Id::new("sasl", user)`. Watchers hear `SaslAuthenticated` after each
    /// successful exchange (after `SyncConnected`); requests wait until it is done. Wrong
    /// credentials end the handle in `AuthFailed` (watchers hear `AuthFailed`, calls fail
    /// with `Error::AuthFailed`) without retrying. The password never appears in `Debug`
    /// output, logs or errors. Kerberos (GSSAPI) is not supported. See `docs/security.md`.
    ///
    /// ```
    /// use zk_curator::{KeeperState, ZooKeeper};
    /// # let server = zk_curator::testing::TestingServer::builder().sasl_user("bob", "bobs-secret").start()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let zk = ZooKeeper::builder(&server.connect_string())
    ///     .sasl_digest_md5("bob", "bobs-secret")
    ///     .default_watcher(move |e| { let _ = tx.send(e.state()); })
    ///     .connect()?;
    /// assert_eq!(rx.recv()?, KeeperState::SyncConnected);
    /// assert_eq!(rx.recv()?, KeeperState::SaslAuthenticated);
    /// assert_eq!(zk.who_am_i()?.iter().find(|c| c.auth_scheme == "sasl").map(|c| c.user.as_str()), Some("bob"));
    /// # zk.close()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "sasl")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sasl")))]
    pub fn sasl_digest_md5(self, user: &str, password: &str) -> Self {
        self.sasl_digest(user, Secret::new(password.as_bytes().to_vec()))
    }

    /// [`sasl_digest_md5`](Self::sasl_digest_md5) with the password already wrapped.
    #[cfg(feature = "sasl")]
    pub(crate) fn sasl_digest(mut self, user: &str, password: Secret) -> Self {
        self.sasl = Some(SaslDigest {
            user: user.to_string(),
            password,
        });
        self
    }

    /// Called when the session expires, on the thread that notices, before the `Expired`
    /// event is delivered (the framework replaces the handle there).
    pub(crate) fn on_expired(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_expired = Some(Arc::new(f));
        self
    }

    /// Starts the handle and waits until the session is established (or the connection
    /// timeout passes: then the handle is closed and `Error::Timeout` returned, or, when a
    /// TLS handshake failed meanwhile, `Error::ConnectionLoss` whose
    /// [`hosts_tried`](Error::hosts_tried) name the cause: a certificate problem does not
    /// go away by waiting longer).
    pub fn connect(self) -> Result<ZooKeeper> {
        let wait = self.connection_timeout;
        let zk = self.start()?;
        let st = zk.core.wait_state(wait, |s| s != States::Connecting);
        match st {
            States::Connected | States::ConnectedReadOnly => Ok(zk),
            other => {
                let tls_failed = |e: &Error| {
                    e.hosts_tried().is_some_and(|h| {
                        h.iter()
                            .any(|f| matches!(f.kind(), crate::HostFailureKind::Tls(_)))
                    })
                };
                let err = match other.dead_error() {
                    Some(e) => e,
                    None => Some(zk.connection_loss())
                        .filter(tls_failed)
                        .unwrap_or(Error::Timeout),
                };
                let _ = zk.close();
                Err(err)
            }
        }
    }

    /// Checks every option; the error names the one at fault. [`start`](Self::start) and
    /// [`connect`](Self::connect) call it first; the framework's `build()` too, so that its
    /// `start()` cannot fail on a setting.
    pub(crate) fn validate(&self) -> Result<ConnectString> {
        let connect = ConnectString::parse(&self.connect_string)?;
        let bad = |msg: String| Err(Error::InvalidArgument(msg));
        let max_ms = Duration::from_millis(i32::MAX as u64);
        if self.session_timeout.is_zero() {
            return bad("session_timeout must be greater than zero".into());
        }
        if self.session_timeout > max_ms {
            return bad(format!(
                "session_timeout {:?} is longer than the protocol allows (2^31-1 ms, about 24.8 days)",
                self.session_timeout
            ));
        }
        if self.connection_timeout.is_zero() {
            return bad(
                "connection_timeout must be greater than zero (it bounds the wait for a connection \
                 and each TCP connect)"
                    .into(),
            );
        }
        if self.request_timeout.is_some_and(|t| t.is_zero()) {
            return bad("request_timeout must be greater than zero".into());
        }
        if !(MIN_BUFFER..=i32::MAX as usize).contains(&self.max_buffer) {
            return bad(format!(
                "max_buffer_size {} is out of range ({MIN_BUFFER} ..= 2^31-1 bytes)",
                self.max_buffer
            ));
        }
        // (The credentials themselves stay out of the message.)
        if self.auth.iter().any(|a| a.scheme.is_empty()) {
            return bad("auth: the scheme must not be empty (e.g. \"digest\")".into());
        }
        #[cfg(feature = "sasl")]
        if self.sasl.as_ref().is_some_and(|s| s.user.is_empty()) {
            return bad("sasl_digest_md5: the user name must not be empty".into());
        }
        Ok(connect)
    }

    /// Starts the handle and returns at once; it connects in the background (watch the
    /// state with [`ZooKeeper::wait_connected`] or a default watcher).
    pub fn start(self) -> Result<ZooKeeper> {
        let connect = self.validate()?;
        let (dispatcher, owns) = match self.dispatcher {
            Some(d) => (d, false),
            None => (EventDispatcher::start()?, true),
        };
        let chroot: Option<Arc<str>> = connect.chroot.as_deref().map(Arc::from);
        let cfg = SessionConfig {
            connect,
            session_timeout: self.session_timeout,
            connection_timeout: self.connection_timeout,
            request_timeout: self.request_timeout.unwrap_or(self.session_timeout),
            close_timeout: self.close_timeout,
            can_be_read_only: self.can_be_read_only,
            session: self.session,
            max_buffer: self.max_buffer,
            transport: self.transport,
            #[cfg(feature = "sasl")]
            sasl: self.sasl,
        };
        let (wake_tx, wake_rx) = unbounded();
        let core = SessionShared::new(
            cfg,
            self.default_watcher,
            dispatcher,
            self.auth,
            wake_tx,
            self.on_expired,
        );
        let (done_tx, done_rx) = bounded(0);
        let handle = io::spawn(core.clone(), wake_rx, done_tx, crate::random::seed())?;
        Ok(ZooKeeper {
            core,
            io: Mutex::new(Some((handle, done_rx))),
            owns_dispatcher: owns,
            chroot,
        })
    }
}

impl ZooKeeper {
    /// A builder for a handle on `connect_string`: `host:port[,host:port...][/chroot]`
    /// (default port 2181, IPv6 in `[brackets]`). Hosts are shuffled, then tried in turn.
    pub fn builder(connect_string: &str) -> ZooKeeperBuilder {
        ZooKeeperBuilder {
            connect_string: connect_string.to_string(),
            session_timeout: Duration::from_secs(30),
            connection_timeout: Duration::from_secs(15),
            request_timeout: None,
            close_timeout: Duration::from_secs(1),
            can_be_read_only: false,
            auth: Vec::new(),
            default_watcher: None,
            session: None,
            dispatcher: None,
            max_buffer: MAX_PACKET,
            on_expired: None,
            transport: Transport::default(),
            #[cfg(feature = "sasl")]
            sasl: None,
        }
    }

    /// The handle's state.
    pub fn state(&self) -> States {
        self.core.state()
    }

    /// The session id (0 before the first connection).
    pub fn session_id(&self) -> i64 {
        self.core.info().session_id
    }

    /// The session password (16 bytes once connected); with the id it resumes the session
    /// from another handle.
    pub fn session_password(&self) -> Vec<u8> {
        self.core.info().passwd
    }

    /// The session timeout the server granted (the requested one before the first connect).
    pub fn negotiated_timeout(&self) -> Duration {
        self.core.info().negotiated
    }

    /// The zxid of the last reply (the `lastZxidSeen` of the next handshake). A reply whose
    /// zxid cannot be right (behind an earlier one of the same connection, in another epoch
    /// on the same connection, or further ahead than any ensemble commits in the time
    /// elapsed) is treated as a corrupt frame: the connection is dropped and the value never
    /// gets here.
    pub fn last_zxid(&self) -> i64 {
        self.core.last_zxid()
    }

    /// The event thread this handle delivers on.
    pub fn event_dispatcher(&self) -> &EventDispatcher {
        &self.core.events
    }

    /// The chroot of the connect string, if any.
    pub fn chroot(&self) -> Option<&str> {
        self.chroot.as_deref()
    }

    /// Blocks until connected (read-write or read-only) or the timeout passes; false on
    /// timeout or if the handle died meanwhile.
    pub fn wait_connected(&self, timeout: Duration) -> bool {
        self.core
            .wait_state(timeout, |s| s.is_connected() || !s.is_alive())
            .is_connected()
    }

    /// True if `w` is this handle's default watcher.
    pub(crate) fn has_default_watcher(&self, w: &SharedWatcher) -> bool {
        self.core
            .default_watcher
            .as_ref()
            .is_some_and(|d| d.same_as(w))
    }

    /// Number of watches this handle holds (one per path and kind).
    pub fn watch_count(&self) -> usize {
        self.core.registry.lock().len()
    }

    /// Closes the session and the handle.
    ///
    /// If connected, sends closeSession and waits up to the close timeout for the server's
    /// answer (the session's ephemeral nodes are then gone); then stops the I/O thread, fails
    /// what is still pending with `Error::Closed`, delivers `Closed` to the watchers and stops
    /// the event thread (if the handle owns it). Never hangs, even with the server gone;
    /// calling it from a watcher or callback is fine; calling it twice is a no-op. Later calls
    /// on the handle return `Error::Closed`.
    pub fn close(&self) -> Result<()> {
        if !self.core.begin_close() {
            return Ok(());
        }
        let was_connected = self.core.state().is_connected();
        let mut result = Ok(());
        if was_connected {
            let slot = OneShot::new();
            self.core
                .submit(&Request::CloseSession, None, Completion::Sync(slot.clone()));
            if let Err(e) = slot.wait(self.core.cfg.close_timeout) {
                log::debug!("closeSession: {e}");
                result = Err(e);
            }
        }
        let dead_before = !self.core.state().is_alive();
        self.core.update_info(|i| {
            if i.state.is_alive() {
                i.state = States::Closed;
            }
        });
        self.core.stop_io();
        self.core.stop_ro_probe();
        self.join_io();
        self.core.fail_inflight(&Error::Closed);
        self.core.fail_queued(&Error::Closed, false);
        if !dead_before {
            self.core.emit_state(KeeperState::Closed);
        }
        self.core.registry.lock().clear();
        if self.owns_dispatcher {
            self.core.events.shutdown();
        }
        // A session that was already gone on the server is not an error of close().
        match result {
            Err(Error::SessionExpired) | Err(Error::ConnectionLoss { .. }) => Ok(()),
            other => other,
        }
    }

    /// Waits for the I/O thread, bounded: a TCP connect in progress cannot be interrupted,
    /// so after the bound the thread is left to finish on its own (it exits as soon as its
    /// connect returns).
    fn join_io(&self) {
        let Some((handle, done)) = self.io.lock().take() else {
            return;
        };
        let bound = self.core.cfg.connection_timeout.min(Duration::from_secs(2));
        let start = Instant::now();
        // `done` disconnects when the thread exits.
        let _ = done.recv_timeout(bound);
        if handle.is_finished() || start.elapsed() < bound {
            let _ = handle.join();
        } else {
            log::warn!("zk-io did not stop within {bound:?}; detaching it");
        }
    }

    /// Adds authentication to the session (replayed on every reconnect). When connected it
    /// waits for the server's answer: `Err(AuthFailed)` means the server rejected it and the
    /// handle is now dead (as in Java).
    pub fn add_auth_info(&self, scheme: &str, auth: &[u8]) -> Result<()> {
        self.check_alive()?;
        let slot = OneShot::new();
        self.core.add_auth(
            AuthPacket {
                auth_type: 0,
                scheme: scheme.to_string(),
                auth: auth.to_vec(),
            },
            Some(Completion::Sync(slot.clone())),
        );
        slot.wait(self.core.cfg.request_timeout).map(|_| ())
    }

    /// [`add_auth_info`](Self::add_auth_info), asynchronously: the callback hears the
    /// server's answer (after the next handshake, when disconnected now).
    pub fn add_auth_info_async(
        &self,
        scheme: &str,
        auth: &[u8],
        cb: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<()> {
        self.check_alive()?;
        self.core.add_auth(
            AuthPacket {
                auth_type: 0,
                scheme: scheme.to_string(),
                auth: auth.to_vec(),
            },
            Some(Completion::Async(Box::new(move |r| cb(r.map(|_| ()))))),
        );
        Ok(())
    }

    /// Makes this handle behave as if the server had expired its session: watchers get
    /// `Expired`, pending and later calls fail with `SessionExpired`, the connection is
    /// dropped (the server-side session lives on until its own timeout). The equivalent of
    /// the Java client's `getTestable().injectSessionExpiration()`, for tests; the framework
    /// also uses it when a suspension outlasts the session timeout.
    pub fn inject_session_expiration(&self) {
        self.core.stop_io();
        self.core
            .terminate(States::Expired, Error::SessionExpired, KeeperState::Expired);
    }

    /// The `ConnectionLoss` of an operation that gave up waiting for a connection: with
    /// the hosts tried since the connection was lost.
    pub(crate) fn connection_loss(&self) -> Error {
        self.core.connection_loss()
    }

    /// Fails the requests queued while disconnected whose deadline has passed (the
    /// framework calls it at an operation's connection deadline, so that it does not wait
    /// for the I/O thread's next connect attempt).
    pub(crate) fn expire_queued(&self) {
        self.core.fail_queued(&self.core.connection_loss(), true);
    }

    fn check_alive(&self) -> Result<()> {
        if self.core.is_closing() {
            return Err(Error::Closed);
        }
        match self.core.state().dead_error() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl std::fmt::Debug for ZooKeeper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = self.core.info();
        f.debug_struct("ZooKeeper")
            .field("state", &i.state)
            .field("session_id", &format_args!("{:#x}", i.session_id))
            .field("hosts", &self.core.cfg.connect.hosts)
            .field("chroot", &self.chroot)
            .finish()
    }
}

/// Shows the options, never a secret: the auth schemes without their credentials, the
/// session id without its password, the SASL user without the password, the TLS settings
/// without the private key.
impl std::fmt::Debug for ZooKeeperBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth: Vec<&str> = self.auth.iter().map(|a| a.scheme.as_str()).collect();
        let mut d = f.debug_struct("ZooKeeperBuilder");
        d.field("connect_string", &self.connect_string)
            .field("session_timeout", &self.session_timeout)
            .field("connection_timeout", &self.connection_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("can_be_read_only", &self.can_be_read_only)
            .field("auth", &auth)
            .field(
                "session_id",
                &self.session.as_ref().map(|(id, _)| format!("{id:#x}")),
            )
            .field("max_buffer_size", &self.max_buffer)
            .field("transport", &self.transport);
        #[cfg(feature = "sasl")]
        d.field("sasl", &self.sasl);
        d.finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_debug_hides_credentials() {
        let b = ZooKeeper::builder("127.0.0.1:2181")
            .auth("digest", b"dave:digest-pw-1")
            .session(0x1234, b"session-pw-2");
        #[cfg(feature = "sasl")]
        let b = b.sasl_digest_md5("sasha", "sasl-pw-3");
        let shown = format!("{b:?}");
        assert!(
            shown.contains("digest") && shown.contains("0x1234"),
            "{shown}"
        );
        #[cfg(feature = "sasl")]
        assert!(shown.contains("sasha"), "{shown}");
        for secret in ["digest-pw-1", "session-pw-2", "sasl-pw-3"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }

    #[test]
    fn start_checks_every_option_and_names_it() {
        let b = || ZooKeeper::builder("127.0.0.1:2181");
        let cases = [
            ("connect_string", ZooKeeper::builder("a:1,,b:2")),
            ("session_timeout", b().session_timeout(Duration::ZERO)),
            ("connection_timeout", b().connection_timeout(Duration::ZERO)),
            ("request_timeout", b().request_timeout(Duration::ZERO)),
            ("max_buffer_size", b().max_buffer_size(10)),
            ("auth", b().auth("", b"secret")),
            #[cfg(feature = "sasl")]
            ("sasl_digest_md5", b().sasl_digest_md5("", "secret")),
        ];
        for (option, builder) in cases {
            match builder.start() {
                Err(Error::InvalidArgument(m)) => {
                    assert!(m.contains(option) && !m.contains("secret"), "{option}: {m}")
                }
                other => panic!("{option}: {other:?}"),
            }
        }
    }
}
