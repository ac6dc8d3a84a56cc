use super::extract::{AppJson, AppPath, Auth};
use crate::domain::{BrandId, ProductId};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::api::{ErrorBody, NewProductRequest, Product, ProductPatchRequest, StockRequest};
use crate::wire::routes;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::BRAND_PRODUCTS, get(list).post(create))
        .route(routes::PRODUCT, get(one).patch(update))
        .route(routes::PRODUCT_STOCK, put(set_stock))
}

#[utoipa::path(get, path = routes::BRAND_PRODUCTS, params(("brand_id" = i64, Path)), responses((status = 200, body = Vec<Product>, description = "every product of the brand (at most 1,000), by id")), tag = "catalogue")]
pub async fn list(State(state): State<AppState>, AppPath(brand): AppPath<BrandId>) -> ApiResult<AppJson<Vec<Product>>> {
    Ok(AppJson(state.commerce.products_of_brand(brand).await?))
}

#[utoipa::path(post, path = routes::BRAND_PRODUCTS, params(("brand_id" = i64, Path)), request_body = NewProductRequest, responses((status = 201, body = Product), (status = 400, body = ErrorBody, description = "invalid input"), (status = 401, body = ErrorBody, description = "no valid session"), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody, description = "`conflict`: the brand already has 1,000 products; nothing was made")), security(("bearer" = [])), tag = "catalogue")]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(brand): AppPath<BrandId>,
    AppJson(req): AppJson<NewProductRequest>,
) -> ApiResult<(StatusCode, AppJson<Product>)> {
    Ok((StatusCode::CREATED, AppJson(state.commerce.create_product(&auth.account, brand, req).await?)))
}

#[utoipa::path(get, path = routes::PRODUCT, params(("product_id" = i64, Path)), responses((status = 200, body = Product), (status = 404, body = ErrorBody)), tag = "catalogue")]
pub async fn one(State(state): State<AppState>, AppPath(id): AppPath<ProductId>) -> ApiResult<AppJson<Product>> {
    Ok(AppJson(state.commerce.product(id).await?))
}

#[utoipa::path(patch, path = routes::PRODUCT, params(("product_id" = i64, Path)), request_body = ProductPatchRequest, responses((status = 200, body = Product), (status = 400, body = ErrorBody, description = "invalid input"), (status = 401, body = ErrorBody, description = "no valid session"), (status = 403, body = ErrorBody)), security(("bearer" = [])), tag = "catalogue")]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<ProductId>,
    AppJson(req): AppJson<ProductPatchRequest>,
) -> ApiResult<AppJson<Product>> {
    Ok(AppJson(state.commerce.update_product(&auth.account, id, req).await?))
}

#[utoipa::path(put, path = routes::PRODUCT_STOCK, params(("product_id" = i64, Path)), request_body = StockRequest, responses((status = 200, body = Product), (status = 400, body = ErrorBody, description = "invalid input"), (status = 401, body = ErrorBody, description = "no valid session"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`conflict`: the units on hand are no longer `expected`; nothing changed")), security(("bearer" = [])), tag = "catalogue")]
pub async fn set_stock(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<ProductId>,
    AppJson(req): AppJson<StockRequest>,
) -> ApiResult<AppJson<Product>> {
    Ok(AppJson(state.commerce.set_stock(&auth.account, id, req.stock, req.expected).await?))
}
