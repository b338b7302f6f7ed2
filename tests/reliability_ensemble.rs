//! Losing an ensemble member under a write workload (catalogue rows 3 and 4): a real
//! three-member ZooKeeper ensemble (leader killed, then a follower killed) and the in-process
//! three-member `TestingCluster` (which has no election: its "leader" is member 0, and only
//! the killed member's clients move). A client on the killed member and one on a surviving
//! member each run a workload; each prints its figures and must keep its session, lose no
//! acknowledged write and duplicate nothing.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use support::events::WAIT;
use support::figures::{figure, ms};
use support::server::Kind;
use support::workload::{audit, counted, first_after, pairs, state_log, Workload};
use support::{unique_root, wait_until, RealEnsemble};
use zk_curator::framework::{ConnectionState, CuratorFramework, CuratorFrameworkFactory};

/// What the test needs from either kind of ensemble.
trait Ensemble {
    fn connect_string(&self) -> String;
    fn member_of(&self, session: i64) -> Option<usize>;
    fn leader(&self) -> usize;
    fn kill(&mut self, i: usize);
    fn restart(&mut self, i: usize);
    fn len(&self) -> usize;
}

impl Ensemble for RealEnsemble {
    fn connect_string(&self) -> String {
        RealEnsemble::connect_string(self)
    }
    fn member_of(&self, session: i64) -> Option<usize> {
        let needle = format!("sid=0x{session:x}");
        (0..RealEnsemble::len(self)).find(|&i| self.four_letter(i, "cons").contains(&needle))
    }
    fn leader(&self) -> usize {
        RealEnsemble::leader(self).expect("a leader")
    }
    fn kill(&mut self, i: usize) {
        RealEnsemble::kill(self, i)
    }
    fn restart(&mut self, i: usize) {
        RealEnsemble::restart(self, i)
    }
    fn len(&self) -> usize {
        RealEnsemble::len(self)
    }
}

impl Ensemble for zk_curator::testing::TestingCluster {
    fn connect_string(&self) -> String {
        zk_curator::testing::TestingCluster::connect_string(self)
    }
    fn member_of(&self, session: i64) -> Option<usize> {
        self.member_of_session(session)
    }
    fn leader(&self) -> usize {
        0
    }
    fn kill(&mut self, i: usize) {
        zk_curator::testing::TestingCluster::kill(self, i)
    }
    fn restart(&mut self, i: usize) {
        zk_curator::testing::TestingCluster::restart(self, i).expect("restart a member")
    }
    fn len(&self) -> usize {
        zk_curator::testing::TestingCluster::len(self)
    }
}

struct Client {
    c: CuratorFramework,
    retries: Arc<AtomicU32>,
    log: Arc<std::sync::Mutex<Vec<(ConnectionState, Instant)>>>,
    sid: i64,
}

fn client(connect: &str) -> Client {
    let (b, retries) = counted(
        CuratorFrameworkFactory::builder()
            .connect_string(connect)
            .session_timeout(Duration::from_secs(10))
            .connection_timeout(Duration::from_secs(3)),
        10,
        Duration::from_millis(100),
    );
    let c = b.build().unwrap();
    let log = state_log(&c);
    c.start().unwrap();
    assert!(c.block_until_connected(WAIT));
    let sid = c.zookeeper_client().zookeeper().unwrap().session_id();
    Client {
        c,
        retries,
        log,
        sid,
    }
}

/// Clients until one is on member `on` and one is not (hosts are shuffled per client).
fn clients_on_and_off(ens: &dyn Ensemble, on: usize) -> (Client, Client) {
    let mut hit = None;
    let mut miss = None;
    for _ in 0..40 {
        let cl = client(&ens.connect_string());
        let m = ens.member_of(cl.sid);
        if m == Some(on) && hit.is_none() {
            hit = Some(cl);
        } else if m.is_some() && m != Some(on) && miss.is_none() {
            miss = Some(cl);
        } else {
            cl.c.close();
        }
        if hit.is_some() && miss.is_some() {
            break;
        }
    }
    (
        hit.expect("a client on the member"),
        miss.expect("a client elsewhere"),
    )
}

/// Kills member `victim` while `on` (a client on it) and `off` (a client elsewhere) write.
fn lose_member(ens: &mut dyn Ensemble, kind: Kind, row: &str, what: &str, victim: usize) {
    let (on, off) = clients_on_and_off(&*ens, victim);
    let root = unique_root(what);
    on.c.create().for_path(&root).unwrap();
    let work: Vec<(&str, &Client, Workload)> = [("on_killed", &on), ("elsewhere", &off)]
        .into_iter()
        .map(|(name, cl)| {
            let dir = format!("{root}/{name}");
            cl.c.create().for_path(&dir).unwrap();
            (
                name,
                cl,
                Workload::start(&cl.c, &dir, 1, Duration::from_millis(10)),
            )
        })
        .collect();
    sleep(Duration::from_millis(500));
    let killed = Instant::now();
    ens.kill(victim);
    // Whoever is disconnected comes back; give every workload time to write again.
    for (_, cl, _) in &work {
        let suspended = first_after(&cl.log, ConnectionState::Suspended, killed).is_some();
        if suspended
            || cl.log.lock().unwrap().last().map(|x| x.0) == Some(ConnectionState::Suspended)
        {
            assert!(wait_until(Duration::from_secs(30), || first_after(
                &cl.log,
                ConnectionState::Reconnected,
                killed
            )
            .is_some()));
        }
    }
    sleep(Duration::from_secs(1));
    let observer = client(&ens.connect_string());
    for (name, cl, wl) in work {
        let dir = format!("{root}/{name}");
        let t = wl.stop();
        let (missing, duplicates) = audit(&observer.c, &dir, &t);
        let suspended = first_after(&cl.log, ConnectionState::Suspended, killed);
        let reconnected = first_after(&cl.log, ConnectionState::Reconnected, killed);
        let sid_now = cl.c.zookeeper_client().zookeeper().unwrap().session_id();
        let mut f = vec![
            ("client", name.to_string()),
            ("suspended_ms", suspended.map_or("-".into(), ms)),
            ("reconnected_ms", reconnected.map_or("-".into(), ms)),
            ("same_session", (sid_now == cl.sid).to_string()),
            (
                "lost",
                first_after(&cl.log, ConnectionState::Lost, killed)
                    .is_some()
                    .to_string(),
            ),
        ];
        f.extend(pairs(
            &t,
            cl.retries.load(Ordering::SeqCst),
            missing,
            duplicates,
        ));
        figure(row, what, kind, &f);
        assert_eq!(sid_now, cl.sid, "{what} {name}: same session");
        assert_eq!((missing, duplicates), (0, 0), "{what} {name}");
        assert!(t.ok > 0, "{what} {name}: wrote");
    }
    on.c.close();
    off.c.close();
    observer.c.close();
}

fn both_rows(ens: &mut dyn Ensemble, kind: Kind) {
    assert_eq!(ens.len(), 3);
    let leader = ens.leader();
    lose_member(ens, kind, "3", "leader_kill", leader);
    ens.restart(leader);
    // A follower now (on the real ensemble, any member but the new leader).
    let leader = ens.leader();
    let follower = (0..3).find(|&i| i != leader).expect("a follower");
    lose_member(ens, kind, "4", "follower_kill", follower);
}

#[test]
fn member_loss_real() {
    let Some(mut ens) = RealEnsemble::start(3) else {
        return;
    };
    both_rows(&mut ens, Kind::Real);
}

#[test]
fn member_loss_in_process() {
    let mut cluster = zk_curator::testing::TestingCluster::start(3).expect("start the cluster");
    both_rows(&mut cluster, Kind::InProcess);
}

/// Row 14: the session moved to another member by a second handle (same id and password):
/// the first handle's next request is refused (SessionMoved) or its connection dropped; it
/// reconnects and carries on with the same session, never taking it for an expiry. Real
/// ensemble only: the in-process cluster closes the old connection at once instead
/// (docs/testing.md).
#[test]
fn session_moved_real() {
    use support::events::Events;
    use zk_curator::{EventType, KeeperState, WatchedEvent, ZooKeeper};
    let Some(ens) = RealEnsemble::start(3) else {
        return;
    };
    let ev = Events::new();
    let w = ev.watcher();
    let a = ZooKeeper::builder(&ens.connect_string())
        .session_timeout(Duration::from_secs(10))
        .default_watcher(move |e: &WatchedEvent| w(e))
        .connect()
        .unwrap();
    ev.expect_state(KeeperState::SyncConnected);
    let sid = a.session_id();
    let home = Ensemble::member_of(&ens, sid).expect("a is on a member");
    let other = (0..3).find(|&i| i != home).unwrap();
    let b = ZooKeeper::builder(&format!("127.0.0.1:{}", ens.port(other)))
        .session_timeout(Duration::from_secs(10))
        .session(sid, &a.session_password())
        .connect()
        .expect("the second handle takes the session over");
    let moved = Instant::now();
    // A write: the leader checks which server owns the session (a read on the old server
    // is answered locally and goes through).
    let root = unique_root("moved");
    let first = a.create(
        &root,
        b"",
        &zk_curator::Acl::open_unsafe(),
        zk_curator::CreateMode::Persistent,
    );
    // The second handle goes away without closing the session.
    b.inject_session_expiration();
    let mut states = Vec::new();
    let back = wait_until(Duration::from_secs(20), || {
        while let Some(e) = ev.next_within(Duration::ZERO) {
            if e.event_type() == EventType::None {
                states.push(format!("{:?}", e.state()));
            }
        }
        a.set_data(&root, b"x", -1).is_ok()
            || a.create(
                &root,
                b"x",
                &zk_curator::Acl::open_unsafe(),
                zk_curator::CreateMode::Persistent,
            )
            .is_ok()
    });
    let took = moved.elapsed();
    while let Some(e) = ev.next_within(Duration::from_millis(200)) {
        if e.event_type() == EventType::None {
            states.push(format!("{:?}", e.state()));
        }
    }
    figure(
        "14",
        "session_moved",
        Kind::Real,
        &[
            (
                "first_call",
                format!("{:?}", first.as_ref().map(|_| "ok").map_err(|e| e.code())),
            ),
            ("states", states.join(",")),
            ("working_again_ms", ms(took)),
            ("same_session", (a.session_id() == sid).to_string()),
            ("state", format!("{:?}", a.state())),
        ],
    );
    assert!(back, "the first handle works again: {states:?}");
    assert_eq!(a.session_id(), sid);
    assert!(!states.iter().any(|s| s == "Expired"), "{states:?}");
    assert!(
        matches!(
            first,
            Ok(_)
                | Err(zk_curator::Error::SessionMoved)
                | Err(zk_curator::Error::ConnectionLoss { .. })
        ),
        "{first:?}"
    );
}
