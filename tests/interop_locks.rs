//! Java Curator 5.4 and zk-curator sharing locks on one server: InterProcessMutex,
//! InterProcessReadWriteLock (with the downgrade) and InterProcessSemaphoreV2. Each side
//! proves exclusion with the same marker nodes (described in tests/java/LockAgent.java),
//! each waits for the other, and nothing is left behind.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use support::curator::{CuratorJava, JavaAgent};
use support::{unique_root, wait_until};
use zk_curator::recipes::locks::*;
use zk_curator::{path, CreateMode, CuratorFramework, Error};

const T: Duration = Duration::from_secs(30);
/// A whole loop of a few hundred acquisitions, on a loaded machine.
const LOOP: Duration = Duration::from_secs(300);

fn children(c: &CuratorFramework, p: &str) -> Vec<String> {
    match c.get_children().for_path(p) {
        Ok(k) => k,
        Err(Error::NoNode { .. }) => Vec::new(),
        Err(e) => panic!("listing {p}: {e}"),
    }
}

/// The log of acquisitions under `dir/log`, in order: the tag of each holder.
fn holder_log(c: &CuratorFramework, dir: &str) -> Vec<String> {
    let log = format!("{dir}/log");
    let mut kids = children(c, &log);
    kids.sort();
    kids.iter()
        .map(|k| {
            let d = c.get_data().for_path(&format!("{log}/{k}")).unwrap();
            String::from_utf8(d).unwrap()
        })
        .collect()
}

/// How often the holder changed language along the log.
fn switches(log: &[String], a: &str, b: &str) -> usize {
    let langs: Vec<bool> = log
        .iter()
        .filter(|t| t.starts_with(a) || t.starts_with(b))
        .map(|t| t.starts_with(a))
        .collect();
    langs.windows(2).filter(|w| w[0] != w[1]).count()
}

/// Waits for the agent's `loop-done TAG COUNT VIOLATIONS` of every tag (in any order: a
/// wait consumes the events before the one it matches, so all tags are awaited in one
/// pass); returns (count, violations) per tag. On a timeout it panics with the Java threads'
/// stacks and the nodes under `watch`.
fn loops_done(
    agent: &mut JavaAgent,
    tags: &[&str],
    c: &CuratorFramework,
    watch: &str,
) -> Vec<(u64, u64)> {
    let mut done: Vec<Option<(u64, u64)>> = vec![None; tags.len()];
    while done.iter().any(Option::is_none) {
        let e = agent.wait_event(LOOP, |e| {
            e.starts_with("loop-done ") || e.starts_with("loop-failed ")
        });
        let Some(e) = e else {
            let _ = agent.call("dump", T);
            let nodes: Vec<String> = children(c, watch)
                .into_iter()
                .map(|k| {
                    let p = format!("{watch}/{k}");
                    let st = c.check_exists().for_path(&p).ok().flatten();
                    format!("{k} owner={:x?}", st.map(|s| s.ephemeral_owner))
                })
                .collect();
            panic!(
                "Java loops {tags:?} did not finish ({done:?}); nodes under {watch}: {nodes:?}\n{}",
                agent.stderr_tail(400)
            );
        };
        let w: Vec<&str> = e.split_whitespace().collect();
        assert_eq!(w[0], "loop-done", "{e}\n{}", agent.stderr_tail(30));
        let at = tags
            .iter()
            .position(|t| *t == w[1])
            .unwrap_or_else(|| panic!("an unexpected loop finished: {e}"));
        done[at] = Some((w[2].parse().unwrap(), w[3].parse().unwrap()));
    }
    done.into_iter().flatten().collect()
}

fn tagged(tag: &str) -> Vec<u8> {
    tag.as_bytes().to_vec()
}

/// One exclusive hold's marker work (mutex or write lock), the same as LockAgent's.
fn exclusive_markers(c: &CuratorFramework, dir: &str, tag: &str, check_readers: bool) -> u64 {
    let marker = format!("{dir}/exclusive");
    let created = c
        .create()
        .creating_parents_if_needed()
        .with_mode(CreateMode::Ephemeral)
        .for_path_with_data(&marker, &tagged(tag));
    match created {
        Err(Error::NodeExists { .. }) => return 1,
        other => {
            other.unwrap();
        }
    }
    let mut v = 0;
    if check_readers && !children(c, &format!("{dir}/readers")).is_empty() {
        v += 1;
    }
    log_hold(c, dir, tag);
    thread::sleep(Duration::from_millis(2));
    c.delete().for_path(&marker).unwrap();
    v
}

fn log_hold(c: &CuratorFramework, dir: &str, tag: &str) {
    c.create()
        .creating_parents_if_needed()
        .with_mode(CreateMode::PersistentSequential)
        .for_path_with_data(&format!("{dir}/log/e-"), &tagged(tag))
        .unwrap();
}

fn read_markers(c: &CuratorFramework, dir: &str, tag: &str) -> u64 {
    let me = c
        .create()
        .creating_parents_if_needed()
        .with_mode(CreateMode::EphemeralSequential)
        .for_path_with_data(&format!("{dir}/readers/r-"), &tagged(tag))
        .unwrap();
    let v = u64::from(
        c.check_exists()
            .for_path(&format!("{dir}/exclusive"))
            .unwrap()
            .is_some(),
    );
    log_hold(c, dir, tag);
    thread::sleep(Duration::from_millis(2));
    c.delete().for_path(&me).unwrap();
    v
}

fn lease_markers(c: &CuratorFramework, dir: &str, tag: &str, leases: usize) -> u64 {
    let me = c
        .create()
        .creating_parents_if_needed()
        .with_mode(CreateMode::EphemeralSequential)
        .for_path_with_data(&format!("{dir}/holders/h-"), &tagged(tag))
        .unwrap();
    let v = u64::from(children(c, &format!("{dir}/holders")).len() > leases);
    log_hold(c, dir, tag);
    thread::sleep(Duration::from_millis(2));
    c.delete().for_path(&me).unwrap();
    v
}

fn assert_clean(c: &CuratorFramework, lock_path: &str, dir: &str) {
    assert!(
        wait_until(T, || children(c, lock_path).iter().all(|k| {
            // A semaphore's path keeps its (empty) locks/ and leases/ parents for a while.
            (k == "locks" || k == "leases") && children(c, &format!("{lock_path}/{k}")).is_empty()
        })),
        "left under {lock_path}: {:?}",
        children(c, lock_path)
    );
    let marker = format!("{dir}/exclusive");
    assert!(c.check_exists().for_path(&marker).unwrap().is_none());
    assert!(children(c, &format!("{dir}/readers")).is_empty());
    assert!(children(c, &format!("{dir}/holders")).is_empty());
}

server_test!(shared mutex_alternates_with_java, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = unique_root("interop-mutex");
    let (lock_path, dir) = (format!("{root}/lock"), format!("{root}/markers"));
    let rust = srv.curator();
    let mut agent = java.spawn("LockAgent", &[&srv.connect_string()]);
    agent.ok(&format!("new-mutex m {lock_path}"), T);
    let lock = InterProcessMutex::new(&rust, &lock_path).unwrap();

    // Each side waits for the other, and both see the same queue.
    assert_eq!(agent.ok("acquire m mutex 10000", T), "true");
    assert!(!lock.acquire_timeout(Duration::from_millis(300)).unwrap());
    let java_nodes = agent.ok("nodes m mutex", T);
    assert_eq!(java_nodes, lock.participant_nodes().unwrap().join(","));
    agent.ok("release m mutex", T);
    lock.acquire().unwrap();
    assert_eq!(agent.ok("acquire m mutex 300", T), "false");
    agent.ok("acquire-async m mutex", T);
    assert!(wait_until(T, || lock.participant_nodes().unwrap().len() == 2));
    assert_eq!(agent.ok("nodes m mutex", T), lock.participant_nodes().unwrap().join(","));
    assert!(agent.wait_event(Duration::from_millis(300), |e| e == "acquired m").is_none());
    lock.release().unwrap();
    assert!(agent.wait_event(T, |e| e == "acquired m").is_some());
    assert!(!lock.acquire_timeout(Duration::from_millis(200)).unwrap());
    agent.ok("release-async m", T);
    assert!(agent.wait_event(T, |e| e == "released m").is_some());

    // 2 x 120 acquisitions, both sides looping at once: exclusion, alternation.
    const N: u64 = 120;
    agent.ok(&format!("loop m mutex {N} {dir} java 2"), T);
    let mut violations = 0;
    for _ in 0..N {
        lock.acquire().unwrap();
        violations += exclusive_markers(&rust, &dir, "rust", false);
        lock.release().unwrap();
    }
    let (count, java_violations) = loops_done(&mut agent, &["java"], &rust, &lock_path)[0];
    assert_eq!((count, java_violations, violations), (N, 0, 0));
    let log = holder_log(&rust, &dir);
    assert_eq!(log.len() as u64, 2 * N);
    let sw = switches(&log, "java", "rust");
    eprintln!("mutex: {} acquisitions, {sw} hand-overs between languages", log.len());
    assert!(sw as u64 >= N / 2, "the sides did not take turns: {sw} switches");
    assert!(agent.stop());
    assert_clean(&rust, &lock_path, &dir);
    rust.close();
});

server_test!(shared revocation_and_node_data_cross_languages, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let lock_path = format!("{}/lock", unique_root("interop-revoke"));
    let rust = srv.curator();
    let mut agent = java.spawn("LockAgent", &[&srv.connect_string()]);
    agent.ok(&format!("new-mutex m {lock_path}"), T);

    // Java revokes a Rust holder.
    let lock = InterProcessMutex::new(&rust, &lock_path).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    lock.make_revocable(move |_: &InterProcessMutex| {
        let _ = tx.send(());
    });
    lock.acquire().unwrap();
    let node = lock.lock_node().unwrap();
    agent.ok(&format!("revoke {node}"), T);
    rx.recv_timeout(T).expect("the Rust holder heard Java's revocation");
    lock.release().unwrap();

    // Rust revokes a Java holder.
    agent.ok("revocable m", T);
    assert_eq!(agent.ok("acquire m mutex 10000", T), "true");
    let node = lock.participant_nodes().unwrap().remove(0);
    Revoker::attempt_revoke(&rust, &node).unwrap();
    assert!(agent.wait_event(T, |e| e == "revoke m").is_some());
    agent.ok("release m mutex", T);

    // Lock node data as the other side reads it.
    let with_data = InterProcessMutex::with_lock_data(&rust, &lock_path, b"rust-id").unwrap();
    with_data.acquire().unwrap();
    assert_eq!(agent.ok(&format!("data {}", with_data.lock_node().unwrap()), T), "rust-id");
    with_data.release().unwrap();
    assert!(agent.stop());
    assert!(wait_until(T, || children(&rust, &lock_path).is_empty()));
    rust.close();
});

server_test!(shared read_write_lock_with_java, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = unique_root("interop-rw");
    let (lock_path, dir) = (format!("{root}/rw"), format!("{root}/markers"));
    let rust = srv.curator();
    let mut agent = java.spawn("LockAgent", &[&srv.connect_string()]);
    agent.ok(&format!("new-rw l {lock_path}"), T);
    let rw = InterProcessReadWriteLock::new(&rust, &lock_path).unwrap();
    let (read, write) = (rw.read_lock(), rw.write_lock());

    // Readers share across languages; a writer of either waits for the other's reader.
    assert_eq!(agent.ok("acquire l read 10000", T), "true");
    assert!(read.acquire_timeout(T).unwrap());
    read.release().unwrap();
    assert!(!write.acquire_timeout(Duration::from_millis(300)).unwrap());
    agent.ok("release l read", T);
    read.acquire().unwrap();
    assert_eq!(agent.ok("acquire l write 300", T), "false");
    read.release().unwrap();
    // A writer excludes the other language's readers and writers.
    assert_eq!(agent.ok("acquire l write 10000", T), "true");
    assert!(!read.acquire_timeout(Duration::from_millis(300)).unwrap());
    assert!(!write.acquire_timeout(Duration::from_millis(300)).unwrap());
    assert_eq!(agent.ok("nodes l write", T), write.participant_nodes().unwrap().join(","));
    agent.ok("release l write", T);

    // A Rust downgrade keeps a queued Java 5.4 writer out until the read is released.
    write.acquire().unwrap();
    agent.ok("acquire-async l write", T);
    assert!(wait_until(T, || write.participant_nodes().unwrap().len() == 2));
    read.acquire().unwrap();
    write.release().unwrap();
    assert!(
        agent.wait_event(Duration::from_millis(500), |e| e == "acquired l").is_none(),
        "Java 5.4's writer overtook the downgraded Rust reader"
    );
    read.release().unwrap();
    assert!(agent.wait_event(T, |e| e == "acquired l").is_some());
    agent.ok("release-async l", T);
    assert!(agent.wait_event(T, |e| e == "released l").is_some());

    // What Java 5.4 writes when it downgrades: a *sequential* read node, sorted after its
    // write node (5.5 writes it with the write node's sequence; so does zk-curator).
    assert_eq!(agent.ok("acquire l write 10000", T), "true");
    assert_eq!(agent.ok("acquire l read 10000", T), "true");
    let nodes = children(&rust, &lock_path);
    let seq_of = |marker: &str| {
        nodes
            .iter()
            .find(|n| n.contains(marker))
            .map(|n| path::fix_for_sorting(n, marker).to_string())
            .unwrap_or_else(|| panic!("no {marker} node in {nodes:?}"))
    };
    assert!(seq_of("__READ__") > seq_of("__WRIT__"), "{nodes:?}");
    agent.ok("release l read", T);
    agent.ok("release l write", T);

    // 2 x (80 reads + 40 writes) at once.
    agent.ok(&format!("loop l read 40 {dir} java-r 2 2"), T);
    agent.ok(&format!("loop l write 40 {dir} java-w 2"), T);
    let violations = Arc::new(AtomicU64::new(0));
    let hs: Vec<_> = (0..3)
        .map(|t| {
            let (rust, rw, dir, v) = (rust.clone(), rw.clone(), dir.clone(), violations.clone());
            thread::spawn(move || {
                for _ in 0..40 {
                    if t < 2 {
                        let r = rw.read_lock();
                        r.acquire().unwrap();
                        v.fetch_add(read_markers(&rust, &dir, "rust-r"), Ordering::SeqCst);
                        r.release().unwrap();
                    } else {
                        let w = rw.write_lock();
                        w.acquire().unwrap();
                        v.fetch_add(exclusive_markers(&rust, &dir, "rust-w", true), Ordering::SeqCst);
                        w.release().unwrap();
                    }
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(
        loops_done(&mut agent, &["java-r", "java-w"], &rust, &lock_path),
        vec![(80, 0), (40, 0)]
    );
    assert_eq!(violations.load(Ordering::SeqCst), 0);
    let log = holder_log(&rust, &dir);
    assert_eq!(log.len(), 240);
    eprintln!(
        "rw: {} acquisitions, {} hand-overs between languages",
        log.len(),
        switches(&log, "java", "rust")
    );
    assert!(agent.stop());
    assert_clean(&rust, &lock_path, &dir);
    rust.close();
});

server_test!(shared semaphore_with_java_never_exceeds_three_leases, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = unique_root("interop-sem");
    let (sem_path, dir) = (format!("{root}/sem"), format!("{root}/markers"));
    let rust = srv.curator();
    let mut agent = java.spawn("LockAgent", &[&srv.connect_string()]);
    agent.ok(&format!("new-sem s {sem_path} 3"), T);
    let sem = InterProcessSemaphoreV2::new(&rust, &sem_path, 3).unwrap();

    // Java holds two, Rust the third; then nobody gets a fourth.
    assert_eq!(agent.ok("acquire s lease 10000", T), "true");
    assert_eq!(agent.ok("acquire s lease 10000", T), "true");
    let third = sem.acquire_timeout(T).unwrap().expect("a third lease");
    assert!(sem.acquire_timeout(Duration::from_millis(300)).unwrap().is_none());
    assert_eq!(agent.ok("acquire s lease 300", T), "false");
    assert_eq!(sem.participant_nodes().unwrap().len(), 3);
    let mut java_view: Vec<String> =
        agent.ok("nodes s lease", T).split(',').map(str::to_string).collect();
    let mut ours = sem.participant_nodes().unwrap();
    java_view.sort();
    ours.sort();
    assert_eq!(java_view, ours);
    // A Rust waiter is admitted when Java returns its leases.
    let s2 = sem.clone();
    let waiter = thread::spawn(move || s2.acquire_many(2).map(|v| v.len()));
    assert!(wait_until(T, || children(&rust, &format!("{sem_path}/leases")).len() == 4));
    agent.ok("release s lease", T);
    assert_eq!(waiter.join().unwrap().unwrap(), 2);
    drop(third);

    // 3 Java and 3 Rust threads, 30 leases each, 3 leases in all.
    const N: u64 = 30;
    agent.ok(&format!("loop s lease {N} {dir} java 2 3"), T);
    let violations = Arc::new(AtomicU64::new(0));
    let go = Arc::new(Barrier::new(3));
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let (rust, sem, dir, v, go) =
                (rust.clone(), sem.clone(), dir.clone(), violations.clone(), go.clone());
            thread::spawn(move || {
                go.wait();
                for _ in 0..N {
                    let lease = sem.acquire().unwrap();
                    v.fetch_add(lease_markers(&rust, &dir, "rust", 3), Ordering::SeqCst);
                    drop(lease);
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(
        loops_done(&mut agent, &["java"], &rust, &format!("{sem_path}/leases")),
        vec![(3 * N, 0)]
    );
    assert_eq!(violations.load(Ordering::SeqCst), 0);
    let log = holder_log(&rust, &dir);
    assert_eq!(log.len() as u64, 6 * N);
    eprintln!(
        "semaphore: {} leases, {} hand-overs between languages",
        log.len(),
        switches(&log, "java", "rust")
    );
    assert!(agent.stop());
    assert_clean(&rust, &sem_path, &dir);
    rust.close();
});
