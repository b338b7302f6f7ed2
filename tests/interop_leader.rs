//! Java Curator and zk-curator in one election, for LeaderLatch and for LeaderSelector: two
//! Java and two Rust participants on one path, joined alternately (Java, Rust, Java, Rust). A monitor samples both sides every
//! millisecond and fails on any moment with two leaders; leadership must move in node order
//! as each leader closes, whichever language the next one is written in.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::curator::{CuratorJava, JavaAgent};
use support::{unique_root, wait_until};
use zk_curator::recipes::leader::{LeaderLatch, LeaderSelector, Leadership, Participant};
use zk_curator::CuratorFramework;

const T: Duration = Duration::from_secs(30);

/// The Java side, shared by the test and the monitor (one command at a time).
type Java = Arc<Mutex<JavaAgent>>;

/// The Java participants that lead now.
fn java_leaders(java: &Java) -> Vec<String> {
    let answer = java.lock().unwrap().ok("leaders", T);
    answer
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A monitor of both languages. Each sample reads the Rust side, then the Java side, then
/// the Rust side again: a Java leader together with a Rust participant that led both before
/// and after it is a double leader (a hand-over between the reads is not).
struct Monitor {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<(usize, usize, usize)>>,
}

impl Monitor {
    fn start(java: Java, rust: Vec<(String, Arc<dyn Fn() -> bool + Send + Sync>)>) -> Monitor {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::spawn(move || {
            let (mut polls, mut doubles, mut single) = (0, 0, 0);
            let rust_leaders = || -> Vec<String> {
                rust.iter()
                    .filter(|(_, l)| l())
                    .map(|(n, _)| n.clone())
                    .collect()
            };
            while !s.load(Ordering::SeqCst) {
                let before = rust_leaders();
                let j = java_leaders(&java);
                let after = rust_leaders();
                let steady: Vec<_> = before.iter().filter(|n| after.contains(n)).collect();
                let n = j.len() + steady.len();
                if n >= 2 || before.len() >= 2 || after.len() >= 2 {
                    eprintln!("two leaders: java {j:?}, rust {before:?} / {after:?}");
                    doubles += 1;
                }
                if n == 1 {
                    single += 1;
                }
                polls += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            (polls, doubles, single)
        });
        Monitor {
            stop,
            handle: Some(handle),
        }
    }

    fn finish(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let (polls, doubles, single) = self.handle.take().unwrap().join().unwrap();
        eprintln!("monitor: {polls} samples, {single} with one leader, {doubles} with two");
        assert_eq!(
            doubles, 0,
            "two leaders at once in {doubles} of {polls} samples"
        );
        assert!(
            polls > 100 && single > 0,
            "{polls} samples, {single} with one leader"
        );
    }
}

/// A Rust participant: its current latch (replaced when it joins again).
type Slot = Arc<Mutex<Arc<LeaderLatch>>>;

fn rust_leads(slot: &Slot) -> bool {
    let l = slot.lock().unwrap().clone();
    l.has_leadership()
}

/// Who leads now, across both languages.
fn leaders(java: &Java, rust: &[(String, Slot)]) -> Vec<String> {
    let mut all = java_leaders(java);
    all.extend(
        rust.iter()
            .filter(|(_, l)| rust_leads(l))
            .map(|(n, _)| n.clone()),
    );
    all
}

fn wait_leader(java: &Java, rust: &[(String, Slot)], want: &str) {
    let ok = wait_until(T, || leaders(java, rust) == [want]);
    assert!(ok, "leaders {:?}, want only {want}", leaders(java, rust));
}

/// Joins participant `name` (a Java or a Rust latch) and waits until its node exists, so
/// that joining order is node order.
fn join(
    srv: &support::TestServer,
    java: &Java,
    rust: &mut Vec<(String, Slot)>,
    root: &str,
    name: &str,
) {
    if name.starts_with("java") {
        java.lock()
            .unwrap()
            .ok(&format!("latch-start {root} {name}"), T);
        return;
    }
    let latch = LeaderLatch::builder(&srv.curator(), root)
        .id(name)
        .build()
        .unwrap();
    latch.start().unwrap();
    assert!(wait_until(T, || latch.our_path().is_some()));
    let latch = Arc::new(latch);
    match rust.iter().find(|(n, _)| n == name) {
        Some((_, slot)) => *slot.lock().unwrap() = latch,
        None => rust.push((name.to_string(), Arc::new(Mutex::new(latch)))),
    }
}

fn leave(java: &Java, rust: &[(String, Slot)], name: &str) {
    if name.starts_with("java") {
        java.lock().unwrap().ok(&format!("latch-close {name}"), T);
    } else {
        let slot = &rust.iter().find(|(n, _)| n == name).unwrap().1;
        let latch = slot.lock().unwrap().clone();
        latch.close().unwrap();
    }
}

server_test!(shared latch_hands_over_across_languages, |srv| {
    let Some(jvm) = CuratorJava::get() else { return };
    let root = unique_root("interop-latch");
    let java: Java = Arc::new(Mutex::new(jvm.spawn("LeaderAgent", &[&srv.connect_string()])));
    let mut rust: Vec<(String, Slot)> = Vec::new();
    let order = ["java-0", "rust-0", "java-1", "rust-1"];
    for name in order {
        join(srv, &java, &mut rust, &root, name);
    }
    // Both languages list the same participants, in node order, the first leading.
    let want: Vec<Participant> =
        order.iter().enumerate().map(|(i, n)| Participant::new(*n, i == 0)).collect();
    let first_rust = rust[0].1.lock().unwrap().clone();
    assert_eq!(first_rust.participants().unwrap(), want);
    let listed = java.lock().unwrap().ok("participants java-1", T);
    assert_eq!(listed, "java-0:true,rust-0:false,java-1:false,rust-1:false");

    let probes = rust
        .iter()
        .map(|(n, slot)| {
            let slot = slot.clone();
            let probe: Arc<dyn Fn() -> bool + Send + Sync> = Arc::new(move || rust_leads(&slot));
            (n.clone(), probe)
        })
        .collect();
    let monitor = Monitor::start(java.clone(), probes);
    // Three times round: each leader holds for a while, closes, and joins again at the back,
    // so the line keeps its cyclic order and every hand-over crosses languages.
    for round in 0..3 * order.len() {
        let name = order[round % order.len()];
        let next = order[(round + 1) % order.len()];
        wait_leader(&java, &rust, name);
        std::thread::sleep(Duration::from_millis(50));
        let t0 = Instant::now();
        leave(&java, &rust, name);
        wait_leader(&java, &rust, next);
        eprintln!("{name} -> {next}: {:?}", t0.elapsed());
        join(srv, &java, &mut rust, &root, name);
    }
    monitor.finish();
    let events = java.lock().unwrap().drain_events();
    for want in ["leader java-0", "leader java-1"] {
        assert!(events.iter().any(|e| e == want), "{want} in {events:?}");
    }
    for name in order {
        leave(&java, &rust, name);
    }
    let admin = srv.curator();
    assert!(wait_until(T, || support::election::children_of(&admin, &root).is_empty()));
    assert!(java.lock().unwrap().stop());
});

/// A Rust selector whose term lasts until the test releases it.
struct RustSelector {
    selector: Arc<LeaderSelector>,
    release: Arc<AtomicBool>,
}

fn rust_selector(c: &CuratorFramework, root: &str, id: &str) -> RustSelector {
    let release = Arc::new(AtomicBool::new(false));
    let r = release.clone();
    let selector =
        LeaderSelector::builder(c, root, move |_c: &CuratorFramework, l: &Leadership| {
            while !l.wait_cancelled(Duration::from_millis(1)) {
                if r.swap(false, Ordering::SeqCst) {
                    break;
                }
            }
            Ok(())
        })
        .id(id)
        .build()
        .unwrap();
    selector.auto_requeue();
    selector.start().unwrap();
    let listed = wait_until(T, || {
        selector
            .participants()
            .is_ok_and(|ps| ps.iter().any(|p| p.id == id))
    });
    assert!(listed, "{id} has no node");
    RustSelector {
        selector: Arc::new(selector),
        release,
    }
}

server_test!(shared selector_hands_over_across_languages, |srv| {
    let Some(jvm) = CuratorJava::get() else { return };
    let root = unique_root("interop-selector");
    let java: Java = Arc::new(Mutex::new(jvm.spawn("LeaderAgent", &[&srv.connect_string()])));
    let order = ["java-0", "rust-0", "java-1", "rust-1"];
    let mut rust: Vec<(String, RustSelector)> = Vec::new();
    for name in order {
        if name.starts_with("java") {
            java.lock().unwrap().ok(&format!("selector-start {root} {name}"), T);
        } else {
            rust.push((name.to_string(), rust_selector(&srv.curator(), &root, name)));
        }
    }
    let want: Vec<Participant> =
        order.iter().enumerate().map(|(i, n)| Participant::new(*n, i == 0)).collect();
    assert_eq!(rust[0].1.selector.participants().unwrap(), want);
    let listed = java.lock().unwrap().ok("participants java-0", T);
    assert_eq!(listed, "java-0:true,rust-0:false,java-1:false,rust-1:false");

    let probes = rust
        .iter()
        .map(|(n, r)| {
            let s = r.selector.clone();
            let probe: Arc<dyn Fn() -> bool + Send + Sync> = Arc::new(move || s.has_leadership());
            (n.clone(), probe)
        })
        .collect();
    let leaders_now = |java: &Java| {
        let mut all = java_leaders(java);
        all.extend(rust.iter().filter(|(_, r)| r.selector.has_leadership()).map(|(n, _)| n.clone()));
        all
    };
    let monitor = Monitor::start(java.clone(), probes);
    // Three times round: each term is released after a while; both languages requeue
    // automatically, at the back, so every hand-over crosses languages.
    for round in 0..3 * order.len() {
        let name = order[round % order.len()];
        let next = order[(round + 1) % order.len()];
        let ok = wait_until(T, || leaders_now(&java) == [name]);
        assert!(ok, "leaders {:?}, want only {name}", leaders_now(&java));
        std::thread::sleep(Duration::from_millis(50));
        let t0 = Instant::now();
        if name.starts_with("java") {
            java.lock().unwrap().ok(&format!("selector-release {name}"), T);
        } else {
            rust.iter().find(|(n, _)| n == name).unwrap().1.release.store(true, Ordering::SeqCst);
        }
        let ok = wait_until(T, || leaders_now(&java) == [next]);
        assert!(ok, "leaders {:?}, want only {next}", leaders_now(&java));
        eprintln!("{name} -> {next}: {:?}", t0.elapsed());
    }
    monitor.finish();
    for (_, r) in &rust {
        r.selector.close().unwrap();
    }
    for name in ["java-0", "java-1"] {
        java.lock().unwrap().ok(&format!("selector-close {name}"), T);
    }
    let admin = srv.curator();
    assert!(wait_until(T, || support::election::children_of(&admin, &root).is_empty()));
    assert!(java.lock().unwrap().stop());
});
