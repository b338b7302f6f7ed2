//! The ensemble's dynamic configuration (ZooKeeper 3.5+), as `/zookeeper/config` holds it
//! and `get_config()` / `reconfig()` return it: [`QuorumConfig`] (ZooKeeper's `QuorumMaj`,
//! what Curator's `getCurrentConfig()` returns), its [`QuorumServer`]s, and the client
//! connect string it implies (what the [`EnsembleTracker`](super::core::tracker) hands to the
//! ensemble provider).
//!
//! The text is a Java properties file of `server.N=...` lines and a `version=` line:
//!
//! ```text
//! server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181
//! server.2=[::1]:2889:3889:observer;[::1]:2182
//! version=100000000
//! ```
//!
//! Each server is `host:quorumPort:electionPort[:role][;[clientHost:]clientPort]`, IPv6 hosts
//! in brackets, several quorum addresses separated by `|` (3.6+). The parser takes what
//! ZooKeeper writes and refuses anything else with an [`Error::InvalidArgument`] that names
//! the line; it never panics.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};

/// What a member does in the quorum (ZooKeeper's `LearnerType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LearnerType {
    /// Votes (the default when the role is not given).
    Participant,
    /// Follows without voting.
    Observer,
}

/// One quorum address of a member: host, quorum port, election port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PeerAddress {
    host: String,
    quorum_port: u16,
    election_port: u16,
}

impl PeerAddress {
    /// The host (an IPv6 literal without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port followers talk to the leader on.
    pub fn quorum_port(&self) -> u16 {
        self.quorum_port
    }

    /// The port of leader election.
    pub fn election_port(&self) -> u16 {
        self.election_port
    }
}

/// One member of the ensemble (ZooKeeper's `QuorumPeer.QuorumServer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumServer {
    id: u64,
    addresses: Vec<PeerAddress>,
    role: LearnerType,
    client: Option<(String, u16)>,
}

impl QuorumServer {
    /// Parses a server spec without its `server.N=` key, for server `id`.
    ///
    /// ```
    /// use zk_curator::framework::{LearnerType, QuorumServer};
    /// let s = QuorumServer::parse(4, "[::1]:2891:3891:observer;[::1]:2184")?;
    /// assert_eq!((s.id(), s.role()), (4, LearnerType::Observer));
    /// assert_eq!(s.client_address(), Some(("::1", 2184)));
    /// assert_eq!(s.client_connect_string().as_deref(), Some("[::1]:2184"));
    /// assert_eq!(s.to_string(), "server.4=[::1]:2891:3891:observer;[::1]:2184");
    /// assert!(QuorumServer::parse(4, "::1:2891:3891").is_err()); // IPv6 needs brackets
    /// # Ok::<(), zk_curator::Error>(())
    /// ```
    pub fn parse(id: u64, spec: &str) -> Result<QuorumServer> {
        parse_server(id, spec.trim())
            .map_err(|why| Error::InvalidArgument(format!("server.{id}={}: {why}", excerpt(spec))))
    }

    /// The server id (`N` of `server.N`).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Its quorum addresses (one, or several with 3.6's multi-address).
    pub fn addresses(&self) -> &[PeerAddress] {
        &self.addresses
    }

    /// Participant or observer.
    pub fn role(&self) -> LearnerType {
        self.role
    }

    /// Where clients connect, as configured (`0.0.0.0` when only a port was given); `None`
    /// for a server configured without a client address.
    pub fn client_address(&self) -> Option<(&str, u16)> {
        self.client.as_ref().map(|(h, p)| (h.as_str(), *p))
    }

    /// `host:port` for a client's connect string: the client address, or the quorum host
    /// when the client address is a wildcard (`0.0.0.0`, `::`), as Curator's tracker does.
    pub fn client_connect_string(&self) -> Option<String> {
        let (host, port) = self.client_address()?;
        let host = if is_wildcard(host) {
            self.addresses.first().map_or(host, |a| a.host.as_str())
        } else {
            host
        };
        Some(host_port(host, port))
    }
}

/// `server.N=host:quorum:election[|...]:role;clientHost:clientPort`, the form `reconfig()`
/// takes for a joining server.
impl fmt::Display for QuorumServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server.{}=", self.id)?;
        for (i, a) in self.addresses.iter().enumerate() {
            if i > 0 {
                f.write_str("|")?;
            }
            write!(
                f,
                "{}:{}",
                host_port(&a.host, a.quorum_port),
                a.election_port
            )?;
        }
        f.write_str(match self.role {
            LearnerType::Participant => ":participant",
            LearnerType::Observer => ":observer",
        })?;
        if let Some((h, p)) = &self.client {
            write!(f, ";{}", host_port(h, *p))?;
        }
        Ok(())
    }
}

/// The ensemble's configuration: its members and the config version (ZooKeeper's
/// `QuorumMaj`). Empty for a server without a dynamic configuration (a standalone server,
/// the `testing::TestingServer`).
///
/// ```
/// use zk_curator::framework::QuorumConfig;
/// let c = QuorumConfig::parse(
///     b"server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
///       server.2=127.0.0.2:2888:3888:participant;127.0.0.2:2181\n\
///       version=100000000\n",
/// )?;
/// assert_eq!(c.version(), Some(0x1_0000_0000));
/// assert_eq!(c.servers().count(), 2);
/// assert_eq!(c.connection_string(), "127.0.0.1:2181,127.0.0.2:2181");
/// assert!(QuorumConfig::parse(b"server.1=localhost").is_err());
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuorumConfig {
    servers: BTreeMap<u64, QuorumServer>,
    version: Option<i64>,
}

impl QuorumConfig {
    /// Parses the text of `/zookeeper/config`. Blank lines and `#`/`!` comments are
    /// skipped, `server.N` and `version` are read, other keys (`group.N`, `weight.N` of
    /// hierarchical quorums) are ignored as ZooKeeper's `QuorumMaj` ignores them. A line
    /// that is not `key=value`, a malformed server, a repeated key or a bad version is an
    /// `InvalidArgument` naming the line.
    pub fn parse(data: &[u8]) -> Result<QuorumConfig> {
        let text = std::str::from_utf8(data)
            .map_err(|e| Error::InvalidArgument(format!("dynamic config: not UTF-8 text ({e})")))?;
        let mut cfg = QuorumConfig::default();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let bad = |why: String| {
                Error::InvalidArgument(format!(
                    "dynamic config, line {} ({}): {why}",
                    n + 1,
                    excerpt(line)
                ))
            };
            let Some((key, value)) = line.split_once('=') else {
                return Err(bad("expected key=value".into()));
            };
            let (key, value) = (key.trim(), value.trim());
            if key == "version" {
                let v = i64::from_str_radix(value, 16)
                    .map_err(|_| bad(format!("version {value:?} is not a hex number")))?;
                if cfg.version.replace(v).is_some() {
                    return Err(bad("version given twice".into()));
                }
            } else if let Some(id) = key.strip_prefix("server.") {
                let id: u64 = id
                    .parse()
                    .map_err(|_| bad(format!("server id {id:?} is not a number")))?;
                let server = parse_server(id, value).map_err(bad)?;
                if cfg.servers.insert(id, server).is_some() {
                    return Err(bad(format!("server.{id} given twice")));
                }
            } else {
                log::debug!("dynamic config: ignoring {key}");
            }
        }
        Ok(cfg)
    }

    /// The members, by id.
    pub fn servers(&self) -> impl Iterator<Item = &QuorumServer> {
        self.servers.values()
    }

    /// Member `id`.
    pub fn server(&self, id: u64) -> Option<&QuorumServer> {
        self.servers.get(&id)
    }

    /// The config version (`version=`, hex in the text): what
    /// [`reconfig().from_config(v)`](super::builders::config::ReconfigBuilder::from_config)
    /// expects. `None` when the text has none.
    pub fn version(&self) -> Option<i64> {
        self.version
    }

    /// True without members.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// The client connect string of the ensemble (`host:port,...` by server id), leaving
    /// out members without a client address; a wildcard client address gives the quorum
    /// host (Curator's `EnsembleTracker.configToConnectionString`). Empty without members.
    pub fn connection_string(&self) -> String {
        self.servers
            .values()
            .filter_map(QuorumServer::client_connect_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn is_wildcard(host: &str) -> bool {
    matches!(host, "0.0.0.0" | "::" | "0:0:0:0:0:0:0:0")
}

fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// At most 80 characters of `s`, for error messages.
fn excerpt(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// `host:a:b...` with `[v6]` brackets (ZooKeeper's `ConfigUtils.getHostAndPort`): the host,
/// then the `:`-separated fields after it.
fn host_and_fields(s: &str) -> std::result::Result<(String, Vec<&str>), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| format!("{s:?} opens '[' without a closing ']'"))?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let fields = match after {
            "" => Vec::new(),
            a => a
                .strip_prefix(':')
                .ok_or_else(|| format!("{s:?}: expected ':' after ']'"))?
                .split(':')
                .collect(),
        };
        if host.is_empty() {
            return Err(format!("{s:?}: empty host in brackets"));
        }
        Ok((host.to_string(), fields))
    } else {
        let mut it = s.split(':');
        let host = it.next().unwrap_or_default();
        Ok((host.to_string(), it.collect()))
    }
}

fn port(what: &str, s: &str) -> std::result::Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(p) if p != 0 => Ok(p),
        _ => Err(format!("{what} {s:?} is not a port (1-65535)")),
    }
}

fn parse_server(id: u64, spec: &str) -> std::result::Result<QuorumServer, String> {
    let mut parts = spec.split(';');
    let peers = parts.next().unwrap_or_default().trim();
    let client_part = parts.next().map(str::trim);
    if parts.next().is_some() {
        return Err("more than one ';'".into());
    }
    let client = match client_part {
        None => None,
        Some("") => return Err("empty client address after ';'".into()),
        Some(c) => {
            if !c.starts_with('[') && c.contains("::") {
                return Err(format!(
                    "client address {c:?}: an IPv6 host must be in [brackets]"
                ));
            }
            let (first, fields) = host_and_fields(c)?;
            let (host, p) = match fields.as_slice() {
                // Only a port: the server listens on every address.
                [] if !c.starts_with('[') => ("0.0.0.0".to_string(), first),
                [p] => (first, p.to_string()),
                _ => {
                    return Err(format!(
                        "client address {c:?}: expected [host:]port (an IPv6 host in \
                         [brackets])"
                    ))
                }
            };
            if host.is_empty() {
                return Err(format!("client address {c:?}: empty host"));
            }
            Some((host, port("client port", &p)?))
        }
    };
    if peers.is_empty() {
        return Err("no quorum address".into());
    }
    let mut addresses = Vec::new();
    let mut role = None;
    for a in peers.split('|') {
        let a = a.trim();
        if !a.starts_with('[') && a.contains("::") {
            return Err(format!(
                "quorum address {a:?}: an IPv6 host must be in [brackets]"
            ));
        }
        let (host, fields) = host_and_fields(a)?;
        if host.is_empty() {
            return Err(format!("quorum address {a:?}: empty host"));
        }
        let (q, e, r) = match fields.as_slice() {
            [q, e] => (q, e, None),
            [q, e, r] => (q, e, Some(*r)),
            _ => {
                return Err(format!(
                    "quorum address {a:?}: expected host:quorumPort:electionPort[:role] (an \
                     IPv6 host in [brackets])"
                ))
            }
        };
        let quorum_port = port("quorum port", q)?;
        let election_port = port("election port", e)?;
        if quorum_port == election_port {
            return Err(format!(
                "quorum address {a:?}: the quorum and election ports must differ"
            ));
        }
        if let Some(r) = r {
            let r = match r.trim() {
                "participant" => LearnerType::Participant,
                "observer" => LearnerType::Observer,
                other => return Err(format!("unknown role {other:?} (participant or observer)")),
            };
            if role.is_some_and(|was| was != r) {
                return Err("the addresses give different roles".into());
            }
            role = Some(r);
        }
        addresses.push(PeerAddress {
            host,
            quorum_port,
            election_port,
        });
    }
    Ok(QuorumServer {
        id,
        addresses,
        role: role.unwrap_or(LearnerType::Participant),
        client,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_zookeeper_writes_is_read() {
        let c = QuorumConfig::parse(
            b"server.1=127.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
              server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\n\
              server.3=[::1]:2890:3890:observer;[::1]:2183\n\
              server.4=10.0.0.4:2888:3888|10.1.0.4:2888:3888;2184\n\
              server.5=10.0.0.5:2888:3888\n\
              version=1000000a3\n",
        )
        .unwrap();
        assert_eq!(c.version(), Some(0x1_0000_00a3));
        assert_eq!(
            c.servers().map(|s| s.id()).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        let s3 = c.server(3).unwrap();
        assert_eq!(s3.role(), LearnerType::Observer);
        assert_eq!(s3.addresses()[0].host(), "::1");
        assert_eq!(c.server(4).unwrap().addresses().len(), 2);
        assert_eq!(
            c.server(4).unwrap().client_address(),
            Some(("0.0.0.0", 2184))
        );
        assert_eq!(c.server(5).unwrap().client_address(), None);
        assert_eq!(
            c.connection_string(),
            "127.0.0.1:2181,127.0.0.1:2182,[::1]:2183,10.0.0.4:2184"
        );
        // Display gives back what reconfig() takes, and it parses to the same server.
        for s in c.servers() {
            let text = s.to_string();
            let (key, spec) = text.split_once('=').unwrap();
            assert_eq!(key, format!("server.{}", s.id()));
            assert_eq!(&QuorumServer::parse(s.id(), spec).unwrap(), s, "{text}");
        }
        // Comments, blank lines, spaces, other keys.
        let c = QuorumConfig::parse(
            b"# dynamic\n\n  server.7 = h:1:2 ; 3 \r\n!x\ngroup.1=7\nweight.7=1\n",
        )
        .unwrap();
        assert_eq!(c.connection_string(), "h:3");
        assert_eq!(c.version(), None);
        assert!(QuorumConfig::parse(b"").unwrap().is_empty());
    }

    #[test]
    fn garbage_is_refused_with_the_line() {
        let cases: &[(&[u8], &str)] = &[
            (b"hello world", "line 1"),
            (b"server.1=h:1:2\nnonsense", "line 2"),
            (b"server.x=h:1:2", "not a number"),
            (b"server.1=h", "expected host:quorumPort:electionPort"),
            (b"server.1=h:1", "expected host:quorumPort:electionPort"),
            (
                b"server.1=h:1:2:3:4",
                "expected host:quorumPort:electionPort",
            ),
            (b"server.1=h:1:2:leader", "unknown role"),
            (b"server.1=h:1:1", "must differ"),
            (b"server.1=h:0:2", "quorum port"),
            (b"server.1=h:1:99999", "election port"),
            (b"server.1=h:1:2;", "empty client address"),
            (b"server.1=h:1:2;x", "client port"),
            (b"server.1=h:1:2;h:1:2", "expected [host:]port"),
            (b"server.1=h:1:2;a;b", "more than one"),
            (b"server.1=::1:1:2", "brackets"),
            (b"server.1=h:1:2;::1:2181", "brackets"),
            (b"server.1=[::1:1:2", "closing ']'"),
            (b"server.1=[::1]1:2", "expected ':' after ']'"),
            (b"server.1=[]:1:2", "empty host"),
            (b"server.1=:1:2", "empty host"),
            (b"server.1=;2181", "no quorum address"),
            (
                b"server.1=h:1:2:observer|g:1:2:participant",
                "different roles",
            ),
            (b"server.1=h:1:2\nserver.1=g:1:2", "twice"),
            (b"version=xyz", "hex"),
            (b"version=1\nversion=2", "twice"),
            (b"\xff\xfe", "UTF-8"),
        ];
        for (text, want) in cases {
            match QuorumConfig::parse(text) {
                Err(Error::InvalidArgument(msg)) => {
                    assert!(
                        msg.contains(want),
                        "{:?}: {msg}",
                        String::from_utf8_lossy(text)
                    )
                }
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(text)),
            }
        }
        // A long line is cut in the message.
        let long = format!("x{}", "y".repeat(1000));
        let msg = QuorumConfig::parse(long.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(msg.len() < 300, "{msg}");
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x = 0x1234_5678_9abc_def0u64;
        let alphabet = b"server.=:;|[]0123456789abcdefhilmnoprtv\n# ";
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 60) as usize;
            let text: Vec<u8> = (0..len)
                .map(|i| alphabet[((x >> (i % 50)) as usize + i * 7) % alphabet.len()])
                .collect();
            let _ = QuorumConfig::parse(&text);
        }
    }
}
