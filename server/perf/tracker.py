"""`PerformanceTracker`: the router's view of how models have really performed.

It implements routing's `PerformanceView` (`score_adjustment`, `note`, `variant_evidence`,
`preferred_variant`) from two pieces of state: model health (`server.perf.health`: demote, cool
down, probe, restore) and learned evidence per task type and model, and per task type, variant
and repository (`server.perf.learning`). Both are rebuilt from the attempts in SQLite over
the configured window (`refresh`), so they survive restarts and are shared by every process on
one database, and are updated in memory as each attempt finishes (`record`), so a demotion takes
effect on the very next routing decision.

Scheduler hooks: `begin_call(model_id)` when a call starts (lets exactly one probe through to a
demoted model) and `record(fact)` when it is settled. Reset marks (`reset`) are kept in a small
JSON file next to the database so a refresh does not relearn what the user asked to forget.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from server.catalog.schema import VARIANTS, Catalog, StrategySpec, Variant
from server.perf.health import HealthPolicy, ModelHealth
from server.perf.learning import Learner, LearningPolicy
from server.perf.stats import Aggregate, AttemptFact
from server.routing.escalation import REPO_STRENGTH
from server.routing.types import VariantPreference, VariantRecord

__all__ = ["DEMOTED_PENALTY", "PROBE_PRIORITY", "PerfConfig", "PerformanceTracker"]

log = logging.getLogger(__name__)

# Added to a demoted model's score: below any healthy candidate, so its fallbacks go first.
DEMOTED_PENALTY = -50.0
# A demoted model whose cool-down is over goes first once, so one real call can probe it.
PROBE_PRIORITY = 50.0


@dataclass(frozen=True)
class PerfConfig:
    window_hours: float = 24 * 7
    health: HealthPolicy = HealthPolicy()
    learning: LearningPolicy = LearningPolicy()
    state_path: Path | None = None  # reset marks; None keeps them in memory only

    @classmethod
    def from_settings(cls, settings: Any) -> PerfConfig:
        """Read `perf_window_hours` (and `perf_half_life_hours` when the settings have it)."""
        half_life_h = float(getattr(settings, "perf_half_life_hours", 72.0))
        return cls(
            window_hours=float(settings.perf_window_hours),
            learning=LearningPolicy(half_life_s=half_life_h * 3600.0),
            state_path=Path(settings.data_dir) / "routing_insights.json",
        )


@dataclass(frozen=True)
class _Reset:
    at: float
    task_type: str | None
    model_id: str | None
    repo: str | None = None  # only this repository's own records (the kind-wide ones stay)

    def covers(self, fact: AttemptFact) -> bool:
        return (
            fact.started_at <= self.at
            and (self.task_type is None or self.task_type == fact.task_type)
            and (self.model_id is None or self.model_id == fact.model_id)
            and (self.repo is None or self.repo == fact.repo)
        )


class PerformanceTracker:
    """Observed performance per model and per (task type, model); see the module docstring."""

    def __init__(
        self,
        catalog: Catalog,
        config: PerfConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.catalog = catalog
        self.config = config or PerfConfig()
        self.clock = clock
        self.learner = Learner(self.config.learning)
        self.health: dict[str, ModelHealth] = {}
        self.models: dict[str, Aggregate] = {}
        self._resets: list[_Reset] = self._load_resets()
        self._loaded_max_id = 0
        self._live: list[AttemptFact] = []  # recorded since the last refresh began
        self.refreshed_at: float | None = None

    # -- PerformanceView ---------------------------------------------------------------------

    def score_adjustment(self, model_id: str, task_type: str, strategy: StrategySpec | None = None) -> float:
        """How far observation moves `model_id` for `task_type`, in quality points (0 = no news)."""
        health = self.health.get(model_id)
        if health is not None:
            state = health.state(self.clock())
            if state in ("demoted", "cooled", "probing"):
                return DEMOTED_PENALTY
            if state == "probe_due":
                return PROBE_PRIORITY  # first in its chain for the one probe call
        value, _parts = self.learner.adjustment(
            self.catalog.models.get(model_id), model_id, task_type, strategy, self.clock()
        )
        return value

    def note(self, model_id: str, task_type: str) -> str | None:
        """Why observed performance moved this model (for the routing rationale), or None."""
        now = self.clock()
        health = self.health.get(model_id)
        if health is not None:
            state = health.state(now)
            if state in ("demoted", "cooled"):
                wait = max(health.until - now, 0.0)
                return f"{model_id} {state} ({health.reason}); fallbacks first, probe in {wait:.0f}s"
            if state == "probing":
                return f"{model_id} demoted ({health.reason}); a probe call is running"
            if state == "probe_due":
                return f"{model_id} demoted ({health.reason}); its cool-down is over, the next call probes it"
        value, parts = self.learner.adjustment(
            self.catalog.models.get(model_id), model_id, task_type, None, now
        )
        policy = self.config.learning
        if not parts or parts["evidence"] < policy.min_evidence or abs(value) < policy.note_threshold:
            return None
        direction = "promoted" if value > 0 else "demoted in ranking"
        return (
            f"{model_id} {direction} for {task_type}: observed success {parts['observed_success']:.0%} "
            f"over ~{parts['evidence']:.0f} recent calls (manifest prior {parts['prior_success']:.0%})"
        )

    # -- more routing hooks ------------------------------------------------------------------

    def is_demoted(self, model_id: str) -> bool:
        health = self.health.get(model_id)
        return health is not None and health.avoid(self.clock())

    def preferred_variant(
        self, task_type: str, strategy: StrategySpec | None = None, repo: str | None = None
    ) -> VariantPreference | None:
        """The variant that has succeeded at the lowest weighed cost for `task_type` (in `repo`
        when that repository has a record of its own), if enough is known."""
        advice = self.learner.best_variant(task_type, strategy, self.clock(), repo)
        if advice is None or advice.variant not in VARIANTS:
            return None
        return VariantPreference(cast(Variant, advice.variant), advice.reason)

    def variant_evidence(self, task_type: str, variant: str, repo: str | None = None) -> VariantRecord | None:
        """Decayed passes and failures of `variant` on `task_type` tasks, across repositories and
        (when `repo` is given and has a record) in that repository; None if never tried."""
        found = self.learner.variant_record(task_type, variant, repo, self.clock())
        if found is None:
            return None
        cell, own = found
        if own is None:
            return VariantRecord(cell.successes, cell.failures)
        return VariantRecord(cell.successes, cell.failures, own.successes, own.failures)

    # -- scheduler hooks ---------------------------------------------------------------------

    def begin_call(self, model_id: str) -> bool:
        """A call to `model_id` starts; True when it is the one probe of a demoted model."""
        health = self.health.get(model_id)
        return health is not None and health.begin_call(self.clock())

    def record(self, fact: AttemptFact) -> None:
        """Feed one settled attempt (also kept until the next refresh has it from SQLite)."""
        self._live.append(fact)
        self._apply(fact, self.learner, self.health, self.models)

    # -- SQLite ------------------------------------------------------------------------------

    async def refresh(self, load: Callable[[float, float], Any]) -> int:
        """Rebuild everything from the attempts in the window; returns the attempts read.

        `load(since, now)` is an async function returning `AttemptFact`s in `started_at` order
        (`server.perf.queries.PerfReader.attempt_facts`).
        """
        now = self.clock()
        self._live = []
        facts: list[AttemptFact] = await load(now - self.config.window_hours * 3600.0, now)
        learner = Learner(self.config.learning)
        health: dict[str, ModelHealth] = {}
        models: dict[str, Aggregate] = {}
        max_id = 0
        for fact in facts:
            self._apply(fact, learner, health, models)
            max_id = max(max_id, fact.attempt_id or 0)
        # A probe let through before the refresh is still the one probe.
        for model_id, old in self.health.items():
            new = health.get(model_id)
            if new is not None and new.demoted and old.demoted and old.probe_started_at is not None:
                new.probe_started_at = old.probe_started_at
        # Attempts recorded while the rows were being read are not in them: replay those.
        for fact in self._live:
            if fact.attempt_id is None or fact.attempt_id > max_id:
                self._apply(fact, learner, health, models)
        self.learner, self.health, self.models = learner, health, models
        self._loaded_max_id = max_id
        self.refreshed_at = now
        return len(facts)

    async def refresh_forever(self, load: Callable[[float, float], Any], interval_s: float = 60.0) -> None:
        """Refresh every `interval_s` until cancelled (run it as a task in the server lifespan)."""
        while True:
            try:
                await self.refresh(load)
            except Exception:  # a failed refresh keeps the last state; the next one retries
                log.exception("performance refresh failed")
            await asyncio.sleep(interval_s)

    # -- visibility and reset ----------------------------------------------------------------

    def insights(
        self, task_type: str | None = None, model_id: str | None = None, repo: str | None = None
    ) -> dict[str, Any]:
        """What has been learned, per task type x model, per task type x variant (and per
        repository), and per model's health, JSON-ready."""
        now = self.clock()
        cells = []
        for (cell_type, cell_model), _cell in sorted(self.learner.cells.items()):
            if (task_type and cell_type != task_type) or (model_id and cell_model != model_id):
                continue
            cell = self.learner.cell(cell_type, cell_model, now)
            assert cell is not None
            value, parts = self.learner.adjustment(self.catalog.models.get(cell_model), cell_model, cell_type, None, now)
            cells.append(
                {
                    "task_type": cell_type,
                    "model_id": cell_model,
                    "calls": cell.calls,
                    "variants": dict(cell.variants),
                    "decayed_successes": round(cell.successes, 3),
                    "decayed_failures": round(cell.failures, 3),
                    "mean_cost_usd": None if cell.mean_cost is None else round(cell.mean_cost, 8),
                    "mean_latency_ms": None if cell.mean_latency_ms is None else round(cell.mean_latency_ms, 1),
                    "score_adjustment": round(value, 4),
                    **parts,
                }
            )
        task_types = sorted({key[0] for key in self.learner.variant_cells if not task_type or key[0] == task_type})
        variants = {}
        for name in task_types:
            advice = self.learner.best_variant(name, None, now)
            variants[name] = {
                "variants": self.learner.variant_table(name, now),
                "best_variant": advice.variant if advice else None,
                "why": advice.reason if advice else "not enough evidence yet",
            }
        repos = []
        for name, key in self.learner.repos(task_type):
            if repo is not None and key != repo:
                continue
            advice = self.learner.best_variant(name, None, now, key)
            table = self.learner.variant_table(name, now, key)
            repos.append(
                {
                    "task_type": name,
                    "repo": key,
                    "repo_evidence": round(sum(row.get("repo_evidence") or 0.0 for row in table.values()), 2),
                    "variants": table,
                    "best_variant": advice.variant if advice else None,
                    "why": advice.reason if advice else "not enough evidence yet",
                }
            )
        health = [h.as_dict(now) for mid, h in sorted(self.health.items()) if not model_id or mid == model_id]
        return {
            "window_hours": self.config.window_hours,
            "half_life_hours": round(self.config.learning.half_life_s / 3600.0, 2),
            "prior_strength": self.config.learning.prior_strength,
            "repo_strength": REPO_STRENGTH,
            "refreshed_at": self.refreshed_at,
            "models": health,
            "cells": cells,
            "task_types": variants,
            "repos": repos,
            "resets": [r.__dict__ for r in self._resets],
        }

    def reset(
        self, task_type: str | None = None, model_id: str | None = None, repo: str | None = None
    ) -> dict[str, Any]:
        """Forget what was learned (all of it, or one task type and/or model, or one repository's
        own records, optionally of one task type); persisted across refreshes and restarts.

        Raises:
            ValueError: both `model_id` and `repo` (a repository's records are per variant).
        """
        if model_id is not None and repo is not None:
            raise ValueError("reset by model or by repository, not both")
        mark = _Reset(self.clock(), task_type, model_id, repo)
        self._resets.append(mark)
        self._save_resets()
        if repo is not None:
            dropped = self.learner.forget(task_type, repo)
            return {"reset_cells": dropped, "task_type": task_type, "model_id": None, "repo": repo, "at": mark.at}
        removed = [key for key in self.learner.cells if _matches(key, task_type, model_id)]
        for key in removed:
            del self.learner.cells[key]
        if model_id is None:
            self.learner.forget(task_type)
        if task_type is None:
            for mid, health in self.health.items():
                if model_id is None or mid == model_id:
                    health.reset()
        return {"reset_cells": len(removed), "task_type": task_type, "model_id": model_id, "repo": None, "at": mark.at}

    # -- internals ---------------------------------------------------------------------------

    def _apply(
        self, fact: AttemptFact, learner: Learner, health: dict[str, ModelHealth], models: dict[str, Aggregate]
    ) -> None:
        models.setdefault(fact.model_id, Aggregate()).add(fact)
        covered = [reset for reset in self._resets if reset.covers(fact)]
        # A repository's reset forgets only that repository's own records.
        whole = [reset for reset in covered if reset.repo is None]
        # A task-type reset forgets what was learned for that kind of work, not the model's health.
        if not any(reset.task_type is None for reset in whole):
            model_health = health.get(fact.model_id)
            if model_health is None:
                model_health = health[fact.model_id] = ModelHealth(fact.model_id, self.config.health)
            before = len(model_health.events)
            model_health.record(fact)
            if any(event.event == "restored" for event in model_health.events[before:]):
                # It recovered (the probe succeeded): the failures that demoted it are history.
                learner.forget_model(fact.model_id)
        if not whole:
            learner.add(fact, self.catalog.models.get(fact.model_id), per_repo=not covered)

    def _load_resets(self) -> list[_Reset]:
        path = self.config.state_path
        if path is None or not path.is_file():
            return []
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return [
                _Reset(float(r["at"]), r.get("task_type"), r.get("model_id"), r.get("repo"))
                for r in data.get("resets", [])
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable routing insights file %s: %s", path, exc)
            return []

    def _save_resets(self) -> None:
        path = self.config.state_path
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"resets": [r.__dict__ for r in self._resets[-100:]]}), encoding="utf-8")
        tmp.replace(path)


def _matches(key: tuple[str, str], task_type: str | None, model_id: str | None) -> bool:
    return (task_type is None or key[0] == task_type) and (model_id is None or key[1] == model_id)

