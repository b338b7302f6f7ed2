//! Unit-testing your own ZooKeeper code against faults, with the in-process
//! [`TestingServer`]: dropped connections, an expired session, a partition.
//!
//! The code under test is `Membership`, the kind of thing every service writes: it keeps an
//! ephemeral node `/members/<name>` registered and says whether this process may act as a
//! member (`is_active`): not while the connection is in doubt (`Suspended`), not after the
//! session is gone (`Lost`), again once it has re-registered. Each scenario below breaks the
//! server on purpose and checks what `Membership` does, with deadlines, never fixed sleeps:
//!
//! * `drop_connections`: the client reconnects with the same session; the node survives.
//! * `expire_session`: the server ends the session and deletes its node; `Membership`
//!   registers again under the new session.
//! * `pause`: the server stops answering (a partition); `Membership` stands down, and is
//!   back once the server answers again (with its session, or a new one if it expired).
//!
//! `cargo run --example testing_faults` runs the scenarios and narrates them; `cargo test
//! --example testing_faults` (and a plain `cargo test`) runs them as `#[test]`s. Faults need
//! the in-process server, so `ZK_CONNECT` is not used here.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use zk_curator::framework::{
    ConnectionState, CuratorFramework, CuratorFrameworkFactory, ExponentialBackoffRetry, ListenerId,
};
use zk_curator::testing::TestingServer;
use zk_curator::{CreateMode, Error};

// ------------------------------------------------------------------ the code under test

/// Membership of this process in a group: an ephemeral node kept registered across
/// connection trouble, and a flag saying whether to act as a member.
pub struct Membership {
    client: CuratorFramework,
    path: String,
    active: Arc<AtomicBool>,
    registrations: Arc<AtomicUsize>,
    listener: ListenerId,
}

impl Membership {
    /// Registers `name` under `group` and keeps it registered.
    pub fn join(client: &CuratorFramework, group: &str, name: &str) -> zk_curator::Result<Self> {
        let path = format!("{group}/{name}");
        let active = Arc::new(AtomicBool::new(false));
        let registrations = Arc::new(AtomicUsize::new(0));
        register(client, &path)?;
        registrations.fetch_add(1, Ordering::SeqCst);
        active.store(true, Ordering::SeqCst);
        let (p, a, r) = (path.clone(), active.clone(), registrations.clone());
        // Connection states arrive on the event thread, in order. Calling the client from
        // here (a synchronous create) is allowed; it holds the event thread only as long as
        // the call takes.
        let listener = client.connection_state_listenable().add_listener(
            move |c: &CuratorFramework, s: ConnectionState| match s {
                // The session may be gone already: do not act as a member.
                ConnectionState::Suspended | ConnectionState::Lost => {
                    a.store(false, Ordering::SeqCst)
                }
                // Connected again: the same session (the node is still there) or a new one
                // (it is gone, or still held by the old session until the server expires it).
                ConnectionState::Reconnected | ConnectionState::Connected => {
                    match register(c, &p) {
                        Ok(()) => {
                            r.fetch_add(1, Ordering::SeqCst);
                            a.store(true, Ordering::SeqCst);
                        }
                        Err(e) => eprintln!("membership {p}: could not register: {e}"),
                    }
                }
                _ => {}
            },
        );
        Ok(Membership {
            client: client.clone(),
            path,
            active,
            registrations,
            listener,
        })
    }

    /// Whether this process may act as a member now.
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst) && self.client.is_connected()
    }

    /// How many times the node was (re)registered or confirmed.
    pub fn registrations(&self) -> usize {
        self.registrations.load(Ordering::SeqCst)
    }

    /// Leaves the group.
    pub fn leave(self) -> zk_curator::Result<()> {
        self.client
            .connection_state_listenable()
            .remove_listener(self.listener);
        self.active.store(false, Ordering::SeqCst);
        match self.client.delete().for_path(&self.path) {
            Ok(()) | Err(Error::NoNode { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// Makes sure `path` is an ephemeral node of the client's current session.
fn register(client: &CuratorFramework, path: &str) -> zk_curator::Result<()> {
    let session = session_id(client)?;
    loop {
        match client
            .create()
            .creating_parents_if_needed()
            .with_mode(CreateMode::Ephemeral)
            .for_path(path)
        {
            Ok(_) => return Ok(()),
            Err(Error::NodeExists { .. }) => {}
            Err(e) => return Err(e),
        }
        match client.check_exists().for_path(path)? {
            Some(stat) if stat.ephemeral_owner == session => return Ok(()),
            // Left by our previous session, which the server has not expired yet: ours to
            // replace (the version makes sure it is that node we delete).
            Some(stat) => match client.delete().with_version(stat.version).for_path(path) {
                Ok(()) | Err(Error::NoNode { .. }) | Err(Error::BadVersion { .. }) => {}
                Err(e) => return Err(e),
            },
            None => {}
        }
    }
}

/// The client's current session (a new one after each expiry).
fn session_id(client: &CuratorFramework) -> zk_curator::Result<i64> {
    Ok(client.zookeeper_client().zookeeper()?.session_id())
}

// ------------------------------------------------------------------ the scenarios

/// A server with 100 ms ticks, so that sessions of a second or two are allowed.
fn start_server() -> zk_curator::Result<TestingServer> {
    TestingServer::builder()
        .tick_time(Duration::from_millis(100))
        .start()
}

fn start_client(server: &TestingServer) -> zk_curator::Result<CuratorFramework> {
    let client = CuratorFrameworkFactory::builder()
        .connect_string(&server.connect_string())
        .session_timeout(Duration::from_secs(2))
        .connection_timeout(Duration::from_secs(2))
        .retry_policy(ExponentialBackoffRetry::new(Duration::from_millis(50), 10))
        .build()?;
    client.start()?;
    if !client.block_until_connected(Duration::from_secs(10)) {
        return Err(Error::Timeout);
    }
    Ok(client)
}

/// Polls `cond` until it holds or `limit` passes (an upper bound: it returns as soon as
/// `cond` holds).
fn wait_until(
    limit: Duration,
    what: &str,
    cond: impl Fn() -> bool,
) -> zk_curator::Result<Duration> {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > limit {
            return Err(Error::InvalidArgument(format!(
                "timed out waiting for {what}"
            )));
        }
        thread::sleep(Duration::from_millis(5));
    }
    Ok(start.elapsed())
}

const LIMIT: Duration = Duration::from_secs(20);

/// The connections drop; the session survives, and so does the node.
fn dropped_connections() -> zk_curator::Result<()> {
    let server = start_server()?;
    let client = start_client(&server)?;
    let member = Membership::join(&client, "/members", "a")?;
    let session = session_id(&client)?;
    let before = member.registrations();

    server.drop_connections();
    let back = wait_until(LIMIT, "re-registration", || member.registrations() > before)?;
    wait_until(LIMIT, "active", || member.is_active())?;
    let owner = client
        .check_exists()
        .for_path("/members/a")?
        .map(|s| s.ephemeral_owner);
    println!(
        "  drop_connections: back and active after {:.0} ms, same session: {}, node still ours: {}",
        back.as_secs_f64() * 1e3,
        session_id(&client)? == session,
        owner == Some(session)
    );
    assert_eq!(session_id(&client)?, session);
    assert_eq!(owner, Some(session));
    member.leave()?;
    client.close();
    Ok(())
}

/// The server expires the session: its node is deleted; Membership registers again.
fn expired_session() -> zk_curator::Result<()> {
    let server = start_server()?;
    let client = start_client(&server)?;
    let member = Membership::join(&client, "/members", "b")?;
    let old = session_id(&client)?;
    let before = member.registrations();

    assert!(server.expire_session(old));
    let took = wait_until(LIMIT, "registered again", || {
        member.registrations() > before && member.is_active()
    })?;
    let new = session_id(&client)?;
    let owner = client
        .check_exists()
        .for_path("/members/b")?
        .map(|s| s.ephemeral_owner);
    println!(
        "  expire_session: new session {new:#x} (was {old:#x}), registered again and active \
         {:.0} ms later, node owned by the new session: {}",
        took.as_secs_f64() * 1e3,
        owner == Some(new)
    );
    assert_eq!(owner, Some(new));
    member.leave()?;
    client.close();
    Ok(())
}

/// The server stops answering: Membership stands down, then comes back.
fn partition() -> zk_curator::Result<()> {
    let server = start_server()?;
    let client = start_client(&server)?;
    let member = Membership::join(&client, "/members", "c")?;
    let before = member.registrations();

    server.pause();
    let down = wait_until(LIMIT, "standing down", || !member.is_active())?;
    println!(
        "  pause: stood down {:.0} ms into the partition (2 s session: the connection counts \
         as lost after 2/3 of it without a reply)",
        down.as_secs_f64() * 1e3
    );
    server.resume();
    let up = wait_until(LIMIT, "active again", || {
        member.registrations() > before && member.is_active()
    })?;
    let session = session_id(&client)?;
    let owner = client
        .check_exists()
        .for_path("/members/c")?
        .map(|s| s.ephemeral_owner);
    println!(
        "  resume: active again {:.0} ms later, node owned by the current session: {}",
        up.as_secs_f64() * 1e3,
        owner == Some(session)
    );
    assert_eq!(owner, Some(session));
    member.leave()?;
    client.close();
    Ok(())
}

fn main() -> zk_curator::Result<()> {
    println!("Membership against an in-process ZooKeeper, with faults injected:");
    let start = Instant::now();
    dropped_connections()?;
    expired_session()?;
    partition()?;
    println!("all three held, in {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_its_node_when_connections_drop() -> zk_curator::Result<()> {
        super::dropped_connections()
    }

    #[test]
    fn registers_again_after_session_expiry() -> zk_curator::Result<()> {
        super::expired_session()
    }

    #[test]
    fn stands_down_during_a_partition() -> zk_curator::Result<()> {
        super::partition()
    }
}
