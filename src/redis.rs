//! The shared Redis connection of the scaled-out deployment: one multiplexed connection
//! (reconnecting on its own) and the key prefix that keeps this deployment's keys, or one
//! test's, apart from any other user of the same Redis. The bus, the inventory and the
//! carts each build their keys and scripts on top of it.
//!
//! `REDIS_URL` names one server (`redis://host:port`) or a Redis Cluster ([`Target`]).
//! Both are spoken to through the same [`Conn`], so nothing above knows which it has. On a
//! cluster a script or a multi-key command must touch keys of one hash slot only: every
//! key that shares a script with another carries a hash tag, `{room:7}` for a room's keys
//! and `{inventory}` for the hold book; see [`Redis::tagged`].

use redis::aio::{AsyncPushSender, ConnectionLike, ConnectionManager, MultiplexedConnection};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::{AsyncConnectionConfig, Cmd, IntoConnectionInfo, Pipeline, ProtocolVersion, RedisFuture, Value};
use std::time::Duration;

pub use redis::RedisError;

/// How long a subscriber's connection attempt may take before it counts as failed.
const SUBSCRIBER_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a command on a subscriber connection (a subscription, chiefly) waits for its
/// reply. Replies queue behind the messages already on their way, so this is longer than
/// the crate's default of half a second; yet bounded, so that a connection that went
/// silent without closing cannot hold a subscription up for ever.
const SUBSCRIBER_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Keys deleted per round trip by [`Redis::forget_all`].
const FORGET_BATCH: usize = 500;

/// What `REDIS_URL` names.
///
/// - `redis://[user:password@]host:port[/db]`: one server.
/// - `redis+cluster://[user:password@]host:port[,host:port…]`: a Redis Cluster, reached
///   through the nodes listed (any of its nodes will do; the others are discovered).
/// - `redis://host:port,redis://host:port…` (two or more URLs, comma-separated, a bare
///   `host:port` taken as `redis://host:port`): a Redis Cluster, through those nodes.
///
/// On a cluster the credentials of the first node are used for every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Server(String),
    Cluster(Vec<String>),
}

impl Target {
    /// Reads a `REDIS_URL`; every URL in it must be one the redis crate accepts.
    pub fn parse(url: &str) -> Result<Target, RedisError> {
        let url = url.trim();
        let (cluster, list) = match url.strip_prefix("redis+cluster://") {
            Some(rest) => (true, rest),
            None => (url.contains(','), url),
        };
        let nodes: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|node| !node.is_empty())
            .map(|node| if node.contains("://") { node.to_owned() } else { format!("redis://{node}") })
            .collect();
        for node in &nodes {
            node.as_str().into_connection_info()?;
        }
        match nodes.as_slice() {
            [] => Err(RedisError::from((redis::ErrorKind::InvalidClientConfig, "REDIS_URL names no node"))),
            [one] if !cluster => Ok(Target::Server(one.clone())),
            _ => Ok(Target::Cluster(nodes)),
        }
    }
}

/// A connection to this deployment's Redis, one server or a cluster. Cheap to clone: every
/// clone multiplexes onto the same sockets. Implements the crate's `ConnectionLike`, so
/// commands, pipelines and scripts run on it as on either connection.
#[derive(Clone)]
pub enum Conn {
    Server(ConnectionManager),
    /// Routes each command (and each pipeline, by its first key) to the master of its
    /// slot, following redirections while slots move.
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Server(conn) => conn.req_packed_command(cmd),
            Conn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Server(conn) => conn.req_packed_commands(cmd, offset, count),
            Conn::Cluster(conn) => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Server(conn) => conn.get_db(),
            Conn::Cluster(conn) => conn.get_db(),
        }
    }
}

/// A connection for subscriptions (RESP3: what a subscription receives arrives as pushes).
pub enum Subscriber {
    Server(MultiplexedConnection),
    /// Plain `SUBSCRIBE`, routed by the channel's slot; Redis Cluster forwards every
    /// `PUBLISH` to every node, so a subscription on any node hears it.
    Cluster(ClusterConnection),
}

impl Subscriber {
    pub async fn subscribe(&mut self, channel: &str) -> Result<(), RedisError> {
        match self {
            Subscriber::Server(conn) => conn.subscribe(channel).await,
            Subscriber::Cluster(conn) => conn.subscribe(channel).await,
        }
    }

    pub async fn unsubscribe(&mut self, channel: &str) -> Result<(), RedisError> {
        match self {
            Subscriber::Server(conn) => conn.unsubscribe(channel).await,
            Subscriber::Cluster(conn) => conn.unsubscribe(channel).await,
        }
    }

    /// Subscribes to every channel of `channels` on a connection that holds none yet: one
    /// SUBSCRIBE per channel, pipelined on one server (in RESP3 each channel's confirmation
    /// is a reply of its own, and one command for many channels would leave the later
    /// confirmations to be taken for the replies of whatever is sent next); one at a time
    /// on a cluster, each to the node of its own slot.
    pub async fn subscribe_all<'a>(&mut self, channels: impl Iterator<Item = &'a String>) -> Result<(), RedisError> {
        match self {
            Subscriber::Server(conn) => {
                let mut pipe = redis::pipe();
                for channel in channels {
                    pipe.cmd("SUBSCRIBE").arg(channel);
                }
                pipe.exec_async(conn).await
            }
            Subscriber::Cluster(conn) => {
                for channel in channels {
                    conn.subscribe(channel).await?;
                }
                Ok(())
            }
        }
    }
}

/// True when `e` says Redis did not answer, in time or at all (a response timeout, a
/// connection dropped or refused), or a cluster was between masters; not that a command
/// was wrong. The same request may be sent again.
pub fn is_transient(e: &RedisError) -> bool {
    e.is_io_error() || e.is_cluster_error()
}

#[derive(Clone)]
pub struct Redis {
    conn: Conn,
    target: Target,
    prefix: String,
}

impl Redis {
    pub async fn connect(url: &str, prefix: &str) -> Result<Redis, RedisError> {
        let target = Target::parse(url)?;
        let conn = match &target {
            Target::Server(url) => Conn::Server(redis::Client::open(url.as_str())?.get_connection_manager().await?),
            Target::Cluster(nodes) => {
                Conn::Cluster(ClusterClientBuilder::new(nodes.clone()).build()?.get_async_connection().await?)
            }
        };
        Ok(Redis { conn, target, prefix: prefix.to_owned() })
    }

    /// A handle on the shared connection; cheap, every clone multiplexes onto it.
    pub fn conn(&self) -> Conn {
        self.conn.clone()
    }

    /// A new connection for subscriptions, named [`Redis::subscriber_name`]. Everything
    /// Redis pushes on it (messages, subscription confirmations, and a
    /// [`redis::PushKind::Disconnection`] when it, or on a cluster its socket to any node,
    /// drops) is handed to `pushes` on the task that reads the socket, one at a time and in
    /// order; `pushes` must not block. Its owner decides what a lost subscription means
    /// (on a cluster the crate would re-subscribe by itself, but the messages published
    /// meanwhile are lost all the same).
    pub async fn subscriber(&self, pushes: impl AsyncPushSender) -> Result<Subscriber, RedisError> {
        let name = redis::cmd("CLIENT").arg("SETNAME").arg(self.subscriber_name()).to_owned();
        match &self.target {
            Target::Server(url) => {
                let info = url.as_str().into_connection_info()?;
                let resp3 = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
                let client = redis::Client::open(info.set_redis_settings(resp3))?;
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(SUBSCRIBER_CONNECT_TIMEOUT))
                    .set_response_timeout(Some(SUBSCRIBER_RESPONSE_TIMEOUT))
                    .set_push_sender(pushes);
                let mut conn = client.get_multiplexed_async_connection_with_config(&config).await?;
                name.exec_async(&mut conn).await?;
                Ok(Subscriber::Server(conn))
            }
            Target::Cluster(nodes) => {
                let mut conn = ClusterClientBuilder::new(nodes.clone())
                    .use_protocol(ProtocolVersion::RESP3)
                    .connection_timeout(SUBSCRIBER_CONNECT_TIMEOUT)
                    .response_timeout(SUBSCRIBER_RESPONSE_TIMEOUT)
                    .push_sender(pushes)
                    .build()?
                    .get_async_connection()
                    .await?;
                // Routed to every node the connection holds a socket to.
                name.exec_async(&mut conn).await?;
                Ok(Subscriber::Cluster(conn))
            }
        }
    }

    /// What this deployment's (or test's) subscriber connections are called in `CLIENT
    /// LIST`, so that an operator can tell them apart: the prefix, with anything a client
    /// name may not hold replaced, and `subscriber`.
    pub fn subscriber_name(&self) -> String {
        let prefix: String = self.prefix.chars().map(|c| if c.is_ascii_graphic() { c } else { '_' }).collect();
        format!("{prefix}subscriber")
    }

    /// The prefix every key and channel of this deployment starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A key of its own: alone in every command and script that touches it, so on a
    /// cluster its slot is its own business (and such keys spread over every master).
    pub fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// A key that shares scripts or multi-key commands with the other keys of the same
    /// `tag`: `<prefix>{tag}:<suffix>`, in one hash slot on a cluster (only the part in
    /// braces is hashed).
    pub fn tagged(&self, tag: &str, suffix: &str) -> String {
        format!("{}{{{tag}}}:{suffix}", self.prefix)
    }

    pub async fn ping(&self) -> Result<(), RedisError> {
        match self.conn() {
            // One master that answers is not a cluster that does: ask every one.
            Conn::Cluster(mut conn) => conn.route_command(redis::cmd("PING"), all_masters()).await.map(drop),
            mut conn => redis::cmd("PING").query_async::<String>(&mut conn).await.map(drop),
        }
    }

    /// Deletes every key under this deployment's prefix, on every master of a cluster:
    /// what a Redis restart without persistence does to the deployment. Tests clean up
    /// with it, and make Redis lose everything with it.
    pub async fn forget_all(&self) -> Result<(), RedisError> {
        let pattern = format!("{}*", self.prefix);
        for node in self.nodes().await? {
            let mut cursor = 0u64;
            loop {
                let scan =
                    redis::cmd("SCAN").arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(FORGET_BATCH).to_owned();
                let (next, keys): (u64, Vec<String>) = redis::from_redis_value(self.on_node(&node, &scan).await?)?;
                // One key per UNLINK: on a cluster a command's keys must keep to one slot.
                // The pipeline goes to the node that holds them all.
                if !keys.is_empty() {
                    let mut pipe = redis::pipe();
                    for key in &keys {
                        pipe.cmd("UNLINK").arg(key);
                    }
                    match self.conn() {
                        Conn::Server(mut conn) => pipe.exec_async(&mut conn).await?,
                        Conn::Cluster(mut conn) => {
                            conn.route_pipeline(pipe, 0, keys.len(), node.address()).await.map(drop)?
                        }
                    }
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }

    /// Every node of the deployment: the one server, or each master of a cluster.
    pub async fn nodes(&self) -> Result<Vec<Node>, RedisError> {
        match self.conn() {
            Conn::Server(_) => Ok(vec![Node::default()]),
            Conn::Cluster(mut conn) => {
                // Sent to every master, PING answers with a map from each one's address.
                let replies = conn.route_command(redis::cmd("PING"), all_masters()).await?;
                let Value::Map(replies) = replies else {
                    return Err(unexpected("PING to every master answered without a map of masters"));
                };
                let mut nodes = Vec::new();
                for (address, _) in replies {
                    let address: String = redis::from_redis_value(address)?;
                    let node = address
                        .rsplit_once(':')
                        .and_then(|(host, port)| Some(Node { host: host.to_owned(), port: port.parse().ok()? }));
                    nodes.push(node.ok_or_else(|| unexpected("a master's address is not host:port"))?);
                }
                Ok(nodes)
            }
        }
    }

    /// Runs `cmd` on `node`, one of [`Redis::nodes`]: for commands whose answer is about
    /// one node, such as `CLIENT LIST`, `CLIENT KILL` or `PUBSUB NUMSUB`.
    pub async fn on_node(&self, node: &Node, cmd: &Cmd) -> Result<Value, RedisError> {
        match self.conn() {
            Conn::Server(mut conn) => conn.req_packed_command(cmd).await,
            Conn::Cluster(mut conn) => conn.route_command(cmd.clone(), node.routing()).await,
        }
    }
}

/// One node of the deployment: a master's address on a cluster; on one server, the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    host: String,
    port: u16,
}

impl Node {
    fn address(&self) -> SingleNodeRoutingInfo {
        SingleNodeRoutingInfo::ByAddress { host: self.host.clone(), port: self.port }
    }

    fn routing(&self) -> RoutingInfo {
        RoutingInfo::SingleNode(self.address())
    }
}

fn all_masters() -> RoutingInfo {
    RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None))
}

fn unexpected(what: &'static str) -> RedisError {
    RedisError::from((redis::ErrorKind::UnexpectedReturnType, what))
}

#[cfg(test)]
mod tests {
    use super::Target;

    #[test]
    fn redis_url_names_one_server_or_the_nodes_of_a_cluster() {
        let server = Target::parse("redis://127.0.0.1:6379").unwrap();
        assert_eq!(server, Target::Server("redis://127.0.0.1:6379".into()));
        let cluster = Target::parse("redis+cluster://:secret@10.0.0.1:7000,10.0.0.2:7001").unwrap();
        let nodes = ["redis://:secret@10.0.0.1:7000", "redis://10.0.0.2:7001"].map(String::from).to_vec();
        assert_eq!(cluster, Target::Cluster(nodes), "the first node's credentials serve all");
        let seed = Target::parse("redis+cluster://10.0.0.1:7000").unwrap();
        assert_eq!(seed, Target::Cluster(vec!["redis://10.0.0.1:7000".into()]), "one seed node is a cluster too");
        let list = Target::parse("redis://10.0.0.1:7000, redis://10.0.0.2:7001").unwrap();
        assert_eq!(
            list,
            Target::Cluster(["redis://10.0.0.1:7000", "redis://10.0.0.2:7001"].map(String::from).to_vec())
        );
        for bad in ["", "redis+cluster://", "http://10.0.0.1", "redis://10.0.0.1,ftp://x"] {
            assert!(Target::parse(bad).is_err(), "{bad:?} is refused");
        }
    }
}
