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
/// `redis://user:secret@host:6379/0` becomes `redis://user:***@host:6379/0`, and a query
/// parameter whose name says it holds a secret (`password=`, `pass=`, `sslpassword=`, ...) is
/// masked too.
///
/// Passwords with unencoded `/`, `?`, `#`, `@` or `:` (common in generated passwords) are
/// masked whole: the userinfo is everything before the *last* `@`, wherever the first `/` or
/// `?` is, and everything in it after the first `:` is masked. When that is ambiguous (`/`,
/// `?`, `#` or `@` before the first `:`, or anything but letters, digits and `._-~%` in a
/// userinfo without one) the whole userinfo is masked; a bare user name is shown. A query value
/// is masked up to the next `&` that starts another parameter (`name=`), `#` and all. Masking
/// too much is allowed (an `@` further on, in a path or a query, hides what comes before it);
/// showing any part of a password is not.
///
/// ```
/// use scsession_core::store::mask_url;
///
/// assert_eq!(mask_url("redis://:hunter2@cache:6379/0"), "redis://:***@cache:6379/0");
/// assert_eq!(mask_url("postgresql://app:pw@db/app?sslmode=off"), "postgresql://app:***@db/app?sslmode=off");
/// assert_eq!(mask_url("postgresql://app:p/ss?w#rd@x:y@db/app"), "postgresql://app:***@db/app");
/// assert_eq!(mask_url("mysql://db/app?user=a&password=pw"), "mysql://db/app?user=a&password=***");
/// assert_eq!(mask_url("memcache://127.0.0.1:11211"), "memcache://127.0.0.1:11211");
/// ```
#[must_use]
pub fn mask_url(url: &str) -> String {
    let mut hidden = vec![false; url.len()];
    for (start, end) in secret_ranges(url) {
        hidden[start..end].iter_mut().for_each(|h| *h = true);
    }
    let mut out = String::with_capacity(url.len());
    for (i, c) in url.char_indices() {
        if !hidden[i] {
            out.push(c);
        } else if i == 0 || !hidden[i - 1] {
            out.push_str("***");
        }
    }
    out
}

/// Byte ranges of `url` that may hold a secret: the password of the userinfo (or the whole
/// userinfo when it is ambiguous) and the values of query parameters named like secrets.
fn secret_ranges(url: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let rest_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[rest_start..];
    if let Some(at) = rest.rfind('@') {
        let userinfo = &rest[..at];
        match userinfo.find(':') {
            Some(colon) if !userinfo[..colon].contains(['/', '?', '#', '@']) => {
                ranges.push((rest_start + colon + 1, rest_start + at));
            }
            // A bare user name: nothing secret in it. (Anything else without a `:` may be a
            // token given as the whole userinfo.)
            None if userinfo
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '~' | '%')) => {
            }
            _ => ranges.push((rest_start, rest_start + at)),
        }
    }
    // Query parameters, wherever a `?` or `&` starts one (even inside what looked like a
    // userinfo: masking twice is harmless).
    let bytes = url.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b != b'?' && b != b'&' {
            continue;
        }
        let param = &url[i + 1..];
        let Some(eq) = param.find('=') else { continue };
        let key = &param[..eq];
        if key.contains(['&', '?', '#', '/']) || !is_secret_key(key) {
            continue;
        }
        let value_start = i + 1 + eq + 1;
        let value_end = value_end(url, value_start);
        if value_end > value_start {
            ranges.push((value_start, value_end));
        }
    }
    ranges
}

/// Where the query value starting at `start` ends: at the next `&` that starts another
/// parameter (`name=`), or at the end of `url` (an `&` inside a password is not an end).
fn value_end(url: &str, start: usize) -> usize {
    let mut from = start;
    while let Some(n) = url[from..].find('&') {
        let amp = from + n;
        let next = &url[amp + 1..];
        let name_len = next
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(next.len());
        if name_len > 0 && next[name_len..].starts_with('=') {
            return amp;
        }
        from = amp + 1;
    }
    url.len()
}

/// Whether a query parameter named `key` holds a secret: `password`, `pass`, `sslpassword`,
/// `pwd`, `secret`, `token`, in any case.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["pass", "pwd", "secret", "token"]
        .iter()
        .any(|word| key.contains(word))
}

/// Where URL parsers split: a password with these unencoded falls apart into pieces.
const DELIMITERS: [char; 7] = ['/', '?', '#', '@', ':', '&', '='];

/// What a store shows of itself in messages (its URL, masked), and what it must never show:
/// the secrets of the URL it was given, in every form a driver could echo them. Every error a
/// networked store builds goes through here, so that a driver message that quotes the URL or
/// the password (a configuration error, say) is scrubbed before it reaches a log.
#[derive(Clone)]
pub(crate) struct Masked {
    /// The URL, masked: what messages show.
    name: String,
    /// The URL as given, when it holds a secret: shown as `name` wherever a driver quotes it.
    url: Option<Vec<u8>>,
    /// Each secret of the URL (as written, percent-decoded, and the pieces of one that a URL
    /// parser would split), longest first.
    secrets: Vec<Vec<u8>>,
}

impl core::fmt::Debug for Masked {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.name)
    }
}

impl core::fmt::Display for Masked {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Masked {
    /// The masked name and the secrets of `url`.
    pub(crate) fn new(url: &str) -> Self {
        let mut secrets: Vec<Vec<u8>> = Vec::new();
        let mut add = |secret: &[u8]| {
            if !secret.is_empty() && !secrets.iter().any(|s| s == secret) {
                secrets.push(secret.to_vec());
            }
        };
        for (start, end) in secret_ranges(url) {
            let raw = &url[start..end];
            add(raw.as_bytes());
            add(&percent_decode(raw.as_bytes()));
            add(&percent_decode(raw.replace('+', " ").as_bytes()));
            // Unencoded `/`, `?` or `#` split a URL for any parser: pieces of the password can
            // turn up in a driver's message as a port, a path, a query parameter. Every run of
            // it from one delimiter to another (or to either end) is scrubbed too, when it is
            // 3 bytes or more (shorter ones would garble every message).
            if raw.contains(['/', '?', '#']) {
                let cuts: Vec<usize> = core::iter::once(0)
                    .chain(raw.match_indices(DELIMITERS).flat_map(|(i, _)| [i, i + 1]))
                    .chain(core::iter::once(raw.len()))
                    .collect();
                for (n, &start) in cuts.iter().enumerate() {
                    for &end in &cuts[n + 1..] {
                        if end >= start + 3 {
                            add(&raw.as_bytes()[start..end]);
                        }
                    }
                }
            }
        }
        secrets.sort_by_key(|s| core::cmp::Reverse(s.len()));
        Self {
            name: mask_url(url),
            url: (!secrets.is_empty()).then(|| url.as_bytes().to_vec()),
            secrets,
        }
    }

    /// The masked URL.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// `text` with the URL replaced by its masked form and every secret of it by `***`: as
    /// written, percent-encoded (hex in either case, any mix of encoded and plain bytes), or
    /// with bytes escaped by a backslash (as Rust's `{:?}` writes `"` and `\`), ignoring ASCII
    /// case.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let Some(url) = &self.url else {
            return text.to_owned();
        };
        let bytes = text.as_bytes();
        let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
        let mut i = 0;
        'text: while i < bytes.len() {
            if let Some(len) = match_encoded(&bytes[i..], url) {
                out.extend_from_slice(self.name.as_bytes());
                i += len;
                continue;
            }
            for secret in &self.secrets {
                if let Some(len) = match_encoded(&bytes[i..], secret) {
                    out.extend_from_slice(b"***");
                    i += len;
                    continue 'text;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        // A secret that starts or ends inside a multi-byte character leaves half of it.
        match String::from_utf8(out) {
            Ok(text) => text,
            Err(err) => String::from_utf8_lossy(err.as_bytes()).into_owned(),
        }
    }

    /// An outage of this store: `cause` scrubbed.
    pub(crate) fn unavailable(&self, cause: impl Display) -> StoreError {
        StoreError::Unavailable {
            store: self.name.clone(),
            cause: self.scrub(&cause.to_string()),
        }
    }

    /// An error this store answered or was configured with: `{masked URL}: {cause}`, the
    /// cause scrubbed.
    pub(crate) fn backend(&self, cause: impl Display) -> StoreError {
        StoreError::Backend(format!("{}: {}", self.name, self.scrub(&cause.to_string())))
    }

    /// An error whose whole message is `message`, scrubbed (it names the store itself).
    pub(crate) fn message(&self, message: impl Display) -> StoreError {
        StoreError::Backend(self.scrub(&message.to_string()))
    }
}

/// How many bytes at the start of `text` spell `secret`, each byte as itself, as `%XX` (hex in
/// either case) or escaped with a backslash, ASCII letters in either case (parsers lowercase
/// host names); `None` when they do not.
fn match_encoded(text: &[u8], secret: &[u8]) -> Option<usize> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut i = 0;
    for &want in secret {
        match text.get(i) {
            Some(&got) if got.eq_ignore_ascii_case(&want) => i += 1,
            Some(b'%')
                if text.len() >= i + 3
                    && hex(text[i + 1])
                        .zip(hex(text[i + 2]))
                        .is_some_and(|(hi, lo)| {
                            u8::try_from(hi * 16 + lo).is_ok_and(|b| b.eq_ignore_ascii_case(&want))
                        }) =>
            {
                i += 3;
            }
            Some(b'\\')
                if text
                    .get(i + 1)
                    .is_some_and(|b| b.eq_ignore_ascii_case(&want)) =>
            {
                i += 2;
            }
            _ => return None,
        }
    }
    Some(i)
}

/// `%XX` sequences decoded (others left as they are).
pub(crate) fn percent_decode(text: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%' && i + 2 < text.len() {
            if let (Some(hi), Some(lo)) = (hex(text[i + 1]), hex(text[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// The outage error of the store at `store` (a masked URL), for causes of our own making.
/// Causes that come from a driver go through [`Masked::unavailable`], which scrubs them.
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

    /// Generated passwords with every character that ends a part of a URL.
    const NASTY: [&str; 5] = ["p/ss?w#rd@x:y", "a@b:c/d", "#?/@:", "x?y&z#", "&=&"];

    #[test]
    fn passwords_with_url_delimiters_are_masked_whole() {
        for password in NASTY {
            for url in [
                format!("redis://:{password}@127.0.0.1:6379/0"),
                format!("redis://user:{password}@a:7000,b:7001/0"),
                format!("postgresql://app:{password}@db:5432/app?sslmode=require"),
                format!("mysql://app:{password}@db/app"),
                format!("mysql://db/app?user=a&password={password}"),
                format!("mysql://db/app?user=a&PassWord={password}&ssl-mode=required"),
                format!("redis+unix:///run/redis.sock?db=0&pass={password}"),
                format!("postgresql://app:{password}@db/app?application_name=a@b"),
                format!("{password}@db/app"),
            ] {
                let masked = mask_url(&url);
                assert!(!masked.contains(password), "{url} -> {masked}");
                // No piece of the password either, unless the URL has it elsewhere too.
                let elsewhere = url.to_lowercase().replacen(password, "", 1);
                let secret_pieces = password.split(['/', '?', '#', '@', ':', '&', '=']);
                for piece in secret_pieces.filter(|p| p.len() > 1) {
                    assert!(
                        !masked.contains(piece) || elsewhere.contains(&piece.to_lowercase()),
                        "{url} -> {masked} shows {piece:?}"
                    );
                }
                assert!(masked.contains("***"), "{url} -> {masked}");
            }
        }
        assert_eq!(
            mask_url("redis://:p/ss?w#rd@x:y@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(
            mask_url("postgresql://app:p/ss?w#rd@x:y@db/app?sslmode=off"),
            "postgresql://app:***@db/app?sslmode=off"
        );
        // No `:` before the last `@`, or `/` before the first `:`: the whole userinfo.
        assert_eq!(mask_url("redis://p/ss@h:1/0"), "redis://***@h:1/0");
        assert_eq!(mask_url("redis://u/x:pw@h:1/0"), "redis://***@h:1/0");
        // A bare user name is shown.
        assert_eq!(mask_url("redis://app@h:1/0"), "redis://app@h:1/0");
        // An `@` in the query hides what comes before it: too much, never too little.
        assert_eq!(
            mask_url("mysql://db/app?user=a&password=x@y&ssl=1"),
            "mysql://***&ssl=1"
        );
        assert_eq!(
            mask_url("redis://:pw@h/0?pass=a&x=1"),
            "redis://:***@h/0?pass=***&x=1"
        );
        // An `&` that starts no parameter is part of the value; one that does ends it.
        assert_eq!(
            mask_url("mysql://h/db?password=a&b#c&ssl=1"),
            "mysql://h/db?password=***&ssl=1"
        );
        assert_eq!(
            mask_url("mysql://h/db?pass=x?y&password=z#"),
            "mysql://h/db?pass=***&password=***"
        );
    }

    #[test]
    fn scrub_removes_every_form_of_the_secrets() {
        let url = "postgresql://app:p/ss?w#rd@x:y@db:5432/app";
        let m = Masked::new(url);
        assert_eq!(m.name(), "postgresql://app:***@db:5432/app");
        for text in [
            "p/ss?w#rd@x:y",
            "p%2Fss%3Fw%23rd%40x%3Ay",
            "p%2fss%3fw%23rd%40x%3ay",
            "p/ss%3Fw%23rd@x:y",
            "p%2Fss?w#rd%40x:y",
        ] {
            let said = m.scrub(&format!("bad password {text:?} given"));
            assert_eq!(said, "bad password \"***\" given", "{text}");
        }
        assert_eq!(
            m.scrub(&format!("cannot parse {url}: invalid port")),
            "cannot parse postgresql://app:***@db:5432/app: invalid port"
        );
        // Escaped by Debug.
        let quoted = Masked::new(r#"redis://:a"b\c@h:1/0"#);
        assert_eq!(quoted.scrub(r#"got "a\"b\\c""#), r#"got "***""#);
        // Pieces a parser would split a broken URL into.
        let pieces = Masked::new("mysql://app:1234/dbname?query#frag@db/app");
        assert_eq!(
            pieces.scrub("Unknown database 'dbname' on port 1234 (query, frag)"),
            "Unknown database '***' on port *** (***, ***)"
        );
        // A run of a broken password between delimiters, as sqlx quotes a "query parameter".
        let broken = Masked::new("sqlite://u:p/ss?w#rd@x:y@/tmp/x.db");
        assert_eq!(
            broken.scrub("unknown query parameter `w#rd@x:y@/tmp/x.db`"),
            "unknown query parameter `***@/tmp/x.db`"
        );
        // A URL without secrets changes nothing.
        let plain = Masked::new("redis://127.0.0.1:6379/0");
        assert_eq!(
            plain.scrub("redis://127.0.0.1:6379/0 said no"),
            "redis://127.0.0.1:6379/0 said no"
        );
        // Errors built through it.
        let err = m.unavailable(format_args!("refused by {url}"));
        assert_eq!(
            err.to_string(),
            "session store postgresql://app:***@db:5432/app is unavailable: refused by \
             postgresql://app:***@db:5432/app"
        );
        assert!(!m
            .backend("p%2Fss%3Fw%23rd%40x%3Ay")
            .to_string()
            .contains("ss%3F"));
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
