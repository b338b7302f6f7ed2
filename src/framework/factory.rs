//! [`CuratorFrameworkFactory`] and its builder: every option of Curator's factory that
//! applies to a Rust client, with Curator's defaults.

use std::sync::Arc;
use std::time::Duration;

use super::core::circuit::ConnectionStateListenerManagerFactory;
use super::core::{handle_builder, Config, Inner};
use super::ensemble::{EnsembleProvider, FixedEnsembleProvider};
use super::handle_factory::{DefaultZookeeperFactory, ZookeeperFactory};
use super::providers::{
    local_address, AclProvider, CompressionProvider, DefaultAclProvider, GzipCompressionProvider,
};
use super::retry::RetryPolicy;
use super::schema::SchemaSet;
use super::state::{ConnectionStateErrorPolicy, StandardConnectionStateErrorPolicy};
use super::CuratorFramework;
use crate::error::{Error, Result};
use crate::proto::frame::MAX_PACKET;

/// Makes [`CuratorFramework`] clients (Curator's `CuratorFrameworkFactory`).
#[derive(Debug, Clone, Copy)]
pub struct CuratorFrameworkFactory;

impl CuratorFrameworkFactory {
    /// A builder with Curator's defaults.
    pub fn builder() -> CuratorFrameworkBuilder {
        CuratorFrameworkBuilder::default()
    }

    /// A client for `connect_string` with the default timeouts (session 60 s, connection
    /// 15 s) and `retry_policy`. Call [`start`](CuratorFramework::start) next.
    pub fn new_client(
        connect_string: &str,
        retry_policy: impl RetryPolicy,
    ) -> Result<CuratorFramework> {
        Self::builder()
            .connect_string(connect_string)
            .retry_policy(retry_policy)
            .build()
    }

    /// [`new_client`](Self::new_client) with explicit timeouts.
    pub fn new_client_with_timeouts(
        connect_string: &str,
        session_timeout: Duration,
        connection_timeout: Duration,
        retry_policy: impl RetryPolicy,
    ) -> Result<CuratorFramework> {
        Self::builder()
            .connect_string(connect_string)
            .session_timeout(session_timeout)
            .connection_timeout(connection_timeout)
            .retry_policy(retry_policy)
            .build()
    }
}

/// Options of a [`CuratorFramework`] (Curator's `CuratorFrameworkFactory.Builder`).
/// Cloning copies the options (shared providers and policies stay shared).
#[derive(Clone)]
#[must_use = "a builder does nothing until build()"]
pub struct CuratorFrameworkBuilder {
    ensemble: Option<Arc<dyn EnsembleProvider>>,
    ensemble_tracker: bool,
    zookeeper_factory: Arc<dyn ZookeeperFactory>,
    schema_set: SchemaSet,
    listener_manager: ConnectionStateListenerManagerFactory,
    session_timeout: Duration,
    connection_timeout: Duration,
    retry: Option<Arc<dyn RetryPolicy>>,
    namespace: Option<String>,
    auth: Vec<(String, Vec<u8>)>,
    acl_provider: Arc<dyn AclProvider>,
    can_be_read_only: bool,
    use_container_parents: bool,
    default_data: Option<Vec<u8>>,
    compression: Arc<dyn CompressionProvider>,
    max_close_wait: Duration,
    error_policy: Arc<dyn ConnectionStateErrorPolicy>,
    simulated_expiration_percent: u32,
    max_buffer: usize,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsConfig>,
    #[cfg(feature = "sasl")]
    sasl: Option<(String, crate::auth::Secret)>,
}

impl Default for CuratorFrameworkBuilder {
    fn default() -> Self {
        CuratorFrameworkBuilder {
            ensemble: None,
            ensemble_tracker: false,
            zookeeper_factory: Arc::new(DefaultZookeeperFactory),
            schema_set: SchemaSet::default_schema_set(),
            listener_manager: ConnectionStateListenerManagerFactory::standard(),
            session_timeout: Duration::from_secs(60),
            connection_timeout: Duration::from_secs(15),
            retry: None,
            namespace: None,
            auth: Vec::new(),
            acl_provider: Arc::new(DefaultAclProvider),
            can_be_read_only: false,
            use_container_parents: true,
            default_data: None,
            compression: Arc::new(GzipCompressionProvider),
            max_close_wait: Duration::from_secs(1),
            error_policy: Arc::new(StandardConnectionStateErrorPolicy),
            simulated_expiration_percent: 100,
            max_buffer: MAX_PACKET,
            #[cfg(feature = "tls")]
            tls: None,
            #[cfg(feature = "sasl")]
            sasl: None,
        }
    }
}

impl CuratorFrameworkBuilder {
    /// The ensemble: `host:port[,host:port...][/chroot]` (this or
    /// [`ensemble_provider`](Self::ensemble_provider) is required; the last one given
    /// counts). Short for `ensemble_provider(FixedEnsembleProvider::new(s))`.
    pub fn connect_string(mut self, s: &str) -> Self {
        self.ensemble = Some(Arc::new(FixedEnsembleProvider::new(s)));
        self
    }

    /// Where the connect string comes from (Curator's `ensembleProvider`); see
    /// [`EnsembleProvider`]. Replaces a `connect_string`.
    pub fn ensemble_provider(mut self, p: impl EnsembleProvider) -> Self {
        self.ensemble = Some(Arc::new(p));
        self
    }

    /// Follow the ensemble's membership (Curator's `ensembleTracker`): read
    /// `/zookeeper/config` with a watch, at start, on every change and after every
    /// (re)connection, and when the servers in it differ from the connect string, set the
    /// ensemble provider's connect string and move the live session to them (see
    /// [`ZooKeeper::update_server_list`](crate::ZooKeeper::update_server_list)): the session,
    /// its watches and its ephemeral nodes are kept. The config read is available as
    /// [`get_current_config`](super::CuratorFramework::get_current_config).
    ///
    /// **Off by default**, where Curator turns it on: the addresses in the config are the
    /// servers' own, so a client that reaches the ensemble through other addresses (a
    /// proxy, NAT, port forwarding, containers) would be moved off the working ones. Turn
    /// it on for an ensemble whose membership changes with `reconfig()`. Against a server
    /// without a dynamic config (a standalone server, the
    /// `testing::TestingServer`) it reads an empty config and does
    /// nothing.
    pub fn ensemble_tracker(mut self, yes: bool) -> Self {
        self.ensemble_tracker = yes;
        self
    }

    /// How the handle of each session is made (Curator's `zookeeperFactory`); see
    /// [`ZookeeperFactory`]. Default [`DefaultZookeeperFactory`].
    pub fn zookeeper_factory(mut self, f: impl ZookeeperFactory) -> Self {
        self.zookeeper_factory = Arc::new(f);
        self
    }

    /// Rules checked before every operation is sent (Curator's `schemaSet`); see
    /// [`SchemaSet`]. Default: no rules.
    pub fn schema_set(mut self, s: SchemaSet) -> Self {
        self.schema_set = s;
        self
    }

    /// How connection-state changes reach the listeners (Curator's
    /// `connectionStateListenerManagerFactory`): directly (default) or through a circuit
    /// breaker, see [`ConnectionStateListenerManagerFactory::circuit_breaking`].
    pub fn connection_state_listener_manager_factory(
        mut self,
        f: ConnectionStateListenerManagerFactory,
    ) -> Self {
        self.listener_manager = f;
        self
    }

    /// The session timeout to request: greater than zero and at most 2^31-1 ms. Default 60 s.
    pub fn session_timeout(mut self, t: Duration) -> Self {
        self.session_timeout = t;
        self
    }

    /// How long an operation waits for a connection, in total across its retries, counted
    /// from its start. When it runs out the attempt is charged a `ConnectionLoss` (its
    /// [`hosts_tried`](crate::Error::hosts_tried) say why each host failed), and later
    /// attempts fail at once unless connected. An unreachable ensemble therefore fails an
    /// operation after about this long plus the retry policy's sleeps, as in Curator. It
    /// also bounds each TCP connect. It must be greater than zero (`build()` refuses zero,
    /// which would allow no connection at all); for an operation that should fail at once
    /// when disconnected, use a small value such as 1 ms. Default 15 s.
    pub fn connection_timeout(mut self, t: Duration) -> Self {
        self.connection_timeout = t;
        self
    }

    /// The retry policy of every operation (required).
    pub fn retry_policy(mut self, p: impl RetryPolicy) -> Self {
        self.retry = Some(Arc::new(p));
        self
    }

    /// A shared retry policy.
    pub fn retry_policy_arc(mut self, p: Arc<dyn RetryPolicy>) -> Self {
        self.retry = Some(p);
        self
    }

    /// Prefix every path with `/namespace` (created on first use, as a container). As in
    /// Curator, `/` + the namespace must be a valid path: `"app"` and `"app/sub"` are fine,
    /// `"/app"`, `"app/"` and `"app//sub"` are refused by `build()`. `""` means none.
    pub fn namespace(mut self, ns: &str) -> Self {
        self.namespace = Some(ns.to_string());
        self
    }

    /// Authentication added to every session (e.g. `("digest", b"user:password")`), sent
    /// on every connection. The credentials never appear in `Debug` output, logs or errors.
    pub fn authorization(mut self, scheme: &str, auth: &[u8]) -> Self {
        self.auth.push((scheme.to_string(), auth.to_vec()));
        self
    }

    /// Connects over TLS (cargo feature `tls`): every connection of every session of this
    /// client handshakes with `config` (server certificate checked against its CAs and the
    /// connect string's host names; optionally a client certificate). A failed handshake
    /// counts as a failed connection attempt, reported with its cause by
    /// [`Error::hosts_tried`](crate::Error::hosts_tried). See
    /// [`ZooKeeperBuilder::tls`](crate::ZooKeeperBuilder::tls) and `docs/security.md`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let ca = rcgen::CertificateParams::new(Vec::<String>::new())?.self_signed(&rcgen::KeyPair::generate()?)?;
    /// # let ca_pem = ca.pem();
    /// use std::time::Duration;
    /// use zk_curator::tls::TlsConfig;
    /// use zk_curator::{CuratorFrameworkFactory, ExponentialBackoffRetry};
    /// let client = CuratorFrameworkFactory::builder()
    ///     .connect_string("zk1.example.com:2281,zk2.example.com:2281")
    ///     .retry_policy(ExponentialBackoffRetry::new(Duration::from_millis(100), 3))
    ///     .tls(TlsConfig::builder().ca_pem(ca_pem).build()?)
    ///     .build()?;
    /// # client.close();
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::tls::TlsConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Authenticates every connection with SASL DIGEST-MD5 as `user` (what a Java client
    /// configures in the JAAS `Client` section with ZooKeeper's `DigestLoginModule`). The
    /// session is then `sasl:user` for ACLs; wrong credentials end the session in
    /// `AuthFailed` (reported to the unhandled-error listeners) instead of retrying. See
    /// [`ZooKeeperBuilder::sasl_digest_md5`](crate::ZooKeeperBuilder::sasl_digest_md5).
    #[cfg(feature = "sasl")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sasl")))]
    pub fn sasl_digest_md5(mut self, user: &str, password: &str) -> Self {
        self.sasl = Some((
            user.to_string(),
            crate::auth::Secret::new(password.as_bytes().to_vec()),
        ));
        self
    }

    /// The ACL of nodes created without `with_acl`. Default `OPEN_ACL_UNSAFE`.
    pub fn acl_provider(mut self, p: impl AclProvider) -> Self {
        self.acl_provider = Arc::new(p);
        self
    }

    /// Accept read-only servers (state `ReadOnly`).
    pub fn can_be_read_only(mut self, yes: bool) -> Self {
        self.can_be_read_only = yes;
        self
    }

    /// Make `creating_parent_containers_if_needed` create persistent parents instead of
    /// containers.
    pub fn dont_use_container_parents(mut self) -> Self {
        self.use_container_parents = false;
        self
    }

    /// The data written by `for_path(path)` without data. Default: the local host's address
    /// as text, as Curator writes it.
    pub fn default_data(mut self, data: &[u8]) -> Self {
        self.default_data = Some(data.to_vec());
        self
    }

    /// The provider behind `compressed()` / `decompressed()`. Default gzip.
    pub fn compression_provider(mut self, p: impl CompressionProvider) -> Self {
        self.compression = Arc::new(p);
        self
    }

    /// How long `close()` waits for the server to end the session. Default 1 s.
    pub fn max_close_wait(mut self, t: Duration) -> Self {
        self.max_close_wait = t;
        self
    }

    /// Which states recipes treat as errors. Default: Suspended and Lost.
    pub fn connection_state_error_policy(mut self, p: impl ConnectionStateErrorPolicy) -> Self {
        self.error_policy = Arc::new(p);
        self
    }

    /// After staying Suspended for this percentage of the negotiated session timeout, the
    /// session is presumed lost (Lost is reported and a new session created). 1 to 100;
    /// default 100.
    pub fn simulated_session_expiration_percent(mut self, pct: u32) -> Self {
        self.simulated_expiration_percent = pct;
        self
    }

    /// The largest request sent and reply accepted; match the servers' `jute.maxbuffer`.
    /// 1 KiB to 2^31-1 bytes; default 1,048,575.
    pub fn max_buffer_size(mut self, bytes: usize) -> Self {
        self.max_buffer = bytes;
        self
    }

    /// Builds the client (not started). Every setting is checked here, so that a mistake
    /// shows at once rather than at `start()` or at the first call: the error is an
    /// [`InvalidArgument`](Error::InvalidArgument) naming the option (`connect_string`,
    /// `session_timeout`, `connection_timeout`, `retry_policy`, `namespace`,
    /// `authorization`, `simulated_session_expiration_percent`, `max_buffer_size`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use zk_curator::{CuratorFrameworkFactory, RetryOneTime};
    /// let err = CuratorFrameworkFactory::builder()
    ///     .connect_string("127.0.0.1:2181")
    ///     .retry_policy(RetryOneTime::new(Duration::from_millis(10)))
    ///     .session_timeout(Duration::ZERO)
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("session_timeout"), "{err}");
    /// ```
    pub fn build(self) -> Result<CuratorFramework> {
        let bad = |msg: &str| Error::InvalidArgument(msg.to_string());
        let ensemble = self.ensemble.ok_or_else(|| {
            bad("connect_string (or ensemble_provider) is required (host:port[,host:port...][/chroot])")
        })?;
        let retry = self.retry.ok_or_else(|| {
            bad("retry_policy is required (e.g. ExponentialBackoffRetry::new(base, retries))")
        })?;
        if !(1..=100).contains(&self.simulated_expiration_percent) {
            return Err(Error::InvalidArgument(format!(
                "simulated_session_expiration_percent {} is not in 1..=100",
                self.simulated_expiration_percent
            )));
        }
        if self.auth.iter().any(|(scheme, _)| scheme.is_empty()) {
            return Err(bad(
                "authorization: the scheme must not be empty (e.g. \"digest\")",
            ));
        }
        let namespace = super::namespace_path(self.namespace.as_deref())?;
        let cfg = Config {
            ensemble,
            ensemble_tracker: self.ensemble_tracker,
            zookeeper_factory: self.zookeeper_factory,
            schema_set: Arc::new(self.schema_set),
            listener_manager: self.listener_manager,
            session_timeout: self.session_timeout,
            connection_timeout: self.connection_timeout,
            can_be_read_only: self.can_be_read_only,
            auth: self.auth,
            acl_provider: self.acl_provider,
            compression: self.compression,
            default_data: Arc::from(self.default_data.unwrap_or_else(local_address)),
            use_container_parents: self.use_container_parents,
            max_close_wait: self.max_close_wait,
            error_policy: self.error_policy,
            simulated_expiration_percent: self.simulated_expiration_percent,
            max_buffer: self.max_buffer,
            #[cfg(feature = "tls")]
            tls: self.tls,
            #[cfg(feature = "sasl")]
            sasl: self.sasl,
        };
        // The connect string, the timeouts and the buffer size, checked as every handle of
        // this client will be built.
        handle_builder(&cfg).validate()?;
        let inner = Inner::new(cfg, retry, namespace.clone())?;
        Ok(CuratorFramework {
            inner,
            namespace,
            watches: None,
        })
    }
}

impl std::fmt::Debug for CuratorFrameworkBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("CuratorFrameworkBuilder");
        d.field(
            "connect_string",
            &self.ensemble.as_ref().map(|e| e.connection_string()),
        )
        .field("ensemble_tracker", &self.ensemble_tracker)
        .field("session_timeout", &self.session_timeout)
        .field("connection_timeout", &self.connection_timeout)
        .field("namespace", &self.namespace)
        .field(
            "authorization",
            &self
                .auth
                .iter()
                .map(|(s, _)| s.as_str())
                .collect::<Vec<_>>(),
        );
        #[cfg(feature = "sasl")]
        d.field("sasl_user", &self.sasl.as_ref().map(|(u, _)| u.as_str()));
        d.finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{CuratorFrameworkState, RetryOneTime};
    use std::time::Instant;

    fn ok() -> CuratorFrameworkBuilder {
        CuratorFrameworkFactory::builder()
            .connect_string("127.0.0.1:2181")
            .retry_policy(RetryOneTime::new(Duration::from_millis(10)))
    }

    /// Each bad setting fails `build()` with a message naming its option.
    #[test]
    fn build_checks_every_option_and_names_it() {
        let cases: Vec<(&str, CuratorFrameworkBuilder)> = vec![
            ("connect_string", CuratorFrameworkFactory::builder()),
            ("connect_string", ok().connect_string("a:x")),
            ("connect_string", ok().connect_string("a:1/bad/")),
            ("retry_policy", {
                let mut b = ok();
                b.retry = None;
                b
            }),
            ("session_timeout", ok().session_timeout(Duration::ZERO)),
            (
                "session_timeout",
                ok().session_timeout(Duration::from_secs(30 * 86_400)),
            ),
            (
                "connection_timeout",
                ok().connection_timeout(Duration::ZERO),
            ),
            ("max_buffer_size", ok().max_buffer_size(0)),
            ("max_buffer_size", ok().max_buffer_size(1 << 31)),
            ("authorization", ok().authorization("", b"user:pw")),
            (
                "simulated_session_expiration_percent",
                ok().simulated_session_expiration_percent(0),
            ),
        ];
        for (option, b) in cases {
            match b.build() {
                Err(Error::InvalidArgument(msg)) => {
                    assert!(msg.contains(option), "{option}: {msg}");
                    assert!(!msg.contains("user:pw"), "no credentials in {msg}");
                }
                other => panic!("{option}: {other:?}"),
            }
        }
        // The limits themselves are fine, and a huge connection timeout means "no limit".
        ok().session_timeout(Duration::from_millis(i32::MAX as u64))
            .connection_timeout(Duration::MAX)
            .max_buffer_size(1024)
            .build()
            .unwrap()
            .close();
    }

    /// Curator's rule: "/" + namespace must be a valid path. Nothing is trimmed.
    #[test]
    fn namespaces_are_checked_as_curator_checks_them() {
        for ns in ["/a", "a/", "a//b", "/", "a/./b", "a/..", "a\u{1}"] {
            let e = ok().namespace(ns).build().unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.contains("namespace") && msg.contains("without its leading '/'"),
                "{ns:?}: {msg}"
            );
            let c = ok().build().unwrap();
            assert!(
                matches!(c.using_namespace(Some(ns)), Err(Error::InvalidArgument(_))),
                "{ns:?}"
            );
            c.close();
        }
        for (ns, want) in [("a", Some("a")), ("a/b", Some("a/b")), ("", None)] {
            let c = ok().namespace(ns).build().unwrap();
            assert_eq!(c.namespace(), want, "{ns:?}");
            assert_eq!(c.using_namespace(Some(ns)).unwrap().namespace(), want);
            c.close();
        }
    }

    #[test]
    fn block_until_connected_returns_at_once_on_a_closed_client() {
        // Never started, then closed: waiters have nothing to wait for.
        let c = ok().build().unwrap();
        c.close();
        let t = Instant::now();
        assert!(!c.block_until_connected(Duration::from_secs(5)));
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert_eq!(c.state(), CuratorFrameworkState::Stopped);
        // Started against nothing, closed from another thread while a caller waits.
        let c = ok().connect_string("127.0.0.1:1").build().unwrap();
        c.start().unwrap();
        let c2 = c.clone();
        let waiter = std::thread::spawn(move || {
            let t = Instant::now();
            (
                c2.block_until_connected(Duration::from_secs(30)),
                t.elapsed(),
            )
        });
        c.close();
        let (connected, took) = waiter.join().unwrap();
        assert!(!connected && took < Duration::from_secs(10), "{took:?}");
        let t = Instant::now();
        assert!(!c.block_until_connected(Duration::from_secs(5)));
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}
