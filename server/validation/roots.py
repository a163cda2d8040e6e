"""Confine a client-given path to the allowed roots.

The allowed roots are, in order of preference: the roots the MCP client offers, else the
configured `allowed_roots`, else the server's working directory. A path is resolved (symlinks
followed) before it is compared, so `..` escapes, symlinks pointing out and absolute paths
elsewhere are all refused the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from server.errors import WorkspaceError

__all__ = ["allowed_roots", "confine_path", "roots_from_uris"]


def roots_from_uris(uris: Iterable[str]) -> list[Path]:
    """The local directories named by `file://` root URIs; other schemes are ignored."""
    paths: list[Path] = []
    for uri in uris:
        parsed = urlparse(str(uri))
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            continue
        paths.append(Path(unquote(parsed.path)))
    return paths


def allowed_roots(
    client_roots: Sequence[Path] | None, configured: Sequence[Path], cwd: Path | None = None
) -> tuple[Path, ...]:
    """The roots that apply: the client's when it offered any, else configured, else `cwd`."""
    chosen: Sequence[Path]
    if client_roots:
        chosen = client_roots
    elif configured:
        chosen = configured
    else:
        chosen = [cwd or Path(os.getcwd())]
    out: list[Path] = []
    for root in chosen:
        resolved = Path(root).expanduser().resolve()
        if resolved not in out:
            out.append(resolved)
    return tuple(out)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def confine_path(path: str, roots: Sequence[Path], *, field: str = "path") -> Path:
    """Resolve `path` (relative paths against the first root) and check it lies inside a root.

    Returns the resolved directory.

    Raises:
        WorkspaceError: empty, missing, not a directory, or outside every allowed root; the
            message names `field` and lists the allowed roots.
    """
    shown_roots = ", ".join(str(r) for r in roots) or "(none)"
    if not roots:
        raise WorkspaceError(f"{field}: no allowed roots are configured; set allowed_roots")
    if not path or not path.strip():
        raise WorkspaceError(f"{field}: must not be empty; pass a directory inside {shown_roots}")
    if "\x00" in path:
        raise WorkspaceError(f"{field}: contains a NUL byte")
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = roots[0] / candidate
    try:
        resolved = candidate.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        raise WorkspaceError(f"{field}: {path!r} does not exist (allowed roots: {shown_roots})") from None
    except (OSError, RuntimeError) as exc:  # symlink loops, permission problems
        raise WorkspaceError(f"{field}: {path!r} cannot be resolved: {exc}") from None
    if not any(_inside(resolved, root) for root in roots):
        raise WorkspaceError(
            f"{field}: {path!r} resolves to {resolved}, outside the allowed roots ({shown_roots}); "
            "pass a directory inside one of them"
        )
    if not resolved.is_dir():
        raise WorkspaceError(f"{field}: {path!r} is not a directory")
    return resolved
