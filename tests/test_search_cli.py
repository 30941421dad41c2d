"""``automl search`` through a real CLI process: artifact, determinism, budget, Ctrl-C,
a busy machine."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pandas as pd
import pytest

from automl_cli.core.cpu import CpuShare
from automl_cli.errors import EXIT_GATE, EXIT_INTERRUPTED, EXIT_USAGE

from .conftest import SAMPLE_DATA, RunCli, cli_env

CANCER = SAMPLE_DATA / "breast_cancer.csv"
MESSY = SAMPLE_DATA / "customers_messy.csv"

PREDICT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import numpy as np
    from automl_cli.core.io import read_table
    from automl_cli.steps.search import load_model
    model = load_model(Path(sys.argv[1]), sys.argv[2])
    frame, _ = read_table(sys.argv[3])
    out = model.predict_output(frame.drop(columns=[sys.argv[4]]))
    np.save(sys.argv[5], out)
    print(",".join(map(str, model.classes_ or [])))
    """
)


def _search(run_cli: RunCli, *args: str, project: Path | None = None) -> dict:
    kwargs = {} if project is None else {"project": project}
    proc = run_cli("--json", "search", *args, **kwargs)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _predict(project: Path, ref: str, data: Path, target: str, out: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", PREDICT, str(project), ref, str(data), target, str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def test_search_writes_a_complete_model_artifact(
    run_cli: RunCli, project_dir: Path, tmp_path: Path
) -> None:
    doc = _search(
        run_cli, str(CANCER), "--target", "diagnosis", "--trials", "6", "--models", "lgbm,linear"
    )
    assert doc["artifact"] == "model@v1" and doc["task"] == "binary" and doc["metric"] == "auc"
    assert doc["prep"] == "prep@v1" and doc["profile"] == "profile@v1"
    assert 0.9 < doc["cv_score"] <= 1.0
    version = project_dir / "artifacts/model/v0001"
    names = {p.name for p in version.iterdir()}
    assert {
        "manifest.json",
        "model.json",
        "preprocessor.json",
        "leaderboard.csv",
        "oof.parquet",
        "study.db",
        "members",
    } <= names
    board = pd.read_csv(version / "leaderboard.csv")
    assert len(board) == 6 and set(board["family"]) <= {"lgbm", "linear"}
    assert {"score", "score_std", "fit_time_s", "params"} <= set(board.columns)
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["metrics"]["cv_score"] == doc["cv_score"]
    assert [p["ref"] for p in manifest["parents"]] == ["prep@v1", "profile@v1"]
    classes = _predict(project_dir, "model@latest", CANCER, "diagnosis", tmp_path / "p.npy")
    assert classes == "benign,malignant"
    import numpy as np

    proba = np.load(tmp_path / "p.npy")
    assert proba.shape == (569, 2) and np.allclose(proba.sum(axis=1), 1.0)


def test_same_seed_and_trials_give_the_same_leaderboard_and_predictions(
    run_cli: RunCli, tmp_path: Path
) -> None:
    outputs = []
    for i in range(2):
        project = tmp_path / f"p{i}"
        doc = _search(
            run_cli,
            str(MESSY),
            "--target",
            "churned",
            "--trials",
            "5",
            "--seed",
            "3",
            "--models",
            "lgbm,xgb,linear",
            project=project,
        )
        board = pd.read_csv(project / "artifacts/model/v0001/leaderboard.csv")
        _predict(project, "model@latest", MESSY, "churned", tmp_path / f"out{i}.npy")
        outputs.append(
            (
                doc["cv_score"],
                board.drop(columns=["fit_time_s"]),
                (tmp_path / f"out{i}.npy").read_bytes(),
            )
        )
    assert outputs[0][0] == outputs[1][0]
    pd.testing.assert_frame_equal(outputs[0][1], outputs[1][1])
    assert outputs[0][2] == outputs[1][2]


def test_search_reuses_profile_and_prep_of_the_same_table(
    run_cli: RunCli, project_dir: Path
) -> None:
    assert run_cli("prep", str(CANCER), "--target", "diagnosis").returncode == 0
    doc = _search(
        run_cli, str(CANCER), "--target", "diagnosis", "--trials", "2", "--models", "linear"
    )
    assert doc["prep"] == "prep@v1" and doc["profile"] == "profile@v1"


@pytest.mark.slow
def test_time_budget_is_kept_for_the_whole_command(run_cli: RunCli) -> None:
    t0 = time.monotonic()
    # a budget with room for a few trials even when the test processes share the cores
    doc = _search(run_cli, str(MESSY), "--target", "churned", "--time-budget", "20")
    wall = time.monotonic() - t0
    assert doc["stopped_by"] == "deadline"
    assert wall <= 20 * 1.05 + 0.3  # process start-up measured from outside, too


@pytest.mark.slow
def test_ctrl_c_saves_the_best_model_so_far_and_exits_130(
    project_dir: Path, tmp_path: Path
) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "automl_cli",
            "--project",
            str(project_dir),
            "search",
            str(MESSY),
            "--target",
            "churned",
            "--time-budget",
            "120",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(),
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "trial 3 " in line:
            break
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    err = "".join(seen) + err
    assert proc.returncode == EXIT_INTERRUPTED, err
    assert "saved" in err and "Traceback" not in err
    assert _predict(project_dir, "model@latest", MESSY, "churned", tmp_path / "o.npy") == "no,yes"


@pytest.mark.slow
def test_a_budget_no_model_can_finish_in_exits_5_and_saves_no_model(
    run_cli: RunCli, project_dir: Path, tmp_path: Path
) -> None:
    """k-NN on 100,000 rows predicts each validation fold (20,000 rows against 80,000) for
    seconds, and reading and profiling the table take one or two: in a 5 s budget no trial
    finishes (on a busy machine the search cannot even start). The budget is kept all the
    same, and the user is told what to change."""
    import numpy as np

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(100_000, 20)).round(4)).add_prefix("f")
    frame["y"] = (frame["f0"] + rng.normal(size=len(frame)) > 0).astype(int)
    data = tmp_path / "wide.csv"
    frame.to_csv(data, index=False)
    t0 = time.monotonic()
    proc = run_cli("search", str(data), "--target", "y", "--models", "knn", "--time-budget", "5")
    wall = time.monotonic() - t0
    assert proc.returncode == EXIT_GATE, proc.stderr
    assert "error: no model finished within the time budget" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not list((project_dir / "artifacts" / "model").glob("v*"))
    assert wall <= 5 * 1.05 + 0.5  # process start-up measured from outside, too


@pytest.mark.slow
def test_a_table_too_big_to_prepare_in_the_budget_ends_the_command_within_it(
    run_cli: RunCli, project_dir: Path, tmp_path: Path
) -> None:
    """Reading, profiling, preparing and encoding 1,000,000 rows × 20 columns take several
    seconds on 2 cores. In a 5 s budget they are cut at the search's deadline, for
    ``search`` and for the ``run`` chain alike: exit 5, one line, no model, and the
    command ends within the budget instead of preparing a table it has no time to search."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(0)
    n = 1_000_000
    columns = {f"f{i}": rng.normal(size=n).round(4) for i in range(18)}
    columns["kind"] = rng.choice(["red", "green", "blue", "grey"], n)
    columns["y"] = (columns["f0"] + rng.normal(size=n) > 0).astype(np.int8)
    data = tmp_path / "big.csv"
    pacsv.write_csv(pa.table(columns), data)  # a second or two; pandas would take ten
    for command in ("search", "run"):
        t0 = time.monotonic()
        proc = run_cli(command, str(data), "--target", "y", "--time-budget", "5")
        wall = time.monotonic() - t0
        assert proc.returncode == EXIT_GATE, proc.stderr
        assert "error: no model finished within the time budget" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
        assert not list((project_dir / "artifacts" / "model").glob("v*"))
        assert wall <= 5 * 1.05 + 0.5, (command, wall)  # start-up measured from outside, too


def test_search_usage_errors(run_cli: RunCli) -> None:
    proc = run_cli("search", str(CANCER), "--target", "diagnosis", "--models", "lgbm,deep")
    assert proc.returncode == EXIT_USAGE and "deep" in proc.stderr
    proc = run_cli("search", str(CANCER), "--target", "diagnosis", "--metric", "rmse")
    assert proc.returncode == EXIT_USAGE and "does not apply" in proc.stderr
    proc = run_cli("search", str(CANCER), "--target", "diagnosis", "--time-budget", "1")
    assert proc.returncode == EXIT_USAGE


@pytest.mark.slow
@pytest.mark.parametrize(
    ("table", "target", "task", "metric"),
    [
        ("wine", "cultivar", "multiclass", "logloss"),
        ("diabetes", "progression", "regression", "rmse"),
    ],
)
def test_other_tasks_search(
    run_cli: RunCli, table: str, target: str, task: str, metric: str
) -> None:
    doc = _search(run_cli, str(SAMPLE_DATA / f"{table}.csv"), "--target", target, "--trials", "4")
    assert doc["task"] == task and doc["metric"] == metric


def test_a_log_loss_search_saves_and_applies_its_temperature_and_floor(
    run_cli: RunCli, project_dir: Path, tmp_path: Path
) -> None:
    """A regularised logistic regression is less sure than it is right on wine: the search
    fits a temperature to its out-of-fold probabilities, which predict then applies, and
    then the floor of a tenth of a row among the 178 it learnt from."""
    import numpy as np

    from automl_cli.core.ensemble import FLOOR_ROWS, floor_probabilities, sharpen
    from automl_cli.core.metrics import get_metric
    from automl_cli.steps.search import load_model

    wine = SAMPLE_DATA / "wine.csv"
    rows = pd.read_csv(wine).drop(columns=["cultivar"])
    doc = _search(run_cli, str(wine), "--target", "cultivar", "--trials", "6", "--models", "linear")
    version = project_dir / "artifacts/model/v0001"
    metrics = json.loads((version / "manifest.json").read_text())["metrics"]
    spec = json.loads((version / "model.json").read_text())
    t = metrics["temperature"]
    assert 0.2 < t < 0.9  # sharper: the search found its probabilities too soft
    assert spec["temperature"] == pytest.approx(t)
    assert spec["floor_rows"] == metrics["floor_rows"] == len(rows) == 178
    # the saved out-of-fold output is the tempered, floored one, and the CV score is its
    # log loss; no row is below the floor for the rows a fold model learnt from (9/10)
    oof = pd.read_parquet(version / "oof.parquet")
    proba = oof.filter(like="model_class_").to_numpy()
    y = oof["target"].to_numpy()
    logloss = get_metric("logloss", "multiclass")
    assert logloss.score(y, proba, 3) == pytest.approx(doc["cv_score"], abs=1e-6)
    assert doc["cv_score"] < doc["best_single"]
    fold_rows = round(len(rows) * 9 / 10)
    assert proba.min() >= FLOOR_ROWS / (3 * (fold_rows + FLOOR_ROWS)) - 1e-12
    # predict: the members' average, tempered, then floored
    model = load_model(project_dir, "model@v1")
    shipped = model.predict_proba(rows)
    assert shipped.min() >= FLOOR_ROWS / (3 * (178 + FLOOR_ROWS)) - 1e-12
    model.temperature, model.floor_rows = 1.0, 0
    plain = model.predict_proba(rows)
    assert np.allclose(shipped, floor_probabilities(sharpen(plain, t), 178), atol=1e-12)
    assert (shipped.argmax(axis=1) == plain.argmax(axis=1)).all()
    out = tmp_path / "pred.csv"
    proc = run_cli("predict", str(wine), "--proba", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    got = pd.read_csv(out).filter(like="proba_").to_numpy()
    assert np.allclose(got, shipped, atol=1e-9)


def test_only_a_log_loss_search_floors_its_probabilities(
    run_cli: RunCli, project_dir: Path
) -> None:
    """The floor is part of fitting log loss; a model chosen by AUC keeps its probabilities."""
    doc = _search(
        run_cli, str(CANCER), "--target", "diagnosis", "--trials", "2", "--models", "linear"
    )
    assert doc["metric"] == "auc"
    version = project_dir / "artifacts/model/v0001"
    assert json.loads((version / "model.json").read_text())["floor_rows"] == 0
    assert json.loads((version / "manifest.json").read_text())["metrics"]["floor_rows"] == 0


def test_a_search_killed_outright_leaves_its_temporary_files_to_the_next(
    project_dir: Path, tmp_path: Path
) -> None:
    """SIGKILL (or the out-of-memory killer) gives a search no chance to remove its working
    directory, where kept models can fill hundreds of MB; the next search removes it, and
    removes its own when it ends."""
    temp = tmp_path / "temp"
    temp.mkdir()
    command = [sys.executable, "-m", "automl_cli", "--project", str(project_dir), "search"]
    data = [str(MESSY), "--target", "churned"]
    proc = subprocess.Popen(
        [*command, *data, "--time-budget", "120"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cli_env(TMPDIR=str(temp)),
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "trial 2 " in line:
            break
    proc.kill()
    proc.wait(timeout=30)
    abandoned = list(temp.glob("automl-search-*"))
    assert len(abandoned) == 1 and (abandoned[0] / ".in-use").is_file()
    done = subprocess.run(
        [*command, *data, "--trials", "1", "--models", "linear"],
        capture_output=True,
        text=True,
        env=cli_env(TMPDIR=str(temp)),
    )
    assert done.returncode == 0, done.stderr
    assert not list(temp.glob("automl-search-*"))  # the abandoned one, and its own


def test_a_working_directory_in_use_or_not_yet_locked_is_never_removed(tmp_path: Path) -> None:
    """Only a directory whose lock nobody holds is abandoned: a live search's is kept (here
    held by another process), and so is one that has no lock file yet."""
    from automl_cli.core.stash import private_workdir, remove_abandoned

    holder = textwrap.dedent(
        """
        import sys, time
        from automl_cli.core.stash import private_workdir
        with private_workdir() as path:
            print(path, flush=True)
            time.sleep(60)
        """
    )
    env = cli_env(TMPDIR=str(tmp_path))
    live = subprocess.Popen(
        [sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert live.stdout is not None
        held = Path(live.stdout.readline().strip())
        unlocked = tmp_path / "automl-search-being-created"
        unlocked.mkdir()
        assert remove_abandoned("automl-search-", tmp_path) == []
        assert held.is_dir() and unlocked.is_dir()
    finally:
        live.kill()
        live.wait(timeout=30)
    assert remove_abandoned("automl-search-", tmp_path) == [held]  # its holder is gone
    assert unlocked.is_dir()
    import tempfile

    with private_workdir("automl-test-") as mine:
        assert mine.parent == Path(tempfile.gettempdir()) and (mine / ".in-use").is_file()
        assert mine.stat().st_mode & 0o777 == 0o700
    assert not mine.exists()


@contextmanager
def _busy_cores() -> Iterator[int]:
    """One spinning process per core this process may use: the machine is saturated.

    Only tests in this file use it: the suite runs a file's tests one after another
    (``--dist loadfile``), so the spinning never overlaps this file's budget tests."""
    cores = len(os.sched_getaffinity(0))
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
    try:
        time.sleep(0.3)  # started, past their interpreter start-up
        yield cores
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait(timeout=30)


def test_busy_processes_on_every_core_leave_a_fit_one_thread() -> None:
    with _busy_cores() as cores:
        share = CpuShare(2)
        share.next_threads()  # the first window ends here
        time.sleep(1.0)
        assert share.next_threads() == 1
        assert share.others >= 0.6 * cores  # the spinning processes, measured
        # asked again at once: too short a window to measure, the last answer stands
        assert share.next_threads() == 1
    assert share.threads == 1


class _BusyFromTheFirstFold(CpuShare):
    """Real measurements, with the machine turning busy after the trial has started: other
    processes take every core just before its first fold, for a whole measuring window."""

    def __init__(self, wanted: int, busy: ExitStack) -> None:
        super().__init__(wanted)
        self.busy = busy
        self.answers: list[int] = []

    def next_threads(self) -> int:
        if len(self.answers) == 1:  # the trial has started; its first fold is next
            self.busy.enter_context(_busy_cores())
            time.sleep(0.6)  # longer than the shortest window the share measures
        self.answers.append(super().next_threads())
        return self.answers[-1]


def test_a_trial_looks_again_before_each_fold_and_drops_to_the_free_cores() -> None:
    """A long trial that started on a quiet machine must not spin its threads against
    processes that arrived after it: the cores are looked at before every fold too."""
    from sklearn.datasets import make_classification

    from automl_cli.core.metrics import get_metric
    from automl_cli.core.search import SearchSettings, run_search

    X_np, y = make_classification(300, 6, random_state=0)
    X = pd.DataFrame(X_np, columns=[f"f{i}" for i in range(6)])
    metric = get_metric("auc", "binary")
    settings = SearchSettings("binary", 2, metric, ["lgbm"], cv=3, trials=1, n_jobs=2)
    with ExitStack() as busy:
        share = _BusyFromTheFirstFold(2, busy)
        result = run_search({"native": X}, y, settings, cpu=share)
    (trial,) = result.trials
    assert trial.state == "complete" and len(trial.fold_losses) == 3
    assert len(share.answers) == 1 + 3  # at the trial's start, then before each fold
    # the look before the first fold measured the processes that arrived after the start
    assert share.answers[1] == 1, share.answers
    assert trial.threads == 1


@pytest.mark.slow
def test_a_search_on_a_busy_machine_fits_with_the_free_cores_but_trials_stay_fixed(
    run_cli: RunCli, project_dir: Path
) -> None:
    """The leaderboard says what each trial got, the progress line says why; --trials
    (exact repeats) keeps the asked thread count even on a busy machine."""
    board_of = "artifacts/model/v{:04d}/leaderboard.csv"
    env = cli_env()
    del env["AUTOML_JOBS"]  # the suite's own setting; here the default (2) is on trial
    # reading and preparing count against the budget: done first, on a loaded test machine
    assert run_cli("prep", str(MESSY), "--target", "churned").returncode == 0
    with _busy_cores():
        budgeted = run_cli(
            "search", str(MESSY), "--target", "churned", "--time-budget", "20",
            "--models", "lgbm,linear", env=env,
        )  # fmt: skip
        fixed = run_cli(
            "search", str(MESSY), "--target", "churned", "--trials", "2",
            "--models", "lgbm,linear", env=env,
        )  # fmt: skip
    assert budgeted.returncode == 0, budgeted.stderr
    assert fixed.returncode == 0, fixed.stderr
    assert "machine busy: 1 of 2 threads" in budgeted.stderr, budgeted.stderr[-3000:]
    busy_board = pd.read_csv(project_dir / board_of.format(1))
    fixed_board = pd.read_csv(project_dir / board_of.format(2))
    assert (busy_board["threads"] == 1).all(), busy_board[["trial", "state", "threads"]]
    assert (fixed_board["threads"] == 2).all(), fixed_board[["trial", "state", "threads"]]
