//! The TestingServer's timing: the write-commit latency (`commit_latency`,
//! `set_commit_latency`) and the `realistic()` preset measured against real ZooKeeper, by
//! latency and by what Java Curator's bounded queue does with it.
//!
//! Lower bounds are exact (a write cannot be answered before its commit), so they are
//! asserted as they are; upper bounds only separate what the model does from what it must
//! not do (reads wait for nothing, overlapping writers share syncs), with wide margins for a
//! loaded 2-core machine.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::curator::CuratorJava;
use support::{unique_root, wait_until, RealServer};
use zk_curator::testing::{TestingCluster, TestingServer};
use zk_curator::{Acl, CreateMode, EventType, Op, WatchedEvent, ZooKeeper};

const MS: Duration = Duration::from_millis(1);

/// Taken by the tests that compare the preset with a real server, so that one's load does
/// not skew the other's figures (the tests of a binary run in parallel).
static COMPARING: Mutex<()> = Mutex::new(());

fn comparing() -> std::sync::MutexGuard<'static, ()> {
    COMPARING.lock().unwrap_or_else(|e| e.into_inner())
}

fn connect(connect: &str) -> ZooKeeper {
    ZooKeeper::builder(connect)
        .session_timeout(Duration::from_secs(20))
        .connection_timeout(Duration::from_secs(20))
        .close_timeout(Duration::from_secs(20))
        .connect()
        .expect("connect")
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn create(zk: &ZooKeeper, path: &str) -> zk_curator::Result<String> {
    zk.create(path, b"x", &Acl::open_unsafe(), CreateMode::Persistent)
}

#[test]
fn every_write_waits_for_its_commit_and_reads_do_not() {
    let l = 30 * MS;
    let server = TestingServer::builder().commit_latency(l).start().unwrap();
    // createSession is a write.
    let (zk, t) = timed(|| connect(&server.connect_string()));
    assert!(t >= l, "session established in {t:?}");

    let mut writes: Vec<(&str, Duration)> = Vec::new();
    writes.push(("create", timed(|| create(&zk, "/a").unwrap()).1));
    let (r, t) = timed(|| create(&zk, "/a"));
    assert!(r.is_err(), "NodeExists");
    writes.push(("failed create", t));
    writes.push(("setData", timed(|| zk.set_data("/a", b"y", -1).unwrap()).1));
    let acl = Acl::read_unsafe();
    writes.push(("setACL", timed(|| zk.set_acl("/a", &acl, -1).unwrap()).1));
    writes.push(("create2", timed(|| create(&zk, "/b").unwrap()).1));
    writes.push(("delete", timed(|| zk.delete("/b", -1).unwrap()).1));
    let ops = [
        Op::create("/c", b"", &Acl::open_unsafe(), CreateMode::Persistent),
        Op::check("/a", -1),
    ];
    writes.push(("multi", timed(|| zk.multi(&ops).unwrap()).1));
    for (what, t) in &writes {
        assert!(*t >= l, "{what} answered after {t:?}, before its commit");
    }

    let mut reads = Vec::new();
    for _ in 0..20 {
        reads.push(timed(|| zk.get_data("/a", false).unwrap()).1);
        reads.push(timed(|| zk.exists("/c", false).unwrap()).1);
        reads.push(timed(|| zk.get_children("/", false).unwrap()).1);
    }
    let read = median(reads);
    assert!(
        read < l / 2,
        "reads take {read:?} (median) with a {l:?} commit"
    );

    // closeSession is a write too.
    let ((), t) = timed(|| zk.close().unwrap());
    assert!(t >= l, "closeSession answered after {t:?}");
}

#[test]
fn other_sessions_read_during_a_commit_and_watchers_hear_of_it_at_the_commit() {
    let l = 1000 * MS;
    let server = TestingServer::start().unwrap();
    let (writer, reader) = (
        connect(&server.connect_string()),
        connect(&server.connect_string()),
    );
    let heard: Arc<Mutex<Option<(Instant, WatchedEvent)>>> = Arc::default();
    let watcher = {
        let heard = Arc::clone(&heard);
        ZooKeeper::builder(&server.connect_string())
            .default_watcher(move |e: &WatchedEvent| {
                if e.event_type() != EventType::None {
                    heard
                        .lock()
                        .unwrap()
                        .get_or_insert((Instant::now(), e.clone()));
                }
            })
            .connect()
            .unwrap()
    };
    assert!(watcher.exists("/x", true).unwrap().is_none());
    server.set_commit_latency(l);

    let done = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let w = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            create(&writer, "/x").unwrap();
            done.store(true, Ordering::SeqCst);
            writer
        })
    };
    // The create is applied at once: another session reads it before the writer is answered.
    let mut slowest_read = Duration::ZERO;
    let seen = wait_until(l / 2, || {
        let (r, t) = timed(|| reader.exists("/x", false).unwrap());
        slowest_read = slowest_read.max(t);
        r.is_some()
    });
    assert!(
        seen,
        "the create is visible to other sessions before it commits"
    );
    assert!(
        !done.load(Ordering::SeqCst),
        "the writer was answered before the commit"
    );
    assert!(slowest_read < l / 2, "a read took {slowest_read:?}");

    let writer = w.join().unwrap();
    assert!(t0.elapsed() >= l);
    // The watcher hears of the create at its commit, not before.
    assert!(wait_until(Duration::from_secs(10), || heard
        .lock()
        .unwrap()
        .is_some()));
    let (at, e) = heard.lock().unwrap().clone().unwrap();
    assert_eq!(
        (e.event_type(), e.path()),
        (EventType::NodeCreated, Some("/x"))
    );
    assert!(at >= t0 + l, "notified {:?} after the create", at - t0);
    server.set_commit_latency(Duration::ZERO);
    for zk in [writer, reader, watcher] {
        zk.close().unwrap();
    }
}

#[test]
fn overlapping_writers_share_syncs_and_commit_in_zxid_order() {
    let l = 50 * MS;
    let server = TestingServer::builder().commit_latency(l).start().unwrap();
    let (writers, rounds) = (4, 8);
    let clients: Vec<ZooKeeper> = (0..writers)
        .map(|_| connect(&server.connect_string()))
        .collect();
    create(&clients[0], "/w").unwrap();

    // Each writer's creates are sequential, so each takes a sync; overlapping writers share
    // them instead of queueing one latency per write.
    let t0 = Instant::now();
    let threads: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, zk)| {
            std::thread::spawn(move || {
                let mut zxids = Vec::new();
                for r in 0..rounds {
                    let path = format!("/w/{i}-{r}");
                    let (_, stat) = zk
                        .create2(&path, b"", &Acl::open_unsafe(), CreateMode::Persistent)
                        .unwrap();
                    zxids.push(stat.czxid);
                }
                (zk, zxids)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        let (zk, zxids) = t.join().unwrap();
        assert!(zxids.windows(2).all(|w| w[0] < w[1]), "{zxids:?}");
        all.extend(zxids);
        zk.close().unwrap();
    }
    let elapsed = t0.elapsed();
    let serial = l * (writers * rounds) as u32;
    assert!(elapsed >= l * rounds as u32, "{elapsed:?}");
    assert!(
        elapsed < serial,
        "{} writes took {elapsed:?}: as long as one sync each ({serial:?})",
        all.len()
    );

    // One session's pipelined writes: answered in order, sharing the sync after the first.
    let zk = connect(&server.connect_string());
    let (tx, rx) = std::sync::mpsc::channel();
    let n = 16;
    let t0 = Instant::now();
    for i in 0..n {
        let tx = tx.clone();
        zk.create_async(
            &format!("/w/p{i}"),
            b"",
            &Acl::open_unsafe(),
            CreateMode::Persistent,
            move |r| {
                let _ = tx.send((i, r.is_ok(), Instant::now()));
            },
        )
        .unwrap();
    }
    let got: Vec<_> = (0..n)
        .map(|_| rx.recv_timeout(Duration::from_secs(20)).expect("an answer"))
        .collect();
    let order: Vec<_> = got.iter().map(|(i, ok, _)| (*i, *ok)).collect();
    assert_eq!(order, (0..n).map(|i| (i, true)).collect::<Vec<_>>());
    let last = got.last().unwrap().2 - t0;
    assert!(last >= l, "{last:?}");
    assert!(
        last < l * (n / 2) as u32,
        "{n} pipelined creates took {last:?}"
    );
    zk.close().unwrap();
}

#[test]
fn pause_holds_writes_back_and_resume_commits_them() {
    let l = 50 * MS;
    let server = TestingServer::builder().commit_latency(l).start().unwrap();
    let zk = connect(&server.connect_string());
    let zxid = server.zxid();
    server.pause();
    let done = Arc::new(AtomicBool::new(false));
    let w = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            create(&zk, "/p").unwrap();
            done.store(true, Ordering::SeqCst);
            zk
        })
    };
    // Bounded negative check: nothing is processed while paused.
    assert!(!wait_until(300 * MS, || done.load(Ordering::SeqCst)));
    assert_eq!(server.zxid(), zxid);
    let resumed = Instant::now();
    server.resume();
    assert!(wait_until(Duration::from_secs(10), || done.load(Ordering::SeqCst)));
    assert!(
        resumed.elapsed() >= l,
        "answered {:?} after the resume",
        resumed.elapsed()
    );
    let zk = w.join().unwrap();

    // The network latency fault adds to the commit; reads get only the network's.
    server.set_latency(40 * MS);
    let (_, t) = timed(|| zk.set_data("/p", b"z", -1).unwrap());
    assert!(t >= l + 40 * MS, "{t:?}");
    let (_, t) = timed(|| zk.get_data("/p", false).unwrap());
    assert!(t >= 40 * MS, "{t:?}");
    server.set_latency(Duration::ZERO);

    // Turned off, writes are immediate again.
    server.set_commit_latency(Duration::ZERO);
    server.set_commit_latency(Duration::from_secs(3600));
    server.set_commit_latency(Duration::ZERO);
    let t = median(
        (0..9)
            .map(|_| timed(|| zk.set_data("/p", b"", -1).unwrap()).1)
            .collect(),
    );
    assert!(t < l, "{t:?}");
    zk.close().unwrap();
}

#[test]
fn expiry_and_the_cluster_commit_too() {
    let l = 200 * MS;
    let server = TestingServer::builder().commit_latency(l).start().unwrap();
    let owner = connect(&server.connect_string());
    owner
        .create("/e", b"", &Acl::open_unsafe(), CreateMode::Ephemeral)
        .unwrap();
    let events = support::events::Events::new();
    let w = events.watcher();
    let watcher = ZooKeeper::builder(&server.connect_string())
        .default_watcher(move |e: &WatchedEvent| w(e))
        .connect()
        .unwrap();
    assert!(watcher.exists("/e", true).unwrap().is_some());
    let t0 = Instant::now();
    assert!(server.expire_session(owner.session_id()));
    events.expect(EventType::NodeDeleted, "/e");
    assert!(
        t0.elapsed() >= l,
        "the expiry's deletion was told after {:?}",
        t0.elapsed()
    );
    watcher.close().unwrap();

    // A cluster has one log: a write through any member commits with the same latency.
    let cluster = TestingServer::builder()
        .commit_latency(l)
        .start_cluster(3)
        .unwrap();
    let zk = connect(&cluster.connect_string_of(2));
    let (_, t) = timed(|| create(&zk, "/c").unwrap());
    assert!(t >= l, "{t:?}");
    cluster.set_commit_latency(Duration::ZERO);
    let t = median(
        (0..9)
            .map(|_| timed(|| zk.set_data("/c", b"", -1).unwrap()).1)
            .collect(),
    );
    assert!(t < l / 2, "{t:?}");
    zk.close().unwrap();
    let _: &TestingCluster = &cluster;
}

/// Medians of one server's timings.
#[derive(Debug, Default)]
struct Timings {
    session: Vec<Duration>,
    create: Vec<Duration>,
    set_data: Vec<Duration>,
    get_data: Vec<Duration>,
}

impl Timings {
    /// One round: `sessions` session establishments, then `ops` creates, setDatas and
    /// getDatas on one session, under `root`.
    fn round(&mut self, connect: &str, root: &str, sessions: usize, ops: usize) {
        for _ in 0..sessions {
            let (zk, t) = timed(|| {
                ZooKeeper::builder(connect)
                    .session_timeout(Duration::from_secs(10))
                    .connection_timeout(Duration::from_secs(20))
                    .connect()
                    .expect("connect")
            });
            self.session.push(t);
            zk.close().unwrap();
        }
        let zk = connect_to(connect);
        let base = self.create.len();
        for i in base..base + ops {
            let path = format!("{root}/n{i}");
            self.create.push(timed(|| create(&zk, &path).unwrap()).1);
            self.set_data
                .push(timed(|| zk.set_data(&path, b"y", -1).unwrap()).1);
            self.get_data
                .push(timed(|| zk.get_data(&path, false).unwrap()).1);
        }
        zk.close().unwrap();
    }

    fn medians(&self) -> [Duration; 4] {
        [
            median(self.session.clone()),
            median(self.create.clone()),
            median(self.set_data.clone()),
            median(self.get_data.clone()),
        ]
    }
}

fn connect_to(c: &str) -> ZooKeeper {
    connect(c)
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// The preset's figures against ZooKeeper 3.8 on this machine (its log synced to disk, as
/// by default): write medians within a factor of 3 either way, the fastest session
/// establishment within 4 (it starts threads in both this process and the in-process server, which a loaded
/// machine delays more than it delays the JVM's selector). Rounds alternate between the
/// servers so that a burst of load hits both.
#[test]
fn realistic_preset_is_close_to_real_zookeeper() {
    let Some(real) = RealServer::start() else {
        return;
    };
    let _one_at_a_time = comparing();
    let preset = TestingServer::builder().realistic().start().unwrap();
    let plain = TestingServer::start().unwrap();
    let servers = [
        ("ZooKeeper 3.8", real.connect_string()),
        ("realistic()", preset.connect_string()),
        ("default", plain.connect_string()),
    ];
    let mut timings: Vec<Timings> = servers.iter().map(|_| Timings::default()).collect();
    // Warm-up (the JVM compiles its hot paths), not counted.
    for (_, c) in &servers {
        let zk = connect_to(c);
        create(&zk, "/warm").unwrap();
        create(&zk, "/timing").unwrap();
        zk.close().unwrap();
        Timings::default().round(c, "/warm", 5, 50);
    }
    for _ in 0..6 {
        for ((_, c), t) in servers.iter().zip(&mut timings) {
            t.round(c, "/timing", 5, 30);
        }
    }
    let m: Vec<[Duration; 4]> = timings.iter().map(Timings::medians).collect();
    eprintln!("medians: session / create / setData / getData");
    for ((name, _), m) in servers.iter().zip(&m) {
        let cells: Vec<String> = m.iter().map(|d| us(*d)).collect();
        eprintln!("  {name:14} {}", cells.join(" / "));
    }
    let (real, preset, plain) = (m[0], m[1], m[2]);
    let within = |what: &str, ours: Duration, theirs: Duration, factor: f64| {
        let ratio = ours.as_secs_f64() / theirs.as_secs_f64();
        assert!(
            (1.0 / factor..=factor).contains(&ratio),
            "{what}: realistic() {} against ZooKeeper {} ({ratio:.2}x)",
            us(ours),
            us(theirs)
        );
    };
    // Session establishment is compared on the fastest of each server's samples: its median
    // follows the machine's load (one CI run measured ZooKeeper's at 4.4 ms against 1.2-1.4 ms
    // on a quieter machine, while the writes' medians stayed within 10 %), and the fastest
    // sample is the server's own cost. Both are printed.
    let fastest = |t: &Timings| t.session.iter().min().copied().unwrap_or_default();
    eprintln!(
        "fastest session: ZooKeeper 3.8 {}, realistic() {}",
        us(fastest(&timings[0])),
        us(fastest(&timings[1]))
    );
    within(
        "session establishment (fastest)",
        fastest(&timings[1]),
        fastest(&timings[0]),
        4.0,
    );
    within("create", preset[1], real[1], 3.0);
    within("setData", preset[2], real[2], 3.0);
    // Every preset write and session waited for its 500 µs commit; reads did not.
    let t = &timings[1];
    let min = t
        .create
        .iter()
        .chain(&t.set_data)
        .chain(&t.session)
        .min()
        .unwrap();
    assert!(*min >= Duration::from_micros(500), "{min:?}");
    assert!(
        preset[3] < preset[1] / 2,
        "reads {} writes {}",
        us(preset[3]),
        us(preset[1])
    );
    assert!(plain[1] < preset[1]);
}

/// Java Curator's `DistributedQueue` with `maxItems`, in the scenario Curator's own suite
/// checks the bound with (`TestBoundedDistributedQueue.testMulti`: four producers, bound 10,
/// consumers taking 10 ms an item, an observer counting the children at every change; see
/// `tests/java/BoundedQueueScenario.java`). Each producer admits a put on the count of its
/// watch-fed children cache, which trails the real count by however many writes the server
/// takes while the watch and the re-read are under way: on the default server that is many
/// (over Curator's check in 11 of 13 runs, up to 137), on ZooKeeper and with `realistic()` it
/// stays within it, at most twice the bound (17 to 20; docs/testing.md has the figures). The
/// preset must pass Curator's check; the other two are printed for comparison.
#[test]
fn realistic_preset_keeps_curators_bounded_queue_within_curators_check() {
    let Some(java) = CuratorJava::get() else {
        return;
    };
    let Some(real) = RealServer::start() else {
        return;
    };
    let _one_at_a_time = comparing();
    let preset = TestingServer::builder().realistic().start().unwrap();
    let plain = TestingServer::start().unwrap();
    // Items per producer: Curator's test puts 1,000; 300 reach the steady state and keep
    // each run to a few seconds.
    let items = "300";
    let run = |connect: &str| -> (u32, u32) {
        let root = unique_root("bounded");
        let out = java.run(
            "BoundedQueueScenario",
            &[connect, &format!("{root}/queue"), items],
            "",
        );
        let words: Vec<&str> = out.split_whitespace().collect();
        match words[..] {
            ["max", max, "looks", looks] => (
                max.parse().expect("a count"),
                looks.parse().expect("a count"),
            ),
            _ => panic!("unexpected output: {out}"),
        }
    };
    let (max_items, curators_check) = (10, 20);
    eprintln!("largest child count seen (bound {max_items}, Curator checks <= {curators_check}):");
    let mut figures = Vec::new();
    for (name, connect) in [
        ("ZooKeeper 3.8", real.connect_string()),
        ("realistic()", preset.connect_string()),
        ("default", plain.connect_string()),
    ] {
        let (max, looks) = run(&connect);
        eprintln!("  {name:14} {max} ({looks} looks)");
        assert!(looks > 10, "{name}: the observer saw only {looks} counts");
        figures.push(max);
    }
    assert!(
        figures[1] <= curators_check,
        "with realistic(), Curator's bounded queue reached {} items (bound {max_items}; \
         ZooKeeper 3.8: {}, default: {})",
        figures[1],
        figures[0],
        figures[2]
    );
}
