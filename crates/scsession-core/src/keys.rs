//! Keys: secrets from configuration, expanded per purpose with HKDF-SHA256.
//!
//! Each secret (at least [`MIN_SECRET_LEN`] bytes) gives a cookie key, a record key, an id-MAC key
//! and a 4-byte key id. The first secret of a [`KeyRing`] seals; every secret opens, so keys
//! rotate by putting a new secret first and keeping the old one until its cookies have expired.
//!
//! Key material lives in fixed-size arrays that are wiped when dropped and never printed.

use core::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroize;

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// HKDF salt shared by every derived key.
const SALT: &[u8] = b"scsession";
const INFO_COOKIE: &[u8] = b"scsession/v1/cookie";
const INFO_RECORD: &[u8] = b"scsession/v1/record";
const INFO_ID_MAC: &[u8] = b"scsession/v1/id-mac";
const INFO_KEY_ID: &[u8] = b"scsession/v1/key-id";
const INFO_USER_INDEX: &[u8] = b"scsession/v1/user-index";

/// Why a list of secrets was refused. Messages never contain key material.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No secret was given.
    #[error("at least one secret key is required")]
    Empty,
    /// A secret is shorter than [`MIN_SECRET_LEN`] bytes.
    #[error(
        "secret key #{index} is {len} bytes long; at least {MIN_SECRET_LEN} bytes are required"
    )]
    TooShort {
        /// Position of the secret in the list (from 0).
        index: usize,
        /// Its length in bytes.
        len: usize,
    },
}

/// The keys derived from one secret.
#[derive(Clone)]
pub(crate) struct KeySet {
    cookie: [u8; 32],
    record: [u8; 32],
    mac: [u8; 32],
    index: [u8; 32],
    id: [u8; 4],
}

impl KeySet {
    fn derive(secret: &[u8]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(SALT), secret);
        let mut set = Self {
            cookie: [0; 32],
            record: [0; 32],
            mac: [0; 32],
            index: [0; 32],
            id: [0; 4],
        };
        // Lengths far below the HKDF-SHA256 limit (255 * 32 bytes): expand cannot fail.
        for (info, out) in [
            (INFO_COOKIE, &mut set.cookie[..]),
            (INFO_RECORD, &mut set.record[..]),
            (INFO_ID_MAC, &mut set.mac[..]),
            (INFO_USER_INDEX, &mut set.index[..]),
            (INFO_KEY_ID, &mut set.id[..]),
        ] {
            if hk.expand(info, out).is_err() {
                unreachable!("HKDF-SHA256 output of at most 32 bytes");
            }
        }
        set
    }

    /// Key for sealing cookies (XChaCha20-Poly1305).
    pub(crate) fn cookie_key(&self) -> &[u8; 32] {
        &self.cookie
    }

    /// Key for sealing stored records (XChaCha20-Poly1305).
    pub(crate) fn record_key(&self) -> &[u8; 32] {
        &self.record
    }

    /// Key for the MAC of session ids in store-mode cookies (HMAC-SHA256).
    pub(crate) fn mac_key(&self) -> &[u8; 32] {
        &self.mac
    }

    /// Key for the per-user index's user keys (HMAC-SHA256 of the app's user id), so that a
    /// store's index does not reveal which user ids it holds.
    pub(crate) fn index_key(&self) -> &[u8; 32] {
        &self.index
    }

    /// The 4-byte id written in front of everything this set seals.
    pub(crate) fn key_id(&self) -> [u8; 4] {
        self.id
    }
}

impl Drop for KeySet {
    fn drop(&mut self) {
        self.cookie.zeroize();
        self.record.zeroize();
        self.mac.zeroize();
        self.index.zeroize();
        self.id.zeroize();
    }
}

/// The secrets in use, in order: the first seals, all of them open.
///
/// ```
/// use scsession_core::KeyRing;
///
/// let new = [1u8; 32];
/// let old = [2u8; 32];
/// let keys = KeyRing::new(&[new, old]).unwrap();
/// assert_eq!(keys.len(), 2);
/// assert_eq!(format!("{keys:?}"), "KeyRing { keys: 2, .. }");
/// assert!(KeyRing::new(&[b"short"]).is_err());
/// ```
#[derive(Clone)]
pub struct KeyRing {
    sets: Vec<KeySet>,
}

impl KeyRing {
    /// Derives the keys of every secret. Refuses an empty list and any secret shorter than
    /// [`MIN_SECRET_LEN`] bytes.
    pub fn new<S: AsRef<[u8]>>(secrets: &[S]) -> Result<Self, KeyError> {
        if secrets.is_empty() {
            return Err(KeyError::Empty);
        }
        if let Some((index, len)) = secrets
            .iter()
            .map(|s| s.as_ref().len())
            .enumerate()
            .find(|&(_, len)| len < MIN_SECRET_LEN)
        {
            return Err(KeyError::TooShort { index, len });
        }
        let sets = secrets.iter().map(|s| KeySet::derive(s.as_ref())).collect();
        Ok(Self { sets })
    }

    /// Number of secrets.
    #[must_use]
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Always false: a ring holds at least one secret.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// The set that seals (the first).
    pub(crate) fn sealing(&self) -> &KeySet {
        &self.sets[0]
    }

    /// Every set, the sealing one first.
    pub(crate) fn sets(&self) -> &[KeySet] {
        &self.sets
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("keys", &self.sets.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        use core::fmt::Write as _;
        bytes.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    #[test]
    fn refuses_empty_and_short() {
        let none: [&[u8]; 0] = [];
        assert_eq!(KeyRing::new(&none).unwrap_err(), KeyError::Empty);
        let err = KeyRing::new(&[&[0u8; 32][..], &[0u8; 31][..]]).unwrap_err();
        assert_eq!(err, KeyError::TooShort { index: 1, len: 31 });
        assert_eq!(
            err.to_string(),
            "secret key #1 is 31 bytes long; at least 32 bytes are required"
        );
        assert!(KeyRing::new(&[String::from("x").repeat(32)]).is_ok());
        assert!(KeyRing::new(&[vec![0u8; 100]]).is_ok());
    }

    #[test]
    fn derivation_is_fixed() {
        // HKDF-SHA256(salt "scsession", ikm 32 x 0x00, info per purpose), computed independently
        // with Python's hmac module. Pinned: changing the derivation logs everyone out.
        let ring = KeyRing::new(&[[0u8; 32]]).unwrap();
        let set = ring.sealing();
        assert_eq!(
            hex(set.cookie_key()),
            "59ff5ad80d6865545f2cf77c1861148e236e621a407537573bede9dbe9e332a8"
        );
        assert_eq!(
            hex(set.record_key()),
            "efd3d5ef0914493ce4d150e1a5a863498eff5375b316db9abca075707343aac3"
        );
        assert_eq!(
            hex(set.mac_key()),
            "ce645dec223124c62218d2e94cee46b18006036196c1c67d9de37a341f3f5d77"
        );
        assert_eq!(hex(&set.key_id()), "7297f7f5");
    }

    #[test]
    fn purposes_and_secrets_give_different_keys() {
        let ring = KeyRing::new(&[[1u8; 32], [2u8; 32]]).unwrap();
        let [a, b] = ring.sets() else { panic!() };
        assert_ne!(a.cookie_key(), a.record_key());
        assert_ne!(a.cookie_key(), a.mac_key());
        assert_ne!(a.record_key(), a.mac_key());
        assert_ne!(a.cookie_key(), b.cookie_key());
        assert_ne!(a.key_id(), b.key_id());
        assert_eq!(ring.sealing().key_id(), a.key_id());
        assert_eq!(ring.len(), 2);
        assert!(!ring.is_empty());
    }

    #[test]
    fn debug_is_redacted() {
        let ring = KeyRing::new(&[[0x41u8; 32]]).unwrap();
        let text = format!("{ring:?}");
        assert_eq!(text, "KeyRing { keys: 1, .. }");
    }
}
