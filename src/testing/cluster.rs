//! [`TestingCluster`]: n members on their own ports over one shared, consistent data tree,
//! an in-process stand-in for a ZooKeeper ensemble.

use std::time::Duration;

use super::ensemble::Ensemble;
use super::server::TestingServerBuilder;
use super::shared::Config;
use crate::error::Result;

/// An in-process ensemble: `n` members on their own loopback ports sharing one tree and one
/// session table.
///
/// Sessions belong to the ensemble, so a client whose member dies reconnects to another and
/// resumes its session. With a majority of members killed or partitioned, the others refuse
/// service as a member without quorum does: client connections are closed, handshakes are
/// not completed, `srvr` answers "This ZooKeeper instance is not currently serving
/// requests", and sessions do not age until a majority is back. Writes are linearizable (one
/// tree), so there is no replication lag to observe.
///
/// ```
/// use zk_curator::testing::TestingCluster;
/// use std::io::{Read, Write};
///
/// let mut cluster = TestingCluster::start(3)?;
/// assert_eq!(cluster.connect_string().split(',').count(), 3);
/// let srvr = |port: u16| -> std::io::Result<String> {
///     let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
///     s.write_all(b"srvr")?;
///     let mut out = String::new();
///     s.read_to_string(&mut out)?;
///     Ok(out)
/// };
/// assert!(srvr(cluster.port(0))?.contains("Mode: leader"));
/// cluster.kill(1);
/// cluster.kill(2); // no majority any more
/// assert!(srvr(cluster.port(0))?.contains("not currently serving"));
/// cluster.restart(2)?;
/// assert!(srvr(cluster.port(0))?.contains("Mode: leader"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TestingCluster {
    ensemble: Ensemble,
}

impl std::fmt::Debug for TestingCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestingCluster")
            .field("connect_string", &self.connect_string())
            .finish()
    }
}

impl TestingCluster {
    /// Starts `n` members (at least 1) with default settings.
    pub fn start(n: usize) -> Result<TestingCluster> {
        TestingServerBuilder::default().start_cluster(n)
    }

    pub(crate) fn with_config(cfg: Config, n: usize) -> Result<TestingCluster> {
        let ports = vec![0u16; n.max(1)];
        Ok(TestingCluster {
            ensemble: Ensemble::start(cfg, &ports)?,
        })
    }

    /// Every member, `127.0.0.1:p1,127.0.0.1:p2,...`.
    pub fn connect_string(&self) -> String {
        self.ensemble.connect_string()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.ensemble.members.len()
    }

    /// Always false: a cluster has at least one member.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The port of member `i` (members are numbered from 0; out-of-range means the last).
    pub fn port(&self, i: usize) -> u16 {
        self.ensemble.member(i).port()
    }

    /// `127.0.0.1:<port>` of member `i`.
    pub fn connect_string_of(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.port(i))
    }

    /// Stops member `i`: its listener and connections close; its clients move to others.
    pub fn kill(&self, i: usize) {
        self.ensemble.kill(i);
    }

    /// Starts member `i` again on its port.
    pub fn restart(&self, i: usize) -> Result<()> {
        self.ensemble.restart(i)
    }

    /// Cuts member `i` off from clients and peers: it accepts and reads but answers nothing,
    /// and it does not count towards the quorum.
    pub fn partition(&self, i: usize) {
        self.ensemble.set_paused(i, true);
    }

    /// Ends a [`partition`](Self::partition) of member `i`.
    pub fn heal(&self, i: usize) {
        self.ensemble.set_paused(i, false);
    }

    /// Delays every frame member `i` sends.
    pub fn set_latency(&self, i: usize, latency: Duration) {
        self.ensemble.member(i).shared.faults.set_latency(latency);
    }

    /// Sets the write-commit latency of the ensemble from now on (see
    /// [`TestingServerBuilder::commit_latency`], which sets it at the start): the members
    /// share one transaction log, so every write commits in one order whichever member it
    /// came through, as through a real ensemble's leader.
    pub fn set_commit_latency(&self, latency: Duration) {
        self.ensemble.set_commit_latency(latency);
    }

    /// Closes every client connection of every member; sessions survive.
    pub fn drop_connections(&self) {
        for m in &self.ensemble.members {
            m.drop_connections();
        }
    }

    /// Expires a session now (see [`TestingServer::expire_session`](super::TestingServer::expire_session)).
    pub fn expire_session(&self, session_id: i64) -> bool {
        self.ensemble.core.state.lock().expire(session_id)
    }

    /// Ids of the live sessions, sorted.
    pub fn session_ids(&self) -> Vec<i64> {
        self.ensemble.core.state.lock().sessions.ids()
    }

    /// The index of the member a session is connected to, if any.
    pub fn member_of_session(&self, session_id: i64) -> Option<usize> {
        let st = self.ensemble.core.state.lock();
        let conn = st.sessions.get(session_id)?.conn?;
        st.conns.get(&conn).map(|c| c.member)
    }

    /// The tree as indented text.
    pub fn dump(&self) -> String {
        self.ensemble.core.state.lock().tree.dump()
    }

    /// Stops every member and thread (also done on drop).
    pub fn close(self) {
        self.ensemble.close();
    }
}

impl TestingServerBuilder {
    /// Starts a cluster of `n` members (each on a free port) with these settings.
    pub fn start_cluster(self, n: usize) -> Result<TestingCluster> {
        TestingCluster::with_config(self.config()?, n)
    }
}
