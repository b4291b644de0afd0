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
    fn trailing_garbage_and_bad_bytes() {
        assert!(parse_strict("{} x").is_err());
        assert!(parse_strict_slice(b"{\"a\":\"\xff\"}").is_err());
    }
}
