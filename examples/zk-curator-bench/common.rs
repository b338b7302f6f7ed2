//! Pieces every workload shares: the CLI, the result line, percentiles, process statistics
//! (RSS, threads, CPU), the in-flight window, event counting and the read-back order check.
//! Constants and definitions follow bench/README.md, as the anchor harnesses under bench/anchors do.

use std::fmt::{self, Display};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// How long a watch workload waits for missing events once the writer is done.
pub const WAIT_EVENTS: Duration = Duration::from_secs(30);
/// How long the read-backs of `persistent-recursive` may still take after the events.
pub const WAIT_VERIFY: Duration = Duration::from_secs(10);
/// Untimed warm-up of the request workloads: at least N/10 operations and this long.
pub const WARMUP: Duration = Duration::from_secs(3);
/// Bound on one pipelined batch (Java: `Window.await(120)`; setup batches get 300 s there).
pub const PIPELINE_TIMEOUT: Duration = Duration::from_secs(300);
/// Children written round robin in `persistent-recursive`.
pub const PR_CHILDREN: usize = 100;

/// True while a warm-up that started at `start` and did `done` operations must go on.
pub fn warming(start: Instant, done: usize, min_ops: usize) -> bool {
    done < min_ops || start.elapsed() < WARMUP
}

// ------------------------------------------------------------------------------ CLI

/// Which client drives the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// zk-curator's framework (`CuratorFramework`).
    Curator,
    /// A bare `TcpStream` speaking `zk_curator::proto`: the floor.
    Raw,
    /// The same with the threading contract's hand-offs (`hop.rs`): the contract's floor.
    RawHop,
}

/// Every workload this binary knows (the ten of bench/README.md, then its own).
pub const WORKLOADS: &[&str] = &[
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
    "slow-watcher",
    "restore-watches",
    "idle-footprint",
    "queue-throughput",
    "counter-increment",
    "counter-increment-atomic",
];

#[derive(Debug, Clone)]
pub struct Args {
    pub client: ClientKind,
    pub connect: String,
    pub workload: String,
    pub ops: Option<usize>,
    pub threads: usize,
    /// `--threads` was given (workloads with another default than 8 need to know).
    pub threads_given: bool,
    pub inflight: usize,
    pub nodes: Option<usize>,
    pub size: usize,
}

impl Args {
    pub fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut a = Args {
            client: ClientKind::Curator,
            connect: "127.0.0.1:2181".into(),
            workload: String::new(),
            ops: None,
            threads: 8,
            threads_given: false,
            inflight: 1000,
            nodes: None,
            size: 100,
        };
        while let Some(flag) = it.next() {
            let v = it
                .next()
                .ok_or_else(|| format!("missing value for {flag}"))?;
            let num = |v: &str| {
                v.parse::<usize>()
                    .map_err(|_| format!("{flag}: not a number: {v}"))
            };
            match flag.as_str() {
                "--client" => {
                    a.client = match v.as_str() {
                        "curator" | "zk-curator" => ClientKind::Curator,
                        "raw" => ClientKind::Raw,
                        "raw-hop" => ClientKind::RawHop,
                        other => {
                            return Err(format!("--client: curator, raw or raw-hop, not {other}"))
                        }
                    }
                }
                "--connect" => a.connect = v,
                "--workload" => a.workload = v,
                "--ops" => a.ops = Some(num(&v)?),
                "--threads" => {
                    a.threads = num(&v)?.max(1);
                    a.threads_given = true;
                }
                "--inflight" => a.inflight = num(&v)?.max(1),
                "--nodes" => a.nodes = Some(num(&v)?),
                "--size" => a.size = num(&v)?,
                _ => return Err(format!("unknown option {flag}")),
            }
        }
        if a.workload.is_empty() {
            return Err("--workload is required".into());
        }
        if !WORKLOADS.contains(&a.workload.as_str()) {
            return Err(format!("unknown workload {}", a.workload));
        }
        if a.size == 0 {
            return Err("--size must be >= 1".into());
        }
        Ok(a)
    }

    pub fn ops_or(&self, default: usize) -> usize {
        self.ops.filter(|n| *n > 0).unwrap_or(default)
    }

    /// `--threads`, or `default` when it was not given.
    pub fn threads_or(&self, default: usize) -> usize {
        if self.threads_given {
            self.threads
        } else {
            default
        }
    }

    pub fn nodes_or(&self, default: usize) -> usize {
        self.nodes.filter(|n| *n > 0).unwrap_or(default)
    }
}

// ------------------------------------------------------------------------------ errors

/// Why a workload did not produce numbers.
#[derive(Debug)]
pub enum BenchError {
    /// The client cannot do this workload; the reason goes into the JSON line.
    Unsupported(String),
    Failed(String),
}

impl<E: Display> From<E> for BenchError {
    fn from(e: E) -> Self {
        BenchError::Failed(e.to_string())
    }
}

pub type Res<T> = Result<T, BenchError>;

pub fn fail<T>(msg: impl Into<String>) -> Res<T> {
    Err(BenchError::Failed(msg.into()))
}

// ------------------------------------------------------------------------------ the JSON line

/// A JSON value, enough for the one line we print.
#[derive(Debug, Clone)]
pub enum J {
    I(i64),
    F(f64),
    S(String),
}

impl fmt::Display for J {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            J::I(v) => write!(f, "{v}"),
            J::F(v) if v.is_finite() => {
                if v.fract() == 0.0 && v.abs() < 1e15 {
                    write!(f, "{v:.1}")
                } else {
                    write!(f, "{v}")
                }
            }
            J::F(_) => write!(f, "null"),
            J::S(s) => {
                f.write_str("\"")?;
                for c in s.chars() {
                    match c {
                        '"' => f.write_str("\\\"")?,
                        '\\' => f.write_str("\\\\")?,
                        c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                        c => write!(f, "{c}")?,
                    }
                }
                f.write_str("\"")
            }
        }
    }
}

/// The result line: top-level fields in insertion order, then `extra`.
pub struct Report {
    fields: Vec<(&'static str, J)>,
    extra: Vec<(String, J)>,
}

impl Report {
    pub fn new(client: &str, workload: &str) -> Report {
        Report {
            fields: vec![
                ("client", J::S(client.into())),
                ("workload", J::S(workload.into())),
            ],
            extra: Vec::new(),
        }
    }

    pub fn set(&mut self, k: &'static str, v: J) {
        match self.fields.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => self.fields.push((k, v)),
        }
    }

    pub fn set_str(&mut self, k: &'static str, v: &str) {
        self.set(k, J::S(v.into()))
    }

    pub fn extra(&mut self, k: impl Into<String>, v: J) {
        let k = k.into();
        match self.extra.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => self.extra.push((k, v)),
        }
    }

    /// ops, secs, ops_per_sec, p50_us, p99_us from per-operation latencies in nanoseconds.
    pub fn latencies(&mut self, n: usize, elapsed: Duration, lat: &mut [u64]) {
        self.set("ops", J::I(n as i64));
        self.set("secs", J::F(secs(elapsed)));
        self.set(
            "ops_per_sec",
            J::F(round1(n as f64 / elapsed.as_secs_f64().max(1e-9))),
        );
        self.percentiles(lat);
    }

    /// p50_us, p99_us (nearest rank) from latencies in nanoseconds.
    pub fn percentiles(&mut self, lat: &mut [u64]) {
        lat.sort_unstable();
        self.set("p50_us", J::F(round1(percentile(lat, 0.50) as f64 / 1e3)));
        self.set("p99_us", J::F(round1(percentile(lat, 0.99) as f64 / 1e3)));
    }

    /// ops (events expected), secs (to the last delivered event), events/s, lost.
    pub fn events(&mut self, expected: usize, delivered: usize, elapsed: Duration) {
        self.set("ops", J::I(expected as i64));
        self.set("secs", J::F(secs(elapsed)));
        self.set(
            "ops_per_sec",
            J::F(round1(delivered as f64 / elapsed.as_secs_f64().max(1e-9))),
        );
        self.set("lost", J::I(expected as i64 - delivered as i64));
        self.extra("delivered", J::I(delivered as i64));
    }

    /// `cpu_us_per_op`: process CPU (all threads) over the timed phase per operation.
    pub fn cpu(&mut self, cpu: Duration, ops: usize) {
        let per = cpu.as_nanos() as f64 / 1e3 / ops.max(1) as f64;
        self.set("cpu_us_per_op", J::F(round2(per)));
    }

    pub fn to_json(&self) -> String {
        // The anchors' order whatever the order of the `set` calls; unknown keys last.
        const ORDER: &[&str] = &[
            "client",
            "workload",
            "ops",
            "secs",
            "ops_per_sec",
            "p50_us",
            "p99_us",
            "lost",
            "out_of_order",
            "cpu_us_per_op",
            "unsupported",
            "error",
        ];
        let rank = |k: &str| ORDER.iter().position(|o| *o == k).unwrap_or(ORDER.len());
        let mut fields: Vec<&(&'static str, J)> = self.fields.iter().collect();
        fields.sort_by_key(|(k, _)| rank(k));
        let mut s = String::from("{");
        let mut first = true;
        for (k, v) in fields {
            if !first {
                s.push(',');
            }
            first = false;
            s.push_str(&format!("{}:{}", J::S((*k).into()), v));
        }
        if !self.extra.is_empty() {
            s.push_str(",\"extra\":{");
            let body: Vec<String> = self
                .extra
                .iter()
                .map(|(k, v)| format!("{}:{}", J::S(k.clone()), v))
                .collect();
            s.push_str(&body.join(","));
            s.push('}');
        }
        s.push('}');
        s
    }
}

/// Nearest-rank percentile of a sorted slice.
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Seconds with microsecond precision, as the anchors print them.
pub fn secs(d: Duration) -> f64 {
    (d.as_micros() as f64) / 1e6
}

pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

pub fn nanos(d: Duration) -> u64 {
    d.as_nanos() as u64
}

pub fn payload(size: usize) -> Vec<u8> {
    vec![b'x'; size]
}

/// The unique root of this run.
pub fn root_path() -> String {
    format!("/bench-{}", std::process::id())
}

// ------------------------------------------------------------------------------ process stats

/// Resident set size of this process in KiB (VmRSS), or -1.
pub fn rss_kb() -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(-1)
}

/// Threads of this process (entries of `/proc/self/task`), or -1.
pub fn thread_count() -> i64 {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count() as i64)
        .unwrap_or(-1)
}

/// CPU time of this process's threads in nanoseconds, by thread id: the first field of
/// `/proc/self/task/<tid>/schedstat` (time on a CPU, user + system, in ns).
///
/// Why not `/proc/self/stat`: its utime+stime count in clock ticks (10 ms at 100 Hz), too
/// coarse for a sub-second phase. `getrusage` would need `unsafe` FFI. schedstat has ns
/// resolution but only sees threads alive when it is read, so the workloads keep every
/// thread that works in a timed phase alive until the phase's end reading (client threads
/// live for the whole run anyway; get-threads parks its workers on a barrier first). The
/// only threads that can end inside a timed phase are the proxy pumps of restore-watches
/// whose connection is cut, and they do nothing but exit.
pub fn thread_cpu_ns() -> Vec<(u32, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|t| t.parse::<u32>().ok()) else {
            continue;
        };
        let mut p = e.path();
        p.push("schedstat");
        if let Ok(s) = std::fs::read_to_string(&p) {
            if let Some(v) = s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
            {
                out.push((tid, v));
            }
        }
    }
    out
}

/// Process CPU spent since `start()`: per thread, the end reading minus the start reading
/// (zero for a thread born since), summed over the threads alive at the end.
#[derive(Debug, Clone)]
pub struct CpuMeter(Vec<(u32, u64)>);

impl CpuMeter {
    pub fn start() -> CpuMeter {
        let mut v = thread_cpu_ns();
        v.sort_unstable();
        CpuMeter(v)
    }

    pub fn elapsed(&self) -> Duration {
        self.sum(None)
    }

    /// As `elapsed`, without the calling thread (for phases where it only waits, so that
    /// the meter's own reading of a few hundred `/proc` files does not count).
    pub fn elapsed_others(&self) -> Duration {
        self.sum(current_tid())
    }

    fn sum(&self, skip: Option<u32>) -> Duration {
        let debug = std::env::var_os("BENCH_CPU_DEBUG").is_some();
        let mut by_name: Vec<(String, u64)> = Vec::new();
        let mut total = 0u64;
        for (tid, now) in thread_cpu_ns() {
            if Some(tid) == skip {
                continue;
            }
            let before = match self.0.binary_search_by_key(&tid, |(t, _)| *t) {
                Ok(i) => self.0[i].1,
                Err(_) => 0,
            };
            let d = now.saturating_sub(before);
            total += d;
            if debug {
                let name = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm"))
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                match by_name.iter_mut().find(|(n, _)| *n == name) {
                    Some(e) => e.1 += d,
                    None => by_name.push((name, d)),
                }
            }
        }
        if debug {
            by_name.sort_by_key(|e| std::cmp::Reverse(e.1));
            let parts: Vec<String> = by_name
                .iter()
                .map(|(n, d)| format!("{n}={:.1}ms", *d as f64 / 1e6))
                .collect();
            eprintln!("cpu by thread name: {}", parts.join(" "));
        }
        Duration::from_nanos(total)
    }
}

/// The calling thread's id (from the `/proc/thread-self` link: `<pid>/task/<tid>`).
pub fn current_tid() -> Option<u32> {
    std::fs::read_link("/proc/thread-self")
        .ok()?
        .file_name()?
        .to_str()?
        .parse()
        .ok()
}

// ------------------------------------------------------------------------------ the window

/// At most K background operations in flight (Curator's harness: a `Semaphore` plus a
/// `CountDownLatch`): a counting semaphore on a Condvar that also counts completions and
/// remembers the first failure.
pub struct Window {
    k: usize,
    st: Mutex<WinState>,
    cv: Condvar,
}

#[derive(Default)]
struct WinState {
    inflight: usize,
    done: usize,
    errors: usize,
    first_error: Option<i32>,
}

impl Window {
    pub fn new(k: usize) -> Arc<Window> {
        Arc::new(Window {
            k: k.max(1),
            st: Mutex::new(WinState::default()),
            cv: Condvar::new(),
        })
    }

    /// Takes a permit, waiting while K operations are in flight (until `deadline`).
    pub fn acquire(&self, deadline: Instant) -> Res<()> {
        let mut st = self.st.lock();
        while st.inflight >= self.k {
            if self.cv.wait_until(&mut st, deadline).timed_out() && st.inflight >= self.k {
                return fail("background operations stopped completing (window full)");
            }
        }
        st.inflight += 1;
        Ok(())
    }

    /// Takes a permit if one is free, without waiting.
    pub fn try_acquire(&self) -> bool {
        let mut st = self.st.lock();
        if st.inflight >= self.k {
            return false;
        }
        st.inflight += 1;
        true
    }

    /// An operation finished with result code `rc` (0: success).
    pub fn done(&self, rc: i32) {
        self.finish(rc != 0, rc);
    }

    /// An operation finished; `failed` says whether it counts as an error.
    pub fn finish(&self, failed: bool, rc: i32) {
        let mut st = self.st.lock();
        st.inflight = st.inflight.saturating_sub(1);
        st.done += 1;
        if failed {
            st.errors += 1;
            st.first_error.get_or_insert(rc);
        }
        drop(st);
        self.cv.notify_all();
    }

    /// Waits until `n` operations finished (until `deadline`); fails if any failed.
    pub fn wait_all(&self, n: usize, deadline: Instant) -> Res<()> {
        let mut st = self.st.lock();
        while st.done < n {
            if self.cv.wait_until(&mut st, deadline).timed_out() && st.done < n {
                return fail(format!(
                    "background operations did not finish in time ({} of {n})",
                    st.done
                ));
            }
        }
        if st.errors > 0 {
            return fail(format!(
                "{} background operations failed, first rc={}",
                st.errors,
                st.first_error.unwrap_or(0)
            ));
        }
        Ok(())
    }
}

/// Runs `issue(i, window)` for `i in 0..n` with at most `k` operations in flight; each
/// operation's callback must call `window.done(rc)` exactly once. Fails on the first error.
pub fn pipelined<F>(n: usize, k: usize, mut issue: F) -> Res<()>
where
    F: FnMut(usize, Arc<Window>) -> zk_curator::Result<()>,
{
    let w = Window::new(k);
    let deadline = Instant::now() + PIPELINE_TIMEOUT;
    for i in 0..n {
        w.acquire(deadline)?;
        issue(i, w.clone())?;
    }
    w.wait_all(n, deadline)
}

// ------------------------------------------------------------------------------ events

/// Counts events, remembers when the last one came and wakes a waiter at `expected`.
pub struct Delivery {
    base: Instant,
    pub count: AtomicUsize,
    last_ns: AtomicU64,
    expected: usize,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Delivery {
    pub fn new(expected: usize) -> Arc<Delivery> {
        Arc::new(Delivery {
            base: Instant::now(),
            count: AtomicUsize::new(0),
            last_ns: AtomicU64::new(0),
            expected,
            lock: Mutex::new(()),
            cv: Condvar::new(),
        })
    }

    /// One event; returns how many so far.
    pub fn hit(&self) -> usize {
        self.last_ns
            .store(nanos(self.base.elapsed()), Ordering::Relaxed);
        let got = self.count.fetch_add(1, Ordering::AcqRel) + 1;
        if got >= self.expected {
            let _g = self.lock.lock();
            self.cv.notify_all();
        }
        got
    }

    pub fn delivered(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Waits until every expected event came, at most `timeout`; true if they all did.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.lock.lock();
        while self.delivered() < self.expected {
            if self.cv.wait_until(&mut g, deadline).timed_out() {
                return self.delivered() >= self.expected;
            }
        }
        true
    }

    /// Time from `t0` to the last delivered event (or to now when none came).
    pub fn elapsed_since(&self, t0: Instant) -> Duration {
        if self.delivered() == 0 {
            return t0.elapsed();
        }
        (self.base + Duration::from_nanos(self.last_ns.load(Ordering::Relaxed)))
            .saturating_duration_since(t0)
    }
}

/// Parses the counter that `persistent-recursive` writes into each child.
pub fn parse_counter(data: &[u8]) -> Option<i64> {
    std::str::from_utf8(data).ok()?.trim().parse().ok()
}

/// Index of a `persistent-recursive` child from its path `<dir>/c<idx>`.
pub fn child_index(path: &str) -> Option<usize> {
    path.rsplit_once("/c")
        .and_then(|(_, n)| n.parse().ok())
        .filter(|i| *i < PR_CHILDREN)
}

/// Tracks the per-node counters read back after each event.
pub struct OrderCheck {
    last: Vec<i64>,
    pub out_of_order: usize,
    pub verified: usize,
    pub read_errors: usize,
}

impl OrderCheck {
    pub fn new() -> OrderCheck {
        OrderCheck {
            last: vec![i64::MIN; PR_CHILDREN],
            out_of_order: 0,
            verified: 0,
            read_errors: 0,
        }
    }

    pub fn observe(&mut self, path: &str, data: Option<&[u8]>) {
        self.verified += 1;
        match (child_index(path), data.and_then(parse_counter)) {
            (Some(idx), Some(seq)) => {
                if seq < self.last[idx] {
                    self.out_of_order += 1;
                }
                self.last[idx] = seq;
            }
            _ => self.read_errors += 1,
        }
    }
}
