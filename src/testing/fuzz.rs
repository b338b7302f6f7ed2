//! Not part of the API: the TestingServer's request path, without sockets or threads, for
//! `tests/proto_fuzz.rs`. A [`RequestPath`] is one server state with two sessions; every
//! frame fed to it goes where a connection's reader thread would send it (header, body
//! decoding, the operation applied to the tree, watches and sessions), and the answer's
//! error code comes back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ops::ConnCtx;
use super::request::{self, Handled};
use super::shared::{Config, ServerShared};

/// One server state and two sessions feeding it.
pub struct RequestPath {
    core: Arc<ServerShared>,
    cx: Vec<ConnCtx>,
}

impl Default for RequestPath {
    fn default() -> Self {
        RequestPath::new()
    }
}

impl RequestPath {
    /// A fresh server state (only the initial nodes) with two sessions.
    pub fn new() -> RequestPath {
        let core = ServerShared::new(Config {
            tick: Duration::from_millis(500),
            min_session: Duration::from_secs(1),
            max_session: Duration::from_secs(10),
            container_interval: Duration::from_millis(100),
            extended_types: true,
            super_digest: None,
            commit_latency: Duration::ZERO,
            #[cfg(feature = "sasl")]
            sasl_users: Vec::new(),
            #[cfg(feature = "tls")]
            tls: None,
        });
        let mut p = RequestPath {
            core,
            cx: Vec::new(),
        };
        for conn in 1..=2 {
            let session = p.new_session(conn);
            p.cx.push(ConnCtx {
                conn,
                session,
                auth: Vec::new(),
                extended_types: true,
                super_digest: None,
                sasl: false,
            });
        }
        p
    }

    fn new_session(&self, conn: u64) -> i64 {
        let mut st = self.core.state.lock();
        st.next_zxid();
        let (id, _) = st.sessions.create(10_000, Instant::now());
        if let Some(s) = st.sessions.get_mut(id) {
            s.conn = Some(conn);
        }
        id
    }

    /// Feeds one request frame (no length prefix) from session `who % 2`: the error code of
    /// the answer, or `None` when the connection would be closed instead.
    pub fn feed(&mut self, who: usize, frame: &[u8]) -> Option<i32> {
        let cx = &mut self.cx[who % 2];
        let (header, mut r) = request::header(frame)?;
        let mut st = self.core.state.lock();
        match request::handle(&mut st, cx, header, &mut r) {
            Handled::Close => None,
            Handled::Sasl { .. } => Some(0),
            Handled::Reply { err, close, .. } => (!close).then_some(err),
        }
    }

    /// Expires session `who % 2` as the ticker would (its ephemerals go, its watchers
    /// hear), and gives that connection a new session.
    pub fn expire(&mut self, who: usize) {
        let cx = &mut self.cx[who % 2];
        self.core.state.lock().expire(cx.session);
        let mut st = self.core.state.lock();
        st.next_zxid();
        let (id, _) = st.sessions.create(10_000, Instant::now());
        if let Some(s) = st.sessions.get_mut(id) {
            s.conn = Some(cx.conn);
        }
        cx.session = id;
        cx.auth.clear();
    }

    /// Nodes in the tree.
    pub fn znodes(&self) -> usize {
        self.core.state.lock().tree.node_count()
    }
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl std::fmt::Debug for RequestPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestPath").finish_non_exhaustive()
    }
}
