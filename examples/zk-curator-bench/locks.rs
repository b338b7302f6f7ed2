//! Workloads 8 and 9 of `shared/bench/README.md` through zk-curator's `InterProcessMutex`,
//! as `CuratorBench.java` runs them through Curator's: `lock-uncontended` (one thread,
//! acquire+release pairs) and `lock-contended` (T clients, each its own session and thread,
//! N acquisitions in all, a holder count that catches two holders and an unguarded counter).

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use zk_curator::recipes::locks::InterProcessMutex;

use crate::common::*;
use crate::curator::Ctx;

/// The longest one acquisition may take before the run fails (the Java harness's 30 s).
const RECIPE_TIMEOUT: Duration = Duration::from_secs(30);

fn acquire(m: &InterProcessMutex) -> Res<()> {
    if m.acquire_timeout(RECIPE_TIMEOUT)? {
        Ok(())
    } else {
        fail(format!("lock not acquired in {RECIPE_TIMEOUT:?}"))
    }
}

// ------------------------------------------------------------------------------ 8. lock-uncontended

pub fn lock_uncontended(ctx: &Ctx, rep: &mut Report) -> Res<()> {
    let (args, c) = (ctx.args, &ctx.admin);
    let n = args.ops_or(2_000);
    let mutex = InterProcessMutex::new(c, &format!("{}/lock", ctx.root))?;
    let (w0, mut warm) = (Instant::now(), 0);
    while warming(w0, warm, n / 10) {
        acquire(&mutex)?; // untimed
        mutex.release()?;
        warm += 1;
    }
    let mut lat = Vec::with_capacity(n);
    let cpu = CpuMeter::start();
    let t0 = Instant::now();
    for _ in 0..n {
        let s = Instant::now();
        acquire(&mutex)?;
        mutex.release()?;
        lat.push(nanos(s.elapsed()));
    }
    let elapsed = t0.elapsed();
    rep.cpu(cpu.elapsed(), n);
    rep.latencies(n, elapsed, &mut lat);
    rep.extra("unit", J::S("acquire+release pair".into()));
    rep.extra("recipe", J::S("InterProcessMutex".into()));
    // create + getChildren (one round trip, pipelined), delete
    rep.extra("requests_per_pair", J::I(3));
    rep.extra("round_trips_per_pair", J::I(2));
    rep.extra("warmup_ops", J::I(warm as i64));
    mutex.close();
    Ok(())
}

// ------------------------------------------------------------------------------ 9. lock-contended

pub fn lock_contended(ctx: &Ctx, rep: &mut Report) -> Res<()> {
    let args = ctx.args;
    let n = args.ops_or(1_000);
    let t = args.threads_or(4);
    let path = format!("{}/lock", ctx.root);
    let mut mutexes = Vec::with_capacity(t);
    for _ in 0..t {
        let m = InterProcessMutex::new(&ctx.client()?, &path)?;
        acquire(&m)?; // untimed: connects the recipe, creates the lock's parent
        m.release()?;
        mutexes.push(m);
    }
    let tickets = Arc::new(AtomicI64::new(n as i64));
    let holders = Arc::new(AtomicUsize::new(0));
    let violations = Arc::new(AtomicU64::new(0));
    // Guarded by the ZooKeeper lock only: a read-modify-write that two holders would break.
    let counter = Arc::new(AtomicU64::new(0));
    let lat = Arc::new(Mutex::new(Vec::with_capacity(n)));
    let failure: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let go = Arc::new(Barrier::new(t + 1));
    let mut threads = Vec::with_capacity(t);
    for (k, m) in mutexes.iter().enumerate() {
        let m = m.clone();
        let (tickets, holders, violations, counter, lat, failure, go) = (
            tickets.clone(),
            holders.clone(),
            violations.clone(),
            counter.clone(),
            lat.clone(),
            failure.clone(),
            go.clone(),
        );
        let h = std::thread::Builder::new()
            .name(format!("lock-{k}"))
            .spawn(move || {
                let mut mine = Vec::with_capacity(n / t + 1);
                go.wait();
                while tickets.fetch_sub(1, Ordering::SeqCst) > 0
                    && failure.lock().map(|f| f.is_none()).unwrap_or(false)
                {
                    let s = Instant::now();
                    if let Err(e) = acquire(&m) {
                        if let Ok(mut f) = failure.lock() {
                            f.get_or_insert(format!("{e:?}"));
                        }
                        break;
                    }
                    let got = s.elapsed();
                    if holders.fetch_add(1, Ordering::SeqCst) != 0 {
                        violations.fetch_add(1, Ordering::SeqCst);
                    }
                    let v = counter.load(Ordering::SeqCst);
                    counter.store(v + 1, Ordering::SeqCst);
                    holders.fetch_sub(1, Ordering::SeqCst);
                    if let Err(e) = m.release() {
                        if let Ok(mut f) = failure.lock() {
                            f.get_or_insert(format!("{e:?}"));
                        }
                        break;
                    }
                    mine.push(nanos(got));
                }
                if let Ok(mut l) = lat.lock() {
                    l.extend(mine);
                }
                // Stay alive until the main thread has read the CPU counters.
                go.wait();
            })
            .map_err(|e| BenchError::Failed(format!("spawn: {e}")))?;
        threads.push(h);
    }
    let cpu = CpuMeter::start();
    go.wait();
    let t0 = Instant::now();
    // Every thread reaches the second barrier when it is done.
    go.wait();
    let elapsed = t0.elapsed();
    rep.cpu(cpu.elapsed(), n);
    for h in threads {
        let _ = h.join();
    }
    if let Some(f) = failure.lock().ok().and_then(|f| f.clone()) {
        return fail(format!("a lock client failed: {f}"));
    }
    let mut lat = std::mem::take(&mut *lat.lock().map_err(|_| fail_msg())?);
    rep.latencies(lat.len(), elapsed, &mut lat);
    rep.extra("violations", J::I(violations.load(Ordering::SeqCst) as i64));
    rep.extra("clients", J::I(t as i64));
    rep.extra("counter", J::I(counter.load(Ordering::SeqCst) as i64));
    rep.extra(
        "unit",
        J::S("acquisition (p50/p99: request to holding)".into()),
    );
    rep.extra("recipe", J::S("InterProcessMutex".into()));
    for m in &mutexes {
        m.close();
    }
    Ok(())
}

fn fail_msg() -> BenchError {
    BenchError::Failed("a lock thread panicked".into())
}
