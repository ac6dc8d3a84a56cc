//! Demo data for the embedded default: a brand, a creator with a live room, a viewer,
//! and the logins to try them with. Seeding twice changes nothing.

use crate::accounts::{AccountError, Accounts, Registration};
use crate::domain::{
    BasisPoints, Currency, DisplayName, Email, ImageUrl, Invalid, Password, Price, ProductDescription, ProductTitle,
    Role, Stock, UnixMs,
};
use crate::room::{RoomError, Rooms};
use crate::store::{AccountRow, AgreementTerms, NewProduct, Store, StoreError};
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

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("demo data is not valid")]
    Invalid(#[from] Invalid),
    #[error("registering a demo account")]
    Account(#[from] AccountError),
    #[error("taking the demo room live")]
    Room(#[from] RoomError),
    #[error("database")]
    Store(#[from] StoreError),
    #[error("the demo brand member has no brand")]
    NoBrand,
    #[error("the demo brand already has as many products as it may have")]
    CatalogueFull,
}

async fn register(
    accounts: &Accounts,
    login: &DemoLogin,
    name: &str,
    brand: Option<&str>,
) -> Result<AccountRow, SeedError> {
    let r = Registration {
        email: Email::try_from(login.email.to_owned())?,
        password: Password::try_from(login.password.to_owned())?,
        display_name: DisplayName::try_from(name)?,
        role: login.role,
        brand_name: brand.map(DisplayName::try_from).transpose()?,
    };
    Ok(accounts.register(r).await?.account)
}

/// Seeds the demo unless its creator already exists.
pub async fn seed_demo(accounts: &Accounts, rooms: &Rooms, store: &Store, now: UnixMs) -> Result<(), SeedError> {
    if store.account_by_email(DEMO_LOGINS[0].email).await?.is_some() {
        return Ok(());
    }
    let creator = register(accounts, &DEMO_LOGINS[0], "Maya Glows", None).await?;
    store.set_followers(creator.id, 8_400).await?;
    let brand_member = register(accounts, &DEMO_LOGINS[1], "Glow Labs team", Some("Glow Labs")).await?;
    register(accounts, &DEMO_LOGINS[2], "Sam", None).await?;
    let brand = brand_member.brand_id.ok_or(SeedError::NoBrand)?;
    let mut lineup = Vec::new();
    for (title, description, price, stock) in PRODUCTS {
        let product = NewProduct {
            title: ProductTitle::try_from(title)?,
            description: ProductDescription::try_from(description)?,
            image_url: ImageUrl::try_from(format!("/img/{}.svg", title.to_lowercase().replace(' ', "-")))?,
            price: Price::try_from(price)?,
            currency: Currency::try_from("EUR")?,
            stock: Stock::try_from(stock)?,
        };
        let p = store.create_product(brand, &product, now).await?.ok_or(SeedError::CatalogueFull)?;
        let terms = AgreementTerms {
            bps: BasisPoints::try_from(1_500)?,
            flat: Price::try_from(0)?,
            co_host_share: crate::domain::ShareBps::DEFAULT,
        };
        store.create_agreement(brand, creator.id, p.id, terms, now).await?;
        lineup.push(p.id);
    }
    let live = store.create_room(creator.id, "Sunday glow-up: live skincare routine", now, &lineup, now).await?;
    rooms.go_live(live.id, &creator).await?;
    let later = now.plus(Duration::from_secs(2 * 24 * 3600));
    store.create_room(creator.id, "Lip oil launch night", later, &lineup[2..], now).await?;
    Ok(())
}
