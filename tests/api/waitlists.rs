//! Comment-to-buy and waitlists: a comment `SOLD` or `BUY 2 SERUM` holds units for its
//! author as an offer while still showing in chat; a sold-out product's waitlist is
//! offered the units that come back, first in line first, each for the hold time.

use crate::helpers::{TestApp, Ws, test_config};
use livecart::domain::{Clock, ProductId, Role, UnixMs};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, KeywordCard, OfferView, RoomEvent, ServerMsg};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const START: UnixMs = UnixMs(1_800_000_000_000);

/// Comments `text`; the `comment_purchase` answer as `(offer, code)`, once the comment
/// itself was posted too (the two may come in either order).
async fn comment(ws: &mut Ws, text: &str) -> (Option<OfferView>, Option<String>) {
    ws.send(&ClientMsg::Comment { text: text.try_into().unwrap() }).await;
    let (mut posted, mut answer) = (false, None);
    while !posted || answer.is_none() {
        match ws.recv().await {
            ServerMsg::Event { event: RoomEvent::Comment(c), .. } if c.text == text.trim() => posted = true,
            ServerMsg::CommentPurchase { offer, code, .. } => answer = Some((offer, code)),
            ServerMsg::Error { code, message, .. } => panic!("comment {text:?}: {code}: {message}"),
            _ => {}
        }
    }
    answer.unwrap()
}

/// Joins or leaves a waitlist: the place, or the error code.
async fn waitlist(ws: &mut Ws, msg: ClientMsg) -> Result<Option<i64>, String> {
    ws.send(&msg).await;
    ws.recv_until(|m| match m {
        ServerMsg::Waitlist { place, .. } => Some(Ok(place)),
        ServerMsg::Error { code, .. } => Some(Err(code)),
        _ => None,
    })
    .await
}

fn join(product_id: ProductId) -> ClientMsg {
    ClientMsg::JoinWaitlist { product_id }
}

#[tokio::test]
async fn a_comment_that_asks_to_buy_holds_units_for_its_author_and_still_shows_in_chat() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[5, 5]).await;
    let (serum, oil) = (scene.products[0], scene.products[1]);
    let keywords = path(routes::ROOM_KEYWORDS, &[scene.room.get()]);
    let token = Some(scene.creator.token.as_str());
    let (status, body) = app
        .send(
            Method::PUT,
            &keywords,
            token,
            Some(&json!({"keywords": [{"product_id": oil.get(), "keyword": "lipoil"}]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let set: Vec<KeywordCard> = serde_json::from_value(body).unwrap();
    assert_eq!(set[0].keyword.as_str(), "LIPOIL");
    let bad = [
        (json!({"keywords": [{"product_id": oil.get(), "keyword": "sold"}]}), 400),
        (
            json!({"keywords": [{"product_id": oil.get(), "keyword": "a"}, {"product_id": serum.get(), "keyword": "a"}]}),
            400,
        ),
        (
            json!({"keywords": [{"product_id": oil.get(), "keyword": "same"}, {"product_id": serum.get(), "keyword": "same"}]}),
            409,
        ),
        (json!({"keywords": [{"product_id": 999, "keyword": "other"}]}), 409),
    ];
    for (body, expected) in bad {
        assert_eq!(app.send(Method::PUT, &keywords, token, Some(&body)).await.0, expected, "{body}");
    }
    let read: Vec<KeywordCard> = app.get(&keywords, None).await;
    assert_eq!(read, set, "a refused change changes nothing");

    let (mut host, _) = app.viewer(scene.room, token).await;
    host.send(&ClientMsg::Pin { product_id: serum }).await;
    let viewer = app.register(Role::Viewer, "Sam", None).await;
    let (mut sam, snapshot) = app.viewer(scene.room, Some(&viewer.token)).await;
    assert_eq!(snapshot.keywords, set);

    let (offer, code) = comment(&mut sam, "  Sold 2 ").await;
    let offer = offer.unwrap_or_else(|| panic!("no offer: {code:?}"));
    assert_eq!((offer.product_id, offer.quantity, offer.price.amount), (serum, 2, 1_000));
    assert_eq!(app.stock(serum).await, 3, "held for Sam");
    let (oil_offer, _) = comment(&mut sam, "buy lipoil").await;
    assert_eq!(oil_offer.as_ref().map(|o| o.product_id), Some(oil));
    assert_eq!(comment(&mut sam, "BUY PERFUME").await, (None, Some("not_in_lineup".into())));
    let (mut guest, _) = app.viewer(scene.room, None).await;
    assert_eq!(comment(&mut guest, "SOLD").await, (None, Some("unauthenticated".into())));

    let order = sam.pay_offer(offer.id, "by-comment").await.expect("paid");
    assert_eq!((order.subtotal.amount, order.lines[0].quantity, order.creator_id), (2_000, 2, scene.host_id()));
    let mine: Vec<OfferView> = app.get(routes::OFFERS, Some(&viewer.token)).await;
    assert_eq!(mine.iter().map(|o| o.id).collect::<Vec<_>>(), vec![oil_offer.unwrap().id], "the paid one is gone");
    // Three open holds by comment at most.
    assert!(comment(&mut sam, "SOLD").await.0.is_some());
    assert!(comment(&mut sam, "SOLD").await.0.is_some());
    assert_eq!(comment(&mut sam, "SOLD").await, (None, Some("conflict".into())));
}

#[tokio::test]
async fn a_sold_out_products_waitlist_is_offered_the_units_that_come_back_first_in_line_first() {
    let clock = Clock::manual(START);
    let mut config = test_config();
    config.hold_ttl = Duration::from_secs(60);
    let app = TestApp::spawn_with(config, clock.clone()).await;
    let scene = app.live_room(&[1]).await;
    let product = scene.products[0];
    let mut fans = Vec::new();
    for name in ["Ana", "Ben", "Cy"] {
        let who = app.register(Role::Viewer, name, None).await;
        let (ws, _) = app.viewer(scene.room, Some(&who.token)).await;
        fans.push((ws, who));
    }
    assert_eq!(waitlist(&mut fans[1].0, join(product)).await, Err("conflict".into()), "in stock: buy it");
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    host.send(&ClientMsg::Pin { product_id: product }).await;
    let held = comment(&mut fans[0].0, "SOLD").await.0.expect("Ana holds the last unit");
    assert_eq!(app.stock(product).await, 0);

    assert_eq!(waitlist(&mut fans[1].0, join(product)).await, Ok(Some(1)));
    assert_eq!(waitlist(&mut fans[2].0, join(product)).await, Ok(Some(2)));
    assert_eq!(waitlist(&mut fans[1].0, join(product)).await, Ok(Some(1)), "joining again keeps the place");
    let (mut guest, _) = app.viewer(scene.room, None).await;
    assert_eq!(waitlist(&mut guest, join(product)).await, Err("unauthenticated".into()));

    // Ana lets her hold run out: Ben, first in line, is offered the unit.
    clock.advance(Duration::from_secs(61));
    let ben = fans[1].0.next_offer().await;
    assert_eq!((ben.product_id, ben.quantity, ben.price.amount), (product, 1, 1_000));
    assert_eq!(fans[0].0.pay_offer(held.id, "too-late").await, Err("offer_closed".into()));
    assert_eq!(waitlist(&mut fans[2].0, join(product)).await, Ok(Some(1)), "Cy is next");
    // Ben does not pay in time either: Cy gets it, and pays.
    clock.advance(Duration::from_secs(61));
    let cy = fans[2].0.next_offer().await;
    assert_eq!(fans[1].0.pay_offer(ben.id, "ben-late").await, Err("offer_closed".into()));
    let order = fans[2].0.pay_offer(cy.id, "cy").await.expect("paid");
    assert_eq!(order.subtotal.amount, 1_000);
    assert_eq!(app.stock(product).await, 0, "one unit, sold once");
    assert_eq!(waitlist(&mut fans[2].0, ClientMsg::LeaveWaitlist { product_id: product }).await, Ok(None));
}
