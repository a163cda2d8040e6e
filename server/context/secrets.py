"""What must never leave the machine: secret-looking files and secret-shaped text.

A file is refused by name (`.env*`, `*.pem`, `*.key`, `id_rsa`-style keys, credential stores
such as `.netrc`, `.npmrc`, `.pypirc`, `credentials.json`, keystores) or by a caller's extra
glob patterns; a chunk of text is refused when it holds a token-shaped secret: a cloud or
forge access key, an `sk-...` API key, a private key block, a JWT, a URL with a password, or a
long high-entropy literal assigned to a name like *key*/*secret*/*token*/*password*.
Detection errs towards refusing: a refused chunk costs a little context, a leaked key costs
the key.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Sequence

__all__ = ["SECRET_FILE_PATTERNS", "has_secret", "is_secret_path", "secret_offsets"]

SECRET_FILE_PATTERNS: tuple[str, ...] = (
    ".env", ".env.*", "*.env", ".envrc", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore",
    "*.kdbx", "*.gpg", "*.asc", "*.crt", "*.cer", "*.der", "*.ppk", "id_rsa*", "id_dsa*", "id_ecdsa*",
    "id_ed25519*", "*_rsa", "*_dsa", "*_ed25519", ".netrc", "_netrc", ".npmrc", ".pypirc", ".pgpass",
    ".git-credentials", ".dockercfg", "credentials", "credentials.json", "credentials.yml",
    "credentials.yaml", "*credentials*.json", "secrets.json", "secrets.yml", "secrets.yaml",
    "*.secret", "*.secrets", "htpasswd", ".htpasswd", "service-account*.json", "*.tfvars",
    "*.tfstate", "*.tfstate.*",
)
# Directories whose every file is a credential store.
_SECRET_DIRS = frozenset({".ssh", ".aws", ".gnupg", ".docker", ".kube"})

# Each starts with a literal, so the regex engine can skip ahead to it: one pass per pattern
# is far faster than one alternation with a word boundary in front.
_TOKEN_PATTERNS = tuple(
    re.compile(p)
    for p in (
        r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}(?![0-9A-Za-z])",  # AWS access key id
        r"gh[pousr]_[A-Za-z0-9]{36,}",  # GitHub tokens
        r"github_pat_[A-Za-z0-9_]{40,}",
        r"glpat-[A-Za-z0-9_\-]{20,}",  # GitLab
        r"sk-(?:proj-|ant-|or-)?[A-Za-z0-9_\-]{20,}",  # OpenAI / Anthropic / OpenRouter style
        r"xox[abposr]-[A-Za-z0-9-]{10,}",  # Slack
        r"AIza[0-9A-Za-z_\-]{35}",  # Google API key
        r"(?:sk|rk|pk)_live_[0-9A-Za-z]{20,}",  # Stripe
        r"npm_[A-Za-z0-9]{36}",
        r"pypi-[A-Za-z0-9_\-]{50,}",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}",  # JWT
        r"://[^/\s:@'\"]+:[^/\s@'\"]{3,}@[^\s'\"]+",  # URL with a password
    )
)
# A quoted literal of 12+ characters with no space: the only candidates for an assigned secret.
_LITERAL = re.compile(r"""["']([^"'\s]{12,})["']""")
# ... assigned to a name that says it holds a secret (what precedes the literal on its line).
_ASSIGNED_TO = re.compile(
    r"""(?i)(?:key|secret|token|passwd|password|pwd|credential|auth(?!or))[A-Za-z0-9_.\-]*["']?\s*(?:=|:|=>|:=)\s*[bru]?$"""
)
# How far before a literal its name and `=` may start.
_NAME_WINDOW = 256
_EMAIL = re.compile(r"^[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+$")
_PLACEHOLDER = re.compile(r"(?i)^(?:x+|\*+|\.+|<.*>|\$\{.*\}|\{\{.*\}\}|%\(.*\)s|your[_-].*|example.*|change.?me.*|dummy.*|test.*|fake.*)$")


_SECRET_NAME = re.compile("|".join(fnmatch.translate(p) for p in SECRET_FILE_PATTERNS))


def is_secret_path(path: str, extra_patterns: Sequence[str] = ()) -> bool:
    """True when `path` (relative, `/`-separated) names a secret file or matches an extra glob."""
    parts = path.split("/")
    if any(part in _SECRET_DIRS for part in parts[:-1]):
        return True
    if _SECRET_NAME.match(parts[-1].lower()):
        return True
    return any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(parts[-1], p) for p in extra_patterns)


def _entropy(value: str) -> float:
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def _looks_random(value: str) -> bool:
    if _PLACEHOLDER.match(value) or _EMAIL.match(value) or " " in value:
        return False
    classes = sum(bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]"))
    return classes >= 2 and _entropy(value) >= 3.5


# Literals each token pattern needs (same order): a pattern whose literals are all absent from
# a text cannot match it, and `in` scans far faster than a regex.
_TOKEN_LITERALS: tuple[tuple[str, ...], ...] = (
    ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"), ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    ("github_pat_",), ("glpat-",), ("sk-",), ("xox",), ("AIza",), ("_live_",), ("npm_",), ("pypi-",),
    ("-----BEGIN ",), ("eyJ",), ("://",),
)


def secret_offsets(text: str) -> list[int]:
    """Character offsets in `text` where a token-shaped secret starts (see the module docstring)."""
    found = [
        m.start() for pattern, literals in zip(_TOKEN_PATTERNS, _TOKEN_LITERALS, strict=True)
        if any(literal in text for literal in literals) for m in pattern.finditer(text)
        # a token starts a word: `task-...` is not an `sk-` key
        if m.start() == 0 or pattern is _TOKEN_PATTERNS[-1] or not (text[m.start() - 1].isalnum()
                                                                     or text[m.start() - 1] == "_")
    ]
    # Assignments: a random-looking literal whose line names a secret just before it (its offset is
    # the literal's). Only the last _NAME_WINDOW characters of the line before it are read: reading
    # from the line's start made a long line quadratic (minified code, a one-line JSON fixture: a
    # 142,000-character line took 10 s).
    for m in _LITERAL.finditer(text):
        lo = max(0, m.start() - _NAME_WINDOW)
        newline = text.rfind("\n", lo, m.start())
        if _ASSIGNED_TO.search(text, newline + 1 if newline >= 0 else lo, m.start()) and _looks_random(m.group(1)):
            found.append(m.start())
    return sorted(set(found))


def has_secret(text: str) -> bool:
    """True when `text` holds a token-shaped secret (see the module docstring)."""
    return bool(secret_offsets(text))
