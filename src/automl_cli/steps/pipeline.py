"""``automl run`` and ``automl retrain``: the whole chain, skipping every unchanged step.

Each step's cache key is planned before it runs, from what decides its result: the data's
sha256, the parent artifacts' manifest sha256, the resolved settings and the seed
(``store.cache_key``). When an intact version with that key exists, the step is reported
as unchanged and its artifact is used; nothing is decided from timestamps. ``--force``
runs every step anyway.

The project lock is held for the whole chain, so two overlapping runs (cron) queue up: the
second waits up to ``--lock-timeout`` and then finds the first one's artifacts unchanged.

``retrain`` trains a challenger and promotes it over the champion only when it scores
better by at least ``--min-improvement`` on the same holdout rows. Without ``--holdout``,
the holdout is a fixed share of DATA chosen by a hash of each row's values: a row stays on
the same side from one day's table to the next, so the champion never trained on the
rows it is judged on either.

``retrain --refit-only`` runs profile → prep → refit instead of profile → prep → search: the
source model's (default: the champion's) preprocessing settings, families,
hyperparameters and weights, fitted again on the training rows (steps/refit.py), then
judged by the same rule.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_cli.config import Resolved
from automl_cli.errors import AutomlError, DataError, QualityGateError, UsageError
from automl_cli.hashing import sha256_file
from automl_cli.steps._common import config_doc, noop, open_step
from automl_cli.steps._limits import LIMIT_KEYS
from automl_cli.steps.evaluate import DEFAULTS as EVALUATE_DEFAULTS
from automl_cli.steps.prep import DEFAULTS as PREP_DEFAULTS
from automl_cli.steps.runs import CHAMPION, SPLITS_DIR
from automl_cli.steps.search import DEFAULTS as SEARCH_DEFAULTS
from automl_cli.store import Artifact, Project, cache_key

if TYPE_CHECKING:
    import pandas as pd

    from automl_cli.core.io import TableInfo
    from automl_cli.core.preprocessing import Preprocessor

__all__ = ["planned_key", "run_pipeline", "run_retrain"]

SPLIT_FORMAT = 1
MIN_HOLDOUT_ROWS = 20


def planned_key(
    kind: str,
    data_sha256: str | None,
    parents: list[Artifact],
    config: dict[str, Resolved],
    seed: int,
) -> str:
    """The cache key a step's manifest will carry, computed before the step runs."""
    return cache_key(
        {
            "kind": kind,
            "inputs": [] if data_sha256 is None else [{"sha256": data_sha256, "role": "data"}],
            "parents": [{"manifest_sha256": p.manifest_sha256} for p in parents],
            "config": {k: {"value": v.value} for k, v in config.items()},
            "seed": seed,
        }
    )


@dataclass
class Chain:
    """What one pass through the chain produced or reused, step by step."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    search: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    refit_s: float | None = None  # seconds the refit step fitted, when it ran now

    @property
    def model(self) -> Artifact | None:
        """The chain's model: made by the search step, or by the refit step (--refit-only)."""
        return self.artifacts.get("search") or self.artifacts.get("refit")

    def record(self, step: str, art: Artifact, created: bool, say: Callable[[str], None]) -> None:
        self.artifacts[step] = art
        status = "created" if created else "unchanged"
        self.steps.append({"step": step, "artifact": art.ref, "status": status})
        if not created:
            say(f"{step}: unchanged, using {art.ref}")

    def doc(self) -> list[dict[str, Any]]:
        return self.steps


_SEARCH_KWARGS = (
    "target",
    "time_budget",
    "trials",
    "metric",
    "task",
    "seed",
    "cv",
    "models",
    "lock_timeout",
    *LIMIT_KEYS,
)


def _search_cli(options: dict[str, Any]) -> dict[str, Any]:
    return {k: options.get(k) for k in _SEARCH_KWARGS} | {"models": options.get("models") or None}


def _chain(
    project_dir: Path,
    data: str,
    options: dict[str, Any],
    *,
    force: bool,
    started: float,
    say: Callable[[str], None],
) -> Chain:
    """profile → prep → search on ``data``, each step skipped when its key already exists."""
    from automl_cli.core.io import check_target, read_table
    from automl_cli.steps._limits import Limits
    from automl_cli.steps.search import Given, resolve_budget, run_search_step, search_cutoff

    project, config = open_step(project_dir, "search", _search_cli(options), SEARCH_DEFAULTS)
    seed = int(config["seed"].value)
    budget = resolve_budget(config["time_budget"].value, config["trials"].value)
    chain = Chain()
    # the budget counts from the start: a table too big to profile and prepare in it ends
    # the command at the search's deadline, not after
    with search_cutoff(started, budget, Limits.from_config(config)):
        say(f"reading {data}")
        frame, info = read_table(data)
        check_target(list(frame.columns), config["target"].value, path=info.path)
        (profile_art, profile), (prep_art, prep) = _profile_and_prep(
            project, frame, info, config, chain, force=force, say=say
        )

    key = planned_key("model", info.sha256, [prep_art, profile_art], config, seed)
    found = None if force else project.find_by_key("model", key)
    if found is not None:
        chain.record("search", found, False, say)
        return chain
    given = Given(frame, info, (profile_art, profile), (prep_art, prep), started)
    del frame
    kwargs: dict[str, Any] = {k: options.get(k) for k in _SEARCH_KWARGS}
    doc = run_search_step(project_dir, data, **kwargs, progress=say, given=given)
    chain.search = doc
    chain.record("search", project.load(doc["artifact"]), True, say)
    return chain


def _profile_and_prep(
    project: Project,
    frame: pd.DataFrame,
    info: TableInfo,
    config: dict[str, Resolved],
    chain: Chain,
    *,
    force: bool,
    say: Callable[[str], None],
) -> tuple[tuple[Artifact, dict[str, Any]], tuple[Artifact, Preprocessor]]:
    """The profile and prep steps of a chain, each skipped when its planned key exists.

    ``config`` holds the prep settings (the keys of ``steps.prep.DEFAULTS``) and
    ``lock_timeout``: a search's resolved settings, or a refit's copy of its source's.
    """
    from automl_cli.steps.prep import load_preprocessor, rows_with_target, write_prep
    from automl_cli.steps.profile import write_profile

    target = config["target"].value
    seed = int(config["seed"].value)
    profile_config = {k: config[k] for k in ("target", "seed", "lock_timeout")}
    key = planned_key("profile", info.sha256, [], profile_config, seed)
    found = None if force else project.find_by_key("profile", key)
    if found is not None:
        profile_art = found
        profile = json.loads(found.file("profile.json").read_text("utf-8"))
    else:
        profile_art, profile = write_profile(project, frame, info, profile_config, say)
    chain.record("profile", profile_art, found is None, say)

    prep_config = {k: v for k, v in config.items() if k in PREP_DEFAULTS or k == "lock_timeout"}
    key = planned_key("prep", info.sha256, [profile_art], prep_config, seed)
    found = None if force else project.find_by_key("prep", key)
    if found is not None:
        prep_art, prep = found, load_preprocessor(found)
    else:
        X, y, dropped = rows_with_target(frame, target, info.path)
        prep_art, prep = write_prep(
            project, X, y, info, prep_config, profile_art, profile, dropped, say
        )
        del X, y
    chain.record("prep", prep_art, found is None, say)
    return (profile_art, profile), (prep_art, prep)


def _refit_chain(
    project: Project,
    data: str,
    source: Artifact,
    settings: dict[str, Resolved],
    *,
    force: bool,
    say: Callable[[str], None],
) -> Chain:
    """profile → prep → refit on ``data``: ``source``'s pipeline fitted again, no search.

    The refit's key covers the data, the new prep and profile, the source model (by its
    manifest's sha256) and the settings, so an identical command writes nothing.
    """
    from automl_cli.core.io import check_target, read_table
    from automl_cli.steps.prep import rows_with_target
    from automl_cli.steps.refit import check_classes, write_refit

    seed = int(settings["seed"].value)
    target = str(settings["target"].value)
    chain = Chain()
    say(f"reading {data}")
    frame, info = read_table(data)
    check_target(list(frame.columns), target, path=info.path)
    check_classes(rows_with_target(frame, target, info.path)[1], source, info.path)  # no write yet
    (profile_art, _profile), prep = _profile_and_prep(
        project, frame, info, settings, chain, force=force, say=say
    )
    made_from = [prep[0], profile_art]
    key = planned_key("model", info.sha256, [*made_from, source], settings, seed)
    found = None if force else project.find_by_key("model", key)
    if found is None and not force:
        own = _is_own_refit(project, source, info.sha256, made_from, settings)
        found = source if own else None
    if found is not None:
        chain.record("refit", found, False, say)
        return chain
    X, y, dropped = rows_with_target(frame, target, info.path)
    del frame
    say(f"refitting {source.ref} on {len(X):,} rows (no search)")
    art, seconds = write_refit(
        project, source, X, y, dropped, info, prep, profile_art, settings, say
    )
    chain.refit_s = round(seconds, 3)
    chain.record("refit", art, True, say)
    return chain


def _is_own_refit(
    project: Project,
    source: Artifact,
    data_sha256: str,
    made_from: list[Artifact],
    settings: dict[str, Resolved],
) -> bool:
    """Whether ``source`` is itself the refit of its own source on these rows with this prep
    and these settings. Refitting it again would reuse its saved params as they are and give
    the same model, so the step is unchanged: after a refit is promoted, the same command
    (which then starts from the new champion) writes nothing.
    """
    config = source.manifest.get("config", {})
    origin = config.get("from", {}).get("value")
    if not config.get("refit_only", {}).get("value") or not origin:
        return False
    try:
        origin_art = project.load(str(origin), default_kind="model", verify=False)
    except AutomlError:
        return False  # its source was removed: refit it anew
    same = {**settings, "from": Resolved(origin_art.ref, "cli")}
    key = planned_key(
        "model", data_sha256, [*made_from, origin_art], same, int(settings["seed"].value)
    )
    return bool(cache_key(source.manifest) == key)


def _evaluate(
    project_dir: Path,
    chain: Chain,
    holdout: str | None,
    options: dict[str, Any],
    *,
    compare: Artifact | None,
    force: bool,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Evaluate the chain's model (against ``compare`` when given); skipped when unchanged.

    A quality gate that fails raises QualityGateError (exit 5) whether the evaluation is new
    or unchanged, so a repeated run of a failing pipeline keeps failing.
    """
    from automl_cli.steps.evaluate import run_evaluate_step

    model = chain.model
    assert model is not None, "the chain made or found a model before evaluating it"
    cli: dict[str, Any] = {
        "model": model.ref,
        "group": options.get("groups") or None,
        "fail_under": options.get("fail_under") or None,
        "compare": None if compare is None else compare.ref,
        "bootstrap": options.get("bootstrap"),
        "seed": options.get("seed"),
        "lock_timeout": options.get("lock_timeout"),
    }
    project, config = open_step(project_dir, "evaluate", cli, EVALUATE_DEFAULTS)
    data_sha = None
    if holdout is not None:
        if holdout == "-" or not Path(holdout).is_file():
            raise UsageError(
                f"the holdout table {holdout} is not a readable file",
                hint="pass a labelled table file with --holdout FILE",
            )
        data_sha = sha256_file(holdout)
    parents = [model] if compare is None else [model, compare]
    key = planned_key("evaluation", data_sha, parents, config, int(config["seed"].value))
    found = None if force else project.find_by_key("evaluation", key)
    if found is None:
        try:
            doc = run_evaluate_step(
                project_dir,
                holdout,
                model=model.ref,
                groups=cli["group"],
                fail_under=cli["fail_under"],
                compare=cli["compare"],
                bootstrap=cli["bootstrap"],
                seed=cli["seed"],
                lock_timeout=cli["lock_timeout"],
                progress=say,
            )
        except QualityGateError as exc:
            chain.record("evaluate", project.load(str(exc.details["artifact"])), True, say)
            chain.evaluation = dict(exc.details)
            raise
        chain.record("evaluate", project.load(doc["artifact"]), True, say)
        chain.evaluation = doc
        return doc
    metrics = json.loads(found.file("metrics.json").read_text("utf-8"))
    doc = {
        "artifact": found.ref,
        "headline_metric": metrics.get("headline_metric"),
        "metrics": {
            k: {kk: v.get(kk) for kk in ("value", "ci_low", "ci_high", "baseline")}
            for k, v in metrics.get("metrics", {}).items()
        },
        "gates": metrics.get("gates", []),
        "passed": metrics.get("passed", True),
        "comparison": metrics.get("comparison"),
        "report": str(found.path / "report.html"),
    }
    chain.record("evaluate", found, False, say)
    chain.evaluation = doc
    if not doc["passed"]:
        failed = [g for g in doc["gates"] if not g.get("passed")]
        raise QualityGateError(
            "quality gate failed (unchanged since "
            f"{found.ref}): "
            + "; ".join(
                f"{g.get('metric')} {g.get('value')} {g.get('broken', '')}" for g in failed
            ),
            hint=f"see {found.path / 'report.html'}; the data or settings must change to pass",
            artifact=found.ref,
        )
    return doc


def run_pipeline(
    project_dir: Path,
    data: str,
    *,
    holdout: str | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """``automl run``: profile → prep → search → evaluate, skipping unchanged steps.

    ``options`` are the search's settings (target, time_budget, trials, metric, task, seed,
    cv, models) and the evaluation's (groups, fail_under, bootstrap), plus lock_timeout.
    """
    say = progress or noop
    if data == "-":
        raise UsageError(
            "automl run reads its table from a file, not stdin",
            hint="save the rows to a file first; the file's sha256 decides what is unchanged",
        )
    project, config = open_step(project_dir, "search", _search_cli(options), SEARCH_DEFAULTS)
    if not config["target"].value:
        raise UsageError("run needs the column to predict", hint="pass --target COLUMN")
    wall = time.monotonic()
    chain = Chain()
    try:
        with project.locked():
            started = time.monotonic()
            chain = _chain(project_dir, data, options, force=force, started=started, say=say)
            _evaluate(project_dir, chain, holdout, options, compare=None, force=force, say=say)
    except QualityGateError as exc:
        exc.details.update(_run_doc("run", chain, wall))
        raise
    return _run_doc("run", chain, wall)


def _run_doc(command: str, chain: Chain, wall: float) -> dict[str, Any]:
    model = chain.model
    created = sum(1 for s in chain.steps if s["status"] == "created")
    doc = {
        "command": command,
        "steps": chain.doc(),
        "changed": created > 0,
        "model": None if model is None else model.ref,
        "metrics": None if model is None else model.manifest.get("metrics", {}),
        "evaluation": chain.evaluation,
        "wall_time_s": round(time.monotonic() - wall, 2),
    }
    if "refit" in chain.artifacts and model is not None:
        metrics = model.manifest.get("metrics", {})
        doc["refit"] = {
            "from": model.manifest.get("summary", {}).get("refit_of"),
            "status": next(s["status"] for s in chain.steps if s["step"] == "refit"),
            # this run's fitting time, or the one recorded when the model was made
            "refit_s": chain.refit_s if chain.refit_s is not None else metrics.get("refit_s"),
            "rows_used": metrics.get("rows_used"),
        }
    return doc


# -- retrain --------------------------------------------------------------------------------


def run_retrain(
    project_dir: Path,
    data: str,
    *,
    holdout: str | None = None,
    holdout_share: float = 0.2,
    min_improvement: float = 0.0,
    promote_if_better: bool = False,
    refit_only: bool = False,
    from_ref: str | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Train a challenger on ``data`` and promote it over the champion only if it wins.

    Exit 5 (QualityGateError) when ``promote_if_better`` is set and the challenger does not
    beat the champion by ``min_improvement`` on the holdout rows; the champion stays.
    With ``refit_only`` the challenger is the model ``from_ref`` (default: the champion,
    else the newest) refit on ``data`` without a search; search options are then refused.
    """
    from automl_cli.steps.refit import check_refit_options, refit_settings, source_model

    say = progress or noop
    if from_ref is not None and not refit_only:
        raise UsageError(
            "--from names the model to refit, so it goes with --refit-only",
            hint="add --refit-only, or leave out --from to search for a new model",
        )
    if refit_only:
        check_refit_options(options)
    if data == "-":
        raise UsageError(
            "automl retrain reads its table from a file, not stdin",
            hint="save the rows to a file first; the file's sha256 decides what is unchanged",
        )
    if not 0.05 <= holdout_share <= 0.5:
        raise UsageError(
            f"--holdout-share {holdout_share:g} is outside 0.05–0.5",
            hint="hold out between 5 % and 50 % of the rows, e.g. 0.2",
        )
    if min_improvement < 0:
        raise UsageError("--min-improvement must be 0 or more")
    project, config = open_step(project_dir, "search", _search_cli(options), SEARCH_DEFAULTS)
    target = config["target"].value
    if refit_only:
        # an unknown --from or a --target that differs stops here, before anything is written
        planned = source_model(project, from_ref, options, verify=False)
        target = planned.manifest.get("summary", {}).get("target")
    elif not target:
        raise UsageError("retrain needs the column to predict", hint="pass --target COLUMN")
    wall = time.monotonic()
    chain = Chain()
    decision: dict[str, Any] = {}
    settings = config
    try:
        with project.locked():
            started = time.monotonic()
            source: Artifact | None = None
            if refit_only:  # again under the lock: the champion may have moved meanwhile
                source = source_model(project, from_ref, options)
                settings = refit_settings(project, source, config, from_given=from_ref is not None)
                target = settings["target"].value
            split = None
            if holdout is None:
                split = _hash_split(project, data, target, holdout_share, say)
                train_path, holdout_path = split["train"], split["holdout"]
            else:
                train_path, holdout_path = data, holdout
            if source is not None:
                chain = _refit_chain(project, train_path, source, settings, force=force, say=say)
            else:
                chain = _chain(
                    project_dir, train_path, options, force=force, started=started, say=say
                )
            challenger = chain.model
            assert challenger is not None
            champion = _champion(project)
            if champion is not None and champion.version == challenger.version:
                decision = {
                    "action": "unchanged",
                    "reason": f"{challenger.ref} is already the champion: nothing changed",
                }
            else:
                _evaluate(
                    project_dir,
                    chain,
                    holdout_path,
                    options,
                    compare=champion,
                    force=force,
                    say=say,
                )
                decision = _decide(chain, champion, min_improvement)
                if decision["action"] == "promote" and promote_if_better:
                    project.set_alias("model", CHAMPION, challenger.version)
                    decision["promoted"] = True
                    say(f"promoted {challenger.ref} to model@{CHAMPION}")
                elif decision["action"] == "promote":
                    decision["promoted"] = False
                    decision["reason"] += " (not promoted: --promote-if-better not given)"
    except QualityGateError as exc:
        exc.details.update(_run_doc("retrain", chain, wall))
        raise
    doc = _run_doc("retrain", chain, wall) | {
        "challenger": challenger.ref,
        "champion": None if champion is None else champion.ref,
        "decision": decision,
        "holdout": holdout_path,
        "split": split,
        "refit_only": refit_only,
        "config": config_doc(settings),
    }
    if decision["action"] == "refuse" and promote_if_better:
        raise QualityGateError(
            f"not promoted: {decision['reason']}",
            hint=f"model@{CHAMPION} stays {champion.ref if champion else '—'}; lower "
            "--min-improvement or add data to change the outcome",
            **doc,
        )
    return doc


def _champion(project: Project) -> Artifact | None:
    if CHAMPION not in project.refs().get("model", {}):
        return None
    return project.load(f"model@{CHAMPION}")


def _decide(chain: Chain, champion: Artifact | None, min_improvement: float) -> dict[str, Any]:
    """The rule: promote when challenger − champion (in the metric's good direction) is at
    least ``min_improvement`` and above zero, on the same holdout rows."""
    from automl_cli.core.metrics import get_metric

    ev = chain.evaluation or {}
    challenger = chain.model
    assert challenger is not None
    head = str(ev.get("headline_metric"))
    score = (ev.get("metrics", {}).get(head) or {}).get("value")
    if champion is None:
        return {
            "action": "promote",
            "reason": f"no champion yet; {challenger.ref} scores {head} {_num(score)} on the "
            "holdout",
            "metric": head,
            "challenger_score": score,
        }
    comp = ev.get("comparison") or {}
    metric = get_metric(str(comp.get("metric", head)), str(challenger.manifest["summary"]["task"]))
    diff = comp.get("difference")
    gain = None if diff is None else (diff if metric.greater_is_better else -diff)
    base = {
        "metric": metric.name,
        "challenger_score": comp.get("model"),
        "champion_score": comp.get("other"),
        "improvement": gain,
        "min_improvement": min_improvement,
        "beyond_interval": comp.get("beyond_interval"),
    }
    if gain is not None and gain > 0 and gain >= min_improvement:
        reason = (
            f"{challenger.ref} beats {champion.ref} on {metric.name} by {_num(gain)} "
            f"({_num(comp.get('model'))} vs {_num(comp.get('other'))}; needed {min_improvement:g})"
        )
        return {"action": "promote", "reason": reason, **base}
    reason = (
        f"{challenger.ref} scores {metric.name} {_num(comp.get('model'))} against "
        f"{champion.ref}'s {_num(comp.get('other'))} on the same holdout rows: an improvement "
        f"of {_num(gain)}, needed more than 0 and at least {min_improvement:g}"
    )
    return {"action": "refuse", "reason": reason, **base}


def _num(value: Any) -> str:
    return "—" if value is None else f"{float(value):.4f}"


# -- the hash split -------------------------------------------------------------------------


def row_hashes(frame: pd.DataFrame) -> Any:
    """A 64-bit hash of each row's values that does not depend on how the types were read.

    Numbers hash as float64 and everything else as trimmed text, so a column read as int one
    day and as float the next (a new missing value) keeps its rows' hashes.
    """
    import pandas as pd

    norm: dict[str, pd.Series[Any]] = {}
    for name in sorted(frame.columns, key=str):
        col = frame[name]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            norm[str(name)] = pd.to_numeric(col, errors="coerce").astype("float64")
        else:
            norm[str(name)] = col.astype("string").str.strip()
    return pd.util.hash_pandas_object(pd.DataFrame(norm), index=False).to_numpy()


def _hash_split(
    project: Project, data: str, target: str, share: float, say: Callable[[str], None]
) -> dict[str, Any]:
    """Split DATA into train and holdout files under PROJECT/splits (reused when unchanged)."""
    from automl_cli.core.io import check_target, read_table

    if not Path(data).is_file():
        raise DataError(f"cannot read {data}: no such file", hint="check the path")
    digest = sha256_file(data)
    folder = project.root / SPLITS_DIR / f"{digest[:16]}-{round(share * 1000):04d}"
    meta_path = folder / "split.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text("utf-8"))
        ok = meta.get("format") == SPLIT_FORMAT and all(
            (folder / part["file"]).is_file()
            and sha256_file(folder / part["file"]) == part["sha256"]
            for part in (meta["train"], meta["holdout"])
        )
        if ok:
            say(f"holdout: reusing the split of {data} in {folder}")
            return _split_doc(folder, meta)
    say(f"reading {data} to hold out {share:.0%} of its rows")
    frame, _info = read_table(data)
    check_target(list(frame.columns), target, path=data)
    hashes = row_hashes(frame)
    held = (hashes % 10_000) < round(share * 10_000)
    n_held = int(held.sum())
    if n_held < MIN_HOLDOUT_ROWS or len(frame) - n_held < MIN_HOLDOUT_ROWS:
        raise DataError(
            f"{data} has {len(frame):,} rows: too few to hold out {share:.0%} and still train",
            hint="pass a separate labelled table with --holdout FILE",
        )
    tmp = folder.with_name(f".tmp-{uuid.uuid4().hex}")
    tmp.mkdir(parents=True)
    try:
        meta = {
            "format": SPLIT_FORMAT,
            "source": {"path": data, "sha256": digest},
            "rule": f"a row is held out when hash(row values) mod 10000 < {round(share * 10_000)}",
            "share": share,
        }
        for part, rows in (("train", frame.loc[~held]), ("holdout", frame.loc[held])):
            path = tmp / f"{part}.parquet"
            _to_parquet(rows, path)
            meta[part] = {"file": path.name, "rows": len(rows), "sha256": sha256_file(path)}
        (tmp / "split.json").write_text(json.dumps(meta, indent=2) + "\n", "utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.rename(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say(
        f"holdout: {meta['holdout']['rows']:,} of {len(frame):,} rows, chosen by row hash "
        f"(kept as {folder})"
    )
    return _split_doc(folder, meta)


def _to_parquet(rows: pd.DataFrame, path: Path) -> None:
    """Text columns go out as strings, so mixed values (57 and 'high') survive unchanged."""
    text = {c: "string" for c in rows.columns if rows[c].dtype == object}
    rows.astype(text).reset_index(drop=True).to_parquet(path, index=False)


def _split_doc(folder: Path, meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "train": str(folder / meta["train"]["file"]),
        "holdout": str(folder / meta["holdout"]["file"]),
        "train_rows": meta["train"]["rows"],
        "holdout_rows": meta["holdout"]["rows"],
        "rule": meta["rule"],
        "source": meta["source"],
    }
