//! Demo data for the embedded default: a brand, a creator with a live room, a viewer,
//! and the logins to try them with. Seeding twice changes nothing.

use crate::accounts::{self, Registration};
use crate::app::AppState;
use crate::domain::{BasisPoints, Currency, DisplayName, Email, Password, Price, ProductTitle, Role, Stock, UnixMs};
use crate::error::{AppError, AppResult};
use crate::room::actions;
use crate::store::NewProduct;
use std::time::Duration;

pub struct DemoLogin {
    pub role: Role,
    pub email: &'static str,
    pub password: &'static str,
}

pub const DEMO_LOGINS: [DemoLogin; 3] = [
    DemoLogin { role: Role::Creator, email: "maya@demo.livecart", password: "demo-creator-pass" },
    DemoLogin { role: Role::Brand, email: "brand@demo.livecart", password: "demo-brand-pass" },
    DemoLogin { role: Role::Viewer, email: "viewer@demo.livecart", password: "demo-viewer-pass" },
];

const PRODUCTS: [(&str, &str, i64, i64); 3] = [
    ("Dew Drop Serum", "Hyaluronic serum, 30 ml", 2_900, 120),
    ("Cloud Cleanser", "Gentle gel cleanser, 150 ml", 1_800, 200),
    ("Sunset Lip Oil", "Tinted lip oil, limited shade", 1_400, 60),
];

fn invalid(e: crate::domain::Invalid) -> AppError {
    AppError::Internal(format!("seed data: {e}"))
}

async fn register(
    state: &AppState,
    login: &DemoLogin,
    name: &str,
    brand: Option<&str>,
) -> AppResult<crate::store::AccountRow> {
    let r = Registration {
        email: Email::try_from(login.email.to_owned()).map_err(invalid)?,
        password: Password::try_from(login.password.to_owned()).map_err(invalid)?,
        display_name: DisplayName::try_from(name).map_err(invalid)?,
        role: login.role,
        brand_name: brand.map(DisplayName::try_from).transpose().map_err(invalid)?,
    };
    Ok(accounts::register(state, r).await?.account)
}

/// Seeds the demo unless its creator already exists.
pub async fn seed_demo(state: &AppState) -> AppResult<()> {
    if state.store.account_by_email(DEMO_LOGINS[0].email).await?.is_some() {
        return Ok(());
    }
    let creator = register(state, &DEMO_LOGINS[0], "Maya Glows", None).await?;
    state.store.set_followers(creator.id, 8_400).await?;
    let brand_member = register(state, &DEMO_LOGINS[1], "Glow Labs team", Some("Glow Labs")).await?;
    register(state, &DEMO_LOGINS[2], "Sam", None).await?;
    let brand = brand_member.brand_id.ok_or_else(|| AppError::Internal("brand member without brand".into()))?;
    let now = state.clock.now();
    let mut lineup = Vec::new();
    for (title, description, price, stock) in PRODUCTS {
        let product = NewProduct {
            title: ProductTitle::try_from(title).map_err(invalid)?,
            description: description.to_owned(),
            image_url: format!("/img/{}.svg", title.to_lowercase().replace(' ', "-")),
            price: Price::try_from(price).map_err(invalid)?,
            currency: Currency::try_from("EUR").map_err(invalid)?,
            stock: Stock::try_from(stock).map_err(invalid)?,
        };
        let p = state.store.create_product(brand, &product, now).await?;
        let bps = BasisPoints::try_from(1_500).map_err(invalid)?;
        state.store.create_agreement(brand, creator.id, p.id, bps, Price::try_from(0).map_err(invalid)?, now).await?;
        lineup.push(p.id);
    }
    let live = state.store.create_room(creator.id, "Sunday glow-up: live skincare routine", now, &lineup, now).await?;
    actions::go_live(state, live.id, &creator).await?;
    let later = UnixMs(now.0).plus(Duration::from_secs(2 * 24 * 3600));
    state.store.create_room(creator.id, "Lip oil launch night", later, &lineup[2..], now).await?;
    Ok(())
}
