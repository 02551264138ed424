//! The session cookie's attributes, checked once, and the `Set-Cookie` values made from them.

use core::fmt;

/// The cookie's `SameSite` attribute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, not on their subrequests (the default).
    #[default]
    Lax,
    /// Never sent on requests that other sites start.
    Strict,
    /// Always sent (needs `Secure`).
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            Self::Lax => "Lax",
            Self::Strict => "Strict",
            Self::None => "None",
        }
    }
}

/// Where and how the session cookie is sent. Always `HttpOnly`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieSettings {
    /// The cookie's name (an RFC 6265 token). `__Host-session` is the safest choice in
    /// production: browsers then refuse it from subdomains (cookie tossing).
    pub name: String,
    /// Its `Path`.
    pub path: String,
    /// Its `Domain`; `None` for the host that set it only.
    pub domain: Option<String>,
    /// Whether it is `Secure` (sent over HTTPS only). Turn off only for local development.
    pub secure: bool,
    /// Its `SameSite`.
    pub same_site: SameSite,
    /// Whether it is `Partitioned` (CHIPS: a third-party cookie kept per top-level site; for
    /// an app embedded in other sites). Needs `Secure` and `SameSite=None`.
    pub partitioned: bool,
}

impl CookieSettings {
    /// A cookie called `name` with the defaults: `Path=/`, no `Domain`, `Secure`,
    /// `SameSite=Lax`.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            path: "/".to_owned(),
            domain: None,
            secure: true,
            same_site: SameSite::Lax,
            partitioned: false,
        }
    }

    /// Refuses settings that would break the `Set-Cookie` header, inject attributes into it, or
    /// make browsers drop the cookie without a word (prefix rules, `SameSite=None` without
    /// `Secure`).
    pub fn check(&self) -> Result<(), CookieError> {
        let name = self.name.as_str();
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(CookieError::Name(name.to_owned()));
        }
        for (option, value) in [
            (CookieOption::Path, Some(self.path.as_str())),
            (CookieOption::Domain, self.domain.as_deref()),
        ] {
            let ok = |v: &str| {
                !v.is_empty() && v.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b';')
            };
            if let Some(value) = value.filter(|v| !ok(v)) {
                return Err(CookieError::Attribute(option, value.to_owned()));
            }
        }
        // Browsers match the prefixes without regard to case.
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("__host-")
            && (self.domain.is_some() || self.path != "/" || !self.secure)
        {
            return Err(CookieError::HostPrefix(name.to_owned()));
        }
        if lower.starts_with("__secure-") && !self.secure {
            return Err(CookieError::SecurePrefix(name.to_owned()));
        }
        if self.same_site == SameSite::None && !self.secure {
            return Err(CookieError::SameSiteNone);
        }
        if self.partitioned && (self.same_site != SameSite::None || !self.secure) {
            return Err(CookieError::Partitioned);
        }
        Ok(())
    }
}

/// RFC 6265: a cookie name is a token, no separators, spaces or control characters.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An attribute of [`CookieSettings`] that carries a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieOption {
    /// `path`.
    Path,
    /// `domain`.
    Domain,
}

/// Cookie settings that [`CookieSettings::check`] refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CookieError {
    /// Not an RFC 6265 token.
    #[error("{0:?} is not a valid cookie name (RFC 6265 token)")]
    Name(String),
    /// A path or domain with `;` or characters a cookie cannot carry.
    #[error("cookie {0:?} {1:?} contains ';' or characters a cookie cannot carry")]
    Attribute(CookieOption, String),
    /// A `__Host-` cookie with a `Domain`, a `Path` other than `/`, or without `Secure`.
    #[error(
        "{0:?}: a __Host- cookie must be Secure, with Path=/ and no Domain (browsers drop it \
         otherwise)"
    )]
    HostPrefix(String),
    /// A `__Secure-` cookie without `Secure`.
    #[error("{0:?}: a __Secure- cookie must be Secure (browsers drop it otherwise)")]
    SecurePrefix(String),
    /// `SameSite=None` without `Secure`.
    #[error("SameSite=None needs Secure: browsers drop SameSite=None cookies that are not Secure")]
    SameSiteNone,
    /// `Partitioned` without `Secure` and `SameSite=None`.
    #[error(
        "a Partitioned cookie must be Secure with SameSite=None (partitioning is for cookies \
         sent in another site's frame)"
    )]
    Partitioned,
}

/// The `Set-Cookie` values of one cookie, formatted once but for the value and `Max-Age`.
#[derive(Clone, Debug)]
pub(crate) struct SetCookie {
    prefix: String,
    /// `; Path=...; Domain=...`
    place: String,
    /// `; HttpOnly; Secure; SameSite=...`
    flags: String,
    delete: String,
}

impl SetCookie {
    pub(crate) fn new(settings: &CookieSettings) -> Self {
        let mut place = format!("; Path={}", settings.path);
        if let Some(domain) = &settings.domain {
            place.push_str("; Domain=");
            place.push_str(domain);
        }
        let secure = if settings.secure { "; Secure" } else { "" };
        // A partitioned cookie is only deleted by a header that says Partitioned too.
        let partitioned = if settings.partitioned {
            "; Partitioned"
        } else {
            ""
        };
        let flags = format!(
            "; HttpOnly{secure}; SameSite={}{partitioned}",
            settings.same_site.as_str()
        );
        let delete = format!(
            "{}={place}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT{flags}",
            settings.name
        );
        Self {
            prefix: format!("{}=", settings.name),
            place,
            flags,
            delete,
        }
    }

    /// The header that sets the cookie to `value`, to live `max_age` seconds (`None`: until the
    /// browser closes).
    pub(crate) fn set(&self, value: &str, max_age: Option<u64>) -> String {
        let mut out = String::with_capacity(
            self.prefix.len() + value.len() + self.place.len() + self.flags.len() + 24,
        );
        out.push_str(&self.prefix);
        out.push_str(value);
        out.push_str(&self.place);
        if let Some(max_age) = max_age {
            use fmt::Write as _;
            let _ = write!(out, "; Max-Age={max_age}");
        }
        out.push_str(&self.flags);
        out
    }

    /// The header that deletes the cookie.
    pub(crate) fn delete(&self) -> &str {
        &self.delete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_carry_every_attribute() {
        let mut settings = CookieSettings::new("sid");
        settings.domain = Some("example.com".into());
        let cookie = SetCookie::new(&settings);
        assert_eq!(
            cookie.set("v", Some(60)),
            "sid=v; Path=/; Domain=example.com; Max-Age=60; HttpOnly; Secure; SameSite=Lax"
        );
        assert_eq!(
            cookie.delete(),
            "sid=; Path=/; Domain=example.com; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; \
             HttpOnly; Secure; SameSite=Lax"
        );
        settings.secure = false;
        settings.same_site = SameSite::Strict;
        assert_eq!(
            SetCookie::new(&settings).set("v", None),
            "sid=v; Path=/; Domain=example.com; HttpOnly; SameSite=Strict"
        );
    }

    #[test]
    fn settings_that_break_the_header_or_a_prefix_are_refused() {
        let with = |f: &dyn Fn(&mut CookieSettings)| {
            let mut s = CookieSettings::new("session");
            f(&mut s);
            s.check()
        };
        assert!(with(&|_| {}).is_ok());
        assert!(matches!(
            with(&|s| s.name = "a b".into()),
            Err(CookieError::Name(_))
        ));
        assert!(matches!(
            with(&|s| s.name = String::new()),
            Err(CookieError::Name(_))
        ));
        assert!(matches!(
            with(&|s| s.path = "/; Domain=x".into()),
            Err(CookieError::Attribute(CookieOption::Path, _))
        ));
        assert!(matches!(
            with(&|s| s.domain = Some("a\r\nb".into())),
            Err(CookieError::Attribute(CookieOption::Domain, _))
        ));
        assert!(matches!(
            with(&|s| {
                s.name = "__host-s".into();
                s.path = "/app".into();
            }),
            Err(CookieError::HostPrefix(_))
        ));
        assert!(matches!(
            with(&|s| {
                s.name = "__Secure-s".into();
                s.secure = false;
            }),
            Err(CookieError::SecurePrefix(_))
        ));
        assert!(matches!(
            with(&|s| {
                s.same_site = SameSite::None;
                s.secure = false;
            }),
            Err(CookieError::SameSiteNone)
        ));
        assert!(matches!(
            with(&|s| s.partitioned = true),
            Err(CookieError::Partitioned)
        ));
        assert!(with(&|s| {
            s.partitioned = true;
            s.same_site = SameSite::None;
        })
        .is_ok());
    }

    #[test]
    fn a_partitioned_cookie_is_set_and_deleted_as_partitioned() {
        let mut settings = CookieSettings::new("sid");
        settings.same_site = SameSite::None;
        settings.partitioned = true;
        let cookie = SetCookie::new(&settings);
        assert_eq!(
            cookie.set("v", None),
            "sid=v; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"
        );
        assert!(cookie.delete().ends_with("; SameSite=None; Partitioned"));
    }
}
