//! A DistributedDoubleBarrier shared by 2 Java Curator and 2 zk-curator members: nobody
//! passes `enter` until all 4 have arrived, whichever language arrives last (and so creates
//! `ready`), and nobody passes `leave` until all 4 have left.
//!
//! One exception, Java's own: Curator 5.4's `leave()` returns as soon as a single member node
//! is left besides its own (its `children.size() == 1` exit does not check that the node is
//! its own once its own is deleted), so with 3 of 4 gone the Java members that left pass
//! early. The test holds every member to the rule while 2 or more are still in, and the Rust
//! members to it until the last one leaves.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use support::curator::{CuratorJava, JavaAgent};
use zk_curator::recipes::barriers::DistributedDoubleBarrier;
use zk_curator::CuratorFramework;

const T: Duration = Duration::from_secs(30);
/// How long "nobody got through" is watched for.
const QUIET: Duration = Duration::from_millis(700);

/// One Rust member on its own thread, driven by messages: `true` enters, `false` leaves.
struct RustMember {
    go: mpsc::Sender<bool>,
    done: mpsc::Receiver<&'static str>,
}

impl RustMember {
    fn new(c: &CuratorFramework, path: &str) -> RustMember {
        let barrier = DistributedDoubleBarrier::new(c, path, 4).unwrap();
        let (go, rx) = mpsc::channel::<bool>();
        let (tx, done) = mpsc::channel();
        std::thread::spawn(move || {
            for enter in rx {
                if enter {
                    barrier.enter().unwrap();
                    let _ = tx.send("entered");
                } else {
                    barrier.leave().unwrap();
                    let _ = tx.send("left");
                }
            }
        });
        RustMember { go, done }
    }

    fn step(&self, enter: bool) {
        self.go.send(enter).unwrap();
    }

    fn passed(&self, within: Duration) -> Option<&'static str> {
        self.done.recv_timeout(within).ok()
    }
}

/// Waits until both Java members report `word` (in either order).
fn java_both_passed(agent: &mut JavaAgent, word: &str, within: Duration) -> bool {
    let mut seen = std::collections::BTreeSet::new();
    agent
        .wait_event(within, |e| {
            if let Some(who) = e.strip_prefix(&format!("{word} ")) {
                seen.insert(who.to_string());
            }
            seen.len() == 2
        })
        .is_some()
}

/// Enter: three members arrive, nobody passes; the fourth arrives, all pass. `last_is_rust`
/// decides who comes last (and so creates `ready`).
fn enter_round(agent: &mut JavaAgent, r: &[RustMember; 2], last_is_rust: bool) {
    agent.ok("enter j1", T);
    r[0].step(true);
    if last_is_rust {
        agent.ok("enter j2", T);
    } else {
        r[1].step(true);
    }
    assert!(
        r[0].passed(QUIET).is_none(),
        "a Rust member entered with 3 of 4"
    );
    let early = agent.drain_events();
    assert!(early.is_empty(), "Java entered with 3 of 4: {early:?}");
    if last_is_rust {
        r[1].step(true);
    } else {
        agent.ok("enter j2", T);
    }
    for m in r {
        assert_eq!(m.passed(T), Some("entered"));
    }
    assert!(
        java_both_passed(agent, "entered", T),
        "the Java members did not both enter: {:?}",
        agent.drain_events()
    );
}

/// Leave: two members leave, nobody passes; a third leaves, the Rust members who left still
/// wait; the fourth leaves, all pass. `last_is_rust` decides who leaves last.
fn leave_round(agent: &mut JavaAgent, r: &[RustMember; 2], last_is_rust: bool) {
    agent.ok("leave j1", T);
    r[0].step(false);
    assert!(
        r[0].passed(QUIET).is_none(),
        "a Rust member left with 2 of 4 in"
    );
    let early = agent.drain_events();
    assert!(early.is_empty(), "Java left with 2 of 4 in: {early:?}");
    if last_is_rust {
        agent.ok("leave j2", T);
    } else {
        r[1].step(false);
    }
    assert!(
        r[0].passed(QUIET).is_none(),
        "a Rust member left with 1 of 4 in"
    );
    if !last_is_rust {
        assert!(
            r[1].passed(QUIET).is_none(),
            "a Rust member left with 1 of 4 in"
        );
    }
    if last_is_rust {
        r[1].step(false);
    } else {
        agent.ok("leave j2", T);
    }
    for m in r {
        assert_eq!(m.passed(T), Some("left"));
    }
    assert!(
        java_both_passed(agent, "left", T),
        "the Java members did not both leave: {:?}",
        agent.drain_events()
    );
}

server_test!(shared double_barrier_with_java_members, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = support::unique_root("ibarrier");
    let rust = srv.curator();
    let mut agent = java.spawn("BarrierAgent", &[&srv.connect_string()]);
    for (i, last_is_rust) in [true, false].into_iter().enumerate() {
        let path = format!("{root}/round-{i}");
        agent.ok(&format!("member j1 {path} 4"), T);
        agent.ok(&format!("member j2 {path} 4"), T);
        let r = [RustMember::new(&rust, &path), RustMember::new(&rust, &path)];
        enter_round(&mut agent, &r, last_is_rust);
        assert!(rust
            .check_exists()
            .for_path(&format!("{path}/ready"))
            .unwrap()
            .is_some());
        leave_round(&mut agent, &r, !last_is_rust);
        // Members and `ready` are gone (and the container itself may be too).
        let left = rust.get_children().for_path(&path).unwrap_or_default();
        assert!(left.is_empty(), "{left:?}");
    }
    assert!(agent.stop());
    rust.close();
});
