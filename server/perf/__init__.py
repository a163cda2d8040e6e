"""Performance tracking, adaptive routing evidence, and the cost and performance report.

    reader = PerfReader(settings.db_path)                 # read-only connection (WAL reader)
    tracker = PerformanceTracker(catalog, PerfConfig.from_settings(settings))
    await tracker.refresh(reader.attempt_facts)           # rebuild from SQLite over the window
    router = Router(catalog, performance=tracker)         # PerformanceView
    tracker.begin_call(model_id)                          # scheduler: a call starts
    tracker.record(fact_from_attempt(attempt, task_type=...))   # scheduler: a call settled
    report = build_report(await reader.attempt_facts(since, now), catalog, days=7)
    repo_key(workspace)                                   # the repository key attempts record
"""

from server.perf.health import HealthPolicy, ModelHealth
from server.perf.learning import Learner, LearningPolicy, VariantAdvice, prior_mean
from server.perf.queries import OBJECTIVE_FAILURE_CLASSES, PerfReader, fact_from_attempt
from server.perf.report import GROUP_BY_CHOICES, build_report
from server.perf.repos import repo_key
from server.perf.stats import Aggregate, AttemptFact, percentile
from server.perf.tracker import DEMOTED_PENALTY, PerfConfig, PerformanceTracker

__all__ = [
    "DEMOTED_PENALTY",
    "GROUP_BY_CHOICES",
    "OBJECTIVE_FAILURE_CLASSES",
    "Aggregate",
    "AttemptFact",
    "HealthPolicy",
    "Learner",
    "LearningPolicy",
    "ModelHealth",
    "PerfConfig",
    "PerfReader",
    "PerformanceTracker",
    "VariantAdvice",
    "build_report",
    "fact_from_attempt",
    "percentile",
    "prior_mean",
    "repo_key",
]
