//! Route paths. Paths with `{param}` segments are axum 0.8 templates; [`path`] fills them.

pub const HEALTH: &str = "/health";
pub const READY: &str = "/ready";
pub const OPENAPI: &str = "/api/openapi.json";
pub const ASYNCAPI: &str = "/api/asyncapi.json";
pub const WS: &str = "/ws";

pub const REGISTER: &str = "/api/auth/register";
pub const LOGIN: &str = "/api/auth/login";
pub const LOGOUT: &str = "/api/auth/logout";
pub const ME: &str = "/api/me";
/// The caller's saved payment method and shipping address (one-tap buy).
pub const WALLET: &str = "/api/me/wallet";
pub const WALLET_PAYMENT_METHOD: &str = "/api/me/wallet/payment-method";
pub const WALLET_SHIPPING_ADDRESS: &str = "/api/me/wallet/shipping-address";
pub const FOLLOWS: &str = "/api/me/follows";
pub const FOLLOW: &str = "/api/me/follows/{creator_id}";
pub const UPCOMING: &str = "/api/me/upcoming";
/// The caller's open offers (an auction won).
pub const OFFERS: &str = "/api/me/offers";

pub const BRAND_PRODUCTS: &str = "/api/brands/{brand_id}/products";
pub const BRAND_ORDERS: &str = "/api/brands/{brand_id}/orders";
pub const BRAND_REPORT: &str = "/api/brands/{brand_id}/report";
pub const PRODUCT: &str = "/api/products/{product_id}";
pub const PRODUCT_STOCK: &str = "/api/products/{product_id}/stock";

pub const CREATORS: &str = "/api/creators";
pub const CREATOR: &str = "/api/creators/{creator_id}";
pub const CREATOR_ORDERS: &str = "/api/creators/{creator_id}/orders";
pub const CREATOR_EARNINGS: &str = "/api/creators/{creator_id}/earnings";
pub const CREATOR_REPORT: &str = "/api/creators/{creator_id}/report";
/// The moderators of all the creator's rooms.
pub const CREATOR_MODERATORS: &str = "/api/creators/{creator_id}/moderators";
pub const CREATOR_MODERATOR: &str = "/api/creators/{creator_id}/moderators/{account_id}";
/// The bans in force in the creator's rooms; one of them, to lift it.
pub const CREATOR_BANS: &str = "/api/creators/{creator_id}/bans";
pub const CREATOR_BAN: &str = "/api/creators/{creator_id}/bans/{ban_id}";
/// The creator's blocked words, for all their rooms.
pub const CREATOR_BLOCKED_WORDS: &str = "/api/creators/{creator_id}/blocked-words";

pub const AGREEMENTS: &str = "/api/agreements";
pub const AGREEMENT: &str = "/api/agreements/{agreement_id}";

pub const PROMO_CODES: &str = "/api/promo-codes";
pub const PROMO_CODE: &str = "/api/promo-codes/{promo_code_id}";

pub const ROOMS: &str = "/api/rooms";
pub const ROOM: &str = "/api/rooms/{room_id}";
pub const ROOM_GO_LIVE: &str = "/api/rooms/{room_id}/live";
pub const ROOM_END: &str = "/api/rooms/{room_id}/end";
pub const ROOM_REPORT: &str = "/api/rooms/{room_id}/report";
/// The host (or an admin) sets or clears the room's co-host.
pub const ROOM_CO_HOST: &str = "/api/rooms/{room_id}/co-host";
/// The host opens a private rehearsal of a scheduled room.
pub const ROOM_REHEARSAL: &str = "/api/rooms/{room_id}/rehearsal";
/// Checks out the caller's cart in the room (as the WebSocket `checkout` does).
pub const ROOM_CHECKOUT: &str = "/api/rooms/{room_id}/checkout";
/// The room's moderators (with those of all its host's rooms).
pub const ROOM_MODERATORS: &str = "/api/rooms/{room_id}/moderators";
pub const ROOM_MODERATOR: &str = "/api/rooms/{room_id}/moderators/{account_id}";
/// The room's blocked words.
pub const ROOM_BLOCKED_WORDS: &str = "/api/rooms/{room_id}/blocked-words";
/// The room's comment-to-buy keywords.
pub const ROOM_KEYWORDS: &str = "/api/rooms/{room_id}/keywords";
/// The comments held for review in the room.
pub const ROOM_HELD_COMMENTS: &str = "/api/rooms/{room_id}/held-comments";
pub const GIVEAWAY: &str = "/api/giveaways/{giveaway_id}";
/// WHIP (RFC 9725): the host publishes the room's stream.
pub const WHIP: &str = "/api/rooms/{room_id}/whip";
pub const WHIP_SESSION: &str = "/api/rooms/{room_id}/whip/{session_id}";
/// WHEP: a viewer receives the room's stream.
pub const WHEP: &str = "/api/rooms/{room_id}/whep";
pub const WHEP_SESSION: &str = "/api/rooms/{room_id}/whep/{session_id}";
/// The STUN/TURN servers (TURN with time-limited credentials) for WHIP and WHEP clients.
pub const ICE: &str = "/api/ice";

pub const CAMPAIGNS: &str = "/api/campaigns";
pub const CAMPAIGN: &str = "/api/campaigns/{campaign_id}";
pub const CAMPAIGN_REPORT: &str = "/api/campaigns/{campaign_id}/report";

pub const ORDERS: &str = "/api/orders";
pub const ORDER: &str = "/api/orders/{order_id}";
pub const ORDER_REFUNDS: &str = "/api/orders/{order_id}/refunds";

/// Stripe's webhook deliveries (payment intent outcomes), signed with the endpoint secret.
pub const STRIPE_WEBHOOK: &str = "/api/payments/stripe/webhook";

/// Fills the `{param}` segments of a route template in order.
///
/// ```
/// assert_eq!(livecart::wire::routes::path(livecart::wire::routes::ROOM, &[7]), "/api/rooms/7");
/// ```
pub fn path(template: &str, ids: &[i64]) -> String {
    let mut out = String::with_capacity(template.len() + 8);
    let mut ids = ids.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        match ids.next() {
            Some(id) => out.push_str(&id.to_string()),
            None => out.push_str(&rest[open..close]),
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}
