//! A brand's campaigns.

use super::extract::{AppJson, AppPath, Auth};
use crate::domain::CampaignId;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::api::ErrorBody;
use crate::wire::report::{CampaignPatchRequest, CampaignView, NewCampaignRequest};
use crate::wire::routes;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new().route(routes::CAMPAIGNS, get(list).post(create)).route(routes::CAMPAIGN, get(one).patch(update))
}

/// The caller's brand's campaigns, newest first (every brand's, to an admin).
#[utoipa::path(get, path = routes::CAMPAIGNS, responses((status = 200, body = Vec<CampaignView>), (status = 401, body = ErrorBody, description = "no valid session"),
    (status = 403, body = ErrorBody, description = "not a brand member or an admin")), security(("bearer" = [])), tag = "campaigns")]
pub async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<AppJson<Vec<CampaignView>>> {
    Ok(AppJson(state.campaigns.list(&auth.account).await?))
}

/// A campaign of the caller's brand: its own agreements, and rooms hosted by their creators.
#[utoipa::path(post, path = routes::CAMPAIGNS, request_body = NewCampaignRequest, responses((status = 201, body = CampaignView),
    (status = 400, body = ErrorBody, description = "invalid input, another brand's agreement, or a room not hosted by the agreements' creators"),
    (status = 401, body = ErrorBody, description = "no valid session"), (status = 403, body = ErrorBody, description = "not a brand member"),
    (status = 409, body = ErrorBody, description = "the brand has as many campaigns as it may")), security(("bearer" = [])), tag = "campaigns")]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    AppJson(req): AppJson<NewCampaignRequest>,
) -> ApiResult<(StatusCode, AppJson<CampaignView>)> {
    Ok((StatusCode::CREATED, AppJson(state.campaigns.create(&auth.account, req).await?)))
}

#[utoipa::path(get, path = routes::CAMPAIGN, params(("campaign_id" = i64, Path)), responses((status = 200, body = CampaignView),
    (status = 401, body = ErrorBody, description = "no valid session"), (status = 404, body = ErrorBody, description = "no such campaign of the caller's brand")),
    security(("bearer" = [])), tag = "campaigns")]
pub async fn one(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<CampaignId>,
) -> ApiResult<AppJson<CampaignView>> {
    Ok(AppJson(state.campaigns.get(&auth.account, id).await?))
}

/// Changes a campaign: the fields given replace the old (`agreement_ids` and `room_ids` whole).
#[utoipa::path(patch, path = routes::CAMPAIGN, params(("campaign_id" = i64, Path)), request_body = CampaignPatchRequest, responses((status = 200, body = CampaignView),
    (status = 400, body = ErrorBody, description = "invalid input"), (status = 401, body = ErrorBody, description = "no valid session"),
    (status = 403, body = ErrorBody, description = "an admin reads campaigns but does not change them"),
    (status = 404, body = ErrorBody, description = "no such campaign of the caller's brand")), security(("bearer" = [])), tag = "campaigns")]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<CampaignId>,
    AppJson(req): AppJson<CampaignPatchRequest>,
) -> ApiResult<AppJson<CampaignView>> {
    Ok(AppJson(state.campaigns.update(&auth.account, id, req).await?))
}
