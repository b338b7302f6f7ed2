//! The `zkcli` binary, run as an operator runs it, against both server kinds
//! (`name::real`, `name::in_process`): each command's output and exit code, usage errors (2),
//! ZooKeeper errors (1, stderr naming the kind and the path), deleteall's question, hex and
//! base64 data, the prompt fed through a pipe, and `watch` printing another client's changes.
//!
//! Error messages are compared by their stable parts (kind, path), not whole sentences.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use support::server::TestServer;
use support::unique_root;
use zk_curator::{Acl, CreateMode, ZooKeeper};

const BIN: &str = env!("CARGO_BIN_EXE_zkcli");

/// The longest a zkcli run may take (an upper bound for a loaded machine).
const DEADLINE: Duration = Duration::from_secs(60);

/// What a finished run left.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    raw_stdout: Vec<u8>,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

fn command(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("ZK_CONNECT")
        .env("ZKCLI_HISTORY", "")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Runs zkcli with `args`, `stdin` as its input, and waits (bounded) for it to exit.
fn zkcli_raw(args: &[&str], stdin: &str) -> Run {
    let mut child = command(args).spawn().expect("start zkcli");
    let mut input = child.stdin.take().expect("stdin");
    let text = stdin.to_string();
    // Written from a thread: a full pipe must not block the wait below.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(text.as_bytes());
    });
    let out = reader(child.stdout.take().expect("stdout"));
    let err = reader(child.stderr.take().expect("stderr"));
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for zkcli") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("zkcli {args:?} did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let _ = writer.join();
    let raw_stdout = out.join().expect("stdout reader");
    let raw_stderr = err.join().expect("stderr reader");
    Run {
        code: status.code().expect("zkcli exited, not killed"),
        stdout: String::from_utf8_lossy(&raw_stdout).into_owned(),
        stderr: String::from_utf8_lossy(&raw_stderr).into_owned(),
        raw_stdout,
    }
}

fn reader(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

/// `zkcli --server <srv> --timeout 20s <args>`.
fn zkcli(srv: &TestServer, args: &[&str]) -> Run {
    zkcli_in(srv, args, "")
}

fn zkcli_in(srv: &TestServer, args: &[&str], stdin: &str) -> Run {
    let server = srv.connect_string();
    let mut all = vec!["--server", &server, "--timeout", "20s"];
    all.extend_from_slice(args);
    zkcli_raw(&all, stdin)
}

/// Asserts success and returns stdout.
#[track_caller]
fn ok(run: Run) -> String {
    assert_eq!(run.code, 0, "{run:?}");
    run.stdout
}

/// Asserts a ZooKeeper error of `kind` about `path` (exit 1).
#[track_caller]
fn zk_error(run: &Run, kind: &str, path: &str) {
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains(kind) && run.stderr.contains(path),
        "stderr should name {kind} and {path}: {run:?}"
    );
    assert!(run.stdout.is_empty(), "{run:?}");
}

/// Asserts a usage error (exit 2) whose message contains `what`.
#[track_caller]
fn usage_error(run: &Run, what: &str) {
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(what),
        "stderr should say {what:?}: {run:?}"
    );
}

fn mk(zk: &ZooKeeper, path: &str, data: &[u8]) {
    zk.create(path, data, &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap_or_else(|e| panic!("create {path}: {e}"));
}

server_test!(shared reads_print_as_zkcli_does, |srv| {
    let zk = srv.connect();
    let root = unique_root("zkcli-read");
    mk(&zk, &root, b"top");
    mk(&zk, &format!("{root}/b"), b"");
    mk(&zk, &format!("{root}/a"), b"hello");
    mk(&zk, &format!("{root}/a/x"), b"");

    assert_eq!(ok(zkcli(srv, &["ls", &root])), "[a, b]\n");
    assert_eq!(
        ok(zkcli(srv, &["ls", "-R", &root])),
        format!("{root}\n{root}/a\n{root}/b\n{root}/a/x\n")
    );
    let ls_s = ok(zkcli(srv, &["ls", "-s", &root]));
    assert!(ls_s.starts_with("[a, b]\ncZxid = 0x"), "{ls_s}");
    assert!(ls_s.contains("\nnumChildren = 2\n"), "{ls_s}");

    assert_eq!(ok(zkcli(srv, &["get", &format!("{root}/a")])), "hello\n");
    let stat = zk.exists(&format!("{root}/a"), false).unwrap().unwrap();
    let get_s = ok(zkcli(srv, &["get", "-s", &format!("{root}/a")]));
    let lines: Vec<&str> = get_s.lines().collect();
    assert_eq!(lines.len(), 12, "{get_s}");
    assert_eq!(lines[0], "hello");
    assert_eq!(lines[1], format!("cZxid = 0x{:x}", stat.czxid));
    assert!(lines[2].starts_with("ctime = ") && lines[2].contains(" UTC "), "{get_s}");
    for (i, name) in ["mZxid", "mtime", "pZxid", "cversion", "dataVersion", "aclVersion"]
        .iter()
        .enumerate()
    {
        assert!(lines[3 + i].starts_with(&format!("{name} = ")), "{get_s}");
    }
    assert_eq!(lines[9], "ephemeralOwner = 0x0");
    assert_eq!(lines[10], "dataLength = 5");
    assert_eq!(lines[11], "numChildren = 1");

    let st = ok(zkcli(srv, &["stat", &root]));
    assert!(st.contains("dataLength = 3\nnumChildren = 2\n"), "{st}");
    assert_eq!(st.lines().count(), 11);

    assert_eq!(
        ok(zkcli(srv, &["getAcl", &root])),
        "'world,'anyone\n: cdrwa\n"
    );
    assert_eq!(ok(zkcli(srv, &["sync", &root])), "Sync is OK\n");
    let who = ok(zkcli(srv, &["whoami"]));
    assert!(who.starts_with("Auth scheme: User\nip: 127.0.0.1"), "{who}");
    assert_eq!(zkcli(srv, &["config"]).code, 0);

    // A chroot in the connect string: paths are relative to it.
    let chrooted = format!("{}{root}", srv.connect_string());
    assert_eq!(
        ok(zkcli_raw(&["--server", &chrooted, "ls", "/"], "")),
        "[a, b]\n"
    );
    assert_eq!(
        ok(zkcli_raw(&["--server", &chrooted, "get", "/a"], "")),
        "hello\n"
    );
});

server_test!(shared writes_change_the_tree, |srv| {
    let zk = srv.connect();
    let root = unique_root("zkcli-write");
    assert_eq!(ok(zkcli(srv, &["create", &root, "v1"])), format!("Created {root}\n"));
    assert_eq!(zk.get_data(&root, false).unwrap().0, b"v1");

    // set, and set with a version.
    assert_eq!(ok(zkcli(srv, &["set", &root, "v2"])), "");
    let set_s = ok(zkcli(srv, &["set", "-s", "-v", "1", &root, "v3"]));
    assert!(set_s.contains("dataVersion = 2\n"), "{set_s}");
    zk_error(&zkcli(srv, &["set", "-v", "7", &root, "x"]), "BadVersion", &root);
    assert_eq!(zk.get_data(&root, false).unwrap().0, b"v3");

    // Create modes.
    let seq = ok(zkcli(srv, &["create", "-s", &format!("{root}/s-"), "x"]));
    assert!(seq.starts_with(&format!("Created {root}/s-00000000")), "{seq}");
    assert_eq!(ok(zkcli(srv, &["create", "-c", &format!("{root}/c")])), format!("Created {root}/c\n"));
    assert_eq!(
        ok(zkcli(srv, &["create", "-t", "10m", &format!("{root}/ttl"), "t"])),
        format!("Created {root}/ttl\n")
    );
    assert_eq!(zk.get_data(&format!("{root}/ttl"), false).unwrap().0, b"t");
    // An ephemeral node lives as long as zkcli's session, and zkcli says so.
    let eph = zkcli(srv, &["create", "-e", &format!("{root}/e")]);
    assert_eq!(eph.code, 0, "{eph:?}");
    assert!(eph.stderr.contains("ephemeral"), "{eph:?}");
    assert!(zk.exists(&format!("{root}/e"), false).unwrap().is_none());
    zk_error(&zkcli(srv, &["create", &root]), "NodeExists", &root);
    zk_error(
        &zkcli(srv, &["create", &format!("{root}/no/parent")]),
        "NoNode",
        &format!("{root}/no/parent"),
    );

    // ACLs.
    let a = format!("{root}/acl");
    ok(zkcli(srv, &["create", &a, "x", "world:anyone:cdrwa"]));
    assert_eq!(ok(zkcli(srv, &["setAcl", &a, "world:anyone:cdr"])), "");
    assert_eq!(ok(zkcli(srv, &["getAcl", &a])), "'world,'anyone\n: cdr\n");
    let gs = ok(zkcli(srv, &["getAcl", "-s", &a]));
    assert!(gs.contains("aclVersion = 1\n"), "{gs}");
    zk_error(&zkcli(srv, &["set", &a, "y"]), "NoAuth", &a);

    // delete, with a version, and a node with children.
    zk_error(&zkcli(srv, &["delete", &root]), "NotEmpty", &root);
    zk_error(&zkcli(srv, &["delete", "-v", "5", &a]), "BadVersion", &a);
    assert_eq!(ok(zkcli(srv, &["delete", "-v", "0", &a])), "");
    assert!(zk.exists(&a, false).unwrap().is_none());
    ok(zkcli(srv, &["deleteall", "-y", &root]));
    assert!(zk.exists(&root, false).unwrap().is_none());
});

server_test!(shared errors_have_exit_codes, |srv| {
    let root = unique_root("zkcli-err");
    let missing = format!("{root}/missing");
    for args in [
        vec!["get", missing.as_str()],
        vec!["ls", missing.as_str()],
        vec!["stat", missing.as_str()],
        vec!["delete", missing.as_str()],
        vec!["getAcl", missing.as_str()],
        vec!["set", missing.as_str(), "x"],
    ] {
        zk_error(&zkcli(srv, &args), "NoNode", &missing);
    }
    usage_error(&zkcli(srv, &["get"]), "usage: get");
    usage_error(&zkcli(srv, &["frobnicate", "/a"]), "unknown command");
    usage_error(&zkcli(srv, &["ls", "-x", "/a"]), "unknown option -x");
    usage_error(&zkcli(srv, &["delete", "-v", "one", "/a"]), "invalid version");
    usage_error(&zkcli(srv, &["create", "-c", "-e", "/a"]), "-c");
    usage_error(&zkcli(srv, &["setAcl", "/a", "world:anyone:rq"]), "invalid permission");
    usage_error(&zkcli(srv, &["history"]), "interactive prompt");
    usage_error(&zkcli(srv, &["get", "no-slash"]), "no-slash");
    usage_error(&zkcli_raw(&["--timeout"], ""), "--timeout needs");
    usage_error(&zkcli_raw(&["--bogus", "ls", "/"], ""), "unknown option --bogus");
    let help = ok(zkcli(srv, &["help"]));
    assert!(help.contains("deleteall [-y] path") && help.contains("watch [-p|-r] path"), "{help}");
    assert!(ok(zkcli_raw(&["--help"], "")).contains("exit codes"));
});

/// Usage errors are found before connecting, and a server that is not there is exit code 1.
#[test]
fn usage_needs_no_server_and_no_server_is_an_error() {
    let start = Instant::now();
    let run = zkcli_raw(&["--server", "127.0.0.1:1", "--timeout", "30s", "get"], "");
    usage_error(&run, "missing the path");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "it waited for a server"
    );
    let run = zkcli_raw(
        &["--server", "127.0.0.1:1", "--timeout", "1s", "ls", "/"],
        "",
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("cannot connect to 127.0.0.1:1"),
        "{run:?}"
    );
    usage_error(&zkcli_raw(&["--server", "", "ls", "/"], ""), "--server");
}

server_test!(shared deleteall_asks_before_deleting, |srv| {
    let zk = srv.connect();
    let root = unique_root("zkcli-deleteall");
    mk(&zk, &root, b"");
    mk(&zk, &format!("{root}/a"), b"");
    mk(&zk, &format!("{root}/a/b"), b"");

    for answer in ["n\n", "", "whatever\n"] {
        let run = zkcli_in(srv, &["deleteall", &root], answer);
        assert_eq!(run.code, 1, "{run:?}");
        assert!(run.stderr.contains(&format!("Delete {root} and the 2 nodes below it? [y/N]")), "{run:?}");
        assert!(run.stderr.contains("not confirmed"), "{run:?}");
        assert!(zk.exists(&format!("{root}/a/b"), false).unwrap().is_some());
    }
    assert_eq!(ok(zkcli_in(srv, &["deleteall", &root], "y\n")), "");
    assert!(zk.exists(&root, false).unwrap().is_none());
    zk_error(&zkcli(srv, &["deleteall", "-y", &root]), "NoNode", &root);

    mk(&zk, &root, b"");
    mk(&zk, &format!("{root}/a"), b"");
    let run = zkcli(srv, &["deleteall", "-y", &root]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stderr.contains("[y/N]"), "-y must not ask: {run:?}");
    assert!(zk.exists(&root, false).unwrap().is_none());
});

server_test!(shared data_as_text_hex_and_base64, |srv| {
    let zk = srv.connect();
    let root = unique_root("zkcli-data");
    mk(&zk, &root, b"");
    let bin = format!("{root}/bin");
    ok(zkcli(srv, &["create", "--hex", &bin, "00ff7f0a"]));
    assert_eq!(zk.get_data(&bin, false).unwrap().0, b"\x00\xff\x7f\n");
    assert_eq!(ok(zkcli(srv, &["get", "--hex", &bin])), "00ff7f0a\n");
    assert_eq!(ok(zkcli(srv, &["get", "--base64", &bin])), "AP9/Cg==\n");
    assert_eq!(ok(zkcli(srv, &["--hex", "get", &bin])), "00ff7f0a\n");
    // As text the bytes come out unchanged.
    let raw = zkcli(srv, &["get", &bin]);
    assert_eq!(raw.code, 0, "{raw:?}");
    assert_eq!(raw.raw_stdout, b"\x00\xff\x7f\n\n");

    ok(zkcli(srv, &["--base64", "set", &bin, "aGVsbG8="]));
    assert_eq!(zk.get_data(&bin, false).unwrap().0, b"hello");
    ok(zkcli(srv, &["set", &bin, "--base64", "d29ybGQ"]));
    assert_eq!(ok(zkcli(srv, &["get", &bin])), "world\n");
    assert_eq!(ok(zkcli(srv, &["--base64", "get", "--text", &bin])), "world\n");

    usage_error(&zkcli(srv, &["set", "--hex", &bin, "abc"]), "hex");
    usage_error(&zkcli(srv, &["set", "--base64", &bin, "!!"]), "base64");
    assert_eq!(zk.get_data(&bin, false).unwrap().0, b"world");
});

server_test!(shared the_prompt_reads_a_pipe, |srv| {
    let zk = srv.connect();
    let root = unique_root("zkcli-prompt");
    mk(&zk, &root, b"");
    let script = format!(
        "help\n\
         create {root}/i 'hello world'\n\
         get {root}/i\n\
         history\n\
         !!\n\
         !3\n\
         get -w {root}/i\n\
         set {root}/i changed\n\
         get {root}/missing\n\
         frobnicate\n\
         deleteall {root}\n\
         n\n\
         quit\n\
         create {root}/after-quit\n"
    );
    let run = zkcli_in(srv, &[], &script);
    // Errors do not stop the prompt; piped input exits with the last failure's code.
    assert_eq!(run.code, 1, "{run:?}");
    let out = &run.stdout;
    for want in [
        "deleteall [-y] path",
        &format!("Created {root}/i\n"),
        "hello world\n",
        &format!("1 - help\n2 - create {root}/i 'hello world'\n3 - get {root}/i\n4 - history\n"),
        // !! repeats `history` (echoed, then run: now with itself as entry 5).
        "history\n1 - help",
        &format!("5 - history\nget {root}/i\nhello world\n"),
        &format!("WatchedEvent state:SyncConnected type:NodeDataChanged path:{root}/i"),
    ] {
        assert!(out.contains(want), "stdout should contain {want:?}: {run:?}");
    }
    assert!(!out.contains("[zk:"), "no prompt when stdin is not a terminal: {run:?}");
    assert!(run.stderr.contains("NoNode") && run.stderr.contains(&format!("{root}/missing")), "{run:?}");
    assert!(run.stderr.contains("unknown command \"frobnicate\""), "{run:?}");
    assert!(run.stderr.contains("not confirmed"), "{run:?}");
    assert_eq!(zk.get_data(&format!("{root}/i"), false).unwrap().0, b"changed");
    assert!(zk.exists(&format!("{root}/after-quit"), false).unwrap().is_none());

    // The end of input also ends the prompt; all went well, so exit 0. An ephemeral node
    // lives as long as the prompt.
    let run = zkcli_in(srv, &[], &format!("create -e {root}/eph\nstat {root}/eph\n"));
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("ephemeralOwner = 0x") && !run.stdout.contains("ephemeralOwner = 0x0\n"), "{run:?}");
    assert!(zk.exists(&format!("{root}/eph"), false).unwrap().is_none());

    // addauth at the prompt, then an ACL only that identity passes.
    let sec = format!("{root}/sec");
    let run = zkcli_in(
        srv,
        &[],
        &format!("addauth digest ops:secret\ncreate {sec} s auth::cdrwa\ngetAcl {sec}\nwhoami\nget {sec}\n"),
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("'digest,'ops:") && run.stdout.contains("digest: ops\n"), "{run:?}");
    assert!(run.stdout.ends_with("s\n"), "{run:?}");
    zk_error(&zkcli(srv, &["get", &sec]), "NoAuth", &sec);
    assert_eq!(ok(zkcli(srv, &["--auth", "digest:ops:secret", "get", &sec])), "s\n");
});

/// A zkcli left running; killed when dropped.
struct Running {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    seen: String,
}

impl Running {
    fn start(srv: &TestServer, args: &[&str]) -> Running {
        let server = srv.connect_string();
        let mut all = vec!["--server", &server, "--timeout", "20s"];
        all.extend_from_slice(args);
        let mut child = command(&all).spawn().expect("start zkcli");
        let stdout = lines(child.stdout.take().expect("stdout"));
        let stderr = lines(child.stderr.take().expect("stderr"));
        Running {
            child,
            stdout,
            stderr,
            seen: String::new(),
        }
    }

    /// Waits (bounded) for a line of stdout (`err`: stderr) containing `want`.
    #[track_caller]
    fn wait_line(&mut self, err: bool, want: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let rx = if err { &self.stderr } else { &self.stdout };
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push_str(&line);
                    self.seen.push('\n');
                    if line.contains(want) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {want:?} within {DEADLINE:?}; seen:\n{}",
                    self.seen
                ),
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(r: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn event(kind: &str, path: &str) -> String {
    format!("WatchedEvent state:SyncConnected type:{kind} path:{path}")
}

server_test!(shared watch_prints_another_clients_changes, |srv| {
    let zk = srv.connect();
    let root = unique_root("zkcli-watch");
    mk(&zk, &root, b"");

    // Classic watches, set again after each event: two changes, two lines.
    let mut w = Running::start(srv, &["watch", &root]);
    w.wait_line(true, &format!("watching {root}"));
    zk.set_data(&root, b"1", -1).unwrap();
    assert_eq!(w.wait_line(false, "NodeDataChanged"), event("NodeDataChanged", &root));
    zk.set_data(&root, b"2", -1).unwrap();
    assert_eq!(w.wait_line(false, "NodeDataChanged"), event("NodeDataChanged", &root));
    mk(&zk, &format!("{root}/c"), b"");
    assert_eq!(w.wait_line(false, "NodeChildrenChanged"), event("NodeChildrenChanged", &root));
    drop(w);

    // Persistent.
    let mut w = Running::start(srv, &["watch", "-p", &root]);
    w.wait_line(true, &format!("watching {root} (persistent)"));
    zk.set_data(&root, b"3", -1).unwrap();
    assert_eq!(w.wait_line(false, "NodeDataChanged"), event("NodeDataChanged", &root));
    zk.delete(&format!("{root}/c"), -1).unwrap();
    assert_eq!(w.wait_line(false, "NodeChildrenChanged"), event("NodeChildrenChanged", &root));
    drop(w);

    // Persistent recursive: a grandchild's changes too.
    let mut w = Running::start(srv, &["watch", "-r", &root]);
    w.wait_line(true, &format!("watching {root} (persistent recursive)"));
    mk(&zk, &format!("{root}/d"), b"");
    assert_eq!(w.wait_line(false, "NodeCreated"), event("NodeCreated", &format!("{root}/d")));
    zk.set_data(&format!("{root}/d"), b"x", -1).unwrap();
    assert_eq!(
        w.wait_line(false, "NodeDataChanged"),
        event("NodeDataChanged", &format!("{root}/d"))
    );
});

server_test!(shared one_shot_watch_flags_wait_for_the_change, |srv| {
    let zk = srv.connect();
    let root = unique_root("zkcli-getw");
    mk(&zk, &root, b"before");
    let mut w = Running::start(srv, &["get", "-w", &root]);
    // The data is printed once the watch is set.
    assert_eq!(w.wait_line(false, "before"), "before");
    zk.set_data(&root, b"after", -1).unwrap();
    assert_eq!(w.wait_line(false, "NodeDataChanged"), event("NodeDataChanged", &root));
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(st) = w.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "get -w did not exit after its event");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status:?}");
});
