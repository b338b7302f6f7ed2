//! The state every member of a server or cluster shares, behind one lock: the data tree, the
//! watch tables, the session table, the last zxid and the registry of live connections (each
//! with its [`Outbox`]). Also the ticker thread that expires sessions and reaps containers and
//! TTL nodes.
//!
//! Lock order: `ServerShared::state` then an `Outbox` lock (outboxes never call back into it).
//! No I/O happens under `state`: frames are appended to outboxes and written by each
//! connection's writer thread.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Condvar, Mutex};

use super::commit::Commit;
use super::outbox::Outbox;
use super::session::Sessions;
use super::stats::MemberShared;
use super::tree::{Change, Owner, Tree};
use super::watches::{ConnId, Fired, Watches};
use crate::proto::{frame, xid, Id, KeeperState, Perms, ReplyHeader, WatcherEvent};

/// Server settings (see `TestingServerBuilder` for what each means).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub tick: Duration,
    pub min_session: Duration,
    pub max_session: Duration,
    pub container_interval: Duration,
    pub extended_types: bool,
    /// `digest` id (`user:hash`) that grants `super`.
    pub super_digest: Option<String>,
    /// How long a write transaction takes to commit (see `commit`).
    pub commit_latency: Duration,
    /// SASL DIGEST-MD5 users (a JAAS `Server` section); empty: no SASL provider (feature
    /// `sasl`).
    #[cfg(feature = "sasl")]
    pub sasl_users: Vec<(String, crate::auth::Secret)>,
    /// TLS on the client port (feature `tls`).
    #[cfg(feature = "tls")]
    pub tls: Option<ServerTls>,
}

/// The TestingServer's TLS settings, parsed. `Debug` shows only whether client
/// certificates are required.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) struct ServerTls {
    pub config: Arc<rustls::ServerConfig>,
    pub client_auth: bool,
}

#[cfg(feature = "tls")]
impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

/// One live connection, as the shared state sees it.
pub(crate) struct ConnEntry {
    pub outbox: Arc<Outbox>,
    pub session: i64,
    pub member: usize,
    pub addr: SocketAddr,
    pub timeout_ms: i32,
    /// The identities the connection authenticated with (`ip:` first).
    pub auth: Vec<Id>,
    pub received: u64,
    pub sent: u64,
}

pub(crate) struct State {
    pub tree: Tree,
    pub watches: Watches,
    pub sessions: Sessions,
    pub zxid: i64,
    pub conns: HashMap<ConnId, ConnEntry>,
    /// False while too few members run: nothing is served and nothing expires.
    pub quorum: bool,
    last_reap: Instant,
    pub commit: Commit,
    /// When the transaction being processed commits: every frame it causes (reply,
    /// notifications) is held until then. Set by [`next_zxid`](Self::next_zxid), cleared by
    /// whoever starts processing a request, `None` without a commit latency.
    pub txn_due: Option<Instant>,
}

impl State {
    /// Takes the zxid of a new transaction (every write, failed ones included, and
    /// createSession, closeSession, expiry and reaping) and schedules its commit.
    pub(crate) fn next_zxid(&mut self) -> i64 {
        self.zxid += 1;
        self.txn_due = self.commit.due(Instant::now);
        self.zxid
    }

    /// Queues `notifications` on the connections they are for.
    pub(crate) fn deliver(&mut self, fired: &[Fired]) {
        for (conn, event, path, acl) in fired {
            if let Some(c) = self.conns.get_mut(conn) {
                // Since CVE-2024-23944 (in the Debian 3.8.0 build too) an event is dropped for
                // a connection that may not READ the node; the watch is used up regardless.
                if let Some(acl) = acl {
                    if super::acl::check(acl, Perms::READ, &c.auth).is_err() {
                        continue;
                    }
                }
                c.sent += 1;
                let ev = WatcherEvent {
                    event_type: event.code(),
                    state: KeeperState::SyncConnected.code(),
                    path: path.clone(),
                };
                c.outbox.push_at(self.txn_due, |buf| {
                    let at = frame::begin_frame(buf);
                    crate::proto::Record::encode(
                        &ReplyHeader {
                            xid: xid::NOTIFICATION,
                            zxid: -1,
                            err: 0,
                        },
                        buf,
                    );
                    crate::proto::Record::encode(&ev, buf);
                    frame::end_frame(buf, at);
                });
            }
        }
    }

    /// Runs tree changes through the watch tables and delivers the notifications.
    pub(crate) fn fire(&mut self, changes: &[Change]) {
        if changes.is_empty() {
            return;
        }
        let mut fired = Vec::new();
        for c in changes {
            self.watches.on_change(c, &mut fired);
        }
        self.deliver(&fired);
    }

    /// Ends a session (closeSession, expiry): one txn deletes its ephemerals and fires their
    /// watches; its connection, if any, is left to the caller. Returns the closed connection.
    pub(crate) fn close_session(&mut self, session: i64) -> Option<ConnId> {
        let s = self.sessions.remove(session)?;
        let zxid = self.next_zxid();
        let mut changes = Vec::new();
        for path in self.tree.ephemerals_of(session) {
            changes.push(self.tree.delete(&path, zxid));
        }
        self.fire(&changes);
        s.conn
    }

    /// Forgets a connection: its watches go, its session (if still attached) is detached.
    pub(crate) fn unregister(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            if let Some(s) = self.sessions.get_mut(c.session) {
                if s.conn == Some(conn) {
                    s.conn = None;
                }
            }
        }
        self.watches.remove_conn(conn);
    }

    /// Closes (kills) connections matching `pred`; `now` closes them even on a paused member
    /// (when it stops), otherwise the client sees the close only once the pause ends.
    pub(crate) fn kill_conns(&mut self, now: bool, pred: impl Fn(&ConnEntry) -> bool) {
        let ids: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| pred(c))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(c) = self.conns.get(&id) {
                if now {
                    c.outbox.kill_now();
                } else {
                    c.outbox.kill();
                }
            }
            self.unregister(id);
        }
    }

    /// Expires a session as its timeout would: ephemerals deleted, watchers told, the
    /// connection closed without a word.
    pub(crate) fn expire(&mut self, session: i64) -> bool {
        if self.sessions.get(session).is_none() {
            return false;
        }
        log::info!("expiring session 0x{session:x}");
        if let Some(conn) = self.close_session(session) {
            if let Some(c) = self.conns.get(&conn) {
                c.outbox.kill();
            }
            self.unregister(conn);
        }
        true
    }

    /// Deletes empty containers that once had a child and empty TTL nodes not modified for
    /// their TTL (`ContainerManager`), each as its own txn.
    fn reap(&mut self) {
        let now = wall_ms();
        let mut doomed: Vec<String> = Vec::new();
        for p in self.tree.containers() {
            if let Some(n) = self.tree.get(p) {
                if n.children.is_empty() && n.cversion > 0 {
                    doomed.push(p.clone());
                }
            }
        }
        for p in self.tree.ttls() {
            if let Some(n) = self.tree.get(p) {
                if let Owner::Ttl(ttl) = n.owner {
                    if n.children.is_empty() && ttl != 0 && now - n.mtime > ttl {
                        doomed.push(p.clone());
                    }
                }
            }
        }
        for p in doomed {
            let zxid = self.next_zxid();
            let change = self.tree.delete(&p, zxid);
            self.fire(&[change]);
        }
    }
}

pub(crate) fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What every member of a server or cluster shares: the settings, the state behind one lock,
/// the ticker and the members' live views.
pub(crate) struct ServerShared {
    pub cfg: Config,
    pub state: Mutex<State>,
    pub next_conn: AtomicU64,
    ticker_stop: Mutex<bool>,
    ticker_cv: Condvar,
    ticker: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    /// Every member's shared view, for quorum and four-letter words. Locked before `state`.
    pub members: Mutex<Vec<Arc<MemberShared>>>,
}

impl ServerShared {
    pub(crate) fn new(cfg: Config) -> Arc<ServerShared> {
        let sessions = Sessions::new(0, cfg.tick);
        let commit = Commit::new(cfg.commit_latency);
        Arc::new(ServerShared {
            state: Mutex::new(State {
                tree: Tree::new(),
                watches: Watches::default(),
                sessions,
                zxid: 0,
                conns: HashMap::new(),
                quorum: true,
                last_reap: Instant::now(),
                commit,
                txn_due: None,
            }),
            cfg,
            next_conn: AtomicU64::new(1),
            ticker_stop: Mutex::new(false),
            ticker_cv: Condvar::new(),
            ticker: Mutex::new(None),
            closed: AtomicBool::new(false),
            members: Mutex::new(Vec::new()),
        })
    }

    /// Starts the ticker thread (`zk-test-ticker`).
    pub(crate) fn start_ticker(self: &Arc<Self>) -> std::io::Result<()> {
        let core = Arc::clone(self);
        let h = std::thread::Builder::new()
            .name("zk-test-ticker".into())
            .spawn(move || core.tick_loop())?;
        *self.ticker.lock() = Some(h);
        Ok(())
    }

    fn tick_loop(&self) {
        // Wake often enough for the tick-rounded deadlines and the reap interval, but not
        // more than every 10 ms.
        let period = self
            .cfg
            .tick
            .min(self.cfg.container_interval)
            .min(Duration::from_millis(100))
            .max(Duration::from_millis(10));
        loop {
            {
                let mut stop = self.ticker_stop.lock();
                if *stop {
                    return;
                }
                self.ticker_cv.wait_for(&mut stop, period);
                if *stop {
                    return;
                }
            }
            let now = Instant::now();
            let mut st = self.state.lock();
            if !st.quorum {
                continue;
            }
            for id in st.sessions.due(now) {
                st.expire(id);
            }
            if now.duration_since(st.last_reap) >= self.cfg.container_interval {
                st.last_reap = now;
                st.reap();
            }
        }
    }

    /// Stops and joins the ticker; idempotent.
    pub(crate) fn shutdown(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        *self.ticker_stop.lock() = true;
        self.ticker_cv.notify_all();
        if let Some(h) = self.ticker.lock().take() {
            let _ = h.join();
        }
        let mut st = self.state.lock();
        st.kill_conns(true, |_| true);
    }

    /// Recomputes whether a majority of members serves; losing it drops every client
    /// connection, regaining it restarts every session's clock.
    pub(crate) fn recompute_quorum(&self) {
        let members = self.members.lock();
        let n = members.len();
        let live = members
            .iter()
            .filter(|m| m.is_up() && (n == 1 || !m.faults.paused()))
            .count();
        drop(members);
        let quorum = live * 2 > n;
        let mut st = self.state.lock();
        if st.quorum && !quorum {
            log::info!("quorum lost ({live} of {n} members): refusing service");
            st.quorum = false;
            st.kill_conns(false, |_| true);
        } else if !st.quorum && quorum {
            log::info!("quorum regained ({live} of {n} members)");
            st.quorum = true;
            st.sessions.touch_all(Instant::now());
        }
    }

    /// The role `srvr` reports for a member: `standalone`, `leader` (the first serving
    /// member) or `follower`; `None` when it is not serving.
    pub(crate) fn role(&self, index: usize) -> Option<&'static str> {
        let members = self.members.lock();
        let n = members.len();
        let serving = |m: &Arc<MemberShared>| m.is_up() && (n == 1 || !m.faults.paused());
        let me = members.get(index)?;
        if !serving(me) {
            return None;
        }
        let live = members.iter().filter(|m| serving(m)).count();
        if live * 2 <= n {
            return None;
        }
        if n == 1 {
            return Some("standalone");
        }
        let leader = members.iter().position(serving);
        Some(if leader == Some(index) {
            "leader"
        } else {
            "follower"
        })
    }

    /// Negotiates a requested session timeout into the configured bounds.
    pub(crate) fn negotiate(&self, requested_ms: i32) -> i32 {
        let min = self.cfg.min_session.as_millis().min(i32::MAX as u128) as i32;
        let max = self.cfg.max_session.as_millis().min(i32::MAX as u128) as i32;
        requested_ms.max(min).min(max.max(min))
    }

    /// The identity every connection starts with.
    pub(crate) fn ip_id(addr: &SocketAddr) -> Id {
        Id::new("ip", addr.ip().to_string())
    }
}
