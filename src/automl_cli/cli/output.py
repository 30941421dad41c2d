"""All console output goes through here: human text on stderr, the ``--json`` document on stdout.

``--json`` is a rendering of the same result dict, not a second code path. Rich honours
``NO_COLOR`` and drops colour and animation when stderr is not a terminal.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape

from automl_cli.errors import AutomlError

__all__ = ["Output"]


@dataclass
class Output:
    json_mode: bool = False
    quiet: bool = False
    verbose: bool = False
    debug: bool = False
    err: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))
    _t0: float = field(default_factory=time.monotonic)

    # -- human text (stderr) ----------------------------------------------------------------
    def info(self, message: str) -> None:
        if not self.quiet:
            self.err.print(message)

    def detail(self, message: str) -> None:
        """Shown only with --verbose."""
        if self.verbose and not self.quiet:
            self.err.print(f"[dim]{message}[/dim]")

    def warn(self, message: str) -> None:
        if not self.quiet:
            self.err.print(f"[bold yellow]warning:[/bold yellow] {escape(message)}")

    def error(self, exc: AutomlError) -> None:
        """``error: … / hint: …`` on stderr (always, even with --quiet); JSON too with --json."""
        self.err.print(f"[bold red]error:[/bold red] {escape(exc.message)}", soft_wrap=True)
        if exc.hint:
            self.err.print(f"[bold]hint:[/bold] {escape(exc.hint)}", soft_wrap=True)
        if self.debug:
            self.err.print(escape("".join(traceback.format_exception(exc))), soft_wrap=True)
        if self.json_mode:
            self._stdout_json({"ok": False, **exc.to_dict()})

    def internal_error(self, exc: BaseException) -> None:
        self.err.print(
            f"[bold red]error:[/bold red] internal error: {escape(type(exc).__name__)}: "
            f"{escape(str(exc))}",
            soft_wrap=True,
        )
        if self.debug:
            self.err.print(escape("".join(traceback.format_exception(exc))), soft_wrap=True)
        else:
            self.err.print(
                "[bold]hint:[/bold] this is a bug in automl; run again with --debug and report "
                "the traceback",
                soft_wrap=True,
            )
        if self.json_mode:
            self._stdout_json(
                {"ok": False, "error": "InternalError", "message": str(exc), "exit_code": 1}
            )

    # -- progress ---------------------------------------------------------------------------
    @contextmanager
    def progress(self) -> Iterator[Callable[[str], None]]:
        """A callback for steps: a spinner on a terminal, plain timed lines otherwise."""
        if self.quiet:
            yield lambda _msg: None
            return
        if self.err.is_terminal:
            with self.err.status("starting…") as status:
                yield lambda msg: status.update(escape(msg))
            return

        def line(msg: str) -> None:
            self.err.print(f"[{time.monotonic() - self._t0:6.1f}s] {escape(msg)}", soft_wrap=True)

        yield line

    # -- results ----------------------------------------------------------------------------
    def result(
        self, doc: dict[str, Any], render: Callable[[Console, dict[str, Any]], None]
    ) -> None:
        """Print the step's result: JSON on stdout with --json, else the human rendering."""
        if self.json_mode:
            self._stdout_json({"ok": True, **doc})
        elif not self.quiet:
            render(self.err, doc)

    def _stdout_json(self, doc: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(doc, indent=2, default=str, allow_nan=False) + "\n")
        sys.stdout.flush()
