"""Routing learns per repository, through the real engine.

A real Engine (SQLite store, provider registry over HTTP to the loopback provider, router, the
runner's git-worktree validation) with the real PerformanceTracker as both its router's view and
its runner's observer, wired as the server wires them. Every task is the same kind of work in
one of two git repositories (told apart by their remotes): the speed variant's patch breaks the
syntax in `alpha` and is right in `beta`; the balanced variant's is always right. Each task is
validated, so a failed check escalates, and the verdict is what the tracker learns.

Time moves on for the tracker only (its clock is injected): that is how old failures fade.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from server.backends.registry import ProviderRegistry
from server.catalog import Catalog, load_catalog
from server.perf import LearningPolicy, PerfConfig, PerformanceTracker, PerfReader
from server.perf.repos import repo_key
from server.routing.router import Router
from server.scheduler.engine import Engine, EngineConfig
from server.settings import Settings, load_settings
from server.store import Store
from tests.scheduler.overlay import loop_env
from tests.support.loopback_provider import LoopbackProvider, Reply, Respond
from tests.support.loopback_wire import RecordedRequest
from tools.submit_parallel_tasks import TaskSpec, build_group_input, confine_group

HALF_LIFE_S = 600.0
SPEED_MODELS = {"fast-a", "fast-a2", "fast-b"}  # the test agent's speed chain
SOURCE = "def add(a, b):\n    return a - b\n"
RIGHT = "```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n```"
BROKEN = "```diff\n--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a +* b\n```"


@dataclass
class Clock:
    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


def make_repo(root: Path, name: str) -> Path:
    repo = root / name
    repo.mkdir()
    (repo / "calc.py").write_text(SOURCE, encoding="utf-8")
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "add"],
                 ["remote", "add", "origin", f"https://token:s3cret@example.com/acme/{name}.git"]):
        subprocess.run(["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=repo,
                       check=True, capture_output=True)
    return repo


@dataclass
class Run:
    engine: Engine
    store: Store
    settings: Settings
    catalog: Catalog
    tracker: PerformanceTracker
    clock: Clock
    roots: list[Path]

    async def task(self, repo: Path) -> tuple[str, list[str]]:
        """Submit one validated task in `repo` and wait for it; (planned variant, variants tried)."""
        spec = TaskSpec.model_validate({
            "agent_type": "tcoder", "task_description": f"Fix add() in calc.py of the {repo.name} service",
            "workspace": str(repo), "validate": {"checks": ["syntax"], "max_rounds": 3},
        })
        group = build_group_input([spec], group_name=None, routing_strategy="balanced", policy=None,
                                  max_concurrent=None, budget_usd=None, dry_run=False, max_tasks=1)
        result = await self.engine.submit(confine_group(group, self.roots))
        assert result.group_id is not None
        async with asyncio.timeout(30):
            while self.engine.is_running(result.group_id):
                await self.engine.wait_for_change(result.group_id, 30)
        (task,) = await self.store.list_tasks(result.group_id)
        assert task.status == "succeeded", (task.status, task.error)
        attempts = await self.store.list_attempts(task_id=task.id)
        assert {a.repo for a in attempts} == {repo_key(repo)}  # each attempt records its repository
        return result.tasks[0].plan.variant, [a.variant or "" for a in attempts]


@asynccontextmanager
async def real_engine(tmp_path: Path, base_url: str) -> AsyncIterator[Run]:
    settings = load_settings(loop_env(tmp_path, base_url, PWM_ALLOWED_ROOTS=str(tmp_path)))
    catalog = load_catalog(settings.manifests_overlay)
    clock = Clock()
    tracker = PerformanceTracker(catalog, PerfConfig(learning=LearningPolicy(half_life_s=HALF_LIFE_S)), clock=clock)
    async with httpx.AsyncClient() as http:
        store = await Store.open(settings.db_path)
        registry = ProviderRegistry(catalog, settings, http)
        engine = Engine(
            settings=settings, catalog=catalog, store=store, providers=registry,
            router=Router(catalog, availability=registry.availability, performance=tracker),
            config=EngineConfig(max_concurrent=4), observer=tracker,
        )
        try:
            yield Run(engine, store, settings, catalog, tracker, clock, [tmp_path])
        finally:
            await engine.aclose()
            await store.close()


def speed_breaks(repo_name: str | None) -> Callable[[RecordedRequest], Reply]:
    def respond(request: RecordedRequest) -> Reply:
        broken = repo_name is not None and request.model in SPEED_MODELS and f"the {repo_name} service" in request.prompt
        return Reply(BROKEN if broken else RIGHT)

    return respond


async def test_a_kind_the_speed_variant_fails_in_one_repository_starts_higher_there_only_until_it_recovers(
    tmp_path: Path,
) -> None:
    alpha, beta = make_repo(tmp_path, "alpha"), make_repo(tmp_path, "beta")
    assert repo_key(alpha) == "example.com/acme/alpha"  # the remote, without its credentials
    with LoopbackProvider() as lp:
        lp.set_default(Respond(speed_breaks("alpha")))
        async with real_engine(tmp_path, lp.openai_url) as run:
            starts: list[str] = []
            for _ in range(8):
                start, tried = await run.task(alpha)
                starts.append(start)
                if start == "speed":
                    assert tried == ["speed", "balanced"]  # the check failed, the task escalated
                    assert await run.task(beta) == ("speed", ["speed"])  # passes in the other repository
                else:
                    break
            # After N failed checks in alpha, that kind of task starts at balanced there ...
            failures = starts.index("balanced")
            assert 2 <= failures <= 6, starts
            assert await run.task(alpha) == ("balanced", ["balanced"])
            # The speed models recover. Nothing new is known in alpha: it stays at balanced ...
            lp.set_default(Respond(speed_breaks(None)))
            assert await run.task(alpha) == ("balanced", ["balanced"])
            # ... and the same kind of task still starts at speed in beta.
            assert await run.task(beta) == ("speed", ["speed"])

            (kind,) = {key[0] for key in run.tracker.learner.variant_cells}  # one kind of task in both
            insights = run.tracker.insights(task_type=kind)
            by_repo = {row["repo"]: row for row in insights["repos"]}
            alpha_speed = by_repo["example.com/acme/alpha"]["variants"]["speed"]
            beta_speed = by_repo["example.com/acme/beta"]["variants"]["speed"]
            assert alpha_speed["repo_decayed_failures"] >= failures - 0.1 and alpha_speed["repo_decayed_successes"] == 0
            assert beta_speed["repo_decayed_successes"] >= failures and beta_speed["repo_decayed_failures"] == 0
            # The kind-wide rate sits between the two repositories' own.
            kind_speed = insights["task_types"][kind]["variants"]["speed"]["success"]
            assert alpha_speed["success"] < kind_speed < beta_speed["success"]

            # What was learned is in SQLite: a fresh tracker rebuilt from the attempts (the
            # validations' verdicts and each attempt's repository) decides the same.
            fresh = PerformanceTracker(run.catalog, run.tracker.config, clock=run.clock)
            async with PerfReader(run.settings.db_path) as reader:
                await fresh.refresh(reader.attempt_facts)
            for repo in ("example.com/acme/alpha", "example.com/acme/beta"):
                live, rebuilt = run.tracker.variant_evidence(kind, "speed", repo), fresh.variant_evidence(kind, "speed", repo)
                assert live is not None and rebuilt is not None
                assert abs(live.repo_failures - rebuilt.repo_failures) < 0.05, (repo, live, rebuilt)
                assert abs(live.repo_successes - rebuilt.repo_successes) < 0.05, (repo, live, rebuilt)

            # Old failures fade; alpha tries speed again, it passes, and alpha stays there.
            run.clock.offset += 3 * HALF_LIFE_S
            assert [await run.task(alpha) for _ in range(3)] == [("speed", ["speed"])] * 3
