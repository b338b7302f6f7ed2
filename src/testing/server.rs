//! [`TestingServer`]: one in-process ZooKeeper on a loopback port, with its builder and
//! the fault-injection and inspection methods tests use.

use std::time::Duration;

use super::ensemble::Ensemble;
use super::shared::Config;
use crate::error::Result;
use crate::proto::OpCode;

/// The commit latency of [`TestingServerBuilder::realistic`].
const REALISTIC_COMMIT_LATENCY: Duration = Duration::from_micros(500);

/// Settings for a [`TestingServer`] or [`TestingCluster`](super::TestingCluster).
///
/// Defaults follow ZooKeeper's: `tickTime` 2 s, session timeouts negotiated into 2 to 20
/// ticks (4 s to 40 s), extended types (TTL nodes) enabled, no super user, a free port. The
/// container/TTL reaper runs every 100 ms instead of the server's 60 s, so tests see
/// containers go without waiting a minute. Writes commit at once (no commit latency), which
/// makes them 10–20 times faster than on a real server; [`realistic`](Self::realistic) gives
/// production-like timing and [`curator_compatible`](Self::curator_compatible) the settings
/// of Curator's `TestingServer`.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::testing::TestingServer;
///
/// // Curator's TestingServer settings with a real server's write timing.
/// let server = TestingServer::builder().curator_compatible().realistic().start()?;
/// let zk = zk_curator::ZooKeeper::builder(&server.connect_string())
///     .session_timeout(Duration::from_secs(60))
///     .connect()?;
/// assert_eq!(zk.negotiated_timeout(), Duration::from_secs(20)); // capped at 20 ticks
/// zk.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until start() is called"]
pub struct TestingServerBuilder {
    port: u16,
    cfg: Config,
    min_set: bool,
    max_set: bool,
    /// Server certificate chain, key and client CA as given (parsed by `start`).
    #[cfg(feature = "tls")]
    tls: Option<TlsPem>,
}

/// The PEM a builder was given for TLS; `Debug` hides the key.
#[cfg(feature = "tls")]
#[derive(Debug, Clone)]
struct TlsPem {
    cert_chain: Vec<u8>,
    key: crate::auth::Secret,
    client_ca: Option<Vec<u8>>,
}

impl Default for TestingServerBuilder {
    fn default() -> Self {
        TestingServerBuilder {
            port: 0,
            cfg: Config {
                tick: Duration::from_millis(2000),
                min_session: Duration::from_millis(4000),
                max_session: Duration::from_millis(40000),
                container_interval: Duration::from_millis(100),
                extended_types: true,
                super_digest: None,
                commit_latency: Duration::ZERO,
                #[cfg(feature = "sasl")]
                sasl_users: Vec::new(),
                #[cfg(feature = "tls")]
                tls: None,
            },
            min_set: false,
            max_set: false,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl TestingServerBuilder {
    /// The loopback port to listen on; 0 (the default) picks a free one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The tick: the unit of session timeouts and the granularity of expiry.
    pub fn tick_time(mut self, tick: Duration) -> Self {
        self.cfg.tick = tick.max(Duration::from_millis(1));
        self
    }

    /// The smallest negotiated session timeout (default 2 ticks).
    pub fn min_session_timeout(mut self, d: Duration) -> Self {
        self.cfg.min_session = d;
        self.min_set = true;
        self
    }

    /// The largest negotiated session timeout (default 20 ticks).
    pub fn max_session_timeout(mut self, d: Duration) -> Self {
        self.cfg.max_session = d;
        self.max_set = true;
        self
    }

    /// How often empty containers and expired TTL nodes are looked for (default 100 ms).
    pub fn container_check_interval(mut self, d: Duration) -> Self {
        self.cfg.container_interval = d.max(Duration::from_millis(1));
        self
    }

    /// Whether TTL nodes are allowed (`zookeeper.extendedTypesEnabled`, default true); when
    /// off, createTTL fails with Unimplemented.
    pub fn extended_types(mut self, on: bool) -> Self {
        self.cfg.extended_types = on;
        self
    }

    /// Credentials (`user:password`) whose digest auth grants `super`, like
    /// `zookeeper.DigestAuthenticationProvider.superDigest`.
    pub fn super_user(mut self, user: &str, password: &str) -> Self {
        self.cfg.super_digest = Some(crate::auth::digest::digest_id(&format!(
            "{user}:{password}"
        )));
        self
    }

    /// How long every write transaction takes to commit, as the sync of a real server's
    /// transaction log to disk does (default zero: at once).
    ///
    /// Applies to create (every kind), delete, setData, setACL, check, multi, reconfig,
    /// createSession and closeSession, failed ones included (a real server logs those too),
    /// and to the server's own transactions (expiry, container and TTL reaping). A write is
    /// applied at once, but its reply and the notifications it fires wait for its commit,
    /// and a session's later replies queue behind it; other sessions' reads are answered at
    /// once. Commits happen in zxid order, one sync at a time: a write that arrives while a
    /// sync runs waits for the next one, which it shares with every write that arrived
    /// meanwhile (ZooKeeper's group commit). So one client's sequential writes take at least
    /// `latency` each, and a server's write throughput is bounded the way a disk bounds it.
    ///
    /// Separate from [`TestingServer::set_latency`], the network fault that delays every
    /// frame, reads included. Change it later with [`TestingServer::set_commit_latency`].
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use zk_curator::testing::TestingServer;
    /// use zk_curator::{Acl, CreateMode, ZooKeeper};
    ///
    /// let server = TestingServer::builder().commit_latency(Duration::from_millis(5)).start()?;
    /// let zk = ZooKeeper::builder(&server.connect_string()).connect()?;
    /// let t = Instant::now();
    /// zk.create("/a", b"", &Acl::open_unsafe(), CreateMode::Persistent)?;
    /// assert!(t.elapsed() >= Duration::from_millis(5)); // a write waits for its commit
    /// zk.get_data("/a", false)?; // reads do not
    /// zk.close()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn commit_latency(mut self, latency: Duration) -> Self {
        self.cfg.commit_latency = latency;
        self
    }

    /// Production-like timing: a commit latency of 500 µs
    /// ([`commit_latency`](Self::commit_latency)), which puts write and session-establishment
    /// latencies close to those of Apache ZooKeeper 3.8 syncing its log to local disk
    /// (medians on the project's 2-core machine: a create takes 0.33–0.63 ms on ZooKeeper,
    /// 0.62–0.65 ms here with this preset and 0.02–0.05 ms without it; a session 0.8–1.6 ms,
    /// 0.9 ms and 0.25–0.66 ms). `docs/testing.md`, "Timing", has the figures and says when
    /// to use it; `tests/testing_timing.rs` checks it against a real server. Reads stay as
    /// fast as without it. Nothing else changes: combine it with any other setting.
    pub fn realistic(self) -> Self {
        self.commit_latency(REALISTIC_COMMIT_LATENCY)
    }

    /// The settings of Apache Curator's `TestingServer` (curator-test 5.x, `InstanceSpec`
    /// defaults): `tickTime` 1 s, session timeouts negotiated into 1 s to 20 s. For suites
    /// written against Curator, whose expected timings assume them. The reaper interval
    /// stays 100 ms (Curator's tests that wait for containers lower the server's 60 s with a
    /// system property this server cannot see); later settings override these.
    pub fn curator_compatible(self) -> Self {
        self.tick_time(Duration::from_millis(1000))
            .min_session_timeout(Duration::from_millis(1000))
            .max_session_timeout(Duration::from_millis(20_000))
    }

    /// Registers the SASL provider with a DIGEST-MD5 user, as a JAAS `Server` section
    /// with ZooKeeper's `DigestLoginModule` and `user_<user>="<password>"` does (call it once
    /// per user). Clients authenticate with `sasl_digest_md5(user, password)`; the session
    /// then holds `sasl:<user>`, and `sasl` ACL ids become valid. A wrong password is
    /// answered with `AuthFailed` and the connection is closed, as ZooKeeper 3.8 does.
    #[cfg(feature = "sasl")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sasl")))]
    pub fn sasl_user(mut self, user: &str, password: &str) -> Self {
        self.cfg.sasl_users.push((
            user.to_string(),
            crate::auth::Secret::new(password.as_bytes().to_vec()),
        ));
        self
    }

    /// Serves TLS only (cargo feature `tls`), like a server whose clients use its
    /// `secureClientPort`: `cert_chain` (PEM `CERTIFICATE` blocks, the server's own first)
    /// and its `private_key` (PEM) identify the server; with `client_ca` (PEM) every client
    /// must present a certificate chaining to it (`ssl.clientAuth=need`). Checked by
    /// [`start`](Self::start); the key never appears in `Debug` output or errors.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use zk_curator::testing::TestingServer;
    /// use zk_curator::tls::TlsConfig;
    /// use zk_curator::ZooKeeper;
    /// // A CA and a server certificate for "localhost" (made here with rcgen).
    /// let ca_key = rcgen::KeyPair::generate()?;
    /// let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    /// params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    /// let ca = params.self_signed(&ca_key)?;
    /// let ca_issuer = rcgen::Issuer::new(params, &ca_key);
    /// let server_key = rcgen::KeyPair::generate()?;
    /// let server_cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])?
    ///     .signed_by(&server_key, &ca_issuer)?;
    ///
    /// let server = TestingServer::builder()
    ///     .tls(server_cert.pem().as_bytes(), server_key.serialize_pem().as_bytes(), None)
    ///     .start()?;
    /// let tls = TlsConfig::builder().ca_pem(ca.pem()).build()?;
    /// let zk = ZooKeeper::builder(&format!("localhost:{}", server.port())).tls(tls).connect()?;
    /// assert!(zk.exists("/", false)?.is_some());
    /// # zk.close()?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, cert_chain: &[u8], private_key: &[u8], client_ca: Option<&[u8]>) -> Self {
        self.tls = Some(TlsPem {
            cert_chain: cert_chain.to_vec(),
            key: crate::auth::Secret::new(private_key.to_vec()),
            client_ca: client_ca.map(<[u8]>::to_vec),
        });
        self
    }

    pub(crate) fn config(&self) -> Result<Config> {
        let mut cfg = self.cfg.clone();
        if !self.min_set {
            cfg.min_session = cfg.tick * 2;
        }
        if !self.max_set {
            cfg.max_session = cfg.tick * 20;
        }
        #[cfg(feature = "tls")]
        if let Some(t) = &self.tls {
            cfg.tls = Some(super::shared::ServerTls {
                config: crate::tls::server_config(&t.cert_chain, &t.key, t.client_ca.as_deref())?,
                client_auth: t.client_ca.is_some(),
            });
        }
        Ok(cfg)
    }

    /// Starts the server.
    pub fn start(self) -> Result<TestingServer> {
        let ensemble = Ensemble::start(self.config()?, &[self.port])?;
        Ok(TestingServer { ensemble })
    }
}

/// An in-process ZooKeeper server on `127.0.0.1` that speaks the real wire protocol.
///
/// It behaves like a standalone Apache ZooKeeper 3.8.0 for everything a client can observe
/// (see `docs/testing.md` for the known differences), keeps its data and sessions in memory
/// across [`stop`](Self::stop)/[`restart`](Self::restart) as a real server keeps them on
/// disk, and can be broken on purpose. Dropping it stops every thread.
///
/// ```
/// use std::io::Write;
/// use std::net::TcpStream;
/// use zk_curator::proto::{raw, ConnectRequest, ConnectResponse, Record};
/// use zk_curator::testing::TestingServer;
///
/// let server = TestingServer::start()?;
/// let mut sock = TcpStream::connect(server.connect_string())?;
/// let mut buf = Vec::new();
/// let hello = ConnectRequest { timeout: 10_000, passwd: vec![0; 16], read_only: Some(false), ..Default::default() };
/// raw::encode_record_frame(&mut buf, &hello);
/// sock.write_all(&buf)?;
/// let mut frames = raw::FrameReader::new(raw::DEFAULT_MAX_FRAME);
/// let resp = ConnectResponse::decode_exact(frames.read_frame(&mut sock)?)?;
/// assert_eq!(resp.timeout, 10_000);
/// assert_eq!(server.session_ids(), vec![resp.session_id]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TestingServer {
    ensemble: Ensemble,
}

impl std::fmt::Debug for TestingServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestingServer")
            .field("connect_string", &self.connect_string())
            .finish()
    }
}

impl TestingServer {
    /// Starts a server with default settings on a free loopback port.
    pub fn start() -> Result<TestingServer> {
        TestingServerBuilder::default().start()
    }

    /// A builder for a server with custom settings.
    pub fn builder() -> TestingServerBuilder {
        TestingServerBuilder::default()
    }

    /// `127.0.0.1:<port>`.
    pub fn connect_string(&self) -> String {
        self.ensemble.connect_string()
    }

    /// The listening port (the same across restarts).
    pub fn port(&self) -> u16 {
        self.ensemble.member(0).port()
    }

    /// Stops listening and closes every connection. Data and sessions are kept, and
    /// sessions do not age while the server is down: after [`restart`](Self::restart)
    /// each gets a fresh timeout, as a real server reloading its snapshot does.
    pub fn stop(&self) {
        self.ensemble.kill(0);
    }

    /// Starts listening again on the same port; clients can resume their sessions.
    pub fn restart(&self) -> Result<()> {
        self.ensemble.restart(0)
    }

    /// Stops every thread and closes every socket (also done on drop).
    pub fn close(self) {
        self.ensemble.close();
    }

    /// Closes every client connection; sessions survive, so clients reconnect and resume.
    pub fn drop_connections(&self) {
        self.ensemble.member(0).drop_connections();
    }

    /// Expires a session now, as if its timeout had passed: its ephemerals are deleted,
    /// watchers are notified, its connection is closed and a resume attempt is told the
    /// session expired. Returns false if there was no such session.
    pub fn expire_session(&self, session_id: i64) -> bool {
        self.ensemble.core.state.lock().expire(session_id)
    }

    /// Expires every session.
    pub fn expire_all_sessions(&self) {
        let mut st = self.ensemble.core.state.lock();
        for id in st.sessions.ids() {
            st.expire(id);
        }
    }

    /// Simulates a network partition between the clients and the server: connections are
    /// accepted and read, but nothing is processed or answered until [`resume`](Self::resume).
    /// Sessions keep ageing, so clients that cannot get through expire after their timeout.
    pub fn pause(&self) {
        self.ensemble.set_paused(0, true);
    }

    /// Ends a [`pause`](Self::pause): requests read meanwhile are processed in order.
    pub fn resume(&self) {
        self.ensemble.set_paused(0, false);
    }

    /// Delays every frame the server sends by `latency` (zero turns it off): a slow network,
    /// for reads and writes alike. For the time a write takes to commit, see
    /// [`set_commit_latency`](Self::set_commit_latency).
    pub fn set_latency(&self, latency: Duration) {
        self.ensemble.member(0).shared.faults.set_latency(latency);
    }

    /// Sets the write-commit latency from now on (zero turns it off); see
    /// [`TestingServerBuilder::commit_latency`]. Unlike [`set_latency`](Self::set_latency),
    /// it delays only what writes cause, and serialises writes as a disk would.
    pub fn set_commit_latency(&self, latency: Duration) {
        self.ensemble.set_commit_latency(latency);
    }

    /// For the next `n` requests of type `op`: apply the request, then close the connection
    /// instead of replying (the "reply lost" fault).
    pub fn fail_next(&self, n: u32, op: OpCode) {
        self.ensemble.member(0).shared.faults.arm_fail_next(n, op);
    }

    /// Ids of the live sessions, sorted.
    pub fn session_ids(&self) -> Vec<i64> {
        self.ensemble.core.state.lock().sessions.ids()
    }

    /// The node count as `mntr`'s `zk_znode_count` reports it (a fresh server has 5: the
    /// server counts the root twice).
    pub fn znode_count(&self) -> usize {
        self.ensemble.core.state.lock().tree.node_count()
    }

    /// Number of watches (data and child tables), as `mntr`'s `zk_watch_count`.
    pub fn watch_count(&self) -> usize {
        self.ensemble.core.state.lock().watches.count()
    }

    /// The last zxid.
    pub fn zxid(&self) -> i64 {
        self.ensemble.core.state.lock().zxid
    }

    /// The tree as indented text, one node per line.
    pub fn dump(&self) -> String {
        self.ensemble.core.state.lock().tree.dump()
    }
}

#[cfg(all(test, feature = "tls"))]
mod tests {
    use crate::session::hosts::HostPort;
    use crate::session::readonly::isro;
    use crate::session::stream::Transport;

    /// The session's read-only probe (`session::readonly`) asks over TLS when the session
    /// uses TLS: a TLS-only server answers it, a plain probe of that port gets nothing.
    #[test]
    fn isro_over_tls() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let server = super::TestingServer::builder()
            .tls(cert.pem().as_bytes(), key.serialize_pem().as_bytes(), None)
            .start()
            .unwrap();
        let host = HostPort {
            host: "127.0.0.1".into(),
            port: server.port(),
        };
        let tls = crate::tls::TlsConfig::builder()
            .ca_pem(cert.pem())
            .build()
            .unwrap();
        let over_tls = Transport { tls: Some(tls) };
        assert_eq!(isro(&host, &over_tls).as_deref(), Some("rw"));
        assert_ne!(isro(&host, &Transport::default()).as_deref(), Some("rw"));
    }
}
