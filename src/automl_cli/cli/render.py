"""Human renderings of step results (rich, on stderr). Each takes the same dict ``--json`` prints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = [
    "render_prep",
    "render_profile",
    "render_runs_list",
    "render_runs_show",
    "render_search",
]

_SEVERITY_STYLE = {"high": "bold red", "medium": "yellow", "low": "cyan"}


TABLE_ROWS = 40  # per-column rows shown on a terminal; --verbose shows them all


def _pct(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.1f} %"


def _shown(rows: list[Any], verbose: bool) -> list[Any]:
    """The rows a terminal table shows: a 10,000-column table is unreadable on a terminal and
    takes seconds to draw; the report and ``--json`` hold them all."""
    return rows if verbose or len(rows) <= TABLE_ROWS else rows[:TABLE_ROWS]


def _more(console: Console, rows: list[Any], shown: list[Any], where: str) -> None:
    if len(shown) < len(rows):
        console.print(f"[dim]… {len(rows) - len(shown):,} more columns in {where}[/dim]")


def render_profile(console: Console, doc: dict[str, Any], verbose: bool = False) -> None:
    ds = doc["dataset"]
    console.print(
        f"[bold]{escape(doc['data']['path'])}[/bold]: {ds['rows']:,} rows × {ds['columns']} "
        f"columns, {ds['duplicate_rows']:,} duplicate rows, "
        f"{ds['memory_bytes'] / 2**20:.1f} MiB in memory"
    )
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for name in ("column", "type", "missing", "distinct"):
        table.add_column(name, justify="right" if name in ("missing", "distinct") else "left")
    shown = _shown(doc["columns"], verbose)
    for col in shown:
        table.add_row(
            escape(col["name"]),
            col["semantic_type"],
            _pct(col["missing_share"]),
            f"{col['distinct']:,}",
        )
    console.print(table)
    _more(console, doc["columns"], shown, "the report (or --verbose, --json)")
    target = doc.get("target")
    if target:
        line = f"target [bold]{escape(target['name'])}[/bold]: {target['task']}"
        classes = target.get("classes") or []
        if classes:
            parts = ", ".join(f"{escape(str(c['value']))} {_pct(c['share'])}" for c in classes[:6])
            line += f" ({parts}{', …' if len(classes) > 6 else ''})"
        console.print(line)
    warnings = doc.get("warnings", [])
    if warnings:
        console.print(f"[bold]{len(warnings)} warning{'s' if len(warnings) != 1 else ''}:[/bold]")
        for w in warnings:
            style = _SEVERITY_STYLE.get(w["severity"], "")
            console.print(f"  [{style}]{w['severity']:>6}[/{style}] {escape(w['message'])}")
            if verbose and w.get("reason"):
                console.print(f"         [dim]{escape(w['reason'])}[/dim]")
    else:
        console.print("no warnings")
    if verbose:
        for name, item in doc.get("config", {}).items():
            console.print(f"[dim]setting {name} = {item['value']!r} (from {item['source']})[/dim]")
    console.print(f"saved [bold]{doc['artifact']}[/bold] → {escape(doc['report'])}")


_ACTION_STYLE = {"drop": "yellow"}


def _with_detail(decision: dict[str, Any]) -> str:
    detail = decision.get("detail") or {}
    action, reason = decision["action"], decision["reason"]
    if action == "categorical":
        extra = f"{detail.get('levels')} levels, {detail.get('encoding')}"
        if detail.get("pooled_rare_levels"):
            extra += f", {detail['pooled_rare_levels']} rare levels pooled"
        return f"{reason}: {extra}"
    if action in ("numeric", "boolean") and detail.get("missing_indicator"):
        return f"{reason}; missing values are informative: indicator added"
    if action == "text":
        return f"{reason} ({detail.get('terms')} terms)"
    return str(reason)


def render_prep(console: Console, doc: dict[str, Any], verbose: bool = False) -> None:
    console.print(
        f"target [bold]{escape(doc['target'])}[/bold] ({doc['task']}), "
        f"{doc['rows_used']:,} rows"
        + (
            f" ({doc['rows_without_target']:,} without a target dropped)"
            if doc["rows_without_target"]
            else ""
        )
    )
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for name in ("column", "action", "why"):
        table.add_column(name)
    # dropped columns first among the rows shown: they are what a reader must not miss
    ordered = sorted(doc["decisions"], key=lambda d: d["action"] != "drop")
    shown = _shown(ordered if len(ordered) > TABLE_ROWS else doc["decisions"], verbose)
    for d in shown:
        style = _ACTION_STYLE.get(d["action"], "")
        table.add_row(
            escape(d["name"]),
            f"[{style}]{d['action']}[/{style}]" if style else d["action"],
            escape(_with_detail(d)),
        )
    console.print(table)
    _more(console, doc["decisions"], shown, "--verbose or --json")
    for d in doc["decisions"]:
        if d["action"] == "drop" and d["reason"].startswith("target leakage"):
            console.print(
                f"[bold red]leak:[/bold red] '{escape(d['name'])}' dropped — {escape(d['reason'])}"
            )
    feats = doc["features"]
    console.print(
        f"features: {feats['native']} for tree models, {feats['encoded']} encoded for "
        "linear / k-NN / MLP models"
    )
    if verbose:
        for name, item in doc.get("config", {}).items():
            console.print(f"[dim]setting {name} = {item['value']!r} (from {item['source']})[/dim]")
    console.print(
        f"saved [bold]{doc['artifact']}[/bold] (from {doc['profile']}) → {escape(doc['path'])}"
    )


def render_runs_list(console: Console, doc: dict[str, Any]) -> None:
    if not doc["artifacts"]:
        console.print(f"no artifacts in {escape(doc['project'])} yet")
        return
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for name in ("artifact", "created (UTC)", "data", "metrics", "alias"):
        table.add_column(name)
    for row in doc["artifacts"]:
        if row.get("error"):
            table.add_row(
                row["ref"], "–", "–", f"[red]unreadable: {escape(row['error'])}[/red]", ""
            )
            continue
        metrics = ", ".join(f"{k}={v}" for k, v in list(row["metrics"].items())[:3])
        table.add_row(
            row["ref"],
            str(row["created_utc"]).replace("+00:00", ""),
            escape(row.get("data_label") or (Path(str(row["data"])).name if row["data"] else "–")),
            escape(metrics),
            ", ".join(row["aliases"]),
        )
    console.print(table)


def render_runs_show(console: Console, doc: dict[str, Any]) -> None:
    m = doc["manifest"]
    console.print(f"[bold]{doc['ref']}[/bold] (all file hashes verified) at {escape(doc['path'])}")
    console.print(f"created {m['created_utc']} by: {escape(' '.join(m.get('command', [])))}")
    for inp in m.get("inputs", []):
        console.print(
            f"input  {escape(str(inp['path']))} sha256 {inp['sha256'][:12]}… rows {inp.get('rows')}"
        )
    for parent in m.get("parents", []):
        console.print(f"parent {parent['ref']}")
    for name, item in m.get("config", {}).items():
        console.print(f"config {name} = {item['value']!r} ({item['source']})")
    for out in m.get("outputs", []):
        console.print(f"output {escape(out['path'])} {out['size']:,} bytes")
    if m.get("metrics"):
        console.print("metrics " + ", ".join(f"{k}={v}" for k, v in m["metrics"].items()))


def render_search(console: Console, doc: dict[str, Any], verbose: bool = False) -> None:
    limits = doc.get("limits") or {}
    measures = [
        (key, head)
        for key, head, limit in (
            ("latency_ms", "ms/row", "max_latency_ms"),
            ("batch_ms_per_1k", "ms/1k rows", "max_batch_ms_per_1k"),
            ("size_mb", "MB", "max_model_mb"),
        )
        if limits.get(limit) is not None
    ]
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    heads = ["trial", "family", doc["metric"], "± std", "fit s", *(h for _, h in measures)]
    for name in [*heads, "weight"]:
        table.add_column(name, justify="left" if name == "family" else "right")
    for row in doc["leaderboard"]:
        if row["state"] != "complete":
            continue
        cells = [f"{row[k]:.3g}" if row.get(k) is not None else "—" for k, _ in measures]
        if measures and row.get("within_limits") is False:
            cells = [f"[red]{c}[/red]" for c in cells]
        table.add_row(
            str(row["trial"]),
            row["family"],
            f"{row['score']:.4f}",
            f"{row['score_std']:.4f}",
            f"{row['fit_time_s']:.1f}",
            *cells,
            f"{row['ensemble_weight']:.2f}" if row["ensemble_weight"] else "",
        )
    console.print(table)
    t = doc["trials"]
    console.print(
        f"{t['complete']} trials complete, {t['pruned']} pruned, {t['failed']} failed "
        f"(stopped by {doc['stopped_by']}); {doc['wall_time_s']:.1f} s"
        + (f" of a {doc['time_budget']:.0f} s budget" if doc["time_budget"] else "")
    )
    parts = ", ".join(f"{m['family']} ×{m['weight']:.2f} ({m['fit']})" for m in doc["ensemble"])
    console.print(
        f"cross-validated {doc['metric']}: [bold]{doc['cv_score']:.4f}[/bold] "
        f"(best single model {doc['best_single']:.4f}); model = {parts}"
    )
    if doc.get("size_mb") is not None:
        speed = (
            f"; {doc['latency_ms']:.2f} ms per row" if doc.get("latency_ms") is not None else ""
        ) + (
            f", {doc['batch_ms_per_1k']:.1f} ms per 1,000 rows"
            if doc.get("batch_ms_per_1k") is not None
            else ""
        )
        kept = " (within the limits)" if limits else ""
        console.print(f"model size {doc['size_mb']:.3g} MB{speed}{kept}")
    if verbose:
        for name, item in doc.get("config", {}).items():
            console.print(f"[dim]setting {name} = {item['value']!r} (from {item['source']})[/dim]")
    console.print(
        f"saved [bold]{doc['artifact']}[/bold] (from {doc['prep']}) → {escape(doc['path'])}"
    )


def render_evaluate(console: Console, doc: dict[str, Any]) -> None:
    """Metrics with intervals and baseline, comparison, fairness warnings, where the report is."""
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    for name in ("metric", "value", "95 % interval", "baseline"):
        table.add_column(name, justify="left" if name == "metric" else "right")

    def fmt(v: Any) -> str:
        return "—" if v is None else f"{v:.4g}"

    for name, m in doc["metrics"].items():
        label = f"[bold]{name}[/bold]" if name == doc["headline_metric"] else name
        table.add_row(
            label, fmt(m["value"]), f"{fmt(m['ci_low'])} … {fmt(m['ci_high'])}", fmt(m["baseline"])
        )
    console.print(table)
    console.print(escape(doc["summary"]))
    for note in doc.get("schema_messages") or []:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    if doc.get("top_columns"):
        console.print("relies most on: " + escape(", ".join(doc["top_columns"])))
    if doc.get("comparison"):
        console.print(escape(doc["comparison"]["verdict"]))
    for section in doc.get("fairness") or []:
        if not section["warnings"]:
            console.print(f"fairness by {escape(section['column'])}: no large gap")
        for warning in section["warnings"]:
            console.print(f"[yellow]fairness:[/yellow] {escape(warning)}")
    for gate in doc.get("gates") or []:
        state = "[green]pass[/green]" if gate["passed"] else "[red]FAIL[/red]"
        console.print(f"gate {gate['metric']} {gate['rule']}: {fmt(gate['value'])} {state}")
    console.print(f"saved [bold]{doc['artifact']}[/bold] → {escape(doc['report'])}")


def render_predict(console: Console, doc: dict[str, Any]) -> None:
    """One summary line, then notes, bad rows and drift warnings: all on stderr."""
    where = "stdout" if doc["output"]["path"] == "-" else doc["output"]["path"]
    console.print(
        f"scored {doc['rows_out']:,} of {doc['rows_in']:,} rows with {doc['model']} → "
        f"{escape(where)} ({doc['output']['format']}, {doc['wall_time_s']:.1f} s)"
    )
    for note in doc["notes"]:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")
    bad = doc["bad_values"]
    if bad["rows"]:
        action = {"skip": "left out", "null": "scored with the value missing"}[bad["mode"]]
        rows = ", ".join(map(str, bad["row_numbers"])) + (" …" if bad["rows"] > 20 else "")
        console.print(
            f"[yellow]bad rows:[/yellow] {bad['rows']:,} row(s) had a value that is not a number "
            f"({escape(', '.join(f'{c}: {n}' for c, n in bad['columns'].items()))}); {action}: "
            f"data row(s) {rows}"
        )
    drift = doc["drift"]
    if drift["warnings"]:
        console.print("[yellow]drift:[/yellow] the data differs from the training data:")
        for warning in drift["warnings"][:10]:
            console.print(f"  {escape(warning)}")
        console.print("  scores may be less reliable; consider retraining on recent data")


def render_promote(console: Console, doc: dict[str, Any]) -> None:
    was = f" (was {doc['previous']})" if doc["previous"] else ""
    console.print(f"{doc['alias']} → [bold]{doc['artifact']}[/bold]{was}")


_DIFF_FIRST_COLUMN = {
    "data": "input",
    "parents": "kind",
    "config": "setting",
    "seed": "",
    "metrics": "metric",
    "libraries": "library",
    "platform": "",
    "outputs": "file",
}


def _diff_value(value: Any) -> str:
    """One cell: sha256 shortened, floats to 6 digits, lists and dicts as JSON, absent as –."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
            return value[:12] + "…"
        return value
    if isinstance(value, bool | int):
        return str(value)
    return json.dumps(value, default=str)


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # unreachable: the loop returns at GiB


def _diff_row(section: str, change: dict[str, Any]) -> list[str]:
    a, b = _diff_value(change["a"]), _diff_value(change["b"])
    if section == "config":
        a += f" ({change['a_source']})" if change["a_source"] else ""
        b += f" ({change['b_source']})" if change["b_source"] else ""
    elif section == "outputs":
        a += f" {_size(change['a_size'])}" if change["a_size"] is not None else ""
        b += f" {_size(change['b_size'])}" if change["b_size"] is not None else ""
    row = [escape(change["name"]), escape(a), escape(b)]
    if section == "metrics":
        diff = change["difference"]
        row.append("" if diff is None else f"{diff:+.4g}")
    return row


def render_runs_diff(console: Console, doc: dict[str, Any]) -> None:
    """One compact table per section that differs; a section without differences says so."""
    line = f"[bold]{doc['a']}[/bold] → [bold]{doc['b']}[/bold]"
    if not doc["same_kind"]:
        line += " [yellow](different kinds: most sections differ by nature)[/yellow]"
    console.print(line)
    for name, first in _DIFF_FIRST_COLUMN.items():
        section = doc[name]
        if section["identical"]:
            extra = ""
            if name == "data" and section["a"]:
                inp = section["a"][0]
                extra = (
                    f" ({escape(Path(str(inp['path'])).name)}, {inp['rows']} rows, sha256 "
                    f"{_diff_value(inp['sha256'])})"
                )
            elif name == "outputs":
                extra = f" ({section['same']} files)"
            console.print(f"{name}: identical{extra}")
            continue
        console.print(f"[bold]{name}[/bold]:")
        table = Table(show_edge=False, header_style="bold", pad_edge=False)
        for column in (first, doc["a"], doc["b"]):
            table.add_column(column)
        if name == "metrics":
            table.add_column("Δ (b − a)", justify="right")
        for change in section["changes"]:
            table.add_row(*_diff_row(name, change))
        console.print(table)


def render_gc(console: Console, doc: dict[str, Any]) -> None:
    """What went (or would go) and how much space, then what stayed and why."""
    removed = doc["removed"]
    if removed:
        table = Table(show_edge=False, header_style="bold", pad_edge=False)
        table.add_column("would remove" if doc["dry_run"] else "removed")
        table.add_column("size", justify="right")
        for row in removed:
            table.add_row(row["ref"], _size(row["size"]))
        console.print(table)
    if doc["kept"]:
        table = Table(show_edge=False, header_style="bold", pad_edge=False)
        table.add_column("kept")
        table.add_column("why")
        for row in doc["kept"]:
            reasons = row["reasons"]
            why = "; ".join(reasons[:3]) + (
                f"; +{len(reasons) - 3} more" if len(reasons) > 3 else ""
            )
            table.add_row(row["ref"], escape(why))
        console.print(table)
    n = len(removed)
    versions = f"{n} version{'s' if n != 1 else ''}"
    if doc["dry_run"]:
        console.print(
            f"would remove {versions}, freeing {_size(doc['bytes_freed'])} "
            "(dry run: nothing was deleted)"
        )
    elif n:
        console.print(f"removed {versions}, freed {_size(doc['bytes_freed'])}")
    else:
        console.print(f"nothing to remove (keeping the newest {doc['keep']} of each kind)")


def render_chain(console: Console, doc: dict[str, Any]) -> None:
    """``run`` / ``retrain``: each step (created or unchanged), the model, the decision."""
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("step")
    table.add_column("artifact")
    table.add_column("status")
    for step in doc["steps"]:
        style = "green" if step["status"] == "created" else "dim"
        table.add_row(step["step"], step["artifact"], f"[{style}]{step['status']}[/{style}]")
    console.print(table)
    metrics = doc.get("metrics") or {}
    refit = doc.get("refit")
    if doc.get("model") and refit:
        rows, seconds = refit.get("rows_used"), refit.get("refit_s")
        console.print(
            f"{doc['model']}: {refit.get('from')} refit on "
            + ("its rows" if rows is None else f"{rows:,} rows")
            + ("" if seconds is None else f" in {seconds:.1f} s")
            + " (no search, so no cross-validated score)"
        )
    elif doc.get("model") and metrics.get("metric") and metrics.get("cv_score") is not None:
        console.print(
            f"{doc['model']}: cross-validated {metrics['metric']} {metrics.get('cv_score')}"
        )
    ev = doc.get("evaluation") or {}
    head = ev.get("headline_metric")
    if head and head in (ev.get("metrics") or {}):
        value = ev["metrics"][head].get("value")
        shown = "–" if value is None else f"{float(value):.4f}"
        console.print(f"{ev.get('artifact')}: {head} {shown} → {escape(str(ev.get('report')))}")
    decision = doc.get("decision")
    if decision:
        style = {"promote": "bold green", "refuse": "bold yellow"}.get(decision["action"], "bold")
        console.print(f"[{style}]{decision['action']}[/{style}]: {escape(decision['reason'])}")
    if not doc.get("changed", True):
        console.print("nothing changed: every step was already up to date")


def render_reproduce(console: Console, doc: dict[str, Any]) -> None:
    """Which files came out the same, which differ, and which are expected to differ."""
    table = Table(show_edge=False, header_style="bold", pad_edge=False)
    table.add_column("file")
    table.add_column("result")
    for row in doc["files"]:
        if row["volatile"]:
            result = "[dim]differs as expected[/dim]" if not row["same"] else "[dim]same[/dim]"
        else:
            result = "[green]identical[/green]" if row["same"] else "[bold red]DIFFERS[/bold red]"
        table.add_row(escape(row["path"]), result)
    console.print(table)
    verdict = (
        "[bold green]reproduced[/bold green]"
        if doc["reproduced"]
        else "[bold red]not reproduced[/bold red]"
    )
    console.print(
        f"{verdict}: {doc['ref']} re-made as {doc['rerun']} ({escape(doc['command_line'])})"
    )


def render_worker(console: Console, doc: dict[str, Any]) -> None:
    """How many trials this worker added, and the study's best so far."""
    mine = doc["trials"]
    console.print(
        f"worker added {mine['complete']} complete trial(s) ({mine['pruned']} pruned, "
        f"{mine['failed']} failed) to study '{escape(doc['study'])}'; the study has "
        f"{doc['study_complete_trials']} complete trials (stopped by {doc['stopped_by']})"
    )
    best = doc.get("best_in_study")
    if best:
        console.print(
            f"best so far: {doc['metric']} {best['score']:.4f} ({best['family']}, trial "
            f"{best['trial']}, {escape(str(best['worker']))})"
        )
