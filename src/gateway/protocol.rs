//! Text frame → [`ClientMsg`], with a precise error for everything else.

use crate::error::ApiError;
use crate::wire::ws::{ClientMsg, MAX_CLIENT_FRAME_BYTES};

pub fn decode(text: &str) -> Result<ClientMsg, ApiError> {
    if text.len() > MAX_CLIENT_FRAME_BYTES {
        return Err(ApiError::frame_too_large(MAX_CLIENT_FRAME_BYTES));
    }
    serde_json::from_str(text).map_err(|e| classify(text, e))
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
    let message = e.to_string();
    if message.starts_with(&format!("unknown variant `{kind}`")) {
        return ApiError::unknown_message(&kind.chars().take(40).collect::<String>());
    }
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
}
