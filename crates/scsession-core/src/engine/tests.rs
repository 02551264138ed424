use std::future::Future;
use std::task::{Context, Poll, Waker};

use super::*;
use crate::format::Value;
use crate::store::{users, MemoryStore, UserKeys};

const NOW: u64 = 1_700_000_000;

fn engine() -> Engine {
    engine_with(Lifetime::new(Some(3600), Some(600)))
}

fn engine_with(lifetime: Lifetime) -> Engine {
    let keys = KeyRing::new(&[[9u8; 32]]).unwrap();
    Engine::new(keys, CookieSettings::new("session"), lifetime).unwrap()
}

fn dict(pairs: &[(&str, Value)]) -> Vec<u8> {
    let pairs = pairs
        .iter()
        .map(|(k, v)| (Value::Str((*k).into()), v.clone()))
        .collect();
    format::encode(&Value::Dict(pairs)).unwrap()
}

fn block_on<F: Future>(f: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match std::pin::pin!(f).as_mut().poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("memory store futures are ready at once"),
    }
}

/// The `Cookie` header a browser sends back after `set_cookie`.
fn cookie_of(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The `Cookie` header of a new cookie session holding `data`, written at `now`.
fn new_cookie(engine: &Engine, data: &[u8], now: u64) -> String {
    let mut opened = engine.open_cookie([&b""[..]], now);
    let finished = engine.finish_cookie(&mut opened.state, data, now).unwrap();
    cookie_of(&finished.set_cookie.unwrap())
}

fn kinds(outcome: &Outcome) -> Vec<&'static str> {
    outcome.events().iter().map(|e| e.kind.as_str()).collect()
}

#[test]
fn a_cookie_session_is_created_read_without_a_write_and_changed() {
    let engine = engine();
    let mut opened = engine.open_cookie([&b"other=1"[..]], NOW);
    assert_eq!(opened.state.id(), None);
    let cart = dict(&[("cart", Value::Int(1))]);
    let created = engine.finish_cookie(&mut opened.state, &cart, NOW).unwrap();
    assert_eq!(kinds(&created.outcome), ["created"]);
    assert_eq!(created.outcome.events()[0].changed, ["cart"]);
    let header = cookie_of(created.set_cookie.as_deref().unwrap());
    assert!(created
        .set_cookie
        .unwrap()
        .contains("; Max-Age=600; HttpOnly; Secure; SameSite=Lax"));

    let mut read = engine.open_cookie([header.as_bytes()], NOW + 1);
    assert_eq!(read.data, cart);
    let unchanged = engine
        .finish_cookie(&mut read.state, &cart, NOW + 1)
        .unwrap();
    assert_eq!(unchanged, Finished::unchanged());

    let more = dict(&[("cart", Value::Int(2)), ("x", Value::None)]);
    let modified = engine
        .finish_cookie(&mut read.state, &more, NOW + 2)
        .unwrap();
    assert_eq!(kinds(&modified.outcome), ["modified"]);
    assert_eq!(modified.outcome.events()[0].changed, ["cart", "x"]);
}

#[test]
fn an_expired_or_foreign_cookie_is_a_new_session_and_says_which_expired() {
    let engine = engine();
    let mut opened = engine.open_cookie([&b""[..]], NOW);
    let done = engine
        .finish_cookie(&mut opened.state, &dict(&[("a", Value::Int(1))]), NOW)
        .unwrap();
    let header = cookie_of(&done.set_cookie.unwrap());
    let late = engine.open_cookie([header.as_bytes()], NOW + 601);
    assert_eq!(late.state.id(), None);
    assert_eq!(late.expired, opened.state.id());
    assert_eq!(late.data, engine.empty_data());
    let forged = engine.open_cookie([&b"session=AAAA"[..]], NOW);
    assert_eq!((forged.state.id(), forged.expired), (None, None));
}

#[test]
fn idle_sessions_are_refreshed_without_an_event() {
    let engine = engine();
    let data = dict(&[("a", Value::Int(1))]);
    let header = new_cookie(&engine, &data, NOW);
    let mut later = engine.open_cookie([header.as_bytes()], NOW + 61);
    let done = engine
        .finish_cookie(&mut later.state, &data, NOW + 61)
        .unwrap();
    assert!(matches!(done.outcome, Outcome::Refreshed { .. }));
    assert!(done.set_cookie.is_some());
    assert!(done.outcome.events().is_empty());
}

#[test]
fn regenerate_invalidate_and_emptying_have_their_outcomes() {
    let engine = engine();
    let data = dict(&[("a", Value::Int(1))]);
    let mut first = engine.open_cookie([&b""[..]], NOW);
    let header = cookie_of(
        &engine
            .finish_cookie(&mut first.state, &data, NOW)
            .unwrap()
            .set_cookie
            .unwrap(),
    );
    let old = first.state.id().unwrap();

    let mut opened = engine.open_cookie([header.as_bytes()], NOW);
    opened.state.regenerate();
    let done = engine.finish_cookie(&mut opened.state, &data, NOW).unwrap();
    assert_eq!(kinds(&done.outcome), ["regenerated"]);
    assert_eq!(done.outcome.events()[0].previous, Some(old));
    assert_ne!(opened.state.id(), Some(old));

    let mut opened = engine.open_cookie([header.as_bytes()], NOW);
    opened.state.invalidate();
    let done = engine
        .finish_cookie(&mut opened.state, engine.empty_data(), NOW)
        .unwrap();
    assert_eq!(done.outcome, Outcome::Invalidated { id: old });
    assert_eq!(done.set_cookie.as_deref(), Some(engine.delete_cookie()));

    // Signed out, then the same data again: a new session under a new id.
    let mut opened = engine.open_cookie([header.as_bytes()], NOW);
    opened.state.invalidate();
    let done = engine.finish_cookie(&mut opened.state, &data, NOW).unwrap();
    assert_eq!(kinds(&done.outcome), ["invalidated", "created"]);
    assert_ne!(opened.state.id(), Some(old));

    // A new session that stays empty sends nothing.
    let mut fresh = engine.open_cookie([&b""[..]], NOW);
    let done = engine
        .finish_cookie(&mut fresh.state, engine.empty_data(), NOW)
        .unwrap();
    assert_eq!(done, Finished::unchanged());
}

#[test]
fn a_cookie_over_4096_bytes_is_refused() {
    let engine = engine();
    let mut opened = engine.open_cookie([&b""[..]], NOW);
    let big = dict(&[("blob", Value::Bytes(vec![7; 4000]))]);
    let err = engine
        .finish_cookie(&mut opened.state, &big, NOW)
        .unwrap_err();
    assert!(err.size > 4096);
}

#[test]
fn store_sessions_are_saved_loaded_swapped_and_never_brought_back() {
    let engine = engine();
    let store = MemoryStore::new();
    let data = dict(&[("a", Value::Int(1))]);
    let mut opened = block_on(engine.load(&store, [&b""[..]], NOW)).unwrap();
    let done = block_on(engine.finish_store(&store, &mut opened.state, &data, NOW)).unwrap();
    let header = cookie_of(&done.set_cookie.unwrap());
    let id = opened.state.id().unwrap();
    assert!(store.load_now(&id).is_some());

    // Two requests load it; one signs out, the other then saves a change: it stays out.
    let mut signing_out = block_on(engine.load(&store, [header.as_bytes()], NOW)).unwrap();
    let mut slow = block_on(engine.load(&store, [header.as_bytes()], NOW)).unwrap();
    assert_eq!(slow.data, data);
    signing_out.state.invalidate();
    let out =
        block_on(engine.finish_store(&store, &mut signing_out.state, engine.empty_data(), NOW))
            .unwrap();
    assert_eq!(out.outcome, Outcome::Invalidated { id });
    assert!(store.load_now(&id).is_none());
    let late =
        block_on(engine.finish_store(&store, &mut slow.state, &dict(&[("b", Value::Int(2))]), NOW))
            .unwrap();
    assert_eq!(
        (late.outcome, late.set_cookie),
        (Outcome::EndedElsewhere { id }, None)
    );
    assert!(store.load_now(&id).is_none());
}

#[test]
fn concurrent_store_writes_keep_both_changes() {
    let engine = engine();
    let store = MemoryStore::new();
    let mut opened = block_on(engine.load(&store, [&b""[..]], NOW)).unwrap();
    let done = block_on(engine.finish_store(
        &store,
        &mut opened.state,
        &dict(&[("a", Value::Int(1))]),
        NOW,
    ))
    .unwrap();
    let header = cookie_of(&done.set_cookie.unwrap());
    let mut one = block_on(engine.load(&store, [header.as_bytes()], NOW)).unwrap();
    let mut two = block_on(engine.load(&store, [header.as_bytes()], NOW)).unwrap();
    let with_b = dict(&[("a", Value::Int(1)), ("b", Value::Int(2))]);
    let with_c = dict(&[("a", Value::Int(1)), ("c", Value::Int(3))]);
    block_on(engine.finish_store(&store, &mut one.state, &with_b, NOW)).unwrap();
    let second = block_on(engine.finish_store(&store, &mut two.state, &with_c, NOW)).unwrap();
    assert_eq!(kinds(&second.outcome), ["modified"]);
    let reread = block_on(engine.load(&store, [header.as_bytes()], NOW)).unwrap();
    assert_eq!(
        format::decode(&reread.data).unwrap(),
        format::decode(&dict(&[
            ("a", Value::Int(1)),
            ("b", Value::Int(2)),
            ("c", Value::Int(3))
        ]))
        .unwrap()
    );
}

fn bound(user: &str) -> Value {
    Value::Dict(vec![
        (Value::Str("id".into()), Value::Str(user.into())),
        (
            Value::Str("user_agent".into()),
            Value::Str("test agent".into()),
        ),
    ])
}

#[test]
fn bound_sessions_keep_the_per_user_index_through_regenerate_and_sign_out() {
    let engine = engine();
    let store = MemoryStore::new();
    let keys = UserKeys::new(engine.sealer().keys(), "alice").unwrap();
    let listed = |store: &MemoryStore| {
        block_on(users::sessions_for_user(store, &keys))
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect::<Vec<_>>()
    };
    let data = dict(&[(BOUND_USER_KEY, bound("alice"))]);
    assert_eq!(
        bound_user(&data),
        Some(("alice".into(), Some("test agent".into())))
    );
    let mut opened = block_on(engine.load(&store, [&b""[..]], NOW)).unwrap();
    let done = block_on(engine.finish_indexed(&store, &mut opened.state, &data, NOW)).unwrap();
    let first = opened.state.id().unwrap();
    assert_eq!(listed(&store), [first]);

    let header = cookie_of(&done.set_cookie.unwrap());
    let mut again = block_on(engine.load(&store, [header.as_bytes()], NOW)).unwrap();
    again.state.regenerate();
    let done = block_on(engine.finish_indexed(&store, &mut again.state, &data, NOW)).unwrap();
    let second = again.state.id().unwrap();
    assert_eq!(listed(&store), [second]);

    let header = cookie_of(&done.set_cookie.unwrap());
    let mut out = block_on(engine.load(&store, [header.as_bytes()], NOW)).unwrap();
    out.state.invalidate();
    block_on(engine.finish_indexed(&store, &mut out.state, engine.empty_data(), NOW)).unwrap();
    assert!(listed(&store).is_empty());
    assert!(store.load_now(&second).is_none());
}

#[test]
fn a_python_store_runs_the_same_machine_step_by_step() {
    let engine = engine();
    let store = MemoryStore::new();
    let mut state = engine.new_session(None).state;
    let mut finishing = engine
        .finishing(&mut state, &dict(&[("a", Value::Int(1))]), NOW, false)
        .unwrap()
        .unwrap();
    assert_eq!(finishing.lock_id(), None);
    let mut reply = None;
    let mut ops = 0;
    let finished = loop {
        match finishing.next(&engine, reply.take()).unwrap() {
            Next::Do(op) => {
                ops += 1;
                reply = Some(block_on(crate::store::perform(&store, op)).unwrap());
            }
            Next::Done(finished) => break finished,
        }
    };
    assert_eq!(ops, 1);
    assert!(matches!(finished.outcome, Outcome::Created { .. }));
    assert!(store.load_now(&state.id().unwrap()).is_some());
}

#[test]
fn a_bound_session_ended_elsewhere_leaves_no_index_entry_behind() {
    let engine = engine();
    let store = MemoryStore::new();
    let keys = UserKeys::new(engine.sealer().keys(), "bob").unwrap();
    let data = dict(&[(BOUND_USER_KEY, bound("bob"))]);
    let mut opened = block_on(engine.load(&store, [&b""[..]], NOW)).unwrap();
    let done = block_on(engine.finish_indexed(&store, &mut opened.state, &data, NOW)).unwrap();
    let header = cookie_of(&done.set_cookie.unwrap());
    let mut slow = block_on(engine.load(&store, [header.as_bytes()], NOW)).unwrap();
    // Log out everywhere while the slow request runs; then it saves a change.
    assert_eq!(
        block_on(users::invalidate_user(&store, &keys, None, NOW)).unwrap(),
        1
    );
    let changed = dict(&[(BOUND_USER_KEY, bound("bob")), ("x", Value::Int(1))]);
    let late = block_on(engine.finish_indexed(&store, &mut slow.state, &changed, NOW)).unwrap();
    assert!(matches!(late.outcome, Outcome::EndedElsewhere { .. }));
    assert!(store.index_list_now(keys.primary()).is_empty());
    assert!(block_on(users::sessions_for_user(&store, &keys))
        .unwrap()
        .is_empty());
}

fn engine_without_idle() -> Engine {
    engine_with(Lifetime::new(Some(3600), None))
}

#[test]
fn a_sessions_own_expiry_narrows_max_age_and_is_enforced_on_the_server() {
    let engine = engine_without_idle();
    let data = dict(&[("user", Value::Int(1)), (EXPIRY_KEY, Value::Int(60))]);
    let mut opened = engine.open_cookie([&b""[..]], NOW);
    let created = engine.finish_cookie(&mut opened.state, &data, NOW).unwrap();
    let set_cookie = created.set_cookie.unwrap();
    assert!(set_cookie.contains("; Max-Age=60;"), "{set_cookie}");
    let header = cookie_of(&set_cookie);
    let live = engine.open_cookie([header.as_bytes()], NOW + 59);
    assert_eq!(live.data, data);
    assert_eq!(engine.expires_at(&live.state, &live.data), Some(NOW + 60));
    // The browser might keep the cookie longer: the server does not.
    let dead = engine.open_cookie([header.as_bytes()], NOW + 60);
    assert_eq!(dead.state.id(), None);
    assert!(dead.expired.is_some());

    // Never longer than the engine's max_age; zero, negative or other values are ignored.
    for (value, limit) in [
        (Value::Int(1_000_000), Some(3600)),
        (Value::Int(0), Some(3600)),
        (Value::Int(-5), Some(3600)),
        (Value::Str("60".into()), Some(3600)),
    ] {
        let lifetime = engine.session_lifetime(&dict(&[(EXPIRY_KEY, value)]));
        assert_eq!(
            (lifetime.limits.max_age, lifetime.browser_session),
            (limit, false)
        );
    }
}

#[test]
fn a_browser_session_cookie_has_no_max_age_but_still_ends_on_the_server() {
    let engine = engine_without_idle();
    let data = dict(&[("user", Value::Int(1)), (EXPIRY_KEY, Value::None)]);
    let mut opened = engine.open_cookie([&b""[..]], NOW);
    let set_cookie = engine
        .finish_cookie(&mut opened.state, &data, NOW)
        .unwrap()
        .set_cookie
        .unwrap();
    assert!(!set_cookie.contains("Max-Age"), "{set_cookie}");
    let header = cookie_of(&set_cookie);
    let live = engine.open_cookie([header.as_bytes()], NOW + 3599);
    assert_eq!(engine.expires_at(&live.state, &live.data), Some(NOW + 3600));
    assert_eq!(
        engine
            .open_cookie([header.as_bytes()], NOW + 3600)
            .state
            .id(),
        None
    );
}

#[test]
fn a_sessions_own_expiry_is_kept_through_regenerate_and_counts_from_it() {
    let engine = engine_without_idle();
    let data = dict(&[(EXPIRY_KEY, Value::Int(100))]);
    let header = new_cookie(&engine, &data, NOW);
    let mut opened = engine.open_cookie([header.as_bytes()], NOW + 50);
    assert_eq!(opened.state.created(), Some(NOW));
    opened.state.regenerate();
    assert_eq!(opened.state.created(), None);
    let set_cookie = engine
        .finish_cookie(&mut opened.state, &data, NOW + 50)
        .unwrap()
        .set_cookie
        .unwrap();
    assert!(set_cookie.contains("; Max-Age=100;"), "{set_cookie}");
    let header = cookie_of(&set_cookie);
    let live = engine.open_cookie([header.as_bytes()], NOW + 149);
    assert_eq!(live.state.created(), Some(NOW + 50));
    assert_eq!(engine.expires_at(&live.state, &live.data), Some(NOW + 150));
    // A new session has no timestamps and no deadline yet.
    let new = engine.open_cookie([&b""[..]], NOW);
    assert_eq!(engine.expires_at(&new.state, &data), None);
}

#[test]
fn a_stored_session_lives_as_long_as_its_own_expiry() {
    let engine = engine_without_idle();
    let store = MemoryStore::new();
    let data = dict(&[(EXPIRY_KEY, Value::Int(30))]);
    let mut opened = block_on(engine.load(&store, [&b""[..]], NOW)).unwrap();
    let finished = block_on(engine.finish_store(&store, &mut opened.state, &data, NOW)).unwrap();
    let header = cookie_of(&finished.set_cookie.unwrap());
    let live = block_on(engine.load(&store, [header.as_bytes()], NOW + 29)).unwrap();
    assert_eq!(live.data, data);
    let dead = block_on(engine.load(&store, [header.as_bytes()], NOW + 30)).unwrap();
    assert_eq!(dead.state.id(), None);
}
