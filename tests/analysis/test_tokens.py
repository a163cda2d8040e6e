"""Token counting: tiktoken's offline cl100k encoding, and the documented estimate without it."""

from __future__ import annotations

import subprocess
import sys

from server.analysis.tokens import count_tokens, estimate_tokens, token_counter_status

SAMPLES = (
    "Implement payment integration with Stripe API and retry failed webhooks with exponential backoff.",
    "def add(a: int, b: int) -> int:\n    return a + b\n\nprint(add(2, 3))\n",
    "Fix the race condition in JobQueue.claim() that lets two workers process job_id=42 twice.",
)


def test_counts_with_the_offline_cl100k_encoding() -> None:
    assert token_counter_status() == "tiktoken:cl100k_base"
    assert count_tokens("hello world") == 2
    assert count_tokens("") == 0


def test_estimate_stays_within_a_third_of_tiktoken() -> None:
    for text in SAMPLES:
        exact, guess = count_tokens(text), estimate_tokens(text)
        assert abs(guess - exact) <= exact / 3, (text, exact, guess)


def test_without_tiktoken_counts_fall_back_to_the_estimate_and_never_crash() -> None:
    # A fresh interpreter in which `import tiktoken` fails, as on a machine without the package.
    code = (
        "import sys; sys.modules['tiktoken'] = None\n"
        "from server.analysis.tokens import count_tokens, estimate_tokens, token_counter_status\n"
        "text = 'Build shopping cart UI components with add/remove functionality'\n"
        "assert count_tokens(text) == estimate_tokens(text) > 0\n"
        "print(token_counter_status())\n"
    )
    # Our own interpreter and a fixed script: no shell, no outside input.
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "estimate"
