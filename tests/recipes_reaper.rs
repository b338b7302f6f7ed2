//! Reaper and ChildReaper (Curator 4's, removed in Curator 5) on both server kinds: empty
//! paths go after the threshold, busy ones stay, the modes decide what happens after a
//! delete, a leadership check holds reaping back, lock schemas reach one level down, and of
//! the reapers on one leader path only the latch holder reaps until it closes.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{unique_root, wait_until};
use zk_curator::framework::CuratorFramework;
use zk_curator::recipes::reaper::{ChildReaper, Mode, Reaper};
use zk_curator::Error;

const T: Duration = Duration::from_secs(20);
const THRESHOLD: Duration = Duration::from_millis(300);

server_test!(shared reaper_deletes_what_stays_empty, |srv| {
    let root = unique_root("reaper");
    let c = srv.curator();
    let (empty, busy, again, gone) = (
        format!("{root}/empty"),
        format!("{root}/busy"),
        format!("{root}/again"),
        format!("{root}/gone"),
    );
    for p in [&empty, &busy, &again, &gone] {
        c.create().creating_parents_if_needed().for_path(p).unwrap();
    }
    c.create().for_path(&format!("{busy}/child")).unwrap();
    let leader = Arc::new(AtomicBool::new(true));
    let l = leader.clone();
    let reaper = Reaper::builder(&c)
        .threshold(THRESHOLD)
        .leader(move || l.load(Ordering::SeqCst))
        .build()
        .unwrap();
    reaper.start().unwrap();
    reaper.add_path(&empty, Mode::ReapUntilDelete).unwrap();
    reaper.add_path(&busy, Mode::ReapIndefinitely).unwrap();
    reaper.add_path(&again, Mode::ReapIndefinitely).unwrap();
    reaper.add_path(&gone, Mode::ReapUntilGone).unwrap();
    assert!(matches!(reaper.add_path("bad", Mode::ReapUntilGone), Err(Error::InvalidPath { .. })));
    let exists = |p: &str| c.check_exists().for_path(p).unwrap().is_some();
    assert!(wait_until(T, || !exists(&empty) && !exists(&again) && !exists(&gone)));
    assert!(exists(&busy), "a node with a child stays");
    // ReapUntilDelete and ReapUntilGone are done with their paths; ReapIndefinitely goes on.
    assert!(wait_until(T, || {
        let p = reaper.paths();
        !p.contains(&empty) && !p.contains(&gone) && p.contains(&again)
    }));
    c.create().for_path(&again).unwrap();
    assert!(wait_until(T, || !exists(&again)), "deleted again");
    // Not the leader: nothing is reaped.
    leader.store(false, Ordering::SeqCst);
    c.create().for_path(&again).unwrap();
    std::thread::sleep(THRESHOLD * 3);
    assert!(exists(&again));
    leader.store(true, Ordering::SeqCst);
    assert!(wait_until(T, || !exists(&again)));
    assert!(reaper.remove_path(&again));
    assert!(!reaper.remove_path(&again));
    reaper.close();
    c.close();
});

server_test!(shared child_reaper_reaps_empty_children_and_lock_schemas, |srv| {
    let root = unique_root("child-reaper");
    let c = srv.curator();
    for p in ["a", "b/child", "sem/locks", "sem/leases/lease-1"] {
        c.create().creating_parents_if_needed().for_path(&format!("{root}/{p}")).unwrap();
    }
    let reaper = ChildReaper::builder(&c, &root, Mode::ReapUntilDelete)
        .threshold(THRESHOLD)
        .lock_schema(&["locks", "leases"])
        .build()
        .unwrap();
    reaper.start().unwrap();
    let exists = |p: &str| c.check_exists().for_path(&format!("{root}/{p}")).unwrap().is_some();
    assert!(wait_until(T, || !exists("a") && !exists("sem/locks")));
    assert!(exists("b") && exists("b/child") && exists("sem/leases/lease-1"));
    // A second parent; too many children makes it skipped.
    let other = format!("{root}-2");
    c.create().creating_parents_if_needed().for_path(&format!("{other}/x")).unwrap();
    c.create().for_path(&format!("{other}/y")).unwrap();
    reaper.set_max_children(Some(1));
    reaper.add_path(&other).unwrap();
    std::thread::sleep(THRESHOLD * 4);
    assert_eq!(c.get_children().for_path(&other).unwrap().len(), 2);
    reaper.set_max_children(None);
    assert!(wait_until(T, || c.get_children().for_path(&other).unwrap().is_empty()));
    assert!(reaper.remove_path(&other));
    assert!(ChildReaper::new(&c, "nope", Mode::ReapUntilGone).is_err());
    reaper.close();
    c.close();
});

/// The sessions owning the latch nodes at `leader_path`, in election order (Curator's
/// `_c_<uuid>-latch-<seq>`, sorted by sequence): the first one leads.
fn latch_owners(c: &CuratorFramework, leader_path: &str) -> Vec<i64> {
    let mut names = c.get_children().for_path(leader_path).unwrap_or_default();
    names.retain(|n| n.contains("-latch-"));
    names.sort_by_key(|n| n.rsplit("-latch-").next().unwrap_or_default().to_string());
    names
        .iter()
        .filter_map(|n| {
            c.check_exists()
                .for_path(&format!("{leader_path}/{n}"))
                .ok()
                .flatten()
        })
        .map(|s| s.ephemeral_owner)
        .collect()
}

fn session(c: &CuratorFramework) -> i64 {
    c.zookeeper_client().zookeeper().unwrap().session_id()
}

server_test!(shared reapers_on_one_leader_path_elect_one, |srv| {
    let root = unique_root("reaper-leader");
    let leader_path = format!("{root}/leader");
    let (pa, pb) = (format!("{root}/a"), format!("{root}/b"));
    let (ca, cb) = (srv.curator(), srv.curator());
    let reaper = |c: &CuratorFramework| {
        Reaper::builder(c).threshold(THRESHOLD).leader_path(&leader_path).build().unwrap()
    };
    let a = reaper(&ca);
    a.start().unwrap();
    assert!(wait_until(T, || latch_owners(&ca, &leader_path) == [session(&ca)]));
    let b = reaper(&cb);
    b.start().unwrap();
    assert!(wait_until(T, || latch_owners(&cb, &leader_path) == [session(&ca), session(&cb)]));
    // Each reaper watches a path of its own, so the one that reaps is known.
    for p in [&pa, &pb] {
        ca.create().creating_parents_if_needed().for_path(p).unwrap();
    }
    a.add_path(&pa, Mode::ReapIndefinitely).unwrap();
    b.add_path(&pb, Mode::ReapIndefinitely).unwrap();
    let exists = |p: &str| ca.check_exists().for_path(p).unwrap().is_some();
    assert!(wait_until(T, || !exists(&pa)), "A (the leader) reaps");
    // Reaped twice: B has checked its path as often in the meantime, and reaped nothing.
    ca.create().for_path(&pa).unwrap();
    assert!(wait_until(T, || !exists(&pa)), "A reaps again");
    assert!(exists(&pb), "B does not lead: it reaps nothing");
    // A leaves: B takes the latch over and reaps.
    a.close();
    assert!(wait_until(T, || latch_owners(&cb, &leader_path) == [session(&cb)]));
    assert!(wait_until(T, || !exists(&pb)), "B (the leader now) reaps");
    b.close();
    assert!(wait_until(T, || latch_owners(&cb, &leader_path).is_empty()));
    assert!(matches!(
        Reaper::builder(&ca).leader_path("bad").build(),
        Err(Error::InvalidPath { .. })
    ));
    ca.close();
    cb.close();
});

server_test!(shared child_reapers_on_one_leader_path_elect_one, |srv| {
    let root = unique_root("child-reaper-leader");
    let leader_path = format!("{root}/leader");
    let (pa, pb) = (format!("{root}/a"), format!("{root}/b"));
    let (ca, cb) = (srv.curator(), srv.curator());
    let reaper = |c: &CuratorFramework, parent: &str| {
        ChildReaper::builder(c, parent, Mode::ReapUntilDelete)
            .threshold(THRESHOLD)
            .leader_path(&leader_path)
            .build()
            .unwrap()
    };
    for p in ["a/x", "b/y"] {
        ca.create().creating_parents_if_needed().for_path(&format!("{root}/{p}")).unwrap();
    }
    let a = reaper(&ca, &pa);
    a.start().unwrap();
    assert!(wait_until(T, || latch_owners(&ca, &leader_path) == [session(&ca)]));
    let b = reaper(&cb, &pb);
    b.start().unwrap();
    assert!(wait_until(T, || latch_owners(&cb, &leader_path) == [session(&ca), session(&cb)]));
    let children = |p: &str| ca.get_children().for_path(p).unwrap().len();
    assert!(wait_until(T, || children(&pa) == 0), "A (the leader) reaps");
    ca.create().for_path(&format!("{pa}/x2")).unwrap();
    assert!(wait_until(T, || children(&pa) == 0), "A reaps again");
    assert_eq!(children(&pb), 1, "B does not lead: it reaps nothing");
    // One latch for the child reaper and its inner reaper: one node per process.
    assert_eq!(latch_owners(&cb, &leader_path).len(), 2);
    a.close();
    assert!(wait_until(T, || latch_owners(&cb, &leader_path) == [session(&cb)]));
    assert!(wait_until(T, || children(&pb) == 0), "B (the leader now) reaps");
    b.close();
    assert!(wait_until(T, || latch_owners(&cb, &leader_path).is_empty()));
    let bad = ChildReaper::builder(&ca, &pa, Mode::ReapUntilGone).leader_path("bad").build();
    assert!(matches!(bad, Err(Error::InvalidPath { .. })));
    ca.close();
    cb.close();
});
