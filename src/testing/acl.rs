//! ACLs as the server enforces them: validation and `auth` expansion of a new ACL
//! (`PrepRequestProcessor.fixupACL`), the permission check (`ZooKeeperServer.checkACL`), the
//! `ip` and `digest` schemes, `super`, and getACL's masking of digest ids.
//!
//! Used by `ops` (which calls these before touching `tree`); identities come from the
//! connection (`conn`), which starts with `ip:127.0.0.1` and grows with auth packets.

use std::net::Ipv4Addr;

use crate::proto::{Acl, ErrorCode, Id, Perms};

/// Error codes (the server's `KeeperException.Code`).
pub(crate) const INVALID_ACL: i32 = ErrorCode::InvalidAcl.code();
pub(crate) const NO_AUTH: i32 = ErrorCode::NoAuth.code();

/// `String.hashCode()` (over UTF-16 units, wrapping).
fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The identities in the order the server iterates them: it keeps them in a
/// `ConcurrentHashMap`-backed set (16 bins while small), so iteration goes by bin of the
/// jute `Id.hashCode()`, then insertion. whoAmI lists them in this order and `auth` ACLs
/// expand in it.
pub(crate) fn server_order(ids: &[Id]) -> Vec<&Id> {
    let bin = |id: &Id| {
        let h = 37i32
            .wrapping_mul(37i32.wrapping_mul(17).wrapping_add(java_hash(&id.scheme)))
            .wrapping_add(java_hash(&id.id));
        let spread = (h ^ ((h as u32) >> 16) as i32) & 0x7fff_ffff;
        let bins = if ids.len() < 12 {
            16
        } else {
            (ids.len() * 2).next_power_of_two()
        };
        (spread as usize) & (bins - 1)
    };
    let mut v: Vec<(usize, usize, &Id)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (bin(id), i, id))
        .collect();
    v.sort_by_key(|&(b, i, _)| (b, i));
    v.into_iter().map(|(_, _, id)| id).collect()
}

/// Validates `acls` for create/setACL and expands `auth` ids into the connection's
/// authenticated ids (digest and sasl ones: the `ip` provider does not count as
/// "authenticated"). `sasl`: the SASL provider is registered, so `sasl` ids are valid.
pub(crate) fn fixup(acls: &[Acl], auth: &[Id], sasl: bool) -> Result<Vec<Acl>, i32> {
    // Duplicates are dropped first, keeping the first occurrence (`removeDuplicates`).
    let mut unique: Vec<&Acl> = Vec::with_capacity(acls.len());
    for a in acls {
        if !unique.contains(&a) {
            unique.push(a);
        }
    }
    if unique.is_empty() {
        return Err(INVALID_ACL);
    }
    let mut out = Vec::with_capacity(unique.len());
    for a in unique {
        let id = &a.id;
        if id.scheme == "world" && id.id == "anyone" {
            out.push(a.clone());
        } else if id.scheme == "auth" {
            let mut any = false;
            for cid in server_order(auth)
                .into_iter()
                .filter(|c| c.scheme == "digest" || c.scheme == "sasl")
            {
                any = true;
                out.push(Acl::new(a.perms, cid.clone()));
            }
            if !any {
                return Err(INVALID_ACL);
            }
        } else if scheme_accepts(&id.scheme, &id.id)
            || (sasl && id.scheme == "sasl" && !id.id.is_empty())
        {
            out.push(a.clone());
        } else {
            return Err(INVALID_ACL);
        }
    }
    Ok(out)
}

/// `isValid` of the registered providers (`ip`, `digest`); other schemes have no provider.
fn scheme_accepts(scheme: &str, id: &str) -> bool {
    match scheme {
        // Java's `split(":")` drops trailing empty strings, then wants exactly two parts.
        "digest" => {
            let parts: Vec<&str> = id.split(':').collect();
            let mut n = parts.len();
            while n > 0 && parts[n - 1].is_empty() {
                n -= 1;
            }
            n == 2
        }
        "ip" => parse_ip_expr(id).is_some(),
        _ => false,
    }
}

/// Parses `a.b.c.d[/bits]` (IPv4 only; see docs/testing.md) into address and mask bits.
fn parse_ip_expr(expr: &str) -> Option<(u32, u32)> {
    let (addr, bits) = match expr.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (expr, None),
    };
    let ip: Ipv4Addr = addr.parse().ok()?;
    let bits = match bits {
        Some(b) => {
            let n: u32 = b.parse().ok()?;
            if n > 32 {
                return None;
            }
            n
        }
        None => 32,
    };
    Some((u32::from(ip), bits))
}

fn ip_matches(client: &str, expr: &str) -> bool {
    let (Some((want, bits)), Ok(have)) = (parse_ip_expr(expr), client.parse::<Ipv4Addr>()) else {
        return false;
    };
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    (u32::from(have) & mask) == (want & mask)
}

/// `checkACL`: Ok if the identities grant `perm` on a node with `acl`.
pub(crate) fn check(acl: &[Acl], perm: Perms, auth: &[Id]) -> Result<(), i32> {
    if acl.is_empty() || auth.iter().any(|id| id.scheme == "super") {
        return Ok(());
    }
    for a in acl {
        if a.perms.0 & perm.0 == 0 {
            continue;
        }
        if a.id.scheme == "world" && a.id.id == "anyone" {
            return Ok(());
        }
        for cid in auth.iter().filter(|c| c.scheme == a.id.scheme) {
            let ok = match cid.scheme.as_str() {
                "digest" | "sasl" => cid.id == a.id.id,
                "ip" => ip_matches(&cid.id, &a.id.id),
                _ => false,
            };
            if ok {
                return Ok(());
            }
        }
    }
    Err(NO_AUTH)
}

/// getACL without ADMIN: digest ids read as `user:x`.
pub(crate) fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let user = a.id.id.split(':').next().unwrap_or("");
                Acl::new(a.perms, Id::new("digest", format!("{user}:x")))
            } else {
                a.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Id {
        Id::new("ip", s)
    }

    #[test]
    fn fixup_rules() {
        let world = Acl::open_unsafe();
        assert_eq!(fixup(&world, &[], false).unwrap(), world);
        assert_eq!(fixup(&[], &[], false), Err(INVALID_ACL));
        // auth without a digest identity is invalid; ip identities do not count.
        assert_eq!(
            fixup(&Acl::creator_all(), &[ip("127.0.0.1")], false),
            Err(INVALID_ACL)
        );
        let me = Id::new("digest", "u:h");
        let got = fixup(&Acl::creator_all(), &[ip("127.0.0.1"), me.clone()], false).unwrap();
        assert_eq!(got, vec![Acl::new(Perms::ALL, me)]);
        for bad in [
            Id::new("world", "someone"),
            Id::new("digest", "nohash"),
            Id::new("digest", "a:b:c"),
            Id::new("digest", "user:"),
            Id::new("ip", "300.1.1.1"),
            Id::new("ip", "1.2.3.4/33"),
            Id::new("sasl", "x"),
            Id::new("super", ""),
        ] {
            assert_eq!(
                fixup(&[Acl::new(Perms::ALL, bad.clone())], &[], false),
                Err(INVALID_ACL),
                "{bad:?}"
            );
        }
        assert!(fixup(&[Acl::new(Perms::READ, ip("10.0.0.0/8"))], &[], false).is_ok());
        // With the SASL provider registered, sasl ids are valid and `auth` expands to them.
        let bob = Id::new("sasl", "bob");
        assert!(fixup(&[Acl::new(Perms::ALL, bob.clone())], &[], true).is_ok());
        assert_eq!(
            fixup(&Acl::creator_all(), &[ip("127.0.0.1"), bob.clone()], true).unwrap(),
            vec![Acl::new(Perms::ALL, bob.clone())]
        );
        assert!(check(&[Acl::new(Perms::READ, bob.clone())], Perms::READ, &[bob]).is_ok());
        // Duplicates collapse.
        let dup = vec![world[0].clone(), world[0].clone()];
        assert_eq!(fixup(&dup, &[], false).unwrap().len(), 1);
    }

    #[test]
    fn check_rules() {
        let acl = vec![
            Acl::new(Perms::READ, ip("127.0.0.0/8")),
            Acl::new(Perms::ALL, Id::new("digest", "u:h")),
        ];
        let local = [ip("127.0.0.1")];
        assert!(check(&acl, Perms::READ, &local).is_ok());
        assert_eq!(check(&acl, Perms::WRITE, &local), Err(NO_AUTH));
        let user = [ip("127.0.0.1"), Id::new("digest", "u:h")];
        assert!(check(&acl, Perms::WRITE, &user).is_ok());
        assert!(check(&acl, Perms::WRITE, &[Id::new("super", "")]).is_ok());
        assert!(check(&[], Perms::WRITE, &[]).is_ok());
        assert_eq!(check(&acl, Perms::READ, &[ip("10.0.0.1")]), Err(NO_AUTH));
    }

    #[test]
    fn masking() {
        let acl = vec![Acl::new(Perms::ALL, Id::new("digest", "bob:abc="))];
        assert_eq!(mask_digests(&acl)[0].id.id, "bob:x");
    }
}
