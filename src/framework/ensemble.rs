//! Where a client's connect string comes from: [`EnsembleProvider`] (Curator's
//! `EnsembleProvider`) and its default, [`FixedEnsembleProvider`]. The client asks its
//! provider for the connect string whenever it builds a handle (a new session), and after
//! every connection event; the [ensemble tracker](super::core::tracker) sets it when the
//! ensemble's membership changes.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::error::Result;

/// Supplies the connect string of a [`CuratorFramework`](super::CuratorFramework) (Curator's
/// `EnsembleProvider`).
///
/// The client calls [`start`](Self::start) in its own `start()` and [`close`](Self::close)
/// in `close()`, reads [`connection_string`](Self::connection_string) whenever it builds a
/// handle and after every connection event, and writes
/// [`set_connection_string`](Self::set_connection_string) when its ensemble tracker learns a
/// new membership. When the string changes under a live session, the client either moves
/// the session's connection to the new servers
/// ([`ZooKeeper::update_server_list`](crate::ZooKeeper::update_server_list), when
/// [`update_server_list_enabled`](Self::update_server_list_enabled)) or, as Curator does,
/// ends the session and starts a new one on the new servers.
///
/// `connection_string()` must give a usable string from construction on (`build()` checks
/// it): a provider that learns the ensemble later returns a seed list until then.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use zk_curator::framework::{CuratorFrameworkFactory, EnsembleProvider, FixedEnsembleProvider};
/// use zk_curator::RetryOneTime;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// let provider = Arc::new(FixedEnsembleProvider::new(&server.connect_string()));
/// let client = CuratorFrameworkFactory::builder()
///     .ensemble_provider(provider.clone()) // an Arc of a provider is a provider
///     .retry_policy(RetryOneTime::new(Duration::from_millis(10)))
///     .build()?;
/// client.start()?;
/// assert_eq!(client.zookeeper_client().current_connection_string(), server.connect_string());
/// # client.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub trait EnsembleProvider: Send + Sync + 'static {
    /// Called by the client's `start()`, before its first handle is built. Default: nothing.
    fn start(&self) -> Result<()> {
        Ok(())
    }

    /// The connect string to use now (`host:port[,host:port...][/chroot]`).
    fn connection_string(&self) -> String;

    /// A new connect string was learned (from the ensemble tracker).
    fn set_connection_string(&self, connect_string: &str);

    /// True if the client may move a live session to a new server list with
    /// `update_server_list`; false makes a change of connect string end the session and
    /// start a new one.
    fn update_server_list_enabled(&self) -> bool;

    /// Called by the client's `close()`. Default: nothing.
    fn close(&self) {}
}

/// A connect string given up front, changed only by the ensemble tracker (Curator's
/// `FixedEnsembleProvider`, what `connect_string(s)` on the builder makes).
#[derive(Debug)]
pub struct FixedEnsembleProvider {
    connect_string: Mutex<String>,
    update_server_list: bool,
}

impl FixedEnsembleProvider {
    /// A provider for `connect_string`, with server-list updates enabled.
    pub fn new(connect_string: &str) -> FixedEnsembleProvider {
        FixedEnsembleProvider::with_update_server_list(connect_string, true)
    }

    /// A provider for `connect_string`; `update_server_list` says whether a live session
    /// may be moved to a new server list (else a new connect string means a new session).
    pub fn with_update_server_list(
        connect_string: &str,
        update_server_list: bool,
    ) -> FixedEnsembleProvider {
        FixedEnsembleProvider {
            connect_string: Mutex::new(connect_string.to_string()),
            update_server_list,
        }
    }
}

impl EnsembleProvider for FixedEnsembleProvider {
    fn connection_string(&self) -> String {
        self.connect_string.lock().clone()
    }

    fn set_connection_string(&self, connect_string: &str) {
        *self.connect_string.lock() = connect_string.to_string();
    }

    fn update_server_list_enabled(&self) -> bool {
        self.update_server_list
    }
}

impl<P: EnsembleProvider + ?Sized> EnsembleProvider for Arc<P> {
    fn start(&self) -> Result<()> {
        (**self).start()
    }

    fn connection_string(&self) -> String {
        (**self).connection_string()
    }

    fn set_connection_string(&self, connect_string: &str) {
        (**self).set_connection_string(connect_string)
    }

    fn update_server_list_enabled(&self) -> bool {
        (**self).update_server_list_enabled()
    }

    fn close(&self) {
        (**self).close()
    }
}
