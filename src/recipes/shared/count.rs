//! [`SharedCount`]: a 32-bit counter in one node, stored as Java Curator's `SharedCount` stores
//! it (4 bytes, big-endian: 42 is `00 00 00 2a`), over a [`SharedValue`].

use std::sync::Arc;

use super::{SharedCountListener, SharedValue, SharedValueListener, VersionedValue};
use crate::error::{Error, Result};
use crate::framework::{ConnectionState, CuratorFramework, Listenable};

/// A counter shared by every process that opens its path (Curator's `SharedCount`).
///
/// Change it with [`try_set_count`](Self::try_set_count) in a loop for an exact
/// read-modify-write:
///
/// ```
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, RetryOneTime};
/// use zk_curator::recipes::shared::SharedCount;
/// # let server = zk_curator::testing::TestingServer::start()?;
/// let client = CuratorFrameworkFactory::new_client(
///     &server.connect_string(),
///     RetryOneTime::new(Duration::from_millis(10)),
/// )?;
/// client.start()?;
/// let count = SharedCount::new(&client, "/stats/visits", 0)?;
/// count.listenable().add_listener(|n: i32| println!("visits: {n}"));
/// count.start()?;
/// loop {
///     let seen = count.versioned_value()?;
///     if count.try_set_count(&seen, seen.value() + 1)? {
///         break;
///     }
/// }
/// assert_eq!(count.count()?, 1);
/// count.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
///
/// # Data that is not a count
///
/// A node of another length (written by something else) is reported as
/// [`Error::BadData`] by [`count`](Self::count), [`versioned_value`](Self::versioned_value) and
/// `start()`; listeners are not called for it (the client's unhandled-error listeners are).
/// [`set_count`](Self::set_count) overwrites it and repairs the counter.
pub struct SharedCount {
    value: SharedValue,
    listeners: Arc<Listenable<dyn SharedCountListener>>,
}

/// Decodes a count; `path` names the node in the error.
fn decode(path: &str, bytes: &[u8]) -> Result<i32> {
    match <[u8; 4]>::try_from(bytes) {
        Ok(b) => Ok(i32::from_be_bytes(b)),
        Err(_) => Err(Error::BadData {
            path: path.to_string(),
            reason: format!(
                "{} bytes where a SharedCount holds a 4-byte big-endian int (set_count repairs it)",
                bytes.len()
            ),
        }),
    }
}

/// Forwards the value's events to the count's listeners.
struct Forward {
    path: String,
    client: CuratorFramework,
    listeners: Arc<Listenable<dyn SharedCountListener>>,
}

impl SharedValueListener for Forward {
    fn value_has_changed(&self, new_value: &[u8]) {
        match decode(&self.path, new_value) {
            Ok(n) => self.listeners.for_each(move |l| l.count_has_changed(n)),
            Err(e) => self.client.report_unhandled("SharedCount", &e),
        }
    }

    fn state_changed(&self, client: &CuratorFramework, new_state: ConnectionState) {
        let c = client.clone();
        self.listeners
            .for_each(move |l| l.state_changed(&c, new_state));
    }
}

impl SharedCount {
    /// A counter at `path`; `seed` is written when `start()` finds no node. Not started.
    pub fn new(client: &CuratorFramework, path: &str, seed: i32) -> Result<SharedCount> {
        let value = SharedValue::new(client, path, &seed.to_be_bytes())?;
        let listeners: Arc<Listenable<dyn SharedCountListener>> = Arc::default();
        value.listenable().add_listener(Forward {
            path: path.to_string(),
            client: client.clone(),
            listeners: listeners.clone(),
        });
        Ok(SharedCount { value, listeners })
    }

    /// Creates the node with the seed if it is missing, reads it and starts watching it.
    /// Fails with [`Error::BadData`] (after starting) when the node holds something that is
    /// not a count.
    pub fn start(&self) -> Result<()> {
        self.value.start()?;
        self.count().map(|_| ())
    }

    /// Stops watching. The listeners are dropped.
    pub fn close(&self) {
        self.value.close();
        self.listeners.clear();
    }

    /// The count as last read or written.
    pub fn count(&self) -> Result<i32> {
        decode(self.value.path(), &self.value.value())
    }

    /// The count with its node version, for [`try_set_count`](Self::try_set_count).
    pub fn versioned_value(&self) -> Result<VersionedValue<i32>> {
        let v = self.value.versioned_value();
        let n = decode(self.value.path(), v.value())?;
        Ok(VersionedValue::new(v.version(), n))
    }

    /// Sets the count whatever it is now.
    pub fn set_count(&self, new_count: i32) -> Result<()> {
        self.value.set_value(&new_count.to_be_bytes())
    }

    /// Sets the count if it is still `previous` (same version and value): true if it was set.
    /// When it was not, the local copy is read again. Exact through lost replies, as
    /// [`SharedValue::try_set_value`].
    pub fn try_set_count(&self, previous: &VersionedValue<i32>, new_count: i32) -> Result<bool> {
        let prev = VersionedValue::new(previous.version(), previous.value().to_be_bytes().to_vec());
        self.value.try_set_value(&prev, &new_count.to_be_bytes())
    }

    /// The listeners, told about every new count and every connection state change.
    pub fn listenable(&self) -> &Listenable<dyn SharedCountListener> {
        &self.listeners
    }

    /// The node's path.
    pub fn path(&self) -> &str {
        self.value.path()
    }
}

impl std::fmt::Debug for SharedCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCount")
            .field("path", &self.value.path())
            .field("count", &self.count().ok())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_four_big_endian_bytes() {
        assert_eq!(42i32.to_be_bytes(), [0, 0, 0, 0x2a]);
        assert_eq!(decode("/c", &[0, 0, 0, 0x2a]).unwrap(), 42);
        assert_eq!(decode("/c", &[0xff, 0xff, 0xff, 0xff]).unwrap(), -1);
        for bad in [&[][..], &[1, 2, 3], &[0, 0, 0, 0, 1], b"127.0.0.1"] {
            let e = decode("/c", bad).unwrap_err();
            assert!(
                matches!(e, Error::BadData { ref path, .. } if path == "/c"),
                "{e}"
            );
        }
    }
}
