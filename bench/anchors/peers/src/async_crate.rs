//! Driver for the `zookeeper-client` crate 0.11 (kezhuw/zookeeper-client-rust): an async
//! client whose sessions run as tasks of a multi-threaded tokio runtime (one worker per
//! core). A "synchronous" call is one awaited request at a time; pipelining keeps K request
//! futures in flight (`buffer_unordered`). The crate sends a request when the future is
//! made, not when it is first polled, which is what keeps the issue order.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use futures::stream::{self, FuturesUnordered, StreamExt, TryStreamExt};
use tokio::runtime::Runtime;
use zkc::{
    Acls, AddWatchMode, Client, CreateMode, CreateOptions, EventType, LockOptions, LockPrefix,
};
use zookeeper_client as zkc;

use crate::cli::Options;
use crate::line::Line;
use crate::measure::*;
use crate::{failed, run_root, Outcome, Res};

pub const CLIENT: &str = "zookeeper-client-0.11.2";

const PLAIN: CreateOptions<'static> = CreateMode::Persistent.with_acls(Acls::anyone_all());

const LOCK_RECIPE: &str = "Client::lock (LockPrefix::new_curator)";

async fn session(connect: &str) -> Res<Client> {
    Ok(Client::connector()
        .with_session_timeout(Duration::from_secs(30))
        .connect(connect)
        .await?)
}

/// A dropped client closes its session from a runtime task: give that task a moment.
async fn linger() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Runs `n` requests, `issue(i)` making the i-th, with at most `k` unanswered; the first
/// error ends it.
async fn windowed<T, F>(
    n: usize,
    k: usize,
    issue: impl FnMut(usize) -> F,
) -> Result<Vec<T>, zkc::Error>
where
    F: Future<Output = Result<T, zkc::Error>>,
{
    stream::iter(0..n)
        .map(issue)
        .buffer_unordered(k)
        .try_collect()
        .await
}

async fn make_children(
    c: &Client,
    dir: &str,
    prefix: &str,
    n: usize,
    data: &[u8],
    k: usize,
) -> Res<()> {
    windowed(n, k, |i| {
        let path = format!("{dir}/{prefix}{i}");
        async move { c.create(&path, data, &PLAIN).await.map(|_| ()) }
    })
    .await?;
    Ok(())
}

/// Deletes `top` and everything under it, deepest level first, pipelined.
async fn remove_tree(c: &Client, top: &str) -> Res<()> {
    let mut levels = vec![vec![top.to_string()]];
    loop {
        let mut below = Vec::new();
        for p in levels.last().map(Vec::as_slice).unwrap_or_default() {
            match c.list_children(p).await {
                Ok(kids) => below.extend(kids.into_iter().map(|k| format!("{p}/{k}"))),
                Err(zkc::Error::NoNode) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if below.is_empty() {
            break;
        }
        levels.push(below);
    }
    for level in levels.iter().rev() {
        windowed(level.len(), 1000, |i| {
            let f = c.delete(&level[i], None);
            async move {
                match f.await {
                    Err(zkc::Error::NoNode) => Ok(()),
                    other => other,
                }
            }
        })
        .await?;
    }
    Ok(())
}

pub fn run(o: &Options, line: &mut Line) -> Res<()> {
    if o.workload == "cache-load" {
        return Err(Outcome::Unsupported(
            "zookeeper-client 0.11 has no cache recipe".into(),
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let root = run_root();
    let admin = rt.block_on(async {
        let c = session(&o.connect).await?;
        c.create(&root, &[], &PLAIN).await?;
        Res::Ok(c)
    })?;
    let result = match o.workload.as_str() {
        "get-sync" => get_sync(&rt, o, line, &admin, &root),
        "get-threads" => get_threads(&rt, o, line, &admin, &root),
        "get-pipelined" => get_pipelined(&rt, o, line, &admin, &root),
        "create-delete" => create_delete(&rt, o, line, &admin, &root),
        "watch-fanout" => rt.block_on(watch_fanout(o, line, &admin, &root)),
        "persistent-recursive" => rt.block_on(persistent_recursive(o, line, &admin, &root)),
        "lock-uncontended" => lock_uncontended(&rt, o, line, &admin, &root),
        "lock-contended" => lock_contended(&rt, o, line, &root),
        "leader-failover" => leader_failover(&rt, o, line, &admin, &root),
        other => failed(format!("unknown workload {other}")),
    };
    let cleanup = rt.block_on(async {
        let r = remove_tree(&admin, &root).await;
        drop(admin);
        linger().await;
        r
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    result.and(cleanup)
}

fn get_sync(rt: &Runtime, o: &Options, line: &mut Line, c: &Client, root: &str) -> Res<()> {
    let n = o.ops_or(20_000);
    let node = format!("{root}/node");
    let (elapsed, lat, warmed) = rt.block_on(async {
        c.create(&node, &payload(o.size), &PLAIN).await?;
        let mut warm = Warmup::new(n / 10);
        while warm.more(1) {
            c.get_data(&node).await?;
        }
        let mut lat = Vec::with_capacity(n);
        let t0 = Instant::now();
        for _ in 0..n {
            let s = Instant::now();
            let (data, _) = c.get_data(&node).await?;
            lat.push(ns(s.elapsed()));
            if data.len() != o.size {
                return failed(format!("read {} bytes, wrote {}", data.len(), o.size));
            }
        }
        Res::Ok((t0.elapsed(), lat, warm.done()))
    })?;
    line.timed(n, elapsed, lat);
    line.extra("size", o.size);
    line.extra("warmup_ops", warmed);
    Ok(())
}

/// T OS threads share one client (clones share its session); each blocks on one request at
/// a time through the runtime's handle.
fn get_threads(rt: &Runtime, o: &Options, line: &mut Line, c: &Client, root: &str) -> Res<()> {
    let n = o.ops_or(20_000);
    let t = o.threads_or(8);
    let node = format!("{root}/node");
    rt.block_on(c.create(&node, &payload(o.size), &PLAIN))?;
    let gate = Barrier::new(t + 1);
    let handle = rt.handle();
    let (elapsed, per_thread) = std::thread::scope(|s| {
        let workers: Vec<_> = (0..t)
            .map(|k| {
                let share = n / t + usize::from(k < n % t);
                let (c, node, gate) = (c.clone(), &node, &gate);
                s.spawn(move || -> Result<Vec<u64>, String> {
                    let warmed = handle.block_on(async {
                        let mut warm = Warmup::new(share / 10);
                        while warm.more(1) {
                            c.get_data(node).await?;
                        }
                        Ok::<(), zkc::Error>(())
                    });
                    gate.wait(); // reached even after a failure, so nobody waits forever
                    warmed.map_err(|e| e.to_string())?;
                    let mut lat = Vec::with_capacity(share);
                    for _ in 0..share {
                        let st = Instant::now();
                        handle
                            .block_on(c.get_data(node))
                            .map_err(|e| e.to_string())?;
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

fn get_pipelined(rt: &Runtime, o: &Options, line: &mut Line, c: &Client, root: &str) -> Res<()> {
    let n = o.ops_or(100_000);
    let k = o.inflight;
    let node = format!("{root}/node");
    let (elapsed, lat, warmed) = rt.block_on(async {
        c.create(&node, &payload(o.size), &PLAIN).await?;
        // Each future times its own request, from issue to reply.
        let gets = |count: usize| {
            windowed(count, k, |_| {
                let s = Instant::now();
                let reply = c.get_data(&node);
                async move { reply.await.map(|_| ns(s.elapsed())) }
            })
        };
        let chunk = (n / 10).max(1);
        let mut warm = Warmup::new(n / 10);
        while warm.more(chunk) {
            gets(chunk).await?;
        }
        let t0 = Instant::now();
        let lat = gets(n).await?;
        Res::Ok((t0.elapsed(), lat, warm.done()))
    })?;
    line.timed(n, elapsed, lat);
    line.extra("inflight", k);
    line.extra("warmup_ops", warmed);
    Ok(())
}

fn create_delete(rt: &Runtime, o: &Options, line: &mut Line, c: &Client, root: &str) -> Res<()> {
    let n = o.ops_or(5_000);
    let data = payload(o.size);
    let (elapsed, lat, warmed) = rt.block_on(async {
        let mut warm = Warmup::new(n / 10);
        while warm.more(1) {
            let p = format!("{root}/warm{}", warm.done());
            c.create(&p, &data, &PLAIN).await?;
            c.delete(&p, None).await?;
        }
        let mut lat = Vec::with_capacity(n);
        let t0 = Instant::now();
        for i in 0..n {
            let p = format!("{root}/cd{i}");
            let s = Instant::now();
            c.create(&p, &data, &PLAIN).await?;
            c.delete(&p, None).await?;
            lat.push(ns(s.elapsed()));
        }
        Res::Ok((t0.elapsed(), lat, warm.done()))
    })?;
    line.timed(n, elapsed, lat);
    line.extra("requests", 2 * n);
    line.extra("unit", "create+delete pair");
    line.extra("warmup_ops", warmed);
    Ok(())
}

async fn watch_fanout(o: &Options, line: &mut Line, b: &Client, root: &str) -> Res<()> {
    let w = o.nodes_or(10_000);
    let k = o.inflight;
    let dir = format!("{root}/fan");
    b.create(&dir, &[], &PLAIN).await?;
    let data = payload(o.size);
    make_children(b, &dir, "n", w, &data, k).await?;
    let a = session(&o.connect).await?;
    windowed(w, k, |i| b.set_data(&format!("{dir}/n{i}"), &data, None)).await?; // B's warm-up

    let r0 = Instant::now();
    let watchers = windowed(w, k, |i| {
        let reply = a.get_and_watch_data(&format!("{dir}/n{i}"));
        async move { reply.await.map(|(_, _, watcher)| watcher) }
    })
    .await?;
    let register = r0.elapsed();

    // One task waits on all the one-shot watchers at once.
    let arrivals = Arrivals::new(w);
    let seen = arrivals.clone();
    let mut consumer = tokio::spawn(async move {
        let mut pending: FuturesUnordered<_> = watchers.into_iter().map(|w| w.changed()).collect();
        while let Some(ev) = pending.next().await {
            if ev.event_type == EventType::NodeDataChanged && seen.arrive() >= w {
                break;
            }
        }
    });

    let mut changed = payload(o.size);
    changed[0] = b'1';
    let t0 = Instant::now();
    windowed(w, k, |i| b.set_data(&format!("{dir}/n{i}"), &changed, None)).await?;
    let writes = t0.elapsed();
    let timed_out = tokio::time::timeout(EVENT_GRACE, &mut consumer)
        .await
        .is_err();
    consumer.abort();
    let got = arrivals.wait(Duration::ZERO);
    line.events(w, got, arrivals.span_from(t0));
    line.extra("register_secs", secs(register));
    line.extra("writes_secs", secs(writes));
    line.extra("writer", "pipelined");
    if timed_out {
        line.extra("timed_out", 1usize);
    }
    drop(a);
    linger().await;
    Ok(())
}

/// A read-back already sent, awaited later in event order.
type ReadBack = Pin<Box<dyn Future<Output = Result<(Vec<u8>, zkc::Stat), zkc::Error>> + Send>>;

async fn persistent_recursive(o: &Options, line: &mut Line, b: &Client, root: &str) -> Res<()> {
    let n = o.ops_or(20_000);
    let k = o.inflight;
    let dir = format!("{root}/pr");
    b.create(&dir, &[], &PLAIN).await?;
    make_children(b, &dir, "c", PR_CHILDREN, b"-1", k).await?;
    let a = session(&o.connect).await?;
    windowed(n / 10, k, |i| {
        b.set_data(&format!("{dir}/c{}", i % PR_CHILDREN), b"-1", None)
    })
    .await?; // warm-up
    let mut watcher = a.watch(&dir, AddWatchMode::PersistentRecursive).await?;

    // The consumer counts events and sends a read of each changed node at once (events carry
    // no data); the checker awaits those reads in the order they were sent.
    let arrivals = Arrivals::new(n);
    let seen = arrivals.clone();
    let (to_checker, mut reads) = tokio::sync::mpsc::unbounded_channel::<(String, ReadBack)>();
    let reader = a.clone();
    let mut consumer = tokio::spawn(async move {
        loop {
            let ev = watcher.changed().await;
            match ev.event_type {
                EventType::NodeDataChanged => {
                    let so_far = seen.arrive();
                    let read: ReadBack = Box::pin(reader.get_data(&ev.path));
                    let _ = to_checker.send((ev.path, read));
                    if so_far >= n {
                        break;
                    }
                }
                EventType::Session if ev.session_state.is_terminated() => break,
                _ => {}
            }
        }
        watcher
    });
    let base = Instant::now();
    let mut checker = tokio::spawn(async move {
        let mut check = OrderCheck::default();
        let mut last = Duration::ZERO;
        while let Some((path, read)) = reads.recv().await {
            let data = read.await.ok().map(|(d, _)| d);
            check.record(&path, data.as_deref());
            last = base.elapsed();
        }
        (check, last)
    });

    let t0 = Instant::now();
    windowed(n, k, |i| {
        b.set_data(
            &format!("{dir}/c{}", i % PR_CHILDREN),
            i.to_string().as_bytes(),
            None,
        )
    })
    .await?;
    let writes = t0.elapsed();
    // The consumer's end drops the checker's sender, which lets the checker finish.
    let watcher = match tokio::time::timeout(EVENT_GRACE, &mut consumer).await {
        Ok(Ok(w)) => Some(w),
        _ => {
            consumer.abort();
            None
        }
    };
    let got = arrivals.wait(Duration::ZERO);
    let (check, last_read) = match tokio::time::timeout(VERIFY_GRACE, &mut checker).await {
        Ok(Ok(done)) => done,
        _ => {
            checker.abort();
            line.extra("verify_timed_out", 1usize);
            (OrderCheck::default(), Duration::ZERO)
        }
    };
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
    line.extra("writer", "pipelined");
    drop(watcher);
    drop(a);
    linger().await;
    Ok(())
}

fn lock_options() -> Res<LockOptions<'static>> {
    Ok(LockOptions::new(Acls::anyone_all()).with_ancestor_options(PLAIN)?)
}

/// Acquires and releases the crate's lock recipe once; returns the time from asking to
/// holding. `held` runs while the lock is held.
///
/// The crate releases a lock only when its guard is dropped, by a delete sent from a task
/// nobody can wait for. To time a complete release, the guard is forgotten (leaking only its
/// path string) and its node deleted here, awaited.
async fn lock_once(
    c: &Client,
    dir: &str,
    opts: &LockOptions<'static>,
    held: impl FnOnce(),
) -> Res<Duration> {
    let s = Instant::now();
    let prefix = LockPrefix::new_curator(dir, "lock-")?;
    let guard = tokio::time::timeout(RECIPE_LIMIT, c.lock(prefix, b"", opts.clone()))
        .await
        .map_err(|_| {
            Outcome::Failed(format!(
                "lock not acquired within {} s",
                RECIPE_LIMIT.as_secs()
            ))
        })??;
    let waited = s.elapsed();
    held();
    let node = guard.lock_path().to_string();
    std::mem::forget(guard);
    c.delete(&node, None).await?;
    Ok(waited)
}

fn lock_uncontended(rt: &Runtime, o: &Options, line: &mut Line, c: &Client, root: &str) -> Res<()> {
    let n = o.ops_or(2_000);
    let dir = format!("{root}/lock");
    let opts = lock_options()?;
    let (elapsed, lat, warmed) = rt.block_on(async {
        let mut warm = Warmup::new(n / 10);
        while warm.more(1) {
            lock_once(c, &dir, &opts, || {}).await?;
        }
        let mut lat = Vec::with_capacity(n);
        let t0 = Instant::now();
        for _ in 0..n {
            let s = Instant::now();
            lock_once(c, &dir, &opts, || {}).await?;
            lat.push(ns(s.elapsed()));
        }
        Res::Ok((t0.elapsed(), lat, warm.done()))
    })?;
    line.timed(n, elapsed, lat);
    line.extra("unit", "acquire+release pair");
    line.extra("recipe", LOCK_RECIPE);
    line.extra("warmup_ops", warmed);
    Ok(())
}

/// T clients, each its own session driven by its own OS thread, one lock cycle at a time.
fn lock_contended(rt: &Runtime, o: &Options, line: &mut Line, root: &str) -> Res<()> {
    let n = o.ops_or(1_000);
    let t = o.threads_or(4);
    let dir = format!("{root}/lock");
    let opts = lock_options()?;
    let clients = rt.block_on(async {
        let mut cs = Vec::with_capacity(t);
        for _ in 0..t {
            let c = session(&o.connect).await?;
            lock_once(&c, &dir, &opts, || {}).await?; // untimed; makes the lock's parent
            cs.push(c);
        }
        Res::Ok(cs)
    })?;
    let referee = Referee::new(n);
    let gate = Barrier::new(t + 1);
    let handle = rt.handle();
    let (elapsed, per_thread) = std::thread::scope(|s| {
        let workers: Vec<_> = clients
            .iter()
            .map(|c| {
                let (referee, gate, dir, opts) = (&referee, &gate, &dir, &opts);
                s.spawn(move || -> Result<Vec<u64>, String> {
                    gate.wait();
                    let mut lat = Vec::new();
                    while referee.ticket() {
                        let waited = handle
                            .block_on(lock_once(c, dir, opts, || referee.hold()))
                            .map_err(|e| format!("{e:?}"))?;
                        lat.push(ns(waited));
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
    rt.block_on(async {
        drop(clients);
        linger().await;
    });
    let mut lat = Vec::with_capacity(n);
    for r in per_thread {
        lat.extend(r.map_err(Outcome::Failed)?);
    }
    line.timed(n, elapsed, lat);
    referee.report(line, t, LOCK_RECIPE);
    Ok(())
}

/// Leadership flags set by the participants' tasks; a new leader wakes the main thread.
struct Flags {
    lead: Vec<AtomicBool>,
    waiter: std::thread::Thread,
}

impl Flags {
    fn set(&self, k: usize, leading: bool) {
        if let Some(f) = self.lead.get(k) {
            f.store(leading, Ordering::SeqCst);
        }
        if leading {
            self.waiter.unpark();
        }
    }
}

impl Leadership for Flags {
    fn participants(&self) -> usize {
        self.lead.len()
    }

    fn leads(&self, k: usize) -> bool {
        self.lead.get(k).is_some_and(|f| f.load(Ordering::SeqCst))
    }
}

/// One participant. The crate has no LeaderLatch; its documented lock/leader/latch recipe is
/// `Client::lock`, here with LeaderLatch-style names (`latch-`): a participant leads while it
/// holds the lock. `leave` makes a leader step down (flag off, its node deleted and awaited)
/// or a waiting participant stop (dropping the pending `lock` future, which the crate
/// documents as cancellation safe).
struct Participant {
    leave: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Res<()>>,
}

impl Participant {
    fn join(
        rt: &Runtime,
        c: &Client,
        dir: &str,
        k: usize,
        flags: &Arc<Flags>,
        opts: &LockOptions<'static>,
    ) -> Participant {
        let (leave, mut told) = tokio::sync::oneshot::channel::<()>();
        let (c, dir, flags, opts) = (c.clone(), dir.to_string(), flags.clone(), opts.clone());
        let task = rt.spawn(async move {
            let prefix = LockPrefix::new_curator(&dir, "latch-")?;
            let guard = tokio::select! {
                got = c.lock(prefix, b"", opts) => got?,
                _ = &mut told => return Ok(()),
            };
            flags.set(k, true);
            let _ = told.await;
            flags.set(k, false);
            let node = guard.lock_path().to_string();
            std::mem::forget(guard);
            c.delete(&node, None).await?;
            Ok(())
        });
        Participant {
            leave: Some(leave),
            task,
        }
    }

    fn leave(&mut self) {
        if let Some(tx) = self.leave.take() {
            let _ = tx.send(());
        }
    }
}

fn leader_failover(
    rt: &Runtime,
    o: &Options,
    line: &mut Line,
    admin: &Client,
    root: &str,
) -> Res<()> {
    let n = o.ops_or(50);
    let t = o.threads_or(3);
    if t < 2 {
        return failed("leader-failover needs --threads 2 or more");
    }
    let dir = format!("{root}/election");
    let opts = lock_options()?;
    rt.block_on(admin.create(&dir, &[], &PLAIN))?;
    let clients = rt.block_on(async {
        let mut cs = Vec::with_capacity(t);
        for _ in 0..t {
            cs.push(session(&o.connect).await?);
        }
        Res::Ok(cs)
    })?;
    let flags = Arc::new(Flags {
        lead: (0..t).map(|_| AtomicBool::new(false)).collect(),
        waiter: std::thread::current(),
    });
    let mut parts: Vec<Participant> = (0..t)
        .map(|k| Participant::join(rt, &clients[k], &dir, k, &flags, &opts))
        .collect();
    let contenders = || -> Res<()> {
        let deadline = Instant::now() + RECIPE_LIMIT;
        while rt.block_on(admin.list_children(&dir))?.len() != t {
            if Instant::now() > deadline {
                return failed("the stepped-down participant did not rejoin");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    };
    let watch = DoubleLeaderWatch::start(flags.clone());
    let mut rounds = || -> Res<(Vec<u64>, Duration)> {
        await_new_leader(flags.as_ref(), None)?;
        contenders()?;
        let mut handovers = Vec::with_capacity(n);
        let l0 = Instant::now();
        for _ in 0..n {
            let leader = await_new_leader(flags.as_ref(), None)?;
            let s = Instant::now();
            parts[leader].leave();
            await_new_leader(flags.as_ref(), Some(leader))?;
            handovers.push(ns(s.elapsed()));
            // Rejoin on the same session, untimed, once the old participant is gone.
            let fresh = Participant::join(rt, &clients[leader], &dir, leader, &flags, &opts);
            let old = std::mem::replace(&mut parts[leader], fresh);
            rt.block_on(old.task)
                .map_err(|e| Outcome::Failed(e.to_string()))??;
            contenders()?;
        }
        Ok((handovers, l0.elapsed()))
    };
    let result = rounds();
    let seen = watch.finish();
    rt.block_on(async {
        for p in parts.iter_mut() {
            p.leave();
        }
        for p in parts {
            let _ = p.task.await;
        }
        drop(clients);
        linger().await;
    });
    let (handovers, loop_time) = result?;
    report_failover(
        line,
        handovers,
        seen,
        t,
        loop_time,
        "Client::lock (LockPrefix::new_curator, latch-)",
    );
    Ok(())
}
