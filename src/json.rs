//! JSON text to Rust values and back.
//!
//! In the browser, the page's own `JSON.parse` and `JSON.stringify` handle the text and
//! serde-wasm-bindgen maps JavaScript values to the same serde types, so the wasm carries no
//! JSON parser (serde_json's added 42 KB to it). On the host, where the protocol modules are
//! unit tested, serde_json does both. `Value` is serde_json's on both: its parser is never
//! called in the browser, so it is not in the wasm. In the browser, numbers are JavaScript
//! numbers: `1.0` reads as the integer 1, and integers beyond 2^53 lose precision (no claim
//! this app checks is either).

use std::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;
pub use serde_json::{Map, Value};

/// Deeper documents are refused before parsing: recursion in the wasm has a small stack,
/// and no document this app reads is nested more than a few levels.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    check_depth(text)?;
    platform::from_str(text)
}

pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error("it is not UTF-8".into()))?;
    from_str(text)
}

pub fn to_string<T: Serialize>(value: &T) -> Result<String, Error> {
    platform::to_string(value)
}

/// Indented JSON, two spaces a level.
pub fn to_string_pretty(value: &Value) -> String {
    platform::to_string_pretty(value)
}

/// A JSON object's members, read by hand: smaller in the wasm than a derived `Deserialize`
/// per document, and as strict. A member that is absent or `null` is `None`; one of another
/// type than asked for is `Mistyped`, and the document is refused.
#[derive(Clone, Copy)]
pub struct Object<'a>(&'a Map<String, Value>);

/// A member of a JSON object is not of the type its reader asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mistyped;

impl<'a> Object<'a> {
    /// `None` unless `value` is an object.
    pub fn of(value: &'a Value) -> Option<Self> {
        value.as_object().map(Object)
    }

    /// The member `name`, unless absent or null.
    pub fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name).filter(|value| !value.is_null())
    }

    pub fn string(&self, name: &str) -> Result<Option<String>, Mistyped> {
        self.get(name)
            .map(|value| value.as_str().map(str::to_string).ok_or(Mistyped))
            .transpose()
    }

    /// A member that must be there, as a string.
    pub fn required_string(&self, name: &str) -> Result<String, Mistyped> {
        self.string(name)?.ok_or(Mistyped)
    }

    /// A number, integer or not.
    pub fn number(&self, name: &str) -> Result<Option<f64>, Mistyped> {
        self.get(name)
            .map(|value| value.as_f64().ok_or(Mistyped))
            .transpose()
    }

    /// A whole number from 0 up.
    pub fn unsigned(&self, name: &str) -> Result<Option<u64>, Mistyped> {
        self.get(name)
            .map(|value| value.as_u64().ok_or(Mistyped))
            .transpose()
    }
}

fn check_depth(text: &str) -> Result<(), Error> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for byte in text.bytes() {
        match (in_string, escaped, byte) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'[' | b'{') => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(Error(format!(
                        "it is nested deeper than {MAX_DEPTH} levels"
                    )));
                }
            }
            (false, _, b']' | b'}') => depth = depth.saturating_sub(1),
            (false, _, _) => {}
        }
    }
    Ok(())
}

#[cfg(target_arch = "wasm32")]
mod platform {
    use js_sys::JSON;
    use serde::de::DeserializeOwned;
    use serde::Serialize;
    use wasm_bindgen::JsValue;

    use super::{Error, Value};

    pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
        let value = JSON::parse(text).map_err(|_| Error("it is not valid JSON".into()))?;
        serde_wasm_bindgen::from_value(value).map_err(|e| Error(e.to_string()))
    }

    fn to_js<T: Serialize>(value: &T) -> Result<JsValue, Error> {
        value
            .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            .map_err(|e| Error(e.to_string()))
    }

    pub fn to_string<T: Serialize>(value: &T) -> Result<String, Error> {
        JSON::stringify(&to_js(value)?)
            .map(String::from)
            .map_err(|_| Error("it cannot be written as JSON".into()))
    }

    pub fn to_string_pretty(value: &Value) -> String {
        to_js(value)
            .ok()
            .and_then(|js| {
                JSON::stringify_with_replacer_and_space(&js, &JsValue::NULL, &2.into()).ok()
            })
            .map(String::from)
            .unwrap_or_default()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod platform {
    use serde::de::DeserializeOwned;
    use serde::Serialize;

    use super::{Error, Value};

    pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
        serde_json::from_str(text).map_err(|e| Error(e.to_string()))
    }

    pub fn to_string<T: Serialize>(value: &T) -> Result<String, Error> {
        serde_json::to_string(value).map_err(|e| Error(e.to_string()))
    }

    pub fn to_string_pretty(value: &Value) -> String {
        format!("{value:#}")
    }
}

/// The same cases with both implementations: `cargo test` (serde_json) and
/// `cargo test --target wasm32-unknown-unknown` (headless Chromium's JSON).
#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[derive(Debug, PartialEq, serde::Deserialize, serde::Serialize)]
    struct Sample {
        name: String,
        count: u32,
        #[serde(default)]
        note: Option<String>,
        tags: Vec<String>,
    }

    #[test]
    fn typed_values_round_trip() {
        let sample: Sample =
            from_str(r#"{"name":"a\"b","count":3,"tags":["x"],"extra":{"deep":[1]}}"#)
                .expect("parses");
        let expected = Sample {
            name: "a\"b".into(),
            count: 3,
            note: None,
            tags: vec!["x".into()],
        };
        assert_eq!(sample, expected);
        let text = to_string(&sample).expect("writes");
        assert_eq!(from_str::<Sample>(&text).expect("reparses"), sample);
    }

    #[test]
    fn wrong_types_and_broken_text_are_errors() {
        assert!(from_str::<Sample>(r#"{"name":1,"count":3,"tags":[]}"#).is_err());
        assert!(from_str::<Sample>(r#"{"name":"a","count":-1,"tags":[]}"#).is_err());
        assert!(from_str::<Sample>(r#"{"name":"a","count":1.5,"tags":[]}"#).is_err());
        assert!(from_str::<Value>(r#"{"name":"a""#).is_err());
        assert!(from_str::<Value>("").is_err());
        assert!(from_slice::<Value>(b"\"\xff\"").is_err());
    }

    #[test]
    fn nesting_is_limited_but_brackets_in_strings_do_not_count() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(from_str::<Value>(&deep).is_err());
        let fine = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(from_str::<Value>(&fine).is_ok());
        let quoted = format!(r#"{{"a":"{}\"["}}"#, "[".repeat(100));
        assert!(from_str::<Value>(&quoted).is_ok());
    }

    #[test]
    fn object_members_are_read_strictly() {
        let value: Value =
            from_str(r#"{"s":"x","n":3,"f":1.5,"z":null,"neg":-1,"arr":[]}"#).expect("parses");
        let object = Object::of(&value).expect("an object");
        assert_eq!(object.string("s"), Ok(Some("x".into())));
        assert_eq!(object.required_string("s"), Ok("x".into()));
        assert_eq!(object.string("z"), Ok(None), "null is absent");
        assert_eq!(object.string("missing"), Ok(None));
        assert_eq!(object.required_string("missing"), Err(Mistyped));
        assert_eq!(object.string("n"), Err(Mistyped));
        assert_eq!(object.number("n"), Ok(Some(3.0)));
        assert_eq!(object.number("f"), Ok(Some(1.5)));
        assert_eq!(object.number("s"), Err(Mistyped));
        assert_eq!(object.unsigned("n"), Ok(Some(3)));
        assert_eq!(object.unsigned("f"), Err(Mistyped));
        assert_eq!(object.unsigned("neg"), Err(Mistyped));
        assert_eq!(object.string("arr"), Err(Mistyped));
        assert!(Object::of(&Value::Null).is_none());
    }

    #[test]
    fn values_print_indented() {
        let value: Value = from_str(r#"{"b":[1,2],"a":"x","c":{}}"#).expect("parses");
        assert_eq!(
            to_string_pretty(&value),
            "{\n  \"a\": \"x\",\n  \"b\": [\n    1,\n    2\n  ],\n  \"c\": {}\n}"
        );
    }
}
