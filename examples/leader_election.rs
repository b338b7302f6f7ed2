//! Leader election: of several processes, exactly one leads, and when it goes the next one
//! takes over. Two recipes, both with Java Curator's nodes, so Java and Rust processes can
//! take part in one election:
//!
//! * `LeaderLatch`: three participants, each with a client of its own (its own ZooKeeper
//!   session, as three processes would have), join one election. The first node in line
//!   leads; each leader in turn closes, and leadership passes to the next one in node
//!   order, which learns it from its listener (`is_leader` / `not_leader`, called on its
//!   client's event thread). Every step checks that exactly one participant leads.
//! * `LeaderSelector`: two participants take turns. The leader's `take_leadership` runs on
//!   the selector's own thread, works in steps and returns, which hands leadership over;
//!   `auto_requeue` puts it back in line. Rust cannot interrupt a thread, so a term ends
//!   early through its `Leadership` flag: shown with `interrupt_leadership` and `close`.
//!
//! A leader must stop acting as one as soon as it is told: on `not_leader`, or when its
//! `Leadership` is cancelled (both happen on `Suspended` and `Lost` too; see the
//! `recipes::leader` docs).
//!
//! ```sh
//! cargo run --example leader_election                           # in-process test server
//! ZK_CONNECT=127.0.0.1:2181 cargo run --example leader_election  # your ZooKeeper
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zk_curator::framework::CuratorFramework;
use zk_curator::recipes::leader::{CloseMode, LeaderLatch, LeaderSelector, Leadership};
use zk_curator::Error;

mod common;

const LATCH_PATH: &str = "/election/latch";
const SELECTOR_PATH: &str = "/election/selector";
/// Upper bound for anything to happen (it takes milliseconds; a loaded machine may be slow).
const WAIT: Duration = Duration::from_secs(20);
/// Steps of leader work per selector term, and the length of each.
const STEPS: usize = 3;
const STEP: Duration = Duration::from_millis(40);

fn main() -> zk_curator::Result<()> {
    let (_server, connect) = common::server()?;
    let start = Instant::now();
    latches(&connect)?;
    selectors(&connect)?;

    let cleanup = common::client(&connect, "leader_election")?;
    cleanup
        .delete()
        .deleting_children_if_needed()
        .for_path("/")?;
    cleanup.close();
    println!("done in {:.2} s", start.elapsed().as_secs_f64());
    Ok(())
}

// -------------------------------------------------------------------------- LeaderLatch

fn latches(connect: &str) -> zk_curator::Result<()> {
    let names = ["node-a", "node-b", "node-c"];
    println!(
        "LeaderLatch: {} participants join {LATCH_PATH}",
        names.len()
    );
    let (tx, events) = mpsc::channel();
    let mut clients = Vec::new();
    let mut latches = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let c = common::client(connect, "leader_election")?;
        let latch = LeaderLatch::builder(&c, LATCH_PATH)
            .id(*name)
            // Closing a leader tells its own listener too (the default, Silent, does not).
            .close_mode(CloseMode::NotifyLeader)
            .build()?;
        let tx = tx.clone();
        // On the event thread: keep it short. A real leader would start or stop its work.
        latch.listenable().add_listener(move |leader: bool| {
            let _ = tx.send((i, leader));
        });
        latch.start()?;
        clients.push(c);
        latches.push(latch);
    }

    // Node order decides who leads and who is next; it is the order in which the creates
    // reached the server. Any process can list it.
    let line = wait_for(|| {
        let line = latches[0].participants()?;
        Ok((line.len() == names.len()).then_some(line))
    })?;
    // Indexes into `latches`, in line; another process on the path would show up here.
    let mut open: Vec<usize> = line
        .iter()
        .filter_map(|p| names.iter().position(|n| *n == p.id))
        .collect();
    if open.len() != names.len() {
        return Err(Error::InvalidArgument(format!(
            "{LATCH_PATH} has other participants: {}",
            describe(&line)
        )));
    }
    let (first, leader) = next_event(&events)?;
    println!(
        "  {} is_leader (first in line: {})",
        names[first],
        describe(&line)
    );
    assert!(leader && first == open[0]);
    check_one_leader(&latches, &names, first);

    while open.len() > 1 {
        let (leader, next) = (open[0], open[1]);
        println!("  {} closes", names[leader]);
        let closed_at = Instant::now();
        latches[leader].close()?;
        open.remove(0);
        // Its own listener says not_leader (CloseMode::NotifyLeader), then the next one in
        // line hears is_leader once the server told it its predecessor's node is gone.
        loop {
            let (who, leader_now) = next_event(&events)?;
            if !leader_now {
                println!("  {} not_leader", names[who]);
                continue;
            }
            println!(
                "  {} is_leader, {:.1} ms after the close",
                names[who],
                closed_at.elapsed().as_secs_f64() * 1e3
            );
            assert_eq!(who, next, "leadership goes to the next node in line");
            break;
        }
        check_one_leader(&latches, &names, next);
        println!(
            "  participants now: {}",
            describe(&latches[next].participants()?)
        );
    }
    latches[open[0]].close()?;
    println!("  {} closes; the election is empty", names[open[0]]);
    drop(latches);
    for c in clients {
        c.close();
    }
    Ok(())
}

/// Exactly `leader` leads, as each latch itself reports it.
fn check_one_leader(latches: &[LeaderLatch], names: &[&str], leader: usize) {
    let leading: Vec<&str> = latches
        .iter()
        .zip(names)
        .filter(|(l, _)| l.has_leadership())
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(leading, [names[leader]], "exactly one leader");
}

// ----------------------------------------------------------------------- LeaderSelector

/// What a selector's leader reports from its thread.
enum Term {
    /// A term began; with the number of other terms running at that moment (never any).
    Began(&'static str, usize),
    Step(&'static str, usize),
    Ended(&'static str),
    Cancelled(&'static str, usize),
}

fn selectors(connect: &str) -> zk_curator::Result<()> {
    println!("LeaderSelector: 2 participants take turns at {SELECTOR_PATH}, {STEPS} steps a term");
    let (tx, events) = mpsc::channel();
    // Terms running at this moment, across both selectors: never more than one.
    let running = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    let mut selectors = Vec::new();
    for name in ["worker-a", "worker-b"] {
        let c = common::client(connect, "leader_election")?;
        let (tx, running) = (tx.clone(), running.clone());
        // Runs on the selector's own thread (zk-leader-selector-N): it may take its time,
        // and leads until it returns.
        let take_leadership = move |_c: &CuratorFramework, term: &Leadership| {
            let others = running.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(Term::Began(name, others));
            let mut step = 0;
            let outcome = loop {
                // A cancellable sleep standing in for one step of leader work.
                if term.wait_cancelled(STEP) {
                    break Term::Cancelled(name, step);
                }
                step += 1;
                let _ = tx.send(Term::Step(name, step));
                if step == STEPS {
                    break Term::Ended(name);
                }
            };
            running.fetch_sub(1, Ordering::SeqCst);
            let _ = tx.send(outcome);
            Ok(()) // returning gives leadership up
        };
        let selector = LeaderSelector::builder(&c, SELECTOR_PATH, take_leadership)
            .id(name)
            .build()?;
        selector.auto_requeue();
        selector.start()?;
        clients.push(c);
        selectors.push(selector);
    }
    let by_name = |name: &str| selectors.iter().position(|s| s.id() == name).unwrap_or(0);

    // Four whole terms: each leader works its steps and hands over by returning.
    let mut previous = None;
    for term in 1..=4 {
        let leader = began(&events)?;
        // The other one is in line, or about to be (it requeues once its term ended).
        let line = wait_for(|| {
            let line = selectors[0].participants()?;
            Ok((line.len() == selectors.len()).then_some(line))
        })?;
        println!("  term {term}: {leader} leads (line: {})", describe(&line));
        assert_ne!(previous, Some(leader), "the leader requeues at the back");
        previous = Some(leader);
        follow_term(&events)?;
    }
    // The fifth term is interrupted, the sixth is cut short by close().
    let leader = began(&events)?;
    println!("  term 5: {leader} leads; interrupt_leadership()");
    selectors[by_name(leader)].interrupt_leadership();
    follow_term(&events)?;
    let leader = began(&events)?;
    println!("  term 6: {leader} leads; both selectors close");
    // The waiting one first, so that it cannot take over from the closing leader.
    let leading = by_name(leader);
    selectors[1 - leading].close()?;
    selectors[leading].close()?;
    follow_term(&events)?;
    drop(selectors);
    for c in clients {
        c.close();
    }
    Ok(())
}

/// Waits for the next term to begin; its leader.
fn began(events: &Receiver<Term>) -> zk_curator::Result<&'static str> {
    match next_event(events)? {
        Term::Began(name, 0) => Ok(name),
        Term::Began(name, others) => Err(Error::InvalidArgument(format!(
            "{name} began a term while {others} other term(s) ran"
        ))),
        _ => Err(Error::InvalidArgument(
            "a term event before the term began".into(),
        )),
    }
}

/// Prints a term's steps until it ends.
fn follow_term(events: &Receiver<Term>) -> zk_curator::Result<()> {
    loop {
        match next_event(events)? {
            Term::Step(name, n) => println!("    {name}: step {n}"),
            Term::Ended(name) => {
                println!("    {name}: done, returns: leadership passes on");
                return Ok(());
            }
            Term::Cancelled(name, n) => {
                println!("    {name}: cancelled after {n} steps, returns at once");
                return Ok(());
            }
            Term::Began(name, _) => {
                return Err(Error::InvalidArgument(format!(
                    "{name} began a term while another ran"
                )))
            }
        }
    }
}

// ------------------------------------------------------------------------------ helpers

fn next_event<T>(events: &Receiver<T>) -> zk_curator::Result<T> {
    events.recv_timeout(WAIT).map_err(|_| Error::Timeout)
}

/// Polls `f` every 10 ms until it gives a value, for at most `WAIT`.
fn wait_for<T>(mut f: impl FnMut() -> zk_curator::Result<Option<T>>) -> zk_curator::Result<T> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f()? {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `a*, b, c`: the participants in line, the leader starred.
fn describe(line: &[zk_curator::recipes::leader::Participant]) -> String {
    let ids: Vec<String> = line
        .iter()
        .map(|p| format!("{}{}", p.id, if p.is_leader { "*" } else { "" }))
        .collect();
    ids.join(", ")
}
