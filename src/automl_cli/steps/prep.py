"""``automl prep``: fit the preprocessing every model family consumes, with its input schema.

Reads the table and the newest profile made from the same bytes (sha256) and target,
profiling first when there is none, and writes a ``prep`` artifact:
``preprocessor.json`` (the fitted state, plain JSON: loading it runs no code),
``schema.json`` (what predict will demand of new data) and ``decisions.md``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_cli.config import Resolved
from automl_cli.errors import ArtifactCorruptError, DataError, UsageError
from automl_cli.steps._common import config_doc, noop, open_step
from automl_cli.steps.profile import write_profile
from automl_cli.store import Artifact, Project

if TYPE_CHECKING:
    import pandas as pd

    from automl_cli.core.io import TableInfo
    from automl_cli.core.preprocessing import Preprocessor

__all__ = [
    "PREPROCESSOR_FILE",
    "ensure_profile",
    "load_preprocessor",
    "rows_with_target",
    "run_prep",
    "write_prep",
]

PREPROCESSOR_FILE = "preprocessor.json"
DEFAULTS: dict[str, Any] = {
    "target": None,
    "task": None,
    "drop": [],
    "keep": [],
    "max_categories": 20,
    "text": "tfidf",
    "seed": 0,
}


def load_preprocessor(artifact: Artifact) -> Preprocessor:
    """The fitted preprocessor of a ``prep`` artifact, after its sha256 is verified."""
    from automl_cli.core.preprocessing import Preprocessor

    path = artifact.file(PREPROCESSOR_FILE)  # raises ArtifactCorruptError on any mismatch
    try:
        return Preprocessor.from_dict(json.loads(path.read_text("utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactCorruptError(
            f"{artifact.ref}: {PREPROCESSOR_FILE} is unreadable ({exc})"
        ) from None


def _data_of(project: Project) -> str:
    """DATA omitted: reuse the table of the newest profile, if it is still there unchanged."""
    from automl_cli.hashing import sha256_file

    art = project.load("profile@latest")
    inputs = art.manifest.get("inputs", [])
    path = inputs[0]["path"] if inputs else "-"
    if path == "-" or not Path(path).is_file() or sha256_file(path) != inputs[0]["sha256"]:
        raise UsageError(
            f"no DATA given and the table of {art.ref} ({path}) is not available unchanged",
            hint="pass the table: automl prep DATA --target COLUMN",
        )
    return str(path)


def run_prep(
    project_dir: Path,
    data: str | None,
    *,
    target: str | None = None,
    task: str | None = None,
    drop: list[str] | None = None,
    keep: list[str] | None = None,
    max_categories: int | None = None,
    text: str | None = None,
    seed: int | None = None,
    lock_timeout: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    from automl_cli.core.io import check_target, read_table

    say = progress or noop
    project, config = open_step(
        project_dir,
        "prep",
        {
            "target": target,
            "task": task,
            "drop": drop or None,
            "keep": keep or None,
            "max_categories": max_categories,
            "text": text,
            "seed": seed,
            "lock_timeout": lock_timeout,
        },
        DEFAULTS,
    )
    target_name = config["target"].value
    if not target_name:
        raise UsageError(
            "prep needs the column to predict",
            hint="pass --target COLUMN (or set target in automl.toml)",
        )
    if config["text"].value not in ("tfidf", "drop"):
        raise UsageError(f"--text must be tfidf or drop, not {config['text'].value!r}")
    source = data if data is not None else _data_of(project)
    say(f"reading {source}")
    frame, info = read_table(source)
    check_target(list(frame.columns), target_name, path=info.path)
    profile_art, profile = ensure_profile(project, frame, info, config, say)
    frame, y, dropped_rows = rows_with_target(frame, target_name, info.path)
    art, prep = write_prep(project, frame, y, info, config, profile_art, profile, dropped_rows, say)
    return {
        "command": "prep",
        "artifact": art.ref,
        "path": str(art.path),
        "profile": profile_art.ref,
        "target": target_name,
        "task": prep.task_,
        "classes": prep.classes_,
        "rows_used": len(frame),
        "rows_without_target": dropped_rows,
        "features": art.manifest["summary"]["features"],
        "decisions": [d.__dict__ for d in prep.decisions_],
        "config": config_doc(config),
    }


def ensure_profile(
    project: Project,
    frame: pd.DataFrame,
    info: TableInfo,
    config: dict[str, Resolved],
    say: Callable[[str], None] = noop,
) -> tuple[Artifact, dict[str, Any]]:
    """The newest profile of these exact bytes and target, made now if there is none."""
    target = config["target"].value
    found = project.find("profile", data_sha256=info.sha256, target=target)
    if found is not None:
        return found, json.loads(found.file("profile.json").read_text("utf-8"))
    say("no profile of this table yet: profiling it first")
    profile_config = {k: config[k] for k in ("target", "seed", "lock_timeout")}
    return write_profile(project, frame, info, profile_config, say)


def rows_with_target(
    frame: pd.DataFrame, target: str, path: str
) -> tuple[pd.DataFrame, pd.Series, int]:
    """Rows that have a target value (the others cannot teach anything), and how many were not."""
    y = frame[target]
    has_target = y.notna() & (y.astype("string").str.strip() != "")
    dropped = int((~has_target).sum())
    if dropped == len(frame):
        raise DataError(
            f"the target '{target}' is empty in every row of {path}",
            hint="fill in the target column, or choose another column with --target",
        )
    if dropped:
        frame = frame.loc[has_target.to_numpy()]
    return frame.drop(columns=[target]), frame[target], dropped


def write_prep(
    project: Project,
    X: pd.DataFrame,
    y: pd.Series,
    info: TableInfo,
    config: dict[str, Resolved],
    profile_art: Artifact,
    profile: dict[str, Any],
    dropped_rows: int,
    say: Callable[[str], None] = noop,
) -> tuple[Artifact, Preprocessor]:
    """Fit the preprocessor on (X, y) and save it as a new ``prep`` version."""
    from automl_cli.core.preprocessing import Preprocessor

    say(f"fitting the preprocessing on {len(X):,} rows")
    prep = Preprocessor(
        profile=profile,
        target=config["target"].value,
        task=config["task"].value,
        drop=tuple(config["drop"].value),
        keep=tuple(config["keep"].value),
        max_categories=int(config["max_categories"].value),
        text=config["text"].value,
        seed=int(config["seed"].value),
    )
    prep.fit(X, y)
    widths = {v: prep.transform(X.head(50), variant=v).shape[1] for v in ("native", "encoded")}
    decisions = [d.__dict__ for d in prep.decisions_]
    say("saving the prep artifact")
    with project.new_artifact("prep", seed=int(config["seed"].value)) as writer:
        writer.add_input(info.path, info.sha256, info.size, rows=info.rows, format=info.format)
        writer.add_parent(profile_art)
        for name, value in config.items():
            if name in DEFAULTS or name == "lock_timeout":
                writer.set_config(name, value.value, value.source)
        writer.summary.update(
            {
                "data_sha256": info.sha256,
                "target": prep.target,
                "task": prep.task_,
                "features": widths,
            }
        )
        writer.metrics.update(
            {
                "rows_used": len(X),
                "rows_without_target": dropped_rows,
                "features_native": widths["native"],
                "features_encoded": widths["encoded"],
            }
        )
        writer.write_json(PREPROCESSOR_FILE, prep.to_dict())
        writer.write_json("schema.json", prep.schema_)
        writer.write_text("decisions.md", _decisions_markdown(decisions, prep, dropped_rows))
    assert writer.result is not None
    return writer.result, prep


def _decisions_markdown(decisions: list[dict[str, Any]], prep: Preprocessor, dropped: int) -> str:
    lines = [
        "# Preprocessing decisions",
        "",
        f"Target `{prep.target}` ({prep.task_}); {prep.n_rows_:,} training rows"
        + (f", {dropped:,} rows without a target dropped." if dropped else "."),
        "",
        "| column | action | why | detail |",
        "|---|---|---|---|",
    ]
    for d in decisions:
        detail = ", ".join(f"{k}: {v}" for k, v in d["detail"].items())
        lines.append(f"| `{d['name']}` | {d['action']} | {d['reason']} | {detail} |")
    return "\n".join(lines) + "\n"
