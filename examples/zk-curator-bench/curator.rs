//! The seven client workloads of bench/README.md through zk-curator's framework
//! (`CuratorFramework`), written as `bench/anchors/java` writes them for Apache Curator: sync
//! calls, `in_background` callbacks bounded by a window, `using_watcher`, `watchers().add()`.
//! The three recipe workloads run zk-curator's recipes: lock-uncontended and lock-contended
//! with `InterProcessMutex` (`locks.rs`), leader-failover with `LeaderLatch` (`leader.rs`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use zk_curator::framework::{CuratorFramework, CuratorFrameworkFactory, RetryNTimes};
use zk_curator::{AddWatchMode, EventType, SharedWatcher, WatchedEvent};

use crate::cache;
use crate::common::*;
use crate::locks;
use crate::own;

/// The client name in the JSON line.
pub fn name() -> String {
    format!("zk-curator-{}", env!("CARGO_PKG_VERSION"))
}

/// Result code of NoNode.
pub const NO_NODE: i32 = -101;

/// A started, connected client with the anchors' settings (Java: session 30 s, connection
/// 15 s, `RetryNTimes(3, 100)`, `blockUntilConnected(15 s)`).
pub fn new_client(connect: &str) -> Res<CuratorFramework> {
    let c = CuratorFrameworkFactory::builder()
        .connect_string(connect)
        .session_timeout(Duration::from_secs(30))
        .connection_timeout(Duration::from_secs(15))
        .retry_policy(RetryNTimes::new(3, Duration::from_millis(100)))
        .build()?;
    c.start()?;
    if !c.block_until_connected(Duration::from_secs(15)) {
        c.close();
        return fail(format!("could not connect to {connect}"));
    }
    Ok(c)
}

/// What a workload works with: the arguments, its root, the admin client (also "client B")
/// and the clients it opened, closed before the cleanup so that it fires none of their
/// watchers.
pub struct Ctx<'a> {
    pub args: &'a Args,
    pub root: String,
    pub admin: CuratorFramework,
    others: Mutex<Vec<CuratorFramework>>,
}

impl Ctx<'_> {
    /// Another client (another session), closed by the harness at the end.
    pub fn client(&self) -> Res<CuratorFramework> {
        self.client_at(&self.args.connect)
    }

    /// Another client on another connect string (a proxy), closed by the harness too.
    pub fn client_at(&self, connect: &str) -> Res<CuratorFramework> {
        let c = new_client(connect)?;
        self.others.lock().push(c.clone());
        Ok(c)
    }

    /// Closes the clients opened with [`client`](Self::client), newest first.
    pub fn close_others(&self) {
        let list = std::mem::take(&mut *self.others.lock());
        for c in list.iter().rev() {
            c.close();
        }
    }
}

pub fn run(args: &Args, rep: &mut Report) -> Res<()> {
    if args.workload == "idle-footprint" {
        // No tree, no admin client: the process must hold nothing but the idle clients.
        return own::idle_footprint(args, rep);
    }
    let admin = new_client(&args.connect)?;
    let ctx = Ctx {
        args,
        root: root_path(),
        admin,
        others: Mutex::new(Vec::new()),
    };
    let result = ctx
        .admin
        .create()
        .for_path_with_data(&ctx.root, b"")
        .map_err(BenchError::from)
        .and_then(|_| match args.workload.as_str() {
            "get-sync" => get_sync(&ctx, rep),
            "get-threads" => get_threads(&ctx, rep),
            "get-pipelined" => get_pipelined(&ctx, rep),
            "create-delete" => create_delete(&ctx, rep),
            "watch-fanout" => watch_fanout(&ctx, rep),
            "persistent-recursive" => persistent_recursive(&ctx, rep),
            "cache-load" => cache_load(&ctx, rep),
            "lock-uncontended" => locks::lock_uncontended(&ctx, rep),
            "lock-contended" => locks::lock_contended(&ctx, rep),
            "slow-watcher" => own::slow_watcher(&ctx, rep),
            "restore-watches" => own::restore_watches(&ctx, rep),
            "leader-failover" => crate::leader::leader_failover(&ctx, rep),
            "queue-throughput" => crate::queue::throughput(&ctx, rep),
            "counter-increment" => crate::counter::counter_increment(&ctx, rep, false),
            "counter-increment-atomic" => crate::counter::counter_increment(&ctx, rep, true),
            other => fail(format!("unknown workload {other}")),
        });
    ctx.close_others();
    let cleanup = delete_tree(&ctx.admin, &ctx.root, args.inflight);
    ctx.admin.close();
    result?;
    cleanup
}

// ------------------------------------------------------------------------------ helpers

/// n creates of `dir/<prefix><i>`, pipelined.
pub fn pipelined_creates(
    c: &CuratorFramework,
    dir: &str,
    n: usize,
    prefix: &str,
    data: &[u8],
    k: usize,
) -> Res<()> {
    pipelined(n, k, |i, w| {
        c.create()
            .in_background(move |_, e| w.done(e.result_code()))
            .for_path_with_data(&format!("{dir}/{prefix}{i}"), data)
    })
}

/// n setData calls on `dir/<prefix><i % modulo>`, pipelined.
pub fn pipelined_sets(
    c: &CuratorFramework,
    dir: &str,
    prefix: &str,
    n: usize,
    modulo: usize,
    data: &[u8],
    k: usize,
) -> Res<()> {
    pipelined(n, k, |i, w| {
        c.set_data()
            .in_background(move |_, e| w.done(e.result_code()))
            .for_path(&format!("{dir}/{prefix}{}", i % modulo), data)
    })
}

/// Deletes `paths` pipelined (a node already gone is fine).
pub fn pipelined_deletes(c: &CuratorFramework, paths: &[String], k: usize) -> Res<()> {
    pipelined(paths.len(), k, |i, w| {
        c.delete()
            .in_background(move |_, e| {
                let rc = e.result_code();
                w.finish(rc != 0 && rc != NO_NODE, rc)
            })
            .for_path(&paths[i])
    })
}

/// n children `dir/<prefix><i>`.
pub fn child_paths(dir: &str, prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{dir}/{prefix}{i}")).collect()
}

/// Deletes `path` and everything below it: lists level by level, deletes deepest first,
/// pipelined.
pub fn delete_tree(c: &CuratorFramework, path: &str, k: usize) -> Res<()> {
    let mut levels = vec![vec![path.to_string()]];
    for _ in 0..16 {
        let mut next = Vec::new();
        if let Some(level) = levels.last() {
            for p in level {
                match c.get_children().for_path(p) {
                    Ok(kids) => next.extend(kids.into_iter().map(|k| format!("{p}/{k}"))),
                    Err(zk_curator::Error::NoNode { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if next.is_empty() {
            break;
        }
        levels.push(next);
    }
    for level in levels.iter().rev() {
        pipelined_deletes(c, level, k)?;
    }
    Ok(())
}

// ------------------------------------------------------------------------------ 1. get-sync

fn get_sync(ctx: &Ctx, rep: &mut Report) -> Res<()> {
    let (args, c) = (ctx.args, &ctx.admin);
    let n = args.ops_or(20_000);
    let path = format!("{}/node", ctx.root);
    c.create().for_path_with_data(&path, &payload(args.size))?;
    let (w0, mut warm) = (Instant::now(), 0);
    while warming(w0, warm, n / 10) {
        c.get_data().for_path(&path)?; // untimed
        warm += 1;
    }
    let mut lat = Vec::with_capacity(n);
    let cpu = CpuMeter::start();
    let t0 = Instant::now();
    for _ in 0..n {
        let s = Instant::now();
        let data = c.get_data().for_path(&path)?;
        lat.push(nanos(s.elapsed()));
        if data.len() != args.size {
            return fail(format!("short read {}", data.len()));
        }
    }
    let elapsed = t0.elapsed();
    rep.cpu(cpu.elapsed(), n);
    rep.latencies(n, elapsed, &mut lat);
    rep.extra("size", J::I(args.size as i64));
    rep.extra("warmup_ops", J::I(warm as i64));
    Ok(())
}

// ------------------------------------------------------------------------------ 2. get-threads

fn get_threads(ctx: &Ctx, rep: &mut Report) -> Res<()> {
    let (args, c) = (ctx.args, &ctx.admin);
    let n = args.ops_or(20_000);
    let t = args.threads;
    let path = format!("{}/node", ctx.root);
    c.create().for_path_with_data(&path, &payload(args.size))?;
    // `start` releases the timed loops; `end` holds the workers (alive, for the CPU reading)
    // until the main thread has read the clock and the CPU counters.
    let start = Barrier::new(t + 1);
    let end = Barrier::new(t + 1);
    let (elapsed, cpu, results) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..t)
            .map(|k| {
                let share = n / t + usize::from(k < n % t);
                let (c, path, start, end) = (c, &path, &start, &end);
                s.spawn(move || -> Result<Vec<u64>, String> {
                    let w0 = Instant::now();
                    let mut warm: zk_curator::Result<()> = Ok(());
                    let mut i = 0;
                    while warm.is_ok() && warming(w0, i, share / 10) {
                        warm = c.get_data().for_path(path).map(|_| ());
                        i += 1;
                    }
                    start.wait();
                    let mut lat = Vec::with_capacity(share);
                    let mut timed: Result<(), String> = warm.map_err(|e| e.to_string());
                    if timed.is_ok() {
                        for _ in 0..share {
                            let st = Instant::now();
                            if let Err(e) = c.get_data().for_path(path) {
                                timed = Err(e.to_string());
                                break;
                            }
                            lat.push(nanos(st.elapsed()));
                        }
                    }
                    end.wait();
                    timed.map(|_| lat)
                })
            })
            .collect();
        start.wait();
        let cpu = CpuMeter::start();
        let t0 = Instant::now();
        end.wait();
        let elapsed = t0.elapsed();
        let cpu = cpu.elapsed();
        let results: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("panic".into())))
            .collect();
        (elapsed, cpu, results)
    });
    let mut all = Vec::with_capacity(n);
    for r in results {
        all.extend(r.map_err(BenchError::Failed)?);
    }
    rep.cpu(cpu, n);
    rep.latencies(n, elapsed, &mut all);
    rep.extra("threads", J::I(t as i64));
    Ok(())
}

// ------------------------------------------------------------------------------ 3. get-pipelined

fn get_pipelined(ctx: &Ctx, rep: &mut Report) -> Res<()> {
    let (args, c) = (ctx.args, &ctx.admin);
    let n = args.ops_or(100_000);
    let k = args.inflight;
    let path = format!("{}/node", ctx.root);
    c.create().for_path_with_data(&path, &payload(args.size))?;
    let (w0, mut warm, chunk) = (Instant::now(), 0, (n / 10).max(1));
    while warming(w0, warm, n / 10) {
        pipelined_gets(c, &path, chunk, k, None)?; // untimed
        warm += chunk;
    }
    let lat: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let cpu = CpuMeter::start();
    let t0 = Instant::now();
    pipelined_gets(c, &path, n, k, Some(&lat))?;
    let elapsed = t0.elapsed();
    rep.cpu(cpu.elapsed(), n);
    let mut lat: Vec<u64> = lat.iter().map(|a| a.load(Ordering::Relaxed)).collect();
    rep.latencies(n, elapsed, &mut lat);
    rep.extra("inflight", J::I(k as i64));
    rep.extra("warmup_ops", J::I(warm as i64));
    Ok(())
}

/// n background getData calls, at most k in flight; issue-to-callback latencies into `lat`.
fn pipelined_gets(
    c: &CuratorFramework,
    path: &str,
    n: usize,
    k: usize,
    lat: Option<&Arc<Vec<AtomicU64>>>,
) -> Res<()> {
    pipelined(n, k, |i, w| {
        let lat = lat.cloned();
        let s = Instant::now();
        c.get_data()
            .in_background(move |_, e| {
                if let Some(l) = &lat {
                    l[i].store(nanos(s.elapsed()), Ordering::Relaxed);
                }
                w.done(e.result_code());
            })
            .for_path(path)
    })
}

// ------------------------------------------------------------------------------ 4. create-delete

fn create_delete(ctx: &Ctx, rep: &mut Report) -> Res<()> {
    let (args, c, root) = (ctx.args, &ctx.admin, &ctx.root);
    let n = args.ops_or(5_000);
    let data = payload(args.size);
    let (w0, mut warm) = (Instant::now(), 0);
    while warming(w0, warm, n / 10) {
        let p = format!("{root}/w{warm}"); // untimed
        c.create().for_path_with_data(&p, &data)?;
        c.delete().for_path(&p)?;
        warm += 1;
    }
    let mut lat = Vec::with_capacity(n);
    let cpu = CpuMeter::start();
    let t0 = Instant::now();
    for i in 0..n {
        let p = format!("{root}/cd{i}");
        let s = Instant::now();
        c.create().for_path_with_data(&p, &data)?;
        c.delete().for_path(&p)?;
        lat.push(nanos(s.elapsed()));
    }
    let elapsed = t0.elapsed();
    rep.cpu(cpu.elapsed(), n);
    rep.latencies(n, elapsed, &mut lat);
    rep.extra("requests", J::I(2 * n as i64));
    rep.extra("unit", J::S("create+delete pair".into()));
    rep.extra("warmup_ops", J::I(warm as i64));
    Ok(())
}

// ------------------------------------------------------------------------------ 5. watch-fanout

fn watch_fanout(ctx: &Ctx, rep: &mut Report) -> Res<()> {
    let (args, b) = (ctx.args, &ctx.admin);
    let w = args.nodes_or(10_000);
    let k = args.inflight;
    let dir = format!("{}/fan", ctx.root);
    b.create().for_path_with_data(&dir, b"")?;
    pipelined_creates(b, &dir, w, "n", &payload(args.size), k)?;
    let a = ctx.client()?;
    pipelined_sets(b, &dir, "n", w, w, &payload(args.size), k)?; // writer warm-up, untimed

    let delivery = Delivery::new(w);
    let d = delivery.clone();
    let watcher = SharedWatcher::new(move |e: &WatchedEvent| {
        if e.event_type() == EventType::NodeDataChanged {
            d.hit();
        }
    });
    let r0 = Instant::now();
    pipelined(w, k, |i, win| {
        a.get_data()
            .using_shared_watcher(&watcher)
            .in_background(move |_, e| win.done(e.result_code()))
            .for_path(&format!("{dir}/n{i}"))
    })?;
    let register = r0.elapsed();

    let mut data = payload(args.size);
    data[0] = b'1';
    let cpu = CpuMeter::start();
    let t0 = Instant::now();
    pipelined_sets(b, &dir, "n", w, w, &data, k)?;
    let writes = t0.elapsed();
    let all = delivery.wait(WAIT_EVENTS);
    let cpu = cpu.elapsed();
    let got = delivery.delivered();
    rep.events(w, got, delivery.elapsed_since(t0));
    rep.cpu(cpu, w);
    rep.extra("register_secs", J::F(secs(register)));
    rep.extra("writes_secs", J::F(secs(writes)));
    rep.extra("writer", J::S("pipelined".into()));
    if !all {
        rep.extra("timed_out", J::I(1));
    }
    a.close();
    pipelined_deletes(b, &child_paths(&dir, "n", w), k)
}

// ------------------------------------------------------------------------------ 6. persistent-recursive

/// The read-back side of persistent-recursive: the order check and how many reads are done.
struct Verify {
    check: Mutex<OrderCheck>,
    done: Arc<Delivery>,
}

fn persistent_recursive(ctx: &Ctx, rep: &mut Report) -> Res<()> {
    let (args, b) = (ctx.args, &ctx.admin);
    let n = args.ops_or(20_000);
    let k = args.inflight;
    let dir = format!("{}/pr", ctx.root);
    b.create().for_path_with_data(&dir, b"")?;
    pipelined_creates(b, &dir, PR_CHILDREN, "c", b"-1", k)?;
    let a = ctx.client()?;
    pipelined_sets(b, &dir, "c", n / 10, PR_CHILDREN, b"-1", k)?; // warm-up, before the watch

    let delivery = Delivery::new(n);
    let verify = Arc::new(Verify {
        check: Mutex::new(OrderCheck::new()),
        done: Delivery::new(n),
    });
    let (d, v, reader) = (delivery.clone(), verify.clone(), a.clone());
    // Events carry no data: read each changed node back, asynchronously and in event order
    // (the reads go out on one connection in the order of the events, so their callbacks
    // run in that order too).
    let watcher = move |e: &WatchedEvent| {
        if e.event_type() != EventType::NodeDataChanged {
            return;
        }
        d.hit();
        let Some(p) = e.path() else {
            v.check.lock().read_errors += 1;
            return;
        };
        let v2 = v.clone();
        let issued = reader
            .get_data()
            .in_background(move |_, ev| {
                {
                    let mut c = v2.check.lock();
                    if ev.result_code() == 0 {
                        c.observe(ev.path(), ev.data());
                    } else {
                        c.verified += 1;
                        c.read_errors += 1;
                    }
                }
                v2.done.hit();
            })
            .for_path(p);
        if issued.is_err() {
            v.check.lock().read_errors += 1;
        }
    };
    a.watchers()
        .add()
        .with_mode(AddWatchMode::PersistentRecursive)
        .using_watcher(watcher)
        .for_path(&dir)?;

    let cpu = CpuMeter::start();
    let t0 = Instant::now();
    pipelined(n, k, |i, w| {
        b.set_data()
            .in_background(move |_, e| w.done(e.result_code()))
            .for_path(
                &format!("{dir}/c{}", i % PR_CHILDREN),
                i.to_string().as_bytes(),
            )
    })?;
    let writes = t0.elapsed();
    delivery.wait(WAIT_EVENTS);
    let cpu = cpu.elapsed();
    let got = delivery.delivered();
    let delivered_in = delivery.elapsed_since(t0);
    verify.done.wait(WAIT_VERIFY);
    let (out_of_order, verified, read_errors) = {
        let c = verify.check.lock();
        (c.out_of_order, c.verified, c.read_errors)
    };
    rep.events(n, got, delivered_in);
    rep.set("out_of_order", J::I(out_of_order as i64));
    rep.cpu(cpu, n);
    rep.extra("writes_secs", J::F(secs(writes)));
    rep.extra("verified", J::I(verified as i64));
    if verified > 0 {
        rep.extra("verify_secs", J::F(secs(verify.done.elapsed_since(t0))));
    }
    rep.extra("read_errors", J::I(read_errors as i64));
    rep.extra("children", J::I(PR_CHILDREN as i64));
    rep.extra("writer", J::S("pipelined".into()));
    a.close();
    pipelined_deletes(b, &child_paths(&dir, "c", PR_CHILDREN), k)
}

// ------------------------------------------------------------------------------ 7. cache-load

fn cache_load(ctx: &Ctx, rep: &mut Report) -> Res<()> {
    let (args, b) = (ctx.args, &ctx.admin);
    let w = args.nodes_or(20_000);
    let k = args.inflight;
    let dir = format!("{}/cache", ctx.root);
    b.create().for_path_with_data(&dir, b"")?;
    pipelined_creates(b, &dir, w, "n", &payload(args.size), k)?;
    let a = ctx.client()?;
    let rss_before = rss_kb();
    let cpu = CpuMeter::start();
    let t0 = Instant::now();
    let loaded = cache::build_and_load(&a, &dir, Duration::from_secs(120))?;
    let elapsed = t0.elapsed();
    let cpu = cpu.elapsed();
    let rss = rss_kb();
    let cached = loaded.size();
    rep.set("ops", J::I(w as i64));
    rep.set("secs", J::F(secs(elapsed)));
    rep.set(
        "ops_per_sec",
        J::F(round1(w as f64 / elapsed.as_secs_f64().max(1e-9))),
    );
    rep.cpu(cpu, w);
    rep.extra("rss_kb", J::I(rss));
    rep.extra("rss_before_kb", J::I(rss_before));
    rep.extra("cached_nodes", J::I(cached as i64)); // the parent node too, as CuratorCache
    rep.extra("size", J::I(args.size as i64));
    rep.extra("impl", J::S(loaded.impl_name().into()));
    loaded.close();
    a.close();
    if cached != w + 1 {
        return fail(format!("cache holds {cached} nodes, expected {}", w + 1));
    }
    pipelined_deletes(b, &child_paths(&dir, "n", w), k)
}
