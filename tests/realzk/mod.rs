//! A minimal private launcher for a real Apache ZooKeeper 3.8 standalone server (the Debian
//! jars), used until the shared harness (`tests/support/`, branch issue3-tests) lands on
//! main; then this file goes and the tests use `RealServer` from there.
//!
//! `RealZk::start()` returns `None` (the test skips) when Java or the jar is missing, unless
//! `ZK_REQUIRE_REAL=1`, which turns that into a panic.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const JAR: &str = "/usr/share/java/zookeeper.jar";
const LOG_JAR: &str = "/usr/share/java/slf4j-simple.jar";

pub struct RealZk {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn ask(port: u16, word: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

impl RealZk {
    /// Starts a fresh server (tickTime 2000, 4lw all, extended types, containers checked
    /// hourly so that a test decides when they go).
    pub fn start() -> Option<RealZk> {
        let required = std::env::var("ZK_REQUIRE_REAL").is_ok_and(|v| v == "1");
        let java_ok = Command::new("java")
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !java_ok || !Path::new(JAR).exists() {
            assert!(!required, "ZK_REQUIRE_REAL=1 but Java or {JAR} is missing");
            eprintln!("skipping: real ZooKeeper not available");
            return None;
        }
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("zk-curator-real-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).ok()?;
        let cfg = format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n\
             extendedTypesEnabled=true\nautopurge.purgeInterval=0\n",
            dir.join("data").display()
        );
        std::fs::write(dir.join("zoo.cfg"), cfg).ok()?;
        let log = std::fs::File::create(dir.join("server.log")).ok()?;
        let child = Command::new("java")
            .args([
                "-Xms32m",
                "-Xmx256m",
                "-XX:+UseSerialGC",
                "-Dzookeeper.admin.enableServer=false",
                "-Dznode.container.checkIntervalMs=3600000",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp",
                &format!("{JAR}:{LOG_JAR}"),
                "org.apache.zookeeper.server.ZooKeeperServerMain",
            ])
            .arg(dir.join("zoo.cfg"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .ok()?;
        let zk = RealZk { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if ask(port, "srvr").is_some_and(|s| s.contains("Mode: standalone")) {
                return Some(zk);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("real ZooKeeper did not start; see {}", zk.dir.display());
    }

    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for RealZk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
