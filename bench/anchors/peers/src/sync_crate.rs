//! Driver for the `zookeeper` crate 0.8 (bonifaido/rust-zookeeper): every call blocks its
//! thread until the reply, and there is no asynchronous form, so nothing can be pipelined
//! from one thread. Watchers run on the crate's event thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zookeeper::recipes::cache::{PathChildrenCache, PathChildrenCacheEvent};
use zookeeper::recipes::leader::LeaderLatch;
use zookeeper::{
    Acl, AddWatchMode, CreateMode, WatchedEvent, WatchedEventType, ZkError, ZooKeeper,
};

use crate::cli::Options;
use crate::line::Line;
use crate::measure::*;
use crate::{failed, run_root, Outcome, Res};

pub const CLIENT: &str = "zookeeper-0.8.0";

/// Threads that share a session for untimed setup and cleanup of big trees.
const HELPERS: usize = 8;

const SEQUENTIAL_WRITER: &str = "sequential (no async API)";

fn session(connect: &str) -> Res<Arc<ZooKeeper>> {
    let zk = ZooKeeper::connect(connect, Duration::from_secs(30), |_: WatchedEvent| {})?;
    // connect() returns before the handshake; the first reply means the session is up.
    zk.exists("/", false)?;
    Ok(Arc::new(zk))
}

fn make(zk: &ZooKeeper, path: &str, data: Vec<u8>) -> Result<(), ZkError> {
    zk.create(
        path,
        data,
        Acl::open_unsafe().clone(),
        CreateMode::Persistent,
    )
    .map(|_| ())
}

/// Runs `job(i)` for every `i < n` on `HELPERS` threads; the first error wins.
fn on_helpers(n: usize, job: impl Fn(usize) -> Result<(), ZkError> + Sync) -> Res<()> {
    let next = AtomicUsize::new(0);
    let first_error = Mutex::new(None);
    thread::scope(|s| {
        for _ in 0..HELPERS.min(n) {
            s.spawn(|| {
                while let Some(i) = Some(next.fetch_add(1, Ordering::Relaxed)).filter(|i| *i < n) {
                    if let Err(e) = job(i) {
                        first_error
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                        next.store(n, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => failed(format!("setup or cleanup: {e}")),
        None => Ok(()),
    }
}

/// Deletes `top` and everything under it: the tree level by level, deepest first.
fn remove_tree(zk: &ZooKeeper, top: &str) -> Res<()> {
    let mut levels = vec![vec![top.to_string()]];
    loop {
        let mut below = Vec::new();
        for p in levels.last().map(Vec::as_slice).unwrap_or_default() {
            match zk.get_children(p, false) {
                Ok(kids) => below.extend(kids.into_iter().map(|k| format!("{p}/{k}"))),
                Err(ZkError::NoNode) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if below.is_empty() {
            break;
        }
        levels.push(below);
    }
    for level in levels.iter().rev() {
        on_helpers(level.len(), |i| match zk.delete(&level[i], None) {
            Err(ZkError::NoNode) => Ok(()),
            other => other,
        })?;
    }
    Ok(())
}

pub fn run(o: &Options, line: &mut Line) -> Res<()> {
    match o.workload.as_str() {
        "get-pipelined" => {
            return Err(Outcome::Unsupported(
                "the zookeeper crate has no asynchronous API: every call blocks its thread".into(),
            ))
        }
        "lock-uncontended" | "lock-contended" => return Err(Outcome::Unsupported(
            "the zookeeper crate 0.8 has no lock recipe (its recipes: cache, leader latch, queue)"
                .into(),
        )),
        _ => {}
    }
    let root = run_root();
    let admin = session(&o.connect)?;
    make(&admin, &root, Vec::new())?;
    let result = match o.workload.as_str() {
        "get-sync" => get_sync(o, line, &admin, &root),
        "get-threads" => get_threads(o, line, &admin, &root),
        "create-delete" => create_delete(o, line, &admin, &root),
        "watch-fanout" => watch_fanout(o, line, &admin, &root),
        "persistent-recursive" => persistent_recursive(o, line, &admin, &root),
        "cache-load" => cache_load(o, line, &admin, &root),
        "leader-failover" => leader_failover(o, line, &admin, &root),
        other => failed(format!("unknown workload {other}")),
    };
    let cleanup = remove_tree(&admin, &root);
    let _ = admin.close();
    result.and(cleanup)
}

fn get_sync(o: &Options, line: &mut Line, zk: &ZooKeeper, root: &str) -> Res<()> {
    let n = o.ops_or(20_000);
    let node = format!("{root}/node");
    make(zk, &node, payload(o.size))?;
    let mut warm = Warmup::new(n / 10);
    while warm.more(1) {
        zk.get_data(&node, false)?;
    }
    let mut lat = Vec::with_capacity(n);
    let t0 = Instant::now();
    for _ in 0..n {
        let s = Instant::now();
        let (data, _) = zk.get_data(&node, false)?;
        lat.push(ns(s.elapsed()));
        if data.len() != o.size {
            return failed(format!("read {} bytes, wrote {}", data.len(), o.size));
        }
    }
    line.timed(n, t0.elapsed(), lat);
    line.extra("size", o.size);
    line.extra("warmup_ops", warm.done());
    Ok(())
}

fn get_threads(o: &Options, line: &mut Line, zk: &Arc<ZooKeeper>, root: &str) -> Res<()> {
    let n = o.ops_or(20_000);
    let t = o.threads_or(8);
    let node = format!("{root}/node");
    make(zk, &node, payload(o.size))?;
    let gate = Barrier::new(t + 1);
    let (elapsed, per_thread) = thread::scope(|s| {
        let workers: Vec<_> = (0..t)
            .map(|k| {
                let share = n / t + usize::from(k < n % t);
                let (zk, node, gate) = (zk.clone(), &node, &gate);
                s.spawn(move || -> Result<Vec<u64>, String> {
                    let mut warm = Warmup::new(share / 10);
                    let mut warm_result = Ok(());
                    while warm_result.is_ok() && warm.more(1) {
                        warm_result = zk.get_data(node, false).map(|_| ());
                    }
                    gate.wait(); // reached even after a failure, so nobody waits forever
                    warm_result.map_err(|e| e.to_string())?;
                    let mut lat = Vec::with_capacity(share);
                    for _ in 0..share {
                        let st = Instant::now();
                        zk.get_data(node, false).map_err(|e| e.to_string())?;
                        lat.push(ns(st.elapsed()));
                    }
                    Ok(lat)
                })
            })
            .collect();
        gate.wait();
        let t0 = Instant::now();
        let results: Vec<_> = workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err("worker panicked".into())))
            .collect();
        (t0.elapsed(), results)
    });
    let mut lat = Vec::with_capacity(n);
    for r in per_thread {
        lat.extend(r.map_err(Outcome::Failed)?);
    }
    line.timed(n, elapsed, lat);
    line.extra("threads", t);
    Ok(())
}

fn create_delete(o: &Options, line: &mut Line, zk: &ZooKeeper, root: &str) -> Res<()> {
    let n = o.ops_or(5_000);
    let data = payload(o.size);
    let mut warm = Warmup::new(n / 10);
    while warm.more(1) {
        let p = format!("{root}/warm{}", warm.done());
        make(zk, &p, data.clone())?;
        zk.delete(&p, None)?;
    }
    let mut lat = Vec::with_capacity(n);
    let t0 = Instant::now();
    for i in 0..n {
        let p = format!("{root}/cd{i}");
        let s = Instant::now();
        make(zk, &p, data.clone())?;
        zk.delete(&p, None)?;
        lat.push(ns(s.elapsed()));
    }
    line.timed(n, t0.elapsed(), lat);
    line.extra("requests", 2 * n);
    line.extra("unit", "create+delete pair");
    line.extra("warmup_ops", warm.done());
    Ok(())
}

fn watch_fanout(o: &Options, line: &mut Line, b: &Arc<ZooKeeper>, root: &str) -> Res<()> {
    let w = o.nodes_or(10_000);
    let dir = format!("{root}/fan");
    make(b, &dir, Vec::new())?;
    let data = payload(o.size);
    on_helpers(w, |i| make(b, &format!("{dir}/n{i}"), data.clone()))?;
    let a = session(&o.connect)?;
    for i in 0..w {
        b.set_data(&format!("{dir}/n{i}"), data.clone(), None)?; // B's warm-up pass
    }

    let arrivals = Arrivals::new(w);
    let r0 = Instant::now();
    for i in 0..w {
        let seen = arrivals.clone();
        a.get_data_w(&format!("{dir}/n{i}"), move |ev: WatchedEvent| {
            if ev.event_type == WatchedEventType::NodeDataChanged {
                seen.arrive();
            }
        })?;
    }
    let register = r0.elapsed();

    let mut changed = payload(o.size);
    changed[0] = b'1';
    let t0 = Instant::now();
    for i in 0..w {
        b.set_data(&format!("{dir}/n{i}"), changed.clone(), None)?;
    }
    let writes = t0.elapsed();
    let got = arrivals.wait(EVENT_GRACE);
    line.events(w, got, arrivals.span_from(t0));
    line.extra("register_secs", secs(register));
    line.extra("writes_secs", secs(writes));
    line.extra("writer", SEQUENTIAL_WRITER);
    let _ = a.close();
    Ok(())
}

/// What the watcher of persistent-recursive tells its reader thread.
enum ReadBack {
    Changed(String),
    /// No more events will be waited for: stop after this many read-backs or at the deadline.
    Finish(usize, Instant),
}

fn persistent_recursive(o: &Options, line: &mut Line, b: &Arc<ZooKeeper>, root: &str) -> Res<()> {
    let n = o.ops_or(20_000);
    let dir = format!("{root}/pr");
    make(b, &dir, Vec::new())?;
    for i in 0..PR_CHILDREN {
        make(b, &format!("{dir}/c{i}"), b"-1".to_vec())?;
    }
    let a = session(&o.connect)?;
    for i in 0..n / 10 {
        b.set_data(&format!("{dir}/c{}", i % PR_CHILDREN), b"-1".to_vec(), None)?;
        // warm-up
    }

    // Events carry no data: the watcher counts and hands the path to a reader thread, which
    // reads the node back on A's session and checks that its counter never goes down.
    let arrivals = Arrivals::new(n);
    let (tx, rx) = mpsc::channel::<ReadBack>();
    let seen = arrivals.clone();
    let to_reader = tx.clone();
    a.add_watch(
        &dir,
        AddWatchMode::PersistentRecursive,
        move |ev: WatchedEvent| {
            if ev.event_type == WatchedEventType::NodeDataChanged {
                seen.arrive();
                if let Some(p) = ev.path {
                    let _ = to_reader.send(ReadBack::Changed(p));
                }
            }
        },
    )?;
    let reader_zk = a.clone();
    let base = Instant::now();
    let reader = thread::spawn(move || {
        let mut check = OrderCheck::default();
        let mut last = Duration::ZERO;
        let mut finish: Option<(usize, Instant)> = None;
        loop {
            if let Some((want, deadline)) = finish {
                if check.verified >= want || Instant::now() > deadline {
                    break;
                }
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(ReadBack::Changed(path)) => {
                    let data = reader_zk.get_data(&path, false).ok().map(|(d, _)| d);
                    check.record(&path, data.as_deref());
                    last = base.elapsed();
                }
                Ok(ReadBack::Finish(want, deadline)) => finish = Some((want, deadline)),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        (check, last)
    });

    let t0 = Instant::now();
    let mut write_result = Ok(());
    for i in 0..n {
        let value = i.to_string().into_bytes();
        write_result = b
            .set_data(&format!("{dir}/c{}", i % PR_CHILDREN), value, None)
            .map(|_| ());
        if write_result.is_err() {
            break;
        }
    }
    let writes = t0.elapsed();
    let got = if write_result.is_ok() {
        arrivals.wait(EVENT_GRACE)
    } else {
        0
    };
    let _ = tx.send(ReadBack::Finish(got, Instant::now() + VERIFY_GRACE));
    let (check, last_read) = reader
        .join()
        .map_err(|_| Outcome::Failed("reader thread panicked".into()))?;
    let _ = a.close();
    write_result?;
    line.events(n, got, arrivals.span_from(t0));
    line.set("out_of_order", check.out_of_order);
    line.extra("writes_secs", secs(writes));
    line.extra("verified", check.verified);
    if check.verified > 0 {
        line.extra(
            "verify_secs",
            secs((base + last_read).saturating_duration_since(t0)),
        );
    }
    line.extra("read_errors", check.read_errors);
    line.extra("children", PR_CHILDREN);
    line.extra("writer", SEQUENTIAL_WRITER);
    Ok(())
}

fn cache_load(o: &Options, line: &mut Line, b: &Arc<ZooKeeper>, root: &str) -> Res<()> {
    let w = o.nodes_or(20_000);
    let dir = format!("{root}/cache");
    make(b, &dir, Vec::new())?;
    let data = payload(o.size);
    on_helpers(w, |i| make(b, &format!("{dir}/n{i}"), data.clone()))?;
    let a = session(&o.connect)?;
    let rss_before = rss_kib();

    let (tx, rx) = mpsc::channel::<usize>();
    let t0 = Instant::now();
    let mut cache = PathChildrenCache::new(a.clone(), &dir)?;
    cache.add_listener(move |ev| {
        if let PathChildrenCacheEvent::Initialized(children) = ev {
            let _ = tx.send(children.len());
        }
    });
    cache.start()?;
    let cached = rx
        .recv_timeout(Duration::from_secs(120))
        .map_err(|_| Outcome::Failed("the cache did not initialize within 120 s".into()))?;
    let elapsed = t0.elapsed();
    let rss = rss_kib();
    let _ = a.close();
    if cached != w {
        return failed(format!(
            "the cache initialized with {cached} of {w} children"
        ));
    }
    line.set("ops", w);
    line.set("secs", secs(elapsed));
    line.set("ops_per_sec", round1(w as f64 / elapsed.as_secs_f64()));
    line.extra("rss_kb", rss);
    line.extra("rss_before_kb", rss_before);
    line.extra("cached_nodes", cached);
    line.extra("size", o.size);
    line.extra("recipe", "PathChildrenCache");
    Ok(())
}

/// The participants' latches. The crate's LeaderLatch has no listener: leadership is read
/// from `has_leadership()`, so the waiting main thread sees it at its next re-check.
struct Latches(Mutex<Vec<LeaderLatch>>);

impl Latches {
    fn get(&self, k: usize) -> Option<LeaderLatch> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(k)
            .cloned()
    }

    fn replace(&self, k: usize, l: LeaderLatch) {
        if let Some(slot) = self.0.lock().unwrap_or_else(|p| p.into_inner()).get_mut(k) {
            *slot = l;
        }
    }
}

impl Leadership for Latches {
    fn participants(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn leads(&self, k: usize) -> bool {
        self.get(k).is_some_and(|l| l.has_leadership())
    }
}

/// Waits (untimed) until the election lists `t` contenders again.
fn await_contenders(zk: &ZooKeeper, dir: &str, t: usize) -> Res<()> {
    let deadline = Instant::now() + RECIPE_LIMIT;
    while zk.get_children(dir, false)?.len() != t {
        if Instant::now() > deadline {
            return failed("the stepped-down participant did not rejoin");
        }
        thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn leader_failover(o: &Options, line: &mut Line, admin: &Arc<ZooKeeper>, root: &str) -> Res<()> {
    let n = o.ops_or(50);
    let t = o.threads_or(3);
    if t < 2 {
        return failed("leader-failover needs --threads 2 or more");
    }
    let dir = format!("{root}/election");
    let sessions = (0..t)
        .map(|_| session(&o.connect))
        .collect::<Res<Vec<_>>>()?;
    let join = |k: usize| -> Res<LeaderLatch> {
        let latch = LeaderLatch::new(sessions[k].clone(), format!("p{k}"), dir.clone());
        latch.start()?;
        Ok(latch)
    };
    let latches = Arc::new(Latches(Mutex::new(
        (0..t).map(join).collect::<Res<Vec<_>>>()?,
    )));
    let watch = DoubleLeaderWatch::start(latches.clone());
    let rounds = || -> Res<(Vec<u64>, Duration)> {
        await_new_leader(latches.as_ref(), None)?;
        await_contenders(admin, &dir, t)?;
        let mut handovers = Vec::with_capacity(n);
        let l0 = Instant::now();
        for _ in 0..n {
            let leader = await_new_leader(latches.as_ref(), None)?;
            let old = latches
                .get(leader)
                .ok_or_else(|| Outcome::Failed("no latch for the leader".into()))?;
            let s = Instant::now();
            old.stop()?;
            await_new_leader(latches.as_ref(), Some(leader))?;
            handovers.push(ns(s.elapsed()));
            latches.replace(leader, join(leader)?); // rejoin on the same session, untimed
            await_contenders(admin, &dir, t)?;
        }
        Ok((handovers, l0.elapsed()))
    };
    let result = rounds();
    let seen = watch.finish();
    for k in 0..t {
        // stop() panics on a latch that is not started; only started latches have a path.
        if let Some(l) = latches.get(k).filter(|l| l.path().is_some()) {
            let _ = l.stop();
        }
    }
    for s in sessions {
        let _ = s.close();
    }
    let (handovers, loop_time) = result?;
    report_failover(line, handovers, seen, t, loop_time, "LeaderLatch");
    Ok(())
}
