//! Rust and Java services in one registry: Java Curator 5.4's curator-x-discovery
//! (tests/java/DiscoveryAgent.java) and zk-curator's discovery on one server, each finding
//! the other's instances with every field as registered, and seeing them leave when their
//! session ends and come back when the owner is connected again.

mod support;

use std::sync::{mpsc, Arc, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use support::curator::{CuratorJava, JavaAgent};
use support::proxy::{outage, proxied_client, Proxy};
use zk_curator::discovery::{
    JsonInstanceSerializer, ServiceCache, ServiceDiscovery, ServiceDiscoveryBuilder,
    ServiceInstance, ServiceType, UriSpec,
};
use zk_curator::CuratorFramework;

const T: Duration = Duration::from_secs(30);

/// The payload class `InstanceDetails` of DiscoveryAgent.java.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct InstanceDetails {
    description: String,
    weight: i32,
    tags: Vec<String>,
    ratio: f64,
}

fn discovery(client: &CuratorFramework, base: &str) -> ServiceDiscovery<InstanceDetails> {
    let d = ServiceDiscoveryBuilder::builder()
        .client(client)
        .base_path(base)
        .serializer(JsonInstanceSerializer::new().payload_class("InstanceDetails"))
        .build()
        .unwrap();
    d.start().unwrap();
    d
}

/// What the agent's `register <name> <id> <port>` registers.
fn java_instance(name: &str, id: &str, port: u16, time: i64) -> ServiceInstance<InstanceDetails> {
    ServiceInstance::builder()
        .name(name)
        .id(id)
        .address("192.0.2.10")
        .port(port)
        .ssl_port(port + 1)
        .payload(InstanceDetails {
            description: format!("java {id}"),
            weight: i32::from(port % 100),
            tags: vec!["java".into(), id.into()],
            ratio: 0.5,
        })
        .registration_time_utc(time)
        .uri_spec(UriSpec::new("{scheme}://{address}:{ssl-port}/v1/{name}").unwrap())
        .build()
        .unwrap()
}

fn rust_instance(name: &str, id: &str) -> ServiceInstance<InstanceDetails> {
    ServiceInstance::builder()
        .name(name)
        .id(id)
        .address("192.0.2.20")
        .port(9090)
        .payload(InstanceDetails {
            description: format!("rust {id}"),
            weight: 7,
            tags: vec!["rust".into(), id.into()],
            ratio: 0.25,
        })
        .uri_spec(
            UriSpec::new("{scheme}://{address}:{port}/{id}?since={registration-time-utc}").unwrap(),
        )
        .build()
        .unwrap()
}

/// The line the agent's `describe` prints for an instance.
fn describe(i: &ServiceInstance<InstanceDetails>) -> String {
    let p = i.payload().unwrap();
    let opt = |v: Option<u16>| v.map_or("null".to_string(), |v| v.to_string());
    format!(
        "{}|{}|{}|{}|{}|description={},weight={},tags=[{}],ratio={}|{}|{}|{}|{}",
        i.id(),
        i.name(),
        i.address().unwrap_or("null"),
        opt(i.port()),
        opt(i.ssl_port()),
        p.description,
        p.weight,
        p.tags.join(", "),
        p.ratio,
        i.registration_time_utc(),
        i.service_type(),
        i.build_uri_spec(),
        i.is_enabled()
    )
}

fn agent(java: &CuratorJava, connect: &str, base: &str) -> JavaAgent {
    let mut a = java.spawn_with_env(
        "DiscoveryAgent",
        &[connect],
        &[("ZK_INTEROP_SESSION_MS", "4000")],
    );
    a.ok(&format!("start {base}"), T);
    a
}

fn java() -> Option<&'static CuratorJava> {
    let java = CuratorJava::get()?;
    assert!(
        java.has_discovery(),
        "Java Curator without curator-x-discovery"
    );
    Some(java)
}

/// Every list of ids a cache had, in order, after each change.
fn record(cache: &Arc<ServiceCache<InstanceDetails>>) -> mpsc::Receiver<Vec<String>> {
    let (tx, rx) = mpsc::channel();
    let weak: Weak<ServiceCache<InstanceDetails>> = Arc::downgrade(cache);
    cache.add_listener(move || {
        if let Some(c) = weak.upgrade() {
            let _ = tx.send(
                c.get_instances()
                    .iter()
                    .map(|i| i.id().to_string())
                    .collect(),
            );
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<Vec<String>>, what: &str, want: &[&str]) {
    let deadline = std::time::Instant::now() + T;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
            Ok(l) if l == want => return,
            Ok(_) => {}
            Err(_) => panic!("the Rust cache never showed {what} ({want:?})"),
        }
    }
}

server_test!(shared rust_finds_java_instances_with_every_field, |srv| {
    let Some(java) = java() else { return };
    let base = support::unique_root("from-java");
    let mut agent = agent(java, &srv.connect_string(), &base);
    let time: i64 = agent.ok("register svc j1 8080", T).parse().unwrap();
    let expected = java_instance("svc", "j1", 8080, time);

    let client = srv.curator();
    let d = discovery(&client, &base);
    assert_eq!(d.query_for_names().unwrap(), ["svc"]);
    assert_eq!(d.query_for_instance("svc", "j1").unwrap(), Some(expected.clone()));
    assert_eq!(d.query_for_instances("svc").unwrap(), vec![expected.clone()]);
    assert_eq!(expected.build_uri_spec(), "https://192.0.2.10:8081/v1/svc");

    // The same registration for a reader that does not model the payload class.
    let raw = ServiceDiscoveryBuilder::<serde_json::Value>::builder()
        .client(&client)
        .base_path(&base)
        .build()
        .unwrap();
    let r = raw.query_for_instance("svc", "j1").unwrap().unwrap();
    assert_eq!(r.payload().unwrap()["@class"], "InstanceDetails");
    assert_eq!(r.payload().unwrap()["tags"], serde_json::json!(["java", "j1"]));

    let provider = d.service_provider_builder().service_name("svc").build().unwrap();
    provider.start().unwrap();
    assert_eq!(*provider.get_instance().unwrap(), expected);

    agent.ok("unregister j1", T);
    assert!(support::wait_until(T, || provider.get_all_instances().is_empty()));
    assert!(agent.stop());
    d.close().unwrap();
    client.close();
});

server_test!(shared java_finds_rust_instances_with_payload_and_uri_spec, |srv| {
    let Some(java) = java() else { return };
    let base = support::unique_root("from-rust");
    let client = srv.curator();
    let d = discovery(&client, &base);
    let r1 = rust_instance("svc", "r1");
    let r2 = rust_instance("svc", "r2")
        .to_builder()
        .ssl_port(9443)
        .service_type(ServiceType::Static)
        .build()
        .unwrap();
    d.register_service(&r1).unwrap();
    d.register_service(&r2).unwrap();

    let mut agent = agent(java, &srv.connect_string(), &base);
    let seen = agent.ok("describe svc", T);
    assert_eq!(seen, format!("{} ; {}", describe(&r1), describe(&r2)));
    assert!(seen.contains("|https://192.0.2.20:9090/r2?since="), "{seen}");

    // Java's cache and a Rust provider over a mixed service.
    agent.ok("register svc j1 8080", T);
    assert_eq!(agent.ok("cache-start svc", T), "j1,r1,r2");
    let provider = d.service_provider_builder().service_name("svc").build().unwrap();
    provider.start().unwrap();
    let mut counts = std::collections::BTreeMap::new();
    for _ in 0..10_000 {
        *counts.entry(provider.get_instance().unwrap().id().to_string()).or_insert(0) += 1;
    }
    assert_eq!(counts.values().copied().collect::<Vec<_>>(), [3334, 3333, 3333], "{counts:?}");

    d.unregister_service(&r1).unwrap();
    agent
        .wait_event(T, |e| e == "changed j1,r2")
        .expect("Java's cache saw r1 leave");
    assert!(agent.stop());
    d.close().unwrap();
    client.close();
});

server_test!(shared instances_leave_with_their_session_and_come_back, |srv| {
    let Some(java) = java() else { return };
    let base = support::unique_root("sessions");
    let proxy = Proxy::start(&srv.connect_string());
    let owner = proxied_client(&proxy);
    let d = discovery(&owner, &base);
    d.register_service(&rust_instance("svc", "rust")).unwrap();
    let mut agent = agent(java, &srv.connect_string(), &base);
    agent.ok("register svc java 8080", T);
    assert_eq!(agent.ok("cache-start svc", T), "java,rust");

    let observer = srv.curator();
    let od = discovery(&observer, &base);
    let cache = Arc::new(od.service_cache_builder().name("svc").build().unwrap());
    let changes = record(&cache);
    cache.start().unwrap();

    // The Rust owner's session expires while it is cut off: Java sees its instance go;
    // connected again, the owner registers it in its new session and Java sees it back.
    outage(srv, &proxy, &owner, true, || {
        agent
            .wait_event(T, |e| e == "changed java")
            .expect("Java's cache saw the Rust instance leave");
        wait_for(&changes, "the Rust instance gone", &["java"]);
    });
    agent
        .wait_event(T, |e| e == "changed java,rust")
        .expect("Java's cache saw the Rust instance come back");
    wait_for(&changes, "the Rust instance back", &["java", "rust"]);

    // Java's session expires (as Curator's own tests expire one): its discovery registers
    // again in the new session, and the Rust cache sees the instance go and come back.
    agent.ok("expire-session", T);
    wait_for(&changes, "the Java instance gone", &["rust"]);
    wait_for(&changes, "the Java instance back", &["java", "rust"]);
    let back = od.query_for_instance("svc", "java").unwrap().unwrap();
    assert_eq!(back.payload().unwrap().description, "java java");

    assert!(agent.stop());
    cache.close();
    d.close().unwrap();
    owner.close();
    observer.close();
});
