//! [`Participant`]: one contender of an election as any process can see it, and the reads
//! that list them ([`LeaderLatch::participants`](super::LeaderLatch::participants) and the
//! selector's), shared by both recipes because Curator lists them the same way: the
//! election's children in sequence order, each one's data read as its id, the first that
//! still exists being the leader.

use crate::error::{Error, Result};
use crate::framework::CuratorFramework;
use crate::path;

/// One contender of a leader election: the id it registered (its node's data, read as UTF-8)
/// and whether it is the leader (Curator's `Participant`).
///
/// Any process can list the participants, including ones that do not take part. The
/// leader is the contender whose node comes first; a contender whose node vanished while
/// the list was being read is left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Participant {
    /// The id the contender registered (empty when it gave none).
    pub id: String,
    /// True for the leader.
    pub is_leader: bool,
}

impl Participant {
    /// A participant (Curator's `new Participant(id, isLeader)`).
    pub fn new(id: impl Into<String>, is_leader: bool) -> Participant {
        Participant {
            id: id.into(),
            is_leader,
        }
    }

    /// The id the contender registered.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// True for the leader.
    pub fn is_leader(&self) -> bool {
        self.is_leader
    }
}

impl std::fmt::Display for Participant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Participant{{id={:?}, is_leader={}}}",
            self.id, self.is_leader
        )
    }
}

/// The children of `dir` sorted into election order (the text after the last `marker`), as
/// full paths; empty when `dir` does not exist.
pub(crate) fn sorted_nodes(
    client: &CuratorFramework,
    dir: &str,
    marker: &str,
) -> Result<Vec<String>> {
    let mut children = match client.get_children().for_path(dir) {
        Ok(c) => c,
        Err(Error::NoNode { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    path::sort_children(&mut children, marker);
    Ok(children.iter().map(|c| path::make_path(dir, c)).collect())
}

/// The participant behind each of `nodes` (full paths in election order), the first one
/// that still exists marked as the leader.
pub(crate) fn participants_of(
    client: &CuratorFramework,
    nodes: &[String],
) -> Result<Vec<Participant>> {
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes {
        if let Some(id) = id_of(client, node)? {
            let is_leader = out.is_empty();
            out.push(Participant { id, is_leader });
        }
    }
    Ok(out)
}

/// The leader among `nodes`: the first one that still exists, or `None`.
pub(crate) fn leader_of(
    client: &CuratorFramework,
    nodes: &[String],
) -> Result<Option<Participant>> {
    for node in nodes {
        if let Some(id) = id_of(client, node)? {
            return Ok(Some(Participant {
                id,
                is_leader: true,
            }));
        }
    }
    Ok(None)
}

/// A node's data as an id (invalid UTF-8 replaced, as Java's `new String(bytes, UTF_8)`
/// does), or `None` if the node is gone.
fn id_of(client: &CuratorFramework, node: &str) -> Result<Option<String>> {
    match client.get_data().for_path(node) {
        Ok(d) => Ok(Some(String::from_utf8_lossy(&d).into_owned())),
        Err(Error::NoNode { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn participants_print_and_compare() {
        let p = Participant::new("a", true);
        assert_eq!(p.id(), "a");
        assert!(p.is_leader());
        assert_eq!(p.to_string(), "Participant{id=\"a\", is_leader=true}");
        assert_eq!(Participant::default(), Participant::new("", false));
    }
}
