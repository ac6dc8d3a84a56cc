//! REST request and response bodies. Requests use the domain's checked types, so a body
//! that deserialises is already valid; e-mail and password stay strings on the wire and
//! are checked by the handler, so that they never appear in a `Debug` of the body.

use crate::domain::{
    AccountId, AgreementId, BasisPoints, BrandId, Currency, DisplayName, IdempotencyKey, ImageUrl, Money, OrderId,
    Price, ProductDescription, ProductId, ProductTitle, Quantity, Role, RoomTitle, Stock, Tier, UnixMs,
};
use crate::wire::ws::{HostCard, OrderLineView, OrderStatus, ProductCard, RoomStatus};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub display_name: DisplayName,
    pub role: Role,
    /// Brand members register their brand with their account.
    #[serde(default)]
    pub brand_name: Option<DisplayName>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionResponse {
    /// Send as `Authorization: Bearer <token>`, or in the WebSocket `join`.
    pub token: String,
    pub account: AccountView,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: AccountId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub brand_id: Option<BrandId>,
    pub followers: i64,
    pub tier: Option<Tier>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProductRequest {
    pub title: ProductTitle,
    #[serde(default)]
    #[schema(value_type = String)]
    pub description: ProductDescription,
    #[serde(default)]
    #[schema(value_type = String)]
    pub image_url: ImageUrl,
    pub price: Price,
    pub currency: Currency,
    pub stock: Stock,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatchRequest {
    #[serde(default)]
    pub title: Option<ProductTitle>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Option<ProductDescription>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub image_url: Option<ImageUrl>,
    #[serde(default)]
    pub price: Option<Price>,
}

/// A product with everything about it: its card (what rooms show) and its description.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Product {
    #[serde(flatten)]
    pub card: ProductCard,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockRequest {
    pub stock: Stock,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowersRequest {
    pub followers: Stock,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAgreementRequest {
    pub creator_id: AccountId,
    pub product_id: ProductId,
    pub commission_bps: BasisPoints,
    /// Per unit, in the product's currency.
    #[serde(default)]
    pub commission_flat: Option<Price>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgreementView {
    pub id: AgreementId,
    pub brand_id: BrandId,
    pub creator_id: AccountId,
    pub product_id: ProductId,
    pub commission_bps: i64,
    pub commission_flat: i64,
    pub created_at: UnixMs,
    pub ended_at: Option<UnixMs>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRoomRequest {
    pub title: RoomTitle,
    pub starts_at: UnixMs,
    /// The products to sell, in lineup order; each needs an active agreement with the host.
    pub product_ids: Vec<ProductId>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoomView {
    pub id: crate::domain::RoomId,
    pub title: String,
    pub status: RoomStatus,
    pub starts_at: UnixMs,
    pub live_at: Option<UnixMs>,
    pub ended_at: Option<UnixMs>,
    pub host: HostCard,
    pub lineup: Vec<ProductCard>,
    /// Viewers connected to this node now.
    pub viewers: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoomFilter {
    Live,
    Upcoming,
    Ended,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomListQuery {
    #[serde(default)]
    pub status: Option<RoomFilter>,
    /// Rooms to return: 1 to 100, 20 by default.
    #[serde(default)]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Earnings {
    pub orders: i64,
    pub sales: Money,
    pub commission: Money,
}

/// An order as the creator it is attributed to, or a brand selling in it, sees it: the
/// buyer appears by display name; their account and their idempotency key stay theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttributedOrder {
    pub id: OrderId,
    pub room_id: crate::domain::RoomId,
    pub creator_id: AccountId,
    pub buyer_name: String,
    pub status: OrderStatus,
    pub lines: Vec<OrderLineView>,
    pub subtotal: Money,
    pub commission: Money,
    pub refunded: Money,
    pub created_at: UnixMs,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatorOrders {
    pub orders: Vec<AttributedOrder>,
    /// Paid sales attributed to the creator and commission owed, per currency.
    pub earnings: Vec<Earnings>,
}

/// A creator's commission in one currency, read from the commission ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CommissionBalance {
    /// Accrued on paid orders.
    pub accrued: Money,
    /// Given back because the sale was refunded.
    pub reversed: Money,
    /// Paid out: lines whose return window has passed.
    pub settled: Money,
    /// accrued − reversed − settled: still to be paid (negative when a refund came after
    /// the line had settled, and the creator owes it back).
    pub owed: Money,
}

/// A refund of a paid order: all of the lines the caller may refund, or the units named.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// Chosen by the caller, one per refund: the same key never refunds twice.
    #[schema(value_type = String)]
    pub idempotency_key: IdempotencyKey,
    /// The units to refund; absent means every unit left of the lines the caller may refund.
    #[serde(default)]
    pub lines: Option<Vec<RefundLineRequest>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLineRequest {
    pub product_id: ProductId,
    pub quantity: Quantity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    /// Asked of the provider, no answer yet: retry with the same key.
    Pending,
    Refunded,
    /// The provider refused; nothing was returned, the units stay sold.
    RefundFailed,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefundView {
    pub id: i64,
    pub order_id: OrderId,
    pub status: RefundStatus,
    pub amount: Money,
    pub lines: Vec<RefundLineView>,
    /// Why the provider refused, for `refund_failed`.
    pub failure: Option<String>,
    pub created_at: UnixMs,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RefundLineView {
    pub product_id: ProductId,
    pub quantity: i64,
    /// Minor units of the order's currency.
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Readiness {
    pub database: &'static str,
    pub redis: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}
