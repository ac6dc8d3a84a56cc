//! The AsyncAPI 3.0 description of the WebSocket protocol at `/ws`, generated, never
//! written by hand: the message schemas come from the wire types (`wire::ws`) through the
//! same `utoipa::ToSchema` derives as the OpenAPI document (so the two share every value
//! type's limits, stated in `domain` next to the checks), the error codes from
//! [`Code::ALL`] with their meaning from docs/protocol.md, section 7, and the examples
//! are the JSON examples of docs/protocol.md, sections 1 to 6, so those are checked too.
//!
//! `docs/asyncapi.json` is this document, committed; a test fails when it differs from
//! what the code generates. Regenerate it with `cargo run -- asyncapi > docs/asyncapi.json`
//! (or `LIVECART_WRITE_ASYNCAPI=1 cargo test --lib asyncapi`).
//!
//! Schema shape: utoipa writes a newtype variant or a `#[serde(flatten)]` field as an
//! `allOf` of a reference and the tag; here every such `allOf` is merged into one object,
//! and every object is closed (`additionalProperties: false`), so the document says
//! exactly which fields each message has. Each client message, server message and room
//! event kind is a schema of its own (`client.join`, `server.snapshot`, `event.comment`);
//! `ClientMsg`, `ServerMsg` and `RoomEvent` are their unions.

use crate::error::Code;
use crate::state::AppState;
use crate::wire::routes;
use crate::wire::ws::{ClientMsg, RoomEvent, ServerMsg};
use axum::Router;
use axum::routing::get;
use serde_json::{Map, Value, json};
use std::sync::LazyLock;
use utoipa::{PartialSchema, ToSchema};

/// The prose the examples and the codes' meanings come from.
const PROTOCOL_MD: &str = include_str!("../../docs/protocol.md");

/// What each client message may get in reply (besides room events): the AsyncAPI
/// operations' `reply`. Every request may also get an `error`.
const REPLIES: &[(&str, &[&str])] = &[
    ("join", &["snapshot", "resumed"]),
    ("follow_sales", &["following_sales"]),
    ("listen", &["listening"]),
    ("view_product", &["product"]),
    ("cart_add", &["cart"]),
    ("cart_set", &["cart"]),
    ("cart_remove", &["cart"]),
    ("checkout", &["order_confirmed"]),
];

pub fn router() -> Router<AppState> {
    Router::new().route(routes::ASYNCAPI, get(|| async { axum::Json(DOCUMENT.clone()) }))
}

static DOCUMENT: LazyLock<Value> = LazyLock::new(document);

/// The document as `docs/asyncapi.json` holds it: pretty JSON and a final newline.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&*DOCUMENT).unwrap_or_default();
    text.push('\n');
    text
}

/// Builds the AsyncAPI document.
pub fn document() -> Value {
    let mut schemas = component_schemas();
    let client = split_union(&mut schemas, "ClientMsg", "type", "client");
    let server = split_union(&mut schemas, "ServerMsg", "type", "server");
    let events = split_union(&mut schemas, "RoomEvent", "kind", "event");
    describe_error(&mut schemas);
    for name in &client {
        close(schemas.get_mut(&format!("client.{name}")).expect("split above"));
    }
    close_all(&mut schemas);
    drop_unreachable(&mut schemas);

    let examples = examples().0;
    let mut messages = Map::new();
    for name in &client {
        let schema = &schemas[&format!("client.{name}")];
        messages.insert(name.clone(), message(name, schema, schema_ref(&format!("client.{name}")), &examples));
    }
    for name in server.iter().filter(|n| *n != "event") {
        let schema = &schemas[&format!("server.{name}")];
        messages.insert(name.clone(), message(name, schema, schema_ref(&format!("server.{name}")), &examples));
    }
    for kind in &events {
        // One message per event kind: the `event` frame with that kind inside.
        let mut frame = schemas["server.event"].clone();
        frame["properties"]["event"] = schema_ref(&format!("event.{kind}"));
        let described = schemas[&format!("event.{kind}")].clone();
        let name = format!("event.{kind}");
        let mut m = message(&name, &described, frame, &examples);
        m["title"] = Value::from(format!("event: {kind}"));
        messages.insert(name, m);
    }

    let channel_messages: Map<String, Value> =
        messages.keys().map(|k| (k.clone(), json!({"$ref": format!("#/components/messages/{k}")}))).collect();
    let on_channel = |m: &str| json!({"$ref": format!("#/channels/ws/messages/{m}")});
    let mut operations = Map::new();
    for name in &client {
        let mut op = json!({
            "action": "receive",
            "channel": {"$ref": "#/channels/ws"},
            "summary": format!("A client sends `{name}`."),
            "messages": [on_channel(name)],
        });
        let replies = REPLIES.iter().find(|(n, _)| n == name).map_or(&[][..], |(_, r)| r);
        let replies: Vec<Value> = replies.iter().copied().chain(["error"]).map(on_channel).collect();
        op["reply"] = json!({"channel": {"$ref": "#/channels/ws"}, "messages": replies});
        operations.insert(format!("receive_{name}"), op);
    }
    for name in messages.keys().filter(|k| !client.contains(k)) {
        let op = json!({
            "action": "send",
            "channel": {"$ref": "#/channels/ws"},
            "summary": format!("The server sends `{name}`."),
            "messages": [on_channel(name)],
        });
        operations.insert(format!("send_{}", name.replace('.', "_")), op);
    }

    json!({
        "asyncapi": "3.0.0",
        "id": "urn:livecart:ws",
        "info": {
            "title": "livecart WebSocket protocol",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Watching and acting in a live room, and following a brand's sales, over one WebSocket at /ws. \
                This document describes the livecart server: it receives the client messages and sends the server messages. \
                Every message is one JSON object in one text frame, tagged by `type`; room events inside an `event` frame are tagged by `kind`. \
                The rules (joining, sequencing and resume, who may send what, limits, idempotent checkout) are in docs/protocol.md; \
                the schemas here are generated from the server's wire types and list every field this version sends \
                (a client should still ignore fields it does not know: a later version may add some).",
            "license": {"name": "MIT"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "embedded": {
                "host": "127.0.0.1:8080",
                "protocol": "ws",
                "description": "`cargo run --release` serves the protocol here; behind TLS it is `wss`.",
            }
        },
        "channels": {
            "ws": {
                "address": routes::WS,
                "title": "Room, sales-feed and notices connection",
                "description": "The first frame a client sends is `join` (a room), `follow_sales` (a brand's sales feed) or `listen` (the account's notices).",
                "servers": [{"$ref": "#/servers/embedded"}],
                "messages": channel_messages,
            }
        },
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    })
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// One AsyncAPI message: its payload, its name and summary (from the type's doc
/// comment), and the examples of docs/protocol.md that are messages of this name.
fn message(name: &str, described: &Value, payload: Value, examples: &[(String, Value)]) -> Value {
    let mut m = json!({"name": name, "title": name, "contentType": "application/json", "payload": payload});
    if let Some(d) = described.get("description").and_then(Value::as_str) {
        m["summary"] = Value::from(d.split("\n\n").next().unwrap_or(d).replace('\n', " "));
        m["description"] = Value::from(d);
    }
    let mine: Vec<Value> = examples
        .iter()
        .filter(|(n, _)| n == name)
        .enumerate()
        .map(|(i, (_, payload))| json!({"name": format!("{}_{}", name.replace('.', "_"), i + 1), "payload": payload}))
        .collect();
    if !mine.is_empty() {
        m["examples"] = Value::Array(mine);
    }
    m
}

/// The schemas utoipa derives for the three unions and everything they contain, with
/// every `allOf` merged.
fn component_schemas() -> Map<String, Value> {
    let mut all = Vec::new();
    for (name, schema) in [
        (ClientMsg::name(), ClientMsg::schema()),
        (ServerMsg::name(), ServerMsg::schema()),
        (RoomEvent::name(), RoomEvent::schema()),
    ] {
        all.push((name.into_owned(), schema));
    }
    ClientMsg::schemas(&mut all);
    ServerMsg::schemas(&mut all);
    RoomEvent::schemas(&mut all);
    let raw: Map<String, Value> =
        all.into_iter().map(|(n, s)| (n, serde_json::to_value(s).expect("a schema is JSON"))).collect();
    raw.iter().map(|(n, s)| (n.clone(), merged(s, &raw))).collect()
}

/// `schema` with every `allOf` of objects (after following references) merged into one
/// object, at any depth.
fn merged(schema: &Value, all: &Map<String, Value>) -> Value {
    let mut out = match as_object(schema, all, 0) {
        Some(object) if schema.get("allOf").is_some() => {
            let mut o = object;
            for key in ["description", "title"] {
                if let Some(v) = schema.get(key) {
                    o.insert(key.into(), v.clone());
                }
            }
            Value::Object(o)
        }
        _ => schema.clone(),
    };
    if let Value::Object(map) = &mut out {
        for (key, value) in map.iter_mut() {
            match key.as_str() {
                "properties" => {
                    if let Value::Object(props) = value {
                        for p in props.values_mut() {
                            *p = merged(p, all);
                        }
                    }
                }
                "items" | "additionalProperties" => *value = merged(value, all),
                "oneOf" | "anyOf" => {
                    if let Value::Array(members) = value {
                        for m in members {
                            *m = merged(m, all);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The object `schema` stands for: itself, what its reference names, or its `allOf`
/// members merged (properties and required fields joined). `None` when it is not an
/// object schema.
fn as_object(schema: &Value, all: &Map<String, Value>, depth: usize) -> Option<Map<String, Value>> {
    if depth > 16 {
        return None;
    }
    if let Some(name) = schema.get("$ref").and_then(Value::as_str) {
        let target = all.get(name.strip_prefix("#/components/schemas/")?)?;
        return as_object(target, all, depth + 1);
    }
    if let Some(Value::Array(members)) = schema.get("allOf") {
        let mut o = Map::new();
        o.insert("type".into(), Value::from("object"));
        let (mut props, mut required) = (Map::new(), Vec::<Value>::new());
        for m in members {
            let m = as_object(m, all, depth + 1)?;
            if let Some(Value::Object(p)) = m.get("properties") {
                props.extend(p.clone());
            }
            if let Some(Value::Array(r)) = m.get("required") {
                required.extend(r.iter().filter(|v| !required.contains(v)).cloned().collect::<Vec<_>>());
            }
            if let Some(d) = m.get("description") {
                o.entry("description").or_insert_with(|| d.clone());
            }
        }
        o.insert("properties".into(), Value::Object(props));
        o.insert("required".into(), Value::Array(required));
        return Some(o);
    }
    let o = schema.as_object()?;
    (o.get("type") == Some(&Value::from("object")) && o.contains_key("properties")).then(|| o.clone())
}

/// Replaces the union `name`'s members by references to schemas of their own, named
/// `prefix.TAG` by the value of their `tag` field; answers the tags in order.
fn split_union(schemas: &mut Map<String, Value>, name: &str, tag: &str, prefix: &str) -> Vec<String> {
    let mut union = schemas.remove(name).unwrap_or_else(|| panic!("utoipa derives {name}"));
    let members = union.get_mut("oneOf").and_then(Value::as_array_mut).expect("a tagged enum is a oneOf");
    let mut tags = Vec::new();
    for member in members.iter_mut() {
        let t = member["properties"][tag]["enum"][0].as_str().expect("each member names its tag").to_owned();
        let own = format!("{prefix}.{t}");
        member["title"] = Value::from(own.clone());
        schemas.insert(own.clone(), std::mem::replace(member, schema_ref(&own)));
        tags.push(t);
    }
    union["title"] = Value::from(name);
    schemas.insert(name.to_owned(), union);
    tags
}

/// The `error` message's `code` is one of [`Code::ALL`], each with its HTTP status and
/// its meaning from docs/protocol.md, section 7; its `request` is a client message type.
fn describe_error(schemas: &mut Map<String, Value>) {
    let meanings = code_meanings();
    let codes: Vec<Value> = Code::ALL
        .iter()
        .map(|c| {
            let meaning = meanings.iter().find(|(code, _)| code == c.as_str()).map_or("", |(_, m)| m.as_str());
            let status = c.status().as_u16();
            json!({"const": c.as_str(), "description": format!("HTTP {status} over REST. {meaning}")})
        })
        .collect();
    let error = schemas.get_mut("server.error").expect("ServerMsg has an error");
    error["properties"]["code"] = json!({
        "type": "string",
        "description": "Stable and machine-readable; the same codes are used in HTTP error bodies (docs/protocol.md, section 7).",
        "oneOf": codes,
    });
    error["properties"]["request"] = json!({
        "type": "string",
        "description": "The `type` of the client message that failed: present whenever the frame was a JSON object whose `type` names a client message; absent for a frame that was not (malformed JSON, an unknown type, an oversized or binary frame), for errors tied to no request, and on the sales feed.",
        "enum": ClientMsg::TYPES,
    });
}

/// `(code, meaning)` for each row of docs/protocol.md's section 7 table.
fn code_meanings() -> Vec<(String, String)> {
    let Some(section) = PROTOCOL_MD.split("\n## 7.").nth(1) else { return Vec::new() };
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            (cells.len() == 5).then(|| (code.to_owned(), cells[3].to_owned()))
        })
        .collect()
}

/// Closes every object schema: no field beyond those it names.
fn close_all(schemas: &mut Map<String, Value>) {
    for s in schemas.values_mut() {
        close(s);
    }
}

fn close(schema: &mut Value) {
    let Value::Object(map) = schema else { return };
    if map.contains_key("properties") && !map.contains_key("additionalProperties") {
        map.insert("additionalProperties".into(), Value::Bool(false));
    }
    for (key, value) in map.iter_mut() {
        match (key.as_str(), value) {
            ("properties", Value::Object(props)) => props.values_mut().for_each(close),
            ("items" | "additionalProperties", v) => close(v),
            ("oneOf" | "anyOf" | "allOf", Value::Array(members)) => members.iter_mut().for_each(close),
            _ => {}
        }
    }
}

/// Drops the schemas nothing refers to any more (those only `allOf` used).
fn drop_unreachable(schemas: &mut Map<String, Value>) {
    let mut reachable: Vec<String> = ["ClientMsg", "ServerMsg", "RoomEvent"].map(String::from).to_vec();
    let mut i = 0;
    while i < reachable.len() {
        let mut refs = Vec::new();
        if let Some(s) = schemas.get(&reachable[i]) {
            collect_refs(s, &mut refs);
        }
        for r in refs {
            if !reachable.contains(&r) {
                reachable.push(r);
            }
        }
        i += 1;
    }
    schemas.retain(|name, _| reachable.contains(name));
}

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                if let Some(name) = r.strip_prefix("#/components/schemas/") {
                    out.push(name.to_owned());
                }
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The JSON examples of docs/protocol.md, sections 1 to 6, that are messages: `(message
/// name, payload)` (an `event` frame is named `event.KIND`), and the examples that could
/// not be read (which a test requires to be none).
pub(crate) fn examples() -> (Vec<(String, Value)>, Vec<String>) {
    messages_in(PROTOCOL_MD.split("\n## 7.").next().unwrap_or(PROTOCOL_MD))
}

/// The frames of docs/protocol.md's section 10 (writing a client), as [`examples`] reads
/// them: checked like the examples, not copied into the document.
#[cfg(test)]
fn walkthrough() -> (Vec<(String, Value)>, Vec<String>) {
    let section = PROTOCOL_MD.split("\n## 10.").nth(1).unwrap_or_default();
    messages_in(section.split("\n## ").next().unwrap_or_default())
}

/// The messages in the ```json blocks of `body`: a block is one JSON value, or one per
/// line.
fn messages_in(body: &str) -> (Vec<(String, Value)>, Vec<String>) {
    let (mut found, mut unreadable) = (Vec::new(), Vec::new());
    for block in body.split("```json\n").skip(1) {
        let block = block.split("\n```").next().unwrap_or_default();
        let values: Vec<Result<Value, String>> = match serde_json::from_str::<Value>(block) {
            Ok(v) => vec![Ok(v)],
            Err(_) => block
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).map_err(|e| format!("{e}: {l}")))
                .collect(),
        };
        for v in values {
            match v {
                Ok(v) => match v.get("type").and_then(Value::as_str) {
                    Some("event") => match v["event"]["kind"].as_str() {
                        Some(kind) => found.push((format!("event.{kind}"), v)),
                        None => unreadable.push(format!("an event without a kind: {v}")),
                    },
                    Some(t) => found.push((t.to_owned(), v)),
                    None => unreadable.push(format!("not a message (no type): {v}")),
                },
                Err(e) => unreadable.push(e),
            }
        }
    }
    (found, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed document is what the code generates. `LIVECART_WRITE_ASYNCAPI=1`
    /// rewrites it instead of failing.
    #[test]
    fn the_committed_document_is_what_the_code_generates() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/asyncapi.json");
        let generated = document_text();
        if std::env::var_os("LIVECART_WRITE_ASYNCAPI").is_some() {
            std::fs::write(path, &generated).expect("write docs/asyncapi.json");
            return;
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/asyncapi.json differs from what the wire types generate. If the change is meant, regenerate it \
             with `cargo run -- asyncapi > docs/asyncapi.json` (or `LIVECART_WRITE_ASYNCAPI=1 cargo test --lib \
             asyncapi`) and review the diff: clients read that file."
        );
    }

    fn validator(doc: &Value, schema: Value) -> jsonschema::Validator {
        let mut root = schema;
        root["components"] = doc["components"].clone();
        jsonschema::draft7::new(&root).expect("the schema compiles")
    }

    #[test]
    fn every_example_of_the_protocol_doc_is_a_valid_message() {
        let doc = document();
        let (examples, unreadable) = examples();
        assert!(unreadable.is_empty(), "docs/protocol.md has examples that are not messages: {unreadable:#?}");
        assert!(examples.len() >= 35, "too few examples read: {}", examples.len());
        let (frames, unreadable) = walkthrough();
        assert!(
            unreadable.is_empty(),
            "section 10 of docs/protocol.md has frames that are not messages: {unreadable:#?}"
        );
        assert!(frames.len() >= 15, "too few frames read in section 10: {}", frames.len());
        let mut problems = Vec::new();
        for (name, payload) in examples.iter().chain(&frames) {
            let Some(message) = doc["components"]["messages"].get(name) else {
                problems.push(format!("no message {name:?} for {payload}"));
                continue;
            };
            let v = validator(&doc, message["payload"].clone());
            for e in v.iter_errors(payload) {
                problems.push(format!("{name}: {e} at {} in {payload}", e.instance_path()));
            }
        }
        assert!(problems.is_empty(), "invalid examples in docs/protocol.md:\n{}", problems.join("\n"));
    }

    #[test]
    fn every_message_and_event_kind_has_an_example() {
        let doc = document();
        let named: Vec<String> = examples().0.into_iter().map(|(n, _)| n).collect();
        let missing: Vec<&String> =
            doc["components"]["messages"].as_object().unwrap().keys().filter(|m| !named.contains(m)).collect();
        assert!(missing.is_empty(), "docs/protocol.md has no example of {missing:?}");
    }

    #[test]
    fn the_codes_are_those_of_the_protocol_doc_in_its_order() {
        let documented: Vec<String> = code_meanings().into_iter().map(|(c, _)| c).collect();
        let ours: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(documented, ours, "Code::ALL and docs/protocol.md, section 7, list different codes");
    }

    #[test]
    fn every_client_message_is_closed_and_every_union_member_has_a_schema() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        for t in ClientMsg::TYPES {
            assert_eq!(schemas[format!("client.{t}")]["additionalProperties"], Value::Bool(false), "{t}");
        }
        for union in ["ClientMsg", "ServerMsg", "RoomEvent"] {
            for member in schemas[union]["oneOf"].as_array().unwrap() {
                let name = member["$ref"].as_str().unwrap().trim_start_matches("#/components/schemas/");
                assert!(schemas.get(name).is_some(), "{union}: {name}");
                assert!(schemas[name].get("allOf").is_none(), "{name} still has an allOf");
            }
        }
    }

    /// The schemas state the limits the decoder checks: a frame the schema accepts is one
    /// the decoder accepts, for the frames of the protocol doc and some near misses.
    #[test]
    fn the_client_schema_refuses_what_the_decoder_refuses() {
        let doc = document();
        let v = validator(&doc, schema_ref("ClientMsg"));
        let frames = [
            (r#"{"type":"join","room_id":0,"guest_name":"Zero"}"#, false),
            (r#"{"type":"join","room_id":7,"guest_name":"   "}"#, false),
            (r#"{"type":"join","room_id":7,"guest_name":"Sam"}"#, true),
            (r#"{"type":"cart_add","product_id":5,"quantity":0}"#, false),
            (r#"{"type":"cart_add","product_id":5,"quantity":100}"#, false),
            (r#"{"type":"cart_set","product_id":5,"quantity":99}"#, true),
            (r#"{"type":"start_drop","product_id":5,"quantity":3,"price":-1,"duration_secs":60}"#, false),
            (r#"{"type":"start_drop","product_id":5,"quantity":3,"price":null,"duration_secs":9}"#, false),
            (r#"{"type":"start_drop","product_id":5,"quantity":3,"duration_secs":10}"#, true),
            (r#"{"type":"comment","text":"bell\u0007"}"#, false),
            (r#"{"type":"comment","text":"two\nlines"}"#, true),
            (r#"{"type":"checkout","idempotency_key":"a b","card":"4242424242424242"}"#, false),
            (r#"{"type":"checkout","idempotency_key":"k","card":"4242 4242 4242 4242","promo_code":"maya10"}"#, true),
            (r#"{"type":"checkout","idempotency_key":"k","card":"42424242424"}"#, false),
            (r#"{"type":"checkout","idempotency_key":"k","payment":"saved"}"#, true),
            (r#"{"type":"checkout","idempotency_key":"k","payment":"later"}"#, false),
            (r#"{"type":"checkout","idempotency_key":"k","card":"4242424242424242","save":"yes"}"#, false),
            (
                r#"{"type":"checkout","idempotency_key":"k","card":"4242424242424242","save":true,"shipping":{"name":"Sam","line1":"1 Main St","city":"Oslo","postal_code":"0150","country":"no"}}"#,
                true,
            ),
            (
                r#"{"type":"checkout","idempotency_key":"k","payment":"saved","shipping":{"name":"Sam","line1":"1 Main St","city":"Oslo","postal_code":"0150","country":"NOR"}}"#,
                false,
            ),
            (
                r#"{"type":"checkout","idempotency_key":"k","payment":"saved","shipping":{"name":"Sam","line1":"1 Main St","city":"Oslo","postal_code":"0150","country":"NO","floor":3}}"#,
                false,
            ),
            (r#"{"type":"unpin","extra":1}"#, false),
            (r#"{"type":"react","reaction":"volcano"}"#, false),
        ];
        // And at each bound of each text field, on both sides.
        let text = |kind: &str, field: &str, value: String| {
            let mut frame = match kind {
                "join" => json!({"type": "join", "room_id": 1}),
                _ => json!({"type": "checkout", "idempotency_key": "k", "card": "4242424242424242"}),
            };
            frame[field] = Value::from(value);
            frame.to_string()
        };
        let bounds = [
            (text("join", "guest_name", "n".repeat(40)), true),
            (text("join", "guest_name", "n".repeat(41)), false),
            (text("join", "guest_name", "é".repeat(40)), true),
            (text("join", "guest_name", "a\u{202E}b".into()), false),
            (text("checkout", "idempotency_key", "k".repeat(255)), true),
            (text("checkout", "idempotency_key", "k".repeat(256)), false),
            (text("checkout", "idempotency_key", String::new()), false),
            (text("checkout", "promo_code", "ab".into()), false),
            (text("checkout", "promo_code", "abc".into()), true),
            (text("checkout", "promo_code", "A".repeat(32)), true),
            (text("checkout", "promo_code", "A".repeat(33)), false),
            (text("checkout", "card", "1".repeat(12)), true),
            (text("checkout", "card", "1".repeat(19)), true),
            (text("checkout", "card", "1".repeat(20)), false),
            (format!(r#"{{"type":"comment","text":"{}"}}"#, "é".repeat(300)), true),
            (format!(r#"{{"type":"comment","text":"{}"}}"#, "é".repeat(301)), false),
            (r#"{"type":"join","room_id":1,"guest_name":"Sam","since":-1,"epoch":"e"}"#.to_owned(), false),
        ];
        let frames = frames.iter().map(|(f, v)| ((*f).to_owned(), *v)).chain(bounds);
        for (frame, valid) in frames {
            let frame = frame.as_str();
            let value: Value = serde_json::from_str(frame).unwrap();
            assert_eq!(v.is_valid(&value), valid, "schema on {frame}");
            assert_eq!(serde_json::from_str::<ClientMsg>(frame).is_ok(), valid, "decoder on {frame}");
        }
    }
}
