//! Reaper and ChildReaper (Curator 4's, removed in Curator 5) on both server kinds: empty
//! paths go after the threshold, busy ones stay, the modes decide what happens after a
//! delete, a leadership check holds reaping back, lock schemas reach one level down.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{unique_root, wait_until};
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
