//! Secrets never leak: every log line of a whole session life at TRACE (connect with digest
//! auth, SASL and, with the `tls` feature, mutual TLS; operations; a reconnect after a
//! server restart; a refused password; expiry; close), lived once on the TestingServer and
//! once on real ZooKeeper 3.8, and the `Debug`/`Display` output of the builders, handles,
//! configurations, requests and errors involved, must not contain a password, the session
//! password, a digest hash or a private key, in any of the forms they could be printed in.
//!
//! One test in this binary: the logger is process-wide.

mod support;

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use support::events::Events;
use support::jvm::{self, TempDir};
use support::{RealServer, ServerOptions};
use zk_curator::auth::generate_digest;
use zk_curator::proto::{AuthPacket, ConnectRequest, ConnectResponse, Request};
use zk_curator::testing::TestingServer;
use zk_curator::{
    Acl, CreateMode, CuratorFrameworkFactory, Id, KeeperState, Perms, RetryOneTime, ZooKeeper,
};

const DIGEST_PW: &str = "digest-pw-XYZZY-41";
const SASL_PW: &str = "sasl-pw-PLUGH-42";
const WRONG_PW: &str = "wrong-pw-FROTZ-43";

/// Every record, formatted as a log line would be.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        let line = format!(
            "{} {} {}:{} {}",
            r.level(),
            r.target(),
            r.file().unwrap_or(""),
            r.line().unwrap_or(0),
            r.args()
        );
        if let Ok(mut v) = self.0.lock() {
            v.push(line);
        }
    }
    fn flush(&self) {}
}

impl Capture {
    /// How many lines were captured so far (a phase's lines start there).
    fn len(&self) -> usize {
        self.0.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// The lines captured since `from`.
    fn since(&self, from: usize) -> Vec<String> {
        self.0
            .lock()
            .map(|v| v.get(from..).unwrap_or_default().to_vec())
            .unwrap_or_default()
    }
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let c: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(c).expect("the only logger of this binary");
        log::set_max_level(log::LevelFilter::Trace);
        c
    })
}

/// The ways secret bytes could be printed: as text, hex (both cases), base64, and inside
/// the `Debug` of a byte slice (`.., 1, 2, 3, ..`).
fn byte_forms(b: &[u8]) -> Vec<String> {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let dbg: Vec<String> = b.iter().map(|x| x.to_string()).collect();
    let mut forms = vec![hex.clone(), hex.to_uppercase(), base64(b), dbg.join(", ")];
    if let Ok(text) = std::str::from_utf8(b) {
        forms.push(text.to_string());
    }
    forms
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn assert_clean(what: &str, text: &str, needles: &[String]) {
    for n in needles {
        assert!(
            !text.contains(n.as_str()),
            "{what} contains a secret ({n:?}):\n{text}"
        );
    }
}

/// What must not show, and what was shown (checked at the end).
struct Secrets {
    needles: Vec<String>,
    shown: Vec<(String, String)>,
    /// The digest id of `dave` (the hash part is a needle).
    hash: String,
    /// The session password of the last session life.
    session_pw: Vec<u8>,
    /// The client's TLS settings: the test CA and a client certificate and key.
    #[cfg(feature = "tls")]
    tls: zk_curator::tls::TlsConfig,
}

impl Secrets {
    fn show(&mut self, what: impl Into<String>, text: String) {
        self.shown.push((what.into(), text));
    }
}

/// Expires the session of a handle whose watcher feeds the events; true once it heard
/// `Expired`.
type Expire<'a> = dyn Fn(&ZooKeeper, &Events) -> bool + 'a;

/// A server to live a session on.
struct Target<'a> {
    what: &'static str,
    /// The port the session uses (TLS only with the feature).
    connect_string: String,
    /// Stops the server and starts it again, keeping its sessions.
    restart: Box<dyn FnMut() + 'a>,
    /// Expires a session as the server would; true once its watcher heard `Expired`.
    expire: Box<Expire<'a>>,
}

/// One session life on `t`: connect (TLS, digest auth, SASL), operations, add_auth_info, a
/// restart and reconnect with auth replayed, a refused SASL password, a framework client,
/// expiry, close. Returns the log lines it produced.
fn session_life(t: &mut Target<'_>, s: &mut Secrets, cap: &Capture) -> Vec<String> {
    let from = cap.len();
    let cs = t.connect_string.clone();

    // Connect: TLS (with the feature), digest auth in the builder, SASL.
    let events = Events::new();
    let w = events.watcher();
    let b = ZooKeeper::builder(&cs)
        // Outlives a JVM restart on a loaded machine (the TestingServer caps it lower).
        .session_timeout(Duration::from_secs(40))
        .connection_timeout(Duration::from_secs(10))
        .auth("digest", format!("dave:{DIGEST_PW}").as_bytes())
        .sasl_digest_md5("sasha", SASL_PW)
        .default_watcher(move |e| w(e));
    #[cfg(feature = "tls")]
    let b = b.tls(s.tls.clone());
    s.show(format!("{}: ZooKeeperBuilder", t.what), format!("{b:?}"));
    let zk = b.connect().unwrap();
    assert_eq!(events.next().state(), KeeperState::SyncConnected);
    assert_eq!(events.next().state(), KeeperState::SaslAuthenticated);
    let session_pw = zk.session_password();
    assert_eq!(session_pw.len(), 16);
    s.needles.extend(byte_forms(&session_pw));
    s.session_pw = session_pw;

    // Operations under both identities, and add_auth_info.
    let acl = vec![
        Acl::new(Perms::ALL, Id::new("digest", s.hash.clone())),
        Acl::new(Perms::ALL, Id::new("sasl", "sasha")),
    ];
    zk.create("/secret", b"x", &acl, CreateMode::Persistent)
        .unwrap();
    zk.add_auth_info("digest", format!("erin:{DIGEST_PW}").as_bytes())
        .unwrap();
    zk.get_data("/secret", true).unwrap();
    s.show(format!("{}: ZooKeeper", t.what), format!("{zk:?}"));

    // Reconnect: the server goes away and comes back; auth and SASL are replayed.
    (t.restart)();
    assert_eq!(events.next().state(), KeeperState::Disconnected);
    assert_eq!(events.next().state(), KeeperState::SyncConnected);
    assert_eq!(events.next().state(), KeeperState::SaslAuthenticated);
    zk.set_data("/secret", b"y", -1).unwrap();

    // A refused SASL password.
    let bad_events = Events::new();
    let bw = bad_events.watcher();
    let b = ZooKeeper::builder(&cs)
        .connection_timeout(Duration::from_secs(10))
        .sasl_digest_md5("sasha", WRONG_PW)
        .default_watcher(move |e| bw(e));
    #[cfg(feature = "tls")]
    let b = b.tls(s.tls.clone());
    let bad = b.start().unwrap();
    assert_eq!(bad_events.next().state(), KeeperState::SyncConnected);
    assert_eq!(bad_events.next().state(), KeeperState::AuthFailed);
    let err = bad.exists("/", false).unwrap_err();
    s.show(
        format!("{}: AuthFailed error", t.what),
        format!("{err} / {err:?}"),
    );
    bad.close().unwrap();

    // The framework: its builder's Debug, a session, a close.
    let fb = CuratorFrameworkFactory::builder()
        .connect_string(&cs)
        .retry_policy(RetryOneTime::new(Duration::from_millis(10)))
        .authorization("digest", format!("dave:{DIGEST_PW}").as_bytes())
        .sasl_digest_md5("sasha", SASL_PW);
    #[cfg(feature = "tls")]
    let fb = fb.tls(s.tls.clone());
    s.show(
        format!("{}: CuratorFrameworkBuilder", t.what),
        format!("{fb:?}"),
    );
    let client = fb.build().unwrap();
    client.start().unwrap();
    assert_eq!(client.get_data().for_path("/secret").unwrap(), b"y");
    client.close();

    // Expiry, then close.
    assert!((t.expire)(&zk, &events), "{}: no Expired", t.what);
    let _ = zk.close();
    cap.since(from)
}

/// The TestingServer: TLS with client certificates (feature `tls`), SASL user sasha.
fn in_process_life(s: &mut Secrets, cap: &Capture, #[cfg(feature = "tls")] pki: &Pki) {
    let builder = TestingServer::builder()
        .sasl_user("sasha", SASL_PW)
        .tick_time(Duration::from_millis(200));
    #[cfg(feature = "tls")]
    let builder = builder.tls(
        pki.server.cert.as_bytes(),
        pki.server.key.as_bytes(),
        Some(pki.ca.as_bytes()),
    );
    s.show("TestingServerBuilder", format!("{builder:?}"));
    let server = builder.start().unwrap();
    let server = &server;
    let mut t = Target {
        what: "TestingServer",
        connect_string: format!("127.0.0.1:{}", server.port()),
        restart: Box::new(move || {
            server.stop();
            server.restart().unwrap();
        }),
        expire: Box::new(move |zk, events| {
            assert!(server.expire_session(zk.session_id()));
            heard_expired(events, Duration::from_secs(30))
        }),
    };
    let lines = session_life(&mut t, s, cap);
    expect_lines(t.what, &lines);
}

const JAAS: &str = r#"Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_sasha="sasl-pw-PLUGH-42";
};
"#;

/// Real ZooKeeper 3.8 with the SASL provider and a JAAS file, and (feature `tls`) a
/// `secureClientPort` that requires client certificates; its plain `clientPort` is only
/// used to expire the session.
fn real_life(s: &mut Secrets, cap: &Capture, #[cfg(feature = "tls")] pki: &Pki) {
    if jvm::Installation::get().is_none() {
        return;
    }
    let dir = TempDir::new("secrets").expect("a temp dir");
    let jaas = dir.path().join("jaas.conf");
    std::fs::write(&jaas, JAAS).expect("write jaas.conf");
    let opts = ServerOptions::new()
        .config("authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider")
        .system_property(format!(
            "java.security.auth.login.config={}",
            jaas.display()
        ));
    #[cfg(feature = "tls")]
    let (opts, secure) = {
        let keystore = pki.server.write_keystore(&dir.path().join("server.pem"));
        let truststore = pki.write_ca(dir.path());
        let port = jvm::free_ports(1)[0];
        let opts = opts
            .config(format!("secureClientPort={port}"))
            .config("secureClientPortAddress=127.0.0.1")
            .config("serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory")
            .config(format!("ssl.keyStore.location={}", keystore.display()))
            .config("ssl.keyStore.type=PEM")
            .config(format!("ssl.trustStore.location={}", truststore.display()))
            .config("ssl.trustStore.type=PEM")
            .config("ssl.clientAuth=need");
        (opts, Some(port))
    };
    #[cfg(not(feature = "tls"))]
    let secure: Option<u16> = None;
    let Some(server) = RealServer::start_with(opts) else {
        return;
    };
    let server = std::cell::RefCell::new(server);
    let plain = server.borrow().connect_string();
    let plain_port = server.borrow().port();
    let serving = || {
        if let Some(port) = secure {
            let up = support::wait_until(Duration::from_secs(30), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            assert!(
                up,
                "secure port {port} not open:\n{}",
                server.borrow().log()
            );
        }
    };
    serving();
    let mut t = Target {
        what: "real ZooKeeper",
        connect_string: secure.map_or(plain.clone(), |p| format!("127.0.0.1:{p}")),
        restart: Box::new(|| {
            server.borrow_mut().restart();
            serving();
        }),
        expire: Box::new(|zk, events| {
            (0..3).any(|_| {
                close_session(plain_port, zk.session_id(), &zk.session_password());
                heard_expired(events, Duration::from_secs(10))
            })
        }),
    };
    let lines = session_life(&mut t, s, cap);
    expect_lines(t.what, &lines);
}

/// Ends session `id` as its owner's close would, from a connection of its own on `port`:
/// the ConnectRequest that takes the session over and the CloseSession go out in one write.
/// (A second handle's connect-then-close loses a race: the owner, cut off by the takeover,
/// reconnects at once and takes the session back, and so on, before the close gets in.)
fn close_session(port: u16, id: i64, password: &[u8]) {
    use std::io::{Read, Write};
    use zk_curator::proto::raw;
    let Ok(mut sock) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let mut buf = Vec::new();
    raw::encode_record_frame(
        &mut buf,
        &ConnectRequest {
            timeout: 30_000,
            session_id: id,
            passwd: password.to_vec(),
            ..Default::default()
        },
    );
    raw::encode_request(&mut buf, 1, &Request::CloseSession);
    if sock.write_all(&buf).is_err() {
        return;
    }
    // The server answers both and hangs up; read until then (bounded).
    let _ = sock.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = sock.read_to_end(&mut Vec::new());
}

/// Waits up to `within` for `Expired` among `events`.
fn heard_expired(events: &Events, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.next_within(left) {
            Some(e) if e.state() == KeeperState::Expired => return true,
            Some(_) => {}
            None => return false,
        }
    }
}

/// The capture saw the session's life (so an empty or partial log cannot pass).
fn expect_lines(what: &str, lines: &[String]) {
    let all = lines.join("\n");
    for expected in [
        "connected to",
        "SASL DIGEST-MD5: authenticated as sasha",
        "SASL DIGEST-MD5 authentication as sasha failed",
        "session expired",
    ] {
        assert!(
            all.contains(expected),
            "{what}: no {expected:?} in the log:\n{all}"
        );
    }
    // The crate logs nothing at TRACE today; DEBUG shows the capture took every level.
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("DEBUG") || l.starts_with("TRACE")),
        "{what}: no DEBUG line"
    );
}

#[cfg(feature = "tls")]
use support::certs::Pki;

#[test]
fn no_secret_in_any_log_line_or_debug_output() {
    let cap = capture();
    let mut needles: Vec<String> = [DIGEST_PW, SASL_PW, WRONG_PW]
        .iter()
        .flat_map(|p| byte_forms(p.as_bytes()))
        .collect();
    // The digest hash (what a server stores; a dictionary attack's input).
    let hash = generate_digest("dave", DIGEST_PW);
    needles.push(hash.split_once(':').map(|(_, h)| h.to_string()).unwrap());
    #[cfg(feature = "tls")]
    let pki = Pki::new();
    #[cfg(feature = "tls")]
    let tls = {
        // Every base64 line of both private keys is a secret.
        for key in [&pki.server.key, &pki.client.key] {
            needles.extend(
                key.lines()
                    .filter(|l| !l.starts_with("-----") && l.len() > 16)
                    .map(String::from),
            );
        }
        zk_curator::tls::TlsConfig::builder()
            .ca_pem(&pki.ca)
            .client_certificate_pem(&pki.client.cert, &pki.client.key)
            .build()
            .unwrap()
    };
    let mut s = Secrets {
        needles,
        shown: Vec::new(),
        hash,
        session_pw: Vec::new(),
        #[cfg(feature = "tls")]
        tls,
    };
    #[cfg(feature = "tls")]
    s.show("TlsConfig", format!("{:?}", s.tls));

    in_process_life(
        &mut s,
        cap,
        #[cfg(feature = "tls")]
        &pki,
    );
    real_life(
        &mut s,
        cap,
        #[cfg(feature = "tls")]
        &pki,
    );

    // Records that carry secrets print them redacted.
    let packet = AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: format!("dave:{DIGEST_PW}").into_bytes(),
    };
    s.show("AuthPacket", format!("{packet:?}"));
    s.show("Request::Auth", format!("{:?}", Request::Auth(packet)));
    let session_pw = s.session_pw.clone();
    s.show(
        "ConnectRequest",
        format!(
            "{:?}",
            ConnectRequest {
                passwd: session_pw.clone(),
                ..Default::default()
            }
        ),
    );
    s.show(
        "ConnectResponse",
        format!(
            "{:?}",
            ConnectResponse {
                passwd: session_pw,
                ..Default::default()
            }
        ),
    );
    for (what, text) in &s.shown {
        assert_clean(what, text, &s.needles);
    }
    // No line of either life (nor of anything between) holds a secret.
    for line in cap.since(0) {
        assert_clean("a log line", &line, &s.needles);
    }
}
