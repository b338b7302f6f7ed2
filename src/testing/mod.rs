//! An in-process ZooKeeper for tests: [`TestingServer`] and [`TestingCluster`], the
//! counterparts of Apache Curator's `TestingServer`, `TestingCluster` and `KillSession`, with
//! no JVM and a start-up in milliseconds.
//!
//! The server speaks the real wire protocol on a loopback port, so any client (this crate's,
//! the Java client, kazoo) can use it, and it behaves like Apache ZooKeeper 3.8.0 for
//! everything a client observes: full Stats and zxids, sequential names, ephemeral,
//! container and TTL nodes, ACLs (world, auth, digest, ip, super), multi, one-shot,
//! persistent and persistent-recursive watches with the server's trigger rules, SetWatches,
//! session negotiation and expiry, and the four-letter words. `docs/testing.md` lists the
//! known differences.
//!
//! Faults a test can inject: [`TestingServer::drop_connections`],
//! [`TestingServer::expire_session`], [`TestingServer::pause`] (a partition: sessions age and
//! expire), [`TestingServer::set_latency`], [`TestingServer::fail_next`] (apply, then lose the
//! reply), [`TestingServer::stop`]/[`TestingServer::restart`], and for clusters
//! [`TestingCluster::kill`], [`TestingCluster::partition`] and loss of quorum.
//!
//! Threads: one acceptor per member (`zk-test-acceptor`), a reader and a writer per
//! connection (`zk-test-conn-N`, `zk-test-conn-N-out`) and one ticker (`zk-test-ticker`) that
//! expires sessions and reaps containers; all are joined on close. The whole state sits
//! behind one lock; replies are encoded under it into a per-connection buffer and written by
//! the writer thread, batched.
//!
//! `cargo run --example testing-server -- --port 2181` runs one as a standalone process.
//!
//! Layering, bottom up (a module uses only those before it; `.ci/import_loops.py` checks):
//! acl, commit, faults, sasl, tree; outbox, stats, watches; session; shared (the state every
//! member shares); fourlw, ops (with
//! its child `multi`); request; conn, fuzz; member; ensemble; server; cluster.

mod acl;
mod cluster;
mod commit;
mod conn;
mod ensemble;
mod faults;
mod fourlw;
#[doc(hidden)]
pub mod fuzz;
mod member;
mod ops;
mod outbox;
mod request;
#[cfg(feature = "sasl")]
mod sasl;
mod server;
mod session;
mod shared;
mod stats;
mod tree;
mod watches;

pub use cluster::TestingCluster;
pub use server::{TestingServer, TestingServerBuilder};
