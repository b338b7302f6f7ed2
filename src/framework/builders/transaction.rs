//! `transaction()` and `transaction_op()`: build typed operations, then apply them
//! atomically with typed results (Curator's `CuratorMultiTransaction` / `TransactionOp`).
//!
//! ```
//! # use zk_curator::framework::*;
//! # let server = zk_curator::testing::TestingServer::start().unwrap();
//! # let client = CuratorFrameworkFactory::new_client(&server.connect_string(), RetryOneTime::new(std::time::Duration::from_millis(10)))?;
//! # client.start()?;
//! let op = client.transaction_op();
//! let results = client.transaction().for_operations(vec![
//!     op.create().for_path_with_data("/a", b"1")?,
//!     op.set_data().for_path("/a", b"2")?,
//!     op.check().with_version(1).for_path("/a")?,
//! ])?;
//! assert_eq!(results[0].for_path(), "/a");
//! assert_eq!(results[1].result_stat().map(|s| s.version), Some(1));
//! # Ok::<(), zk_curator::Error>(())
//! ```

use std::time::Duration;

use super::{attempt_on_timer, builder_common, event_for, Common, Foreground, InBackground};
use crate::client::{Op, OpResult};
use crate::error::{Error, Result};
use crate::framework::types::CuratorEventType;
pub use crate::framework::types::{CuratorTransactionResult, OperationType};
use crate::framework::CuratorFramework;
use crate::proto::{Acl, CreateMode};

/// One operation of a transaction, built by [`TransactionOp`].
#[derive(Debug, Clone)]
pub struct CuratorOp {
    op: Op,
    op_type: OperationType,
    for_path: String,
}

impl CuratorOp {
    /// The operation as the handle sends it (namespace applied).
    pub fn get(&self) -> &Op {
        &self.op
    }

    /// Its kind and the path it was built for (namespace-free).
    pub fn type_and_path(&self) -> (OperationType, &str) {
        (self.op_type, &self.for_path)
    }
}

/// Builds [`CuratorOp`]s (Curator's `TransactionOp`).
#[derive(Clone, Copy)]
pub struct TransactionOp<'a> {
    client: &'a CuratorFramework,
}

impl<'a> TransactionOp<'a> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        TransactionOp { client }
    }

    /// A create operation.
    pub fn create(&self) -> TransactionCreateBuilder<'a> {
        TransactionCreateBuilder {
            client: self.client,
            mode: CreateMode::Persistent,
            acl: None,
            ttl: None,
            compress: false,
        }
    }

    /// A delete operation.
    pub fn delete(&self) -> TransactionVersionBuilder<'a> {
        TransactionVersionBuilder {
            client: self.client,
            kind: OperationType::Delete,
            version: -1,
            compress: false,
        }
    }

    /// A setData operation.
    pub fn set_data(&self) -> TransactionSetDataBuilder<'a> {
        TransactionSetDataBuilder(TransactionVersionBuilder {
            client: self.client,
            kind: OperationType::SetData,
            version: -1,
            compress: false,
        })
    }

    /// A version check.
    pub fn check(&self) -> TransactionVersionBuilder<'a> {
        TransactionVersionBuilder {
            client: self.client,
            kind: OperationType::Check,
            version: -1,
            compress: false,
        }
    }
}

/// The create of a transaction.
#[must_use = "a builder does nothing until for_path()"]
pub struct TransactionCreateBuilder<'a> {
    client: &'a CuratorFramework,
    mode: CreateMode,
    acl: Option<Vec<Acl>>,
    ttl: Option<Duration>,
    compress: bool,
}

impl TransactionCreateBuilder<'_> {
    /// The create mode.
    pub fn with_mode(mut self, mode: CreateMode) -> Self {
        self.mode = mode;
        self
    }

    /// The ACL (default: the ACL provider's).
    pub fn with_acl(mut self, acl: &[Acl]) -> Self {
        self.acl = Some(acl.to_vec());
        self
    }

    /// The TTL for the TTL modes.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Compress the data.
    pub fn compressed(mut self) -> Self {
        self.compress = true;
        self
    }

    /// The operation, with the client's default data.
    pub fn for_path(self, path: &str) -> Result<CuratorOp> {
        let data = self.client.inner.cfg.default_data.to_vec();
        self.for_path_with_data(path, &data)
    }

    /// The operation, with `data`.
    pub fn for_path_with_data(self, path: &str, data: &[u8]) -> Result<CuratorOp> {
        let c = self.client;
        let ns_path = crate::path::fix_for_namespace(
            c.namespace.as_deref(),
            path,
            self.mode.is_sequential(),
        )?;
        let data = if self.compress {
            c.inner.cfg.compression.compress(path, data)?
        } else {
            data.to_vec()
        };
        let acl = self.acl.unwrap_or_else(|| c.acl_for(&ns_path));
        let op = CuratorOp {
            op: Op::Create {
                path: ns_path,
                data,
                acl,
                mode: self.mode,
                ttl: self.ttl,
            },
            op_type: OperationType::Create,
            for_path: path.to_string(),
        };
        check_op_schema(c, &op)?;
        // Creates the namespace node if needed (the path was validated above).
        c.fix_path(path, self.mode.is_sequential())?;
        Ok(op)
    }
}

/// The setData of a transaction.
#[must_use = "a builder does nothing until for_path()"]
pub struct TransactionSetDataBuilder<'a>(TransactionVersionBuilder<'a>);

impl TransactionSetDataBuilder<'_> {
    /// The expected version (`-1`: any).
    pub fn with_version(self, version: i32) -> Self {
        TransactionSetDataBuilder(self.0.with_version(version))
    }

    /// Compress the data.
    pub fn compressed(self) -> Self {
        TransactionSetDataBuilder(self.0.compressed())
    }

    /// The operation, setting `data`.
    pub fn for_path(self, path: &str, data: &[u8]) -> Result<CuratorOp> {
        self.0.build(path, data)
    }

    /// The operation, setting the client's default data.
    pub fn for_path_with_default_data(self, path: &str) -> Result<CuratorOp> {
        let data = self.0.client.inner.cfg.default_data.to_vec();
        self.0.build(path, &data)
    }
}

/// The delete or check of a transaction.
#[must_use = "a builder does nothing until for_path()"]
pub struct TransactionVersionBuilder<'a> {
    client: &'a CuratorFramework,
    kind: OperationType,
    version: i32,
    compress: bool,
}

impl TransactionVersionBuilder<'_> {
    /// The expected version (`-1`: any; a check needs a real version).
    pub fn with_version(mut self, version: i32) -> Self {
        self.version = version;
        self
    }

    fn compressed(mut self) -> Self {
        self.compress = true;
        self
    }

    /// The operation.
    pub fn for_path(self, path: &str) -> Result<CuratorOp> {
        self.build(path, &[])
    }

    fn build(self, path: &str, data: &[u8]) -> Result<CuratorOp> {
        let full = crate::path::fix_for_namespace(self.client.namespace.as_deref(), path, false)?;
        let op = match self.kind {
            OperationType::Delete => Op::delete(&full, self.version),
            OperationType::Check => Op::check(&full, self.version),
            OperationType::SetData => {
                let data = if self.compress {
                    self.client.inner.cfg.compression.compress(path, data)?
                } else {
                    data.to_vec()
                };
                Op::SetData {
                    path: full,
                    data,
                    version: self.version,
                }
            }
            OperationType::Create => {
                return Err(Error::InvalidArgument("use create() for creates".into()))
            }
        };
        let op = CuratorOp {
            op,
            op_type: self.kind,
            for_path: path.to_string(),
        };
        check_op_schema(self.client, &op)?;
        self.client.fix_path(path, false)?;
        Ok(op)
    }
}

/// The schema's rules for one transaction operation (Curator checks creates, deletes and
/// setData in `forOperations`; here also when the operation is built).
fn check_op_schema(client: &CuratorFramework, op: &CuratorOp) -> Result<()> {
    let path = op.for_path.as_str();
    client.check_schema(path, |s| match &op.op {
        Op::Create {
            data, acl, mode, ..
        } => s.validate_create(*mode, path, data, acl),
        Op::Delete { .. } => s.validate_delete(path),
        Op::SetData { data, .. } => s.validate_data(path, Some(data), None),
        _ => Ok(()),
    })
}

/// Builder of `client.transaction()`.
#[must_use = "a builder does nothing until for_operations()"]
pub struct CuratorMultiTransaction<'a, M = Foreground> {
    common: Common<'a, M>,
}

impl<'a> CuratorMultiTransaction<'a, Foreground> {
    pub(crate) fn new(client: &'a CuratorFramework) -> Self {
        CuratorMultiTransaction {
            common: Common::new(client),
        }
    }

    /// Applies the operations atomically. On failure returns the error of the failing
    /// operation (nothing was applied).
    pub fn for_operations(self, ops: Vec<CuratorOp>) -> Result<Vec<CuratorTransactionResult>> {
        for op in &ops {
            check_op_schema(self.common.client, op)?;
        }
        let raw: Vec<Op> = ops.iter().map(|o| o.op.clone()).collect();
        let res = self.common.client.call(|zk, _| zk.multi_results(&raw))?;
        let results = typed(self.common.client, &ops, res);
        if let Some(e) = results.iter().find_map(|r| r.error.clone()) {
            return Err(e);
        }
        Ok(results)
    }
}

impl CuratorMultiTransaction<'_, InBackground> {
    /// Starts the transaction; the result arrives as a `Transaction` event whose
    /// `op_results()` hold the per-operation outcome (and `error()` the failing one's).
    pub fn for_operations(self, ops: Vec<CuratorOp>) -> Result<()> {
        for op in &ops {
            check_op_schema(self.common.client, op)?;
        }
        let raw: Vec<Op> = ops.iter().map(|o| o.op.clone()).collect();
        self.common.client.run_background(
            attempt_on_timer(move |_c, zk, _count| zk.multi_results(&raw)),
            Box::new(move |c, r| {
                let r = r.map(|res| typed(c, &ops, res));
                let failed = r
                    .as_ref()
                    .ok()
                    .and_then(|results| results.iter().find_map(|x| x.error.clone()));
                let mut ev = event_for(CuratorEventType::Transaction, "/", r, |e, results| {
                    e.op_results = Some(results);
                });
                if failed.is_some() {
                    ev.error = failed;
                }
                ev
            }),
            None,
            self.common.bg,
        )
    }
}

builder_common!(CuratorMultiTransaction {});

fn typed(
    c: &CuratorFramework,
    ops: &[CuratorOp],
    results: Vec<OpResult>,
) -> Vec<CuratorTransactionResult> {
    ops.iter()
        .zip(results)
        .map(|(op, res)| {
            let mut r = CuratorTransactionResult {
                op_type: op.op_type,
                for_path: op.for_path.clone(),
                result_path: None,
                result_stat: None,
                error: None,
            };
            match res {
                OpResult::Create { path, stat } => {
                    r.result_path = Some(c.unfix_path(&path));
                    r.result_stat = stat;
                }
                OpResult::SetData { stat } => r.result_stat = Some(stat),
                OpResult::Error(e) => r.error = Some(e.with_path(&op.for_path)),
                _ => {}
            }
            r
        })
        .collect()
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl std::fmt::Debug for TransactionOp<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionOp").finish_non_exhaustive()
    }
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl std::fmt::Debug for TransactionCreateBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionCreateBuilder")
            .finish_non_exhaustive()
    }
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl std::fmt::Debug for TransactionSetDataBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionSetDataBuilder")
            .finish_non_exhaustive()
    }
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl std::fmt::Debug for TransactionVersionBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionVersionBuilder")
            .finish_non_exhaustive()
    }
}

/// Names the builder only: it holds the client, callbacks and watchers, none of which
/// has a useful text form.
impl<M> std::fmt::Debug for CuratorMultiTransaction<'_, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CuratorMultiTransaction")
            .finish_non_exhaustive()
    }
}
