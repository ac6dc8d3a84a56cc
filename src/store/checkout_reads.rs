//! What a checkout reads before it holds anything, read for every checkout that asks at
//! the same moment at once.
//!
//! A checkout needs seven answers from the database before it can hold stock: what its
//! key already bought or was refused, the buyer's saved address, and the room, its live
//! drop, the products and the host's agreements that price the cart, the last four as
//! two joins ([`super::columns`]). They go as one list of five reads ([`super::reads`]):
//! one command to SQLite's worker thread, one statement after another on one connection
//! to PostgreSQL. All of them are read, even for a key seen before (whose pricing is
//! then unused): a retry is rare, and one round trip costs less than deciding between
//! two.
//!
//! At a hot sale those five statements per checkout were most of the database's work
//! (each an index lookup, each a round trip and a statement's fixed cost), so one reader
//! per store gathers the checkouts that ask while its previous list is being read and
//! reads for all of them in one list of the same five reads, each naming every
//! checkout's key, account, room or products, like the group commit of the writes
//! ([`super::group_commit`]). Each statement still sees what was committed when it ran.

use super::catalog::{priced_product, priced_products_read};
use super::group_commit::{GroupCommit, together_or_alone};
use super::orders::{orders_by_key_read, records};
use super::reads::read_all;
use super::refusals::{refusal, refusals_read};
use super::rooms::{room_with_live_drop, rooms_with_live_drop_read};
use super::wallet::{saved_address, shipping_addresses_read};
use super::{AgreementRow, Backend, DropRow, OrderRecord, ProductRow, RefusalRow, RoomRow, Store};
use crate::domain::{AccountId, ProductId, RoomId, ShippingAddress};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use std::collections::{BTreeSet, HashMap};

/// The most checkouts one list of reads answers.
const MAX_BATCH: usize = 64;

/// What a checkout under one key asks for.
#[derive(Debug, Clone)]
pub struct CheckoutAsk {
    pub buyer: AccountId,
    pub key: String,
    /// Read the buyer's saved address (the checkout gave none).
    pub saved_address: bool,
    pub room: RoomId,
    /// Whose agreements price the lines: the room's host.
    pub host: AccountId,
    /// The cart's products; none: nothing to price, so the room's facts are not read.
    pub products: Vec<ProductId>,
}

/// The answers, as the database had them.
pub struct CheckoutReads {
    /// The order this key placed, if it did.
    pub existing: Option<OrderRecord>,
    /// The refusal this key got, if its first attempt found too few units.
    pub refused: Option<RefusalRow>,
    pub saved_address: Option<ShippingAddress>,
    pub pricing: PricingReads,
}

/// What prices a cart in a room.
#[derive(Default)]
pub struct PricingReads {
    pub room: Option<RoomRow>,
    pub live_drop: Option<DropRow>,
    /// The cart's products that exist, each with the host's active agreement on it.
    pub products: Vec<(ProductRow, Option<AgreementRow>)>,
}

/// Where checkouts queue what they ask.
pub(super) type CheckoutReader = GroupCommit<CheckoutAsk, CheckoutReads>;

/// Starts the store's checkout reader on the current runtime.
pub(super) fn start_reader(pool: AnyPool, backend: Backend) -> CheckoutReader {
    GroupCommit::start("livecart_checkout_read_batch_size", MAX_BATCH, move |asks: Vec<CheckoutAsk>| {
        let pool = pool.clone();
        async move {
            // A list that fails (one checkout's rows that do not decode) fails only its own
            // checkout when each is read again alone.
            together_or_alone(&asks, "checkout read", |asks| read_together(&pool, backend, asks)).await
        }
    })
}

impl Store {
    pub async fn checkout_reads(&self, ask: CheckoutAsk) -> Result<CheckoutReads, sqlx::Error> {
        self.checkout_reader.submit(ask).await
    }

    /// Reads for `asks` (at least one) as the reader reads one list: what the tests drive
    /// directly, since which checkouts share a list is otherwise up to timing.
    pub async fn checkout_reads_together(&self, asks: &[CheckoutAsk]) -> Result<Vec<CheckoutReads>, sqlx::Error> {
        read_together(&self.pool, self.backend, asks).await
    }
}

/// The answers to `asks` (at least one), in their order, from one list of reads.
async fn read_together(
    pool: &AnyPool,
    backend: Backend,
    asks: &[CheckoutAsk],
) -> Result<Vec<CheckoutReads>, sqlx::Error> {
    let keys: Vec<(AccountId, &str)> = asks.iter().map(|a| (a.buyer, a.key.as_str())).collect();
    let addressed = distinct(asks.iter().filter(|a| a.saved_address).map(|a| a.buyer));
    let priced: Vec<&CheckoutAsk> = asks.iter().filter(|a| !a.products.is_empty()).collect();
    let mut reads = vec![orders_by_key_read(&keys), refusals_read(&keys)];
    if !addressed.is_empty() {
        reads.push(shipping_addresses_read(&addressed));
    }
    if !priced.is_empty() {
        reads.push(rooms_with_live_drop_read(&distinct(priced.iter().map(|a| a.room))));
        let hosts = distinct(priced.iter().map(|a| a.host));
        reads.push(priced_products_read(&hosts, &distinct(priced.iter().flat_map(|a| a.products.iter().copied()))));
    }
    let mut answers = read_all(pool, backend, &reads).await?.into_iter();
    let mut next = || answers.next().unwrap_or_default();

    let mut orders: HashMap<(AccountId, String), Vec<AnyRow>> = HashMap::new();
    for row in next() {
        orders.entry(buyer_and_key(&row)?).or_default().push(row);
    }
    let mut refusals = HashMap::new();
    for row in next() {
        refusals.insert(buyer_and_key(&row)?, refusal(&row)?);
    }
    let mut addresses = HashMap::new();
    if !addressed.is_empty() {
        for row in next() {
            let (address, _) = saved_address(&row)?;
            addresses.insert(AccountId::from_row(row.try_get("account_id")?), address);
        }
    }
    let (mut rooms, mut products, mut agreements) = (HashMap::new(), HashMap::new(), HashMap::new());
    if !priced.is_empty() {
        for row in next() {
            let (room, live_drop) = room_with_live_drop(&row)?;
            rooms.insert(room.id, (room, live_drop));
        }
        for row in next() {
            let (product, agreement) = priced_product(&row)?;
            if let Some(a) = agreement {
                agreements.insert((a.product_id, a.creator_id), a);
            }
            products.insert(product.id, product);
        }
    }

    asks.iter()
        .map(|ask| {
            let key = (ask.buyer, ask.key.clone());
            let existing = match orders.get(&key) {
                Some(rows) => records(rows)?.pop(),
                None => None,
            };
            let mut pricing = PricingReads::default();
            if !ask.products.is_empty() {
                if let Some((room, live_drop)) = rooms.get(&ask.room) {
                    (pricing.room, pricing.live_drop) = (Some(room.clone()), live_drop.clone());
                }
                // In id order, as one checkout's own read returned them.
                let mut wanted = ask.products.clone();
                wanted.sort_unstable();
                wanted.dedup();
                pricing.products = wanted
                    .iter()
                    .filter_map(|id| products.get(id))
                    .map(|p| (p.clone(), agreements.get(&(p.id, ask.host)).cloned()))
                    .collect();
            }
            Ok(CheckoutReads {
                existing,
                refused: refusals.get(&key).cloned(),
                saved_address: if ask.saved_address { addresses.get(&ask.buyer).cloned() } else { None },
                pricing,
            })
        })
        .collect()
}

/// Whose row it is: its buyer and idempotency key.
fn buyer_and_key(row: &AnyRow) -> Result<(AccountId, String), sqlx::Error> {
    Ok((AccountId::from_row(row.try_get("buyer_id")?), row.try_get("idempotency_key")?))
}

/// Each value once.
fn distinct<T: Ord>(values: impl Iterator<Item = T>) -> Vec<T> {
    values.collect::<BTreeSet<T>>().into_iter().collect()
}
