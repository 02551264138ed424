//! A store-mode save as a state machine ([`Finishing`]), and its driver for Rust stores.

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use super::outcome::{Finished, Outcome};
use super::state::bound_user;
use super::Engine;
use crate::expiry::Lifetime;
use crate::id::SessionId;
use crate::store::users::{UserKeys, UserSession};
use crate::store::{
    perform, Commit, Committed, Op, Reply, Saving, SessionStore, Step, StoreError, UserIndex,
};

use super::state::SessionState;

/// What a [`Finishing`] wants next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Perform this store operation and pass its [`Reply`] to [`Finishing::next`].
    Do(Op),
    /// The save is over.
    Done(Finished),
}

/// One request's store-mode save, as a state machine without I/O: the session's own write
/// (a [`Saving`]: compare-and-swap, merge, a regeneration that never undoes a sign-out), then
/// the deletions of ids the request ended and the per-user index's updates.
#[derive(Debug)]
pub struct Finishing {
    saving: Option<Saving>,
    /// The session's entry in its user's index: written once the save went through, or by
    /// [`run_indexed`](Self::run_indexed) at the same time as the save (one round trip).
    entry: Option<Op>,
    after: VecDeque<Op>,
    /// How it ends once the write went through.
    done: Option<Finished>,
    /// The loaded id: the session that the write may find ended elsewhere.
    loaded: Option<SessionId>,
    /// How long the session lives (its store record's time to live).
    lifetime: Lifetime,
}

impl Finishing {
    pub(crate) fn new(
        engine: &Engine,
        state: &mut SessionState,
        data: &[u8],
        now: u64,
        indexed: bool,
    ) -> Result<Option<Self>, StoreError> {
        let Some(write) = state.plan(engine, data, now, indexed) else {
            return Ok(None);
        };
        let keys = |user: &str| UserKeys::new(engine.sealer().keys(), user);
        let mut after: VecDeque<Op> = write.dead.iter().map(|&id| Op::Delete { id }).collect();
        let user = if indexed && !write.emptied {
            bound_user(&write.data)
        } else {
            None
        };
        let loaded_id = write.loaded_id;
        if let (true, Some(old_user), Some(old_id)) = (indexed, &write.loaded_user, loaded_id) {
            let same = !write.emptied
                && old_id == write.id
                && user.as_ref().is_some_and(|(u, _)| u == old_user);
            if !same {
                for user in keys(old_user)?.all() {
                    after.push_back(Op::IndexRemove {
                        user: *user,
                        ids: vec![old_id],
                    });
                }
            }
        }
        let entry = match user {
            Some((user, agent)) => {
                let ttl = write.lifetime.limits.store_ttl(write.created, now);
                let entry = UserSession::written(write.id, write.created, now, ttl, agent);
                Some(Op::IndexPut {
                    user: *keys(&user)?.primary(),
                    id: write.id,
                    entry: entry.encode(),
                    ttl: Duration::from_secs(entry.expires_at.saturating_sub(now).max(1)),
                })
            }
            None => None,
        };
        let swapped = write.base.is_some();
        let saving = (!write.emptied).then(|| {
            Saving::new(Commit {
                id: write.id,
                created: write.created,
                now,
                data: &write.data,
                base: write
                    .base
                    .as_ref()
                    .map(|(b, d)| (b.as_slice(), d.as_slice())),
                previous: write.previous,
            })
        });
        let value = (!write.emptied).then(|| engine.sealer().sign_id(&write.id));
        let lifetime = write.lifetime.limits;
        Ok(Some(Self {
            saving,
            entry,
            after,
            done: Some(write.finished(value.as_deref(), engine)),
            loaded: loaded_id.filter(|_| swapped),
            lifetime,
        }))
    }

    /// The session id whose saves must not overlap within one process (the loaded id of a
    /// session written back with compare-and-swap): a front end serializes saves per id, so
    /// that parallel requests of one page merge in one retry instead of racing.
    #[must_use]
    pub fn lock_id(&self) -> Option<SessionId> {
        self.loaded
    }

    /// Runs the save to its end against `store` (its per-user index is left alone).
    pub async fn run<S: SessionStore + ?Sized>(
        self,
        engine: &Engine,
        store: &S,
    ) -> Result<Finished, StoreError> {
        drive(engine, &Plain(store), self).await
    }

    /// Runs the save to its end against `store`, keeping its per-user index (made with
    /// `indexed`). The session's index entry is written at the same time as the session, so a
    /// bound session's save waits for one round trip, not two; if the save finds the session
    /// ended meanwhile, the entry is removed again.
    pub async fn run_indexed<S: UserIndex + ?Sized>(
        mut self,
        engine: &Engine,
        store: &S,
    ) -> Result<Finished, StoreError> {
        let store = Indexed(store);
        let entry = self.saving.as_ref().and(self.entry.take());
        let Some(entry) = entry else {
            return drive(engine, &store, self).await;
        };
        let Op::IndexPut { user, id, .. } = entry else {
            unreachable!("the entry is an index put");
        };
        let (finished, indexed) = join(drive(engine, &store, self), store.perform(entry)).await;
        let finished = finished?;
        if matches!(finished.outcome, Outcome::EndedElsewhere { .. }) {
            let ids = vec![id];
            store.perform(Op::IndexRemove { user, ids }).await?;
        }
        indexed?;
        Ok(finished)
    }

    /// The next step, given how the last operation went (`None` for the first call).
    pub fn next(&mut self, engine: &Engine, reply: Option<Reply>) -> Result<Next, StoreError> {
        if let Some(saving) = &mut self.saving {
            match saving.next(engine.sealer(), &self.lifetime, reply)? {
                Step::Do(op) => return Ok(Next::Do(op)),
                Step::Finished(Committed::Saved) => {
                    self.saving = None;
                    if let Some(entry) = self.entry.take() {
                        self.after.push_front(entry);
                    }
                }
                Step::Finished(Committed::Gone) => {
                    // Ended by another request meanwhile: nothing of it was written, and the
                    // browser keeps whatever cookie that request set.
                    self.saving = None;
                    self.entry = None;
                    self.after.clear();
                    self.done = Some(Finished {
                        outcome: match self.loaded {
                            Some(id) => Outcome::EndedElsewhere { id },
                            None => Outcome::Unchanged,
                        },
                        set_cookie: None,
                    });
                }
            }
        }
        if let Some(op) = self.after.pop_front() {
            return Ok(Next::Do(op));
        }
        self.done.take().map(Next::Done).ok_or_else(|| {
            StoreError::Backend("a session save was driven after it finished".to_owned())
        })
    }
}

/// How a Rust store performs a [`Finishing`]'s operations.
pub(crate) trait Perform {
    fn perform(&self, op: Op) -> impl Future<Output = Result<Reply, StoreError>> + Send;
}

/// A store without a per-user index.
pub(crate) struct Plain<'a, S: ?Sized>(pub(crate) &'a S);

impl<S: SessionStore + ?Sized> Perform for Plain<'_, S> {
    fn perform(&self, op: Op) -> impl Future<Output = Result<Reply, StoreError>> + Send {
        perform(self.0, op)
    }
}

/// A store with one.
pub(crate) struct Indexed<'a, S: ?Sized>(pub(crate) &'a S);

impl<S: UserIndex + ?Sized> Perform for Indexed<'_, S> {
    // Not `async fn`: the bound says the future is `Send`, which callers that spawn it need.
    #[allow(clippy::manual_async_fn)]
    fn perform(&self, op: Op) -> impl Future<Output = Result<Reply, StoreError>> + Send {
        async move {
            match op {
                Op::IndexPut {
                    user,
                    id,
                    entry,
                    ttl,
                } => self.0.index_put(&user, &id, &entry, ttl).await?,
                Op::IndexRemove { user, ids } => self.0.index_remove(&user, &ids).await?,
                op => return perform(self.0, op).await,
            }
            Ok(Reply::Done)
        }
    }
}

/// Runs `finishing` to its end against a Rust store.
pub(crate) async fn drive<P: Perform>(
    engine: &Engine,
    store: &P,
    mut finishing: Finishing,
) -> Result<Finished, StoreError> {
    let mut reply = None;
    loop {
        match finishing.next(engine, reply.take())? {
            Next::Do(op) => reply = Some(store.perform(op).await?),
            Next::Done(finished) => return Ok(finished),
        }
    }
}

/// Runs two futures concurrently on the caller's task; both outputs once both are done (the
/// core has no async runtime of its own).
async fn join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let (mut a, mut b) = (pin!(a), pin!(b));
    let (mut done_a, mut done_b) = (None, None);
    poll_fn(|cx| {
        if done_a.is_none() {
            if let Poll::Ready(out) = a.as_mut().poll(cx) {
                done_a = Some(out);
            }
        }
        if done_b.is_none() {
            if let Poll::Ready(out) = b.as_mut().poll(cx) {
                done_b = Some(out);
            }
        }
        if done_a.is_some() && done_b.is_some() {
            Poll::Ready((
                done_a.take().unwrap_or_else(|| unreachable!()),
                done_b.take().unwrap_or_else(|| unreachable!()),
            ))
        } else {
            Poll::Pending
        }
    })
    .await
}
