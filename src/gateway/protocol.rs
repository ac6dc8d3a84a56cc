//! Text frame → [`ClientMsg`], with a precise error for everything else.

use crate::error::ApiError;
use crate::wire::ws::{ClientMsg, MAX_CLIENT_FRAME_BYTES};

pub fn decode(text: &str) -> Result<ClientMsg, ApiError> {
    if text.len() > MAX_CLIENT_FRAME_BYTES {
        return Err(ApiError::frame_too_large(MAX_CLIENT_FRAME_BYTES));
    }
    // serde's tagged enums would also take an array whose first element is the tag.
    if text.trim_start().starts_with('[') {
        return Err(ApiError::bad_request("every message is a JSON object"));
    }
    serde_json::from_str(text).map_err(|e| classify(text, e))
}

/// The client message a refused frame names: its `type`, when the frame is a JSON object
/// (within the size limit) whose `type` is a client message's. An error about the frame
/// echoes it as `request` whichever check refused it, so a client can tell which of its
/// requests failed (docs/protocol.md, section 4). Only the failure path reads the frame
/// again.
pub fn named_type(text: &str) -> Option<&'static str> {
    if text.len() > MAX_CLIENT_FRAME_BYTES {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let kind = value.as_object()?.get("type")?.as_str()?;
    ClientMsg::TYPES.iter().copied().find(|t| *t == kind)
}

/// Turns serde's error into ours. Only the failure path parses the frame a second time.
fn classify(text: &str, e: serde_json::Error) -> ApiError {
    if e.is_syntax() || e.is_eof() {
        return ApiError::malformed_json();
    }
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => return ApiError::malformed_json(),
    };
    let Some(kind) = value.get("type").and_then(|t| t.as_str()) else {
        return ApiError::bad_request("every message needs a string field \"type\"");
    };
    if !ClientMsg::TYPES.contains(&kind) {
        return ApiError::unknown_message(&kind.chars().take(40).collect::<String>());
    }
    let message = e.to_string();
    // serde appends the position ("at line 1 column 42"), which means nothing to a client.
    let message = message.split(" at line ").next().unwrap_or(&message);
    ApiError::bad_request(format!("{kind}: {message}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> &'static str {
        decode(text).err().map(|e| e.code()).unwrap_or("ok")
    }

    #[test]
    fn the_known_types_are_exactly_the_messages_serde_knows() {
        let listed = serde_json::from_str::<ClientMsg>(r#"{"type":"?"}"#).unwrap_err().to_string();
        let named: Vec<&str> = listed.split('`').skip(3).step_by(2).collect();
        assert_eq!(named, ClientMsg::TYPES, "{listed}");
    }

    #[test]
    fn a_refused_frame_names_its_request_whenever_its_type_is_a_client_message() {
        assert_eq!(named_type(r#"{"type":"cart_add","product_id":5,"quantity":0}"#), Some("cart_add"));
        assert_eq!(named_type(r#"{"type":"join","room_id":0,"guest_name":"Zero"}"#), Some("join"));
        assert_eq!(named_type(r#"{"type":"comment","text":"hi","extra":1}"#), Some("comment"));
        assert_eq!(named_type(r#"{"type":"dance"}"#), None);
        assert_eq!(named_type(r#"{"text":"no type"}"#), None);
        assert_eq!(named_type(r#"["comment"]"#), None);
        assert_eq!(named_type("{not json"), None);
        let big = format!(r#"{{"type":"comment","text":"{}"}}"#, "a".repeat(5000));
        assert_eq!(named_type(&big), None, "an oversized frame is not read");
    }

    #[test]
    fn bad_frames_get_precise_codes() {
        assert_eq!(code("{not json"), "malformed_json");
        assert_eq!(code(r#"{"type":"dance"}"#), "unknown_message");
        assert_eq!(code(r#"{"text":"hi"}"#), "invalid_input");
        assert_eq!(code(r#"{"type":"comment"}"#), "invalid_input");
        assert_eq!(code(r#"{"type":"comment","text":""}"#), "invalid_input");
        assert_eq!(code(r#"{"type":"react","reaction":"heart2"}"#), "invalid_input");
        assert_eq!(code(&format!(r#"{{"type":"comment","text":"{}"}}"#, "a".repeat(5000))), "frame_too_large");
        assert_eq!(code(r#"{"type":"comment","text":"hi"}"#), "ok");
    }

    /// The decoder under proptest: whatever a client sends, `decode` never panics, answers
    /// with one of its documented codes, and accepts exactly the valid messages. A model of
    /// every message (`SPECS`) says which frames are valid and which code the others get.
    /// `PROPTEST_CASES` sets the cases per property (256 by default; e.g.
    /// `PROPTEST_CASES=100000 cargo test --lib gateway::protocol` for a long run).
    mod properties {
        use super::super::decode;
        use crate::domain::{
            CardNumber, CommentText, DisplayName, IdempotencyKey, Increments, Prize, PromoCode, ShippingAddress,
        };
        use crate::wire::ws::{ClientMsg, MAX_CLIENT_FRAME_BYTES};
        use proptest::prelude::*;
        use serde_json::Value;

        /// Every code `decode` may answer with (docs/protocol.md, section 7).
        const DECODE_CODES: [&str; 4] = ["malformed_json", "frame_too_large", "unknown_message", "invalid_input"];

        /// What a field of a message accepts.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Field {
            /// A positive i64 id.
            Id,
            /// An i64 within these bounds, inclusive (checked on decoding through its
            /// domain type).
            Range(i64, i64),
            /// Any u64.
            Count,
            /// Any string.
            Str,
            /// A [`DisplayName`].
            Name,
            /// A [`CommentText`].
            Comment,
            /// One of [`REACTIONS`].
            Reaction,
            /// An [`IdempotencyKey`].
            Key,
            /// A [`CardNumber`].
            Card,
            /// A [`PromoCode`].
            Promo,
            /// `card` or `saved` (a `PaymentSource`).
            Source,
            /// A JSON boolean.
            Bool,
            /// A [`Prize`].
            Prize,
            /// One of these strings.
            OneOf(&'static [&'static str]),
            /// A [`ShippingAddress`] object.
            Address,
            /// `room` or `creator` (a `BanScope`).
            Scope,
            /// An [`Increments`] table.
            Steps,
        }

        /// Whether a field must be present: `Optional` ones are `#[serde(default)]` options,
        /// for which null and absent both mean none.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum Need {
            Required,
            Optional,
        }
        use Field::*;
        use Need::*;

        type Spec = (&'static str, &'static [(&'static str, Field, Need)]);

        /// Every client message and its fields, as `ClientMsg` defines them.
        /// `specs_cover_every_message_and_field` keeps this in step with the type.
        const SPECS: &[Spec] = &[
            (
                "join",
                &[
                    ("room_id", Id, Required),
                    ("token", Str, Optional),
                    ("guest_name", Name, Optional),
                    ("since", Count, Optional),
                    ("epoch", Str, Optional),
                    ("audience_key", Str, Optional),
                ],
            ),
            ("follow_sales", &[("token", Str, Required)]),
            ("listen", &[("token", Str, Required)]),
            ("comment", &[("text", Comment, Required)]),
            ("react", &[("reaction", Reaction, Required)]),
            ("pin", &[("product_id", Id, Required)]),
            ("unpin", &[]),
            (
                "start_drop",
                &[
                    ("product_id", Id, Required),
                    ("quantity", Range(1, 1_000_000_000), Required),
                    ("price", Range(0, 100_000_000_000), Optional),
                    ("duration_secs", Range(10, 3_600), Required),
                    ("per_buyer", Range(1, 99), Optional),
                ],
            ),
            (
                "start_giveaway",
                &[
                    ("prize", Prize, Required),
                    ("entry", OneOf(&["signed_in", "followers", "buyers"]), Required),
                    ("duration_secs", Range(10, 3_600), Required),
                ],
            ),
            ("enter_giveaway", &[("giveaway_id", Id, Required)]),
            (
                "start_auction",
                &[
                    ("product_id", Id, Required),
                    ("starting_price", Range(0, 100_000_000_000), Required),
                    ("duration_secs", Range(10, 3_600), Required),
                    ("increments", Steps, Optional),
                    ("extend_secs", Range(1, 60), Optional),
                    ("sudden_death", Bool, Optional),
                ],
            ),
            (
                "bid",
                &[
                    ("auction_id", Id, Required),
                    ("amount", Range(0, 100_000_000_000), Required),
                    ("max_amount", Range(0, 100_000_000_000), Optional),
                ],
            ),
            (
                "pay_offer",
                &[
                    ("offer_id", Id, Required),
                    ("idempotency_key", Key, Required),
                    ("card", Card, Optional),
                    ("payment", Source, Optional),
                    ("save", Bool, Optional),
                    ("shipping", Address, Optional),
                ],
            ),
            ("join_waitlist", &[("product_id", Id, Required)]),
            ("leave_waitlist", &[("product_id", Id, Required)]),
            ("end_room", &[]),
            ("view_product", &[("product_id", Id, Required)]),
            ("cart_add", &[("product_id", Id, Required), ("quantity", Range(1, 99), Required)]),
            ("cart_set", &[("product_id", Id, Required), ("quantity", Range(1, 99), Required)]),
            ("cart_remove", &[("product_id", Id, Required)]),
            (
                "checkout",
                &[
                    ("idempotency_key", Key, Required),
                    ("card", Card, Optional),
                    ("payment", Source, Optional),
                    ("save", Bool, Optional),
                    ("shipping", Address, Optional),
                    ("promo_code", Promo, Optional),
                ],
            ),
            ("delete_comment", &[("seq", Count, Required)]),
            ("timeout", &[("seq", Count, Required), ("secs", Range(10, 86_400), Required)]),
            ("ban", &[("seq", Count, Required), ("scope", Scope, Optional)]),
            ("slow_mode", &[("secs", Range(0, 3_600), Required)]),
            ("approve_comment", &[("id", Id, Required)]),
            ("reject_comment", &[("id", Id, Required)]),
        ];

        const REACTIONS: [&str; 5] = ["heart", "fire", "clap", "laugh", "wow"];

        /// The message's tag and its fields, destructured without `..`: a field or a
        /// message added to `ClientMsg` does not compile until it is added here (and to
        /// [`SPECS`]).
        fn shape(m: &ClientMsg) -> (&'static str, Vec<&'static str>) {
            match m {
                ClientMsg::Join { room_id: _, token: _, guest_name: _, since: _, epoch: _, audience_key: _ } => {
                    ("join", vec!["room_id", "token", "guest_name", "since", "epoch", "audience_key"])
                }
                ClientMsg::FollowSales { token: _ } => ("follow_sales", vec!["token"]),
                ClientMsg::Listen { token: _ } => ("listen", vec!["token"]),
                ClientMsg::Comment { text: _ } => ("comment", vec!["text"]),
                ClientMsg::React { reaction: _ } => ("react", vec!["reaction"]),
                ClientMsg::Pin { product_id: _ } => ("pin", vec!["product_id"]),
                ClientMsg::Unpin {} => ("unpin", vec![]),
                ClientMsg::StartDrop { product_id: _, quantity: _, price: _, duration_secs: _, per_buyer: _ } => {
                    ("start_drop", vec!["product_id", "quantity", "price", "duration_secs", "per_buyer"])
                }
                ClientMsg::StartGiveaway { prize: _, entry: _, duration_secs: _ } => {
                    ("start_giveaway", vec!["prize", "entry", "duration_secs"])
                }
                ClientMsg::EnterGiveaway { giveaway_id: _ } => ("enter_giveaway", vec!["giveaway_id"]),
                ClientMsg::StartAuction {
                    product_id: _,
                    starting_price: _,
                    duration_secs: _,
                    increments: _,
                    extend_secs: _,
                    sudden_death: _,
                } => (
                    "start_auction",
                    vec!["product_id", "starting_price", "duration_secs", "increments", "extend_secs", "sudden_death"],
                ),
                ClientMsg::Bid { auction_id: _, amount: _, max_amount: _ } => {
                    ("bid", vec!["auction_id", "amount", "max_amount"])
                }
                ClientMsg::PayOffer { offer_id: _, idempotency_key: _, card: _, payment: _, save: _, shipping: _ } => {
                    ("pay_offer", vec!["offer_id", "idempotency_key", "card", "payment", "save", "shipping"])
                }
                ClientMsg::JoinWaitlist { product_id: _ } => ("join_waitlist", vec!["product_id"]),
                ClientMsg::LeaveWaitlist { product_id: _ } => ("leave_waitlist", vec!["product_id"]),
                ClientMsg::EndRoom {} => ("end_room", vec![]),
                ClientMsg::ViewProduct { product_id: _ } => ("view_product", vec!["product_id"]),
                ClientMsg::CartAdd { product_id: _, quantity: _ } => ("cart_add", vec!["product_id", "quantity"]),
                ClientMsg::CartSet { product_id: _, quantity: _ } => ("cart_set", vec!["product_id", "quantity"]),
                ClientMsg::CartRemove { product_id: _ } => ("cart_remove", vec!["product_id"]),
                ClientMsg::Checkout {
                    idempotency_key: _,
                    card: _,
                    payment: _,
                    save: _,
                    shipping: _,
                    promo_code: _,
                } => ("checkout", vec!["idempotency_key", "card", "payment", "save", "shipping", "promo_code"]),
                ClientMsg::DeleteComment { seq: _ } => ("delete_comment", vec!["seq"]),
                ClientMsg::Timeout { seq: _, secs: _ } => ("timeout", vec!["seq", "secs"]),
                ClientMsg::Ban { seq: _, scope: _ } => ("ban", vec!["seq", "scope"]),
                ClientMsg::SlowMode { secs: _ } => ("slow_mode", vec!["secs"]),
                ClientMsg::ApproveComment { id: _ } => ("approve_comment", vec!["id"]),
                ClientMsg::RejectComment { id: _ } => ("reject_comment", vec!["id"]),
            }
        }

        /// The message types serde knows, from its own "expected one of" list.
        fn serde_variants() -> Vec<String> {
            let e = serde_json::from_str::<ClientMsg>(r#"{"type":"\u0000"}"#).expect_err("no such message");
            let text = e.to_string();
            let list = text.split("expected ").nth(1).expect("serde lists the variants");
            list.split('`').skip(1).step_by(2).map(str::to_owned).collect()
        }

        /// A shipping address the decoder accepts.
        fn sample_address() -> Value {
            serde_json::json!({"name": "Sam Lee", "line1": "1 Rue de Rivoli", "city": "Paris",
                "postal_code": "75001", "country": "FR"})
        }

        /// An increments table the decoder accepts.
        fn sample_steps() -> Value {
            serde_json::json!([{"from": 0, "step": 50}, {"from": 1000, "step": 100}])
        }

        fn valid(field: Field, v: &Value) -> bool {
            let text = |check: fn(&str) -> bool| v.as_str().is_some_and(check);
            match field {
                Id => v.as_i64().is_some_and(|n| n > 0),
                Range(min, max) => v.as_i64().is_some_and(|n| (min..=max).contains(&n)),
                Count => v.as_u64().is_some(),
                Str => v.is_string(),
                Name => text(|s| DisplayName::try_from(s).is_ok()),
                Comment => text(|s| CommentText::try_from(s).is_ok()),
                Reaction => text(|s| REACTIONS.contains(&s)),
                Key => text(|s| IdempotencyKey::try_from(s.to_owned()).is_ok()),
                Card => text(|s| CardNumber::try_from(s.to_owned()).is_ok()),
                Promo => text(|s| PromoCode::try_from(s).is_ok()),
                Source => text(|s| ["card", "saved"].contains(&s)),
                Scope => text(|s| ["room", "creator"].contains(&s)),
                Bool => v.is_boolean(),
                Prize => text(|s| Prize::try_from(s).is_ok()),
                OneOf(names) => v.as_str().is_some_and(|s| names.contains(&s)),
                Address => serde_json::from_value::<ShippingAddress>(v.clone()).is_ok(),
                Steps => serde_json::from_value::<Increments>(v.clone()).is_ok(),
            }
        }

        /// Strings a fuzzer should try: names the protocol uses elsewhere, boundaries,
        /// control and text-reordering characters, digits, long and non-ASCII text.
        fn tricky_string() -> BoxedStrategy<String> {
            let names: Vec<String> = SPECS
                .iter()
                .flat_map(|(kind, fields)| std::iter::once(*kind).chain(fields.iter().map(|f| f.0)))
                .chain(REACTIONS)
                .chain(["", " ", "null", "0", "-1", "type", "Heart", "HEART", "\u{202E}", "4242424242424242"])
                .map(str::to_owned)
                .collect();
            prop_oneof![
                3 => proptest::sample::select(names),
                3 => "[a-zA-Z0-9 _-]{0,24}",
                2 => ".{0,40}",
                1 => "[ -~]{1,8}[\\x00-\\x1f\\x7f\\u{202A}-\\u{202E}\\u{2066}-\\u{2069}][ -~]{0,8}",
                1 => "[0-9 ]{10,24}",
                1 => "[!-~]{250,260}",
                1 => "[a-zé😀]{295,305}",
                1 => "[a-z]{38,42}",
                1 => "[ \\n\\t]{0,3}[a-z]{1,5}[ \\n\\t]{0,3}",
            ]
            .boxed()
        }

        fn tricky_number() -> BoxedStrategy<Value> {
            prop_oneof![
                4 => (-5i64..100).prop_map(Value::from),
                2 => any::<i64>().prop_map(Value::from),
                2 => any::<u64>().prop_map(Value::from),
                1 => proptest::sample::select(vec![i64::MIN, i64::MAX, 0, -1, 1]).prop_map(Value::from),
                1 => Just(Value::from(u64::MAX)),
                1 => proptest::sample::select(vec![0.5, -1.5, 1e300, 1.0, 2.0e19]).prop_map(Value::from),
            ]
            .boxed()
        }

        /// A JSON value of a different kind: what a confused or hostile client sends.
        fn any_value() -> BoxedStrategy<Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                tricky_number(),
                tricky_string().prop_map(Value::from),
            ];
            leaf.prop_recursive(3, 16, 4, |inner| {
                prop_oneof![
                    proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                    proptest::collection::btree_map("[a-z_]{0,12}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
            .boxed()
        }

        /// A value for a field: mostly of the right JSON type (valid or not), sometimes of
        /// another type entirely.
        fn field_value(field: Field) -> BoxedStrategy<Value> {
            let right_type = match field {
                Id | Count => tricky_number(),
                Range(min, max) => prop_oneof![
                    3 => tricky_number(),
                    1 => proptest::sample::select(vec![min - 1, min, max, max + 1]).prop_map(Value::from),
                ]
                .boxed(),
                Reaction => prop_oneof![
                    2 => proptest::sample::select(REACTIONS.to_vec()).prop_map(Value::from),
                    1 => tricky_string().prop_map(Value::from),
                ]
                .boxed(),
                Card => prop_oneof![
                    2 => "[0-9]{12,19}".prop_map(Value::from),
                    1 => "[0-9]{4} [0-9]{4} [0-9]{4} [0-9]{4}".prop_map(Value::from),
                    1 => tricky_string().prop_map(Value::from),
                ]
                .boxed(),
                Promo => prop_oneof![
                    2 => "[A-Za-z0-9_-]{3,32}".prop_map(Value::from),
                    1 => tricky_string().prop_map(Value::from),
                ]
                .boxed(),
                Source => prop_oneof![
                    2 => proptest::sample::select(vec!["card", "saved"]).prop_map(Value::from),
                    1 => tricky_string().prop_map(Value::from),
                ]
                .boxed(),
                Scope => prop_oneof![
                    2 => proptest::sample::select(vec!["room", "creator"]).prop_map(Value::from),
                    1 => tricky_string().prop_map(Value::from),
                ]
                .boxed(),
                Bool => any::<bool>().prop_map(Value::from).boxed(),
                Prize => prop_oneof![2 => "[a-zA-Z ]{1,120}".prop_map(Value::from), 1 => tricky_string().prop_map(Value::from)]
                    .boxed(),
                OneOf(names) => prop_oneof![
                    2 => proptest::sample::select(names.to_vec()).prop_map(Value::from),
                    1 => tricky_string().prop_map(Value::from),
                ]
                .boxed(),
                Address => prop_oneof![
                    2 => Just(sample_address()),
                    2 => (tricky_string(), tricky_string(), "[a-zA-Z]{1,3}").prop_map(|(name, city, country)| {
                        let mut a = sample_address();
                        a["name"] = name.into();
                        a["city"] = city.into();
                        a["country"] = country.into();
                        a
                    }),
                ]
                .boxed(),
                Steps => prop_oneof![
                    2 => Just(sample_steps()),
                    2 => prop::collection::vec((tricky_number(), tricky_number()), 0..4).prop_map(|rows| {
                        Value::Array(rows.into_iter().map(|(from, step)| serde_json::json!({"from": from, "step": step})).collect())
                    }),
                ]
                .boxed(),
                Str | Name | Comment | Key => tricky_string().prop_map(Value::from).boxed(),
            };
            prop_oneof![4 => right_type, 1 => any_value()].boxed()
        }

        /// One field as sent: absent, null, or a value; sometimes sent twice.
        #[derive(Debug, Clone)]
        enum Sent {
            Absent,
            Null,
            Value(Value),
            Twice(Value, Value),
        }

        fn sent(field: Field) -> BoxedStrategy<Sent> {
            prop_oneof![
                12 => field_value(field).prop_map(Sent::Value),
                1 => Just(Sent::Absent),
                1 => Just(Sent::Null),
                1 => (field_value(field), field_value(field)).prop_map(|(a, b)| Sent::Twice(a, b)),
            ]
            .boxed()
        }

        /// The `type` tag as sent.
        #[derive(Debug, Clone)]
        enum Tag {
            Named,
            Other(String),
            NotAString(Value),
            Absent,
        }

        fn tag() -> BoxedStrategy<Tag> {
            prop_oneof![
                16 => Just(Tag::Named),
                2 => tricky_string().prop_map(Tag::Other),
                1 => any_value().prop_filter("not a string", |v| !v.is_string()).prop_map(Tag::NotAString),
                1 => Just(Tag::Absent),
            ]
            .boxed()
        }

        /// A message close to a valid one: every field of one message type, each of them
        /// right or wrong in some way, maybe extra fields, in any order.
        #[derive(Debug, Clone)]
        struct NearValid {
            spec: usize,
            tag: Tag,
            fields: Vec<Sent>,
            extra: Vec<(String, Value)>,
            order: Vec<usize>,
            spaced: bool,
        }

        fn near_valid() -> impl Strategy<Value = NearValid> {
            (0..SPECS.len()).prop_flat_map(|spec| {
                let fields: Vec<BoxedStrategy<Sent>> = SPECS[spec].1.iter().map(|f| sent(f.1)).collect();
                let extra_name = prop_oneof![
                    "[a-z_]{1,12}",
                    proptest::sample::select(
                        SPECS.iter().flat_map(|s| s.1.iter().map(|f| f.0.to_owned())).collect::<Vec<_>>()
                    ),
                ];
                let extra = prop_oneof![
                    3 => Just(Vec::new()),
                    1 => proptest::collection::vec((extra_name, any_value()), 1..=2),
                ];
                (tag(), fields, extra, any::<bool>()).prop_flat_map(move |(tag, fields, extra, spaced)| {
                    let entries = 1
                        + fields.iter().map(|f| usize::from(matches!(f, Sent::Twice(..)))).sum::<usize>()
                        + fields.len()
                        + extra.len();
                    let order = Just((0..entries).collect::<Vec<_>>()).prop_shuffle();
                    (Just(tag), Just(fields), Just(extra), order, Just(spaced)).prop_map(
                        move |(tag, fields, extra, order, spaced)| NearValid {
                            spec,
                            tag,
                            fields,
                            extra,
                            order,
                            spaced,
                        },
                    )
                })
            })
        }

        impl NearValid {
            /// The frame's text: the entries in the chosen order (duplicates and all, which
            /// a JSON value could not hold).
            fn text(&self) -> String {
                let (kind, specs) = SPECS[self.spec];
                let mut entries: Vec<(String, Value)> = Vec::new();
                match &self.tag {
                    Tag::Named => entries.push(("type".into(), kind.into())),
                    Tag::Other(s) => entries.push(("type".into(), s.clone().into())),
                    Tag::NotAString(v) => entries.push(("type".into(), v.clone())),
                    Tag::Absent => {}
                }
                for ((name, _, _), sent) in specs.iter().zip(&self.fields) {
                    match sent {
                        Sent::Absent => {}
                        Sent::Null => entries.push(((*name).into(), Value::Null)),
                        Sent::Value(v) => entries.push(((*name).into(), v.clone())),
                        Sent::Twice(a, b) => {
                            entries.push(((*name).into(), a.clone()));
                            entries.push(((*name).into(), b.clone()));
                        }
                    }
                }
                // An extra field named like one of the message's own (or `type`) would be a
                // duplicate instead, which `Sent::Twice` covers.
                let own = |n: &str| n == "type" || specs.iter().any(|f| f.0 == n);
                entries.extend(self.extra.iter().filter(|(n, _)| !own(n)).cloned());
                // `order` shuffles at least as many positions as there are entries.
                let order: Vec<usize> = self.order.iter().copied().filter(|&i| i < entries.len()).collect();
                let sep = if self.spaced { " , " } else { "," };
                let body: Vec<String> = order
                    .iter()
                    .map(|&i| {
                        let (k, v) = &entries[i];
                        format!("{}:{}", Value::from(k.as_str()), v)
                    })
                    .collect();
                format!("{{{}}}", body.join(sep))
            }

            /// What `decode` must answer: "ok" or the error code.
            fn expected(&self, text: &str) -> &'static str {
                let (kind, specs) = SPECS[self.spec];
                if text.len() > MAX_CLIENT_FRAME_BYTES {
                    return "frame_too_large";
                }
                let tag = match &self.tag {
                    Tag::Named => kind,
                    Tag::Other(s) => match SPECS.iter().find(|s2| s2.0 == s) {
                        Some(s2) => s2.0,
                        None => return "unknown_message",
                    },
                    Tag::NotAString(_) | Tag::Absent => return "invalid_input",
                };
                // A tag naming another message makes these fields that message's: judge
                // them against it.
                if tag != kind {
                    return self.judged_as(tag, text);
                }
                let own = |n: &str| n == "type" || specs.iter().any(|f| f.0 == n);
                let extras = self.extra.iter().any(|(n, _)| !own(n));
                let fields_ok = specs.iter().zip(&self.fields).all(|((_, field, need), sent)| match sent {
                    Sent::Absent | Sent::Null | Sent::Value(Value::Null) => *need == Optional,
                    Sent::Value(v) => valid(*field, v),
                    Sent::Twice(..) => false,
                });
                if fields_ok && !extras { "ok" } else { "invalid_input" }
            }

            /// The verdict for these entries under another message's spec.
            fn judged_as(&self, tag: &str, text: &str) -> &'static str {
                let value: serde_json::Map<String, Value> = match serde_json::from_str(text) {
                    Ok(Value::Object(m)) => m,
                    _ => return "invalid_input",
                };
                let (_, specs) = SPECS.iter().find(|s| s.0 == tag).expect("a known tag");
                let duplicates = self.fields.iter().any(|f| matches!(f, Sent::Twice(..)));
                let extras = value.keys().any(|k| k != "type" && !specs.iter().any(|f| f.0 == k));
                let fields_ok = specs.iter().all(|(name, field, need)| match value.get(*name) {
                    None | Some(Value::Null) => *need == Optional,
                    Some(v) => valid(*field, v),
                });
                if fields_ok && !extras && !duplicates { "ok" } else { "invalid_input" }
            }
        }

        fn verdict(text: &str) -> Result<ClientMsg, &'static str> {
            decode(text).map_err(|e| e.code())
        }

        /// A message `decode` accepted survives encoding and decoding again unchanged.
        fn round_trips(msg: &ClientMsg) -> Result<(), TestCaseError> {
            let text = serde_json::to_string(msg).expect("a message encodes");
            let again = decode(&text).map_err(|e| TestCaseError::fail(format!("{text} does not decode: {e}")))?;
            prop_assert_eq!(serde_json::to_value(msg).unwrap(), serde_json::to_value(&again).unwrap());
            prop_assert_eq!(shape(msg), shape(&again));
            Ok(())
        }

        #[test]
        fn specs_cover_every_message_and_field() {
            let mut ours: Vec<&str> = SPECS.iter().map(|s| s.0).collect();
            let mut theirs = serde_variants();
            ours.sort_unstable();
            theirs.sort_unstable();
            assert_eq!(ours, theirs, "SPECS must list every ClientMsg variant");
            for (kind, fields) in SPECS {
                let mut body = serde_json::Map::new();
                body.insert("type".into(), (*kind).into());
                for (name, field, _) in *fields {
                    let sample: Value = match field {
                        Id | Count => 1.into(),
                        Range(min, _) => (*min).into(),
                        Str | Name | Comment | Key | Promo | Prize => "sample".into(),
                        OneOf(names) => names[0].into(),
                        Reaction => "heart".into(),
                        Card => "4242424242424242".into(),
                        Source => "card".into(),
                        Scope => "creator".into(),
                        Bool => true.into(),
                        Address => sample_address(),
                        Steps => sample_steps(),
                    };
                    body.insert((*name).into(), sample);
                }
                let msg = decode(&Value::Object(body).to_string()).expect("a complete message decodes");
                assert_eq!(shape(&msg), (*kind, fields.iter().map(|f| f.0).collect()), "the fields of {kind}");
                assert_eq!(msg.kind(), *kind);
            }
        }

        // Gaps the properties below found, kept as plain examples so they fail every run
        // until fixed (docs/protocol.md, section 7: "a missing, extra or mistyped field" is
        // `invalid_input`; `unknown_message` is for a `type` that names no message).

        #[test]
        fn a_message_is_a_json_object_never_an_array() {
            // serde's internally tagged enums also accept a sequence whose first element is
            // the tag.
            assert_eq!(verdict(r#"["unpin"]"#).err(), Some("invalid_input"));
            assert_eq!(verdict(r#"["comment","hi"]"#).err(), Some("invalid_input"));
            assert_eq!(verdict(r#"["pin",7]"#).err(), Some("invalid_input"));
        }

        #[test]
        fn unit_messages_refuse_extra_fields_like_every_other_message() {
            assert_eq!(verdict(r#"{"type":"comment","text":"hi","x":1}"#).err(), Some("invalid_input"));
            assert_eq!(verdict(r#"{"type":"unpin","x":1}"#).err(), Some("invalid_input"));
            assert_eq!(verdict(r#"{"type":"end_room","product_id":7}"#).err(), Some("invalid_input"));
        }

        #[test]
        fn a_bad_field_value_is_invalid_input_even_when_it_names_a_message() {
            assert_eq!(verdict(r#"{"type":"react","reaction":"volcano"}"#).err(), Some("invalid_input"));
            assert_eq!(verdict(r#"{"type":"react","reaction":"react"}"#).err(), Some("invalid_input"));
        }

        proptest! {
            // Failures are reported with their shrunk input; nothing is written to the tree.
            #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

            #[test]
            fn any_text_gets_ok_or_a_documented_code(text in prop_oneof![
                ".{0,300}",
                "[\\[\\]{}\":,.0-9a-z \\\\-]{0,300}",
                "\\{\"type\":\"[a-z_]{0,12}\"[,:\"a-z0-9 {}\\[\\]-]{0,80}\\}",
                ".{4090,4100}",
            ]) {
                match decode(&text) {
                    Ok(msg) => round_trips(&msg)?,
                    Err(e) => {
                        prop_assert!(DECODE_CODES.contains(&e.code()), "code {}", e.code());
                        prop_assert_eq!(e.status().as_u16(), 400);
                        prop_assert_eq!(e.code() == "frame_too_large", text.len() > MAX_CLIENT_FRAME_BYTES);
                    }
                }
            }

            #[test]
            fn any_json_value_gets_the_precise_code(value in any_value(), named in proptest::option::of(0..SPECS.len())) {
                let mut value = value;
                if let (Some(i), Value::Object(m)) = (named, &mut value) {
                    m.insert("type".into(), SPECS[i].0.into());
                }
                let text = value.to_string();
                let tag = value.get("type").and_then(Value::as_str);
                let verdict = verdict(&text);
                match (tag, &verdict) {
                    _ if text.len() > MAX_CLIENT_FRAME_BYTES => prop_assert_eq!(verdict.err(), Some("frame_too_large")),
                    (None, _) => prop_assert_eq!(verdict.err(), Some("invalid_input")),
                    (Some(t), _) if !SPECS.iter().any(|s| s.0 == t) => {
                        prop_assert_eq!(verdict.err(), Some("unknown_message"))
                    }
                    (Some(_), Ok(msg)) => round_trips(msg)?,
                    (Some(_), Err(code)) => prop_assert_eq!(*code, "invalid_input"),
                }
            }

            #[test]
            fn near_valid_messages_are_accepted_exactly_when_valid(msg in near_valid()) {
                let text = msg.text();
                let expected = msg.expected(&text);
                match verdict(&text) {
                    Ok(decoded) => {
                        prop_assert_eq!("ok", expected, "accepted {}", text);
                        round_trips(&decoded)?;
                    }
                    Err(code) => prop_assert_eq!(code, expected, "for {}", text),
                }
            }

            #[test]
            fn frames_over_the_limit_are_always_frame_too_large(msg in near_valid(), pad in 0usize..20_000, at_limit in any::<bool>()) {
                let text = msg.text();
                // Whitespace is valid JSON anywhere between tokens: pad the message to just
                // over the limit, or exactly to it.
                let target = if at_limit { MAX_CLIENT_FRAME_BYTES } else { MAX_CLIENT_FRAME_BYTES + 1 + pad };
                prop_assume!(text.len() <= target);
                let padded = format!("{text}{}", " ".repeat(target - text.len()));
                let verdict = verdict(&padded);
                if at_limit {
                    prop_assert_eq!(verdict.as_ref().err().copied().unwrap_or("ok"), msg.expected(&text));
                } else {
                    prop_assert_eq!(verdict.err(), Some("frame_too_large"));
                }
            }
        }
    }
}
