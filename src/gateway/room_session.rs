//! A joined viewer's connection: one task that reads and answers the viewer's messages
//! and writes the room's frames, the viewer's private replies, its notices and the
//! viewer count, in one loop over one socket (no split halves, no lock between them, no
//! queue of replies: a connection holds only what it waits for).
//!
//! The loop writes every frame that is waiting, then flushes once: per-frame cost
//! dominates small messages, so batching the flush is the largest fan-out saving. A
//! viewer that falls behind the room's bounded channel (or shows a sequence gap) is
//! resynced with a fresh snapshot instead of buffering without limit (as is every viewer
//! when the room starts a new epoch), and one whose socket stays blocked past the write
//! timeout is dropped. A request being answered (a comment, a cart change) is polled
//! beside the room's frames, which keep flowing meanwhile; the next message is read once
//! it is answered, so requests are answered in order, one at a time. Payments run on
//! their own tasks, at most [`CONCURRENT_CHECKOUTS`] per buyer on this node.

use super::session_end::SessionEnd;
use super::{WRITE_TIMEOUT, error_frame, frame, protocol};
use crate::commerce::{CartChange, CheckoutRequest, CommerceError, Payment};
use crate::domain::{AccountId, Invalid, Price, Quantity};
use crate::error::{ApiError, ApiResult, Code};
use crate::room::actions::{DropRequest, Posted};
use crate::room::auction::{AuctionRequest, BidRequest};
use crate::room::giveaway::GiveawayRequest;
use crate::room::hub::Seat;
use crate::room::offers::CommentPurchase;
use crate::room::snapshot::Opening;
use crate::room::{Delivery, LiveRoom, RoomResult, Viewer};
use crate::state::{AppState, CONCURRENT_CHECKOUTS};
use crate::telemetry::Causes;
use crate::wire::ws::{ClientMsg, OrderView, ServerMsg};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{Fuse, Stream};
use futures_util::task::AtomicWaker;
use futures_util::{SinkExt, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// Frames written between two flushes at most.
const MAX_BATCH: usize = 64;
/// Close code 1012 (service restart): the client should reconnect, with `since`.
const CLOSE_RESTARTING: u16 = 1012;

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

/// A request being answered, boxed: inline, the largest request's state (a cart change,
/// a drop) would sit in every connection's task between messages.
type Answering<'a> = Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;

/// What answering a request gives the connection.
enum Answer {
    Nothing,
    Reply(Message),
    /// A payment running on its own task, with its reply to come.
    Paying(JoinHandle<Message>),
}

/// Why the loop stops.
enum Leave {
    /// The viewer went away, or cannot be written to: nothing more to send.
    Gone,
    /// A close frame is in the batch: write it, then end (after [`super::LINGER`] when
    /// the viewer's message was too big, whose unread rest would reset the connection).
    Closing { linger: bool },
}

/// Serves a joined viewer until either side ends the connection; the viewer keeps its
/// seat (counts in the room) exactly as long.
///
/// Every argument, and every local held across an await, is part of the connection's
/// task for as long as it lives: so the socket and the state are borrowed and the session
/// boxed, and the session is taken apart at once (the snapshot, which only opens the
/// stream, is serialised into the first batch).
pub async fn run(socket: &mut WebSocket, state: &AppState, session: Box<RoomSession>) {
    let RoomSession { room, viewer, opening, seat: _seat, ends, notices } = *session;
    let viewer = Arc::new(viewer);
    let (mut out, mut frames) = Outbox::opening(opening);
    let mut inbox = Inbox { notices, counts: viewer_counts(room.viewer_counts()), payments: Vec::new() };
    let (reads, count_changes) = (Gated::new(), Gated::new());
    let mut ends = ends.reached();
    // Kept for the connection's life, like `ends`: one registration, not one per batch.
    let shutdown = state.shutdown.cancelled();
    tokio::pin!(shutdown);
    let mut answering: Option<Answering<'_>> = None;
    let mut closing = None;
    let leave = loop {
        if !out.batch.is_empty() && !flush(socket, &mut out.batch).await {
            break Leave::Gone;
        }
        if let Some(leave) = closing.take() {
            break leave;
        }
        // An idle viewer keeps no batch: the first one, which holds the snapshot, and any
        // burst would otherwise stay allocated at their high-water capacity.
        out.batch = Vec::new();
        let mut resync = false;
        tokio::select! {
            () = &mut shutdown => {
                let close = CloseFrame { code: CLOSE_RESTARTING, reason: "server restarting: reconnect with since".into() };
                out.batch.push(Message::Close(Some(close)));
                closing = Some(Leave::Closing { linger: false });
            }
            close = &mut ends => {
                out.batch.push(Message::Close(Some(close)));
                closing = Some(Leave::Closing { linger: false });
            }
            msg = std::future::poll_fn(|cx| reads.poll(cx, |cx| socket.poll_next_unpin(cx))), if answering.is_none() => match msg {
                Some(Ok(Message::Text(text))) => {
                    let decoded = protocol::decode(&text);
                    let request = decoded.as_ref().ok().map(ClientMsg::kind);
                    metrics::counter!("livecart_client_messages_total", "type" => request.unwrap_or("invalid")).increment(1);
                    match decoded {
                        Ok(msg) => {
                            answering = Some(Box::pin(dispatch(state, &room, &viewer, msg)));
                        }
                        Err(e) => out.batch.push(error_frame(&e, protocol::named_type(&text))),
                    }
                }
                Some(Ok(Message::Binary(_))) => out.batch.push(error_frame(&super::binary_refused(), None)),
                // A message over the limit: close with 1009 after what is queued.
                Some(Err(e)) => match super::too_big(&e) {
                    Some(close) => {
                        out.batch.push(Message::Close(Some(close)));
                        closing = Some(Leave::Closing { linger: true });
                    }
                    None => break Leave::Gone,
                },
                Some(Ok(Message::Close(_))) | None => break Leave::Gone,
                Some(Ok(_)) => {}
            },
            answer = answered(&mut answering) => match answer {
                Answer::Nothing => {}
                Answer::Reply(m) => out.batch.push(m),
                Answer::Paying(payment) => inbox.payments.push(payment),
            },
            reply = next_payment(&mut inbox.payments) => out.batch.extend(reply),
            notice = next_notice(&mut inbox.notices) => out.batch.push(notice),
            Some(count) = std::future::poll_fn(|cx| count_changes.poll(cx, |cx| inbox.counts.poll_next_unpin(cx))) => out.batch.push(count),
            delivery = frames.recv() => match delivery {
                Ok(d) => resync = matches!(out.take(d), Take::Resync),
                Err(RecvError::Lagged(_)) => resync = true,
                // The room started a new epoch (shared history was lost): start afresh.
                Err(RecvError::Closed) => resync = true,
            },
        }
        while !resync && out.batch.len() < MAX_BATCH {
            match frames.try_recv() {
                Ok(d) => resync = matches!(out.take(d), Take::Resync),
                Err(TryRecvError::Lagged(_) | TryRecvError::Closed) => resync = true,
                Err(TryRecvError::Empty) => break,
            }
        }
        if resync {
            metrics::counter!("livecart_viewer_resyncs_total").increment(1);
            // Boxed: a snapshot's state is large and rare.
            match Box::pin(state.rooms.snapshot(&room, &viewer, true)).await {
                Ok(fresh) => {
                    out.batch.push(frame(&fresh.first));
                    out.seq = fresh.seq;
                    frames = fresh.frames;
                }
                Err(e) => {
                    tracing::warn!(error = %Causes(&e), "resync failed; closing viewer");
                    break Leave::Gone;
                }
            }
        }
    };
    // A request being answered is finished, not cut off half-way: its effects (a cart
    // change, a comment) are the viewer's, whether or not they hear the answer.
    if let Some(request) = answering {
        request.await;
    }
    if let Leave::Closing { linger: true } = leave {
        tokio::time::sleep(super::LINGER).await;
    }
}

/// The answer of the request being answered, which is then done; never, when there is
/// none.
async fn answered(answering: &mut Option<Answering<'_>>) -> Answer {
    let Some(request) = answering else { return std::future::pending().await };
    let answer = request.await;
    *answering = None;
    answer
}

/// The reply of the first payment to finish (`None` if its task failed: it has nothing
/// to say); never, while none runs.
async fn next_payment(payments: &mut Vec<JoinHandle<Message>>) -> Option<Message> {
    std::future::poll_fn(|cx| {
        let finished = payments.iter_mut().enumerate().find_map(|(i, p)| match Pin::new(p).poll(cx) {
            Poll::Ready(reply) => Some((i, reply)),
            Poll::Pending => None,
        });
        match finished {
            Some((i, reply)) => {
                payments.swap_remove(i);
                if payments.is_empty() {
                    *payments = Vec::new();
                }
                Poll::Ready(reply.ok())
            }
            None => Poll::Pending,
        }
    })
    .await
}

/// Answers one request: its reply, or an error frame naming it.
async fn dispatch(state: &AppState, room: &Arc<LiveRoom>, viewer: &Arc<Viewer>, msg: ClientMsg) -> Answer {
    let request = msg.kind();
    handle(state, room, viewer, msg).await.unwrap_or_else(|e| Answer::Reply(error_frame(&e, Some(request))))
}

async fn handle(state: &AppState, room: &Arc<LiveRoom>, viewer: &Arc<Viewer>, msg: ClientMsg) -> ApiResult<Answer> {
    let rooms = &state.rooms;
    let cart_change = match msg {
        ClientMsg::Join { .. } | ClientMsg::FollowSales { .. } | ClientMsg::Listen { .. } => {
            return Err(ApiError::new(Code::AlreadyJoined, "this connection has already joined"));
        }
        ClientMsg::Comment { text } => {
            return Ok(match rooms.comment(room, viewer, text).await? {
                Posted::Held { text } => Answer::Reply(frame(&ServerMsg::HeldForReview { text })),
                Posted::Shown { purchase: Some(purchase) } => Answer::Reply(frame(&purchase_frame(purchase))),
                Posted::Shown { purchase: None } => Answer::Nothing,
            });
        }
        ClientMsg::JoinWaitlist { product_id } => {
            let place = rooms.join_waitlist(room, viewer, product_id).await?;
            return Ok(Answer::Reply(frame(&ServerMsg::Waitlist { product_id, place: Some(place) })));
        }
        ClientMsg::LeaveWaitlist { product_id } => {
            rooms.leave_waitlist(room, viewer, product_id).await?;
            return Ok(Answer::Reply(frame(&ServerMsg::Waitlist { product_id, place: None })));
        }
        ClientMsg::React { reaction } => return done(rooms.react(room, reaction)),
        ClientMsg::Pin { product_id } => return done(rooms.pin(room, viewer, product_id).await),
        ClientMsg::Unpin {} => return done(rooms.unpin(room, viewer).await),
        ClientMsg::StartDrop { product_id, quantity, price, duration_secs, per_buyer } => {
            let req = DropRequest { product: product_id, quantity, price, duration_secs, per_buyer };
            return done(rooms.start_drop(room, viewer, req).await);
        }
        ClientMsg::StartGiveaway { prize, entry, duration_secs } => {
            let req = GiveawayRequest { prize, entry, duration_secs };
            return done(rooms.start_giveaway(room, viewer, req).await);
        }
        ClientMsg::EnterGiveaway { giveaway_id } => {
            let entries = rooms.enter_giveaway(room, viewer, giveaway_id).await?;
            return Ok(Answer::Reply(frame(&ServerMsg::GiveawayEntered { giveaway_id, entries })));
        }
        ClientMsg::EndRoom {} => return done(rooms.end_from_room(room, viewer).await),
        ClientMsg::DeleteComment { seq } => return done(rooms.delete_comment(room, viewer, seq).await),
        ClientMsg::Timeout { seq, secs } => return done(rooms.time_out(room, viewer, seq, secs).await),
        ClientMsg::Ban { seq, scope } => return done(rooms.ban(room, viewer, seq, scope.unwrap_or_default()).await),
        ClientMsg::SlowMode { secs } => return done(rooms.set_slow_mode(room, viewer, secs).await),
        ClientMsg::ApproveComment { id } => return done(rooms.approve_held(room, viewer, id).await),
        ClientMsg::RejectComment { id } => return done(rooms.reject_held(room, viewer, id).await),
        ClientMsg::ViewProduct { product_id } => {
            let product = Box::new(rooms.view_product(room, viewer, product_id).await?);
            return Ok(Answer::Reply(frame(&ServerMsg::Product { product })));
        }
        ClientMsg::CartAdd { product_id, quantity } => CartChange::Add(product_id, Quantity::try_from(quantity)?),
        ClientMsg::CartSet { product_id, quantity } => CartChange::Set(product_id, Quantity::try_from(quantity)?),
        ClientMsg::CartRemove { product_id } => CartChange::Remove(product_id),
        ClientMsg::Checkout { idempotency_key, card, payment, save, shipping, promo_code } => {
            // The fields' one cross-field rule is checked before anything else, as decoding is.
            let payment = Payment::from_fields(card, payment)?;
            let buyer = viewer.account().map_err(ApiError::from)?.id;
            let req =
                CheckoutRequest { key: idempotency_key, payment, promo_code, save: save.unwrap_or(false), shipping };
            let (rooms, room, viewer) = (rooms.clone(), Arc::clone(room), Arc::clone(viewer));
            let payment = async move { rooms.checkout(&room, &viewer, req).await };
            return spawn_payment(state, buyer, "checkout", payment);
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
            return done(rooms.start_auction(room, viewer, req).await);
        }
        ClientMsg::Bid { auction_id, amount, max_amount } => {
            let max = max_amount.map(Price::try_from).transpose()?;
            if max.is_some_and(|max| max.get() < amount) {
                return Err(Invalid::new("max_amount", "must be at least the amount").into());
            }
            let req = BidRequest { auction: auction_id, amount: Price::try_from(amount)?, max };
            let placed = rooms.bid(room, viewer, req).await?;
            return Ok(Answer::Reply(frame(&placed)));
        }
        ClientMsg::PayOffer { offer_id, idempotency_key, card, payment, save, shipping } => {
            let payment = Payment::from_fields(card, payment)?;
            let buyer = viewer.account().map_err(ApiError::from)?.id;
            let req = CheckoutRequest {
                key: idempotency_key,
                payment,
                promo_code: None,
                save: save.unwrap_or(false),
                shipping,
            };
            let (rooms, viewer) = (rooms.clone(), Arc::clone(viewer));
            let payment = async move { rooms.pay_offer(&viewer, offer_id, req).await };
            return spawn_payment(state, buyer, "pay_offer", payment);
        }
    };
    let cart = rooms.change_cart(room, viewer, cart_change).await?;
    Ok(Answer::Reply(frame(&ServerMsg::Cart { cart })))
}

/// The answer to a request whose only answer is the room's own event: nothing, or its
/// error.
fn done<E: Into<ApiError>>(result: Result<(), E>) -> ApiResult<Answer> {
    result.map(|()| Answer::Nothing).map_err(Into::into)
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

/// Runs a payment (`request`: the message that asked for it) on its own task, at most
/// [`CONCURRENT_CHECKOUTS`] at a time per buyer on this node, over every connection and
/// REST alike (a connection closed and opened again does not free a place; a payment
/// ending does): payment takes a while, and chat and the room's frames keep flowing
/// meanwhile. Its reply is `order_confirmed`, or an error naming `request`. A connection
/// that closes meanwhile leaves it to finish (shutdown waits for it).
fn spawn_payment(
    state: &AppState,
    buyer: AccountId,
    request: &'static str,
    payment: impl Future<Output = RoomResult<OrderView>> + Send + 'static,
) -> ApiResult<Answer> {
    let paying = state.paying.hold(buyer, CONCURRENT_CHECKOUTS).ok_or(CommerceError::CheckoutInProgress)?;
    let running = state.checkouts.spawn(async move {
        let outcome = payment.await.map_err(ApiError::from);
        drop(paying);
        let label = outcome.as_ref().map_or_else(ApiError::code, |_| "paid");
        metrics::counter!("livecart_checkouts_total", "outcome" => label).increment(1);
        match outcome {
            Ok(order) => frame(&ServerMsg::OrderConfirmed { order }),
            Err(e) => error_frame(&e, Some(request)),
        }
    });
    Ok(Answer::Paying(running))
}

/// What the connection has queued for the next flush, and where the viewer is in the
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

/// What reaches one viewer besides the room's frames and the answers to its requests.
struct Inbox {
    /// The viewer's payments running on their own tasks, whose replies are to come.
    payments: Vec<JoinHandle<Message>>,
    notices: Option<broadcast::Receiver<Utf8Bytes>>,
    /// The room's viewer count, as the viewer's group is served it.
    counts: ViewerCounts,
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

/// The room's viewer counts, as the viewer's group is served them: a stream kept for the
/// connection's life, so that it stays registered with the room's count between frames
/// instead of joining and leaving its queue of waiters (which every viewer of the room
/// shares) on every frame sent (and, [`Gated`], is polled only when it was woken). The room (which the session holds) keeps the sender, so
/// the stream ends only once the room is gone.
type ViewerCounts = Fuse<Pin<Box<dyn Stream<Item = Message> + Send>>>;

fn viewer_counts(counts: watch::Receiver<Option<Utf8Bytes>>) -> ViewerCounts {
    let counts = futures_util::stream::unfold(counts, |mut counts| async move {
        loop {
            counts.changed().await.ok()?;
            let frame = counts.borrow_and_update().clone();
            if let Some(frame) = frame {
                return Some((Message::Text(frame), counts));
            }
        }
    });
    let counts: Pin<Box<dyn Stream<Item = Message> + Send>> = Box::pin(counts);
    counts.fuse()
}

/// A source the loop polls only when it can give something: when it woke its gate since
/// it last had nothing (or it gave something last time, and may hold more). The socket's
/// reads and the room's viewer count are gated so: polling them finds nothing on almost
/// every loop, which writes the room's frames, and costs a socket read attempt, or the
/// lock of a queue of waiters every viewer of the room shares.
struct Gated {
    waker: Waker,
    gate: Arc<Gate>,
}

struct Gate {
    woken: AtomicBool,
    task: AtomicWaker,
}

impl Wake for Gate {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake();
    }
}

impl Gated {
    fn new() -> Gated {
        // Open at first: the source has not been polled yet.
        let gate = Arc::new(Gate { woken: AtomicBool::new(true), task: AtomicWaker::new() });
        Gated { waker: Waker::from(Arc::clone(&gate)), gate }
    }

    /// Polls the source (`poll`) with the gate's waker, if the gate is open.
    fn poll<T>(&self, cx: &mut Context<'_>, poll: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        self.gate.task.register(cx.waker());
        if !self.gate.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let polled = poll(&mut Context::from_waker(&self.waker));
        if polled.is_ready() {
            // It may hold more already: ask again next time.
            self.gate.woken.store(true, Ordering::Release);
        }
        polled
    }
}

/// One flush in this many is timed into `livecart_flush_seconds`. The recorder keeps
/// each sample (8 bytes) until its next fold, in blocks allocated among the viewers'
/// frames: at a chat storm's 28,000 flushes a second (2,000 viewers) timing every one
/// left 7.4–7.7 KiB per viewer after the storm, one in 16 7.3–7.5, none 7.3–7.4
/// (alternated, five runs each). Which flushes are timed does not depend on how long
/// they take, so the quantiles stand; `livecart_frames_sent_total` still counts every
/// frame.
const FLUSHES_PER_SAMPLE: u32 = 16;

thread_local! {
    /// Flushes on this thread, to pick every [`FLUSHES_PER_SAMPLE`]th.
    static FLUSHES: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn time_this_flush() -> bool {
    FLUSHES.with(|flushes| {
        let n = flushes.get().wrapping_add(1);
        flushes.set(n);
        n % FLUSHES_PER_SAMPLE == 0
    })
}

/// Writes the batch with one flush; false when the viewer is gone or too slow.
async fn flush(socket: &mut WebSocket, batch: &mut Vec<Message>) -> bool {
    metrics::counter!("livecart_frames_sent_total").increment(batch.len() as u64);
    let started = time_this_flush().then(std::time::Instant::now);
    let write = async {
        for m in batch.drain(..) {
            socket.feed(m).await?;
        }
        socket.flush().await
    };
    let written = matches!(tokio::time::timeout(WRITE_TIMEOUT, write).await, Ok(Ok(())));
    if let Some(started) = started {
        metrics::histogram!("livecart_flush_seconds").record(started.elapsed().as_secs_f64());
    }
    written
}
