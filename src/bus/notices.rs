//! Private notices to accounts on every node: a frame for a list of accounts reaches each
//! open connection of each of them, wherever it is connected (a followed creator going
//! live is one).
//!
//! Notices are at-most-once (Redis pub/sub, and a bounded feed per account): a connection
//! opened later, or a node that was disconnected from Redis, does not get them; what they
//! announce can always be read over HTTP.

use super::BusError;
use super::channels::{Channels, Listener};
use super::feeds::LocalFeeds;
use crate::domain::AccountId;
use crate::redis::Redis;
use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;
use tokio::sync::broadcast;

/// Notices a connection may fall behind by: they are rare, so only a stuck one does.
const FEED_CAPACITY: usize = 16;
/// Accounts named in one Redis message at most, so a creator with a large following is
/// told in several messages of bounded size.
const ACCOUNTS_PER_MESSAGE: usize = 1_000;

#[async_trait]
pub trait Notices: Send + Sync + 'static {
    /// Sends `frame` to every open connection of each of `accounts`, on every node.
    async fn notify(&self, accounts: &[AccountId], frame: &str) -> Result<(), BusError>;
    /// The notices of `account` on this connection, from every node.
    fn listen(&self, account: AccountId) -> broadcast::Receiver<Utf8Bytes>;
}

pub(super) type AccountFeeds = LocalFeeds<AccountId>;

pub(super) fn account_feeds() -> AccountFeeds {
    LocalFeeds::new(FEED_CAPACITY)
}

/// One node: a notice is a local send.
pub struct MemoryNotices {
    feeds: AccountFeeds,
}

impl Default for MemoryNotices {
    fn default() -> Self {
        Self { feeds: account_feeds() }
    }
}

#[async_trait]
impl Notices for MemoryNotices {
    async fn notify(&self, accounts: &[AccountId], frame: &str) -> Result<(), BusError> {
        let frame = Utf8Bytes::from(frame);
        for account in accounts {
            self.feeds.send(*account, frame.clone());
        }
        Ok(())
    }

    fn listen(&self, account: AccountId) -> broadcast::Receiver<Utf8Bytes> {
        self.feeds.follow(account)
    }
}

const NOTICE_CHANNEL: &str = "notices:";
/// The one channel every node listens on for notices.
const ALL: &str = "all";

/// What travels on `notices:all`: the frame and whom it is for. (The frame is JSON in a
/// JSON string, so it is escaped and cannot be borrowed when read.)
#[derive(Serialize, Deserialize)]
struct Message<'a> {
    to: Vec<AccountId>,
    frame: Cow<'a, str>,
}

/// Channel `notices:all` carries every notice to every node, which hands it to the
/// connections of the named accounts it has.
pub struct RedisNotices {
    redis: Redis,
    feeds: Arc<AccountFeeds>,
}

impl RedisNotices {
    /// Starts listening for notices from every node.
    pub(super) async fn start(redis: Redis, channels: &Channels, feeds: Arc<AccountFeeds>) -> Result<Self, BusError> {
        channels.subscribe(redis.key(&format!("{NOTICE_CHANNEL}{ALL}"))).await?;
        Ok(RedisNotices { redis, feeds })
    }
}

#[async_trait]
impl Notices for RedisNotices {
    async fn notify(&self, accounts: &[AccountId], frame: &str) -> Result<(), BusError> {
        let channel = self.redis.key(&format!("{NOTICE_CHANNEL}{ALL}"));
        for to in accounts.chunks(ACCOUNTS_PER_MESSAGE) {
            let message = serde_json::to_string(&Message { to: to.to_vec(), frame: Cow::Borrowed(frame) })?;
            self.redis.conn().publish::<_, _, ()>(&channel, message).await?;
        }
        Ok(())
    }

    fn listen(&self, account: AccountId) -> broadcast::Receiver<Utf8Bytes> {
        self.feeds.follow(account)
    }
}

/// Delivers notices from every node to this node's connections.
pub(super) struct NoticeListener(pub(super) Arc<AccountFeeds>);

impl Listener for NoticeListener {
    fn kind(&self) -> &'static str {
        NOTICE_CHANNEL
    }

    fn message(&self, _name: &str, payload: &[u8]) {
        if let Ok(message) = serde_json::from_slice::<Message>(payload) {
            let frame = Utf8Bytes::from(message.frame.into_owned());
            for account in message.to {
                self.0.send(account, frame.clone());
            }
        }
    }

    /// Notices sent while the subscription was down are lost (see the module's note).
    fn resumed(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::testing::{RecordingSink, buses};
    use std::time::Duration;
    use tokio_util::sync::CancellationToken;

    #[tokio::test]
    async fn a_notice_reaches_every_connection_of_the_named_accounts_and_no_other() {
        let sink = Arc::new(RecordingSink::default());
        let (buses, _redis) = buses(&sink).await;
        let id = |n| AccountId::try_from(n).unwrap();
        for (bus, shutdown) in buses {
            let (mut first, mut second) = (bus.notices.listen(id(1)), bus.notices.listen(id(1)));
            let mut other = bus.notices.listen(id(3));
            // More accounts than one message names, the listener's among the last.
            let to: Vec<AccountId> = (1..=2_500).filter(|n| *n != 3).map(id).rev().collect();
            bus.notices.notify(&to, r#"{"type":"going_live"}"#).await.unwrap();
            for rx in [&mut first, &mut second] {
                let got = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("delivered").unwrap();
                assert_eq!(got.as_str(), r#"{"type":"going_live"}"#);
            }
            bus.notices.notify(&[id(2)], "{}").await.unwrap();
            bus.notices.notify(&[id(3)], r#"{"n":3}"#).await.unwrap();
            let got = tokio::time::timeout(Duration::from_secs(5), other.recv()).await.expect("delivered").unwrap();
            assert_eq!(got.as_str(), r#"{"n":3}"#, "account 3 was told only what named it");
            shutdown.inspect(CancellationToken::cancel);
        }
    }
}
