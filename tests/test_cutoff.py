"""The budget's cutoff for the work before a search: profiling, preparing and encoding
stop once the search's deadline has passed, and only inside a cutoff block."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from automl_cli.core.cutoff import check, cutoff
from automl_cli.core.preprocessing import Preprocessor
from automl_cli.core.profiling import profile_frame
from automl_cli.errors import BudgetError


class Cut(Exception):
    pass


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.choice(["x", "y", "z"], 200)})
    frame["y"] = (frame["a"] + rng.normal(size=200) > 0).astype(int)
    return frame


def test_check_raises_only_inside_a_block_whose_deadline_has_passed() -> None:
    check()  # no block: never cut
    with cutoff(time.monotonic() + 60, Cut):
        check()
        # the innermost block decides
        with cutoff(time.monotonic() - 1, Cut), pytest.raises(Cut):
            check()
        check()  # the outer block is back, its deadline still ahead
    with cutoff(None, Cut):
        check()
    check()


def test_profiling_preparing_and_encoding_stop_at_a_passed_cutoff() -> None:
    frame = _frame()
    profile = profile_frame(frame, "y")
    prep = Preprocessor(profile=profile, target="y").fit(frame.drop(columns="y"), frame["y"])
    features = frame.drop(columns="y")
    with cutoff(time.monotonic() - 1, lambda: BudgetError("out of time")):
        with pytest.raises(BudgetError, match="out of time"):
            profile_frame(frame, "y")
        with pytest.raises(BudgetError):
            Preprocessor(profile=profile, target="y").fit(features, frame["y"])
        with pytest.raises(BudgetError):
            prep.transform(features, variant="encoded", y=frame["y"])
    # outside the block the same calls run through, with the same results as before
    assert profile_frame(frame, "y") == profile
    assert prep.transform(features).shape == (200, 2)
