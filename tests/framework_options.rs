//! The rest of the builder and client surface of Curator's framework: schema sets (every
//! rule refused before anything is sent, foreground, background and in transactions, on
//! both server kinds), the temporary framework closing itself when idle or when its last
//! clone drops, `zookeeper_factory` and `set_retry_policy` on a running client.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::events::WAIT;
use support::{init_log, unique_root, wait_until};
use zk_curator::framework::*;
use zk_curator::testing::TestingServer;
use zk_curator::{Acl, CreateMode, Error, ZooKeeper, ZooKeeperBuilder};

fn violation<T: std::fmt::Debug>(r: zk_curator::Result<T>) -> String {
    match r {
        Err(Error::SchemaViolation { violation, .. }) => violation,
        other => panic!("expected a schema violation, got {other:?}"),
    }
}

/// The schemas under `root`.
fn schemas(root: &str) -> SchemaSet {
    let s = |p: &str| format!("{root}/{p}");
    SchemaSet::new(
        vec![
            Schema::builder(root).build().unwrap(),
            Schema::builder(&s("eph"))
                .ephemeral(Allowance::Must)
                .build()
                .unwrap(),
            Schema::builder(&s("persistent"))
                .ephemeral(Allowance::Cannot)
                .build()
                .unwrap(),
            Schema::builder_for_pattern(&format!("{root}/seq/item-.*"))
                .name("items")
                .sequential(Allowance::Must)
                .build()
                .unwrap(),
            Schema::builder(&s("seq"))
                .sequential(Allowance::Cannot)
                .create_modes(&[CreateMode::Persistent, CreateMode::Container])
                .build()
                .unwrap(),
            Schema::builder(&s("no-containers"))
                .create_modes(&[CreateMode::Persistent])
                .build()
                .unwrap(),
            Schema::builder(&s("must-watch"))
                .watched(Allowance::Must)
                .build()
                .unwrap(),
            Schema::builder(&s("no-watch"))
                .watched(Allowance::Cannot)
                .build()
                .unwrap(),
            Schema::builder(&s("keep"))
                .can_be_deleted(false)
                .build()
                .unwrap(),
            Schema::builder_for_pattern(&format!("{root}/json(/.*)?"))
                .name("json")
                .data_validator(
                    |_: &Schema, _: &str, data: Option<&[u8]>, acl: Option<&[Acl]>| {
                        data.is_none_or(|d| d.starts_with(b"{"))
                            && acl.is_none_or(|a| a.iter().all(|x| x.id.scheme == "world"))
                    },
                )
                .build()
                .unwrap(),
        ],
        false,
    )
    .unwrap()
}

server_test!(shared every_schema_rule_is_refused_before_anything_is_sent, |srv| {
    let root = unique_root("schema");
    let plain = srv.curator();
    let c = srv.curator_builder().schema_set(schemas(&root)).build().unwrap();
    c.start().unwrap();
    assert!(c.block_until_connected(WAIT));
    let p = |x: &str| format!("{root}/{x}");
    let exists = |x: &str| plain.check_exists().for_path(&p(x)).unwrap().is_some();
    c.create().for_path(&root).unwrap();
    assert_eq!(c.schema_set().schemas().count(), 10);

    // Ephemeral rules.
    assert_eq!(violation(c.create().for_path(&p("eph"))), "must be ephemeral");
    assert!(!exists("eph"));
    c.create().with_mode(CreateMode::Ephemeral).for_path(&p("eph")).unwrap();
    assert_eq!(
        violation(c.create().with_mode(CreateMode::Ephemeral).for_path(&p("persistent"))),
        "cannot be ephemeral"
    );
    c.create().for_path(&p("persistent")).unwrap();

    // Sequential rules and create modes.
    assert_eq!(
        violation(c.create().with_mode(CreateMode::PersistentSequential).for_path(&p("seq"))),
        "cannot be sequential"
    );
    c.create().for_path(&p("seq")).unwrap();
    assert_eq!(violation(c.create().for_path(&p("seq/item-"))), "must be sequential");
    c.create()
        .with_mode(CreateMode::PersistentSequential)
        .for_path(&p("seq/item-"))
        .unwrap();
    let e = c
        .create()
        .with_mode(CreateMode::Container)
        .for_path(&p("no-containers"))
        .unwrap_err();
    assert!(violation::<()>(Err(e)).contains("Container"));
    assert!(!exists("no-containers"));

    // Watched rules: reads without a watch, reads with one.
    c.create().for_path(&p("must-watch")).unwrap();
    c.create().for_path(&p("no-watch")).unwrap();
    assert_eq!(violation(c.get_data().for_path(&p("must-watch"))), "must be watched");
    assert_eq!(
        violation(c.check_exists().for_path(&p("must-watch"))),
        "must be watched"
    );
    c.get_data().watched().for_path(&p("must-watch")).unwrap();
    c.get_children().using_watcher(|_| {}).for_path(&p("must-watch")).unwrap();
    assert_eq!(
        violation(c.get_children().watched().for_path(&p("no-watch"))),
        "cannot be watched"
    );
    assert_eq!(
        violation(c.check_exists().using_watcher(|_| {}).for_path(&p("no-watch"))),
        "cannot be watched"
    );
    c.get_data().for_path(&p("no-watch")).unwrap();

    // Deletion.
    c.create().for_path(&p("keep")).unwrap();
    assert_eq!(violation(c.delete().for_path(&p("keep"))), "cannot be deleted");
    assert!(exists("keep"));

    // Data and ACL validation: create, set_data, set_acl.
    assert_eq!(
        violation(c.create().for_path_with_data(&p("json"), b"nope")),
        "data is not valid"
    );
    c.create().for_path_with_data(&p("json"), b"{}").unwrap();
    assert_eq!(
        violation(c.set_data().for_path(&p("json"), b"nope")),
        "data is not valid"
    );
    assert_eq!(plain.get_data().for_path(&p("json")).unwrap(), b"{}");
    assert_eq!(
        violation(
            c.set_acl()
                .with_acl(&[Acl::new(zk_curator::Perms::ALL, zk_curator::Id::new("ip", "127.0.0.1"))])
                .for_path(&p("json"))
        ),
        "data is not valid"
    );
    c.set_acl().with_acl(&Acl::open_unsafe()).for_path(&p("json")).unwrap();

    // No schema matches, and the set has no default.
    let e = c.create().for_path(&p("other")).unwrap_err();
    assert!(
        matches!(&e, Error::SchemaViolation { schema: None, violation, .. } if violation == "no schema found"),
        "{e}"
    );
    assert!(e.to_string().contains(&p("other")), "{e}");

    // Background operations are refused by the terminal method; the callback never runs.
    let called = Arc::new(AtomicU32::new(0));
    let n = called.clone();
    let r = c
        .delete()
        .in_background(move |_, _| {
            n.fetch_add(1, Ordering::SeqCst);
        })
        .for_path(&p("keep"));
    assert_eq!(violation(r), "cannot be deleted");

    // Transactions: the operation is refused when built, and when given to a client
    // whose schema it breaks.
    assert_eq!(
        violation(c.transaction_op().create().for_path(&p("eph"))),
        "must be ephemeral"
    );
    assert_eq!(
        violation(c.transaction_op().delete().for_path(&p("keep"))),
        "cannot be deleted"
    );
    let foreign = plain.transaction_op().set_data().for_path(&p("json"), b"nope").unwrap();
    assert_eq!(
        violation(c.transaction().for_operations(vec![foreign])),
        "data is not valid"
    );
    assert_eq!(plain.get_data().for_path(&p("json")).unwrap(), b"{}");
    assert!(exists("keep"));
    assert_eq!(called.load(Ordering::SeqCst), 0);

    c.close();
    plain.delete().deleting_children_if_needed().for_path(&root).unwrap();
    plain.close();
});

server_test!(shared a_schema_violation_sends_nothing_not_even_the_namespace, |srv| {
    let ns = unique_root("schema-ns").trim_start_matches('/').to_string();
    let set = SchemaSet::new(
        vec![Schema::builder("/only").ephemeral(Allowance::Must).build().unwrap()],
        true,
    )
    .unwrap();
    let c = srv
        .curator_builder()
        .namespace(&ns)
        .schema_set(set)
        .build()
        .unwrap();
    c.start().unwrap();
    // The path checked is the one given, without the namespace.
    assert_eq!(violation(c.create().for_path("/only")), "must be ephemeral");
    let plain = srv.curator();
    assert!(plain.check_exists().for_path(&format!("/{ns}")).unwrap().is_none());
    // Paths without a schema get the default one: anything goes.
    c.create().for_path("/free").unwrap();
    assert!(plain.check_exists().for_path(&format!("/{ns}/free")).unwrap().is_some());
    c.close();
    plain.delete().deleting_children_if_needed().for_path(&format!("/{ns}")).unwrap();
    plain.close();
});

#[test]
fn the_temp_framework_closes_itself_when_idle_and_reopens_on_use() {
    init_log();
    let server = TestingServer::start().unwrap();
    let setup = ZooKeeper::builder(&server.connect_string())
        .connect()
        .unwrap();
    setup
        .create("/t", b"v", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    let idle = Duration::from_millis(300);
    let temp = CuratorFrameworkFactory::builder()
        .connect_string(&server.connect_string())
        .retry_policy(zk_curator::RetryOneTime::new(Duration::from_millis(10)))
        .build_temp_with_inactive_threshold(idle)
        .unwrap();
    assert_eq!(temp.inactive_threshold(), idle);
    assert!(!temp.is_open(), "nothing is opened before the first use");
    assert_eq!(server.session_ids(), vec![setup.session_id()]);

    let mut stat = zk_curator::Stat::default();
    assert_eq!(
        temp.get_data()
            .storing_stat_in(&mut stat)
            .for_path("/t")
            .unwrap(),
        b"v"
    );
    assert_eq!(stat.data_length, 1);
    assert!(temp.is_open());
    assert_eq!(server.session_ids().len(), 2);
    // Idle: the connection closes and its session ends.
    assert!(
        wait_until(WAIT, || !temp.is_open()),
        "closed after {idle:?} idle"
    );
    assert!(wait_until(WAIT, || server.session_ids() == vec![setup.session_id()]));
    // Used again: a new connection.
    let results = temp
        .transaction(|op| Ok(vec![op.set_data().for_path("/t", b"w")?]))
        .unwrap();
    assert_eq!(results.len(), 1);
    assert!(temp.is_open());
    assert_eq!(setup.get_data("/t", false).unwrap().0, b"w");
    // Uses keep it open: each one restarts the idle period.
    for _ in 0..5 {
        std::thread::sleep(idle / 3); // spacing the uses, shorter than the idle period
        temp.get_data().for_path("/t").unwrap();
        assert!(temp.is_open());
    }
    // Errors come back as errors; closed for good is Closed.
    assert!(matches!(
        temp.get_data().for_path("/missing"),
        Err(Error::NoNode { .. })
    ));
    temp.close();
    assert!(!temp.is_open());
    assert!(matches!(temp.get_data().for_path("/t"), Err(Error::Closed)));
    // The settings are checked when it is built.
    assert!(matches!(
        CuratorFrameworkFactory::builder()
            .connect_string("bad:host:x")
            .retry_policy(zk_curator::RetryOneTime::new(Duration::from_millis(10)))
            .build_temp(),
        Err(Error::InvalidArgument(_))
    ));
    setup.close().unwrap();
}

#[test]
fn the_temp_framework_closes_its_connection_when_the_last_clone_drops() {
    init_log();
    let server = TestingServer::start().unwrap();
    // Curator's default idle period (3 minutes): only the drop can end the session here.
    let temp = CuratorFrameworkFactory::builder()
        .connect_string(&server.connect_string())
        .retry_policy(zk_curator::RetryOneTime::new(Duration::from_millis(10)))
        .build_temp()
        .unwrap();
    assert_eq!(
        temp.inactive_threshold(),
        CuratorTempFramework::DEFAULT_INACTIVE_THRESHOLD
    );
    let clone = temp.clone();
    assert!(matches!(
        clone.get_data().for_path("/missing"),
        Err(Error::NoNode { .. })
    ));
    let sessions = server.session_ids();
    assert_eq!(sessions.len(), 1, "one connection shared by the clones");
    // One clone gone: the other still uses the same connection.
    drop(temp);
    assert!(clone.is_open());
    assert_eq!(clone.get_data().for_path("/").unwrap(), b"");
    assert_eq!(server.session_ids(), sessions);
    // The last one gone: the session ends now, not three minutes later.
    drop(clone);
    assert!(
        wait_until(WAIT, || server.session_ids().is_empty()),
        "the session ended: {:?}",
        server.session_ids()
    );
    // Dropping one that never connected, or was closed, is quiet.
    let never = CuratorFrameworkFactory::builder()
        .connect_string(&server.connect_string())
        .retry_policy(zk_curator::RetryOneTime::new(Duration::from_millis(10)))
        .build_temp()
        .unwrap();
    drop(never.clone());
    drop(never);
    assert!(server.session_ids().is_empty());
}

#[test]
fn zookeeper_factory_makes_every_handle_and_must_use_the_builder() {
    let server = TestingServer::start().unwrap();
    let made = Arc::new(AtomicU32::new(0));
    let m = made.clone();
    let c = CuratorFrameworkFactory::builder()
        .connect_string(&server.connect_string())
        .session_timeout(Duration::from_secs(5))
        .retry_policy(zk_curator::RetryNTimes::new(3, Duration::from_millis(50)))
        .zookeeper_factory(move |b: ZooKeeperBuilder| {
            m.fetch_add(1, Ordering::SeqCst);
            b.max_buffer_size(2 << 20).start()
        })
        .build()
        .unwrap();
    c.start().unwrap();
    assert!(c.block_until_connected(WAIT));
    assert_eq!(made.load(Ordering::SeqCst), 1);
    // A new session needs a new handle: the factory makes it too.
    let sid = c.zookeeper_client().zookeeper().unwrap().session_id();
    assert!(server.expire_session(sid));
    assert!(wait_until(WAIT, || made.load(Ordering::SeqCst) == 2
        && c.is_connected()));
    c.create().for_path("/after-expiry").unwrap();
    c.close();

    // A handle not made from the builder would never report to the client: refused.
    let cs = server.connect_string();
    let c = CuratorFrameworkFactory::builder()
        .connect_string(&cs)
        .retry_policy(zk_curator::RetryOneTime::new(Duration::from_millis(10)))
        .zookeeper_factory(move |_b: ZooKeeperBuilder| ZooKeeper::builder(&cs).start())
        .build()
        .unwrap();
    match c.start() {
        Err(Error::InvalidArgument(msg)) => assert!(msg.contains("zookeeper_factory"), "{msg}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.state(), CuratorFrameworkState::Stopped);
    // And a factory's error is start()'s error.
    let c = CuratorFrameworkFactory::builder()
        .connect_string(&server.connect_string())
        .retry_policy(zk_curator::RetryOneTime::new(Duration::from_millis(10)))
        .zookeeper_factory(|b: ZooKeeperBuilder| b.max_buffer_size(1).start())
        .build()
        .unwrap();
    assert!(matches!(c.start(), Err(Error::InvalidArgument(_))));
}

/// Counts the retries it is asked about; allows `n`.
struct Counting {
    asked: Arc<AtomicU32>,
    n: u32,
}

impl RetryPolicy for Counting {
    fn allow_retry(&self, count: u32, _: Duration, sleeper: &dyn RetrySleeper) -> bool {
        self.asked.fetch_add(1, Ordering::SeqCst);
        count < self.n && sleeper.sleep_for(Duration::from_millis(5))
    }
}

#[test]
fn set_retry_policy_replaces_the_policy_of_a_running_client() {
    let server = TestingServer::start().unwrap();
    let (first, second) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    let c = CuratorFrameworkFactory::builder()
        .connect_string(&server.connect_string())
        .connection_timeout(Duration::from_millis(200))
        .retry_policy(Counting {
            asked: first.clone(),
            n: 1,
        })
        .build()
        .unwrap();
    c.start().unwrap();
    assert!(c.block_until_connected(WAIT));
    server.stop();
    assert!(matches!(
        c.get_data().for_path("/x"),
        Err(Error::ConnectionLoss { .. })
    ));
    let asked_first = first.load(Ordering::SeqCst);
    assert!(asked_first >= 1);
    c.zookeeper_client().set_retry_policy(Counting {
        asked: second.clone(),
        n: 3,
    });
    assert!(matches!(
        c.check_exists().for_path("/x"),
        Err(Error::ConnectionLoss { .. })
    ));
    assert_eq!(
        first.load(Ordering::SeqCst),
        asked_first,
        "the old policy is out"
    );
    assert_eq!(second.load(Ordering::SeqCst), 4, "three retries, then no");
    // Namespace views share it.
    let view = c.using_namespace(Some("ns")).unwrap();
    assert!(view
        .zookeeper_client()
        .retry_policy()
        .allow_retry(0, Duration::ZERO, &ThreadSleeper));
    assert_eq!(second.load(Ordering::SeqCst), 5);
    c.close();
}
