//! Strict JSON parsing: like `serde_json::from_str::<Value>`, but a duplicated object key is an
//! error instead of "last one wins". IAM's own parser and most tools disagree on what a duplicate
//! means, so a policy containing one has no single meaning and must not be rewritten.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Where in a document a value sits, as a chain of borrowed segments (no allocation while parsing).
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => f.write_str("$"),
            Path::Key(parent, k) => write!(f, "{parent}.{k}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Parses `text` as JSON, rejecting duplicate object keys. The error message names the line,
/// column and, for duplicates, the JSON path (`$.Statement[0].Action`).
pub fn parse_strict(text: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = StrictValue(Path::Root).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Like [`parse_strict`] for bytes; non-UTF-8 input is an error naming the line and column.
pub fn parse_strict_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue(Path::Root).deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Parses a top-level JSON object strictly, but hands the entries of its `streamed_key` object to
/// `each` one at a time instead of building them into the result, so a large document (a usage
/// file for thousands of roles) needs memory for one entry, not for the whole tree. Returns the
/// other top-level keys; `streamed_key` maps to `null` in it. An error returned by `each` stops the
/// parse and is reported with its line and column.
pub fn parse_strict_streaming<F>(
    text: &str,
    streamed_key: &str,
    each: F,
) -> Result<Map<String, Value>, serde_json::Error>
where
    F: FnMut(String, Value) -> Result<(), String>,
{
    let mut de = serde_json::Deserializer::from_str(text);
    let top = de::Deserializer::deserialize_map(&mut de, StreamingTop { streamed_key, each })?;
    de.end()?;
    Ok(top)
}

struct StreamingTop<'k, F> {
    streamed_key: &'k str,
    each: F,
}

impl<'de, F: FnMut(String, Value) -> Result<(), String>> Visitor<'de> for StreamingTop<'_, F> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key {key:?} at $")));
            }
            if key == self.streamed_key {
                map.next_value_seed(StreamingEntries {
                    key: &key,
                    each: &mut self.each,
                })?;
                out.insert(key, Value::Null);
            } else {
                let v = map.next_value_seed(StrictValue(Path::Key(&Path::Root, &key)))?;
                out.insert(key, v);
            }
        }
        Ok(out)
    }
}

struct StreamingEntries<'a, F> {
    key: &'a str,
    each: &'a mut F,
}

impl<'de, F: FnMut(String, Value) -> Result<(), String>> DeserializeSeed<'de>
    for StreamingEntries<'_, F>
{
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F: FnMut(String, Value) -> Result<(), String>> Visitor<'de> for StreamingEntries<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object at $.{}", self.key)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let parent = Path::Key(&Path::Root, self.key);
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "duplicate key {key:?} at {parent}"
                )));
            }
            let v = map.next_value_seed(StrictValue(Path::Key(&parent, &key)))?;
            (self.each)(key, v).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

struct StrictValue<'a>(Path<'a>);

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("{}: number out of range", self.0)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(StrictValue(Path::Index(&self.0, out.len())))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!(
                    "duplicate key {key:?} at {}",
                    self.0
                )));
            }
            let v = map.next_value_seed(StrictValue(Path::Key(&self.0, &key)))?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_serde_json_and_keeps_order() {
        let v = parse_strict(r#"{"b":1,"a":[true,null,"x",1.5,-2]}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"b":1,"a":[true,null,"x",1.5,-2]}"#
        );
    }

    #[test]
    fn duplicate_keys_are_errors_with_a_path() {
        let e = parse_strict(r#"{"Statement":[{"Action":"a","Action":"b"}]}"#).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("duplicate key \"Action\" at $.Statement[0]"),
            "{msg}"
        );
        assert!(msg.contains("line 1"), "{msg}");
    }

    #[test]
    fn streaming_hands_entries_over_one_by_one() {
        let mut seen = Vec::new();
        let top = parse_strict_streaming(
            r#"{"version":1,"roles":{"a":{"x":1},"b":[2]},"z":true}"#,
            "roles",
            |k, v| {
                seen.push((k, v));
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[1].1, serde_json::json!([2]));
        assert_eq!(top.get("roles"), Some(&Value::Null));
        assert_eq!(top.get("z"), Some(&Value::Bool(true)));
        assert!(
            parse_strict_streaming(r#"{"roles":{"a":1,"a":2}}"#, "roles", |_, _| Ok(())).is_err()
        );
        assert!(parse_strict_streaming(r#"{"roles":[]}"#, "roles", |_, _| Ok(())).is_err());
        let e = parse_strict_streaming(r#"{"roles":{"a":1}}"#, "roles", |_, _| Err("nope".into()))
            .unwrap_err();
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn trailing_garbage_and_bad_bytes() {
        assert!(parse_strict("{} x").is_err());
        assert!(parse_strict_slice(b"{\"a\":\"\xff\"}").is_err());
    }
}
