//! The UZI Subject ID parser on arbitrary text: never a panic, and whatever parses prints back
//! to exactly the text it came from.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zvp_auth::uzi::SubjectId;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = s.parse::<SubjectId>() {
        assert_eq!(id.to_string(), s, "display is not the parsed text");
    }
});
