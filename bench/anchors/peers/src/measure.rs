//! What both drivers measure with: the shared constants of bench/README.md, warm-up,
//! percentiles, event arrival, the read-back order check, the mutual-exclusion referee of
//! lock-contended and the leadership checks of leader-failover.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{Outcome, Res};

/// A warm-up lasts at least this long (and at least N/10 operations).
pub const WARMUP_TIME: Duration = Duration::from_secs(3);
/// How long a watch workload waits for missing events after the writer's last reply.
pub const EVENT_GRACE: Duration = Duration::from_secs(30);
/// How long persistent-recursive's read-backs may still run after the events are in.
pub const VERIFY_GRACE: Duration = Duration::from_secs(10);
/// The longest one lock acquisition or one leader hand-over may take before the run fails.
pub const RECIPE_LIMIT: Duration = Duration::from_secs(60);
/// How often a waiting main thread re-reads the leadership flags when nothing woke it.
pub const LEADER_RECHECK: Duration = Duration::from_micros(100);
/// Children of persistent-recursive, written round robin.
pub const PR_CHILDREN: usize = 100;

pub fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Seconds with microsecond resolution, as the JSON line carries them.
pub fn secs(d: Duration) -> f64 {
    d.as_micros() as f64 / 1e6
}

pub fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// Nearest-rank percentile of an ascending slice (0 when empty).
pub fn percentile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// This process's resident set (VmRSS) in KiB, or -1 where /proc does not say.
pub fn rss_kib() -> i64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

pub fn payload(size: usize) -> Vec<u8> {
    vec![b'x'; size]
}

/// The untimed warm-up of the request workloads: `while w.more(1) { op()? }` runs until at
/// least `min_ops` operations are done and `WARMUP_TIME` has passed.
pub struct Warmup {
    start: Instant,
    min_ops: usize,
    done: usize,
}

impl Warmup {
    pub fn new(min_ops: usize) -> Warmup {
        Warmup {
            start: Instant::now(),
            min_ops,
            done: 0,
        }
    }

    /// True when another step of `step` operations is due (and counts it as done).
    pub fn more(&mut self, step: usize) -> bool {
        if self.done >= self.min_ops && self.start.elapsed() >= WARMUP_TIME {
            return false;
        }
        self.done += step;
        true
    }

    pub fn done(&self) -> usize {
        self.done
    }
}

/// Counts the events a watch workload expects and remembers when the last one arrived.
pub struct Arrivals {
    base: Instant,
    expected: usize,
    count: Mutex<(usize, Duration)>,
    all_in: Condvar,
}

impl Arrivals {
    pub fn new(expected: usize) -> Arc<Arrivals> {
        Arc::new(Arrivals {
            base: Instant::now(),
            expected,
            count: Mutex::new((0, Duration::ZERO)),
            all_in: Condvar::new(),
        })
    }

    /// One event arrived; returns how many have so far.
    pub fn arrive(&self) -> usize {
        let at = self.base.elapsed();
        let mut c = self.count.lock().unwrap_or_else(|p| p.into_inner());
        c.0 += 1;
        c.1 = at;
        if c.0 >= self.expected {
            self.all_in.notify_all();
        }
        c.0
    }

    /// Waits until every expected event arrived or `grace` passed; returns how many did.
    pub fn wait(&self, grace: Duration) -> usize {
        let c = self.count.lock().unwrap_or_else(|p| p.into_inner());
        let (c, _) = self
            .all_in
            .wait_timeout_while(c, grace, |c| c.0 < self.expected)
            .unwrap_or_else(|p| p.into_inner());
        c.0
    }

    /// From `t0` to the last arrival (to now when nothing arrived).
    pub fn span_from(&self, t0: Instant) -> Duration {
        let c = self.count.lock().unwrap_or_else(|p| p.into_inner());
        if c.0 == 0 {
            return t0.elapsed();
        }
        (self.base + c.1).saturating_duration_since(t0)
    }
}

/// persistent-recursive's check: the counter read back from a child must never go down.
pub struct OrderCheck {
    last: Vec<i64>,
    pub verified: usize,
    pub out_of_order: usize,
    pub read_errors: usize,
}

impl Default for OrderCheck {
    fn default() -> OrderCheck {
        OrderCheck {
            last: vec![i64::MIN; PR_CHILDREN],
            verified: 0,
            out_of_order: 0,
            read_errors: 0,
        }
    }
}

impl OrderCheck {
    /// A read-back of `path` (`<dir>/c<index>`) gave `data` (None: the read failed).
    pub fn record(&mut self, path: &str, data: Option<&[u8]>) {
        self.verified += 1;
        let index = path
            .rsplit_once("/c")
            .and_then(|(_, i)| i.parse::<usize>().ok())
            .filter(|i| *i < PR_CHILDREN);
        let counter = data
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|s| s.trim().parse::<i64>().ok());
        match (index, counter) {
            (Some(i), Some(c)) => {
                if c < self.last[i] {
                    self.out_of_order += 1;
                }
                self.last[i] = c;
            }
            _ => self.read_errors += 1,
        }
    }
}

/// lock-contended's referee: hands out the N acquisitions and checks, inside each critical
/// section, that nobody else holds the lock.
pub struct Referee {
    tickets: AtomicI64,
    holders: AtomicUsize,
    violations: AtomicUsize,
    counter: AtomicI64,
}

impl Referee {
    pub fn new(n: usize) -> Referee {
        Referee {
            tickets: AtomicI64::new(i64::try_from(n).unwrap_or(i64::MAX)),
            holders: AtomicUsize::new(0),
            violations: AtomicUsize::new(0),
            counter: AtomicI64::new(0),
        }
    }

    /// Takes one of the N acquisitions; false once they are all taken.
    pub fn ticket(&self) -> bool {
        self.tickets.fetch_sub(1, Ordering::SeqCst) > 0
    }

    /// The critical section: run while holding the lock.
    pub fn hold(&self) {
        if self.holders.fetch_add(1, Ordering::SeqCst) != 0 {
            self.violations.fetch_add(1, Ordering::SeqCst);
        }
        // Load then store, not fetch_add: only the lock makes this increment safe, so a
        // broken lock shows in the counter too.
        let c = self.counter.load(Ordering::SeqCst);
        self.counter.store(c + 1, Ordering::SeqCst);
        self.holders.fetch_sub(1, Ordering::SeqCst);
    }

    pub fn report(&self, line: &mut crate::line::Line, clients: usize, recipe: &str) {
        line.extra("violations", self.violations.load(Ordering::SeqCst));
        line.extra("clients", clients);
        line.extra("counter", self.counter.load(Ordering::SeqCst));
        line.extra("unit", "acquisition (p50/p99: request to holding)");
        line.extra("recipe", recipe);
    }
}

/// Who leads among leader-failover's participants, as each library tells it.
pub trait Leadership: Send + Sync + 'static {
    fn participants(&self) -> usize;
    fn leads(&self, k: usize) -> bool;
}

/// The only participant that leads, None if nobody or several do.
pub fn sole_leader(l: &dyn Leadership) -> Option<usize> {
    let mut found = None;
    for k in 0..l.participants() {
        if l.leads(k) {
            if found.is_some() {
                return None;
            }
            found = Some(k);
        }
    }
    found
}

/// Waits until exactly one participant other than `except` leads. The calling thread parks
/// for `LEADER_RECHECK` at most; a library with a leadership callback unparks it sooner.
pub fn await_new_leader(l: &dyn Leadership, except: Option<usize>) -> Res<usize> {
    let deadline = Instant::now() + RECIPE_LIMIT;
    loop {
        if let Some(k) = sole_leader(l).filter(|k| Some(*k) != except) {
            return Ok(k);
        }
        if Instant::now() > deadline {
            return Err(Outcome::Failed(format!(
                "no single new leader within {} s",
                RECIPE_LIMIT.as_secs()
            )));
        }
        std::thread::park_timeout(LEADER_RECHECK);
    }
}

/// A thread that looks at every participant each millisecond and counts the looks that saw
/// two or more leaders.
pub struct DoubleLeaderWatch {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(usize, usize)>,
}

impl DoubleLeaderWatch {
    pub fn start(l: Arc<dyn Leadership>) -> DoubleLeaderWatch {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut doubles, mut looks) = (0, 0);
            while !s.load(Ordering::SeqCst) {
                if (0..l.participants()).filter(|&k| l.leads(k)).count() > 1 {
                    doubles += 1;
                }
                looks += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            (doubles, looks)
        });
        DoubleLeaderWatch { stop, thread }
    }

    /// Stops the thread; (double_leaders, polls).
    pub fn finish(self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap_or((usize::MAX, 0))
    }
}

/// The fields every harness reports for leader-failover, from the per-hand-over times.
pub fn report_failover(
    line: &mut crate::line::Line,
    handovers_ns: Vec<u64>,
    watch: (usize, usize),
    participants: usize,
    loop_time: Duration,
    recipe: &str,
) {
    let n = handovers_ns.len();
    let total = Duration::from_nanos(handovers_ns.iter().sum());
    line.timed(n, total, handovers_ns);
    line.extra("double_leaders", watch.0);
    line.extra("polls", watch.1);
    line.extra("participants", participants);
    line.extra("loop_secs", secs(loop_time));
    line.extra("unit", "failover (secs: sum of hand-overs)");
    line.extra("recipe", recipe);
}
