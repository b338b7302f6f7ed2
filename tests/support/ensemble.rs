//! [`RealEnsemble`]: `n` Apache ZooKeeper 3.8 quorum peers (`QuorumPeerMain`) on loopback,
//! for tests of failover, leader loss and read-only mode.
//!
//! Member `i` (0-based) has `myid` `i + 1`, its own client port and its own quorum and
//! election ports, all listed as `server.N=127.0.0.1:quorum:election;127.0.0.1:client`.
//! Members are killed and the whole directory removed on drop, as for
//! [`RealServer`](super::RealServer).

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::jvm::{self, Installation, Jvm, TempDir};
use super::real::ServerOptions;

/// How long an ensemble (or a restarted member) may take to elect and serve.
pub const ENSEMBLE_TIMEOUT: Duration = Duration::from_secs(60);

const MAIN: &str = "org.apache.zookeeper.server.quorum.QuorumPeerMain";

#[derive(Debug)]
struct Member {
    /// `server.N=...` as the configuration lists it.
    spec: String,
    client_port: u16,
    dir: PathBuf,
    jvm: Option<Jvm>,
}

/// A running ensemble. Indexes are 0-based.
#[derive(Debug)]
pub struct RealEnsemble {
    inst: &'static Installation,
    opts: ServerOptions,
    members: Vec<Member>,
    // Declared last: dropped after every JVM is gone.
    dir: TempDir,
}

impl RealEnsemble {
    /// Starts `n` members with the default options and waits until every one serves as
    /// leader or follower. `None` as for [`RealServer::start`](super::RealServer::start).
    pub fn start(n: usize) -> Option<RealEnsemble> {
        RealEnsemble::start_with(n, ServerOptions::default())
    }

    /// [`start`](Self::start) with options (applied to every member).
    pub fn start_with(n: usize, opts: ServerOptions) -> Option<RealEnsemble> {
        assert!(n >= 1, "an ensemble needs members");
        let inst = Installation::get()?;
        let dir = TempDir::new("ensemble").expect("create a temp dir for the ensemble");
        let ports = jvm::free_ports(3 * n);
        let (client, rest) = ports.split_at(n);
        let (quorum, election) = rest.split_at(n);
        let servers: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    "server.{}=127.0.0.1:{}:{}:participant;127.0.0.1:{}",
                    i + 1,
                    quorum[i],
                    election[i],
                    client[i]
                )
            })
            .collect();
        let member_opts = member_options(&opts, &servers);
        let mut members = Vec::with_capacity(n);
        for (i, &port) in client.iter().enumerate() {
            let mdir = dir.path().join(format!("{}", i + 1));
            write_member(&mdir, i + 1, &member_opts, port);
            members.push(Member {
                spec: servers[i].clone(),
                client_port: port,
                dir: mdir,
                jvm: None,
            });
        }
        let mut e = RealEnsemble {
            inst,
            opts,
            members,
            dir,
        };
        for i in 0..n {
            e.spawn(i);
        }
        e.wait_serving(ENSEMBLE_TIMEOUT);
        Some(e)
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// `127.0.0.1:P1,127.0.0.1:P2,...` in member order.
    pub fn connect_string(&self) -> String {
        let addrs: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.client_port))
            .collect();
        addrs.join(",")
    }

    /// Member `i`'s client port.
    pub fn port(&self, i: usize) -> u16 {
        self.members[i].client_port
    }

    /// Member `i`'s `server.N=host:quorum:election:participant;host:client` line, the form
    /// `reconfig().joining(..)` takes.
    pub fn server_spec(&self, i: usize) -> String {
        self.members[i].spec.clone()
    }

    /// Member `i`'s server id (`N` of `server.N`).
    pub fn server_id(&self, i: usize) -> u64 {
        i as u64 + 1
    }

    /// Starts a new member that the configuration does not list yet (a "joiner", for
    /// `reconfig().joining(..)`), as ZooKeeper's documentation says to: its initial config
    /// lists every current member and itself as a participant. It connects to the leader
    /// and syncs as a non-voting follower; this waits until it serves. Returns its index.
    pub fn add_member(&mut self) -> usize {
        let i = self.members.len();
        let ports = jvm::free_ports(3);
        let spec = format!(
            "server.{}=127.0.0.1:{}:{}:participant;127.0.0.1:{}",
            i + 1,
            ports[1],
            ports[2],
            ports[0]
        );
        let mut servers: Vec<String> = self.members.iter().map(|m| m.spec.clone()).collect();
        servers.push(spec.clone());
        let member_opts = member_options(&self.opts, &servers);
        let mdir = self.dir.path().join(format!("{}", i + 1));
        write_member(&mdir, i + 1, &member_opts, ports[0]);
        self.members.push(Member {
            spec,
            client_port: ports[0],
            dir: mdir,
            jvm: None,
        });
        self.spawn(i);
        self.wait_serving(ENSEMBLE_TIMEOUT);
        i
    }

    /// The options the members run with.
    pub fn options(&self) -> &ServerOptions {
        &self.opts
    }

    /// Sends a four-letter word to member `i`.
    pub fn four_letter(&self, i: usize, word: &str) -> String {
        jvm::four_letter(self.members[i].client_port, word)
    }

    /// Member `i`'s `srvr` mode (`leader`, `follower`, ...), `None` while it is not serving.
    pub fn mode(&self, i: usize) -> Option<String> {
        jvm::mode(self.members[i].client_port)
    }

    /// The member that reports `Mode: leader` right now.
    pub fn leader(&self) -> Option<usize> {
        (0..self.len()).find(|&i| self.mode(i).as_deref() == Some("leader"))
    }

    /// Some member that reports `Mode: follower` right now.
    pub fn follower(&self) -> Option<usize> {
        (0..self.len()).find(|&i| self.mode(i).as_deref() == Some("follower"))
    }

    /// True while member `i`'s JVM runs.
    pub fn is_running(&mut self, i: usize) -> bool {
        self.members[i].jvm.as_mut().is_some_and(Jvm::is_alive)
    }

    /// Kills member `i` (SIGKILL), keeping its data.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut j) = self.members[i].jvm.take() {
            j.stop("KILL");
        }
    }

    /// Stops member `i` gracefully (SIGTERM), keeping its data.
    pub fn stop(&mut self, i: usize) {
        if let Some(mut j) = self.members[i].jvm.take() {
            j.stop("TERM");
        }
    }

    /// Stops member `i` if it runs, starts it again with the same config and data, and waits
    /// until every running member serves.
    pub fn restart(&mut self, i: usize) {
        self.stop(i);
        self.spawn(i);
        self.wait_serving(ENSEMBLE_TIMEOUT);
    }

    /// Waits until every member whose JVM runs reports leader, follower or observer, and at
    /// least one is the leader. Panics with the members' log tails after `timeout`.
    pub fn wait_serving(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let mut ok = false;
            let mut leader = false;
            for i in 0..self.len() {
                if !self.is_running(i) {
                    continue;
                }
                match self.mode(i).as_deref() {
                    Some("leader") => {
                        ok = true;
                        leader = true;
                    }
                    Some("follower" | "observer") => ok = true,
                    _ => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok && leader {
                return;
            }
            if Instant::now() >= deadline {
                let mut msg = format!("ensemble not serving after {timeout:?}");
                for (i, m) in self.members.iter().enumerate() {
                    msg.push_str(&format!(
                        "\n--- member {i} (port {}, mode {:?}):\n{}",
                        m.client_port,
                        jvm::mode(m.client_port),
                        jvm::log_tail(&m.dir.join("server.log"), 15)
                    ));
                }
                panic!("{msg}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn spawn(&mut self, i: usize) {
        let m = &mut self.members[i];
        let jvm = Jvm::spawn(
            self.inst,
            MAIN,
            &m.dir.join("zoo.cfg"),
            &m.dir.join("server.log"),
            self.dir.path(),
            &self.opts.system_properties,
        )
        .expect("spawn bash/java");
        m.jvm = Some(jvm);
    }
}

/// The options of a member: the test's, plus quorum settings and the server list.
fn member_options(opts: &ServerOptions, servers: &[String]) -> ServerOptions {
    let mut member_opts = opts.clone();
    member_opts.config.splice(
        0..0,
        [
            "standaloneEnabled=false".to_string(),
            "quorumListenOnAllIPs=false".to_string(),
            // A dead peer is refused at once on loopback; keep the retry quick.
            "cnxTimeout=1000".to_string(),
        ],
    );
    if !member_opts
        .config
        .iter()
        .any(|l| l.starts_with("reconfigEnabled"))
    {
        member_opts.config.push("reconfigEnabled=false".into());
    }
    member_opts.config.extend(servers.iter().cloned());
    member_opts
}

/// Writes member `id`'s data dir, `myid` and `zoo.cfg` under `mdir`.
fn write_member(mdir: &std::path::Path, id: usize, opts: &ServerOptions, port: u16) {
    let data = mdir.join("data");
    fs::create_dir_all(&data).expect("create a member data dir");
    fs::write(data.join("myid"), format!("{id}\n")).expect("write myid");
    fs::write(mdir.join("zoo.cfg"), opts.zoo_cfg(&data, port)).expect("write zoo.cfg");
}

impl Drop for RealEnsemble {
    fn drop(&mut self) {
        for m in &mut self.members {
            m.jvm.take();
        }
    }
}
