//! Sealing: records into cookies and stored blobs (XChaCha20-Poly1305), ids into signed cookies
//! (HMAC-SHA256).
//!
//! - Cookie mode: `base64url(VERSION | key_id (4) | nonce (24) | ciphertext | tag (16))`, with
//!   associated data `"scsession/cookie" | VERSION | key_id | cookie_name`.
//! - Stored blob: `VERSION | key_id | nonce | ciphertext | tag`, with associated data
//!   `"scsession/record" | VERSION | key_id | id`, so a record cannot move to another id.
//! - Store-mode cookie: `base64url(id (16) | HMAC-SHA256(mac_key, "scsession/id" | cookie_name |
//!   id)[..16])`, 43 characters, checked in constant time against every key.
//!
//! Nonces are 192 random bits, so they do not repeat under one key. The tag is checked before
//! anything inside is read, and every failure is the same opaque [`OpenError`].
//!
//! ```
//! use scsession_core::{KeyRing, Record, Sealer, SessionId};
//!
//! let sealer = Sealer::new(KeyRing::new(&[[7u8; 32]]).unwrap(), "session");
//! let record = Record { id: SessionId::random(), created: 1, last_seen: 2, data: vec![0x0c, 0] };
//! let cookie = sealer.seal_cookie(&record);
//! assert_eq!(sealer.open_cookie(cookie.as_bytes()).unwrap(), record);
//! assert!(sealer.open_cookie(b"forged").is_err());
//!
//! let signed = sealer.sign_id(&record.id);
//! assert_eq!(signed.len(), 43);
//! assert_eq!(sealer.verify_id(signed.as_bytes()).unwrap(), record.id);
//! ```

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::array::Array;
use chacha20poly1305::{AeadInOut, KeyInit, XChaCha20Poly1305};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use crate::id::SessionId;
use crate::keys::{KeyRing, KeySet};
use crate::record::Record;

/// Version byte in front of every sealed value.
pub const VERSION: u8 = 1;

/// Longest cookie value accepted (and, with its name, the most a browser keeps).
pub const MAX_COOKIE_LEN: usize = 4096;

/// Length of the key id in front of every sealed value.
pub(crate) const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// `VERSION | key_id | nonce`.
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
/// Bytes a sealed value adds to its record.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

const COOKIE_AD: &[u8] = b"scsession/cookie";
const RECORD_AD: &[u8] = b"scsession/record";
const ID_MAC_AD: &[u8] = b"scsession/id";
const ID_TAG_LEN: usize = 16;
/// Length of a signed id cookie value: base64url of 32 bytes.
pub const SIGNED_ID_LEN: usize = 43;
/// The most session ids of one request that are tried against the store (browsers send a name
/// twice at most for cookies of different paths; more copies are an attack or a mistake).
pub const MAX_ID_CANDIDATES: usize = 2;
/// The most distinct values of the session cookie looked at in one request.
pub const MAX_COOKIE_VALUES: usize = 16;

/// Largest raw (decoded) cookie: base64 of [`MAX_COOKIE_LEN`] characters.
const MAX_RAW_COOKIE: usize = MAX_COOKIE_LEN / 4 * 3 + 3;

/// What tells one sealed record from every other: its header, which holds the random nonce.
/// Every seal draws a new nonce, so two writes never share a version; stores compare it to
/// replace a record only if nobody else wrote it since it was loaded (compare and swap).
#[must_use]
pub fn record_version(blob: &[u8]) -> &[u8] {
    &blob[..blob.len().min(HEADER_LEN)]
}

/// Length of a [`record_version`] (of any record that opens).
pub const RECORD_VERSION_LEN: usize = HEADER_LEN;

/// The one error of every failed open: wrong key, wrong cookie name, tampered, truncated,
/// malformed or too long all look the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("session data did not open")]
pub struct OpenError;

/// Which check a value failed. Only [`Sealer::inspect_cookie`](crate::inspect) shows it (to an
/// operator, from the command line); the request path turns every one into [`OpenError`], so
/// nothing tells a client which check failed. Cheap to make: no allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Longer than [`MAX_COOKIE_LEN`] characters (the length).
    TooLong(usize),
    /// Not base64url without padding.
    NotBase64,
    /// Shorter than any sealed value.
    TooShort,
    /// Starts with another version byte.
    Version(u8),
    /// Sealed under a key id that no key of the ring has.
    UnknownKey([u8; KEY_ID_LEN]),
    /// The key id is ours but the tag does not verify: tampered with, or other associated data
    /// (another cookie name; for records, another id).
    Tag([u8; KEY_ID_LEN]),
    /// The tag verifies but the record inside is malformed, or (records) carries another id.
    Record,
    /// A signed id whose MAC verifies under no key.
    IdMac(SessionId),
}

impl From<Failure> for OpenError {
    fn from(_: Failure) -> Self {
        OpenError
    }
}

/// Seals and opens session cookies and stored records with a [`KeyRing`], for one cookie name.
#[derive(Clone)]
pub struct Sealer {
    keys: KeyRing,
    cookie_name: Box<str>,
    /// Associated data of cookies, one per key set (it contains the key id).
    cookie_ads: Vec<Box<[u8]>>,
}

impl core::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sealer")
            .field("keys", &self.keys)
            .field("cookie_name", &self.cookie_name)
            .finish_non_exhaustive()
    }
}

fn cipher(key: &[u8; 32]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(&Array(*key))
}

fn random_nonce() -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce)
        .expect("the operating system's random number generator failed: nothing can be sealed");
    nonce
}

fn record_ad(key_id: [u8; KEY_ID_LEN], id: &SessionId) -> [u8; 16 + 1 + KEY_ID_LEN + 16] {
    let mut ad = [0u8; 16 + 1 + KEY_ID_LEN + 16];
    ad[..16].copy_from_slice(RECORD_AD);
    ad[16] = VERSION;
    ad[17..21].copy_from_slice(&key_id);
    ad[21..].copy_from_slice(id.as_bytes());
    ad
}

/// `VERSION | key_id | nonce | record`, encrypted in place after the header, tag appended.
fn seal_into(out: &mut Vec<u8>, set: &KeySet, key: &[u8; 32], ad: &[u8], record: &Record) {
    let start = out.len();
    out.reserve(OVERHEAD + record.encoded_len());
    out.push(VERSION);
    out.extend_from_slice(&set.key_id());
    let nonce = random_nonce();
    out.extend_from_slice(&nonce);
    record.encode_into(out);
    let Ok(tag) = cipher(key).encrypt_inout_detached(
        &Array(nonce),
        ad,
        (&mut out[start + HEADER_LEN..]).into(),
    ) else {
        // Only messages over 256 GiB are refused.
        unreachable!("XChaCha20-Poly1305 refused a session record");
    };
    out.extend_from_slice(&tag);
}

/// The parts of `VERSION | key_id | nonce | ct | tag`.
struct Parts {
    key_id: [u8; KEY_ID_LEN],
    nonce: [u8; NONCE_LEN],
    /// End of the ciphertext (it starts at [`HEADER_LEN`]).
    ct_end: usize,
    tag: [u8; TAG_LEN],
}

impl Parts {
    /// Fails when too short or of another version.
    fn split(raw: &[u8]) -> Result<Self, Failure> {
        fn field<const N: usize>(bytes: &[u8]) -> Result<[u8; N], Failure> {
            bytes.try_into().map_err(|_| Failure::TooShort)
        }
        if raw.len() < OVERHEAD {
            return Err(Failure::TooShort);
        }
        if raw[0] != VERSION {
            return Err(Failure::Version(raw[0]));
        }
        let ct_end = raw.len() - TAG_LEN;
        Ok(Self {
            key_id: field(&raw[1..=KEY_ID_LEN])?,
            nonce: field(&raw[1 + KEY_ID_LEN..HEADER_LEN])?,
            ct_end,
            tag: field(&raw[ct_end..])?,
        })
    }
}

impl Sealer {
    /// A sealer for the cookie called `cookie_name` (bound into every cookie and id MAC, so a
    /// value cannot be moved to another cookie).
    #[must_use]
    pub fn new(keys: KeyRing, cookie_name: &str) -> Self {
        let cookie_ads = keys
            .sets()
            .iter()
            .map(|set| {
                let mut ad =
                    Vec::with_capacity(COOKIE_AD.len() + 1 + KEY_ID_LEN + cookie_name.len());
                ad.extend_from_slice(COOKIE_AD);
                ad.push(VERSION);
                ad.extend_from_slice(&set.key_id());
                ad.extend_from_slice(cookie_name.as_bytes());
                ad.into_boxed_slice()
            })
            .collect();
        Self {
            keys,
            cookie_name: cookie_name.into(),
            cookie_ads,
        }
    }

    /// The cookie name given to [`Sealer::new`].
    #[must_use]
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// The key ring.
    #[must_use]
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// Length of the cookie value [`seal_cookie`](Sealer::seal_cookie) makes for `record`,
    /// without sealing it. The caller must refuse to send a cookie whose name and value together
    /// exceed [`MAX_COOKIE_LEN`]: browsers drop it, and [`open_cookie`](Sealer::open_cookie)
    /// refuses a value longer than that.
    #[must_use]
    pub fn cookie_len(record: &Record) -> usize {
        ((OVERHEAD + record.encoded_len()) * 4).div_ceil(3)
    }

    /// Seals `record` into a cookie value with the first key and a fresh random nonce:
    /// two seals of the same record differ.
    ///
    /// # Panics
    /// Only if the operating system's random number generator fails.
    #[must_use]
    pub fn seal_cookie(&self, record: &Record) -> String {
        let set = self.keys.sealing();
        let mut raw = Vec::new();
        seal_into(&mut raw, set, set.cookie_key(), &self.cookie_ads[0], record);
        URL_SAFE_NO_PAD.encode(&raw)
    }

    /// Opens a cookie value made by [`seal_cookie`](Sealer::seal_cookie) under any key of the
    /// ring and the same cookie name. Values longer than [`MAX_COOKIE_LEN`] are refused before
    /// anything else. The record's timestamps are not checked here (see
    /// [`Lifetime`](crate::Lifetime)).
    pub fn open_cookie(&self, value: &[u8]) -> Result<Record, OpenError> {
        Ok(self.open_cookie_checked(value)?.0)
    }

    /// [`open_cookie`](Sealer::open_cookie), saying which check failed (for
    /// [`inspect_cookie`](Sealer::inspect_cookie) only). Also returns the key id it opened with.
    pub(crate) fn open_cookie_checked(
        &self,
        value: &[u8],
    ) -> Result<(Record, [u8; KEY_ID_LEN]), Failure> {
        if value.len() > MAX_COOKIE_LEN {
            return Err(Failure::TooLong(value.len()));
        }
        let mut buf = [0u8; MAX_RAW_COOKIE];
        let n = URL_SAFE_NO_PAD
            .decode_slice(value, &mut buf)
            .map_err(|_| Failure::NotBase64)?;
        let raw = &mut buf[..n];
        let Parts {
            key_id,
            nonce,
            ct_end,
            tag,
        } = Parts::split(raw)?;
        let mut known = false;
        for (set, ad) in self.keys.sets().iter().zip(&self.cookie_ads) {
            if set.key_id() != key_id {
                continue;
            }
            known = true;
            // On failure the buffer is left untouched, so the next candidate key sees the
            // ciphertext again.
            if cipher(set.cookie_key())
                .decrypt_inout_detached(
                    &Array(nonce),
                    ad,
                    (&mut raw[HEADER_LEN..ct_end]).into(),
                    &Array(tag),
                )
                .is_ok()
            {
                let record =
                    Record::decode(&raw[HEADER_LEN..ct_end]).map_err(|_| Failure::Record)?;
                return Ok((record, key_id));
            }
        }
        Err(if known {
            Failure::Tag(key_id)
        } else {
            Failure::UnknownKey(key_id)
        })
    }

    /// Seals `record` for a store with the first key: `VERSION | key_id | nonce | ct | tag`,
    /// bound to `record.id`.
    ///
    /// # Panics
    /// Only if the operating system's random number generator fails.
    #[must_use]
    pub fn seal_record(&self, record: &Record) -> Vec<u8> {
        let set = self.keys.sealing();
        let ad = record_ad(set.key_id(), &record.id);
        let mut out = Vec::new();
        seal_into(&mut out, set, set.record_key(), &ad, record);
        out
    }

    /// Opens a blob made by [`seal_record`](Sealer::seal_record) for the session `id`. A blob
    /// sealed for another id does not open, nor does one whose record carries another id.
    pub fn open_record(&self, id: &SessionId, blob: &[u8]) -> Result<Record, OpenError> {
        Ok(self.open_record_checked(id, blob)?.0)
    }

    /// [`open_record`](Sealer::open_record), saying which check failed (for
    /// [`inspect_record`](Sealer::inspect_record) only). Also returns the key id it opened with.
    pub(crate) fn open_record_checked(
        &self,
        id: &SessionId,
        blob: &[u8],
    ) -> Result<(Record, [u8; KEY_ID_LEN]), Failure> {
        let Parts {
            key_id,
            nonce,
            ct_end,
            tag,
        } = Parts::split(blob)?;
        let ct = &blob[HEADER_LEN..ct_end];
        let mut plain = vec![0u8; ct.len()];
        let mut known = false;
        for set in self.keys.sets() {
            if set.key_id() != key_id {
                continue;
            }
            known = true;
            let ad = record_ad(key_id, id);
            let Ok(buf) = chacha20poly1305::aead::inout::InOutBuf::new(ct, &mut plain) else {
                return Err(Failure::TooShort);
            };
            if cipher(set.record_key())
                .decrypt_inout_detached(&Array(nonce), &ad, buf, &Array(tag))
                .is_ok()
            {
                let record = Record::decode_vec(plain).map_err(|_| Failure::Record)?;
                return if record.id == *id {
                    Ok((record, key_id))
                } else {
                    Err(Failure::Record)
                };
            }
        }
        Err(if known {
            Failure::Tag(key_id)
        } else {
            Failure::UnknownKey(key_id)
        })
    }

    fn id_tag(&self, set: &KeySet, id: &SessionId) -> [u8; ID_TAG_LEN] {
        let Ok(mut mac) = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(set.mac_key()) else {
            unreachable!("HMAC takes keys of any length");
        };
        mac.update(ID_MAC_AD);
        mac.update(self.cookie_name.as_bytes());
        mac.update(id.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; ID_TAG_LEN];
        tag.copy_from_slice(&full[..ID_TAG_LEN]);
        tag
    }

    /// The store-mode cookie value for `id`: the id and a 16-byte MAC under the first key,
    /// 43 characters of base64url.
    #[must_use]
    pub fn sign_id(&self, id: &SessionId) -> String {
        let mut raw = [0u8; SessionId::LEN + ID_TAG_LEN];
        raw[..SessionId::LEN].copy_from_slice(id.as_bytes());
        raw[SessionId::LEN..].copy_from_slice(&self.id_tag(self.keys.sealing(), id));
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Checks a store-mode cookie value and returns its id. The length is checked exactly, and
    /// the MAC in constant time against every key of the ring (no early exit).
    pub fn verify_id(&self, value: &[u8]) -> Result<SessionId, OpenError> {
        Ok(self.verify_id_checked(value)?)
    }

    /// The ids worth loading from a request's `Cookie` headers: the values of our cookie whose
    /// MAC verifies, in the order sent, each once, and at most [`MAX_ID_CANDIDATES`] of them.
    /// At most [`MAX_COOKIE_VALUES`] distinct values are looked at, so a header stuffed with
    /// copies of a cookie costs a few MACs and at most two store reads.
    pub fn session_ids<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a [u8]>,
    ) -> Vec<SessionId> {
        let name = self.cookie_name();
        let mut seen: Vec<&[u8]> = Vec::new();
        let mut ids = Vec::new();
        for value in cookie_headers
            .into_iter()
            .flat_map(|header| crate::cookie::values(header, name))
        {
            if ids.len() == MAX_ID_CANDIDATES || seen.len() == MAX_COOKIE_VALUES {
                break;
            }
            if seen.contains(&value) {
                continue;
            }
            seen.push(value);
            if let Ok(id) = self.verify_id(value) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    /// [`verify_id`](Sealer::verify_id), saying which check failed (for
    /// [`inspect_cookie`](Sealer::inspect_cookie) only).
    pub(crate) fn verify_id_checked(&self, value: &[u8]) -> Result<SessionId, Failure> {
        if value.len() != SIGNED_ID_LEN {
            return Err(Failure::TooShort);
        }
        let mut raw = [0u8; 33];
        let n = URL_SAFE_NO_PAD
            .decode_slice(value, &mut raw)
            .map_err(|_| Failure::NotBase64)?;
        if n != SessionId::LEN + ID_TAG_LEN {
            return Err(Failure::NotBase64);
        }
        let mut id = [0u8; SessionId::LEN];
        id.copy_from_slice(&raw[..SessionId::LEN]);
        let id = SessionId::from_bytes(id);
        let given = &raw[SessionId::LEN..n];
        let mut ok = Choice::from(0);
        for set in self.keys.sets() {
            ok |= self.id_tag(set, &id)[..].ct_eq(given);
        }
        if bool::from(ok) {
            Ok(id)
        } else {
            Err(Failure::IdMac(id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(secrets: &[[u8; 32]]) -> KeyRing {
        KeyRing::new(secrets).unwrap()
    }

    fn sealer() -> Sealer {
        Sealer::new(ring(&[[1; 32]]), "session")
    }

    fn record() -> Record {
        Record {
            id: SessionId::from_bytes(*b"0123456789abcdef"),
            created: 1_700_000_000,
            last_seen: 1_700_000_100,
            data: b"\x0c\x01\x06\x04user\x03\x54".to_vec(),
        }
    }

    #[test]
    fn cookie_round_trip() {
        let s = sealer();
        let cookie = s.seal_cookie(&record());
        assert_eq!(s.open_cookie(cookie.as_bytes()), Ok(record()));
        assert_eq!(cookie.len(), Sealer::cookie_len(&record()));
        assert!(cookie
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn cookie_len_matches_for_every_size() {
        let s = sealer();
        for n in 0..40 {
            let r = Record {
                data: vec![0; n],
                ..record()
            };
            assert_eq!(s.seal_cookie(&r).len(), Sealer::cookie_len(&r), "{n}");
        }
    }

    #[test]
    fn two_seals_differ() {
        let s = sealer();
        assert_ne!(s.seal_cookie(&record()), s.seal_cookie(&record()));
        assert_ne!(s.seal_record(&record()), s.seal_record(&record()));
    }

    #[test]
    fn every_byte_tampered_is_refused() {
        let s = sealer();
        let cookie = s.seal_cookie(&record());
        let mut raw = URL_SAFE_NO_PAD.decode(&cookie).unwrap();
        for i in 0..raw.len() {
            for flip in [0x01, 0x80, 0xff] {
                raw[i] ^= flip;
                let forged = URL_SAFE_NO_PAD.encode(&raw);
                assert_eq!(s.open_cookie(forged.as_bytes()), Err(OpenError), "byte {i}");
                raw[i] ^= flip;
            }
        }
        // Every character of the text form too.
        let mut text = cookie.into_bytes();
        for i in 0..text.len() {
            let orig = text[i];
            text[i] = if orig == b'A' { b'B' } else { b'A' };
            assert_eq!(s.open_cookie(&text), Err(OpenError), "char {i}");
            text[i] = orig;
        }
        assert_eq!(s.open_cookie(&text), Ok(record()));
    }

    #[test]
    fn wrong_key_and_wrong_name_are_refused() {
        let cookie = sealer().seal_cookie(&record());
        let other_key = Sealer::new(ring(&[[2; 32]]), "session");
        assert_eq!(other_key.open_cookie(cookie.as_bytes()), Err(OpenError));
        let other_name = Sealer::new(ring(&[[1; 32]]), "session2");
        assert_eq!(other_name.open_cookie(cookie.as_bytes()), Err(OpenError));
    }

    #[test]
    fn truncated_empty_junk_and_oversize_are_refused() {
        let s = sealer();
        let cookie = s.seal_cookie(&record());
        for cut in 0..cookie.len() {
            assert_eq!(
                s.open_cookie(&cookie.as_bytes()[..cut]),
                Err(OpenError),
                "{cut}"
            );
        }
        let mut longer = cookie.clone();
        longer.push('A');
        assert_eq!(s.open_cookie(longer.as_bytes()), Err(OpenError));
        for junk in [
            &b""[..],
            b"=",
            b"not base64!",
            b"AAAA====",
            b"\xff\xfe",
            // The standard alphabet's '+' and '/' are not base64url.
            format!("+{}", &cookie[1..]).as_bytes(),
            format!("/{}", &cookie[1..]).as_bytes(),
        ] {
            assert_eq!(s.open_cookie(junk), Err(OpenError));
        }
        let padded = format!("{cookie}==");
        assert_eq!(s.open_cookie(padded.as_bytes()), Err(OpenError));
        assert_eq!(s.open_cookie(&[b'A'; MAX_COOKIE_LEN + 1]), Err(OpenError));
        assert_eq!(s.open_cookie(&vec![b'A'; 1 << 20]), Err(OpenError));
        assert_eq!(s.open_cookie(&[b'A'; MAX_COOKIE_LEN]), Err(OpenError));
    }

    #[test]
    fn largest_cookie_opens() {
        let s = sealer();
        let base = Sealer::cookie_len(&Record {
            data: vec![],
            ..record()
        });
        // Largest record data whose cookie fits in MAX_COOKIE_LEN characters.
        let mut n = (MAX_COOKIE_LEN - base) * 3 / 4;
        while Sealer::cookie_len(&Record {
            data: vec![0; n + 1],
            ..record()
        }) <= MAX_COOKIE_LEN
        {
            n += 1;
        }
        let r = Record {
            data: vec![0x5a; n],
            ..record()
        };
        let cookie = s.seal_cookie(&r);
        assert!(cookie.len() <= MAX_COOKIE_LEN);
        assert_eq!(s.open_cookie(cookie.as_bytes()), Ok(r));
        let too_big = Record {
            data: vec![0x5a; n + 1],
            ..record()
        };
        let cookie = s.seal_cookie(&too_big);
        assert!(cookie.len() > MAX_COOKIE_LEN);
        assert_eq!(s.open_cookie(cookie.as_bytes()), Err(OpenError));
    }

    #[test]
    fn key_rotation() {
        let old = Sealer::new(ring(&[[1; 32]]), "session");
        let rotated = Sealer::new(ring(&[[2; 32], [1; 32]]), "session");
        let cookie = old.seal_cookie(&record());
        assert_eq!(rotated.open_cookie(cookie.as_bytes()), Ok(record()));
        // The rotated ring seals with the new key, which the old ring does not know.
        let fresh = rotated.seal_cookie(&record());
        assert_eq!(old.open_cookie(fresh.as_bytes()), Err(OpenError));
        assert_eq!(rotated.open_cookie(fresh.as_bytes()), Ok(record()));
        // Same for records and ids.
        let blob = old.seal_record(&record());
        assert_eq!(rotated.open_record(&record().id, &blob), Ok(record()));
        let signed = old.sign_id(&record().id);
        assert_eq!(rotated.verify_id(signed.as_bytes()), Ok(record().id));
        assert_eq!(
            old.verify_id(rotated.sign_id(&record().id).as_bytes()),
            Err(OpenError)
        );
    }

    #[test]
    fn wrong_version_is_refused() {
        let s = sealer();
        let mut raw = URL_SAFE_NO_PAD.decode(s.seal_cookie(&record())).unwrap();
        raw[0] = 2;
        assert_eq!(
            s.open_cookie(URL_SAFE_NO_PAD.encode(&raw).as_bytes()),
            Err(OpenError)
        );
    }

    #[test]
    fn layout_is_as_documented() {
        let s = sealer();
        let raw = URL_SAFE_NO_PAD.decode(s.seal_cookie(&record())).unwrap();
        assert_eq!(raw[0], VERSION);
        assert_eq!(raw[1..5], s.keys.sealing().key_id());
        assert_eq!(raw.len(), OVERHEAD + record().encoded_len());
        // Decrypt by hand with the documented associated data.
        let mut ad = b"scsession/cookie".to_vec();
        ad.push(1);
        ad.extend_from_slice(&raw[1..5]);
        ad.extend_from_slice(b"session");
        let mut ct = raw[29..raw.len() - 16].to_vec();
        let tag: [u8; 16] = raw[raw.len() - 16..].try_into().unwrap();
        let nonce: [u8; 24] = raw[5..29].try_into().unwrap();
        cipher(s.keys.sealing().cookie_key())
            .decrypt_inout_detached(&Array(nonce), &ad, (&mut ct[..]).into(), &Array(tag))
            .unwrap();
        assert_eq!(ct, record().encode());

        let blob = s.seal_record(&record());
        assert_eq!(blob[0], VERSION);
        let mut ad = b"scsession/record".to_vec();
        ad.push(1);
        ad.extend_from_slice(&blob[1..5]);
        ad.extend_from_slice(record().id.as_bytes());
        let mut ct = blob[29..blob.len() - 16].to_vec();
        let tag: [u8; 16] = blob[blob.len() - 16..].try_into().unwrap();
        let nonce: [u8; 24] = blob[5..29].try_into().unwrap();
        cipher(s.keys.sealing().record_key())
            .decrypt_inout_detached(&Array(nonce), &ad, (&mut ct[..]).into(), &Array(tag))
            .unwrap();
        assert_eq!(ct, record().encode());
    }

    #[test]
    fn record_round_trip_and_binding_to_the_id() {
        let s = sealer();
        let blob = s.seal_record(&record());
        assert_eq!(s.open_record(&record().id, &blob), Ok(record()));
        let other = SessionId::from_bytes([9; 16]);
        assert_eq!(s.open_record(&other, &blob), Err(OpenError));
        // A record whose inner id differs from the id it is sealed for.
        let moved = Record {
            id: other,
            ..record()
        };
        let mut blob2 = Vec::new();
        let set = s.keys.sealing();
        let ad = record_ad(set.key_id(), &record().id);
        seal_into(&mut blob2, set, set.record_key(), &ad, &moved);
        assert_eq!(s.open_record(&record().id, &blob2), Err(OpenError));
        // Cookies and records use different keys.
        let cookie_raw = URL_SAFE_NO_PAD.decode(s.seal_cookie(&record())).unwrap();
        assert_eq!(s.open_record(&record().id, &cookie_raw), Err(OpenError));
        // Tampering and truncation.
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 0x10;
            assert_eq!(s.open_record(&record().id, &bad), Err(OpenError), "{i}");
        }
        for cut in 0..blob.len() {
            assert_eq!(s.open_record(&record().id, &blob[..cut]), Err(OpenError));
        }
        assert_eq!(
            Sealer::new(ring(&[[3; 32]]), "session").open_record(&record().id, &blob),
            Err(OpenError)
        );
        // The cookie name does not matter for records.
        assert_eq!(
            Sealer::new(ring(&[[1; 32]]), "other").open_record(&record().id, &blob),
            Ok(record())
        );
    }

    #[test]
    fn a_request_yields_at_most_two_distinct_session_ids() {
        let s = sealer();
        let ids: Vec<SessionId> = (0..4).map(|_| SessionId::random()).collect();
        let signed: Vec<String> = ids.iter().map(|id| s.sign_id(id)).collect();
        // 150 copies of one signed id: one candidate.
        let stuffed = vec![format!("session={}", signed[0]); 150].join("; ");
        assert_eq!(s.session_ids([stuffed.as_bytes()]), [ids[0]]);
        // Many valid ids (e.g. old, signed-out ones): the first two only.
        let header = format!(
            "session=junk; session={}; session={}; session={}",
            signed[1], signed[0], signed[2]
        );
        assert_eq!(s.session_ids([header.as_bytes()]), [ids[1], ids[0]]);
        // Spread over several headers, in order.
        let (a, b) = (
            format!("session={}", signed[3]),
            format!("session={}", signed[2]),
        );
        assert_eq!(
            s.session_ids([a.as_bytes(), b.as_bytes()]),
            [ids[3], ids[2]]
        );
        // Past MAX_COOKIE_VALUES distinct values, nothing more is looked at.
        let mut junk: Vec<String> = (0..MAX_COOKIE_VALUES)
            .map(|i| format!("session=x{i}"))
            .collect();
        junk.push(format!("session={}", signed[0]));
        assert!(s.session_ids([junk.join("; ").as_bytes()]).is_empty());
    }

    #[test]
    fn signed_ids() {
        let s = sealer();
        let id = record().id;
        let signed = s.sign_id(&id);
        assert_eq!(signed.len(), SIGNED_ID_LEN);
        assert!(signed.starts_with(&id.to_string()[..21]));
        assert_eq!(s.sign_id(&id), signed, "deterministic");
        assert_eq!(s.verify_id(signed.as_bytes()), Ok(id));
        // Fixed vector: HMAC-SHA256(mac_key, "scsession/id" | "session" | id)[..16].
        let mut mac =
            <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(s.keys.sealing().mac_key()).unwrap();
        mac.update(b"scsession/idsession0123456789abcdef");
        let full = mac.finalize().into_bytes();
        let mut raw = id.as_bytes().to_vec();
        raw.extend_from_slice(&full[..16]);
        assert_eq!(URL_SAFE_NO_PAD.encode(&raw), signed);

        let mut text = signed.clone().into_bytes();
        for i in 0..text.len() {
            let orig = text[i];
            text[i] = if orig == b'A' { b'B' } else { b'A' };
            assert_eq!(s.verify_id(&text), Err(OpenError), "char {i}");
            text[i] = orig;
        }
        for cut in 0..signed.len() {
            assert_eq!(s.verify_id(&signed.as_bytes()[..cut]), Err(OpenError));
        }
        assert_eq!(s.verify_id(format!("{signed}A").as_bytes()), Err(OpenError));
        assert_eq!(s.verify_id(&[b'!'; 43]), Err(OpenError));
        let other_name = Sealer::new(ring(&[[1; 32]]), "other");
        assert_eq!(other_name.verify_id(signed.as_bytes()), Err(OpenError));
        let other_key = Sealer::new(ring(&[[2; 32]]), "session");
        assert_eq!(other_key.verify_id(signed.as_bytes()), Err(OpenError));
    }

    #[test]
    fn shareable_between_threads() {
        fn check<T: Send + Sync + Clone>() {}
        check::<Sealer>();
        check::<KeyRing>();
    }

    #[test]
    fn error_and_debug_reveal_nothing() {
        assert_eq!(OpenError.to_string(), "session data did not open");
        let text = format!("{:?}", sealer());
        assert_eq!(
            text,
            "Sealer { keys: KeyRing { keys: 1, .. }, cookie_name: \"session\", .. }"
        );
    }
}
