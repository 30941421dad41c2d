"""One error root and one exit-code map for the whole tool.

Every error a user can cause is an :class:`AutomlError` subclass carrying a one-line
message and a hint that says how to fix it. ``cli`` maps the class to an exit code and
prints ``error: … / hint: …``; tracebacks are shown only with ``--debug``.
This module imports nothing heavy so that every layer (core, store, steps, cli) can use it.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "EXIT_ARTIFACT",
    "EXIT_BAD_DATA",
    "EXIT_GATE",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_LOCKED",
    "EXIT_OK",
    "EXIT_PIPE_CLOSED",
    "EXIT_TERMINATED",
    "EXIT_USAGE",
    "ArtifactCorruptError",
    "ArtifactError",
    "ArtifactNotFoundError",
    "ArtifactTooLarge",
    "AutomlError",
    "BudgetError",
    "DataError",
    "LimitError",
    "LockedError",
    "OutOfMemoryError",
    "QualityGateError",
    "StorageError",
    "Terminated",
    "UsageError",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_BAD_DATA = 3
EXIT_ARTIFACT = 4
EXIT_GATE = 5
EXIT_LOCKED = 6
EXIT_INTERRUPTED = 130
EXIT_PIPE_CLOSED = 141  # stdout's reader closed it early (128 + SIGPIPE), as for `cat`
EXIT_TERMINATED = 143  # SIGTERM (`kill PID`, a container or CI job stopped): 128 + 15


class AutomlError(Exception):
    """Root of every error a user can cause; ``exit_code`` is what the process returns."""

    exit_code: int = EXIT_INTERNAL
    default_hint: str = "run again with --debug to see where it happened"

    def __init__(self, message: str, hint: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The error as the ``--json`` document describes it."""
        return {
            "error": type(self).__name__,
            "message": self.message,
            "hint": self.hint,
            "exit_code": self.exit_code,
            **({"details": self.details} if self.details else {}),
        }


class UsageError(AutomlError):
    """A flag or argument that cannot work (exit 2)."""

    exit_code = EXIT_USAGE
    default_hint = "see 'automl COMMAND --help' for the accepted values"


class DataError(AutomlError):
    """Input data that cannot be read or used (exit 3)."""

    exit_code = EXIT_BAD_DATA
    default_hint = "check the file's path, format and columns"


class ArtifactError(AutomlError):
    """An artifact is missing, corrupt or incompatible (exit 4)."""

    exit_code = EXIT_ARTIFACT
    default_hint = "list what exists with 'automl runs list'"


class ArtifactNotFoundError(ArtifactError):
    """The reference points at nothing in the project."""


class ArtifactCorruptError(ArtifactError):
    """A file's bytes do not match the sha256 its manifest recorded, or the manifest is unreadable."""

    default_hint = (
        "the artifact was changed after it was written; do not use it — re-create it with the "
        "step that made it"
    )


class QualityGateError(AutomlError):
    """A quality gate refused the result (exit 5)."""

    exit_code = EXIT_GATE
    default_hint = "the result was kept; inspect it, or relax the gate"


class LimitError(AutomlError):
    """No model meets a deployment limit (``--max-latency-ms``, ``--max-batch-ms-per-1k``,
    ``--max-model-mb``): exit 5, like a failed quality gate, and no model is saved."""

    exit_code = EXIT_GATE
    default_hint = "relax the limit, or try faster or smaller --models such as linear,lgbm"


class BudgetError(AutomlError):
    """Not one trial finished within ``--time-budget``: exit 5, like a limit no model keeps
    to; the budget is kept and no model is saved."""

    exit_code = EXIT_GATE
    default_hint = "raise --time-budget, or try cheaper --models such as linear,lgbm"


class ArtifactTooLarge(LimitError):
    """A version would be bigger than its writer's ``max_bytes``; nothing was committed."""


class OutOfMemoryError(AutomlError):
    """The work did not fit in the memory this process may use (exit 3: the input is too big
    for this machine or its limit, not a bug)."""

    exit_code = EXIT_BAD_DATA
    default_hint = (
        "use a machine (or a memory limit) with more room, a sample of the table, or for "
        "predict a smaller --batch-size; nothing was saved half-way"
    )


class LockedError(AutomlError):
    """Another automl process holds the project lock (exit 6)."""

    exit_code = EXIT_LOCKED
    default_hint = "wait for the other run to finish, or raise --lock-timeout"


class StorageError(AutomlError):
    """The project cannot be written: the disk is full, a file-size or quota limit was hit, or
    the project directory is read-only or not ours (exit 3, like running out of memory: the
    environment cannot hold the work, which is not a bug). Nothing is saved half-way."""

    exit_code = EXIT_BAD_DATA
    default_hint = (
        "free disk space (or raise the file-size/quota limit), or point --project at a writable "
        "directory; earlier versions are untouched and nothing was saved half-way"
    )


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt so that every
    ``finally`` and ``except BaseException`` cleanup runs (a half-built version's temp folder
    is removed); the process then exits 143 (:data:`EXIT_TERMINATED`)."""
