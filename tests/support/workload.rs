//! A write workload to run through a fault, and what it measures: every call's outcome
//! (succeeded, failed with which error), retries the policy granted, the longest call, the
//! longest gap between two acknowledged writes, and afterwards acknowledged writes missing on
//! the server and duplicates.
//!
//! Each writer makes protected persistent-sequential creates (`with_protection()`), each with
//! a payload naming the attempt, so that a retried create that had been applied is found
//! again instead of duplicated, and a duplicate would show as two nodes with one payload.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use zk_curator::framework::{
    CuratorFramework, CuratorFrameworkBuilder, RetryNTimes, RetryPolicy, RetrySleeper,
};
use zk_curator::CreateMode;

/// A retry policy that counts the retries it grants.
pub struct Counting {
    inner: RetryNTimes,
    retries: Arc<AtomicU32>,
}

impl Counting {
    /// `n` retries, `sleep` apart, counted into `retries`.
    pub fn new(n: u32, sleep: Duration, retries: Arc<AtomicU32>) -> Counting {
        Counting {
            inner: RetryNTimes::new(n, sleep),
            retries,
        }
    }
}

impl RetryPolicy for Counting {
    fn allow_retry(&self, n: u32, elapsed: Duration, s: &dyn RetrySleeper) -> bool {
        let ok = self.inner.allow_retry(n, elapsed, s);
        if ok {
            self.retries.fetch_add(1, Ordering::SeqCst);
        }
        ok
    }
}

/// A framework builder whose retries are counted in the returned counter (`n` retries,
/// `sleep` apart).
pub fn counted(
    b: CuratorFrameworkBuilder,
    n: u32,
    sleep: Duration,
) -> (CuratorFrameworkBuilder, Arc<AtomicU32>) {
    let retries = Arc::new(AtomicU32::new(0));
    (
        b.retry_policy(Counting::new(n, sleep, retries.clone())),
        retries,
    )
}

/// What the writers saw.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub ok: u64,
    /// Failed calls by error name.
    pub failed: BTreeMap<String, u64>,
    /// Created paths with their payloads.
    pub acked: Vec<(String, String)>,
    /// The slowest call.
    pub max_call: Duration,
    /// The longest time between two acknowledged writes of one writer.
    pub max_gap: Duration,
}

impl Tally {
    pub fn failed_total(&self) -> u64 {
        self.failed.values().sum()
    }
}

/// Writers running until [`stop`](Workload::stop).
pub struct Workload {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Tally>>,
    root: String,
}

impl Workload {
    /// `writers` threads creating under `root` (which must exist) through `c`, each pausing
    /// `pause` between calls.
    pub fn start(c: &CuratorFramework, root: &str, writers: usize, pause: Duration) -> Workload {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..writers)
            .map(|w| {
                let (c, stop, root) = (c.clone(), stop.clone(), root.to_string());
                thread::spawn(move || {
                    let mut t = Tally::default();
                    let mut last_ok = Instant::now();
                    let mut n = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        let payload = format!("w{w}-{n}");
                        let start = Instant::now();
                        let r = c
                            .create()
                            .with_protection()
                            .with_mode(CreateMode::PersistentSequential)
                            .for_path_with_data(&format!("{root}/n-"), payload.as_bytes());
                        let now = Instant::now();
                        t.max_call = t.max_call.max(now - start);
                        match r {
                            Ok(p) => {
                                t.ok += 1;
                                t.max_gap = t.max_gap.max(now - last_ok);
                                last_ok = now;
                                t.acked.push((p, payload));
                            }
                            Err(e) => {
                                let name = format!("{e:?}");
                                let name = name
                                    .split([' ', '(', '{'])
                                    .next()
                                    .unwrap_or("?")
                                    .to_string();
                                *t.failed.entry(name).or_default() += 1;
                            }
                        }
                        thread::sleep(pause);
                    }
                    t
                })
            })
            .collect();
        Workload {
            stop,
            threads,
            root: root.to_string(),
        }
    }

    /// Stops the writers and sums what they saw.
    pub fn stop(self) -> Tally {
        self.stop.store(true, Ordering::SeqCst);
        let mut all = Tally::default();
        for t in self.threads {
            let t = t.join().expect("a writer panicked");
            all.ok += t.ok;
            for (k, v) in t.failed {
                *all.failed.entry(k).or_default() += v;
            }
            all.acked.extend(t.acked);
            all.max_call = all.max_call.max(t.max_call);
            all.max_gap = all.max_gap.max(t.max_gap);
        }
        all
    }

    pub fn root(&self) -> &str {
        &self.root
    }
}

/// Checks the tally against the server (through `observer`): acknowledged writes missing,
/// and duplicates (two nodes with one payload).
pub fn audit(observer: &CuratorFramework, root: &str, t: &Tally) -> (usize, usize) {
    let kids = observer
        .get_children()
        .for_path(root)
        .expect("list the workload's nodes");
    let mut by_payload: HashMap<String, usize> = HashMap::new();
    for k in &kids {
        if let Ok(d) = observer.get_data().for_path(&format!("{root}/{k}")) {
            *by_payload
                .entry(String::from_utf8_lossy(&d).into_owned())
                .or_default() += 1;
        }
    }
    let names: std::collections::HashSet<&str> = kids.iter().map(String::as_str).collect();
    let missing = t
        .acked
        .iter()
        .filter(|(p, _)| !names.contains(zk_curator::path::node_name(p)))
        .count();
    let duplicates = by_payload.values().filter(|&&n| n > 1).count();
    (missing, duplicates)
}

/// The figures of a tally, for [`figure`](super::figures::figure).
pub fn pairs(
    t: &Tally,
    retries: u32,
    missing: usize,
    duplicates: usize,
) -> Vec<(&'static str, String)> {
    vec![
        ("ops_ok", t.ok.to_string()),
        ("ops_failed", t.failed_total().to_string()),
        (
            "failed_by",
            if t.failed.is_empty() {
                "-".into()
            } else {
                t.failed
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            },
        ),
        ("retries", retries.to_string()),
        ("max_call_ms", t.max_call.as_millis().to_string()),
        ("write_gap_ms", t.max_gap.as_millis().to_string()),
        ("acked_missing", missing.to_string()),
        ("duplicates", duplicates.to_string()),
    ]
}

/// Records connection states with their times (from the moment of the call).
pub fn state_log(c: &CuratorFramework) -> Arc<Mutex<Vec<(zk_curator::ConnectionState, Instant)>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    c.connection_state_listenable().add_listener(
        move |_c: &CuratorFramework, s: zk_curator::ConnectionState| {
            l.lock().unwrap().push((s, Instant::now()))
        },
    );
    log
}

/// When `s` was first reported after `since`, as a duration from `since`.
pub fn first_after(
    log: &Arc<Mutex<Vec<(zk_curator::ConnectionState, Instant)>>>,
    s: zk_curator::ConnectionState,
    since: Instant,
) -> Option<Duration> {
    log.lock()
        .unwrap()
        .iter()
        .find(|(x, t)| *x == s && *t >= since)
        .map(|(_, t)| *t - since)
}
