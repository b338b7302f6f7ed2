//! The shared integration-test harness. A test file pulls it in with `mod support;`.
//!
//! * [`real`]: [`RealServer`], Apache ZooKeeper 3.8 standalone as a child process, owned by
//!   one test or shared by the whole test binary ([`RealServer::shared`]).
//! * [`ensemble`]: [`RealEnsemble`], several quorum peers on loopback.
//! * [`jvm`]: the plumbing both use (finding Java, a JVM that dies with the test process,
//!   free ports, four-letter words).
//! * [`raw`]: [`RawConn`], the one raw-protocol client: a hand-driven connection over
//!   `zk_curator::proto`, fallible (`io::Result`) and asserting forms.
//! * [`tree`], [`caches`], [`cache_model`]: trees and seeded writers, the legacy-cache
//!   helpers (outage rig, watch checks), and the event-model checker of the cache tests.
//! * [`samples`]: one valid instance of every wire record, request and response.
//!
//! Real ZooKeeper is optional: without Java or the jar the `start` functions print
//! `skipped: real ZooKeeper not found` and return `None`, so a test reads
//!
//! ```ignore
//! let Some(zk) = RealServer::shared() else { return };
//! ```
//!
//! With `ZK_REQUIRE_REAL=1` (CI) a missing installation panics instead.

// Each test binary uses a different part of the harness.
#![allow(dead_code, unused_imports)]

pub mod cache_model;
pub mod caches;
pub mod certs;
pub mod curator;
pub mod election;
pub mod ensemble;
pub mod jvm;
pub mod latches;
pub mod raw;
pub mod real;
pub mod samples;
pub mod selectors;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use ensemble::RealEnsemble;
pub use raw::RawConn;
pub use real::{RealServer, ServerOptions};

/// A znode path no other test of this binary uses: `/t-<name>-<n>`. Tests on the shared
/// server work under their own root so that they can run in parallel.
pub fn unique_root(name: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("/t-{name}-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub mod events;
pub mod server;
pub use server::{Kind, TestServer};
pub mod figures;
pub mod proxy;
pub mod tree;
pub mod workload;

/// Sends the crate's `log` output to stderr when `ZK_TEST_LOG` is set (`debug`, `info`, ...),
/// for debugging a test; call it first thing in the test.
pub fn init_log() {
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, r: &log::Record<'_>) {
            eprintln!(
                "{:?} {:5} {} [{}] {}",
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() % 100_000)
                    .unwrap_or(0),
                r.level(),
                r.target(),
                std::thread::current().name().unwrap_or("?"),
                r.args()
            );
        }
        fn flush(&self) {}
    }
    static LOGGER: Stderr = Stderr;
    if let Ok(level) = std::env::var("ZK_TEST_LOG") {
        let filter = level.parse().unwrap_or(log::LevelFilter::Debug);
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(filter);
        }
    }
}
