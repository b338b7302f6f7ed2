//! Dynamic ensembles: the ensemble tracker and `update_server_list` against a real
//! three-member ZooKeeper 3.8 ensemble reconfigured with `reconfig()` (a fourth member
//! joins, one leaves, then a bulk change makes the fourth an observer;
//! `reconfigEnabled=true`, `skipACL=yes`), clients moving off a removed
//! member with their session, watches and ephemeral nodes (real ensemble and the in-process
//! `TestingCluster`), the tracker against servers without a dynamic config (it does nothing;
//! the `TestingServer` refuses `reconfig` with `ReconfigDisabled`), and an ensemble provider
//! that does not allow server-list updates (a new connect string means a new session).

mod support;

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::events::WAIT;
use support::{init_log, unique_root, wait_until, RealEnsemble, ServerOptions};
use zk_curator::framework::{
    ConnectionState, CuratorFramework, CuratorFrameworkBuilder, CuratorFrameworkFactory,
    EnsembleProvider, FixedEnsembleProvider, LearnerType, QuorumConfig,
};
use zk_curator::testing::{TestingCluster, TestingServer};
use zk_curator::{Acl, CreateMode, Error, EventType, RetryNTimes, ZooKeeper};

/// Long enough for a loaded machine: the happy path returns at once.
const LONG: Duration = Duration::from_secs(60);

fn builder(connect: &str) -> CuratorFrameworkBuilder {
    CuratorFrameworkFactory::builder()
        .connect_string(connect)
        .session_timeout(Duration::from_secs(20))
        .connection_timeout(Duration::from_secs(5))
        .retry_policy(RetryNTimes::new(10, Duration::from_millis(200)))
}

/// A started client and what its state listener heard.
struct Watched {
    c: CuratorFramework,
    states: Arc<Mutex<Vec<ConnectionState>>>,
    session: i64,
    ephemeral: String,
    /// Fires when the client's watch on its own node does.
    watch: mpsc::Receiver<EventType>,
    node: String,
}

impl Watched {
    /// Starts `c`, creates an ephemeral node and sets a data watch on `node`.
    fn start(c: CuratorFramework, root: &str, name: &str) -> Watched {
        let states = Arc::new(Mutex::new(Vec::new()));
        let s = states.clone();
        c.connection_state_listenable()
            .add_listener(move |_c: &CuratorFramework, st| s.lock().unwrap().push(st));
        c.start().unwrap();
        assert!(c.block_until_connected(LONG), "{name} connects");
        let session = c.zookeeper_client().zookeeper().unwrap().session_id();
        // The tracker may move the connection under a request (a retryable
        // ConnectionLoss): a retried create must find its own node.
        let ephemeral = c
            .create()
            .idempotent()
            .with_mode(CreateMode::Ephemeral)
            .for_path(&format!("{root}/eph-{name}"))
            .unwrap();
        let node = format!("{root}/watched-{name}");
        c.create().idempotent().for_path(&node).unwrap();
        let (tx, rx) = mpsc::channel();
        c.get_data()
            .using_watcher(move |e| {
                // Connection changes reach the watcher too: only node events count.
                if e.event_type() != EventType::None {
                    let _ = tx.send(e.event_type());
                }
            })
            .for_path(&node)
            .unwrap();
        Watched {
            c,
            states,
            session,
            ephemeral,
            watch: rx,
            node,
        }
    }

    fn session_now(&self) -> i64 {
        self.c.zookeeper_client().zookeeper().unwrap().session_id()
    }

    /// Same session, never Lost, ephemeral still its own, watch still set (it fires on a
    /// change made by `writer`).
    fn check_kept(&self, name: &str, writer: &CuratorFramework) {
        assert_eq!(self.session_now(), self.session, "{name}: same session");
        let states = self.states.lock().unwrap().clone();
        assert!(
            !states.contains(&ConnectionState::Lost),
            "{name}: the session was never lost: {states:?}"
        );
        let stat = writer
            .check_exists()
            .for_path(&self.ephemeral)
            .unwrap()
            .expect("the ephemeral node is still there");
        assert_eq!(
            stat.ephemeral_owner, self.session,
            "{name}: the node is still its own"
        );
        writer.set_data().for_path(&self.node, b"changed").unwrap();
        assert_eq!(
            self.watch.recv_timeout(LONG),
            Ok(EventType::NodeDataChanged),
            "{name}: the watch survived"
        );
    }
}

/// The member whose `cons` lists `session` (`None` if none does).
fn member_of(e: &RealEnsemble, session: i64, members: &[usize]) -> Option<usize> {
    let needle = format!("sid=0x{session:x}");
    members
        .iter()
        .copied()
        .find(|&i| e.four_letter(i, "cons").contains(&needle))
}

/// The config as `/zookeeper/config` holds it now.
fn read_config(admin: &CuratorFramework) -> QuorumConfig {
    admin.sync().for_path("/").unwrap();
    QuorumConfig::parse(&admin.get_config().for_ensemble().unwrap()).unwrap()
}

/// Runs a reconfiguration, retrying while the ensemble is not ready for it (a joiner not yet
/// synced, another reconfiguration still committing, a connection moving).
fn reconfig(what: &str, f: impl Fn() -> zk_curator::Result<Vec<u8>>) {
    let deadline = Instant::now() + LONG;
    loop {
        match f() {
            Ok(_) => return,
            Err(
                e @ (Error::NewConfigNoQuorum { .. }
                | Error::ReconfigInProgress { .. }
                | Error::ConnectionLoss { .. }),
            ) if Instant::now() < deadline => {
                eprintln!("{what}: {e}; again");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

#[test]
fn tracker_follows_a_real_ensemble_through_reconfiguration() {
    init_log();
    let opts = ServerOptions::new()
        .reconfig_enabled()
        .system_property("zookeeper.skipACL=yes");
    let Some(mut e) = RealEnsemble::start_with(3, opts) else {
        return;
    };
    let leaving = e.follower().expect("a follower");
    let leaving_port = e.port(leaving);
    let leaving_addr = format!("127.0.0.1:{leaving_port}");
    let admin = builder(&e.connect_string()).build().unwrap();
    admin.start().unwrap();
    assert!(admin.block_until_connected(LONG));
    let root = unique_root("reconfig");
    admin.create().for_path(&root).unwrap();

    // A: tracks, knows the whole ensemble. B: tracks, knows only the member that will
    // leave. C: a low-level handle on that member only, told by the test.
    let a = Watched::start(
        builder(&e.connect_string())
            .ensemble_tracker(true)
            .build()
            .unwrap(),
        &root,
        "a",
    );
    let b = Watched::start(
        builder(&leaving_addr)
            .ensemble_tracker(true)
            .build()
            .unwrap(),
        &root,
        "b",
    );
    let c = ZooKeeper::builder(&leaving_addr)
        .session_timeout(Duration::from_secs(20))
        .connect()
        .unwrap();
    let c_session = c.session_id();
    let c_eph = c
        .create(
            &format!("{root}/eph-c"),
            b"",
            &Acl::open_unsafe(),
            CreateMode::Ephemeral,
        )
        .unwrap();
    let (c_tx, c_rx) = mpsc::channel();
    c.create(
        &format!("{root}/watched-c"),
        b"",
        &Acl::open_unsafe(),
        CreateMode::Persistent,
    )
    .unwrap();
    c.get_data_w(&format!("{root}/watched-c"), move |ev| {
        if ev.event_type() != EventType::None {
            let _ = c_tx.send(ev.event_type());
        }
    })
    .unwrap();

    // The trackers read the config: three members, and B's connect string grew to them.
    for (name, w) in [("a", &a), ("b", &b)] {
        assert!(
            wait_until(LONG, || w
                .c
                .get_current_config()
                .is_some_and(|cfg| cfg.servers().count() == 3)),
            "{name} read the config"
        );
    }
    let initial = read_config(&admin);
    assert_eq!(
        b.c.get_current_config().unwrap().version(),
        initial.version()
    );
    assert!(wait_until(LONG, || b
        .c
        .zookeeper_client()
        .current_connection_string()
        .split(',')
        .count()
        == 3));

    // A fourth member joins. A stale version is refused first.
    let joiner = e.add_member();
    let spec = e.server_spec(joiner);
    let stale = initial.version().unwrap() - 1;
    match admin
        .reconfig()
        .joining(&[&spec])
        .from_config(stale)
        .for_ensemble()
    {
        Err(Error::BadVersion { .. }) => {}
        other => panic!("reconfig from a stale version: {other:?}"),
    }
    reconfig("add the fourth member", || {
        let v = read_config(&admin).version().unwrap_or(-1);
        admin
            .reconfig()
            .joining(&[&spec])
            .from_config(v)
            .for_ensemble()
    });
    let joiner_addr = format!("127.0.0.1:{}", e.port(joiner));
    for (name, w) in [("a", &a), ("b", &b)] {
        assert!(
            wait_until(LONG, || w
                .c
                .zookeeper_client()
                .current_connection_string()
                .contains(&joiner_addr)),
            "{name} follows the join: {}",
            w.c.zookeeper_client().current_connection_string()
        );
        let cfg = w.c.get_current_config().unwrap();
        assert_eq!(cfg.servers().count(), 4, "{name}: {cfg:?}");
        assert!(cfg.version() > initial.version());
        // The handle itself now knows the new member.
        let handle = w.c.zookeeper_client().zookeeper().unwrap();
        assert!(handle.current_connection_string().contains(&joiner_addr));
    }

    // The member B and C were pointed at leaves.
    let before: Vec<usize> = (0..e.len()).collect();
    eprintln!(
        "before the removal B is on member {:?}, C on {:?} (leaving: {leaving})",
        member_of(&e, b.session, &before),
        member_of(&e, c_session, &before)
    );
    let leaving_id = e.server_id(leaving).to_string();
    reconfig("remove a member", || {
        admin.reconfig().leaving(&[&leaving_id]).for_ensemble()
    });
    let after = read_config(&admin);
    assert!(after.server(e.server_id(leaving)).is_none());
    let remaining: Vec<usize> = (0..e.len()).filter(|&i| i != leaving).collect();

    // C is told the new list: it must move, keeping its session.
    c.update_server_list(&after.connection_string()).unwrap();
    assert!(
        wait_until(LONG, || c.state().is_connected()
            && member_of(&e, c_session, &remaining).is_some()),
        "C moved off the removed member"
    );
    assert_eq!(c.session_id(), c_session);
    assert!(!c.current_connection_string().contains(&leaving_addr));

    // A and B follow on their own.
    for (name, w) in [("a", &a), ("b", &b)] {
        assert!(
            wait_until(LONG, || !w
                .c
                .zookeeper_client()
                .current_connection_string()
                .contains(&leaving_addr)),
            "{name} follows the removal"
        );
        assert!(
            wait_until(LONG, || w.c.is_connected()
                && member_of(&e, w.session, &remaining).is_some()),
            "{name} is on a remaining member"
        );
    }
    // A bulk change: the same members, the fourth as an observer now.
    let members: Vec<String> = remaining
        .iter()
        .map(|&i| {
            let spec = e.server_spec(i);
            if i == joiner {
                spec.replace(":participant;", ":observer;")
            } else {
                spec
            }
        })
        .collect();
    let members: Vec<&str> = members.iter().map(String::as_str).collect();
    reconfig("turn the fourth member into an observer", || {
        admin.reconfig().with_new_members(&members).for_ensemble()
    });
    for (name, w) in [("a", &a), ("b", &b)] {
        assert!(
            wait_until(LONG, || w
                .c
                .get_current_config()
                .and_then(|cfg| cfg.server(e.server_id(joiner)).map(|s| s.role()))
                == Some(LearnerType::Observer)),
            "{name} sees the observer"
        );
    }

    // Nobody needs the removed member any more.
    e.kill(leaving);
    for (name, w) in [("a", &a), ("b", &b)] {
        w.check_kept(name, &admin);
        // Still working after the removed member is gone.
        w.c.create()
            .idempotent()
            .for_path(&format!("{root}/after-{name}"))
            .unwrap();
    }
    assert_eq!(c.session_id(), c_session);
    assert!(c.exists(&c_eph, false).unwrap().is_some());
    admin
        .set_data()
        .for_path(&format!("{root}/watched-c"), b"x")
        .unwrap();
    assert_eq!(c_rx.recv_timeout(LONG), Ok(EventType::NodeDataChanged));
    c.close().unwrap();
    a.c.close();
    b.c.close();
    admin.close();
}

#[test]
fn a_client_on_a_removed_member_moves_and_keeps_its_session_in_process() {
    init_log();
    let cluster = TestingCluster::start(3).unwrap();
    let zk = ZooKeeper::builder(&cluster.connect_string_of(0))
        .session_timeout(Duration::from_secs(10))
        .connect()
        .unwrap();
    let sid = zk.session_id();
    assert_eq!(cluster.member_of_session(sid), Some(0));
    let eph = zk
        .create("/eph", b"", &Acl::open_unsafe(), CreateMode::Ephemeral)
        .unwrap();
    zk.create("/w", b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    let (tx, rx) = mpsc::channel();
    zk.get_data_w("/w", move |e| {
        if e.event_type() != EventType::None {
            let _ = tx.send(e.event_type());
        }
    })
    .unwrap();
    // Member 0 leaves the list: the handle moves at once.
    let rest = format!(
        "{},{}",
        cluster.connect_string_of(1),
        cluster.connect_string_of(2)
    );
    zk.update_server_list(&rest).unwrap();
    assert_eq!(zk.current_connection_string(), rest);
    assert!(
        wait_until(WAIT, || zk.state().is_connected()
            && matches!(cluster.member_of_session(sid), Some(1 | 2))),
        "moved to member 1 or 2: {:?}",
        cluster.member_of_session(sid)
    );
    cluster.kill(0);
    assert_eq!(zk.session_id(), sid);
    assert!(zk.exists(&eph, false).unwrap().is_some());
    let other = ZooKeeper::builder(&rest).connect().unwrap();
    other.set_data("/w", b"x", -1).unwrap();
    assert_eq!(rx.recv_timeout(WAIT), Ok(EventType::NodeDataChanged));
    // A list that keeps the handle's member does not move it.
    let m = cluster.member_of_session(sid).unwrap();
    zk.update_server_list(&cluster.connect_string_of(m))
        .unwrap();
    assert_eq!(cluster.member_of_session(sid), Some(m));
    assert!(zk.state().is_connected());
    // Bad lists are refused, the old one kept.
    for bad in ["", "a:1,,b:2", "127.0.0.1:x", "127.0.0.1:1/other-chroot"] {
        assert!(
            matches!(zk.update_server_list(bad), Err(Error::InvalidArgument(_))),
            "{bad:?}"
        );
    }
    assert_eq!(zk.current_connection_string(), cluster.connect_string_of(m));
    zk.close().unwrap();
    other.close().unwrap();
    assert!(matches!(zk.update_server_list(&rest), Err(Error::Closed)));
}

/// Waits until everything the event thread had queued when this was called has run.
fn drain_events(c: &CuratorFramework) {
    let (tx, rx) = mpsc::channel();
    c.event_dispatcher().post(move || {
        let _ = tx.send(());
    });
    rx.recv_timeout(LONG).expect("the event thread runs");
}

server_test!(shared tracker_does_nothing_without_a_dynamic_config, |srv| {
    let c = srv
        .curator_builder()
        .ensemble_tracker(true)
        .build()
        .unwrap();
    c.start().unwrap();
    assert!(c.block_until_connected(LONG));
    // The tracker's read leaves a watch on /zookeeper/config; then its callback has run.
    let zk = c.zookeeper_client().zookeeper().unwrap();
    assert!(wait_until(LONG, || zk.watch_count() >= 1));
    drain_events(&c);
    assert!(c.get_config().for_ensemble().unwrap().is_empty());
    assert_eq!(c.get_current_config(), None);
    assert_eq!(
        c.zookeeper_client().current_connection_string(),
        srv.connect_string()
    );
    c.close();
});

#[test]
fn the_testing_server_refuses_reconfig() {
    let server = TestingServer::start().unwrap();
    let c = builder(&server.connect_string()).build().unwrap();
    c.start().unwrap();
    match c
        .reconfig()
        .joining(&["server.2=127.0.0.1:1:2;3"])
        .for_ensemble()
    {
        Err(Error::ReconfigDisabled { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(c.get_current_config(), None);
    c.close();
}

#[test]
fn a_provider_without_server_list_updates_gets_a_new_session_on_the_new_servers() {
    init_log();
    let first = TestingServer::start().unwrap();
    let second = TestingServer::start().unwrap();
    let provider = Arc::new(FixedEnsembleProvider::with_update_server_list(
        &first.connect_string(),
        false,
    ));
    let c = CuratorFrameworkFactory::builder()
        .ensemble_provider(provider.clone())
        .session_timeout(Duration::from_secs(10))
        .retry_policy(RetryNTimes::new(3, Duration::from_millis(50)))
        .build()
        .unwrap();
    let states = Arc::new(Mutex::new(Vec::new()));
    let s = states.clone();
    c.connection_state_listenable()
        .add_listener(move |_c: &CuratorFramework, st| s.lock().unwrap().push(st));
    c.start().unwrap();
    assert!(c.block_until_connected(LONG));
    let old_session = c.zookeeper_client().zookeeper().unwrap().session_id();
    assert_eq!(c.zookeeper_client().instance_index(), 1);
    assert!(!c
        .zookeeper_client()
        .ensemble_provider()
        .update_server_list_enabled());
    // The provider learns a new ensemble; as in Curator, the client notices at its next
    // connection event.
    provider.set_connection_string(&second.connect_string());
    assert_eq!(
        c.zookeeper_client().current_connection_string(),
        second.connect_string()
    );
    first.drop_connections();
    assert!(
        wait_until(LONG, || c.zookeeper_client().instance_index() == 2
            && c.is_connected()
            && second.session_ids().len() == 1),
        "a new session on the second server"
    );
    let h = c.zookeeper_client().zookeeper().unwrap();
    // (Two TestingServers may hand out the same first session id: the servers differ.)
    assert_eq!(second.session_ids(), vec![h.session_id()]);
    let _ = old_session;
    assert_eq!(h.current_connection_string(), second.connect_string());
    assert!(wait_until(LONG, || states.lock().unwrap().ends_with(&[
        ConnectionState::Lost,
        ConnectionState::Reconnected
    ])));
    c.close();
}
