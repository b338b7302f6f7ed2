//! # zk-curator
//!
//! A complete, synchronous, thread-based ZooKeeper client for Rust that mirrors Apache
//! Curator: the same fluent API, the same recipes with the same znode layouts, and an
//! in-process test server that speaks the real wire protocol.
//!
//! ## Threads
//!
//! Each client runs one I/O thread (`zk-io`) per connection and one event thread
//! (`zk-event`); see [`session`] for the full contract. In short: sync calls
//! are answered straight from the I/O thread, so a watcher may call the client; watchers,
//! async callbacks and state changes run on the event thread in server order; slow callbacks
//! belong on a [`WorkerPool`]; a panicking callback is caught and counted.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod error;
pub mod framework;
pub mod path;
pub mod proto;
pub mod session;

pub use client::{Op, OpResult, ZooKeeper, ZooKeeperBuilder};
pub use error::{Error, Result};
pub use framework::{
    ConnectionState, CuratorEvent, CuratorEventType, CuratorFramework, CuratorFrameworkFactory,
    ExponentialBackoffRetry, RetryNTimes, RetryOneTime, RetryPolicy,
};
pub use proto::{
    Acl, AddWatchMode, ClientInfo, CreateMode, EventType, Id, KeeperState, Perms, Stat, WatcherType,
};
pub use session::{EventDispatcher, SharedWatcher, States, WatchedEvent, Watcher, WorkerPool};
