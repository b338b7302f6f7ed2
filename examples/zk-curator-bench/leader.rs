//! Workload 10, `leader-failover` (shared/bench/README.md), with zk-curator's `LeaderLatch`,
//! written as `CuratorBench.leaderFailover` writes it for Apache Curator: T participants, each
//! its own session, in one election on `<root>/election`; N times the main thread waits until
//! exactly one leads, closes it, and times until exactly one other participant leads (woken
//! by the `is_leader` listener, re-checking every 100 µs); the closed participant then joins
//! again on the same session with a new latch (untimed) and the next round starts once the
//! server lists T contenders. A separate thread polls every participant's
//! `has_leadership()` every millisecond and counts polls that saw two or more leaders.
//!
//! A hand-over is Curator's protocol: the leader's delete, the watch event at the next
//! participant, its `getChildren` (which confirms it is first; that its node belongs to its
//! session is known from the create's Stat, so no `getData` is needed as in Curator 5.7).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use zk_curator::framework::CuratorFramework;
use zk_curator::recipes::leader::LeaderLatch;

use crate::common::*;
use crate::curator::Ctx;

/// Longest wait for one hand-over or one rejoin before the run fails (the peers' value).
const RECIPE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a waiting main thread re-checks the flags (the listener wakes it sooner).
const LEADER_POLL: Duration = Duration::from_micros(100);

type Latches = Arc<Vec<Mutex<Arc<LeaderLatch>>>>;

pub fn leader_failover(ctx: &Ctx, rep: &mut Report) -> Res<()> {
    let n = ctx.args.ops_or(50);
    let t = ctx.args.threads_or(3);
    if t < 2 {
        return fail("leader-failover needs --threads >= 2");
    }
    let path = format!("{}/election", ctx.root);
    let main = std::thread::current();
    let clients = (0..t).map(|_| ctx.client()).collect::<Res<Vec<_>>>()?;
    let latches: Latches = Arc::new(
        clients
            .iter()
            .map(|c| join(c, &path, &main).map(Mutex::new))
            .collect::<Res<Vec<_>>>()?,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let monitor = {
        let (latches, stop) = (latches.clone(), stop.clone());
        std::thread::Builder::new()
            .name("leader-monitor".into())
            .spawn(move || {
                let (mut doubles, mut polls) = (0usize, 0usize);
                while !stop.load(Ordering::SeqCst) {
                    if leaders(&latches).len() >= 2 {
                        doubles += 1;
                    }
                    polls += 1;
                    std::thread::sleep(Duration::from_millis(1));
                }
                (doubles, polls)
            })
            .map_err(|e| BenchError::Failed(format!("spawn the monitor: {e}")))?
    };
    let run = || -> Res<(Vec<u64>, Duration, Duration)> {
        await_sole_leader(&latches, None)?;
        await_contenders(&ctx.admin, &path, t)?;
        let mut lat = Vec::with_capacity(n);
        let cpu = CpuMeter::start();
        let l0 = Instant::now();
        for _ in 0..n {
            let leader = await_sole_leader(&latches, None)?;
            let old = latches[leader].lock().clone();
            let s = Instant::now();
            old.close()?;
            await_sole_leader(&latches, Some(leader))?;
            lat.push(nanos(s.elapsed()));
            *latches[leader].lock() = join(&clients[leader], &path, &main)?; // rejoin, untimed
            await_contenders(&ctx.admin, &path, t)?;
        }
        Ok((lat, l0.elapsed(), cpu.elapsed()))
    };
    let result = run();
    stop.store(true, Ordering::SeqCst);
    let (doubles, polls) = monitor.join().unwrap_or((usize::MAX, 0));
    for l in latches.iter() {
        let _ = l.lock().close();
    }
    let (mut lat, loop_time, cpu) = result?;
    let total = Duration::from_nanos(lat.iter().sum());
    rep.latencies(n, total, &mut lat);
    rep.cpu(cpu, n);
    rep.extra("double_leaders", J::I(doubles as i64));
    rep.extra("polls", J::I(polls as i64));
    rep.extra("participants", J::I(t as i64));
    rep.extra("loop_secs", J::F(secs(loop_time)));
    rep.extra("unit", J::S("failover (secs: sum of hand-overs)".into()));
    rep.extra("recipe", J::S("LeaderLatch".into()));
    // On a hand-over's path: the leader's delete and the next participant's getChildren.
    rep.extra("requests_per_handover", J::I(2));
    Ok(())
}

/// A started latch on `c` whose `is_leader` wakes the main thread.
fn join(c: &CuratorFramework, path: &str, main: &Thread) -> Res<Arc<LeaderLatch>> {
    let latch = LeaderLatch::new(c, path)?;
    let main = main.clone();
    latch.listenable().add_listener(move |leader: bool| {
        if leader {
            main.unpark();
        }
    });
    latch.start()?;
    Ok(Arc::new(latch))
}

fn leaders(latches: &Latches) -> Vec<usize> {
    (0..latches.len())
        .filter(|&k| latches[k].lock().has_leadership())
        .collect()
}

/// Waits until exactly one participant other than `not` leads.
fn await_sole_leader(latches: &Latches, not: Option<usize>) -> Res<usize> {
    let deadline = Instant::now() + RECIPE_TIMEOUT;
    loop {
        if let [k] = leaders(latches)[..] {
            if Some(k) != not {
                return Ok(k);
            }
        }
        if Instant::now() > deadline {
            return fail(format!(
                "no single leader after {} s",
                RECIPE_TIMEOUT.as_secs()
            ));
        }
        std::thread::park_timeout(LEADER_POLL);
    }
}

/// Waits until the server lists `t` contenders.
fn await_contenders(admin: &CuratorFramework, path: &str, t: usize) -> Res<()> {
    let deadline = Instant::now() + RECIPE_TIMEOUT;
    while admin.get_children().for_path(path)?.len() != t {
        if Instant::now() > deadline {
            return fail("contenders did not rejoin");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}
