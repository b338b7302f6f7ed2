//! Authentication and ACLs on both server kinds: digest ACLs (a protected node refuses other
//! sessions with NoAuth, `add_auth_info` opens it, auth survives a reconnect), the
//! framework's `AclProvider`, `with_acl`, `set_acl`/`get_acl`. SASL DIGEST-MD5 (feature
//! `sasl`) is tested in `security_sasl.rs`.

mod support;

use std::time::Duration;

use support::events::Events;
use zk_curator::auth::generate_digest;
use zk_curator::framework::AclProvider;
use zk_curator::{Acl, CreateMode, Error, Id, KeeperState, Perms};

fn digest(user: &str, pw: &str) -> Id {
    Id::new("digest", generate_digest(user, pw))
}

server_test!(shared digest_acl_refuses_others_until_they_authenticate, |srv| {
    let alice = srv.builder().auth("digest", b"alice:wonder").connect().unwrap();
    let root = support::unique_root("digest");
    alice
        .create(&root, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    let node = format!("{root}/private");
    let only_alice = vec![Acl::new(Perms::ALL, digest("alice", "wonder"))];
    alice
        .create(&node, b"secret data", &only_alice, CreateMode::Persistent)
        .unwrap();
    // getACL shows the id the helper computes (alice has ADMIN, so it is not masked).
    let (acl, _) = alice.get_acl(&node).unwrap();
    assert_eq!(acl, only_alice);

    let bob = srv.connect();
    assert!(matches!(bob.get_data(&node, false), Err(Error::NoAuth { .. })));
    assert!(matches!(bob.set_data(&node, b"x", -1), Err(Error::NoAuth { .. })));
    // A wrong password does not help (digest auth itself succeeds: it only adds an id).
    bob.add_auth_info("digest", b"alice:guess").unwrap();
    assert!(matches!(bob.get_data(&node, false), Err(Error::NoAuth { .. })));
    bob.add_auth_info("digest", b"alice:wonder").unwrap();
    assert_eq!(bob.get_data(&node, false).unwrap().0, b"secret data");
    bob.set_data(&node, b"changed", -1).unwrap();

    // CREATOR_ALL_ACL expands to the creator's digest ids.
    let mine = format!("{root}/creator");
    alice
        .create(&mine, b"", &Acl::creator_all(), CreateMode::Persistent)
        .unwrap();
    assert_eq!(alice.get_acl(&mine).unwrap().0, only_alice);
    // set_acl: read for everyone, everything for alice; aversion counts.
    let (_, stat) = alice.get_acl(&mine).unwrap();
    let shared = vec![
        Acl::new(Perms::READ, Id::anyone()),
        Acl::new(Perms::ALL, digest("alice", "wonder")),
    ];
    let stat2 = alice.set_acl(&mine, &shared, stat.aversion).unwrap();
    assert_eq!(stat2.aversion, stat.aversion + 1);
    assert!(matches!(
        alice.set_acl(&mine, &shared, stat.aversion),
        Err(Error::BadVersion { .. })
    ));
    let carol = srv.connect();
    assert!(carol.get_data(&mine, false).is_ok());
    assert!(matches!(carol.set_data(&mine, b"x", -1), Err(Error::NoAuth { .. })));
    // Without ADMIN, getACL masks digest ids.
    let (seen, _) = carol.get_acl(&mine).unwrap();
    assert!(seen.iter().any(|a| a.id.id == "alice:x"), "{seen:?}");
    for zk in [alice, bob, carol] {
        zk.close().unwrap();
    }
});

server_test!(own digest_auth_survives_a_reconnect, |srv| {
    let (zk, events) = {
        let events = Events::new();
        let w = events.watcher();
        // A session that outlives a slow JVM restart on a loaded machine.
        let zk = srv
            .builder()
            .session_timeout(Duration::from_secs(40))
            .default_watcher(move |e| w(e))
            .connect()
            .unwrap();
        (zk, events)
    };
    assert_eq!(events.next().state(), KeeperState::SyncConnected);
    zk.add_auth_info("digest", b"dora:explorer").unwrap();
    let only_dora = vec![Acl::new(Perms::ALL, digest("dora", "explorer"))];
    zk.create("/dora", b"map", &only_dora, CreateMode::Persistent)
        .unwrap();
    srv.stop();
    srv.restart();
    assert_eq!(events.next().state(), KeeperState::Disconnected);
    assert_eq!(events.next().state(), KeeperState::SyncConnected);
    // The auth packet was replayed on the new connection.
    assert_eq!(zk.get_data("/dora", false).unwrap().0, b"map");
    zk.set_data("/dora", b"map2", -1).unwrap();
    zk.close().unwrap();
});

/// Digest ACL for everything under `/vault`, open elsewhere.
struct VaultAcl;

impl AclProvider for VaultAcl {
    fn default_acl(&self) -> Vec<Acl> {
        Acl::open_unsafe()
    }

    fn acl_for_path(&self, path: &str) -> Vec<Acl> {
        if path == "/vault" || path.starts_with("/vault/") {
            vec![Acl::new(Perms::ALL, digest("keeper", "k3y"))]
        } else {
            self.default_acl()
        }
    }
}

server_test!(shared acl_provider_with_acl_set_acl_get_acl, |srv| {
    let root = support::unique_root("aclp");
    let ns = root.trim_start_matches('/').to_string();
    let client = srv
        .curator_builder()
        .namespace(&ns)
        .authorization("digest", b"keeper:k3y")
        .acl_provider(VaultAcl)
        .build()
        .unwrap();
    client.start().unwrap();
    // The provider sees the full path (namespace included): under the namespace nothing is
    // at /vault, so those nodes are open...
    client.create().creating_parents_if_needed().for_path("/vault/a/b").unwrap();
    assert_eq!(client.get_acl().for_path("/vault/a/b").unwrap(), Acl::open_unsafe());
    client.close();
    // ...and without a namespace the provider's per-path ACL applies, to parents as well.
    let client = srv
        .curator_builder()
        .authorization("digest", b"keeper:k3y")
        .acl_provider(VaultAcl)
        .build()
        .unwrap();
    client.start().unwrap();
    let vault = format!("/vault{root}");
    client
        .create()
        .creating_parents_if_needed()
        .for_path_with_data(&format!("{vault}/gold"), b"au")
        .unwrap();
    let keeper = vec![Acl::new(Perms::ALL, digest("keeper", "k3y"))];
    assert_eq!(client.get_acl().for_path(&vault).unwrap(), keeper);
    assert_eq!(client.get_acl().for_path(&format!("{vault}/gold")).unwrap(), keeper);
    // Outside /vault: the default.
    let open = format!("{root}-open");
    client.create().for_path(&open).unwrap();
    assert_eq!(client.get_acl().for_path(&open).unwrap(), Acl::open_unsafe());
    // with_acl overrides the provider.
    let custom = vec![Acl::new(Perms::READ | Perms::ADMIN, Id::anyone())];
    client
        .create()
        .with_acl(&custom)
        .for_path(&format!("{vault}/public"))
        .unwrap();
    assert_eq!(
        client.get_acl().for_path(&format!("{vault}/public")).unwrap(),
        custom
    );
    // set_acl with a version, get_acl with the stat.
    let mut stat = zk_curator::Stat::default();
    client
        .get_acl()
        .storing_stat_in(&mut stat)
        .for_path(&open)
        .unwrap();
    client
        .set_acl()
        .with_version(stat.aversion)
        .with_acl(&keeper)
        .for_path(&open)
        .unwrap();
    assert_eq!(client.get_acl().for_path(&open).unwrap(), keeper);
    let e = client
        .set_acl()
        .with_version(stat.aversion)
        .with_acl(&custom)
        .for_path(&open)
        .unwrap_err();
    assert!(matches!(e, Error::BadVersion { .. }), "{e}");
    // Another client without the credentials is refused.
    let stranger = srv.curator();
    let e = stranger.get_data().for_path(&format!("{vault}/gold")).unwrap_err();
    assert!(matches!(e, Error::NoAuth { .. }), "{e}");
    stranger.close();
    client.close();
});
