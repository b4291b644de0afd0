//! Policy parsing on arbitrary bytes.
//!
//! * bytes → `parse_strict_slice` → `policy_map_from_value` (a policy file);
//! * bytes as UTF-8 → `parse_strict` (must agree with the byte parser) and
//!   `PolicyDocument::parse` (one document, possibly URL-encoded).
//!
//! Whenever a policy map is obtained, its canonical JSON must parse back to an equal map, and
//! canonicalising that again must give the same text (a fixed point).

#![no_main]

use libfuzzer_sys::fuzz_target;
use repokid::engine::json::{parse_strict, parse_strict_slice};
use repokid::engine::policy::{
    PolicyDocument, PolicyMap, parse_policy_map, policy_map_from_value, to_canonical_json,
};

fn check_round_trip(map: &PolicyMap) {
    let canonical = to_canonical_json(map);
    let reparsed = match parse_policy_map("canonical", &canonical) {
        Ok(m) => m,
        Err(e) => panic!("canonical JSON does not re-parse: {e}\n{canonical}"),
    };
    assert!(
        reparsed == *map,
        "canonical JSON re-parses to a different map\n{canonical}"
    );
    let again = to_canonical_json(&reparsed);
    assert_eq!(again, canonical, "canonical form is not a fixed point");
}

fuzz_target!(|data: &[u8]| {
    let by_bytes = parse_strict_slice(data);
    if let Ok(value) = &by_bytes
        && let Ok(map) = policy_map_from_value("fuzz", value.clone())
    {
        check_round_trip(&map);
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let by_text = parse_strict(text);
    assert_eq!(
        by_text.is_ok(),
        by_bytes.is_ok(),
        "parse_strict and parse_strict_slice disagree: {by_text:?} vs {by_bytes:?}"
    );
    if let (Ok(a), Ok(b)) = (&by_text, &by_bytes) {
        assert_eq!(
            a, b,
            "parse_strict and parse_strict_slice give different values"
        );
    }
    if let Ok(doc) = PolicyDocument::parse("fuzz", text) {
        let mut map = PolicyMap::new();
        map.insert("fuzz".to_string(), doc);
        check_round_trip(&map);
    }
});
