"""The coding signals the analyzer reads, as data: kinds of work, risk words, scope and effort markers.

Each table row is (name, weight, compiled pattern). The patterns match **lowercased** text
(`str.lower()`, once per description): compiled without IGNORECASE they run about twice as fast,
which keeps `route_task` under a millisecond. Weights are in complexity points on the 1-10
scale. They were set from how a strong model rates real task lists (see
tests/data/complexity_ratings.jsonl, train split): what kind of work it is sets a base, risk and
breadth push it up, "trivial" markers pull it down. Length plays no part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "AGENT_KIND_HINTS",
    "BASE_COMPLEXITY",
    "EASY_MARKERS",
    "HARD_MARKERS",
    "KINDS",
    "KIND_PRIORITY",
    "OUTPUT_TOKENS",
    "RISKS",
    "SCOPE_DEFAULT",
    "SCOPE_PATTERNS",
    "TRIVIAL_MARKERS",
    "Signal",
    "enumeration_items",
]


@dataclass(frozen=True, slots=True)
class Signal:
    name: str
    weight: float
    pattern: re.Pattern[str]


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")")


# Kinds of work. The weight is how strongly a match says "this is the kind"; the primary kind is
# the best-scoring one (ties broken by KIND_PRIORITY).
KINDS: tuple[Signal, ...] = (
    Signal("docs", 3.0, _rx(r"(?:write|update|add|improve|create)\b[\w\s'/-]{0,30}?\b(?:docs|documentation|docstrings?|readme|changelog|guide|comments)\b", r"docstrings?\b", r"readme\b", r"document(?:ation)?\b")),
    Signal("tests", 3.0, _rx(r"(?:unit|integration|e2e|end-to-end|regression|snapshot|property-based)\s+tests?\b", r"tests?\s+(?:for|covering)\b", r"test (?:coverage|suite)\b", r"(?:write|add)\s+tests?\b")),
    Signal("bug_fix", 2.0, _rx(r"fix(?:es|ed|ing)?\b", r"bug\b", r"resolve\b", r"crash(?:es|ing)?\b", r"broken\b", r"regression\b", r"error(?:s)?\b", r"fails?\b", r"flaky\b", r"leak\b", r"not working\b", r"investigate\b", r"closes immediately\b", r"incorrect(?:ly)?\b", r"correctly\b")),
    Signal("security", 2.5, _rx(r"secur(?:e|ity)\b", r"vulnerabilit(?:y|ies)\b", r"encrypt(?:ion|ed)?\b", r"auth(?:entication|orization)?\b", r"oauth2?\b", r"jwt\b", r"mfa\b", r"2fa\b", r"rbac\b", r"access control\b", r"password", r"injection\b", r"xss\b", r"csrf\b", r"permissions?\b", r"login\b", r"sessions?\b")),
    Signal("architecture", 2.5, _rx(r"architect(?:ure|ural)?\b", r"microservices?\b", r"monolith\b", r"event-driven\b", r"plugin system\b", r"multi-tenan(?:t|cy)\b", r"system design\b", r"distributed\b", r"sagas?\b")),
    Signal("schema", 2.5, _rx(r"schema\b", r"data model\b", r"normali[sz]ation\b", r"indexing\b", r"index(?:es)? on\b", r"tables?\b", r"column\b", r"migrations?\b", r"backfill")),
    Signal("performance", 2.5, _rx(r"optimi[sz]e\b", r"performance\b", r"slow\b", r"latency\b", r"throughput\b", r"speed up\b", r"caching\b", r"cache\b", r"memory leak\b", r"profil(?:e|ing)\b", r"bottleneck\b", r"10x\b")),
    Signal("algorithm", 2.5, _rx(r"algorithm\b", r"shortest path\b", r"dijkstra", r"graph\b", r"topological\b", r"cycle detection\b", r"parser\b", r"lexer\b", r"recursive-descent\b", r"crdts?\b", r"collaborative filtering\b", r"recommendation engine\b", r"hash map\b", r"lock-free\b", r"sort(?:ing)?\b", r"dynamic programming\b", r"compil(?:er|ation)\b")),
    Signal("integration", 2.5, _rx(r"integrat(?:e|ion)\b(?!\s+tests?)", r"stripe\b", r"paypal\b", r"webhooks?\b", r"third-party\b", r"s3\b", r"kafka\b", r"oauth login\b", r"payment gateway\b", r"sync(?:hroni[sz]ation)?\b", r"opentelemetry\b", r"twilio\b", r"sendgrid\b", r"google\b", r"github\b")),
    Signal("devops", 2.5, _rx(r"docker(?:file)?\b", r"compose\b", r"kubernetes\b", r"k8s\b", r"ci\b", r"github actions\b", r"deploy(?:ment)?\b", r"pipeline\b", r"terraform\b", r"helm\b", r"load balancer\b", r"autoscaling\b", r"setup project\b", r"set up\b")),
    Signal("refactor", 2.5, _rx(r"refactor", r"clean ?up\b", r"split\b", r"extract\b", r"convert\b", r"rename\b", r"upgrade\b", r"migrate\b", r"modernize\b", r"remove deprecated\b", r"deprecat")),
    Signal("api", 2.0, _rx(r"api\b", r"endpoints?\b", r"rest(?:ful)?\b", r"graphql\b", r"routes?\b", r"middleware\b", r"get /", r"post /", r"http client\b", r"cli\b", r"subcommand\b", r"command-line\b")),
    Signal("ui", 2.0, _rx(r"ui\b", r"user interface\b", r"components?\b", r"button\b", r"form\b", r"page\b", r"modal\b", r"dropdown\b", r"tooltip\b", r"responsive\b", r"css\b", r"layout\b", r"dark mode\b", r"dashboard\b", r"interface\b", r"mobile\b", r"accessibility\b", r"drag-and-drop\b", r"frontend\b", r"charts?\b", r"spinner\b", r"view\b", r"safari\b", r"i18n\b", r"translations?\b")),
    Signal("crud", 2.0, _rx(r"crud\b", r"create, read, update", r"list view\b", r"(?:add|edit|delete|update)\s+(?:a|an|the)?\s*\w+\s+(?:record|entry|item)s?\b", r"export\b", r"csv\b", r"pagination\b", r"admin panel\b")),
    Signal("research", 2.0, _rx(r"research\b", r"evaluate\b", r"compare\b", r"spike\b", r"prototype\b", r"proof of concept\b", r"audit\b")),
)

# When two kinds score the same, the earlier one here wins (the more specific, riskier reading).
KIND_PRIORITY: tuple[str, ...] = (
    "docs", "tests", "security", "architecture", "algorithm", "performance", "integration",
    "schema", "bug_fix", "devops", "refactor", "api", "ui", "crud", "research", "general",
)

# Complexity the kind of work starts from, before risk, breadth and scope.
BASE_COMPLEXITY: dict[str, float] = {
    "docs": 1.5, "tests": 2.5, "ui": 2.5, "crud": 2.5, "bug_fix": 2.5, "devops": 2.5, "api": 2.5,
    "refactor": 3.5, "schema": 3.5, "integration": 4.0, "performance": 4.0, "algorithm": 4.5,
    "security": 4.0, "architecture": 5.5, "research": 4.0, "general": 3.0,
}

# Other kinds found alongside the primary one add this much each (a UI task that also touches
# security is harder than one that does not).
SECONDARY_KIND_WEIGHT: dict[str, float] = {
    "security": 1.0, "architecture": 1.0, "algorithm": 1.0, "performance": 0.5, "integration": 1.0,
    "schema": 0.5, "devops": 0.5, "refactor": 0.5, "api": 0.25, "ui": 0.25, "crud": 0.0,
    "bug_fix": 0.0, "tests": 0.5, "docs": 0.0, "research": 0.5,
}

# Risk categories: what makes a mistake expensive. Each category counts once.
RISKS: tuple[Signal, ...] = (
    Signal("payment", 2.5, _rx(r"payments?\b", r"stripe\b", r"billing\b", r"checkout\b", r"refunds?\b", r"invoic", r"subscription", r"revenue\b", r"pricing\b")),
    Signal("auth", 1.0, _rx(r"auth(?:entication|orization)?\b", r"oauth2?\b", r"jwt\b", r"login\b", r"sessions?\b", r"password", r"rbac\b", r"access control\b", r"roles?\b", r"api keys?\b")),
    # Handling secrets themselves (hashing passwords, signing tokens, storing keys): a mistake
    # leaks every account, so it is high-stakes where a login form alone is not.
    Signal("credentials", 1.0, _rx(r"password", r"hash(?:es|ed|ing)?\b", r"jwt\b", r"api keys?\b", r"secrets?\b", r"credentials?\b", r"private keys?\b", r"token (?:signing|rotation|storage)\b", r"encrypt", r"mfa\b", r"2fa\b")),
    Signal("security", 1.5, _rx(r"secur(?:e|ity)\b", r"vulnerabilit", r"encrypt", r"injection\b", r"xss\b", r"csrf\b", r"mfa\b", r"key rotation\b", r"virus\b", r"audit logging\b")),
    Signal("concurrency", 3.0, _rx(r"race condition", r"concurren(?:t|cy)\b", r"lock-free\b", r"deadlock", r"thread-safe\b", r"worker pools?\b", r"processed twice\b", r"exactly-once\b", r"idempoten", r"parallel\b", r"atomic\b")),
    Signal("migration", 2.0, _rx(r"migrat(?:e|ion)\b[\w\s]{0,40}\b(?:database|data|production|postgres\w*|mysql|version)", r"data migration\b", r"backfill", r"upgrade\b[\w\s]{0,20}\bfrom\b")),
    Signal("production", 1.5, _rx(r"production\b", r"zero[- ]downtime\b", r"rolling updates?\b", r"intermittent\b", r"outage\b", r"incident\b", r"in prod\b")),
    Signal("data_loss", 2.0, _rx(r"data loss\b", r"account deletion\b", r"backups?\b", r"gdpr\b", r"hipaa\b", r"pci\b", r"corrupt", r"delete\b[\w\s]{0,20}\buser data")),
    Signal("distributed", 2.5, _rx(r"distributed\b", r"microservices?\b", r"across (?:all|every) services\b", r"multi-tenan", r"sagas?\b", r"kafka\b", r"event-driven\b", r"consensus\b", r"eventual consistency\b")),
    Signal("realtime_sync", 2.0, _rx(r"real-time\b", r"realtime\b", r"collaborative editing\b", r"offline\b", r"conflict resolution\b", r"crdts?\b", r"websockets?\b", r"background sync\b", r"server sync\b")),
    Signal("memory", 1.5, _rx(r"memory leak\b", r"leak\b")),
)

# Words that say the work is bigger or harder than its kind suggests.
HARD_MARKERS: tuple[Signal, ...] = (
    Signal("scalable", 1.0, _rx(r"scal(?:able|ability|e)\b", r"high[- ]availability\b", r"autoscaling\b")),
    Signal("comprehensive", 0.5, _rx(r"comprehensive\b", r"complete\b", r"full\b", r"robust\b", r"enterprise\b")),
    Signal("design", 0.5, _rx(r"design\b", r"strategy\b")),
    Signal("engine", 1.5, _rx(r"engine\b", r"compiler\b", r"incremental compilation\b", r"dsl\b", r"machine learning\b", r"collaborative filtering\b", r"plugin system\b", r"recommendation\b")),
    Signal("system_change", 1.0, _rx(r"across the (?:app|codebase|project)\b", r"breaking changes\b", r"without changing behaviou?r\b", r"all api endpoints\b", r"entire\b", r"whole\b")),
    Signal("throughput", 1.0, _rx(r"\d+x\b", r"throughput\b", r"streaming\b", r"cache invalidation\b", r"invalidation\b", r"timeouts?\b", r"retries\b")),
    Signal("search", 1.0, _rx(r"full-text search\b", r"typo tolerance\b", r"faceted\b", r"optimistic updates?\b", r"tracing\b")),
)

# Words that say the work is small.
EASY_MARKERS: tuple[Signal, ...] = (
    Signal("basic", -1.0, _rx(r"basic\b", r"simple\b", r"small\b", r"minor\b", r"quick\b", r"reusable\b")),
    Signal("removal", -0.5, _rx(r"remove\b", r"delete\b", r"(?<!-)drop\b(?!-)")),
    Signal("single_item", -0.5, _rx(r"add (?:a|an) (?:\S+\s+){0,3}(?:flag|column|field|option|link|icon|label|spinner|toggle|button|tooltip|endpoint|index)\b", r"health check\b")),
)

# Words that say the work is trivial: the score is capped low.
TRIVIAL_MARKERS: re.Pattern[str] = _rx(
    r"typos?\b(?!\s+toleran)", r"copyright\b", r"rename\s+(?:the\s+)?(?:variable|function|file|field)\b", r"bump\b",
    r"tooltip\b", r"wording\b", r"spelling\b", r"change the (?:default|label|text|colou?r)\b",
    r"update (?:the )?(?:docstrings|comments|readme)\b", r"version number\b",
)

SCOPE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("system", _rx(r"system-wide\b", r"across (?:all|every|the entire|the whole)\b", r"entire (?:platform|system|codebase|app)\b", r"all services\b", r"microservices?\b", r"monolith\b", r"platform\b", r"architecture\b", r"multi-tenan", r"distributed\b")),
    ("multi_file", _rx(r"across\b", r"multiple files\b", r"several\b", r"modules\b", r"end-to-end\b", r"flow\b", r"frontend and backend\b", r"pipeline\b", r"services\b", r"layer\b", r"integration\b", r"management\b", r"system\b")),
    ("function", _rx(r"function\b", r"helpers?\b", r"method\b", r"regex\b", r"one-liner\b", r"constant\b", r"variable\b")),
    ("file", _rx(r"component\b", r"page\b", r"file\b", r"class\b", r"endpoint\b", r"button\b", r"template\b", r"view\b", r"form\b", r"column\b", r"module\b")),
)

# Scope when the description names none, by kind of work.
SCOPE_DEFAULT: dict[str, str] = {
    "architecture": "system", "integration": "multi_file", "security": "multi_file",
    "performance": "multi_file", "crud": "multi_file", "api": "multi_file", "schema": "multi_file",
    "refactor": "multi_file", "devops": "multi_file", "research": "multi_file", "ui": "file",
    "bug_fix": "file", "tests": "file", "docs": "file", "algorithm": "file", "general": "file",
}

SCOPE_WEIGHT: dict[str, float] = {"function": -0.5, "file": 0.0, "multi_file": 0.5, "system": 1.5}

# Which kind of work an agent name implies when the description names none.
AGENT_KIND_HINTS: tuple[tuple[str, str], ...] = (
    ("architect", "architecture"), ("frontend", "ui"), ("qa", "tests"), ("test", "tests"),
    ("security", "security"), ("devops", "devops"), ("ops", "devops"), ("doc", "docs"),
    ("writer", "docs"), ("api", "api"), ("research", "research"), ("perf", "performance"),
)

# Typical answer length (output tokens) for a task of complexity 5, by kind of work.
OUTPUT_TOKENS: dict[str, int] = {
    "docs": 900, "tests": 1600, "ui": 1500, "crud": 1500, "bug_fix": 900, "devops": 900,
    "api": 1400, "refactor": 1800, "schema": 1200, "integration": 1800, "performance": 1300,
    "algorithm": 1400, "security": 1600, "architecture": 2000, "research": 1500, "general": 1200,
}

_LIST_SPLIT = re.compile(r",\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+")
_WITH_CLAUSE = re.compile(r"\b(?:with|for|including|covering|supporting|across)\b\s+(.+)$", re.IGNORECASE)


def enumeration_items(text: str) -> int:
    """How many items the description's longest "with A, B and C" style list names (0 if none)."""
    match = _WITH_CLAUSE.search(text)
    if match is None:
        return 0
    items = [part for part in _LIST_SPLIT.split(match.group(1)) if part.strip()]
    return len(items) if len(items) >= 2 else 0
