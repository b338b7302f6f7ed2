//! How every framework operation runs: paths through the namespace, foreground calls
//! through the retry loop, background calls through the same policy with retries rescheduled
//! on the timer thread, results to the callback (event thread or pool) or to the
//! CuratorListeners, and watchers wrapped so that their events carry namespace-free paths.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::event::{BackgroundCallback, CuratorEvent};
use super::retry::{call_with_retry, DeferSleeper, RetryPolicy};
use super::types::CuratorEventType;
use super::CuratorFramework;
use crate::client::ZooKeeper;
use crate::error::{Error, Result};
use crate::path;
use crate::proto::{Acl, CreateMode};
use crate::session::events::guarded;
use crate::session::shared::{connect_deadline, with_connect_deadline};
use crate::session::{SharedWatcher, WatchedEvent, Watcher, WorkerPool};

/// Where a background operation reports.
#[derive(Default)]
pub(crate) struct Background {
    pub callback: Option<BackgroundCallback>,
    pub executor: Option<WorkerPool>,
    /// `with_unhandled_error_listener`: this operation's errors go here instead of the
    /// client's unhandled-error listeners.
    pub error_listener: Option<Arc<dyn super::event::UnhandledErrorListener>>,
}

impl Background {
    fn report(&self, client: &CuratorFramework, msg: &str, e: &Error) {
        match &self.error_listener {
            Some(l) => {
                let _ = guarded(&PANICS, "unhandled-error listener", || {
                    l.unhandled_error(msg, e)
                });
            }
            None => client.inner.report_unhandled(msg, e),
        }
    }
}

/// Hands one attempt's result back to its operation (retry or deliver). The operation's
/// `Arc` and the attempt number: making one allocates nothing, which matters on the hottest
/// path (every pipelined request makes one, and frees it on another thread).
pub(crate) struct Done<T> {
    op: Arc<dyn OnResult<T>>,
    count: u32,
}

impl<T> Done<T> {
    /// Delivers the attempt's result.
    pub(crate) fn call(self, r: Result<T>) {
        self.op.on_result(self.count, r)
    }
}

/// What a [`Done`] calls: the operation's retry-or-deliver step.
pub(crate) trait OnResult<T>: Send + Sync {
    fn on_result(self: Arc<Self>, count: u32, r: Result<T>);
}

/// One attempt of a background operation: issue the asynchronous call on `zk`; `done` gets
/// the result on the event thread. `attempt` is the 0-based attempt number (a retry may need
/// to look around first, as protected creates do).
pub(crate) type Attempt<T> = Box<dyn Fn(&CuratorFramework, &ZooKeeper, u32, Done<T>) + Send + Sync>;

/// Turns the final result into the event reported.
pub(crate) type Finish<T> = Box<dyn FnOnce(&CuratorFramework, Result<T>) -> CuratorEvent + Send>;

/// Runs after the final failure, before the report (guaranteed delete hands the path to the
/// failed-delete manager there).
pub(crate) type OnFailure = Box<dyn FnOnce(&CuratorFramework, &Error) + Send>;

/// What happens with the final result: turned into an event, failure hook, who hears it.
type Reporting<F> = (F, Option<OnFailure>, Background);

/// One background operation across its attempts. Generic over the attempt and finish
/// closures so that they live inside this one allocation (a hot path: every pipelined
/// request makes one); `Attempt<T>` / `Finish<T>` boxes work too.
struct BgState<A, F> {
    client: CuratorFramework,
    attempt: A,
    rest: Mutex<Option<Reporting<F>>>,
    start: Instant,
    /// The operation's connection deadline (see [`CuratorFramework::call`]).
    connect_by: Option<Instant>,
}

impl CuratorFramework {
    // ------------------------------------------------------------------ paths

    /// Validates a path, applies the namespace (creating its node on first use) and returns
    /// the handle-level path.
    pub(crate) fn fix_path(&self, p: &str, sequential: bool) -> Result<String> {
        let Some(ns) = &self.namespace else {
            path::validate_path(p, sequential)?;
            return Ok(p.to_string());
        };
        let full = path::fix_for_namespace(Some(ns), p, sequential)?;
        self.ensure_namespace(ns)?;
        Ok(full)
    }

    /// Removes the namespace from a handle-level path.
    pub(crate) fn unfix_path(&self, p: &str) -> String {
        match &self.namespace {
            Some(ns) => path::strip_prefix(ns, p).to_string(),
            None => p.to_string(),
        }
    }

    fn ensure_namespace(&self, ns: &str) -> Result<()> {
        if self.inner.ensured.lock().contains(ns) {
            return Ok(());
        }
        let root = self.without_namespace();
        root.create_containers_at(ns)?;
        self.inner.ensured.lock().insert(ns.to_string());
        Ok(())
    }

    /// A facade on the same connection without a namespace.
    pub(crate) fn without_namespace(&self) -> CuratorFramework {
        CuratorFramework {
            inner: self.inner.clone(),
            namespace: None,
            watches: None,
        }
    }

    /// Creates `p` (handle-level, no namespace applied) and its parents as containers (or
    /// persistent nodes when containers are off or unsupported), tolerating races.
    pub(crate) fn create_containers_at(&self, p: &str) -> Result<()> {
        self.call(|zk, _| self.make_dirs(zk, p, self.container_mode(), None))
    }

    /// Creates `dir` (handle-level path) and its missing ancestors on `zk`, one attempt:
    /// for callers already in the retry loop, and recipes working on the handle directly.
    /// Nodes get `acl`, or the ACL provider's for their path; a node another client made
    /// meanwhile is fine; on a server without containers (before 3.5) `Container` falls
    /// back to persistent nodes.
    pub(crate) fn make_dirs(
        &self,
        zk: &ZooKeeper,
        dir: &str,
        mode: CreateMode,
        acl: Option<&[Acl]>,
    ) -> Result<()> {
        for d in path::ancestors(dir, true) {
            if zk.exists(d, false)?.is_some() {
                continue;
            }
            let acl = acl.map_or_else(|| self.acl_for(d), <[Acl]>::to_vec);
            match zk.create(d, &[], &acl, mode) {
                Ok(_) | Err(Error::NodeExists { .. }) => {}
                Err(Error::Unimplemented { .. }) if mode == CreateMode::Container => {
                    match zk.create(d, &[], &acl, CreateMode::Persistent) {
                        Ok(_) | Err(Error::NodeExists { .. }) => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    pub(crate) fn container_mode(&self) -> CreateMode {
        if self.inner.cfg.use_container_parents {
            CreateMode::Container
        } else {
            CreateMode::Persistent
        }
    }

    /// The ACL for a new node without an explicit one.
    pub(crate) fn acl_for(&self, full_path: &str) -> Vec<Acl> {
        let acl = self.inner.cfg.acl_provider.acl_for_path(full_path);
        if acl.is_empty() {
            self.inner.cfg.acl_provider.default_acl()
        } else {
            acl
        }
    }

    // ------------------------------------------------------------------ foreground

    /// Runs `f` in the retry loop. The connection timeout bounds how long the operation
    /// waits for a connection *in total*, counted from its start and shared by all its
    /// attempts: an attempt made while disconnected waits for what is left of it, then is
    /// charged a `ConnectionLoss` (with the hosts tried); once it is used up, attempts
    /// fail at once unless connected, so an unreachable ensemble fails the operation after
    /// about the connection timeout plus the policy's sleeps, as in Curator. Requests `f`
    /// makes are bound by the same deadline while they wait for a connection.
    pub(crate) fn call<T>(&self, mut f: impl FnMut(&ZooKeeper, u32) -> Result<T>) -> Result<T> {
        let inner = &self.inner;
        let deadline = self.connect_deadline_from(Instant::now());
        call_with_retry(&*inner.retry, |count| {
            // Inside a SessionFailRetryLoop whose session failed: stop here.
            super::retry_loop::check_session(inner)?;
            let zk = inner.connected_handle(deadline)?;
            with_connect_deadline(deadline, || f(&zk, count))
        })
    }

    /// When an operation started at `start` stops waiting for a connection: after the
    /// connection timeout, or earlier if it runs inside another operation (a nested call
    /// keeps its caller's deadline). `None`: never (a timeout too large to add).
    fn connect_deadline_from(&self, start: Instant) -> Option<Instant> {
        let own = start.checked_add(self.inner.cfg.connection_timeout);
        match (connect_deadline(), own) {
            (Some(outer), Some(own)) => Some(outer.min(own)),
            (outer, own) => outer.or(own),
        }
    }

    // ------------------------------------------------------------------ background

    /// Runs a background operation: the first attempt now, on this thread; retries on the
    /// timer thread after the policy's delay; the final result to the callback or the
    /// CuratorListeners. On a closed client it returns `Err(Closed)` and nothing runs, the
    /// callback included (Curator throws `IllegalStateException`): nothing could deliver
    /// its result any more.
    pub(crate) fn run_background<T: Send + 'static>(
        &self,
        attempt: Attempt<T>,
        finish: Finish<T>,
        on_failure: Option<OnFailure>,
        bg: Background,
    ) -> Result<()> {
        self.run_background_inline(attempt, finish, on_failure, bg)
    }

    /// [`run_background`](Self::run_background) with the closures stored unboxed, for the
    /// hottest verbs (one allocation fewer for each closure per request).
    pub(crate) fn run_background_inline<T, A, F>(
        &self,
        attempt: A,
        finish: F,
        on_failure: Option<OnFailure>,
        bg: Background,
    ) -> Result<()>
    where
        T: Send + 'static,
        A: Fn(&CuratorFramework, &ZooKeeper, u32, Done<T>) + Send + Sync + 'static,
        F: FnOnce(&CuratorFramework, Result<T>) -> CuratorEvent + Send + 'static,
    {
        self.check_not_closed()?;
        let start = Instant::now();
        let st = Arc::new(BgState {
            client: self.clone(),
            attempt,
            rest: Mutex::new(Some((finish, on_failure, bg))),
            start,
            connect_by: self.connect_deadline_from(start),
        });
        attempt_bg(st, 0);
        Ok(())
    }

    /// `Err(Closed)` once the client is closed: for what must refuse at once rather than
    /// report later (background operations, recipes being started).
    pub(crate) fn check_not_closed(&self) -> Result<()> {
        match self.inner.lifecycle() {
            super::CuratorFrameworkState::Stopped => Err(Error::Closed),
            _ => Ok(()),
        }
    }

    /// A watcher as the handle should hold it: with a namespace, wrapped so that event paths
    /// lose it; the same user watcher always maps to the same wrapper.
    pub(crate) fn wrap_watcher(&self, w: SharedWatcher) -> SharedWatcher {
        let Some(ns) = self.namespace.clone() else {
            return w;
        };
        let key = (w.id(), ns.clone());
        let mut map = self.inner.wrappers.lock();
        if let Some(existing) = map.get(&key).and_then(|weak| weak.upgrade()) {
            return SharedWatcher(existing);
        }
        if map.len() > 1024 {
            map.retain(|_, weak| weak.strong_count() > 0);
        }
        let wrapped: Arc<dyn Watcher> = Arc::new(NamespaceWatcher { ns, inner: w });
        map.insert(key, Arc::downgrade(&wrapped));
        SharedWatcher(wrapped)
    }

    /// The watcher behind `watched()`: events go to the CuratorListeners as `Watched`.
    pub(crate) fn listener_watcher(&self) -> SharedWatcher {
        let mut map = self.inner.listener_watchers.lock();
        if let Some(w) = map.get(&self.namespace) {
            return w.clone();
        }
        let w = self.new_listener_watcher();
        map.insert(self.namespace.clone(), w.clone());
        w
    }

    fn new_listener_watcher(&self) -> SharedWatcher {
        let weak = Arc::downgrade(&self.inner);
        let ns = self.namespace.clone();
        SharedWatcher::new(move |e: &WatchedEvent| {
            let Some(inner) = weak.upgrade() else { return };
            let client = CuratorFramework {
                inner: inner.clone(),
                namespace: ns.clone(),
                watches: None,
            };
            let e = client.strip_event(e);
            // State changes reach the listeners through the client's own watcher.
            if e.event_type() == crate::proto::EventType::None {
                return;
            }
            client.post_watched(e);
        })
    }

    /// Reports a watch event to the CuratorListeners as `Watched`.
    pub(crate) fn post_watched(&self, e: WatchedEvent) {
        let mut ev = CuratorEvent::new(CuratorEventType::Watched, e.path().unwrap_or("/"));
        ev.watched = Some(e);
        let client = self.clone();
        self.inner
            .curator_listeners
            .for_each(move |l| l.event_received(&client, &ev));
    }

    fn strip_event(&self, e: &WatchedEvent) -> WatchedEvent {
        match &self.namespace {
            Some(ns) => strip(ns, e),
            None => e.clone(),
        }
    }
}

fn strip(ns: &str, e: &WatchedEvent) -> WatchedEvent {
    let mut out = WatchedEvent::new(
        e.event_type(),
        e.state(),
        e.path().map(|p| path::strip_prefix(ns, p).to_string()),
    );
    if e.zxid() != -1 {
        out = out.with_zxid(e.zxid());
    }
    out
}

struct NamespaceWatcher {
    ns: Arc<str>,
    inner: SharedWatcher,
}

impl Watcher for NamespaceWatcher {
    fn process(&self, e: &WatchedEvent) {
        self.inner.process(&strip(&self.ns, e));
    }
}

fn attempt_bg<T, A, F>(st: Arc<BgState<A, F>>, count: u32)
where
    T: Send + 'static,
    A: Fn(&CuratorFramework, &ZooKeeper, u32, Done<T>) + Send + Sync + 'static,
    F: FnOnce(&CuratorFramework, Result<T>) -> CuratorEvent + Send + 'static,
{
    let zk = match st.client.inner.handle() {
        Ok(zk) => zk,
        Err(e) => return on_result(st, count, Err(e)),
    };
    if !zk.state().is_connected() {
        // Background operations wait for a connection no longer than foreground ones:
        // past the deadline an attempt fails at once; before it, its requests queue in the
        // handle until the deadline, when a timer fails them if they are still unsent.
        let now = Instant::now();
        if let Some(d) = st.connect_by {
            if d <= now {
                return on_result(st, count, Err(zk.connection_loss()));
            }
            let handle = Arc::downgrade(&zk);
            st.client.inner.scheduler.schedule(d - now, move || {
                if let Some(zk) = handle.upgrade() {
                    zk.expire_queued();
                }
            });
        }
    }
    let done = Done {
        op: st.clone(),
        count,
    };
    let connect_by = st.connect_by;
    with_connect_deadline(connect_by, || (st.attempt)(&st.client, &zk, count, done));
}

impl<T, A, F> OnResult<T> for BgState<A, F>
where
    T: Send + 'static,
    A: Fn(&CuratorFramework, &ZooKeeper, u32, Done<T>) + Send + Sync + 'static,
    F: FnOnce(&CuratorFramework, Result<T>) -> CuratorEvent + Send + 'static,
{
    fn on_result(self: Arc<Self>, count: u32, r: Result<T>) {
        on_result(self, count, r)
    }
}

fn on_result<T, A, F>(st: Arc<BgState<A, F>>, count: u32, r: Result<T>)
where
    T: Send + 'static,
    A: Fn(&CuratorFramework, &ZooKeeper, u32, Done<T>) + Send + Sync + 'static,
    F: FnOnce(&CuratorFramework, Result<T>) -> CuratorEvent + Send + 'static,
{
    let inner = &st.client.inner;
    let mut exhausted = false;
    if let Err(e) = &r {
        let started = inner.lifecycle() == super::CuratorFrameworkState::Started;
        if started && inner.retry.allow_retry_error(e) {
            let sleeper = DeferSleeper::default();
            if inner.retry.allow_retry(count, st.start.elapsed(), &sleeper) {
                let delay = sleeper.0.get().unwrap_or(Duration::ZERO);
                let st2 = st.clone();
                inner
                    .scheduler
                    .schedule(delay, move || attempt_bg(st2, count + 1));
                return;
            }
            exhausted = true;
        }
    }
    deliver(&st, r, exhausted);
}

fn deliver<T, A, F>(st: &BgState<A, F>, r: Result<T>, exhausted: bool)
where
    F: FnOnce(&CuratorFramework, Result<T>) -> CuratorEvent,
{
    let Some((finish, on_failure, bg)) = st.rest.lock().ok().and_then(|mut g| g.take()) else {
        return;
    };
    let client = st.client.clone();
    let inner = client.inner.clone();
    if let (Err(e), Some(f)) = (&r, on_failure) {
        f(&client, e);
    }
    let err = if exhausted {
        r.as_ref().err().cloned()
    } else {
        None
    };
    let event = finish(&client, r);
    if let Some(e) = err {
        bg.report(
            &client,
            &format!("background {:?} failed", event.event_type()),
            &e,
        );
    }
    let Background {
        callback,
        executor,
        error_listener,
    } = bg;
    // The pool's ordering key; no copy of the path when there is no pool.
    let key = match executor {
        Some(_) => event.path().to_string(),
        None => String::new(),
    };
    let reporter = Background {
        callback: None,
        executor: None,
        error_listener,
    };
    match callback {
        Some(cb) => {
            let run = move || {
                if let Some(msg) = guarded(&PANICS, "background callback", || cb(&client, &event)) {
                    reporter.report(
                        &client,
                        "background callback",
                        &Error::CallbackPanicked(msg),
                    );
                }
            };
            match executor {
                // Keyed by path: callbacks for one node stay in order.
                Some(pool) => pool.execute(&key, run),
                None if inner.events.is_event_thread() => run(),
                None => inner.events.post(run),
            }
        }
        None => {
            let run = move || {
                let c = client.clone();
                client
                    .inner
                    .curator_listeners
                    .for_each(move |l| l.event_received(&c, &event));
            };
            if inner.events.is_event_thread() {
                run()
            } else {
                inner.events.post(run)
            }
        }
    }
}

/// Panics of background callbacks (they are also reported to the unhandled-error listeners).
static PANICS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
