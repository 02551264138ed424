//! Untrusted cookie values and session data: nothing panics, nothing forged opens, and what
//! decodes is canonical.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use scsession_core::{format, KeyRing, Record, Sealer, SessionId};

static SEALER: LazyLock<Sealer> = LazyLock::new(|| {
    Sealer::new(
        KeyRing::new(&[[7u8; 32], [8u8; 32]]).expect("valid keys"),
        "session",
    )
});

fuzz_target!(|data: &[u8]| {
    // A cookie value from the network: refused (forging a tag is out of reach), never a panic.
    assert!(SEALER.open_cookie(data).is_err());
    assert!(SEALER.verify_id(data).is_err());
    assert!(SEALER
        .open_record(&SessionId::from_bytes([0; 16]), data)
        .is_err());
    let _ = Record::decode(data);

    // The data format: whatever decodes encodes back to exactly the same bytes.
    if let Ok(value) = format::decode(data) {
        assert_eq!(format::encode(&value).as_deref(), Ok(data));
    }

    // The same bytes as session data, sealed: they open to the same record.
    if data.len() <= 2048 {
        let record = Record {
            id: SessionId::from_bytes([1; 16]),
            created: 1_700_000_000,
            last_seen: 1_700_000_000,
            data: data.to_vec(),
        };
        let cookie = SEALER.seal_cookie(&record);
        assert_eq!(SEALER.open_cookie(cookie.as_bytes()), Ok(record));
    }
});
