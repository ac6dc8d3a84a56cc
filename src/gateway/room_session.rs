//! A joined viewer's connection: a receive loop that decodes and dispatches the viewer's
//! messages, and a send task that merges private replies with the room's frames.
//!
//! The send task writes every frame that is waiting, then flushes once: per-frame cost
//! dominates small messages, so batching the flush is the largest fan-out saving. A
//! viewer that falls behind the room's bounded channel (or shows a sequence gap) is
//! resynced with a fresh snapshot instead of buffering without limit (as is every viewer
//! when the room starts a new epoch), and one whose socket stays blocked past the write
//! timeout is dropped.

use super::session_end::SessionEnd;
use super::{error_frame, frame, protocol};
use crate::commerce::{CartChange, CheckoutRequest, CommerceError, Payment};
use crate::domain::{Invalid, Price, Quantity};
use crate::error::{ApiError, ApiResult, Code};
use crate::room::actions::{DropRequest, Posted};
use crate::room::auction::{AuctionRequest, BidRequest};
use crate::room::giveaway::GiveawayRequest;
use crate::room::hub::Seat;
use crate::room::offers::CommentPurchase;
use crate::room::snapshot::Opening;
use crate::room::{Delivery, LiveRoom, RoomResult, Viewer};
use crate::state::AppState;
use crate::wire::ws::{ClientMsg, OrderView, ServerMsg};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{Semaphore, broadcast, mpsc, watch};

/// Private replies (cart, order, errors) waiting to be written to one viewer.
const REPLY_QUEUE: usize = 32;
/// Frames written between two flushes at most.
const MAX_BATCH: usize = 64;
/// A viewer whose socket accepts nothing for this long is disconnected.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Checkouts one connection may run at once.
const CONCURRENT_CHECKOUTS: usize = 2;
/// Close code 1012 (service restart): the client should reconnect, with `since`.
const CLOSE_RESTARTING: u16 = 1012;

type Sink = SplitSink<WebSocket, Message>;

/// A viewer who joined: the room, who they are in it, what opens their stream, and their
/// seat.
pub struct RoomSession {
    pub room: Arc<LiveRoom>,
    pub viewer: Viewer,
    pub opening: Opening,
    pub seat: Seat,
    /// When a signed-in viewer's session is revoked or expires, the connection closes.
    pub ends: SessionEnd,
    /// A signed-in viewer's notices (a followed creator going live elsewhere).
    pub notices: Option<broadcast::Receiver<Utf8Bytes>>,
}

/// Serves a joined viewer until either side ends the connection; the viewer keeps its
/// seat (counts in the room) exactly as long.
///
/// Every argument, and every local held across an await, is part of the connection's
/// task for as long as it lives: so the state comes shared and the session boxed, and the
/// session is taken apart at once (the snapshot, which only opens the stream, is
/// serialised and handed to the send task).
pub async fn run(socket: WebSocket, state: Arc<AppState>, session: Box<RoomSession>) {
    let RoomSession { room, viewer, opening, seat: _seat, ends, notices } = *session;
    let viewer = Arc::new(viewer);
    let (sink, mut stream) = socket.split();
    let (replies, replies_rx) = mpsc::channel(REPLY_QUEUE);
    let replies = Replies(replies);
    let inbox = Inbox { replies: replies_rx, notices, counts: room.viewer_counts() };
    let out = Outbox::opening(opening);
    let mut sender =
        tokio::spawn(send_loop(sink, Arc::clone(&state), Arc::clone(&room), Arc::clone(&viewer), out, inbox));
    let checkouts = Arc::new(Semaphore::new(CONCURRENT_CHECKOUTS));
    loop {
        tokio::select! {
            _ = &mut sender => return,
            close = ends.reached() => {
                // The send task writes it after what is queued, then ends.
                if replies.send(Message::Close(Some(close))).await.is_ok() {
                    let _ = tokio::time::timeout(WRITE_TIMEOUT, &mut sender).await;
                }
                break;
            }
            msg = stream.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let decoded = protocol::decode(&text);
                    let request = decoded.as_ref().ok().map(ClientMsg::kind);
                    metrics::counter!("livecart_client_messages_total", "type" => request.unwrap_or("invalid")).increment(1);
                    let handled = match decoded {
                        // Boxed: inline, the largest request's state (a cart change, a
                        // drop) would sit in every connection's task between messages.
                        Ok(msg) => Box::pin(dispatch(&state, &room, &viewer, msg, &replies, &checkouts)).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = handled {
                        let request = request.or_else(|| protocol::named_type(&text));
                        if replies.send(error_frame(&e, request)).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let e = super::binary_refused();
                    if replies.send(error_frame(&e, None)).await.is_err() {
                        break;
                    }
                }
                Some(Err(e)) => {
                    // A message over the limit: close with 1009 after what is queued.
                    if let Some(close) = super::too_big(&e) {
                        if replies.send(Message::Close(Some(close))).await.is_ok() {
                            let _ = tokio::time::timeout(WRITE_TIMEOUT, &mut sender).await;
                            tokio::time::sleep(super::LINGER).await;
                        }
                    }
                    break;
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {}
            }
        }
    }
    sender.abort();
}

async fn dispatch(
    state: &AppState,
    room: &Arc<LiveRoom>,
    viewer: &Arc<Viewer>,
    msg: ClientMsg,
    replies: &Replies,
    checkouts: &Arc<Semaphore>,
) -> ApiResult<()> {
    let rooms = &state.rooms;
    let cart_change = match msg {
        ClientMsg::Join { .. } | ClientMsg::FollowSales { .. } | ClientMsg::Listen { .. } => {
            return Err(ApiError::new(Code::AlreadyJoined, "this connection has already joined"));
        }
        ClientMsg::Comment { text } => {
            match rooms.comment(room, viewer, text).await? {
                Posted::Held { text } => {
                    let _ = replies.send(frame(&ServerMsg::HeldForReview { text })).await;
                }
                Posted::Shown { purchase: Some(purchase) } => {
                    let _ = replies.send(frame(&purchase_frame(purchase))).await;
                }
                Posted::Shown { purchase: None } => {}
            }
            return Ok(());
        }
        ClientMsg::JoinWaitlist { product_id } => {
            let place = rooms.join_waitlist(room, viewer, product_id).await?;
            let _ = replies.send(frame(&ServerMsg::Waitlist { product_id, place: Some(place) })).await;
            return Ok(());
        }
        ClientMsg::LeaveWaitlist { product_id } => {
            rooms.leave_waitlist(room, viewer, product_id).await?;
            let _ = replies.send(frame(&ServerMsg::Waitlist { product_id, place: None })).await;
            return Ok(());
        }
        ClientMsg::React { reaction } => return Ok(rooms.react(room, reaction)?),
        ClientMsg::Pin { product_id } => return Ok(rooms.pin(room, viewer, product_id).await?),
        ClientMsg::Unpin {} => return Ok(rooms.unpin(room, viewer).await?),
        ClientMsg::StartDrop { product_id, quantity, price, duration_secs, per_buyer } => {
            let req = DropRequest { product: product_id, quantity, price, duration_secs, per_buyer };
            return Ok(rooms.start_drop(room, viewer, req).await?);
        }
        ClientMsg::StartGiveaway { prize, entry, duration_secs } => {
            let req = GiveawayRequest { prize, entry, duration_secs };
            return Ok(rooms.start_giveaway(room, viewer, req).await?);
        }
        ClientMsg::EnterGiveaway { giveaway_id } => {
            let entries = rooms.enter_giveaway(room, viewer, giveaway_id).await?;
            let _ = replies.send(frame(&ServerMsg::GiveawayEntered { giveaway_id, entries })).await;
            return Ok(());
        }
        ClientMsg::EndRoom {} => return Ok(rooms.end_from_room(room, viewer).await?),
        ClientMsg::DeleteComment { seq } => return Ok(rooms.delete_comment(room, viewer, seq).await?),
        ClientMsg::Timeout { seq, secs } => return Ok(rooms.time_out(room, viewer, seq, secs).await?),
        ClientMsg::Ban { seq, scope } => return Ok(rooms.ban(room, viewer, seq, scope.unwrap_or_default()).await?),
        ClientMsg::SlowMode { secs } => return Ok(rooms.set_slow_mode(room, viewer, secs).await?),
        ClientMsg::ApproveComment { id } => return Ok(rooms.approve_held(room, viewer, id).await?),
        ClientMsg::RejectComment { id } => return Ok(rooms.reject_held(room, viewer, id).await?),
        ClientMsg::ViewProduct { product_id } => {
            let product = Box::new(rooms.view_product(room, viewer, product_id).await?);
            let _ = replies.send(frame(&ServerMsg::Product { product })).await;
            return Ok(());
        }
        ClientMsg::CartAdd { product_id, quantity } => CartChange::Add(product_id, Quantity::try_from(quantity)?),
        ClientMsg::CartSet { product_id, quantity } => CartChange::Set(product_id, Quantity::try_from(quantity)?),
        ClientMsg::CartRemove { product_id } => CartChange::Remove(product_id),
        ClientMsg::Checkout { idempotency_key, card, payment, save, shipping, promo_code } => {
            // The fields' one cross-field rule is checked before anything else, as decoding is.
            let payment = Payment::from_fields(card, payment)?;
            viewer.account().map_err(ApiError::from)?;
            let req =
                CheckoutRequest { key: idempotency_key, payment, promo_code, save: save.unwrap_or(false), shipping };
            let (rooms, room, viewer) = (rooms.clone(), Arc::clone(room), Arc::clone(viewer));
            let paying = async move { rooms.checkout(&room, &viewer, req).await };
            return spawn_payment(state, checkouts, replies, "checkout", paying);
        }
        ClientMsg::StartAuction {
            product_id,
            starting_price,
            duration_secs,
            increments,
            extend_secs,
            sudden_death,
        } => {
            let req = AuctionRequest {
                product: product_id,
                starting_price: Price::try_from(starting_price)?,
                duration_secs,
                increments,
                extend_secs,
                sudden_death: sudden_death.unwrap_or(false),
            };
            return Ok(rooms.start_auction(room, viewer, req).await?);
        }
        ClientMsg::Bid { auction_id, amount, max_amount } => {
            let max = max_amount.map(Price::try_from).transpose()?;
            if max.is_some_and(|max| max.get() < amount) {
                return Err(Invalid::new("max_amount", "must be at least the amount").into());
            }
            let req = BidRequest { auction: auction_id, amount: Price::try_from(amount)?, max };
            let placed = rooms.bid(room, viewer, req).await?;
            let _ = replies.send(frame(&placed)).await;
            return Ok(());
        }
        ClientMsg::PayOffer { offer_id, idempotency_key, card, payment, save, shipping } => {
            let payment = Payment::from_fields(card, payment)?;
            viewer.account().map_err(ApiError::from)?;
            let req = CheckoutRequest {
                key: idempotency_key,
                payment,
                promo_code: None,
                save: save.unwrap_or(false),
                shipping,
            };
            let (rooms, viewer) = (rooms.clone(), Arc::clone(viewer));
            let paying = async move { rooms.pay_offer(&viewer, offer_id, req).await };
            return spawn_payment(state, checkouts, replies, "pay_offer", paying);
        }
    };
    let cart = rooms.change_cart(room, viewer, cart_change).await?;
    let _ = replies.send(frame(&ServerMsg::Cart { cart })).await;
    Ok(())
}

/// The answer to a comment that asked to buy: the offer, or why there is none, in the
/// edge's words (the same code and message an error frame would carry).
fn purchase_frame(purchase: CommentPurchase) -> ServerMsg {
    let (offer, code, message) = match purchase.held {
        Ok(offer) => (Some(offer), None, None),
        Err(e) => {
            let e = ApiError::from(e);
            (None, Some(e.code().to_owned()), Some(e.public_message()))
        }
    };
    ServerMsg::CommentPurchase {
        product_id: purchase.product,
        quantity: i64::from(purchase.quantity),
        offer,
        code,
        message,
    }
}

/// Runs a payment (`request`: the message that asked for it) beside the connection, one
/// at a time per connection: payment takes a while, and chat and the room's frames keep
/// flowing meanwhile. Its answer is `order_confirmed`, or an error naming `request`.
fn spawn_payment(
    state: &AppState,
    checkouts: &Arc<Semaphore>,
    replies: &Replies,
    request: &'static str,
    paying: impl Future<Output = RoomResult<OrderView>> + Send + 'static,
) -> ApiResult<()> {
    let permit = Arc::clone(checkouts).try_acquire_owned().map_err(|_| CommerceError::CheckoutInProgress)?;
    let replies = replies.clone();
    state.checkouts.clone().spawn(async move {
        let outcome = paying.await.map_err(ApiError::from);
        let label = outcome.as_ref().map_or_else(ApiError::code, |_| "paid");
        metrics::counter!("livecart_checkouts_total", "outcome" => label).increment(1);
        let reply = match outcome {
            Ok(order) => frame(&ServerMsg::OrderConfirmed { order }),
            Err(e) => error_frame(&e, Some(request)),
        };
        let _ = replies.send(reply).await;
        drop(permit);
    });
    Ok(())
}

/// Private replies on their way to the send task, boxed in the queue: tokio's bounded
/// channel allocates its first block of 32 slots when it is created, whatever the bound,
/// so every viewer would hold room for 32 `Message`s (1.5 KiB) for the few replies it
/// gets; boxed, the block is 256 bytes and a reply costs one small allocation.
#[derive(Clone)]
struct Replies(mpsc::Sender<Box<Message>>);

impl Replies {
    async fn send(&self, reply: Message) -> Result<(), mpsc::error::SendError<Box<Message>>> {
        self.0.send(Box::new(reply)).await
    }
}

/// What the send task has queued for the next flush, and where the viewer is in the
/// room's sequence.
struct Outbox {
    batch: Vec<Message>,
    seq: u64,
}

enum Take {
    Queued,
    /// Behind the channel, or a gap in sequence numbers: needs a fresh snapshot.
    Resync,
}

impl Outbox {
    /// The first flush: the snapshot (serialised here, so the snapshot itself is dropped
    /// at once) and the missed events of a resume; with the sequence number and the
    /// room's frames that follow them.
    fn opening(opening: Opening) -> (Outbox, broadcast::Receiver<Delivery>) {
        let Opening { first, replay, seq, frames } = opening;
        let mut batch = Vec::with_capacity(1 + replay.len());
        batch.push(frame(&first));
        batch.extend(replay.into_iter().map(|(_, f)| Message::Text(f)));
        (Outbox { batch, seq }, frames)
    }

    fn take(&mut self, delivery: Delivery) -> Take {
        if let Some(seq) = delivery.seq {
            if seq <= self.seq {
                return Take::Queued;
            }
            if seq != self.seq + 1 {
                return Take::Resync;
            }
            self.seq = seq;
        }
        self.batch.push(Message::Text(delivery.frame));
        Take::Queued
    }
}

/// What reaches one viewer besides the room's frames.
struct Inbox {
    replies: mpsc::Receiver<Box<Message>>,
    notices: Option<broadcast::Receiver<Utf8Bytes>>,
    /// The room's viewer count, as the viewer's group is served it.
    counts: watch::Receiver<Option<Utf8Bytes>>,
}

/// The next notice; never, for a guest. Missed notices are skipped: they are rare and
/// best-effort.
async fn next_notice(notices: &mut Option<broadcast::Receiver<Utf8Bytes>>) -> Message {
    if let Some(feed) = notices {
        loop {
            match feed.recv().await {
                Ok(frame) => return Message::Text(frame),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => break,
            }
        }
    }
    *notices = None;
    std::future::pending().await
}

/// The next viewer count. The room (which the session holds) keeps the sender, so
/// `changed` fails only once the room is gone, and then nothing more comes.
async fn next_count(counts: &mut watch::Receiver<Option<Utf8Bytes>>) -> Message {
    loop {
        if counts.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
        if let Some(frame) = counts.borrow_and_update().clone() {
            return Message::Text(frame);
        }
    }
}

/// The send task. Its rare, large states (a resync's snapshot, the goodbye on shutdown)
/// are boxed: inline, they would sit in every viewer's task while it waits for frames.
async fn send_loop(
    mut sink: Sink,
    state: Arc<AppState>,
    room: Arc<LiveRoom>,
    viewer: Arc<Viewer>,
    (mut out, mut frames): (Outbox, broadcast::Receiver<Delivery>),
    mut inbox: Inbox,
) {
    loop {
        let mut resync = false;
        if out.batch.is_empty() {
            // An idle viewer keeps no batch: the first one, which holds the snapshot, and
            // any burst would otherwise stay allocated at their high-water capacity.
            out.batch = Vec::new();
            tokio::select! {
                _ = state.shutdown.cancelled() => {
                    let close = CloseFrame { code: CLOSE_RESTARTING, reason: "server restarting: reconnect with since".into() };
                    let _ = Box::pin(tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Close(Some(close))))).await;
                    return;
                }
                reply = inbox.replies.recv() => match reply {
                    Some(m) => out.batch.push(*m),
                    None => return,
                },
                notice = next_notice(&mut inbox.notices) => out.batch.push(notice),
                count = next_count(&mut inbox.counts) => out.batch.push(count),
                delivery = frames.recv() => match delivery {
                    Ok(d) => resync = matches!(out.take(d), Take::Resync),
                    Err(RecvError::Lagged(_)) => resync = true,
                    // The room started a new epoch (shared history was lost): start afresh.
                    Err(RecvError::Closed) => resync = true,
                },
            }
        }
        while !resync && out.batch.len() < MAX_BATCH {
            if let Ok(m) = inbox.replies.try_recv() {
                out.batch.push(*m);
                continue;
            }
            match frames.try_recv() {
                Ok(d) => resync = matches!(out.take(d), Take::Resync),
                Err(TryRecvError::Lagged(_) | TryRecvError::Closed) => resync = true,
                Err(TryRecvError::Empty) => break,
            }
        }
        if resync {
            metrics::counter!("livecart_viewer_resyncs_total").increment(1);
            match Box::pin(state.rooms.snapshot(&room, &viewer, true)).await {
                Ok(fresh) => {
                    out.batch.push(frame(&fresh.first));
                    out.seq = fresh.seq;
                    frames = fresh.frames;
                }
                Err(e) => {
                    tracing::warn!(error = &e as &dyn std::error::Error, "resync failed; closing viewer");
                    return;
                }
            }
        }
        let closing = out.batch.iter().any(|m| matches!(m, Message::Close(_)));
        if !flush(&mut sink, &mut out.batch).await || closing {
            return;
        }
    }
}

/// Writes the batch with one flush; false when the viewer is gone or too slow.
async fn flush(sink: &mut Sink, batch: &mut Vec<Message>) -> bool {
    metrics::counter!("livecart_frames_sent_total").increment(batch.len() as u64);
    let started = std::time::Instant::now();
    let write = async {
        for m in batch.drain(..) {
            sink.feed(m).await?;
        }
        sink.flush().await
    };
    let written = matches!(tokio::time::timeout(WRITE_TIMEOUT, write).await, Ok(Ok(())));
    metrics::histogram!("livecart_flush_seconds").record(started.elapsed().as_secs_f64());
    written
}
