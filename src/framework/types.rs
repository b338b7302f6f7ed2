//! The framework's value types: what its operations report, apart from the builders that
//! run them and the listeners that hear them (as Curator keeps its `api` types apart from
//! `imps`). They depend on nothing above `error` and `proto`, so that `event` and the
//! builders can both use them.

use crate::error::Error;
use crate::proto::Stat;

/// The kind of a [`CuratorEvent`](super::CuratorEvent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CuratorEventType {
    /// `create()`.
    Create,
    /// `delete()`.
    Delete,
    /// `check_exists()`.
    Exists,
    /// `get_data()`.
    GetData,
    /// `set_data()`.
    SetData,
    /// `get_children()`.
    Children,
    /// `sync()`.
    Sync,
    /// `get_acl()`.
    GetAcl,
    /// `set_acl()`.
    SetAcl,
    /// `transaction()`.
    Transaction,
    /// `get_config()`.
    GetConfig,
    /// `reconfig()`.
    Reconfig,
    /// A watch set with `watched()` fired (delivered to CuratorListeners).
    Watched,
    /// `watchers().remove()`.
    RemoveWatches,
    /// `watchers().add()`.
    AddWatch,
    /// The client is closing (CuratorListeners only).
    Closing,
}

/// The kind of a transaction operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationType {
    /// A create.
    Create,
    /// A delete.
    Delete,
    /// A setData.
    SetData,
    /// A version check.
    Check,
}

/// The result of one operation of a transaction.
#[derive(Debug, Clone)]
pub struct CuratorTransactionResult {
    pub(crate) op_type: OperationType,
    pub(crate) for_path: String,
    pub(crate) result_path: Option<String>,
    pub(crate) result_stat: Option<Stat>,
    pub(crate) error: Option<Error>,
}

impl CuratorTransactionResult {
    /// The kind of operation.
    pub fn op_type(&self) -> OperationType {
        self.op_type
    }

    /// The path it was built for.
    pub fn for_path(&self) -> &str {
        &self.for_path
    }

    /// For creates: the path created (with the sequence suffix).
    pub fn result_path(&self) -> Option<&str> {
        self.result_path.as_deref()
    }

    /// The Stat the operation returned (setData; creates on 3.7.2+/3.8.2+ servers).
    pub fn result_stat(&self) -> Option<&Stat> {
        self.result_stat.as_ref()
    }

    /// The error of this operation in a failed transaction (`None` when it succeeded or
    /// would have).
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }
}
