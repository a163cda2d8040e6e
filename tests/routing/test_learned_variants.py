"""The router learns, per kind of task, which variant passes: a workload over the real pieces.

Real store (SQLite file), real loopback provider over HTTP, real ProviderRegistry and backend,
real Router with the real PerformanceTracker as its view. Each task is routed, its answer judged
by an objective signal (the task asks for JSON: did it parse?), and a failed try escalates to
the next variant, each attempt written through the store's begin/settle calls before the tracker
is told. The speed variant's models fail every CRUD task (and nothing else) until they recover.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from server.analysis.types import TaskAnalysis
from server.backends.pricing import compute_cost
from server.backends.registry import ProviderRegistry
from server.catalog import Catalog
from server.errors import BackendError
from server.perf import LearningPolicy, PerfConfig, PerformanceTracker, fact_from_attempt
from server.perf.stats import AttemptFact
from server.routing import AgentRef, Plan, Router, RouteRequest
from server.settings import Settings, load_settings
from server.store import BudgetLimits, NewGroup, NewTask, Store
from tests.conftest import isolated_env
from tests.perf.catalog_fixture import write_catalog
from tests.support.loopback_provider import LoopbackProvider, Reply, Respond
from tests.support.loopback_wire import RecordedRequest

GOOD = Reply(text='{"status": "done"}')
BAD = Reply(text="Sure! Here is what I would do...")  # answered, but not the JSON asked for
SPEED_MODELS = {"cheap", "local"}  # aria_docs' speed chain in the fixture catalogue
HALF_LIFE_S = 600.0


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


class Workload:
    def __init__(self, catalog: Catalog, settings: Settings, store: Store, http: httpx.AsyncClient,
                 clock: Clock, tracker: PerformanceTracker) -> None:
        self.catalog, self.store, self.clock, self.tracker = catalog, store, clock, tracker
        self.registry = ProviderRegistry(catalog, settings, http)
        self.router = Router(catalog, performance=tracker)
        self.group_id = ""
        self.tasks: list[str] = []
        self.next = 0

    async def make_group(self, n: int) -> None:
        tasks = [
            NewTask(key=f"t{i}", position=i, agent_type="aria_docs", agent="aria_docs", variant="speed",
                    agent_name="aria_docs_speed", description="emit JSON", plan_json="{}")
            for i in range(n)
        ]
        group = await self.store.create_group(NewGroup("learned", "balanced", "code", 1), tasks)
        self.group_id = group.id
        self.tasks = [t.id for t in sorted(await self.store.list_tasks(group.id), key=lambda t: t.position)]

    def plan(self, kind: str) -> Plan:
        analysis = TaskAnalysis(kind, 2, 0.9, 50, 20, (), (), "function")
        return self.router.route(RouteRequest(analysis, AgentRef("aria_docs"), strategy="balanced"))

    async def run(self, kind: str) -> tuple[str, list[str]]:
        """Route one task and try its variants upwards until an answer passes; (start, variants tried)."""
        plan = self.plan(kind)
        index, self.next = self.next, self.next + 1
        steps = [(plan.variant, plan.model_id), *((v, models[0]) for v, models in plan.escalation)]
        tried: list[str] = []
        for variant, model_id in steps:
            tried.append(variant)
            if await self._attempt(index, kind, variant, model_id):
                break
        return plan.variant, tried

    async def _attempt(self, index: int, kind: str, variant: str, model_id: str) -> bool:
        model = self.catalog.models[model_id]
        started = self.clock()
        attempt = await self.store.begin_attempt(self.tasks[index], self.group_id, model_id, model.provider,
                                                 variant, 0.001, True, BudgetLimits(), now=started)
        request = self.registry.request_for(
            model, [{"role": "user", "content": f"{kind.upper()}-TASK: reply in JSON."}], max_tokens=64, timeout_s=10
        )
        status, error_class, completion = "succeeded", None, None
        try:
            completion = await self.registry.backend_for(model.provider).complete(request)
            json.loads(completion.text)
        except BackendError as exc:
            status, error_class = "failed", exc.error_class
        except ValueError:
            status, error_class = "failed", "unparseable"
        usage = completion.usage if completion else None
        cost = compute_cost(model, usage, completion.provider_cost if completion else None)
        await self.store.settle_attempt(
            attempt.id, status=status, input_tokens=usage.input_tokens if usage else 0,
            output_tokens=usage.output_tokens if usage else 0, cost=cost.amount, cost_source=cost.source,
            latency_ms=(completion.latency_s * 1000) if completion else None, error_class=error_class,
            now=started + 1,
        )
        settled = next(a for a in await self.store.list_attempts(task_id=self.tasks[index]) if a.id == attempt.id)
        self.tracker.record(fact_from_attempt(settled, task_type=kind, agent="aria_docs"))
        self.clock.now += 2
        return status == "succeeded"


def speed_fails_crud(request: RecordedRequest) -> Reply:
    body = request.json or {}
    prompt = json.dumps(body.get("messages", []))
    return BAD if body.get("model") in SPEED_MODELS and "CRUD-TASK" in prompt else GOOD


async def test_a_kind_the_speed_variant_keeps_failing_starts_higher_then_comes_back_after_recovery(
    tmp_path: Path,
) -> None:
    catalog = write_catalog(tmp_path / "manifests")
    clock = Clock(time.time())
    tracker = PerformanceTracker(catalog, PerfConfig(learning=LearningPolicy(half_life_s=HALF_LIFE_S)), clock=clock)
    with LoopbackProvider() as lp:
        lp.set_default(Respond(speed_fails_crud))
        settings = load_settings(isolated_env(tmp_path, LOOPBACK_BASE_URL=lp.openai_url, LOOPBACK_API_KEY="k"))
        store = await Store.open(settings.db_path)
        try:
            async with httpx.AsyncClient() as http:
                w = Workload(catalog, settings, store, http, clock, tracker)
                await w.make_group(40)
                assert w.plan("crud").variant == "speed"

                starts = []
                for _ in range(6):
                    start, tried = await w.run("crud")
                    starts.append(start)
                    if start == "speed":
                        assert tried[:2] == ["speed", "balanced"]  # failed check, escalated
                # After N speed failures on CRUD the router starts CRUD at balanced ...
                failures_before_raise = starts.index("balanced")
                assert 2 <= failures_before_raise <= 4, starts
                assert set(starts[failures_before_raise:]) == {"balanced"}
                raised = w.plan("crud")
                assert raised.variant == "balanced"
                assert "raised to balanced: speed passed" in raised.rationale
                # ... while another kind of task still starts at speed.
                docs_start, docs_tried = await w.run("docs")
                assert (docs_start, docs_tried) == ("speed", ["speed"])

                insights = tracker.insights(task_type="crud")["task_types"]["crud"]["variants"]
                assert insights["speed"]["evidence"] >= failures_before_raise - 0.5  # decayed a little
                assert insights["balanced"]["success"] > insights["speed"]["success"]
                assert insights["speed"]["decayed_failures"] >= failures_before_raise - 0.5
                assert insights["speed"]["decayed_successes"] == 0

                # The speed models recover. Nothing new is known yet: CRUD stays at balanced.
                lp.set_default(GOOD)
                assert w.plan("crud").variant == "balanced"
                # Old failures fade; the router tries speed again, it passes, and CRUD stays there.
                clock.now += 3 * HALF_LIFE_S
                after = [await w.run("crud") for _ in range(4)]
                assert after == [("speed", ["speed"])] * 4
        finally:
            await store.close()


async def test_reset_routing_insights_forgets_what_a_kind_of_task_taught(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "manifests")
    clock = Clock(time.time())
    tracker = PerformanceTracker(catalog, PerfConfig(learning=LearningPolicy(half_life_s=HALF_LIFE_S)), clock=clock)
    with LoopbackProvider() as lp:
        lp.set_default(Respond(speed_fails_crud))
        settings = load_settings(isolated_env(tmp_path, LOOPBACK_BASE_URL=lp.openai_url, LOOPBACK_API_KEY="k"))
        store = await Store.open(settings.db_path)
        try:
            async with httpx.AsyncClient() as http:
                w = Workload(catalog, settings, store, http, clock, tracker)
                await w.make_group(10)
                for _ in range(5):
                    await w.run("crud")
                assert w.plan("crud").variant == "balanced"
                tracker.reset(task_type="crud")
                assert tracker.variant_evidence("crud", "speed") is None
                assert w.plan("crud").variant == "speed"
        finally:
            await store.close()


def _fact(at: float, variant: str, passed: bool, repo: str = "", kind: str = "crud") -> AttemptFact:
    model = {"speed": "cheap", "balanced": "mid", "quality": "best"}.get(variant, "cheap")
    return AttemptFact(model_id=model, status="succeeded", started_at=at, task_type=kind, variant=variant,
                       validation_passed=passed, cost=0.001, repo=repo)


def test_a_repository_with_little_record_of_its_own_is_shrunk_towards_its_kind(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "manifests")
    clock = Clock(time.time())
    tracker = PerformanceTracker(catalog, PerfConfig(learning=LearningPolicy(half_life_s=HALF_LIFE_S)), clock=clock)
    router = Router(catalog, performance=tracker)
    for i in range(6):  # the kind passes at speed in "calm"
        tracker.record(_fact(clock.now - 60 + i, "speed", True, repo="calm"))
    tracker.record(_fact(clock.now - 50, "speed", False, repo="rough"))

    def start(repo: str | None) -> Plan:
        analysis = TaskAnalysis("crud", 3, 0.9, 50, 20, (), (), "function")
        return router.route(RouteRequest(analysis, AgentRef("aria_docs"), strategy="balanced", checked=True, repo=repo))

    rates = {repo: router._pass_rates("crud", 3, repo)["speed"][0] for repo in ("calm", "rough", "unseen", None)}
    # One failure moves "rough" only part of the way from the kind's rate; an unseen one gets the kind's.
    assert rates["rough"] < rates["unseen"] == rates[None] < rates["calm"]
    assert rates["rough"] > 0.4
    assert start("rough").variant == "speed"
    for i in range(6):  # many failures of its own: "rough" speaks for itself
        tracker.record(_fact(clock.now - 40 + i, "speed", False, repo="rough"))
    rough = start("rough")
    assert rough.variant == "balanced" and rough.repo == "rough"
    assert "in this repository" in rough.rationale
    assert start("calm").variant == "speed"
    # An unchecked task in a known repository is raised by that repository's record too.
    analysis = TaskAnalysis("crud", 3, 0.9, 50, 20, (), (), "function")
    unchecked = router.route(RouteRequest(analysis, AgentRef("aria_docs"), strategy="balanced", repo="rough"))
    assert unchecked.variant == "balanced" and "in this repository" in unchecked.rationale
    assert router.route(RouteRequest(analysis, AgentRef("aria_docs"), strategy="balanced", repo="calm")).variant == "speed"
    record = tracker.variant_evidence("crud", "speed", "rough")
    assert record is not None and record.repo_successes == 0
    assert record.repo_failures == record.failures and 6 < record.failures <= 7  # decayed a little
    assert 5 < record.successes <= 6


def test_insights_show_each_repository_and_a_reset_forgets_only_its_own_record(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "manifests")
    clock = Clock(time.time())
    config = PerfConfig(learning=LearningPolicy(half_life_s=HALF_LIFE_S), state_path=tmp_path / "insights.json")
    tracker = PerformanceTracker(catalog, config, clock=clock)
    facts = [_fact(clock.now - 1 + i / 100, "speed", i % 2 == 0, repo="github.com/acme/api") for i in range(4)]
    facts += [_fact(clock.now - 1 + i / 100, "balanced", True, repo="github.com/acme/web") for i in range(3)]
    for fact in facts:
        tracker.record(fact)
    rows = {(row["task_type"], row["repo"]): row for row in tracker.insights()["repos"]}
    api = rows[("crud", "github.com/acme/api")]
    assert api["variants"]["speed"]["repo_evidence"] == pytest.approx(4, abs=0.05)
    assert api["variants"]["speed"]["repo_decayed_failures"] == pytest.approx(2, abs=0.05)
    assert rows[("crud", "github.com/acme/web")]["repo_evidence"] == pytest.approx(3, abs=0.05)

    tracker.reset(repo="github.com/acme/api")
    kind_speed = tracker.variant_evidence("crud", "speed", "github.com/acme/api")
    assert kind_speed is not None and kind_speed.repo_evidence == 0 and kind_speed.evidence == pytest.approx(4, abs=0.05)
    assert {row["repo"] for row in tracker.insights()["repos"]} == {"github.com/acme/web"}

    # A restart rebuilds from the recorded attempts and still honours the reset.
    later = PerformanceTracker(catalog, config, clock=clock)

    async def load(_since: float, _until: float) -> list[AttemptFact]:
        return facts

    asyncio.run(later.refresh(load))
    assert {row["repo"] for row in later.insights()["repos"]} == {"github.com/acme/web"}
    rebuilt = later.variant_evidence("crud", "speed", "github.com/acme/api")
    assert rebuilt is not None and rebuilt.repo_evidence == 0 and rebuilt.evidence == pytest.approx(4, abs=0.05)
    with pytest.raises(ValueError):
        tracker.reset(model_id="cheap", repo="github.com/acme/web")
