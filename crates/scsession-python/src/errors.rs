//! Every core error becomes a Python exception here, and only here.
//!
//! Exception classes are written in Python (`scsession/exceptions.py`) so users can document,
//! subclass and catch them; Rust raises them by import.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use scsession_core::engine::{CookieError, CookieOption, TooLarge};
use scsession_core::inspect::CookieProblem;
use scsession_core::keys::{KeyError, MIN_SECRET_LEN};
use scsession_core::store::StoreError as CoreStoreError;

pyo3::import_exception!(scsession.exceptions, SessionTooLargeError);
pyo3::import_exception!(scsession.exceptions, StoreError);
pyo3::import_exception!(scsession.exceptions, StoreUnavailableError);

/// A bad secret: says what is wrong and how to make a good one, never what the key was.
pub fn key_error(err: KeyError) -> PyErr {
    let problem = match err {
        KeyError::Empty => "no secret_key was given".to_owned(),
        KeyError::TooShort { index, len } => format!(
            "secret key #{index} is {len} bytes long; scsession needs at least {MIN_SECRET_LEN}"
        ),
    };
    PyValueError::new_err(format!(
        "{problem}. Make a random one with `python -m scsession keygen` and pass it from the \
         environment, e.g. secret_key=os.environ[\"SESSION_SECRET\"]"
    ))
}

/// Browsers silently drop a cookie over 4096 bytes: the engine refuses to write one; this
/// says what to do.
#[allow(clippy::needless_pass_by_value)] // used as `.map_err(too_large)`
pub fn too_large(err: TooLarge) -> PyErr {
    SessionTooLargeError::new_err(format!(
        "{err}. Store less in the session (an id rather than the object), or keep the data on \
         the server with a store, e.g. SCsessionMiddleware(..., store=MemoryStore())"
    ))
}

/// Cookie options the engine refuses, named as `SCsessionMiddleware` takes them.
#[allow(clippy::needless_pass_by_value)] // used as `.map_err(cookie_error)`
pub fn cookie_error(err: CookieError) -> PyErr {
    PyValueError::new_err(match err {
        CookieError::Name(name) => {
            format!("cookie_name {name:?} is not a valid cookie name (RFC 6265 token)")
        }
        CookieError::Attribute(option, value) => {
            let option = match option {
                CookieOption::Path => "cookie_path",
                CookieOption::Domain => "cookie_domain",
            };
            format!("{option} {value:?} contains ';' or characters a cookie cannot carry")
        }
        CookieError::HostPrefix(name) => format!(
            "cookie_name {name:?}: a __Host- cookie must be Secure, with cookie_path='/' and no \
             cookie_domain (browsers drop it otherwise); keep cookie_https_only=True, \
             cookie_path='/' and cookie_domain=None, or use another name"
        ),
        CookieError::SecurePrefix(name) => format!(
            "cookie_name {name:?}: a __Secure- cookie must be Secure (browsers drop it \
             otherwise); keep cookie_https_only=True or use another name"
        ),
        CookieError::SameSiteNone => "cookie_same_site='none' needs cookie_https_only=True: \
             browsers drop SameSite=None cookies that are not Secure"
            .to_owned(),
        CookieError::Partitioned => "cookie_partitioned=True needs cookie_same_site='none' and \
             cookie_https_only=True: a partitioned cookie is one sent in another site's frame"
            .to_owned(),
    })
}

pub fn bad_same_site(value: &str) -> PyErr {
    PyValueError::new_err(format!(
        "cookie_same_site must be 'lax', 'strict' or 'none', not {value:?}"
    ))
}

/// Why a cookie or record does not open (command-line diagnostics only: the request path never
/// says why).
#[allow(clippy::needless_pass_by_value)] // used as `.map_err(cookie_problem)`
pub fn cookie_problem(err: CookieProblem) -> PyErr {
    PyValueError::new_err(err.to_string())
}

pub fn bad_session_data() -> PyErr {
    PyValueError::new_err("not scsession session data (a dict in scsession's binary format)")
}

pub fn bad_session_id() -> PyErr {
    PyValueError::new_err("not a scsession session id (22 base64url characters)")
}

/// A store failure at run time. An outage says what to check; the store reconnects by itself,
/// so nothing needs restarting once the server is back.
#[allow(clippy::needless_pass_by_value)] // used as `.map_err(store_error)`
pub fn store_error(err: CoreStoreError) -> PyErr {
    match &err {
        CoreStoreError::Unavailable { cause, .. } if cause.contains("certificate") => {
            StoreUnavailableError::new_err(format!(
                "{err}. The server's TLS certificate is not trusted: give the CA that signed it \
                 (RedisStore(..., tls_ca_file=PATH), or sslrootcert=PATH in a database URL)."
            ))
        }
        CoreStoreError::Unavailable { .. } => StoreUnavailableError::new_err(format!(
            "{err}. Check that the server is running and reachable from here; scsession \
             reconnects by itself once it answers again."
        )),
        CoreStoreError::Backend(_) => StoreError::new_err(err.to_string()),
    }
}

/// A store that cannot be built from its options (bad URL, table name, prefix).
pub fn config_error(err: CoreStoreError) -> PyErr {
    match err {
        CoreStoreError::Backend(message) => PyValueError::new_err(message),
        unavailable @ CoreStoreError::Unavailable { .. } => store_error(unavailable),
    }
}
