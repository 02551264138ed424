//! What the networked stores share: time limits, masked URLs and outage errors.

use core::fmt::Display;
use core::future::Future;
use std::time::Duration;

use super::StoreError;

/// How long a store waits for its server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting (a refused connection fails at once; an unreachable host after this).
    pub connect: Duration,
    /// One operation, once connected.
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            operation: Duration::from_secs(5),
        }
    }
}

/// `url` with any password replaced by `***`, for messages and logs:
/// `redis://user:secret@host:6379/0` becomes `redis://user:***@host:6379/0`, and a
/// `password=` query parameter is masked too.
///
/// ```
/// use scsession_core::store::mask_url;
///
/// assert_eq!(mask_url("redis://:hunter2@cache:6379/0"), "redis://:***@cache:6379/0");
/// assert_eq!(mask_url("postgresql://app:pw@db/app?sslmode=off"), "postgresql://app:***@db/app?sslmode=off");
/// assert_eq!(mask_url("mysql://db/app?user=a&password=pw"), "mysql://db/app?user=a&password=***");
/// assert_eq!(mask_url("memcache://127.0.0.1:11211"), "memcache://127.0.0.1:11211");
/// ```
#[must_use]
pub fn mask_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.find(':') {
                Some(colon) => format!("{}:***{host}", &userinfo[..colon]),
                None => format!("{userinfo}{host}"),
            }
        }
        None => authority.to_owned(),
    };
    let tail = match tail.find('?') {
        Some(q) => {
            let (path, query) = tail.split_at(q + 1);
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{authority}{tail}")
}

/// The outage error of the store at `store` (a masked URL).
pub(crate) fn unavailable(store: &str, cause: impl Display) -> StoreError {
    StoreError::Unavailable {
        store: store.to_owned(),
        cause: cause.to_string(),
    }
}

/// Runs `operation`, failing with an outage error after `limit`.
pub(crate) async fn bounded<T>(
    store: &str,
    limit: Duration,
    operation: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, operation).await {
        Ok(result) => result,
        Err(_) => Err(unavailable(
            store,
            format_args!("no answer within {:.1} s", limit.as_secs_f64()),
        )),
    }
}

/// Whether `key` is the key of a session record in a key-value store: `prefix` followed by a
/// session id (22 base64url characters), and nothing else. Other keys under the same prefix
/// (a per-user index, say) are not sessions. For counting (`python -m scsession stats`).
#[cfg(any(feature = "redis-store", feature = "memcached-store"))]
pub(crate) fn is_session_key(key: &[u8], prefix: &str) -> bool {
    key.strip_prefix(prefix.as_bytes())
        .and_then(|rest| core::str::from_utf8(rest).ok())
        .is_some_and(|rest| rest.parse::<crate::id::SessionId>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_passwords_only() {
        assert_eq!(
            mask_url("redis://user:p%40ss@a:7000,b:7001/0"),
            "redis://user:***@a:7000,b:7001/0"
        );
        assert_eq!(mask_url("redis://a:7000"), "redis://a:7000");
        assert_eq!(mask_url("sqlite:///tmp/s.db"), "sqlite:///tmp/s.db");
        assert_eq!(mask_url("no url at all"), "no url at all");
        assert_eq!(
            mask_url("mysql://u:p@h/db?PASSWORD=x&ssl=1"),
            "mysql://u:***@h/db?PASSWORD=***&ssl=1"
        );
    }

    #[tokio::test]
    async fn bounded_operations_end_with_an_outage_error() {
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        };
        let err = bounded("redis://h", Duration::from_millis(10), slow)
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "session store redis://h is unavailable: no answer within 0.0 s"
        );
    }

    #[cfg(any(feature = "redis-store", feature = "memcached-store"))]
    #[test]
    fn only_prefix_and_a_session_id_is_a_session_key() {
        let id = crate::id::SessionId::random().to_string();
        assert!(is_session_key(format!("s:{id}").as_bytes(), "s:"));
        assert!(!is_session_key(id.as_bytes(), "s:"));
        assert!(!is_session_key(format!("t:{id}").as_bytes(), "s:"));
        assert!(!is_session_key(format!("s:{id}x").as_bytes(), "s:"));
        assert!(!is_session_key(format!("s:{}", &id[1..]).as_bytes(), "s:"));
        let user = format!("s:user:{}", "A".repeat(43));
        assert!(!is_session_key(user.as_bytes(), "s:"));
        assert!(!is_session_key(
            format!("s:{}!", &id[..21]).as_bytes(),
            "s:"
        ));
    }
}
