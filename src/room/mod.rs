//! Live rooms: the rooms this node serves, their event-folded state and fan-out to
//! viewers, and what hosts and viewers do in them (chat, reactions, pins, drops, the
//! room's lifecycle and its video), with purchases handed to [`commerce`].
//!
//! A room event is sequenced by the bus, recorded in the room's recent history and handed
//! as the same serialised bytes to every local viewer through one bounded broadcast
//! channel.
//!
//! [`commerce`]: crate::commerce

pub mod actions;
pub mod auction;
pub mod blocked_words;
pub mod checkout;
pub mod co_host;
pub mod follows;
pub mod giveaway;
mod history;
pub mod hub;
pub mod keywords;
pub mod live;
pub mod load;
pub mod moderation;
pub mod offers;
pub mod rehearsal;
pub mod review;
pub mod schedule;
pub mod snapshot;
pub mod state;
pub mod stock;
pub mod stream;
pub mod ticker;
pub mod visit;

pub use hub::RoomHub;
pub use live::{Delivery, LiveRoom};

use crate::analytics::{Recorder, Who};
use crate::bus::{Bus, BusError, Kicks, MediaHome, Notices, Presence, RateLimits, RoomEvents};
use crate::commerce::{Commerce, CommerceError};
use crate::domain::{AccountId, Clock, Invalid, RateLimit, Refusal};
use crate::media::{MediaError, Sfu};
use crate::store::{AccountRow, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// Why a room action did not happen, in the domain's words.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("the room is not live")]
    NotLive,
    #[error("that product is not in this room's lineup")]
    NotInLineup,
    #[error("a drop is already running in this room")]
    DropRunning,
    #[error("a giveaway is already open in this room")]
    GiveawayRunning,
    #[error("that giveaway is not open: entries have closed, or it is not this room's")]
    GiveawayClosed,
    /// The giveaway's entry rule leaves the viewer out; the text says who may enter.
    #[error("{0}")]
    NotEligible(&'static str),
    #[error("an auction is already running in this room")]
    AuctionRunning,
    #[error("that auction is not taking bids: it is over, or it is not this room's")]
    AuctionClosed,
    #[error("this auction has taken as many bids as it can")]
    AuctionFull,
    /// A bid below the least the auction takes now.
    #[error("bid at least {} (minor units of {})", .0.amount, .0.currency)]
    BidTooLow(crate::domain::Money),
    /// The leader bid again without raising their maximum.
    #[error("you lead with a maximum of {} (minor units of {}): send a higher maximum to raise it", .0.amount, .0.currency)]
    LeadNotRaised(crate::domain::Money),
    /// A waitlist is for what is sold out.
    #[error("in stock: buy it now")]
    InStock,
    /// A comment asked to buy the pinned product with nothing pinned, or named a keyword
    /// no lined-up product has.
    #[error("nothing to buy by that comment: nothing is pinned, or no product has that keyword")]
    NoSuchKeyword,
    #[error("you have as many units held by comments in this room as you may: pay or let one go first")]
    TooManyHolds,
    #[error("slow down: too many messages, try again in a moment")]
    RateLimited,
    /// A banned viewer tried to join: from this room, or (`creator`) all its host's rooms.
    #[error("{}", if *.creator { "you are banned from this creator's rooms" } else { "you are banned from this room" })]
    Banned { creator: bool },
    /// A timed-out viewer commented; they may again after this long.
    #[error("you are timed out: you may comment again in {} s", .0.as_secs().max(1))]
    TimedOut(Duration),
    /// Slow mode is on: one comment per this many seconds.
    #[error("slow mode is on: one comment every {0} s per viewer")]
    SlowMode(i64),
    /// The comment contains a blocked word; it was not posted.
    #[error("your comment contains the blocked word {0:?}: it was not posted")]
    BlockedWord(String),
    /// A join of a rehearsal by someone it does not admit.
    #[error(
        "this room is a private rehearsal: only its host, their moderators and holders of its audience key may join"
    )]
    RehearsalPrivate,
    /// A guest tried what needs an account (a cart, a checkout).
    #[error("sign in first: this needs a valid session token")]
    SignInFirst,
    /// The room's publisher is on the node at this URL.
    #[error("the stream is served by another node")]
    StreamElsewhere(String),
    #[error(transparent)]
    Commerce(#[from] CommerceError),
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("room events")]
    Bus(#[from] BusError),
    #[error("database")]
    Store(#[from] StoreError),
}

impl From<Invalid> for RoomError {
    fn from(e: Invalid) -> Self {
        RoomError::Refused(e.into())
    }
}

pub type RoomResult<T> = Result<T, RoomError>;

/// Who is on the other end of a room connection.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub display_name: String,
    /// `None` for a guest, who may watch and chat but not buy.
    pub account: Option<AccountRow>,
    pub is_host: bool,
    /// Appointed a moderator of the room (or of all its host's rooms) when they joined:
    /// spared slow mode and blocked words. Moderation itself asks the database each time.
    pub is_moderator: bool,
    /// Who this is within the room, for rate limits, logs and analytics: `a{account}`
    /// for an account (all its connections), `g{random}` for one guest connection.
    pub who: Who,
}

impl Viewer {
    /// The signed-in account, for what guests may not do.
    pub fn account(&self) -> RoomResult<&AccountRow> {
        self.account.as_ref().ok_or(RoomError::SignInFirst)
    }

    /// The host's account, for what only the host may do.
    pub fn host(&self) -> RoomResult<&AccountRow> {
        self.account
            .as_ref()
            .filter(|_| self.is_host)
            .ok_or(Refusal::Forbidden("only the room's host can do that").into())
    }

    pub fn account_id(&self) -> Option<AccountId> {
        self.account.as_ref().map(|a| a.id)
    }
}

/// How rooms behave on this node.
#[derive(Debug, Clone)]
pub struct RoomSettings {
    /// Room events kept for resuming viewers.
    pub history: usize,
    /// Frames a viewer may fall behind by before it is resynced with a snapshot.
    pub viewer_queue: usize,
    /// Period of viewer-count and reaction ticks and of drop expiry.
    pub tick: Duration,
    pub comment_limit: RateLimit,
    /// Where other nodes send viewers of streams this node holds.
    pub public_url: String,
    /// Viewing sessions (WHEP) one client address may hold on this node; 0: no cap.
    pub max_guests_per_address: usize,
}

/// What this node serves rooms from: the live rooms it holds and its SFU.
pub struct Node {
    pub hub: Arc<RoomHub>,
    pub media: Arc<Sfu>,
}

/// The rooms service; cheap to clone.
#[derive(Clone)]
pub struct Rooms {
    /// Rooms this node serves, and their viewers' channels.
    hub: Arc<RoomHub>,
    events: Arc<dyn RoomEvents>,
    presence: Arc<dyn Presence>,
    limits: Arc<dyn RateLimits>,
    media_home: Arc<dyn MediaHome>,
    /// Private frames to accounts on every node (followers told a room went live).
    notices: Arc<dyn Notices>,
    /// Closes a banned viewer's connections on every node.
    kicks: Arc<dyn Kicks>,
    /// The SFU: the host's stream and its viewers' media sessions on this node.
    media: Arc<Sfu>,
    /// Where purchases in a room go.
    commerce: Commerce,
    /// What viewers and hosts do, for the reports (never waited on).
    analytics: Recorder,
    store: Store,
    clock: Clock,
    settings: Arc<RoomSettings>,
}

impl Rooms {
    pub fn new(
        node: Node,
        bus: &Bus,
        commerce: Commerce,
        analytics: Recorder,
        store: Store,
        clock: Clock,
        settings: RoomSettings,
    ) -> Self {
        let Node { hub, media } = node;
        Rooms {
            hub,
            events: Arc::clone(&bus.events),
            presence: Arc::clone(&bus.presence),
            limits: Arc::clone(&bus.limits),
            media_home: Arc::clone(&bus.media_home),
            notices: Arc::clone(&bus.notices),
            kicks: Arc::clone(&bus.kicks),
            media,
            commerce,
            analytics,
            store,
            clock,
            settings: Arc::new(settings),
        }
    }
}
