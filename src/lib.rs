//! # zk-curator
//!
//! A complete, synchronous, thread-based ZooKeeper client for Rust that mirrors Apache
//! Curator: the same fluent API, the same recipes with the same znode layouts, and an
//! in-process test server that speaks the real wire protocol.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod path;
pub mod proto;
pub mod testing;

pub use error::{Error, Result};
pub use proto::{Acl, CreateMode, EventType, Id, KeeperState, Perms, Stat};
