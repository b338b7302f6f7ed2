//! TestingCluster: sessions survive their member, kill/restart/partition, no quorum.

mod support;

use std::time::Duration;

use support::raw::{four_letter, RawConn};
use zk_curator::testing::{TestingCluster, TestingServer};

#[test]
fn sessions_move_between_members() {
    let cluster = TestingCluster::start(3).unwrap();
    assert_eq!(cluster.len(), 3);
    let m0 = cluster.connect_string_of(0);
    let m1 = cluster.connect_string_of(1);
    let mut c = RawConn::try_connect(&m0, 10_000).unwrap();
    c.create("/shared", b"", 1).unwrap();
    assert_eq!(cluster.member_of_session(c.session.session_id), Some(0));
    // One tree: another member sees the write at once.
    let mut other = RawConn::try_connect(&m1, 10_000).unwrap();
    assert!(other.stat("/shared").unwrap().is_some());
    cluster.kill(0);
    assert!(c.closed_within(Duration::from_secs(2)));
    let (mut moved, resp) = c.resume(&m1).unwrap();
    assert_eq!(resp.session_id, c.session.session_id);
    assert_eq!(cluster.member_of_session(c.session.session_id), Some(1));
    assert!(moved.stat("/shared").unwrap().is_some(), "ephemeral kept");
    cluster.restart(0).unwrap();
    assert!(four_letter(&m0, "srvr").unwrap().contains("Mode: "));
}

#[test]
fn without_quorum_members_refuse_service() {
    let cluster = TestingCluster::start(3).unwrap();
    let m2 = cluster.connect_string_of(2);
    let mut c = RawConn::try_connect(&m2, 10_000).unwrap();
    assert!(four_letter(cluster.connect_string_of(0), "srvr")
        .unwrap()
        .contains("Mode: leader"));
    assert!(four_letter(&m2, "srvr").unwrap().contains("Mode: follower"));
    cluster.kill(0);
    cluster.kill(1);
    assert!(c.closed_within(Duration::from_secs(2)), "clients dropped");
    assert!(
        RawConn::try_connect(&m2, 10_000).is_err(),
        "handshake not completed"
    );
    let srvr = four_letter(&m2, "srvr").unwrap();
    assert_eq!(
        srvr,
        "This ZooKeeper instance is not currently serving requests\n"
    );
    assert_eq!(four_letter(&m2, "ruok").unwrap(), "imok");
    cluster.restart(1).unwrap();
    let (mut back, resp) = c.resume(&m2).unwrap();
    assert_eq!(
        resp.session_id, c.session.session_id,
        "sessions survive a quorum loss"
    );
    assert!(back.stat("/").unwrap().is_some());
}

#[test]
fn a_partitioned_member_answers_nothing() {
    let cluster = TestingServer::builder()
        .tick_time(Duration::from_millis(50))
        .start_cluster(3)
        .unwrap();
    let m0 = cluster.connect_string_of(0);
    let m1 = cluster.connect_string_of(1);
    let mut c = RawConn::try_connect(&m0, 150).unwrap();
    cluster.partition(0);
    c.send(&zk_curator::proto::Request::Ping).unwrap();
    let _ = c.sock.set_read_timeout(Some(Duration::from_millis(100)));
    assert!(
        c.read_reply().is_err(),
        "no answer from a partitioned member"
    );
    // The client moves to a healthy member before its session times out.
    let (mut moved, resp) = c.resume(&m1).unwrap();
    assert_eq!(resp.session_id, c.session.session_id);
    assert!(moved.call(zk_curator::proto::Request::Ping).is_ok());
    cluster.heal(0);
    assert!(four_letter(&m0, "srvr").unwrap().contains("Mode: leader"));
}

#[test]
fn killing_a_partitioned_member_does_not_hang() {
    let cluster = TestingCluster::start(3).unwrap();
    let m0 = cluster.connect_string_of(0);
    let mut c = RawConn::try_connect(&m0, 10_000).unwrap();
    let _idle = std::net::TcpStream::connect(&m0).unwrap();
    cluster.partition(0);
    c.send(&zk_curator::proto::Request::Ping).unwrap();
    let t = std::time::Instant::now();
    cluster.kill(0);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "kill took {:?}",
        t.elapsed()
    );
    assert!(c.closed_within(Duration::from_secs(2)));
    cluster.restart(0).unwrap();
    cluster.heal(0);
    let (_, resp) = c.resume(&m0).unwrap();
    assert_eq!(resp.session_id, c.session.session_id);
}
