//! `anchor-peers`: the bench/ harness for the two existing Rust ZooKeeper clients that
//! zk-curator is compared with.
//!
//! ```text
//! anchor-peers --client zookeeper|zookeeper-client --connect HOST:PORT --workload NAME
//!     [--ops N] [--threads T] [--inflight K] [--nodes W] [--size BYTES]
//! ```
//!
//! * `--client zookeeper`: the `zookeeper` crate 0.8 (`sync_crate.rs`), a blocking client
//!   with an I/O thread and an event thread per session.
//! * `--client zookeeper-client`: the `zookeeper-client` crate 0.11 (`async_crate.rs`), an
//!   async client driven from a multi-threaded tokio runtime.
//!
//! One JSON line on stdout; exit 0 (also when the library cannot do the workload), 1 with an
//! `"error"` field, 2 on bad usage. The workloads and fields are defined in bench/README.md.

mod async_crate;
mod cli;
mod line;
mod measure;
mod sync_crate;

use std::fmt::Display;

const USAGE: &str = "usage: anchor-peers --client zookeeper|zookeeper-client --connect HOST:PORT \
--workload NAME [--ops N] [--threads T] [--inflight K] [--nodes W] [--size BYTES]";

/// Every workload of bench/README.md, in its order.
pub const WORKLOADS: [&str; 10] = [
    "get-sync",
    "get-threads",
    "get-pipelined",
    "create-delete",
    "watch-fanout",
    "persistent-recursive",
    "cache-load",
    "lock-uncontended",
    "lock-contended",
    "leader-failover",
];

/// Why a run produced no figures.
#[derive(Debug)]
pub enum Outcome {
    /// The library cannot do the workload: the JSON line says why, the exit code is 0.
    Unsupported(String),
    /// Something went wrong: the JSON line's `"error"`, exit code 1.
    Failed(String),
}

impl<E: Display> From<E> for Outcome {
    fn from(e: E) -> Outcome {
        Outcome::Failed(e.to_string())
    }
}

pub type Res<T> = Result<T, Outcome>;

pub fn failed<T>(why: impl Into<String>) -> Res<T> {
    Err(Outcome::Failed(why.into()))
}

/// The root every run works under, deleted at its end.
pub fn run_root() -> String {
    format!("/bench-{}", std::process::id())
}

fn main() {
    let opts = match cli::Options::parse(std::env::args().skip(1)) {
        Ok(o) if WORKLOADS.contains(&o.workload.as_str()) => o,
        Ok(o) => usage(&format!(
            "unknown workload {}; one of: {}",
            o.workload,
            WORKLOADS.join(" ")
        )),
        Err(e) => usage(&e),
    };
    let client = match opts.client.as_str() {
        "zookeeper" => sync_crate::CLIENT,
        "zookeeper-client" => async_crate::CLIENT,
        other => usage(&format!("unknown --client {other}")),
    };
    let mut line = line::Line::new(client, &opts.workload);
    let result = if opts.client == "zookeeper" {
        sync_crate::run(&opts, &mut line)
    } else {
        async_crate::run(&opts, &mut line)
    };
    let code = match result {
        Ok(()) => 0,
        Err(Outcome::Unsupported(why)) => {
            line.set("unsupported", why);
            0
        }
        Err(Outcome::Failed(why)) => {
            line.set("error", why);
            1
        }
    };
    println!("{}", line.render());
    std::process::exit(code);
}

fn usage(why: &str) -> ! {
    eprintln!("{USAGE}\n{why}");
    std::process::exit(2);
}
