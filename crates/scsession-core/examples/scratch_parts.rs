#![allow(missing_docs)]
use std::hint::black_box;
use std::time::Instant;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::array::Array;
use chacha20poly1305::{AeadInOut, KeyInit, XChaCha20Poly1305};

fn time(name: &str, iterations: u32, mut f: impl FnMut()) {
    for _ in 0..iterations / 10 { f(); }
    let start = Instant::now();
    for _ in 0..iterations { f(); }
    println!("{name:<40} {:>10.2?}", start.elapsed() / iterations);
}
fn main() {
    let raw = vec![7u8; 336];
    let text = URL_SAFE_NO_PAD.encode(&raw);
    let n = 200_000;
    time("b64 encode 336", n, || { black_box(URL_SAFE_NO_PAD.encode(black_box(&raw))); });
    time("b64 decode 448", n, || { let mut b=[0u8;3075]; black_box(URL_SAFE_NO_PAD.decode_slice(black_box(&text), &mut b).unwrap()); });
    time("getrandom 24", n, || { let mut b=[0u8;24]; getrandom::fill(&mut b).unwrap(); black_box(b); });
    let key = [1u8;32];
    time("cipher new", n, || { black_box(XChaCha20Poly1305::new(&Array(black_box(key)))); });
    let mut buf = vec![0u8; 291];
    time("encrypt 291", n, || { let c = XChaCha20Poly1305::new(&Array(key)); black_box(c.encrypt_inout_detached(&Array([0u8;24]), b"ad", (&mut buf[..]).into()).unwrap()); });
    time("vec alloc 400", n, || { black_box(Vec::<u8>::with_capacity(black_box(400))); });
}
