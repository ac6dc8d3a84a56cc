//! Reading a joined table's columns by name when they share names with another's.
//!
//! A read that joins two tables (a room and its live drop, a product and the host's
//! agreement on it) answers in one statement what took two, one round trip less on
//! PostgreSQL. Both tables have an `id`, so the joined one's columns are selected under
//! a prefix (`d.id as drop_id`) and its row decoder reads them through [`Columns`], the
//! same decoder that reads the table alone.

use sqlx::any::AnyRow;
use sqlx::{Any, Decode, Row, Type};

/// One table's columns in a row: under their own names, or under a prefix.
pub(super) struct Columns<'r> {
    row: &'r AnyRow,
    prefix: &'static str,
}

impl<'r> Columns<'r> {
    /// The columns of a table read alone.
    pub(super) fn own(row: &'r AnyRow) -> Columns<'r> {
        Columns { row, prefix: "" }
    }

    /// The columns of a joined table, selected by [`qualified`] under `prefix`.
    pub(super) fn prefixed(row: &'r AnyRow, prefix: &'static str) -> Columns<'r> {
        Columns { row, prefix }
    }

    pub(super) fn get<T: Decode<'r, Any> + Type<Any>>(&self, name: &str) -> Result<T, sqlx::Error> {
        match self.prefix {
            "" => self.row.try_get(name),
            prefix => self.row.try_get(format!("{prefix}{name}").as_str()),
        }
    }

    /// A left-joined table's row as `decode` reads it, or none when the join found none
    /// (its `id` is null).
    pub(super) fn joined<T>(&self, decode: fn(&Columns) -> Result<T, sqlx::Error>) -> Result<Option<T>, sqlx::Error> {
        match self.get::<Option<i64>>("id")? {
            Some(_) => decode(self).map(Some),
            None => Ok(None),
        }
    }
}

/// `columns` (`"a, b"`) of the table aliased `table`, each selected under `prefix`:
/// `"t.a as p_a, t.b as p_b"`; under no prefix, `"t.a, t.b"`.
pub(super) fn qualified(table: &str, columns: &str, prefix: &str) -> String {
    let each = columns.split(',').map(str::trim).map(|column| match prefix {
        "" => format!("{table}.{column}"),
        _ => format!("{table}.{column} as {prefix}{column}"),
    });
    each.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::qualified;

    #[test]
    fn a_joined_tables_columns_are_selected_under_its_prefix() {
        assert_eq!(qualified("d", "id, room_id", "drop_"), "d.id as drop_id, d.room_id as drop_room_id");
        assert_eq!(qualified("r", "id,title", ""), "r.id, r.title");
    }
}
