//! Secrets never leak: every log line of a whole session life at TRACE (connect with digest
//! auth, SASL and, with the `tls` feature, mutual TLS; operations; a reconnect; a refused
//! password; expiry; close), and the `Debug`/`Display` output of the builders, handles,
//! configurations, requests and errors involved, must not contain a password, the session
//! password, a digest hash or a private key, in any of the forms they could be printed in.
//!
//! One test in this binary: the logger is process-wide.

mod support;

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use support::events::Events;
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
    let mut shown: Vec<(String, String)> = Vec::new();

    let builder = TestingServer::builder()
        .sasl_user("sasha", SASL_PW)
        .tick_time(Duration::from_millis(200));
    #[cfg(feature = "tls")]
    let (builder, tls) = {
        let pki = support::certs::Pki::new();
        // Every base64 line of both private keys is a secret.
        for key in [&pki.server.key, &pki.client.key] {
            needles.extend(
                key.lines()
                    .filter(|l| !l.starts_with("-----") && l.len() > 16)
                    .map(String::from),
            );
        }
        let tls = zk_curator::tls::TlsConfig::builder()
            .ca_pem(&pki.ca)
            .client_certificate_pem(&pki.client.cert, &pki.client.key)
            .build()
            .unwrap();
        shown.push(("TlsConfig".into(), format!("{tls:?}")));
        let b = builder.tls(
            pki.server.cert.as_bytes(),
            pki.server.key.as_bytes(),
            Some(pki.ca.as_bytes()),
        );
        shown.push(("TestingServerBuilder".into(), format!("{b:?}")));
        (b, tls)
    };
    #[cfg(not(feature = "tls"))]
    shown.push(("TestingServerBuilder".into(), format!("{builder:?}")));
    let server = builder.start().unwrap();
    let cs = format!("127.0.0.1:{}", server.port());

    // Connect: TLS (with the feature), digest auth in the builder, SASL.
    let events = Events::new();
    let w = events.watcher();
    let b = ZooKeeper::builder(&cs)
        .session_timeout(Duration::from_secs(4))
        .auth("digest", format!("dave:{DIGEST_PW}").as_bytes())
        .sasl_digest_md5("sasha", SASL_PW)
        .default_watcher(move |e| w(e));
    #[cfg(feature = "tls")]
    let b = b.tls(tls.clone());
    let zk = b.connect().unwrap();
    assert_eq!(events.next().state(), KeeperState::SyncConnected);
    assert_eq!(events.next().state(), KeeperState::SaslAuthenticated);
    let session_pw = zk.session_password();
    assert_eq!(session_pw.len(), 16);
    needles.extend(byte_forms(&session_pw));

    // Operations under both identities, and add_auth_info.
    let acl = vec![
        Acl::new(Perms::ALL, Id::new("digest", hash.clone())),
        Acl::new(Perms::ALL, Id::new("sasl", "sasha")),
    ];
    zk.create("/secret", b"x", &acl, CreateMode::Persistent)
        .unwrap();
    zk.add_auth_info("digest", format!("erin:{DIGEST_PW}").as_bytes())
        .unwrap();
    zk.get_data("/secret", true).unwrap();
    shown.push(("ZooKeeper".into(), format!("{zk:?}")));

    // Reconnect: the server goes away and comes back; auth and SASL are replayed.
    server.stop();
    assert_eq!(events.next().state(), KeeperState::Disconnected);
    server.restart().unwrap();
    assert_eq!(events.next().state(), KeeperState::SyncConnected);
    assert_eq!(events.next().state(), KeeperState::SaslAuthenticated);
    zk.set_data("/secret", b"y", -1).unwrap();

    // A refused SASL password.
    let bad_events = Events::new();
    let bw = bad_events.watcher();
    let b = ZooKeeper::builder(&cs)
        .sasl_digest_md5("sasha", WRONG_PW)
        .default_watcher(move |e| bw(e));
    #[cfg(feature = "tls")]
    let b = b.tls(tls.clone());
    let bad = b.start().unwrap();
    assert_eq!(bad_events.next().state(), KeeperState::SyncConnected);
    assert_eq!(bad_events.next().state(), KeeperState::AuthFailed);
    let err = bad.exists("/", false).unwrap_err();
    shown.push(("AuthFailed error".into(), format!("{err} / {err:?}")));
    bad.close().unwrap();

    // The framework: its builder's Debug, a session, a close.
    let fb = CuratorFrameworkFactory::builder()
        .connect_string(&cs)
        .retry_policy(RetryOneTime::new(Duration::from_millis(10)))
        .authorization("digest", format!("dave:{DIGEST_PW}").as_bytes())
        .sasl_digest_md5("sasha", SASL_PW);
    #[cfg(feature = "tls")]
    let fb = fb.tls(tls.clone());
    shown.push(("CuratorFrameworkBuilder".into(), format!("{fb:?}")));
    let client = fb.build().unwrap();
    client.start().unwrap();
    assert_eq!(client.get_data().for_path("/secret").unwrap(), b"y");
    client.close();

    // Expiry, then close.
    server.expire_session(zk.session_id());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let e = events.next();
        if e.state() == KeeperState::Expired {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no Expired");
    }
    let _ = zk.close();

    // Records that carry secrets print them redacted.
    let packet = AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: format!("dave:{DIGEST_PW}").into_bytes(),
    };
    shown.push(("AuthPacket".into(), format!("{packet:?}")));
    shown.push((
        "Request::Auth".into(),
        format!("{:?}", Request::Auth(packet)),
    ));
    shown.push((
        "ConnectRequest".into(),
        format!(
            "{:?}",
            ConnectRequest {
                passwd: session_pw.clone(),
                ..Default::default()
            }
        ),
    ));
    shown.push((
        "ConnectResponse".into(),
        format!(
            "{:?}",
            ConnectResponse {
                passwd: session_pw.clone(),
                ..Default::default()
            }
        ),
    ));
    for (what, text) in &shown {
        assert_clean(what, text, &needles);
    }

    let lines = cap.0.lock().unwrap().clone();
    // The capture saw the session's life (so an empty log cannot pass)...
    let all = lines.join("\n");
    for expected in [
        "connected to",
        "SASL DIGEST-MD5: authenticated as sasha",
        "SASL DIGEST-MD5 authentication as sasha failed",
        "session expired",
    ] {
        assert!(all.contains(expected), "no {expected:?} in the log:\n{all}");
    }
    assert!(lines
        .iter()
        .any(|l| l.starts_with("DEBUG") || l.starts_with("TRACE")));
    // ...and no line holds a secret.
    for line in &lines {
        assert_clean("a log line", line, &needles);
    }
}
