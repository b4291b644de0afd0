//! Usage parsers on arbitrary text: none of them may panic, whatever the input.
//!
//! Native documents are also written back with `to_native_json`, which must read back to the same
//! data (with a fixed `now` no raw value can change meaning in between).

#![no_main]

use chrono::{DateTime, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use repokid::sources::usage::aardvark::parse_aardvark;
use repokid::sources::usage::gslad::{parse_gslad, parse_gslad_by_arn};
use repokid::sources::usage::native::{parse_native, to_native_json};

fn now() -> DateTime<Utc> {
    match Utc.with_ymd_and_hms(2026, 11, 22, 0, 0, 0).single() {
        Some(t) => t,
        None => unreachable!("a fixed, valid date"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let now = now();
    if let Ok(usage) = parse_aardvark(text, now) {
        let _ = to_native_json(&usage);
    }
    if let Ok(role) = parse_gslad(text, now) {
        let _ = format!("{role:?}");
    }
    if let Ok(usage) = parse_gslad_by_arn(text, now) {
        let _ = to_native_json(&usage);
    }
    if let Ok(usage) = parse_native(text, now) {
        let written = to_native_json(&usage);
        match parse_native(&written, now) {
            Ok(back) => assert_eq!(back, usage, "native round trip changed the data\n{written}"),
            Err(e) => panic!("to_native_json output does not re-parse: {e}\n{written}"),
        }
    }
});
