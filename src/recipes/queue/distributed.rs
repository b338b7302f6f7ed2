//! [`DistributedQueue`] and the core every queue kind shares ([`QueueCore`]): configuration,
//! life cycle, puts (serialisation, the size limit, the `max_items` bound, foreground or
//! background creates, put listeners, `flush_puts`) and the consumer thread's start and stop.
//! The consuming itself, the consumer thread's body, is its child `consume`.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

pub(super) mod consume;

use super::bound::{Bound, Ticket};
use super::children::ChildrenCache;
use super::consumer::{ErrorMode, QueueConsumer, QueuePutListener};
use super::names::{Kind, QUEUE_PREFIX};
use super::put::ItemCreate;
use super::serializer::{self, QueueSerializer};
use crate::error::{Error, Result};
use crate::framework::{ConnectionState, CuratorFramework, Listenable};
use crate::path;

/// How long `close()` waits for the consumer thread to finish the item it is on.
const CONSUMER_STOP_WAIT: Duration = Duration::from_secs(30);

/// What a [`QueueBuilder`](super::QueueBuilder) decided.
pub(crate) struct Config<T> {
    pub client: CuratorFramework,
    pub path: String,
    pub lock_path: Option<String>,
    pub kind: Kind,
    pub serializer: Arc<dyn QueueSerializer<T>>,
    pub consumer: Option<Arc<dyn QueueConsumer<T>>>,
    /// With `refresh_on_watch`: items taken from one listing before a changed listing makes
    /// the consumer sort again (Curator's `minItemsBeforeRefresh`).
    pub min_items_before_refresh: usize,
    pub refresh_on_watch: bool,
    pub max_items: Option<usize>,
    pub put_in_background: bool,
    pub final_flush: Duration,
    pub thread_name: String,
    /// Items taken ahead of the consumer without a lock path (at least 1).
    pub prefetch: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Life {
    Latent,
    Started,
    Closed,
}

/// Everything one queue instance holds; the public queue types wrap it.
pub(crate) struct QueueCore<T> {
    pub cfg: Config<T>,
    life: Mutex<Life>,
    pub error_mode: Mutex<ErrorMode>,
    pub put_listeners: Listenable<dyn QueuePutListener<T>>,
    pub cache: Arc<ChildrenCache>,
    bound: Option<Arc<Bound>>,
    /// Background puts not completed yet.
    outstanding: Mutex<usize>,
    flushed: Condvar,
    consumer_thread: Mutex<Option<(JoinHandle<()>, ThreadId)>>,
    consumer_done: Mutex<bool>,
    consumer_done_cv: Condvar,
    /// The data of this instance's lock nodes: tells a lock of ours whose create reply was
    /// lost from another consumer's.
    pub token: String,
}

impl<T: Send + Sync + 'static> QueueCore<T> {
    pub(crate) fn new(cfg: Config<T>) -> Arc<QueueCore<T>> {
        let completed = Arc::new(AtomicU64::new(0));
        let cache = ChildrenCache::new(&cfg.client, &cfg.path, completed.clone());
        let bound = cfg.max_items.map(|m| Bound::new(m, completed));
        Arc::new(QueueCore {
            cfg,
            life: Mutex::new(Life::Latent),
            error_mode: Mutex::new(ErrorMode::Requeue),
            put_listeners: Listenable::default(),
            cache,
            bound,
            outstanding: Mutex::new(0),
            flushed: Condvar::new(),
            consumer_thread: Mutex::new(None),
            consumer_done: Mutex::new(false),
            consumer_done_cv: Condvar::new(),
            token: crate::framework::protection::new_protected_id(),
        })
    }

    pub(crate) fn is_started(&self) -> bool {
        *self.life.lock() == Life::Started
    }

    fn check_started(&self) -> Result<()> {
        match *self.life.lock() {
            Life::Started => Ok(()),
            Life::Latent => Err(Error::InvalidArgument(
                "the queue is not started: call start() first".into(),
            )),
            Life::Closed => Err(Error::Closed),
        }
    }

    pub(crate) fn start(self: &Arc<Self>) -> Result<()> {
        {
            let mut life = self.life.lock();
            match *life {
                Life::Latent => *life = Life::Started,
                Life::Started => {
                    return Err(Error::InvalidArgument(
                        "the queue was already started".into(),
                    ))
                }
                Life::Closed => return Err(Error::Closed),
            }
        }
        let r = self.start_inner();
        if r.is_err() {
            *self.life.lock() = Life::Closed;
            self.cache.close();
        }
        r
    }

    fn start_inner(self: &Arc<Self>) -> Result<()> {
        let c = &self.cfg.client;
        for p in std::iter::once(&self.cfg.path).chain(self.cfg.lock_path.as_ref()) {
            match c
                .create()
                .creating_parent_containers_if_needed()
                .for_path(p)
            {
                Ok(_) | Err(Error::NodeExists { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let consumer = self.cfg.consumer.clone();
        if consumer.is_none() && self.bound.is_none() {
            return Ok(());
        }
        if let Some(cons) = consumer.clone() {
            self.cache
                .set_state_hook(move |c: &CuratorFramework, s: ConnectionState| {
                    cons.state_changed(c, s)
                });
        }
        self.cache.start();
        if self.bound.is_some() {
            // The bound's first estimate needs the items already queued.
            self.cache.refresh()?;
        }
        if consumer.is_some() {
            let me = self.clone();
            let h = std::thread::Builder::new()
                .name(self.cfg.thread_name.clone())
                .spawn(move || {
                    consume::run(&me);
                    *me.consumer_done.lock() = true;
                    me.consumer_done_cv.notify_all();
                })
                .map_err(Error::from)?;
            let id = h.thread().id();
            *self.consumer_thread.lock() = Some((h, id));
        }
        Ok(())
    }

    pub(crate) fn close(&self) {
        {
            let mut life = self.life.lock();
            let was = *life;
            *life = Life::Closed;
            if was != Life::Started {
                return;
            }
        }
        if !self.cfg.final_flush.is_zero() {
            self.flush_puts(self.cfg.final_flush);
        }
        self.cache.close();
        let thread = self.consumer_thread.lock().take();
        if let Some((h, id)) = thread {
            if std::thread::current().id() == id {
                // close() from the consumer itself: its loop ends when the item returns.
            } else if self.wait_consumer_done(CONSUMER_STOP_WAIT) {
                let _ = h.join();
            } else {
                log::warn!(
                    "queue {}: the consumer did not return within {CONSUMER_STOP_WAIT:?}; \
                     leaving its thread to finish on its own",
                    self.cfg.path
                );
            }
        }
        self.put_listeners.clear();
    }

    fn wait_consumer_done(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut done = self.consumer_done.lock();
        while !*done {
            if self
                .consumer_done_cv
                .wait_until(&mut done, deadline)
                .timed_out()
            {
                return *done;
            }
        }
        true
    }

    /// Waits until no background put is outstanding; false after `wait`.
    pub(crate) fn flush_puts(&self, wait: Duration) -> bool {
        let deadline = Instant::now().checked_add(wait);
        let mut n = self.outstanding.lock();
        while *n > 0 {
            match deadline {
                Some(d) => {
                    if self.flushed.wait_until(&mut n, d).timed_out() {
                        return *n == 0;
                    }
                }
                None => self.flushed.wait(&mut n),
            }
        }
        true
    }

    pub(crate) fn set_error_mode(&self, mode: ErrorMode) -> Result<()> {
        if self.cfg.lock_path.is_none() {
            return Err(Error::InvalidArgument(
                "an error mode needs a lock path (QueueBuilder::lock_path)".into(),
            ));
        }
        *self.error_mode.lock() = mode;
        Ok(())
    }

    /// Puts `items` (one node) named `queue-<decoration><SEQ>`; `Ok(false)` if the queue
    /// stayed full until `max_wait` passed.
    pub(crate) fn put_items(
        self: &Arc<Self>,
        items: Vec<T>,
        multi: bool,
        decoration: &str,
        max_wait: Option<Duration>,
    ) -> Result<bool> {
        self.check_started()?;
        let deadline = max_wait.map(|w| Instant::now() + w);
        let serialized = items
            .iter()
            .map(|i| self.cfg.serializer.serialize(i))
            .collect::<Result<Vec<_>>>()?;
        let data = serializer::encode(serialized.iter().map(Vec::as_slice))?;
        let base = format!("{QUEUE_PREFIX}{decoration}");
        let create = ItemCreate::new(&self.cfg.client, &self.cfg.path, &base, data)?;
        self.check_size(&create)?;
        let ticket = match &self.bound {
            Some(b) => match b.admit(&self.cfg.client, &self.cache, &self.cfg.path, deadline)? {
                Some(t) => t,
                None => return Ok(false),
            },
            None => Ticket::free(),
        };
        // Items stay alive for the put listeners only when there are some.
        let keep = (!self.put_listeners.is_empty()).then(|| Arc::new(items));
        if self.cfg.put_in_background {
            *self.outstanding.lock() += 1;
            let me = self.clone();
            let started = create.run_background(&self.cfg.client, move |r| {
                ticket.done(r.is_ok());
                match r {
                    Ok(_) => me.notify_put(keep, multi),
                    Err(e) => me.cfg.client.report_unhandled(
                        &format!("queue {}: a background put failed", me.cfg.path),
                        &e,
                    ),
                }
                let mut n = me.outstanding.lock();
                *n = n.saturating_sub(1);
                drop(n);
                me.flushed.notify_all();
            });
            if let Err(e) = started {
                // Refused before anything was sent (a closed client): the callback will not
                // run, so undo its bookkeeping here (the dropped ticket frees its slot).
                let mut n = self.outstanding.lock();
                *n = n.saturating_sub(1);
                drop(n);
                self.flushed.notify_all();
                return Err(e);
            }
        } else {
            let r = create.run(&self.cfg.client);
            ticket.done(r.is_ok());
            r?;
            self.notify_put(keep, multi);
        }
        Ok(true)
    }

    /// A create request larger than the client's packet limit (jute.maxbuffer, 1 MiB by
    /// default) would be refused; say so before anything is sent, also for background puts.
    fn check_size(&self, c: &ItemCreate) -> Result<()> {
        let limit = self.cfg.client.inner.cfg.max_buffer;
        let len = c.request_len();
        if len > limit {
            return Err(Error::InvalidArgument(format!(
                "queue item of {} bytes does not fit in one request ({len} bytes with the \
                 envelope and path; the limit, jute.maxbuffer, is {limit} bytes)",
                c.data_len()
            )));
        }
        Ok(())
    }

    fn notify_put(&self, items: Option<Arc<Vec<T>>>, multi: bool) {
        let Some(items) = items else { return };
        self.put_listeners.for_each(move |l| {
            if multi {
                l.put_multi_completed(&items);
            } else if let Some(first) = items.first() {
                l.put_completed(first);
            }
        });
    }

    /// Removes the item node `name` without consuming it (the id queue's `remove`); with a
    /// lock path, under its lock. True if this call removed it.
    pub(crate) fn try_remove(&self, name: &str) -> Result<bool> {
        let item = path::make_path(&self.cfg.path, name);
        match &self.cfg.lock_path {
            None => match self.cfg.client.delete().for_path(&item) {
                Ok(()) => Ok(true),
                Err(Error::NoNode { .. }) => Ok(false),
                Err(e) => Err(e),
            },
            Some(_) => consume::remove_locked(self, name),
        }
    }

    /// The current children of the queue node.
    pub(crate) fn children(&self) -> Result<Vec<String>> {
        self.cfg.client.get_children().for_path(&self.cfg.path)
    }
}

/// A queue of items shared by every process that opens it (Curator's `DistributedQueue`).
///
/// Producers [`put`](Self::put) items; a queue built with a consumer hands each item to it,
/// one at a time on the queue's own thread, in the order they were put. Built with
/// [`QueueBuilder`](super::QueueBuilder). The node layout is Java Curator's, so Java and Rust
/// processes share one queue: items are `P/queue-<SEQ>` (PERSISTENT_SEQUENTIAL) holding
/// Curator's item envelope.
///
/// Delivery is **at most once** without a lock path (an item is removed before it is handed
/// over) and **exactly once** with one ([`QueueBuilder::lock_path`](super::QueueBuilder::lock_path):
/// an item is removed only after the consumer returned; if the consumer fails it is put back,
/// if its process dies the lock disappears with its session and another consumer takes the
/// item). See the [module docs](super) for the exact guarantees.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::queue::{BlockingQueueConsumer, QueueBuilder, StringSerializer};
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let received = BlockingQueueConsumer::new();
/// let queue = QueueBuilder::builder(&client, received.clone(), StringSerializer, "/jobs")
///     .lock_path("/jobs-locks")
///     .build_queue()?;
/// queue.start()?;
/// queue.put("first".to_string())?;
/// queue.put("second".to_string())?;
/// assert_eq!(received.take_timeout(Duration::from_secs(10)).as_deref(), Some("first"));
/// assert_eq!(received.take_timeout(Duration::from_secs(10)).as_deref(), Some("second"));
/// queue.close();
/// client.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct DistributedQueue<T: Send + Sync + 'static> {
    pub(crate) core: Arc<QueueCore<T>>,
}

impl<T: Send + Sync + 'static> DistributedQueue<T> {
    /// Creates the queue node (and the lock node) if missing, and starts consuming if the
    /// queue has a consumer. Nothing else works before this.
    pub fn start(&self) -> Result<()> {
        self.core.start()
    }

    /// Stops: waits up to the final flush time for background puts, stops following the
    /// queue, removes this queue's watches and waits for the consumer to return from the
    /// item it is on (up to 30 s). Items stay in the queue. Idempotent; also run on drop.
    pub fn close(&self) {
        self.core.close()
    }

    /// Adds an item. In the background unless the builder said otherwise (then the item is
    /// in the queue when this returns). With `max_items`, waits while the queue is full.
    ///
    /// Errors: the queue is not started or closed, the serializer failed, the item does not
    /// fit in one request (`InvalidArgument`: 1 MiB by default, the server's
    /// `jute.maxbuffer`), or — for a foreground put — the create failed.
    pub fn put(&self, item: T) -> Result<()> {
        self.core.put_items(vec![item], false, "", None).map(|_| ())
    }

    /// [`put`](Self::put) waiting at most `max_wait` for room in a bounded queue; false if
    /// the queue stayed full.
    pub fn put_timeout(&self, item: T, max_wait: Duration) -> Result<bool> {
        self.core.put_items(vec![item], false, "", Some(max_wait))
    }

    /// Adds several items as one node (Curator's `putMulti`): a consumer gets them one after
    /// the other, and they count as one item against `max_items`.
    pub fn put_multi(&self, items: Vec<T>) -> Result<()> {
        self.core.put_items(items, true, "", None).map(|_| ())
    }

    /// [`put_multi`](Self::put_multi) waiting at most `max_wait` for room.
    pub fn put_multi_timeout(&self, items: Vec<T>, max_wait: Duration) -> Result<bool> {
        self.core.put_items(items, true, "", Some(max_wait))
    }

    /// Waits until every background put has reached the server; false after `wait`.
    pub fn flush_puts(&self, wait: Duration) -> bool {
        self.core.flush_puts(wait)
    }

    /// Listeners told when a put reached the server.
    pub fn put_listenable(&self) -> &Listenable<dyn QueuePutListener<T>> {
        &self.core.put_listeners
    }

    /// What the consumer's failures do (needs a lock path; [`ErrorMode::Requeue`] unless
    /// changed).
    pub fn set_error_mode(&self, mode: ErrorMode) -> Result<()> {
        self.core.set_error_mode(mode)
    }

    /// The number of children the consumer (or a bounded producer) saw last; for
    /// information only.
    pub fn last_message_count(&self) -> usize {
        self.core.cache.current().children.len()
    }

    /// The queue's path.
    pub fn path(&self) -> &str {
        &self.core.cfg.path
    }
}

impl<T: Send + Sync + 'static> Drop for DistributedQueue<T> {
    fn drop(&mut self) {
        self.core.close();
    }
}

impl<T: Send + Sync + 'static> std::fmt::Debug for DistributedQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistributedQueue")
            .field("path", &self.core.cfg.path)
            .field("lock_path", &self.core.cfg.lock_path)
            .finish()
    }
}
