//! [`ServiceType`]: how long a registration lives, which decides the node's create mode.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::proto::CreateMode;

/// How a registration lives (Curator's `ServiceType`; in the JSON as `DYNAMIC`, `STATIC`,
/// `PERMANENT` or `DYNAMIC_SEQUENTIAL`).
///
/// | type | node | after the session ends |
/// |---|---|---|
/// | `Dynamic` (default) | ephemeral, `basePath/name/id` | gone; registered again in the new session |
/// | `DynamicSequential` | ephemeral sequential, `basePath/name/id<SEQ>` | the same |
/// | `Static`, `Permanent` | persistent | kept |
///
/// Every type is removed by `unregister_service` and by closing the discovery, as in
/// Curator. (Curator's REST discovery server, not part of this crate, is where `Static` and
/// `Permanent` differ: it expires static instances that stop renewing.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ServiceType {
    /// Lives with the registering session (an ephemeral node).
    #[default]
    Dynamic,
    /// A persistent node.
    Static,
    /// A persistent node.
    Permanent,
    /// An ephemeral sequential node: the node name is the id followed by ZooKeeper's
    /// 10-digit sequence number.
    DynamicSequential,
}

impl ServiceType {
    /// `DYNAMIC`, `STATIC`, `PERMANENT` or `DYNAMIC_SEQUENTIAL`, as in the JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Dynamic => "DYNAMIC",
            ServiceType::Static => "STATIC",
            ServiceType::Permanent => "PERMANENT",
            ServiceType::DynamicSequential => "DYNAMIC_SEQUENTIAL",
        }
    }

    /// True for the types that live with the session (`Dynamic`, `DynamicSequential`).
    pub fn is_dynamic(self) -> bool {
        matches!(self, ServiceType::Dynamic | ServiceType::DynamicSequential)
    }

    /// The create mode of a registration of this type.
    pub(crate) fn create_mode(self) -> CreateMode {
        match self {
            ServiceType::Dynamic => CreateMode::Ephemeral,
            ServiceType::DynamicSequential => CreateMode::EphemeralSequential,
            ServiceType::Static | ServiceType::Permanent => CreateMode::Persistent,
        }
    }
}

impl fmt::Display for ServiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ServiceType {
    type Err = Error;

    /// Parses the JSON form (`DYNAMIC`, ...); anything else is a
    /// [`Serialization`](Error::Serialization) error.
    fn from_str(s: &str) -> Result<ServiceType> {
        Ok(match s {
            "DYNAMIC" => ServiceType::Dynamic,
            "STATIC" => ServiceType::Static,
            "PERMANENT" => ServiceType::Permanent,
            "DYNAMIC_SEQUENTIAL" => ServiceType::DynamicSequential,
            other => {
                return Err(Error::Serialization(format!(
                    "unknown serviceType {other:?} (expected DYNAMIC, STATIC, PERMANENT or \
                     DYNAMIC_SEQUENTIAL)"
                )))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_modes_follow_curator() {
        for t in [
            ServiceType::Dynamic,
            ServiceType::Static,
            ServiceType::Permanent,
            ServiceType::DynamicSequential,
        ] {
            assert_eq!(t.as_str().parse::<ServiceType>().unwrap(), t);
            assert_eq!(t.to_string(), t.as_str());
        }
        assert_eq!(ServiceType::default(), ServiceType::Dynamic);
        assert!(ServiceType::DynamicSequential.is_dynamic());
        assert!(!ServiceType::Permanent.is_dynamic());
        assert_eq!(ServiceType::Static.create_mode(), CreateMode::Persistent);
        assert_eq!(
            ServiceType::DynamicSequential.create_mode(),
            CreateMode::EphemeralSequential
        );
        assert!(matches!(
            "dynamic".parse::<ServiceType>(),
            Err(Error::Serialization(m)) if m.contains("dynamic")
        ));
    }
}
