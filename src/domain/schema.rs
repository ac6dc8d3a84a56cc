//! The JSON Schemas of the domain's values, for the OpenAPI and AsyncAPI documents, stated
//! from the same constants the constructors check, so a schema cannot promise less or
//! more than the parser accepts without a change here.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

/// An integer in `min..=max` (either bound optional).
pub(crate) fn integer(min: Option<i64>, max: Option<i64>, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(min)
        .maximum(max)
        .description(Some(description))
        .into()
}

/// A string of `min..=max` characters matching `pattern` (ECMA-262, as JSON Schema says).
pub(crate) fn string(min: usize, max: Option<usize>, pattern: &str, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(min))
        .max_length(max)
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

/// Characters no text of ours may hold: control characters (`char::is_control`, that is
/// U+0000–U+001F and U+007F–U+009F) and the bidirectional overrides and isolates, less a
/// newline where the text may span lines. As the inside of a regex character class.
pub(crate) fn refused_chars(lines: bool) -> &'static str {
    if lines {
        r"\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069"
    } else {
        r"\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069"
    }
}

/// The pattern of a bounded text: none of the refused characters and, when it may not be
/// empty, at least one that is not white space (the server trims before counting).
pub(crate) fn text_pattern(min: usize, lines: bool) -> String {
    let refused = refused_chars(lines);
    if min == 0 { format!("^[^{refused}]*$") } else { format!("^[^{refused}]*[^\\s{refused}][^{refused}]*$") }
}

/// An array of `min..=max` items of `T`.
pub(crate) fn array_of<T: utoipa::ToSchema>(min: usize, max: usize, description: &str) -> RefOr<Schema> {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(utoipa::openapi::Ref::from_schema_name(T::name()))
        .min_items(Some(min))
        .max_items(Some(max))
        .description(Some(description))
        .into()
}
