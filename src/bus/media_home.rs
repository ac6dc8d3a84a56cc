//! Which node holds a room's video publisher, so a viewer who reaches another node is
//! sent there.

use super::BusError;
use super::events_redis::room_key;
use crate::domain::RoomId;
use crate::redis::Redis;
use async_trait::async_trait;
use redis::{AsyncCommands, Script};
use std::sync::LazyLock;

#[async_trait]
pub trait MediaHome: Send + Sync + 'static {
    /// Records that `node` (its public URL) holds the room's publisher, or, when `holds`
    /// is false, clears the record if it still names `node`.
    async fn set(&self, room: RoomId, node: &str, holds: bool) -> Result<(), BusError>;
    /// The public URL of the node holding the room's publisher, if any.
    async fn get(&self, room: RoomId) -> Result<Option<String>, BusError>;
}

/// One node holds every publisher: there is nowhere else to send a viewer.
pub struct OneNode;

#[async_trait]
impl MediaHome for OneNode {
    async fn set(&self, _room: RoomId, _node: &str, _holds: bool) -> Result<(), BusError> {
        Ok(())
    }

    async fn get(&self, _room: RoomId) -> Result<Option<String>, BusError> {
        Ok(None)
    }
}

/// Deletes a key only if it still holds the given value (another node may have taken over).
static CLEAR_IF_MINE: LazyLock<Script> = LazyLock::new(|| {
    Script::new("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")
});

/// How long the record outlives the publish that set it.
const HOME_TTL_SECS: u64 = 2 * 24 * 3600;

/// Key `{room:ID}:media`, with the room's other keys: the holding node's public URL.
pub struct RedisMediaHome {
    redis: Redis,
}

impl RedisMediaHome {
    pub fn new(redis: Redis) -> Self {
        Self { redis }
    }

    fn key(&self, room: RoomId) -> String {
        room_key(&self.redis, room, "media")
    }
}

#[async_trait]
impl MediaHome for RedisMediaHome {
    async fn set(&self, room: RoomId, node: &str, holds: bool) -> Result<(), BusError> {
        let mut conn = self.redis.conn();
        if holds {
            Ok(conn.set_ex::<_, _, ()>(self.key(room), node, HOME_TTL_SECS).await?)
        } else {
            Ok(CLEAR_IF_MINE.key(self.key(room)).arg(node).invoke_async::<i64>(&mut conn).await.map(drop)?)
        }
    }

    async fn get(&self, room: RoomId) -> Result<Option<String>, BusError> {
        Ok(self.redis.conn().get(self.key(room)).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::testing;

    async fn each(check: impl AsyncFn(&dyn MediaHome)) {
        check(&OneNode).await;
        if let Some(r) = testing::redis().await {
            check(&RedisMediaHome::new(r.redis.clone())).await;
        }
    }

    #[tokio::test]
    async fn a_node_that_lets_go_never_clears_another_nodes_claim() {
        each(async |home: &dyn MediaHome| {
            let room = RoomId::try_from(7).unwrap();
            home.set(room, "http://a", true).await.unwrap();
            assert!(matches!(home.get(room).await.unwrap().as_deref(), None | Some("http://a")));
            home.set(room, "http://b", true).await.unwrap();
            home.set(room, "http://a", false).await.unwrap();
            assert_ne!(home.get(room).await.unwrap().as_deref(), Some("http://a"), "a is gone");
            home.set(room, "http://b", false).await.unwrap();
            assert_eq!(home.get(room).await.unwrap(), None, "nobody holds the stream");
        })
        .await;
    }
}
