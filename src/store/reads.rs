//! Reads that travel together: several statements in one round trip to the embedded
//! database.
//!
//! Every statement sent to SQLite is a round trip to its connection's worker thread (two
//! thread hand-offs), and a checkout makes several reads before it can hold stock: those
//! hand-offs, not SQLite's own work, were most of a checkout's CPU. SQLite runs a
//! string of several statements in one command, binding each `$n` by its number, so a
//! [`Read`] list goes to it as one command whose parameters are renumbered to follow on
//! from each other, and its rows come back split at each statement's end. PostgreSQL
//! runs one statement per query in its extended protocol: there the reads run one after
//! another on one connection. Either way each read's SQL is written once, and the same
//! [`Read`] serves a single read through the pool.

use super::Backend;
use futures_util::TryStreamExt;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, Either, Executor};

/// One read: its SQL (parameters `$1`, `$2`… in bind order) and its values.
pub(super) struct Read {
    sql: String,
    values: Vec<Value>,
}

enum Value {
    Int(i64),
    Text(String),
}

impl Read {
    pub(super) fn new(sql: impl Into<String>) -> Read {
        Read { sql: sql.into(), values: Vec::new() }
    }

    pub(super) fn int(mut self, value: i64) -> Read {
        self.values.push(Value::Int(value));
        self
    }

    pub(super) fn text(mut self, value: &str) -> Read {
        self.values.push(Value::Text(value.to_owned()));
        self
    }

    /// The read as a query of its own, for any executor.
    pub(super) fn query(&self) -> Query<'_, Any, AnyArguments<'_>> {
        self.bind_to(sqlx::query(&self.sql))
    }

    fn bind_to<'q>(&'q self, mut query: Query<'q, Any, AnyArguments<'q>>) -> Query<'q, Any, AnyArguments<'q>> {
        for value in &self.values {
            query = match value {
                Value::Int(v) => query.bind(*v),
                Value::Text(v) => query.bind(v.as_str()),
            };
        }
        query
    }

    pub(super) async fn fetch_optional<'e>(
        &self,
        db: impl Executor<'e, Database = Any>,
    ) -> Result<Option<AnyRow>, sqlx::Error> {
        self.query().fetch_optional(db).await
    }

    pub(super) async fn fetch_all<'e>(
        &self,
        db: impl Executor<'e, Database = Any>,
    ) -> Result<Vec<AnyRow>, sqlx::Error> {
        self.query().fetch_all(db).await
    }
}

/// `sql` with every parameter `$n` renumbered `$(n + offset)`: its place among the
/// parameters of the statements before it.
fn renumbered(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// Runs `reads` on one connection of `pool` and returns each one's rows, in order: in
/// one round trip on SQLite, one after another on PostgreSQL. The reads are separate
/// statements, each seeing what was committed when it ran.
pub(super) async fn read_all(
    pool: &AnyPool,
    backend: Backend,
    reads: &[Read],
) -> Result<Vec<Vec<AnyRow>>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    if backend == Backend::Postgres || reads.len() == 1 {
        let mut rows = Vec::with_capacity(reads.len());
        for read in reads {
            rows.push(read.fetch_all(&mut *conn).await?);
        }
        return Ok(rows);
    }
    let mut sql = String::new();
    let mut offset = 0;
    for read in reads {
        sql.push_str(&renumbered(&read.sql, offset));
        sql.push_str(";\n");
        offset += read.values.len();
    }
    let query = reads.iter().fold(sqlx::query(&sql), |query, read| read.bind_to(query));
    // sqlx deprecates several statements in one query (launchbadge/sqlx#3108) because
    // only SQLite runs them; here only SQLite is given them. Should a release drop it,
    // the store's tests fail on the embedded store, and the fallback is the
    // PostgreSQL path above.
    #[allow(deprecated)]
    let mut results = query.fetch_many(&mut *conn);
    let (mut rows, mut current) = (Vec::with_capacity(reads.len()), Vec::new());
    while let Some(result) = results.try_next().await? {
        match result {
            // Each statement ends with its result, after its rows if it had any.
            Either::Left(_) => rows.push(std::mem::take(&mut current)),
            Either::Right(row) => current.push(row),
        }
    }
    if rows.len() != reads.len() {
        return Err(sqlx::Error::Protocol(format!("{} reads answered {} times", reads.len(), rows.len())));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::renumbered;

    #[test]
    fn parameters_follow_on_from_the_statements_before() {
        assert_eq!(
            renumbered("select a from t where b = $1 and c in ($2, $10)", 3),
            "select a from t where b = $4 and c in ($5, $13)"
        );
        assert_eq!(renumbered("select 1", 7), "select 1");
        assert_eq!(renumbered("select $1", 0), "select $1");
    }
}
