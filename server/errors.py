"""Every error the engine expects to raise, in one tree.

    PWMError                      anything we raise on purpose
    ├── ManifestError             a manifest file does not parse or validate (file, key, problem)
    ├── ConfigError               the config file or environment is wrong
    ├── InputError                a caller's argument is wrong (field, accepted values)
    ├── NotFoundError             an unknown group / task id or name
    ├── BudgetExceeded            a call would pass a budget or a per-task cap
    │   └── BudgetRefused         the ledger refused a paid call: which budget, limit, spent, reserved
    ├── NoRouteError              no configured, healthy provider can serve a task
    ├── StoreError                the database cannot be read or written
    ├── WorkspaceError            a path outside the allowed roots, not a directory, dirty tree
    │   └── PatchApplyError       a patch is empty or does not apply (git's own explanation)
    └── BackendError              a model call failed; `retryable` says whether to try again
        ├── BackendTimeout        connect / read timeout, or a stream that stalled
        │   └── BackendCallTimeout  the call's own first-byte / stall / total limit: try elsewhere
        ├── BackendRateLimited    429 (or 503 from a busy local server); `retry_after` seconds
        ├── BackendAuthError      401 / 403: misconfigured key, never retried
        ├── BackendNotFound       404: unknown model on that provider, never retried
        ├── BackendBadResponse    malformed body, truncated stream, 5xx
        │   └── BackendBadRequest 400 / 422 not about context: wrong for this model, not retried
        └── ContextTooLarge       the prompt does not fit the model's window (never sent)

At the MCP edge every PWMError becomes a `ToolError` (the text the client's model reads);
anything else is a bug and is left to surface.
"""

from __future__ import annotations

__all__ = [
    "BackendAuthError",
    "BackendBadRequest",
    "BackendBadResponse",
    "BackendCallTimeout",
    "BackendError",
    "BackendNotFound",
    "BackendRateLimited",
    "BackendTimeout",
    "BudgetExceeded",
    "BudgetRefused",
    "ConfigError",
    "ContextTooLarge",
    "InputError",
    "ManifestError",
    "NoRouteError",
    "NotFoundError",
    "PWMError",
    "PatchApplyError",
    "StoreError",
    "WorkspaceError",
    "not_a_repository",
]


class PWMError(Exception):
    """Base of every error we raise on purpose."""


class ManifestError(PWMError):
    """A manifest file is broken; the message names the file, the key and the problem."""


class ConfigError(PWMError):
    """The configuration file or an environment variable is wrong."""


class InputError(PWMError):
    """A caller's argument is wrong; the message names the field and the accepted values."""

    def __init__(self, field: str, problem: str, accepted: str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.accepted = accepted
        text = f"{field}: {problem}"
        if accepted:
            text += f" (accepted: {accepted})"
        super().__init__(text)


class NotFoundError(PWMError):
    """An unknown group or task; `kind` ("group" or "task") and `key` (the id or name asked for)
    let the MCP edge name the argument that carried it and where valid ones are found."""

    def __init__(self, message: str, *, kind: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.key = key


class BudgetExceeded(PWMError):
    """A call would pass a budget (daily / weekly / monthly / group) or a per-task cap."""


class BudgetRefused(BudgetExceeded):
    """A paid call refused by the ledger; says which budget and the figures."""

    def __init__(self, budget: str, limit: float, spent: float, reserved: float, estimate: float,
                 stop_at: float) -> None:
        self.budget, self.limit, self.spent = budget, limit, spent
        self.reserved, self.estimate, self.stop_at = reserved, estimate, stop_at
        stop = f" (paused at {stop_at:.0%})" if stop_at != 1.0 else ""
        super().__init__(
            f"{budget} budget reached: limit ${limit:.4f}{stop}, spent ${spent:.4f}, reserved"
            f" ${reserved:.4f} by calls in flight, this call's estimate ${estimate:.4f}. Paid models"
            " are paused for it; free and local models still run. Raise the limit or wait for the"
            " period to reset."
        )


class NoRouteError(PWMError):
    """No configured, healthy provider can serve a task; the message lists why each was left out."""


class StoreError(PWMError):
    """The database cannot be read or written."""


class WorkspaceError(PWMError):
    """A workspace path is outside the allowed roots, missing, or in the wrong state."""


def not_a_repository(field: str, path: object, git_said: str) -> WorkspaceError:
    """The error for a path git does not take as a repository. git's own refusal of a repository
    owned by another user ("dubious ownership": shared drives, containers, WSL mounts) is not
    the same as "no repository here", and its fix differs."""
    if "dubious ownership" in git_said or "safe.directory" in git_said:
        return WorkspaceError(
            f"{field}: git refuses the repository at {str(path)!r}: it is owned by another user (git's "
            "'dubious ownership' check); if you trust it, run `git config --global --add safe.directory "
            f"{path}` and call again"
        )
    return WorkspaceError(
        f"{field}: {str(path)!r} is not inside a git repository; pass the directory of a git "
        "checkout (or run `git init` there and commit the files)"
    )


class PatchApplyError(WorkspaceError):
    """A patch does not apply; the message carries git's own explanation."""


class BackendError(PWMError):
    """A model call failed."""

    retryable: bool = True
    error_class: str = "backend_error"
    # The provider's rate-limit headers on this failure (a backends.base.RateLimitInfo), if any.
    rate_limits: object | None = None
    # OpenRouter's generation id of a cut-off stream, so its cost can still be reconciled.
    generation_id: str | None = None

    def __init__(self, message: str, *, status: int | None = None, provider_cost: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        # Some providers still bill a failed or cut-off call; the scheduler charges it.
        self.provider_cost = provider_cost


class BackendTimeout(BackendError):
    error_class = "timeout"


class BackendCallTimeout(BackendTimeout):
    """The call hit its own limit: no first event (`first_byte`), a silence mid-stream (`stall`)
    or the whole-call deadline (`total`). The provider may be fine for others: retry elsewhere."""

    def __init__(self, message: str, *, phase: str, provider_cost: float | None = None) -> None:
        super().__init__(message, provider_cost=provider_cost)
        self.phase = phase


class BackendRateLimited(BackendError):
    error_class = "rate_limited"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        provider_cost: float | None = None,
    ) -> None:
        super().__init__(message, status=status, provider_cost=provider_cost)
        self.retry_after = retry_after


class BackendAuthError(BackendError):
    retryable = False
    error_class = "auth"


class BackendNotFound(BackendError):
    retryable = False
    error_class = "not_found"


class BackendBadResponse(BackendError):
    error_class = "bad_response"


class BackendBadRequest(BackendBadResponse):
    """400 / 422 not about context size: the request is wrong for this model.

    Retrying the same request cannot help; falling back to another model can.
    """

    retryable = False
    error_class = "bad_request"


class ContextTooLarge(BackendError):
    retryable = False
    error_class = "context_too_large"
