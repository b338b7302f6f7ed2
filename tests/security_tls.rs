//! TLS (feature `tls`) against the in-process TestingServer and real ZooKeeper 3.8 on its
//! `secureClientPort` (Netty connection factory, PEM keystore and truststore made at test
//! time): connect, operations, watches, reconnect after a restart, mutual TLS, and the
//! handshake failures (unknown CA, wrong host name, expired certificate, missing client
//! certificate), each reported with its cause.

mod support;

use std::time::Duration;

use support::certs::Pki;
use support::events::Events;
use support::jvm::{self, TempDir};
use support::{RealServer, ServerOptions};
use zk_curator::testing::TestingServer;
use zk_curator::tls::TlsConfig;
use zk_curator::{
    Acl, CreateMode, CuratorFrameworkFactory, EventType, HostFailureKind, KeeperState,
    RetryOneTime, TlsFailure, ZooKeeper,
};

fn trusting(ca: &str) -> TlsConfig {
    TlsConfig::builder()
        .ca_pem(ca)
        .build()
        .expect("a TLS config")
}

fn with_client_cert(pki: &Pki) -> TlsConfig {
    TlsConfig::builder()
        .ca_pem(&pki.ca)
        .client_certificate_pem(&pki.client.cert, &pki.client.key)
        .build()
        .expect("a TLS config")
}

/// The TLS failure an operation reports after giving up on `connect_string`.
fn tls_failure(connect_string: &str, tls: TlsConfig) -> TlsFailure {
    let zk = ZooKeeper::builder(connect_string)
        .tls(tls)
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(3))
        .start()
        .expect("start");
    let err = zk
        .exists("/", false)
        .expect_err("no connection can be made");
    let _ = zk.close();
    let tried = err
        .hosts_tried()
        .unwrap_or_else(|| panic!("hosts tried in {err:?}"));
    match tried[0].kind() {
        HostFailureKind::Tls(t) => {
            // The message names the cause.
            assert!(err.to_string().contains("TLS"), "{err}");
            t.clone()
        }
        other => panic!("not a TLS failure: {other:?} ({err})"),
    }
}

/// Operations, a watch across a server restart, and a reconnect over TLS.
fn ops_watches_and_restart(connect_string: &str, tls: TlsConfig, restart: &mut dyn FnMut()) {
    let events = Events::new();
    let w = events.watcher();
    let zk = ZooKeeper::builder(connect_string)
        .tls(tls)
        // The session outlives a slow JVM restart on a loaded machine.
        .session_timeout(Duration::from_secs(40))
        .connection_timeout(Duration::from_secs(10))
        .default_watcher(move |e| w(e))
        .connect()
        .expect("connect over TLS");
    assert_eq!(events.next().state(), KeeperState::SyncConnected);
    let root = support::unique_root("tls");
    zk.create(&root, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    let node = format!("{root}/n");
    // A payload larger than one TLS record (16 KiB) crosses several records both ways.
    let big = vec![7u8; 100_000];
    zk.create(&node, &big, &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    let (data, _) = zk.get_data(&node, true).unwrap();
    assert_eq!(data, big);
    zk.set_data(&node, b"v1", -1).unwrap();
    let e = events.next_node();
    assert_eq!(e.event_type(), EventType::NodeDataChanged);
    // A watch set before the restart fires after it: the session resumes through TLS.
    zk.get_data(&node, true).unwrap();
    let session = zk.session_id();
    restart();
    let e = events.next();
    assert_eq!(e.state(), KeeperState::Disconnected, "{e:?}");
    assert!(zk.wait_connected(Duration::from_secs(30)), "reconnected");
    assert_eq!(zk.session_id(), session, "the same session");
    zk.set_data(&node, b"v2", -1).unwrap();
    let e = events.next_node();
    assert_eq!(e.event_type(), EventType::NodeDataChanged);
    assert_eq!(zk.get_data(&node, false).unwrap().0, b"v2");
    // Many requests in flight at once from several threads share the TLS writer.
    let zk = std::sync::Arc::new(zk);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let zk = zk.clone();
            let root = root.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let p = format!("{root}/t{t}-{i}");
                    zk.create(
                        &p,
                        &[t as u8; 300],
                        &Acl::open_unsafe(),
                        CreateMode::Persistent,
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(zk.get_children(&root, false).unwrap().len(), 201);
    zk.close().unwrap();
}

// ------------------------------------------------------------------ in-process server

#[test]
fn testing_server_tls_ops_watches_and_restart() {
    let pki = Pki::new();
    let server = TestingServer::builder()
        .tls(pki.server.cert.as_bytes(), pki.server.key.as_bytes(), None)
        .start()
        .unwrap();
    let cs = format!("127.0.0.1:{}", server.port());
    ops_watches_and_restart(&cs, trusting(&pki.ca), &mut || {
        server.stop();
        server.restart().unwrap();
    });
    // The same through the framework.
    let client = CuratorFrameworkFactory::builder()
        .connect_string(&cs)
        .retry_policy(RetryOneTime::new(Duration::from_millis(10)))
        .tls(trusting(&pki.ca))
        .build()
        .unwrap();
    client.start().unwrap();
    client
        .create()
        .for_path_with_data("/curator-tls", b"x")
        .unwrap();
    assert_eq!(client.get_data().for_path("/curator-tls").unwrap(), b"x");
    client.close();
}

#[test]
fn testing_server_handshake_failures_name_their_cause() {
    let pki = Pki::new();
    let start = |c: &support::certs::Cert| {
        TestingServer::builder()
            .tls(c.cert.as_bytes(), c.key.as_bytes(), None)
            .start()
            .unwrap()
    };
    let good = start(&pki.server);
    let at = |s: &TestingServer| format!("127.0.0.1:{}", s.port());
    assert_eq!(
        tls_failure(&at(&good), trusting(&pki.other_ca)),
        TlsFailure::UnknownCa
    );
    assert_eq!(
        tls_failure(&format!("localhost:{}", good.port()), trusting(&pki.ca)),
        TlsFailure::NameMismatch {
            host: "localhost".into()
        }
    );
    let expired = start(&pki.expired);
    assert_eq!(
        tls_failure(&at(&expired), trusting(&pki.ca)),
        TlsFailure::Expired
    );
    let wrong = start(&pki.wrong_name);
    assert!(matches!(
        tls_failure(&at(&wrong), trusting(&pki.ca)),
        TlsFailure::NameMismatch { .. }
    ));
    // connect() says why too, instead of a bare timeout.
    let err = ZooKeeper::builder(&at(&expired))
        .tls(trusting(&pki.ca))
        .connection_timeout(Duration::from_secs(2))
        .connect()
        .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    // Turning host name verification off (loudly) accepts the wrong name, nothing else.
    let lax = TlsConfig::builder()
        .ca_pem(&pki.ca)
        .danger_disable_hostname_verification()
        .build()
        .unwrap();
    let zk = ZooKeeper::builder(&at(&wrong))
        .tls(lax.clone())
        .connect()
        .expect("a wrong name is accepted with verification off");
    zk.close().unwrap();
    assert_eq!(tls_failure(&at(&expired), lax), TlsFailure::Expired);
    // A plain client on a TLS port, and a TLS client on a plain port, fail cleanly.
    let plain = TestingServer::start().unwrap();
    assert!(matches!(
        tls_failure(&plain.connect_string(), trusting(&pki.ca)),
        TlsFailure::Handshake(_)
    ));
    let r = ZooKeeper::builder(&at(&good))
        .connection_timeout(Duration::from_secs(1))
        .connect();
    assert!(r.is_err());
}

#[test]
fn testing_server_mutual_tls() {
    let pki = Pki::new();
    let server = TestingServer::builder()
        .tls(
            pki.server.cert.as_bytes(),
            pki.server.key.as_bytes(),
            Some(pki.ca.as_bytes()),
        )
        .start()
        .unwrap();
    let cs = format!("127.0.0.1:{}", server.port());
    assert!(matches!(
        tls_failure(&cs, trusting(&pki.ca)),
        TlsFailure::RejectedByServer(_)
    ));
    let zk = ZooKeeper::builder(&cs)
        .tls(with_client_cert(&pki))
        .connect()
        .expect("mutual TLS");
    assert!(zk.exists("/", false).unwrap().is_some());
    zk.close().unwrap();
    // A client certificate from another CA is refused.
    let stranger = TlsConfig::builder()
        .ca_pem(&pki.ca)
        .client_certificate_pem(&pki.untrusted.cert, &pki.untrusted.key)
        .build()
        .unwrap();
    assert!(matches!(
        tls_failure(&cs, stranger),
        TlsFailure::RejectedByServer(_)
    ));
}

// ------------------------------------------------------------------ real ZooKeeper

/// A real server with TLS on its secure port (plain `clientPort` too, which the harness
/// uses to see that it serves), its secure port, and the directory holding its keystore
/// and truststore (removed when dropped, after the server).
fn real_tls(
    pki: &Pki,
    cert: &support::certs::Cert,
    client_auth: bool,
) -> Option<(RealServer, u16, TempDir)> {
    jvm::Installation::get()?;
    let dir = TempDir::new("tls").expect("a temp dir");
    let keystore = cert.write_keystore(&dir.path().join("server.pem"));
    let truststore = pki.write_ca(dir.path());
    let port = jvm::free_ports(1)[0];
    let opts = ServerOptions::new()
        .config(format!("secureClientPort={port}"))
        .config("secureClientPortAddress=127.0.0.1")
        .config("serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory")
        .config(format!("ssl.keyStore.location={}", keystore.display()))
        .config("ssl.keyStore.type=PEM")
        .config(format!("ssl.trustStore.location={}", truststore.display()))
        .config("ssl.trustStore.type=PEM")
        .config(format!(
            "ssl.clientAuth={}",
            if client_auth { "need" } else { "none" }
        ));
    let server = RealServer::start_with(opts)?;
    wait_secure_port(port, &server);
    Some((server, port, dir))
}

/// The secure port opens with the server; the harness waited for the plain one.
fn wait_secure_port(port: u16, server: &RealServer) {
    let up = support::wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(
        up,
        "secure port {port} not open; server log:\n{}",
        server.log()
    );
}

#[test]
fn real_tls_ops_watches_reconnect_and_bad_certificates() {
    let pki = Pki::new();
    let Some((mut server, port, _dir)) = real_tls(&pki, &pki.server, false) else {
        return;
    };
    let cs = format!("127.0.0.1:{port}");
    ops_watches_and_restart(&cs, trusting(&pki.ca), &mut || {
        server.restart();
        wait_secure_port(port, &server);
    });
    assert_eq!(
        tls_failure(&cs, trusting(&pki.other_ca)),
        TlsFailure::UnknownCa
    );
    assert_eq!(
        tls_failure(&format!("localhost:{port}"), trusting(&pki.ca)),
        TlsFailure::NameMismatch {
            host: "localhost".into()
        }
    );
    // Mutual TLS certificates are welcome even when not required.
    let zk = ZooKeeper::builder(&cs)
        .tls(with_client_cert(&pki))
        .connect()
        .unwrap();
    assert!(zk.exists("/", false).unwrap().is_some());
    zk.close().unwrap();
}

#[test]
fn real_tls_expired_server_certificate() {
    let pki = Pki::new();
    let Some((_server, port, _dir)) = real_tls(&pki, &pki.expired, false) else {
        return;
    };
    assert_eq!(
        tls_failure(&format!("127.0.0.1:{port}"), trusting(&pki.ca)),
        TlsFailure::Expired
    );
}

#[test]
fn real_mutual_tls() {
    let pki = Pki::new();
    let Some((mut server, port, _dir)) = real_tls(&pki, &pki.server, true) else {
        return;
    };
    let cs = format!("127.0.0.1:{port}");
    // Without a client certificate the server refuses the handshake.
    let f = tls_failure(&cs, trusting(&pki.ca));
    assert!(
        matches!(
            f,
            TlsFailure::RejectedByServer(_) | TlsFailure::Handshake(_)
        ),
        "{f:?}"
    );
    // With one: the session is authenticated as the certificate's subject (x509 scheme).
    let zk = ZooKeeper::builder(&cs)
        .tls(with_client_cert(&pki))
        .connect()
        .unwrap();
    let me = zk.who_am_i().unwrap();
    assert!(
        me.iter()
            .any(|c| c.auth_scheme == "x509" && c.user.contains("zk-test-client")),
        "{me:?}"
    );
    zk.close().unwrap();
    ops_watches_and_restart(&cs, with_client_cert(&pki), &mut || {
        server.restart();
        wait_secure_port(port, &server);
    });
    // A client certificate from another CA is refused too.
    let stranger = TlsConfig::builder()
        .ca_pem(&pki.ca)
        .client_certificate_pem(&pki.untrusted.cert, &pki.untrusted.key)
        .build()
        .unwrap();
    let f = tls_failure(&cs, stranger);
    assert!(
        matches!(
            f,
            TlsFailure::RejectedByServer(_) | TlsFailure::Handshake(_)
        ),
        "{f:?}"
    );
}
