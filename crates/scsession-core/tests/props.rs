//! Property tests: the format round-trips any value and survives any bytes; sealed values
//! round-trip and refuse any single flipped bit.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use proptest::prelude::*;
use scsession_core::format::{self, Date, DateTime, Value};
use scsession_core::{KeyRing, Record, Sealer, SessionId};

fn date() -> impl Strategy<Value = Date> {
    (1u16..=9999, 1u8..=12, 1u8..=31).prop_map(|(year, month, day)| {
        let mut d = Date { year, month, day };
        while !d.is_valid() {
            d.day -= 1;
        }
        d
    })
}

fn datetime() -> impl Strategy<Value = DateTime> {
    (
        date(),
        0u8..24,
        0u8..60,
        0u8..60,
        0u32..1_000_000,
        any::<bool>(),
        prop::option::of(-86_399_999_999i64..=86_399_999_999),
    )
        .prop_map(
            |(date, hour, minute, second, microsecond, fold, utc_offset_us)| DateTime {
                date,
                hour,
                minute,
                second,
                microsecond,
                fold,
                utc_offset_us,
            },
        )
}

fn decimal() -> impl Strategy<Value = String> {
    prop_oneof![
        "[+-]?[0-9]{1,30}(\\.[0-9]{0,30})?([eE][+-]?[0-9]{1,6})?",
        "[+-]?\\.[0-9]{1,10}",
        "[+-]?(Infinity|Inf|inf|NaN|sNaN)",
        "[+-]?s?NaN[0-9]{1,5}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::None),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        prop::collection::vec(any::<u8>(), 1..40).prop_map(Value::BigInt),
        // Every bit pattern, NaN payloads included.
        any::<u64>().prop_map(|b| Value::Float(f64::from_bits(b))),
        any::<String>().prop_map(Value::Str),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        datetime().prop_map(Value::DateTime),
        date().prop_map(Value::Date),
        any::<[u8; 16]>().prop_map(Value::Uuid),
        decimal().prop_map(Value::Decimal),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::List),
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Tuple),
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Set),
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::FrozenSet),
            prop::collection::vec((inner.clone(), inner), 0..8).prop_map(Value::Dict),
        ]
    })
}

/// Equality with floats compared bit for bit.
fn same(a: &Value, b: &Value) -> bool {
    fn all(a: &[Value], b: &[Value]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
    }
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        (Value::List(x), Value::List(y))
        | (Value::Tuple(x), Value::Tuple(y))
        | (Value::Set(x), Value::Set(y))
        | (Value::FrozenSet(x), Value::FrozenSet(y)) => all(x, y),
        (Value::Dict(x), Value::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
        }
        _ => a == b,
    }
}

fn sealer(secret: u8, name: &str) -> Sealer {
    Sealer::new(KeyRing::new(&[[secret; 32]]).unwrap(), name)
}

fn record() -> impl Strategy<Value = Record> {
    (
        any::<[u8; 16]>(),
        any::<u64>(),
        any::<u64>(),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(id, created, last_seen, data)| Record {
            id: SessionId::from_bytes(id),
            created,
            last_seen,
            data,
        })
}

proptest! {
    #[test]
    fn format_round_trips(v in value()) {
        let bytes = format::encode(&v).unwrap();
        let back = format::decode(&bytes).unwrap();
        prop_assert!(same(&v, &back), "{v:?} != {back:?}");
        prop_assert_eq!(format::encode(&back).unwrap(), bytes);
    }

    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        // Whatever decodes is canonical: it encodes back to the same bytes.
        if let Ok(v) = format::decode(&bytes) {
            prop_assert_eq!(format::encode(&v).unwrap(), bytes);
        }
    }

    #[test]
    fn decode_never_panics_on_mutated_values(
        v in value(),
        i in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = format::encode(&v).unwrap();
        let i = i.index(bytes.len());
        bytes[i] = byte;
        if let Ok(v) = format::decode(&bytes) {
            prop_assert_eq!(format::encode(&v).unwrap(), bytes);
        }
    }

    #[test]
    fn record_round_trips(r in record()) {
        prop_assert_eq!(Record::decode(&r.encode()).unwrap(), r.clone());
        prop_assert_eq!(Record::decode_vec(r.encode()).unwrap(), r);
    }

    #[test]
    fn cookie_round_trips_and_refuses_any_bit_flip(
        r in record(),
        bit in any::<prop::sample::Index>(),
    ) {
        let s = sealer(1, "session");
        let cookie = s.seal_cookie(&r);
        prop_assert_eq!(cookie.len(), Sealer::cookie_len(&r));
        prop_assert_eq!(s.open_cookie(cookie.as_bytes()).unwrap(), r.clone());

        let mut raw = URL_SAFE_NO_PAD.decode(&cookie).unwrap();
        let i = bit.index(raw.len() * 8);
        raw[i / 8] ^= 1 << (i % 8);
        prop_assert!(s.open_cookie(URL_SAFE_NO_PAD.encode(&raw).as_bytes()).is_err());

        let mut text = cookie.clone().into_bytes();
        let i = bit.index(text.len() * 8);
        text[i / 8] ^= 1 << (i % 8);
        prop_assert!(s.open_cookie(&text).is_err());

        prop_assert!(sealer(2, "session").open_cookie(cookie.as_bytes()).is_err());
        prop_assert!(sealer(1, "other").open_cookie(cookie.as_bytes()).is_err());
    }

    #[test]
    fn record_blob_round_trips_and_refuses_any_bit_flip(
        r in record(),
        bit in any::<prop::sample::Index>(),
    ) {
        let s = sealer(1, "session");
        let mut blob = s.seal_record(&r);
        prop_assert_eq!(s.open_record(&r.id, &blob).unwrap(), r.clone());
        let i = bit.index(blob.len() * 8);
        blob[i / 8] ^= 1 << (i % 8);
        prop_assert!(s.open_record(&r.id, &blob).is_err());
    }

    #[test]
    fn signed_ids_refuse_any_bit_flip(
        id in any::<[u8; 16]>(),
        bit in any::<prop::sample::Index>(),
    ) {
        let s = sealer(1, "session");
        let id = SessionId::from_bytes(id);
        let signed = s.sign_id(&id);
        prop_assert_eq!(s.verify_id(signed.as_bytes()).unwrap(), id);
        let mut text = signed.into_bytes();
        let i = bit.index(text.len() * 8);
        text[i / 8] ^= 1 << (i % 8);
        prop_assert!(s.verify_id(&text).is_err());
    }

    #[test]
    fn open_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let s = sealer(1, "session");
        prop_assert!(s.open_cookie(&bytes).is_err());
        prop_assert!(s.verify_id(&bytes).is_err());
        prop_assert!(s.open_record(&SessionId::from_bytes([0; 16]), &bytes).is_err());
        let _ = Record::decode(&bytes);
    }

    #[test]
    fn ids_round_trip(bytes in any::<[u8; 16]>()) {
        let id = SessionId::from_bytes(bytes);
        prop_assert_eq!(id.to_string().parse::<SessionId>().unwrap(), id);
    }
}
