//! LeaderSelector on both server kinds: one leader at a time, terms in node order with and
//! without auto-requeue, requeue, interrupt_leadership, close and drop while leading and
//! while waiting, a failing or panicking take_leadership, a listener that keeps leadership
//! through a suspension, the node layout, and bad input. Faults are in
//! recipes_leader_selector_faults.rs.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use support::events::WAIT;
use support::proxy::{proxied_client, Proxy};
use support::selectors::{Selectors, Step};
use support::{unique_root, wait_until};
use zk_curator::framework::protection;
use zk_curator::recipes::leader::{
    CancelLeadership, LeaderSelector, LeaderSelectorListener, Leadership, Participant,
};
use zk_curator::{ConnectionState, CuratorFramework, Error};

const LONG: Duration = Duration::from_secs(30);

server_test!(shared terms_follow_node_order_with_auto_requeue, |srv| {
    let root = unique_root("sel-order");
    let admin = srv.curator();
    let s = Selectors::new(&root, (0..4).map(|_| srv.curator()).collect(), true);
    let monitor = s.monitor();
    let want: Vec<Participant> = (0..4).map(|i| Participant::new(format!("p{i}"), i == 0)).collect();
    assert_eq!(s.selector(2).participants().unwrap(), want);
    // Twice round: each leader returns, requeues at the back, the next in line leads.
    for round in 0..8 {
        let i = round % 4;
        s.expect_step(Step::Lead(i), LONG);
        assert_eq!(s.sole_leader(LONG), i);
        assert_eq!(s.selector(3).leader().unwrap(), Some(Participant::new(format!("p{i}"), true)));
        s.release(i);
        s.expect_step(Step::Released(i), LONG);
    }
    s.expect_step(Step::Lead(0), LONG);
    assert_eq!((0..4).map(|i| s.terms(i)).collect::<Vec<_>>(), [3, 2, 2, 2]);
    s.close_all();
    s.expect_step(Step::Cancelled(0), LONG);
    monitor.finish();
    assert!(wait_until(WAIT, || s.children(&admin).is_empty()), "{:?}", s.children(&admin));
});

server_test!(shared requeue_and_interrupt, |srv| {
    let root = unique_root("sel-requeue");
    let s = Selectors::new(&root, vec![srv.curator(), srv.curator()], false);
    let monitor = s.monitor();
    s.expect_step(Step::Lead(0), LONG);
    assert!(!s.selector(0).requeue().unwrap(), "a task is running");
    assert!(!s.selector(1).requeue().unwrap(), "a task is waiting");
    // Without auto-requeue a finished leader stays out.
    s.release(0);
    s.expect_step(Step::Released(0), LONG);
    s.expect_step(Step::Lead(1), LONG);
    assert_eq!(s.selector(1).participants().unwrap().len(), 1);
    // Once its term has ended (as has_leadership shows), requeue succeeds.
    assert!(wait_until(WAIT, || !s.selector(0).has_leadership()));
    assert!(s.selector(0).requeue().unwrap());
    assert!(wait_until(WAIT, || s.selector(0).participants().unwrap().len() == 2));
    // interrupt_leadership cancels a leader's term, and does nothing to a waiter.
    s.selector(0).interrupt_leadership();
    s.selector(1).interrupt_leadership();
    s.expect_step(Step::Cancelled(1), LONG);
    s.expect_step(Step::Lead(0), LONG);
    assert!(s.selector(0).has_leadership());
    s.close_all();
    monitor.finish();
});

server_test!(shared close_and_drop_while_leading_and_waiting, |srv| {
    let root = unique_root("sel-close");
    let admin = srv.curator();
    let s = Selectors::new(&root, (0..3).map(|_| srv.curator()).collect(), true);
    s.expect_step(Step::Lead(0), LONG);
    // A waiter closed leaves the queue at once.
    let waiting = s.selector(2).participants().unwrap().len();
    s.selector(2).close().unwrap();
    assert!(wait_until(WAIT, || s.children(&admin).len() == waiting - 1));
    assert!(matches!(s.selector(2).close(), Err(Error::InvalidArgument(_))));
    assert!(matches!(s.selector(2).requeue(), Err(Error::InvalidArgument(_))));
    // A leader closed has its term cancelled; its node goes when take_leadership returns.
    s.selector(0).close().unwrap();
    assert!(!s.selector(0).has_leadership());
    s.expect_step(Step::Cancelled(0), LONG);
    s.expect_step(Step::Lead(1), LONG);
    assert_eq!(s.children(&admin).len(), 1);
    s.close_all();
    assert!(wait_until(WAIT, || s.children(&admin).is_empty()));

    // Dropping a selector closes it.
    let c = srv.curator();
    let (tx, rx) = mpsc::channel();
    let sel = LeaderSelector::new(&c, &root, move |_c: &CuratorFramework, l: &Leadership| {
        let _ = tx.send("lead");
        l.wait_until_cancelled();
        let _ = tx.send("cancelled");
        Ok(())
    })
    .unwrap();
    sel.start().unwrap();
    assert_eq!(rx.recv_timeout(LONG).unwrap(), "lead");
    drop(sel);
    assert_eq!(rx.recv_timeout(LONG).unwrap(), "cancelled");
    assert!(wait_until(WAIT, || s.children(&admin).is_empty()));
});

server_test!(shared failing_and_panicking_leaders_give_up_and_requeue, |srv| {
    let root = unique_root("sel-fail");
    let c = srv.curator();
    let reported = Arc::new(AtomicU32::new(0));
    let r = reported.clone();
    c.unhandled_error_listenable().add_listener(move |_m: &str, _e: &Error| {
        r.fetch_add(1, Ordering::SeqCst);
    });
    let terms = Arc::new(AtomicU32::new(0));
    let t = terms.clone();
    let sel = LeaderSelector::new(&c, &root, move |c: &CuratorFramework, _l: &Leadership| {
        match t.fetch_add(1, Ordering::SeqCst) {
            0 => c.get_data().for_path("/no/such/node").map(|_| ()), // an error
            1 => panic!("a leader panics"),
            _ => Ok(()),
        }
    })
    .unwrap();
    sel.auto_requeue();
    sel.start().unwrap();
    assert!(wait_until(LONG, || terms.load(Ordering::SeqCst) >= 4), "the selector goes on");
    assert!(reported.load(Ordering::SeqCst) >= 2, "the error and the panic were reported");
    sel.close().unwrap();
});

/// A listener that keeps its term through any state (Curator users override
/// `stateChanged` the same way with the session error policy in mind).
struct Stubborn(mpsc::Sender<&'static str>);

impl LeaderSelectorListener for Stubborn {
    fn take_leadership(&self, _c: &CuratorFramework, l: &Leadership) -> zk_curator::Result<()> {
        let _ = self.0.send("lead");
        l.wait_until_cancelled();
        let _ = self.0.send("cancelled");
        Ok(())
    }

    fn state_changed(
        &self,
        _c: &CuratorFramework,
        _s: ConnectionState,
    ) -> Result<(), CancelLeadership> {
        Ok(())
    }
}

server_test!(shared a_listener_may_keep_its_term_through_a_suspension, |srv| {
    let root = unique_root("sel-stubborn");
    let proxy = Proxy::start(&srv.connect_string());
    let c = proxied_client(&proxy);
    let (tx, rx) = mpsc::channel();
    let sel = LeaderSelector::new(&c, &root, Stubborn(tx)).unwrap();
    sel.start().unwrap();
    assert_eq!(rx.recv_timeout(LONG).unwrap(), "lead");
    proxy.refuse(true);
    proxy.drop_connections();
    assert!(wait_until(WAIT, || c.connection_state() == Some(ConnectionState::Suspended)));
    // Not cancelled, but not leading as far as the live view goes (standard policy).
    assert!(!sel.has_leadership());
    proxy.refuse(false);
    assert!(wait_until(LONG, || sel.has_leadership()), "the same term goes on");
    assert!(rx.try_recv().is_err());
    sel.close().unwrap();
    assert_eq!(rx.recv_timeout(LONG).unwrap(), "cancelled");
});

server_test!(shared nodes_have_curators_mutex_layout, |srv| {
    let root = unique_root("sel-layout");
    let c = srv.curator();
    let (tx, rx) = mpsc::channel();
    let listener = move |_c: &CuratorFramework, l: &Leadership| {
        let _ = tx.send(());
        l.wait_until_cancelled();
        Ok(())
    };
    let with_id = LeaderSelector::builder(&c, &root, listener.clone()).id("sélecteur").build().unwrap();
    with_id.start().unwrap();
    rx.recv_timeout(LONG).unwrap();
    let without = LeaderSelector::new(&c, &root, listener).unwrap();
    without.start().unwrap();
    assert!(wait_until(WAIT, || c.get_children().for_path(&root).unwrap().len() == 2));
    let mut kids = c.get_children().for_path(&root).unwrap();
    zk_curator::path::sort_children(&mut kids, "lock-");
    for k in &kids {
        assert!(protection::is_protected_znode(k), "{k}");
        assert!(protection::normalize(k).starts_with("lock-"), "{k}");
    }
    // Data: the id as UTF-8, or the client's default data without one.
    let first = c.get_data().for_path(&format!("{root}/{}", kids[0])).unwrap();
    assert_eq!(first, "sélecteur".as_bytes());
    let second = c.get_data().for_path(&format!("{root}/{}", kids[1])).unwrap();
    assert_eq!(second, c.default_data());
    assert_eq!(without.leader().unwrap(), Some(Participant::new("sélecteur", true)));
    assert_eq!(with_id.id(), "sélecteur");
    with_id.close().unwrap();
    without.close().unwrap();
});

server_test!(shared bad_input_and_misuse_are_errors, |srv| {
    let c = srv.curator();
    let noop = |_c: &CuratorFramework, _l: &Leadership| Ok(());
    for bad in ["", "rel", "/a/", "/a//b"] {
        assert!(matches!(LeaderSelector::new(&c, bad, noop), Err(Error::InvalidPath { .. })), "{bad:?}");
    }
    let root = unique_root("sel-misuse");
    let sel = LeaderSelector::new(&c, &root, noop).unwrap();
    assert!(!sel.has_leadership());
    assert!(matches!(sel.requeue(), Err(Error::InvalidArgument(_))));
    assert!(matches!(sel.close(), Err(Error::InvalidArgument(_))));
    assert_eq!(sel.leader().unwrap(), None);
    sel.start().unwrap();
    assert!(matches!(sel.start(), Err(Error::InvalidArgument(_))));
    sel.close().unwrap();
    assert!(matches!(sel.start(), Err(Error::InvalidArgument(_))));
    let msg = sel.close().unwrap_err().to_string();
    assert!(msg.contains(&root) && msg.contains("closed"), "{msg}");
    let gone = srv.curator();
    let s = LeaderSelector::new(&gone, &root, noop).unwrap();
    gone.close();
    assert!(matches!(s.start(), Err(Error::Closed)));
});
