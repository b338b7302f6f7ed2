//! Watching an election from outside: [`LeaderMonitor`] samples how many participants claim
//! leadership every millisecond on its own thread, so a test can assert that two leaders never
//! coexisted through whatever it did meanwhile.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the monitor saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen {
    /// Samples taken.
    pub polls: usize,
    /// Samples with two or more leaders (must be 0).
    pub doubles: usize,
    /// Samples with exactly one leader.
    pub single: usize,
    /// The most leaders seen at once.
    pub max: usize,
}

/// A 1 ms poller of `leaders()`, the number of participants claiming leadership now.
pub struct LeaderMonitor {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Seen>>,
}

impl LeaderMonitor {
    pub fn start(leaders: impl Fn() -> usize + Send + 'static) -> LeaderMonitor {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::Builder::new()
            .name("leader-monitor".into())
            .spawn(move || {
                let mut seen = Seen::default();
                while !s.load(Ordering::SeqCst) {
                    let n = leaders();
                    seen.polls += 1;
                    seen.max = seen.max.max(n);
                    match n {
                        0 => {}
                        1 => seen.single += 1,
                        _ => seen.doubles += 1,
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
