//! Finding one cookie's values in a `Cookie` request header.
//!
//! Browsers send `Cookie: a=1; session=…; b=2`, and may send a name more than once (cookies
//! set for different paths, most specific first), so this yields every value, in order.

/// The values of the cookie called `name` in a `Cookie` header, in the order they appear.
///
/// Whitespace around pairs and values and one pair of double quotes around a value are
/// removed; nothing is unescaped (session cookies are base64url).
///
/// ```
/// let header = b"theme=dark; session=abc; session=\"def\"";
/// let found: Vec<&[u8]> = scsession_core::cookie::values(header, "session").collect();
/// assert_eq!(found, [&b"abc"[..], &b"def"[..]]);
/// ```
pub fn values<'a>(header: &'a [u8], name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    header.split(|&b| b == b';').filter_map(move |pair| {
        let value = pair
            .trim_ascii()
            .strip_prefix(name.as_bytes())?
            .strip_prefix(b"=")?;
        let value = value.trim_ascii();
        Some(
            value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::values;

    fn found<'a>(header: &'a [u8], name: &'a str) -> Vec<&'a [u8]> {
        values(header, name).collect()
    }

    #[test]
    fn finds_the_named_cookie_among_others() {
        assert_eq!(found(b"a=1; session=xyz; b=2", "session"), [b"xyz"]);
        assert_eq!(found(b"session=xyz", "session"), [b"xyz"]);
        assert_eq!(found(b"  session = xyz ;", "session"), Vec::<&[u8]>::new());
        assert_eq!(found(b"  session=xyz ;", "session"), [b"xyz"]);
    }

    #[test]
    fn a_longer_name_with_the_same_prefix_is_not_a_match() {
        assert!(found(b"sessionid=1; my_session=2", "session").is_empty());
    }

    #[test]
    fn every_value_is_returned_in_order_and_quotes_are_removed() {
        assert_eq!(
            found(b"session=a; x=1; session=\"b\"", "session"),
            [&b"a"[..], b"b"]
        );
        assert_eq!(found(b"session=", "session"), [b""]);
        assert_eq!(found(b"session=\"", "session"), [b"\""]);
    }

    #[test]
    fn no_header_or_no_match_yields_nothing() {
        assert!(found(b"", "session").is_empty());
        assert!(found(b";;;", "session").is_empty());
    }
}
