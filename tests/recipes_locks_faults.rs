//! Locks under faults, on both server kinds: dropped connections, server pauses shorter and
//! longer than the session, session expiry, a create whose reply is lost, a deadline that
//! spans an outage, and (real 3-member ensemble and the in-process cluster) the loss of the
//! member the clients are on. Each checks that two holders never coexist (the server has
//! the holder's node first whenever a client believes it holds), that waiters wake, and that
//! no node is left behind.

mod support;

use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use support::events::WAIT;
use support::proxy::{outage, proxied_client, Proxy};
use support::{unique_root, wait_until, RealEnsemble, TestServer};
use zk_curator::framework::{ConnectionState, CuratorFramework, RetryNTimes};
use zk_curator::proto::OpCode;
use zk_curator::recipes::locks::InterProcessMutex;
use zk_curator::{CuratorFrameworkFactory, Error};

/// The states `c` reports, in order.
fn states_of(c: &CuratorFramework) -> Arc<Mutex<Vec<ConnectionState>>> {
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    c.connection_state_listenable()
        .add_listener(move |_: &CuratorFramework, s: ConnectionState| l.lock().unwrap().push(s));
    log
}

fn saw(log: &Arc<Mutex<Vec<ConnectionState>>>, s: ConnectionState) -> bool {
    wait_until(Duration::from_secs(60), || log.lock().unwrap().contains(&s))
}

/// The lock's nodes as the server sees them.
fn nodes(c: &CuratorFramework, lock_path: &str) -> Vec<String> {
    let l = InterProcessMutex::new(c, lock_path).unwrap();
    l.participant_nodes().unwrap()
}

/// `lock` holds, and the server agrees: its node is the first.
fn assert_holds(lock: &InterProcessMutex, observer: &CuratorFramework) {
    let mine = lock.lock_node().expect("holding");
    let first = nodes(observer, lock.path()).first().cloned();
    assert_eq!(
        first.as_deref(),
        Some(mine.as_str()),
        "the server disagrees"
    );
}

/// A thread that acquires `lock`, checks that the server agrees, and keeps it until told.
struct Waiter {
    handle: JoinHandle<Result<(), Error>>,
    release: std::sync::mpsc::Sender<()>,
    acquired: std::sync::mpsc::Receiver<Duration>,
}

impl Waiter {
    fn start(lock: &InterProcessMutex, observer: &CuratorFramework) -> Waiter {
        let (lock, observer) = (lock.clone(), observer.clone());
        let (release, rel_rx) = std::sync::mpsc::channel();
        let (acq_tx, acquired) = std::sync::mpsc::channel();
        let handle = thread::spawn(move || {
            let start = Instant::now();
            lock.acquire()?;
            assert_holds(&lock, &observer);
            let _ = acq_tx.send(start.elapsed());
            let _ = rel_rx.recv_timeout(Duration::from_secs(120));
            lock.release()
        });
        Waiter {
            handle,
            release,
            acquired,
        }
    }

    fn has_acquired(&self, within: Duration) -> bool {
        self.acquired.recv_timeout(within).is_ok()
    }

    fn finish(self) {
        let _ = self.release.send(());
        self.handle.join().unwrap().unwrap();
    }
}

fn assert_gone(c: &CuratorFramework, lock_path: &str) {
    assert!(
        wait_until(WAIT, || nodes(c, lock_path).is_empty()),
        "left behind: {:?}",
        nodes(c, lock_path)
    );
}

server_test!(shared holder_and_waiter_through_dropped_connections, |srv| {
    let lock_path = format!("{}/lock", unique_root("drop"));
    let proxy = Proxy::start(&srv.connect_string());
    let cut = proxied_client(&proxy);
    let direct = srv.curator();
    let cut_states = states_of(&cut);

    // The holder's connection drops: same session, still the holder; the waiter waits.
    let held = InterProcessMutex::new(&cut, &lock_path).unwrap();
    held.acquire().unwrap();
    let waiter = Waiter::start(&InterProcessMutex::new(&direct, &lock_path).unwrap(), &direct);
    assert!(wait_until(WAIT, || nodes(&direct, &lock_path).len() == 2));
    proxy.drop_connections();
    assert!(saw(&cut_states, ConnectionState::Reconnected));
    assert_holds(&held, &direct);
    assert!(!waiter.has_acquired(Duration::from_millis(300)), "two holders");
    held.release().unwrap();
    assert!(waiter.has_acquired(WAIT), "the waiter never woke");
    waiter.finish();

    // The waiter is cut off while the holder lets go: it wakes once back.
    let held = InterProcessMutex::new(&direct, &lock_path).unwrap();
    held.acquire().unwrap();
    let waiter = Waiter::start(&InterProcessMutex::new(&cut, &lock_path).unwrap(), &direct);
    assert!(wait_until(WAIT, || nodes(&direct, &lock_path).len() == 2));
    cut_states.lock().unwrap().clear();
    outage(srv, &proxy, &cut, false, || {
        assert!(saw(&cut_states, ConnectionState::Suspended));
        held.release().unwrap();
        assert!(!waiter.has_acquired(Duration::from_millis(300)), "granted while cut off");
    });
    assert!(waiter.has_acquired(WAIT), "the waiter never woke");
    waiter.finish();
    assert_gone(&direct, &lock_path);
    cut.close();
    direct.close();
});

server_test!(shared session_expiry_hands_the_lock_on, |srv| {
    let lock_path = format!("{}/lock", unique_root("expire"));
    let proxy = Proxy::start(&srv.connect_string());
    let cut = proxied_client(&proxy);
    let direct = srv.curator();
    let cut_states = states_of(&cut);

    // The holder's session expires: its node goes, the waiter gets the lock.
    let held = InterProcessMutex::new(&cut, &lock_path).unwrap();
    held.acquire().unwrap();
    let waiter = Waiter::start(&InterProcessMutex::new(&direct, &lock_path).unwrap(), &direct);
    assert!(wait_until(WAIT, || nodes(&direct, &lock_path).len() == 2));
    outage(srv, &proxy, &cut, true, || {
        assert!(waiter.has_acquired(WAIT), "the waiter never got the lock");
    });
    assert!(saw(&cut_states, ConnectionState::Lost));
    // The old holder learns it lost the lock; releasing just forgets it.
    held.release().unwrap();
    assert!(!held.is_acquired_in_this_process());
    waiter.finish();

    // A waiter whose session expires queues again on its new session and still gets it.
    let held = InterProcessMutex::new(&direct, &lock_path).unwrap();
    held.acquire().unwrap();
    let waiter = Waiter::start(&InterProcessMutex::new(&cut, &lock_path).unwrap(), &direct);
    assert!(wait_until(WAIT, || nodes(&direct, &lock_path).len() == 2));
    cut_states.lock().unwrap().clear();
    outage(srv, &proxy, &cut, true, || {});
    assert!(saw(&cut_states, ConnectionState::Lost));
    assert!(saw(&cut_states, ConnectionState::Reconnected));
    assert!(
        wait_until(WAIT, || nodes(&direct, &lock_path).len() == 2),
        "the waiter did not queue again: {:?}",
        nodes(&direct, &lock_path)
    );
    assert!(!waiter.has_acquired(Duration::from_millis(200)), "two holders");
    held.release().unwrap();
    assert!(waiter.has_acquired(WAIT), "the waiter never woke");
    waiter.finish();
    assert_gone(&direct, &lock_path);
    cut.close();
    direct.close();
});

server_test!(shared a_lost_create_reply_is_found_not_repeated, |srv| {
    support::init_log();
    let lock_path = format!("{}/lock", unique_root("lost-reply"));
    let proxy = Proxy::start(&srv.connect_string());
    let cut = proxied_client(&proxy);
    let direct = srv.curator();
    // Make the parent first so that the armed create is the lock node's.
    let first = InterProcessMutex::new(&direct, &lock_path).unwrap();
    first.acquire().unwrap();
    let lock = InterProcessMutex::new(&cut, &lock_path).unwrap();
    proxy.lose_next_reply_to(OpCode::Create);
    let waiter = Waiter::start(&lock, &direct);
    // One node for the waiter, not two, however the reply was lost.
    assert!(wait_until(WAIT, || nodes(&direct, &lock_path).len() == 2));
    assert!(
        wait_until(WAIT, || proxy.accepted() >= 2 && cut.zookeeper_client().is_connected()),
        "the reply was not lost (no reconnect)"
    );
    thread::sleep(Duration::from_millis(300));
    assert_eq!(nodes(&direct, &lock_path).len(), 2, "created twice");
    first.release().unwrap();
    assert!(waiter.has_acquired(WAIT));
    assert_eq!(nodes(&direct, &lock_path).len(), 1);
    waiter.finish();
    assert_gone(&direct, &lock_path);
    cut.close();
    direct.close();
});

server_test!(shared acquire_timeout_keeps_its_deadline_through_outages, |srv| {
    let lock_path = format!("{}/lock", unique_root("deadline"));
    let proxy = Proxy::start(&srv.connect_string());
    // A generous policy: only the deadline can end these waits early.
    let cut = CuratorFrameworkFactory::builder()
        .connect_string(&proxy.connect_string())
        .session_timeout(Duration::from_secs(20))
        .connection_timeout(Duration::from_secs(5))
        .retry_policy(RetryNTimes::new(50, Duration::from_millis(200)))
        .build()
        .unwrap();
    cut.start().unwrap();
    assert!(cut.block_until_connected(WAIT));
    let direct = srv.curator();
    let held = InterProcessMutex::new(&direct, &lock_path).unwrap();
    held.acquire().unwrap();
    let lock = InterProcessMutex::new(&cut, &lock_path).unwrap();

    // Requests that are never answered.
    proxy.blackhole(true);
    let start = Instant::now();
    assert!(!lock.acquire_timeout(Duration::from_secs(1)).unwrap());
    let took = start.elapsed();
    assert!(took < Duration::from_secs(3), "blackholed: took {took:?}");
    proxy.blackhole(false);
    proxy.drop_connections();

    // No connection at all, then one again in the middle of the wait.
    proxy.refuse(true);
    proxy.drop_connections();
    let start = Instant::now();
    let got = thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(700));
            proxy.refuse(false);
        });
        lock.acquire_timeout(Duration::from_secs(2))
    });
    let took = start.elapsed();
    assert!(!got.unwrap());
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(4),
        "took {took:?}"
    );
    // Whatever the cut-off client queued is removed once it is back.
    assert!(
        wait_until(Duration::from_secs(30), || nodes(&direct, &lock_path).len() == 1),
        "left behind: {:?}",
        nodes(&direct, &lock_path)
    );
    held.release().unwrap();
    assert!(lock.acquire_timeout(WAIT).unwrap());
    lock.release().unwrap();
    assert_gone(&direct, &lock_path);
    cut.close();
    direct.close();
});

/// Two clients with `session` timeouts on `srv`.
fn pair(srv: &TestServer, session: Duration) -> (CuratorFramework, CuratorFramework) {
    let mk = || {
        let c = srv
            .curator_builder()
            .session_timeout(session)
            .retry_policy(RetryNTimes::new(10, Duration::from_millis(200)))
            .build()
            .unwrap();
        c.start().unwrap();
        assert!(c.block_until_connected(WAIT));
        c
    };
    (mk(), mk())
}

server_test!(own a_pause_shorter_than_the_session_changes_nothing, |srv| {
    let lock_path = format!("{}/lock", unique_root("short-pause"));
    let (a, b) = pair(srv, Duration::from_secs(6));
    let held = InterProcessMutex::new(&a, &lock_path).unwrap();
    held.acquire().unwrap();
    let waiter = Waiter::start(&InterProcessMutex::new(&b, &lock_path).unwrap(), &a);
    assert!(wait_until(WAIT, || nodes(&a, &lock_path).len() == 2));
    srv.pause();
    thread::sleep(Duration::from_millis(1500));
    srv.resume();
    assert_holds(&held, &a);
    assert!(!waiter.has_acquired(Duration::from_millis(300)), "two holders");
    held.release().unwrap();
    assert!(waiter.has_acquired(WAIT), "the waiter never woke");
    waiter.finish();
    assert_gone(&a, &lock_path);
    a.close();
    b.close();
});

server_test!(own a_pause_longer_than_the_session_loses_and_requeues, |srv| {
    let lock_path = format!("{}/lock", unique_root("long-pause"));
    let (a, b) = pair(srv, Duration::from_secs(2));
    let a_states = states_of(&a);
    let held = InterProcessMutex::new(&a, &lock_path).unwrap();
    held.acquire().unwrap();
    let waiter = Waiter::start(&InterProcessMutex::new(&b, &lock_path).unwrap(), &a);
    assert!(wait_until(WAIT, || nodes(&a, &lock_path).len() == 2));
    srv.pause();
    thread::sleep(Duration::from_secs(5));
    srv.resume();
    // Both sessions expired: the holder is told it lost the lock; the waiter queues again on
    // its new session and, the old holder's node being gone, gets the lock.
    assert!(saw(&a_states, ConnectionState::Lost));
    assert!(waiter.has_acquired(Duration::from_secs(60)), "the waiter never got it");
    held.release().unwrap();
    waiter.finish();
    assert_gone(&a, &lock_path);
    a.close();
    b.close();
});

/// A three-member ensemble of either kind.
trait Ensemble {
    fn connect_string(&self) -> String;
    fn member_of(&self, session: i64) -> Option<usize>;
    fn kill(&mut self, i: usize);
}

impl Ensemble for RealEnsemble {
    fn connect_string(&self) -> String {
        RealEnsemble::connect_string(self)
    }
    fn member_of(&self, session: i64) -> Option<usize> {
        let needle = format!("sid=0x{session:x}");
        (0..self.len()).find(|&i| self.four_letter(i, "cons").contains(&needle))
    }
    fn kill(&mut self, i: usize) {
        RealEnsemble::kill(self, i)
    }
}

impl Ensemble for zk_curator::testing::TestingCluster {
    fn connect_string(&self) -> String {
        zk_curator::testing::TestingCluster::connect_string(self)
    }
    fn member_of(&self, session: i64) -> Option<usize> {
        self.member_of_session(session)
    }
    fn kill(&mut self, i: usize) {
        zk_curator::testing::TestingCluster::kill(self, i)
    }
}

#[test]
fn losing_the_member_keeps_one_holder_real() {
    let Some(mut ens) = RealEnsemble::start(3) else {
        return;
    };
    member_lost(&mut ens);
}

#[test]
fn losing_the_member_keeps_one_holder_in_process() {
    let mut cluster = zk_curator::testing::TestingCluster::start(3).expect("start the cluster");
    member_lost(&mut cluster);
}

fn session_of(c: &CuratorFramework) -> i64 {
    c.zookeeper_client().zookeeper().unwrap().session_id()
}

/// The holder and the waiter both on the member that is lost.
fn member_lost(ens: &mut dyn Ensemble) {
    let mk = || {
        let c = CuratorFrameworkFactory::builder()
            .connect_string(&ens.connect_string())
            .session_timeout(Duration::from_secs(10))
            .connection_timeout(Duration::from_secs(5))
            .retry_policy(RetryNTimes::new(10, Duration::from_millis(200)))
            .build()
            .unwrap();
        c.start().unwrap();
        assert!(c.block_until_connected(Duration::from_secs(30)));
        c
    };
    let lock_path = format!("{}/lock", unique_root("ensemble"));
    let a = mk();
    let member = ens.member_of(session_of(&a)).expect("a member");
    // Bring the waiter onto the same member (connect strings are shuffled).
    let mut b = mk();
    for _ in 0..30 {
        if ens.member_of(session_of(&b)) == Some(member) {
            break;
        }
        b.close();
        b = mk();
    }
    assert_eq!(
        ens.member_of(session_of(&b)),
        Some(member),
        "no client on the member"
    );
    let observer = mk();
    let (a_sid, b_sid) = (session_of(&a), session_of(&b));

    let held = InterProcessMutex::new(&a, &lock_path).unwrap();
    held.acquire().unwrap();
    let waiter = Waiter::start(&InterProcessMutex::new(&b, &lock_path).unwrap(), &observer);
    assert!(wait_until(WAIT, || nodes(&observer, &lock_path).len() == 2));
    ens.kill(member);
    // Both move to another member with their sessions: the holder still holds.
    assert!(wait_until(Duration::from_secs(30), || {
        a.zookeeper_client().is_connected()
            && b.zookeeper_client().is_connected()
            && observer.zookeeper_client().is_connected()
    }));
    assert_eq!((session_of(&a), session_of(&b)), (a_sid, b_sid));
    assert_holds(&held, &observer);
    assert!(
        !waiter.has_acquired(Duration::from_millis(300)),
        "two holders"
    );
    held.release().unwrap();
    assert!(waiter.has_acquired(WAIT), "the waiter never woke");
    waiter.finish();
    assert_gone(&observer, &lock_path);
    for c in [a, b, observer] {
        c.close();
    }
}
