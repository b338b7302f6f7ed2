//! The framework: Apache Curator's `CuratorFramework` in Rust — a fluent builder per
//! operation, one retry loop, Curator's connection states, namespaces, background operations,
//! transactions, protected creates, guaranteed deletes and persistent watches, over the
//! low-level [`ZooKeeper`] handle.
//!
//! ```
//! use std::time::Duration;
//! use zk_curator::framework::{CuratorFrameworkFactory, ExponentialBackoffRetry};
//! use zk_curator::CreateMode;
//! # let server = zk_curator::testing::TestingServer::start().unwrap();
//! let client = CuratorFrameworkFactory::builder()
//!     .connect_string(&server.connect_string())
//!     .retry_policy(ExponentialBackoffRetry::new(Duration::from_millis(100), 3))
//!     .namespace("app")
//!     .build()?;
//! client.start()?;
//! assert!(client.block_until_connected(Duration::from_secs(10)));
//! client.create().creating_parents_if_needed().for_path_with_data("/config/db", b"url")?;
//! assert_eq!(client.get_data().for_path("/config/db")?, b"url");
//! client.delete().deleting_children_if_needed().for_path("/config")?;
//! client.close();
//! # Ok::<(), zk_curator::Error>(())
//! ```
//!
//! # Threads
//!
//! A client has one event thread for its whole life (handed to every ZooKeeper handle it
//! creates, so events of an expired session, `Lost`, `Reconnected` and events of the new
//! session come out in one order), the I/O thread of its current handle, and a timer thread
//! (`zk-retry`) for background retries, guaranteed deletes and simulated session expiry.
//! Foreground retries sleep on the caller's thread; nothing ever sleeps on the event thread.
//!
//! # Two views of the connection
//!
//! * **Event-ordered**: [`connection_state`](CuratorFramework::connection_state) and the
//!   [listeners](CuratorFramework::connection_state_listenable) follow the event thread:
//!   they change when the event thread gets to the change, in order with the watch events
//!   and callbacks before it. A callback that blocks the event thread makes them late (the
//!   dispatcher reports such a callback: [`EventDispatcher::stall_count`]).
//! * **Live**: [`is_connected`](CuratorFramework::is_connected) and
//!   [`live_state`](CuratorFramework::live_state) read what the I/O thread knows right now,
//!   whatever the event thread is doing. Code that must not act on a connection it no
//!   longer has (a lock holder, a leader) checks the live view before acting.
//!
//! The I/O thread notices a dead connection within two thirds of the session timeout (at
//! once when the socket closes), so even the live view can be that much behind the network.
//!
//! Layering, bottom up (a module uses only those before it; `.ci/import_loops.py` checks):
//! ensemble, ensure, handle_factory, listen, providers, quorum, retry, scheduler, schema,
//! types (the value types operations report), watcher_removal; event, state; core (the
//! client's shared heart, with its parts `circuit` and `tracker` as children: they call back
//! into it); factory, protection, retry_loop, safe; exec; builders; temp (which builds on
//! the factory's builder, and adds `build_temp` to it).

pub mod builders;
mod core;
mod ensemble;
mod ensure;
mod event;
mod exec;
mod factory;
mod handle_factory;
mod listen;
pub mod protection;
mod providers;
mod quorum;
mod retry;
mod retry_loop;
mod safe;
mod scheduler;
mod schema;
mod state;
mod temp;
mod types;
mod watcher_removal;

pub use self::builders::transaction::CuratorOp;
pub use self::builders::{Foreground, InBackground, WithStat};
pub use self::core::circuit::{
    CircuitBreakingConnectionStateListener, ConnectionStateListenerManagerFactory,
};
pub use self::core::CuratorFrameworkState;
pub use ensemble::{EnsembleProvider, FixedEnsembleProvider};
pub use ensure::EnsureContainers;
pub use event::{BackgroundCallback, CuratorEvent, CuratorListener, UnhandledErrorListener};
pub use factory::{CuratorFrameworkBuilder, CuratorFrameworkFactory};
pub use handle_factory::{DefaultZookeeperFactory, ZookeeperFactory};
pub use listen::{Listenable, ListenerId};
pub use providers::{
    AclProvider, CompressionProvider, DefaultAclProvider, GzipCompressionProvider,
};
pub use quorum::{LearnerType, PeerAddress, QuorumConfig, QuorumServer};
pub use retry::{
    BoundedExponentialBackoffRetry, ExponentialBackoffRetry, RetryForever, RetryNTimes,
    RetryOneTime, RetryPolicy, RetrySleeper, RetryUntilElapsed, SessionFailedRetryPolicy,
    ThreadSleeper,
};
pub(crate) use retry_loop::check_session;
pub use retry_loop::{RetryLoop, SessionFailMode, SessionFailRetryLoop};
pub use safe::{Monitor, SafeCompletion};
pub use schema::{
    Allowance, DefaultSchemaValidator, PathPattern, Schema, SchemaBuilder, SchemaSet,
    SchemaValidator,
};
#[cfg(feature = "schema-json")]
pub use schema::{SchemaSetLoader, SchemaValidatorMapper};
pub use state::{
    ConnectionState, ConnectionStateErrorPolicy, ConnectionStateListener,
    SessionConnectionStateErrorPolicy, StandardConnectionStateErrorPolicy,
};
pub use temp::{CuratorTempFramework, TempGetDataBuilder};
pub use types::{CuratorEventType, CuratorTransactionResult, OperationType};
pub(crate) use watcher_removal::WatchTracker;
pub use watcher_removal::WatcherRemoveCuratorFramework;

use std::sync::Arc;
use std::time::Duration;

use self::builders::acl::{GetAclBuilder, SetAclBuilder};
use self::builders::children::GetChildrenBuilder;
use self::builders::config::{GetConfigBuilder, ReconfigBuilder};
use self::builders::create::CreateBuilder;
use self::builders::delete::DeleteBuilder;
use self::builders::exists::ExistsBuilder;
use self::builders::get_data::GetDataBuilder;
use self::builders::set_data::SetDataBuilder;
use self::builders::sync::SyncBuilder;
use self::builders::transaction::{CuratorMultiTransaction, TransactionOp};
use self::builders::watchers::WatchesBuilder;
use crate::client::ZooKeeper;
use crate::error::Result;
use crate::path;
use crate::session::{EventDispatcher, States};

/// A ZooKeeper client with Curator's API (cheap to clone, `Send + Sync`).
///
/// Build it with [`CuratorFrameworkFactory`], [`start`](Self::start) it, use the verb
/// builders, [`close`](Self::close) it. Clones share one connection; a clone made by
/// [`using_namespace`](Self::using_namespace) sees another namespace of it.
#[derive(Clone)]
pub struct CuratorFramework {
    pub(crate) inner: Arc<self::core::Inner>,
    /// `/ns` form, or none.
    pub(crate) namespace: Option<Arc<str>>,
    /// Set on a [`WatcherRemoveCuratorFramework`]: the watches set through it.
    pub(crate) watches: Option<Arc<watcher_removal::WatchTracker>>,
}

impl CuratorFramework {
    /// Connects (in the background; see [`block_until_connected`](Self::block_until_connected)).
    /// Starting twice, or after close, is an error. The settings were checked by `build()`;
    /// if starting fails anyway (a thread cannot be spawned), the client is closed.
    pub fn start(&self) -> Result<()> {
        self.inner.start()
    }

    /// Ends the session and stops the client's threads. Idempotent; callable from any
    /// callback. The CuratorListeners get a `Closing` event first.
    pub fn close(&self) {
        self.inner.close()
    }

    /// Latent, Started or Stopped.
    pub fn state(&self) -> CuratorFrameworkState {
        self.inner.lifecycle()
    }

    /// Waits until connected (Connected, Reconnected or ReadOnly has been reported); false
    /// after `timeout`, and at once on a closed client (also one whose `start()` failed).
    /// Before `start()` it waits (another thread may start the client). Called from a
    /// callback on the event
    /// thread, it follows the connection itself instead (the state events it would wait for
    /// can only be delivered once that callback returns).
    pub fn block_until_connected(&self, timeout: Duration) -> bool {
        if self.state() == CuratorFrameworkState::Stopped {
            return false; // closed, or its start() failed: nothing to wait for
        }
        if self.state() == CuratorFrameworkState::Started && self.inner.events.is_event_thread() {
            return self.inner.wait_handle_connected(timeout);
        }
        self.inner.states.wait_connected(timeout)
    }

    /// The connection state as the listeners know it: the last state the event thread
    /// delivered (`None` before the first connection). It is **event-ordered**: a callback
    /// holding the event thread holds it back too. For the state right now, see
    /// [`is_connected`](Self::is_connected) and [`live_state`](Self::live_state).
    pub fn connection_state(&self) -> Option<ConnectionState> {
        self.inner.states.current().state
    }

    /// True if the client is connected right now (read-write or read-only), as its I/O
    /// thread knows it: the **live** view, up to date even while a callback holds the event
    /// thread (then [`connection_state`](Self::connection_state) and the listeners lag).
    /// False before [`start`](Self::start) and after [`close`](Self::close).
    ///
    /// ```
    /// # let server = zk_curator::testing::TestingServer::start().unwrap();
    /// # use std::time::Duration;
    /// let client = zk_curator::CuratorFrameworkFactory::new_client(
    ///     &server.connect_string(),
    ///     zk_curator::RetryOneTime::new(Duration::from_millis(100)),
    /// )?;
    /// assert!(!client.is_connected());
    /// client.start()?;
    /// assert!(client.block_until_connected(Duration::from_secs(10)));
    /// assert!(client.is_connected());
    /// client.close();
    /// assert!(!client.is_connected());
    /// # Ok::<(), zk_curator::Error>(())
    /// ```
    pub fn is_connected(&self) -> bool {
        self.live_state().is_some_and(States::is_connected)
    }

    /// The state of the client's current session right now, as its I/O thread knows it
    /// (the **live** view; see [`is_connected`](Self::is_connected)): `Connecting` while
    /// disconnected, `Connected`/`ConnectedReadOnly`, `Expired` until the new session's
    /// handle replaces the expired one, `Closed` after [`close`](Self::close); `None` before
    /// [`start`](Self::start).
    pub fn live_state(&self) -> Option<States> {
        match self.inner.handle() {
            Ok(h) => Some(h.state()),
            Err(crate::Error::Closed) => Some(States::Closed),
            Err(_) => None,
        }
    }

    /// Create a node.
    pub fn create(&self) -> CreateBuilder<'_> {
        CreateBuilder::new(self)
    }

    /// Delete a node.
    pub fn delete(&self) -> DeleteBuilder<'_> {
        DeleteBuilder::new(self)
    }

    /// Check whether a node exists.
    pub fn check_exists(&self) -> ExistsBuilder<'_> {
        ExistsBuilder::new(self)
    }

    /// Read a node's data.
    pub fn get_data(&self) -> GetDataBuilder<'_> {
        GetDataBuilder::new(self)
    }

    /// Write a node's data.
    pub fn set_data(&self) -> SetDataBuilder<'_> {
        SetDataBuilder::new(self)
    }

    /// List a node's children.
    pub fn get_children(&self) -> GetChildrenBuilder<'_> {
        GetChildrenBuilder::new(self)
    }

    /// Read a node's ACL.
    pub fn get_acl(&self) -> GetAclBuilder<'_> {
        GetAclBuilder::new(self)
    }

    /// Change a node's ACL.
    pub fn set_acl(&self) -> SetAclBuilder<'_> {
        SetAclBuilder::new(self)
    }

    /// Sync the connected server with the leader.
    pub fn sync(&self) -> SyncBuilder<'_> {
        SyncBuilder::new(self)
    }

    /// Read the ensemble configuration.
    pub fn get_config(&self) -> GetConfigBuilder<'_> {
        GetConfigBuilder::new(self)
    }

    /// Change the ensemble's membership.
    pub fn reconfig(&self) -> ReconfigBuilder<'_> {
        ReconfigBuilder::new(self)
    }

    /// Apply operations atomically.
    pub fn transaction(&self) -> CuratorMultiTransaction<'_> {
        CuratorMultiTransaction::new(self)
    }

    /// Build operations for [`transaction`](Self::transaction).
    pub fn transaction_op(&self) -> TransactionOp<'_> {
        TransactionOp::new(self)
    }

    /// Add and remove watches.
    pub fn watchers(&self) -> WatchesBuilder<'_> {
        WatchesBuilder::new(self)
    }

    /// Creates `path` and its parents as containers (or persistent nodes with
    /// `dont_use_container_parents`), if missing.
    pub fn create_containers(&self, p: &str) -> Result<()> {
        let full = self.fix_path(p, false)?;
        self.create_containers_at(&full).map_err(|e| e.with_path(p))
    }

    /// Connection state changes.
    pub fn connection_state_listenable(&self) -> &Listenable<dyn ConnectionStateListener> {
        &self.inner.states.listeners
    }

    /// Background results without a callback, and `watched()` events.
    pub fn curator_listenable(&self) -> &Listenable<dyn CuratorListener> {
        &self.inner.curator_listeners
    }

    /// Errors no callback took.
    pub fn unhandled_error_listenable(&self) -> &Listenable<dyn UnhandledErrorListener> {
        &self.inner.unhandled
    }

    /// A view of this client in another namespace (`None` or `""`: no namespace). Same
    /// connection, same listeners.
    ///
    /// The namespace follows Curator's rule (see [`CuratorFrameworkBuilder::namespace`]).
    pub fn using_namespace(&self, ns: Option<&str>) -> Result<CuratorFramework> {
        Ok(CuratorFramework {
            inner: self.inner.clone(),
            namespace: namespace_path(ns)?,
            // A view made from a watcher-removal facade keeps tracking into its set.
            watches: self.watches.clone(),
        })
    }

    /// The namespace (without the leading `/`), if any.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref().map(|n| n.trim_start_matches('/'))
    }

    /// The low-level side of the client (Curator's `CuratorZookeeperClient`).
    pub fn zookeeper_client(&self) -> CuratorZookeeperClient {
        CuratorZookeeperClient {
            inner: self.inner.clone(),
        }
    }

    /// The policy recipes consult to decide whether a state means "lost what I held".
    pub fn connection_state_error_policy(&self) -> &dyn ConnectionStateErrorPolicy {
        &*self.inner.cfg.error_policy
    }

    /// The client's event thread (watchers, callbacks and state listeners run there).
    pub fn event_dispatcher(&self) -> &EventDispatcher {
        &self.inner.events
    }

    /// Sends an error nobody else handles to the unhandled-error listeners (for recipes).
    pub(crate) fn report_unhandled(&self, msg: &str, e: &crate::Error) {
        self.inner.report_unhandled(msg, e)
    }

    /// The data written by `for_path` calls without data.
    pub fn default_data(&self) -> &[u8] {
        &self.inner.cfg.default_data
    }

    /// The ensemble's configuration as the ensemble tracker last read it (Curator's
    /// `getCurrentConfig()`); `None` without
    /// [`ensemble_tracker(true)`](CuratorFrameworkBuilder::ensemble_tracker), or before it
    /// read a configuration with members (a server without a dynamic config never has
    /// one). To read it yourself: `get_config().for_ensemble()` and [`QuorumConfig::parse`].
    pub fn get_current_config(&self) -> Option<QuorumConfig> {
        self.inner.current_config()
    }

    /// The rules operations are checked against (Curator's `getSchemaSet()`).
    pub fn schema_set(&self) -> &SchemaSet {
        &self.inner.cfg.schema_set
    }
}

/// A namespace in path form (`app/sub` → `/app/sub`), checked as Curator checks it: `/` +
/// the namespace must be a valid path, so `"/app"` (empty first node name) and `"app/"`
/// (trailing `/`) are refused rather than quietly trimmed. `None` and `""` mean none.
pub(crate) fn namespace_path(ns: Option<&str>) -> Result<Option<Arc<str>>> {
    let ns = match ns {
        None | Some("") => return Ok(None),
        Some(ns) => ns,
    };
    let p = format!("/{ns}");
    match path::validate_path(&p, false) {
        Ok(()) => Ok(Some(Arc::from(p))),
        Err(e) => Err(crate::Error::InvalidArgument(format!(
            "namespace {ns:?}: {e}; a namespace is a path without its leading '/', such as \
             \"app\" or \"app/sub\""
        ))),
    }
}

impl std::fmt::Debug for CuratorFramework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CuratorFramework")
            .field("state", &self.state())
            .field("connection", &self.connection_state())
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// The low-level side of a [`CuratorFramework`]: the current handle, the retry policy, the
/// handle generation.
#[derive(Clone)]
pub struct CuratorZookeeperClient {
    inner: Arc<self::core::Inner>,
}

impl CuratorZookeeperClient {
    /// The current ZooKeeper handle (a new one after each session expiry).
    pub fn zookeeper(&self) -> Result<Arc<ZooKeeper>> {
        self.inner.handle()
    }

    /// The retry policy (the one in force, also after
    /// [`set_retry_policy`](Self::set_retry_policy)).
    pub fn retry_policy(&self) -> &dyn RetryPolicy {
        &*self.inner.retry
    }

    /// Replaces the retry policy of the running client (Curator's `setRetryPolicy`): every
    /// retry decision from now on, of new operations and of those already retrying, is the
    /// new policy's. Clones and namespace views share it.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zk_curator::framework::*;
    /// # let server = zk_curator::testing::TestingServer::start().unwrap();
    /// let client = CuratorFrameworkFactory::new_client(
    ///     &server.connect_string(),
    ///     RetryOneTime::new(Duration::from_millis(10)),
    /// )?;
    /// client.start()?;
    /// client.zookeeper_client().set_retry_policy(RetryNTimes::new(5, Duration::from_millis(50)));
    /// # client.close();
    /// # Ok::<(), zk_curator::Error>(())
    /// ```
    pub fn set_retry_policy(&self, policy: impl RetryPolicy) {
        self.inner.retry.set(Arc::new(policy));
    }

    /// The connect string in use (Curator's `getCurrentConnectionString()`): the ensemble
    /// provider's, which the ensemble tracker keeps up to date.
    pub fn current_connection_string(&self) -> String {
        self.inner.cfg.ensemble.connection_string()
    }

    /// The ensemble provider (Curator's `getEnsembleProvider()`).
    pub fn ensemble_provider(&self) -> &dyn EnsembleProvider {
        &*self.inner.cfg.ensemble
    }

    /// Increments each time a new handle (a new session) replaces the old one.
    pub fn instance_index(&self) -> u64 {
        self.inner.instance_index()
    }

    /// The session timeout the server granted the current handle.
    pub fn last_negotiated_session_timeout(&self) -> Option<Duration> {
        self.inner.handle().ok().map(|h| h.negotiated_timeout())
    }

    /// True while connected right now, as the I/O thread knows it (the live view; see
    /// [`CuratorFramework::is_connected`]).
    pub fn is_connected(&self) -> bool {
        self.inner.handle().is_ok_and(|h| h.state().is_connected())
    }

    /// The connection timeout.
    pub fn connection_timeout(&self) -> Duration {
        self.inner.cfg.connection_timeout
    }

    /// Runs `f` against the current handle in the client's retry loop (Curator's
    /// `RetryLoop.callWithRetry`): attempts wait for a connection up to the connection
    /// timeout in total (see [`CuratorFrameworkBuilder::connection_timeout`]); retryable
    /// errors are retried as the policy allows. For calls made directly on the low-level
    /// handle.
    pub fn call_with_retry<T>(&self, mut f: impl FnMut(&ZooKeeper) -> Result<T>) -> Result<T> {
        CuratorFramework {
            inner: self.inner.clone(),
            namespace: None,
            watches: None,
        }
        .call(|zk, _| f(zk))
    }
}

impl std::fmt::Debug for CuratorZookeeperClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CuratorZookeeperClient")
            .field("instance_index", &self.instance_index())
            .finish()
    }
}
