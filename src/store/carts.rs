//! The durable copy of buyers' carts: what brings a cart back when Redis (which serves
//! carts when scaled out) loses it.
//!
//! Every cart change is saved, and every order empties its cart: two statements per
//! order, the most of any step of a checkout once its reads and writes were shared. One
//! writer per store gathers the changes that arrive while its previous batch commits and
//! writes them together (the group commit of [`super::group_commit`]).

use super::group_commit::{GroupCommit, together_or_alone};
use super::shapes::{Insert, chunks, padded, pairs_match};
use super::write_gate::WriteGate;
use super::{Store, StoreError};
use crate::domain::{AccountId, RoomId, UnixMs};
use sqlx::{AnyConnection, AnyPool, Connection, Row};
use std::collections::BTreeMap;

impl Store {
    /// The saved cart (its lines as JSON) and its version, if any.
    pub async fn saved_cart(&self, room: RoomId, buyer: AccountId) -> Result<Option<(String, i64)>, StoreError> {
        let row = sqlx::query("select lines, version from carts where room_id = $1 and buyer_id = $2")
            .bind(room.get())
            .bind(buyer.get())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("lines")?, r.try_get("version")?))).transpose()
    }

    /// Saves a cart unless a newer version of it is saved already (changes that race can
    /// reach the database out of order).
    pub async fn save_cart(
        &self,
        room: RoomId,
        buyer: AccountId,
        lines: &str,
        version: i64,
        now: UnixMs,
    ) -> Result<(), StoreError> {
        let save = CartWrite::Save { room, buyer, lines: lines.to_owned(), version };
        self.cart_writer.submit((save, now)).await
    }

    /// Empties the saved cart after an order, as one more version of it. The row stays:
    /// a buyer who buys again saves over it in place (on PostgreSQL an update that adds
    /// no index entry and checks no foreign key, where a delete and a fresh insert per
    /// order left the key's index entry a trail of dead rows to step over, and made the
    /// save the costliest statement of a checkout), and a save of an older version that
    /// arrives late still loses to the emptied cart instead of bringing it back.
    pub async fn empty_saved_cart(&self, room: RoomId, buyer: AccountId, now: UnixMs) -> Result<(), StoreError> {
        self.cart_writer.submit((CartWrite::Empty { room, buyer }, now)).await
    }

    /// Writes cart changes as the writer writes one batch: what the tests drive
    /// directly, since which changes share a batch is otherwise up to timing.
    pub async fn write_carts_together(&self, writes: &[(CartWrite, UnixMs)]) -> Result<(), StoreError> {
        write_batch(&self.pool, &self.gate, writes).await
    }
}

/// One change to a cart's durable copy.
#[derive(Debug, Clone)]
pub enum CartWrite {
    /// The cart's lines (as JSON) at `version`.
    Save { room: RoomId, buyer: AccountId, lines: String, version: i64 },
    /// Emptied after an order.
    Empty { room: RoomId, buyer: AccountId },
}

/// Where cart changes queue for their group commit.
pub(super) type CartWriter = GroupCommit<(CartWrite, UnixMs), ()>;

/// The most cart changes one batch writes.
const MAX_BATCH: usize = 64;

/// Starts the store's cart writer on the current runtime.
pub(super) fn start_writer(pool: AnyPool, gate: WriteGate) -> CartWriter {
    GroupCommit::start("livecart_cart_batch_size", MAX_BATCH, move |writes: Vec<(CartWrite, UnixMs)>| {
        let (pool, gate) = (pool.clone(), gate.clone());
        async move {
            together_or_alone(&writes, "cart", |writes| async {
                write_batch(&pool, &gate, writes).await.map(|()| vec![(); writes.len()])
            })
            .await
        }
    })
}

/// Writes the changes: every save in one insert (the newest version of each cart; an
/// older one would lose anyway; cut into a few shapes), then every emptying in one
/// update. Several statements share one transaction, so one flush of the log commits
/// them all; a single statement commits on its own, without the transaction's two
/// round trips.
async fn write_batch(pool: &AnyPool, gate: &WriteGate, writes: &[(CartWrite, UnixMs)]) -> Result<(), sqlx::Error> {
    let mut saves: BTreeMap<(RoomId, AccountId), (&str, i64, UnixMs)> = BTreeMap::new();
    let mut empties: BTreeMap<(RoomId, AccountId), UnixMs> = BTreeMap::new();
    for (write, now) in writes {
        match write {
            CartWrite::Save { room, buyer, lines, version } => {
                let newest = saves.entry((*room, *buyer)).or_insert((lines, *version, *now));
                if *version > newest.1 {
                    *newest = (lines, *version, *now);
                }
            }
            CartWrite::Empty { room, buyer } => {
                empties.insert((*room, *buyer), *now);
            }
        }
    }
    let saves: Vec<_> = saves.into_iter().collect();
    let statements = chunks(&saves, MAX_BATCH).count() + usize::from(!empties.is_empty());
    let _turn = gate.turn().await;
    let mut conn = pool.acquire().await?;
    if statements > 1 {
        let mut tx = conn.begin().await?;
        write_statements(&mut tx, &saves, &empties).await?;
        tx.commit().await
    } else {
        write_statements(&mut conn, &saves, &empties).await
    }
}

/// Each cart's newest save: (room, buyer) → (lines, version, when saved).
type Saves<'a> = [((RoomId, AccountId), (&'a str, i64, UnixMs))];

async fn write_statements(
    conn: &mut AnyConnection,
    saves: &Saves<'_>,
    empties: &BTreeMap<(RoomId, AccountId), UnixMs>,
) -> Result<(), sqlx::Error> {
    Insert {
        head: "insert into carts (room_id, buyer_id, lines, version, updated_at)",
        columns: 5,
        tail: "on conflict (room_id, buyer_id) do update set lines = excluded.lines, version = excluded.version, \
               updated_at = excluded.updated_at where carts.version < excluded.version",
        most: MAX_BATCH,
        keep: true,
    }
    .run(conn, saves, |q, ((room, buyer), (lines, version, now))| {
        q.bind(room.get()).bind(buyer.get()).bind(*lines).bind(*version).bind(now.0)
    })
    .await?;
    if let Some(now) = empties.values().max() {
        let carts = padded(empties.keys().copied());
        let sql = format!(
            "update carts set lines = '{{}}', version = version + 1, updated_at = $1 where {}",
            pairs_match("room_id", "buyer_id", 2, carts.len())
        );
        let query =
            carts.iter().fold(sqlx::query(&sql).bind(now.0), |q, (room, buyer)| q.bind(room.get()).bind(buyer.get()));
        query.execute(conn).await?;
    }
    Ok(())
}
