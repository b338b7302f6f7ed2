//! The command line every harness of bench/ accepts (bench/README.md, "Command line"), plus
//! `--client` to pick which crate drives the run.

/// What one run was asked to do. Counts that were not given are `None`: each workload has
/// its own default (bench/README.md lists them).
#[derive(Debug, Clone)]
pub struct Options {
    pub client: String,
    pub connect: String,
    pub workload: String,
    pub ops: Option<usize>,
    pub threads: Option<usize>,
    pub inflight: usize,
    pub nodes: Option<usize>,
    pub size: usize,
}

impl Options {
    /// Parses `--flag value` pairs; the error is one line for the usage message.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let mut o = Options {
            client: String::new(),
            connect: "127.0.0.1:2181".to_string(),
            workload: String::new(),
            ops: None,
            threads: None,
            inflight: 1000,
            nodes: None,
            size: 100,
        };
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            let value = it.next().ok_or(format!("{flag} needs a value"))?;
            let count = || -> Result<usize, String> {
                match value.parse::<usize>() {
                    Ok(v) if v > 0 => Ok(v),
                    _ => Err(format!(
                        "{flag} wants a positive whole number, not {value:?}"
                    )),
                }
            };
            match flag.as_str() {
                "--client" => o.client = value.clone(),
                "--connect" => o.connect = value.clone(),
                "--workload" => o.workload = value.clone(),
                "--ops" => o.ops = Some(count()?),
                "--threads" => o.threads = Some(count()?),
                "--inflight" => o.inflight = count()?,
                "--nodes" => o.nodes = Some(count()?),
                "--size" => o.size = count()?,
                other => return Err(format!("unknown option {other}")),
            }
        }
        if o.client.is_empty() {
            return Err("--client zookeeper|zookeeper-client is required".into());
        }
        if o.workload.is_empty() {
            return Err("--workload is required".into());
        }
        Ok(o)
    }

    pub fn ops_or(&self, default: usize) -> usize {
        self.ops.unwrap_or(default)
    }

    pub fn threads_or(&self, default: usize) -> usize {
        self.threads.unwrap_or(default)
    }

    pub fn nodes_or(&self, default: usize) -> usize {
        self.nodes.unwrap_or(default)
    }
}
