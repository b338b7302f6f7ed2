//! The data records every layer shares: [`Stat`] (a node's metadata), [`Id`] and [`Acl`], plus
//! the well-known ACL lists of `ZooDefs.Ids`.

use super::codec::{record, Jute, Reader};
use super::consts::Perms;
use crate::error::Result;

record! {
    /// A node's metadata, as every read and write reply carries it (68 bytes on the wire).
    ///
    /// Field names follow the Java `Stat` in Rust case.
    Stat (68) {
        /// zxid of the change that created the node.
        czxid: i64,
        /// zxid of the last data change.
        mzxid: i64,
        /// Creation time, ms since the epoch (the leader's clock).
        ctime: i64,
        /// Time of the last data change, ms since the epoch.
        mtime: i64,
        /// Data version: the number of setData calls.
        version: i32,
        /// Child version: the number of child creates and deletes.
        cversion: i32,
        /// ACL version.
        aversion: i32,
        /// The owning session for ephemeral nodes, else 0 (also 0 for container and TTL nodes).
        ephemeral_owner: i64,
        /// Length of the data in bytes.
        data_length: i32,
        /// Number of direct children.
        num_children: i32,
        /// zxid of the last child create or delete.
        pzxid: i64,
    }
}

record! {
    /// An authenticated identity: a scheme and an id in that scheme (`world:anyone`,
    /// `digest:user:hash`, `ip:10.0.0.0/8`, `auth:`).
    Id (8) {
        /// The scheme (`world`, `auth`, `digest`, `ip`, `super`, `sasl`, `x509`).
        scheme: String,
        /// The id within the scheme.
        id: String,
    }
}

impl Id {
    /// An id from its two parts.
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Id {
        Id {
            scheme: scheme.into(),
            id: id.into(),
        }
    }

    /// `world:anyone`.
    pub fn anyone() -> Id {
        Id::new("world", "anyone")
    }

    /// `auth:` (replaced by the server with every identity the session authenticated with).
    pub fn auth_ids() -> Id {
        Id::new("auth", "")
    }
}

impl Jute for Perms {
    const MIN_SIZE: usize = 4;
    fn put(&self, buf: &mut Vec<u8>) {
        self.0.put(buf)
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Perms(r.read_i32()?))
    }
}

record! {
    /// One access-control entry: permissions granted to an identity.
    Acl (12) {
        /// The permission bits.
        perms: Perms,
        /// Who gets them.
        id: Id,
    }
}

impl Acl {
    /// An ACL entry from its parts.
    pub fn new(perms: Perms, id: Id) -> Acl {
        Acl { perms, id }
    }

    /// `OPEN_ACL_UNSAFE`: every permission for `world:anyone`.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl::new(Perms::ALL, Id::anyone())]
    }

    /// `READ_ACL_UNSAFE`: read for `world:anyone`.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl::new(Perms::READ, Id::anyone())]
    }

    /// `CREATOR_ALL_ACL`: every permission for the identities the session authenticated with.
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl::new(Perms::ALL, Id::auth_ids())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::codec::Record;

    #[test]
    fn stat_is_68_bytes_in_field_order() {
        let s = Stat {
            czxid: 1,
            mzxid: 2,
            ctime: 3,
            mtime: 4,
            version: 5,
            cversion: 6,
            aversion: 7,
            ephemeral_owner: 8,
            data_length: 9,
            num_children: 10,
            pzxid: 11,
        };
        let b = s.to_bytes();
        assert_eq!(b.len(), 68);
        assert_eq!(&b[..8], &1i64.to_be_bytes());
        assert_eq!(&b[32..36], &5i32.to_be_bytes());
        assert_eq!(&b[60..68], &11i64.to_be_bytes());
        assert_eq!(Stat::decode_exact(&b).unwrap(), s);
    }

    #[test]
    fn acl_layout() {
        let a = Acl::new(Perms::READ, Id::new("digest", "u:h"));
        let b = a.to_bytes();
        let mut want = vec![0, 0, 0, 1, 0, 0, 0, 6];
        want.extend_from_slice(b"digest");
        want.extend_from_slice(&[0, 0, 0, 3]);
        want.extend_from_slice(b"u:h");
        assert_eq!(b, want);
        assert_eq!(Acl::decode_exact(&b).unwrap(), a);
        assert_eq!(Acl::open_unsafe()[0].perms, Perms::ALL);
        assert_eq!(Acl::creator_all()[0].id.scheme, "auth");
    }
}
