"""A 429 storm with hung, cut and garbage answers: every task ends, nearly all succeed, fast.

The loopback provider answers 10% 503, 5% hangs, 5% cut streams, 5% garbage bodies, and a 429
with Retry-After past N requests per "minute" per model; both configured providers point at it.
Each model's first requests meet a burst of 429s as well: an engine that paces itself by the
rate-limit headers may never cross the window, and the storm must come either way.
Time is compressed: a "minute" is `WINDOW_S` for the provider and the engine alike, and a call
that goes silent is given up after `STALL_S`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from server.backends.base import CallTimeouts
from server.scheduler.dag import TERMINAL
from server.scheduler.retry import RetryPolicy
from server.scheduler.runner import RunnerConfig
from server.scheduler.types import GroupInput, TaskInput
from tests.scheduler.real import open_engine
from tests.support.loopback_provider import STORM, LoopbackProvider, Status

WINDOW_S = 1.0
STALL_S = 0.4
PER_MODEL_RPM = 1200  # 20 requests per compressed "minute" per model
MODELS = ("fast-a", "fast-a2", "fast-b", "mid-a", "best-a")
OPENING_429S = 6  # per model; the fault mix replaces a quarter of them with other faults


async def test_storm_of_429s_and_faults_ends_every_task_and_uses_every_provider(tmp_path: Path) -> None:
    with LoopbackProvider(latency=0.01, rpm_window_s=WINDOW_S, fault_mix=STORM, seed=11) as lp:
        for model in MODELS:
            lp.configure(model, rpm=PER_MODEL_RPM)
            lp.script(model, [Status(429, retry_after=1)] * OPENING_429S)
        runner = RunnerConfig(retry=RetryPolicy(base_s=0.01, cap_s=0.1), stall_timeout_s=STALL_S, call_timeouts=CallTimeouts(total_s=2.0))
        async with open_engine(tmp_path, lp.openai_url, concurrency=16, runner=runner, rate_window_s=WINDOW_S) as engine:
            group = GroupInput(tasks=tuple(
                TaskInput(agent_type="tcoder_speed", description=f"Write function f{i}", key=f"t{i}", timeout_s=20)
                for i in range(120)
            ))
            result = await engine.submit(group)
            assert result.group_id is not None
            async with asyncio.timeout(60):  # the storm's promise: all of it within a minute
                while engine.is_running(result.group_id):
                    await engine.wait_for_change(result.group_id, 5)
            tasks = await engine.store.list_tasks(result.group_id)
            attempts = await engine.store.list_attempts(group_id=result.group_id)
    statuses = [t.status for t in tasks]
    assert all(s in TERMINAL for s in statuses), statuses
    assert statuses.count("succeeded") >= 110, {s: statuses.count(s) for s in set(statuses)}
    assert {a.provider for a in attempts} == {"loopa", "loopb"}
    assert lp.count_429 > 0, "the storm never came: the test no longer tests it"
