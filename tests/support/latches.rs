//! An election of [`LeaderLatch`]es for tests: one latch per client (participant `i` has id
//! `p<i>`), replaceable (a participant leaves and joins again with a new latch), watched by a
//! [`LeaderMonitor`](super::election::LeaderMonitor).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use zk_curator::framework::CuratorFramework;
use zk_curator::recipes::leader::LeaderLatch;

use super::election::{sole_leader, LeaderMonitor};

type Slots = Arc<Mutex<Vec<Option<Arc<LeaderLatch>>>>>;

pub struct Election {
    pub root: String,
    pub clients: Vec<CuratorFramework>,
    latches: Slots,
}

impl Election {
    /// Starts one latch on `root` per client, in client order (so that node order is client
    /// order), each waiting until its node exists before the next joins.
    pub fn new(root: &str, clients: Vec<CuratorFramework>) -> Election {
        let n = clients.len();
        let e = Election {
            root: root.to_string(),
            clients,
            latches: Arc::new(Mutex::new(vec![None; n])),
        };
        for i in 0..n {
            e.join(i);
        }
        e
    }

    /// A new started latch for participant `i` (its old one, if any, must be closed), once
    /// its node exists.
    pub fn join(&self, i: usize) -> Arc<LeaderLatch> {
        let latch = Arc::new(
            LeaderLatch::builder(&self.clients[i], &self.root)
                .id(format!("p{i}"))
                .build()
                .expect("build a latch"),
        );
        latch.start().expect("start a latch");
        assert!(
            super::wait_until(Duration::from_secs(20), || latch.our_path().is_some()),
            "participant {i} got no node"
        );
        self.latches.lock().unwrap()[i] = Some(latch.clone());
        latch
    }

    /// Participant `i`'s current latch.
    pub fn latch(&self, i: usize) -> Arc<LeaderLatch> {
        self.latches.lock().unwrap()[i]
            .clone()
            .expect("participant has a latch")
    }

    /// The participants that lead now.
    pub fn leaders(&self) -> Vec<usize> {
        leaders_of(&self.latches)
    }

    /// Waits until exactly one participant leads and returns it.
    pub fn sole_leader(&self, timeout: Duration) -> usize {
        sole_leader(timeout, || self.leaders())
    }

    /// A 1 ms monitor of this election.
    pub fn monitor(&self) -> LeaderMonitor {
        let slots = self.latches.clone();
        LeaderMonitor::start(move || leaders_of(&slots))
    }

    /// The election's children, as `admin` lists them (empty if the node is gone).
    pub fn children(&self, admin: &CuratorFramework) -> Vec<String> {
        super::election::children_of(admin, &self.root)
    }

    /// Closes every latch still started.
    pub fn close_all(&self) {
        let all: Vec<_> = self.latches.lock().unwrap().drain(..).flatten().collect();
        for l in all {
            let _ = l.close();
        }
    }
}

fn leaders_of(slots: &Slots) -> Vec<usize> {
    let latches: Vec<_> = slots.lock().unwrap().clone();
    latches
        .iter()
        .enumerate()
        .filter(|(_, l)| l.as_ref().is_some_and(|l| l.has_leadership()))
        .map(|(i, _)| i)
        .collect()
}
