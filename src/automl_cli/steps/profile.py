"""``automl profile``: read a table, describe it, and save a ``profile`` artifact."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_cli.config import Resolved
from automl_cli.steps._common import config_doc, noop, open_step
from automl_cli.store import Artifact, Project

if TYPE_CHECKING:
    import pandas as pd

    from automl_cli.core.io import TableInfo

__all__ = ["run_profile", "write_profile"]

DEFAULTS: dict[str, Any] = {"target": None, "seed": 0}


def write_profile(
    project: Project,
    frame: pd.DataFrame,
    info: TableInfo,
    config: dict[str, Resolved],
    say: Callable[[str], None] = noop,
) -> tuple[Artifact, dict[str, Any]]:
    """Profile an already-read table into a new ``profile`` version (shared with ``prep``)."""
    from automl_cli.core.profiling import profile_frame
    from automl_cli.core.report import render_profile_html

    target = config["target"].value
    seed = int(config["seed"].value)
    say(f"profiling {info.rows:,} rows × {info.columns} columns")
    profile = profile_frame(frame, target, seed=seed)
    title = "stdin" if info.path == "-" else Path(info.path).name
    html = render_profile_html(profile, title=title, source=info.to_dict())
    say("saving the profile artifact")
    with project.new_artifact("profile", seed=seed) as writer:
        writer.add_input(info.path, info.sha256, info.size, rows=info.rows, format=info.format)
        for name, value in config.items():
            writer.set_config(name, value.value, value.source)
        writer.summary.update({"data_sha256": info.sha256, "target": target, "format": info.format})
        writer.metrics.update(
            {"rows": info.rows, "columns": info.columns, "warnings": len(profile["warnings"])}
        )
        writer.write_json("profile.json", profile)
        writer.write_text("report.html", html)
    assert writer.result is not None
    return writer.result, profile


def run_profile(
    project_dir: Path,
    data: str,
    *,
    target: str | None = None,
    seed: int | None = None,
    lock_timeout: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Profile ``data`` and write ``profile/vNNNN`` (profile.json, report.html, manifest)."""
    from automl_cli.core.io import check_target, read_table

    say = progress or noop
    project, config = open_step(
        project_dir,
        "profile",
        {"target": target, "seed": seed, "lock_timeout": lock_timeout},
        DEFAULTS,
    )
    say(f"reading {data}")
    frame, info = read_table(data)
    if config["target"].value is not None:
        check_target(list(frame.columns), config["target"].value, path=info.path)
    artifact, profile = write_profile(project, frame, info, config, say)
    return {
        "command": "profile",
        "artifact": artifact.ref,
        "path": str(artifact.path),
        "report": str(artifact.path / "report.html"),
        "data": info.to_dict(),
        "dataset": profile["dataset"],
        "target": profile["target"],
        "columns": [
            {
                "name": c["name"],
                "semantic_type": c["semantic_type"],
                "missing_share": c["missing_share"],
                "distinct": c["distinct"],
            }
            for c in profile["columns"]
        ],
        "warnings": profile["warnings"],
        "config": config_doc(config),
    }
