//! How zkcli prints what the server says, kept close to Apache's `zkCli.sh` so that operators
//! read familiar text: Stat fields (`cZxid = 0x2`), ACL entries (`'world,'anyone` / `: cdrwa`),
//! watch events (`WatchedEvent state:SyncConnected type:NodeDataChanged path:/a`), `whoami`
//! lines; plus the ACL syntax `setAcl` and `create` read (`scheme:id:perms,...`) and the one
//! line an error becomes on stderr. Pure functions; `commands` writes their results.

use zk_curator::{Acl, ClientInfo, Error, Id, Perms, Stat, WatchedEvent};

/// A Stat as zkCli prints it: eleven `name = value` lines.
pub fn stat(s: &Stat) -> String {
    format!(
        "cZxid = 0x{:x}\nctime = {}\nmZxid = 0x{:x}\nmtime = {}\npZxid = 0x{:x}\n\
         cversion = {}\ndataVersion = {}\naclVersion = {}\nephemeralOwner = 0x{:x}\n\
         dataLength = {}\nnumChildren = {}\n",
        s.czxid,
        date(s.ctime),
        s.mzxid,
        date(s.mtime),
        s.pzxid,
        s.cversion,
        s.version,
        s.aversion,
        s.ephemeral_owner,
        s.data_length,
        s.num_children,
    )
}

/// Milliseconds since the epoch as Java's `Date.toString()` prints them in UTC:
/// `Thu Jan 01 00:00:00 UTC 1970` (zkcli has no time-zone database, so always UTC).
pub fn date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} UTC {}",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(m - 1) as usize],
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        y
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The permission letters in zkCli's order: `cdrwa`.
const PERM_LETTERS: [(Perms, char); 5] = [
    (Perms::CREATE, 'c'),
    (Perms::DELETE, 'd'),
    (Perms::READ, 'r'),
    (Perms::WRITE, 'w'),
    (Perms::ADMIN, 'a'),
];

/// `Perms` as zkCli's letters (`cdrwa` for all, empty for none).
pub fn perms(p: Perms) -> String {
    PERM_LETTERS
        .iter()
        .filter(|(bit, _)| p.contains(*bit))
        .map(|(_, c)| *c)
        .collect()
}

/// An ACL list as `getAcl` prints it: per entry `'scheme,'id` then `: perms`.
pub fn acl(list: &[Acl]) -> String {
    let mut s = String::new();
    for a in list {
        s.push_str(&format!(
            "'{},'{}\n: {}\n",
            a.id.scheme,
            a.id.id,
            perms(a.perms)
        ));
    }
    s
}

/// Parses zkCli's ACL syntax: `scheme:id:perms` entries separated by commas, where the id may
/// itself contain colons (`digest:user:hash:cdrwa`, `ip:10.0.0.0/8:r`, `auth::cdrwa`).
pub fn parse_acl(text: &str) -> Result<Vec<Acl>, String> {
    let mut list = Vec::new();
    for entry in text.split(',') {
        let (Some(first), Some(last)) = (entry.find(':'), entry.rfind(':')) else {
            return Err(format!("invalid ACL entry {entry:?}: use scheme:id:perms"));
        };
        if first == last {
            return Err(format!("invalid ACL entry {entry:?}: use scheme:id:perms"));
        }
        let scheme = &entry[..first];
        if scheme.is_empty() {
            return Err(format!("invalid ACL entry {entry:?}: the scheme is empty"));
        }
        let mut bits = Perms::NONE;
        for c in entry[last + 1..].chars() {
            match PERM_LETTERS.iter().find(|(_, l)| *l == c) {
                Some((bit, _)) => bits = bits | *bit,
                None => {
                    return Err(format!(
                        "invalid permission {c:?} in ACL entry {entry:?}: use the letters cdrwa"
                    ))
                }
            }
        }
        list.push(Acl::new(bits, Id::new(scheme, &entry[first + 1..last])));
    }
    Ok(list)
}

/// A watch event as zkCli prints it.
pub fn event(e: &WatchedEvent) -> String {
    format!(
        "WatchedEvent state:{:?} type:{:?} path:{}",
        e.state(),
        e.event_type(),
        e.path().unwrap_or("null")
    )
}

/// `whoami`'s answer as zkCli prints it.
pub fn who_am_i(ids: &[ClientInfo]) -> String {
    let mut s = String::from("Auth scheme: User\n");
    for id in ids {
        s.push_str(&format!("{}: {}\n", id.auth_scheme, id.user));
    }
    s
}

/// The name of an error's kind, `NoNode`, `BadVersion`, `ConnectionLoss`, ... (the variant's
/// name, the same as the server code's name in Java's `KeeperException.Code`).
pub fn error_kind(e: &Error) -> String {
    format!("{e:?}")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// The stderr line for a failed call: the kind first (stable, greppable), then the
/// library's message, which names the path.
pub fn error(e: &Error) -> String {
    format!("{}: {e}", error_kind(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_like_javas_date_to_string_in_utc() {
        assert_eq!(date(0), "Thu Jan 01 00:00:00 UTC 1970");
        // 2026-12-06 12:10:49 UTC, a Sunday (seen from zkCli against ZooKeeper 3.8).
        assert_eq!(date(1_796_559_049_123), "Sun Dec 06 12:10:49 UTC 2026");
        assert_eq!(date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
        assert_eq!(date(-1000), "Wed Dec 31 23:59:59 UTC 1969");
    }

    #[test]
    fn stat_has_zkclis_eleven_lines() {
        let s = Stat {
            czxid: 2,
            mzxid: 0x1f,
            ctime: 0,
            mtime: 0,
            version: 1,
            cversion: 3,
            aversion: 0,
            ephemeral_owner: 0x1000050,
            data_length: 5,
            num_children: 3,
            pzxid: 5,
        };
        assert_eq!(
            stat(&s),
            "cZxid = 0x2\nctime = Thu Jan 01 00:00:00 UTC 1970\nmZxid = 0x1f\n\
             mtime = Thu Jan 01 00:00:00 UTC 1970\npZxid = 0x5\ncversion = 3\n\
             dataVersion = 1\naclVersion = 0\nephemeralOwner = 0x1000050\n\
             dataLength = 5\nnumChildren = 3\n"
        );
    }

    #[test]
    fn acl_lines_and_perm_letters_follow_zkcli() {
        assert_eq!(perms(Perms::ALL), "cdrwa");
        assert_eq!(perms(Perms::READ | Perms::CREATE | Perms::DELETE), "cdr");
        assert_eq!(perms(Perms::NONE), "");
        assert_eq!(acl(&Acl::open_unsafe()), "'world,'anyone\n: cdrwa\n");
    }

    #[test]
    fn acl_syntax_parses_ids_with_colons() {
        let l =
            parse_acl("world:anyone:cdrwa,digest:u:abc=:ra,auth::cdrwa,ip:10.0.0.0/8:r").unwrap();
        assert_eq!(l.len(), 4);
        assert_eq!(l[0], Acl::new(Perms::ALL, Id::anyone()));
        assert_eq!(l[1].id, Id::new("digest", "u:abc="));
        assert_eq!(l[1].perms, Perms::READ | Perms::ADMIN);
        assert_eq!(l[2].id, Id::new("auth", ""));
        assert_eq!(l[3].id.id, "10.0.0.0/8");
        assert_eq!(parse_acl("world:anyone:").unwrap()[0].perms, Perms::NONE);
        for bad in ["world", "world:anyone", ":x:r", "world:anyone:rx", ""] {
            assert!(parse_acl(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn events_and_errors_print_in_one_line() {
        use zk_curator::{EventType, KeeperState};
        let e = WatchedEvent::new(
            EventType::NodeDataChanged,
            KeeperState::SyncConnected,
            Some("/a".into()),
        );
        assert_eq!(
            event(&e),
            "WatchedEvent state:SyncConnected type:NodeDataChanged path:/a"
        );
        let s = WatchedEvent::state_change(KeeperState::Disconnected);
        assert_eq!(
            event(&s),
            "WatchedEvent state:Disconnected type:None path:null"
        );
        let err = Error::from_code(-101, "/missing");
        assert_eq!(error_kind(&err), "NoNode");
        let line = error(&err);
        assert!(
            line.starts_with("NoNode: ") && line.contains("/missing"),
            "{line}"
        );
        assert_eq!(error_kind(&Error::Timeout), "Timeout");
    }

    #[test]
    fn whoami_lists_every_identity() {
        let ids = vec![
            ClientInfo {
                auth_scheme: "ip".into(),
                user: "127.0.0.1".into(),
            },
            ClientInfo {
                auth_scheme: "digest".into(),
                user: "u".into(),
            },
        ];
        assert_eq!(
            who_am_i(&ids),
            "Auth scheme: User\nip: 127.0.0.1\ndigest: u\n"
        );
    }
}
