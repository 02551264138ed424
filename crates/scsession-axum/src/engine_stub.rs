//! TEMPORARY: a stand-in with the planned shape of `scsession_core::engine`, so that the rest of
//! the crate builds and its tests run before the real engine lands on main. It decides as little
//! as it can; it goes away when the real module is merged.
#![allow(dead_code, missing_docs, clippy::pedantic)]

use scsession_core::store::{commit, Commit, Committed, SessionStore, StoreError};
use scsession_core::{KeyRing, Lifetime, Record, Sealer, SessionId};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
    None,
}

#[derive(Clone, Debug)]
pub struct CookieSettings {
    pub name: String,
    pub path: String,
    pub domain: Option<String>,
    pub secure: bool,
    pub same_site: SameSite,
}

impl CookieSettings {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            path: "/".into(),
            domain: None,
            secure: true,
            same_site: SameSite::Lax,
        }
    }
}

#[derive(Debug)]
pub struct Engine {
    sealer: Sealer,
    lifetime: Lifetime,
    cookie: CookieSettings,
}

#[derive(Clone, Debug, Default)]
pub struct SessionState {
    id: Option<SessionId>,
    loaded: Option<SessionId>,
    created: u64,
    original: Vec<u8>,
    stored: Option<Vec<u8>>,
    force: bool,
}

impl SessionState {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn id(&self) -> Option<SessionId> {
        self.id
    }
    pub fn regenerate(&mut self) {
        self.id = Some(SessionId::random());
        self.force = true;
    }
    pub fn invalidate(&mut self) {
        self.id = None;
        self.force = true;
    }
}

pub struct Opened {
    pub state: SessionState,
    pub data: Vec<u8>,
    pub expired: Option<SessionId>,
}

#[derive(Debug)]
pub enum Outcome {
    Unchanged,
    Written,
    Invalidated,
    EndedElsewhere,
}

pub struct Finished {
    pub outcome: Outcome,
    pub set_cookie: Option<String>,
}

const EMPTY: &[u8] = &[0x0c, 0];

impl Engine {
    pub fn new(
        keys: KeyRing,
        cookie: CookieSettings,
        lifetime: Lifetime,
    ) -> Result<Self, scsession_core::Error> {
        Ok(Self {
            sealer: Sealer::new(keys, &cookie.name),
            lifetime,
            cookie,
        })
    }
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }
    pub fn lifetime(&self) -> &Lifetime {
        &self.lifetime
    }
    pub fn cookie(&self) -> &CookieSettings {
        &self.cookie
    }

    fn empty() -> Opened {
        Opened {
            state: SessionState::new(),
            data: EMPTY.to_vec(),
            expired: None,
        }
    }

    pub fn open_cookie<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a [u8]>,
        now: u64,
    ) -> Opened {
        for header in cookie_headers {
            for value in scsession_core::cookie::values(header, &self.cookie.name) {
                if let Ok(r) = self.sealer.open_cookie(value) {
                    if !self.lifetime.is_expired(r.created, r.last_seen, now) {
                        return Opened {
                            state: SessionState {
                                id: Some(r.id),
                                loaded: Some(r.id),
                                created: r.created,
                                original: r.data.clone(),
                                stored: None,
                                force: false,
                            },
                            data: r.data,
                            expired: None,
                        };
                    }
                }
            }
        }
        Self::empty()
    }

    pub async fn load<'a, S: SessionStore + ?Sized>(
        &self,
        store: &S,
        cookie_headers: impl IntoIterator<Item = &'a [u8]>,
        now: u64,
    ) -> Result<Opened, StoreError> {
        for id in self.sealer.session_ids(cookie_headers) {
            let Some(blob) = store.load(&id).await? else {
                continue;
            };
            if let Ok(r) = self.sealer.open_record(&id, &blob) {
                if !self.lifetime.is_expired(r.created, r.last_seen, now) {
                    return Ok(Opened {
                        state: SessionState {
                            id: Some(id),
                            loaded: Some(id),
                            created: r.created,
                            original: r.data.clone(),
                            stored: Some(blob),
                            force: false,
                        },
                        data: r.data,
                        expired: None,
                    });
                }
            }
        }
        Ok(Self::empty())
    }

    fn attributes(&self) -> String {
        let c = &self.cookie;
        let mut out = format!("; Path={}", c.path);
        if let Some(d) = &c.domain {
            out += &format!("; Domain={d}");
        }
        out
    }

    fn flags(&self) -> String {
        let c = &self.cookie;
        let mut out = "; HttpOnly".to_owned();
        if c.secure {
            out += "; Secure";
        }
        out += match c.same_site {
            SameSite::Lax => "; SameSite=Lax",
            SameSite::Strict => "; SameSite=Strict",
            SameSite::None => "; SameSite=None",
        };
        out
    }

    fn delete_cookie(&self) -> String {
        format!(
            "{}={}; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT{}",
            self.cookie.name,
            self.attributes(),
            self.flags()
        )
    }

    fn set_cookie(&self, value: &str, created: u64, now: u64) -> String {
        let max_age = self
            .lifetime
            .remaining(created, now, now)
            .map(|r| format!("; Max-Age={r}"))
            .unwrap_or_default();
        format!(
            "{}={value}{}{max_age}{}",
            self.cookie.name,
            self.attributes(),
            self.flags()
        )
    }

    pub fn finish_cookie(
        &self,
        state: &mut SessionState,
        data: &[u8],
        now: u64,
    ) -> Result<Finished, scsession_core::Error> {
        if data == EMPTY {
            let had = state.loaded.take().is_some();
            return Ok(Finished {
                outcome: Outcome::Invalidated,
                set_cookie: had.then(|| self.delete_cookie()),
            });
        }
        if data == state.original && !state.force {
            return Ok(Finished {
                outcome: Outcome::Unchanged,
                set_cookie: None,
            });
        }
        let id = *state.id.get_or_insert_with(SessionId::random);
        if state.created == 0 || state.loaded != Some(id) {
            state.created = now;
        }
        let record = Record {
            id,
            created: state.created,
            last_seen: now,
            data: data.to_vec(),
        };
        let value = self.sealer.seal_cookie(&record);
        state.original = data.to_vec();
        state.loaded = Some(id);
        state.force = false;
        Ok(Finished {
            outcome: Outcome::Written,
            set_cookie: Some(self.set_cookie(&value, state.created, now)),
        })
    }

    pub async fn finish_store<S: SessionStore + ?Sized>(
        &self,
        store: &S,
        state: &mut SessionState,
        data: &[u8],
        now: u64,
    ) -> Result<Finished, StoreError> {
        if data == EMPTY {
            if let Some(id) = state.loaded.take() {
                store.delete(&id).await?;
                return Ok(Finished {
                    outcome: Outcome::Invalidated,
                    set_cookie: Some(self.delete_cookie()),
                });
            }
            return Ok(Finished {
                outcome: Outcome::Unchanged,
                set_cookie: None,
            });
        }
        if data == state.original && !state.force {
            return Ok(Finished {
                outcome: Outcome::Unchanged,
                set_cookie: None,
            });
        }
        let id = *state.id.get_or_insert_with(SessionId::random);
        let loaded = state.loaded;
        if state.created == 0 || loaded != Some(id) {
            state.created = now;
        }
        let base = match (&state.stored, loaded) {
            (Some(blob), Some(l)) if l == id => Some((&blob[..], &state.original[..])),
            _ => None,
        };
        let write = Commit {
            id,
            created: state.created,
            now,
            data,
            base,
            previous: None,
        };
        let done = commit(store, &self.sealer, &self.lifetime, write).await?;
        if done == Committed::Gone {
            return Ok(Finished {
                outcome: Outcome::EndedElsewhere,
                set_cookie: None,
            });
        }
        if let Some(old) = loaded.filter(|l| *l != id) {
            store.delete(&old).await?;
        }
        let value = self.sealer.sign_id(&id);
        Ok(Finished {
            outcome: Outcome::Written,
            set_cookie: Some(self.set_cookie(&value, state.created, now)),
        })
    }
}
