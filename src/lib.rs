//! # zk-curator
//!
//! A complete, synchronous, thread-based ZooKeeper client for Rust that mirrors Apache
//! Curator: the same fluent API (`client.get_data().using_watcher(w).for_path("/a")`), the same
//! recipes with the same znode layouts, so that a Rust process and a Java Curator process can
//! share them (today the caches, `PersistentWatcher`, the locks, leader election, shared
//! counters and atomics, barriers, queues, `PersistentNode`, `GroupMember` and, with the
//! `discovery` feature, Curator's service discovery), and an in-process test server that
//! speaks the real wire protocol. No async runtime.
//!
//! ```
//! use std::time::Duration;
//! use zk_curator::{CreateMode, CuratorFrameworkFactory, ExponentialBackoffRetry};
//! # let server = zk_curator::testing::TestingServer::start().unwrap();
//! let client = CuratorFrameworkFactory::builder()
//!     .connect_string(&server.connect_string())
//!     .retry_policy(ExponentialBackoffRetry::new(Duration::from_millis(100), 3))
//!     .build()?;
//! client.start()?;
//! let path = client
//!     .create()
//!     .creating_parents_if_needed()
//!     .with_mode(CreateMode::EphemeralSequential)
//!     .for_path_with_data("/jobs/job-", b"payload")?;
//! let data = client
//!     .get_data()
//!     .using_watcher(|e| println!("{e}"))
//!     .for_path(&path)?;
//! assert_eq!(data, b"payload");
//! client.close();
//! # Ok::<(), zk_curator::Error>(())
//! ```
//!
//! ## Architecture
//!
//! ```text
//!  your thread ─► recipes ─► framework ─► ZooKeeper handle ─► session ─► proto ─► socket
//!      ▲                                                         │
//!      └──── sync reply ──── zk-io (reads the socket) ◄──────────┘
//!                              │ watch events, background results, connection states
//!                              ▼
//!  your callbacks ◄──── zk-event (one at a time, server order) ───► WorkerPool (offloaded)
//! ```
//!
//! A request is encoded and written by the thread that makes it; the connection's I/O thread
//! reads the reply and wakes a synchronous caller directly, or queues the result, with watch
//! events and connection-state changes, for the client's event thread. The framework adds
//! Curator's API on top (one builder per verb, retry loop, connection states, namespaces) and
//! the recipes are built on the framework alone, node for node as Curator lays them out.
//!
//! * [`framework`]: Curator's `CuratorFramework` — builders per verb, retry policies,
//!   connection states, namespaces, background operations, transactions, protected creates,
//!   guaranteed deletes, dynamic ensembles (ensemble providers and tracker), circuit
//!   breaking, schemas (their JSON loader with the cargo feature `schema-json`), the
//!   temporary framework, and the pieces recipes build on.
//! * [`recipes`]: caches, persistent watches, locks, leader election, shared values and
//!   atomics, barriers, queues, persistent nodes and group membership.
//! * [`ZooKeeper`] ([`client`]): the low-level handle, one method per server operation, each
//!   synchronous and asynchronous — the Java client's API.
//! * [`session`]: the engine: connection, I/O thread, event thread, worker pool.
//! * [`proto`]: the wire protocol (jute records), [`path`]: path rules and helpers,
//!   [`Error`]: one error type.
//! * [`testing`] (cargo feature `testing`, for `[dev-dependencies]`): an in-process ZooKeeper
//!   for tests, with fault injection — Curator's `curator-test`.
//! * `discovery` (cargo feature `discovery`): Curator's service discovery
//!   (`curator-x-discovery`), sharing one registry with Java services.
//! * [`auth`]: digest ids for ACLs (`auth::generate_digest`, cargo feature `digest-acl`);
//!   SASL DIGEST-MD5 is a builder option (`sasl_digest_md5`, cargo feature `sasl`). `tls`
//!   (cargo feature `tls`): `TlsConfig` for TLS and
//!   mutual TLS with rustls. How to set up either side is in `docs/security.md`.
//!
//! Layering, bottom up (a module uses only those before it; `.ci/import_loops.py` checks):
//! auth, error (with the op and error code tables of the protocol), random; compress, path,
//! proto, tls; session; testing; client; framework; recipes; discovery.
//!
//! ## Cargo features
//!
//! * `gzip` (default): `compressed()` / `decompressed()` in Curator's gzip format, through
//!   `flate2`'s pure-Rust backend. Without it the crate builds on five crates
//!   (crossbeam-channel, parking_lot, byteorder, log, socket2) and the default compression
//!   provider fails with an error naming the feature.
//! * `testing`: the [`testing`] module. A service turns it on for its tests only:
//!
//!   ```toml
//!   [dev-dependencies]
//!   zk-curator = { version = "0.1", features = ["testing"] }
//!   ```
//! * `discovery`: the `discovery` module; adds `serde` and `serde_json`.
//! * `digest-acl`: `auth::generate_digest`, the `digest` scheme's ACL ids; adds RustCrypto's
//!   `sha1`. (Authenticating with `digest` credentials needs no feature: the server hashes.)
//!   `testing` turns it on.
//! * `sasl`: SASL DIGEST-MD5 (`sasl_digest_md5` on both builders, the TestingServer's
//!   `sasl_user`); adds RustCrypto's `md-5` and `getrandom` for the nonces.
//! * `tls`: the `tls` module (TLS and mutual TLS); adds `rustls` with `ring`.
//!
//! ## The threading contract
//!
//! * One **I/O thread** (`zk-io`) per connection reads frames and completes requests.
//!   Synchronous calls write their own request and are answered straight from the I/O thread:
//!   no event-thread hop, so any callback may call the client synchronously.
//! * One **event thread** (`zk-event`) per client calls watchers, background callbacks and
//!   connection-state listeners, one at a time, in the order the server produced them. Its
//!   queue never drops an item. A panicking callback is caught, logged and counted.
//! * A slow callback belongs on a [`WorkerPool`]: events for the same path stay in order,
//!   different paths run in parallel, the event thread is not held up.
//! * No crate lock is held while user code runs; calling the client — even `close()` — from
//!   inside any callback never deadlocks.
//! * A callback that holds the event thread longer than a threshold (1 s by default) is
//!   reported with `log::warn!` while it runs, and counted
//!   ([`EventDispatcher::stall_count`]): one process-wide thread, `zk-watchdog`, samples the
//!   event threads while any exists. Meanwhile the listeners' view of the connection
//!   waits with everything else, but the live one does not:
//!   [`CuratorFramework::is_connected`] and [`CuratorFramework::live_state`] read the I/O
//!   thread's knowledge at any moment ([docs/threading.md](https://github.com/zk-curator/zk-curator/blob/main/docs/threading.md)
//!   explains the two views and the rest of the contract).
//!
//! ## Guides and examples
//!
//! In the repository (`docs/`, `examples/`):
//!
//! * [Threading](https://github.com/zk-curator/zk-curator/blob/main/docs/threading.md): which
//!   thread runs your code, in what order; whether watchers sharing state need a mutex; why
//!   not a thread per watcher; slow, panicking and re-entrant callbacks.
//! * [Recipes](https://github.com/zk-curator/zk-curator/blob/main/docs/recipes.md): each
//!   recipe's znode layout and its interoperability with Java Curator.
//! * [Curator mapping](https://github.com/zk-curator/zk-curator/blob/main/docs/curator-mapping.md):
//!   every Curator class and method and its Rust name.
//! * [Testing](https://github.com/zk-curator/zk-curator/blob/main/docs/testing.md): the
//!   in-process server, its faults and its known differences from ZooKeeper.
//! * [Security](https://github.com/zk-curator/zk-curator/blob/main/docs/security.md): TLS
//!   and mutual TLS, SASL DIGEST-MD5, digest ACLs, with the matching ZooKeeper settings.
//! * [Reliability](https://github.com/zk-curator/zk-curator/blob/main/docs/reliability.md)
//!   and [performance](https://github.com/zk-curator/zk-curator/blob/main/docs/performance.md):
//!   the fault catalogue and the benchmarks, with their figures.
//! * Examples, each against an in-process server by default (`ZK_CONNECT=host:port` for
//!   yours), ending by itself in seconds: `cargo run --example quickstart`, `config_watch`,
//!   `many_watchers`, `slow_watchers`, `distributed_lock`, `leader_election`, `work_queue`,
//!   `background_pipeline`, `testing_faults`.
//!
//! ## zkcli
//!
//! The package also builds `zkcli` (`cargo install zk-curator`), a ZooKeeper shell for
//! operators in the spirit of Apache's `zkCli.sh`: `zkcli --server host:port get -s /a`, `ls
//! -R`, `create -e -s`, `setAcl`, `deleteall`, `watch -r /app`, an interactive prompt with
//! history, data as text, hex or base64, exit codes 0 / 1 (ZooKeeper error) / 2 (usage). It
//! uses only this crate's public API and adds no dependency. The README has a sample session.
//!
//! Supported servers: ZooKeeper 3.5 to 3.9 (3.4 for the core operations); tested against
//! Apache ZooKeeper 3.8 and the in-process [`testing::TestingServer`].
//!
// Without the `testing` feature the module is not there to link to; point at the published
// docs instead so that every build's docs have working links.
#![cfg_attr(feature = "testing", doc = "[`testing`]: crate::testing")]
#![cfg_attr(
    feature = "testing",
    doc = "[`testing::TestingServer`]: crate::testing::TestingServer"
)]
#![cfg_attr(
    not(feature = "testing"),
    doc = "[`testing`]: https://docs.rs/zk-curator/latest/zk_curator/testing/index.html"
)]
#![cfg_attr(
    not(feature = "testing"),
    doc = "[`testing::TestingServer`]: https://docs.rs/zk-curator/latest/zk_curator/testing/struct.TestingServer.html"
)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]
#![warn(unreachable_pub)]

pub mod auth;
pub mod client;
mod compress;
#[cfg(feature = "discovery")]
#[cfg_attr(docsrs, doc(cfg(feature = "discovery")))]
pub mod discovery;
pub mod error;
pub mod framework;
pub mod path;
pub mod proto;
mod random;
pub mod recipes;
pub mod session;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
#[cfg(feature = "tls")]
pub mod tls;

pub use client::{Op, OpResult, ZooKeeper, ZooKeeperBuilder};
pub use error::{Error, HostFailure, HostFailureKind, Result, TlsFailure};
pub use framework::{
    ConnectionState, CuratorEvent, CuratorEventType, CuratorFramework, CuratorFrameworkFactory,
    ExponentialBackoffRetry, RetryNTimes, RetryOneTime, RetryPolicy,
};
pub use proto::{
    Acl, AddWatchMode, ClientInfo, CreateMode, EventType, Id, KeeperState, Perms, Stat, WatcherType,
};
pub use session::{
    node_events, EventDispatcher, NodeEvent, SharedWatcher, States, WatchedEvent, Watcher,
    WorkerPool,
};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// docs/security.md's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/security.md")]
struct SecurityDoctests;

/// docs/threading.md's snippets, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/threading.md")]
struct ThreadingDoctests;
