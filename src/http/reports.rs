//! Reports (docs/metrics.md): JSON, or CSV with `?format=csv`.

use super::extract::{AppPath, AppQuery, Auth};
use crate::analytics::report_csv;
use crate::domain::{AccountId, BrandId, CampaignId, RoomId};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::wire::api::ErrorBody;
use crate::wire::report::{
    BrandReport, CampaignReport, CampaignReportQuery, CreatorReport, ReportFormat, ReportQuery, RoomReport,
};
use crate::wire::routes;
use axum::Router;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(routes::ROOM_REPORT, get(room))
        .route(routes::CREATOR_REPORT, get(creator))
        .route(routes::BRAND_REPORT, get(brand))
        .route(routes::CAMPAIGN_REPORT, get(campaign))
}

/// The report as JSON, or as CSV named `{name}.csv`. Reports are private and change
/// with every sale: never cached.
fn respond<T: Serialize>(format: Option<ReportFormat>, report: T, csv: fn(&T) -> String, name: String) -> Response {
    let no_store = (CACHE_CONTROL, "no-store");
    match format.unwrap_or_default() {
        ReportFormat::Json => ([no_store], axum::Json(report)).into_response(),
        ReportFormat::Csv => {
            let disposition = format!("attachment; filename=\"{name}.csv\"");
            (
                [(CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()), (CONTENT_DISPOSITION, disposition)],
                [no_store],
                csv(&report),
            )
                .into_response()
        }
    }
}

/// The room's figures; a live room's so far (poll it for live numbers).
#[utoipa::path(get, path = routes::ROOM_REPORT, params(("room_id" = i64, Path), ReportQuery),
    responses((status = 200, description = "the report; CSV with `format=csv`", content((RoomReport = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorBody, description = "invalid input"), (status = 401, body = ErrorBody, description = "no valid session"),
        (status = 403, body = ErrorBody, description = "not the room's host, co-host, or a brand it sells"), (status = 404, body = ErrorBody)),
    security(("bearer" = [])), tag = "reports")]
pub async fn room(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<RoomId>,
    AppQuery(q): AppQuery<ReportQuery>,
) -> ApiResult<Response> {
    let report = state.reports.room(&auth.account, id, &q).await?;
    Ok(respond(q.format, report, report_csv::room, format!("room-{id}-report")))
}

#[utoipa::path(get, path = routes::CREATOR_REPORT, params(("creator_id" = i64, Path), ReportQuery),
    responses((status = 200, description = "the report; CSV with `format=csv`", content((CreatorReport = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorBody, description = "invalid input"), (status = 401, body = ErrorBody, description = "no valid session"),
        (status = 403, body = ErrorBody, description = "not the creator, a brand or an admin"), (status = 404, body = ErrorBody)),
    security(("bearer" = [])), tag = "reports")]
pub async fn creator(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<AccountId>,
    AppQuery(q): AppQuery<ReportQuery>,
) -> ApiResult<Response> {
    let report = state.reports.creator(&auth.account, id, &q).await?;
    Ok(respond(q.format, report, report_csv::creator, format!("creator-{id}-report")))
}

#[utoipa::path(get, path = routes::BRAND_REPORT, params(("brand_id" = i64, Path), ReportQuery),
    responses((status = 200, description = "the report; CSV with `format=csv`", content((BrandReport = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorBody, description = "invalid input"), (status = 401, body = ErrorBody, description = "no valid session"),
        (status = 403, body = ErrorBody, description = "not a member of the brand"), (status = 404, body = ErrorBody)),
    security(("bearer" = [])), tag = "reports")]
pub async fn brand(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<BrandId>,
    AppQuery(q): AppQuery<ReportQuery>,
) -> ApiResult<Response> {
    let report = state.reports.brand(&auth.account, id, &q).await?;
    Ok(respond(q.format, report, report_csv::brand, format!("brand-{id}-report")))
}

#[utoipa::path(get, path = routes::CAMPAIGN_REPORT, params(("campaign_id" = i64, Path), CampaignReportQuery),
    responses((status = 200, description = "the report; CSV with `format=csv`", content((CampaignReport = "application/json"), (String = "text/csv"))),
        (status = 400, body = ErrorBody, description = "invalid input"), (status = 401, body = ErrorBody, description = "no valid session"),
        (status = 404, body = ErrorBody, description = "no such campaign of the caller's brand")),
    security(("bearer" = [])), tag = "reports")]
pub async fn campaign(
    State(state): State<AppState>,
    auth: Auth,
    AppPath(id): AppPath<CampaignId>,
    AppQuery(q): AppQuery<CampaignReportQuery>,
) -> ApiResult<Response> {
    let report = state.reports.campaign(&auth.account, id, &q).await?;
    Ok(respond(q.format, report, report_csv::campaign, format!("campaign-{id}-report")))
}
