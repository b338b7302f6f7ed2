//! The service instance JSON against Java Curator 5.4's: the fixtures in
//! tests/fixtures/discovery/ are the bytes Curator's `JsonInstanceSerializer` wrote (by
//! tests/java/DiscoveryAgent.java --write-fixtures). zk-curator must read each of them into
//! the instance Java serialized and write that instance back to the same bytes; with Java
//! present, the fixtures are generated again and compared, and Java reads back (and writes
//! again, byte for byte) what zk-curator writes.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use support::curator::CuratorJava;
use zk_curator::discovery::{
    InstanceSerializer, JsonInstanceSerializer, ServiceInstance, ServiceType, UriSpec,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/discovery");

/// The Java payload class `InstanceDetails` of DiscoveryAgent.java.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct InstanceDetails {
    description: String,
    weight: i32,
    tags: Vec<String>,
    ratio: f64,
}

fn fixture(name: &str) -> Vec<u8> {
    fs::read(Path::new(FIXTURES).join(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn details() -> InstanceDetails {
    InstanceDetails {
        description: "orders \"eu\" \u{2713} tab\there \u{1f}".into(),
        weight: 7,
        tags: vec!["blue".into(), "green".into()],
        ratio: 0.25,
    }
}

fn rich(full: bool) -> ServiceInstance<InstanceDetails> {
    let b = ServiceInstance::builder()
        .name("orders")
        .id("5d1c8a0e-3b6f-4c2a-9e7d-1f2a3b4c5d6e")
        .address("10.20.30.40")
        .port(8080)
        .ssl_port(8443)
        .payload(details())
        .registration_time_utc(1_700_000_000_000)
        .uri_spec(UriSpec::new("{scheme}://{address}:{port}/api/{ id }[literal]").unwrap());
    if full {
        b.enabled(false)
            .service_type(ServiceType::Permanent)
            .build()
            .unwrap()
    } else {
        b.build().unwrap()
    }
}

fn plain<P>(id: &str, payload: P, t: ServiceType) -> ServiceInstance<P> {
    ServiceInstance::builder()
        .name("plain")
        .id(id)
        .address("10.0.0.1")
        .port(80)
        .payload(payload)
        .registration_time_utc(1_600_000_000_000)
        .service_type(t)
        .build()
        .unwrap()
}

fn minimal() -> ServiceInstance<()> {
    ServiceInstance::builder()
        .name("minimal")
        .id("min")
        .no_address()
        .registration_time_utc(0)
        .service_type(ServiceType::DynamicSequential)
        .build()
        .unwrap()
}

fn compat<P: Serialize + DeserializeOwned + 'static>() -> JsonInstanceSerializer<P> {
    JsonInstanceSerializer::new()
}

fn full<P: Serialize + DeserializeOwned + 'static>() -> JsonInstanceSerializer<P> {
    JsonInstanceSerializer::new().compatible_serialization_mode(false)
}

/// `file` is what Java wrote for `expected`: read it, write it, and carry it raw.
fn check<P>(file: &str, s: JsonInstanceSerializer<P>, expected: &ServiceInstance<P>, full: bool)
where
    P: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug + Send + Sync + 'static,
{
    let bytes = fixture(file);
    assert_eq!(&s.deserialize(&bytes).unwrap(), expected, "{file}: read");
    let ours = s.serialize(expected).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&bytes),
        "{file}: written"
    );
    // Raw, the payload comes back with the same content; its members in sorted order
    // (serde_json's maps are sorted; JSON objects are unordered and Jackson reads them in
    // any order), so byte for byte where they already were.
    let raw = JsonInstanceSerializer::<Value>::new().compatible_serialization_mode(!full);
    let again = raw.serialize(&raw.deserialize(&bytes).unwrap()).unwrap();
    let parse = |b: &[u8]| serde_json::from_slice::<Value>(b).unwrap();
    assert_eq!(parse(&again), parse(&bytes), "{file}: raw round trip");
    if !file.contains("pojo") {
        assert_eq!(again, bytes, "{file}: raw round trip, byte for byte");
    }
}

#[test]
fn java_fixtures_read_and_write_as_rust_instances() {
    let pojo = || compat::<InstanceDetails>().payload_class("InstanceDetails");
    check("compat-pojo.json", pojo(), &rich(false), false);
    check(
        "full-pojo.json",
        full().payload_class("InstanceDetails"),
        &rich(true),
        true,
    );
    let map: BTreeMap<String, Value> = BTreeMap::from([
        ("weight".to_string(), Value::from(3)),
        ("zone".to_string(), Value::from("eu-1")),
    ]);
    check(
        "compat-map.json",
        compat(),
        &plain("map", map, ServiceType::Dynamic),
        false,
    );
    check(
        "compat-string.json",
        compat(),
        &plain("string", "plain text".to_string(), ServiceType::Static),
        false,
    );
    check(
        "compat-list.json",
        compat(),
        &plain(
            "list",
            vec!["a".to_string(), "b".to_string()],
            ServiceType::Dynamic,
        ),
        false,
    );
    check(
        "compat-long.json",
        compat().payload_class("java.lang.Long"),
        &plain("long", 12_345_678_901i64, ServiceType::Dynamic),
        false,
    );
    check(
        "compat-int.json",
        compat(),
        &plain("int", 42i32, ServiceType::Dynamic),
        false,
    );
    check(
        "compat-double.json",
        compat(),
        &plain("double", 1.0e10f64, ServiceType::Dynamic),
        false,
    );
    check(
        "compat-bool.json",
        compat(),
        &plain("bool", true, ServiceType::Dynamic),
        false,
    );
    check("compat-minimal.json", compat(), &minimal(), false);
    check("full-minimal.json", full(), &minimal(), true);
}

#[test]
fn a_java_payload_class_rust_does_not_model_reads_raw() {
    let raw = JsonInstanceSerializer::<Value>::new();
    let i = raw.deserialize(&fixture("compat-pojo.json")).unwrap();
    let p = i.payload().unwrap();
    assert_eq!(p["@class"], "InstanceDetails");
    assert_eq!(p["tags"], serde_json::json!(["blue", "green"]));
    // The typed reading of the same bytes, from the raw instance's payload.
    let typed: InstanceDetails = {
        let mut m = p.clone();
        m.as_object_mut().unwrap().remove("@class");
        serde_json::from_value(m).unwrap()
    };
    assert_eq!(typed, details());
    assert_eq!(
        i.build_uri_spec(),
        "https://10.20.30.40:8080/api/5d1c8a0e-3b6f-4c2a-9e7d-1f2a3b4c5d6e[literal]"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex from Java"))
        .collect()
}

#[test]
fn fixtures_are_what_java_writes() {
    let Some(java) = CuratorJava::get() else {
        return;
    };
    if !java.has_discovery() {
        panic!("Java Curator is here but curator-x-discovery is not (libcurator-discovery-java)");
    }
    let dir = support::jvm::TempDir::new("discovery-fixtures").unwrap();
    let dir_arg = dir.path().display().to_string();
    java.run("DiscoveryAgent", &["--write-fixtures", &dir_arg], "");
    let mut names: Vec<String> = fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut generated: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    generated.sort();
    assert_eq!(names, generated, "the fixture set is the generator's");
    for n in &names {
        assert_eq!(
            String::from_utf8_lossy(&fs::read(dir.path().join(n)).unwrap()),
            String::from_utf8_lossy(&fixture(n)),
            "{n}: the stored fixture is not what Java writes now"
        );
    }
}

#[test]
fn java_reads_and_rewrites_what_rust_writes() {
    let Some(java) = CuratorJava::get() else {
        return;
    };
    // Rust-made instances: the fixtures' and some with defaults and odd text.
    let pojo = compat::<InstanceDetails>().payload_class("InstanceDetails");
    let pojo_full = full::<InstanceDetails>().payload_class("InstanceDetails");
    let mut compat_docs = vec![
        pojo.serialize(&rich(false)).unwrap(),
        pojo.serialize(&rich(true)).unwrap(),
        compat().serialize(&minimal()).unwrap(),
    ];
    let mut full_docs = vec![
        pojo_full.serialize(&rich(false)).unwrap(),
        pojo_full.serialize(&rich(true)).unwrap(),
        full().serialize(&minimal()).unwrap(),
    ];
    let odd = ServiceInstance::builder()
        .name("odd \\ \" \u{2713}")
        .address("fd00::2 / \u{1} \u{1f} \u{7f} \u{1f600} \u{10ffff}")
        .ssl_port(1)
        .payload(BTreeMap::from([(
            "nested".to_string(),
            serde_json::json!({"a": [1, 2.5, null, -1e-7]}),
        )]))
        .uri_spec(UriSpec::new("{scheme}://{address}:{ssl-port}{[}{]}").unwrap())
        .build()
        .unwrap();
    compat_docs.push(compat().serialize(&odd).unwrap());
    full_docs.push(full().serialize(&odd).unwrap());
    let defaults = ServiceInstance::<()>::builder()
        .name("defaults")
        .build()
        .unwrap();
    compat_docs.push(compat().serialize(&defaults).unwrap());
    full_docs.push(
        full()
            .serialize(&defaults.to_builder().enabled(false).build().unwrap())
            .unwrap(),
    );

    for (mode, docs) in [("compat", &compat_docs), ("full", &full_docs)] {
        let input: String = docs.iter().map(|d| hex(d) + "\n").collect();
        let out = java.run("DiscoveryAgent", &["--roundtrip", mode], &input);
        let back: Vec<Vec<u8>> = out.lines().map(unhex).collect();
        assert_eq!(back.len(), docs.len(), "{mode}: one answer per document");
        for (ours, theirs) in docs.iter().zip(&back) {
            assert_eq!(
                String::from_utf8_lossy(theirs),
                String::from_utf8_lossy(ours),
                "{mode}: Java wrote back something else"
            );
        }
    }
}
