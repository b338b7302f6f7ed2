//! Reading the command line without a parser crate: zkcli's global options ([`Global`]), the
//! shell-like splitting of an interactive line ([`split_line`]), the small getopt that every
//! command's options go through ([`scan`]) and durations (`10s`, `500ms`, bare milliseconds as
//! in zkCli.sh). `spec` builds commands from what these return; every error here is a usage
//! error (exit code 2).

use std::time::Duration;

use crate::encoding::DataFormat;

/// Options that come before the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Global {
    /// `host:port[,host:port...][/chroot]`.
    pub server: String,
    /// How long to wait for a connection (and, when it is lost, for each command).
    pub timeout: Duration,
    /// The session timeout to ask the server for.
    pub session_timeout: Duration,
    /// `(scheme, auth)` pairs to authenticate with (`--auth digest:user:password`).
    pub auth: Vec<(String, Vec<u8>)>,
    /// How node data is typed and shown unless a command says otherwise.
    pub format: DataFormat,
    /// The command and its arguments; empty for the interactive prompt.
    pub command: Vec<String>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invocation {
    /// Connect and run the command (or the prompt).
    Run(Global),
    /// Print the usage text.
    Help,
    /// Print the version.
    Version,
}

/// The server when neither `--server` nor `ZK_CONNECT` names one (zkCli.sh's default).
pub const DEFAULT_SERVER: &str = "127.0.0.1:2181";

/// Parses the process arguments (without the program name). `env_server` is `ZK_CONNECT`.
pub fn parse_global(args: &[String], env_server: Option<String>) -> Result<Invocation, String> {
    let mut g = Global {
        server: env_server
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SERVER.to_string()),
        timeout: Duration::from_secs(10),
        session_timeout: Duration::from_secs(30),
        auth: Vec::new(),
        format: DataFormat::Text,
        command: Vec::new(),
    };
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        // `--name=value` and `--name value`; zkCli.sh's single-dash `-server`/`-timeout` too.
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| format!("{name} needs {what}"))
        };
        match name {
            "--server" | "-server" => g.server = value("host:port[,host:port][/chroot]")?,
            "--timeout" | "-timeout" => g.timeout = positive_duration(name, &value("a duration")?)?,
            "--session-timeout" => {
                g.session_timeout = positive_duration(name, &value("a duration")?)?
            }
            "--auth" => {
                let v = value("scheme:auth")?;
                let Some((scheme, auth)) = v.split_once(':') else {
                    return Err(format!(
                        "--auth {v:?}: use scheme:auth, e.g. digest:user:password"
                    ));
                };
                g.auth.push((scheme.to_string(), auth.as_bytes().to_vec()));
            }
            "--hex" => g.format = DataFormat::Hex,
            "--base64" => g.format = DataFormat::Base64,
            "-h" | "--help" => return Ok(Invocation::Help),
            "-V" | "--version" => return Ok(Invocation::Version),
            "--" => {
                g.command = args[i + 1..].to_vec();
                break;
            }
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!(
                    "unknown option {s} (options go before the command)"
                ))
            }
            _ => {
                g.command = args[i..].to_vec();
                break;
            }
        }
        i += 1;
    }
    if g.server.is_empty() {
        return Err("--server is empty".into());
    }
    Ok(Invocation::Run(g))
}

fn positive_duration(name: &str, s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(format!("{name} must be more than zero")),
        d => Ok(d),
    }
}

/// `10s`, `500ms`, `2m`, `1h`, or a bare number of milliseconds (zkCli.sh's unit).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: use e.g. 10s, 500ms, 2m"))?;
    let ms = match unit {
        "" | "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" | "min" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err(format!("invalid duration {s:?}: the unit is ms, s, m or h")),
    };
    ms.map(Duration::from_millis)
        .ok_or_else(|| format!("duration {s:?} is too long"))
}

/// Splits an interactive line into words as a shell would: blanks separate words; `'...'`
/// is literal; `"..."` is literal except `\"` and `\\`; a backslash outside quotes takes
/// the next character as it is. `""` is an empty word (empty node data).
pub fn split_line(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated \" quote".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated \" quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("a backslash ends the line".into()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// A command's arguments after [`scan`]: the flags seen, the option values, the data format
/// asked for (`--hex`, `--base64`, `--text`) and the positional words.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scanned {
    flags: Vec<char>,
    values: Vec<(char, String)>,
    /// `--hex` / `--base64` / `--text`, if given.
    pub format: Option<DataFormat>,
    /// The words that are not options, in order.
    pub positional: Vec<String>,
}

impl Scanned {
    /// Whether `-c` was given.
    pub fn flag(&self, c: char) -> bool {
        self.flags.contains(&c)
    }

    /// The value of `-c` (the last one if repeated).
    pub fn value(&self, c: char) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| *k == c)
            .map(|(_, v)| v.as_str())
    }
}

/// A small getopt: `flags` are the option letters without a value, `valued` those with one
/// (`-v 3` or `-v3`); letters cluster (`-es`); options may come after positional words as in
/// zkCli.sh; `--` ends the options (for data starting with `-`).
pub fn scan(args: &[String], flags: &str, valued: &str) -> Result<Scanned, String> {
    let mut out = Scanned::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            out.positional.extend(it.by_ref().cloned());
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            out.format = Some(match long {
                "hex" => DataFormat::Hex,
                "base64" => DataFormat::Base64,
                "text" => DataFormat::Text,
                _ => return Err(format!("unknown option --{long}")),
            });
            continue;
        }
        let Some(letters) = arg.strip_prefix('-').filter(|l| !l.is_empty()) else {
            out.positional.push(arg.clone());
            continue;
        };
        for (i, c) in letters.char_indices() {
            if flags.contains(c) {
                out.flags.push(c);
            } else if valued.contains(c) {
                let rest = &letters[i + c.len_utf8()..];
                let v = if rest.is_empty() {
                    it.next()
                        .cloned()
                        .ok_or_else(|| format!("option -{c} needs a value"))?
                } else {
                    rest.to_string()
                };
                out.values.push((c, v));
                break;
            } else {
                return Err(format!(
                    "unknown option -{c}{}",
                    if c.is_ascii_digit() {
                        " (put -- before data that starts with '-')"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn run(args: &str) -> Global {
        match parse_global(&words(args), None).unwrap() {
            Invocation::Run(g) => g,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn global_options_come_before_the_command() {
        let g = run("--server h1:1,h2:2/app --timeout 3s --hex ls -R /");
        assert_eq!(g.server, "h1:1,h2:2/app");
        assert_eq!(g.timeout, Duration::from_secs(3));
        assert_eq!(g.format, DataFormat::Hex);
        assert_eq!(g.command, words("ls -R /"));
        let g = run("-server h:1 -timeout 2500 --auth digest:u:p:q get /a");
        assert_eq!(g.server, "h:1");
        assert_eq!(g.timeout, Duration::from_millis(2500));
        assert_eq!(g.auth, vec![("digest".into(), b"u:p:q".to_vec())]);
        let g = run("--server=h:7 --session-timeout=1m");
        assert_eq!(g.server, "h:7");
        assert_eq!(g.session_timeout, Duration::from_secs(60));
        assert!(g.command.is_empty());
        assert_eq!(run("").server, DEFAULT_SERVER);
        assert_eq!(run("-- -x").command, words("-x"));
    }

    #[test]
    fn global_option_errors_are_usage_errors() {
        let err = |s: &str| parse_global(&words(s), None).unwrap_err();
        assert!(err("--server").contains("--server needs"));
        assert!(err("--timeout 0s ls /").contains("more than zero"));
        assert!(err("--timeout soon ls /").contains("invalid duration"));
        assert!(err("--bogus ls /").contains("unknown option --bogus"));
        assert!(err("--auth nocolon").contains("scheme:auth"));
        assert_eq!(parse_global(&words("--help"), None), Ok(Invocation::Help));
        assert_eq!(parse_global(&words("-V"), None), Ok(Invocation::Version));
    }

    #[test]
    fn zk_connect_is_the_default_server() {
        let Ok(Invocation::Run(g)) = parse_global(&[], Some("e:1".into())) else {
            panic!()
        };
        assert_eq!(g.server, "e:1");
        let Ok(Invocation::Run(g)) = parse_global(&words("--server x:2"), Some("e:1".into()))
        else {
            panic!()
        };
        assert_eq!(g.server, "x:2");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in [
            "",
            "s",
            "1.5s",
            "-1s",
            "10 s",
            "10d",
            "99999999999999999999",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lines_split_like_a_shell() {
        let s = |l: &str| split_line(l).unwrap();
        assert_eq!(s("  set  /a   b "), vec!["set", "/a", "b"]);
        assert_eq!(s("set /a 'hello world'"), vec!["set", "/a", "hello world"]);
        assert_eq!(
            s(r#"set /a "say \"hi\" \n""#),
            vec!["set", "/a", r#"say "hi" \n"#]
        );
        assert_eq!(s(r"set /a a\ b"), vec!["set", "/a", "a b"]);
        assert_eq!(s(r#"set /a """#), vec!["set", "/a", ""]);
        assert_eq!(s("x'a'\"b\"c"), vec!["xabc"]);
        assert!(s("").is_empty());
        assert!(split_line("set /a 'oops").is_err());
        assert!(split_line("set /a \"oops").is_err());
        assert!(split_line("set /a \\").is_err());
    }

    #[test]
    fn scan_handles_clusters_values_and_dashdash() {
        let sc = scan(&words("-es -t 10s /a data --hex"), "esc", "t").unwrap();
        assert!(sc.flag('e') && sc.flag('s') && !sc.flag('c'));
        assert_eq!(sc.value('t'), Some("10s"));
        assert_eq!(sc.positional, words("/a data"));
        assert_eq!(sc.format, Some(DataFormat::Hex));
        let sc = scan(&words("/a -v3 x"), "", "v").unwrap();
        assert_eq!(sc.value('v'), Some("3"));
        assert_eq!(sc.positional, words("/a x"));
        let sc = scan(&words("-v -1 /a -- -x -"), "", "v").unwrap();
        assert_eq!(sc.value('v'), Some("-1"));
        assert_eq!(sc.positional, words("/a -x -"));
        assert!(scan(&words("-q /a"), "s", "")
            .unwrap_err()
            .contains("unknown option -q"));
        assert!(scan(&words("/a -5"), "", "").unwrap_err().contains("--"));
        assert!(scan(&words("/a -v"), "", "v")
            .unwrap_err()
            .contains("needs a value"));
        assert!(scan(&words("--nope"), "", "").is_err());
    }
}
