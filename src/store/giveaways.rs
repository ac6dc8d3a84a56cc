//! Giveaways and their entries. The database is the judge across nodes: one open
//! giveaway per room, one entry per account, and one draw, which freezes the entry list
//! it was drawn from.

use super::{Store, is_unique_violation};
use crate::domain::{AccountId, EntryRule, GiveawayId, RoomId, Seed, UnixMs};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct GiveawayRow {
    pub id: GiveawayId,
    pub room_id: RoomId,
    pub prize: String,
    pub entry_rule: EntryRule,
    pub commitment: String,
    pub closes_at: UnixMs,
    /// Set once drawn: the draw and what it was drawn from.
    pub drawn: Option<Draw>,
}

/// A giveaway's draw: the seed revealed, the entries it was drawn from (ascending), and
/// the winner (none without entries).
#[derive(Debug, Clone)]
pub struct Draw {
    pub seed: Seed,
    pub entries: Vec<AccountId>,
    pub winner: Option<AccountId>,
    pub at: UnixMs,
}

/// What entering did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entered {
    /// Entered now, or before: the entries so far.
    In(i64),
    /// The giveaway is not open (drawn, past its close, or no such giveaway in the room).
    Closed,
}

const COLUMNS: &str =
    "id, room_id, prize, entry_rule, seed, commitment, status, closes_at, drawn_at, winner_id, entry_list";

fn giveaway(row: &AnyRow) -> Result<GiveawayRow, sqlx::Error> {
    let decode = |what: &str| sqlx::Error::Decode(format!("giveaway {what}").into());
    let rule: String = row.try_get("entry_rule")?;
    let status: String = row.try_get("status")?;
    let drawn = if status == "drawn" {
        let seed: String = row.try_get("seed")?;
        let list: String = row.try_get::<Option<String>, _>("entry_list")?.unwrap_or_default();
        let entries = list
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<i64>().ok().and_then(|n| AccountId::try_from(n).ok()).ok_or_else(|| decode("entry")))
            .collect::<Result<_, _>>()?;
        Some(Draw {
            seed: Seed::from_hex(&seed).ok_or_else(|| decode("seed"))?,
            entries,
            winner: row.try_get::<Option<i64>, _>("winner_id")?.map(AccountId::from_row),
            at: UnixMs(row.try_get::<Option<i64>, _>("drawn_at")?.unwrap_or_default()),
        })
    } else {
        None
    };
    Ok(GiveawayRow {
        id: GiveawayId::from_row(row.try_get("id")?),
        room_id: RoomId::from_row(row.try_get("room_id")?),
        prize: row.try_get("prize")?,
        entry_rule: EntryRule::parse(&rule).ok_or_else(|| decode("entry rule"))?,
        commitment: row.try_get("commitment")?,
        closes_at: UnixMs(row.try_get("closes_at")?),
        drawn,
    })
}

impl Store {
    /// Opens a giveaway in the room; `None` when one is open there already.
    pub async fn create_giveaway(
        &self,
        room: RoomId,
        prize: &str,
        rule: EntryRule,
        seed: &Seed,
        now: UnixMs,
        closes_at: UnixMs,
    ) -> Result<Option<GiveawayRow>, sqlx::Error> {
        let created = sqlx::query(
            "insert into giveaways (room_id, prize, entry_rule, seed, commitment, status, started_at, closes_at) \
             values ($1, $2, $3, $4, $5, 'open', $6, $7) returning id",
        )
        .bind(room.get())
        .bind(prize)
        .bind(rule.as_str())
        .bind(seed.to_hex())
        .bind(seed.commitment())
        .bind(now.0)
        .bind(closes_at.0)
        .fetch_one(&self.pool)
        .await;
        match created {
            Ok(row) => self.giveaway(GiveawayId::from_row(row.try_get("id")?)).await,
            Err(e) if is_unique_violation(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn giveaway(&self, id: GiveawayId) -> Result<Option<GiveawayRow>, sqlx::Error> {
        let sql = format!("select {COLUMNS} from giveaways where id = $1");
        sqlx::query(&sql).bind(id.get()).fetch_optional(&self.pool).await?.as_ref().map(giveaway).transpose()
    }

    pub async fn open_giveaway(&self, room: RoomId) -> Result<Option<GiveawayRow>, sqlx::Error> {
        let sql = format!("select {COLUMNS} from giveaways where room_id = $1 and status = 'open'");
        sqlx::query(&sql).bind(room.get()).fetch_optional(&self.pool).await?.as_ref().map(giveaway).transpose()
    }

    /// Enters `account` in the room's giveaway `id` while it is open (not drawn, and `now`
    /// before its close). Entering twice counts once.
    pub async fn enter_giveaway(
        &self,
        room: RoomId,
        id: GiveawayId,
        account: AccountId,
        now: UnixMs,
    ) -> Result<Entered, sqlx::Error> {
        let open = "select 1 from giveaways where id = $1 and room_id = $4 and status = 'open' and closes_at > $3";
        let sql = format!(
            "insert into giveaway_entries (giveaway_id, account_id, entered_at) select $1, $2, $3 \
             where exists ({open}) on conflict do nothing"
        );
        sqlx::query(&sql).bind(id.get()).bind(account.get()).bind(now.0).bind(room.get()).execute(&self.pool).await?;
        let sql = format!(
            "select (select count(*) from giveaway_entries where giveaway_id = $1) as entries, \
             (select count(*) from giveaway_entries where giveaway_id = $1 and account_id = $2) as mine, \
             (select count(*) from ({open}) o) as open"
        );
        let row = sqlx::query(&sql)
            .bind(id.get())
            .bind(account.get())
            .bind(now.0)
            .bind(room.get())
            .fetch_one(&self.pool)
            .await?;
        let (entries, mine, open): (i64, i64, i64) =
            (row.try_get("entries")?, row.try_get("mine")?, row.try_get("open")?);
        Ok(if mine == 1 && open == 1 { Entered::In(entries) } else { Entered::Closed })
    }

    /// Draws giveaway `id` if it is still open: closes it, freezes its entries (ascending
    /// account ids) and records the winner `pick` chooses from them, all in one
    /// transaction. `None` when another caller drew it first.
    pub async fn draw_giveaway(
        &self,
        id: GiveawayId,
        now: UnixMs,
        pick: impl FnOnce(&Seed, &[AccountId]) -> Option<usize>,
    ) -> Result<Option<GiveawayRow>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let closed =
            sqlx::query("update giveaways set status = 'drawn', drawn_at = $2 where id = $1 and status = 'open'")
                .bind(id.get())
                .bind(now.0)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if closed == 0 {
            return Ok(None);
        }
        let seed: String = sqlx::query("select seed from giveaways where id = $1")
            .bind(id.get())
            .fetch_one(&mut *tx)
            .await?
            .try_get("seed")?;
        let seed = Seed::from_hex(&seed).ok_or_else(|| sqlx::Error::Decode("giveaway seed".into()))?;
        let entries: Vec<AccountId> =
            sqlx::query("select account_id from giveaway_entries where giveaway_id = $1 order by account_id")
                .bind(id.get())
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| Ok(AccountId::from_row(r.try_get("account_id")?)))
                .collect::<Result<_, sqlx::Error>>()?;
        let winner = pick(&seed, &entries).map(|i| entries[i]);
        let list = entries.iter().map(|a| a.get().to_string()).collect::<Vec<_>>().join(",");
        sqlx::query("update giveaways set winner_id = $2, entry_list = $3 where id = $1")
            .bind(id.get())
            .bind(winner.map(AccountId::get))
            .bind(list)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.giveaway(id).await
    }

    pub async fn giveaway_entry_count(&self, id: GiveawayId) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("select count(*) as n from giveaway_entries where giveaway_id = $1")
            .bind(id.get())
            .fetch_one(&self.pool)
            .await?;
        row.try_get("n")
    }

    /// Whether `account` has a paid order in the room (a giveaway for buyers).
    pub async fn bought_in_room(&self, account: AccountId, room: RoomId) -> Result<bool, sqlx::Error> {
        let row =
            sqlx::query("select count(*) as n from orders where buyer_id = $1 and room_id = $2 and status = 'paid'")
                .bind(account.get())
                .bind(room.get())
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }
}
