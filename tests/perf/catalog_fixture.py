"""A small, complete catalogue for performance tests: a loopback provider and five models."""

from __future__ import annotations

from pathlib import Path

from server.catalog import Catalog, load_catalog

__all__ = ["MANIFEST", "write_catalog"]

_MODEL = """
[[models]]
id = "{id}"
provider = "loopback"
model_name = "{name}"
family = "{name}"
tier = "{tier}"
input_per_mtok = {inp}
output_per_mtok = {out}
context_window = 128000
max_output_tokens = 8192
tokens_per_second = {tps}
first_token_seconds = 0.2
quality = {{ code = {q}, reasoning = {q}, general = {q} }}
price_source = "test"
price_date = 2025-01-01
"""

MODELS = [
    # id, tier, input $/Mtok, output $/Mtok, tokens/s, quality
    ("loop/cheap", "paid", 0.1, 0.4, 200, 6.0),
    ("loop/flaky", "paid", 0.15, 0.6, 150, 7.0),
    ("loop/mid", "paid", 1.0, 4.0, 100, 8.0),
    ("loop/premium", "paid", 3.0, 15.0, 60, 9.5),
    ("loop/local", "local", 0, 0, 40, 5.5),
]

MANIFEST = """
[[providers]]
name = "loopback"
protocol = "openai"
base_url = "http://127.0.0.1:9/v1"
key_env = "LOOPBACK_API_KEY"
base_url_env = "LOOPBACK_BASE_URL"

[[agents]]
name = "aria_coder_backend"
role_prompt = "You write backend code."
capability = "code"
variants = { speed = ["loop/flaky", "loop/cheap"], balanced = ["loop/mid", "loop/cheap"], quality = ["loop/premium", "loop/mid"] }

[[agents]]
name = "aria_docs"
role_prompt = "You write documentation."
capability = "general"
variants = { speed = ["loop/cheap", "loop/local"], balanced = ["loop/mid"], quality = ["loop/premium"] }

[[strategies]]
name = "balanced"
aliases = ["intelligent_auto"]
weight_cost = 1.0
weight_speed = 1.0
weight_quality = 1.0
speed_max_complexity = 3
quality_min_complexity = 7

[[strategies]]
name = "speed_first"
weight_cost = 0.5
weight_speed = 3.0
weight_quality = 0.5
speed_max_complexity = 4
quality_min_complexity = 8

[[policies]]
name = "code"
max_cost_per_task = 2.0
max_tokens = 4096
temperature = 0.2
"""


def write_catalog(directory: Path) -> Catalog:
    """Write the manifest into `directory` and load it as the whole catalogue."""
    directory.mkdir(parents=True, exist_ok=True)
    models = "".join(
        _MODEL.format(id=i, name=i.split("/")[1], tier=t, inp=a, out=b, tps=s, q=q) for i, t, a, b, s, q in MODELS
    )
    (directory / "test.toml").write_text(MANIFEST + models, encoding="utf-8")
    return load_catalog(base=directory)
