//! The members of a server or cluster over one [`ServerShared`], and the operations both
//! public types are made of: start, kill and restart a member, partition and heal it, close.

use std::sync::Arc;

use super::member::Member;
use super::shared::{Config, ServerShared};
use crate::error::Result;

pub(crate) struct Ensemble {
    pub core: Arc<ServerShared>,
    pub members: Vec<Member>,
}

impl Ensemble {
    /// Starts one member per entry of `ports` (0 = a free port) and the ticker.
    pub(crate) fn start(cfg: Config, ports: &[u16]) -> Result<Ensemble> {
        let core = ServerShared::new(cfg);
        let members: Vec<Member> = (0..ports.len())
            .map(|i| Member::new(Arc::clone(&core), i))
            .collect();
        *core.members.lock() = members.iter().map(|m| Arc::clone(&m.shared)).collect();
        let mut e = Ensemble {
            core: Arc::clone(&core),
            members: Vec::new(),
        };
        for (m, &p) in members.iter().zip(ports) {
            m.start(p)?;
        }
        e.members = members;
        core.start_ticker()?;
        Ok(e)
    }

    pub(crate) fn member(&self, i: usize) -> &Member {
        &self.members[i.min(self.members.len() - 1)]
    }

    pub(crate) fn connect_string(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.port()))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub(crate) fn kill(&self, i: usize) {
        if let Some(m) = self.members.get(i) {
            m.stop();
        }
        self.core.recompute_quorum();
    }

    pub(crate) fn restart(&self, i: usize) -> Result<()> {
        if let Some(m) = self.members.get(i) {
            m.start(0)?;
        }
        self.core.recompute_quorum();
        Ok(())
    }

    pub(crate) fn set_paused(&self, i: usize, on: bool) {
        if let Some(m) = self.members.get(i) {
            m.shared.faults.set_paused(on);
            if !on {
                let st = self.core.state.lock();
                for c in st.conns.values().filter(|c| c.member == i) {
                    c.outbox.kick();
                }
            }
        }
        self.core.recompute_quorum();
    }

    /// The commit latency of every write from now on (one log for the whole ensemble).
    pub(crate) fn set_commit_latency(&self, latency: std::time::Duration) {
        self.core.state.lock().commit.set_latency(latency);
    }

    pub(crate) fn close(&self) {
        for m in &self.members {
            m.shared.faults.set_paused(false);
            m.stop();
        }
        self.core.shutdown();
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        self.close();
    }
}
