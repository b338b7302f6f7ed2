//! The parsing of a command's words into a typed [`Command`]: flags checked, data decoded,
//! versions and TTLs read. Everything wrong here is a usage error (exit code 2) that quotes
//! the command's synopsis from `help`. `commands` runs what this returns.

use std::time::Duration;

use zk_curator::{Acl, CreateMode};

use crate::args::{parse_duration, scan, Scanned};
use crate::encoding::DataFormat;
use crate::format::parse_acl;
use crate::help::{lookup, unknown, Usage};

/// How `watch` watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchMode {
    /// One-shot data and child watches, set again after each event (any server).
    Standard,
    /// A persistent watch on the node (3.6+ servers).
    Persistent,
    /// A persistent recursive watch on the node and everything below it (3.6+ servers).
    Recursive,
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ls {
        path: String,
        recursive: bool,
        stat: bool,
        watch: bool,
    },
    Get {
        path: String,
        stat: bool,
        watch: bool,
        format: DataFormat,
    },
    Stat {
        path: String,
        watch: bool,
    },
    Set {
        path: String,
        data: Vec<u8>,
        version: i32,
        stat: bool,
    },
    Create {
        path: String,
        data: Vec<u8>,
        mode: CreateMode,
        ttl: Option<Duration>,
        acl: Option<Vec<Acl>>,
    },
    Delete {
        path: String,
        version: i32,
    },
    DeleteAll {
        path: String,
        yes: bool,
    },
    GetAcl {
        path: String,
        stat: bool,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
        recursive: bool,
        stat: bool,
    },
    AddAuth {
        scheme: String,
        auth: Vec<u8>,
    },
    Sync {
        path: String,
    },
    WhoAmI,
    Config {
        stat: bool,
        watch: bool,
        format: DataFormat,
    },
    Watch {
        path: String,
        mode: WatchMode,
    },
    Help {
        topic: Option<String>,
    },
    History,
    Quit,
}

/// Parses one command. `default_format` is the global `--hex`/`--base64` choice.
pub fn parse(words: &[String], default_format: DataFormat) -> Result<Command, Usage> {
    let Some((name, rest)) = words.split_first() else {
        return Err(Usage("no command given (try help)".into()));
    };
    let help = lookup(name).ok_or_else(|| unknown(name))?;
    let bad = |msg: String| Usage(format!("{}: {msg}\nusage: {}", help.name, help.synopsis));
    let sc = |flags: &str, valued: &str| scan(rest, flags, valued).map_err(bad);
    // Positional words: exactly `min..=max` of them.
    let want = |s: &Scanned, min: usize, max: usize| -> Result<(), Usage> {
        let n = s.positional.len();
        match () {
            _ if n < min => Err(bad(format!("missing {}", missing_what(help.name, n)))),
            _ if n > max => Err(bad(format!("unexpected argument {:?}", s.positional[max]))),
            _ => Ok(()),
        }
    };
    let path = |s: &Scanned| s.positional[0].clone();
    let fmt = |s: &Scanned| s.format.unwrap_or(default_format);
    let data = |s: &Scanned, i: usize| -> Result<Vec<u8>, Usage> {
        match s.positional.get(i) {
            Some(d) => fmt(s).decode(d).map_err(|e| bad(e.to_string())),
            None => Ok(Vec::new()),
        }
    };
    let version = |s: &Scanned| -> Result<i32, Usage> {
        match s.value('v') {
            None => Ok(-1),
            Some(v) => v
                .parse()
                .map_err(|_| bad(format!("invalid version {v:?}: a number is needed"))),
        }
    };
    Ok(match help.name {
        "ls" => {
            let s = sc("Rsw", "")?;
            want(&s, 1, 1)?;
            Command::Ls {
                path: path(&s),
                recursive: s.flag('R'),
                stat: s.flag('s'),
                watch: s.flag('w'),
            }
        }
        "get" => {
            let s = sc("sw", "")?;
            want(&s, 1, 1)?;
            Command::Get {
                path: path(&s),
                stat: s.flag('s'),
                watch: s.flag('w'),
                format: fmt(&s),
            }
        }
        "stat" => {
            let s = sc("w", "")?;
            want(&s, 1, 1)?;
            Command::Stat {
                path: path(&s),
                watch: s.flag('w'),
            }
        }
        "set" => {
            let s = sc("s", "v")?;
            want(&s, 2, 2)?;
            Command::Set {
                path: path(&s),
                data: data(&s, 1)?,
                version: version(&s)?,
                stat: s.flag('s'),
            }
        }
        "create" => {
            let s = sc("esc", "t")?;
            want(&s, 1, 3)?;
            let (e, seq, c) = (s.flag('e'), s.flag('s'), s.flag('c'));
            let ttl = match s.value('t') {
                None => None,
                Some(t) => match parse_duration(t).map_err(bad)? {
                    d if d.is_zero() => return Err(bad("the TTL must be more than zero".into())),
                    d => Some(d),
                },
            };
            if c && (e || seq) {
                return Err(bad("-c (container) cannot be combined with -e or -s".into()));
            }
            if ttl.is_some() && (e || c) {
                return Err(bad(
                    "TTL nodes are persistent: -t cannot be combined with -e or -c".into(),
                ));
            }
            let mode = match (e, seq, c, ttl.is_some()) {
                (_, true, _, true) => CreateMode::PersistentSequentialWithTtl,
                (_, false, _, true) => CreateMode::PersistentWithTtl,
                (true, true, ..) => CreateMode::EphemeralSequential,
                (true, false, ..) => CreateMode::Ephemeral,
                (false, true, ..) => CreateMode::PersistentSequential,
                (false, false, true, _) => CreateMode::Container,
                _ => CreateMode::Persistent,
            };
            let acl = match s.positional.get(2) {
                Some(a) => Some(parse_acl(a).map_err(bad)?),
                None => None,
            };
            Command::Create {
                path: path(&s),
                data: data(&s, 1)?,
                mode,
                ttl,
                acl,
            }
        }
        "delete" => {
            let s = sc("", "v")?;
            want(&s, 1, 1)?;
            Command::Delete {
                path: path(&s),
                version: version(&s)?,
            }
        }
        "deleteall" => {
            let s = sc("y", "")?;
            want(&s, 1, 1)?;
            Command::DeleteAll {
                path: path(&s),
                yes: s.flag('y'),
            }
        }
        "getAcl" => {
            let s = sc("s", "")?;
            want(&s, 1, 1)?;
            Command::GetAcl {
                path: path(&s),
                stat: s.flag('s'),
            }
        }
        "setAcl" => {
            let s = sc("sR", "v")?;
            want(&s, 2, 2)?;
            let acl = parse_acl(&s.positional[1]).map_err(bad)?;
            Command::SetAcl {
                path: path(&s),
                acl,
                version: version(&s)?,
                recursive: s.flag('R'),
                stat: s.flag('s'),
            }
        }
        "addauth" => {
            let s = sc("", "")?;
            want(&s, 2, 2)?;
            Command::AddAuth {
                scheme: path(&s),
                auth: s.positional[1].as_bytes().to_vec(),
            }
        }
        "sync" => {
            let s = sc("", "")?;
            want(&s, 1, 1)?;
            Command::Sync { path: path(&s) }
        }
        "whoami" => {
            want(&sc("", "")?, 0, 0)?;
            Command::WhoAmI
        }
        "config" => {
            let s = sc("sw", "")?;
            want(&s, 0, 0)?;
            Command::Config {
                stat: s.flag('s'),
                watch: s.flag('w'),
                format: fmt(&s),
            }
        }
        "watch" => {
            let s = sc("pr", "")?;
            want(&s, 1, 1)?;
            let mode = match (s.flag('p'), s.flag('r')) {
                (true, true) => return Err(bad("-p and -r exclude each other".into())),
                (true, false) => WatchMode::Persistent,
                (false, true) => WatchMode::Recursive,
                (false, false) => WatchMode::Standard,
            };
            Command::Watch {
                path: path(&s),
                mode,
            }
        }
        "history" => {
            want(&sc("", "")?, 0, 0)?;
            Command::History
        }
        "help" => {
            let s = sc("", "")?;
            want(&s, 0, 1)?;
            let topic = s.positional.first().cloned();
            if let Some(t) = &topic {
                lookup(t).ok_or_else(|| unknown(t))?;
            }
            Command::Help { topic }
        }
        "quit" => {
            want(&sc("", "")?, 0, 0)?;
            Command::Quit
        }
        other => return Err(unknown(other)),
    })
}

/// What a command with `n` positional words lacks, for the error message.
fn missing_what(cmd: &str, n: usize) -> &'static str {
    match (cmd, n) {
        ("set", 1) => "the data",
        ("setAcl", 1) => "the ACL",
        ("addauth", 0) => "the scheme and the auth",
        ("addauth", 1) => "the auth",
        _ => "the path",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_curator::{Id, Perms};

    fn p(line: &str) -> Result<Command, Usage> {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse(&words, DataFormat::Text)
    }

    #[test]
    fn reads_every_command() {
        assert_eq!(
            p("ls -R -s -w /a").unwrap(),
            Command::Ls {
                path: "/a".into(),
                recursive: true,
                stat: true,
                watch: true
            }
        );
        assert_eq!(
            p("GET -s /a --base64").unwrap(),
            Command::Get {
                path: "/a".into(),
                stat: true,
                watch: false,
                format: DataFormat::Base64
            }
        );
        assert_eq!(
            p("stat -w /a").unwrap(),
            Command::Stat {
                path: "/a".into(),
                watch: true
            }
        );
        assert_eq!(
            p("set -v 3 /a --hex 6869").unwrap(),
            Command::Set {
                path: "/a".into(),
                data: b"hi".to_vec(),
                version: 3,
                stat: false
            }
        );
        assert_eq!(
            p("delete /a").unwrap(),
            Command::Delete {
                path: "/a".into(),
                version: -1
            }
        );
        assert_eq!(
            p("deleteall -y /a").unwrap(),
            Command::DeleteAll {
                path: "/a".into(),
                yes: true
            }
        );
        assert_eq!(
            p("getacl /a").unwrap(),
            Command::GetAcl {
                path: "/a".into(),
                stat: false
            }
        );
        assert_eq!(
            p("setAcl -R /a world:anyone:r").unwrap(),
            Command::SetAcl {
                path: "/a".into(),
                acl: vec![Acl::new(Perms::READ, Id::anyone())],
                version: -1,
                recursive: true,
                stat: false
            }
        );
        assert_eq!(
            p("addauth digest u:p").unwrap(),
            Command::AddAuth {
                scheme: "digest".into(),
                auth: b"u:p".to_vec()
            }
        );
        assert_eq!(p("sync /").unwrap(), Command::Sync { path: "/".into() });
        assert_eq!(p("whoami").unwrap(), Command::WhoAmI);
        assert!(matches!(
            p("config -s").unwrap(),
            Command::Config {
                stat: true,
                watch: false,
                ..
            }
        ));
        assert_eq!(
            p("watch -r /a").unwrap(),
            Command::Watch {
                path: "/a".into(),
                mode: WatchMode::Recursive
            }
        );
        assert_eq!(
            p("watch /a").unwrap(),
            Command::Watch {
                path: "/a".into(),
                mode: WatchMode::Standard
            }
        );
        assert_eq!(p("exit").unwrap(), Command::Quit);
        assert_eq!(
            p("help get").unwrap(),
            Command::Help {
                topic: Some("get".into())
            }
        );
        assert_eq!(p("history").unwrap(), Command::History);
    }

    #[test]
    fn create_modes_and_their_conflicts() {
        let mode = |l: &str| match p(l).unwrap() {
            Command::Create { mode, ttl, .. } => (mode, ttl),
            other => panic!("{other:?}"),
        };
        assert_eq!(mode("create /a").0, CreateMode::Persistent);
        assert_eq!(mode("create -e /a").0, CreateMode::Ephemeral);
        assert_eq!(mode("create -es /a").0, CreateMode::EphemeralSequential);
        assert_eq!(mode("create -s /a").0, CreateMode::PersistentSequential);
        assert_eq!(mode("create -c /a").0, CreateMode::Container);
        assert_eq!(
            mode("create -t 5000 /a"),
            (CreateMode::PersistentWithTtl, Some(Duration::from_secs(5)))
        );
        assert_eq!(
            mode("create -s -t 1m /a").0,
            CreateMode::PersistentSequentialWithTtl
        );
        for bad in [
            "create -c -e /a",
            "create -cs /a",
            "create -e -t 1s /a",
            "create -t 0 /a",
            "create -t x /a",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
        let Command::Create { data, acl, .. } = p("create /a x world:anyone:cdr").unwrap() else {
            panic!()
        };
        assert_eq!(data, b"x");
        assert_eq!(
            acl.unwrap()[0].perms,
            Perms::CREATE | Perms::DELETE | Perms::READ
        );
    }

    #[test]
    fn usage_errors_quote_the_synopsis() {
        let e = p("get").unwrap_err().to_string();
        assert!(
            e.contains("missing the path") && e.contains("usage: get [-s] [-w]"),
            "{e}"
        );
        let e = p("set /a").unwrap_err().to_string();
        assert!(e.contains("missing the data"), "{e}");
        let e = p("ls /a /b").unwrap_err().to_string();
        assert!(e.contains("unexpected argument \"/b\""), "{e}");
        let e = p("delete -v x /a").unwrap_err().to_string();
        assert!(e.contains("invalid version"), "{e}");
        assert!(p("set /a --hex 6").unwrap_err().to_string().contains("hex"));
        assert!(p("setAcl /a world:anyone").is_err());
        assert!(p("watch -p -r /a").is_err());
        assert!(p("frobnicate /a")
            .unwrap_err()
            .to_string()
            .contains("unknown command"));
        assert!(p("help frobnicate").is_err());
        assert!(p("").is_err());
    }

    #[test]
    fn global_format_applies_unless_the_command_overrides_it() {
        let words: Vec<String> = ["set", "/a", "aGk="]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let Command::Set { data, .. } = parse(&words, DataFormat::Base64).unwrap() else {
            panic!()
        };
        assert_eq!(data, b"hi");
        let words: Vec<String> = ["get", "--text", "/a"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(matches!(
            parse(&words, DataFormat::Hex).unwrap(),
            Command::Get {
                format: DataFormat::Text,
                ..
            }
        ));
    }
}
