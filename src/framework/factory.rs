//! [`CuratorFrameworkFactory`] and its builder: every option of Curator's factory that
//! applies to a Rust client, with Curator's defaults.

use std::sync::Arc;
use std::time::Duration;

use super::core::{Config, Inner};
use super::providers::{
    local_address, AclProvider, CompressionProvider, DefaultAclProvider, GzipCompressionProvider,
};
use super::retry::RetryPolicy;
use super::state::{ConnectionStateErrorPolicy, StandardConnectionStateErrorPolicy};
use super::CuratorFramework;
use crate::error::{Error, Result};
use crate::path;
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
#[must_use = "a builder does nothing until build()"]
pub struct CuratorFrameworkBuilder {
    connect_string: Option<String>,
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
}

impl Default for CuratorFrameworkBuilder {
    fn default() -> Self {
        CuratorFrameworkBuilder {
            connect_string: None,
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
        }
    }
}

impl CuratorFrameworkBuilder {
    /// The ensemble: `host:port[,host:port...][/chroot]` (required).
    pub fn connect_string(mut self, s: &str) -> Self {
        self.connect_string = Some(s.to_string());
        self
    }

    /// The session timeout to request. Default 60 s.
    pub fn session_timeout(mut self, t: Duration) -> Self {
        self.session_timeout = t;
        self
    }

    /// How long an operation waits for a connection before an attempt (a wait that times
    /// out counts as a `ConnectionLoss` for the retry policy). Default 15 s.
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

    /// Prefix every path with `/namespace` (created on first use, as a container).
    pub fn namespace(mut self, ns: &str) -> Self {
        self.namespace = Some(ns.to_string());
        self
    }

    /// Authentication added to every session (e.g. `("digest", b"user:password")`).
    pub fn authorization(mut self, scheme: &str, auth: &[u8]) -> Self {
        self.auth.push((scheme.to_string(), auth.to_vec()));
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
    pub fn max_buffer_size(mut self, bytes: usize) -> Self {
        self.max_buffer = bytes;
        self
    }

    /// Builds the client (not started).
    pub fn build(self) -> Result<CuratorFramework> {
        let connect_string = self
            .connect_string
            .ok_or_else(|| Error::InvalidArgument("a connect string is required".into()))?;
        // Fail early on a malformed connect string rather than at start().
        crate::session::hosts::ConnectString::parse(&connect_string)?;
        let retry = self
            .retry
            .ok_or_else(|| Error::InvalidArgument("a retry policy is required".into()))?;
        if !(1..=100).contains(&self.simulated_expiration_percent) {
            return Err(Error::InvalidArgument(format!(
                "simulated session expiration percent {} is not in 1..=100",
                self.simulated_expiration_percent
            )));
        }
        let namespace = match self.namespace.as_deref() {
            None | Some("") => None,
            Some(ns) => {
                let p = path::make_path("/", ns);
                path::validate_path(&p, false)?;
                Some(Arc::<str>::from(p))
            }
        };
        let cfg = Config {
            connect_string,
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
        };
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
        f.debug_struct("CuratorFrameworkBuilder")
            .field("connect_string", &self.connect_string)
            .field("session_timeout", &self.session_timeout)
            .field("connection_timeout", &self.connection_timeout)
            .field("namespace", &self.namespace)
            .finish()
    }
}
