//! Watching an election from outside: [`LeaderMonitor`] samples which participants claim
//! leadership every millisecond on its own thread, so a test can assert that two leaders never
//! coexisted through whatever it did meanwhile.
//!
//! A sample cannot read every participant at one instant: it reads them one after the other,
//! and a thread preempted between two reads (a loaded machine) could see the old leader before
//! a hand-over and the new one after it. So each sample reads everyone twice, in two passes,
//! and counts a participant only if it led in both: participant `i` read at `a_i` and `b_i`,
//! `j` at `a_j` and `b_j`, every first-pass read before every second-pass read, so if both led
//! in both passes (and a leader does not step down and lead again within one sample) both led
//! at `a_j`. A hand-over between the reads shows the old leader in the first pass only.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the monitor saw.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Samples taken.
    pub polls: usize,
    /// Samples with two or more participants leading in both passes (must be 0).
    pub doubles: usize,
    /// Samples with exactly one leader.
    pub single: usize,
    /// The most leaders seen at once.
    pub max: usize,
    /// The first samples with two or more leaders: milliseconds since the start, who led.
    pub first_doubles: Vec<(u128, Vec<usize>)>,
}

/// A 1 ms poller of `leaders()`, the participants claiming leadership now.
pub struct LeaderMonitor {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Seen>>,
}

impl LeaderMonitor {
    pub fn start(leaders: impl Fn() -> Vec<usize> + Send + 'static) -> LeaderMonitor {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::Builder::new()
            .name("leader-monitor".into())
            .spawn(move || {
                let mut seen = Seen::default();
                let t0 = Instant::now();
                while !s.load(Ordering::SeqCst) {
                    let first = leaders();
                    let now: Vec<usize> = leaders()
                        .into_iter()
                        .filter(|i| first.contains(i))
                        .collect();
                    let n = now.len();
                    seen.polls += 1;
                    seen.max = seen.max.max(n);
                    match n {
                        0 => {}
                        1 => seen.single += 1,
                        _ => {
                            seen.doubles += 1;
                            if seen.first_doubles.len() < 5 {
                                seen.first_doubles.push((t0.elapsed().as_millis(), now));
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                seen
            })
            .expect("spawn the leader monitor");
        LeaderMonitor {
            stop,
            handle: Some(handle),
        }
    }

    /// Stops sampling and returns what was seen; asserts that two leaders never coexisted.
    pub fn finish(mut self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        let seen = self
            .handle
            .take()
            .expect("finished once")
            .join()
            .expect("the monitor thread");
        assert_eq!(seen.doubles, 0, "two leaders at once: {seen:?}");
        assert!(seen.polls > 0, "the monitor never sampled");
        seen
    }
}

impl Drop for LeaderMonitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Waits (up to `timeout`) until `leader()` names exactly one participant and returns it.
pub fn sole_leader(timeout: Duration, mut leader: impl FnMut() -> Vec<usize>) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let now = leader();
        if now.len() == 1 {
            return now[0];
        }
        assert!(
            Instant::now() < deadline,
            "no single leader within {timeout:?} (leaders: {now:?})"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The children of `p` as `c` lists them; none once `p` is gone (an election's container
/// parent is removed by the server when its last node goes). Any other error fails the test.
pub fn children_of(c: &zk_curator::CuratorFramework, p: &str) -> Vec<String> {
    match c.get_children().for_path(p) {
        Ok(kids) => kids,
        Err(zk_curator::Error::NoNode { .. }) => Vec::new(),
        Err(e) => panic!("listing {p}: {e}"),
    }
}
