"""One config resolver: CLI flag > environment ``AUTOML_*`` > project ``automl.toml`` > default.

Every resolved value keeps its source, which goes into the manifest and is shown with
``--verbose``. ``automl.toml`` may set keys at top level (all commands) or in a table named
after a command (``[profile]``, ``[search]`` …), which wins over the top level.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automl_cli.errors import UsageError

__all__ = ["Resolved", "load_project_config", "resolve"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True)
class Resolved:
    value: Any
    source: str  # "cli" | "env:AUTOML_X" | "automl.toml" | "default"


def load_project_config(path: Path) -> dict[str, Any]:
    """Read ``automl.toml``; a syntax error is a usage error that names the line."""
    if not path.is_file():
        return {}
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(
            f"{path} is not valid TOML: {exc}",
            hint="fix the file (see the README for its keys) or remove it",
        ) from None


def _coerce(name: str, raw: Any, like: Any, origin: str) -> Any:
    if like is None or raw is None:
        return raw
    try:
        if isinstance(like, bool):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(raw)
        if isinstance(like, int):
            return int(raw)
        if isinstance(like, float):
            return float(raw)
        if isinstance(like, list | tuple):
            if isinstance(raw, str):
                return [part.strip() for part in raw.split(",") if part.strip()]
            return list(raw)
        return str(raw)
    except (TypeError, ValueError):
        raise UsageError(
            f"{origin} sets {name} to {raw!r}, which is not a {type(like).__name__}",
            hint=f"give {name} a {type(like).__name__} value",
        ) from None


def resolve(
    command: str,
    cli_values: dict[str, Any],
    defaults: dict[str, Any],
    project_config: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> dict[str, Resolved]:
    """Resolve each name in ``defaults``; a ``None`` CLI value means "not given on the command line"."""
    env = os.environ if environ is None else environ
    cfg = project_config or {}
    section = cfg.get(command, {}) if isinstance(cfg.get(command), dict) else {}
    out: dict[str, Resolved] = {}
    for name, default in defaults.items():
        env_name = f"AUTOML_{name.upper()}"
        if cli_values.get(name) is not None:
            out[name] = Resolved(cli_values[name], "cli")
        elif env_name in env:
            out[name] = Resolved(_coerce(name, env[env_name], default, env_name), f"env:{env_name}")
        elif name in section:
            value = _coerce(name, section[name], default, f"automl.toml [{command}]")
            out[name] = Resolved(value, "automl.toml")
        elif name in cfg and not isinstance(cfg[name], dict):
            out[name] = Resolved(_coerce(name, cfg[name], default, "automl.toml"), "automl.toml")
        else:
            out[name] = Resolved(default, "default")
    return out
