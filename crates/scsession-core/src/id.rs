//! Session ids: 128 bits from the OS CSPRNG, written as 22 characters of unpadded base64url.
//!
//! An id means nothing by itself: no user, no time inside. In store mode the cookie carries the
//! id with a MAC (see [`Sealer::sign_id`](crate::Sealer::sign_id)), so a forged id is refused
//! before any store is asked.

use core::fmt;
use core::str::FromStr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// The error for a string that is not a session id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a session id")]
pub struct IdError;

/// A session id: 16 random bytes.
///
/// `Display` writes the 22-character base64url form (no padding); `FromStr` accepts exactly that
/// form and nothing else. `Debug` shows only a short prefix, so ids do not end up whole in logs.
///
/// ```
/// use scsession_core::SessionId;
///
/// let id = SessionId::random();
/// let text = id.to_string();
/// assert_eq!(text.len(), 22);
/// assert_eq!(text.parse::<SessionId>(), Ok(id));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionId([u8; 16]);

/// Length of the text form.
const TEXT_LEN: usize = 22;

impl SessionId {
    /// Length of an id in bytes.
    pub const LEN: usize = 16;

    /// A new id from the operating system's CSPRNG.
    ///
    /// # Panics
    /// Only if the operating system's random number generator fails, when no safe id can be made.
    #[must_use]
    pub fn random() -> Self {
        let mut bytes = [0u8; Self::LEN];
        getrandom::fill(&mut bytes).expect(
            "the operating system's random number generator failed: no session id can be made",
        );
        Self(bytes)
    }

    /// An id from its bytes (for ids read back from a store, and for tests).
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The id's bytes.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Writes the text form into `out` and returns it.
    fn encode_text(self, out: &mut [u8; 24]) -> &str {
        let n = URL_SAFE_NO_PAD
            .encode_slice(self.0, &mut out[..])
            .unwrap_or_default();
        // base64 output is ASCII.
        core::str::from_utf8(&out[..n]).unwrap_or_default()
    }
}

impl Default for SessionId {
    /// A new random id, as [`SessionId::random`].
    fn default() -> Self {
        Self::random()
    }
}

impl AsRef<[u8]> for SessionId {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 24];
        f.write_str(self.encode_text(&mut buf))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 24];
        let text = self.encode_text(&mut buf);
        write!(f, "SessionId(\"{}…\")", &text[..4])
    }
}

impl FromStr for SessionId {
    type Err = IdError;

    /// Accepts exactly 22 base64url characters (no padding, no stray bits) that decode to 16 bytes.
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.len() != TEXT_LEN {
            return Err(IdError);
        }
        let mut out = [0u8; 18];
        match URL_SAFE_NO_PAD.decode_slice(s.as_bytes(), &mut out) {
            Ok(Self::LEN) => {
                let mut bytes = [0u8; Self::LEN];
                bytes.copy_from_slice(&out[..Self::LEN]);
                Ok(Self(bytes))
            }
            _ => Err(IdError),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_22_chars_of_base64url() {
        let id = SessionId::from_bytes([0xfb; 16]);
        assert_eq!(id.to_string(), "-_v7-_v7-_v7-_v7-_v7-w");
        let id = SessionId::from_bytes(*b"0123456789abcdef");
        assert_eq!(id.to_string(), "MDEyMzQ1Njc4OWFiY2RlZg");
    }

    #[test]
    fn parse_round_trips() {
        for _ in 0..100 {
            let id = SessionId::random();
            assert_eq!(id.to_string().parse::<SessionId>(), Ok(id));
        }
    }

    #[test]
    fn random_ids_differ() {
        assert_ne!(SessionId::random(), SessionId::random());
        assert_ne!(SessionId::default(), SessionId::default());
    }

    #[test]
    fn parse_refuses_anything_else() {
        let good = "MDEyMzQ1Njc4OWFiY2RlZg";
        assert!(good.parse::<SessionId>().is_ok());
        for bad in [
            "",
            "MDEyMzQ1Njc4OWFiY2RlZ",    // 21
            "MDEyMzQ1Njc4OWFiY2RlZg=",  // padded
            "MDEyMzQ1Njc4OWFiY2RlZg==", // padded
            "MDEyMzQ1Njc4OWFiY2RlZga",  // 23
            "MDEyMzQ1Njc4OWFiY2RlZh",   // stray low bits in the last char
            "MDEyMzQ1Njc4OWFiY2RlZ+",   // standard alphabet
            "MDEyMzQ1Njc4OWFiY2Rl/g",
            "MDEyMzQ1Njc4OWFiY2Rl Z",
            "MDEyMzQ1Njc4OWFiY2RlZé",
        ] {
            assert_eq!(bad.parse::<SessionId>(), Err(IdError), "{bad:?}");
        }
    }

    #[test]
    fn debug_shows_only_a_prefix() {
        let id = SessionId::from_bytes(*b"0123456789abcdef");
        assert_eq!(format!("{id:?}"), "SessionId(\"MDEy…\")");
    }

    #[test]
    fn bytes_round_trip() {
        let id = SessionId::from_bytes([7; 16]);
        assert_eq!(id.as_bytes(), &[7; 16]);
        assert_eq!(id.as_ref(), &[7; 16]);
    }
}
