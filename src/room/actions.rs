//! What hosts and viewers do in a room, and the room lifecycle
//! (scheduled → live → ended, nothing else).

use super::Viewer;
use super::live::LiveRoom;
use super::snapshot::product_card;
use super::state::RoomState;
use crate::app::AppState;
use crate::bus::parse_event;
use crate::commerce::StockKey;
use crate::domain::{CommentText, Money, Price, ProductId, Reaction, RoomId, Stock, Tier};
use crate::error::{AppError, AppResult};
use crate::store::AccountRow;
use crate::wire::ws::{CommentView, DropCard, HostCard, RoomCard, RoomEvent, RoomStatus, Speaker};
use base64::Engine;
use rand::RngCore;
use std::sync::Arc;
use std::time::Duration;

/// Bounds on a drop's length: long enough to announce, short enough to stay a drop.
pub const DROP_SECS: std::ops::RangeInclusive<i64> = 10..=3_600;

/// The room as this node serves it, loaded from the database on first use.
pub async fn live_room(state: &AppState, id: RoomId) -> AppResult<Arc<LiveRoom>> {
    if let Some(room) = state.hub.get(id) {
        return Ok(room);
    }
    let row = state.store.room(id).await?.ok_or(AppError::NotFound("room"))?;
    let host = state.store.account(row.creator_id).await?.ok_or(AppError::NotFound("host"))?;
    let lineup = state.store.lineup(id).await?;
    for p in &lineup {
        state.inventory.track(StockKey::Product(p.id), p.stock).await?;
    }
    let drop = match state.store.live_drop(id).await? {
        Some(d) => {
            let product = lineup.iter().find(|p| p.id == d.product_id).ok_or(AppError::NotFound("drop product"))?;
            state.inventory.track(StockKey::Drop(d.id), d.remaining).await?;
            Some(DropCard {
                id: d.id,
                product_id: d.product_id,
                quantity: d.quantity,
                remaining: d.remaining,
                price: Money::new(d.price.unwrap_or(product.price), product.currency),
                ends_at: d.ends_at,
            })
        }
        None => None,
    };
    let card = RoomCard { id, title: row.title, status: row.status, starts_at: row.starts_at, host: host_card(&host) };
    let shared = state.bus.bootstrap(id).await?;
    let epoch = shared.epoch.unwrap_or_else(|| {
        let mut epoch = [0u8; 9];
        rand::thread_rng().fill_bytes(&mut epoch);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(epoch)
    });
    let mut room_state = RoomState::new(epoch, row.status, None, state.config.history);
    for (seq, frame) in shared.frames {
        if let Some((_, event)) = parse_event(&frame) {
            room_state.apply(seq, &event, frame);
        }
    }
    room_state.seq = room_state.seq.max(shared.seq);
    // The database, not the fold of a trimmed history, says what is live now.
    room_state.status = row.status;
    room_state.drop = drop;
    room_state.pinned = shared.pinned.or(room_state.pinned).filter(|p| lineup.iter().any(|l| l.id == *p));
    let (room, loaded_here) = state.hub.insert(LiveRoom::new(card, lineup, room_state, state.config.viewer_queue));
    if loaded_here {
        state.bus.attach(Arc::clone(&room)).await?;
    }
    Ok(room)
}

pub fn host_card(host: &AccountRow) -> HostCard {
    HostCard {
        id: host.id,
        display_name: host.display_name.clone(),
        followers: host.follower_count,
        tier: Tier::for_followers(host.follower_count),
    }
}

fn require_host(viewer: &Viewer) -> AppResult<()> {
    if viewer.is_host { Ok(()) } else { Err(AppError::Forbidden("only the room's host can do that")) }
}

fn require_live(room: &LiveRoom) -> AppResult<()> {
    if room.read(|s| s.status) == RoomStatus::Live { Ok(()) } else { Err(AppError::RoomNotLive) }
}

pub async fn comment(state: &AppState, room: &LiveRoom, viewer: &Viewer, text: CommentText) -> AppResult<()> {
    if room.read(|s| s.status) == RoomStatus::Ended {
        return Err(AppError::RoomNotLive);
    }
    let now = state.clock.now();
    if !state.bus.allow_comment(&viewer.rate_key, state.comment_limit(), now).await? {
        return Err(AppError::RateLimited);
    }
    let speaker = match (&viewer.account, viewer.is_host) {
        (_, true) => Speaker::Host,
        (Some(_), false) => Speaker::Viewer,
        (None, false) => Speaker::Guest,
    };
    let event =
        RoomEvent::Comment(CommentView { author: viewer.display_name.clone(), speaker, text: text.into(), at: now });
    state.bus.publish(room, event).await?;
    Ok(())
}

/// Reactions are counted here and sent out as totals on the next tick.
pub fn react(room: &LiveRoom, reaction: Reaction) -> AppResult<()> {
    require_live(room)?;
    room.react(reaction);
    Ok(())
}

pub async fn pin(state: &AppState, room: &LiveRoom, viewer: &Viewer, product: ProductId) -> AppResult<()> {
    require_host(viewer)?;
    require_live(room)?;
    let p = room.product(product).ok_or(AppError::NotInLineup)?;
    let stock = state.inventory.available(StockKey::Product(p.id)).await?.unwrap_or(p.stock);
    state.bus.publish(room, RoomEvent::Pinned { product: product_card(p, stock) }).await?;
    Ok(())
}

pub async fn unpin(state: &AppState, room: &LiveRoom, viewer: &Viewer) -> AppResult<()> {
    require_host(viewer)?;
    let Some(product_id) = room.read(|s| s.pinned) else {
        return Ok(());
    };
    state.bus.publish(room, RoomEvent::Unpinned { product_id }).await?;
    Ok(())
}

pub struct DropRequest {
    pub product: ProductId,
    pub quantity: i64,
    pub price: Option<i64>,
    pub duration_secs: i64,
}

pub async fn start_drop(state: &AppState, room: &LiveRoom, viewer: &Viewer, req: DropRequest) -> AppResult<()> {
    require_host(viewer)?;
    require_live(room)?;
    let p = room.product(req.product).ok_or(AppError::NotInLineup)?;
    if room.read(|s| s.drop.is_some()) {
        return Err(AppError::DropRunning);
    }
    let quantity = Stock::try_from(req.quantity)?.get();
    if quantity == 0 {
        return Err(AppError::BadRequest("quantity: a drop sells at least one unit".into()));
    }
    let available = state.inventory.available(StockKey::Product(p.id)).await?.unwrap_or(p.stock);
    if quantity > available {
        return Err(AppError::SoldOut { title: p.title.clone(), available });
    }
    let price = req.price.map(Price::try_from).transpose()?.map(Price::get);
    if !DROP_SECS.contains(&req.duration_secs) {
        return Err(AppError::BadRequest(format!(
            "duration_secs: must be between {} and {}",
            DROP_SECS.start(),
            DROP_SECS.end()
        )));
    }
    let now = state.clock.now();
    let ends_at = now.plus(Duration::from_secs(req.duration_secs as u64));
    let d = state.store.create_drop(room.id, p.id, quantity, price, now, ends_at).await?;
    state.inventory.track(StockKey::Drop(d.id), quantity).await?;
    let drop = DropCard {
        id: d.id,
        product_id: p.id,
        quantity,
        remaining: quantity,
        price: Money::new(price.unwrap_or(p.price), p.currency),
        ends_at,
    };
    state.bus.publish(room, RoomEvent::DropStarted { drop }).await?;
    Ok(())
}

/// Ends the room's drop if it is still running; the database decides which caller ends
/// it, so the event goes out once.
pub async fn end_drop(state: &AppState, room: &LiveRoom) -> AppResult<()> {
    let Some(drop_id) = room.read(|s| s.drop.as_ref().map(|d| d.id)) else {
        return Ok(());
    };
    if state.store.end_drop(drop_id).await?.is_some() {
        let sold = state.store.units_sold_in_drop(drop_id).await?;
        state.bus.publish(room, RoomEvent::DropEnded { drop_id, sold }).await?;
    }
    Ok(())
}

pub async fn go_live(state: &AppState, room_id: RoomId, by: &AccountRow) -> AppResult<()> {
    let row = state.store.room(room_id).await?.ok_or(AppError::NotFound("room"))?;
    if row.creator_id != by.id {
        return Err(AppError::Forbidden("only the room's host can take it live"));
    }
    if !state.store.advance_room(room_id, RoomStatus::Scheduled, RoomStatus::Live, state.clock.now()).await? {
        return Err(AppError::Conflict("only a scheduled room can go live"));
    }
    let room = live_room(state, room_id).await?;
    if room.read(|s| s.status) != RoomStatus::Live {
        state.bus.publish(&room, RoomEvent::RoomLive).await?;
    }
    Ok(())
}

pub async fn end_room(state: &AppState, room_id: RoomId, by: &AccountRow) -> AppResult<()> {
    let row = state.store.room(room_id).await?.ok_or(AppError::NotFound("room"))?;
    if row.creator_id != by.id && by.role != crate::domain::Role::Admin {
        return Err(AppError::Forbidden("only the room's host can end it"));
    }
    if !state.store.advance_room(room_id, RoomStatus::Live, RoomStatus::Ended, state.clock.now()).await? {
        return Err(AppError::Conflict("only a live room can end"));
    }
    let room = live_room(state, room_id).await?;
    end_drop(state, &room).await?;
    state.media.close_room(room_id).await;
    state.bus.publish(&room, RoomEvent::RoomEnded).await?;
    Ok(())
}
