//! SASL DIGEST-MD5 (feature `sasl`) against real ZooKeeper 3.8 with a JAAS `Server` section
//! and against the TestingServer's `sasl_user`s: right password: `SaslAuthenticated` and
//! `sasl` ACLs; wrong password: `AuthFailed`, once, and no retry; the same through the
//! framework.

mod support;

use std::time::Duration;

use support::events::Events;
use support::jvm::{self, TempDir};
use support::{RealServer, ServerOptions};
use zk_curator::session::States;
use zk_curator::testing::TestingServer;
use zk_curator::{Acl, CreateMode, Error, Id, KeeperState, Perms, ZooKeeper};

/// A server with the SASL provider and DIGEST-MD5 users bob and alice.
enum SaslServer {
    Real { server: RealServer, _jaas: TempDir },
    InProcess(TestingServer),
}

const JAAS: &str = r#"Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_bob="bobs-secret"
    user_alice="alices-secret";
};
"#;

impl SaslServer {
    fn real() -> Option<SaslServer> {
        jvm::Installation::get()?;
        let dir = TempDir::new("jaas").expect("a temp dir");
        let jaas = dir.path().join("jaas.conf");
        std::fs::write(&jaas, JAAS).expect("write jaas.conf");
        let opts = ServerOptions::new()
            .config("authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider")
            .system_property(format!(
                "java.security.auth.login.config={}",
                jaas.display()
            ));
        Some(SaslServer::Real {
            server: RealServer::start_with(opts)?,
            _jaas: dir,
        })
    }

    fn in_process() -> SaslServer {
        SaslServer::InProcess(
            TestingServer::builder()
                .sasl_user("bob", "bobs-secret")
                .sasl_user("alice", "alices-secret")
                .start()
                .unwrap(),
        )
    }

    fn connect_string(&self) -> String {
        match self {
            SaslServer::Real { server, .. } => server.connect_string(),
            SaslServer::InProcess(s) => s.connect_string(),
        }
    }

    fn restart(&mut self) {
        match self {
            SaslServer::Real { server, .. } => server.restart(),
            SaslServer::InProcess(s) => {
                s.stop();
                s.restart().unwrap();
            }
        }
    }

    /// How many SASL refusals the server logged (the real one only; `None` in-process).
    fn refusals(&self) -> Option<usize> {
        match self {
            SaslServer::Real { server, .. } => {
                Some(server.log().matches("failed to SASL authenticate").count())
            }
            SaslServer::InProcess(_) => None,
        }
    }
}

fn sasl_client(srv: &SaslServer, user: &str, pw: &str) -> (ZooKeeper, Events) {
    let events = Events::new();
    let w = events.watcher();
    // The session outlives a slow JVM restart on a loaded machine.
    let zk = ZooKeeper::builder(&srv.connect_string())
        .session_timeout(Duration::from_secs(40))
        .connection_timeout(Duration::from_secs(10))
        .sasl_digest_md5(user, pw)
        .default_watcher(move |e| w(e))
        .start()
        .unwrap();
    (zk, events)
}

fn sasl_body(mut srv: SaslServer) {
    // Right password: SyncConnected, then SaslAuthenticated; the session is sasl:bob.
    let (bob, events) = sasl_client(&srv, "bob", "bobs-secret");
    assert_eq!(events.next().state(), KeeperState::SyncConnected);
    assert_eq!(events.next().state(), KeeperState::SaslAuthenticated);
    let me = bob.who_am_i().unwrap();
    assert!(
        me.iter()
            .any(|c| c.auth_scheme == "sasl" && c.user == "bob"),
        "{me:?}"
    );
    let root = support::unique_root("sasl");
    bob.create(&root, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    let only_bob = vec![Acl::new(Perms::ALL, Id::new("sasl", "bob"))];
    let node = format!("{root}/bobs");
    bob.create(&node, b"for bob", &only_bob, CreateMode::Persistent)
        .unwrap();
    // CREATOR_ALL_ACL expands to the SASL identity.
    let creator = format!("{root}/creator");
    bob.create(&creator, b"", &Acl::creator_all(), CreateMode::Persistent)
        .unwrap();
    assert_eq!(bob.get_acl(&creator).unwrap().0, only_bob);
    // Another user and an anonymous session are refused.
    let (alice, a_events) = sasl_client(&srv, "alice", "alices-secret");
    assert_eq!(a_events.next().state(), KeeperState::SyncConnected);
    assert_eq!(a_events.next().state(), KeeperState::SaslAuthenticated);
    assert!(matches!(
        alice.get_data(&node, false),
        Err(Error::NoAuth { .. })
    ));
    let anon = ZooKeeper::builder(&srv.connect_string()).connect().unwrap();
    assert!(matches!(
        anon.get_data(&node, false),
        Err(Error::NoAuth { .. })
    ));
    anon.close().unwrap();
    alice.close().unwrap();
    assert_eq!(bob.get_data(&node, false).unwrap().0, b"for bob");

    // A restart: the new connection authenticates again before any request goes out.
    srv.restart();
    assert_eq!(events.next().state(), KeeperState::Disconnected);
    assert_eq!(events.next().state(), KeeperState::SyncConnected);
    assert_eq!(events.next().state(), KeeperState::SaslAuthenticated);
    bob.set_data(&node, b"still bob's", -1).unwrap();
    bob.close().unwrap();

    // Wrong password: AuthFailed once, the handle is dead, calls fail at once, no retry.
    let before = srv.refusals();
    let (eve, e_events) = sasl_client(&srv, "bob", "not-the-password");
    assert_eq!(e_events.next().state(), KeeperState::SyncConnected);
    assert_eq!(e_events.next().state(), KeeperState::AuthFailed);
    assert_eq!(eve.state(), States::AuthFailed);
    assert!(matches!(eve.exists("/", false), Err(Error::AuthFailed)));
    assert!(matches!(eve.get_data(&node, false), Err(Error::AuthFailed)));
    if let Some(before) = before {
        // The refusal is logged once; watch a while for a retry that must not come.
        let srv = &srv;
        assert!(support::wait_until(Duration::from_secs(10), || {
            srv.refusals() == Some(before + 1)
        }));
        let retried = support::wait_until(Duration::from_millis(1500), || {
            srv.refusals() > Some(before + 1)
        });
        assert!(!retried, "the client retried a refused password");
    }
    assert!(e_events.next_within(Duration::from_millis(200)).is_none());
    eve.close().unwrap();
    // An unknown user is refused the same way.
    let (nobody, n_events) = sasl_client(&srv, "mallory", "x");
    assert_eq!(n_events.next().state(), KeeperState::SyncConnected);
    assert_eq!(n_events.next().state(), KeeperState::AuthFailed);
    nobody.close().unwrap();
}

#[test]
fn sasl_digest_md5_real() {
    let Some(srv) = SaslServer::real() else {
        return;
    };
    sasl_body(srv);
}

#[test]
fn sasl_digest_md5_in_process() {
    sasl_body(SaslServer::in_process());
}

/// SASL through the framework: CuratorListeners hear SaslAuthenticated; a refused password
/// is reported to the unhandled-error listeners.
#[test]
fn sasl_through_the_framework() {
    let SaslServer::InProcess(server) = SaslServer::in_process() else {
        unreachable!()
    };
    let client = zk_curator::CuratorFrameworkFactory::builder()
        .connect_string(&server.connect_string())
        .retry_policy(zk_curator::RetryOneTime::new(Duration::from_millis(10)))
        .sasl_digest_md5("alice", "alices-secret")
        .build()
        .unwrap();
    client.start().unwrap();
    client
        .create()
        .with_acl(&[Acl::new(Perms::ALL, Id::new("sasl", "alice"))])
        .for_path_with_data("/alice", b"a")
        .unwrap();
    assert_eq!(client.get_data().for_path("/alice").unwrap(), b"a");
    client.close();
    // A refused password: the unhandled-error listeners hear AuthFailed once, operations
    // fail with AuthFailed at once (no retry loop, no hang), close works.
    let refused = zk_curator::CuratorFrameworkFactory::builder()
        .connect_string(&server.connect_string())
        .retry_policy(zk_curator::ExponentialBackoffRetry::new(
            Duration::from_millis(50),
            5,
        ))
        .sasl_digest_md5("alice", "not-alices")
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    refused
        .unhandled_error_listenable()
        .add_listener(move |msg: &str, e: &Error| {
            let _ = tx.send(format!("{msg}: {e}"));
        });
    refused.start().unwrap();
    let heard = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(heard.to_lowercase().contains("auth"), "{heard}");
    assert!(!heard.contains("not-alices"), "{heard}");
    let started = std::time::Instant::now();
    let e = refused.get_data().for_path("/alice").unwrap_err();
    assert!(matches!(e, Error::AuthFailed), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // In the background too.
    let (btx, brx) = std::sync::mpsc::channel();
    refused
        .get_data()
        .in_background(
            move |_: &zk_curator::CuratorFramework, e: &zk_curator::CuratorEvent| {
                let _ = btx.send(e.error().cloned());
            },
        )
        .for_path("/alice")
        .unwrap();
    let e = brx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(matches!(e, Some(Error::AuthFailed)), "{e:?}");
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "reported twice"
    );
    refused.close();
    // An empty user name is refused by build(), naming the option.
    let e = zk_curator::CuratorFrameworkFactory::builder()
        .connect_string(&server.connect_string())
        .retry_policy(zk_curator::RetryOneTime::new(Duration::from_millis(10)))
        .sasl_digest_md5("", "pw")
        .build()
        .unwrap_err();
    assert!(
        e.to_string().contains("sasl_digest_md5") && !e.to_string().contains("pw"),
        "{e}"
    );
}
