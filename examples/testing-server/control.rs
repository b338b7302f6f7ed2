//! The control commands: one line in, one line out (`ok [text]` or `err <why>`), whichever
//! channel the line came through (stdin or the control port, see `channel.rs`).

use std::time::Duration;

use zk_curator::proto::OpCode;
use zk_curator::testing::TestingServer;

/// What one command line gives: the answer, and whether the process must now end.
pub struct Answer {
    pub line: String,
    pub quit: bool,
}

impl Answer {
    fn ok(text: impl Into<String>) -> Answer {
        let text = text.into();
        Answer {
            line: if text.is_empty() {
                "ok".into()
            } else {
                format!("ok {text}")
            },
            quit: false,
        }
    }

    fn err(why: impl Into<String>) -> Answer {
        Answer {
            line: format!("err {}", why.into()),
            quit: false,
        }
    }
}

/// One line per command, as `help` answers it (joined with "; ").
pub const COMMANDS: &[&str] = &[
    "stop",
    "restart",
    "expire <session-id>",
    "expire-all",
    "drop",
    "pause",
    "resume",
    "latency <µs>",
    "commit-latency <µs>",
    "fail-next <n> <op>",
    "sessions",
    "dump",
    "help",
    "quit",
];

/// Runs one command line (not blank) against the server.
pub fn execute(server: &TestingServer, line: &str) -> Answer {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (cmd, args) = match words.split_first() {
        Some((c, a)) => (*c, a),
        None => return Answer::err("empty command"),
    };
    let arity = |n: usize| -> Result<(), Answer> {
        if args.len() == n {
            Ok(())
        } else {
            Err(Answer::err(format!(
                "{cmd} takes {n} argument{}, got {}",
                if n == 1 { "" } else { "s" },
                args.len()
            )))
        }
    };
    let run = || -> Result<Answer, Answer> {
        Ok(match cmd {
            "stop" => {
                arity(0)?;
                server.stop();
                Answer::ok("")
            }
            "restart" => {
                arity(0)?;
                // As Curator's restart(): a running server is stopped first.
                server.stop();
                server
                    .restart()
                    .map_err(|e| Answer::err(format!("cannot listen again: {e}")))?;
                Answer::ok("")
            }
            "expire" => {
                arity(1)?;
                let id = parse_session_id(args[0]).map_err(Answer::err)?;
                if !server.expire_session(id) {
                    return Err(Answer::err(format!("no session {id:#x}")));
                }
                Answer::ok("")
            }
            "expire-all" => {
                arity(0)?;
                let n = server.session_ids().len();
                server.expire_all_sessions();
                Answer::ok(n.to_string())
            }
            "drop" => {
                arity(0)?;
                server.drop_connections();
                Answer::ok("")
            }
            "pause" => {
                arity(0)?;
                server.pause();
                Answer::ok("")
            }
            "resume" => {
                arity(0)?;
                server.resume();
                Answer::ok("")
            }
            "latency" | "commit-latency" => {
                arity(1)?;
                let d = parse_duration(args[0], Unit::Micros).map_err(Answer::err)?;
                if cmd == "latency" {
                    server.set_latency(d);
                } else {
                    server.set_commit_latency(d);
                }
                Answer::ok("")
            }
            "fail-next" => {
                arity(2)?;
                let n: u32 = args[0]
                    .parse()
                    .map_err(|_| Answer::err(format!("not a count: {:?}", args[0])))?;
                let op = parse_op(args[1]).map_err(Answer::err)?;
                server.fail_next(n, op);
                Answer::ok("")
            }
            "sessions" => {
                arity(0)?;
                let ids: Vec<String> = server
                    .session_ids()
                    .iter()
                    .map(|id| format!("{id:#x}"))
                    .collect();
                Answer::ok(ids.join(" "))
            }
            "dump" => {
                arity(0)?;
                // A znode name cannot contain a tab (or any control character).
                let dump = server.dump();
                Answer::ok(dump.lines().collect::<Vec<_>>().join("\t"))
            }
            "help" => Answer::ok(COMMANDS.join("; ")),
            "quit" => {
                arity(0)?;
                Answer {
                    line: "ok".into(),
                    quit: true,
                }
            }
            _ => {
                return Err(Answer::err(format!(
                    "unknown command {cmd:?} (help lists them)"
                )))
            }
        })
    };
    run().unwrap_or_else(|a| a)
}

/// `0x`-prefixed hex (as `sessions` prints them) or decimal (Java's `getSessionId()`).
pub fn parse_session_id(s: &str) -> Result<i64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok().map(|v| v as i64),
        None => s.parse::<i64>().ok(),
    };
    parsed.ok_or_else(|| format!("not a session id: {s:?} (0x-hex or decimal)"))
}

/// An op by its Java name in any case, with or without dashes (`setData`, `set-data`,
/// `SETDATA`), or by its number.
pub fn parse_op(s: &str) -> Result<OpCode, String> {
    if let Ok(code) = s.parse::<i32>() {
        return OpCode::try_from(code).map_err(|_| format!("no op code {code}"));
    }
    let norm = |t: &str| -> String {
        t.chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let want = norm(s);
    OpCode::ALL
        .iter()
        .find(|op| norm(&format!("{op:?}")) == want)
        .copied()
        .ok_or_else(|| format!("unknown op {s:?} (create, delete, setData, multi, ...)"))
}

/// The unit of a bare number.
#[derive(Clone, Copy)]
pub enum Unit {
    Millis,
    Micros,
}

/// A duration: a whole number with `us`, `µs`, `ms` or `s`, or bare in `unit`.
pub fn parse_duration(s: &str, unit: Unit) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let bad = || format!("not a duration: {s:?} (e.g. 500us, 2ms, 1s)");
    let n: u64 = num.parse().map_err(|_| bad())?;
    Ok(match (suffix, unit) {
        ("", Unit::Millis) | ("ms", _) => Duration::from_millis(n),
        ("", Unit::Micros) | ("us", _) | ("µs", _) => Duration::from_micros(n),
        ("s", _) => Duration::from_secs(n),
        _ => return Err(bad()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit_or_the_default_one() {
        let ms = Duration::from_millis;
        assert_eq!(parse_duration("250", Unit::Millis), Ok(ms(250)));
        assert_eq!(
            parse_duration("250", Unit::Micros),
            Ok(Duration::from_micros(250))
        );
        assert_eq!(
            parse_duration("800us", Unit::Millis),
            Ok(Duration::from_micros(800))
        );
        assert_eq!(
            parse_duration("800µs", Unit::Millis),
            Ok(Duration::from_micros(800))
        );
        assert_eq!(parse_duration("2ms", Unit::Micros), Ok(ms(2)));
        assert_eq!(parse_duration("3s", Unit::Micros), Ok(ms(3000)));
        for bad in [
            "",
            "ms",
            "-1",
            "1.5ms",
            "1h",
            "12 ms",
            "99999999999999999999",
        ] {
            assert!(parse_duration(bad, Unit::Millis).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ops_by_java_name_or_number() {
        assert_eq!(parse_op("create"), Ok(OpCode::Create));
        assert_eq!(parse_op("setData"), Ok(OpCode::SetData));
        assert_eq!(parse_op("set-data"), Ok(OpCode::SetData));
        assert_eq!(parse_op("GETCHILDREN2"), Ok(OpCode::GetChildren2));
        assert_eq!(parse_op("closeSession"), Ok(OpCode::CloseSession));
        assert_eq!(parse_op("14"), Ok(OpCode::Multi));
        assert!(parse_op("frobnicate").is_err());
        assert!(parse_op("999").is_err());
    }

    #[test]
    fn session_ids_in_hex_or_decimal() {
        assert_eq!(parse_session_id("0x10"), Ok(16));
        assert_eq!(parse_session_id("16"), Ok(16));
        assert_eq!(parse_session_id("-5"), Ok(-5));
        assert_eq!(parse_session_id("0xffffffffffffffff"), Ok(-1));
        for bad in ["", "0x", "0xzz", "ten", "10 "] {
            assert!(parse_session_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn commands_answer_one_line() {
        let server = TestingServer::start().unwrap();
        let run = |l: &str| execute(&server, l).line;
        assert_eq!(run("sessions"), "ok");
        assert_eq!(run("commit-latency 2ms"), "ok");
        assert_eq!(run("latency 0"), "ok");
        assert_eq!(run("fail-next 1 create"), "ok");
        assert_eq!(run("fail-next 0 create"), "ok");
        assert_eq!(run("expire-all"), "ok 0");
        assert!(run("expire 0x1").starts_with("err no session"));
        assert!(run("expire").starts_with("err expire takes 1 argument"));
        assert!(run("frob").starts_with("err unknown command"));
        assert!(run("latency fast").starts_with("err not a duration"));
        let dump = run("dump");
        assert!(
            dump.starts_with("ok /") && dump.contains("\t  zookeeper"),
            "{dump}"
        );
        assert!(!dump.contains('\n'));
        assert_eq!(run("pause"), "ok");
        assert_eq!(run("resume"), "ok");
        assert_eq!(run("stop"), "ok");
        assert_eq!(run("restart"), "ok");
        assert_eq!(run("restart"), "ok");
        assert_eq!(run("drop"), "ok");
        assert!(run("help").contains("fail-next <n> <op>"));
        let quit = execute(&server, "quit");
        assert!(quit.quit && quit.line == "ok");
    }
}
