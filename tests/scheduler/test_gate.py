"""The call gate grants permits in priority order under every concurrency and rate limit."""

from __future__ import annotations

import asyncio

import pytest

from server.scheduler.gate import Busy, CallGate, Limits, Permit


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def _start(gate: CallGate, granted: list[str], name: str, **kw: object) -> asyncio.Task[Permit]:
    permit = gate.enqueue(
        str(kw.get("group", "g")), str(kw.get("provider", "p")), str(kw.get("model", "m")),
        priority=float(kw.get("priority", 5)),  # type: ignore[arg-type]
        depth=float(kw.get("depth", 0)),  # type: ignore[arg-type]
        tokens=int(kw.get("tokens", 0)),  # type: ignore[call-overload]
    )

    async def run() -> Permit:
        await gate.wait(permit)
        granted.append(name)
        return permit

    return asyncio.create_task(run())


async def test_ready_tasks_are_granted_in_priority_order() -> None:
    gate = CallGate(1)
    granted: list[str] = []
    tasks = [await _start(gate, granted, n, priority=p) for n, p in (("low", 1), ("high", 9), ("mid", 5))]
    await _settle()
    assert granted == ["high"]
    released: set[int] = set()
    for expected in (["high", "mid"], ["high", "mid", "low"]):
        done = next(t for t in tasks if t.done() and id(t) not in released)
        released.add(id(done))
        gate.release(done.result())
        await _settle()
        assert granted == expected


async def test_equal_priority_prefers_the_longer_chain_behind_the_task() -> None:
    gate = CallGate(1)
    granted: list[str] = []
    await _start(gate, granted, "leaf", depth=1)
    await _start(gate, granted, "critical", depth=7)
    await _settle()
    assert granted == ["critical"]


async def test_per_model_limit_serves_one_request_while_other_models_proceed() -> None:
    gate = CallGate(8, provider_limits=lambda p: Limits(max_concurrent_per_model=1) if p == "ollama" else Limits())
    granted: list[str] = []
    first = await _start(gate, granted, "a1", provider="ollama", model="a")
    await _settle()
    await _start(gate, granted, "a2", provider="ollama", model="a", priority=9)
    await _start(gate, granted, "b1", provider="ollama", model="b")
    await _start(gate, granted, "x1", provider="groq", model="x")
    await _settle()
    assert sorted(granted) == ["a1", "b1", "x1"]
    gate.release(first.result())
    await _settle()
    assert "a2" in granted


async def test_group_and_provider_limits_cap_running_calls() -> None:
    gate = CallGate(10, provider_limits=lambda p: Limits(max_concurrent=2))
    gate.set_group_limit("g1", 1)
    granted: list[str] = []
    for name, group in (("g1a", "g1"), ("g1b", "g1"), ("g2a", "g2"), ("g2b", "g2")):
        await _start(gate, granted, name, group=group)
    await _settle()
    assert sorted(granted) == ["g1a", "g2a"]
    assert gate.running == 2 and gate.waiting == 2


async def test_cooling_model_waits_without_blocking_other_models() -> None:
    now = [100.0]
    gate = CallGate(4, clock=lambda: now[0])
    gate.cooldowns.extend("p", "hot", 130.0)
    granted: list[str] = []
    await _start(gate, granted, "hot", model="hot", priority=9)
    await _start(gate, granted, "cool", model="cool", priority=1)
    await _settle()
    assert granted == ["cool"]
    now[0] = 131.0
    gate.wake()
    await _settle()
    assert granted == ["cool", "hot"]


async def test_rate_limited_provider_holds_lower_ranked_waiters_too() -> None:
    now = [0.0]
    gate = CallGate(4, clock=lambda: now[0],
                    provider_limits=lambda p: Limits(requests_per_minute=1) if p == "p" else Limits())
    granted: list[str] = []
    for name in ("first", "second", "third"):
        await _start(gate, granted, name)
    await _start(gate, granted, "elsewhere", provider="q")
    await _settle()
    assert granted == ["first", "elsewhere"]
    now[0] = 60.0
    gate.wake()
    await _settle()
    assert granted == ["first", "elsewhere", "second"]


async def test_cancelled_waiter_leaves_nothing_held() -> None:
    gate = CallGate(1)
    granted: list[str] = []
    holder = await _start(gate, granted, "holder")
    waiter = await _start(gate, granted, "waiter")
    await _settle()
    waiter.cancel()
    await _settle()
    assert gate.waiting == 0
    gate.release(holder.result())
    await _settle()
    assert gate.running == 0 and granted == ["holder"]


async def test_movable_waiter_leaves_a_cooling_model_and_a_fixed_one_waits() -> None:
    now = [100.0]
    gate = CallGate(4, clock=lambda: now[0], move_after_s=0.5)
    gate.cooldowns.extend("p", "hot", 110.0)
    movable = gate.enqueue("g", "p", "hot", priority=5, movable=True)
    fixed = gate.enqueue("g", "p", "hot", priority=5)
    await _settle()
    with pytest.raises(Busy):
        await gate.wait(movable)
    assert gate.waiting == 1 and gate.running == 0
    now[0] = 111.0
    gate.wake()
    await gate.wait(fixed)
    assert gate.running == 1


async def test_withdrawn_waiters_leave_the_queue_and_the_rest_are_granted_best_first() -> None:
    gate = CallGate(1)
    granted: list[str] = []
    holder = await _start(gate, granted, "holder", priority=10)
    await _settle()
    waiters = {f"w{i}": await _start(gate, granted, f"w{i}", priority=i % 7, depth=i) for i in range(40)}
    await _settle()
    assert gate.waiting == 40
    for name in ("w3", "w17", "w39", "w0"):
        waiters.pop(name).cancel()
    await _settle()
    assert gate.waiting == 36
    gate.release(holder.result())
    expected = sorted(waiters, key=lambda n: (-(int(n[1:]) % 7), -int(n[1:])))
    for _ in expected:
        await _settle()
        gate.release(waiters[granted[-1]].result())
    await _settle()
    assert granted == ["holder", *expected] and gate.waiting == 0 and gate.running == 0


async def test_a_permit_nobody_could_compete_for_is_granted_at_once_and_ranking_holds_otherwise() -> None:
    gate = CallGate(1)
    gate.set_group_limit("only", 1)
    alone = gate.enqueue("only", "p", "m", priority=1)
    assert alone.granted  # one group, one call at a time: nobody can arrive to outrank it
    gate.release(alone)
    gate.set_group_limit("other", 1)
    granted: list[str] = []
    tasks = [await _start(gate, granted, n, group=g, priority=p) for n, g, p in (("low", "only", 1), ("high", "other", 9))]
    await _settle()
    assert granted == ["high"]  # two groups: the pass ranks the turn's arrivals together
    gate.release(tasks[1].result())
    await _settle()
    assert granted == ["high", "low"]
