//! The OpenAPI description of the REST API, generated from the handlers and wire types.

use super::{
    agreements, auth, campaigns, creators, follows, giveaways, health, ice, keywords, media, moderation, offers,
    orders, payments, products, promo_codes, reports, rooms, wallet,
};
use crate::state::AppState;
use crate::wire::routes;
use axum::Router;
use axum::routing::get;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "livecart", description = "Live-shopping backend: rooms, catalogue, agreements, attributed orders. The room protocol itself is WebSocket, at /ws (docs/protocol.md)."),
    paths(
        health::health, health::ready,
        auth::register, auth::login, auth::logout, auth::me,
        wallet::wallet, wallet::save_card, wallet::remove_card, wallet::save_address, wallet::remove_address,
        follows::followed, follows::follow, follows::unfollow, follows::upcoming, offers::mine,
        moderation::room_moderators, moderation::appoint_in_room, moderation::appoint_in_room_by_email,
        moderation::dismiss_in_room, moderation::creator_moderators, moderation::appoint_for_creator,
        moderation::appoint_for_creator_by_email, moderation::dismiss_for_creator,
        moderation::blocked_words, moderation::set_blocked_words, moderation::creator_blocked_words,
        moderation::set_creator_blocked_words, moderation::held_comments, moderation::bans, moderation::lift_ban,
        products::list, products::create, products::one, products::update, products::set_stock,
        creators::list, creators::one, creators::set_followers, creators::attributed_orders, creators::earnings,
        agreements::list, agreements::create, agreements::end,
        promo_codes::list, promo_codes::create, promo_codes::revoke,
        rooms::list, rooms::create, rooms::one, rooms::go_live, rooms::end, rooms::co_host, rooms::rehearse,
        rooms::checkout,
        giveaways::one, keywords::list, keywords::set,
        orders::mine, orders::one, orders::of_brand, orders::refund, orders::refunds,
        campaigns::list, campaigns::create, campaigns::one, campaigns::update,
        reports::room, reports::creator, reports::brand, reports::campaign,
        payments::stripe_webhook,
        media::publish, media::unpublish, media::watch, media::unwatch, ice::ice_servers,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        let components = api.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route(routes::OPENAPI, get(|| async { axum::Json(ApiDoc::openapi()) }))
}
