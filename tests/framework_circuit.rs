//! Circuit breaking of connection-state listeners (Curator 5's
//! `ConnectionStateListenerManagerFactory.circuitBreaking` and
//! `CircuitBreakingConnectionStateListener`): a storm of 50 connection flaps in about 5 s on
//! the `TestingServer` reaches proxied listeners as two changes while a `do_not_proxy`
//! listener hears all of them; and the breaker's rules one by one (the first `Lost` passes
//! while open, retries exhausted, a policy that allows no delay).

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::{init_log, wait_until};
use zk_curator::framework::{
    CircuitBreakingConnectionStateListener, ConnectionState, ConnectionStateListener,
    ConnectionStateListenerManagerFactory, CuratorFramework, CuratorFrameworkFactory, RetryForever,
    RetryNTimes,
};
use zk_curator::testing::TestingServer;
use zk_curator::RetryOneTime;

use ConnectionState::*;

type Log = Arc<Mutex<Vec<ConnectionState>>>;

/// Records what it hears; `proxy: false` opts out of circuit breaking.
struct Recorder {
    log: Log,
    proxy: bool,
}

impl ConnectionStateListener for Recorder {
    fn state_changed(&self, _client: &CuratorFramework, s: ConnectionState) {
        self.log.lock().unwrap().push(s);
    }

    fn do_not_proxy(&self) -> bool {
        !self.proxy
    }
}

fn recorder(c: &CuratorFramework, proxy: bool) -> Log {
    let log = Log::default();
    c.connection_state_listenable().add_arc(
        Arc::new(Recorder {
            log: log.clone(),
            proxy,
        }),
        None,
    );
    log
}

fn count(log: &Log, s: ConnectionState) -> usize {
    log.lock().unwrap().iter().filter(|&&x| x == s).count()
}

/// How long the circuit stays open: longer than the storm, with room for a loaded machine.
const OPEN: Duration = Duration::from_secs(12);
const FLAPS: usize = 50;

#[test]
fn a_storm_of_flaps_reaches_proxied_listeners_as_one_change() {
    init_log();
    let server = TestingServer::start().unwrap();
    let client = CuratorFrameworkFactory::builder()
        .connect_string(&server.connect_string())
        .session_timeout(Duration::from_secs(30))
        .retry_policy(RetryOneTime::new(Duration::from_millis(10)))
        .connection_state_listener_manager_factory(
            ConnectionStateListenerManagerFactory::circuit_breaking(RetryForever::new(OPEN)),
        )
        .build()
        .unwrap();
    let proxied = recorder(&client, true);
    let direct = recorder(&client, false);
    // A closure listener is proxied too.
    let closure = Log::default();
    let c2 = closure.clone();
    client
        .connection_state_listenable()
        .add_listener(move |_c: &CuratorFramework, s| c2.lock().unwrap().push(s));
    client.start().unwrap();
    assert!(client.block_until_connected(Duration::from_secs(10)));
    assert!(wait_until(Duration::from_secs(10), || count(
        &direct, Connected
    ) == 1));

    // 50 flaps, one every 100 ms: each drop is seen (Suspended) and healed (Reconnected)
    // before the next.
    let start = Instant::now();
    for i in 0..FLAPS {
        server.drop_connections();
        assert!(
            wait_until(Duration::from_secs(10), || count(&direct, Reconnected)
                == i + 1),
            "flap {i} healed"
        );
        let next = start + Duration::from_millis(100) * (i as u32 + 1);
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d); // pacing the storm, not waiting for an outcome
        }
    }
    let storm = start.elapsed();
    eprintln!("{FLAPS} flaps in {storm:?}");
    assert!(
        storm < OPEN,
        "the storm ({storm:?}) must end before the circuit closes ({OPEN:?})"
    );
    assert_eq!(
        count(&direct, Suspended),
        FLAPS,
        "{:?}",
        direct.lock().unwrap()
    );
    assert_eq!(count(&direct, Reconnected), FLAPS);
    // While the circuit is open the proxied listeners heard only the first Suspended.
    assert_eq!(*proxied.lock().unwrap(), vec![Connected, Suspended]);
    // Then the circuit closes on a live connection: one Reconnected.
    assert!(
        wait_until(OPEN * 3, || proxied.lock().unwrap().len() == 3),
        "{:?}",
        proxied.lock().unwrap()
    );
    let heard_at = start.elapsed();
    assert_eq!(
        *proxied.lock().unwrap(),
        vec![Connected, Suspended, Reconnected]
    );
    assert_eq!(
        *closure.lock().unwrap(),
        vec![Connected, Suspended, Reconnected]
    );
    assert!(heard_at >= OPEN, "closed after {heard_at:?}");
    // Closed again: the next drop goes through at once and opens it again.
    server.drop_connections();
    assert!(wait_until(Duration::from_secs(10), || proxied
        .lock()
        .unwrap()
        .len()
        == 4));
    assert_eq!(proxied.lock().unwrap()[3], Suspended);
    client.close();
}

/// A client for driving a breaker by hand: its timer and event threads run without a
/// server.
fn idle_client() -> CuratorFramework {
    CuratorFrameworkFactory::new_client("127.0.0.1:1", RetryOneTime::new(Duration::from_millis(1)))
        .unwrap()
}

fn breaker(
    client: &CuratorFramework,
    policy: RetryNTimes,
) -> (CircuitBreakingConnectionStateListener, Log) {
    let log = Log::default();
    let l = log.clone();
    let b = CircuitBreakingConnectionStateListener::new(
        client,
        move |_c: &CuratorFramework, s: ConnectionState| l.lock().unwrap().push(s),
        policy,
    );
    (b, log)
}

#[test]
fn the_breaker_follows_curators_rules() {
    let client = idle_client();
    let delay = Duration::from_millis(200);
    let (b, log) = breaker(&client, RetryNTimes::new(2, delay));
    let feed = |s| b.state_changed(&client, s);
    let heard = || log.lock().unwrap().clone();

    // Closed: everything passes; the first disconnected state opens the circuit.
    feed(Connected);
    feed(Suspended);
    assert!(b.is_open());
    assert_eq!(heard(), vec![Connected, Suspended]);
    // Open: held back, except the first Lost.
    feed(Reconnected);
    feed(Suspended);
    feed(Lost);
    feed(Lost);
    feed(Suspended);
    assert_eq!(heard(), vec![Connected, Suspended, Lost]);
    // Still not connected after two more delays: retries exhausted, the circuit closes
    // and passes on the last state (Suspended differs from the Lost passed on).
    assert!(wait_until(Duration::from_secs(10), || !b.is_open()));
    assert_eq!(heard(), vec![Connected, Suspended, Lost, Suspended]);

    // Reconnected within the delay: closing passes Reconnected on.
    log.lock().unwrap().clear();
    feed(Suspended);
    feed(Reconnected);
    assert_eq!(heard(), vec![Suspended]);
    let opened = Instant::now();
    assert!(wait_until(Duration::from_secs(10), || !b.is_open()));
    assert!(opened.elapsed() >= delay);
    assert_eq!(heard(), vec![Suspended, Reconnected]);

    // Nothing new while open: closing passes nothing on (the last state is the first).
    log.lock().unwrap().clear();
    feed(Lost);
    assert!(b.is_open());
    assert!(wait_until(Duration::from_secs(10), || !b.is_open()));
    assert_eq!(heard(), vec![Lost]);
    client.close();
}

#[test]
fn a_policy_without_delays_never_opens_the_circuit() {
    let client = idle_client();
    let (b, log) = breaker(&client, RetryNTimes::new(0, Duration::from_millis(10)));
    for s in [
        Connected,
        Suspended,
        Reconnected,
        Suspended,
        Lost,
        Reconnected,
    ] {
        b.state_changed(&client, s);
        assert!(!b.is_open());
    }
    assert_eq!(
        *log.lock().unwrap(),
        vec![
            Connected,
            Suspended,
            Reconnected,
            Suspended,
            Lost,
            Reconnected
        ]
    );
    client.close();
}
