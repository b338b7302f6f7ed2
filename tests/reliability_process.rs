//! What the process pays for faults (catalogue row 10 and the close rows): CPU and connection
//! attempts while every connection is refused, close racing 200 callers blocked on a dead
//! connection and racing reconnects, and create/close cycles; threads (`zk-*`, the crate's
//! own), descriptors and resident memory afterwards.
//!
//! One test in its own binary, running every scenario for both server kinds one after the
//! other, so that the thread, descriptor and CPU figures are this scenario's alone.
//! `ZK_RELIABILITY_OUTAGE_SECS` (default 10; docs/reliability.md quotes a 30 s run) and
//! `ZK_RELIABILITY_CYCLES` (default 200; 1,000 for the documented run) scale it.

mod support;

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use support::events::WAIT;
use support::figures::{cpu_of_threads, fds, figure, ms, rss_kb, threads_named};
use support::proxy::Proxy;
use support::server::Kind;
use support::{unique_root, wait_until, TestServer};
use zk_curator::framework::{ConnectionState, CuratorFramework, CuratorFrameworkFactory};
use zk_curator::RetryNTimes;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The crate's own threads (the in-process server's are `zk-test-*`).
fn crate_threads() -> usize {
    threads_named("zk-") - threads_named("zk-test")
}

fn framework(connect: &str, session: Duration) -> CuratorFramework {
    let c = CuratorFrameworkFactory::builder()
        .connect_string(connect)
        .session_timeout(session)
        .connection_timeout(Duration::from_secs(1))
        .retry_policy(RetryNTimes::new(3, Duration::from_millis(100)))
        .build()
        .unwrap();
    c.start().unwrap();
    c
}

/// Row 10: every connection refused for the outage: the reconnect loop backs off (attempts
/// per second, CPU of the crate's threads), `block_until_connected` keeps its timeout, and
/// the client comes back when the way opens.
fn refused(srv: &TestServer, outage: Duration) {
    let proxy = Proxy::start(&srv.connect_string());
    // Longer than the outage: the session outlives it.
    let c = framework(
        &proxy.connect_string(),
        outage * 2 + Duration::from_secs(10),
    );
    assert!(c.block_until_connected(WAIT));
    let sid = c.zookeeper_client().zookeeper().unwrap().session_id();
    proxy.refuse(true);
    proxy.drop_connections();
    assert!(wait_until(WAIT, || !c.is_connected()));
    // block_until_connected follows the states as delivered in order on the event thread,
    // which on a loaded machine may still say CONNECTED a moment after the live view
    // changed: time the call only once SUSPENDED has been delivered.
    assert!(wait_until(WAIT, || c.connection_state()
        != Some(ConnectionState::Connected)
        && c.connection_state() != Some(ConnectionState::Reconnected)));
    let (cpu0, acc0, t0) = (
        cpu_of_threads("zk-", "zk-test"),
        proxy.accepted(),
        Instant::now(),
    );
    let b = Instant::now();
    let connected = c.block_until_connected(Duration::from_secs(1));
    let blocked = b.elapsed();
    thread::sleep(outage.saturating_sub(t0.elapsed()));
    let (cpu1, acc1, spent) = (
        cpu_of_threads("zk-", "zk-test"),
        proxy.accepted(),
        t0.elapsed(),
    );
    proxy.refuse(false);
    let back = Instant::now();
    assert!(c.block_until_connected(WAIT));
    let back = back.elapsed();
    let cpu = cpu1.saturating_sub(cpu0);
    let attempts = acc1 - acc0;
    figure(
        "10",
        "refused_connections",
        srv.kind(),
        &[
            ("outage_ms", ms(spent)),
            ("cpu_ms", ms(cpu)),
            (
                "cpu_percent",
                format!("{:.3}", 100.0 * cpu.as_secs_f64() / spent.as_secs_f64()),
            ),
            ("attempts", attempts.to_string()),
            (
                "attempts_per_s",
                format!("{:.1}", attempts as f64 / spent.as_secs_f64()),
            ),
            ("block_until_connected_1s_returned_ms", ms(blocked)),
            ("reconnected_after_open_ms", ms(back)),
            (
                "same_session",
                (c.zookeeper_client().zookeeper().unwrap().session_id() == sid).to_string(),
            ),
        ],
    );
    assert!(!connected);
    assert!(blocked >= Duration::from_millis(950) && blocked < Duration::from_secs(3));
    assert!(
        cpu < spent / 50,
        "no busy loop: {cpu:?} of CPU in {spent:?} of outage"
    );
    assert!(
        (attempts as f64) < 5.0 * spent.as_secs_f64() + 20.0,
        "{attempts} attempts in {spent:?}"
    );
    c.close();
}

/// Close racing 200 callers blocked on a dead connection: every call returns once, soon
/// after close, and close itself returns.
fn close_racing_blocked_callers(srv: &TestServer) {
    let proxy = Proxy::start(&srv.connect_string());
    let c = framework(&proxy.connect_string(), Duration::from_secs(20));
    assert!(c.block_until_connected(WAIT));
    let root = unique_root("close-race");
    c.create().for_path(&root).unwrap();
    proxy.refuse(true);
    proxy.drop_connections();
    assert!(wait_until(WAIT, || !c.is_connected()));
    let (tx, rx) = mpsc::channel();
    let callers: Vec<_> = (0..200)
        .map(|i| {
            let (c, tx, root) = (c.clone(), tx.clone(), root.clone());
            thread::spawn(move || {
                let r = if i % 2 == 0 {
                    c.get_data().for_path(&root).map(|_| ())
                } else {
                    c.create().for_path(&format!("{root}/x{i}")).map(|_| ())
                };
                let _ = tx.send((i, r.map_err(|e| format!("{e:?}")), Instant::now()));
            })
        })
        .collect();
    drop(tx);
    // Let them block (each is waiting for a connection inside its retry loop).
    thread::sleep(Duration::from_millis(300));
    let closing = Instant::now();
    c.close();
    let close_took = closing.elapsed();
    let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
    let mut seen = std::collections::HashSet::new();
    let mut slowest = Duration::ZERO;
    while let Ok((i, r, at)) = rx.recv_timeout(Duration::from_secs(10)) {
        assert!(seen.insert(i), "caller {i} answered twice");
        slowest = slowest.max(at.saturating_duration_since(closing));
        let key = match r {
            Ok(()) => "Ok".to_string(),
            Err(e) => e.split([' ', '(', '{']).next().unwrap_or("?").to_string(),
        };
        *outcomes.entry(key).or_default() += 1;
    }
    for t in callers {
        t.join().unwrap();
    }
    figure(
        "close",
        "close_racing_blocked_callers",
        srv.kind(),
        &[
            ("callers", "200".into()),
            ("answered", seen.len().to_string()),
            ("close_ms", ms(close_took)),
            ("last_answer_after_close_ms", ms(slowest)),
            (
                "outcomes",
                outcomes
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ],
    );
    assert_eq!(seen.len(), 200, "every caller answered");
    assert!(close_took < Duration::from_secs(3), "{close_took:?}");
    assert!(slowest < Duration::from_secs(3), "{slowest:?}");
}

/// Close racing reconnects: a client whose connection keeps dropping (and whose handshakes
/// are slow) closed at moments spread over its reconnect loop.
fn close_racing_reconnects(srv: &TestServer) {
    let proxy = Arc::new(Proxy::start(&srv.connect_string()));
    proxy.delay(Duration::from_millis(150));
    let mut worst = Duration::ZERO;
    for i in 0..20u64 {
        let c = framework(&proxy.connect_string(), Duration::from_secs(10));
        let p = proxy.clone();
        let dropper = thread::spawn(move || {
            for _ in 0..3 {
                thread::sleep(Duration::from_millis(40));
                p.drop_connections();
            }
        });
        thread::sleep(Duration::from_millis(15 * i));
        let t = Instant::now();
        c.close();
        worst = worst.max(t.elapsed());
        dropper.join().unwrap();
        assert!(!c.is_connected());
        assert!(c.create().for_path("/never").is_err());
    }
    figure(
        "close",
        "close_racing_reconnects",
        srv.kind(),
        &[("closes", "20".into()), ("slowest_close_ms", ms(worst))],
    );
    assert!(worst < Duration::from_secs(3), "{worst:?}");
}

/// Create, start, use and close clients, again and again: nothing accumulates.
fn create_close_cycles(srv: &TestServer, cycles: u64) {
    let root = unique_root("cycles");
    {
        let c = framework(&srv.connect_string(), Duration::from_secs(10));
        assert!(c.block_until_connected(WAIT));
        c.create().for_path(&root).unwrap();
        c.close();
    }
    let settle = || {
        wait_until(Duration::from_secs(5), || crate_threads() == 0);
    };
    settle();
    let (t0, f0, r0) = (crate_threads(), fds(), rss_kb());
    let start = Instant::now();
    for i in 0..cycles {
        let c = framework(&srv.connect_string(), Duration::from_secs(10));
        assert!(c.block_until_connected(WAIT), "cycle {i}");
        c.set_data().for_path(&root, b"x").unwrap();
        c.connection_state_listenable()
            .add_listener(|_c: &CuratorFramework, _s: ConnectionState| {});
        c.close();
    }
    let took = start.elapsed();
    settle();
    // The server side of each closed connection goes too.
    let fds_back = wait_until(Duration::from_secs(5), || fds() <= f0);
    let (t1, f1, r1) = (crate_threads(), fds(), rss_kb());
    figure(
        "close",
        "create_close_cycles",
        srv.kind(),
        &[
            ("cycles", cycles.to_string()),
            (
                "ms_per_cycle",
                format!("{:.1}", took.as_secs_f64() * 1000.0 / cycles as f64),
            ),
            ("threads_before", t0.to_string()),
            ("threads_after", t1.to_string()),
            ("fds_before", f0.to_string()),
            ("fds_after", f1.to_string()),
            ("rss_kb_before", r0.to_string()),
            ("rss_kb_after", r1.to_string()),
        ],
    );
    assert_eq!(t1, 0, "no zk-* thread left");
    assert!(fds_back, "descriptors {f0} before, {f1} after");
    assert!(
        r1 < r0 + 64 * 1024,
        "resident memory grew from {r0} to {r1} KiB"
    );
}

#[test]
fn what_faults_cost_the_process() {
    let outage = Duration::from_secs(env_or("ZK_RELIABILITY_OUTAGE_SECS", 10));
    let cycles = env_or("ZK_RELIABILITY_CYCLES", 200);
    for kind in [Kind::InProcess, Kind::Real] {
        let Some(srv) = TestServer::start(kind) else {
            continue;
        };
        close_racing_blocked_callers(&srv);
        close_racing_reconnects(&srv);
        create_close_cycles(&srv, cycles);
        refused(&srv, outage);
        // Everything closed: the crate's threads are gone (the watchdog within a pass).
        assert!(
            wait_until(Duration::from_secs(5), || crate_threads() == 0),
            "{} zk-* threads left",
            crate_threads()
        );
    }
}
