//! Durable storage: SQLite (embedded default) or PostgreSQL, chosen once from the URL.
//!
//! Both dialects run the same SQL through sqlx's `Any` driver: queries use `$n`
//! placeholders (which SQLite accepts), integer columns are 64-bit, sums are cast to
//! bigint and times are Unix milliseconds, so one implementation serves both and the two
//! cannot drift apart. Only the migrations differ, in `migrations/sqlite` and
//! `migrations/postgres`.
//!
//! Every read-modify-write of stock is one conditional statement; the `check` constraints
//! are the last guard. Write transactions begin with a write, so SQLite takes its write
//! lock up front and never fails a lock upgrade half-way.

mod accounts;
mod adjustments;
mod analytics;
mod auctions;
mod campaigns;
mod carts;
mod catalog;
mod checkout_reads;
mod checkpoints;
mod columns;
mod follows;
mod giveaways;
mod group_commit;
mod moderation;
mod offers;
mod orders;
mod payments;
mod placements;
mod promo;
mod reads;
mod refusals;
mod rehearsals;
mod reports;
mod rooms;
mod settlements;
mod shapes;
mod test_cards;
mod waitlists;
mod wallet;
mod write_gate;

pub use accounts::AccountRow;
pub use adjustments::StockAdjustment;
pub use analytics::EventRow;
pub use auctions::{AuctionRow, AuctionStatus, BidOutcome, BidTaken, MAX_BIDS, NewAuction};
pub use campaigns::{CampaignFields, CampaignRow, MAX_CAMPAIGNS_PER_BRAND};
pub use carts::CartWrite;
pub use catalog::{AgreementRow, AgreementTerms, MAX_PRODUCTS_PER_BRAND, NewProduct, ProductPatch, ProductRow};
pub use checkout_reads::{CheckoutAsk, CheckoutReads, PricingReads};
pub use giveaways::{Draw, Entered, GiveawayRow};
pub use moderation::{BanRow, HeldRow, ModeratorRow, NewHeld};
pub use offers::{NewOffer, OfferFate, OfferRow, OfferSource, OfferStatus};
pub use orders::{
    HeldLine, LiveHold, NewOrder, NewOrderLine, NewShare, OrderPromo, OrderRecord, Parties, PlaceOutcome, PlacedOrder,
    SettleOutcome, ShareRow,
};
pub use payments::{
    ChargeOpening, ChargeRow, CommissionEntry, CommissionKind, CommissionTotals, NewRefund, PaidLine, PaymentStatus,
    RefundLine, RefundOpened, RefundRow, Reversal,
};
pub use promo::{NewPromo, PromoCreated, PromoRow, PromoScope};
pub use refusals::RefusalRow;
pub use reports::{Aggregates, CampaignCreator, CodeUses, GroupBy, ReportRoom, ReportScope, RoomSet};
pub use rooms::{DropRow, NewDrop, RoomRow};
pub use test_cards::TestCardCharge;
pub use waitlists::Waiting;
pub use wallet::SavedMethodRow;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::DropGuard;

/// A pooled connection idle for longer than this is pinged before it is handed out, so
/// one the database dropped meanwhile (a restart, an idle timeout) is replaced rather
/// than failing its next statement. One in steady use is not: sqlx pings on every
/// acquire by default, a round trip to the database (to SQLite's worker thread, for the
/// embedded store) before every statement, which cost a checkout a third of its time.
const PING_AFTER_IDLE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The dialect of one of the pool's connections (a transaction's, say), for SQL that
    /// is written differently on each.
    fn of(conn: &sqlx::AnyConnection) -> Backend {
        match conn.backend_name() {
            "SQLite" => Backend::Sqlite,
            _ => Backend::Postgres,
        }
    }
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Where cart changes queue for their group commit.
    cart_writer: carts::CartWriter,
    /// Where checkouts queue their first reads, to share them.
    checkout_reader: checkout_reads::CheckoutReader,
    /// Where new orders queue for their group commit.
    placements: placements::PlacementWriter,
    /// Where paid orders' settlements queue for their group commit.
    settlements: settlements::SettlementWriter,
    /// Where the test-card provider's answers queue for their group commit.
    test_card_books: test_cards::TestCardBooks,
    /// Where the busiest writers take turns on SQLite.
    gate: write_gate::WriteGate,
    /// SQLite's background checkpointer, stopped when the last handle of the store goes.
    _checkpoints: Option<Arc<DropGuard>>,
}

/// What a storage call fails with: sqlx's own error, cause and all. Domain errors keep it
/// as their `#[source]`; only the edge decides that it means "internal".
pub type StoreError = sqlx::Error;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL {0:?}: use sqlite:… or postgres://…")]
    UnsupportedUrl(String),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Store {
    /// Connects and brings the schema up to date.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, ConnectError> {
        install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(ConnectError::UnsupportedUrl(url.to_owned()));
        };
        if backend == Backend::Sqlite {
            // Before the pool opens, so that its connections open on the final schema.
            migrate(&mut AnyConnection::connect(url).await?, backend).await?;
        }
        let options = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; NORMAL sync is durable
                        // across process crashes, which is what the embedded mode promises.
                        // The log is copied back into the database (a checkpoint, with an
                        // fsync) from inside the commit that takes it past
                        // `wal_autocheckpoint` pages, while that writer holds the write turn;
                        // SQLite's default of 1,000 pages (4 MB) meant about thirty
                        // checkpoints a second at a busy sale, each copying the same hot
                        // pages (the product's stock, the orders' last index pages) again.
                        // At 8,000 pages there are four, the log stays at about 33 MB, and
                        // checkouts (50 buyers, alternated) went from 2,700–2,900 to
                        // 3,200–3,300 a second, p99 from about 30 ms to about 44 ms. The
                        // background checkpointer (`checkpoints`) copies and syncs most of
                        // it before then, so that commit finds little left to do.
                        conn.execute(
                            "pragma journal_mode = wal; pragma synchronous = normal; \
                             pragma foreign_keys = on; pragma busy_timeout = 10000; \
                             pragma wal_autocheckpoint = 8000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            });
        // A SQLite connection lives in this process: its worker thread, its copy of the
        // schema (eight of them hold about 1.8 MB of SQLite's heap at start), then its
        // prepared statements and page cache. Opened on demand, the pool grew whenever
        // periodic tasks met a write (after a join storm, during a chat storm) and shrank
        // again ten minutes later, so what a storm cost depended on how the ticks fell.
        // All are opened here and kept (no server times a SQLite connection out), so the
        // pool's memory is claimed at start, once. A PostgreSQL connection costs the
        // database server, not us: those are still opened as needed.
        let options = match backend {
            Backend::Sqlite => options.min_connections(max_connections).idle_timeout(None).max_lifetime(None),
            Backend::Postgres => options,
        };
        let pool = options.connect(url).await?;
        let gate = write_gate::WriteGate::for_backend(backend);
        let cart_writer = carts::start_writer(pool.clone(), gate.clone());
        let checkout_reader = checkout_reads::start_reader(pool.clone(), backend);
        let placements = placements::start_writer(pool.clone(), gate.clone());
        let settlements = settlements::start_writer(pool.clone(), gate.clone());
        let test_card_books = test_cards::start_books(pool.clone(), gate.clone());
        let checkpoints = match backend {
            Backend::Sqlite => Some(Arc::new(checkpoints::start(pool.clone()))),
            Backend::Postgres => {
                migrate(&mut *pool.acquire().await?, backend).await?;
                None
            }
        };
        Ok(Store {
            pool,
            backend,
            cart_writer,
            checkout_reader,
            placements,
            settlements,
            test_card_books,
            gate,
            _checkpoints: checkpoints,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("select 1").execute(&self.pool).await.map(drop)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// True when `e` says the database could not answer in time, not that the request was
/// wrong: no pooled connection came free within the pool's timeout, the connection
/// failed, or the database gave up this transaction to break a deadlock or a
/// serialization conflict (PostgreSQL's SQLSTATE 40P01 and 40001) or to end a wait for
/// SQLite's write lock (`SQLITE_BUSY` and its extended codes). The same request may be
/// sent again: a checkout with the same idempotency key finds what the attempt did.
pub fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("40001" | "40P01" | "5" | "261" | "517")),
        _ => false,
    }
}

/// Brings the schema on `conn`'s database up to date.
async fn migrate(conn: &mut AnyConnection, backend: Backend) -> Result<(), ConnectError> {
    match backend {
        Backend::Sqlite => sqlx::migrate!("migrations/sqlite").run(conn).await?,
        Backend::Postgres => sqlx::migrate!("migrations/postgres").run(conn).await?,
    }
    Ok(())
}

/// True when `e` is a unique-constraint violation: how we learn that an e-mail, a brand
/// name or an idempotency key is already taken without racing a separate look-up.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}
