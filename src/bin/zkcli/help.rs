//! The commands zkcli knows, for `help` and for error messages: each one's name, synopsis
//! and one line about it ([`COMMANDS`]), looked up by name without regard to case, and the
//! usage error ([`Usage`]) that names a command's synopsis. `spec` parses what these
//! describe.

use std::fmt;

/// A usage error: what is wrong, and the synopsis of the command when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The error for a command name zkcli does not know.
pub fn unknown(name: &str) -> Usage {
    Usage(format!("unknown command {name:?} (try help)"))
}

/// One command's help entry.
pub struct Help {
    /// The name as typed (matched without regard to case).
    pub name: &'static str,
    /// The syntax line.
    pub synopsis: &'static str,
    /// What it does, one line.
    pub about: &'static str,
}

/// Every command, in the order `help` lists them.
pub const COMMANDS: &[Help] = &[
    Help {
        name: "ls",
        synopsis: "ls [-R] [-s] [-w] path",
        about: "list the children (-R: every path below, -s: and the Stat, -w: watch the children)",
    },
    Help {
        name: "get",
        synopsis: "get [-s] [-w] [--hex|--base64] path",
        about: "print the data (-s: and the Stat, -w: watch the data)",
    },
    Help {
        name: "stat",
        synopsis: "stat [-w] path",
        about: "print the Stat (-w: watch the node)",
    },
    Help {
        name: "set",
        synopsis: "set [-s] [-v version] [--hex|--base64] path data",
        about: "replace the data (-v: only at this version, -s: print the new Stat)",
    },
    Help {
        name: "create",
        synopsis: "create [-e] [-s] [-c] [-t ttl] [--hex|--base64] path [data] [acl]",
        about: "create a node (-e ephemeral, -s sequential, -c container, -t ttl: TTL node)",
    },
    Help {
        name: "delete",
        synopsis: "delete [-v version] path",
        about: "delete a node without children (-v: only at this version)",
    },
    Help {
        name: "deleteall",
        synopsis: "deleteall [-y] path",
        about: "delete a node and everything below it, after confirmation (-y: without)",
    },
    Help {
        name: "getAcl",
        synopsis: "getAcl [-s] path",
        about: "print the ACL (-s: and the Stat)",
    },
    Help {
        name: "setAcl",
        synopsis: "setAcl [-s] [-v version] [-R] path acl",
        about:
            "set the ACL, e.g. world:anyone:cdrwa,digest:user:hash:r (-R: on every node below too)",
    },
    Help {
        name: "addauth",
        synopsis: "addauth scheme auth",
        about: "authenticate the session, e.g. addauth digest user:password",
    },
    Help {
        name: "sync",
        synopsis: "sync path",
        about: "let the server catch up with the leader",
    },
    Help {
        name: "whoami",
        synopsis: "whoami",
        about: "print the identities of the session",
    },
    Help {
        name: "config",
        synopsis: "config [-s] [-w]",
        about: "print the ensemble's dynamic configuration",
    },
    Help {
        name: "watch",
        synopsis: "watch [-p|-r] path",
        about:
            "print the node's events until Ctrl-C or Enter (-p persistent, -r persistent recursive)",
    },
    Help {
        name: "history",
        synopsis: "history",
        about: "list this session's commands; !n runs number n again, !! the last",
    },
    Help {
        name: "help",
        synopsis: "help [command]",
        about: "this list, or one command's syntax",
    },
    Help {
        name: "quit",
        synopsis: "quit",
        about: "leave (also exit, Ctrl-D)",
    },
];

/// The help entry of `name` (any case; `exit` is `quit`).
pub fn lookup(name: &str) -> Option<&'static Help> {
    let name = if name.eq_ignore_ascii_case("exit") {
        "quit"
    } else {
        name
    };
    COMMANDS.iter().find(|h| h.name.eq_ignore_ascii_case(name))
}

/// The text `help` prints: every command, or the one named.
pub fn help_text(topic: Option<&str>) -> Result<String, Usage> {
    match topic {
        Some(t) => {
            let h = lookup(t).ok_or_else(|| unknown(t))?;
            Ok(format!("{}\n    {}\n", h.synopsis, h.about))
        }
        None => {
            let mut s = String::from(
                "Node data is text unless --hex or --base64 says otherwise. Commands:\n",
            );
            for h in COMMANDS {
                s.push_str(&format!("  {}\n      {}\n", h.synopsis, h.about));
            }
            Ok(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_command() {
        let all = help_text(None).unwrap();
        for h in COMMANDS {
            assert!(all.contains(h.synopsis), "{}", h.name);
        }
        assert!(help_text(Some("deleteall")).unwrap().contains("-y"));
        assert!(help_text(Some("nope")).is_err());
    }
}
