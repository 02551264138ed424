//! Rough per-call timings of the hot paths (run with `--release`):
//! `cargo run --release -p scsession-core --example timing`.

use std::hint::black_box;
use std::time::Instant;

use scsession_core::format::{self, Value};
use scsession_core::{KeyRing, Record, Sealer, SessionId};

fn time(name: &str, iterations: u32, mut f: impl FnMut()) {
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let per = start.elapsed() / iterations;
    println!("{name:<40} {per:>10.2?}");
}

fn main() {
    let sealer = Sealer::new(KeyRing::new(&[[1u8; 32], [2u8; 32]]).unwrap(), "session");
    let record = Record {
        id: SessionId::random(),
        created: 1_700_000_000,
        last_seen: 1_700_000_000,
        data: vec![0x5a; 256],
    };
    let cookie = sealer.seal_cookie(&record);
    let blob = sealer.seal_record(&record);
    let signed = sealer.sign_id(&record.id);
    let value = Value::Dict(
        (0..16)
            .map(|i| (Value::Str(format!("key{i}")), Value::Int(i * 1000)))
            .collect(),
    );
    let bytes = format::encode(&value).unwrap();

    let n = 200_000;
    time("seal_cookie (256-byte data)", n, || {
        black_box(sealer.seal_cookie(black_box(&record)));
    });
    time("open_cookie (256-byte data)", n, || {
        black_box(sealer.open_cookie(black_box(cookie.as_bytes())).unwrap());
    });
    time("seal_record (256-byte data)", n, || {
        black_box(sealer.seal_record(black_box(&record)));
    });
    time("open_record (256-byte data)", n, || {
        black_box(sealer.open_record(&record.id, black_box(&blob)).unwrap());
    });
    time("sign_id", n, || {
        black_box(sealer.sign_id(black_box(&record.id)));
    });
    time("verify_id (2 keys)", n, || {
        black_box(sealer.verify_id(black_box(signed.as_bytes())).unwrap());
    });
    time("open_cookie (forged, 4 KiB)", n, || {
        black_box(sealer.open_cookie(black_box(&[b'A'; 4096])).unwrap_err());
    });
    time("SessionId::random", n, || {
        black_box(SessionId::random());
    });
    time("format::encode (dict of 16 ints)", n, || {
        black_box(format::encode(black_box(&value)).unwrap());
    });
    time("format::decode (dict of 16 ints)", n, || {
        black_box(format::decode(black_box(&bytes)).unwrap());
    });
}
