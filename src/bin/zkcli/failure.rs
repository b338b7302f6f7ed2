//! How a command fails: [`Failure`], which says the exit code, and [`Outcome`], what every
//! command returns. Below everything that runs a command (`commands`, `watch`, `shell`).

use std::fmt;
use std::io;

use zk_curator::Error;

use crate::format;

/// Why a command did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// The command was malformed: exit code 2.
    Usage(String),
    /// ZooKeeper (or the connection to it) said no: exit code 1.
    Zk(Error),
    /// Anything else that stopped the command (not confirmed, cannot connect): exit code 1.
    Other(String),
    /// Writing the output failed (a closed pipe ends zkcli quietly).
    Output(io::Error),
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Zk(_) | Failure::Other(_) | Failure::Output(_) => 1,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Usage(m) | Failure::Other(m) => f.write_str(m),
            Failure::Zk(e) => f.write_str(&format::error(e)),
            Failure::Output(e) => write!(f, "cannot write the output: {e}"),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Output(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        // A path that breaks ZooKeeper's rules is the user's typing, not the server's answer.
        match e {
            Error::InvalidPath { .. } => Failure::Usage(e.to_string()),
            e => Failure::Zk(e),
        }
    }
}

/// What one command returns.
pub type Outcome = Result<(), Failure>;
