//! Every identifier parser of zvp-core on arbitrary text: never a panic, and whatever parses
//! prints back to exactly the text it came from.
#![no_main]

use std::fmt::Display;
use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use zvp_core::{
    AgbCode, Bsn, CardType, Decimal, DocumentId, PatientId, RecordSection, RoleCode, Ura,
    UziNumber,
};

/// Parses `s` as `T`; on success, `Display` must give `s` back and parse to the same value.
fn round_trip<T: FromStr + Display + PartialEq + std::fmt::Debug>(s: &str) {
    if let Ok(value) = s.parse::<T>() {
        let printed = value.to_string();
        assert_eq!(printed, s, "display is not the parsed text");
        assert_eq!(printed.parse::<T>().ok(), Some(value));
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    round_trip::<Bsn>(s);
    round_trip::<AgbCode>(s);
    round_trip::<UziNumber>(s);
    round_trip::<Ura>(s);
    round_trip::<RoleCode>(s);
    round_trip::<CardType>(s);
    round_trip::<PatientId>(s);
    round_trip::<DocumentId>(s);
    round_trip::<Decimal>(s);
    round_trip::<RecordSection>(s);
    let _ = AgbCode::parse_optional(s);
});
