//! Service discovery against both server kinds: the registry's layout, registrations kept
//! across session loss and foreign deletes, caches and their listeners, providers and their
//! strategies over 10,000 picks, the down-instance policy, and registry data written by a
//! third party that is not an instance.

mod support;

use std::collections::BTreeMap;
use std::sync::{mpsc, Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use support::proxy::{outage, proxied_client, Proxy};
use support::wait_until;
use zk_curator::discovery::{
    DownInstancePolicy, JsonInstanceSerializer, RandomStrategy, RoundRobinStrategy, ServiceCache,
    ServiceCacheListener, ServiceDiscovery, ServiceDiscoveryBuilder, ServiceInstance, ServiceType,
    StickyStrategy,
};
use zk_curator::{ConnectionState, CreateMode, CuratorFramework, Error};

const T: Duration = Duration::from_secs(30);

fn discovery(client: &CuratorFramework, base: &str) -> ServiceDiscovery<String> {
    let d = ServiceDiscoveryBuilder::<String>::builder()
        .client(client)
        .base_path(base)
        .build()
        .unwrap();
    d.start().unwrap();
    d
}

fn instance(name: &str, id: &str, t: ServiceType) -> ServiceInstance<String> {
    ServiceInstance::builder()
        .name(name)
        .id(id)
        .address("192.0.2.1")
        .port(8000)
        .payload(format!("payload of {id}"))
        .service_type(t)
        .build()
        .unwrap()
}

fn session(c: &CuratorFramework) -> i64 {
    c.zookeeper_client().zookeeper().unwrap().session_id()
}

fn ids(instances: &[Arc<ServiceInstance<String>>]) -> Vec<String> {
    instances.iter().map(|i| i.id().to_string()).collect()
}

/// Every list of ids a cache had, in order, after each change.
fn record(cache: &Arc<ServiceCache<String>>) -> mpsc::Receiver<Vec<String>> {
    let (tx, rx) = mpsc::channel();
    let weak: Weak<ServiceCache<String>> = Arc::downgrade(cache);
    cache.add_listener(move || {
        if let Some(c) = weak.upgrade() {
            let _ = tx.send(ids(&c.get_instances()));
        }
    });
    rx
}

/// Waits for a recorded list satisfying `pred`.
fn wait_for(rx: &mpsc::Receiver<Vec<String>>, what: &str, pred: impl Fn(&[String]) -> bool) {
    let deadline = std::time::Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(list) if pred(&list) => return,
            Ok(_) => {}
            Err(_) => panic!("the cache never showed {what}"),
        }
    }
}

server_test!(shared registers_queries_updates_and_unregisters, |srv| {
    let base = support::unique_root("discovery");
    let client = srv.curator();
    let a = instance("svc", "a", ServiceType::Dynamic);
    let d = ServiceDiscoveryBuilder::<String>::builder()
        .client(&client)
        .base_path(&base)
        .this_instance(a.clone())
        .build()
        .unwrap();
    assert_eq!(d.query_for_names().unwrap(), Vec::<String>::new());
    d.start().unwrap();
    assert!(d.start().is_err(), "started twice");
    let s = instance("svc", "s", ServiceType::Static);
    let p = instance("svc", "p", ServiceType::Permanent);
    let q = instance("svc", "q-", ServiceType::DynamicSequential);
    for i in [&s, &p, &q] {
        d.register_service(i).unwrap();
    }

    // The layout: basePath/name/id, ephemeral for the dynamic types.
    let me = session(&client);
    let stat = |node: &str| client.check_exists().for_path(&format!("{base}/svc/{node}")).unwrap();
    assert_eq!(stat("a").unwrap().ephemeral_owner, me);
    assert_eq!(stat("s").unwrap().ephemeral_owner, 0);
    assert_eq!(stat("p").unwrap().ephemeral_owner, 0);
    let children = client.get_children().for_path(&format!("{base}/svc")).unwrap();
    let seq = children.iter().find(|c| c.starts_with("q-")).expect("the sequential node");
    assert_eq!(seq.len(), "q-".len() + 10, "{seq}");
    assert_eq!(stat(seq).unwrap().ephemeral_owner, me);

    assert_eq!(d.query_for_names().unwrap(), ["svc"]);
    let found = d.query_for_instances("svc").unwrap();
    assert_eq!(found, vec![a.clone(), p.clone(), q.clone(), s.clone()]);
    assert_eq!(d.query_for_instance("svc", "s").unwrap(), Some(s.clone()));
    assert_eq!(d.query_for_instance("svc", "nope").unwrap(), None);
    assert_eq!(d.query_for_instances("other").unwrap(), vec![]);
    assert!(matches!(d.query_for_instance("svc", "a/b"), Err(Error::InvalidArgument(_))));

    let a2 = a.to_builder().payload("changed".into()).port(9000).build().unwrap();
    d.update_service(&a2).unwrap();
    assert_eq!(d.query_for_instance("svc", "a").unwrap(), Some(a2.clone()));
    assert_eq!(d.get_registered_service("a"), Some(a2.clone()));
    let stranger = instance("svc", "stranger", ServiceType::Dynamic);
    assert!(matches!(d.update_service(&stranger), Err(Error::InvalidArgument(_))));
    d.unregister_service(&stranger).unwrap();

    // The sequential registration's own node is what goes (Curator would miss it).
    d.unregister_service(&q).unwrap();
    d.unregister_service(&s).unwrap();
    assert_eq!(ids_of(&d), ["a", "p"]);
    // Registering again replaces the node (deleted and created, so watchers see it).
    let czxid = stat("p").unwrap().czxid;
    d.register_service(&p).unwrap();
    assert!(stat("p").unwrap().czxid > czxid);

    d.close().unwrap();
    assert!(d.query_for_instances("svc").unwrap().is_empty(), "close unregisters");
    assert!(matches!(d.register_service(&a), Err(Error::InvalidArgument(_))));
    client.close();
});

fn ids_of(d: &ServiceDiscovery<String>) -> Vec<String> {
    d.query_for_instances("svc")
        .unwrap()
        .iter()
        .map(|i| i.id().to_string())
        .collect()
}

server_test!(shared dynamic_instances_come_back_after_session_expiry, |srv| {
    let base = support::unique_root("expiry");
    // Behind a proxy, so that the session can be expired while its owner is cut off.
    let proxy = Proxy::start(&srv.connect_string());
    let owner = proxied_client(&proxy);
    let d = discovery(&owner, &base);
    d.register_service(&instance("svc", "dyn", ServiceType::Dynamic)).unwrap();
    d.register_service(&instance("svc", "static", ServiceType::Static)).unwrap();
    let static_czxid = owner
        .check_exists()
        .for_path(&format!("{base}/svc/static"))
        .unwrap()
        .unwrap()
        .czxid;

    let watcher = srv.curator();
    let wd = discovery(&watcher, &base);
    let cache = Arc::new(wd.service_cache_builder().name("svc").build().unwrap());
    let changes = record(&cache);
    cache.start().unwrap();
    assert_eq!(ids(&cache.get_instances()), ["dyn", "static"]);

    let old_session = session(&owner);
    outage(srv, &proxy, &owner, true, || {
        wait_for(&changes, "the dynamic instance gone", |l| l == ["static"]);
    });
    wait_for(&changes, "the dynamic instance back", |l| l == ["dyn", "static"]);
    let stat = owner
        .check_exists()
        .for_path(&format!("{base}/svc/dyn"))
        .unwrap()
        .unwrap();
    assert_ne!(stat.ephemeral_owner, old_session);
    assert_eq!(stat.ephemeral_owner, session(&owner));
    // The persistent registration outlived the session untouched.
    let s = owner.check_exists().for_path(&format!("{base}/svc/static")).unwrap().unwrap();
    assert_eq!(s.czxid, static_czxid);

    cache.close();
    drop(d); // dropping unregisters
    assert!(wd.query_for_instances("svc").unwrap().is_empty());
    owner.close();
    watcher.close();
});

server_test!(shared foreign_deletes_are_repaired_for_dynamic_instances_only, |srv| {
    let base = support::unique_root("foreign");
    let owner = srv.curator();
    let d = discovery(&owner, &base);
    let dynamic = instance("svc", "dyn", ServiceType::Dynamic);
    d.register_service(&instance("svc", "static", ServiceType::Static)).unwrap();
    d.register_service(&dynamic).unwrap();
    d.register_service(&instance("svc", "seq-", ServiceType::DynamicSequential)).unwrap();
    let other = srv.curator();
    let node = |n: &str| format!("{base}/svc/{n}");
    let seq = other
        .get_children()
        .for_path(&format!("{base}/svc"))
        .unwrap()
        .into_iter()
        .find(|c| c.starts_with("seq-"))
        .unwrap();

    other.delete().for_path(&node("static")).unwrap();
    other.delete().for_path(&node("dyn")).unwrap();
    other.delete().for_path(&node(&seq)).unwrap();
    assert!(wait_until(T, || {
        other.check_exists().for_path(&node("dyn")).unwrap().is_some()
    }));
    assert!(wait_until(T, || {
        let c = other.get_children().for_path(&format!("{base}/svc")).unwrap();
        c.iter().any(|n| n.starts_with("seq-") && *n != seq)
    }));
    let restored = d.query_for_instance("svc", "dyn").unwrap().unwrap();
    assert_eq!(restored, dynamic);
    // The static registration's repair ran first (one worker, in event order): it stays
    // deleted, as in Curator, until the next reconnect rewrites it.
    assert!(other.check_exists().for_path(&node("static")).unwrap().is_none());
    d.close().unwrap();
    assert!(other.get_children().for_path(&format!("{base}/svc")).unwrap().is_empty());
    owner.close();
    other.close();
});

server_test!(shared watch_instances_adopts_foreign_changes, |srv| {
    let base = support::unique_root("watched");
    let owner = srv.curator();
    let other = srv.curator();
    let path = format!("{base}/svc/w");
    let serializer = JsonInstanceSerializer::<String>::new();
    let edited = instance("svc", "w", ServiceType::Dynamic)
        .to_builder()
        .payload("edited elsewhere".into())
        .build()
        .unwrap();
    let edited_bytes = zk_curator::discovery::InstanceSerializer::serialize(&serializer, &edited).unwrap();

    for watch in [true, false] {
        let d = ServiceDiscoveryBuilder::<String>::builder()
            .client(&owner)
            .base_path(&base)
            .watch_instances(watch)
            .build()
            .unwrap();
        d.start().unwrap();
        let mine = instance("svc", "w", ServiceType::Dynamic);
        d.register_service(&mine).unwrap();
        other.set_data().for_path(&path, &edited_bytes).unwrap();
        if watch {
            assert!(wait_until(T, || d.get_registered_service("w") == Some(edited.clone())));
        }
        // A re-registration writes what the discovery holds.
        other.delete().for_path(&path).unwrap();
        let expected = if watch { &edited } else { &mine };
        assert!(
            wait_until(T, || d.query_for_instance("svc", "w").ok().flatten().as_ref() == Some(expected)),
            "watch_instances({watch})"
        );
        d.close().unwrap();
    }
    owner.close();
    other.close();
});

server_test!(shared provider_strategies_distribute_as_documented, |srv| {
    let base = support::unique_root("strategies");
    let client = srv.curator();
    let d = discovery(&client, &base);
    let names = ["i0", "i1", "i2", "i3"];
    for id in names {
        d.register_service(&instance("svc", id, ServiceType::Dynamic)).unwrap();
    }
    const PICKS: usize = 10_000;
    let count = |picks: &[String]| {
        let mut m = BTreeMap::new();
        for p in picks {
            *m.entry(p.clone()).or_insert(0usize) += 1;
        }
        m
    };

    // Round robin: in node order, each exactly a quarter.
    let rr = d.service_provider_builder().service_name("svc").build().unwrap();
    rr.start().unwrap();
    let picks: Vec<String> = (0..PICKS).map(|_| rr.get_instance().unwrap().id().to_string()).collect();
    assert_eq!(&picks[..5], ["i0", "i1", "i2", "i3", "i0"]);
    assert!(count(&picks).values().all(|&n| n == PICKS / 4), "{:?}", count(&picks));

    // Random: each near a quarter (2500; standard deviation 43, allowed ±300).
    let random = d
        .service_provider_builder()
        .service_name("svc")
        .provider_strategy(RandomStrategy::new())
        .build()
        .unwrap();
    random.start().unwrap();
    let picks: Vec<String> = (0..PICKS).map(|_| random.get_instance().unwrap().id().to_string()).collect();
    let c = count(&picks);
    assert_eq!(c.len(), 4, "{c:?}");
    assert!(c.values().all(|&n| (2200..=2800).contains(&n)), "{c:?}");

    // Sticky: one instance for as long as it is registered, then another.
    let sticky = Arc::new(StickyStrategy::new(RoundRobinStrategy::new()));
    let sp = d
        .service_provider_builder()
        .service_name("svc")
        .provider_strategy(sticky.clone())
        .build()
        .unwrap();
    sp.start().unwrap();
    let picks: Vec<String> = (0..PICKS).map(|_| sp.get_instance().unwrap().id().to_string()).collect();
    assert_eq!(count(&picks).len(), 1);
    assert_eq!(sticky.instance_number(), 0);
    let first = picks[0].clone();
    d.unregister_service(&instance("svc", &first, ServiceType::Dynamic)).unwrap();
    assert!(wait_until(T, || sp.get_all_instances().len() == 3));
    let picks: Vec<String> = (0..PICKS).map(|_| sp.get_instance().unwrap().id().to_string()).collect();
    assert_eq!(count(&picks).len(), 1);
    assert_ne!(picks[0], first);
    assert_eq!(sticky.instance_number(), 1);

    d.close().unwrap(); // closes the providers
    client.close();
});

server_test!(shared providers_leave_out_down_disabled_and_filtered_instances, |srv| {
    let base = support::unique_root("down");
    let client = srv.curator();
    // `enabled` is only stored outside compatible mode.
    let d = ServiceDiscoveryBuilder::<String>::builder()
        .client(&client)
        .base_path(&base)
        .serializer(JsonInstanceSerializer::new().compatible_serialization_mode(false))
        .build()
        .unwrap();
    d.start().unwrap();
    for id in ["a", "b", "c", "filtered"] {
        d.register_service(&instance("svc", id, ServiceType::Dynamic)).unwrap();
    }
    let off = instance("svc", "off", ServiceType::Dynamic).to_builder().enabled(false).build().unwrap();
    d.register_service(&off).unwrap();
    let provider = d
        .service_provider_builder()
        .service_name("svc")
        .additional_filter(|i: &ServiceInstance<String>| i.id() != "filtered")
        .down_instance_policy(DownInstancePolicy::new(Duration::from_millis(1500), 2))
        .build()
        .unwrap();
    provider.start().unwrap();
    assert_eq!(provider.cache().get_instances().len(), 5);
    assert_eq!(ids(&provider.get_all_instances()), ["a", "b", "c"]);

    let b = provider.get_all_instances()[1].clone();
    provider.note_error(&b);
    assert_eq!(ids(&provider.get_all_instances()), ["a", "b", "c"], "one error is not down");
    provider.note_error(&b);
    assert_eq!(ids(&provider.get_all_instances()), ["a", "c"]);
    for _ in 0..1000 {
        assert_ne!(provider.get_instance().unwrap().id(), "b");
    }
    // The record expires with the policy's timeout.
    assert!(wait_until(T, || provider.get_all_instances().len() == 3));
    provider.close();
    d.close().unwrap();
    client.close();
});

/// Warnings logged by the crate, captured for this binary.
fn warnings() -> &'static Mutex<Vec<String>> {
    static LOGS: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    struct Capture;
    impl log::Log for Capture {
        fn enabled(&self, m: &log::Metadata<'_>) -> bool {
            m.level() <= log::Level::Warn
        }
        fn log(&self, r: &log::Record<'_>) {
            if self.enabled(r.metadata()) {
                if let Some(l) = LOGS.get() {
                    l.lock().unwrap().push(r.args().to_string());
                }
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: Capture = Capture;
    LOGS.get_or_init(|| {
        let _ = log::set_logger(&LOGGER);
        log::set_max_level(log::LevelFilter::Warn);
        Mutex::new(Vec::new())
    })
}

fn warned_about(path: &str) -> bool {
    warnings().lock().unwrap().iter().any(|w| w.contains(path))
}

server_test!(shared third_party_junk_is_skipped_with_a_warning, |srv| {
    warnings();
    let base = support::unique_root("junk");
    let client = srv.curator();
    let d = discovery(&client, &base);
    d.register_service(&instance("svc", "good1", ServiceType::Dynamic)).unwrap();
    let writer = srv.curator();
    let put = |node: &str, data: &[u8]| {
        writer
            .create()
            .creating_parents_if_needed()
            .with_mode(CreateMode::Ephemeral)
            .for_path_with_data(&format!("{base}/svc/{node}"), data)
            .unwrap();
    };
    // Present before the cache starts: not JSON, a wrong field type, a wrong payload type.
    put("bad-json", b"{not json");
    put("bad-port", br#"{"name":"svc","id":"bad-port","port":"eighty"}"#);
    put("bad-payload", br#"{"name":"svc","id":"bad-payload","payload":[1,2,3,4]}"#);

    let provider = d.service_provider_builder().service_name("svc").build().unwrap();
    provider.start().unwrap();
    assert_eq!(ids(&provider.get_all_instances()), ["good1"]);
    for node in ["bad-json", "bad-port", "bad-payload"] {
        assert!(warned_about(&format!("{base}/svc/{node}")), "no warning for {node}");
    }
    assert_eq!(ids_of(&d), ["good1"]);
    assert!(matches!(d.query_for_instance("svc", "bad-json"), Err(Error::Serialization(_))));

    // After the start: more junk, and a good instance; the cache keeps working.
    let cache = Arc::new(d.service_cache_builder().name("svc").build().unwrap());
    let changes = record(&cache);
    cache.start().unwrap();
    put("late-junk", b"\xff\xfe");
    d.register_service(&instance("svc", "good2", ServiceType::Dynamic)).unwrap();
    wait_for(&changes, "the second good instance", |l| l == ["good1", "good2"]);
    assert!(wait_until(T, || warned_about(&format!("{base}/svc/late-junk"))));
    assert!(wait_until(T, || provider.get_all_instances().len() == 2));
    for _ in 0..100 {
        assert!(provider.get_instance().unwrap().id().starts_with("good"));
    }
    // A good instance overwritten with junk leaves the list.
    writer.set_data().for_path(&format!("{base}/svc/good1"), b"[]").unwrap();
    wait_for(&changes, "good1 gone", |l| l == ["good2"]);
    assert_eq!(ids(&provider.get_all_instances()), ["good2"]);
    d.close().unwrap();
    client.close();
    writer.close();
});

/// Counts `cache_changed` calls and records connection states.
struct Listener {
    changes: mpsc::Sender<()>,
    states: mpsc::Sender<ConnectionState>,
}

impl ServiceCacheListener for Listener {
    fn cache_changed(&self) {
        let _ = self.changes.send(());
    }

    fn state_changed(&self, _c: &CuratorFramework, s: ConnectionState) {
        let _ = self.states.send(s);
    }
}

server_test!(own cache_listeners_hear_changes_and_connection_states, |srv| {
    let base = "/services";
    let client = srv.curator();
    let d = discovery(&client, base);
    let cache = d.service_cache_builder().name("svc").build().unwrap();
    let (ctx, changes) = mpsc::channel();
    let (stx, states) = mpsc::channel();
    let id = cache.add_listener(Listener { changes: ctx, states: stx });
    cache.start().unwrap();
    assert!(changes.try_recv().is_err(), "the initial load is not a change");

    d.register_service(&instance("svc", "one", ServiceType::Static)).unwrap();
    changes.recv_timeout(T).expect("cache_changed");
    assert_eq!(ids(&cache.get_instances()), ["one"]);

    srv.stop();
    // The client's own Connected may still be on its way to the new listener.
    let first = states.recv_timeout(T).expect("a state after the stop");
    if first == ConnectionState::Connected {
        assert_eq!(states.recv_timeout(T), Ok(ConnectionState::Suspended));
    } else {
        assert_eq!(first, ConnectionState::Suspended);
    }
    srv.restart();
    let s = states.recv_timeout(T).expect("a state after the restart");
    assert!(matches!(s, ConnectionState::Reconnected | ConnectionState::Lost), "{s:?}");

    assert!(cache.remove_listener(id));
    d.register_service(&instance("svc", "two", ServiceType::Static)).unwrap();
    assert!(wait_until(T, || cache.get_instances().len() == 2));
    assert!(changes.try_recv().is_err(), "a removed listener hears nothing");
    cache.close();
    d.close().unwrap();
    client.close();
});

server_test!(shared closing_after_the_client_closed, |srv| {
    let base = support::unique_root("late-close");
    let client = srv.curator();
    let d = discovery(&client, &base);
    d.register_service(&instance("svc", "dyn", ServiceType::Dynamic)).unwrap();
    client.close();
    // The session took the dynamic node with it: nothing to do, nothing to report.
    assert!(d.close().is_ok());

    let client = srv.curator();
    let d = discovery(&client, &base);
    d.register_service(&instance("svc", "static", ServiceType::Static)).unwrap();
    client.close();
    // A persistent node outlives the client: that it stays is an error worth reporting.
    assert!(matches!(d.close(), Err(Error::Closed)));
    let c = srv.curator();
    assert!(c.check_exists().for_path(&format!("{base}/svc/static")).unwrap().is_some());
    assert!(c.check_exists().for_path(&format!("{base}/svc/dyn")).unwrap().is_none());
    c.close();
});

server_test!(own a_cache_that_could_not_start_can_start_later, |srv| {
    let client = srv
        .curator_builder()
        .connection_timeout(Duration::from_secs(1))
        .retry_policy(zk_curator::RetryOneTime::new(Duration::from_millis(10)))
        .build()
        .unwrap();
    client.start().unwrap();
    assert!(client.block_until_connected(T));
    let d = ServiceDiscoveryBuilder::<String>::builder()
        .client(&client)
        .base_path("/services")
        .build()
        .unwrap();
    let cache = d.service_cache_builder().name("svc").build().unwrap();
    srv.stop();
    assert!(cache.start().is_err(), "no server");
    srv.restart();
    assert!(client.block_until_connected(T));
    cache.start().unwrap();
    assert!(cache.start().is_err(), "started twice");
    d.register_service(&instance("svc", "late", ServiceType::Dynamic)).unwrap();
    assert!(wait_until(T, || cache.get_instances().len() == 1));
    cache.close();
    d.close().unwrap();
    client.close();
});
