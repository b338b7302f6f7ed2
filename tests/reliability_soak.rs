//! Soak: 50 framework clients, each with a TreeCache over 100 nodes (about 200 watches per
//! client: a data and a child watch per node), all reaching the server through one proxy
//! that drops every connection every few seconds, while a writer (direct) keeps changing
//! the nodes and a prober keeps calling every client. Both server kinds, one after the other.
//!
//! Fails if any call outlives its deadline (a watchdog thread), if any cache ever sees a
//! node's version go backwards, if a cache has not caught up with every committed change
//! once the faults stop (each node's last committed version observed by every cache: a
//! change coalesced with a later one counts as observed through the later one), if any
//! session is lost, or if resident memory keeps growing.
//!
//! `ZK_SOAK_SECS` sets the faulty period per server kind: 20 s by default, so that the whole
//! suite stays fast on a 2-core CI machine; the documented run (docs/reliability.md) uses
//! 60 s and more: `ZK_SOAK_SECS=60 cargo test --release --test reliability_soak -- --nocapture`.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use support::figures::{figure, ms, rss_kb};
use support::proxy::Proxy;
use support::server::Kind;
use support::{unique_root, wait_until, TestServer};
use zk_curator::framework::{ConnectionState, CuratorFramework, CuratorFrameworkFactory};
use zk_curator::recipes::cache::{TreeCache, TreeCacheEvent, TreeCacheEventType};
use zk_curator::RetryNTimes;

const CLIENTS: usize = 50;
const NODES: usize = 100;
/// No call of the test may take longer than this.
const CALL_DEADLINE: Duration = Duration::from_secs(15);

/// Calls in flight, watched by a thread that records any past its deadline.
#[derive(Default)]
struct Watchdog {
    next: AtomicU64,
    calls: Mutex<HashMap<u64, (Instant, String)>>,
    late: Mutex<Vec<String>>,
}

impl Watchdog {
    fn call<T>(&self, what: impl Into<String>, f: impl FnOnce() -> T) -> T {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.calls
            .lock()
            .unwrap()
            .insert(id, (Instant::now(), what.into()));
        let r = f();
        self.calls.lock().unwrap().remove(&id);
        r
    }

    fn check(&self) {
        let now = Instant::now();
        for (start, what) in self.calls.lock().unwrap().values() {
            let took = now - *start;
            if took > CALL_DEADLINE {
                let mut late = self.late.lock().unwrap();
                let msg = format!("{what} running for {took:?}");
                if !late.iter().any(|l| l.starts_with(what.as_str())) {
                    late.push(msg);
                }
            }
        }
    }
}

/// What one cache's listener saw: the highest version per node, versions going backwards.
#[derive(Default)]
struct Seen {
    max: HashMap<String, i32>,
    backwards: Vec<String>,
    events: u64,
}

struct Member {
    c: CuratorFramework,
    cache: TreeCache,
    seen: Arc<Mutex<Seen>>,
    sid: i64,
    lost: Arc<AtomicUsize>,
}

fn member(proxy: &Proxy, root: &str) -> Member {
    let c = CuratorFrameworkFactory::builder()
        .connect_string(&proxy.connect_string())
        .session_timeout(Duration::from_secs(20))
        .connection_timeout(Duration::from_secs(5))
        .retry_policy(RetryNTimes::new(10, Duration::from_millis(100)))
        .build()
        .unwrap();
    let lost = Arc::new(AtomicUsize::new(0));
    let l = lost.clone();
    c.connection_state_listenable().add_listener(
        move |_c: &CuratorFramework, s: ConnectionState| {
            if s == ConnectionState::Lost {
                l.fetch_add(1, Ordering::SeqCst);
            }
        },
    );
    c.start().unwrap();
    assert!(c.block_until_connected(Duration::from_secs(60)));
    let sid = c.zookeeper_client().zookeeper().unwrap().session_id();
    let cache = TreeCache::new(&c, root);
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let s = seen.clone();
    cache
        .listenable()
        .add_listener(move |_c: &CuratorFramework, e: &TreeCacheEvent| {
            if !matches!(
                e.event_type(),
                TreeCacheEventType::NodeAdded | TreeCacheEventType::NodeUpdated
            ) {
                return;
            }
            let Some(d) = e.data() else { return };
            let mut s = s.lock().unwrap();
            s.events += 1;
            let v = d.stat().version;
            let max = s.max.entry(d.path().to_string()).or_insert(v);
            if v < *max {
                let msg = format!("{} went from version {} to {v}", d.path(), *max);
                s.backwards.push(msg);
            } else {
                *max = v;
            }
        });
    cache.start().unwrap();
    Member {
        c,
        cache,
        seen,
        sid,
        lost,
    }
}

fn soak(srv: &TestServer, secs: u64) {
    let writer = srv.curator();
    let root = unique_root("soak");
    writer.create().for_path(&root).unwrap();
    let nodes: Vec<String> = (0..NODES - 1)
        .map(|i| {
            writer
                .create()
                .for_path_with_data(&format!("{root}/n-{i:03}"), b"0")
                .unwrap()
        })
        .collect();
    let proxy = Arc::new(Proxy::start(&srv.connect_string()));
    let setup = Instant::now();
    let members: Vec<Member> = (0..CLIENTS).map(|_| member(&proxy, &root)).collect();
    assert!(
        wait_until(Duration::from_secs(120), || members
            .iter()
            .all(|m| m.cache.is_initialized())),
        "every cache loaded"
    );
    let loaded = setup.elapsed();
    let watches: Vec<usize> = members
        .iter()
        .map(|m| m.c.zookeeper_client().zookeeper().unwrap().watch_count())
        .collect();

    let dog = Arc::new(Watchdog::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    {
        let (dog, stop) = (dog.clone(), stop.clone());
        threads.push(thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                dog.check();
                thread::sleep(Duration::from_millis(200));
            }
            dog.check();
        }));
    }
    let writes = Arc::new(AtomicU64::new(0));
    let write_errors = Arc::new(Mutex::new(Vec::<String>::new()));
    {
        let (dog, stop, w, nodes) = (dog.clone(), stop.clone(), writer.clone(), nodes.clone());
        let (writes, errors) = (writes.clone(), write_errors.clone());
        threads.push(thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let p = &nodes[i % nodes.len()];
                let r = dog.call(format!("set_data {p}"), || {
                    w.set_data().for_path(p, i.to_string().as_bytes())
                });
                match r {
                    Ok(_) => {
                        writes.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => errors.lock().unwrap().push(format!("{p}: {e}")),
                }
                i += 7; // spread over the nodes
                thread::sleep(Duration::from_millis(20));
            }
        }));
    }
    let probes = Arc::new(AtomicU64::new(0));
    let probe_errors = Arc::new(AtomicU64::new(0));
    {
        let clients: Vec<CuratorFramework> = members.iter().map(|m| m.c.clone()).collect();
        let (dog, stop, root) = (dog.clone(), stop.clone(), root.clone());
        let (probes, errs) = (probes.clone(), probe_errors.clone());
        threads.push(thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let c = &clients[i % clients.len()];
                let r = dog.call(format!("client {} check_exists", i % clients.len()), || {
                    c.check_exists().for_path(&root)
                });
                probes.fetch_add(1, Ordering::Relaxed);
                if r.is_err() {
                    errs.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
                thread::sleep(Duration::from_millis(10));
            }
        }));
    }
    let drops = Arc::new(AtomicU64::new(0));
    {
        let (stop, proxy, drops) = (stop.clone(), proxy.clone(), drops.clone());
        threads.push(thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                // Every 2 to 4 s.
                let wait = Duration::from_millis(2000 + (n * 997) % 2000);
                let until = Instant::now() + wait;
                while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(50));
                }
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                proxy.drop_connections();
                drops.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    let rss = Arc::new(Mutex::new(Vec::new()));
    {
        let (stop, rss) = (stop.clone(), rss.clone());
        threads.push(thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                rss.lock().unwrap().push(rss_kb());
                thread::sleep(Duration::from_millis(500));
            }
        }));
    }
    thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        t.join().unwrap();
    }

    // Every cache catches up with every node's last committed version.
    let server: HashMap<String, i32> = nodes
        .iter()
        .map(|p| {
            let mut st = zk_curator::Stat::default();
            writer
                .get_data()
                .storing_stat_in(&mut st)
                .for_path(p)
                .unwrap();
            (p.clone(), st.version)
        })
        .collect();
    let caught_up = Instant::now();
    let behind = || {
        members
            .iter()
            .filter(|m| {
                server.iter().any(|(p, v)| {
                    m.cache
                        .current_data(p)
                        .is_none_or(|d| d.stat().version != *v)
                        || m.seen.lock().unwrap().max.get(p) != Some(v)
                })
            })
            .count()
    };
    let converged = wait_until(Duration::from_secs(60), || behind() == 0);
    let converge_took = caught_up.elapsed();

    let samples = rss.lock().unwrap().clone();
    let third = (samples.len() / 3).max(1);
    let mean = |s: &[u64]| s.iter().sum::<u64>() / s.len().max(1) as u64;
    let (early, late) = (
        mean(&samples[..third.min(samples.len())]),
        mean(&samples[samples.len().saturating_sub(third)..]),
    );
    let backwards: Vec<String> = members
        .iter()
        .flat_map(|m| m.seen.lock().unwrap().backwards.clone())
        .collect();
    let events: u64 = members.iter().map(|m| m.seen.lock().unwrap().events).sum();
    let lost: usize = members.iter().map(|m| m.lost.load(Ordering::SeqCst)).sum();
    let same_sessions = members
        .iter()
        .filter(|m| m.c.zookeeper_client().zookeeper().unwrap().session_id() == m.sid)
        .count();
    let late_calls = dog.late.lock().unwrap().clone();
    let write_errors = write_errors.lock().unwrap().clone();
    figure(
        "soak",
        "soak",
        srv.kind(),
        &[
            ("clients", CLIENTS.to_string()),
            (
                "watches_per_client",
                format!(
                    "{}..{}",
                    watches.iter().min().unwrap(),
                    watches.iter().max().unwrap()
                ),
            ),
            ("secs", secs.to_string()),
            ("load_ms", ms(loaded)),
            ("drops", drops.load(Ordering::Relaxed).to_string()),
            ("writes", writes.load(Ordering::Relaxed).to_string()),
            ("write_errors", write_errors.len().to_string()),
            ("probes", probes.load(Ordering::Relaxed).to_string()),
            (
                "probe_errors",
                probe_errors.load(Ordering::Relaxed).to_string(),
            ),
            ("calls_past_deadline", late_calls.len().to_string()),
            ("cache_events", events.to_string()),
            ("versions_backwards", backwards.len().to_string()),
            ("converged_after_ms", ms(converge_took)),
            ("caches_behind", behind().to_string()),
            ("lost", lost.to_string()),
            ("same_sessions", format!("{same_sessions}/{CLIENTS}")),
            ("rss_kb_early", early.to_string()),
            ("rss_kb_late", late.to_string()),
            (
                "rss_kb_quarters",
                (1..=4)
                    .map(|q| {
                        samples
                            .get((samples.len() * q / 4).saturating_sub(1))
                            .copied()
                            .unwrap_or(0)
                            .to_string()
                    })
                    .collect::<Vec<_>>()
                    .join("/"),
            ),
        ],
    );
    assert!(
        late_calls.is_empty(),
        "calls past their deadline: {late_calls:?}"
    );
    assert!(write_errors.is_empty(), "writer errors: {write_errors:?}");
    assert!(backwards.is_empty(), "{backwards:?}");
    assert!(converged, "{} caches never caught up", behind());
    assert_eq!(lost, 0, "no session lost");
    assert_eq!(same_sessions, CLIENTS);
    assert!(
        late < early + 32 * 1024,
        "resident memory grew from {early} to {late} KiB"
    );
    for m in members {
        m.cache.close();
        m.c.close();
    }
    writer.close();
}

#[test]
fn soak_both_server_kinds() {
    let secs = std::env::var("ZK_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    for kind in [Kind::InProcess, Kind::Real] {
        let Some(srv) = TestServer::start(kind) else {
            continue;
        };
        soak(&srv, secs);
    }
}
