"""A small catalogue overlay for scheduler tests: two loopback providers and one test agent.

    loopa/fast, loopa/fast2, loopb/fast   free      (speed chain: loopa/fast -> loopa/fast2 -> loopb/fast)
    loopa/mid                             paid      (balanced)
    loopa/best                            paid      (quality)
    loopa/tiny                            free, a 700-token window (too small for big prompts)

Every model but loopa/fast2 takes tool calls (agent mode).
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import isolated_env

__all__ = ["MODELS", "loop_env", "write_overlay"]

MODELS = {
    "loopa/fast": ("loopa", "fast-a", "free", 0.0, 0.0, 32768),
    "loopa/fast2": ("loopa", "fast-a2", "free", 0.0, 0.0, 32768),
    "loopb/fast": ("loopb", "fast-b", "free", 0.0, 0.0, 32768),
    "loopa/mid": ("loopa", "mid-a", "paid", 1.0, 2.0, 65536),
    "loopa/best": ("loopa", "best-a", "paid", 3.0, 15.0, 65536),
    "loopa/tiny": ("loopa", "tiny-a", "free", 0.0, 0.0, 700),
}

_PROVIDER = """
[[providers]]
name = "{name}"
protocol = "openai"
base_url = "http://127.0.0.1:9/v1"
key_env = "{env}_API_KEY"
base_url_env = "{env}_BASE_URL"
{extra}
"""

_MODEL = """
[[models]]
id = "{id}"
provider = "{provider}"
model_name = "{name}"
family = "{name}"
tier = "{tier}"
input_per_mtok = {inp}
output_per_mtok = {out}
context_window = {ctx}
max_output_tokens = 2048
tokens_per_second = 500
first_token_seconds = 0.1
quality = {{ code = 6.0, general = 6.0 }}
price_source = "test"
price_date = 2025-01-01
tool_calling = {tools}
"""


def write_overlay(
    directory: Path,
    *,
    speed: tuple[str, ...] = ("loopa/fast", "loopa/fast2", "loopb/fast"),
    balanced: tuple[str, ...] = ("loopa/mid",),
    quality: tuple[str, ...] = ("loopa/best",),
    provider_extra: str = "",
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    text = _PROVIDER.format(name="loopa", env="LOOPA", extra=provider_extra)
    text += _PROVIDER.format(name="loopb", env="LOOPB", extra=provider_extra)
    for model_id, (provider, name, tier, inp, out, ctx) in MODELS.items():
        text += _MODEL.format(id=model_id, provider=provider, name=name, tier=tier, inp=inp, out=out, ctx=ctx,
                              tools="false" if model_id == "loopa/fast2" else "true")

    def chain(models: tuple[str, ...]) -> str:
        return "[" + ", ".join(f'"{m}"' for m in models) + "]"

    text += f"""
[[agents]]
name = "tcoder"
description = "test agent"
role_prompt = "You are a careful test coder."
capability = "code"
variants = {{ speed = {chain(speed)}, balanced = {chain(balanced)}, quality = {chain(quality)} }}
"""
    (directory / "loop.toml").write_text(text, encoding="utf-8")
    return directory


def loop_env(tmp_path: Path, base_url: str, **extra: str) -> dict[str, str]:
    """An isolated environment pointing both loop providers at one loopback server."""
    overlay = write_overlay(tmp_path / "manifests")
    return isolated_env(
        tmp_path,
        PWM_MANIFESTS=str(overlay),
        LOOPA_BASE_URL=base_url,
        LOOPB_BASE_URL=base_url,
        LOOPA_API_KEY="test-key-a",
        LOOPB_API_KEY="test-key-b",
        PWM_STALL_TIMEOUT_S="1",
        **extra,
    )
