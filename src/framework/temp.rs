//! [`CuratorTempFramework`] (Curator's `CuratorTempFramework`, from
//! [`build_temp`](super::CuratorFrameworkBuilder::build_temp)): a client for occasional
//! requests over an unreliable network (a WAN), which connects on first use and closes its
//! connection after it has been idle for a while, reconnecting on the next use. It offers
//! what Curator's does: reading data and running a transaction.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::builders::transaction::{CuratorOp, CuratorTransactionResult, TransactionOp};
use super::factory::CuratorFrameworkBuilder;
use super::CuratorFramework;
use crate::error::{Error, Result};
use crate::proto::Stat;

/// A client that opens its connection when used and closes it after an idle period
/// (Curator's `CuratorTempFramework`). Cheap to clone (clones share the connection); the
/// connection also closes when the last clone is dropped.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::CuratorFrameworkFactory;
/// use zk_curator::RetryOneTime;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// # let setup = zk_curator::ZooKeeper::builder(&server.connect_string()).connect()?;
/// # setup.create("/config", b"v1", &zk_curator::Acl::open_unsafe(), zk_curator::CreateMode::Persistent)?;
/// let temp = CuratorFrameworkFactory::builder()
///     .connect_string(&server.connect_string())
///     .retry_policy(RetryOneTime::new(Duration::from_millis(10)))
///     .build_temp_with_inactive_threshold(Duration::from_secs(30))?;
/// assert_eq!(temp.get_data().for_path("/config")?, b"v1");
/// let results = temp.transaction(|op| {
///     Ok(vec![op.set_data().for_path("/config", b"v2")?])
/// })?;
/// assert_eq!(results.len(), 1);
/// temp.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Clone)]
pub struct CuratorTempFramework {
    shared: Arc<Shared>,
}

struct Shared {
    builder: CuratorFrameworkBuilder,
    threshold: Duration,
    state: Mutex<State>,
}

impl Drop for Shared {
    /// The last clone is gone: the connection closes now rather than after the idle period.
    fn drop(&mut self) {
        if let Some(c) = self.state.get_mut().client.take() {
            c.close();
        }
    }
}

#[derive(Default)]
struct State {
    client: Option<CuratorFramework>,
    last_use: Option<Instant>,
    /// Operations running now: the connection is not closed under them.
    in_use: usize,
    closed: bool,
}

impl CuratorTempFramework {
    /// Curator's default idle period: 3 minutes.
    pub const DEFAULT_INACTIVE_THRESHOLD: Duration = Duration::from_secs(180);

    pub(crate) fn new(
        builder: CuratorFrameworkBuilder,
        threshold: Duration,
    ) -> Result<CuratorTempFramework> {
        if threshold.is_zero() {
            return Err(Error::InvalidArgument(
                "build_temp: the inactive threshold must be greater than zero".into(),
            ));
        }
        // Every setting is checked now, as build() checks them, rather than at first use.
        builder.clone().build()?.close();
        Ok(CuratorTempFramework {
            shared: Arc::new(Shared {
                builder,
                threshold,
                state: Mutex::new(State::default()),
            }),
        })
    }

    /// Read a node's data (Curator's `getData()`, with `decompressed` and
    /// `storing_stat_in`).
    pub fn get_data(&self) -> TempGetDataBuilder<'_> {
        TempGetDataBuilder {
            temp: self,
            decompress: false,
            stat: None,
        }
    }

    /// Runs a transaction (Curator's `inTransaction()`): `ops` builds the operations with
    /// the connection's [`TransactionOp`].
    pub fn transaction(
        &self,
        ops: impl FnOnce(&TransactionOp<'_>) -> Result<Vec<CuratorOp>>,
    ) -> Result<Vec<CuratorTransactionResult>> {
        self.with_client(|c| {
            let ops = ops(&c.transaction_op())?;
            c.transaction().for_operations(ops)
        })
    }

    /// Closes the connection, if open, for good: later calls fail with `Closed`.
    pub fn close(&self) {
        let client = {
            let mut st = self.shared.state.lock();
            st.closed = true;
            st.client.take()
        };
        if let Some(c) = client {
            c.close();
        }
    }

    /// True while the connection is open (it closes after the idle period).
    pub fn is_open(&self) -> bool {
        self.shared.state.lock().client.is_some()
    }

    /// The idle period after which the connection closes.
    pub fn inactive_threshold(&self) -> Duration {
        self.shared.threshold
    }

    /// Runs `f` with the connection, opening it if needed; the idle period counts from
    /// the end of the last use.
    fn with_client<T>(&self, f: impl FnOnce(&CuratorFramework) -> Result<T>) -> Result<T> {
        let client = self.open()?;
        struct Done<'a>(&'a Shared);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                let mut st = self.0.state.lock();
                st.in_use = st.in_use.saturating_sub(1);
                st.last_use = Some(Instant::now());
            }
        }
        let _done = Done(&self.shared);
        f(&client)
    }

    fn open(&self) -> Result<CuratorFramework> {
        let mut st = self.shared.state.lock();
        if st.closed {
            return Err(Error::Closed);
        }
        st.last_use = Some(Instant::now());
        if let Some(c) = st.client.clone() {
            st.in_use += 1;
            return Ok(c);
        }
        // Building and starting do not block on the network (the connection is made in
        // the background), so the lock is not held across any wait.
        let client = self.shared.builder.clone().build()?;
        client.start()?;
        log::debug!("temp framework: connection opened");
        st.client = Some(client.clone());
        st.in_use += 1;
        drop(st);
        schedule_idle_check(&self.shared, &client, self.shared.threshold);
        Ok(client)
    }
}

/// After `delay`, closes the connection if it has been idle for the threshold, else looks
/// again when it would be.
fn schedule_idle_check(shared: &Arc<Shared>, client: &CuratorFramework, delay: Duration) {
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let c = client.clone();
    client.inner.scheduler.schedule(delay, move || {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        let idle_for = {
            let mut st = shared.state.lock();
            let same = st
                .client
                .as_ref()
                .is_some_and(|x| Arc::ptr_eq(&x.inner, &c.inner));
            if !same {
                return; // closed meanwhile
            }
            let idle = st.last_use.map(|t| t.elapsed()).unwrap_or_default();
            if st.in_use == 0 && idle >= shared.threshold {
                st.client = None;
                None
            } else {
                Some(idle)
            }
        };
        match idle_for {
            None => {
                log::debug!("temp framework: idle for {:?}; closing", shared.threshold);
                c.close();
            }
            Some(idle) => {
                let left = shared
                    .threshold
                    .saturating_sub(idle)
                    .max(Duration::from_millis(10));
                schedule_idle_check(&shared, &c, left);
            }
        }
    });
}

// The factory's way in, kept here so that the factory does not depend on what it builds.
impl CuratorFrameworkBuilder {
    /// A [`CuratorTempFramework`] with these settings that closes its connection after 3
    /// minutes without use (Curator's `buildTemp()`). The settings are checked now.
    pub fn build_temp(self) -> Result<CuratorTempFramework> {
        self.build_temp_with_inactive_threshold(CuratorTempFramework::DEFAULT_INACTIVE_THRESHOLD)
    }

    /// [`build_temp`](Self::build_temp) closing the connection after `inactive_threshold`
    /// without use (Curator's `buildTemp(ms, unit)`).
    pub fn build_temp_with_inactive_threshold(
        self,
        inactive_threshold: Duration,
    ) -> Result<CuratorTempFramework> {
        CuratorTempFramework::new(self, inactive_threshold)
    }
}

impl std::fmt::Debug for CuratorTempFramework {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CuratorTempFramework")
            .field("open", &self.is_open())
            .field("inactive_threshold", &self.shared.threshold)
            .finish()
    }
}

/// Builder of [`CuratorTempFramework::get_data`] (Curator's `TempGetDataBuilder`).
#[must_use = "a builder does nothing until for_path()"]
pub struct TempGetDataBuilder<'a> {
    temp: &'a CuratorTempFramework,
    decompress: bool,
    stat: Option<&'a mut Stat>,
}

impl<'a> TempGetDataBuilder<'a> {
    /// Decompress the data with the client's compression provider.
    pub fn decompressed(mut self) -> Self {
        self.decompress = true;
        self
    }

    /// Copy the node's Stat into `stat`.
    pub fn storing_stat_in(mut self, stat: &'a mut Stat) -> Self {
        self.stat = Some(stat);
        self
    }

    /// The node's data.
    pub fn for_path(self, path: &str) -> Result<Vec<u8>> {
        let TempGetDataBuilder {
            temp,
            decompress,
            stat,
        } = self;
        temp.with_client(|c| {
            let mut s = Stat::default();
            let data = match decompress {
                true => c
                    .get_data()
                    .decompressed()
                    .storing_stat_in(&mut s)
                    .for_path(path)?,
                false => c.get_data().storing_stat_in(&mut s).for_path(path)?,
            };
            if let Some(target) = stat {
                *target = s;
            }
            Ok(data)
        })
    }
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl std::fmt::Debug for TempGetDataBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempGetDataBuilder").finish_non_exhaustive()
    }
}
