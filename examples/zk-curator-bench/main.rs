//! `zk-curator-bench`: zk-curator's benchmark binary (issue 8), measured side by side with
//! the anchor harnesses of `bench/anchors` (Apache Curator, the `zookeeper` and
//! `zookeeper-client` crates, kazoo): same CLI, same workloads, same one-line JSON, all
//! defined in `bench/README.md`.
//!
//! # Why an example target
//!
//! `bench/run.sh` runs each harness as a plain command. A `[[bench]]` target is built under
//! a hashed name in `target/release/deps/` and run by `cargo bench`, which adds its own
//! arguments; an example is a plain binary at a fixed path, built by one cargo command, with
//! the package's dependencies and nothing else (no new `[dependencies]`, no
//! dev-dependencies). To reproduce the comparison (the script builds this binary and the
//! anchors, and starts its own ZooKeeper):
//!
//! ```text
//! bench/run.sh all.jsonl
//! ```
//!
//! It runs this binary three ways: as `zk-curator`, and as the two floors `raw-socket`
//! (`--client raw`) and `raw-hop` (`--client raw-hop`), which answer `unsupported` outside
//! get-sync and get-pipelined.
//!
//! # CLI
//!
//! ```text
//! zk-curator-bench --connect HOST:PORT --workload NAME [--ops N] [--threads T]
//!     [--inflight K] [--nodes W] [--size BYTES] [--client curator|raw|raw-hop]
//! ```
//!
//! Exactly one JSON line on stdout; exit 0 (also for `"unsupported"`), 1 with an `"error"`
//! field, 2 on bad usage (message on stderr, no JSON). `"client"` is `zk-curator-<version>`,
//! `raw-socket` with `--client raw`, `raw-hop` with `--client raw-hop`.
//!
//! # Workloads
//!
//! The ten workloads of `bench/README.md`, defined as there (warm-up of N/10 operations
//! and 3 s for 1-4 and 8; root `/bench-<pid>`, deleted at the end, also after a failure;
//! other sessions closed before that):
//! get-sync, get-threads, get-pipelined (`in_background`, at most K in flight through a
//! Condvar semaphore), create-delete, watch-fanout, persistent-recursive, cache-load
//! (zk-curator's `CuratorCache`, `extra.impl = "CuratorCache"`, see `cache.rs`),
//! lock-uncontended and lock-contended (`InterProcessMutex`, see `locks.rs`), leader-failover
//! (`LeaderLatch`, see `leader.rs`).
//!
//! `--client raw` runs get-sync and get-pipelined over a bare `TcpStream` with
//! `zk_curator::proto` only: the floor (`raw.rs`). `--client raw-hop` runs the same loops
//! with the hand-offs the threading contract requires and nothing else (a reader thread
//! completes the caller; callbacks on an event thread fed by a crossbeam channel): the
//! floor of any client that keeps the contract (`hop.rs`).
//!
//! `queue-throughput` (`queue.rs`): one producer and one consumer sharing a
//! `DistributedQueue`, items/s end to end; `java/QueueThroughput.java` is its Curator twin
//! and `queue-throughput.sh` runs both against one real ZooKeeper.
//!
//! zk-curator's own workloads (`own.rs`): `slow-watcher` (one of 100 persistent watchers is
//! offloaded to a `WorkerPool` and sleeps 50 ms per event; p50/p99 are the write-ack-to-event
//! latencies of the other 99 paths), `restore-watches` (W [100000] one-shot watches, the
//! connection cut by an in-process proxy, time until the watches are back and one fires),
//! `idle-footprint` (RSS, threads, idle CPU for 1, 10, 100 connected clients). slow-watcher
//! runs a second, control phase in which the offloaded watcher does not sleep
//! (`extra.control_p50_us`, `control_p99_us`): the difference is what the slow watcher costs
//! the others, the rest is the machine.
//!
//! Recipe workloads (`counter.rs`): `counter-increment` (T clients incrementing one
//! `SharedCount` with compare-and-set) and `counter-increment-atomic` (the same with a
//! `DistributedAtomicLong`): increments per second, and a run fails unless the counter moved
//! by exactly N. `java/CounterBench.java` is Java Curator's twin; `counter-vs-curator.sh`
//! runs both against one ZooKeeper.
//!
//! # CPU
//!
//! Every measured line carries `cpu_us_per_op`: the process's CPU time (all threads, user +
//! system) over the timed phase, divided by `ops`. It is read from
//! `/proc/self/task/*/schedstat` (nanoseconds on a CPU per thread), not from
//! `/proc/self/stat` (10 ms clock ticks); see `common::cpu_ns` for what that implies. The
//! server is another process and is not included.
//!
//! # Looking into a run
//!
//! `BENCH_LOG=info|debug|trace` prints the client's `log` records on stderr (with the time
//! since start and the thread name); `BENCH_CPU_DEBUG=1` prints each CPU reading by thread
//! name (`zk-io`, `zk-event`, ...). stdout keeps its one JSON line either way.

mod cache;
mod common;
mod counter;
mod curator;
mod hop;
mod leader;
mod locks;
mod own;
mod proxy;
mod queue;
mod raw;

use common::{Args, BenchError, ClientKind, Report};

const USAGE: &str = "usage: zk-curator-bench --connect HOST:PORT --workload NAME [--ops N] \
[--threads T] [--inflight K] [--nodes W] [--size BYTES] [--client curator|raw|raw-hop]";

/// `BENCH_LOG=info|debug|trace`: the client's `log` records on stderr, with the time since
/// start (for looking into a run; stdout keeps its one JSON line).
struct StderrLog(std::time::Instant);

impl log::Log for StderrLog {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, r: &log::Record) {
        let t = self.0.elapsed();
        let name = std::thread::current().name().unwrap_or("?").to_string();
        eprintln!(
            "{:>4}.{:06} {:<5} [{name}] {}",
            t.as_secs(),
            t.subsec_micros(),
            r.level(),
            r.args()
        );
    }

    fn flush(&self) {}
}

fn init_log() {
    let level = match std::env::var("BENCH_LOG").as_deref() {
        Ok("error") => log::LevelFilter::Error,
        Ok("warn") => log::LevelFilter::Warn,
        Ok("info") => log::LevelFilter::Info,
        Ok("debug") => log::LevelFilter::Debug,
        Ok("trace") => log::LevelFilter::Trace,
        _ => return,
    };
    let logger: &'static StderrLog = Box::leak(Box::new(StderrLog(std::time::Instant::now())));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

fn main() {
    init_log();
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{USAGE}\n{e}\nworkloads: {}", common::WORKLOADS.join(" "));
            std::process::exit(2);
        }
    };
    let name = match args.client {
        ClientKind::Curator => curator::name(),
        ClientKind::Raw => raw::NAME.to_string(),
        ClientKind::RawHop => hop::NAME.to_string(),
    };
    let mut rep = Report::new(&name, &args.workload);
    let result = match args.client {
        ClientKind::Curator => curator::run(&args, &mut rep),
        ClientKind::Raw => raw::run(&args, &mut rep, false),
        ClientKind::RawHop => raw::run(&args, &mut rep, true),
    };
    let code = match result {
        Ok(()) => 0,
        Err(BenchError::Unsupported(why)) => {
            rep.set_str("unsupported", &why);
            0
        }
        Err(BenchError::Failed(why)) => {
            rep.set_str("error", &why);
            1
        }
    };
    println!("{}", rep.to_json());
    std::process::exit(code);
}
