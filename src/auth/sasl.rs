//! The client side of SASL DIGEST-MD5 (RFC 2831) as ZooKeeper's `DigestLoginModule` speaks
//! it: protocol `zookeeper`, server name `zk-sasl-md5`, quality of protection `auth`
//! (authentication only; the TLS feature is the way to protect the traffic itself).
//!
//! A pure state machine over tokens: the session's I/O thread ([`session::sasl`]) carries the
//! tokens in ZooKeeper's `sasl` packets. The exchange is: an empty first token from the
//! client, the server's challenge, the client's response, the server's `rspauth`, which the
//! client checks (mutual authentication: a server that does not know the password cannot
//! produce it).
//!
//! MD5 (which RFC 2831 fixes) is RustCrypto's `md-5`, the nonces come from the operating
//! system's CSPRNG through `getrandom`: both behind the `sasl` feature, like this module.
//!
//! [`session::sasl`]: crate::session

use md5::{Digest, Md5};

use super::Secret;

/// ZooKeeper's SASL service name (`zookeeper.sasl.client.username`, default `zookeeper`).
const PROTOCOL: &str = "zookeeper";
/// The server name ZooKeeper uses for DIGEST-MD5 (`SaslServerPrincipal`), fixed.
const SERVER_NAME: &str = "zk-sasl-md5";
/// The `maxbuf` the client announces: irrelevant without a security layer, Java's default.
const MAX_BUF: u32 = 65536;

/// Where the exchange stands. Its `Debug` leaves out the expected `rspauth` (a hash of the
/// password: a dictionary attack's input).
#[derive(Clone, PartialEq, Eq)]
enum Step {
    /// Waiting for the server's challenge.
    Challenge,
    /// Response sent; waiting for `rspauth` (the expected value).
    RspAuth(String),
    /// The server proved it knows the password: authenticated.
    Done,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Step::Challenge => "Challenge",
            Step::RspAuth(_) => "RspAuth",
            Step::Done => "Done",
        })
    }
}

/// One DIGEST-MD5 authentication. Its `Debug` names the user, never the password.
pub(crate) struct DigestMd5 {
    user: String,
    password: Secret,
    cnonce: String,
    step: Step,
}

impl std::fmt::Debug for DigestMd5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestMd5")
            .field("user", &self.user)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl DigestMd5 {
    /// A new exchange for `user` with `password` and a client nonce (random per
    /// connection; see [`new_nonce`]).
    pub(crate) fn new(user: &str, password: &Secret, cnonce: String) -> DigestMd5 {
        DigestMd5 {
            user: user.to_string(),
            password: password.clone(),
            cnonce,
            step: Step::Challenge,
        }
    }

    /// True once the server's `rspauth` checked out.
    pub(crate) fn is_complete(&self) -> bool {
        self.step == Step::Done
    }

    /// Takes the server's token and returns the next one to send (`None`: nothing more to
    /// send). `Err` says why the exchange cannot go on; the message never holds the
    /// password or anything derived from it.
    pub(crate) fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match std::mem::replace(&mut self.step, Step::Done) {
            Step::Challenge => {
                let (token, rspauth) = self.respond(server)?;
                self.step = Step::RspAuth(rspauth);
                Ok(Some(token))
            }
            Step::RspAuth(want) => {
                let text = std::str::from_utf8(server)
                    .map_err(|_| "the server's final DIGEST-MD5 token is not text".to_string())?;
                let got = parse(text)?
                    .into_iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("rspauth"))
                    .map(|(_, v)| v);
                match got {
                    Some(v) if v == want => Ok(None),
                    Some(_) => Err(
                        "the server's rspauth does not match: it does not know this \
                                    user's password (a wrong server?)"
                            .into(),
                    ),
                    None => Err("the server's final DIGEST-MD5 token has no rspauth".into()),
                }
            }
            Step::Done => Err("DIGEST-MD5 is already complete; unexpected token".into()),
        }
    }

    /// The response to a challenge, and the `rspauth` the server must answer with.
    fn respond(&self, challenge: &[u8]) -> Result<(Vec<u8>, String), String> {
        if challenge.is_empty() {
            return Err(
                "the server sent no DIGEST-MD5 challenge (is SASL configured on the \
                        server: a JAAS `Server` section and the SASL auth provider?)"
                    .into(),
            );
        }
        let text = std::str::from_utf8(challenge)
            .map_err(|_| "the server's DIGEST-MD5 challenge is not text".to_string())?;
        let fields = parse(text)?;
        let get = |key: &str| {
            fields
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
        };
        let nonce = get("nonce").ok_or("the DIGEST-MD5 challenge has no nonce")?;
        let algorithm = get("algorithm").unwrap_or("");
        if !algorithm.eq_ignore_ascii_case("md5-sess") {
            return Err(format!(
                "the DIGEST-MD5 challenge asks for algorithm {algorithm:?}, not md5-sess"
            ));
        }
        let qop_offered = get("qop").unwrap_or("auth");
        if !qop_offered
            .split(',')
            .any(|q| q.trim().eq_ignore_ascii_case("auth"))
        {
            return Err(format!(
                "the server offers quality of protection {qop_offered:?} but not \"auth\""
            ));
        }
        let utf8 = get("charset").is_some_and(|c| c.eq_ignore_ascii_case("utf-8"));
        // The first realm the server offers (ZooKeeper offers its server name).
        let realm = get("realm").unwrap_or("");
        let user = encode(&self.user, utf8).ok_or("the user name is not ISO-8859-1")?;
        let realm_bytes = encode(realm, utf8).ok_or("the realm is not ISO-8859-1")?;
        let password = std::str::from_utf8(self.password.expose())
            .ok()
            .and_then(|p| encode(p, utf8))
            .ok_or("the password cannot be encoded in the server's charset")?;
        let nc = "00000001";
        let digest_uri = digest_uri();
        let secret = user_hash(&user, &realm_bytes, &password);
        let mut password = password;
        wipe(&mut password);
        let response = response_value(&secret, nonce, &self.cnonce, nc, &digest_uri, true);
        let rspauth = response_value(&secret, nonce, &self.cnonce, nc, &digest_uri, false);
        let mut out = String::new();
        if utf8 {
            out.push_str("charset=utf-8,");
        }
        out.push_str(&format!("username={}", quote(&self.user)));
        if get("realm").is_some() {
            out.push_str(&format!(",realm={}", quote(realm)));
        }
        out.push_str(&format!(
            ",nonce={},nc={nc},cnonce={},digest-uri={},maxbuf={MAX_BUF},response={response},qop=auth",
            quote(nonce),
            quote(&self.cnonce),
            quote(&digest_uri)
        ));
        Ok((out.into_bytes(), rspauth))
    }
}

/// The `digest-uri` ZooKeeper's servers expect: `zookeeper/zk-sasl-md5`.
pub(crate) fn digest_uri() -> String {
    format!("{PROTOCOL}/{SERVER_NAME}")
}

/// `H(user ":" realm ":" password)`, the secret both sides derive everything from (the
/// inputs already in the exchange's charset, see [`encode`]).
pub(crate) fn user_hash(user: &[u8], realm: &[u8], password: &[u8]) -> [u8; 16] {
    let mut inner = Vec::with_capacity(user.len() + realm.len() + password.len() + 2);
    inner.extend_from_slice(user);
    inner.push(b':');
    inner.extend_from_slice(realm);
    inner.push(b':');
    inner.extend_from_slice(password);
    let h = md5(&inner);
    wipe(&mut inner);
    h
}

/// RFC 2831's `response` (the client's proof, `client` true) or `rspauth` (the server's)
/// for qop `auth`, algorithm md5-sess and no authzid.
pub(crate) fn response_value(
    user_hash: &[u8; 16],
    nonce: &str,
    cnonce: &str,
    nc: &str,
    digest_uri: &str,
    client: bool,
) -> String {
    let mut a1 = user_hash.to_vec();
    a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
    let ha1 = hex(&md5(&a1));
    wipe(&mut a1);
    let a2 = if client {
        format!("AUTHENTICATE:{digest_uri}")
    } else {
        format!(":{digest_uri}")
    };
    let ha2 = hex(&md5(a2.as_bytes()));
    hex(&md5(
        format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}").as_bytes()
    ))
}

/// MD5 of `data` (RFC 1321).
pub(crate) fn md5(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

/// Lower-case hex, as DIGEST-MD5 writes hashes.
pub(crate) fn hex(data: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(data.len() * 2);
    for b in data {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// A fresh nonce (the client's `cnonce`, the TestingServer's `nonce`): 128 bits from the
/// operating system's CSPRNG, in hex. RFC 2831 wants it unpredictable: a guessable cnonce
/// lets a server that replays a challenge precompute responses. `Err` (the OS has no random
/// source to give) names the cause; nothing is guessed instead.
pub(crate) fn new_nonce() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| format!("no random bytes for the DIGEST-MD5 nonce from the OS: {e}"))?;
    Ok(hex(&bytes))
}

/// Text in the charset DIGEST-MD5 hashes it in: ISO-8859-1 when every character fits (RFC
/// 2831 §2.1.2.1, also with `charset=utf-8`), else UTF-8 if the server allows it.
pub(crate) fn encode(s: &str, utf8: bool) -> Option<Vec<u8>> {
    if s.chars().all(|c| (c as u32) <= 0xff) {
        Some(s.chars().map(|c| c as u8).collect())
    } else if utf8 {
        Some(s.as_bytes().to_vec())
    } else {
        None
    }
}

/// A quoted-string with `"` and `\` escaped.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Overwrites bytes that held key material before they are freed (best effort).
fn wipe(b: &mut [u8]) {
    for x in b.iter_mut() {
        *x = 0;
    }
    std::hint::black_box(b);
}

/// Parses `key=value,key="quoted, value",...` (RFC 2831 §7.1's `#` lists).
pub(crate) fn parse(s: &str) -> Result<Vec<(String, String)>, String> {
    // The token itself stays out of the message: a client's response is a hash of the
    // password, worth a dictionary attack.
    let bad = || "malformed DIGEST-MD5 token".to_string();
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(bad());
        }
        let key = key.trim().to_string();
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => value.push(chars.next().ok_or_else(bad)?),
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => return Err(bad()),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim().to_string();
        }
        if key.is_empty() {
            return Err(bad());
        }
        out.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server side of the exchange, as Java's DigestMD5Server computes it, written out
    /// from RFC 2831 independently of `respond`'s code path: the expected response and
    /// rspauth for given inputs.
    fn expected(user: &str, realm: &str, pw: &str, nonce: &str, cnonce: &str) -> (String, String) {
        let uri = "zookeeper/zk-sasl-md5";
        let mut a1 = md5(format!("{user}:{realm}:{pw}").as_bytes()).to_vec();
        a1.extend_from_slice(format!(":{nonce}:{cnonce}").as_bytes());
        let ha1 = hex(&md5(&a1));
        let z = |a2: String| {
            let ha2 = hex(&md5(a2.as_bytes()));
            hex(&md5(
                format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}").as_bytes()
            ))
        };
        (z(format!("AUTHENTICATE:{uri}")), z(format!(":{uri}")))
    }

    fn fields(token: &[u8]) -> Vec<(String, String)> {
        parse(std::str::from_utf8(token).unwrap()).unwrap()
    }

    fn field<'a>(f: &'a [(String, String)], k: &str) -> &'a str {
        &f.iter().find(|(key, _)| key == k).unwrap().1
    }

    const CHALLENGE: &str = "realm=\"zk-sasl-md5\",nonce=\"OA6MG9tEQGm2hh\",qop=\"auth\",\
                             charset=utf-8,algorithm=md5-sess";

    #[test]
    fn full_exchange_with_a_zookeeper_challenge() {
        let pw = Secret::new(b"s3cr3t-pw".to_vec());
        let mut c = DigestMd5::new("bob", &pw, "OA6MHXh6VqTrRk".into());
        let resp = c.step(CHALLENGE.as_bytes()).unwrap().unwrap();
        let f = fields(&resp);
        assert_eq!(field(&f, "username"), "bob");
        assert_eq!(field(&f, "realm"), "zk-sasl-md5");
        assert_eq!(field(&f, "digest-uri"), "zookeeper/zk-sasl-md5");
        assert_eq!(field(&f, "qop"), "auth");
        assert_eq!(field(&f, "nc"), "00000001");
        assert_eq!(field(&f, "charset"), "utf-8");
        let (want, rspauth) = expected(
            "bob",
            "zk-sasl-md5",
            "s3cr3t-pw",
            "OA6MG9tEQGm2hh",
            "OA6MHXh6VqTrRk",
        );
        assert_eq!(field(&f, "response"), want);
        assert!(!String::from_utf8_lossy(&resp).contains("s3cr3t"));
        assert!(!c.is_complete());
        // Waiting for rspauth, the expected value (derived from the password) stays hidden.
        let shown = format!("{c:?}");
        assert!(
            shown.contains("RspAuth") && !shown.contains(&rspauth),
            "{shown}"
        );
        // A wrong rspauth (a server that does not know the password) fails...
        let mut c2 = DigestMd5::new("bob", &pw, "OA6MHXh6VqTrRk".into());
        c2.step(CHALLENGE.as_bytes()).unwrap();
        assert!(c2
            .step(b"rspauth=00000000000000000000000000000000")
            .is_err());
        // ...the right one completes, with nothing more to send.
        assert_eq!(c.step(format!("rspauth={rspauth}").as_bytes()), Ok(None));
        assert!(c.is_complete());
        assert!(c.step(b"rspauth=x").is_err());
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    /// RFC 2831 §4's worked example (IMAP, realm elwood.innosoft.com, user chris, password
    /// secret): the hash construction must give its published response value.
    #[test]
    fn rfc_2831_example_hashes() {
        let mut a1 = md5(b"chris:elwood.innosoft.com:secret").to_vec();
        a1.extend_from_slice(b":OA6MG9tEQGm2hh:OA6MHXh6VqTrRk");
        let ha1 = hex(&md5(&a1));
        let ha2 = hex(&md5(b"AUTHENTICATE:imap/elwood.innosoft.com"));
        let resp = hex(&md5(format!(
            "{ha1}:OA6MG9tEQGm2hh:00000001:OA6MHXh6VqTrRk:auth:{ha2}"
        )
        .as_bytes()));
        assert_eq!(resp, "d388dad90d4bbd760a152321f2143af7");
        let ha2 = hex(&md5(b":imap/elwood.innosoft.com"));
        let rsp = hex(&md5(format!(
            "{ha1}:OA6MG9tEQGm2hh:00000001:OA6MHXh6VqTrRk:auth:{ha2}"
        )
        .as_bytes()));
        assert_eq!(rsp, "ea40f60335c427b5527b84dbabcdfffd");
    }

    #[test]
    fn bad_challenges_are_refused_with_a_reason() {
        let pw = Secret::new(b"pw".to_vec());
        let cases: &[(&str, &str)] = &[
            ("", "no DIGEST-MD5 challenge"),
            ("realm=\"x\",qop=\"auth\",algorithm=md5-sess", "no nonce"),
            ("nonce=\"n\",qop=\"auth\",algorithm=md5", "md5-sess"),
            ("nonce=\"n\",qop=\"auth-conf\",algorithm=md5-sess", "auth"),
            ("nonce=\"n,algorithm=md5-sess", "malformed"),
        ];
        for (challenge, why) in cases {
            let mut c = DigestMd5::new("bob", &pw, "c".into());
            let e = c.step(challenge.as_bytes()).unwrap_err();
            assert!(e.contains(why), "{challenge:?}: {e}");
        }
    }

    #[test]
    fn quoting_and_charsets() {
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        let f = parse("a=\"x\\\"y, z\", b = plain ,c=\"\"").unwrap();
        assert_eq!(
            f,
            vec![
                ("a".into(), "x\"y, z".into()),
                ("b".into(), "plain".into()),
                ("c".into(), "".into())
            ]
        );
        assert_eq!(encode("é", false), Some(vec![0xe9]));
        assert_eq!(encode("é", true), Some(vec![0xe9]));
        assert_eq!(encode("€", true), Some("€".as_bytes().to_vec()));
        assert_eq!(encode("€", false), None);
    }

    #[test]
    fn nonces_are_128_random_bits() {
        let n1 = new_nonce().unwrap();
        assert_eq!(n1.len(), 32, "{n1}");
        assert!(n1.bytes().all(|b| b.is_ascii_hexdigit()), "{n1}");
        assert_ne!(n1, new_nonce().unwrap());
    }

    /// RFC 1321's test suite (appendix A.5), through our wrapper and its hex.
    #[test]
    fn md5_wrapper_gives_rfc_1321_values() {
        let cases: &[(&str, &str)] = &[
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(hex(&md5(input.as_bytes())), *want, "{input:?}");
        }
    }
}
