use super::Store;
use crate::domain::{AccountId, BrandId, Role, UnixMs};
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone)]
pub struct AccountRow {
    pub id: AccountId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub brand_id: Option<BrandId>,
    pub follower_count: i64,
}

pub(super) const ACCOUNT_COLUMNS: &str = "a.id, a.email, a.display_name, a.role, a.brand_id, a.follower_count";

pub(super) fn account(row: &AnyRow) -> Result<AccountRow, sqlx::Error> {
    let role: String = row.try_get("role")?;
    Ok(AccountRow {
        id: AccountId::from_row(row.try_get("id")?),
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        role: Role::parse(&role).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        brand_id: row.try_get::<Option<i64>, _>("brand_id")?.map(BrandId::from_row),
        follower_count: row.try_get("follower_count")?,
    })
}

impl Store {
    /// Creates an account; a brand member's brand is created in the same transaction.
    pub async fn create_account(
        &self,
        email: &str,
        password_hash: &str,
        display_name: &str,
        role: Role,
        new_brand: Option<&str>,
        now: UnixMs,
    ) -> Result<AccountRow, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let brand_id: Option<i64> = match new_brand {
            Some(name) => Some(
                sqlx::query("insert into brands (name, created_at) values ($1, $2) returning id")
                    .bind(name)
                    .bind(now.0)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("id")?,
            ),
            None => None,
        };
        let id: i64 = sqlx::query(
            "insert into accounts (email, password_hash, display_name, role, brand_id, created_at) \
             values ($1, $2, $3, $4, $5, $6) returning id",
        )
        .bind(email)
        .bind(password_hash)
        .bind(display_name)
        .bind(role.as_str())
        .bind(brand_id)
        .bind(now.0)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        tx.commit().await?;
        Ok(AccountRow {
            id: AccountId::from_row(id),
            email: email.to_owned(),
            display_name: display_name.to_owned(),
            role,
            brand_id: brand_id.map(BrandId::from_row),
            follower_count: 0,
        })
    }

    /// The account and its password hash, for a login attempt.
    pub async fn account_by_email(&self, email: &str) -> Result<Option<(AccountRow, String)>, sqlx::Error> {
        let sql = format!("select {ACCOUNT_COLUMNS}, a.password_hash from accounts a where a.email = $1");
        let row = sqlx::query(&sql).bind(email).fetch_optional(&self.pool).await?;
        row.map(|r| Ok((account(&r)?, r.try_get("password_hash")?))).transpose()
    }

    pub async fn account(&self, id: AccountId) -> Result<Option<AccountRow>, sqlx::Error> {
        let sql = format!("select {ACCOUNT_COLUMNS} from accounts a where a.id = $1");
        let row = sqlx::query(&sql).bind(id.get()).fetch_optional(&self.pool).await?;
        row.as_ref().map(account).transpose()
    }

    pub async fn creators(&self, limit: u32) -> Result<Vec<AccountRow>, sqlx::Error> {
        let sql = format!(
            "select {ACCOUNT_COLUMNS} from accounts a where a.role = 'creator' \
             order by a.follower_count desc, a.id limit $1"
        );
        let rows = sqlx::query(&sql).bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter().map(account).collect()
    }

    pub async fn set_followers(&self, creator: AccountId, followers: i64) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("update accounts set follower_count = $1 where id = $2 and role = 'creator'")
            .bind(followers)
            .bind(creator.get())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        account: AccountId,
        now: UnixMs,
        expires_at: UnixMs,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("insert into sessions (token_hash, account_id, created_at, expires_at) values ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(account.get())
            .bind(now.0)
            .bind(expires_at.0)
            .execute(&self.pool)
            .await
            .map(drop)
    }

    /// Forgets the account's sessions that have ended (revoked or expired), and the
    /// oldest live ones beyond the newest `keep`; returns the token hashes of those live
    /// ones, whose connections are still to be closed.
    pub async fn retire_sessions(
        &self,
        account: AccountId,
        keep: usize,
        now: UnixMs,
    ) -> Result<Vec<String>, sqlx::Error> {
        sqlx::query("delete from sessions where account_id = $1 and (revoked_at is not null or expires_at <= $2)")
            .bind(account.get())
            .bind(now.0)
            .execute(&self.pool)
            .await?;
        // At most `keep` and the few opened since the last pruning: each opening prunes.
        let live =
            sqlx::query("select token_hash from sessions where account_id = $1 order by created_at desc, token_hash")
                .bind(account.get())
                .fetch_all(&self.pool)
                .await?;
        let mut retired = Vec::new();
        for row in live.iter().skip(keep) {
            let hash: String = row.try_get("token_hash")?;
            sqlx::query("delete from sessions where token_hash = $1").bind(&hash).execute(&self.pool).await?;
            retired.push(hash);
        }
        Ok(retired)
    }

    /// The account behind a session that is neither revoked nor expired, and when the
    /// session expires.
    pub async fn session_account(
        &self,
        token_hash: &str,
        now: UnixMs,
    ) -> Result<Option<(AccountRow, UnixMs)>, sqlx::Error> {
        let sql = format!(
            "select {ACCOUNT_COLUMNS}, s.expires_at from sessions s join accounts a on a.id = s.account_id \
             where s.token_hash = $1 and s.revoked_at is null and s.expires_at > $2"
        );
        let row = sqlx::query(&sql).bind(token_hash).bind(now.0).fetch_optional(&self.pool).await?;
        row.map(|r| Ok((account(&r)?, UnixMs(r.try_get("expires_at")?)))).transpose()
    }

    pub async fn revoke_session(&self, token_hash: &str, now: UnixMs) -> Result<(), sqlx::Error> {
        sqlx::query("update sessions set revoked_at = $1 where token_hash = $2 and revoked_at is null")
            .bind(now.0)
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map(drop)
    }
}
