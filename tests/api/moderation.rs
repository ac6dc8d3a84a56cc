//! Moderation: moderators appointed for a room or all the host's rooms, deleted comments,
//! timeouts, bans (of accounts and guests, from a room or all the host's rooms), slow mode,
//! blocked words (a room's and a creator's, refusing or holding for review) and the review
//! of held comments; a ban closing sockets on another node, a held comment reaching a
//! moderator on another node.

use crate::helpers::{Client, Scene, TestApp, Ws, test_config};
use crate::nodes::Cluster;
use livecart::domain::{BlockedAction, Clock, HeldCommentId, Role, RoomId, UnixMs};
use livecart::room::review::HELD_PER_ROOM;
use livecart::wire::api::{BanView, BlockedWordsBody, ModeratorView, SessionResponse};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{BanScope, CLOSE_BANNED, ClientMsg, CommentView, HeldComment, RoomEvent, ServerMsg};
use reqwest::Method;
use serde_json::json;
use std::time::Duration;

const START: UnixMs = UnixMs(1_800_000_000_000);

async fn appoint(client: &Client, route: &str, ids: &[i64], by: &SessionResponse) -> u16 {
    let (status, body) = client.send(Method::PUT, &path(route, ids), Some(&by.token), None).await;
    assert!(status == 204 || status.is_client_error(), "{status} {body}");
    status.as_u16()
}

/// Sends a comment and returns its `seq` as the room numbered it.
async fn comment(ws: &mut Ws, text: &str) -> u64 {
    ws.send(&ClientMsg::Comment { text: text.try_into().unwrap() }).await;
    ws.recv_until(|m| match m {
        ServerMsg::Event { seq, event: RoomEvent::Comment(c) } if c.text == text => Some(seq),
        ServerMsg::Error { code, message, .. } => panic!("comment {text:?}: {code}: {message}"),
        _ => None,
    })
    .await
}

/// The error code the next refused request gets, with its message.
async fn refused(ws: &mut Ws) -> (String, String) {
    ws.recv_until(|m| match m {
        ServerMsg::Error { code, message, .. } => Some((code, message)),
        _ => None,
    })
    .await
}

/// Waits for the next event matching `pick`.
async fn event<T>(ws: &mut Ws, mut pick: impl FnMut(RoomEvent) -> Option<T>) -> T {
    ws.recv_until(|m| match m {
        ServerMsg::Event { event, .. } => pick(event),
        ServerMsg::Error { code, message, .. } => panic!("waiting for an event: {code}: {message}"),
        _ => None,
    })
    .await
}

/// A join that the server refuses: its error code.
async fn refused_join(client: &Client, room: RoomId, token: Option<&str>, guest: Option<&str>) -> String {
    let mut ws = client.ws().await;
    ws.send(&ClientMsg::Join {
        room_id: room,
        token: token.map(str::to_owned),
        guest_name: guest.map(|g| g.try_into().unwrap()),
        since: None,
        epoch: None,
        audience_key: None,
    })
    .await;
    let code = ws.error_code().await;
    ws.close().await;
    code
}

async fn second_room(app: &TestApp, scene: &Scene) -> RoomId {
    let req = json!({"title": "Second show", "starts_at": 0, "product_ids": [scene.products[0]]});
    let room: livecart::wire::api::RoomView = app.post(routes::ROOMS, Some(&scene.creator.token), &req).await;
    let _: serde_json::Value =
        app.post(&path(routes::ROOM_GO_LIVE, &[room.id.get()]), Some(&scene.creator.token), &()).await;
    room.id
}

#[tokio::test]
async fn the_host_appoints_moderators_for_a_room_or_all_their_rooms_and_only_they_may_moderate() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let other = second_room(&app, &scene).await;
    let host = &scene.creator;
    let (mod_room, mod_all, viewer) = (
        app.register(Role::Viewer, "Ana", None).await,
        app.register(Role::Viewer, "Noor", None).await,
        app.register(Role::Viewer, "Sam", None).await,
    );
    let room_id = scene.room.get();
    assert_eq!(appoint(&app, routes::ROOM_MODERATOR, &[room_id, mod_room.account.id.get()], host).await, 204);
    assert_eq!(appoint(&app, routes::ROOM_MODERATOR, &[room_id, mod_room.account.id.get()], host).await, 204);
    assert_eq!(
        appoint(&app, routes::CREATOR_MODERATOR, &[host.account.id.get(), mod_all.account.id.get()], host).await,
        204
    );
    // Nobody else appoints; the host is no moderator of their own; unknown accounts are not found.
    assert_eq!(appoint(&app, routes::ROOM_MODERATOR, &[room_id, viewer.account.id.get()], &mod_room).await, 403);
    assert_eq!(appoint(&app, routes::ROOM_MODERATOR, &[room_id, host.account.id.get()], host).await, 400);
    assert_eq!(appoint(&app, routes::ROOM_MODERATOR, &[room_id, i64::MAX], host).await, 404);
    assert_eq!(
        appoint(&app, routes::CREATOR_MODERATOR, &[host.account.id.get(), viewer.account.id.get()], &viewer).await,
        403
    );

    let listed: Vec<ModeratorView> = app.get(&path(routes::ROOM_MODERATORS, &[room_id]), Some(&host.token)).await;
    let listed: Vec<_> = listed.iter().map(|m| (m.display_name.as_str(), m.room_id)).collect();
    assert_eq!(listed, vec![("Ana", Some(scene.room)), ("Noor", None)]);
    let all: Vec<ModeratorView> =
        app.get(&path(routes::CREATOR_MODERATORS, &[host.account.id.get()]), Some(&host.token)).await;
    assert_eq!(all.iter().map(|m| m.account_id).collect::<Vec<_>>(), vec![mod_all.account.id]);

    // In the room: the room's moderator and the all-rooms moderator may act, a viewer not.
    let (mut author, _) = app.viewer(scene.room, Some(&viewer.token)).await;
    let (mut ana, snapshot) = app.viewer(scene.room, Some(&mod_room.token)).await;
    assert!(snapshot.you.is_moderator && !snapshot.you.is_host);
    let seq = comment(&mut author, "first").await;
    author.send(&ClientMsg::DeleteComment { seq }).await;
    assert_eq!(refused(&mut author).await.0, "forbidden");
    ana.send(&ClientMsg::SlowMode { secs: 0 }).await;
    event(&mut ana, |e| matches!(e, RoomEvent::SlowMode { .. }).then_some(())).await;
    // Ana moderates this room only; Noor every room of the host.
    let (mut ana_elsewhere, snapshot) = app.viewer(other, Some(&mod_room.token)).await;
    assert!(!snapshot.you.is_moderator);
    ana_elsewhere.send(&ClientMsg::SlowMode { secs: 5 }).await;
    assert_eq!(refused(&mut ana_elsewhere).await.0, "forbidden");
    let (mut noor, snapshot) = app.viewer(other, Some(&mod_all.token)).await;
    assert!(snapshot.you.is_moderator);
    noor.send(&ClientMsg::SlowMode { secs: 5 }).await;
    assert_eq!(event(&mut noor, |e| if let RoomEvent::SlowMode { secs } = e { Some(secs) } else { None }).await, 5);
    // A moderator acts on viewers, not on the host or another moderator.
    let (mut host_ws, _) = app.viewer(scene.room, Some(&host.token)).await;
    let host_seq = comment(&mut host_ws, "welcome").await;
    ana.send(&ClientMsg::Timeout { seq: host_seq, secs: 60 }).await;
    assert_eq!(refused(&mut ana).await.0, "forbidden");
    // Dismissed: no longer a moderator, at once.
    let (status, _) = app
        .send(
            Method::DELETE,
            &path(routes::ROOM_MODERATOR, &[room_id, mod_room.account.id.get()]),
            Some(&host.token),
            None,
        )
        .await;
    assert_eq!(status, 204);
    ana.send(&ClientMsg::DeleteComment { seq }).await;
    assert_eq!(refused(&mut ana).await.0, "forbidden");
}

#[tokio::test]
async fn a_deleted_comment_disappears_for_everyone_and_from_the_snapshot() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let (mut guest, _) = app.viewer(scene.room, None).await;
    let (mut other, _) = app.viewer(scene.room, None).await;
    let kept = comment(&mut guest, "hello").await;
    let gone = comment(&mut guest, "spam spam").await;
    host.send(&ClientMsg::DeleteComment { seq: gone }).await;
    for ws in [&mut host, &mut guest, &mut other] {
        let deleted = event(ws, |e| if let RoomEvent::CommentDeleted { seq } = e { Some(seq) } else { None }).await;
        assert_eq!(deleted, gone);
    }
    let (_, snapshot) = app.viewer(scene.room, None).await;
    let seqs: Vec<u64> = snapshot.comments.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, vec![kept], "the snapshot no longer has it");
    // Not a comment: not found.
    host.send(&ClientMsg::DeleteComment { seq: snapshot.seq + 100 }).await;
    assert_eq!(refused(&mut host).await.0, "not_found");
}

#[tokio::test]
async fn a_timed_out_viewer_is_refused_with_the_time_left_until_it_ends_by_itself() {
    let clock = Clock::manual(START);
    let app = TestApp::spawn_with(test_config(), clock.clone()).await;
    let scene = app.live_room(&[3]).await;
    let viewer = app.register(Role::Viewer, "Sam", None).await;
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let (mut sam, _) = app.viewer(scene.room, Some(&viewer.token)).await;
    let seq = comment(&mut sam, "buy my stuff").await;
    host.send_invalid_msg(&ClientMsg::Timeout { seq, secs: 9 }).await;
    assert_eq!(refused(&mut host).await.0, "invalid_input", "10 s at least");
    host.send(&ClientMsg::Timeout { seq, secs: 600 }).await;
    let (author, key, until) = event(&mut sam, |e| match e {
        RoomEvent::TimedOut { author, author_key, until, .. } => Some((author, author_key, until)),
        _ => None,
    })
    .await;
    assert_eq!((author.as_str(), key), ("Sam", format!("a{}", viewer.account.id)));
    assert_eq!(until, START.plus(Duration::from_secs(600)));
    sam.send(&ClientMsg::Comment { text: "hello?".try_into().unwrap() }).await;
    let (code, message) = refused(&mut sam).await;
    assert_eq!(code, "timed_out");
    assert!(message.contains("600 s"), "says how long is left: {message}");
    // Every connection of the account, and a new one, is timed out too.
    let (mut again, _) = app.viewer(scene.room, Some(&viewer.token)).await;
    again.send(&ClientMsg::Comment { text: "hi".try_into().unwrap() }).await;
    assert_eq!(refused(&mut again).await.0, "timed_out");
    clock.advance(Duration::from_secs(600));
    comment(&mut sam, "I am back").await;
}

#[tokio::test]
async fn a_banned_account_is_disconnected_and_refused_in_the_room_or_all_the_hosts_rooms() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let other = second_room(&app, &scene).await;
    let elsewhere = app.live_room(&[3]).await;
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let (troll, pest) =
        (app.register(Role::Viewer, "Troll", None).await, app.register(Role::Viewer, "Pest", None).await);

    // From the room: both of the account's connections close; other rooms stay open.
    let (mut t1, _) = app.viewer(scene.room, Some(&troll.token)).await;
    let (mut t2, _) = app.viewer(scene.room, Some(&troll.token)).await;
    let (mut t_other, _) = app.viewer(other, Some(&troll.token)).await;
    let seq = comment(&mut t1, "trolling").await;
    host.send(&ClientMsg::Ban { seq, scope: None }).await;
    let (key, scope) = event(&mut host, |e| match e {
        RoomEvent::Banned { author_key, scope, .. } => Some((author_key, scope)),
        _ => None,
    })
    .await;
    assert_eq!((key, scope), (format!("a{}", troll.account.id), BanScope::Room));
    for ws in [&mut t1, &mut t2] {
        assert_eq!(ws.closed().await, Some((CLOSE_BANNED, "banned from this room".into())));
    }
    assert_eq!(refused_join(&app, scene.room, Some(&troll.token), None).await, "banned");
    comment(&mut t_other, "still here").await;

    // From all the host's rooms: closed in the other room too, refused in both, welcome
    // in another host's room.
    let (mut p1, _) = app.viewer(scene.room, Some(&pest.token)).await;
    let (mut p_other, _) = app.viewer(other, Some(&pest.token)).await;
    let seq = comment(&mut p1, "pestering").await;
    host.send(&ClientMsg::Ban { seq, scope: Some(BanScope::Creator) }).await;
    for ws in [&mut p1, &mut p_other] {
        assert_eq!(ws.closed().await, Some((CLOSE_BANNED, "banned from this creator's rooms".into())));
    }
    for room in [scene.room, other] {
        assert_eq!(refused_join(&app, room, Some(&pest.token), None).await, "banned");
    }
    app.viewer(elsewhere.room, Some(&pest.token)).await;
    // The creator lists the bans and lifts one: the troll may come back.
    let creator = scene.host_id().get();
    let bans: Vec<BanView> = app.get(&path(routes::CREATOR_BANS, &[creator]), Some(&scene.creator.token)).await;
    let troll_key = format!("a{}", troll.account.id);
    let held: Vec<_> = bans.iter().map(|b| (b.who.as_str(), b.room_id)).collect();
    assert_eq!(held, vec![(format!("a{}", pest.account.id).as_str(), None), (troll_key.as_str(), Some(scene.room))]);
    let lift = path(routes::CREATOR_BAN, &[creator, bans[1].id]);
    let (status, _) = app.send(Method::DELETE, &lift, Some(&troll.token), None).await;
    assert_eq!(status, 403, "only the creator lifts a ban");
    let (status, _) = app.send(Method::DELETE, &lift, Some(&scene.creator.token), None).await;
    assert_eq!(status, 204);
    app.viewer(scene.room, Some(&troll.token)).await;
    // Nobody bans the host.
    let seq = comment(&mut host, "hosting").await;
    host.send(&ClientMsg::Ban { seq, scope: None }).await;
    assert_eq!(refused(&mut host).await.0, "forbidden");
}

#[tokio::test]
async fn a_banned_guest_loses_the_connection_and_their_name() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let mut guest = app.ws().await;
    guest
        .send(&ClientMsg::Join {
            room_id: scene.room,
            token: None,
            guest_name: Some("Spammer".try_into().unwrap()),
            since: None,
            epoch: None,
            audience_key: None,
        })
        .await;
    guest.recv_until(|m| matches!(m, ServerMsg::Snapshot(_)).then_some(())).await;
    let (mut bystander, _) = app.viewer(scene.room, None).await;
    let seq = comment(&mut guest, "cheap pills").await;
    host.send(&ClientMsg::Ban { seq, scope: None }).await;
    assert_eq!(guest.closed().await, Some((CLOSE_BANNED, "banned from this room".into())));
    assert_eq!(refused_join(&app, scene.room, None, Some("spammer")).await, "banned", "by name, any case");
    // Another guest ("Guest") is not affected.
    comment(&mut bystander, "hi").await;
}

#[tokio::test]
async fn slow_mode_lets_each_viewer_comment_once_per_period_but_not_the_host() {
    let clock = Clock::manual(START);
    let app = TestApp::spawn_with(test_config(), clock.clone()).await;
    let scene = app.live_room(&[3]).await;
    let (mut host, _) = app.viewer(scene.room, Some(&scene.creator.token)).await;
    let (mut guest, _) = app.viewer(scene.room, None).await;
    host.send(&ClientMsg::SlowMode { secs: 30 }).await;
    event(&mut guest, |e| matches!(e, RoomEvent::SlowMode { secs: 30 }).then_some(())).await;
    let (_, snapshot) = app.viewer(scene.room, None).await;
    assert_eq!(snapshot.slow_mode_secs, 30);
    comment(&mut guest, "one").await;
    guest.send(&ClientMsg::Comment { text: "two".try_into().unwrap() }).await;
    let (code, message) = refused(&mut guest).await;
    assert_eq!(code, "slow_mode");
    assert!(message.contains("30 s"), "{message}");
    comment(&mut host, "hosts are not slowed").await;
    comment(&mut host, "not at all").await;
    clock.advance(Duration::from_secs(30));
    comment(&mut guest, "two").await;
    host.send(&ClientMsg::SlowMode { secs: 0 }).await;
    event(&mut guest, |e| matches!(e, RoomEvent::SlowMode { secs: 0 }).then_some(())).await;
    comment(&mut guest, "three").await;
}

#[tokio::test]
async fn comments_with_a_blocked_word_are_refused_with_a_clear_error() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let route = path(routes::ROOM_BLOCKED_WORDS, &[scene.room.get()]);
    let token = Some(scene.creator.token.as_str());
    let body = json!({"words": ["Scam", "free money", "scam"]});
    let (status, kept) = app.send(Method::PUT, &route, token, Some(&body)).await;
    assert_eq!(status, 200);
    assert_eq!(kept, json!({"words": ["scam", "free money"], "action": "refuse"}));
    let read: BlockedWordsBody = app.get(&route, token).await;
    assert_eq!(read.words, vec!["scam", "free money"]);
    let (status, body) = app.send(Method::PUT, &route, token, Some(&json!({"words": ["x".repeat(41)]}))).await;
    assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (400, Some("invalid_input")));

    let (mut guest, _) = app.viewer(scene.room, None).await;
    guest.send(&ClientMsg::Comment { text: "this is a SCAM!".try_into().unwrap() }).await;
    let (code, message) = refused(&mut guest).await;
    assert_eq!(code, "blocked_word");
    assert!(message.contains("\"scam\"") && message.contains("not posted"), "{message}");
    comment(&mut guest, "scams are a different word").await;
    comment(&mut guest, "first class").await;
    let (mut host, _) = app.viewer(scene.room, token).await;
    comment(&mut host, "beware of any scam").await;
    let (status, _) = app.send(Method::PUT, &route, token, Some(&json!({"words": []}))).await;
    assert_eq!(status, 200);
    comment(&mut guest, "a scam?").await;
}

#[tokio::test]
async fn a_ban_on_one_node_closes_the_viewers_sockets_on_another() {
    let Some(cluster) = Cluster::start(2).await else { return };
    let scene = cluster.node(0).live_room(&[3]).await;
    let troll = cluster.node(1).register(Role::Viewer, "Troll", None).await;
    let (mut host, _) = cluster.node(0).viewer(scene.room, Some(&scene.creator.token)).await;
    let (mut far, _) = cluster.node(1).viewer(scene.room, Some(&troll.token)).await;
    let (mut near, _) = cluster.node(0).viewer(scene.room, Some(&troll.token)).await;
    let seq = comment(&mut far, "trolling from afar").await;
    // The host's node knows the comment once it has seen it.
    event(&mut host, |e| matches!(e, RoomEvent::Comment(_)).then_some(())).await;
    host.send(&ClientMsg::Ban { seq, scope: Some(BanScope::Creator) }).await;
    for ws in [&mut far, &mut near] {
        let closed = tokio::time::timeout(Duration::from_secs(10), ws.closed()).await.expect("closed in time");
        assert_eq!(closed, Some((CLOSE_BANNED, "banned from this creator's rooms".into())));
    }
    for node in 0..2 {
        assert_eq!(refused_join(cluster.node(node), scene.room, Some(&troll.token), None).await, "banned");
    }
}

/// Sets a list of blocked words (a room's or a creator's) with its action, as `by`.
async fn block(client: &Client, route: &str, id: i64, words: &[&str], action: &str, by: &str) -> BlockedWordsBody {
    let body = json!({"words": words, "action": action});
    let (status, kept) = client.send(Method::PUT, &path(route, &[id]), Some(by), Some(&body)).await;
    assert_eq!(status, 200, "{kept}");
    serde_json::from_value(kept).unwrap()
}

/// Sends a comment that is held for review: the sender's private answer.
async fn held(ws: &mut Ws, text: &str) -> String {
    ws.send(&ClientMsg::Comment { text: text.try_into().unwrap() }).await;
    ws.recv_until(|m| match m {
        ServerMsg::HeldForReview { text } => Some(text),
        ServerMsg::Event { event: RoomEvent::Comment(c), .. } if c.text == text => panic!("{text:?} was posted"),
        ServerMsg::Error { code, message, .. } => panic!("comment {text:?}: {code}: {message}"),
        _ => None,
    })
    .await
}

/// The next `comment_held` of `room` that reaches a host's or moderator's connection.
async fn comment_held(ws: &mut Ws, room: RoomId) -> HeldComment {
    ws.recv_until(|m| match m {
        ServerMsg::CommentHeld(held) if held.room_id == room => Some(*held),
        _ => None,
    })
    .await
}

/// The next `comment_reviewed` of `room`: the held comment's id, and whether it was approved.
async fn reviewed(ws: &mut Ws, room: RoomId) -> (HeldCommentId, bool) {
    ws.recv_until(|m| match m {
        ServerMsg::CommentReviewed { room_id, id, approved } if room_id == room => Some((id, approved)),
        ServerMsg::Error { code, message, .. } => panic!("waiting for a review: {code}: {message}"),
        _ => None,
    })
    .await
}

/// For the host or a moderator, after an approval: the approved comment's event and the
/// `comment_reviewed` (which come from two streams, in either order).
async fn approved(ws: &mut Ws, room: RoomId, text: &str) -> (u64, CommentView, HeldCommentId) {
    let (mut posted, mut review) = (None, None);
    while posted.is_none() || review.is_none() {
        match ws.recv().await {
            ServerMsg::Event { seq, event: RoomEvent::Comment(c) } if c.text == text => posted = Some((seq, c)),
            ServerMsg::CommentReviewed { room_id, id, approved } if room_id == room => {
                assert!(approved, "held comment {id} was rejected");
                review = Some(id);
            }
            ServerMsg::Error { code, message, .. } => panic!("waiting for an approval: {code}: {message}"),
            _ => {}
        }
    }
    let ((seq, comment), id) = (posted.unwrap(), review.unwrap());
    (seq, comment, id)
}

#[tokio::test]
async fn a_creators_blocked_words_apply_in_every_room_of_theirs_besides_the_rooms_own() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let other = second_room(&app, &scene).await;
    let elsewhere = app.live_room(&[3]).await;
    let (host, creator) = (scene.creator.token.as_str(), scene.host_id().get());
    let kept = block(&app, routes::CREATOR_BLOCKED_WORDS, creator, &["Rival Shop", "scam"], "refuse", host).await;
    assert_eq!(
        kept,
        BlockedWordsBody { words: vec!["rival shop".into(), "scam".into()], action: BlockedAction::Refuse }
    );
    block(&app, routes::ROOM_BLOCKED_WORDS, scene.room.get(), &["spoiler"], "refuse", host).await;
    let read: BlockedWordsBody = app.get(&path(routes::CREATOR_BLOCKED_WORDS, &[creator]), Some(host)).await;
    assert_eq!(read, kept);
    let own: BlockedWordsBody = app.get(&path(routes::ROOM_BLOCKED_WORDS, &[scene.room.get()]), Some(host)).await;
    assert_eq!(own.words, vec!["spoiler"], "a room's list is its own");
    // Left out, the action is `refuse`; another creator's list is not theirs to see.
    let (status, body) = app
        .send(
            Method::PUT,
            &path(routes::CREATOR_BLOCKED_WORDS, &[creator]),
            Some(host),
            Some(&json!({"words": ["scam"]})),
        )
        .await;
    assert_eq!((status.as_u16(), body), (200, json!({"words": ["scam", ], "action": "refuse"})));
    block(&app, routes::CREATOR_BLOCKED_WORDS, creator, &["rival shop", "scam"], "refuse", host).await;
    let (status, _) = app
        .send(Method::GET, &path(routes::CREATOR_BLOCKED_WORDS, &[creator]), Some(&elsewhere.creator.token), None)
        .await;
    assert_eq!(status, 403);
    let (status, body) = app
        .send(Method::PUT, &path(routes::CREATOR_BLOCKED_WORDS, &[creator]), Some(host), Some(&json!({"words": [""]})))
        .await;
    assert_eq!((status.as_u16(), body["error"]["code"].as_str()), (400, Some("invalid_input")));

    for room in [scene.room, other] {
        let (mut guest, _) = app.viewer(room, None).await;
        guest.send(&ClientMsg::Comment { text: "buy at the Rival Shop!".try_into().unwrap() }).await;
        let (code, message) = refused(&mut guest).await;
        assert_eq!(code, "blocked_word");
        assert!(message.contains("\"rival shop\""), "{message}");
        comment(&mut guest, "rival shops are different").await;
    }
    // The room's own list still applies in its room only; another creator's rooms have neither.
    let (mut guest, _) = app.viewer(scene.room, None).await;
    guest.send(&ClientMsg::Comment { text: "spoiler alert".try_into().unwrap() }).await;
    assert_eq!(refused(&mut guest).await.0, "blocked_word");
    let (mut guest, _) = app.viewer(other, None).await;
    comment(&mut guest, "spoiler alert").await;
    let (mut guest, _) = app.viewer(elsewhere.room, None).await;
    comment(&mut guest, "a scam at the rival shop").await;
    // Cleared: allowed again at once.
    block(&app, routes::CREATOR_BLOCKED_WORDS, creator, &[], "refuse", host).await;
    let (mut guest, _) = app.viewer(other, None).await;
    comment(&mut guest, "a scam?").await;
}

#[tokio::test]
async fn a_held_comment_goes_to_the_host_and_moderators_only_until_one_approves_or_rejects_it() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (room, host_token) = (scene.room, scene.creator.token.as_str());
    let (ana, sam) = (app.register(Role::Viewer, "Ana", None).await, app.register(Role::Viewer, "Sam", None).await);
    // Appointed by e-mail address, in any case: whom is said.
    let (status, appointed) = app
        .send(
            Method::POST,
            &path(routes::ROOM_MODERATORS, &[room.get()]),
            Some(host_token),
            Some(&json!({"email": ana.account.email.to_uppercase()})),
        )
        .await;
    assert_eq!(status, 200, "{appointed}");
    let appointed: ModeratorView = serde_json::from_value(appointed).unwrap();
    assert_eq!((appointed.account_id, appointed.room_id), (ana.account.id, Some(room)));
    let (status, _) = app
        .send(
            Method::POST,
            &path(routes::ROOM_MODERATORS, &[room.get()]),
            Some(host_token),
            Some(&json!({"email": "nobody@test.livecart"})),
        )
        .await;
    assert_eq!(status, 404);
    block(&app, routes::ROOM_BLOCKED_WORDS, room.get(), &["scam"], "hold", host_token).await;

    let (mut host, _) = app.viewer(room, Some(host_token)).await;
    let (mut moderator, _) = app.viewer(room, Some(&ana.token)).await;
    let (mut author, _) = app.viewer(room, Some(&sam.token)).await;
    let (mut bystander, _) = app.viewer(room, None).await;
    assert_eq!(held(&mut author, "  is this a scam? ").await, "is this a scam?");
    let first = comment_held(&mut host, room).await;
    assert_eq!(comment_held(&mut moderator, room).await, first);
    assert_eq!(
        (first.author.as_str(), first.author_key.clone(), first.text.as_str(), first.word.as_str()),
        ("Sam", format!("a{}", sam.account.id), "is this a scam?", "scam")
    );
    let queue: Vec<HeldComment> = app.get(&path(routes::ROOM_HELD_COMMENTS, &[room.get()]), Some(&ana.token)).await;
    assert_eq!(queue, vec![first.clone()]);
    let (status, _) =
        app.send(Method::GET, &path(routes::ROOM_HELD_COMMENTS, &[room.get()]), Some(&sam.token), None).await;
    assert_eq!(status, 403, "the queue is for the host and moderators");
    // Nobody but them reviews it.
    author.send(&ClientMsg::ApproveComment { id: first.id }).await;
    assert_eq!(refused(&mut author).await.0, "forbidden");

    // Approved by the moderator: posted for everyone as a comment of now.
    let before = comment(&mut bystander, "meanwhile").await;
    moderator.send(&ClientMsg::ApproveComment { id: first.id }).await;
    for ws in [&mut host, &mut moderator] {
        let (seq, posted, id) = approved(ws, room, "is this a scam?").await;
        assert!(seq > before, "sequenced when approved");
        assert_eq!(
            (posted.author.as_str(), posted.author_key.as_str(), id),
            ("Sam", first.author_key.as_str(), first.id)
        );
    }
    for ws in [&mut author, &mut bystander] {
        let seq = ws
            .recv_until(|m| match m {
                ServerMsg::Event { seq, event: RoomEvent::Comment(c) } if c.text == "is this a scam?" => Some(seq),
                _ => None,
            })
            .await;
        assert!(seq > before, "sequenced when approved");
    }
    moderator.send(&ClientMsg::RejectComment { id: first.id }).await;
    assert_eq!(refused(&mut moderator).await.0, "not_found", "decided once");

    // Rejected by the host: gone, and the author is told nothing.
    held(&mut author, "another scam").await;
    let second = comment_held(&mut host, room).await;
    host.send(&ClientMsg::RejectComment { id: second.id }).await;
    assert_eq!(reviewed(&mut moderator, room).await, (second.id, false));
    let queue: Vec<HeldComment> = app.get(&path(routes::ROOM_HELD_COMMENTS, &[room.get()]), Some(host_token)).await;
    assert!(queue.is_empty());
    // The host and moderators are never held.
    comment(&mut moderator, "no scam here").await;
    let last = comment(&mut bystander, "the end").await;
    let (_, snapshot) = app.viewer(room, None).await;
    let texts: Vec<&str> = snapshot.comments.iter().map(|c| c.comment.text.as_str()).collect();
    assert!(!texts.contains(&"another scam") && texts.contains(&"is this a scam?"), "{texts:?}");
    assert_eq!(snapshot.seq, last);
}

#[tokio::test]
async fn held_comments_are_bounded_per_room_and_end_with_the_room() {
    let app = TestApp::spawn().await;
    let scene = app.live_room(&[3]).await;
    let (room, host_token) = (scene.room, scene.creator.token.as_str());
    block(&app, routes::CREATOR_BLOCKED_WORDS, scene.host_id().get(), &["scam"], "hold", host_token).await;
    let (mut guest, _) = app.viewer(room, None).await;
    for n in 0..HELD_PER_ROOM {
        held(&mut guest, &format!("scam {n}")).await;
    }
    // Full: refused, so that nothing said to be held is dropped unseen.
    guest.send(&ClientMsg::Comment { text: "one scam too many".try_into().unwrap() }).await;
    assert_eq!(refused(&mut guest).await.0, "blocked_word");
    let queue: Vec<HeldComment> = app.get(&path(routes::ROOM_HELD_COMMENTS, &[room.get()]), Some(host_token)).await;
    assert_eq!(queue.len(), HELD_PER_ROOM);
    assert_eq!(queue[0].text, "scam 0", "oldest first");
    let (mut host, _) = app.viewer(room, Some(host_token)).await;
    host.send(&ClientMsg::RejectComment { id: queue[0].id }).await;
    reviewed(&mut host, room).await;
    held(&mut guest, "room again for a scam").await;
    let waiting = queue[1].id;

    let (status, _) = app.send(Method::POST, &path(routes::ROOM_END, &[room.get()]), Some(host_token), None).await;
    assert_eq!(status, 200);
    let queue: Vec<HeldComment> = app.get(&path(routes::ROOM_HELD_COMMENTS, &[room.get()]), Some(host_token)).await;
    assert!(queue.is_empty(), "held comments end with the room");
    host.send(&ClientMsg::ApproveComment { id: waiting }).await;
    assert_eq!(refused(&mut host).await.0, "room_not_live");
}

#[tokio::test]
async fn a_held_comment_reaches_a_moderator_on_another_node_and_a_creator_word_applies_in_a_second_room() {
    let Some(cluster) = Cluster::start(2).await else { return };
    let scene = cluster.node(0).live_room(&[3]).await;
    let (room, host_token, creator) = (scene.room, scene.creator.token.as_str(), scene.host_id().get());
    let other = {
        let req = json!({"title": "Second show", "starts_at": 0, "product_ids": [scene.products[0]]});
        let view: livecart::wire::api::RoomView = cluster.node(0).post(routes::ROOMS, Some(host_token), &req).await;
        let _: serde_json::Value =
            cluster.node(0).post(&path(routes::ROOM_GO_LIVE, &[view.id.get()]), Some(host_token), &()).await;
        view.id
    };
    let ana = cluster.node(1).register(Role::Viewer, "Ana", None).await;
    assert_eq!(
        appoint(cluster.node(0), routes::CREATOR_MODERATOR, &[creator, ana.account.id.get()], &scene.creator).await,
        204
    );
    // Both rooms are served on node 1 before the creator's list changes on node 0.
    let (mut moderator, _) = cluster.node(1).viewer(room, Some(&ana.token)).await;
    let (mut second, _) = cluster.node(1).viewer(other, None).await;
    let (mut author, _) = cluster.node(1).viewer(room, None).await;
    // Node 1 has read the lists (none yet) for the second room.
    comment(&mut second, "no scam yet").await;
    block(cluster.node(0), routes::CREATOR_BLOCKED_WORDS, creator, &["scam"], "hold", host_token).await;
    block(cluster.node(0), routes::ROOM_BLOCKED_WORDS, other.get(), &["rival"], "refuse", host_token).await;

    // Node 1 reads the lists again within a second: the creator's word holds there too,
    // in the second room as in the first; the second room's own word refuses.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        second.send(&ClientMsg::Comment { text: "a scam".try_into().unwrap() }).await;
        let answer = second
            .recv_until(|m| match m {
                ServerMsg::HeldForReview { .. } => Some(true),
                ServerMsg::Event { event: RoomEvent::Comment(c), .. } if c.text == "a scam" => Some(false),
                ServerMsg::Error { code, message, .. } => panic!("{code}: {message}"),
                _ => None,
            })
            .await;
        if answer {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the creator's words never reached node 1");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    second.send(&ClientMsg::Comment { text: "the rival is better".try_into().unwrap() }).await;
    assert_eq!(refused(&mut second).await.0, "blocked_word");
    let (mut host, _) = cluster.node(0).viewer(room, Some(host_token)).await;
    held(&mut author, "is this a scam?").await;
    let on_node_1 = comment_held(&mut moderator, room).await;
    assert_eq!((on_node_1.text.as_str(), on_node_1.word.as_str()), ("is this a scam?", "scam"));
    // Approved on node 0: everyone on node 1 sees it.
    host.send(&ClientMsg::ApproveComment { id: on_node_1.id }).await;
    assert_eq!(approved(&mut moderator, room, "is this a scam?").await.2, on_node_1.id);
    event(&mut author, |e| matches!(e, RoomEvent::Comment(c) if c.text == "is this a scam?").then_some(())).await;
}
