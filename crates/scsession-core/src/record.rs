//! The record: what is sealed into a cookie or a stored blob.
//!
//! `id (16 bytes) | created (varint, unix s) | last_seen (varint, unix s) | data (the rest)`.
//! The data bytes are the [`format`](crate::format) encoding of the session, not checked here.

use crate::id::SessionId;

/// Why bytes are not a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Shorter than its header.
    #[error("session record is truncated")]
    Truncated,
    /// A timestamp varint that is overlong or overflows a `u64`.
    #[error("session record has an invalid timestamp")]
    InvalidTimestamp,
}

/// A session as sealed: its id, when it was created and last seen (unix seconds), and its data
/// in the binary [`format`](crate::format).
///
/// ```
/// use scsession_core::{Record, SessionId};
///
/// let record = Record {
///     id: SessionId::from_bytes([1; 16]),
///     created: 1_700_000_000,
///     last_seen: 1_700_000_100,
///     data: vec![0x0c, 0x00],
/// };
/// assert_eq!(Record::decode(&record.encode()), Ok(record));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The session id.
    pub id: SessionId,
    /// When the session was created, unix seconds.
    pub created: u64,
    /// When the session was last written, unix seconds.
    pub last_seen: u64,
    /// The session data (binary format).
    pub data: Vec<u8>,
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a minimal u64 LEB128 varint from the front of `bytes`; returns it and the bytes read.
fn get_varint(bytes: &[u8]) -> Result<(u64, usize), RecordError> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let bits = u64::from(b & 0x7f);
        let shift = 7 * i as u32;
        if i == 9 && bits > 1 {
            return Err(RecordError::InvalidTimestamp);
        }
        value |= bits << shift;
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return Err(RecordError::InvalidTimestamp);
            }
            return Ok((value, i + 1));
        }
    }
    if bytes.len() >= 10 {
        Err(RecordError::InvalidTimestamp)
    } else {
        Err(RecordError::Truncated)
    }
}

impl Record {
    /// Bytes that [`encode`](Record::encode) writes.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        SessionId::LEN + varint_len(self.created) + varint_len(self.last_seen) + self.data.len()
    }

    /// Appends the encoding to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.extend_from_slice(self.id.as_bytes());
        put_varint(out, self.created);
        put_varint(out, self.last_seen);
        out.extend_from_slice(&self.data);
    }

    /// The encoding: `id | created | last_seen | data`.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Reads the header; returns id, `created`, `last_seen` and the header length.
    fn header(bytes: &[u8]) -> Result<(SessionId, u64, u64, usize), RecordError> {
        let id: [u8; SessionId::LEN] = bytes
            .get(..SessionId::LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(RecordError::Truncated)?;
        let mut pos = SessionId::LEN;
        let (created, n) = get_varint(&bytes[pos..])?;
        pos += n;
        let (last_seen, n) = get_varint(&bytes[pos..])?;
        pos += n;
        Ok((SessionId::from_bytes(id), created, last_seen, pos))
    }

    /// Reads a record; the data is everything after the header (checked later, when decoded).
    pub fn decode(bytes: &[u8]) -> Result<Self, RecordError> {
        let (id, created, last_seen, pos) = Self::header(bytes)?;
        Ok(Self {
            id,
            created,
            last_seen,
            data: bytes[pos..].to_vec(),
        })
    }

    /// As [`decode`](Record::decode), reusing `bytes` for the data (no new allocation).
    pub fn decode_vec(mut bytes: Vec<u8>) -> Result<Self, RecordError> {
        let (id, created, last_seen, pos) = Self::header(&bytes)?;
        bytes.drain(..pos);
        Ok(Self {
            id,
            created,
            last_seen,
            data: bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            id: SessionId::from_bytes(*b"0123456789abcdef"),
            created: 1_700_000_000,
            last_seen: 300,
            data: vec![0x0c, 0x00],
        }
    }

    #[test]
    fn fixed_vector() {
        let bytes = record().encode();
        let mut expected = b"0123456789abcdef".to_vec();
        // 1_700_000_000 = 0x6553f100
        expected.extend_from_slice(&[0x80, 0xe2, 0xcf, 0xaa, 0x06]);
        expected.extend_from_slice(&[0xac, 0x02]);
        expected.extend_from_slice(&[0x0c, 0x00]);
        assert_eq!(bytes, expected);
        assert_eq!(record().encoded_len(), bytes.len());
        assert_eq!(Record::decode(&bytes), Ok(record()));
        assert_eq!(Record::decode_vec(bytes), Ok(record()));
    }

    #[test]
    fn extremes_round_trip() {
        for (created, last_seen) in [(0, 0), (u64::MAX, u64::MAX), (127, 128)] {
            let r = Record {
                created,
                last_seen,
                data: vec![],
                ..record()
            };
            assert_eq!(r.encode().len(), r.encoded_len());
            assert_eq!(Record::decode(&r.encode()), Ok(r));
        }
    }

    #[test]
    fn refuses_short_and_bad_headers() {
        let bytes = record().encode();
        // Every cut inside the header (16 + 5 + 2 bytes) is truncated.
        for cut in 0..23 {
            assert_eq!(
                Record::decode(&bytes[..cut]),
                Err(RecordError::Truncated),
                "{cut}"
            );
        }
        assert!(Record::decode(&bytes[..23]).is_ok());

        let mut overlong = b"0123456789abcdef".to_vec();
        overlong.extend_from_slice(&[0x80, 0x00, 0x00]);
        assert_eq!(
            Record::decode(&overlong),
            Err(RecordError::InvalidTimestamp)
        );

        let mut overflow = b"0123456789abcdef".to_vec();
        overflow.extend_from_slice(&[0xff; 9]);
        overflow.extend_from_slice(&[0x02, 0x00]);
        assert_eq!(
            Record::decode(&overflow),
            Err(RecordError::InvalidTimestamp)
        );

        let mut eleven = b"0123456789abcdef".to_vec();
        eleven.extend_from_slice(&[0xff; 10]);
        eleven.extend_from_slice(&[0x00, 0x00]);
        assert_eq!(Record::decode(&eleven), Err(RecordError::InvalidTimestamp));
    }
}
