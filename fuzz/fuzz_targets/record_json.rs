//! The record types of zvp-core from arbitrary JSON: never a panic, and whatever deserialises
//! serialises to JSON that deserialises to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zvp_core::{Admission, CareMoment, Medication, Patient, ReferenceRange, ResultReport};

/// Deserialises `data` as `T`; on success, a JSON round trip must give the same value.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let json = serde_json::to_vec(&value).expect("a parsed value serialises");
        let again: T = serde_json::from_slice(&json).expect("serialised JSON parses again");
        assert_eq!(again, value);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Patient>(data);
    round_trip::<Admission>(data);
    round_trip::<CareMoment>(data);
    round_trip::<Medication>(data);
    round_trip::<ResultReport>(data);
    round_trip::<ReferenceRange>(data);
});
