//! "Remind me": following creators, their upcoming shows, and `going_live` on every open
//! connection of every follower, on one node and across nodes.

use crate::helpers::{Client, TestApp, Ws};
use crate::nodes::Cluster;
use livecart::domain::{Role, RoomId};
use livecart::wire::api::{RoomView, SessionResponse};
use livecart::wire::routes::{self, path};
use livecart::wire::ws::{ClientMsg, HostCard, RoomCard, ServerMsg};
use reqwest::Method;
use std::time::Duration;

async fn follow(client: &Client, who: &SessionResponse, creator: &SessionResponse) {
    let route = path(routes::FOLLOW, &[creator.account.id.get()]);
    let (status, body) = client.send(Method::PUT, &route, Some(&who.token), None).await;
    assert_eq!(status, 204, "follow: {body}");
}

async fn go_live(client: &Client, host: &SessionResponse, room: RoomId) {
    let _: RoomView = client.post(&path(routes::ROOM_GO_LIVE, &[room.get()]), Some(&host.token), &()).await;
}

/// A connection that listens for the account's notices.
async fn listener(client: &Client, who: &SessionResponse) -> Ws {
    let mut ws = client.ws().await;
    ws.send(&ClientMsg::Listen { token: who.token.clone() }).await;
    let id = ws
        .recv_until(|m| match m {
            ServerMsg::Listening { account_id } => Some(account_id),
            ServerMsg::Error { code, .. } => panic!("listen: {code}"),
            _ => None,
        })
        .await;
    assert_eq!(id, who.account.id);
    ws
}

async fn going_live(ws: &mut Ws) -> RoomCard {
    ws.recv_until(|m| match m {
        ServerMsg::GoingLive { room } => Some(*room),
        _ => None,
    })
    .await
}

#[tokio::test]
async fn following_is_idempotent_counts_followers_and_lists_the_creators_shows() {
    let app = TestApp::spawn().await;
    let first = app.scheduled_room(&[3], "EUR").await;
    let other = app.scheduled_room(&[3], "EUR").await;
    let fan = app.register(Role::Viewer, "Fan", None).await;
    let followers = |n: &Vec<HostCard>| n.iter().map(|h| h.followers).collect::<Vec<_>>();

    follow(&app, &fan, &first.creator).await;
    follow(&app, &fan, &first.creator).await;
    let followed: Vec<HostCard> = app.get(routes::FOLLOWS, Some(&fan.token)).await;
    assert_eq!(followed.iter().map(|h| h.id).collect::<Vec<_>>(), vec![first.creator.account.id]);
    assert_eq!(followers(&followed), vec![1], "following twice counts once");

    let upcoming: Vec<RoomView> = app.get(routes::UPCOMING, Some(&fan.token)).await;
    assert_eq!(upcoming.iter().map(|r| r.id).collect::<Vec<_>>(), vec![first.room], "only followed creators' shows");
    assert_eq!(upcoming[0].lineup.len(), 1, "with the lineup");

    // Not a creator, or nobody: not found; oneself: invalid; nothing changed.
    let viewer = app.register(Role::Viewer, "Viewer", None).await;
    for id in [viewer.account.id.get(), first.brand.account.id.get(), i64::MAX] {
        let (got, body) = app.send(Method::PUT, &path(routes::FOLLOW, &[id]), Some(&fan.token), None).await;
        assert_eq!((got.as_u16(), body["error"]["code"].as_str()), (404, Some("not_found")), "follow {id}");
    }
    let (got, body) = app
        .send(Method::PUT, &path(routes::FOLLOW, &[first.creator.account.id.get()]), Some(&first.creator.token), None)
        .await;
    assert_eq!((got.as_u16(), body["error"]["code"].as_str()), (400, Some("invalid_input")));

    let unfollow = path(routes::FOLLOW, &[first.creator.account.id.get()]);
    for _ in 0..2 {
        let (status, _) = app.send(Method::DELETE, &unfollow, Some(&fan.token), None).await;
        assert_eq!(status, 204, "unfollowing is idempotent");
    }
    let followed: Vec<HostCard> = app.get(routes::FOLLOWS, Some(&fan.token)).await;
    assert!(followed.is_empty());
    let host: HostCard = app.get(&path(routes::CREATOR, &[first.creator.account.id.get()]), None).await;
    assert_eq!(host.followers, 0, "unfollowing takes the follower off");

    // The room list narrows to one host: a recap's "next show".
    let theirs: Vec<RoomView> =
        app.get(&format!("{}?status=upcoming&host={}", routes::ROOMS, other.creator.account.id), None).await;
    assert_eq!(theirs.iter().map(|r| r.id).collect::<Vec<_>>(), vec![other.room]);
}

#[tokio::test]
async fn followers_hear_a_show_go_live_on_every_connection_and_nobody_else_does() {
    let app = TestApp::spawn().await;
    let show = app.scheduled_room(&[3], "EUR").await;
    let elsewhere = app.live_room(&[3]).await;
    let fan = app.register(Role::Viewer, "Fan", None).await;
    let stranger = app.register(Role::Viewer, "Stranger", None).await;
    follow(&app, &fan, &show.creator).await;

    let mut lobby = listener(&app, &fan).await;
    let (mut watching, _) = app.viewer(elsewhere.room, Some(&fan.token)).await;
    let mut not_a_fan = listener(&app, &stranger).await;
    go_live(&app, &show.creator, show.room).await;
    for ws in [&mut lobby, &mut watching] {
        let room = going_live(ws).await;
        assert_eq!((room.id, room.host.id), (show.room, show.creator.account.id));
        assert_eq!(room.status, livecart::wire::ws::RoomStatus::Live);
    }

    // The stranger's first notice is the one for the creator they follow, not the other.
    let later = app.scheduled_room(&[3], "EUR").await;
    follow(&app, &stranger, &later.creator).await;
    go_live(&app, &later.creator, later.room).await;
    assert_eq!(going_live(&mut not_a_fan).await.id, later.room);

    // A listen connection only receives.
    lobby.send(&ClientMsg::Comment { text: "hi".try_into().unwrap() }).await;
    assert_eq!(lobby.error_code().await, "invalid_input");
    // A guest has no notices; a bad token is refused and the connection stays usable.
    let mut guest = app.ws().await;
    guest.send(&ClientMsg::Listen { token: "no-such-session".into() }).await;
    assert_eq!(guest.error_code().await, "unauthenticated");
    guest.send(&ClientMsg::Listen { token: fan.token.clone() }).await;
    guest.recv_until(|m| matches!(m, ServerMsg::Listening { .. }).then_some(())).await;
}

#[tokio::test]
async fn a_show_going_live_on_one_node_reaches_followers_connected_to_another() {
    let Some(cluster) = Cluster::start(2).await else { return };
    let show = cluster.node(0).scheduled_room(&[3], "EUR").await;
    let fan = cluster.node(1).register(Role::Viewer, "Fan", None).await;
    follow(cluster.node(1), &fan, &show.creator).await;
    let mut lobby = listener(cluster.node(1), &fan).await;
    go_live(cluster.node(0), &show.creator, show.room).await;
    let room = tokio::time::timeout(Duration::from_secs(10), going_live(&mut lobby)).await.expect("told in time");
    assert_eq!(room.id, show.room);
}
