//! Apache's own Java client (zkCli, `org.apache.zookeeper.ZooKeeperMain`) against the test
//! server: create, get with a watch, set, ls, stat, delete. Skipped without Java unless
//! `ZK_REQUIRE_REAL=1`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use zk_curator::testing::TestingServer;

const JAR: &str = "/usr/share/java/zookeeper.jar";
const LOG_JAR: &str = "/usr/share/java/slf4j-simple.jar";

fn java_available() -> bool {
    let ok = std::path::Path::new(JAR).exists()
        && Command::new("java")
            .arg("-version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("ZK_REQUIRE_REAL").as_deref() != Ok("1"),
            "ZK_REQUIRE_REAL=1 but Java or {JAR} is missing"
        );
        eprintln!("skipping: no Java");
    }
    ok
}

/// Runs zkCli with `commands` on stdin and returns its stdout+stderr.
fn zkcli(connect: &str, commands: &str) -> String {
    let mut child = Command::new("java")
        .args([
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp",
            &format!("{JAR}:{LOG_JAR}"),
            "org.apache.zookeeper.ZooKeeperMain",
            "-server",
            connect,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("java");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(commands.as_bytes())
        .expect("write commands");
    // Bounded wait: zkCli exits on `quit`.
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("zkCli did not finish");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn zkcli_create_get_watch_set_ls_delete() {
    if !java_available() {
        return;
    }
    let server = TestingServer::start().unwrap();
    let out = zkcli(
        &server.connect_string(),
        "create /zkcli hello\nget -w /zkcli\nset /zkcli world\nls /\nget -s /zkcli\n\
         create -e /zkcli/eph x\nstat /zkcli\ndelete /zkcli\ndeleteall /zkcli\nls /\nquit\n",
    );
    for want in [
        "Created /zkcli",
        "hello",
        "WatchedEvent state:SyncConnected type:NodeDataChanged path:/zkcli",
        "[zkcli, zookeeper]",
        "world",
        "cZxid = 0x2",
        "mZxid = 0x3",
        "dataVersion = 1",
        "dataLength = 5",
        "Created /zkcli/eph",
        "numChildren = 1",
        "Node not empty: /zkcli",
        "[zookeeper]",
    ] {
        assert!(
            out.contains(want),
            "missing {want:?} in zkCli output:\n{out}"
        );
    }
    assert!(server.dump().lines().count() == 4, "{}", server.dump());
}
