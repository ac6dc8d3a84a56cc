//! Keeping the statements a batch writes to a few shapes.
//!
//! A statement is prepared once per distinct SQL text and connection, and sqlx keeps up
//! to 100 of them per connection. A batch insert of n rows, or an `in (…)` list of n
//! ids, is a new text for every n: a storm of analytics batches left megabytes of
//! prepared inserts behind, each re-prepared when it fell out of the cache. SQLite also
//! looks each `$n` up in a list as long as the statement's parameters, at prepare and at
//! every bind, so one huge statement costs more than several small ones. Here batches
//! are cut into chunks whose lengths are powers of two, and `in (…)` lists are padded to
//! one: a handful of shapes per statement, whatever the batch sizes. On SQLite a
//! multi-row insert's values are anonymous `?`, bound in order, which SQLite binds
//! without any look-up.

use super::Backend;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::{Any, AnyConnection};

pub(super) type Query<'q> = sqlx::query::Query<'q, Any, AnyArguments<'q>>;

/// A multi-row insert, `{head} values (…), (…) {tail}` with `columns` values a row, cut
/// into statements of at most `most` rows (a power of two) and a few shapes ([`chunks`]).
pub(super) struct Insert<'a> {
    pub head: &'a str,
    pub columns: usize,
    pub tail: &'a str,
    pub most: usize,
    /// Keep each shape prepared on the connection, as sqlx does unless told otherwise.
    pub keep: bool,
}

impl Insert<'_> {
    /// Inserts `rows`, `bind` binding one row's values in column order; the rows the
    /// statements return (`tail`'s `returning`), in order.
    pub(super) async fn run<T>(
        &self,
        conn: &mut AnyConnection,
        rows: &[T],
        bind: impl for<'q> Fn(Query<'q>, &'q T) -> Query<'q>,
    ) -> Result<Vec<AnyRow>, sqlx::Error> {
        let mut returned = Vec::new();
        for chunk in chunks(rows, self.most) {
            let sql =
                format!("{} values {} {}", self.head, values(Backend::of(conn), chunk.len(), self.columns), self.tail);
            let query = chunk.iter().fold(sqlx::query(&sql).persistent(self.keep), &bind);
            returned.extend(query.fetch_all(&mut *conn).await?);
        }
        Ok(returned)
    }
}

/// `rows` in chunks of `max` (a power of two) rows, then of the powers of two that make
/// up the rest, largest first.
pub(super) fn chunks<T>(rows: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    debug_assert!(max.is_power_of_two());
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let len = max.min(1 << rest.len().ilog2());
        let (chunk, after) = rest.split_at(len);
        rest = after;
        Some(chunk)
    })
}

/// `($1, …, $columns), ($columns+1, …), …` for `rows` rows: a multi-row insert's values,
/// its only parameters. On SQLite each is `?`, the next value bound: finding `$n` among
/// a statement's parameters is a walk of their list, at every bind, so a 64-row insert's
/// binds cost more than its rows (perf: 6% of a checkout's CPU).
pub(super) fn values(backend: Backend, rows: usize, columns: usize) -> String {
    let param = |n: usize| match backend {
        Backend::Sqlite => "?".to_owned(),
        Backend::Postgres => format!("${n}"),
    };
    let row = |r: usize| {
        let params: Vec<String> = (1..=columns).map(|c| param(r * columns + c)).collect();
        format!("({})", params.join(", "))
    };
    (0..rows).map(row).collect::<Vec<_>>().join(", ")
}

/// `$first, $first+1, …`: `n` parameters, for an `in (…)` list.
pub(super) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// `(a = $first and b = $first+1) or …`: `n` pairs of parameters matching columns `a`
/// and `b` together. Both databases find each pair through an index on (a, b); SQLite
/// scans the whole table for the same pairs written as `(a, b) in (values …)`.
pub(super) fn pairs_match(a: &str, b: &str, first: usize, n: usize) -> String {
    let pair = |i: usize| format!("({a} = ${} and {b} = ${})", first + 2 * i, first + 2 * i + 1);
    (0..n).map(pair).collect::<Vec<_>>().join(" or ")
}

/// `ids`, padded with copies of its last to a power of two: the same `in (…)` list,
/// in one of a few lengths.
pub(super) fn padded<T: Copy>(ids: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut ids: Vec<T> = ids.into_iter().collect();
    if let Some(&last) = ids.last() {
        ids.resize(ids.len().next_power_of_two(), last);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::{Backend, chunks, padded, pairs_match, values};

    #[test]
    fn batches_are_cut_into_powers_of_two() {
        let rows: Vec<u32> = (0..75).collect();
        let lens: Vec<usize> = chunks(&rows, 32).map(<[u32]>::len).collect();
        assert_eq!(lens, [32, 32, 8, 2, 1]);
        assert_eq!(chunks(&rows, 32).flatten().copied().collect::<Vec<_>>(), rows, "every row once, in order");
        assert_eq!(chunks::<u32>(&[], 32).count(), 0);
    }

    #[test]
    fn values_number_each_rows_parameters_after_the_rows_before() {
        assert_eq!(values(Backend::Postgres, 2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values(Backend::Sqlite, 2, 3), "(?, ?, ?), (?, ?, ?)");
    }

    #[test]
    fn pairs_are_matched_column_by_column() {
        assert_eq!(pairs_match("a", "b", 3, 2), "(a = $3 and b = $4) or (a = $5 and b = $6)");
    }

    #[test]
    fn lists_are_padded_with_their_last_id() {
        assert_eq!(padded([4, 5, 6]), [4, 5, 6, 6]);
        assert_eq!(padded([4, 5]), [4, 5]);
        assert_eq!(padded(Vec::<i64>::new()), Vec::<i64>::new());
    }
}
