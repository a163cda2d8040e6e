"""A run of tasks against the loopback provider, one model failing 40% of the time (seeded).

Each task is routed by the real Router (with the tracker as its PerformanceView), called through
the real ProviderRegistry and backend over HTTP, judged by an objective signal (the task asks for
a JSON answer: did it parse?), and written as attempt rows through the store's API — the same
begin/settle calls the scheduler makes — before the tracker is told.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from server.analysis.types import TaskAnalysis
from server.backends.pricing import compute_cost
from server.backends.registry import ProviderRegistry
from server.catalog import Catalog
from server.errors import BackendError
from server.perf import (
    DEMOTED_PENALTY,
    HealthPolicy,
    PerfConfig,
    PerformanceTracker,
    PerfReader,
    fact_from_attempt,
)
from server.routing import AgentRef, Plan, Router, RouteRequest
from server.settings import Settings, load_settings
from server.store import BudgetLimits, NewGroup, NewTask, Store
from tests.conftest import isolated_env
from tests.perf.catalog_fixture import write_catalog
from tests.support.loopback_provider import LoopbackProvider, Reply, Status

GOOD = Reply(text='{"status": "done"}')
BAD = Reply(text="Sure! Here is what I would do...")  # answered, but not the JSON asked for


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self, catalog: Catalog, settings: Settings, store: Store, http: httpx.AsyncClient, clock: Clock,
                 tracker: PerformanceTracker) -> None:
        self.catalog, self.store, self.clock, self.tracker = catalog, store, clock, tracker
        self.registry = ProviderRegistry(catalog, settings, http)
        self.router = Router(catalog, performance=tracker)
        self.tasks: list[str] = []
        self.group_id = ""
        self.probes: list[str] = []

    async def make_group(self, n: int) -> None:
        tasks = [
            NewTask(key=f"t{i}", position=i, agent_type="aria_coder_backend_speed", agent="aria_coder_backend",
                    variant="speed", agent_name="aria_coder_backend_speed", description="emit JSON",
                    plan_json=json.dumps({"task_type": "crud"}))
            for i in range(n)
        ]
        group = await self.store.create_group(NewGroup("adaptive", "balanced", "code", 1), tasks)
        self.group_id = group.id
        self.tasks = [t.id for t in sorted(await self.store.list_tasks(group.id), key=lambda t: t.position)]

    def plan(self) -> Plan:
        analysis = TaskAnalysis("crud", 2, 0.9, 50, 20, (), (), "function")
        return self.router.route(RouteRequest(analysis, AgentRef("aria_coder_backend", "speed"), strategy="balanced"))

    async def run_task(self, index: int, chain: tuple[str, ...] | None = None) -> tuple[str, list[str]]:
        """Route and run one task along its chain; returns (first choice, models called)."""
        if chain is None:
            plan = self.plan()
            chain = (plan.model_id, *plan.fallback_model_ids)
        called = []
        for model_id in chain:
            model = self.catalog.models[model_id]
            if self.tracker.begin_call(model_id):
                self.probes.append(model_id)
            started = self.clock()
            attempt = await self.store.begin_attempt(self.tasks[index], self.group_id, model_id, model.provider,
                                                     "speed", 0.001, True, BudgetLimits(), now=started)
            called.append(model_id)
            request = self.registry.request_for(model, [{"role": "user", "content": "Reply in JSON."}],
                                                max_tokens=64, timeout_s=10)
            error_class, status, completion = None, "succeeded", None
            try:
                completion = await self.registry.backend_for(model.provider).complete(request)
                json.loads(completion.text)  # the objective signal: the answer parsed
            except BackendError as exc:
                status, error_class = "failed", exc.error_class
            except ValueError:
                status, error_class = "failed", "unparseable"
            cost = compute_cost(model, completion.usage if completion else None,
                                completion.provider_cost if completion else None)
            usage = completion.usage if completion else None
            await self.store.settle_attempt(
                attempt.id, status=status, input_tokens=usage.input_tokens if usage else 0,
                output_tokens=usage.output_tokens if usage else 0, cost=cost.amount, cost_source=cost.source,
                latency_ms=(completion.latency_s * 1000) if completion else None, error_class=error_class,
                now=started + 1,
            )
            settled = next(a for a in await self.store.list_attempts(task_id=self.tasks[index]) if a.id == attempt.id)
            self.tracker.record(fact_from_attempt(settled, task_type="crud", agent="aria_coder_backend"))
            self.clock.now += 2
            if status == "succeeded":
                break
        return chain[0], called


async def test_flaky_model_is_demoted_probed_and_restored(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "manifests")
    clock = Clock(time.time())
    tracker = PerformanceTracker(catalog, PerfConfig(health=HealthPolicy(cooldown_s=300.0)), clock=clock)
    with LoopbackProvider(seed=11) as lp:
        lp.set_default(GOOD)
        lp.configure("flaky", fail_probability=0.4, fail_with=BAD)
        settings = load_settings(isolated_env(tmp_path, LOOPBACK_BASE_URL=lp.openai_url, LOOPBACK_API_KEY="k"))
        store = await Store.open(settings.db_path)
        try:
            async with httpx.AsyncClient() as http:
                h = Harness(catalog, settings, store, http, clock, tracker)
                await h.make_group(60)
                firsts = []
                demoted_at = None
                for i in range(40):
                    first, _called = await h.run_task(i)
                    firsts.append(first)
                    if demoted_at is None and tracker.is_demoted("loop/flaky"):
                        demoted_at = i
                        flaky_requests = len(lp.requests_for("flaky"))
                assert demoted_at is not None, "a model failing 40% of the time must be demoted"
                assert len(lp.requests_for("flaky")) == flaky_requests  # fallbacks first: no more calls
                assert tracker.health["loop/flaky"].events[0].event == "demoted"
                assert "success" in tracker.health["loop/flaky"].reason
                assert firsts[0] == "loop/flaky" and set(firsts[demoted_at + 1:]) == {"loop/cheap"}
                assert tracker.score_adjustment("loop/flaky", "crud") == DEMOTED_PENALTY

                # The provider recovers; after the cool-down exactly one probe call goes to it.
                lp.configure("flaky", fail_probability=0.0)
                clock.now += 301
                assert tracker.health["loop/flaky"].state(clock()) == "probe_due"
                plan = h.plan()
                assert plan.model_id == "loop/flaky"
                assert "the next call probes it" in plan.rationale
                first, called = await h.run_task(40)
                assert (first, called) == ("loop/flaky", ["loop/flaky"])
                assert h.probes == ["loop/flaky"]
                assert tracker.health["loop/flaky"].state(clock()) == "healthy"
                assert [e.event for e in tracker.health["loop/flaky"].events][-2:] == ["probe_started", "restored"]
                # Back in the running: no penalty; its place now follows what was learned since.
                assert tracker.score_adjustment("loop/flaky", "crud") > 0
                after = h.plan()
                assert "loop/flaky" in (after.model_id, *after.fallback_model_ids)

                # Rebuilt from the attempts in SQLite, a fresh tracker reaches the same verdict.
                async with PerfReader(settings.db_path) as reader:
                    fresh = PerformanceTracker(catalog, PerfConfig(health=HealthPolicy(cooldown_s=300.0)), clock=clock)
                    count = await fresh.refresh(reader.attempt_facts)
                    assert count == len(await store.list_attempts(group_id=h.group_id))
                    events = [e.event for e in fresh.health["loop/flaky"].events]
                    assert events[0] == "demoted" and events[-1] == "restored"
                    assert fresh.health["loop/flaky"].state(clock()) == "healthy"
        finally:
            await store.close()


async def test_a_model_answering_5xx_is_cooled_at_once(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "manifests")
    clock = Clock(time.time())
    tracker = PerformanceTracker(catalog, clock=clock)
    with LoopbackProvider() as lp:
        lp.set_default(GOOD)
        lp.script("flaky", [Status(500)] * 3)
        settings = load_settings(isolated_env(tmp_path, LOOPBACK_BASE_URL=lp.openai_url, LOOPBACK_API_KEY="k"))
        store = await Store.open(settings.db_path)
        try:
            async with httpx.AsyncClient() as http:
                h = Harness(catalog, settings, store, http, clock, tracker)
                await h.make_group(5)
                for i in range(3):
                    await h.run_task(i, chain=("loop/flaky",))  # a caller pinned to it
                health = tracker.health["loop/flaky"]
                assert health.state(clock()) == "cooled"  # after 3 calls, not 10
                assert "in a row" in health.reason
                assert tracker.score_adjustment("loop/flaky", "crud") == DEMOTED_PENALTY
                first, called = await h.run_task(3)
                assert first == "loop/cheap" and called == ["loop/cheap"]
                assert len(lp.requests_for("flaky")) == 3
        finally:
            await store.close()
