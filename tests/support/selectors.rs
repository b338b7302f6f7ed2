//! An election of [`LeaderSelector`]s for tests: participant `i` (id `p<i>`) leads until the
//! test releases it or its term is cancelled, and reports each step on a channel; watched by a
//! [`LeaderMonitor`](super::election::LeaderMonitor).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use zk_curator::framework::CuratorFramework;
use zk_curator::recipes::leader::{LeaderSelector, Leadership};

use super::election::{sole_leader, LeaderMonitor};

/// What a participant's `take_leadership` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Its term began.
    Lead(usize),
    /// It returned because the test released it.
    Released(usize),
    /// It returned because its term was cancelled.
    Cancelled(usize),
}

/// One participant's controls.
pub struct Part {
    pub selector: Arc<LeaderSelector>,
    release: Arc<AtomicBool>,
    pub terms: Arc<AtomicU32>,
}

pub struct Selectors {
    pub root: String,
    pub clients: Vec<CuratorFramework>,
    parts: Arc<Mutex<Vec<Part>>>,
    steps: Receiver<Step>,
    tx: Sender<Step>,
}

impl Selectors {
    /// One started selector per client (auto-requeue as asked), in client order: each joins
    /// once the one before has its node, so node order is client order.
    pub fn new(root: &str, clients: Vec<CuratorFramework>, auto_requeue: bool) -> Selectors {
        let (tx, steps) = channel();
        let s = Selectors {
            root: root.to_string(),
            clients,
            parts: Arc::new(Mutex::new(Vec::new())),
            steps,
            tx,
        };
        for i in 0..s.clients.len() {
            let part = s.part(i, auto_requeue);
            part.selector.start().expect("start a selector");
            let sel = part.selector.clone();
            s.parts.lock().unwrap().push(part);
            assert!(
                super::wait_until(Duration::from_secs(20), || sel
                    .participants()
                    .is_ok_and(|p| p.len() == i + 1)),
                "participant {i} got no node"
            );
        }
        s
    }

    fn part(&self, i: usize, auto_requeue: bool) -> Part {
        let release = Arc::new(AtomicBool::new(false));
        let terms = Arc::new(AtomicU32::new(0));
        let (r, t, tx) = (release.clone(), terms.clone(), self.tx.clone());
        let selector = LeaderSelector::builder(
            &self.clients[i],
            &self.root,
            move |_c: &CuratorFramework, l: &Leadership| {
                t.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(Step::Lead(i));
                loop {
                    if l.wait_cancelled(Duration::from_millis(2)) {
                        let _ = tx.send(Step::Cancelled(i));
                        return Ok(());
                    }
                    if r.swap(false, Ordering::SeqCst) {
                        let _ = tx.send(Step::Released(i));
                        return Ok(());
                    }
                }
            },
        )
        .id(format!("p{i}"))
        .build()
        .expect("build a selector");
        if auto_requeue {
            selector.auto_requeue();
        }
        Part {
            selector: Arc::new(selector),
            release,
            terms,
        }
    }

    pub fn selector(&self, i: usize) -> Arc<LeaderSelector> {
        self.parts.lock().unwrap()[i].selector.clone()
    }

    pub fn terms(&self, i: usize) -> u32 {
        self.parts.lock().unwrap()[i].terms.load(Ordering::SeqCst)
    }

    /// Makes participant `i`'s current term return.
    pub fn release(&self, i: usize) {
        self.parts.lock().unwrap()[i]
            .release
            .store(true, Ordering::SeqCst);
    }

    /// The next step reported, within `timeout`.
    pub fn next_step(&self, timeout: Duration) -> Step {
        self.steps
            .recv_timeout(timeout)
            .unwrap_or_else(|_| panic!("no leadership step within {timeout:?}"))
    }

    /// Waits for `want`, skipping other steps; panics after `timeout`.
    pub fn expect_step(&self, want: Step, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        while let Ok(s) = self
            .steps
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if s == want {
                return;
            }
            seen.push(s);
        }
        panic!("no {want:?} within {timeout:?}; saw {seen:?}");
    }

    pub fn leaders(&self) -> Vec<usize> {
        leaders_of(&self.parts)
    }

    pub fn sole_leader(&self, timeout: Duration) -> usize {
        sole_leader(timeout, || self.leaders())
    }

    pub fn monitor(&self) -> LeaderMonitor {
        let parts = self.parts.clone();
        LeaderMonitor::start(move || leaders_of(&parts))
    }

    pub fn children(&self, admin: &CuratorFramework) -> Vec<String> {
        super::election::children_of(admin, &self.root)
    }

    pub fn close_all(&self) {
        for p in self.parts.lock().unwrap().iter() {
            let _ = p.selector.close();
        }
    }
}

fn leaders_of(parts: &Arc<Mutex<Vec<Part>>>) -> Vec<usize> {
    let sels: Vec<_> = parts
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.selector.clone())
        .collect();
    sels.iter()
        .enumerate()
        .filter(|(_, s)| s.has_leadership())
        .map(|(i, _)| i)
        .collect()
}
