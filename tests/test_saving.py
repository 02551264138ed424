"""`PerIdLock`: saves of one session take turns in a process, and the table empties."""

from __future__ import annotations

import asyncio

from scsession._saving import PerIdLock


async def save(lock: PerIdLock, session_id: str, log: list[str], name: str) -> None:
    waiter = lock.enter(session_id)
    if waiter is not None:
        await lock.wait(session_id, waiter)
    try:
        log.append(f"{name} starts")
        await asyncio.sleep(0.01)
        log.append(f"{name} ends")
    finally:
        lock.leave(session_id)


def test_saves_of_one_id_take_turns_in_order_and_other_ids_do_not_wait() -> None:
    async def story() -> list[str]:
        lock = PerIdLock()
        log: list[str] = []
        await asyncio.gather(
            save(lock, "a", log, "a1"), save(lock, "a", log, "a2"), save(lock, "b", log, "b1")
        )
        assert len(lock) == 0
        return log

    log = asyncio.run(story())
    assert log.index("a1 ends") < log.index("a2 starts")
    assert log.index("b1 starts") < log.index("a1 ends"), "another session does not wait"


def test_a_cancelled_waiter_gives_up_its_turn_and_the_next_one_runs() -> None:
    async def story() -> list[str]:
        lock = PerIdLock()
        log: list[str] = []
        first = asyncio.create_task(save(lock, "a", log, "first"))
        await asyncio.sleep(0)
        cancelled = asyncio.create_task(save(lock, "a", log, "cancelled"))
        third = asyncio.create_task(save(lock, "a", log, "third"))
        await asyncio.sleep(0)
        cancelled.cancel()
        await asyncio.gather(first, third, return_exceptions=True)
        assert cancelled.cancelled()
        assert len(lock) == 0
        return log

    assert asyncio.run(story()) == ["first starts", "first ends", "third starts", "third ends"]


def test_a_waiter_cancelled_as_its_turn_came_passes_the_turn_on() -> None:
    async def story() -> list[str]:
        lock = PerIdLock()
        log: list[str] = []
        assert lock.enter("a") is None
        waiter = lock.enter("a")
        assert waiter is not None
        waiting = asyncio.create_task(lock.wait("a", waiter))
        third = asyncio.create_task(save(lock, "a", log, "third"))
        await asyncio.sleep(0)
        lock.leave("a")  # the turn goes to `waiting`...
        waiting.cancel()  # ...which is cancelled before it runs
        await asyncio.gather(waiting, third, return_exceptions=True)
        assert len(lock) == 0
        return log

    assert asyncio.run(story()) == ["third starts", "third ends"]
