//! The typed operations of a multi or multiRead ([`Op`]) and their results ([`OpResult`]).

use std::time::Duration;

use crate::error::Error;
use crate::proto::{Acl, CreateMode, OpCode, Stat};

/// One operation of a [`multi`](crate::ZooKeeper::multi) (writes and checks, applied
/// atomically) or a [`multi_read`](crate::ZooKeeper::multi_read) (reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create a node.
    Create {
        /// Where (for sequential modes, the prefix of the name).
        path: String,
        /// Its data.
        data: Vec<u8>,
        /// Its ACL.
        acl: Vec<Acl>,
        /// How.
        mode: CreateMode,
        /// The time to live, for the TTL modes.
        ttl: Option<Duration>,
    },
    /// Delete a node.
    Delete {
        /// The node.
        path: String,
        /// Expected data version, `-1` for any.
        version: i32,
    },
    /// Set a node's data.
    SetData {
        /// The node.
        path: String,
        /// The new data.
        data: Vec<u8>,
        /// Expected data version, `-1` for any.
        version: i32,
    },
    /// Assert a node's data version (fails the whole multi when it differs).
    Check {
        /// The node.
        path: String,
        /// Expected data version.
        version: i32,
    },
    /// Read a node's data (multiRead only).
    GetData {
        /// The node.
        path: String,
    },
    /// List a node's children (multiRead only).
    GetChildren {
        /// The node.
        path: String,
    },
}

impl Op {
    /// A create.
    pub fn create(path: &str, data: &[u8], acl: &[Acl], mode: CreateMode) -> Op {
        Op::Create {
            path: path.to_string(),
            data: data.to_vec(),
            acl: acl.to_vec(),
            mode,
            ttl: None,
        }
    }

    /// A create with a time to live (`mode` must be a TTL mode).
    pub fn create_ttl(path: &str, data: &[u8], acl: &[Acl], mode: CreateMode, ttl: Duration) -> Op {
        Op::Create {
            path: path.to_string(),
            data: data.to_vec(),
            acl: acl.to_vec(),
            mode,
            ttl: Some(ttl),
        }
    }

    /// A delete (`-1` for any version).
    pub fn delete(path: &str, version: i32) -> Op {
        Op::Delete {
            path: path.to_string(),
            version,
        }
    }

    /// A setData (`-1` for any version).
    pub fn set_data(path: &str, data: &[u8], version: i32) -> Op {
        Op::SetData {
            path: path.to_string(),
            data: data.to_vec(),
            version,
        }
    }

    /// A version check.
    pub fn check(path: &str, version: i32) -> Op {
        Op::Check {
            path: path.to_string(),
            version,
        }
    }

    /// A getData (multiRead).
    pub fn get_data(path: &str) -> Op {
        Op::GetData {
            path: path.to_string(),
        }
    }

    /// A getChildren (multiRead).
    pub fn get_children(path: &str) -> Op {
        Op::GetChildren {
            path: path.to_string(),
        }
    }

    /// The path the operation is about.
    pub fn path(&self) -> &str {
        match self {
            Op::Create { path, .. }
            | Op::Delete { path, .. }
            | Op::SetData { path, .. }
            | Op::Check { path, .. }
            | Op::GetData { path }
            | Op::GetChildren { path } => path,
        }
    }

    /// The operation's code (for error messages: `delete /a: bad version`).
    pub(crate) fn op_code(&self) -> OpCode {
        match self {
            Op::Create { .. } => OpCode::Create,
            Op::Delete { .. } => OpCode::Delete,
            Op::SetData { .. } => OpCode::SetData,
            Op::Check { .. } => OpCode::Check,
            Op::GetData { .. } => OpCode::GetData,
            Op::GetChildren { .. } => OpCode::GetChildren,
        }
    }

    /// True for the read operations (multiRead).
    pub fn is_read(&self) -> bool {
        matches!(self, Op::GetData { .. } | Op::GetChildren { .. })
    }
}

/// The result of one [`Op`].
#[derive(Debug, Clone)]
pub enum OpResult {
    /// The node was created at `path` (the sequence suffix included). `stat` is present when
    /// the server reports it (create2-style results, 3.7.2+/3.8.2+ servers).
    Create {
        /// The created path.
        path: String,
        /// The new node's Stat, if reported.
        stat: Option<Stat>,
    },
    /// The node was deleted.
    Delete,
    /// The data was set.
    SetData {
        /// The node's new Stat.
        stat: Stat,
    },
    /// The version matched.
    Check,
    /// The node's data (multiRead).
    GetData {
        /// The data.
        data: Vec<u8>,
        /// The node's Stat.
        stat: Stat,
    },
    /// The node's children (multiRead).
    GetChildren {
        /// Child names.
        children: Vec<String>,
    },
    /// In a failed multi: this operation would have succeeded, but another one failed, so
    /// nothing was applied (the server's `ErrorResult` with code 0).
    RolledBack,
    /// This operation failed. In a failed multi the failing operation carries its error and
    /// those after it `RuntimeInconsistency`.
    Error(Error),
}

impl OpResult {
    /// The error of a failed operation.
    pub fn error(&self) -> Option<&Error> {
        match self {
            OpResult::Error(e) => Some(e),
            _ => None,
        }
    }
}
