//! [`PromotedToLock`]: the atomics' second mode (Curator's `PromotedToLock`). When the
//! optimistic attempts give up, the operation takes an [`InterProcessMutex`] at the given path
//! (Curator's layout: `lock-` ephemeral-sequential nodes there) and tries again under it, as
//! often as its own retry policy allows. Every participant that writes the value must promote
//! to the same lock path for the lock to mean anything; optimistic writers still race it, and
//! the versioned write keeps the value correct either way.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::framework::{RetryNTimes, RetryPolicy};
use crate::path;

/// Where and how the atomics take the lock after the optimistic attempts give up.
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes, RetryOneTime};
/// use zk_curator::recipes::atomic::{DistributedAtomicLong, PromotedToLock};
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let promoted = PromotedToLock::builder()
///     .lock_path("/stats/requests-lock")
///     .timeout(Duration::from_secs(5))
///     .retry_policy(RetryNTimes::new(3, Duration::from_millis(10)))
///     .build()?;
/// let counter = DistributedAtomicLong::new_with_promoted_to_lock(
///     &client,
///     "/stats/requests",
///     RetryNTimes::new(3, Duration::ZERO),
///     promoted,
/// )?;
/// assert!(counter.increment()?.succeeded());
/// # Ok::<(), zk_curator::Error>(())
/// ```
#[derive(Clone)]
pub struct PromotedToLock {
    pub(super) path: String,
    pub(super) timeout: Option<Duration>,
    pub(super) policy: Arc<dyn RetryPolicy>,
}

impl PromotedToLock {
    /// A builder; the lock path is required.
    pub fn builder() -> PromotedToLockBuilder {
        PromotedToLockBuilder {
            path: None,
            timeout: None,
            policy: Arc::new(RetryNTimes::new(0, Duration::ZERO)),
        }
    }

    /// The lock's path.
    pub fn lock_path(&self) -> &str {
        &self.path
    }

    /// How long taking the lock may take (`None`: as long as it takes).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

impl std::fmt::Debug for PromotedToLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromotedToLock")
            .field("path", &self.path)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Builds a [`PromotedToLock`] (Curator's `PromotedToLock.Builder`).
#[must_use = "a builder does nothing until build()"]
pub struct PromotedToLockBuilder {
    path: Option<String>,
    timeout: Option<Duration>,
    policy: Arc<dyn RetryPolicy>,
}

impl PromotedToLockBuilder {
    /// The mutex's path (required).
    pub fn lock_path(mut self, path: &str) -> Self {
        self.path = Some(path.to_string());
        self
    }

    /// The policy for the attempts made under the lock (default: one attempt,
    /// `RetryNTimes(0, 0)` as in Curator).
    pub fn retry_policy(mut self, policy: impl RetryPolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// At most this long to take the lock (default: no limit). When it runs out, the
    /// operation does not succeed.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Checks the path and builds.
    pub fn build(self) -> Result<PromotedToLock> {
        let path = self
            .path
            .ok_or_else(|| Error::InvalidArgument("PromotedToLock needs a lock_path".into()))?;
        path::validate_path(&path, false)?;
        Ok(PromotedToLock {
            path,
            timeout: self.timeout,
            policy: self.policy,
        })
    }
}

impl std::fmt::Debug for PromotedToLockBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PromotedToLockBuilder")
            .field("path", &self.path)
            .field("timeout", &self.timeout)
            .finish()
    }
}
